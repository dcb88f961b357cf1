"""Novonix HPC CSV and PEC tester CSV exports.

* Novonix HPC: ``[Summary]`` key-value block (``Channel``, ``Mass (g)``, ``Started``,
  ``Version``), a ``[Protocol]`` block, then ``[Data]`` and a CSV table (``Date and Time,
  Cycle Number, Step Type, Run Time (h), …, Current (A), Potential (V), Capacity (Ah), …``).
  Some copies quote every whole line; the quotes are removed. Novonix writes the current
  signed (charge positive), kept as written; ``Capacity (Ah)`` restarts in every step
  and the canonical ``charge_mAh`` is the running sum of its increments signed by the current.
* PEC: ``Key:,value`` header (``Start Time``, ``Test``, ``TestRegime Name``), an optional
  ``#RESULTS CHECK`` block, then a ``Test,Cell,Rack,…`` table with ``Total Time (Seconds)``,
  ``Voltage (mV)``, ``Current (mA)`` (signed, charge positive, kept) and per-cycle
  ``Charge/Discharge Capacity (mAh)``.

Both write naive wall-clock times, read in ``timezone`` (default UTC; recorded in
``meta.extra["timestamp_assumption"]``). A cut last row is an error unless
``drop_incomplete_last_row=True``.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from operando.echem._record import EchemMetadata, EchemRecord
from operando.echem.io._readerutil import (
    charge_from_capacities,
    cumulative_charge,
    file_identity,
    local_to_utc,
    read_nonempty_bytes,
    resolve_timezone,
    series_local_to_utc,
)
from operando.echem.io._texttable import decode_text, numeric_column, optional_numeric, parse_datetimes, split_table
from operando.errors import CorruptFileError, OperandoError, UnsupportedFormatError

__all__ = ["read_novonix", "read_pec", "sniff_novonix", "sniff_pec"]

_NOVONIX = "Novonix HPC CSV export"
_PEC = "PEC tester CSV export"


def sniff_novonix(head: bytes, path: Path) -> bool:
    """Tell whether a file is a Novonix HPC export (``[Summary]`` then ``Novonix``)."""
    del path
    text = head.lstrip(b"\xef\xbb\xbf").decode("latin-1")
    return text.startswith("[Summary]") and "Novonix" in text[:200]


def sniff_pec(head: bytes, path: Path) -> bool:
    """Tell whether a file is a PEC tester CSV (``Request Year:,`` … ``TestRegime Name:,``)."""
    del path
    text = head.lstrip(b"\xef\xbb\xbf").decode("latin-1")
    return text.startswith(("Request Year:,", "Test:,")) and "TestRegime Name:," in text


def _unquote(line: str) -> str:
    s = line.strip()
    return s[1:-1] if len(s) >= 2 and s[0] == s[-1] == '"' else s


def _wall_clock(
    table: Any,
    column: str,
    start_text: str | None,
    start_name: str,
    timezone: str,
    src: Path,
    fields: dict[str, Any],
    extra_meta: dict[str, str],
) -> np.ndarray | None:
    """UTC timestamps from a wall-clock ``column`` and the header's start time.

    Fills ``fields["start_time"]`` (when the header's value parses) and records the
    time-zone assumption in ``extra_meta``; returns the per-row timestamps or None.
    """
    timestamp = None
    if column in table.names:
        wall, _ = parse_datetimes(table.column(column), column, table.first_line, src)
        timestamp = series_local_to_utc(wall, timezone).to_numpy()
        extra_meta["timestamp_assumption"] = f"{column} / {start_name} read as wall-clock time in {timezone}"
    if start_text:
        try:
            started, _ = parse_datetimes([start_text], start_name, 1, src)
            fields["start_time"] = local_to_utc(started.iloc[0], timezone).to_pydatetime()
        except CorruptFileError:
            pass
    return timestamp


def read_novonix(
    path: str | PathLike[str], *, timezone: str = "UTC", drop_incomplete_last_row: bool = False
) -> EchemRecord:
    """Read a Novonix HPC CSV export.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    timezone : str
        IANA zone of ``Date and Time`` and ``Started``; default UTC.
    drop_incomplete_last_row : bool
        Read a file whose last row was cut (and note it) instead of raising.

    Returns
    -------
    EchemRecord
        ``time_s`` = ``Run Time (h)`` x 3600, ``voltage_V`` = ``Potential (V)``,
        ``current_mA`` = ``Current (A)`` x 1000, ``cycle`` = ``Cycle Number``, ``step`` =
        ``Step Number``; ``active_mass_g`` from ``Mass (g)``.

    Raises
    ------
    UnsupportedFormatError
        Not a Novonix export.
    CorruptFileError
        Truncated or damaged.
    """
    src = Path(path)
    resolve_timezone(timezone)
    data = read_nonempty_bytes(src, _NOVONIX)
    if not sniff_novonix(data[:4096], src):
        raise UnsupportedFormatError(f"not a {_NOVONIX}: expected '[Summary]' and 'Novonix' first", path=src)
    lines = decode_text(data, src, _NOVONIX).splitlines()
    try:
        k = lines.index("[Data]")
    except ValueError:
        raise CorruptFileError(f"no [Data] line: not a complete {_NOVONIX}", path=src) from None
    if k + 1 >= len(lines):
        raise CorruptFileError("no column line after [Data]", path=src)
    summary: dict[str, str] = {}
    for line in lines[1 : lines.index("[End Summary]") if "[End Summary]" in lines else k]:
        key, sep, value = line.partition(":")
        if sep:
            summary[key.strip()] = value.strip()
    names = _unquote(lines[k + 1]).split(",")
    notes: list[str] = []
    body = [_unquote(ln) for ln in lines[k + 2 :]]
    table = split_table(
        body, ",", names, k + 3, src, _NOVONIX, drop_incomplete_last_row=drop_incomplete_last_row, notes=notes
    )
    try:
        return _novonix_record(src, table, summary, notes, timezone)
    except OperandoError:
        raise
    except (ValueError, KeyError, IndexError) as exc:
        raise CorruptFileError(f"cannot parse as {_NOVONIX} ({type(exc).__name__}: {exc})", path=src) from exc


def _novonix_record(src: Path, table: Any, summary: dict[str, str], notes: list[str], timezone: str) -> EchemRecord:
    need = ("Run Time (h)", "Potential (V)", "Current (A)")
    missing = [n for n in need if n not in table.names]
    if missing:
        raise CorruptFileError(f"columns {missing} missing; columns are {table.names}", path=src)
    time_s = numeric_column(table, "Run Time (h)", src) * 3600.0
    current = numeric_column(table, "Current (A)", src) * 1e3
    extra_meta = {f"novonix.{k}": v for k, v in summary.items() if v}
    fields: dict[str, Any] = {"instrument": "Novonix HPC", "software": "Novonix HPC"}
    if summary.get("Version"):
        fields["software_version"] = summary["Version"]
    if summary.get("Channel"):
        fields["channel"] = summary["Channel"]
    if summary.get("Protocol"):
        fields["techniques"] = (summary["Protocol"],)
    try:
        mass = float(summary.get("Mass (g)", "nan"))
        if np.isfinite(mass) and mass > 0:
            fields["active_mass_g"] = mass
        area = float(summary.get("Area (cm2)", "nan"))
        if np.isfinite(area) and area > 0:
            fields["electrode_area_cm2"] = area
    except ValueError:
        pass
    timestamp = _wall_clock(
        table, "Date and Time", summary.get("Started"), "Started", timezone, src, fields, extra_meta
    )
    charge = None
    if "Capacity (Ah)" in table.names:
        charge = cumulative_charge(numeric_column(table, "Capacity (Ah)", src), np.sign(current)) * 1e3
        extra_meta["charge_mAh"] = "running sum of Capacity (Ah) increments signed by the current"
    if notes:
        extra_meta["row_notes"] = "; ".join(notes)
    cycle = numeric_column(table, "Cycle Number", src).astype(np.int64) if "Cycle Number" in table.names else None
    step = numeric_column(table, "Step Number", src).astype(np.int64) if "Step Number" in table.names else None
    used = {"Run Time (h)", "Potential (V)", "Date and Time"}
    extra = {n: optional_numeric(table, n) for n in table.names if n not in used}
    units = {"Current (A)": "A", "Capacity (Ah)": "A h", "Step Time (h)": "h", "Energy (Wh)": "W h"}
    meta = EchemMetadata(**file_identity(src), format="novonix-csv", extra=extra_meta, **fields)
    return EchemRecord.from_columns(
        time_s=time_s,
        voltage_V=numeric_column(table, "Potential (V)", src),
        current_mA=current,
        charge_mAh=charge,
        timestamp=timestamp,
        cycle=cycle,
        step=step,
        meta=meta,
        extra=extra,
        extra_units=units,
    )


def read_pec(
    path: str | PathLike[str], *, timezone: str = "UTC", drop_incomplete_last_row: bool = False
) -> EchemRecord:
    """Read a PEC tester CSV export.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    timezone : str
        IANA zone of ``Real Time`` and ``Start Time``; default UTC.
    drop_incomplete_last_row : bool
        Read a file whose last row was cut (and note it) instead of raising.

    Returns
    -------
    EchemRecord
        ``time_s`` = ``Total Time (Seconds)``, ``voltage_V`` = ``Voltage (mV)`` / 1000,
        ``current_mA`` = ``Current (mA)``, ``cycle``, ``step`` as written.

    Raises
    ------
    UnsupportedFormatError
        Not a PEC export.
    CorruptFileError
        Truncated or damaged.
    """
    src = Path(path)
    resolve_timezone(timezone)
    data = read_nonempty_bytes(src, _PEC)
    if not sniff_pec(data[:4096], src):
        raise UnsupportedFormatError(f"not a {_PEC}: expected 'Request Year:,' / 'TestRegime Name:,' header", path=src)
    lines = decode_text(data, src, _PEC).splitlines()
    k = next((i for i, ln in enumerate(lines[:200]) if ln.startswith("Test,Cell,")), None)
    if k is None:
        raise CorruptFileError("no 'Test,Cell,…' column line in the first 200 lines", path=src)
    header: dict[str, str] = {}
    for line in lines[:k]:
        key, sep, value = line.partition(":,")
        if sep:
            header[key.strip()] = value.strip()
    notes: list[str] = []
    table = split_table(
        lines[k + 1 :],
        ",",
        lines[k].split(","),
        k + 2,
        src,
        _PEC,
        drop_incomplete_last_row=drop_incomplete_last_row,
        notes=notes,
    )
    need = ("Total Time (Seconds)", "Voltage (mV)", "Current (mA)")
    missing = [n for n in need if n not in table.names]
    if missing:
        raise CorruptFileError(f"columns {missing} missing; columns are {table.names}", path=src)
    extra_meta = {f"pec.{key}": v for key, v in header.items() if v}
    fields: dict[str, Any] = {"instrument": "PEC"}
    if header.get("TestRegime Name"):
        fields["techniques"] = (header["TestRegime Name"],)
    timestamp = _wall_clock(
        table, "Real Time", header.get("Start Time"), "Start Time", timezone, src, fields, extra_meta
    )
    charge = None
    chg, dis = "Charge Capacity (mAh)", "Discharge Capacity (mAh)"
    if chg in table.names and dis in table.names:
        charge = charge_from_capacities(numeric_column(table, chg, src) / 1e3, numeric_column(table, dis, src) / 1e3)
        extra_meta["charge_mAh"] = "running sum of Charge - Discharge Capacity (mAh) increments"
    if notes:
        extra_meta["row_notes"] = "; ".join(notes)
    used = {"Total Time (Seconds)", "Voltage (mV)", "Current (mA)", "Real Time"}
    extra = {n: optional_numeric(table, n) for n in table.names if n not in used}
    meta = EchemMetadata(**file_identity(src), format="pec-csv", extra=extra_meta, **fields)
    return EchemRecord.from_columns(
        time_s=numeric_column(table, "Total Time (Seconds)", src),
        voltage_V=numeric_column(table, "Voltage (mV)", src) / 1e3,
        current_mA=numeric_column(table, "Current (mA)", src),
        charge_mAh=charge,
        timestamp=timestamp,
        cycle=numeric_column(table, "Cycle", src).astype(np.int64) if "Cycle" in table.names else None,
        step=numeric_column(table, "Step", src).astype(np.int64) if "Step" in table.names else None,
        meta=meta,
        extra=extra,
        extra_units={"Current (mA)": "mA", chg: "mA h", dis: "mA h"},
    )
