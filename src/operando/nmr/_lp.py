"""Linear prediction of FIDs as TopSpin's ``procs`` asks for it (``ME_mod``, ``NCOEF``, ``LPBIN``, ``TDoff``).

The prediction is the classic least-squares LP (e.g. Koehl, Prog. NMR Spectrosc. 34, 257
(1999)): coefficients ``a`` with ``x[n] = sum_j a_j x[n - j]`` (forward) or ``x[n] = sum_j
b_j x[n + j]`` (backward) fitted to a block of points by SVD least squares; the roots of the
prediction polynomial are made physical (a forward root outside the unit circle, i.e. a
growing signal, and a backward root inside it are moved onto the circle; reflecting the
backward ones across it instead left errors of 0.1 of the largest line's amplitude in the
first of four predicted points, against 0.002 moved); the series is then continued by the
recurrence. nmrglue has the same method
(``nmrglue.process.proc_lp.lp``), but builds its matrices with ``numpy.matrix``, which numpy
deprecates (``PendingDeprecationWarning``, an error under this project's test settings);
so it is written here, and nmrglue's serves as the independent implementation the tests
compare with (``tests/nmr/test_lp.py``).

TopSpin's parameters, as read here (``procs`` of a 1D set):

* ``ME_mod``: 0 none, 1 ``LPfr`` and 2 ``LPfc`` forward prediction (real / complex),
  3 ``LPbr`` and 4 ``LPbc`` backward prediction. Both "real" and "complex" variants are
  done here with complex LP (the complex one models both channels together; for a real
  variant on quadrature data this is an approximation we state).
* ``NCOEF``: prediction order (number of coefficients); 0 or absent: 32.
* Forward: ``LPBIN`` is the length of the FID after prediction, counted like ``TD``
  (real + imaginary values, i.e. ``LPBIN / 2`` complex points); 0: twice the acquired
  points. The model is fitted to the last acquired points.
* Backward: ``TDoff`` is the number of first complex points replaced; 0: nothing is
  predicted. The model is fitted to the points that follow.

These readings of ``LPBIN`` and ``TDoff`` come from TopSpin's parameter names, not from a
document checked here; a set whose ``1r`` disagrees with ours after LP would show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from operando.errors import ParameterError

__all__ = ["LPSettings", "lp_backward", "lp_forward", "lp_from_procs"]

Complex = npt.NDArray[np.complex128]

#: Prediction order when ``NCOEF`` is 0 or missing.
DEFAULT_ORDER = 32


def _check(fid: Complex, order: int, n_fit: int) -> None:
    if order < 1:
        raise ParameterError(f"linear prediction order must be >= 1, got {order}")
    if n_fit < 2 * order + 1:
        raise ParameterError(f"linear prediction needs >= {2 * order + 1} points for order {order}, has {n_fit}")


def _coefficients(x: Complex, order: int, *, backward: bool) -> Complex:
    """Least-squares LP coefficients of ``x`` (``x[n] = sum_j a_j x[n - j]``, ``j = 1..order``),
    with the roots made physical.

    ``x`` runs in the direction of prediction (reversed for backward prediction), so the
    coefficients predict the next point from the ``order`` previous ones, most recent first.
    A forward model keeps its roots inside or on the unit circle (roots outside, growing
    signals, are put onto it); a backward model is the time reverse of a decaying FID, so its
    roots should lie outside or on the circle (roots inside are put onto it).
    """
    rows = np.lib.stride_tricks.sliding_window_view(x, order + 1)  # x[n-order .. n]
    design = rows[:, :-1][:, ::-1]  # x[n-1], x[n-2], ..., x[n-order]
    target = rows[:, -1]
    a, *_ = np.linalg.lstsq(design, target, rcond=None)
    roots = np.roots(np.concatenate([[1.0], -a]))
    size = np.abs(roots)
    bad = size < 1.0 if backward else size > 1.0
    roots = roots * np.where(bad, 1.0 / np.maximum(size, 1e-300), 1.0)  # onto the unit circle
    return np.asarray(-np.poly(roots)[1:], dtype=np.complex128)


def lp_backward(fid: npt.ArrayLike, n_replace: int, *, order: int = DEFAULT_ORDER, n_fit: int | None = None) -> Complex:
    """Replace the first ``n_replace`` points of FIDs by backward linear prediction.

    Parameters
    ----------
    fid : (..., N) array_like of complex
        FIDs from their time zero (group delay already removed).
    n_replace : int
        Points replaced (distorted by receiver dead time, acoustic ringing, a filter).
    order : int
        Prediction order (``NCOEF``).
    n_fit : int, optional
        Points after the replaced ones that fit the model; default ``min(N - n_replace,
        max(8 * order, 256))``.

    Returns
    -------
    (..., N) ndarray of complex128
        A copy with points ``0 .. n_replace - 1`` predicted.

    Examples
    --------
    >>> t = np.arange(256)
    >>> true = np.exp((2j * np.pi * 0.11 - 0.01) * t) + 0.5 * np.exp((-2j * np.pi * 0.23 - 0.02) * t)
    >>> bad = true.copy()
    >>> bad[:3] = 5.0
    >>> bool(np.allclose(lp_backward(bad, 3, order=4)[:3], true[:3], atol=1e-6))
    True
    """
    f = np.array(fid, dtype=np.complex128)
    n = f.shape[-1]
    if not 0 <= n_replace < n:
        raise ParameterError(f"backward prediction of {n_replace} of {n} points")
    if n_replace == 0:
        return f
    fit = min(n - n_replace, max(8 * order, 256)) if n_fit is None else int(n_fit)
    _check(f, order, fit)
    rows = f.reshape(-1, n)
    for row in rows:
        # backward coefficients from the points after the gap, continued into the past
        b = _coefficients(row[n_replace : n_replace + fit][::-1], order, backward=True)
        for i in range(n_replace - 1, -1, -1):
            row[i] = np.dot(b, row[i + 1 : i + 1 + order])
    return rows.reshape(f.shape)


def lp_forward(fid: npt.ArrayLike, n_total: int, *, order: int = DEFAULT_ORDER, n_fit: int | None = None) -> Complex:
    """Extend FIDs to ``n_total`` points by forward linear prediction.

    Parameters
    ----------
    fid : (..., N) array_like of complex
    n_total : int
        Points after extension (``>= N``).
    order : int
        Prediction order.
    n_fit : int, optional
        Last acquired points that fit the model; default ``min(N, max(8 * order, 256))``.

    Returns
    -------
    (..., n_total) ndarray of complex128

    Examples
    --------
    >>> t = np.arange(512)
    >>> true = np.exp((2j * np.pi * 0.07 - 0.004) * t)
    >>> bool(np.allclose(lp_forward(true[:128], 512, order=2), true, atol=1e-6))
    True
    """
    f = np.asarray(fid, dtype=np.complex128)
    n = f.shape[-1]
    if n_total < n:
        raise ParameterError(f"forward prediction to {n_total} points of an FID of {n}")
    rows = f.reshape(-1, n)
    out = np.zeros((rows.shape[0], n_total), dtype=np.complex128)
    out[:, :n] = rows
    if n_total == n:
        return out.reshape(*f.shape[:-1], n_total)
    fit = min(n, max(8 * order, 256)) if n_fit is None else int(n_fit)
    _check(f, order, fit)
    for i, row in enumerate(rows):
        a = _coefficients(row[n - fit :], order, backward=False)
        line = out[i]
        for j in range(n, n_total):
            line[j] = np.dot(a, line[j - 1 : j - 1 - order : -1])  # j > fit > order: never empty
    return out.reshape(*f.shape[:-1], n_total)


@dataclass(frozen=True)
class LPSettings:
    """What ``procs`` asks for: ``mode`` ``"forward"`` or ``"backward"``, ``points`` (forward: complex
    points after extension; backward: first points replaced), ``order`` and TopSpin's ``me_mod``."""

    mode: str
    points: int
    order: int
    me_mod: int


def _number(procs: dict[str, Any], key: str, default: float) -> float:
    try:
        value = float(procs.get(key, default))
    except (TypeError, ValueError):
        return default
    return value if np.isfinite(value) else default


def lp_from_procs(procs: dict[str, Any], n_points: int) -> LPSettings | None:
    """TopSpin's linear-prediction parameters read as :class:`LPSettings` (None: none asked for).

    Parameters
    ----------
    procs : dict
        ``pdata/1/procs``.
    n_points : int
        Complex points of the FID (after ``TDeff``).

    Returns
    -------
    LPSettings or None
        None for ``ME_mod`` 0 or missing, or a backward prediction of ``TDoff`` = 0 points.

    Raises
    ------
    ParameterError
        ``ME_mod`` outside 0-4.

    Examples
    --------
    >>> lp_from_procs({"ME_mod": 4, "NCOEF": 16, "TDoff": 3}, 4096)
    LPSettings(mode='backward', points=3, order=16, me_mod=4)
    >>> lp_from_procs({"ME_mod": 2, "NCOEF": 0, "LPBIN": 0}, 1024)
    LPSettings(mode='forward', points=2048, order=32, me_mod=2)
    """
    me_mod = int(_number(procs, "ME_mod", 0))
    if me_mod == 0:
        return None
    if me_mod not in (1, 2, 3, 4):
        raise ParameterError(f"ME_mod={me_mod} is not a linear-prediction mode (0 none, 1-2 forward, 3-4 backward)")
    order = int(_number(procs, "NCOEF", 0)) or DEFAULT_ORDER
    if me_mod in (1, 2):
        lpbin = int(_number(procs, "LPBIN", 0))
        total = lpbin // 2 if lpbin // 2 > n_points else 2 * n_points
        return LPSettings("forward", total, order, me_mod)
    tdoff = int(_number(procs, "TDoff", 0))
    if tdoff <= 0:
        return None
    return LPSettings("backward", tdoff, order, me_mod)
