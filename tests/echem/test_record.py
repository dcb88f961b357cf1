from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operando.echem import CANONICAL_COLUMNS, EchemMetadata, EchemRecord, direction, half_cycles_from_current
from operando.errors import CorruptFileError


def test_derives_missing_canonical_columns_by_hand():
    # 1 mA for 3600 s is 1 mA h; then -2 mA for 1800 s brings it back to 0
    t = np.array([0.0, 1800.0, 3600.0, 3600.0, 5400.0])
    i = np.array([1.0, 1.0, 1.0, -2.0, -2.0])
    rec = EchemRecord.from_columns(
        time_s=t, voltage_V=np.ones(5), current_mA=i, meta=EchemMetadata(start_time=datetime(2026, 1, 1, tzinfo=UTC))
    )
    assert list(rec.data.columns[:8]) == list(CANONICAL_COLUMNS)
    np.testing.assert_allclose(rec.charge_mAh, [0.0, 0.5, 1.0, 1.0, 0.0])
    assert rec.half_cycle.tolist() == [0, 0, 0, 1, 1]
    assert rec.data["cycle"].tolist() == [0, 0, 0, 0, 0]
    assert rec.data["step"].tolist() == [-1] * 5
    assert rec.data["timestamp"].iloc[-1] == pd.Timestamp("2026-01-01 01:30:00", tz="UTC")
    assert set(rec.meta.derived) == {"charge_mAh", "half_cycle", "cycle", "step", "timestamp"}


def test_keeps_file_columns_and_units():
    rec = EchemRecord.from_columns(
        time_s=[0, 1],
        voltage_V=[3.0, 3.1],
        current_mA=[0.0, 0.0],
        charge_mAh=[0.0, 0.0],
        half_cycle=[0, 0],
        cycle=[1, 1],
        step=[2, 2],
        meta=EchemMetadata(),
        extra={"P/W": [0.0, 0.1]},
        extra_units={"P/W": "W"},
    )
    assert rec.units["P/W"] == "W"
    assert rec.data["cycle"].tolist() == [1, 1]
    assert rec.meta.derived == ("timestamp",)
    assert rec.start_timestamp is None


def test_rest_does_not_start_a_new_half_cycle():
    assert half_cycles_from_current([0, 1, 0, 0, 1, -1, 0, -1, 1]).tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 2]
    assert direction([1e-6, 1.0, -1.0, 0.0]).tolist() == [0, 1, -1, 0]


def test_mismatched_lengths_are_corrupt():
    with pytest.raises(CorruptFileError, match="voltage_V has 2 rows, time has 3"):
        EchemRecord.from_columns(
            time_s=[0, 1, 2], voltage_V=[1, 2], current_mA=[0, 0, 0], meta=EchemMetadata(source="x.mpt")
        )


def test_non_finite_time_is_corrupt():
    with pytest.raises(CorruptFileError, match="time is not finite at row 1"):
        EchemRecord.from_columns(time_s=[0, np.nan], voltage_V=[1, 2], current_mA=[0, 0], meta=EchemMetadata())


def _half_cycles_reference(current):
    """The definition, one sample at a time: a change of flowing direction starts a half cycle."""
    sign = direction(current)
    out, count, last = [], 0, 0
    for s in sign:
        if s != 0:
            count += last != 0 and s != last
            last = s
        out.append(count)
    return out


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1e-7, 1.0, -1.0, 2.0, -0.5, float("nan")]), max_size=40))
def test_half_cycles_equal_the_sample_by_sample_definition(current):
    values = np.array(current, dtype=np.float64)
    assert half_cycles_from_current(values).tolist() == _half_cycles_reference(values)
