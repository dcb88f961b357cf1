"""The record builds its table, derived columns and file digest on first use, and they equal
what an eager build gives."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from operando import echem
from operando.echem import EchemMetadata, EchemRecord
from tests.echem._cycler_data import real_file


def test_derived_columns_on_first_use_equal_their_definitions() -> None:
    rng = np.random.default_rng(4)
    t = np.cumsum(rng.uniform(0.5, 1.5, 500))
    i = np.repeat([0.0, 2.0, 0.0, -2.0, 2.0], 100) + 1e-4 * rng.standard_normal(500)
    v = 3.7 + 0.1 * np.sin(t / 50)
    start = datetime(2024, 3, 1, 12, tzinfo=UTC)
    calls: list[str] = []

    def late() -> np.ndarray:
        calls.append("late")
        return np.arange(500.0)

    rec = EchemRecord.from_columns(
        time_s=t, voltage_V=v, current_mA=i, meta=EchemMetadata(start_time=start), extra={"late": late}
    )
    assert len(rec) == 500 and calls == []  # nothing built yet
    np.testing.assert_array_equal(rec.half_cycle, echem.half_cycles_from_current(i))
    assert calls == []
    frame = rec.data
    assert calls == ["late"] and rec.data is frame  # built once
    assert list(frame.columns[:8]) == list(echem.CANONICAL_COLUMNS) and list(frame.columns[8:]) == ["late"]
    dq = 0.5 * (i[1:] + i[:-1]) * np.diff(t) / 3600
    np.testing.assert_allclose(frame["charge_mAh"], np.concatenate([[0.0], np.cumsum(dq)]))
    np.testing.assert_array_equal(frame["cycle"], frame["half_cycle"] // 2)
    assert (frame["step"] == -1).all()
    expected = pd.Timestamp(start) + pd.to_timedelta(t, unit="s")
    assert (frame["timestamp"] - expected).abs().max() <= pd.Timedelta(1, "ns")
    assert set(rec.meta.derived) == {"timestamp", "charge_mAh", "half_cycle", "cycle", "step"}


def test_length_errors_are_raised_at_construction() -> None:
    with pytest.raises(Exception, match="column cycle has 3 rows, time has 4"):
        EchemRecord.from_columns(
            time_s=[0, 1, 2, 3], voltage_V=[1, 1, 1, 1], current_mA=[0, 0, 0, 0], cycle=[0, 0, 0], meta=EchemMetadata()
        )


@pytest.mark.realdata
def test_mpr_digest_and_columns_on_first_use() -> None:
    path = real_file("echem/biologic/yadg/gcpl.issue_211.mpr")
    rec = echem.read_mpr(path)
    assert rec._hash_of is not None  # not hashed yet
    assert rec.meta.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert rec._hash_of is None
    frame = rec.data
    assert frame["Ns changes"].dtype == np.uint8 and frame["control/V/mA"].dtype == np.float64
    mpt = echem.read_mpt(path.with_suffix(".mpt"))
    np.testing.assert_allclose(frame["Ewe/V" if "Ewe/V" in frame else "voltage_V"], mpt.voltage_V, atol=1e-6)
    np.testing.assert_allclose(rec.time_s, mpt.time_s, atol=1e-2)


@pytest.mark.realdata
def test_a_lazy_record_pickles_as_a_built_one() -> None:
    import pickle

    path = real_file("echem/biologic/yadg/gcpl.issue_211.mpr")
    rec = echem.read(path)
    back = pickle.loads(pickle.dumps(rec))
    pd.testing.assert_frame_equal(back.data, echem.read(path).data)
    assert back.meta.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
