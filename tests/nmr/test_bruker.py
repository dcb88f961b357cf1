"""Bruker readers and processing against TopSpin's own outputs, and bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from operando.errors import CorruptFileError, MissingMetadataError, OperandoError, UnsupportedFormatError
from operando.nmr import integrate, peak_position, process, read_bruker, read_bruker_processed
from operando.synthetic import NMRLine, simulate_fid, write_bruker_fid
from tests.conftest import real_files

BRUKER = "nmr/bruker_nmr"
TOPSPIN_1D = f"{BRUKER}/spectrochempy_data/topspin_1d/1"
RELAX = f"{BRUKER}/spectrochempy_data/relax/100"
NMRML = f"{BRUKER}/nmrML/MTBLS1_ADG19007u_162/10"
# TopSpin 3.2 T1/T2 module, pdata/1/t1ints.txt: integrals of region -51.359..-135.767 ppm
T1INTS = [2.01355e10, 3.24506e10, 4.02835e10, 4.87769e10, 5.20264e10, 5.39868e10, 5.46867e10, 5.49015e10, 5.53594e10]


def _dataset(real_file, rel: str, files: tuple[str, ...]) -> Path:
    """Check the files of one experiment folder against their pins; return the folder."""
    for name in files:
        real_file(f"{rel}/{name}")
    return real_file(f"{rel}/{files[0]}").parent


@pytest.mark.realdata
def test_topspin_1d_axis_maximum_and_processing_match_topspin(real_file):
    folder = _dataset(real_file, TOPSPIN_1D, ("acqus", "fid", "pdata/1/procs", "pdata/1/1r"))
    ref = read_bruker_processed(folder)
    assert (round(ref.ppm[0], 3), round(ref.ppm[-1], 3)) == (253.091, -246.807)
    assert round(float(ref.ppm[np.argmax(ref.data[0])]), 3) == 0.808
    ours = process(read_bruker(folder))  # GRPDLY 76, PHC0/PHC1 and SI from procs
    np.testing.assert_allclose(ours["ppm"].values, ref.ppm, atol=1e-4)
    assert np.corrcoef(ours["intensity"].values, ref.data[0])[0, 1] > 0.99999
    # absolute scale: FT x 2**NC = 1r x 2**NC_proc (within 0.2 %)
    assert float(ours["intensity"].max() / ref.data[0].max()) == pytest.approx(1.0, abs=2e-3)
    pos, _ = peak_position(ours["intensity"].values, ours["ppm"].values, lo=-5, hi=5)
    assert pos == pytest.approx(0.808, abs=0.02)


@pytest.mark.realdata
def test_nmrml_processed_axis_and_maximum(real_file):
    folder = _dataset(real_file, NMRML, ("acqus", "fid", "pdata/1/procs", "pdata/1/1r"))
    ref = read_bruker_processed(folder)
    assert (round(ref.ppm[0], 3), round(ref.ppm[-1], 3)) == (14.771, -5.241)
    assert round(float(ref.ppm[np.argmax(ref.data[0])]), 3) == 0.0
    raw = read_bruker(folder)  # XWIN-NMR 3.5: no GRPDLY, DECIM 12 / DSPFVS 12 table
    assert raw.meta.group_delay == 69.5
    ours = process(raw, phase_mode="auto")
    pos, _ = peak_position(ours["intensity"].values, ours["ppm"].values, lo=-0.5, hi=0.5)
    assert pos == pytest.approx(0.0, abs=0.005)


@pytest.mark.realdata
def test_29si_saturation_recovery_integrals_match_topspin_t1ints(real_file):
    folder = _dataset(real_file, RELAX, ("acqus", "acqu2s", "ser", "pdata/1/procs", "pdata/1/t1ints.txt"))
    t1ints = (folder / "pdata/1/t1ints.txt").read_text().split()
    assert float(t1ints[t1ints.index("4668.58") + 1]) == T1INTS[0]
    fid = read_bruker(folder)
    assert fid.data.shape == (9, 2048)
    ds = process(fid)  # procs: LB 100 Hz, SI 8192, PHC0 389.5345, PHC1 95.38776
    # TopSpin's integral is the plain sum over the points of 2rr in stored units
    # (intensity x 2**-NC_proc), no Hz or ppm scaling
    ints = integrate(ds["intensity"].values, ds["ppm"].values, lo=-51.359, hi=-135.767)
    ints = ints * 2.0 ** -fid.meta.processing["NC_proc"]
    deviation = ints / np.array(T1INTS) - 1
    assert np.all(np.abs(deviation) < 0.01), deviation
    assert np.all(np.abs(deviation) < 0.002)  # what we measure: -0.03 .. -0.16 %


@pytest.mark.realdata
def test_pre_topspin_big_endian_table_path(real_file):
    folder = _dataset(real_file, f"{BRUKER}/spectrochempy_data/CP/80", ("acqus", "fid"))
    fid = read_bruker(folder)
    assert fid.meta.group_delay == 66.625  # DSPFVS 10, DECIM 4
    assert fid.data.shape == (1, 2013)
    assert np.isfinite(process(fid)["intensity"].values).all()


#: Every pinned Bruker 1D set with the spectrometer's own processed spectrum.
PROCESSED_1D = [rel.removesuffix("/pdata/1/1r") for rel in real_files("nmr/bruker_nmr/*/pdata/1/1r")]


@pytest.mark.realdata
@pytest.mark.parametrize("rel", PROCESSED_1D)
def test_every_real_1d_set_with_defaults_matches_its_own_1r(real_file, rel):
    """Issue 16's criterion on the corpus we have: defaults (procs phases, window, SI; the
    XWIN-NMR phase offset) against 1r. Measured: TopSpin 1H MAS 0.999999, XWIN-NMR 3.5 1H
    (DSPFVS 12, big-endian) 0.999938."""
    folder = _dataset(real_file, rel, ("acqus", "fid", "pdata/1/procs", "pdata/1/1r"))
    ref = read_bruker_processed(folder)
    ours = process(read_bruker(folder))["intensity"].values[ref.full_slice()]
    assert np.corrcoef(ours, ref.data[0])[0, 1] >= 0.999
    assert float(ours.max() / ref.data[0].max()) == pytest.approx(1.0, abs=0.01)  # absolute scale


def _synthetic(folder: Path) -> Path:
    fid = simulate_fid([NMRLine(264.5, 1.0)], sfo1_MHz=155.4512, carrier_ppm=130.0, sw_Hz=1e5, n_points=1024)
    return write_bruker_fid(folder, fid, nucleus="7Li", sfo1_MHz=155.4512, carrier_ppm=130.0, sw_Hz=1e5)


def test_synthetic_roundtrip_line_position(tmp_path):
    ds = process(read_bruker(_synthetic(tmp_path / "1")), first_point=0.5)
    pos, _ = peak_position(ds["intensity"].values, ds["ppm"].values, lo=200, hi=330)
    assert pos == pytest.approx(264.5, abs=0.02)
    area = float(integrate(ds["intensity"].values, ds["ppm"].values, lo=130, hi=400)) / ds.attrs["size"]
    assert area == pytest.approx(0.5, rel=0.02)  # absorption holds half the FID's first point


def test_bad_input_each_gives_one_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UnsupportedFormatError, match="empty folder"):
        read_bruker(empty)

    good = _synthetic(tmp_path / "good")
    no_acqus = tmp_path / "no_acqus"
    shutil.copytree(good, no_acqus)
    (no_acqus / "acqus").unlink()
    with pytest.raises(MissingMetadataError, match="acqus"):
        read_bruker(no_acqus)

    truncated = tmp_path / "truncated"
    shutil.copytree(good, truncated)
    data = (truncated / "fid").read_bytes()
    (truncated / "fid").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match=r"fid: truncated"):
        read_bruker(truncated)

    swapped = tmp_path / "swapped"
    shutil.copytree(good, swapped)
    np.fromfile(swapped / "fid", dtype="<i4").astype(">i4").tofile(swapped / "fid")
    with pytest.raises(CorruptFileError, match="byte order"):
        read_bruker(swapped)

    float_claim = tmp_path / "float_claim"
    shutil.copytree(good, float_claim)
    text = (float_claim / "acqus").read_text().replace("##$DTYPA= 0", "##$DTYPA= 2")
    (float_claim / "acqus").write_text(text)
    with pytest.raises(CorruptFileError, match="float64"):
        read_bruker(float_claim)

    with pytest.raises(OperandoError, match="not a Bruker experiment folder"):
        read_bruker(good / "fid")
