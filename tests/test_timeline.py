"""Timeline values against values computed by hand."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from operando.echem import EchemMetadata, EchemRecord
from operando.errors import CorruptFileError, MissingMetadataError, ParameterError
from operando.synthetic import simulate_gcpl
from operando.timeline import align, window_mean


@pytest.fixture
def record():
    # 0-10 s rest at 3 V, 10-20 s charge +2 mA (3 -> 4 V), 20-30 s discharge -2 mA (4 -> 2 V)
    t = np.array([0.0, 10.0, 10.0, 20.0, 20.0, 30.0])
    v = np.array([3.0, 3.0, 3.0, 4.0, 4.0, 2.0])
    i = np.array([0.0, 0.0, 2.0, 2.0, -2.0, -2.0])
    meta = EchemMetadata(source="hand.mpt", active_mass_g=0.001, start_time=datetime(2026, 5, 1, 12, 0, tzinfo=UTC))
    return EchemRecord.from_columns(time_s=t, voltage_V=v, current_mA=i, meta=meta)


def test_window_mean_by_hand():
    # f: 3 -> 4 on [0, 10], 4 on [10, 20], 4 -> 2 on [20, 30]; mean over [5, 25]
    # = (5 * 3.75 + 10 * 4 + 5 * 3.5) / 20 = 3.8125
    assert window_mean([0, 10, 20, 30], [3, 4, 4, 2], [5], [25])[0] == pytest.approx(3.8125)
    assert window_mean([0, 10], [1, np.nan], [0], [10])[0] == 1.0  # non-finite samples ignored


def test_align_by_hand(record):
    tl = align(record, [5.0, 12.0, 22.0], [5.0, 18.0, 28.0], theoretical_capacity_mAh_g=100.0)
    np.testing.assert_allclose(tl["t_mid_s"], [5.0, 15.0, 25.0])
    np.testing.assert_allclose(tl["voltage_V"], [3.0, 3.5, 3.0])
    # window [12, 18] on 3 -> 4 over [10, 20]: linear, so the mean is the mid value 3.5
    np.testing.assert_allclose(tl["voltage_mean_V"], [3.0, 3.5, 3.0])
    np.testing.assert_allclose(tl["current_mean_mA"], [0.0, 2.0, -2.0])
    # charge: 2 mA for 5 s = 10 mA s = 1/360 mA h at t = 15; at 25: 2*10 - 2*5 = 10 mA s
    np.testing.assert_allclose(tl["charge_mAh"], [0.0, 10 / 3600, 10 / 3600])
    np.testing.assert_allclose(tl["specific_capacity_mAh_g"], [0.0, 10 / 3.6, 10 / 3.6])
    np.testing.assert_allclose(tl["x_li"], [1.0, 1 - 10 / 360, 1 - 10 / 360])
    np.testing.assert_allclose(tl["soc"], [0.0, 10 / 360, 10 / 360])
    assert tl["label"].values.tolist() == ["rest", "charge", "discharge"]
    assert tl["half_cycle"].values.tolist() == [0, 0, 1]
    assert tl["in_record"].values.all()
    assert tl["voltage_V"].attrs["units"] == "V"


def test_window_straddling_charge_and_discharge(record):
    tl = align(record, [15.0], [25.0])
    # current +2 on [15, 20), -2 on (20, 25]: mean 0 -> rest; voltage mean = (5*3.75 + 5*3.5)/10
    assert tl["current_mean_mA"].item() == pytest.approx(0.0, abs=1e-12)
    assert tl["label"].item() == "rest"
    assert tl["voltage_mean_V"].item() == pytest.approx(3.625)
    assert tl["voltage_V"].item() == pytest.approx(4.0)


def test_outside_is_flagged_not_extrapolated(record):
    tl = align(record, [-5.0, 25.0, 40.0], [1.0, 31.0, 50.0])
    assert tl["in_record"].values.tolist() == [False, False, False]
    assert np.isnan(tl["voltage_V"]).all()
    assert tl["label"].values.tolist() == ["outside"] * 3
    assert tl["half_cycle"].values.tolist() == [-1] * 3


def test_absolute_times(record):
    start = pd.to_datetime(["2026-05-01T12:00:12Z", "2026-05-01T12:00:22Z"])
    tl = align(record, start, start + pd.Timedelta(seconds=6))
    np.testing.assert_allclose(tl["t_mid_s"], [15.0, 25.0])


def test_absolute_times_need_a_start(record):
    bare = EchemRecord.from_columns(
        time_s=record.time_s, voltage_V=record.voltage_V, current_mA=record.current_mA, meta=EchemMetadata(source="x")
    )
    with pytest.raises(MissingMetadataError, match="no start time"):
        align(bare, pd.to_datetime(["2026-05-01T12:00:12Z"]))


def test_without_mass_capacity_is_nan(record):
    bare = EchemRecord.from_columns(
        time_s=record.time_s, voltage_V=record.voltage_V, current_mA=record.current_mA, meta=EchemMetadata()
    )
    tl = align(bare, [15.0])
    assert np.isnan(tl["specific_capacity_mAh_g"].item())
    assert tl["charge_mAh"].item() == pytest.approx(10 / 3600)


def test_bad_windows(record):
    with pytest.raises(ParameterError, match="ends"):
        align(record, [10.0], [5.0])
    with pytest.raises(ParameterError, match="2 measurement starts but 1 ends"):
        align(record, [1.0, 2.0], [3.0])


def test_decreasing_record_time_is_corrupt():
    rec = EchemRecord.from_columns(time_s=[0, 2, 1], voltage_V=[1, 1, 1], current_mA=[0, 0, 0], meta=EchemMetadata())
    with pytest.raises(CorruptFileError, match="time decreases at row 2"):
        align(rec, [0.5])


def test_li_content_follows_the_simulated_truth():
    cell = simulate_gcpl(dt_s=5.0, noise_V=0.0)
    rec = EchemRecord.from_columns(
        time_s=cell.time_s,
        voltage_V=cell.voltage_V,
        current_mA=cell.current_mA,
        charge_mAh=cell.charge_mAh,
        meta=EchemMetadata(active_mass_g=cell.active_mass_g),
    )
    t = np.linspace(cell.time_s[0], cell.time_s[-1], 37)
    tl = align(rec, t)
    np.testing.assert_allclose(tl["x_li"], np.interp(t, cell.time_s, cell.x_li), atol=1e-12)
