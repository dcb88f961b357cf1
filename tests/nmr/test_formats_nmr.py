"""ESP-era EPR files, the Dysonian fit of metallic Li, and NMR formats refused by name."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from operando import formats
from operando.cli import nmr_app as app
from operando.errors import UnsupportedFormatError
from operando.nmr import fit_dysonian, peak_to_peak, read_epr, read_fid
from operando.synthetic import derivative_dysonian, write_winepr

runner = CliRunner()


def _dysonian_pair(tmp_path, seed=0, **kw):
    b = np.linspace(330, 340, 2048)
    clean = derivative_dysonian(b, centre_mT=335.2, hwhm_mT=0.15, phase_deg=60.0, amplitude=1e4)
    noisy = clean + np.random.default_rng(seed).normal(0, 40.0, b.size)
    return write_winepr(tmp_path / f"li{seed}", noisy, start_G=3300, width_G=100, **kw)


def test_esp_par_without_point_count_reads_from_the_spc_size(tmp_path):
    par, spc = _dysonian_pair(tmp_path, legacy_esp=True)
    text = par.read_text()
    assert "ANZ" not in text and "RES" not in text and "GST" not in text
    assert formats.detect(par).name == "winepr" and formats.detect(spc).name == "winepr"
    spec = read_epr(spc)
    assert spec.x.size == spc.stat().st_size // 4 == 2048
    assert (spec.x[0], spec.x[-1]) == pytest.approx((330.0, 340.0))  # HCF 3350 G, HSW 100 G
    info = formats.describe_file(par)
    assert info["format"].startswith("Bruker WinEPR/ESP") and info["points"] == "2048"


def test_dysonian_fit_recovers_the_line_within_its_errors(tmp_path):
    z = []
    for seed in range(6):
        par, _ = _dysonian_pair(tmp_path, seed)
        spec = read_epr(par)
        f = fit_dysonian(spec.data, spec.x)
        z += [(f.centre_mT - 335.2) / f.centre_err_mT, (f.hwhm_mT - 0.15) / f.hwhm_err_mT,
              (f.phase_deg - 60.0) / f.phase_err_deg]  # fmt: skip
        assert f.ab_ratio > 2.0  # dispersion: the low-field lobe dominates
    z = np.abs(z)
    assert (z < 2).mean() >= 0.8 and z.max() < 4, z.round(2)
    # a symmetric derivative Lorentzian: phase 0, A/B 1, dB_pp = 2 hwhm / sqrt(3)
    b = np.linspace(330, 340, 2048)
    y = derivative_dysonian(b, centre_mT=335.0, hwhm_mT=0.3, phase_deg=0.0)
    f = fit_dysonian(y, b)
    assert f.phase_deg == pytest.approx(0.0, abs=1e-3) and f.ab_ratio == pytest.approx(1.0, abs=1e-3)
    assert f.width_pp_mT == pytest.approx(peak_to_peak(y, b).width_mT, rel=2e-3)
    assert f.width_pp_mT == pytest.approx(0.6 / np.sqrt(3), rel=2e-3)


def test_epr_command_dysonian(tmp_path):
    par, _ = _dysonian_pair(tmp_path, 1, legacy_esp=True)
    r = runner.invoke(app, ["epr", str(par), "--dysonian", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)["lines"][0]["dysonian"]
    assert d["hwhm_mT"] == pytest.approx(0.15, abs=0.002) and d["g"] == pytest.approx(2.025, abs=0.01)
    r = runner.invoke(app, ["epr", str(par), "--dysonian"])
    assert "Dysonian: B0 = 335.2" in r.output


def test_spinsolve_and_jeol_refused_by_name(tmp_path):
    spin = tmp_path / "spinsolve"
    spin.mkdir()
    (spin / "acqu.par").write_text('Solvent = "CDCl3"\nnrScans = 16\n')
    (spin / "data.1d").write_bytes(b"\0" * 64)
    jdf = tmp_path / "proton.jdf"
    jdf.write_bytes(b"JEOL.NMR" + b"\0" * 120)
    for path, name in ((spin, "Spinsolve"), (spin / "data.1d", "Spinsolve"), (jdf, "JEOL")):
        with pytest.raises(UnsupportedFormatError, match=name):
            read_fid(path)
    assert formats.detect(spin).name == "spinsolve" and formats.detect(jdf).name == "jeol-jdf"
    assert "Spinsolve" in formats.describe_file(spin)["format"]
    r = runner.invoke(app, ["process", str(jdf), "-o", str(tmp_path / "x.csv")])
    assert isinstance(r.exception, UnsupportedFormatError) and "JEOL Delta JDF" in str(r.exception)
