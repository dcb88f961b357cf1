"""Place every measurement (scan, volume, spectrum) on the cell's charging curve.

Given an :class:`~operando.echem.EchemRecord` and the start and end of each measurement,
:func:`align` returns, per measurement, the electrochemical state at its mid-time and
averaged over its acquisition window. Measurements that are not fully inside the record
are flagged (``in_record == False``) and get NaN, never extrapolated values.

Conventions
-----------
* Signals are linearly interpolated between samples; the window mean is the exact
  integral of that interpolant divided by the window length.
* ``half_cycle`` at a time is the index of the last sample at or before it (indices are
  steps, not something to interpolate).
* ``label`` is ``"charge"`` / ``"discharge"`` / ``"rest"`` from the window-mean current
  (positive = charge); ``"outside"`` for flagged measurements.
* Li content of a cathode: ``x_li = x0 - Q / (m * C_theo)`` with ``Q`` the cumulative
  charge at mid-time, ``m`` the active mass and ``C_theo`` the theoretical specific
  capacity; ``soc = Q / (m * C_theo)``. Default ``C_theo`` is LiMn1.5Ni0.5O4's
  146.7 mA h/g.
* Absolute time: when the record knows when it started (a header's start time, or
  absolute timestamps in its rows), each measurement also gets ``time_utc``, its mid-time
  as ``datetime64[ns]`` in UTC, a coordinate along ``frame`` beside the seconds; its
  ``time_source`` attribute says where the absolute time came from. Without one there is
  no ``time_utc``: an absolute time is never invented.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from operando.echem import EchemRecord, direction
from operando.errors import CorruptFileError, MissingMetadataError, ParameterError

__all__ = [
    "STATE_VARIABLES",
    "LMNO_CAPACITY_mAh_g",
    "absolute_times",
    "align",
    "attach_state",
    "place_on_record",
    "to_record_seconds",
    "window_mean",
]

LMNO_CAPACITY_mAh_g = 146.7
"""Theoretical specific capacity of LiMn1.5Ni0.5O4 (one Li per formula unit), mA h/g."""


def _cumulative_integral(t: npt.NDArray[np.float64], f: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Trapezoidal running integral of ``f`` over ``t``, starting at 0."""
    if t.size == 0:
        return np.zeros(0)
    return np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(t))])


def _integral_to(
    tq: npt.NDArray[np.float64], t: npt.NDArray[np.float64], f: npt.NDArray[np.float64], cum: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Integral of the linear interpolant of ``f`` from ``t[0]`` to each ``tq`` (inside ``t``)."""
    k = np.clip(np.searchsorted(t, tq, side="right") - 1, 0, max(t.size - 2, 0))
    if t.size < 2:
        return np.zeros_like(tq)
    fq = np.interp(tq, t, f)
    return cum[k] + 0.5 * (f[k] + fq) * (tq - t[k])


def window_mean(
    t: npt.ArrayLike, f: npt.ArrayLike, start: npt.ArrayLike, end: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Exact mean of the piecewise-linear interpolant of ``f`` over ``[start, end]``.

    Parameters
    ----------
    t : (N,) array_like
        Sample times, non-decreasing, in s.
    f : (N,) array_like
        Sample values; non-finite samples are ignored.
    start, end : (M,) array_like
        Window limits in s, inside ``[t[0], t[-1]]``. A zero-length window gives the
        interpolated value at that instant.

    Returns
    -------
    (M,) ndarray of float64

    Examples
    --------
    >>> window_mean([0, 10, 20, 30], [3, 4, 4, 2], [5], [25]).round(4).tolist()
    [3.8125]
    """
    t_all = np.asarray(t, dtype=np.float64)
    f_all = np.asarray(f, dtype=np.float64)
    ok = np.isfinite(f_all)
    t_ok, f_ok = t_all[ok], f_all[ok]
    a = np.atleast_1d(np.asarray(start, dtype=np.float64))
    b = np.atleast_1d(np.asarray(end, dtype=np.float64))
    if t_ok.size == 0:
        return np.full(a.shape, np.nan)
    if t_ok.size == 1:  # a single valid sample: the interpolant is that constant
        return np.full(a.shape, f_ok[0])
    cum = _cumulative_integral(t_ok, f_ok)
    span = b - a
    with np.errstate(invalid="ignore", divide="ignore"):
        mean: npt.NDArray[np.float64] = (_integral_to(b, t_ok, f_ok, cum) - _integral_to(a, t_ok, f_ok, cum)) / span
    instant = span <= 0
    mean[instant] = np.interp(a[instant], t_ok, f_ok)
    return mean


def to_record_seconds(record: EchemRecord, times: Any) -> npt.NDArray[np.float64]:
    """Convert measurement times to seconds on the record's ``time_s`` axis.

    Parameters
    ----------
    record : EchemRecord
    times : (M,) array_like
        Either numbers (already seconds on the record's axis) or absolute times
        (``datetime64``, ``pandas.Timestamp``, ISO strings; naive ones are taken as UTC).

    Returns
    -------
    (M,) ndarray of float64

    Raises
    ------
    MissingMetadataError
        When absolute times are given but the record does not know its start time.
    """
    values = np.atleast_1d(np.asarray(times))
    if values.dtype.kind in "iuf":
        return values.astype(np.float64)
    stamps = pd.to_datetime(pd.Series(values))
    stamps = stamps.dt.tz_localize("UTC") if stamps.dt.tz is None else stamps.dt.tz_convert("UTC")
    origin = record.start_timestamp
    if origin is None:
        raise MissingMetadataError(
            "measurement times are absolute but the record has no start time; give times in seconds",
            path=record.meta.source or None,
        )
    return np.asarray((stamps - origin).dt.total_seconds(), dtype=np.float64)


def absolute_times(record: EchemRecord, seconds: npt.ArrayLike) -> xr.Variable | None:
    """Seconds on the record's time axis as absolute UTC times, when the record knows its start.

    Parameters
    ----------
    record : EchemRecord
        Its start comes from its file's header (``meta.start_time``) or, failing that, from
        the absolute timestamps of its rows (:attr:`EchemRecord.start_timestamp`).
    seconds : (M,) array_like
        Times on the record's ``time_s`` axis, s (NaN gives NaT).

    Returns
    -------
    xarray.Variable or None
        ``("frame", datetime64[ns])``, naive UTC as NumPy and CF hold it, with ``long_name``,
        ``standard_name = "time"``, ``time_zone = "UTC"`` and ``time_source`` (which file and
        which field); None when the record has no absolute start (never invented).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from operando.echem import EchemMetadata, EchemRecord
    >>> meta = EchemMetadata(source="/data/cell.mpt", sha256="", format="example",
    ...                      start_time=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    >>> rec = EchemRecord.from_columns(time_s=[0.0, 100.0], voltage_V=[3.0, 4.0], current_mA=[1.0, 1.0], meta=meta)
    >>> v = absolute_times(rec, [50.0, 90.5])
    >>> v.values.astype(str).tolist(), v.attrs["time_source"]
    (['2026-03-02T09:00:50.000000000', '2026-03-02T09:01:30.500000000'], 'cell.mpt: start time in the file header')
    >>> meta = EchemMetadata(source="cell.csv", sha256="", format="example")
    >>> absolute_times(EchemRecord.from_columns(time_s=[0.0, 1.0], voltage_V=[3.0, 3.0], current_mA=[0.0, 0.0],
    ...                                         meta=meta), [0.5]) is None
    True
    """
    origin = record.start_timestamp
    if origin is None:
        return None
    secs = np.atleast_1d(np.asarray(seconds, dtype=np.float64))
    ok = np.isfinite(secs)
    ns = np.int64(origin.tz_convert("UTC").value) + np.round(np.where(ok, secs, 0.0) * 1e9).astype(np.int64)
    stamps = ns.view("datetime64[ns]").copy()
    stamps[~ok] = np.datetime64("NaT")
    name = (record.meta.source or "the echem record").replace("\\", "/").rsplit("/", 1)[-1]
    how = "start time in the file header" if record.meta.start_time is not None else "absolute timestamps of its rows"
    return xr.Variable(
        "frame",
        stamps,
        {
            "long_name": "measurement mid-time (UTC)",
            "standard_name": "time",
            "time_zone": "UTC",
            "time_source": f"{name}: {how}",
        },
    )


def align(
    record: EchemRecord,
    start: Sequence[Any] | npt.ArrayLike,
    end: Sequence[Any] | npt.ArrayLike | None = None,
    *,
    active_mass_g: float | None = None,
    theoretical_capacity_mAh_g: float = LMNO_CAPACITY_mAh_g,
    x0: float = 1.0,
    rest_tolerance_mA: float | None = None,
) -> xr.Dataset:
    """Electrochemical state of each measurement, from its acquisition window.

    Parameters
    ----------
    record : EchemRecord
        The cell's potentiostat record.
    start : (M,) array_like
        Start of each measurement: seconds on the record's time axis, or absolute times.
    end : (M,) array_like, optional
        End of each measurement, same kind as ``start``. Default: ``start`` (instants).
    active_mass_g : float, optional
        Active mass in g; default the record's ``meta.active_mass_g``. Without a mass the
        specific capacity, Li content and SOC are NaN.
    theoretical_capacity_mAh_g : float, default 146.7
        Capacity of one Li per formula unit, mA h/g (LiMn1.5Ni0.5O4 by default).
    x0 : float, default 1.0
        Li content at the record start.
    rest_tolerance_mA : float, optional
        ``|I|`` at or below which a window counts as rest; see
        :func:`operando.echem.direction`.

    Returns
    -------
    xarray.Dataset
        Dimension ``frame`` (M). Variables: ``t_start_s``, ``t_end_s``, ``t_mid_s``,
        ``voltage_V`` (at mid-time), ``voltage_mean_V`` (window mean), ``current_mA``,
        ``current_mean_mA``, ``charge_mAh``, ``charge_mean_mAh``,
        ``specific_capacity_mAh_g``, ``x_li``, ``soc``, ``half_cycle`` (int, -1 outside),
        ``label`` (str), ``in_record`` (bool). Units in each variable's ``attrs``.
        Coordinates ``t_mid_s`` and, when the record knows its absolute start,
        ``time_utc`` (:func:`absolute_times`).

    Raises
    ------
    ParameterError
        When ``start`` and ``end`` differ in length, or a window ends before it starts.
    CorruptFileError
        When the record's time axis decreases.
    """
    a = to_record_seconds(record, start)
    b = a.copy() if end is None else to_record_seconds(record, end)
    if a.shape != b.shape:
        raise ParameterError(f"{a.size} measurement starts but {b.size} ends")
    if np.any(b < a):
        i = int(np.flatnonzero(b < a)[0])
        raise ParameterError(f"measurement {i} ends ({b[i]} s) before it starts ({a[i]} s)")
    t = record.time_s
    if t.size and np.any(np.diff(t) < 0):
        i = int(np.flatnonzero(np.diff(t) < 0)[0])
        raise CorruptFileError(f"record time decreases at row {i + 1}", path=record.meta.source or None)
    mid = 0.5 * (a + b)
    inside = (a >= t[0]) & (b <= t[-1]) if t.size else np.zeros(a.shape, dtype=bool)
    ai, bi, mi = (np.where(inside, x, t[0] if t.size else 0.0) for x in (a, b, mid))

    def at(values: npt.NDArray[np.float64], q: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        ok = np.isfinite(values)
        out = np.interp(q, t[ok], values[ok]) if ok.any() else np.full(q.shape, np.nan)
        return np.where(inside, out, np.nan)

    def mean(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.where(inside, window_mean(t, values, ai, bi), np.nan)

    v, i_mA, q = record.voltage_V, record.current_mA, record.charge_mAh
    current_mean = mean(i_mA)
    idx = np.clip(np.searchsorted(t, mi, side="right") - 1, 0, max(t.size - 1, 0))
    half_cycle = np.where(inside, record.half_cycle[idx] if t.size else -1, -1).astype(np.int64)
    tol = rest_tolerance_mA
    if tol is None:
        finite = np.abs(i_mA[np.isfinite(i_mA)])
        tol = max(1e-3 * float(finite.max()), 1e-9) if finite.size else 1e-9
    sign = direction(np.nan_to_num(current_mean), rest_tolerance_mA=tol)
    label = np.array(["discharge", "rest", "charge"], dtype=object)[sign + 1]
    label[~inside] = "outside"

    mass = record.meta.active_mass_g if active_mass_g is None else active_mass_g
    if mass is not None and mass <= 0:
        raise ParameterError(f"active mass must be positive, got {mass} g")
    charge_mid = at(q, mi)
    specific = charge_mid / mass if mass else np.full(a.shape, np.nan)
    soc = specific / theoretical_capacity_mAh_g

    def var(values: Any, units: str, long_name: str) -> xr.Variable:
        return xr.Variable("frame", values, {"units": units, "long_name": long_name})

    ds = xr.Dataset(
        {
            "t_start_s": var(a, "s", "measurement start"),
            "t_end_s": var(b, "s", "measurement end"),
            "voltage_V": var(at(v, mi), "V", "voltage at mid-time"),
            "voltage_mean_V": var(mean(v), "V", "voltage, window mean"),
            "current_mA": var(at(i_mA, mi), "mA", "current at mid-time"),
            "current_mean_mA": var(current_mean, "mA", "current, window mean"),
            "charge_mAh": var(charge_mid, "mA h", "cumulative charge at mid-time"),
            "charge_mean_mAh": var(mean(q), "mA h", "cumulative charge, window mean"),
            "specific_capacity_mAh_g": var(specific, "mA h/g", "specific capacity at mid-time"),
            "x_li": var(x0 - soc, "", "Li content x"),
            "soc": var(soc, "", "state of charge"),
            "half_cycle": var(half_cycle, "", "half-cycle index"),
            "label": var(label.astype(str), "", "charge / discharge / rest / outside"),
            "in_record": var(inside, "", "window fully inside the record"),
        },
        coords={"frame": np.arange(a.size), "t_mid_s": ("frame", mid, {"units": "s"})},
        attrs={
            "echem_source": record.meta.source,
            "echem_sha256": record.meta.sha256,
            "active_mass_g": float("nan") if mass is None else float(mass),
            "theoretical_capacity_mAh_g": float(theoretical_capacity_mAh_g),
            "x0": float(x0),
        },
    )
    utc = absolute_times(record, mid)
    if utc is not None:
        ds = ds.assign_coords(time_utc=utc)
    return ds


STATE_VARIABLES: tuple[str, ...] = (
    "t_start_s",
    "t_end_s",
    "voltage_V",
    "voltage_mean_V",
    "current_mean_mA",
    "charge_mAh",
    "specific_capacity_mAh_g",
    "x_li",
    "soc",
    "half_cycle",
    "label",
    "in_record",
)
"""Timeline variables that a single measurement's result carries as scalars."""


def attach_state(result: xr.Dataset, timeline: xr.Dataset, frame: int = 0) -> xr.Dataset:
    """Copy one measurement's electrochemical state into its result as scalar variables.

    A series of such results concatenated along ``frame`` then has voltage, capacity and
    Li content as variables along ``frame``.

    Parameters
    ----------
    result : xarray.Dataset
        One measurement's result (a map, volume, spectrum).
    timeline : xarray.Dataset
        From :func:`align`.
    frame : int
        Which measurement of the timeline.

    Returns
    -------
    xarray.Dataset
        A new dataset; ``result`` is not modified. When the timeline has ``time_utc``, the
        measurement's absolute mid-time is a scalar coordinate ``time_utc`` (along ``frame``
        once concatenated).
    """
    row = timeline.isel(frame=frame)
    extra = [c for c in ("frame", "t_mid_s", "time_utc") if c in row.coords]
    out = result.assign({f"echem_{name}": row[name].drop_vars(extra) for name in STATE_VARIABLES})
    if "time_utc" in timeline.coords:  # a scalar coordinate: concatenated along frame it lies along frame
        out = out.assign_coords(time_utc=xr.Variable((), row["time_utc"].values, dict(timeline["time_utc"].attrs)))
    return out.assign_attrs(
        echem_source=timeline.attrs.get("echem_source", ""), echem_sha256=timeline.attrs.get("echem_sha256", "")
    )


def place_on_record(
    result: xr.Dataset,
    record: EchemRecord,
    start: Any,
    end: Any = None,
    *,
    dim: str = "frame",
    **align_options: Any,
) -> xr.Dataset:
    """Put a result on the cell's charging curve: the one way every pipeline does it.

    One measurement (``start`` and ``end`` scalars): the state at which it was taken
    becomes scalar variables ``echem_<name>`` (see :data:`STATE_VARIABLES`), so that a
    series of such results concatenated along ``frame`` has them along ``frame``. Several
    (``start`` and ``end`` of the length of ``result[dim]``): the variables lie along
    ``dim``. Each window is averaged as :func:`align` does; ``echem_source`` and
    ``echem_sha256`` name the record in the attributes. When the record knows its absolute
    start, ``time_utc`` (UTC mid-times, ``datetime64[ns]``) is a coordinate beside them.

    Parameters
    ----------
    result : xarray.Dataset
        A map, volume, spectrum, or a series of them along ``dim``.
    record : EchemRecord
        The cell's potentiostat record.
    start, end : scalar or (M,) array_like
        Acquisition window(s): seconds on the record's time axis or absolute times.
        ``end`` defaults to ``start`` (an instant).
    dim : str, default "frame"
        The measurement dimension when several windows are given.
    **align_options
        Passed to :func:`align` (``active_mass_g``, ``x0``, ...).

    Returns
    -------
    xarray.Dataset
        A new dataset; ``result`` is not modified.

    Raises
    ------
    ParameterError
        When several windows are given and their number is not ``result.sizes[dim]``.

    Examples
    --------
    >>> from operando.echem import EchemMetadata, EchemRecord
    >>> meta = EchemMetadata(source="cell.mpt", sha256="", format="example")
    >>> rec = EchemRecord.from_columns(time_s=[0.0, 100.0], voltage_V=[3.0, 4.0], current_mA=[1.0, 1.0], meta=meta)
    >>> one = place_on_record(xr.Dataset({"d": 1.0}), rec, 40.0, 60.0)
    >>> round(float(one.echem_voltage_V), 3), one.echem_label.item()
    (3.5, 'charge')
    >>> many = place_on_record(xr.Dataset({"d": ("frame", [1.0, 2.0])}), rec, [0.0, 50.0], [10.0, 70.0])
    >>> many.echem_voltage_V.values.round(3).tolist()
    [3.05, 3.6]
    """
    several = np.ndim(start) > 0
    starts = np.atleast_1d(np.asarray(start))
    ends = starts if end is None else np.atleast_1d(np.asarray(end))
    timeline = align(record, starts, ends, **align_options)
    if not several:
        return attach_state(result, timeline, 0)
    if result.sizes.get(dim) != starts.size:
        raise ParameterError(f"{starts.size} measurement windows for {result.sizes.get(dim, 0)} entries along {dim!r}")
    new = {f"echem_{name}": (dim, timeline[name].values, dict(timeline[name].attrs)) for name in STATE_VARIABLES}
    out = result.assign(new)
    if "time_utc" in timeline.coords:
        out = out.assign_coords(time_utc=(dim, timeline["time_utc"].values, dict(timeline["time_utc"].attrs)))
    return out.assign_attrs(
        echem_source=timeline.attrs.get("echem_source", ""), echem_sha256=timeline.attrs.get("echem_sha256", "")
    )
