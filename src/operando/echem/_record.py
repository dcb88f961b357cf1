"""The canonical electrochemistry record every reader returns.

Readers differ wildly (EC-Lab binary modules, Access databases, text exports), so
everything downstream (timeline, figures, cell models) sees one contract instead:
a :class:`pandas.DataFrame` whose first eight columns are the canonical ones below,
followed by every other column the file holds, plus a :class:`EchemMetadata`.

Canonical columns
-----------------
``time_s``      float64, seconds from the start of the record (first row may be > 0)
``timestamp``   datetime64[ns, UTC], absolute time (NaT when the file does not know it)
``voltage_V``   float64, working-electrode (or cell) potential in volts
``current_mA``  float64, current in mA, positive = charge (oxidation at the working electrode)
``charge_mAh``  float64, cumulative signed charge in mA h since the record start
``cycle``       int64, full-cycle index (0-based as the file counts, or derived)
``half_cycle``  int64, half-cycle index: increments at every change of current direction
``step``        int64, protocol step / sequence index (-1 when unknown)
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from operando.errors import CorruptFileError

__all__ = [
    "CANONICAL_COLUMNS",
    "CANONICAL_UNITS",
    "EchemMetadata",
    "EchemRecord",
    "LazyColumns",
    "check_finite",
    "direction",
    "half_cycles_from_current",
]

CANONICAL_COLUMNS: tuple[str, ...] = (
    "time_s",
    "timestamp",
    "voltage_V",
    "current_mA",
    "charge_mAh",
    "cycle",
    "half_cycle",
    "step",
)

CANONICAL_UNITS: dict[str, str] = {
    "time_s": "s",
    "timestamp": "UTC",
    "voltage_V": "V",
    "current_mA": "mA",
    "charge_mAh": "mA h",
    "cycle": "",
    "half_cycle": "",
    "step": "",
}


@dataclass(frozen=True)
class EchemMetadata:
    """What the file says about the instrument, the protocol and the cell.

    Attributes
    ----------
    source : str
        Path of the file as given to the reader.
    sha256 : str
        SHA-256 of the file's bytes (empty for records built in memory).
    format : str
        Short name of the detected format, e.g. ``"biologic-mpr"``.
    instrument : str or None
        Instrument model, e.g. ``"SP-240"``.
    serial_number : str or None
        Instrument serial number where the file records it.
    software : str or None
        Acquisition or export software, e.g. ``"EC-Lab"``.
    software_version : str or None
        Its version string, e.g. ``"11.50"``.
    techniques : tuple of str
        Techniques in the order they ran, e.g. ``("GCPL",)``.
    active_mass_g : float or None
        Active-material mass in grams.
    electrode_area_cm2 : float or None
        Geometric electrode area in cm^2.
    start_time : datetime or None
        Timezone-aware (UTC) acquisition start, when known.
    channel : str or None
        Cycler channel, when known.
    derived : tuple of str
        Canonical columns that the file lacked and that were derived (e.g. ``charge_mAh``
        integrated from the current); everything else was read as written.
    extra : mapping of str to str
        Any other header entries worth keeping (settings, comments).
    """

    source: str = ""
    sha256: str = ""
    format: str = ""
    instrument: str | None = None
    serial_number: str | None = None
    software: str | None = None
    software_version: str | None = None
    techniques: tuple[str, ...] = ()
    active_mass_g: float | None = None
    electrode_area_cm2: float | None = None
    start_time: datetime | None = None
    channel: str | None = None
    derived: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)

    def replace(self, **changes: Any) -> EchemMetadata:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)


_CANONICAL_SET = frozenset(CANONICAL_COLUMNS)
_T = TypeVar("_T")
_TIME_CHECKED = frozenset({"time_s"})


def _once(make: Callable[[], _T]) -> Callable[[], _T]:
    """A zero-argument function that calls ``make`` on its first call only.

    Examples
    --------
    >>> calls = []
    >>> f = _once(lambda: calls.append(1) or np.zeros(2))
    >>> f() is f(), len(calls)
    (True, 1)
    """
    cache: list[_T] = []

    def value() -> _T:
        if not cache:
            cache.append(make())
        return cache[0]

    return value


def _integrate_charge_mAh(
    time_s: npt.NDArray[np.float64], current_mA: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Cumulative trapezoidal integral of current over time, in mA h (starts at 0)."""
    if time_s.size == 0:
        return np.zeros(0)
    dq = 0.5 * (current_mA[1:] + current_mA[:-1]) * np.diff(time_s) / 3600.0
    return np.concatenate([[0.0], np.cumsum(dq)])


def _timestamps_from_start(start_time: datetime, time_s: npt.NDArray[np.float64]) -> pd.Series:
    """``start_time + time_s`` as UTC ``datetime64[ns]``, by integer nanoseconds in NumPy.

    ``pd.to_timedelta(time_s, unit="s")`` took 0.16 s of a 0.36 s read on 30 000 rows
    (it checks every element); rounding to whole nanoseconds and adding is exact to
    the nanosecond for any time below 292 years.

    Examples
    --------
    >>> from datetime import UTC
    >>> _timestamps_from_start(datetime(2024, 1, 1, tzinfo=UTC), np.array([0.0, 1.5])).tolist()
    [Timestamp('2024-01-01 00:00:00+0000', tz='UTC'), Timestamp('2024-01-01 00:00:01.500000+0000', tz='UTC')]
    """
    start = pd.Timestamp(start_time)
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    ns = np.int64(start.value) + np.round(time_s * 1e9).astype(np.int64)
    return pd.Series(pd.DatetimeIndex(ns.view("datetime64[ns]"), tz="UTC"))


def _as_utc(timestamp: npt.ArrayLike) -> pd.Series:
    """Absolute times as a UTC ``datetime64[ns]`` series without a per-row conversion.

    A tz-aware pandas Series/Index is converted as it is (``np.asarray`` of one would
    build a Python Timestamp per row: 1.5 s on 250 000 rows); naive times are UTC.
    """
    if isinstance(timestamp, pd.Series | pd.Index) and isinstance(timestamp.dtype, pd.DatetimeTZDtype):
        return pd.Series(pd.DatetimeIndex(timestamp).tz_convert("UTC").as_unit("ns"))
    ts = pd.to_datetime(pd.Series(np.asarray(timestamp)), cache=False)
    return ts.dt.tz_localize("UTC") if ts.dt.tz is None else ts.dt.tz_convert("UTC")


def direction(current_mA: npt.ArrayLike, *, rest_tolerance_mA: float | None = None) -> npt.NDArray[np.int8]:
    """Classify each sample as charge (+1), discharge (-1) or rest (0).

    Parameters
    ----------
    current_mA : (N,) array_like
        Current in mA, positive = charge.
    rest_tolerance_mA : float, optional
        Currents with ``|I| <=`` this are rest. Default: 0.1 % of the largest ``|I|``
        (and at least 1e-9 mA), which ignores the leakage an idle channel reports.

    Returns
    -------
    (N,) ndarray of int8
    """
    current = np.asarray(current_mA, dtype=np.float64)
    if rest_tolerance_mA is None:
        finite = np.abs(current[np.isfinite(current)])
        peak = float(finite.max()) if finite.size else 0.0
        rest_tolerance_mA = max(1e-3 * peak, 1e-9)
    out = np.zeros(current.shape, dtype=np.int8)
    out[current > rest_tolerance_mA] = 1
    out[current < -rest_tolerance_mA] = -1
    return out


def half_cycles_from_current(
    current_mA: npt.ArrayLike, *, rest_tolerance_mA: float | None = None
) -> npt.NDArray[np.int64]:
    """Half-cycle index that increments at every change of current direction.

    Rest samples belong to the half cycle before them; a record that starts with rest
    starts in half cycle 0 and the first current flow keeps index 0.

    Parameters
    ----------
    current_mA : (N,) array_like
        Current in mA.
    rest_tolerance_mA : float, optional
        See :func:`direction`.

    Returns
    -------
    (N,) ndarray of int64

    Examples
    --------
    >>> half_cycles_from_current([0, 1, 1, 0, -1, -1, 1]).tolist()
    [0, 0, 0, 0, 1, 1, 2]
    """
    sign = direction(current_mA, rest_tolerance_mA=rest_tolerance_mA)
    flowing = np.flatnonzero(sign)
    steps = np.zeros(sign.shape, dtype=np.int64)
    if flowing.size > 1:  # a new half cycle wherever the direction differs from the last flowing one
        steps[flowing[1:]] = sign[flowing[1:]] != sign[flowing[:-1]]
    return np.cumsum(steps)


class LazyColumns:
    """Columns of a file made on first use by one function of the column name.

    A reader of a binary format hands the record all its other columns this way: the
    record keeps one reference per name and calls ``make(name)`` when a column is first
    used (16 ``functools.partial`` objects cost 4 us of a 45 us ``.mpr`` read).

    Parameters
    ----------
    names : tuple of str
        Column names, in file order (none of :data:`CANONICAL_COLUMNS`).
    make : function of str returning an (N,) ndarray
        Makes one column; its length is the reader's promise.

    Examples
    --------
    >>> cols = LazyColumns(("a", "b"), lambda name: np.full(2, ord(name)))
    >>> rec = EchemRecord.from_columns(time_s=[0.0, 1.0], voltage_V=[3.0, 3.1], current_mA=[1.0, 1.0],
    ...                                meta=EchemMetadata(), extra=cols)
    >>> rec.data["b"].tolist()
    [98, 98]
    """

    __slots__ = ("make", "names")

    def __init__(self, names: tuple[str, ...], make: Callable[[str], npt.NDArray[Any]]) -> None:
        self.names = names
        self.make = make


class EchemRecord:
    """A potentiostat or cycler record in canonical form.

    Build one with :meth:`from_columns`; readers do this for you.

    Attributes
    ----------
    data : pandas.DataFrame
        Canonical columns first (see module docstring), then the file's other columns.
    units : dict of str to str
        Unit of every column of ``data`` (``""`` for dimensionless or unknown).
    meta : EchemMetadata
    """

    def __init__(self, data: pd.DataFrame, units: Mapping[str, str], meta: EchemMetadata) -> None:
        missing = [c for c in CANONICAL_COLUMNS if c not in data.columns]
        if missing:
            raise ValueError(f"EchemRecord needs canonical columns, missing {missing}")
        order = list(CANONICAL_COLUMNS) + [c for c in data.columns if c not in CANONICAL_COLUMNS]
        # reorder / reindex only when needed: each is a full copy of the table
        if list(data.columns) != order:
            data = data[order]
        if not data.index.equals(pd.RangeIndex(len(data))):
            data = data.reset_index(drop=True)
        self._frame: pd.DataFrame | None = data
        self._columns: dict[str, Any] = {}
        self._n = len(data)
        self.units = {c: units.get(c, CANONICAL_UNITS.get(c, "")) for c in order}
        self._meta = meta
        self._hash_of: bytes | None = None
        self._complete_meta: Callable[[EchemMetadata], EchemMetadata] | None = None
        self._finite: frozenset[str] = frozenset()  # columns already checked finite

    @classmethod
    def _lazy(
        cls,
        columns: dict[str, Any],
        n: int,
        units: Mapping[str, str],
        meta: EchemMetadata,
        hash_of: bytes | None,
        complete_meta: Callable[[EchemMetadata], EchemMetadata] | None = None,
    ) -> EchemRecord:
        """A record whose table is built on first use of :attr:`data`.

        ``columns`` maps every column name (canonical first) to an array or to a
        zero-argument function returning it; ``hash_of`` is the file's bytes when its
        SHA-256 is to be computed on first use of :attr:`meta`, ``complete_meta`` a
        function that adds what the reader decodes only then. Reading a file and asking
        for ``time_s`` or ``len`` then costs the parse alone: the ``DataFrame``, derived
        columns (timestamps, integrated charge, half cycles) and the digest are made
        when asked for (``.mpr``: 2.4 ms of galvani's view against 18 ms eager).
        """
        record = cls.__new__(cls)
        record._frame = None
        record._columns = columns
        record._n = n
        record.units = (
            dict(units)
            if units.keys() == columns.keys()  # from_columns gives them complete, in order
            else {c: units.get(c, CANONICAL_UNITS.get(c, "")) for c in columns}
        )
        record._meta = meta
        record._hash_of = hash_of
        record._complete_meta = complete_meta
        record._finite = _TIME_CHECKED  # from_columns checked it
        return record

    def _column(self, name: str) -> Any:
        """One column, from the table when built, else computed (once) from its source."""
        if self._frame is not None:
            return self._frame[name]
        value = self._columns[name]
        if type(value) is LazyColumns:
            value = value.make(name)
            self._columns[name] = value
        elif callable(value):
            value = value()
            self._columns[name] = value
        return value

    def __getstate__(self) -> dict[str, Any]:
        """Pickle (Dask, multiprocessing) the built table and digest, not the lazy sources."""
        self.data  # noqa: B018 - builds the table
        self.meta  # noqa: B018 - computes the digest
        return dict(self.__dict__)

    @property
    def data(self) -> pd.DataFrame:
        """Canonical columns first (see module docstring), then the file's other columns."""
        if self._frame is None:
            built = {name: self._column(name) for name in list(self._columns)}
            self._frame = pd.DataFrame(built, copy=False)  # the arrays are ours already
            self._columns = {}
        return self._frame

    @data.setter
    def data(self, frame: pd.DataFrame) -> None:
        self._frame, self._columns, self._n, self._finite = frame, {}, len(frame), frozenset()

    @property
    def meta(self) -> EchemMetadata:
        """What the file says about instrument, protocol and cell (SHA-256 included)."""
        if self._complete_meta is not None:
            complete, self._complete_meta = self._complete_meta, None
            self._meta = complete(self._meta)
        if self._hash_of is not None:
            self._meta = self._meta.replace(sha256=hashlib.sha256(self._hash_of).hexdigest())
            self._hash_of = None
        return self._meta

    @meta.setter
    def meta(self, meta: EchemMetadata) -> None:
        self._meta, self._hash_of, self._complete_meta = meta, None, None

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_columns(
        cls,
        *,
        time_s: npt.ArrayLike,
        voltage_V: npt.ArrayLike,
        current_mA: npt.ArrayLike | Callable[[], npt.NDArray[np.float64]],
        meta: EchemMetadata,
        charge_mAh: npt.ArrayLike | Callable[[], npt.NDArray[np.float64]] | None = None,
        timestamp: npt.ArrayLike | Callable[[], pd.Series] | None = None,
        cycle: npt.ArrayLike | Callable[[], npt.NDArray[np.int64]] | None = None,
        half_cycle: npt.ArrayLike | Callable[[], npt.NDArray[np.int64]] | None = None,
        step: npt.ArrayLike | Callable[[], npt.NDArray[np.int64]] | None = None,
        extra: Mapping[str, Any] | LazyColumns | None = None,
        extra_units: Mapping[str, str] | None = None,
        sha256_of: bytes | None = None,
        complete_meta: Callable[[EchemMetadata], EchemMetadata] | None = None,
        time_checked: bool = False,
    ) -> EchemRecord:
        """Assemble a record, deriving the canonical columns the file lacks.

        Lengths and finite times are checked here; the table itself, the derived
        columns and the file digest are built on first use (see :meth:`_lazy`).

        Parameters
        ----------
        time_s, voltage_V : (N,) array_like
            Required columns, in s and V.
        current_mA : (N,) array_like or a function returning one
            Current in mA. A function (called on first use) only for a current the
            reader derives and lists in ``meta.derived`` (e.g. EC-Lab's ``dq/dt``):
            :func:`check_finite` looks at measured columns only.
        meta : EchemMetadata
            Metadata; its ``derived`` field is filled in here.
        charge_mAh : (N,) array_like or a function returning one, optional
            Cumulative signed charge in mA h. Integrated from the current if absent.
        timestamp : (N,) array_like of datetime64, or a function returning a UTC Series, optional
            Absolute times (a function, for times the reader has checked, is called on
            first use). Computed from ``meta.start_time + time_s`` when absent and the
            start time is known, otherwise NaT.
        cycle, half_cycle, step : (N,) array_like of int or a function returning one, optional
            Indices as the file counts them (a function, for a column the reader has
            checked, is called on first use). ``half_cycle`` is derived from changes of
            current direction when absent, ``cycle`` as ``half_cycle // 2``, ``step`` -1.
        extra : mapping of str to (N,) array_like or to a function returning one, or LazyColumns, optional
            All other columns of the file (a function is called when the column is
            first used; its length is the reader's promise). A :class:`LazyColumns`
            makes each of its columns on first use from one function (binary readers:
            no object per column).
        extra_units : mapping of str to str, optional
            Units of the extra columns.
        sha256_of : bytes, optional
            The file's bytes: ``meta.sha256`` is their SHA-256, computed on first use.
        complete_meta : function of EchemMetadata returning one, optional
            Adds, on first use of :attr:`meta`, what the reader decodes only then (header
            strings that cannot fail to parse); it must keep ``source``, ``start_time``
            and ``derived`` as given.
        time_checked : bool, default False
            True when the reader has already refused a non-finite ``time_s`` (the check
            is then not made twice).

        Returns
        -------
        EchemRecord

        Raises
        ------
        CorruptFileError
            When columns have different lengths or time is not finite.
        """
        # Every read goes through here: the body is kept to plain dict work (about 8 us for
        # 24 columns, against 20 us before; see benchmarks/echem_readers.py).
        t = np.asarray(time_s, dtype=np.float64)
        v = np.asarray(voltage_V, dtype=np.float64)
        n = t.shape[0]
        where = meta.source or None
        derived: list[str] = []
        i_of: Callable[[], npt.NDArray[np.float64]]
        if callable(current_mA):
            if "current_mA" not in meta.derived:
                raise ValueError("a current computed on first use must be listed in meta.derived")
            i_of = _once(current_mA)
            i_col: Any = i_of
        else:
            i = np.asarray(current_mA, dtype=np.float64)
            if i.shape != (n,):
                raise CorruptFileError(f"column current_mA has {i.shape[0]} rows, time has {n}", path=where)
            i_col = i

            def i_of() -> npt.NDArray[np.float64]:
                return i

        if v.shape != (n,):
            raise CorruptFileError(f"column voltage_V has {v.shape[0]} rows, time has {n}", path=where)
        # min/max propagate NaN and inf: two reductions, no mask, on a good file
        if n and not time_checked and not (math.isfinite(np.minimum.reduce(t)) and math.isfinite(np.maximum.reduce(t))):
            bad = int(np.flatnonzero(~np.isfinite(t))[0])
            raise CorruptFileError(f"time is not finite at row {bad}", path=where)
        columns: dict[str, Any] = {"time_s": t}
        if timestamp is None:
            start_time = meta.start_time
            if start_time is not None:
                columns["timestamp"] = lambda: _timestamps_from_start(start_time, t)
            else:
                columns["timestamp"] = lambda: pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]")
            derived.append("timestamp")
        elif callable(timestamp):  # the reader's absolute times, made on first use
            columns["timestamp"] = _once(timestamp)
        else:
            given: Any = timestamp
            if len(given) != n:
                raise CorruptFileError(f"column timestamp has {len(given)} rows, time has {n}", path=where)
            columns["timestamp"] = lambda: _as_utc(given)
        columns["voltage_V"] = v
        columns["current_mA"] = i_col

        def checked(name: str, values: Any, dtype: type) -> Any:
            if callable(values):  # the reader checked it, made on first use
                return _once(values)
            arr: npt.NDArray[Any] = np.asarray(values, dtype=dtype)
            if arr.shape != (n,):
                raise CorruptFileError(f"column {name} has {len(arr)} rows, time has {n}", path=where)
            return arr

        if charge_mAh is None:
            columns["charge_mAh"] = lambda: _integrate_charge_mAh(t, np.nan_to_num(i_of()))
            derived.append("charge_mAh")
        elif callable(charge_mAh):  # the reader's own count, computed when first used
            columns["charge_mAh"] = charge_mAh
        else:
            columns["charge_mAh"] = checked("charge_mAh", charge_mAh, np.float64)
        hc: Any
        if half_cycle is None:
            hc = _once(lambda: half_cycles_from_current(i_of()))
            derived.append("half_cycle")
        else:
            hc = checked("half_cycle", half_cycle, np.int64)
        if cycle is None:
            columns["cycle"] = (lambda: hc() // 2) if callable(hc) else hc // 2
            derived.append("cycle")
        else:
            columns["cycle"] = checked("cycle", cycle, np.int64)
        columns["half_cycle"] = hc
        if step is None:
            columns["step"] = lambda: np.full(n, -1, dtype=np.int64)
            derived.append("step")
        else:
            columns["step"] = checked("step", step, np.int64)
        units = dict(CANONICAL_UNITS)
        extra_units = extra_units or {}
        if isinstance(extra, LazyColumns):
            if not _CANONICAL_SET.isdisjoint(extra.names):
                raise ValueError(f"extra columns may not be canonical: {sorted(_CANONICAL_SET & set(extra.names))}")
            columns.update(dict.fromkeys(extra.names, extra))
            if len(extra_units) == len(extra.names):  # the reader's units of exactly these (checked in _lazy)
                units.update(extra_units)
            else:
                units.update((name, extra_units.get(name, "")) for name in extra.names)
        elif extra and all(map(callable, extra.values())) and not (extra.keys() & _CANONICAL_SET):
            # every column made on first use (binary readers): no per-column Python here
            columns.update(extra)
            if extra_units.keys() == extra.keys():
                units.update(extra_units)
            else:
                units.update((name, extra_units.get(name, "")) for name in extra)
        elif extra:
            for name, column in extra.items():
                if name in _CANONICAL_SET:
                    continue
                if not callable(column):
                    column = np.asarray(column)
                    if column.shape[0] != n:
                        raise CorruptFileError(f"column {name!r} has {column.shape[0]} rows, time has {n}", path=where)
                columns[name] = column
                units[name] = extra_units.get(name, "")
        all_derived = tuple(sorted(set(meta.derived) | set(derived)))
        if all_derived != meta.derived:  # a reader that knew them all saves a copy
            meta = meta.replace(derived=all_derived)
        return cls._lazy(columns, n, units, meta, sha256_of, complete_meta)

    # -- convenient views -----------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        m = self._meta
        span = f"{self.time_s[0]:.1f}-{self.time_s[-1]:.1f} s" if len(self) else "empty"
        return f"<EchemRecord {m.format or '?'} {len(self)} rows, {span}, techniques={list(m.techniques)}>"

    @property
    def time_s(self) -> npt.NDArray[np.float64]:
        """(N,) float64 seconds from record start."""
        return np.asarray(self._column("time_s"), dtype=np.float64)

    @property
    def voltage_V(self) -> npt.NDArray[np.float64]:
        """(N,) float64 volts."""
        return np.asarray(self._column("voltage_V"), dtype=np.float64)

    @property
    def current_mA(self) -> npt.NDArray[np.float64]:
        """(N,) float64 mA, positive = charge."""
        return np.asarray(self._column("current_mA"), dtype=np.float64)

    @property
    def charge_mAh(self) -> npt.NDArray[np.float64]:
        """(N,) float64 cumulative signed charge in mA h."""
        return np.asarray(self._column("charge_mAh"), dtype=np.float64)

    @property
    def half_cycle(self) -> npt.NDArray[np.int64]:
        """(N,) int64 half-cycle index."""
        return np.asarray(self._column("half_cycle"), dtype=np.int64)

    @property
    def start_timestamp(self) -> pd.Timestamp | None:
        """Absolute UTC time at ``time_s == 0``, when the file knows it."""
        if self.meta.start_time is not None:
            ts = pd.Timestamp(self.meta.start_time)
            return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        stamps = pd.Series(self._column("timestamp"))
        if len(stamps) and not pd.isna(stamps.iloc[0]):
            return stamps.iloc[0] - pd.to_timedelta(float(self.time_s[0]), unit="s")
        return None

    def summary(self) -> dict[str, Any]:
        """A dict of the facts ``operando info`` prints."""
        m = self.meta
        out: dict[str, Any] = {
            "kind": "electrochemistry record",
            "format": m.format,
            "rows": len(self),
            "columns": list(self.data.columns),
            "instrument": m.instrument,
            "software": " ".join(x for x in (m.software, m.software_version) if x) or None,
            "techniques": list(m.techniques),
            "start_time": m.start_time.isoformat() if m.start_time else None,
            "active_mass_g": m.active_mass_g,
        }
        if len(self):
            out["time_s"] = (float(self.time_s[0]), float(self.time_s[-1]))
            v = self.voltage_V
            if np.isfinite(v).any():
                out["voltage_V"] = (float(np.nanmin(v)), float(np.nanmax(v)))
            out["half_cycles"] = int(self.half_cycle.max() - self.half_cycle.min() + 1)
        return {k: val for k, val in out.items() if val not in (None, [], ())}


#: Columns a row cannot be trusted without.
_FINITE_COLUMNS = ("time_s", "voltage_V", "current_mA")


def nonfinite_rows(record: EchemRecord) -> npt.NDArray[np.bool_]:
    """Rows where time, voltage or current is NaN or infinite.

    Canonical columns the file lacked (``meta.derived``) are not looked at: a derived
    column holds what the reader put there on purpose.

    Returns
    -------
    (N,) ndarray of bool
    """
    bad = _nonfinite_or_none(record)
    return np.zeros(len(record), dtype=bool) if bad is None else bad


def _nonfinite_or_none(record: EchemRecord) -> npt.NDArray[np.bool_] | None:
    """:func:`nonfinite_rows`, or None when every row is finite (no mask made)."""
    bad: npt.NDArray[np.bool_] | None = None
    derived = record._meta.derived  # not .meta: that would hash the file
    for name in _FINITE_COLUMNS:
        if name in derived or (record._frame is None and name in record._finite):
            continue
        values = np.asarray(record._column(name), dtype=np.float64)
        # min and max propagate NaN and inf and never warn: no mask on a good column
        if not values.size or (math.isfinite(np.minimum.reduce(values)) and math.isfinite(np.maximum.reduce(values))):
            continue
        column_bad = ~np.isfinite(values)
        bad = column_bad if bad is None else bad | column_bad
    return bad


def check_finite(record: EchemRecord, *, flag: bool = False) -> EchemRecord:
    """Refuse (default) or flag rows whose time, voltage or current is NaN or infinite.

    Parameters
    ----------
    record : EchemRecord
    flag : bool, default False
        False: raise on the first such row. True: return a new record with a boolean
        ``nonfinite`` column (True on such rows) and ``meta.extra["nonfinite_rows"]``
        saying how many and which first; a record without such rows is returned as is.

    Returns
    -------
    EchemRecord

    Raises
    ------
    CorruptFileError
        One line naming the file, the first bad row (1-based, in data order) and the
        column, when ``flag`` is False.

    Examples
    --------
    >>> meta = EchemMetadata(source="x.csv")
    >>> rec = EchemRecord.from_columns(time_s=[0, 1, 2], voltage_V=[3.0, np.nan, 3.1],
    ...                                current_mA=[1.0, 1.0, 1.0], meta=meta)
    >>> check_finite(rec, flag=True).data["nonfinite"].tolist()
    [False, True, False]
    """
    bad = _nonfinite_or_none(record)
    if bad is None:
        return record
    first = int(np.flatnonzero(bad)[0])
    count = int(bad.sum())
    if not flag:
        row = record.data.iloc[first]
        cols = [c for c in _FINITE_COLUMNS if c not in record.meta.derived and not np.isfinite(float(row[c]))]
        raise CorruptFileError(
            f"data row {first + 1} (1-based) has {', '.join(f'{c}={row[c]}' for c in cols)}"
            f" ({count} such row{'s' if count > 1 else ''}); --nonfinite flag (nonfinite='flag') keeps them flagged",
            path=record.meta.source or None,
        )
    data = record.data.copy(deep=False)
    data["nonfinite"] = bad
    extra = dict(record.meta.extra)
    extra["nonfinite_rows"] = f"{count} row(s) with NaN/inf time, voltage or current, first data row {first + 1}"
    units = dict(record.units)
    units["nonfinite"] = ""
    return EchemRecord(data, units, record.meta.replace(extra=extra))
