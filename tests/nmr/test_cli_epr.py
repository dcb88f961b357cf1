"""``operando nmr epr`` through typer's CliRunner on the nmr app."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from operando.cli import nmr_app as app
from operando.errors import CorruptFileError, ParameterError
from operando.synthetic import derivative_lorentzian, write_bes3t

runner = CliRunner()


def test_epr_json_on_synthetic_line(tmp_path):
    b = np.linspace(330, 340, 2001)
    hwhm = 0.25
    dsc, _ = write_bes3t(tmp_path / "line", derivative_lorentzian(b, centre_mT=334.0, hwhm_mT=hwhm, area=5.0),
                         x_min=3300, x_width=100, mw_frequency_Hz=9.4e9)  # fmt: skip
    result = runner.invoke(app, ["epr", str(dsc), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["field_mT"] == pytest.approx([330.0, 340.0])
    assert out["mw_frequency_GHz"] == pytest.approx(9.4)
    (line,) = out["lines"]
    assert line["width_pp_mT"] == pytest.approx(2 * hwhm / np.sqrt(3), rel=0.01)
    assert line["centre_mT"] == pytest.approx(334.0, abs=1e-3)
    # g = h nu / (mu_B B0) = 0.0714477 mT/MHz * 9400 MHz / 334 mT
    assert line["g"] == pytest.approx(0.0714477 * 9400 / 334.0, rel=1e-5)


@pytest.mark.realdata
def test_epr_text_on_tempo_central_line(real_file):
    real_file("nmr/epr/EPRpy/tempo.DTA")
    result = runner.invoke(app, ["epr", str(real_file("nmr/epr/EPRpy/tempo.DSC")), "--window", "331.5,333"])
    assert result.exit_code == 0, result.output
    assert "325.9750 .. 338.9886 mT, 2048 points, MWFQ 9.327654 GHz" in result.output
    assert "g = 2.006" in result.output


def test_epr_bad_inputs(tmp_path):
    b = np.linspace(330, 340, 201)
    dsc, dta = write_bes3t(tmp_path / "x", derivative_lorentzian(b, centre_mT=335, hwhm_mT=0.3), x_min=330,
                           x_width=10, x_unit="mT")  # fmt: skip
    dta.write_bytes(dta.read_bytes()[:100])
    result = runner.invoke(app, ["epr", str(dsc)])
    assert isinstance(result.exception, CorruptFileError)
    assert "x.DTA: truncated" in str(result.exception)
    result = runner.invoke(app, ["epr", str(dsc), "--window", "oops"])
    assert isinstance(result.exception, ParameterError)


def test_isotopes_with_licl_reference_and_store(tmp_path):
    from operando.store import open_results
    from operando.synthetic import LICL_PPM, li_isotope_pair, licl_reference_pair

    li7, li6 = li_isotope_pair(tmp_path / "cell", x6_metal=0.3, snr_7li=5000.0, seed=3)
    ref7, ref6 = licl_reference_pair(tmp_path / "licl", snr_7li=20000.0, seed=4)
    store = tmp_path / "iso.zarr"
    args = ["isotopes", "--li6", str(li6), "--li7", str(li7), "--window", "240,290", "--noise", "-130,-50",
            "--match", "ppm", "--ref-li6", str(ref6), "--ref-li7", str(ref7),
            "--ref-window", f"{LICL_PPM - 15},{LICL_PPM + 15}", "-o", str(store)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    factor = float(result.output.split("factor from the reference (x6 = 0.0759): ")[1].split()[0])
    assert factor == pytest.approx(28.45, rel=0.02)
    ds = open_results(store)
    assert ds.attrs["operando_kind"] == "nmr-isotopes"
    assert float(ds["li6_fraction"][0]) == pytest.approx(0.30, abs=0.005)
    assert 0 < float(ds["li6_fraction_err"][0]) < 0.005
    result = runner.invoke(app, ["isotopes", "--li6", str(li6), "--li7", str(li7), "--window", "240,290",
                                 "--ref-li6", str(ref6)])  # fmt: skip
    assert isinstance(result.exception, ParameterError)


def test_epr_reads_winepr_too(tmp_path):
    from operando.synthetic import write_winepr

    b = np.linspace(330, 340, 1024)
    par, _ = write_winepr(tmp_path / "w", derivative_lorentzian(b, centre_mT=335, hwhm_mT=0.3) * 1e4, start_G=3300,
                          width_G=100, mw_frequency_GHz=9.4)  # fmt: skip
    result = runner.invoke(app, ["epr", str(par), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["lines"][0]["width_pp_mT"] == pytest.approx(0.6 / np.sqrt(3), rel=0.01)
