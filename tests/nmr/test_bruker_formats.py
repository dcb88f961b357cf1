"""Bruker FID storage variants real archives hold: big-endian (BYTORDA 1), float64 (DTYPA 2),
TD not a multiple of 256 (the file padded to 1024-byte blocks), odd TD; each read to the same
spectrum as the plain little-endian int32 file, and a float file with the wrong byte order refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from operando.errors import CorruptFileError
from operando.nmr import peak_position, process, read_bruker
from operando.synthetic import NMRLine, simulate_fid, write_bruker_fid

SW, SFO1 = 60_000.0, 155.4512  # window -63 .. 323 ppm around the 130 ppm carrier
LINES = [NMRLine(264.5, 1.0, 300.0), NMRLine(-1.1, 0.4, 80.0)]


def _fid(n: int) -> np.ndarray:
    rng = np.random.default_rng(5)
    fid = simulate_fid(LINES, sfo1_MHz=SFO1, carrier_ppm=130.0, sw_Hz=SW, n_points=n)
    return fid + 1e-3 * (rng.standard_normal(n) + 1j * rng.standard_normal(n))


def _write(folder, n: int, **kw):
    return write_bruker_fid(folder, _fid(n), nucleus="7Li", sfo1_MHz=SFO1, carrier_ppm=130.0, sw_Hz=SW,
                            procs={"SI": 4096, "WDW": 1, "LB": 20}, **kw)  # fmt: skip


@pytest.mark.parametrize(
    "variant",
    [{"bytorda": 1}, {"dtypa": 2}, {"dtypa": 2, "bytorda": 1}, {"block_pad": True}, {"block_pad": True, "bytorda": 1}],
)
def test_storage_variants_read_to_the_same_spectrum(tmp_path, variant):
    n = 956  # TD 1912, as the spectrochempy cadmium set: not a multiple of 256
    plain = process(read_bruker(_write(tmp_path / "plain", n)))["intensity"].values
    folder = _write(tmp_path / "v", n, **variant)
    if variant.get("block_pad"):
        assert (folder / "fid").stat().st_size % 1024 == 0 and (folder / "fid").stat().st_size > 2 * n * 4
    fid = read_bruker(folder)
    assert fid.data.shape == (1, n)
    ours = process(fid)["intensity"].values
    np.testing.assert_allclose(ours, plain, rtol=0, atol=1e-9 * np.abs(plain).max())


def test_odd_td_drops_the_unpaired_last_value(tmp_path):
    n = 1000
    folder = _write(tmp_path / "odd", n, acqus={"TD": 2 * n - 1})
    fid = read_bruker(folder)
    assert fid.meta.td == 2 * n - 1 and fid.data.shape == (1, n - 1)
    ds = process(fid)
    pos, _ = peak_position(ds["intensity"].values, ds["ppm"].values, lo=200, hi=330)
    assert pos == pytest.approx(264.5, abs=0.05)


def test_float_data_with_the_wrong_byte_order_is_refused(tmp_path):
    folder = _write(tmp_path / "f", 512, dtypa=2, bytorda=1)
    text = (folder / "acqus").read_text().replace("##$BYTORDA= 1", "##$BYTORDA= 0")
    (folder / "acqus").write_text(text)
    with pytest.raises(CorruptFileError, match="float64 values are implausible"):
        read_bruker(folder)


@pytest.mark.realdata
@pytest.mark.parametrize("variant", ["BYTORDP", "DTYPP", "NC_proc"])
def test_processed_storage_variants_of_a_real_1r(real_file, tmp_path, variant):
    """The TopSpin set's 1r rewritten big-endian (BYTORDP 1), as float64 (DTYPP 2), or with
    NC_proc two higher and the stored integers divided by 4: the same intensities."""
    import re
    import shutil

    from operando.nmr import read_bruker_processed

    src = real_file("nmr/bruker_nmr/spectrochempy_data/topspin_1d/1/pdata/1/1r").parent
    real_file("nmr/bruker_nmr/spectrochempy_data/topspin_1d/1/pdata/1/procs")
    pdata = Path(shutil.copytree(src, tmp_path / "pdata" / "1"))
    full = read_bruker_processed(pdata)
    raw = np.fromfile(pdata / "1r", dtype="<i4")
    procs = (pdata / "procs").read_text()
    nc = int(re.search(r"##\$NC_proc= (-?\d+)", procs).group(1))
    if variant == "BYTORDP":
        raw.astype(">i4").tofile(pdata / "1r")
        procs = procs.replace("##$BYTORDP= 0", "##$BYTORDP= 1")
    elif variant == "DTYPP":
        raw.astype("<f8").tofile(pdata / "1r")
        procs = procs.replace("##$DTYPP= 0", "##$DTYPP= 2")
    else:
        np.round(raw / 4.0).astype("<i4").tofile(pdata / "1r")
        procs = procs.replace(f"##$NC_proc= {nc}", f"##$NC_proc= {nc + 2}")
    (pdata / "procs").write_text(procs)
    again = read_bruker_processed(pdata)
    tol = 2.0 ** (nc + 2) if variant == "NC_proc" else 0.0  # the rounding of the divided integers
    np.testing.assert_allclose(again.data, full.data, rtol=0, atol=tol)
    np.testing.assert_array_equal(again.ppm, full.ppm)
