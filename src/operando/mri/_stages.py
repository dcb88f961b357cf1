"""Growth stages from change points, and the short circuit as its own event.

Dendrite growth in a Li|solid electrolyte|Li cell is read in stages (the paper's Fig. 4:
I fast nucleation in the surface layers, II stalled growth, III fast growth in the middle
layers, IV deceleration towards the short circuit). Each stage has its own growth rate, so
the total amount of metal is piecewise linear in time and the stage boundaries are its
change points. All stages precede the short circuit: the short is an event of its own (the
voltage collapses, the current flows through the metal path and the amount stops
growing), so the stages are looked for on the frames before it and every frame from the
short on carries stage 0.
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt

from operando.errors import ParameterError

__all__ = ["AFTER_SHORT", "STAGE_NAMES", "detect_stages", "frame_of_time", "stages_from_boundaries"]

STAGE_NAMES: tuple[str, ...] = ("I", "II", "III", "IV", "V", "VI")

AFTER_SHORT = 0
"""Stage number of the frames from the short circuit on (they belong to no growth stage)."""


def stages_from_boundaries(
    n_frames: int, boundaries: npt.ArrayLike, *, short_frame: int | None = None
) -> npt.NDArray[np.int64]:
    """Stage number (1-based) of every frame from the first frames of stages 2, 3, ...

    Frames from ``short_frame`` on get :data:`AFTER_SHORT` (0).

    Examples
    --------
    >>> stages_from_boundaries(6, [2, 4]).tolist()
    [1, 1, 2, 2, 3, 3]
    >>> stages_from_boundaries(7, [2, 4], short_frame=5).tolist()
    [1, 1, 2, 2, 3, 0, 0]
    """
    b = np.sort(np.asarray(boundaries, dtype=np.int64))
    stage = np.asarray(1 + np.searchsorted(b, np.arange(n_frames), side="right"), dtype=np.int64)
    if short_frame is not None and 0 <= short_frame < n_frames:
        stage[int(short_frame) :] = AFTER_SHORT
    return stage


def detect_stages(
    signal: npt.ArrayLike,
    *,
    n_stages: int | None = 4,
    model: str = "clinear",
    min_size: int = 3,
    short_frame: int | None = None,
    penalty: float | None = None,
    time_s: npt.ArrayLike | None = None,
) -> tuple[npt.NDArray[np.int64], list[int]]:
    """Split the frames before a short circuit into growth stages at their change points (``ruptures``).

    Parameters
    ----------
    signal : (F,) or (F, K) array_like
        The total amount of metal (for ``model="clinear"``: continuous piecewise-linear
        fit, one growth rate per stage) or a growth rate (``"l2"``: piecewise constant).
    n_stages : int or None, default 4
        Number of stages before the short (``n_stages - 1`` change points, found by exact
        dynamic programming, :class:`ruptures.Dynp`). ``None``: as many as
        :class:`ruptures.Pelt` finds with ``penalty``.
    model : str, default "clinear"
        A ruptures cost model.
    min_size : int, default 3
        Shortest stage in frames.
    short_frame : int, optional
        First frame after the short circuit (the voltage is the sharper clock for that
        event). The stages are found on the frames before it; it and every later frame
        get stage :data:`AFTER_SHORT` (0). When fewer than ``n_stages * min_size`` frames
        precede it, as many stages as fit are found and a warning says so (0 or less: no
        stage at all).
    penalty : float, optional
        Pelt penalty per change point, in the cost's units (sum of squared residuals;
        ``~3 sigma**2 log(F)`` for noise ``sigma``). Required when ``n_stages`` is None.
    time_s : (F,) array_like, optional
        Frame times. When they are unevenly spaced (a series of scans with pauses), the
        signal is interpolated onto an even grid of the median spacing before the change
        points are sought (a rate is a slope in time, not in frames), and each change point
        is put on the frame nearest to it (:func:`frame_of_time`).

    Returns
    -------
    stage : (F,) ndarray of int64
        1 .. n_stages before the short, 0 from the short on.
    boundaries : list of int
        First frame of stages 2 .. n_stages (all before ``short_frame``).

    Examples
    --------
    >>> t = np.arange(50.0)
    >>> total = np.interp(t, [0, 10, 25, 40, 49], [0, 5, 35, 40, 40])  # short at frame 40
    >>> stage, bounds = detect_stages(total, n_stages=3, short_frame=40)
    >>> bounds, stage[[0, 10, 25, 39, 40]].tolist()
    ([10, 25], [1, 2, 3, 3, 0])
    """
    import ruptures as rpt

    y = np.asarray(signal, dtype=np.float64)
    n = y.shape[0]
    if short_frame is not None and short_frame <= 0:
        warnings.warn("the short circuit precedes the first frame: no growth stage to find", stacklevel=2)
        return np.full(n, AFTER_SHORT, dtype=np.int64), []
    end = int(short_frame) if short_frame is not None and short_frame < n else n
    short = end if end < n else None
    # ruptures ends a segment at b (exclusive); a continuous-linear segment ends on its
    # kink sample b - 1, which is where the new growth rate starts
    shift = 1 if model == "clinear" else 0
    if not np.all(np.isfinite(y[:end])):
        raise ParameterError("the signal has non-finite values")
    if time_s is not None:
        t = np.asarray(time_s, dtype=np.float64)
        if t.shape != (n,) or np.any(np.diff(t) <= 0):
            raise ParameterError(f"time_s must be {n} increasing frame times")
        step = float(np.median(np.diff(t[:end]))) if end > 1 else 0.0
        if end > 2 and not np.allclose(np.diff(t[:end]), step, rtol=0.02):
            grid = t[0] + step * np.arange(int(np.floor((t[end - 1] - t[0]) / step)) + 1)
            even = (
                np.interp(grid, t[:end], y[:end])
                if y.ndim == 1
                else np.stack([np.interp(grid, t[:end], col) for col in y[:end].T], axis=1)
            )
            _, found_even = detect_stages(even, n_stages=n_stages, model=model, min_size=min_size, penalty=penalty)
            found = sorted({frame_of_time(float(grid[b]), t[:end]) for b in found_even})
            found = [b for b in found if 0 < b < end]
            return stages_from_boundaries(n, found, short_frame=short), found
    if n_stages is None:
        if penalty is None or penalty <= 0:
            raise ParameterError("without n_stages, give a positive Pelt penalty")
        if end < 2 * min_size:
            return stages_from_boundaries(n, [], short_frame=short), []
        algo_p = rpt.Pelt(model=model, min_size=min_size, jump=1).fit(y[:end])
        found = sorted({int(b) - shift for b in algo_p.predict(pen=penalty)[:-1]})
        return stages_from_boundaries(n, found, short_frame=short), found
    if n_stages < 1:
        raise ParameterError(f"need at least one stage, got {n_stages}")
    fit = min(n_stages, max(1, end // min_size))
    if fit < n_stages:
        warnings.warn(
            f"only {end} frames precede the short circuit: {fit} stage(s) of at least {min_size} frames, "
            f"not {n_stages}",
            stacklevel=2,
        )
    if fit == 1:
        return stages_from_boundaries(n, [], short_frame=short), []
    algo = rpt.Dynp(model=model, min_size=min_size, jump=1).fit(y[:end])
    found = sorted(int(b) - shift for b in algo.predict(n_bkps=fit - 1)[:-1])
    return stages_from_boundaries(n, found, short_frame=short), found


def frame_of_time(time_s: float, start_s: npt.ArrayLike) -> int:
    """Frame whose start is nearest to ``time_s`` (an event between two frame starts goes to
    the closer one, so a kink in a series sampled at the frame starts lands on that frame).

    Examples
    --------
    >>> frame_of_time(26.0, [0, 10, 20, 30, 40]), frame_of_time(24.0, [0, 10, 20, 30, 40])
    (3, 2)
    """
    start = np.asarray(start_s, dtype=np.float64)
    return int(np.argmin(np.abs(start - time_s)))
