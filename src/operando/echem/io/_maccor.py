"""Maccor text exports (MacTest/MIMS "Today's Date" and KIT-style "Name:" flavours) and EIS exports.

Data exports
------------
Tab-separated; a header of one to a dozen lines, then a column line starting with
``Rec#`` (or ``Rec``), then one row per data point. Flavours seen:

* ``Today's Date … Date of Test: … Filename: … Procedure: …`` on one line, then
  ``Rec#  Cyc#  Step  Test (Sec)  …`` (test time in seconds);
* the same header with ``TestTime``/``StepTime`` written as ``"2d 02:52:51.57"``
  durations (Maccor 4.x), optionally with ``Aux #n``/``Units`` column pairs;
* ``Name:``/``Channel:``/``Tester``/``Procedure``/``Started`` key-value header with
  ``Current [A]``, ``Voltage [V]``, ``Cap. [Ah]``, ``Md`` columns and locale decimal commas.
  Its plain-number ``TestTime`` unit is not written: it is found by comparing the test
  time span with the ``DPT Time`` wall-clock span (minutes in the files seen), or given
  with ``time_unit``.

Sign convention: Maccor writes the current unsigned in most exports (some write the
discharge negative) and says the direction in the state column (``State``/``Md``:
``C`` charge, ``D`` discharge, ``R`` rest, ``O``/``P``/``S``/``FRA`` other). The
canonical current is ``+|I|`` for ``C`` rows, ``-|I|`` for ``D`` rows and the value as
written for all other states. ``Amp-hr`` is the capacity within the current charge or
discharge (unsigned, restarting at zero); the canonical ``charge_mAh`` adds its increments
with the row's sign (an increment where ``Amp-hr`` falls is its new value: a restart), so it
follows the tester's own counting rather than a re-integration of the current.

``DPt Time`` is the tester PC's wall-clock time without a zone: it is read in
``timezone`` (default UTC) and the assumption recorded in
``meta.extra["timestamp_assumption"]``. The channel is the numeric extension of the
exported file name (Maccor names results ``<test>.<channel>``) as written in the
header's ``Filename:`` entry, else the header's channel entry, else the file's own name.

A row with fewer fields than the column line at the end of the file means the export
was cut; it is an error unless ``drop_incomplete_last_row=True`` (then recorded in
``meta.extra["row_notes"]``). Maccor writes no row count, so a file cut exactly at a
line end cannot be told from a complete one.
"""

from __future__ import annotations

import re
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from operando.echem._record import EchemMetadata, EchemRecord
from operando.echem.io._readerutil import (
    cumulative_charge,
    fast_datetimes,
    file_identity,
    local_to_utc,
    read_nonempty_bytes,
    resolve_timezone,
    series_local_to_utc,
)
from operando.echem.io._texttable import (
    Table,
    decode_text,
    numeric_column,
    optional_numeric,
    parse_datetimes,
    split_table,
)
from operando.errors import (
    CorruptFileError,
    MissingMetadataError,
    OperandoError,
    ParameterError,
    UnsupportedFormatError,
)

__all__ = ["read_maccor", "read_maccor_eis", "sniff_maccor", "sniff_maccor_eis"]

_FMT = "Maccor text export"
_EIS_FMT = "Maccor AC-impedance (EIS) export"
_COLUMN_LINE = re.compile(r"^(Rec#?)\t(Cyc#|Cycle P|Cycle)\t", re.MULTILINE)
_TIME_COLUMNS = ("Test (Sec)", "TestTime", "Test Time", "Test Time (sec)")
#: ``Test (Min)``, ``Test Time (Hr)``...: the unit written in the name (MacTest exports
#: can be set to minutes or hours); seconds per unit.
_TIME_WITH_UNIT = re.compile(r"^Test(?:\s*Time)?\s*\((?P<unit>sec|s|min|m|hr|hrs|h)\)$", re.IGNORECASE)
_SECONDS_PER = {"sec": 1.0, "s": 1.0, "min": 60.0, "m": 60.0, "hr": 3600.0, "hrs": 3600.0, "h": 3600.0}
_VOLTAGE_COLUMNS = ("Volts", "Voltage [V]", "Voltage", "Voltage(V)")
_CURRENT_COLUMNS = ("Amps", "Current [A]", "Current", "Current(A)")
_CAPACITY_COLUMNS = ("Amp-hr", "Cap. [Ah]", "Capacity", "Amp-hr [Ah]")
_STATE_COLUMNS = ("State", "Md", "Mode")
_CYCLE_COLUMNS = ("Cyc#", "Cycle C", "Cycle P", "Cycle")
_STEP_COLUMNS = ("Step",)
_DPT_COLUMNS = ("DPt Time", "DPT Time", "DPt time")
_DURATION = re.compile(r"^\s*(?:(\d+)d\s*)?(\d+):(\d{1,2}):(\d{1,2}(?:\.\d*)?)\s*$")
_TIME_UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0}


# -- sniffing ---------------------------------------------------------------------------
def _head_text(head: bytes) -> str:
    return head.lstrip(b"\xef\xbb\xbf").decode("latin-1")


def sniff_maccor(head: bytes, path: Path) -> bool:
    """Tell whether a file is a Maccor tab-separated data export.

    Parameters
    ----------
    head : bytes
        The first few kB of the file.
    path : pathlib.Path
        The file (unused: the content decides).

    Returns
    -------
    bool
        True for a ``Today's Date``/``Date of Test`` header, a ``Name:``/``Tester Maccor``
        header, or a ``Rec#<TAB>Cyc#<TAB>`` column line within the head.
    """
    del path
    if not head or b"\x00" in head:
        return False
    text = _head_text(head)
    if text.startswith("Today's Date") and "Date of Test" in text:
        return True
    if text.startswith("Name:\t") and re.search(r"^Tester\tMaccor", text, re.MULTILINE):
        return True
    return bool(_COLUMN_LINE.search(text)) and "\tStep\t" in text


def sniff_maccor_eis(head: bytes, path: Path) -> bool:
    """Tell whether a file is a Maccor AC-impedance export (``MACCOR, INC. AC Impedance Test``)."""
    del path
    first = _head_text(head).lstrip().split("\n", 1)[0]
    return first.startswith("MACCOR, INC.") and "AC Impedance" in first


# -- header ------------------------------------------------------------------------------
def _header_fields(header: list[str]) -> dict[str, str]:
    """Key/value entries of the header lines, both flavours.

    Examples
    --------
    >>> _header_fields(["Today's Date 10/10/2019  Date of Test:\\t10/10/2019\\t Filename:\\tC:\\\\x\\\\a_1.052 "
    ...                 "Procedure: p.000\\tComment/Barcode: 01"])["Filename"]
    'C:\\\\x\\\\a_1.052'
    """
    out: dict[str, str] = {}
    joined = "\t".join(header)
    patterns = {
        "Today's Date": r"Today's Date:?\s*([^\t]*?)\s*(?:Date of Test|\t|$)",
        "Date of Test": r"Date of Test:\s*([^\t]+)",
        "Filename": r"Filename:\s*(.+?)\s*(?:\sProcedure:|\t|$)",
        "Procedure": r"Procedure:?\s*([^\t]+)",
        "Comment/Barcode": r"Comment/Barcode:\s*([^\t]*)",
        "Tester Channel": r"Tester Channel:\s*([^\t]+)",
        "Description": r"Description:?\s*([^\t]*)",
    }
    for key, pattern in patterns.items():
        m = re.search(pattern, joined)
        if m and m.group(1).strip():
            out[key] = m.group(1).strip()
    for line in header:
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) == 2 and parts[0] and not parts[0].startswith("Today's Date"):
            out.setdefault(parts[0].rstrip(":"), parts[1])
    return out


def _channel(fields: dict[str, str], path: Path) -> str | None:
    for key in ("Filename", "Name"):
        m = re.search(r"\.(\d{3})$", fields.get(key, ""))
        if m:
            return str(int(m.group(1)))
    for key in ("Tester Channel", "Channel"):
        if fields.get(key):
            return fields[key]
    m = re.search(r"\.(\d{3})$", path.name)
    return str(int(m.group(1))) if m else None


def _split_header(text: str, path: Path) -> tuple[list[str], str, list[str], int]:
    """Header lines, column line, data lines and the 1-based line number of the first data line."""
    lines = text.splitlines()
    for k, line in enumerate(lines):
        if re.match(r"^Rec#?\t", line):
            start = k + 1
            while start < len(lines) and not lines[start].strip():
                start += 1
            return lines[:k], line, lines[start:], start + 1
        if k > 60:
            break
    raise CorruptFileError(f"no 'Rec#' column line in the first 60 lines: not a complete {_FMT}", path=path)


def _pick(names: list[str], candidates: tuple[str, ...]) -> str | None:
    return next((c for c in candidates if c in names), None)


# -- values --------------------------------------------------------------------------------
def _durations(cells: list[str], name: str, first_line: int, path: Path, decimal: str) -> npt.NDArray[np.float64]:
    """``[Nd ]hh:mm:ss[.f]`` cells in seconds.

    Examples
    --------
    >>> _durations(["  0d 00:00:0", "  2d 02:52:51.57"], "TestTime", 1, Path("x"), ".").tolist()
    [0.0, 183171.57]
    """
    out = np.empty(len(cells))
    for k, cell in enumerate(cells):
        m = _DURATION.match(cell.replace(decimal, ".") if decimal != "." else cell)
        if not m:
            raise CorruptFileError(
                f"line {first_line + k}, column {name!r}: {cell!r} is not a duration like '0d 00:00:00.0'", path=path
            )
        d, h, mi, s = m.groups()
        out[k] = int(d or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + float(s)
    return out


def _decimal_mark(table: Table, vname: str) -> str:
    """``","`` when the voltage column is written with a decimal comma."""
    sample = table.column(vname)[:50]
    return "," if any(re.fullmatch(r"-?\d+,\d+", c) for c in sample) else "."


def _infer_time_factor(
    raw: npt.NDArray[np.float64], wall: pd.Series | None, time_unit: str | None, path: Path
) -> tuple[float, str]:
    """Seconds per unit of a plain-number ``TestTime`` column."""
    if time_unit is not None:
        if time_unit not in _TIME_UNITS:
            raise ParameterError(f"time_unit must be one of {sorted(_TIME_UNITS)}, got {time_unit!r}")
        return _TIME_UNITS[time_unit], f"TestTime in {time_unit} (time_unit option)"
    if wall is not None and len(raw) > 1:
        span = float(raw[-1] - raw[0])
        wall_span = (wall.iloc[-1] - wall.iloc[0]).total_seconds()
        if span > 0 and wall_span > 0:
            ratio = wall_span / span
            for unit, factor in _TIME_UNITS.items():
                if abs(ratio / factor - 1.0) < 0.05:
                    return factor, f"TestTime in {unit} (its span matches the DPT Time span)"
    raise MissingMetadataError(
        "the unit of the plain-number TestTime column is not written and cannot be matched with "
        "the DPT Time span; pass time_unit='s', 'min' or 'h'",
        path=path,
    )


def signed_current(amps: npt.NDArray[np.float64], state: npt.NDArray[np.str_]) -> npt.NDArray[np.float64]:
    """Current signed by the Maccor state: ``C`` -> ``+|I|``, ``D`` -> ``-|I|``, others as written.

    Examples
    --------
    >>> signed_current(np.array([1.0, 2.0, -2.0, 0.5]), np.array(["C", "D", "D", "R"])).tolist()
    [1.0, -2.0, -2.0, 0.5]
    >>> signed_current(np.array([1.0, 1.0, 0.0]), np.array(["C", "D", "R"])).tolist()
    [1.0, -1.0, 0.0]
    """
    out = amps.astype(np.float64).copy()
    out[state == "C"] = np.abs(out[state == "C"])
    out[state == "D"] = -np.abs(out[state == "D"])
    return out


# -- reading -------------------------------------------------------------------------------
def read_maccor(
    path: str | PathLike[str],
    *,
    timezone: str = "UTC",
    dayfirst: bool | None = None,
    time_unit: str | None = None,
    drop_incomplete_last_row: bool = False,
) -> EchemRecord:
    """Read a Maccor tab-separated data export.

    Parameters
    ----------
    path : str or os.PathLike
        The export (``.txt`` or the channel-numbered ``.NNN``).
    timezone : str
        IANA zone of the ``DPt Time`` wall-clock column; default UTC.
    dayfirst : bool, optional
        Date order of ``DPt Time``; default day first only when a day > 12 is seen.
    time_unit : {"s", "min", "h"}, optional
        Unit of a plain-number ``TestTime`` column; default: inferred from ``DPT Time``.
    drop_incomplete_last_row : bool
        Read a file whose last row was cut (and note it) instead of raising.

    Returns
    -------
    EchemRecord
        ``time_s`` = test time (s, as written, not shifted to 0), ``voltage_V`` (V),
        ``current_mA`` (mA, signed by state, see module docstring), ``charge_mAh``
        (running signed sum of ``Amp-hr`` increments), ``cycle``/``step`` as written,
        ``timestamp`` from ``DPt Time``; all other columns kept (``Amps`` etc. as written).

    Raises
    ------
    UnsupportedFormatError
        Not a Maccor export.
    CorruptFileError
        Truncated, damaged (wrong field counts, text in number columns) or empty.
    MissingMetadataError
        No time, voltage or current column.
    ParameterError
        Unknown ``timezone`` or ``time_unit``.
    """
    src = Path(path)
    resolve_timezone(timezone)
    data = read_nonempty_bytes(src, _FMT)
    if not sniff_maccor(data[:4096], src):
        raise UnsupportedFormatError(
            f'not a {_FMT}: expected a "Today\'s Date" / "Name:" header and a \'Rec#<TAB>Cyc#\' column line',
            path=src,
        )
    text = decode_text(data, src, _FMT)
    try:
        return _build(text, src, timezone, dayfirst, time_unit, drop_incomplete_last_row)
    except OperandoError:
        raise
    except (ValueError, IndexError, KeyError, OverflowError) as exc:  # defensive: damaged files
        raise CorruptFileError(f"cannot parse as {_FMT} ({type(exc).__name__}: {exc})", path=src) from exc


def _build(
    text: str, src: Path, timezone: str, dayfirst: bool | None, time_unit: str | None, drop_last: bool
) -> EchemRecord:
    header, column_line, data_lines, first = _split_header(text, src)
    names = column_line.split("\t")
    notes: list[str] = []
    table = split_table(data_lines, "\t", names, first, src, _FMT, drop_incomplete_last_row=drop_last, notes=notes)
    cols = table.names
    tname, vname, iname = (_pick(cols, c) for c in (_TIME_COLUMNS, _VOLTAGE_COLUMNS, _CURRENT_COLUMNS))
    if tname is None:
        tname = next((c for c in cols if _TIME_WITH_UNIT.match(c)), None)
    if tname is None or vname is None or iname is None:
        missing = [what for what, nm in (("test time", tname), ("voltage", vname), ("current", iname)) if nm is None]
        raise MissingMetadataError(f"no {' or '.join(missing)} column among {cols}", path=src)
    decimal = _decimal_mark(table, vname)
    fields = _header_fields(header)
    extra_meta: dict[str, str] = {f"maccor.{k}": v for k, v in fields.items()}
    dpt_name = _pick(cols, _DPT_COLUMNS)
    wall: pd.Series | None = None
    if dpt_name is not None:
        cells = table.column(dpt_name)
        fast = fast_datetimes(cells, dayfirst=dayfirst)  # one C pass; a cell it cannot take: per cell
        wall, order = (
            fast if fast is not None else parse_datetimes(cells, dpt_name, table.first_line, src, dayfirst=dayfirst)
        )
        extra_meta["date_order"] = order
    time_cells = table.column(tname)
    if any(":" in c for c in time_cells[:5]):
        time_s = _durations(time_cells, tname, table.first_line, src, decimal)
    else:
        raw = numeric_column(table, tname, src, decimal=decimal)
        unit_match = _TIME_WITH_UNIT.match(tname)
        if unit_match:
            factor = _SECONDS_PER[unit_match.group("unit").lower()]
            why = f"{tname}: x {factor:g} s per unit"
        elif "sec" in tname.lower():
            factor, why = 1.0, f"{tname} in s"
        else:
            factor, why = _infer_time_factor(raw, wall, time_unit, src)
        time_s = raw * factor
        extra_meta["time_unit"] = why
    voltage = numeric_column(table, vname, src, decimal=decimal)
    amps = numeric_column(table, iname, src, decimal=decimal)
    sname = _pick(cols, _STATE_COLUMNS)
    state = np.asarray(table.column(sname), dtype=str) if sname else np.full(len(table), "", dtype=str)
    current_mA = signed_current(amps, state) * 1e3
    extra_meta["current_convention"] = f"{iname} signed by {sname or 'no state column'}: C -> +|I|, D -> -|I|"
    cap_name = _pick(cols, _CAPACITY_COLUMNS)
    charge = None
    if cap_name is not None:
        cap = numeric_column(table, cap_name, src, decimal=decimal)
        charge = cumulative_charge(cap, np.sign(current_mA)) * 1e3
        extra_meta["charge_mAh"] = f"running signed sum of {cap_name} increments (restarts taken as new capacity)"
    cyc_name, step_name = _pick(cols, _CYCLE_COLUMNS), _pick(cols, _STEP_COLUMNS)
    cycle = numeric_column(table, cyc_name, src).astype(np.int64) if cyc_name else None
    step = numeric_column(table, step_name, src).astype(np.int64) if step_name else None
    meta_fields: dict[str, Any] = {"instrument": "Maccor", "channel": _channel(fields, src)}
    if fields.get("Tester"):
        meta_fields["instrument"] = f"Maccor ({fields['Tester']})"
    timestamp = None
    if wall is not None:
        timestamp = series_local_to_utc(wall, timezone)
        extra_meta["timestamp_assumption"] = f"{dpt_name} read as wall-clock time in {timezone}"
        if not pd.isna(timestamp.iloc[0]):
            start = timestamp.iloc[0] - pd.to_timedelta(float(time_s[0]), unit="s")
            meta_fields["start_time"] = start.round("us").to_pydatetime()
    else:
        meta_fields["start_time"] = _header_start(fields, timezone)
    if fields.get("Procedure"):
        meta_fields["techniques"] = (fields["Procedure"],)
    if notes:
        extra_meta["row_notes"] = "; ".join(notes)
    used = {tname, vname, cap_name, cyc_name, step_name, dpt_name} - {None}
    extra: dict[str, Any] = {}
    units: dict[str, str] = {}
    for name in cols:
        if name in used:
            continue
        extra[name] = state if name == sname else optional_numeric(table, name, decimal=decimal)
    if cap_name:
        extra[cap_name] = numeric_column(table, cap_name, src, decimal=decimal)
        units[cap_name] = "A h"
    units[iname] = "A"
    meta = EchemMetadata(**file_identity(src), format="maccor-txt", extra=extra_meta, **meta_fields)
    return EchemRecord.from_columns(
        time_s=time_s,
        voltage_V=voltage,
        current_mA=current_mA,
        charge_mAh=charge,
        timestamp=None if timestamp is None else timestamp.to_numpy(),
        cycle=cycle,
        step=step,
        meta=meta,
        extra=extra,
        extra_units=units,
    )


def _header_start(fields: dict[str, str], timezone: str) -> datetime | None:
    """Start time from a ``Started`` header entry, when there is no ``DPt Time`` column."""
    text = fields.get("Started")
    if not text:
        return None
    try:
        wall, _ = parse_datetimes([text], "Started", 1, Path("header"))
    except CorruptFileError:
        return None
    return local_to_utc(wall.iloc[0], timezone).to_pydatetime()


# -- EIS -------------------------------------------------------------------------------------
_EIS_RENAME = {"Freq(Hz)": "freq_Hz", "Z'(a)": "Zreal_ohm", "Z''(b)": "Zimag_ohm", "Z-Mag": "Zmod_ohm"}
_EIS_START = re.compile(r"Start Date:\s*(?:\w+,\s*)?(\w+ \d{1,2}, \d{4})\s*Start Time:\s*(\d{1,2}:\d{2}(?::\d{2})?)")


def read_maccor_eis(path: str | PathLike[str], *, timezone: str = "UTC") -> EchemRecord:
    """Read a Maccor AC-impedance export (``<test>.EDA0001.<channel>``).

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    timezone : str
        IANA zone of the header's ``Start Date``/``Start Time``; default UTC.

    Returns
    -------
    EchemRecord
        One row per frequency: ``time_s`` from ``time(sec)``, ``voltage_V`` from ``V-DC``,
        ``current_mA`` 0 (derived: the DC current is not written), ``freq_Hz``,
        ``Zreal_ohm``, ``Zimag_ohm`` (as written, capacitive negative), ``Zmod_ohm``,
        ``Phase_Angle`` (deg) and the other columns.

    Raises
    ------
    UnsupportedFormatError
        Not a Maccor EIS export.
    CorruptFileError
        Truncated or damaged.
    """
    src = Path(path)
    resolve_timezone(timezone)
    data = read_nonempty_bytes(src, _EIS_FMT)
    if not sniff_maccor_eis(data[:256], src):
        raise UnsupportedFormatError(f"not a {_EIS_FMT}: expected 'MACCOR, INC.  AC Impedance Test' first", path=src)
    text = decode_text(data, src, _EIS_FMT)
    lines = text.splitlines()
    k = next((i for i, ln in enumerate(lines[:40]) if ln.startswith("Freq(Hz)\t")), None)
    if k is None:
        raise CorruptFileError("no 'Freq(Hz)' column line in the first 40 lines", path=src)
    start = k + 1
    while start < len(lines) and not lines[start].strip():
        start += 1
    body = lines[start:]
    first_fields = body[0].split("\t") if body else []
    table = split_table(body, "\t", lines[k].split("\t"), start + 1, src, _EIS_FMT, width=len(first_fields))
    try:
        arrays = {name: numeric_column(table, name, src) for name in table.names if not name.startswith("column ")}
    except IndexError as exc:
        raise CorruptFileError(f"cannot parse the {_EIS_FMT} table ({exc})", path=src) from exc
    for need in ("Freq(Hz)", "Z'(a)", "Z''(b)", "time(sec)"):
        if need not in arrays:
            raise CorruptFileError(f"column {need!r} missing from the impedance table", path=src)
    extra_meta = {"maccor.header": " | ".join(ln.strip() for ln in lines[:k] if ln.strip())}
    fields: dict[str, Any] = {"instrument": "Maccor", "techniques": ("EIS",)}
    m = _EIS_START.search(text[:2000])
    if m:
        try:
            naive = datetime.strptime(f"{m.group(1)} {m.group(2)}", "%B %d, %Y %H:%M")
        except ValueError:
            naive = None
        if naive is not None:
            fields["start_time"] = local_to_utc(naive, timezone).to_pydatetime()
            extra_meta["timestamp_assumption"] = f"Start Date/Time read as wall-clock time in {timezone}"
    m = re.search(r"\.EDA\d+\.(\d{3})\s*$", lines[3].strip() if len(lines) > 3 else "")
    if m:
        fields["channel"] = str(int(m.group(1)))
    n = len(table)
    voltage = arrays.get("V-DC", np.full(n, np.nan))
    units = {"freq_Hz": "Hz", "Zreal_ohm": "Ohm", "Zimag_ohm": "Ohm", "Zmod_ohm": "Ohm", "Phase_Angle": "deg"}
    extra = {_EIS_RENAME.get(k2, k2): v for k2, v in arrays.items() if k2 not in ("time(sec)", "V-DC")}
    meta = EchemMetadata(**file_identity(src), format="maccor-eis", derived=("current_mA",), extra=extra_meta, **fields)
    return EchemRecord.from_columns(
        time_s=arrays["time(sec)"], voltage_V=voltage, current_mA=np.zeros(n), meta=meta, extra=extra, extra_units=units
    )
