"""Plain CSV/TSV records with a caller-supplied column mapping.

Any cycler or potentiostat that can export text can be read: the caller says which file
column holds which canonical quantity (``columns``) and, where the file does not use the
canonical units (s, V, mA, mA h), in which unit it is written (``units``). Units written
in the column name (``"Current(uA)"``, ``"Voltage/V"``, ``"Time [h]"``) are used when
``units`` does not name one; the units used are recorded in ``meta.extra``.

The sign of the current is taken as written: pass ``invert_current=True`` for files
whose convention is discharge-positive.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from operando.echem._record import CANONICAL_COLUMNS, CANONICAL_UNITS, EchemMetadata, EchemRecord
from operando.echem.io._readerutil import convert_unit, file_identity, read_nonempty_bytes, series_local_to_utc
from operando.errors import CorruptFileError, MissingMetadataError, ParameterError

__all__ = ["read_csv", "sniff_csv", "write_csv"]

_CONVERTIBLE = {"time_s": "s", "voltage_V": "V", "current_mA": "mA", "charge_mAh": "mA h"}
_INTEGER = ("cycle", "half_cycle", "step")
_UNIT_IN_NAME = re.compile(r"^(?P<name>.*?)\s*(?:\((?P<p>[^()]+)\)|\[(?P<b>[^\[\]]+)\]|/\s*(?P<s>[^/]+))\s*$")


def sniff_csv(head: bytes, path: Path) -> bool:
    """Tell whether a file looks like delimited text with a header row.

    This is the fallback sniffer: vendor text exports (Arbin CSV, Maccor...) also match,
    so it should be consulted after the vendor sniffers.

    Parameters
    ----------
    head : bytes
        First bytes of the file (a few kB).
    path : pathlib.Path
        The file; ``.csv``/``.tsv``/``.txt`` only breaks ties for one-line heads.

    Returns
    -------
    bool
    """
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the head is fine
        if exc.start < len(head) - 4:
            return False
        text = head[: exc.start].decode("utf-8")
    lines = [ln for ln in text.splitlines()[:-1] if ln.strip()] or text.splitlines()
    if len(lines) < 2:
        return path.suffix.lower() in (".csv", ".tsv") and bool(lines) and any(d in lines[0] for d in ",;\t")
    for delim in ("\t", ",", ";"):
        counts = [ln.count(delim) for ln in lines[:20]]
        if counts[0] >= 1 and all(c == counts[0] for c in counts):
            return True
    return False


def _unit_from_name(name: str) -> str | None:
    """Unit written in a column name, if it is one :mod:`convert_unit` knows."""
    m = _UNIT_IN_NAME.match(name)
    if not m:
        return None
    unit = next(g for g in (m.group("p"), m.group("b"), m.group("s")) if g is not None).strip()
    key = unit.lower().replace("µ", "u").replace("μ", "u").replace("·", " ").replace("*", " ")
    del key
    return unit or None


def _detect_sep(text: str) -> str:
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return "\t" if "\t" in sample else ","


def _numeric(series: pd.Series, name: str, path: Path, decimal: str, header_lines: int) -> npt.NDArray[np.float64]:
    """Column as float64; a cell that is not a number is an error naming row and column."""
    if series.dtype.kind in "iufb":
        return series.to_numpy(dtype=np.float64)
    text = series.astype("string").str.strip()
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    values = pd.to_numeric(text, errors="coerce")
    bad = values.isna() & text.notna() & (text != "")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise CorruptFileError(
            f"line {row + 1 + header_lines}, column {name!r}: {series.iloc[row]!r} is not a number", path=path
        )
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _seconds(series: pd.Series, name: str, path: Path, decimal: str, header_lines: int) -> npt.NDArray[np.float64]:
    """A time column as numbers, or as ``[d ]hh:mm:ss[.fff]`` durations converted to seconds."""
    try:
        return _numeric(series, name, path, decimal, header_lines)
    except CorruptFileError as not_numbers:
        text = series.astype("string").str.strip()
        if decimal != ".":
            text = text.str.replace(decimal, ".", regex=False)
        try:
            delta = pd.to_timedelta(text)
        except (ValueError, TypeError):
            raise not_numbers from None
        return np.asarray(delta.dt.total_seconds().to_numpy(na_value=np.nan), dtype=np.float64)


# Headers that say what they are: our own export (``operando echem export``) and the
# EC-Lab column names (CSV files made from EC-Lab data keep them). Used only when the
# caller gives no mapping; ambiguous or partial matches still ask for one.
_SELF_DESCRIBED: dict[str, tuple[str, ...]] = {
    "time_s": ("time_s", "time/s"),
    "timestamp": ("timestamp",),
    "voltage_V": ("voltage_V", "Ewe/V", "Ecell/V", "<Ewe>/V"),
    "current_mA": ("current_mA", "I/mA", "<I>/mA"),
    "charge_mAh": ("charge_mAh", "(Q-Qo)/mA.h"),
    "cycle": ("cycle", "cycle number"),
    "half_cycle": ("half_cycle", "half cycle"),
    "step": ("step", "Ns"),
}


def _self_described(available: list[str]) -> dict[str, str]:
    """Mapping from a header whose names are canonical or EC-Lab's; empty if incomplete."""
    mapping = {}
    for canonical, names in _SELF_DESCRIBED.items():
        found = [n for n in names if n in available]
        if len(found) == 1:
            mapping[canonical] = found[0]
    needed = {"time_s", "voltage_V", "current_mA"}
    return mapping if needed <= set(mapping) else {}


def read_csv(
    path: str | PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    sep: str | None = None,
    decimal: str = ".",
    timezone: str = "UTC",
    invert_current: bool = False,
    skiprows: int = 0,
    encoding: str = "utf-8",
) -> EchemRecord:
    """Read a delimited text file whose columns the caller maps to canonical names.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    columns : mapping of str to str
        Canonical name (``time_s``, ``timestamp``, ``voltage_V``, ``current_mA``,
        ``charge_mAh``, ``cycle``, ``half_cycle``, ``step``) -> file column name. Needed:
        ``voltage_V``, ``current_mA`` and ``time_s`` or ``timestamp``.
    units : mapping of str to str, optional
        Canonical name -> unit of that file column (e.g. ``{"current_mA": "A",
        "time_s": "h"}``); converted to s, V, mA, mA h. Default: unit in the column
        name when there is one, else the canonical unit.
    sep : str, optional
        Delimiter; sniffed from the first lines when None.
    decimal : str
        Decimal mark (``","`` for many European exports).
    timezone : str
        IANA zone of naive ``timestamp`` values (default UTC, recorded in ``meta.extra``).
    invert_current : bool
        Multiply current (and charge) by -1, for discharge-positive files.
    skiprows : int
        Lines before the header row.
    encoding : str
        Text encoding (``"latin-1"`` for old Windows exports).

    Returns
    -------
    EchemRecord
        Canonical columns plus every other file column (numbers where the whole column
        parses, text otherwise), units from the column names.

    Raises
    ------
    MissingMetadataError
        A needed mapping is absent or names a column the file lacks; the message lists the
        file's columns.
    CorruptFileError
        Empty, undecodable or ragged file, or a non-number in a mapped column.
    ParameterError
        Unknown canonical name or unit.
    """
    src = Path(path)
    columns = dict(columns or {})
    data = read_nonempty_bytes(src, "CSV/TSV")
    unknown = [k for k in columns if k not in CANONICAL_COLUMNS]
    if unknown:
        raise ParameterError(f"unknown canonical names {unknown}; use {list(CANONICAL_COLUMNS)}")
    if b"\x00" in data:
        raise CorruptFileError("binary data (NUL bytes), expected delimited text", path=src)
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise CorruptFileError(f"cannot decode as {encoding} text ({exc}); pass encoding=", path=src) from exc
    body = "\n".join(text.splitlines()[skiprows:])
    delimiter = sep or _detect_sep(body)
    try:
        frame = pd.read_csv(io.StringIO(body), sep=delimiter, dtype=str, keep_default_na=False, engine="python")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as exc:
        raise CorruptFileError(f"cannot parse as delimited text with sep={delimiter!r} ({exc})", path=src) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    available = list(frame.columns)
    if not columns:
        columns = _self_described(available)
        if "timestamp" in columns and not frame[columns["timestamp"]].str.strip().any():
            del columns["timestamp"]  # our own export of a record without dates: an empty column
    missing_keys = [k for k in ("voltage_V", "current_mA") if k not in columns]
    if "time_s" not in columns and "timestamp" not in columns:
        missing_keys.append("time_s (or timestamp)")
    if missing_keys:
        raise MissingMetadataError(
            f"columns= must map {missing_keys} to file columns; the file has {available}", path=src
        )
    absent = {k: v for k, v in columns.items() if v not in available}
    if absent:
        raise MissingMetadataError(f"mapped columns {absent} are not in the file; the file has {available}", path=src)
    if len(frame) == 0:
        raise CorruptFileError("header only, no data rows", path=src)
    header_lines = skiprows + 1
    unit_map = dict(units or {})
    extra_meta: dict[str, str] = {"delimiter": delimiter, "decimal": decimal}
    values: dict[str, Any] = {}
    for key, col in columns.items():
        if key == "timestamp":
            continue
        if key == "time_s":
            arr = _seconds(frame[col], col, src, decimal, header_lines)
        else:
            arr = _numeric(frame[col], col, src, decimal, header_lines)
        if key in _CONVERTIBLE:
            unit = unit_map.get(key) or _unit_from_name(col) or _CONVERTIBLE[key]
            try:
                arr = convert_unit(arr, unit, _CONVERTIBLE[key])
            except ParameterError as exc:
                if key in unit_map:
                    raise
                raise ParameterError(
                    f"column {col!r} looks like unit {unit!r}, which is not {CANONICAL_UNITS[key]}; pass units=",
                ) from exc
            extra_meta[f"unit.{key}"] = f"{col} [{unit}]"
        elif key in _INTEGER:
            if np.isnan(arr).any():
                raise CorruptFileError(f"column {col!r} ({key}) has empty cells", path=src)
            arr = arr.astype(np.int64)
        values[key] = arr
    timestamp = None
    if "timestamp" in columns:
        col = columns["timestamp"]
        try:
            parsed = pd.to_datetime(frame[col].str.strip(), format="mixed")
        except (ValueError, TypeError) as exc:
            raise CorruptFileError(f"column {col!r} has values that are not dates ({exc})", path=src) from exc
        timestamp = series_local_to_utc(parsed, timezone)
        extra_meta["timestamp_assumption"] = f"naive times in {col!r} read as wall-clock time in {timezone}"
        if "time_s" not in values:
            values["time_s"] = (timestamp - timestamp.iloc[0]).dt.total_seconds().to_numpy()
    if invert_current:
        values["current_mA"] = -values["current_mA"]
        if "charge_mAh" in values:
            values["charge_mAh"] = -values["charge_mAh"]
        extra_meta["current_sign"] = "inverted on reading (file is discharge-positive)"
    used = set(columns.values())
    extra_cols: dict[str, Any] = {}
    extra_units: dict[str, str] = {}
    for col in available:
        if col in used:
            continue
        series = frame[col]
        try:
            extra_cols[col] = _numeric(series, col, src, decimal, header_lines)
        except CorruptFileError:
            extra_cols[col] = series.to_numpy(dtype=object)
        extra_units[col] = _unit_from_name(col) or ""
    meta = EchemMetadata(**file_identity(src), format="csv", extra=extra_meta)
    return EchemRecord.from_columns(
        time_s=values["time_s"],
        voltage_V=values["voltage_V"],
        current_mA=values["current_mA"],
        charge_mAh=values.get("charge_mAh"),
        timestamp=timestamp,
        cycle=values.get("cycle"),
        half_cycle=values.get("half_cycle"),
        step=values.get("step"),
        meta=meta,
        extra=extra_cols,
        extra_units=extra_units,
    )


def write_csv(record: EchemRecord, path: str | PathLike[str]) -> Path:
    """Write a record as CSV that :func:`operando.echem.read` reads back as it was.

    Canonical columns first (their names carry their unit: ``time_s``, ``voltage_V``...;
    timestamps in ISO format, UTC), then every other column, its unit in brackets unless
    the vendor's name ends with it (``"Ewe/V"``). Numbers keep 10 significant digits. The
    file is written beside the target and renamed into place.

    Parameters
    ----------
    record : EchemRecord
    path : str or os.PathLike
        The CSV file (overwritten).

    Returns
    -------
    pathlib.Path
    """
    out = Path(path)
    header = [c if c in CANONICAL_COLUMNS or not u or c.endswith(u) else f"{c} [{u}]" for c, u in record.units.items()]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    record.data.to_csv(tmp, index=False, header=header, float_format="%.10g")
    tmp.replace(out)
    return out
