"""Growth stages from change points, and the short circuit on the frame axis.

Dendrite growth in a Li|electrolyte|Li cell is described in stages (e.g. I nucleation at
the plating electrode, II layer-by-layer growth into the electrolyte, III fast
propagation, IV after the short circuit, when the current flows through the metal path
and the amount stops growing). Each stage has its own growth rate, so the total amount of
metal is piecewise linear in time and the stage boundaries are its change points.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from operando.errors import ParameterError

__all__ = ["STAGE_NAMES", "detect_stages", "frame_of_time", "stages_from_boundaries"]

STAGE_NAMES: tuple[str, ...] = ("I", "II", "III", "IV", "V", "VI")


def stages_from_boundaries(n_frames: int, boundaries: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Stage number (1-based) of every frame from the first frames of stages 2, 3, ...

    Examples
    --------
    >>> stages_from_boundaries(6, [2, 4]).tolist()
    [1, 1, 2, 2, 3, 3]
    """
    b = np.sort(np.asarray(boundaries, dtype=np.int64))
    return np.asarray(1 + np.searchsorted(b, np.arange(n_frames), side="right"), dtype=np.int64)


def detect_stages(
    signal: npt.ArrayLike,
    *,
    n_stages: int | None = 4,
    model: str = "clinear",
    min_size: int = 3,
    short_frame: int | None = None,
    penalty: float | None = None,
) -> tuple[npt.NDArray[np.int64], list[int]]:
    """Split a time series into growth stages at its change points (``ruptures``).

    Parameters
    ----------
    signal : (F,) or (F, K) array_like
        The total amount of metal (for ``model="clinear"``: continuous piecewise-linear
        fit, one growth rate per stage) or a growth rate (``"l2"``: piecewise constant).
    n_stages : int or None, default 4
        Number of stages (``n_stages - 1`` change points, found by exact dynamic
        programming, :class:`ruptures.Dynp`). ``None``: as many as :class:`ruptures.Pelt`
        finds with ``penalty``.
    model : str, default "clinear"
        A ruptures cost model.
    min_size : int, default 3
        Shortest stage in frames.
    short_frame : int, optional
        First frame after a short circuit seen in the voltage. The voltage is the sharper
        clock for that event, so the last boundary is set to it (the others are found on
        the frames before it).
    penalty : float, optional
        Pelt penalty per change point, in the cost's units (sum of squared residuals;
        ``~3 sigma**2 log(F)`` for noise ``sigma``). Required when ``n_stages`` is None.

    Returns
    -------
    stage : (F,) ndarray of int64
        1 .. n_stages.
    boundaries : list of int
        First frame of stages 2 .. n_stages.

    Examples
    --------
    >>> t = np.arange(40.0)
    >>> total = np.interp(t, [0, 10, 25, 40], [0, 5, 35, 35])
    >>> detect_stages(total, n_stages=3)[1]
    [10, 25]
    """
    import ruptures as rpt

    y = np.asarray(signal, dtype=np.float64)
    n = y.shape[0]
    if n_stages is None:
        if penalty is None or penalty <= 0:
            raise ParameterError("without n_stages, give a positive Pelt penalty")
        end = int(short_frame) if short_frame is not None and 0 < short_frame < n else n
        algo_p = rpt.Pelt(model=model, min_size=min_size, jump=1).fit(y[:end])
        shift = 1 if model == "clinear" else 0
        found = [int(b) - shift for b in algo_p.predict(pen=penalty)[:-1]]
        boundaries = sorted(set(found + ([end] if end < n else [])))
        return stages_from_boundaries(n, boundaries), boundaries
    if n_stages < 1:
        raise ParameterError(f"need at least one stage, got {n_stages}")
    if not np.all(np.isfinite(y)):
        raise ParameterError("the signal has non-finite values")
    if n_stages == 1:
        return np.ones(n, dtype=np.int64), []
    end = n
    fixed: list[int] = []
    if short_frame is not None and 0 < short_frame < n:
        end, fixed = int(short_frame), [int(short_frame)]
    n_bkps = n_stages - 1 - len(fixed)
    if n_bkps > 0:
        if end < (n_bkps + 1) * min_size:
            raise ParameterError(f"{end} frames are too few for {n_bkps + 1} stages of at least {min_size} frames")
        algo = rpt.Dynp(model=model, min_size=min_size, jump=1).fit(y[:end])
        # ruptures ends a segment at b (exclusive); a continuous-linear segment ends on its
        # kink sample b - 1, which is where the new growth rate starts
        shift = 1 if model == "clinear" else 0
        found = [int(b) - shift for b in algo.predict(n_bkps=n_bkps)[:-1]]
    else:
        found = []
    boundaries = sorted(found + fixed)
    return stages_from_boundaries(n, boundaries), boundaries


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
