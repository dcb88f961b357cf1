"""The Butler–Volmer symmetric-cell model: inversion, limits, monotonicity, fit round trip."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from operando import echem
from operando.echem import SymmetricCellModel
from operando.errors import MissingMetadataError, ParameterError
from operando.synthetic import simulate_bv_symmetric_cell

F_RT = echem.FARADAY_C_MOL / (echem.GAS_CONSTANT_J_MOL_K * 298.15)
MODEL = SymmetricCellModel(
    j0_mA_cm2=0.5,
    interphase_conductivity_S_cm=1e-5,
    electrolyte_thickness_um=500.0,
    electrolyte_conductivity_S_cm=1e-3,
    electrolyte_area_mm2=78.5,
)


def brentq_overpotential(j: float, j0: float, alpha: float) -> float:
    """Independent inversion: root of the full Butler–Volmer equation, written out here."""

    def bv(eta: float) -> float:
        return j0 * (np.exp(alpha * F_RT * eta) - np.exp(-(1 - alpha) * F_RT * eta)) - j

    return brentq(bv, -5.0, 5.0, xtol=1e-15, rtol=1e-14, maxiter=500)


@pytest.mark.parametrize("alpha", [0.2, 0.35, 0.5, 0.65, 0.8])
def test_inversion_matches_brentq(alpha):
    j = np.array([-250.0, -3.0, -0.4, -1e-6, 0.0, 1e-7, 0.02, 0.9, 7.5, 400.0])
    eta = echem.butler_volmer_overpotential(j, j0_mA_cm2=0.8, alpha=alpha)
    ref = np.array([brentq_overpotential(v, 0.8, alpha) for v in j])
    np.testing.assert_allclose(eta, ref, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(echem.butler_volmer_current(eta, j0_mA_cm2=0.8, alpha=alpha), j, rtol=1e-10, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(
    # subnormal currents (|j| < 2.2e-308) give an overpotential that underflows to 0: not a physical case
    j=st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False),
    j0=st.floats(1e-3, 1e2),
    alpha=st.floats(0.05, 0.95),
)
def test_inversion_round_trip_property(j, j0, alpha):
    eta = echem.butler_volmer_overpotential(j, j0_mA_cm2=j0, alpha=alpha)
    back = echem.butler_volmer_current(eta, j0_mA_cm2=j0, alpha=alpha)
    np.testing.assert_allclose(back, j, rtol=1e-9, atol=1e-12 * j0)
    assert np.sign(eta) == np.sign(j)


@pytest.mark.parametrize("ohmic", ["contact-averaged", "geometric"])
@pytest.mark.parametrize("alpha", [0.3, 0.5])
def test_small_current_is_linear_charge_transfer_resistance(alpha, ohmic):
    model = replace(MODEL, alpha=alpha, ohmic=ohmic)
    areas = np.array([[50.0, 20.0]])
    current = 1e-5  # mA
    v = echem.cell_voltage(model, [current], areas, 3.0)[0]
    r_ct = [1 / (F_RT * model.j0_mA_cm2 * 1e-3 * a * 1e-2) for a in areas[0]]  # RT / (F j0 A), ohm
    if ohmic == "geometric":
        r_int = sum(3e-4 / (model.interphase_conductivity_S_cm * a * 1e-2) for a in areas[0])
        r_el = model.electrolyte_resistance_ohm
    else:  # i_app = I (1/A1 + 1/A2) / 2 through l / kappa and (L1 + L2) / kappa_int
        inv = 0.5 * sum(1 / (a * 1e-2) for a in areas[0])  # 1/cm2
        r_int = inv * 2 * 3e-4 / model.interphase_conductivity_S_cm
        r_el = inv * 500e-4 / model.electrolyte_conductivity_S_cm
    expected = current * 1e-3 * (sum(r_ct) + r_int + r_el)
    assert v == pytest.approx(expected, rel=1e-4)
    terms = echem.cell_voltage_terms(model, [current], areas)
    assert terms["charge_transfer_1_V"][0] == pytest.approx(current * 1e-3 * r_ct[0], rel=1e-4)


def test_paper_ohmic_drop_by_hand():
    """1 mA, contacts 10 and 40 mm2, 1 mm of LSPS at 2.1 mS/cm, 2 + 5 um of interphase at 10 uS/cm, j0 = 1 mA/cm2."""
    m = SymmetricCellModel(
        j0_mA_cm2=1.0,
        interphase_conductivity_S_cm=1e-5,
        electrolyte_thickness_um=1000.0,
        electrolyte_conductivity_S_cm=2.1e-3,
        electrolyte_area_mm2=3.1416,
    )
    terms = echem.cell_voltage_terms(m, [1.0], [[10.0, 40.0]], [[2.0, 5.0]])
    i_app = 0.5 * (1.0 / 0.10 + 1.0 / 0.40) * 1e-3  # A/cm2: (10 + 2.5) / 2 mA/cm2
    assert i_app == pytest.approx(6.25e-3)
    assert terms["electrolyte_ohmic_V"][0] == pytest.approx(i_app * 0.1 / 2.1e-3, rel=1e-12)  # 0.29762 V
    assert terms["interphase_ohmic_V"][0] == pytest.approx(i_app * 7e-4 / 1e-5, rel=1e-12)  # 0.4375 V
    two_rt_f = 2 / F_RT
    assert terms["charge_transfer_1_V"][0] == pytest.approx(two_rt_f * np.arcsinh(10.0 / 2), rel=1e-12)
    assert terms["charge_transfer_2_V"][0] == pytest.approx(two_rt_f * np.arcsinh(2.5 / 2), rel=1e-12)
    # the earlier variant: I over the geometric area in the electrolyte, each interphase its own I / A_k
    g = echem.cell_voltage_terms(replace(m, ohmic="geometric"), [1.0], [[10.0, 40.0]], [[2.0, 5.0]])
    assert g["electrolyte_ohmic_V"][0] == pytest.approx(1e-3 * 0.1 / (2.1e-3 * 0.031416), rel=1e-12)
    assert g["interphase_ohmic_V"][0] == pytest.approx(1e-3 * (2e-4 / 0.1 + 5e-4 / 0.4) / 1e-5, rel=1e-12)
    # at full contact on both sides the two agree
    full = [[3.1416, 3.1416]]
    a = echem.cell_voltage(m, [0.3], full, [[2.0, 2.0]])
    b = echem.cell_voltage(replace(m, ohmic="geometric"), [0.3], full, [[2.0, 2.0]])
    assert a == pytest.approx(b, rel=1e-12)
    with pytest.raises(ParameterError, match="ohmic"):
        replace(m, ohmic="bulk")


def test_scenario_areas():
    a = np.array([[40.0, 30.0], [38.0, 20.0], [36.0, 10.0]])
    assert np.array_equal(echem.scenario_areas(a, "dynamic"), a)
    np.testing.assert_allclose(echem.scenario_areas(a, 100), [[40.0, 30.0]] * 3)
    np.testing.assert_allclose(echem.scenario_areas(a, "25%"), [[10.0, 7.5]] * 3)
    np.testing.assert_allclose(
        echem.scenario_areas(a, "1 %", start=1, interfaces=[1]), [[40, 0.2], [38, 0.2], [36, 0.2]]
    )
    for bad in ("most", "0%", -5):
        with pytest.raises(ParameterError, match="scenario"):
            echem.scenario_areas(a, bad)
    with pytest.raises(ParameterError, match="interfaces"):
        echem.scenario_areas(a, 25, interfaces=[2])


@settings(max_examples=60, deadline=None)
@given(
    current=st.floats(1e-3, 5.0).flatmap(lambda c: st.sampled_from([c, -c])),
    area=st.floats(1.0, 78.5),
    shrink=st.floats(0.05, 0.95),
    which=st.sampled_from([0, 1]),
    alpha=st.floats(0.2, 0.8),
    thickness=st.floats(0.0, 10.0),
)
def test_less_contact_raises_overpotential(current, area, shrink, which, alpha, thickness):
    """Butler–Volmer with j = I/A: a smaller contact area gives a larger |V| for either direction."""
    model = replace(MODEL, alpha=alpha)
    areas = np.array([[area, area]])
    smaller = areas.copy()
    smaller[0, which] *= 1 - shrink
    v0 = echem.cell_voltage(model, [current], areas, thickness)[0]
    v1 = echem.cell_voltage(model, [current], smaller, thickness)[0]
    assert np.sign(v0) == np.sign(v1) == np.sign(current)
    assert abs(v1) > abs(v0)


def test_monotonic_over_an_area_sweep_and_sign_symmetry():
    a = np.linspace(80.0, 2.0, 60)
    areas = np.stack([a, np.full_like(a, 78.5)], axis=1)
    v = echem.cell_voltage(MODEL, np.full(a.size, 0.5), areas, 1.0)
    assert (np.diff(v) > 0).all()
    # alpha = 0.5: reversing the current and swapping the electrodes reverses the voltage
    v_rev = echem.cell_voltage(MODEL, np.full(a.size, -0.5), areas[:, ::-1], 1.0)
    np.testing.assert_allclose(v_rev, -v, rtol=1e-12)


def _half_cycle(truth: xr.Dataset, k: int, half_cycle_s: float):
    sel = (truth.time_s >= k * half_cycle_s) & (truth.time_s < (k + 1) * half_cycle_s)
    part = truth.isel(time=sel.values)
    return part.current_mA.values, part.contact_area_mm2.values, part.interphase_thickness_um.values, sel.values


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_recovers_parameters_and_predicts_next_half_cycle(seed):
    rng = np.random.default_rng(seed)
    true = replace(
        MODEL, j0_mA_cm2=float(rng.uniform(0.2, 2.0)), interphase_conductivity_S_cm=float(rng.uniform(3e-6, 3e-5))
    )
    record, truth = simulate_bv_symmetric_cell(true, half_cycles=2, half_cycle_s=3600.0, noise_V=2e-4, seed=seed)
    current, areas, thick, sel = _half_cycle(truth, 0, 3600.0)
    start = replace(true, j0_mA_cm2=1.0, interphase_conductivity_S_cm=1e-5)
    fit = echem.fit_cell_model(current, record.voltage_V[sel], areas, thick, model=start)
    assert fit.success
    assert fit.model.j0_mA_cm2 == pytest.approx(true.j0_mA_cm2, rel=0.01)
    assert fit.model.interphase_conductivity_S_cm == pytest.approx(true.interphase_conductivity_S_cm, rel=0.01)
    # the standard errors are honest: the truth lies within 4 sigma, and sigma is small
    assert abs(fit.model.j0_mA_cm2 - true.j0_mA_cm2) < 4 * fit.j0_err_mA_cm2 < 0.02 * true.j0_mA_cm2
    kappa_err = abs(fit.model.interphase_conductivity_S_cm - true.interphase_conductivity_S_cm)
    assert kappa_err < 4 * fit.interphase_conductivity_err_S_cm
    assert fit.rms_V == pytest.approx(2e-4, rel=0.15)
    # the other half cycle (reverse current, the other electrode stripping) from its own areas
    current2, areas2, thick2, sel2 = _half_cycle(truth, 1, 3600.0)
    predicted = echem.cell_voltage(fit.model, current2, areas2, thick2)
    rms = np.sqrt(np.mean((predicted - truth.voltage_clean_V.values[sel2]) ** 2))
    assert rms < 1e-3 * np.abs(truth.voltage_clean_V.values[sel2]).mean()


def test_noise_free_fit_is_exact_and_j0_only_fit():
    record, truth = simulate_bv_symmetric_cell(MODEL, half_cycles=1, noise_V=0.0)
    c, a, th = truth.current_mA.values, truth.contact_area_mm2.values, truth.interphase_thickness_um.values
    start = replace(MODEL, j0_mA_cm2=3.0, interphase_conductivity_S_cm=1e-4)
    fit = echem.fit_cell_model(c, record.voltage_V, a, th, model=start)
    assert fit.model.j0_mA_cm2 == pytest.approx(MODEL.j0_mA_cm2, rel=1e-7)
    assert fit.model.interphase_conductivity_S_cm == pytest.approx(MODEL.interphase_conductivity_S_cm, rel=1e-7)
    one = echem.fit_cell_model(c, record.voltage_V, a, th, model=replace(MODEL, j0_mA_cm2=3.0), fit_interphase=False)
    assert one.model.j0_mA_cm2 == pytest.approx(MODEL.j0_mA_cm2, rel=1e-7)
    assert np.isnan(one.interphase_conductivity_err_S_cm)


def test_compare_and_tomo_series_interpolation():
    record, truth = simulate_bv_symmetric_cell(MODEL, half_cycles=2, noise_V=1e-4)
    frames = np.arange(0, truth.sizes["time"], 60)
    series = xr.Dataset(
        {
            "contact_area_mm2": (("frame", "interface"), truth.contact_area_mm2.values[frames]),
            "interphase_thickness_um": ("frame", truth.interphase_thickness_um.values[frames]),
        },
        coords={"time_s": ("frame", truth.time_s.values[frames])},
        attrs={"operando_kind": "tomo-series"},
    )
    areas, thick = echem.tomo_series_at(series, record.time_s)
    assert areas.shape == (record.time_s.size, 2) and thick.shape == areas.shape
    np.testing.assert_allclose(areas[frames], truth.contact_area_mm2.values[frames])
    ds = echem.compare_cell_model(MODEL, record.time_s, record.current_mA, record.voltage_V, areas, thick)
    assert ds.measured_voltage_V.attrs["units"] == "V" and ds.sizes["interface"] == 2
    parts = sum(
        ds[k] for k in ("charge_transfer_1_V", "charge_transfer_2_V", "electrolyte_ohmic_V", "interphase_ohmic_V")
    )
    np.testing.assert_allclose(parts, ds.predicted_voltage_V)
    # scans every 10 min: linear interpolation between scans (of a sqrt(t) interphase growth) costs ~1 %
    rms = float(np.sqrt((ds.residual_V**2).mean()))
    assert 1e-4 < rms < 0.02 * float(np.abs(ds.measured_voltage_V).mean())
    with pytest.raises(MissingMetadataError, match="scan times"):
        echem.tomo_series_at(series.drop_vars("time_s"), record.time_s)
    with pytest.raises(MissingMetadataError, match="contact_area_mm2"):
        echem.tomo_series_at(series.drop_vars("contact_area_mm2"), record.time_s)


def test_bad_parameters():
    with pytest.raises(ParameterError, match="exchange current"):
        replace(MODEL, j0_mA_cm2=0.0)
    with pytest.raises(ParameterError, match="alpha"):
        echem.butler_volmer_overpotential(1.0, j0_mA_cm2=1.0, alpha=1.0)
    with pytest.raises(ParameterError, match="contact areas"):
        echem.cell_voltage(MODEL, [0.1, 0.2], [[1.0, 0.0], [1.0, 1.0]])
    with pytest.raises(ParameterError, match="shape"):
        echem.cell_voltage(MODEL, [0.1, 0.2], np.ones((3, 2)))
    with pytest.raises(ParameterError, match="zero everywhere"):
        echem.fit_cell_model([0.1] * 5, [0.01] * 5, [50.0, 50.0], 0.0, model=MODEL)
