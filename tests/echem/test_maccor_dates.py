"""Maccor ``DPt Time`` read in one vectorised pass gives the times Python's datetime gives,
in every date order, and anything the fast pass does not take is parsed cell by cell with
the same result or the same one-line refusal."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operando.echem import read_maccor
from operando.errors import CorruptFileError

_HEADER = (
    "Today's Date 07/17/2019  Date of Test:\t07/11/2019\t Filename:\tC:\\x.070 Procedure: x.000"
    "\tComment/Barcode: EXP\r\n"
)
_NAMES = "Rec#\tCyc#\tStep\tTest (Sec)\tStep (Sec)\tAmp-hr\tWatt-hr\tAmps\tVolts\tState\tES\tDPt Time\r\n"


def _export(tmp_path: Path, stamps: list[str]) -> Path:
    rows = []
    for k, stamp in enumerate(stamps):
        amps, volts = 1.0 if k % 7 else -1.0, 3.5 + 1e-4 * k
        rows.append(f"{k + 1}\t0\t1\t{5.0 * k:.4f}\t{5.0 * k:.4f}\t0.0\t0.0\t{amps}\t{volts:.8f}\tC\t0\t{stamp}\r\n")
    path = tmp_path / "dates.070"
    path.write_text(_HEADER + _NAMES + "".join(rows), encoding="ascii", newline="")
    return path


def _expected(times: list[datetime]) -> np.ndarray:
    return pd.to_datetime(times).tz_localize("UTC").as_unit("ns").to_numpy()


@settings(max_examples=25, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1)),
    steps=st.lists(st.integers(0, 86400 * 40), min_size=1, max_size=60),
    dayfirst_layout=st.booleans(),
)
def test_fixed_width_times_equal_datetime(
    tmp_path_factory: pytest.TempPathFactory, start: datetime, steps: list[int], dayfirst_layout: bool
) -> None:
    start = start.replace(microsecond=0)
    times = [start + timedelta(seconds=s) for s in np.cumsum(steps).tolist()]
    layout = "%d/%m/%Y %H:%M:%S" if dayfirst_layout else "%m/%d/%Y %H:%M:%S"
    stamps = [t.strftime(layout) for t in times]
    path = _export(tmp_path_factory.mktemp("m"), stamps)
    day_seen = any(t.day > 12 for t in times)
    if dayfirst_layout and not day_seen:  # ambiguous: read month first, as the exports are by default
        times = [datetime(t.year, t.day, t.month, t.hour, t.minute, t.second) for t in times]
    record = read_maccor(path)
    np.testing.assert_array_equal(record.data["timestamp"].to_numpy(), _expected(times))
    order = record.meta.extra["date_order"]
    assert order.startswith("day/month/year") == (dayfirst_layout and day_seen)
    # told the order, it is used whatever the days are
    told = read_maccor(path, dayfirst=dayfirst_layout)
    if dayfirst_layout:
        assert told.meta.extra["date_order"] == "day/month/year (dayfirst=True)"


_T0 = datetime(2019, 7, 11, 14, 2, 33)


@pytest.mark.parametrize(
    ("stamps", "expected"),
    [
        (
            ["7/11/2019 2:02:33 PM", "7/11/2019 2:02:38 PM"],
            [datetime(2019, 7, 11, 14, 2, 33), datetime(2019, 7, 11, 14, 2, 38)],
        ),
        (
            ["07/11/2019 14:02:33.5", "07/11/2019 14:02:34"],
            [datetime(2019, 7, 11, 14, 2, 33, 500000), datetime(2019, 7, 11, 14, 2, 34)],
        ),
        (
            ["2019-07-11 14:02:33", "2019-07-11 14:02:34"],
            [datetime(2019, 7, 11, 14, 2, 33), datetime(2019, 7, 11, 14, 2, 34)],
        ),
    ],
)
def test_other_layouts_parsed_cell_by_cell(tmp_path: Path, stamps: list[str], expected: list[datetime]) -> None:
    record = read_maccor(_export(tmp_path, stamps))
    np.testing.assert_array_equal(record.data["timestamp"].to_numpy(), _expected(expected))


@pytest.mark.parametrize(
    ("stamps", "message"),
    [
        (
            ["04/30/2019 10:00:00", "04/31/2019 10:00:00"],
            r"line 4, column 'DPt Time': '04/31/2019 10:00:00' is not a valid date",
        ),
        (["13/07/2019 10:00:00", "01/13/2019 10:00:00"], r"mixes day-first and month-first dates"),
        (["07/11/2019 10:00:00", "07/11/2019 24:00:00"], r"line 4, column 'DPt Time': '07/11/2019 24:00:00' is not a"),
        (
            ["07/11/2019 10:00:00", "07/11/2019 1O:00:00"],
            r"line 4, column 'DPt Time': '07/11/2019 1O:00:00' is not a date",
        ),
    ],
)
def test_bad_times_refused_with_their_line(tmp_path: Path, stamps: list[str], message: str) -> None:
    with pytest.raises(CorruptFileError, match=message):
        read_maccor(_export(tmp_path, stamps))
