"""Electrochemistry records: every potentiostat and cycler file in one canonical form.

``read(path)`` finds the format from the content and returns an :class:`EchemRecord`
whose ``data`` starts with the canonical columns ``time_s, timestamp, voltage_V,
current_mA, charge_mAh, cycle, half_cycle, step``. ``SymmetricCellModel`` and friends model a
Li | electrolyte | Li cell (Butler–Volmer kinetics on measured contact areas, ohmic drops).
The per-format readers (``read_mpr``, ``read_gamry``, ...) are what ``read`` dispatches to;
``READERS`` lists every format with its content sniffer.

Names are imported on first use: ``import operando.echem`` loads neither SciPy nor any
vendor reader library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from operando._lazy import lazy_exports

if TYPE_CHECKING:
    from operando.echem._analysis import (
        FailureEvent,
        areal,
        c_rate,
        detect_failures,
        dqdv,
        li_content,
        plateau_summary,
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
        scenario_areas,
        tomo_series_at,
    )
    from operando.echem._record import (
        CANONICAL_COLUMNS,
        CANONICAL_UNITS,
        EchemMetadata,
        EchemRecord,
        check_finite,
        direction,
        half_cycles_from_current,
    )
    from operando.echem.io._arbin import (
        read_arbin_res,
    )
    from operando.echem.io._arbin_export import (
        read_arbin_csv,
        read_arbin_xlsx,
    )
    from operando.echem.io._biologic_mpr import (
        read_mpr,
    )
    from operando.echem.io._biologic_text import (
        read_mpt,
    )
    from operando.echem.io._btsda import (
        read_btsda,
    )
    from operando.echem.io._csv import (
        read_csv,
        write_csv,
    )
    from operando.echem.io._eis_text import (
        read_versastudio,
        read_zplot,
    )
    from operando.echem.io._gamry import (
        read_gamry,
    )
    from operando.echem.io._maccor import (
        read_maccor,
        read_maccor_eis,
    )
    from operando.echem.io._neware import (
        read_neware,
    )
    from operando.echem.io._other import (
        read_novonix,
        read_pec,
    )
    from operando.echem.io._read import (
        READERS,
        EchemFormat,
        detect,
        owner_by_suffix,
        read,
    )
    from operando.echem.io._zahner import (
        read_zahner_log,
    )

# public name -> the module that defines it; imported on first use, so that
# ``import`` of this package stays cheap (no scipy, no vendor libraries)
_SOURCES: dict[str, str] = {
    "FailureEvent": "operando.echem._analysis",
    "areal": "operando.echem._analysis",
    "c_rate": "operando.echem._analysis",
    "detect_failures": "operando.echem._analysis",
    "dqdv": "operando.echem._analysis",
    "li_content": "operando.echem._analysis",
    "plateau_summary": "operando.echem._analysis",
    "plateaus": "operando.echem._analysis",
    "segments": "operando.echem._analysis",
    "specific": "operando.echem._analysis",
    "FARADAY_C_MOL": "operando.echem._cellmodel",
    "GAS_CONSTANT_J_MOL_K": "operando.echem._cellmodel",
    "CellModelFit": "operando.echem._cellmodel",
    "SymmetricCellModel": "operando.echem._cellmodel",
    "butler_volmer_current": "operando.echem._cellmodel",
    "butler_volmer_overpotential": "operando.echem._cellmodel",
    "cell_voltage": "operando.echem._cellmodel",
    "cell_voltage_terms": "operando.echem._cellmodel",
    "compare_cell_model": "operando.echem._cellmodel",
    "fit_cell_model": "operando.echem._cellmodel",
    "model_tomo_series": "operando.echem._cellmodel",
    "scenario_areas": "operando.echem._cellmodel",
    "tomo_series_at": "operando.echem._cellmodel",
    "CANONICAL_COLUMNS": "operando.echem._record",
    "CANONICAL_UNITS": "operando.echem._record",
    "EchemMetadata": "operando.echem._record",
    "EchemRecord": "operando.echem._record",
    "check_finite": "operando.echem._record",
    "direction": "operando.echem._record",
    "half_cycles_from_current": "operando.echem._record",
    "read_arbin_res": "operando.echem.io._arbin",
    "read_arbin_csv": "operando.echem.io._arbin_export",
    "read_arbin_xlsx": "operando.echem.io._arbin_export",
    "read_mpr": "operando.echem.io._biologic_mpr",
    "read_mpt": "operando.echem.io._biologic_text",
    "read_btsda": "operando.echem.io._btsda",
    "read_csv": "operando.echem.io._csv",
    "write_csv": "operando.echem.io._csv",
    "read_versastudio": "operando.echem.io._eis_text",
    "read_zplot": "operando.echem.io._eis_text",
    "read_gamry": "operando.echem.io._gamry",
    "read_maccor": "operando.echem.io._maccor",
    "read_maccor_eis": "operando.echem.io._maccor",
    "read_neware": "operando.echem.io._neware",
    "read_novonix": "operando.echem.io._other",
    "read_pec": "operando.echem.io._other",
    "READERS": "operando.echem.io._read",
    "EchemFormat": "operando.echem.io._read",
    "detect": "operando.echem.io._read",
    "owner_by_suffix": "operando.echem.io._read",
    "read": "operando.echem.io._read",
    "read_zahner_log": "operando.echem.io._zahner",
}

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
    "check_finite",
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
    "plateau_summary",
    "plateaus",
    "read",
    "read_arbin_csv",
    "read_arbin_res",
    "read_arbin_xlsx",
    "read_btsda",
    "read_csv",
    "read_gamry",
    "read_maccor",
    "read_maccor_eis",
    "read_mpr",
    "read_mpt",
    "read_neware",
    "read_novonix",
    "read_pec",
    "read_versastudio",
    "read_zahner_log",
    "read_zplot",
    "scenario_areas",
    "segments",
    "specific",
    "tomo_series_at",
    "write_csv",
]


__getattr__, __dir__ = lazy_exports(__name__, _SOURCES, __all__)
