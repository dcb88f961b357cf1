"""Arbin exports: CSV tables exported from the MITS SQL database and MITS Excel (``.xlsx``) reports.

* CSV (as TRI's beep stores them): ``Data_Point,Test_Time,DateTime,Step_Time,Step_Index,
  Cycle_Index,Current,Voltage,Charge_Capacity,Discharge_Capacity,…`` with ``DateTime`` in
  Unix seconds (UTC, so no zone assumption is needed), current in A, capacities in A h.
  A ``<stem>_Metadata.csv`` beside the file (``IV_Ch_ID``, ``First_Start_DateTime``,
  ``Schedule_File_Name``…) is read when present.
* Excel: a ``Global_Info`` sheet (channel, start time, schedule, ``Software Version``) and
  one or more ``Channel_<n>_<k>`` data sheets (``Date_Time, Test_Time(s), …, Current(A),
  Voltage(V), Charge_Capacity(Ah), Discharge_Capacity(Ah)…``), concatenated in order.
  ``Date_Time`` and ``Start DateTime`` are naive wall-clock times, read in ``timezone``.

Sign convention: Arbin writes the current positive while charging, which is the canonical
convention. ``Charge_Capacity`` and ``Discharge_Capacity`` are unsigned and grow until the
schedule resets them; the canonical ``charge_mAh`` is the running sum of their increments
(charge minus discharge, a fall taken as a restart).
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from operando.echem._record import EchemMetadata, EchemRecord
from operando.echem.io._readerutil import (
    capture_library_noise,
    charge_from_capacities,
    file_identity,
    local_to_utc,
    read_nonempty_bytes,
    require_file,
    resolve_timezone,
    series_local_to_utc,
)
from operando.echem.io._texttable import Table, decode_text, numeric_column, optional_numeric, split_table
from operando.errors import CorruptFileError, MissingMetadataError, OperandoError, UnsupportedFormatError

__all__ = ["read_arbin_csv", "read_arbin_xlsx", "sniff_arbin_csv", "sniff_arbin_xlsx"]

_CSV_FMT = "Arbin CSV export"
_XLSX_FMT = "Arbin MITS Excel export (.xlsx)"
_ZIP_MAGIC = b"PK\x03\x04"
#: Columns every Arbin table export has (CSV spelling, and the Excel spelling with units).
_CSV_REQUIRED = ("Test_Time", "Current", "Voltage")
_XLSX_COLUMNS = {
    "time": "Test_Time(s)",
    "current": "Current(A)",
    "voltage": "Voltage(V)",
    "charge": "Charge_Capacity(Ah)",
    "discharge": "Discharge_Capacity(Ah)",
    "cycle": "Cycle_Index",
    "step": "Step_Index",
    "wall": "Date_Time",
}
_UNIT_IN_NAME = re.compile(r"^(?P<name>.*?)\((?P<unit>[^()]*)\)$")


# -- sniffing ------------------------------------------------------------------------------
def _first_line(head: bytes) -> str:
    return head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("latin-1").strip()


def sniff_arbin_csv(head: bytes, path: Path) -> bool:
    """Tell whether a file is an Arbin CSV table export (``Data_Point,Test_Time,…`` header).

    Parameters
    ----------
    head : bytes
        First bytes of the file.
    path : pathlib.Path
        The file (unused: the header decides).

    Returns
    -------
    bool
    """
    del path
    if not head or b"\x00" in head:
        return False
    names = [n.strip().lower() for n in _first_line(head).split(",")]
    return len(names) >= 4 and names[0] == "data_point" and all(c.lower() in names for c in _CSV_REQUIRED)


def _xlsx_sheet_names(path: Path) -> list[str] | None:
    """Sheet names from ``xl/workbook.xml`` of a zip, or None when it is not a workbook."""
    try:
        with zipfile.ZipFile(path) as zf:
            if "xl/workbook.xml" not in zf.namelist():
                return None
            xml = zf.read("xl/workbook.xml")[:200_000].decode("utf-8", errors="replace")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, RuntimeError):
        return None
    except Exception:  # zlib errors on damaged members
        return None
    return re.findall(r"<(?:\w+:)?sheet\b[^>]*\bname=\"([^\"]*)\"", xml)


def sniff_arbin_xlsx(head: bytes, path: Path) -> bool:
    """Tell whether a file is an Arbin MITS Excel export (``Global_Info`` + ``Channel_*`` sheets).

    Decided by the sheet names in ``xl/workbook.xml``; a zip that cannot be opened is not claimed.
    """
    if not head.startswith(_ZIP_MAGIC):
        return False
    names = _xlsx_sheet_names(path) if path.is_file() else None
    if names is None:
        return False
    return "Global_Info" in names and any(n.startswith("Channel") for n in names)


# -- CSV -------------------------------------------------------------------------------------
def _metadata_beside(path: Path) -> tuple[dict[str, str], Path | None]:
    """First row of ``<stem>_Metadata.csv`` beside the data file (empty when absent)."""
    side = path.with_name(f"{path.stem}_Metadata.csv")
    if not side.is_file():
        return {}, None
    try:
        text = decode_text(side.read_bytes(), side, "Arbin metadata CSV")
        rows = list(csv.reader(text.splitlines()))
    except (OperandoError, csv.Error, OSError):
        return {}, None
    if len(rows) < 2 or len(rows[0]) != len(rows[1]):
        return {}, None
    return {k.strip().lower(): v.strip() for k, v in zip(rows[0], rows[1], strict=True) if k.strip()}, side


def _csv_meta(meta: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {"instrument": "Arbin", "software": "Arbin MITS (SQL export)"}
    iv = meta.get("iv_ch_id", "")
    if iv.isdigit():
        fields["channel"] = str(int(iv) + 1)
    start = meta.get("first_start_datetime", "")
    try:
        if start and 0 < float(start) < 9.2e9:
            fields["start_time"] = datetime.fromtimestamp(float(start), tz=UTC)
    except ValueError:
        pass
    if meta.get("schedule_file_name"):
        fields["techniques"] = (meta["schedule_file_name"],)
    return fields


def _index_column(table: Table, name: str, path: Path) -> npt.NDArray[np.int64] | None:
    """An integer index column, or None when absent or entirely empty."""
    if name not in table.names:
        return None
    values = numeric_column(table, name, path)
    if np.isnan(values).all():
        return None
    if np.isnan(values).any():
        row = int(np.flatnonzero(np.isnan(values))[0])
        raise CorruptFileError(f"line {table.first_line + row}: {name} is empty", path=path)
    return values.astype(np.int64)


def read_arbin_csv(
    path: str | PathLike[str], *, timezone: str = "UTC", drop_incomplete_last_row: bool = False
) -> EchemRecord:
    """Read an Arbin CSV table export (MITS SQL ``Data_Point,Test_Time,DateTime,…``).

    Parameters
    ----------
    path : str or os.PathLike
        The CSV; a ``<stem>_Metadata.csv`` beside it is used when present.
    timezone : str
        Accepted for a uniform interface; ``DateTime`` is Unix time (UTC) and needs none.
    drop_incomplete_last_row : bool
        Read a file whose last row was cut (and note it) instead of raising.

    Returns
    -------
    EchemRecord
        ``time_s`` = ``Test_Time`` (s), ``voltage_V``, ``current_mA`` (A -> mA, charge
        positive as written), ``charge_mAh`` from the capacities, ``timestamp`` from
        ``DateTime``; all columns kept.

    Raises
    ------
    UnsupportedFormatError
        Not an Arbin CSV export.
    CorruptFileError
        Truncated or damaged.
    """
    src = Path(path)
    resolve_timezone(timezone)
    data = read_nonempty_bytes(src, _CSV_FMT)
    if not sniff_arbin_csv(data[:4096], src):
        raise UnsupportedFormatError(
            f"not an {_CSV_FMT}: expected a 'Data_Point,Test_Time,…,Current,Voltage' header line", path=src
        )
    text = decode_text(data, src, _CSV_FMT)
    lines = text.splitlines()
    notes: list[str] = []
    table = split_table(
        lines[1:],
        ",",
        lines[0].split(","),
        2,
        src,
        _CSV_FMT,
        drop_incomplete_last_row=drop_incomplete_last_row,
        notes=notes,
    )
    by_lower = {n.lower(): n for n in table.names}
    col = {k: by_lower.get(k.lower()) for k in ("Test_Time", "Current", "Voltage", "DateTime", "Data_Point")}
    time_s = numeric_column(table, col["Test_Time"] or "", src)
    voltage = numeric_column(table, col["Voltage"] or "", src)
    current = numeric_column(table, col["Current"] or "", src) * 1e3
    meta_row, side = _metadata_beside(src)
    fields = _csv_meta(meta_row)
    extra_meta = {f"arbin.{k}": v for k, v in meta_row.items() if v}
    if side is not None:
        extra_meta["metadata_file"] = side.name
    timestamp = None
    if col["DateTime"]:
        unix = numeric_column(table, col["DateTime"], src)
        if not np.all(np.isfinite(unix) & (unix > 0) & (unix < 9.2e9)):
            row = int(np.flatnonzero(~(np.isfinite(unix) & (unix > 0) & (unix < 9.2e9)))[0])
            raise CorruptFileError(
                f"line {table.first_line + row}: DateTime {unix[row]!r} is not a Unix time", path=src
            )
        timestamp = pd.to_datetime(unix, unit="s", utc=True).to_numpy()
        extra_meta["timestamp_assumption"] = "DateTime is Unix time (UTC); timezone not needed"
        if "start_time" not in fields:
            fields["start_time"] = (
                pd.Timestamp(unix[0] - time_s[0], unit="s", tz="UTC").round("us").to_pydatetime().astimezone(UTC)
            )
    charge = None
    chg, dis = by_lower.get("charge_capacity"), by_lower.get("discharge_capacity")
    if chg and dis:
        charge = charge_from_capacities(numeric_column(table, chg, src), numeric_column(table, dis, src))
        extra_meta["charge_mAh"] = "running sum of Charge_Capacity - Discharge_Capacity increments"
    if notes:
        extra_meta["row_notes"] = "; ".join(notes)
    used = {col["Test_Time"], col["Voltage"]}
    extra = {n: optional_numeric(table, n) for n in table.names if n not in used}
    units = {col["Current"] or "": "A", "Step_Time": "s", "DateTime": "s (Unix)"}
    units.update({n: "A h" for n in (chg, dis) if n} | {n: "W h" for n in table.names if n.endswith("_Energy")})
    meta = EchemMetadata(**file_identity(src), format="arbin-csv", extra=extra_meta, **fields)
    return EchemRecord.from_columns(
        time_s=time_s,
        voltage_V=voltage,
        current_mA=current,
        charge_mAh=charge,
        timestamp=timestamp,
        cycle=_index_column(table, by_lower.get("cycle_index", ""), src),
        step=_index_column(table, by_lower.get("step_index", ""), src),
        meta=meta,
        extra=extra,
        extra_units={k: v for k, v in units.items() if k},
    )


# -- Excel -------------------------------------------------------------------------------------
def _load_sheets(path: Path) -> tuple[list[tuple[Any, ...]], dict[str, list[tuple[Any, ...]]], list[str]]:
    """Rows of ``Global_Info`` and of every ``Channel*`` sheet (openpyxl, read-only)."""
    import openpyxl

    with capture_library_noise(("openpyxl",)) as noise:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            info = list(wb["Global_Info"].iter_rows(values_only=True)) if "Global_Info" in wb.sheetnames else []
            sheets = {
                name: list(wb[name].iter_rows(values_only=True)) for name in wb.sheetnames if name.startswith("Channel")
            }
        finally:
            wb.close()
    return info, sheets, list(noise)


def _global_info(rows: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
    """The ``Channel | Start DateTime | …`` header row of ``Global_Info`` and the row below it."""
    for k, row in enumerate(rows[:-1]):
        if row and row[0] == "Channel":
            return {str(h).strip(): v for h, v in zip(row, rows[k + 1], strict=False) if h is not None}
    return {}


def _xlsx_meta(info: dict[str, Any], timezone: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"instrument": "Arbin", "software": "Arbin MITS"}
    if info.get("Channel") is not None:
        fields["channel"] = str(info["Channel"])
    if info.get("Software Version"):
        fields["software_version"] = str(info["Software Version"])
    if info.get("Schedule File Name"):
        fields["techniques"] = (str(info["Schedule File Name"]),)
    start = info.get("Start DateTime")
    if isinstance(start, datetime):
        fields["start_time"] = local_to_utc(start, timezone).to_pydatetime()
    return fields


def _sheet_frame(
    sheets: dict[str, list[tuple[Any, ...]]], path: Path
) -> tuple[dict[str, npt.NDArray[Any]], list[str], str]:
    """Columns of the data sheets concatenated in sheet order, and their header."""
    header: list[str] | None = None
    parts: list[list[tuple[Any, ...]]] = []
    counts: list[str] = []
    for name, rows in sheets.items():
        if not rows:
            raise CorruptFileError(f"data sheet {name!r} is empty", path=path)
        this = [str(h).strip() if h is not None else "" for h in rows[0]]
        if header is None:
            header = this
        elif this != header:
            raise CorruptFileError(f"data sheet {name!r} has other columns than the first data sheet", path=path)
        body = [r for r in rows[1:] if any(v is not None for v in r)]
        parts.append(body)
        counts.append(f"{name}({len(body)})")
    if header is None:
        raise CorruptFileError("no Channel_* data sheet in the workbook", path=path)
    width = len(header)
    rows_all = [tuple(r[:width]) + (None,) * (width - len(r)) for part in parts for r in part]
    if not rows_all:
        raise CorruptFileError("the data sheets hold no rows", path=path)
    columns = {h: np.asarray([r[j] for r in rows_all], dtype=object) for j, h in enumerate(header) if h}
    return columns, header, ", ".join(counts)


def _float_column(values: npt.NDArray[Any], name: str, path: Path) -> npt.NDArray[np.float64]:
    """Numbers of an Excel column (empty -> NaN); any text is an error."""
    out = np.full(values.shape[0], np.nan)
    for k, v in enumerate(values):
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise CorruptFileError(f"data row {k + 1}, column {name!r}: {v!r} is not a number", path=path)
        out[k] = float(v)
    return out


def read_arbin_xlsx(path: str | PathLike[str], *, timezone: str = "UTC") -> EchemRecord:
    """Read an Arbin MITS Excel export.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.xlsx`` workbook.
    timezone : str
        IANA zone of the naive ``Date_Time`` and ``Start DateTime`` values; default UTC.

    Returns
    -------
    EchemRecord
        ``time_s`` = ``Test_Time(s)``, ``voltage_V``, ``current_mA`` (A -> mA, charge
        positive as written), ``charge_mAh`` from the capacities, ``cycle`` =
        ``Cycle_Index``, ``step`` = ``Step_Index``; all columns kept, ``sheet`` added.

    Raises
    ------
    UnsupportedFormatError
        Not an Arbin Excel export.
    CorruptFileError
        Damaged workbook or sheets.
    """
    src = require_file(path, _XLSX_FMT)
    resolve_timezone(timezone)
    with src.open("rb") as fh:
        head = fh.read(8)
    if not head.startswith(_ZIP_MAGIC):
        raise UnsupportedFormatError(f"not an {_XLSX_FMT}: not a zip/xlsx file", path=src)
    names = _xlsx_sheet_names(src)
    if names is None:
        raise CorruptFileError(
            f"cannot open the workbook (damaged zip or no xl/workbook.xml); expected an {_XLSX_FMT}", path=src
        )
    if "Global_Info" not in names or not any(n.startswith("Channel") for n in names):
        raise UnsupportedFormatError(
            f"not an {_XLSX_FMT}: sheets are {names}, expected Global_Info and Channel_*", path=src
        )
    try:
        info_rows, sheets, noise = _load_sheets(src)
        return _xlsx_record(src, info_rows, sheets, noise, timezone)
    except OperandoError:
        raise
    except Exception as exc:  # openpyxl/zip/zlib/xml failures on damaged workbooks
        raise CorruptFileError(f"cannot read as {_XLSX_FMT} ({type(exc).__name__}: {exc})", path=src) from exc


def _xlsx_record(
    src: Path,
    info_rows: list[tuple[Any, ...]],
    sheets: dict[str, list[tuple[Any, ...]]],
    noise: list[str],
    timezone: str,
) -> EchemRecord:
    cols, header, counts = _sheet_frame(sheets, src)
    c = _XLSX_COLUMNS
    missing = [c[k] for k in ("time", "current", "voltage") if c[k] not in cols]
    if missing:
        raise MissingMetadataError(f"data sheets lack {missing}; columns are {header}", path=src)
    info = _global_info(info_rows)
    fields = _xlsx_meta(info, timezone)
    extra_meta = {f"arbin.{k}": str(v) for k, v in info.items() if v is not None}
    extra_meta["sheets"] = counts
    if noise:
        extra_meta["reader_warnings"] = " | ".join(dict.fromkeys(noise))
    time_s = _float_column(cols[c["time"]], c["time"], src)
    timestamp = None
    if c["wall"] in cols:
        wall = cols[c["wall"]]
        if not all(isinstance(v, datetime) for v in wall):
            row = next(k for k, v in enumerate(wall) if not isinstance(v, datetime))
            raise CorruptFileError(f"data row {row + 1}: Date_Time {wall[row]!r} is not a date", path=src)
        timestamp = series_local_to_utc(pd.Series(pd.to_datetime(list(wall))), timezone).to_numpy()
        extra_meta["timestamp_assumption"] = f"Date_Time and Start DateTime read as wall-clock time in {timezone}"
    charge = None
    if c["charge"] in cols and c["discharge"] in cols:
        charge = charge_from_capacities(
            _float_column(cols[c["charge"]], c["charge"], src), _float_column(cols[c["discharge"]], c["discharge"], src)
        )
        extra_meta["charge_mAh"] = "running sum of Charge_Capacity - Discharge_Capacity increments"
    index: dict[str, npt.NDArray[np.int64] | None] = {}
    for key in ("cycle", "step"):
        values = _float_column(cols[c[key]], c[key], src) if c[key] in cols else None
        index[key] = None if values is None or np.isnan(values).any() else values.astype(np.int64)
    used = {c["time"], c["voltage"], c["wall"]}
    extra: dict[str, Any] = {}
    units: dict[str, str] = {}
    for name, values in cols.items():
        if name in used:
            continue
        try:
            extra[name] = _float_column(values, name, src)
        except CorruptFileError:
            extra[name] = np.asarray([("" if v is None else str(v)) for v in values], dtype=str)
        m = _UNIT_IN_NAME.match(name)
        units[name] = m.group("unit").replace("Ah", "A h").replace("Wh", "W h") if m else ""
    extra["sheet"] = np.concatenate(
        [
            np.full(sum(1 for r in rows[1:] if any(v is not None for v in r)), n, dtype=object)
            for n, rows in sheets.items()
        ]
    )
    meta = EchemMetadata(**file_identity(src), format="arbin-xlsx", extra=extra_meta, **fields)
    return EchemRecord.from_columns(
        time_s=time_s,
        voltage_V=_float_column(cols[c["voltage"]], c["voltage"], src),
        current_mA=_float_column(cols[c["current"]], c["current"], src) * 1e3,
        charge_mAh=charge,
        timestamp=timestamp,
        cycle=index["cycle"],
        step=index["step"],
        meta=meta,
        extra=extra,
        extra_units=units,
    )
