"""Varian/Agilent VnmrJ reader: real VnmrJ folders, a synthetic nmrglue-written round trip, bad input."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from operando.cli import nmr_app as app
from operando.errors import CorruptFileError, MissingMetadataError, UnsupportedFormatError
from operando.nmr import (
    NMRFID,
    BrukerFID,
    integrate,
    nmr_vendor,
    nucleus_name,
    peak_position,
    process,
    read_fid,
    read_varian,
)
from operando.store import open_results
from operando.synthetic import NMRLine, simulate_fid, write_bruker_fid, write_varian_fid

HOP = "nmr/varian/nmrML/FAM013_AHTM.PROTON_04.fid"
SATREC = "nmr/varian/ssnake/satrec2D.fid"
FILES = ("procpar", "fid", "text", "log")


def _folder(real_file, rel):
    for name in FILES:
        real_file(f"{rel}/{name}")
    return real_file(f"{rel}/procpar").parent


def _procpar_value(folder, key):
    import nmrglue as ng

    return float(ng.varian.read_procpar(str(folder / "procpar"))[key]["values"][0])


@pytest.mark.realdata
def test_hop_extract_in_cd3od_solvent_lines_on_the_ppm_axis(real_file):
    folder = _folder(real_file, HOP)
    fid = read_varian(folder)
    meta = fid.meta
    assert fid.data.shape == (1, 32768) and fid.data.dtype == np.complex128
    assert (meta.vendor, meta.nucleus, meta.td, meta.ns, meta.pulse_program) == ("Varian", "1H", 65536, 160, "s2pul")
    assert meta.sfo1_MHz == 599.8311617 and meta.sw_Hz == pytest.approx(12019.2307692)
    assert meta.title == "FAM013_AHTM/CD3ODq/1H"
    # reffrq and VnmrJ's rfl/rfp referencing agree: sfrq - (rfp - rfl + sw/2) * 1e-6
    rfl, rfp = _procpar_value(folder, "rfl"), _procpar_value(folder, "rfp")
    assert meta.reference_MHz == pytest.approx(meta.sfo1_MHz - (rfp - rfl + meta.sw_Hz / 2) * 1e-6, abs=1e-9)
    ds = process(fid, phase_mode="auto")  # fn 131072 -> SI 65536, lb 0.4 Hz active
    assert ds.attrs["size"] == 65536 and ds.attrs["lb_Hz"] == 0.4
    ppm, spec = ds["ppm"].values, ds["intensity"].values
    # left edge = carrier + sw/2 = (sfrq - reffrq) / reffrq + sw / 2 / reffrq
    assert (round(ppm[0], 3), round(ppm[-1], 3)) == (18.031, -2.006)
    # CD3OD: residual CHD2OD quintet centred at 3.31 ppm, HDO at 4.87 ppm (Fulmer et al. 2010)
    chd2od, _ = peak_position(spec, ppm, lo=3.2, hi=3.4)
    assert chd2od == pytest.approx(3.31, abs=0.01)
    hdo, _ = peak_position(spec, ppm, lo=4.6, hi=5.0)
    assert hdo == pytest.approx(4.87, abs=0.03)
    assert np.argmax(spec) == np.argmin(np.abs(ppm - hdo))  # HDO is the tallest line


@pytest.mark.realdata
def test_87rb_saturation_recovery_rows(real_file):
    folder = _folder(real_file, SATREC)
    fid = read_varian(folder)
    assert fid.data.shape == (12, 1923)
    assert (fid.meta.nucleus, fid.meta.ns, fid.meta.processing) == ("87Rb", 4, {"SI": 16384})  # lb inactive
    ds = process(fid, phase_mode="auto")
    ints = integrate(ds["intensity"].values, ds["ppm"].values, lo=100, hi=160)
    # tau_recovery 0.001 .. 5 s: the magnetisation recovers monotonically to a plateau
    assert np.all(np.diff(ints) > 0)
    assert ints[-1] / ints[-2] == pytest.approx(1.0, abs=0.01)
    assert ints[0] / ints[-1] < 0.05


@pytest.mark.parametrize("use_reffrq", [True, False])
def test_synthetic_varian_round_trip(tmp_path, use_reffrq):
    lines = [NMRLine(264.5, 1.0), NMRLine(1.2, 0.4, lw_Hz=150.0)]
    fid = simulate_fid(lines, sfo1_MHz=155.4512, carrier_ppm=130.0, sw_Hz=1e5, n_points=2048)
    rows = np.stack([fid, 2 * fid])
    folder = write_varian_fid(tmp_path / "li7.fid", rows, nucleus="7Li", sfo1_MHz=155.4512, carrier_ppm=130.0,
                              sw_Hz=1e5, nt=8, use_reffrq=use_reffrq)  # fmt: skip
    got = read_varian(folder)
    assert isinstance(got, NMRFID) and isinstance(got, BrukerFID)  # one record for both vendors
    np.testing.assert_allclose(got.data, rows, atol=1e-6)  # float32 storage
    assert (got.meta.nucleus, got.meta.ns, got.meta.td) == ("7Li", 8, 4096)
    ds = process(got, first_point=0.5)
    for row, scale in ((0, 1.0), (1, 2.0)):
        spec, ppm = ds["intensity"].values[row], ds["ppm"].values
        assert peak_position(spec, ppm, lo=200, hi=330)[0] == pytest.approx(264.5, abs=0.02)
        assert peak_position(spec, ppm, lo=-20, hi=20)[0] == pytest.approx(1.2, abs=0.02)
        area = float(integrate(spec, ppm, lo=130, hi=400)) / ds.attrs["size"]
        assert area == pytest.approx(0.5 * scale, rel=0.02)


def test_same_spectrum_from_either_vendor(tmp_path):
    fid = simulate_fid([NMRLine(264.5, 1.0)], sfo1_MHz=155.4512, carrier_ppm=130.0, sw_Hz=1e5, n_points=1024)
    kw = {"nucleus": "7Li", "sfo1_MHz": 155.4512, "carrier_ppm": 130.0, "sw_Hz": 1e5}
    bruker, varian = write_bruker_fid(tmp_path / "b" / "1", fid, **kw), write_varian_fid(tmp_path / "v.fid", fid, **kw)
    assert (nmr_vendor(bruker), nmr_vendor(varian), nmr_vendor(tmp_path)) == ("Bruker", "Varian", None)
    a, b = process(read_fid(bruker), size=4096), process(read_fid(varian / "fid"), size=4096)
    np.testing.assert_allclose(a["ppm"].values, b["ppm"].values, atol=1e-6)
    scale = np.abs(a["intensity"].values).max()
    np.testing.assert_allclose(a["intensity"].values, b["intensity"].values, atol=1e-5 * scale)


def test_cli_process_on_a_varian_folder(tmp_path):
    fid = simulate_fid([NMRLine(264.5, 1.0)], sfo1_MHz=155.4512, carrier_ppm=130.0, sw_Hz=1e5, n_points=1024)
    folder = write_varian_fid(tmp_path / "x.fid", fid, nucleus="7Li", sfo1_MHz=155.4512, carrier_ppm=130.0, sw_Hz=1e5)
    out = tmp_path / "s.csv"
    result = CliRunner().invoke(app, ["process", str(folder), "-o", str(out), "--window", "200,330"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("7Li 1 x 1024 points")  # SI = fn / 2
    table = pd.read_csv(out)
    assert table["ppm"].iloc[table["intensity_0"].idxmax()] == pytest.approx(264.5, abs=0.1)
    store = tmp_path / "s.zarr"
    result = CliRunner().invoke(app, ["process", str(folder), "-o", str(store), "--window", "200,330"])
    assert result.exit_code == 0, result.output
    ds = open_results(store)
    assert (ds.attrs["operando_kind"], ds.attrs["vendor"], ds.attrs["phase_mode"]) == ("nmr-spectrum", "Varian", "auto")
    assert ds["integral"].shape == (1, 1)


def test_bad_varian_folders(tmp_path):
    fid = simulate_fid([NMRLine(10.0, 1.0)], sfo1_MHz=155.4512, carrier_ppm=0.0, sw_Hz=1e4, n_points=256)
    good = write_varian_fid(tmp_path / "good.fid", fid, nucleus="7Li", sfo1_MHz=155.4512, carrier_ppm=0.0, sw_Hz=1e4)

    truncated = tmp_path / "truncated.fid"
    shutil.copytree(good, truncated)
    data = (truncated / "fid").read_bytes()
    (truncated / "fid").write_bytes(data[: len(data) - 100])
    with pytest.raises(CorruptFileError, match=r"truncated\.fid/fid: truncated"):
        read_varian(truncated)

    no_procpar = tmp_path / "no_procpar.fid"
    shutil.copytree(good, no_procpar)
    (no_procpar / "procpar").unlink()
    with pytest.raises(MissingMetadataError, match="procpar"):
        read_varian(no_procpar)
    with pytest.raises(UnsupportedFormatError, match="Bruker folder .* or a Varian folder"):
        read_fid(no_procpar)

    wrong_np = tmp_path / "wrong_np.fid"
    shutil.copytree(good, wrong_np)
    text = (wrong_np / "procpar").read_text()
    text = re.sub(r"(?m)^(np \d.*\n1 )512 ", r"\g<1>1024 ", text)
    assert "1 1024 " in text
    (wrong_np / "procpar").write_text(text)
    with pytest.raises(CorruptFileError, match="np=512 .* procpar says np=1024"):
        read_varian(wrong_np)

    with pytest.raises(UnsupportedFormatError, match="not a VnmrJ experiment folder"):
        read_varian(good / "fid")


def test_nucleus_names():
    assert [nucleus_name(t) for t in ("H1", "Li6", "Rb87", "C13", "")] == ["1H", "6Li", "87Rb", "13C", ""]
