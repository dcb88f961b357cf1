"""Issue-16 audit: cw-EPR text exports (Magnettech, Adani, JEOL) are read; a Spinsolve data file is named by info.

Before: ``operando info`` took an EPR text export for an echem CSV ("columns= must map
['voltage_V', ...]") and ``nmr epr`` refused it; ``info`` on ``data.1d`` of a Spinsolve
folder said "content not recognised".
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from operando.cli import app as root_app
from operando.cli import nmr_app as app
from operando.errors import CorruptFileError, UnsupportedFormatError
from operando.nmr import read_epr

runner = CliRunner()
HWHM_MT, CENTRE_MT, FREQ_GHZ = 0.3, 335.0, 9.4
H_PLANCK, MU_B = 6.62607015e-34, 9.2740100783e-24


def _derivative(field_mT, rng, noise=1e-3):
    """First-derivative Lorentzian of HWHM 0.3 mT with detector noise: peak-to-peak width 2 HWHM / sqrt(3)."""
    x = (field_mT - CENTRE_MT) / HWHM_MT
    return -2 * x / (1 + x**2) ** 2 + noise * rng.standard_normal(field_mT.size)


def _write(path, header, names, field_values, intensity, delim, decimal="."):
    def fmt(v, spec):
        text = format(v, spec)
        return text.replace(".", decimal)

    rows = [f"{fmt(b, '.8g')}{delim}{fmt(y, '.6e')}" for b, y in zip(field_values, intensity, strict=True)]
    path.write_text("\n".join([*header, delim.join(names), *rows]) + "\n", encoding="latin-1")
    return path


@pytest.mark.parametrize(
    ("name", "header", "names", "unit_scale", "delim", "decimal", "freq"),
    [
        # Magnettech ESRStudio-like: comma separated, frequency in the header
        ("ms5000.csv", ["Frequency [GHz],9.4"], ["B [mT]", "Intensity"], 1.0, ",", ".", True),
        # Adani / European export: semicolon, decimal comma, field in gauss
        ("adani.txt", ["MW frequency: 9,4 GHz", "Sweep: 100 G"], ["Field (G)", "Signal"], 10.0, ";", ",", True),
        # JEOL-like: tab separated, field in tesla, no frequency line
        ("jeol.txt", ["JEOL FA200", "Sample: Li metal"], ["Field/T", "Intensity"], 1e-3, "\t", ".", False),
    ],
)
def test_text_exports_read_with_width_field_and_g(tmp_path, name, header, names, unit_scale, delim, decimal, freq):
    rng = np.random.default_rng(1)
    field = np.linspace(330.0, 340.0, 2001)
    path = _write(tmp_path / name, header, names, field * unit_scale, _derivative(field, rng), delim, decimal)
    spec = read_epr(path)
    np.testing.assert_allclose(spec.x, field, rtol=1e-6)
    r = runner.invoke(app, ["epr", str(path), "--json"])
    assert r.exit_code == 0, r.output
    line = json.loads(r.output)["lines"][0]
    assert abs(line["width_pp_mT"] - 2 * HWHM_MT / np.sqrt(3)) < 0.005
    assert abs(line["centre_mT"] - CENTRE_MT) < 0.005
    if freq:
        g_true = H_PLANCK * FREQ_GHZ * 1e9 / (MU_B * CENTRE_MT * 1e-3)
        assert abs(line["g"] - g_true) < 1e-4
    else:
        assert line["g"] is None
    info = runner.invoke(root_app, ["info", str(path)])
    assert info.exit_code == 0 and "cw-EPR text export" in info.output, info.output


def test_text_export_with_a_damaged_row_or_no_unit_is_one_line(tmp_path):
    rng = np.random.default_rng(2)
    field = np.linspace(330.0, 340.0, 101)
    path = _write(tmp_path / "x.csv", [], ["B [mT]", "Intensity"], field, _derivative(field, rng), ",")
    lines = path.read_text().split("\n")
    lines[40] = "335.0,n/a"
    path.write_text("\n".join(lines))
    with pytest.raises(CorruptFileError, match=r"data row 40 .* does not hold numbers"):
        read_epr(path)
    bare = _write(tmp_path / "y.csv", [], ["B", "Intensity"], field, _derivative(field, rng), ",")
    with pytest.raises(UnsupportedFormatError, match="field column and its unit"):
        read_epr(bare)  # which unit is the field in? not guessed


def test_spinsolve_data_file_is_named_by_info(tmp_path):
    folder = tmp_path / "spinsolve" / "1"
    folder.mkdir(parents=True)
    (folder / "acqu.par").write_text('Solvent = "CDCl3"\nb1Freq = 43.32\nnrPnts = 16384\nrxGain = 31\n')
    (folder / "data.1d").write_bytes(b"DATA" + bytes(4092))
    for p in (folder / "data.1d", folder / "acqu.par"):
        r = runner.invoke(root_app, ["info", str(p)])
        assert r.exit_code == 0 and "Magritek Spinsolve" in r.output, r.output


def test_noise_without_a_line_is_warned(tmp_path):
    rng = np.random.default_rng(0)
    field = np.linspace(330.0, 340.0, 500)
    noise = _write(tmp_path / "noise.csv", [], ["B [mT]", "Intensity"], field, rng.normal(0, 1, 500), ",")
    with pytest.warns(UserWarning, match="noise sigmas: no line stands out"):
        r = runner.invoke(app, ["epr", str(noise)])  # was: dB_pp = 5.19 mT without a word
    assert r.exit_code == 0
    weak = _write(tmp_path / "weak.csv", [], ["B [mT]", "Intensity"], field, 15 * _derivative(field, rng, 1 / 15), ",")
    r = runner.invoke(app, ["epr", str(weak), "--json"])  # a line 15 sigma (pp 2.6 x 15) stands out: no warning
    assert r.exit_code == 0, r.output
    assert abs(json.loads(r.output)["lines"][0]["width_pp_mT"] - 2 * HWHM_MT / np.sqrt(3)) < 0.05


def test_info_on_a_file_or_pdata_folder_of_a_bruker_experiment(tmp_path):
    """``operando info .../1/fid`` (or acqus, pdata/1, pdata/1/procs) said 'content not recognised'; ``nmr process``
    already read the fid file."""
    from operando.synthetic import li_isotope_pair

    li7, _ = li_isotope_pair(tmp_path / "c", x6_metal=0.2, seed=3, n_points=512)
    (li7 / "pdata" / "1").mkdir(parents=True)
    (li7 / "pdata" / "1" / "procs").write_text("##TITLE= p\n##$SI= 1024\n##END=\n")
    for p in (li7 / "fid", li7 / "acqus", li7 / "pdata" / "1", li7 / "pdata" / "1" / "procs"):
        r = runner.invoke(root_app, ["info", str(p)])
        assert r.exit_code == 0, r.output
        assert f"experiment_folder: {li7}" in r.output and "nucleus: 7Li" in r.output
    stray = tmp_path / "fid"  # a lone file named fid: no experiment around it
    stray.write_bytes(bytes(64))
    r = runner.invoke(root_app, ["info", str(stray)])
    assert r.exit_code != 0 and "not recognised" in str(r.exception)


def test_info_on_a_file_of_a_paravision_scan(tmp_path):
    from operando.synthetic import write_paravision_scan

    scan = write_paravision_scan(
        tmp_path / "7", np.ones((8, 6, 3)), extent_mm=(4.0, 3.0), frame_groups=[("FG_CYCLE", 3)]
    )
    for p in (scan / "method", scan / "acqp", scan / "pdata" / "1" / "2dseq", scan / "pdata" / "1" / "visu_pars"):
        r = runner.invoke(root_app, ["info", str(p)])
        assert r.exit_code == 0, r.output  # was: content not recognised
        assert f"scan_folder: {scan}" in r.output and "MRI scan" in r.output
