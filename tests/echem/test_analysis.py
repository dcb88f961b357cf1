"""Derived quantities against the synthetic cells' ground truth."""

import numpy as np
import pytest

from operando import echem
from operando.echem import EchemMetadata, EchemRecord
from operando.errors import MissingMetadataError
from operando.synthetic import lmno_ocv, simulate_gcpl, simulate_symmetric_cell


def _record(cell):
    return EchemRecord.from_columns(
        time_s=cell.time_s,
        voltage_V=cell.voltage_V,
        current_mA=cell.current_mA,
        charge_mAh=cell.charge_mAh,
        half_cycle=cell.half_cycle,
        meta=EchemMetadata(active_mass_g=cell.active_mass_g, electrode_area_cm2=2.0),
    )


@pytest.fixture(scope="module")
def cell():
    return simulate_gcpl(dt_s=5.0, c_rate=0.2, noise_V=1e-4, resistance_ohm=0.0)


def test_specific_areal_li_content_and_c_rate(cell):
    rec = _record(cell)
    spec = echem.specific(rec)
    np.testing.assert_allclose(spec["specific_capacity_mAh_g"], cell.charge_mAh / cell.active_mass_g)
    np.testing.assert_allclose(echem.areal(rec)["current_density_mA_cm2"], cell.current_mA / 2.0)
    np.testing.assert_allclose(echem.li_content(rec), cell.x_li, atol=1e-12)
    rate = echem.c_rate(rec)
    assert rate.max() == pytest.approx(0.2)
    assert np.isclose(spec["specific_current_mA_g"].max(), 0.2 * 146.7)


def test_missing_mass_is_asked_for():
    rec = EchemRecord.from_columns(
        time_s=[0, 1], voltage_V=[1, 1], current_mA=[1, 1], meta=EchemMetadata(source="a.mpt")
    )
    with pytest.raises(MissingMetadataError, match="a.mpt: active mass is not in the file"):
        echem.specific(rec)


def test_segments_follow_the_protocol(cell):
    seg = echem.segments(_record(cell))
    assert seg["kind"].tolist() == ["rest", "charge", "rest", "discharge", "rest"]
    capacity = cell.active_mass_g * cell.theoretical_capacity_mAh_g
    charge = seg.loc[seg["kind"] == "charge", "charge_mAh"].item()
    assert charge == pytest.approx(0.96 * capacity, rel=1e-3)
    assert seg["half_cycle"].tolist() == [0, 0, 0, 1, 1]


def test_dqdv_peaks_are_the_ocv_plateaus(cell):
    peaks = echem.plateaus(_record(cell), voltage_step_V=0.002, min_share=0.2)
    charge = peaks[peaks["direction"] == 1].sort_values("dqdv_mAh_V", ascending=False)
    # the two Ni plateaus of the model sit where d(OCV)/dy is smallest: near y = 0.28 and 0.75
    y = np.linspace(0.1, 0.95, 5000)
    found = np.sort(charge["voltage_V"].to_numpy()[:2])
    expected = np.sort([lmno_ocv(y[y < 0.5]).mean(), lmno_ocv(y[y > 0.55]).mean()])
    np.testing.assert_allclose(found, expected, atol=0.01)
    # integral of dQ/dV over voltage is the charge passed in that half cycle
    table = echem.dqdv(_record(cell), voltage_step_V=0.002, smooth_points=1)
    first = table[table["half_cycle"] == 0]
    assert first["dqdv_mAh_V"].sum() * 0.002 == pytest.approx(cell.charge_mAh.max(), rel=1e-6)


def test_short_circuit_found_at_its_time():
    rec = simulate_symmetric_cell(short_at_s=4 * 1800 + 600)
    events = echem.detect_failures(rec)
    assert [e.kind for e in events] == ["short_circuit"]
    assert events[0].time_s == pytest.approx(4 * 1800 + 600, abs=10.0)
    assert events[0].after_V < 0.002 < 0.05 < events[0].before_V


def test_sudden_polarisation_found():
    rec = simulate_symmetric_cell(polarisation_at_s=3 * 1800 + 300, polarisation_factor=3.0)
    events = echem.detect_failures(rec)
    assert [e.kind for e in events] == ["sudden_polarisation"]
    assert events[0].time_s == pytest.approx(3 * 1800 + 300, abs=10.0)


def test_healthy_cell_has_no_events():
    assert echem.detect_failures(simulate_symmetric_cell(growth_per_h=0.05)) == []
