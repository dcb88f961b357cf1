"""Tracer-exchange model: the published table digit for digit, closed form, fit, mechanisms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from operando.cli import nmr_app as app
from operando.errors import ParameterError
from operando.nmr import classify_dendrite, electrolyte_abundance, fit_exchange, mechanism2_share, tracer_exchange

PAPER = {"m1": 100.0, "x1": 0.95, "m2": 300.47, "x2": 0.069825, "n": 0.1088}
REF = "nmr/tracer_exchange/Jak1022/tracer_exchange_simulation.txt"


@pytest.mark.realdata
def test_cli_reproduces_published_table_every_digit(real_file, tmp_path):
    ref_lines = real_file(REF).read_text().splitlines()
    assert ref_lines[-1].startswith("Simulation run time")
    ref_rows = [line.split() for line in ref_lines[1:-1]]
    assert len(ref_rows) == 1801
    out = tmp_path / "tracer.csv"
    args = ["tracer", "--m1", "100", "--x1", "0.95", "--m2", "300.47", "--x2", "0.069825", "--n", "0.1088"]
    result = CliRunner().invoke(app, [*args, "--steps", "1800", "-o", str(out)])
    assert result.exit_code == 0, result.output
    ours = pd.read_csv(out)
    mine = [
        [str(int(s)), f"{a:.4f}", f"{b:.4f}"] for s, a, b in ours[["step", "x_electrode", "x_electrolyte"]].to_numpy()
    ]
    assert mine == ref_rows


def test_conservation_and_equilibrium():
    t = tracer_exchange(**PAPER, steps=20000)
    total = PAPER["m1"] * t["x_electrode"] + PAPER["m2"] * t["x_electrolyte"]
    np.testing.assert_allclose(total, PAPER["m1"] * PAPER["x1"] + PAPER["m2"] * PAPER["x2"], rtol=1e-12)
    assert round(t["x_electrolyte"].iat[-1], 4) == round(t["x_electrode"].iat[-1], 4) == 0.2896


def test_closed_form_matches_iteration_and_charge_axis():
    t = tracer_exchange(**PAPER, steps=500, charge_per_step_mAh=0.01)
    np.testing.assert_allclose(t["charge_mAh"], (np.arange(501) + 1) * 0.01)
    closed = electrolyte_abundance(t["charge_mAh"], **PAPER, charge_per_step_mAh=0.01)
    np.testing.assert_allclose(closed, t["x_electrolyte"], rtol=1e-10)


def test_fit_recovers_n_with_stderr():
    rng = np.random.default_rng(3)
    q = np.linspace(0.5, 20, 15)
    truth = electrolyte_abundance(q, **PAPER, charge_per_step_mAh=0.01)
    meas = truth + rng.normal(0, 0.002, q.size)
    fixed = {k: v for k, v in PAPER.items() if k != "n"}
    fit = fit_exchange(q, meas, **fixed, charge_per_step_mAh=0.01, sigma=0.002, absolute_sigma=True)
    assert abs(fit.n - PAPER["n"]) < 3 * fit.n_stderr
    assert 0 < fit.n_stderr < 0.02
    assert fit.residuals.shape == q.shape


def test_classification_and_mechanism2_share():
    labels = classify_dendrite([0.5, 0.05, 0.071, 0.99], x_electrolyte=0.07, x_electrode=0.95, sigma=0.002)
    assert labels.tolist() == ["mechanism 1", "mechanism 2", "undetermined", "undetermined"]
    f, s = mechanism2_share(0.06, x_mech1=0.07, x_mech2=0.05, sigma_dendrite=0.001, sigma_mech1=0.001)
    assert f == pytest.approx(0.5)
    # numerical check of the propagation
    eps = 1e-7
    d_xd = (mechanism2_share(0.06 + eps, x_mech1=0.07, x_mech2=0.05)[0] - f) / eps
    d_a = (mechanism2_share(0.06, x_mech1=0.07 + eps, x_mech2=0.05)[0] - f) / eps
    assert s == pytest.approx(np.hypot(d_xd * 0.001, d_a * 0.001), rel=1e-5)


def test_bad_parameters():
    with pytest.raises(ParameterError, match="positive"):
        tracer_exchange(m1=0, x1=0.9, m2=1, x2=0.1, n=0.1, steps=3)
    with pytest.raises(ParameterError, match="same abundance"):
        mechanism2_share(0.1, x_mech1=0.2, x_mech2=0.2)
