"""Arbin MITS Pro ``.res`` results files (MS Access / Jet databases), read with access-parser.

The data rows are in ``Channel_Normal_Table`` (one row per logged point; pages can come
back out of order, so rows are sorted by ``Data_Point``); test-level facts (channel, start
time, mass, software version) are in ``Global_Table`` and the file version in
``Version_Table``.

* Units: ``Test_Time``/``Step_Time`` s, ``Voltage`` V, ``Current`` A (-> mA),
  ``Charge_Capacity``/``Discharge_Capacity`` A h, energies W h.
* Sign convention: Arbin logs charge current as positive and discharge current as
  negative (``Charge_Capacity`` grows while ``Current > 0``), the canonical convention; no
  sign change is applied.
* ``charge_mAh``: Arbin's capacities restart every cycle, so the canonical cumulative
  charge is integrated from the current (listed in ``meta.derived``); Arbin's own columns
  are kept.
* Times: ``DateTime`` and ``Global_Table.Start_DateTime`` are OLE automation dates (days
  since 1899-12-30) in the tester PC's wall-clock time; they are read in ``timezone``
  (default UTC) and the assumption is recorded in ``meta.extra``.

access-parser silently skips pages it cannot decode (it only logs), which would return a
shortened table from a truncated or damaged file; this reader turns those log records,
gaps in ``Data_Point`` and a ``Channel_Statistic_Table`` that refers to points past the
last row into :class:`~operando.errors.CorruptFileError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from operando.echem._record import EchemMetadata, EchemRecord
from operando.echem.io._readerutil import capture_library_noise, file_identity, require_file, series_local_to_utc
from operando.errors import CorruptFileError, OperandoError, UnsupportedFormatError

__all__ = ["read_arbin_res", "sniff_arbin_res"]

#: Jet 3/4 and ACE (Access 2007+) signatures at byte 4.
_JET_MAGIC = (b"Standard Jet DB", b"Standard ACE DB")
_DATA_TABLE = "Channel_Normal_Table"
_OLE_EPOCH = pd.Timestamp("1899-12-30")
_UNITS = {
    "Test_Time": "s",
    "Step_Time": "s",
    "Current": "A",
    "Voltage": "V",
    "Charge_Capacity": "A h",
    "Discharge_Capacity": "A h",
    "Charge_Energy": "W h",
    "Discharge_Energy": "W h",
    "dV/dt": "V/s",
    "Internal_Resistance": "ohm",
    "AC_Impedance": "ohm",
    "ACI_Phase_Angle": "deg",
    "DateTime": "UTC",
}


def sniff_arbin_res(head: bytes, path: Path) -> bool:
    """Tell whether a file is an Access database (as Arbin ``.res`` files are).

    Parameters
    ----------
    head : bytes
        First bytes of the file (at least 20).
    path : pathlib.Path
        The file; any Access database matches the content test, so the ``.res``
        extension breaks the tie against other ``.mdb``/``.accdb`` files.

    Returns
    -------
    bool
    """
    return head[4:19] in _JET_MAGIC and path.suffix.lower() in (".res", ".mdb", ".accdb")


def _ole_to_utc(days: npt.NDArray[np.float64], timezone: str) -> pd.Series:
    """OLE automation dates (days since 1899-12-30, local wall-clock) to UTC timestamps."""
    naive = pd.Series(_OLE_EPOCH + pd.to_timedelta(np.round(days * 86400e6), unit="us"))
    return series_local_to_utc(naive, timezone)


#: Jet 4 fixed-length column types -> NumPy dtype (as access-parser decodes them).
_JET_DTYPES = {2: "<i1", 3: "<i2", 4: "<i4", 6: "<f4", 7: "<f8", 18: "<i4"}
_JET_BOOLEAN = 1


def _fixed_length_table(db: Any, name: str) -> dict[str, npt.NDArray[Any]] | None:
    """A table of fixed-length columns read from its data pages with NumPy, or None.

    access-parser decodes every field of every row in Python (7 s of 8 s for the 10 261
    rows x 18 columns of a 1.6 MB Arbin file); here the row offsets of each page are
    read with ``np.frombuffer`` and every column is gathered for all rows at once
    (Jet 4 layout: page type 0x0101, row count at byte 12, row offsets from byte 14,
    rows stored back to front, each row = 2-byte field count, fixed-length fields at
    their column offsets, null bitmap in the row's last bytes). access-parser still
    reads the catalogue and table definition. Anything this does not cover (Jet 3,
    variable-length or date/money columns, overflow rows, rows shorter than their
    columns) returns None, and the caller parses the table with access-parser.
    """
    try:
        table = db.get_table(name)
        version, page_size = int(table.version), int(table.page_size)
        pages = list(table.table.linked_pages)
        columns = list(table.columns.values())
        n_cols = int(table.table_header.column_count)
    except Exception:  # the library's own path will report what is wrong
        return None
    if version < 4 or not pages or not columns:
        return None
    specs: list[tuple[Any, np.dtype[Any] | None, int]] = []
    for col in columns:
        if col.type == _JET_BOOLEAN:
            specs.append((col, None, 0))
        elif col.type in _JET_DTYPES and col.column_flags.fixed_length:
            kind = np.dtype(_JET_DTYPES[col.type])
            specs.append((col, kind, kind.itemsize))
        else:
            return None
    buf = np.frombuffer(b"".join(bytes(page) for page in pages), dtype=np.uint8)
    if buf.size != len(pages) * page_size:
        return None
    starts_list: list[npt.NDArray[np.int64]] = []
    ends_list: list[npt.NDArray[np.int64]] = []
    for k in range(len(pages)):
        base = k * page_size
        if buf[base] != 1 or buf[base + 1] != 1:
            return None
        count = int(buf[base + 12]) | (int(buf[base + 13]) << 8)
        offsets = np.frombuffer(buf[base + 14 : base + 14 + 2 * count].tobytes(), dtype="<u2").astype(np.int64)
        if offsets.size != count:
            return None
        deleted = (offsets & 0x8000) != 0
        if np.any(((offsets & 0x4000) != 0) & ~deleted):  # an overflow row lives on another page
            return None
        ends = np.concatenate([[page_size], offsets[:-1] & 0x0FFF])
        starts = offsets & 0x0FFF
        keep = ~deleted & (ends > starts)
        starts_list.append(base + starts[keep])
        ends_list.append(base + ends[keep])
    starts, ends = np.concatenate(starts_list), np.concatenate(ends_list)
    null_len = (n_cols + 7) // 8
    widest = max(int(col.fixed_offset) + size for col, _, size in specs)
    if np.any(ends - starts < 2 + widest + null_len) or np.any(ends > buf.size):
        return None
    out: dict[str, npt.NDArray[Any]] = {}
    for col, col_dtype, size in specs:
        cid = int(col.column_id)
        mask_byte = buf[ends - null_len + cid // 8] if cid // 8 < null_len else np.zeros(starts.size, np.uint8)
        present = ((mask_byte >> (cid % 8)) & 1).astype(bool)
        if col_dtype is None:
            out[col.col_name_str] = present
            continue
        idx = (starts + 2 + int(col.fixed_offset))[:, None] + np.arange(size)
        values = buf[idx].view(col_dtype).ravel()
        if not present.all():
            values = values.astype(np.float64)
            values[~present] = np.nan
        out[col.col_name_str] = values
    return out


def _parse_tables(path: Path) -> tuple[Mapping[str, Any], dict[str, list[Any]], dict[str, list[Any]], str]:
    """Data, global and statistic tables plus the version string; library errors wrapped."""
    from access_parser import AccessParser

    try:
        with capture_library_noise(("access_parser",)) as noise:
            db = AccessParser(str(path))
            tables = set(db.catalog)
            if _DATA_TABLE not in tables:
                raise UnsupportedFormatError(
                    f"Access database without {_DATA_TABLE}: not an Arbin .res file (tables: {sorted(tables)[:8]})",
                    path=path,
                )
            data: Mapping[str, Any] = _fixed_length_table(db, _DATA_TABLE) or dict(db.parse_table(_DATA_TABLE))
            glob = dict(db.parse_table("Global_Table")) if "Global_Table" in tables else {}
            stat = dict(db.parse_table("Channel_Statistic_Table")) if "Channel_Statistic_Table" in tables else {}
            version_table = dict(db.parse_table("Version_Table")) if "Version_Table" in tables else {}
    except OperandoError:
        raise
    except Exception as exc:  # access-parser raises struct.error, KeyError, ValueError... on damaged pages
        raise CorruptFileError(
            f"cannot read as Arbin .res (Access database) (access-parser: {type(exc).__name__}: {exc})", path=path
        ) from exc
    if noise:
        raise CorruptFileError(f"damaged or truncated Access database (access-parser: {noise[0]})", path=path)
    version = (version_table.get("Version_Schema_Field") or [""])[0]
    return data, glob, stat, str(version or "")


def _sorted_columns(data: Mapping[str, list[Any]], path: Path) -> dict[str, npt.NDArray[Any]]:
    """Columns as arrays, rows sorted by ``Data_Point``; gaps are corruption."""
    lengths = {len(v) for v in data.values()}
    if len(lengths) != 1:
        raise CorruptFileError(f"{_DATA_TABLE} columns have different lengths {sorted(lengths)}", path=path)
    if "Data_Point" not in data or len(data["Data_Point"]) == 0:
        raise CorruptFileError(f"{_DATA_TABLE} holds no rows", path=path)
    points = np.asarray(data["Data_Point"], dtype=np.int64)
    order = np.argsort(points, kind="stable")
    points = points[order]
    steps = np.diff(points)
    if (steps != 1).any():
        k = int(np.flatnonzero(steps != 1)[0])
        raise CorruptFileError(
            f"{_DATA_TABLE}: Data_Point jumps from {points[k]} to {points[k + 1]} (rows missing or duplicated)",
            path=path,
        )
    out: dict[str, npt.NDArray[Any]] = {}
    for name, values in data.items():
        arr = np.asarray(values)
        if arr.dtype == object:
            with contextlib.suppress(TypeError, ValueError):
                arr = arr.astype(np.float64)
        out[name] = arr[order]
    return out


def read_arbin_res(path: str | PathLike[str], *, timezone: str = "UTC") -> EchemRecord:
    """Read an Arbin ``.res`` file.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    timezone : str
        IANA zone of the tester PC, for the OLE ``DateTime`` values (default UTC).

    Returns
    -------
    EchemRecord
        Canonical columns plus every other ``Channel_Normal_Table`` column (units in
        ``record.units``), sorted by ``Data_Point``.

    Raises
    ------
    CorruptFileError
        Empty, truncated or damaged database.
    UnsupportedFormatError
        Not an Access database, or one without Arbin's tables.
    """
    src = require_file(path, "Arbin .res")
    with src.open("rb") as fh:
        head = fh.read(32)
    if head[4:19] not in _JET_MAGIC:
        raise UnsupportedFormatError(
            "not an Arbin .res file (expected an MS Access database, 'Standard Jet DB' at byte 4)", path=src
        )
    data, glob, stat, version = _parse_tables(src)
    cols = _sorted_columns(data, src)
    for needed in ("Test_Time", "Voltage", "Current"):
        if needed not in cols:
            raise CorruptFileError(f"{_DATA_TABLE} lacks column {needed!r}", path=src)
    if stat.get("Data_Point"):
        last_stat = int(max(stat["Data_Point"]))
        if last_stat > int(cols["Data_Point"][-1]):
            raise CorruptFileError(
                f"Channel_Statistic_Table refers to Data_Point {last_stat}, data end at {int(cols['Data_Point'][-1])}"
                " (truncated)",
                path=src,
            )
    g = {k: v[0] for k, v in glob.items() if v}
    extra_meta: dict[str, str] = {f"arbin.{k}": str(v) for k, v in g.items() if v not in (None, "")}
    extra_meta["arbin.results_file_version"] = version
    extra_meta["timestamp_assumption"] = f"OLE DateTime read as wall-clock time in {timezone}"
    extra_meta["active_mass_assumption"] = "Global_Table.MASS taken to be in grams"
    fields: dict[str, Any] = {"instrument": "Arbin", "software": "Arbin MITS Pro"}
    if g.get("Software_Version"):
        fields["software_version"] = str(g["Software_Version"])
    if g.get("Serial_Number"):
        fields["serial_number"] = str(g["Serial_Number"])
    if g.get("Channel_Index") is not None:
        fields["channel"] = str(g["Channel_Index"])
    mass = g.get("MASS")
    if isinstance(mass, float | int) and mass > 0:
        fields["active_mass_g"] = float(mass)
    if g.get("Schedule_File_Name"):
        fields["techniques"] = (str(g["Schedule_File_Name"]),)
    if isinstance(g.get("Start_DateTime"), float | int):
        fields["start_time"] = _ole_to_utc(np.array([float(g["Start_DateTime"])]), timezone).iloc[0].to_pydatetime()
    timestamp = None
    if "DateTime" in cols and cols["DateTime"].dtype == np.float64:
        timestamp = _ole_to_utc(cols["DateTime"], timezone)
    used = {"Test_Time", "Voltage", "Current", "Cycle_Index", "Step_Index", "DateTime"}
    extra = {k: v for k, v in cols.items() if k not in used}
    meta = EchemMetadata(**file_identity(src), format="arbin-res", extra=extra_meta, **fields)
    return EchemRecord.from_columns(
        time_s=cols["Test_Time"].astype(np.float64),
        voltage_V=cols["Voltage"].astype(np.float64),
        current_mA=cols["Current"].astype(np.float64) * 1e3,
        timestamp=timestamp,
        cycle=cols["Cycle_Index"].astype(np.int64) if "Cycle_Index" in cols else None,
        step=cols["Step_Index"].astype(np.int64) if "Step_Index" in cols else None,
        meta=meta,
        extra=extra,
        extra_units={k: _UNITS.get(k, "") for k in extra},
    )
