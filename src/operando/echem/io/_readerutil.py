"""Small helpers shared by the cycler readers (Gamry, Arbin, Neware, Maccor, CSV).

Nothing here knows a vendor format; it opens files safely, builds the common part of
:class:`~operando.echem.EchemMetadata`, converts units and turns naive local times into
UTC.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pandas as pd

from operando._files import require_file as _require_file
from operando._hashing import sha256_file
from operando.errors import ParameterError

__all__ = [
    "UNIT_FACTORS",
    "capture_library_noise",
    "charge_from_capacities",
    "convert_unit",
    "cumulative_charge",
    "file_identity",
    "local_to_utc",
    "read_nonempty_bytes",
    "require_file",
    "resolve_timezone",
]

#: Factor that converts a value in the key unit to the canonical unit of its quantity
#: (s, V, mA, mA h). Keys are lower-case, with ``µ``/``μ`` spelt ``u``.
UNIT_FACTORS: dict[str, tuple[str, float]] = {
    # time -> s
    "s": ("s", 1.0),
    "sec": ("s", 1.0),
    "ms": ("s", 1e-3),
    "min": ("s", 60.0),
    "h": ("s", 3600.0),
    "hr": ("s", 3600.0),
    "d": ("s", 86400.0),
    # voltage -> V
    "v": ("V", 1.0),
    "mv": ("V", 1e-3),
    "uv": ("V", 1e-6),
    # current -> mA
    "a": ("mA", 1e3),
    "ma": ("mA", 1.0),
    "ua": ("mA", 1e-3),
    "na": ("mA", 1e-6),
    # charge -> mA h
    "ah": ("mA h", 1e3),
    "a h": ("mA h", 1e3),
    "mah": ("mA h", 1.0),
    "ma h": ("mA h", 1.0),
    "uah": ("mA h", 1e-3),
    "c": ("mA h", 1e3 / 3600.0),
    "as": ("mA h", 1e3 / 3600.0),
    "mas": ("mA h", 1.0 / 3600.0),
    "mc": ("mA h", 1.0 / 3600.0),
}


def convert_unit(values: npt.ArrayLike, unit: str, target: str) -> npt.NDArray[np.float64]:
    """Convert values from ``unit`` to the canonical ``target`` unit.

    Parameters
    ----------
    values : (N,) array_like
        Numbers in ``unit``.
    unit : str
        Their unit, e.g. ``"uA"``, ``"h"``, ``"Ah"`` (case-insensitive, ``µ`` allowed).
    target : {"s", "V", "mA", "mA h"}
        Canonical unit wanted.

    Returns
    -------
    (N,) ndarray of float64

    Raises
    ------
    ParameterError
        When ``unit`` is unknown or measures another quantity than ``target``.

    Examples
    --------
    >>> convert_unit([1.0, 2.0], "uA", "mA").tolist()
    [0.001, 0.002]
    """
    key = unit.strip().lower().replace("µ", "u").replace("μ", "u").replace("·", " ").replace("*", " ")
    if key not in UNIT_FACTORS or UNIT_FACTORS[key][0] != target:
        known = sorted(k for k, (t, _) in UNIT_FACTORS.items() if t == target)
        raise ParameterError(f"unit {unit!r} cannot be converted to {target!r}; known units: {known}")
    return np.asarray(values, dtype=np.float64) * UNIT_FACTORS[key][1]


def require_file(path: str | PathLike[str], fmt: str) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` after checking it is a non-empty file.

    See :func:`operando._files.require_file`; ``fmt`` names the expected format.
    """
    return _require_file(path, expected=f"a {fmt} file")


def read_nonempty_bytes(path: str | PathLike[str], fmt: str) -> bytes:
    """Read a whole (small) file after :func:`require_file`."""
    return require_file(path, fmt).read_bytes()


def file_identity(path: Path) -> dict[str, Any]:
    """``source`` and ``sha256`` entries for :class:`~operando.echem.EchemMetadata`."""
    return {"source": str(path), "sha256": sha256_file(path)}


def resolve_timezone(name: str) -> ZoneInfo:
    """Return the IANA time zone ``name`` or raise :class:`ParameterError`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ParameterError(f"unknown time zone {name!r} (expected an IANA name such as 'Europe/Berlin')") from exc


def local_to_utc(value: datetime | pd.Timestamp, timezone: str) -> pd.Timestamp:
    """Interpret a naive wall-clock time in ``timezone`` and return it in UTC.

    Examples
    --------
    >>> str(local_to_utc(datetime(2020, 7, 1, 12, 0), "Europe/Berlin"))
    '2020-07-01 10:00:00+00:00'
    """
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize(resolve_timezone(timezone), ambiguous=True, nonexistent="shift_forward")
    return ts.tz_convert("UTC")


def series_local_to_utc(values: pd.Series, timezone: str) -> pd.Series:
    """Vectorised :func:`local_to_utc` for a naive ``datetime64`` series (NaT kept)."""
    zone = resolve_timezone(timezone)
    if values.dt.tz is not None:
        return values.dt.tz_convert("UTC")
    localised = values.dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
    return localised.dt.tz_convert("UTC")


@contextlib.contextmanager
def capture_library_noise(loggers: Sequence[str] = ()) -> Iterator[list[str]]:
    """Collect warnings and log records that a library emits while reading.

    Library readers warn about things worth keeping (fastnda: "negative jumps in unix
    time"), but ``pytest -W error`` and users do not want them as raw warnings; the
    messages are returned (in a list filled on exit of the block) for ``meta.extra``.

    Parameters
    ----------
    loggers : sequence of str
        Names of :mod:`logging` loggers whose WARNING-and-above records to capture
        (their propagation is switched off while the block runs).

    Yields
    ------
    list of str
        Filled with the captured messages when the block ends.
    """
    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = _Collect(level=logging.WARNING)
    saved: list[tuple[logging.Logger, bool]] = []
    for name in loggers:
        lg = logging.getLogger(name)
        saved.append((lg, lg.propagate))
        lg.addHandler(handler)
        lg.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield messages
        messages.extend(str(w.message) for w in caught)
    finally:
        for lg, propagate in saved:
            lg.removeHandler(handler)
            lg.propagate = propagate


def first_seen(values: Sequence[Any] | npt.NDArray[Any]) -> tuple[str, ...]:
    """Distinct non-empty values as strings, in order of first appearance.

    Examples
    --------
    >>> first_seen(np.array(["CC_Chg", "Rest", "CC_Chg", "", None, "CC_DChg"], dtype=object))
    ('CC_Chg', 'Rest', 'CC_DChg')
    """
    out: dict[str, None] = {}
    # pd.unique hashes in C and keeps the order of first appearance: the loop below sees
    # only the distinct values (a Python loop over 250 000 rows cost 0.7 s)
    for v in pd.unique(np.asarray(values, dtype=object).ravel()):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        s = str(v).strip()
        if s:
            out.setdefault(s, None)
    return tuple(out)


def cumulative_charge(capacity: npt.NDArray[np.float64], sign: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Running signed charge from a restarting, unsigned capacity column (Maccor ``Amp-hr``, Novonix).

    Parameters
    ----------
    capacity : (N,) ndarray
        ``Amp-hr`` (or mA h) as written: grows within a charge or discharge and restarts.
    sign : (N,) ndarray
        +1 / -1 / 0 per row (direction of the current).

    Returns
    -------
    (N,) ndarray
        Charge since the first row, same unit as ``capacity``, charge positive.

    Examples
    --------
    >>> cumulative_charge(np.array([0.0, 1.0, 2.0, 0.5, 1.5]), np.array([1, 1, 1, -1, -1])).tolist()
    [0.0, 1.0, 2.0, 1.5, 0.5]

    Rest rows (sign 0) add nothing, and a restart counts from zero:

    >>> cumulative_charge(np.array([0.0, 1.0, 1.0, 0.0, 2.0]), np.array([1.0, 1.0, 0.0, -1.0, -1.0])).tolist()
    [0.0, 1.0, 1.0, 1.0, -1.0]
    """
    cap = np.nan_to_num(capacity.astype(np.float64))
    if cap.size == 0:
        return cap
    step = np.diff(cap)
    restart = step < 0
    step[restart] = cap[1:][restart]
    return np.concatenate([[0.0], np.cumsum(step * sign[1:])])


def charge_from_capacities(chg_Ah: npt.NDArray[np.float64], dis_Ah: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Running signed charge (mA h) from restarting, unsigned charge/discharge capacities (A h).

    Examples
    --------
    >>> charge_from_capacities(np.array([0.0, 1e-3, 1e-3, 0.0]), np.array([0.0, 0.0, 5e-4, 0.0])).tolist()
    [0.0, 1.0, 0.5, 0.5]
    """
    ones = np.ones(chg_Ah.shape[0])
    return (cumulative_charge(chg_Ah, ones) - cumulative_charge(dis_Ah, ones)) * 1e3


#: ``a/b/Y h:m:s`` with every field of fixed width, as Maccor's exports write it
#: (``07/11/2019 14:02:33``); other layouts go to the per-cell parser.
_FIXED_DATETIME = re.compile(r"^(\d{2})([/.-])(\d{2})([/.-])(\d{2}|\d{4})([ T])(\d{2}):(\d{2}):(\d{2})$")


def fast_datetimes(cells: Sequence[str], *, dayfirst: bool | None = None) -> tuple[pd.Series, str] | None:
    """Parse fixed-width wall-clock times by arithmetic on their bytes, or None to parse cell by cell.

    The result equals :func:`operando.echem.io._texttable.parse_datetimes` wherever this
    returns one: month first unless a first field exceeds 12 (then day first; both seen
    is refused by the per-cell parser), year first when the year leads. The per-cell
    parser took 0.35 s of a 0.5 s Maccor read of 11 669 rows (a regex and a ``datetime``
    per cell), pandas' strptime 80 ms; this takes about 2 ms.

    Parameters
    ----------
    cells : sequence of str
        Stripped cells.
    dayfirst : bool, optional
        As for ``parse_datetimes``: None infers the order.

    Returns
    -------
    (pandas.Series of datetime64[ns], str) or None
        Naive times and a note on the order used, or None when the cells are not all of
        the first cell's fixed-width layout or a field is out of range (the caller then
        parses cell by cell and reports the line).

    Examples
    --------
    >>> times, note = fast_datetimes(["07/11/2019 14:02:33", "07/13/2019 01:00:00"])
    >>> [str(t) for t in times], note
    (['2019-07-11 14:02:33', '2019-07-13 01:00:00'], 'month/day/year (assumed unless a day > 12 seen)')
    >>> fast_datetimes(["13/07/2019 14:02:33"])[1]
    'day/month/year (a day > 12 seen)'
    >>> fast_datetimes(["7/11/2019 2:02:33 PM"]) is None
    True
    """
    n = len(cells)
    if n == 0:
        return None
    m = _FIXED_DATETIME.match(cells[0])
    if m is None:
        return None
    try:
        raw = np.asarray(cells, dtype="S")
    except UnicodeEncodeError:
        return None
    width = len(cells[0])
    if raw.dtype.itemsize != width:
        return None
    u = raw.view(np.uint8).reshape(n, width).astype(np.int64)
    digits = [k for k in range(width) if cells[0][k].isdigit()]
    others = [k for k in range(width) if k not in digits]
    if not ((u[:, digits] >= 48) & (u[:, digits] <= 57)).all():
        return None
    if others and not (u[:, others] == u[0, others]).all():  # same separators (and no short cell)
        return None
    d = u - 48

    def field(start: int, size: int) -> npt.NDArray[np.int64]:
        out = np.zeros(n, dtype=np.int64)
        for k in range(start, start + size):
            out = out * 10 + d[:, k]
        return out

    spans = [(m.start(g), m.end(g) - m.start(g)) for g in (1, 3, 5, 7, 8, 9)]
    a, b, c, hh, mm, ss = (field(*span) for span in spans)
    if spans[2][1] != 4:
        return None  # a two-digit year: the per-cell parser
    if dayfirst is None:
        day_seen, month_seen = bool((a > 12).any()), bool((b > 12).any())
        if day_seen and month_seen:
            return None  # the per-cell parser refuses it, naming the column
        dayfirst = day_seen
        note = "day/month/year (a day > 12 seen)" if dayfirst else "month/day/year (assumed unless a day > 12 seen)"
    else:
        note = "day/month/year (dayfirst=True)" if dayfirst else "month/day/year (dayfirst=False)"
    year, month, day = (c, b, a) if dayfirst else (c, a, b)
    if not ((month >= 1) & (month <= 12) & (day >= 1) & (hh < 24) & (mm < 60) & (ss < 60) & (year >= 1678)).all():
        return None
    if (year > 2261).any():
        return None
    months = (year - 1970) * 12 + (month - 1)
    first = months.astype("datetime64[M]").astype("datetime64[D]")
    length = ((months + 1).astype("datetime64[M]").astype("datetime64[D]") - first).astype(np.int64)
    if (day > length).any():
        return None  # 31 April: the per-cell parser names the line
    seconds = (first.astype(np.int64) + day - 1) * 86400 + hh * 3600 + mm * 60 + ss
    return pd.Series((seconds * 1_000_000_000).view("datetime64[ns]")), note
