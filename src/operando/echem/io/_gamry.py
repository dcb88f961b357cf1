"""Gamry Framework ``.DTA`` text files (and rejection of Bruker EPR ``.DTA``).

A Gamry file starts with ``EXPLAIN``, then one header entry per line
(``KEY<TAB>TYPE<TAB>value...``; ``NOTES`` entries continue on indented lines) and one or
more tables (``NAME<TAB>TABLE[<TAB>rows]``, then a tab-indented column-name line, a unit
line and the rows). Numbers may use a decimal comma (the Windows locale of the PC).

Main tables are ``ZCURVE`` (impedance) and ``CURVE`` / ``CURVE<n>`` (CV, chrono...); the
record holds them, concatenated with a ``curve`` column. Other tables (``OCVCURVE``,
``FRACURVE``...) are listed in ``meta.extra`` and can be read with ``curves=``.

Canonical mapping: time from ``T`` (or ``Time`` in ``ZCURVE``), voltage from ``Vf``
(``Vdc`` for impedance), current from ``Im`` (``Idc``) in A -> mA. Gamry's default
current convention is anodic = positive, i.e. oxidation at the working electrode, which
is the canonical "positive = charge"; no sign is changed and the file's ``CONVENTION``
entry is kept in ``meta.extra``. ``DATE``/``TIME`` are wall-clock times of the PC without a
zone: they are read in the zone given by ``timezone`` (default UTC) and the assumption is
recorded in ``meta.extra["timestamp_assumption"]``.

Bruker EPR (BES3T) data files also end in ``.DTA`` but are raw binary numbers with a
``.DSC`` descriptor beside them; :func:`read_gamry` rejects them with an
:class:`~operando.errors.UnsupportedFormatError` that says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from operando.echem._record import EchemMetadata, EchemRecord
from operando.echem.io._readerutil import file_identity, local_to_utc, read_nonempty_bytes
from operando.errors import CorruptFileError, MissingMetadataError, OperandoError, UnsupportedFormatError

__all__ = ["read_gamry", "sniff_gamry"]

_MAIN_TABLE = re.compile(r"^(ZCURVE|CURVE\d*|VFPCURVE)$")
#: First line of a Gamry Framework file (``EXPLAIN``) or of a VFP600 front-panel file.
_MAGICS = (b"EXPLAIN", b"VFP600")
#: Row count Gamry writes in the TABLE line of an open-ended run (OCP with a stability
#: criterion, runs stopped by the user): the count is a placeholder, not a promise.
_OPEN_ENDED_ROWS = 99999
#: A header entry's name: letters first (TAG, PSTAT, CURVE2, ...).
_HEADER_KEY = re.compile(r"^[A-Za-z_][\w.\-]*$")
_DATE_FORMATS = ("%m/%d/%Y", "%m-%d-%Y", "%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y")
#: Friendlier names for the impedance columns (unit in the name, like the canonical ones).
_RENAME = {"Freq": "freq_Hz", "Zreal": "Zreal_ohm", "Zimag": "Zimag_ohm", "Zmod": "Zmod_ohm", "Zphz": "Zphz_deg"}
_TIME_COLUMNS = ("T", "Time")
# Vstep/Idif: square-wave voltammetry (SQUARE_WAVE); Voltage/Current: VFP600 front panel
_VOLTAGE_COLUMNS = ("Vf", "Vdc", "V", "Vstep", "Voltage")
_CURRENT_COLUMNS = ("Im", "Idc", "I", "Idif", "Current")
#: Header entries giving the sample period of tables without a time column:
#: ``FREQUENCY`` (square-wave frequency, one point per step period), ``FREQ``
#: (VFP600 acquisition frequency), ``SAMPLETIME`` (sample period in s).
_PERIOD_KEYS = (("FREQUENCY", "frequency"), ("FREQ", "frequency"), ("SAMPLETIME", "period"))


@dataclass
class GamryTable:
    """One ``TABLE`` block of a Gamry file.

    Attributes
    ----------
    name : str
        Table name (``ZCURVE``, ``CURVE3``...).
    line : int
        1-based line of the ``TABLE`` entry.
    declared_rows : int or None
        Row count written after ``TABLE`` (absent for some tables).
    columns : list of str
    units : list of str
    rows : list of list of str
        Cells as text, one inner list per data row.
    """

    name: str
    line: int
    declared_rows: int | None
    columns: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class GamryFile:
    """Header entries and tables of a parsed Gamry file."""

    header: dict[str, list[str]]
    tables: list[GamryTable]


def _strip_bom(head: bytes) -> bytes:
    return head[3:] if head.startswith(b"\xef\xbb\xbf") else head


def sniff_gamry(head: bytes, path: Path) -> bool:
    """Tell whether a file is a Gamry Framework ``.DTA`` text file.

    Parameters
    ----------
    head : bytes
        First bytes of the file (16 are enough).
    path : pathlib.Path
        The file (unused: the ``EXPLAIN`` magic decides; Bruker EPR ``.DTA`` is binary).

    Returns
    -------
    bool
    """
    del path
    return _strip_bom(head).lstrip(b"\r\n ").startswith(_MAGICS)


def _bruker_descriptor(path: Path) -> Path | None:
    """The ``.DSC`` descriptor beside a Bruker BES3T ``.DTA``, when there is one."""
    for suffix in (".DSC", ".dsc", ".Dsc"):
        candidate = path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def _reject_non_gamry(data: bytes, path: Path) -> None:
    """Raise a clear error for a ``.DTA`` that is not Gamry's (Bruker EPR above all)."""
    dsc = _bruker_descriptor(path)
    if dsc is not None:
        with dsc.open("rb") as fh:
            dsc_head = fh.read(4096)
        if b"#DESC" in dsc_head or b"BES3T" in dsc_head:
            raise UnsupportedFormatError(
                f"this is a Bruker EPR BES3T data file (binary, descriptor {dsc.name}), not a Gamry "
                "electrochemistry file; read it with an EPR reader",
                path=path,
            )
    if b"\x00" in data[:4096]:
        raise UnsupportedFormatError(
            "binary data, not a Gamry Framework .DTA text file (expected 'EXPLAIN' on line 1; a Bruker "
            "EPR BES3T .DTA needs its .DSC descriptor beside it)",
            path=path,
        )
    first = data[:40].decode("latin-1").splitlines()[0] if data else ""
    raise UnsupportedFormatError(
        f"not a Gamry .DTA file: line 1 is {first!r}, expected 'EXPLAIN' (or 'VFP600')", path=path
    )


def _decode(data: bytes) -> str:
    """Text of the file: UTF-8 when valid, else Windows-1252 (Gamry's usual encoding)."""
    data = _strip_bom(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def parse_gamry_text(text: str, path: Path) -> GamryFile:
    """Split a Gamry file into header entries and tables (cells kept as text).

    Parameters
    ----------
    text : str
        Whole file.
    path : pathlib.Path
        For error messages.

    Returns
    -------
    GamryFile

    Raises
    ------
    CorruptFileError
        When a table row has the wrong number of cells or a table lacks its name/unit lines.
    """
    lines = text.splitlines()
    header: dict[str, list[str]] = {}
    tables: list[GamryTable] = []
    i = 1  # line 0 is EXPLAIN
    n = len(lines)
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line[:1].isspace():
            # an indented line outside a table or NOTES block (tab or, hand-edited, spaces):
            # Gamry never writes one, and taking it as a header entry would lose a data row
            raise CorruptFileError(f"line {i + 1}: unexpected indented line outside a table: {line[:60]!r}", path=path)
        parts = line.split("\t")
        key = parts[0].strip()
        kind = parts[1].strip() if len(parts) > 1 else ""
        if not _HEADER_KEY.match(key):
            # Gamry names every header entry (TAG, PSTAT, CURVE...): anything else here is
            # a stray row or damage, and taking it as a header entry would lose data
            raise CorruptFileError(f"line {i + 1}: {line[:60]!r} is neither a header entry nor a table row", path=path)
        if kind == "TABLE":
            table, i = _parse_table(lines, i, key, parts, path)
            tables.append(table)
            continue
        header[key] = [p.strip() for p in parts[1:]]
        i += 1
        if kind == "NOTES":
            # the count says how many indented note lines follow; anonymised files have fewer
            count = _int_or_none(parts[2] if len(parts) > 2 else "") or 0
            notes: list[str] = []
            while len(notes) < count and i < n and lines[i].startswith("\t"):
                notes.append(lines[i].strip())
                i += 1
            header[key] = [*header[key][:1], "\n".join(notes)]
    return GamryFile(header=header, tables=tables)


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _parse_table(lines: list[str], i: int, name: str, parts: list[str], path: Path) -> tuple[GamryTable, int]:
    """Parse the table starting at line index ``i``; return it and the next line index."""
    declared = _int_or_none(parts[2]) if len(parts) > 2 else None
    table = GamryTable(name=name, line=i + 1, declared_rows=declared)
    if i + 2 >= len(lines) or not lines[i + 1].startswith("\t") or not lines[i + 2].startswith("\t"):
        raise CorruptFileError(f"line {i + 1}: table {name} lacks its column-name and unit lines", path=path)
    table.columns = lines[i + 1].split("\t")[1:]
    table.units = lines[i + 2].split("\t")[1:]
    ncol = len(table.columns)
    if ncol == 0 or len(table.units) != ncol:
        raise CorruptFileError(
            f"line {i + 3}: table {name} has {ncol} column names but {len(table.units)} units", path=path
        )
    j = i + 3
    # Gamry's own rows (a tab, then ncol tab-separated cells): found and split in C-level
    # passes over the block (a per-row loop was half of a 0.7 ms read of a 72-row file)
    block = _TAB_ROWS.match("\n".join(lines[j : j + _BLOCK_MAX]))
    if block is not None and block.group(0):
        rows = [line.split("\t") for line in block.group(0).rstrip("\n").split("\n")]
        if set(map(len, rows)) == {ncol + 1}:
            table.rows.extend(row[1:] for row in rows)
            j += len(rows)
    while j < len(lines) and lines[j].strip() and (lines[j][:1].isspace() or _unindented_row(lines[j], ncol)):
        cells = _row_cells(lines[j], ncol)
        if len(cells) != ncol:
            raise CorruptFileError(
                f"line {j + 1}: table {name} row has {len(cells)} cells, expected {ncol} ({', '.join(table.columns)})",
                path=path,
            )
        table.rows.append(cells)
        j += 1
    return table, j


#: A run of lines that start with a tab and hold more than white space (Gamry's table rows).
_TAB_ROWS = re.compile(r"(?:\t[^\n]*\S[^\n]*(?:\n|$))*")
#: Rows looked at per C-level pass (a longer table continues in the next pass of the loop).
_BLOCK_MAX = 1 << 20


def _unindented_row(line: str, ncol: int) -> bool:
    """A table row that lost its leading tab (hand-edited): ``ncol`` cells, the first a
    point number. Header entries start with a name, never with a number."""
    cells = line.split("\t")
    return len(cells) == ncol and cells[0].strip().isdigit()


def _row_cells(line: str, ncol: int) -> list[str]:
    """Cells of a table row: Gamry indents rows with one tab; a hand-edited file may
    indent them with spaces or separate cells with runs of spaces.

    Examples
    --------
    >>> _row_cells("\\t0\\t1.5\\t2", 3)
    ['0', '1.5', '2']
    >>> _row_cells("    0\\t1.5\\t2", 3)
    ['0', '1.5', '2']
    >>> _row_cells("  0   1.5  2", 3)
    ['0', '1.5', '2']
    """
    cells = line.split("\t")[1:] if line.startswith("\t") else line.lstrip(" ").split("\t")
    if len(cells) != ncol and len(line.split()) == ncol:
        cells = line.split()
    return cells


def _to_float(cell: str) -> float:
    """A Gamry number (decimal point or comma); raises ValueError for text."""
    return float(cell.strip().replace(",", "."))


def _table_arrays(table: GamryTable, path: Path) -> tuple[dict[str, npt.NDArray[Any]], dict[str, str]]:
    """Columns of a table as arrays: float64 where the first row is numeric, else text."""
    arrays: dict[str, npt.NDArray[Any]] = {}
    units: dict[str, str] = {}
    for k, (name, unit) in enumerate(zip(table.columns, table.units, strict=True)):
        cells = [row[k] for row in table.rows]
        numeric = bool(cells) and _is_number(cells[0])
        if numeric:
            try:  # NumPy converts the whole column in C; a bad cell is then found one by one
                values = np.array("\n".join(cells).replace(",", ".").split("\n"), dtype=np.float64)
                if values.shape == (len(cells),):
                    arrays[name] = values
                    units[name] = "" if unit in ("#", "bits") else unit
                    continue
            except ValueError:
                pass
            values = np.empty(len(cells), dtype=np.float64)
            for r, cell in enumerate(cells):
                try:
                    values[r] = _to_float(cell)
                except ValueError:
                    line = table.line + 3 + r
                    raise CorruptFileError(
                        f"line {line}: table {table.name} column {name!r} holds {cell!r}, expected a number", path=path
                    ) from None
            arrays[name] = values
        else:
            arrays[name] = np.asarray(cells, dtype=object)
        units[name] = "" if unit in ("#", "bits") else unit
    return arrays, units


def _is_number(cell: str) -> bool:
    try:
        _to_float(cell)
    except ValueError:
        return False
    return True


def _pick(arrays: dict[str, npt.NDArray[Any]], names: Sequence[str]) -> str | None:
    for name in names:
        if name in arrays and arrays[name].dtype == np.float64:
            return name
    return None


def _start_time(header: dict[str, list[str]], timezone: str) -> datetime | None:
    date = (header.get("DATE") or ["", ""])[1:2]
    time = (header.get("TIME") or ["", ""])[1:2]
    if not date or not time:
        return None
    for fmt in _DATE_FORMATS:
        try:
            naive = datetime.strptime(f"{date[0]} {time[0]}", f"{fmt} %H:%M:%S")
        except ValueError:
            continue
        return local_to_utc(naive, timezone).to_pydatetime()
    return None


def _add_sample_time(
    merged: dict[str, npt.NDArray[Any]],
    units: dict[str, str],
    header: dict[str, list[str]],
    lengths: list[int],
    path: Path,
) -> str | None:
    """Give a table without a ``T`` column its time from the declared sample period.

    Square-wave files (``SQUARE_WAVE``) of some Framework versions and VFP600 files
    write no time: one point is taken per period of the header's ``FREQUENCY`` /
    ``FREQ`` (or every ``SAMPLETIME`` s). Square-wave points are numbered from 0 and
    measured at the end of their step, so point ``k`` is at ``(k + 1) / f``; the VFP600
    front panel's first sample is at 0 (``k / f``). Adds ``T`` (s) to ``merged`` and
    returns a note, or None when the file has a time column.
    """
    if _pick(merged, _TIME_COLUMNS) is not None:
        return None
    for key, kind in _PERIOD_KEYS:
        text = _header_value(header, key)
        if not text or not _is_number(text):
            continue
        value = _to_float(text)
        if not (np.isfinite(value) and value > 0):
            raise CorruptFileError(f"{key} is {text!r}: not a positive sample rate or period", path=path)
        period = 1.0 / value if kind == "frequency" else value
        square_wave = "Vstep" in merged or "Vfwd" in merged
        index = np.concatenate([np.arange(n, dtype=np.float64) for n in lengths]) if lengths else np.zeros(0)
        if "Pt" in merged and merged["Pt"].dtype == np.float64:
            index = merged["Pt"]
        merged["T"] = (index + 1.0) * period if square_wave else index * period
        units["T"] = "s"
        first = "(Pt + 1)" if square_wave else "row index"
        return f"no time column: T = {first} x {period:g} s (from {key} = {text})"
    return None


def _header_value(header: dict[str, list[str]], key: str) -> str | None:
    entry = header.get(key)
    return entry[1] if entry and len(entry) > 1 and entry[1] else None


def _meta_fields(header: dict[str, list[str]], timezone: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"software": "Gamry Framework"}
    tag = (header.get("TAG") or [""])[0]
    fields["techniques"] = (tag,) if tag else ()
    pstat = _header_value(header, "PSTAT")
    if pstat:
        model, _, serial = pstat.rpartition("-")
        fields["instrument"] = model if model and serial else pstat
        fields["channel"] = pstat
        if model and serial:
            fields["serial_number"] = serial
    serial_no = _header_value(header, "PSTATSERIALNO")
    if serial_no:
        fields["serial_number"] = serial_no
    version = _header_value(header, "FRAMEWORKVERSION")
    if version:
        fields["software_version"] = version.replace(",", ".")
    area = _header_value(header, "AREA")
    if area and _is_number(area) and _to_float(area) > 0:
        fields["electrode_area_cm2"] = _to_float(area)
    fields["start_time"] = _start_time(header, timezone)
    return fields


def _select_tables(parsed: GamryFile, curves: Sequence[str] | None, path: Path) -> list[GamryTable]:
    if curves is not None:
        wanted = [t for t in parsed.tables if t.name in set(curves)]
        if not wanted:
            raise MissingMetadataError(
                f"no table named {list(curves)}; the file has {[t.name for t in parsed.tables]}", path=path
            )
        return wanted
    main = [t for t in parsed.tables if _MAIN_TABLE.match(t.name)]
    if main:
        return main
    if parsed.tables:
        return parsed.tables[:1]
    raise CorruptFileError("no data table (expected a CURVE or ZCURVE TABLE block)", path=path)


def _check_row_counts(tables: list[GamryTable], aborted: bool, lenient: bool, path: Path) -> list[str]:
    """Compare found rows with the declared counts; raise or describe the difference.

    A table may hold fewer rows than declared when the run was aborted (the file says
    so) or open-ended (Gamry declares 99999 rows); both are read and noted. Any other
    difference is a truncated or edited file: refused unless ``lenient``.
    """
    notes: list[str] = []
    for t in tables:
        if t.declared_rows is None or len(t.rows) == t.declared_rows:
            continue
        msg = f"table {t.name} (line {t.line}) declares {t.declared_rows} rows, holds {len(t.rows)}"
        if t.declared_rows == _OPEN_ENDED_ROWS and len(t.rows) < t.declared_rows:
            notes.append(msg + " (99999 = open-ended run: the rows it holds were read)")
        elif aborted and len(t.rows) < t.declared_rows:
            notes.append(msg + " (experiment aborted)")
        elif lenient:
            notes.append(msg + " (read leniently: the rows it holds)")
        else:
            raise CorruptFileError(
                msg + " (truncated or edited?); the lenient option (--lenient) reads the rows it holds", path=path
            )
    return notes


def read_gamry(
    path: str | PathLike[str],
    *,
    timezone: str = "UTC",
    curves: Sequence[str] | None = None,
    strict: bool = True,
    lenient: bool = False,
) -> EchemRecord:
    """Read a Gamry Framework ``.DTA`` file.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    timezone : str
        IANA zone of the ``DATE``/``TIME`` header entries (they carry none); default UTC.
    curves : sequence of str, optional
        Tables to read (e.g. ``("OCVCURVE",)``). Default: ``ZCURVE`` and ``CURVE*`` tables.
    strict : bool
        ``strict=False`` is ``lenient=True`` (kept for older callers).
    lenient : bool
        When False (default), a table whose row count differs from the count its
        header declares is an error, unless the file says the experiment was aborted or
        declares Gamry's open-ended 99999; when True the rows it holds are read. Every
        difference is recorded in ``meta.extra["row_count_notes"]``.

    Returns
    -------
    EchemRecord
        Canonical columns plus every other column of the chosen tables (impedance
        columns renamed ``freq_Hz``, ``Zreal_ohm``, ``Zimag_ohm``, ``Zmod_ohm``,
        ``Zphz_deg``), a ``curve`` column (table name) and ``curve_index``.

    Raises
    ------
    UnsupportedFormatError
        Not a Gamry file (including Bruker EPR BES3T ``.DTA``).
    CorruptFileError
        Truncated or damaged file.
    MissingMetadataError
        Requested ``curves`` absent, or no time/voltage column in the table.
    """
    src = Path(path)
    data = read_nonempty_bytes(src, "Gamry .DTA")
    if not sniff_gamry(data[:64], src):
        _reject_non_gamry(data, src)
    text = _decode(data)
    try:
        parsed = parse_gamry_text(text, src)
        return _build_record(parsed, src, timezone, curves, lenient or not strict)
    except OperandoError:
        raise
    except (ValueError, IndexError, KeyError, OverflowError) as exc:  # defensive: damaged files
        raise CorruptFileError(f"cannot parse as Gamry .DTA ({type(exc).__name__}: {exc})", path=src) from exc


def _build_record(
    parsed: GamryFile, src: Path, timezone: str, curves: Sequence[str] | None, lenient: bool
) -> EchemRecord:
    header = parsed.header
    if "TAG" not in header:
        raise CorruptFileError("no TAG entry in the header (expected e.g. 'TAG\\tEISPOT')", path=src)
    aborted = (header.get("EXPERIMENTABORTED") or ["", ""])[1:2] == ["T"]
    tables = _select_tables(parsed, curves, src)
    notes = _check_row_counts(tables, aborted, lenient, src)
    columns: dict[str, list[npt.NDArray[Any]]] = {}
    units: dict[str, str] = {}
    curve_names: list[npt.NDArray[Any]] = []
    curve_index: list[npt.NDArray[np.int64]] = []
    for t in tables:
        arrays, table_units = _table_arrays(t, src)
        n = len(t.rows)
        for name in list(columns) + [c for c in arrays if c not in columns]:
            if name in arrays:
                columns.setdefault(name, []).append(arrays[name])
            else:  # a column the other tables lack
                columns.setdefault(name, [np.full(sum(len(a) for a in curve_names), np.nan)])
                columns[name].append(np.full(n, np.nan))
        units.update(table_units)
        curve_names.append(np.full(n, t.name, dtype=object))
        digits = re.sub(r"\D", "", t.name)
        curve_index.append(np.full(n, int(digits) if digits else 0, dtype=np.int64))
    merged = {name: np.concatenate(parts) for name, parts in columns.items()}
    time_note = _add_sample_time(merged, units, header, [len(t.rows) for t in tables], src)
    tname = _pick(merged, _TIME_COLUMNS)
    vname = _pick(merged, _VOLTAGE_COLUMNS)
    iname = _pick(merged, _CURRENT_COLUMNS)
    if tname is None or vname is None:
        raise MissingMetadataError(
            f"tables {[t.name for t in tables]} lack a time (T/Time) or voltage (Vf/Vdc) column; "
            f"columns are {list(merged)}",
            path=src,
        )
    n_rows = merged[tname].shape[0]
    if n_rows == 0:
        raise CorruptFileError(f"tables {[t.name for t in tables]} hold no rows", path=src)
    derived: tuple[str, ...] = ()
    if iname is None:
        current = np.zeros(n_rows)
        derived = ("current_mA",)
    else:
        current = merged[iname] * 1e3 if units.get(iname, "A") == "A" else merged[iname]
    fields = _meta_fields(header, timezone)
    extra_meta: dict[str, str] = {f"gamry.{k}": "\t".join(v) for k, v in header.items() if k not in ("TAG",)}
    extra_meta["tables"] = ", ".join(f"{t.name}({len(t.rows)})" for t in parsed.tables)
    extra_meta["read_tables"] = ", ".join(t.name for t in tables)
    extra_meta["timestamp_assumption"] = f"DATE/TIME read as wall-clock time in {timezone}"
    if aborted:
        extra_meta["aborted"] = "true"
    if notes:
        extra_meta["row_count_notes"] = "; ".join(notes)
    if time_note:
        extra_meta["time_source"] = time_note
    if vname == "Vstep":
        extra_meta["square_wave"] = (
            "voltage_V = Vstep (staircase potential), current_mA = Idif (forward - reverse, A -> mA); "
            "Vfwd, Vrev, Ifwd, Irev kept as columns"
        )
    extra_meta["current_convention"] = (
        "Gamry anodic-positive current taken as canonical (oxidation = charge = positive), file CONVENTION="
        + (_header_value(header, "CONVENTION") or "absent")
    )
    used = {tname, vname} | ({iname} if iname else set())
    extra_cols = {_RENAME.get(k, k): v for k, v in merged.items() if k not in used}
    extra_units = {_RENAME.get(k, k): u for k, u in units.items() if k not in used}
    extra_cols["curve"] = np.concatenate(curve_names)
    extra_cols["curve_index"] = np.concatenate(curve_index)
    curve_idx = extra_cols["curve_index"]
    is_cv = len(tables) > 1 and all(re.fullmatch(r"CURVE\d+", t.name) for t in tables)
    meta = EchemMetadata(**file_identity(src), format="gamry-dta", derived=derived, extra=extra_meta, **fields)
    return EchemRecord.from_columns(
        time_s=merged[tname],
        voltage_V=merged[vname],
        current_mA=current,
        cycle=curve_idx - curve_idx.min() if is_cv else None,
        meta=meta,
        extra=extra_cols,
        extra_units=extra_units,
    )
