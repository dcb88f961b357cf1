"""Electrochemistry records: every potentiostat and cycler file in one canonical form.

``read(path)`` finds the format from the content and returns an :class:`EchemRecord`
whose ``data`` starts with the canonical columns ``time_s, timestamp, voltage_V,
current_mA, charge_mAh, cycle, half_cycle, step``. ``SymmetricCellModel`` and friends model a
Li | electrolyte | Li cell (Butler–Volmer kinetics on measured contact areas, ohmic drops).
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
from operando.echem._cellmodel import (
    FARADAY_C_MOL,
    GAS_CONSTANT_J_MOL_K,
    CellModelFit,
    SymmetricCellModel,
    butler_volmer_current,
    butler_volmer_overpotential,
    cell_voltage,
    cell_voltage_terms,
    compare_cell_model,
    fit_cell_model,
    model_tomo_series,
    tomo_series_at,
)
from operando.echem._record import (
    CANONICAL_COLUMNS,
    CANONICAL_UNITS,
    EchemMetadata,
    EchemRecord,
    direction,
    half_cycles_from_current,
)
from operando.echem.io._csv import write_csv
from operando.echem.io._read import READERS, EchemFormat, detect, owner_by_suffix, read
from operando.echem.io._zahner import read_zahner_log

__all__ = [
    "CANONICAL_COLUMNS",
    "CANONICAL_UNITS",
    "FARADAY_C_MOL",
    "GAS_CONSTANT_J_MOL_K",
    "READERS",
    "CellModelFit",
    "EchemFormat",
    "EchemMetadata",
    "EchemRecord",
    "FailureEvent",
    "SymmetricCellModel",
    "areal",
    "butler_volmer_current",
    "butler_volmer_overpotential",
    "c_rate",
    "cell_voltage",
    "cell_voltage_terms",
    "compare_cell_model",
    "detect",
    "detect_failures",
    "direction",
    "dqdv",
    "fit_cell_model",
    "half_cycles_from_current",
    "li_content",
    "model_tomo_series",
    "owner_by_suffix",
    "plateaus",
    "read",
    "read_zahner_log",
    "segments",
    "specific",
    "tomo_series_at",
    "write_csv",
]
