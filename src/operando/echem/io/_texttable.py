"""Strict parsing of the delimited tables in vendor text exports (Maccor, Arbin CSV, Novonix, PEC, EIS).

The generic CSV reader is tolerant by design; vendor exports have a fixed shape, so a
row with the wrong number of fields or a number that does not parse means the file is
damaged (a truncated copy, a flipped byte) and is reported with its line number instead
of being skipped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from operando.errors import CorruptFileError

__all__ = [
    "Table",
    "decode_text",
    "dedupe_names",
    "numeric_column",
    "optional_numeric",
    "parse_datetimes",
    "split_table",
]

#: Cells that mean "no value" in vendor exports.
_MISSING = frozenset({"", "N/A", "NA", "NaN", "nan", "-"})


def decode_text(data: bytes, path: Path, fmt: str) -> str:
    """Decode a text export (UTF-8 with or without BOM, else Windows-1252).

    Raises
    ------
    CorruptFileError
        When the bytes hold NUL characters (a binary file or a damaged copy).
    """
    if b"\x00" in data:
        pos = data.index(b"\x00")
        raise CorruptFileError(f"NUL byte at offset {pos}: not a {fmt} text export (binary or damaged)", path=path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


@dataclass
class Table:
    """Rows of a delimited table, all with the same number of fields.

    Attributes
    ----------
    names : list of str
        Column names (deduplicated).
    cells : list of list of str
        One list of field strings per row, each ``len(names)`` long.
    first_line : int
        1-based line number of the first data row in the file.
    """

    names: list[str]
    cells: list[list[str]]
    first_line: int

    def column(self, name: str) -> list[str]:
        """Cells of one column, stripped."""
        return [cell.strip() for cell in self.raw_column(name)]

    def raw_column(self, name: str) -> npt.NDArray[np.object_]:
        """Cells of one column as written (a view into the table's grid of cells)."""
        grid = self.__dict__.get("_grid")
        if grid is None:
            grid = np.empty((len(self.cells), len(self.names)), dtype=object)
            grid[:] = self.cells
            self.__dict__["_grid"] = grid
        return grid[:, self.names.index(name)]

    def __len__(self) -> int:
        return len(self.cells)


def dedupe_names(names: Sequence[str]) -> list[str]:
    """Strip names and make them unique (``"Units"`` after ``"Aux #1"`` -> ``"Aux #1 units"``).

    Examples
    --------
    >>> dedupe_names(["Aux #1", " Units", "Aux #2", " Units", "", "x", "x"])
    ['Aux #1', 'Aux #1 units', 'Aux #2', 'Aux #2 units', 'column 5', 'x', 'x 2']
    """
    out: list[str] = []
    seen: set[str] = set()
    for j, raw in enumerate(names):
        name = raw.strip()
        if name.lower() == "units" and out:
            name = f"{out[-1]} units"
        if not name:
            name = f"column {j + 1}"
        base, k = name, 2
        while name in seen:
            name, k = f"{base} {k}", k + 1
        seen.add(name)
        out.append(name)
    return out


def split_table(
    lines: Sequence[str],
    sep: str,
    names: Sequence[str],
    first_line: int,
    path: Path,
    fmt: str,
    *,
    width: int | None = None,
    drop_incomplete_last_row: bool = False,
    notes: list[str] | None = None,
) -> Table:
    """Split data lines into fields, checking that every row has the expected width.

    Parameters
    ----------
    lines : sequence of str
        The data lines (blank lines at the end are ignored; blank lines inside are errors).
    sep : str
        Field separator.
    names : sequence of str
        Column names from the header line.
    first_line : int
        1-based line number of ``lines[0]`` in the file (for messages).
    path : pathlib.Path
        The file (for messages).
    fmt : str
        Format name (for messages).
    width : int, optional
        Number of fields every row must have; default ``len(names)``. A row may also
        have one extra empty trailing field (a trailing separator).
    drop_incomplete_last_row : bool
        When True, a last row that is shorter than ``width`` (a file cut while writing)
        is dropped and the fact is appended to ``notes``; when False it is an error.
    notes : list of str, optional
        Receives notes about dropped rows.

    Returns
    -------
    Table

    Raises
    ------
    CorruptFileError
        A row with a different number of fields, or a blank line inside the table.
    """
    rows = list(lines)
    while rows and not rows[-1].strip():
        rows.pop()
    want = len(names) if width is None else width
    cells: list[list[str]] = []
    for k, line in enumerate(rows):
        fields = line.split(sep)
        if len(fields) == want + 1 and not fields[-1].strip():
            fields.pop()
        if len(fields) == want:
            cells.append(fields)
            continue
        lineno = first_line + k
        if k == len(rows) - 1 and len(fields) < want:
            msg = f"last row (line {lineno}) has {len(fields)} of {want} fields: the file is truncated"
            if drop_incomplete_last_row:
                if notes is not None:
                    notes.append(msg + "; row dropped (lenient read)")
                break
            raise CorruptFileError(msg + "; the lenient option (--lenient) reads the complete rows", path=path)
        if not line.strip():
            raise CorruptFileError(f"blank line {lineno} inside the {fmt} data table", path=path)
        raise CorruptFileError(
            f"line {lineno} has {len(fields)} fields, expected {want} like the {fmt} column header", path=path
        )
    if not cells:
        raise CorruptFileError(f"the {fmt} data table holds no rows", path=path)
    full_names = list(names) + [f"column {j + 1}" for j in range(len(names), want)]
    return Table(dedupe_names(full_names[:want]), cells, first_line)


def _to_numbers(cells: Sequence[str], decimal: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Floats of cells (missing markers -> NaN) and a mask of cells that are not numbers."""
    text = pd.Series(list(cells), dtype="string").str.strip()
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    missing = text.isin(list(_MISSING)).to_numpy(dtype=bool)
    values = pd.to_numeric(text.where(~text.isin(list(_MISSING))), errors="coerce")
    arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(arr) & ~missing
    return arr, bad


def _fast_floats(cells: npt.NDArray[np.object_], decimal: str) -> npt.NDArray[np.float64] | None:
    """All cells as float64 by NumPy's C conversion (whitespace allowed), or None when one
    is not a plain number (a missing-value marker, text): the checked path then looks."""
    try:
        if decimal != ".":
            return np.array("\n".join(cells).replace(decimal, ".").split("\n"), dtype=np.float64)
        return np.array(cells, dtype=np.float64)
    except (ValueError, TypeError):
        return None


def numeric_column(table: Table, name: str, path: Path, *, decimal: str = ".") -> npt.NDArray[np.float64]:
    """A column as float64; a cell that is not a number is an error naming line and column.

    Raises
    ------
    CorruptFileError
        On the first cell that is neither a number nor a missing-value marker.
    """
    fast = _fast_floats(table.raw_column(name), decimal)
    if fast is not None and fast.shape == (len(table),):
        return fast
    arr, bad = _to_numbers(table.column(name), decimal)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise CorruptFileError(
            f"line {table.first_line + row}, column {name!r}: {table.cells[row][table.names.index(name)]!r} "
            "is not a number",
            path=path,
        )
    return arr


def optional_numeric(table: Table, name: str, *, decimal: str = ".") -> npt.NDArray[np.float64] | npt.NDArray[np.str_]:
    """A non-canonical column: floats when every cell is a number, else the stripped strings."""
    fast = _fast_floats(table.raw_column(name), decimal)
    if fast is not None and fast.shape == (len(table),) and not np.isnan(fast).all():
        return fast
    cells = table.column(name)
    arr, bad = _to_numbers(cells, decimal)
    if bad.any() or np.isnan(arr).all():
        return np.asarray(cells, dtype=str)
    return arr


#: ``a/b/c[ h:m[:s[.f]] [AM|PM]]``; a date alone is midnight (Maccor writes 00:00:00 so).
_DATE = re.compile(
    r"^\s*(\d{1,4})[/.-](\d{1,2})[/.-](\d{1,4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(\.\d*)?)?\s*(AM|PM)?)?\s*$"
)


def _parts(text: str) -> tuple[int, ...] | None:
    m = _DATE.match(text)
    if not m:
        return None
    a, b, c, hh, mm = (int(m.group(k) or 0) for k in range(1, 6))
    ss = int(m.group(6) or 0)
    us = round(float(m.group(7) or 0.0) * 1e6)
    ampm = m.group(8)
    if ampm == "PM" and hh < 12:
        hh += 12
    elif ampm == "AM" and hh == 12:
        hh = 0
    return a, b, c, hh, mm, ss, us


def parse_datetimes(
    cells: Sequence[str], column: str, table_first_line: int, path: Path, *, dayfirst: bool | None = None
) -> tuple[pd.Series, str]:
    """Parse naive ``M/D/Y h:m:s`` (or ``D/M/Y``, ``Y-M-D``) wall-clock times.

    Parameters
    ----------
    cells : sequence of str
        The cells.
    column : str
        Column name (for messages).
    table_first_line : int
        1-based line of the first cell (for messages).
    path : pathlib.Path
        The file.
    dayfirst : bool, optional
        Order of day and month in ``a/b/Y``. Default: day first when some first field
        exceeds 12, month first otherwise (the US order vendor software writes by default).

    Returns
    -------
    (pandas.Series of datetime64[ns], str)
        Naive times and a note on the order used.

    Raises
    ------
    CorruptFileError
        A cell that is not such a time or an impossible date.
    """
    parsed: list[tuple[int, ...]] = []
    for k, cell in enumerate(cells):
        p = _parts(cell)
        if p is None:
            raise CorruptFileError(
                f"line {table_first_line + k}, column {column!r}: {cell!r} is not a date and time", path=path
            )
        parsed.append(p)
    year_first = bool(parsed) and parsed[0][0] > 31
    note = "year-month-day"
    if not year_first:
        if dayfirst is None:
            dayfirst = any(p[0] > 12 for p in parsed)
            monthfirst_seen = any(p[1] > 12 for p in parsed)
            if dayfirst and monthfirst_seen:
                raise CorruptFileError(f"column {column!r} mixes day-first and month-first dates", path=path)
            note = "day/month/year (a day > 12 seen)" if dayfirst else "month/day/year (assumed unless a day > 12 seen)"
        else:
            note = "day/month/year (dayfirst=True)" if dayfirst else "month/day/year (dayfirst=False)"
    out: list[datetime] = []
    for k, (a, b, c, hh, mm, ss, us) in enumerate(parsed):
        y, mo, d = (a, b, c) if year_first else ((c, b, a) if dayfirst else (c, a, b))
        try:
            out.append(datetime(y, mo, d, hh, mm, ss, us))
        except ValueError as exc:
            raise CorruptFileError(
                f"line {table_first_line + k}, column {column!r}: {cells[k]!r} is not a valid date ({exc})", path=path
            ) from exc
    return pd.Series(pd.to_datetime(out), dtype="datetime64[ns]"), note
