"""Quantities derived from a record: specific and areal values, Li content, C-rate,
charge/discharge/rest segments, dQ/dV and its plateaus, and the failure signatures of
symmetric Li cells (short circuit, sudden polarisation).

All functions are pure: they take an :class:`EchemRecord` (or arrays) and return new
arrays or tables; the record is never modified.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.signal import find_peaks, savgol_filter

from operando.echem._record import EchemRecord, direction
from operando.errors import MissingMetadataError, ParameterError

__all__ = [
    "FailureEvent",
    "LMNO_CAPACITY_mAh_g",
    "areal",
    "c_rate",
    "detect_failures",
    "dqdv",
    "li_content",
    "plateaus",
    "segments",
    "specific",
]

LMNO_CAPACITY_mAh_g = 146.7


def _mass(record: EchemRecord, active_mass_g: float | None) -> float:
    mass = record.meta.active_mass_g if active_mass_g is None else active_mass_g
    if mass is None:
        raise MissingMetadataError(
            "active mass is not in the file; give active_mass_g", path=record.meta.source or None
        )
    if not mass > 0:
        raise ParameterError(f"active mass must be positive, got {mass} g")
    return float(mass)


def specific(record: EchemRecord, *, active_mass_g: float | None = None) -> pd.DataFrame:
    """Specific capacity (mA h/g) and specific current (mA/g).

    Parameters
    ----------
    record : EchemRecord
    active_mass_g : float, optional
        Default: the file's active mass.

    Returns
    -------
    pandas.DataFrame
        Columns ``specific_capacity_mAh_g`` and ``specific_current_mA_g``, one row per sample.
    """
    mass = _mass(record, active_mass_g)
    return pd.DataFrame(
        {"specific_capacity_mAh_g": record.charge_mAh / mass, "specific_current_mA_g": record.current_mA / mass}
    )


def areal(record: EchemRecord, *, area_cm2: float | None = None) -> pd.DataFrame:
    """Areal capacity (mA h/cm^2) and current density (mA/cm^2).

    Parameters
    ----------
    record : EchemRecord
    area_cm2 : float, optional
        Default: the file's electrode area.

    Returns
    -------
    pandas.DataFrame
        Columns ``areal_capacity_mAh_cm2`` and ``current_density_mA_cm2``.
    """
    area = record.meta.electrode_area_cm2 if area_cm2 is None else area_cm2
    if area is None:
        raise MissingMetadataError("electrode area is not in the file; give area_cm2", path=record.meta.source or None)
    if not area > 0:
        raise ParameterError(f"electrode area must be positive, got {area} cm2")
    return pd.DataFrame(
        {"areal_capacity_mAh_cm2": record.charge_mAh / area, "current_density_mA_cm2": record.current_mA / area}
    )


def li_content(
    record: EchemRecord,
    *,
    theoretical_capacity_mAh_g: float = LMNO_CAPACITY_mAh_g,
    x0: float = 1.0,
    active_mass_g: float | None = None,
) -> npt.NDArray[np.float64]:
    """Li content ``x = x0 - Q / (m C_theo)`` of a cathode (charge removes Li).

    Parameters
    ----------
    record : EchemRecord
    theoretical_capacity_mAh_g : float, default 146.7
        Capacity of one Li per formula unit (LiMn1.5Ni0.5O4 by default).
    x0 : float, default 1.0
        Li content at the record start.
    active_mass_g : float, optional
        Default: the file's active mass.

    Returns
    -------
    (N,) ndarray of float64
    """
    return x0 - record.charge_mAh / (_mass(record, active_mass_g) * theoretical_capacity_mAh_g)


def c_rate(
    record: EchemRecord,
    *,
    capacity_mAh: float | None = None,
    theoretical_capacity_mAh_g: float = LMNO_CAPACITY_mAh_g,
    active_mass_g: float | None = None,
) -> npt.NDArray[np.float64]:
    """C-rate ``|I| / C`` in 1/h (1.0 = full capacity in one hour).

    Parameters
    ----------
    record : EchemRecord
    capacity_mAh : float, optional
        Nominal capacity of the cell; default ``mass * theoretical_capacity_mAh_g``.
    theoretical_capacity_mAh_g, active_mass_g
        Used when ``capacity_mAh`` is not given.

    Returns
    -------
    (N,) ndarray of float64
    """
    if capacity_mAh is None:
        capacity_mAh = _mass(record, active_mass_g) * theoretical_capacity_mAh_g
    if not capacity_mAh > 0:
        raise ParameterError(f"capacity must be positive, got {capacity_mAh} mA h")
    return np.abs(record.current_mA) / capacity_mAh


def segments(record: EchemRecord, *, rest_tolerance_mA: float | None = None) -> pd.DataFrame:
    """Split the record into contiguous charge, discharge and rest segments.

    Parameters
    ----------
    record : EchemRecord
    rest_tolerance_mA : float, optional
        See :func:`operando.echem.direction`.

    Returns
    -------
    pandas.DataFrame
        One row per segment: ``kind`` (charge / discharge / rest), ``start_s``, ``end_s``,
        ``first_row``, ``last_row``, ``mean_current_mA``, ``charge_mAh`` (passed in the
        segment), ``voltage_start_V``, ``voltage_end_V``, ``half_cycle``.
    """
    sign = direction(record.current_mA, rest_tolerance_mA=rest_tolerance_mA)
    n = sign.size
    columns = [
        "kind",
        "start_s",
        "end_s",
        "first_row",
        "last_row",
        "mean_current_mA",
        "charge_mAh",
        "voltage_start_V",
        "voltage_end_V",
        "half_cycle",
    ]
    if n == 0:
        return pd.DataFrame(columns=columns)
    breaks = np.flatnonzero(np.diff(sign) != 0) + 1
    first = np.concatenate([[0], breaks])
    last = np.concatenate([breaks - 1, [n - 1]])
    t, v, i, q, hc = record.time_s, record.voltage_V, record.current_mA, record.charge_mAh, record.half_cycle
    names = {1: "charge", -1: "discharge", 0: "rest"}
    rows = []
    for a, b in zip(first, last, strict=True):
        rows.append(
            (
                names[int(sign[a])],
                t[a],
                t[b],
                int(a),
                int(b),
                float(np.nanmean(i[a : b + 1])),
                float(q[b] - q[a]),
                v[a],
                v[b],
                int(hc[a]),
            )
        )
    return pd.DataFrame(rows, columns=columns)


def dqdv(
    record: EchemRecord,
    *,
    voltage_step_V: float = 0.005,
    smooth_points: int = 5,
    rest_tolerance_mA: float | None = None,
) -> pd.DataFrame:
    """Differential capacity dQ/dV per half cycle, on a regular voltage grid.

    Charge passed while current flows is binned by voltage (``voltage_step_V`` bins) for
    each half cycle, divided by the bin width and smoothed with a Savitzky-Golay filter
    of ``smooth_points`` bins. Binning by voltage, not differentiating sample by sample,
    keeps plateaus (where dV -> 0) finite.

    Parameters
    ----------
    record : EchemRecord
    voltage_step_V : float, default 0.005
        Bin width in V.
    smooth_points : int, default 5
        Savitzky-Golay window in bins (odd; 1 disables smoothing).
    rest_tolerance_mA : float, optional
        Samples at rest are left out.

    Returns
    -------
    pandas.DataFrame
        Columns ``half_cycle``, ``direction`` (+1 charge, -1 discharge), ``voltage_V``
        (bin centres) and ``dqdv_mAh_V`` (|dQ|/dV, mA h/V).
    """
    if voltage_step_V <= 0:
        raise ParameterError(f"voltage_step_V must be positive, got {voltage_step_V}")
    sign = direction(record.current_mA, rest_tolerance_mA=rest_tolerance_mA)
    v, q, hc = record.voltage_V, record.charge_mAh, record.half_cycle
    # charge passed from sample k to k+1 belongs to sample k (its current drove it)
    dq = np.concatenate([np.diff(q), [0.0]])
    frames = []
    for half in np.unique(hc):
        sel = (hc == half) & (sign != 0) & np.isfinite(v)
        if sel.sum() < 3:
            continue
        d = int(np.sign(np.sum(dq[sel])))
        lo = np.floor(np.nanmin(v[sel]) / voltage_step_V) * voltage_step_V
        hi = np.ceil(np.nanmax(v[sel]) / voltage_step_V) * voltage_step_V
        edges = np.arange(lo, hi + voltage_step_V * 1.5, voltage_step_V)
        if edges.size < 2:
            continue
        charge_in_bin, _ = np.histogram(v[sel], bins=edges, weights=np.abs(dq[sel]))
        density = charge_in_bin / voltage_step_V
        window = smooth_points if smooth_points % 2 else smooth_points + 1
        if window > 2 and density.size > window:
            density = np.clip(savgol_filter(density, window, 2), 0.0, None)
        frames.append(
            pd.DataFrame(
                {
                    "half_cycle": int(half),
                    "direction": d,
                    "voltage_V": 0.5 * (edges[1:] + edges[:-1]),
                    "dqdv_mAh_V": density,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["half_cycle", "direction", "voltage_V", "dqdv_mAh_V"])
    return pd.concat(frames, ignore_index=True)


def plateaus(
    record: EchemRecord,
    *,
    voltage_step_V: float = 0.005,
    min_share: float = 0.05,
    smooth_points: int = 5,
) -> pd.DataFrame:
    """Voltage plateaus as peaks of dQ/dV, per half cycle.

    Parameters
    ----------
    record : EchemRecord
    voltage_step_V, smooth_points
        See :func:`dqdv`.
    min_share : float, default 0.05
        Keep peaks whose height is at least this share of the half cycle's highest peak.

    Returns
    -------
    pandas.DataFrame
        Columns ``half_cycle``, ``direction``, ``voltage_V`` (peak position),
        ``dqdv_mAh_V`` (peak height), ``width_V`` (full width at half maximum).
    """
    table = dqdv(record, voltage_step_V=voltage_step_V, smooth_points=smooth_points)
    rows = []
    for key, group in table.groupby(["half_cycle", "direction"], sort=True):
        half, d = (int(k) for k in np.asarray(key, dtype=np.int64))
        y = group["dqdv_mAh_V"].to_numpy()
        x = group["voltage_V"].to_numpy()
        if y.size < 3 or not np.any(y > 0):
            continue
        peaks, props = find_peaks(y, height=min_share * y.max(), width=0)
        for k, p in enumerate(peaks):
            rows.append((half, d, float(x[p]), float(y[p]), float(props["widths"][k] * voltage_step_V)))
    return pd.DataFrame(rows, columns=["half_cycle", "direction", "voltage_V", "dqdv_mAh_V", "width_V"])


@dataclass(frozen=True)
class FailureEvent:
    """A failure signature found in a symmetric-cell record.

    Attributes
    ----------
    kind : str
        ``"short_circuit"`` (the polarisation collapses while current flows) or
        ``"sudden_polarisation"`` (it jumps, e.g. contact loss by voids).
    time_s : float
        Time of the first sample of the event.
    row : int
    half_cycle : int
    before_V, after_V : float
        Median ``|V|`` under current before and after the event.
    """

    kind: str
    time_s: float
    row: int
    half_cycle: int
    before_V: float
    after_V: float


def detect_failures(
    record: EchemRecord,
    *,
    collapse_ratio: float = 0.2,
    short_floor_V: float = 0.01,
    jump_ratio: float = 2.0,
    window: int = 10,
    rest_tolerance_mA: float | None = None,
) -> list[FailureEvent]:
    """Short circuits and sudden polarisation in a Li|electrolyte|Li symmetric cell.

    Only samples under current are used: a symmetric cell's ``|V|`` is then its
    overpotential. A *short circuit* is where the median ``|V|`` of the next ``window``
    samples falls below both ``collapse_ratio`` times the median of the previous
    ``window`` samples and ``short_floor_V`` + that ratio's bound (the current finds a
    metallic path). A *sudden polarisation* is where it rises above ``jump_ratio``
    times the previous median and by more than ``short_floor_V``. Each change is
    reported once, at its first sample.

    Parameters
    ----------
    record : EchemRecord
    collapse_ratio : float, default 0.2
    short_floor_V : float, default 0.01
        A collapse counts as a short only when the overpotential falls below this (V).
    jump_ratio : float, default 2.0
    window : int, default 10
        Samples on each side compared (medians are robust to single spikes).
    rest_tolerance_mA : float, optional
        See :func:`operando.echem.direction`.

    Returns
    -------
    list of FailureEvent
        In time order.
    """
    if window < 2:
        raise ParameterError(f"window must be at least 2 samples, got {window}")
    flowing = np.flatnonzero(direction(record.current_mA, rest_tolerance_mA=rest_tolerance_mA) != 0)
    mag = np.abs(record.voltage_V[flowing])
    events: list[FailureEvent] = []
    k = window
    shorted = False
    while k + window <= mag.size:
        before = float(np.median(mag[k - window : k]))
        after = float(np.median(mag[k : k + window]))
        kind = None
        if not shorted and after < collapse_ratio * before and after < short_floor_V:
            kind, shorted = "short_circuit", True
        elif after > jump_ratio * before and after - before > short_floor_V:
            kind, shorted = "sudden_polarisation", False
        if kind is None:
            k += 1
            continue
        # the first sample of the change: the first in the window past the midpoint
        level = 0.5 * (before + after)
        seg = mag[k : k + window]
        first = int(np.argmax(seg < level)) if kind == "short_circuit" else int(np.argmax(seg > level))
        row = int(flowing[k + first])
        events.append(FailureEvent(kind, float(record.time_s[row]), row, int(record.half_cycle[row]), before, after))
        k += first + window
    return events
