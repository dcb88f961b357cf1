"""Electrochemistry records: every potentiostat and cycler file in one canonical form.

``read(path)`` finds the format from the content and returns an :class:`EchemRecord`
whose ``data`` starts with the canonical columns ``time_s, timestamp, voltage_V,
current_mA, charge_mAh, cycle, half_cycle, step``.
"""

from operando.echem._analysis import (
    FailureEvent,
    areal,
    c_rate,
    detect_failures,
    dqdv,
    li_content,
    plateaus,
    segments,
    specific,
)
from operando.echem._csv import write_csv
from operando.echem._read import READERS, EchemFormat, detect, owner_by_suffix, read
from operando.echem._record import (
    CANONICAL_COLUMNS,
    CANONICAL_UNITS,
    EchemMetadata,
    EchemRecord,
    direction,
    half_cycles_from_current,
)

__all__ = [
    "CANONICAL_COLUMNS",
    "CANONICAL_UNITS",
    "READERS",
    "EchemFormat",
    "EchemMetadata",
    "EchemRecord",
    "FailureEvent",
    "areal",
    "c_rate",
    "detect",
    "detect_failures",
    "direction",
    "dqdv",
    "half_cycles_from_current",
    "li_content",
    "owner_by_suffix",
    "plateaus",
    "read",
    "segments",
    "specific",
    "write_csv",
]
