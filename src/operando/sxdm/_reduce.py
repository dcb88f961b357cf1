"""Per-scan-point reduction: background, region of interest, masks, 3D centre of mass of Q.

The estimator
-------------
The centre of mass is taken over raw detector voxels (one voxel = one pixel at one
rocking angle), each weighted by its background-subtracted counts:
``Q_com = sum_v (I_v - b) q_v / sum_v (I_v - b)`` over the valid voxels of the region of
interest.  No q-space cube is built and nothing is divided by histogram hit counts
(XSOCS bins into a q grid first; on a regular rocking scan the two agree to within the
variation of the voxel volume across the peak).

The pixel -> Q map is the same for every scan point, so for a block of points the sums
are one matrix product ``frames (P, voxels) @ [q - q0, 1, eta - eta0, (eta - eta0)^2]``
in float32 (frames are counts; q is stored relative to its mean ``q0`` so that float32
keeps ~1e-10 1/Å per voxel), accumulated over rocking angles in float64. The float32
products of a block depend on its shape through the BLAS kernel's summation order: two
block shapes of the same frames gave centres up to 3e-8 1/Å apart on an AMD EPYC
(a d-spacing difference of ~1e-8 Å), bit-equal on other machines.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

from operando.errors import ParameterError
from operando.sxdm._source import FrameSource, plain_region_sums, plain_survey

__all__ = [
    "EDGE_FRACTION",
    "EDGE_SIDES",
    "ROI",
    "BackgroundMode",
    "CentreOfMass",
    "centre_of_mass",
    "find_hot_pixels",
    "find_roi",
    "frame_background",
    "global_background",
    "reduce_kmap",
    "side_widths",
    "signal_beyond",
    "survey_rows",
]


@dataclass(frozen=True)
class ROI:
    """Region of interest: rocking-angle indices and detector pixel ranges (half-open)."""

    angles: tuple[int, int]
    det_y: tuple[int, int]
    det_x: tuple[int, int]

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        """``(angles, det_y, det_x)`` slices."""
        return slice(*self.angles), slice(*self.det_y), slice(*self.det_x)

    def inside(self, shape: tuple[int, int, int]) -> NDArray[np.bool_]:
        """Boolean (angle, det_y, det_x) array, True inside the region."""
        out = np.zeros(shape, dtype=bool)
        out[self.slices] = True
        return out


@dataclass(frozen=True)
class CentreOfMass:
    """Moments of each scan point; arrays have the points as first axis.

    Attributes
    ----------
    intensity : (P,) ndarray
        Background-subtracted counts in the region of interest.
    q : (P, 3) ndarray
        Centre of mass of Q, sample frame, 1/Å.
    rocking_com_deg : (P,) ndarray
        Centre of mass of the rocking curve (eta), degrees.
    rocking_width_deg : (P,) ndarray
        Standard deviation (second moment) of the rocking curve, degrees.
    """

    intensity: NDArray[np.float64]
    q: NDArray[np.float64]
    rocking_com_deg: NDArray[np.float64]
    rocking_width_deg: NDArray[np.float64]


def _min3x3_nearest(frame: NDArray[np.float64], *, out: NDArray[np.float64], work: NDArray[np.float64]) -> None:
    """3 x 3 minimum of a 2D frame with "nearest" edges, into ``out`` (``work``: scratch of
    the same shape). Equal to ``scipy.ndimage.minimum_filter(frame, 3, mode="nearest")``
    (a minimum is exact), ~10x faster on a 256 x 256 frame: four array minima, separable.

    Examples
    --------
    >>> from scipy import ndimage
    >>> rng, same = np.random.default_rng(0), []
    >>> for shape in [(1, 1), (1, 6), (6, 1), (2, 2), (3, 9), (40, 33)]:
    ...     frame, lo, work = rng.normal(size=shape), np.empty(shape), np.empty(shape)
    ...     _min3x3_nearest(frame, out=lo, work=work)
    ...     same.append(np.array_equal(lo, ndimage.minimum_filter(frame, size=3, mode="nearest")))
    >>> all(same)
    True
    """
    for src, dst, axis in ((frame, work, 1), (work, out, 0)):
        a, b = np.moveaxis(src, axis, 0), np.moveaxis(dst, axis, 0)
        if len(a) == 1:
            b[...] = a
            continue
        np.minimum(a[:-1], a[1:], out=b[1:])  # b[i] = min(a[i-1], a[i]) for i >= 1
        b[0] = np.minimum(a[0], a[1])
        np.minimum(b[1:-1], a[2:], out=b[1:-1])  # the right neighbour; the last row has none ("nearest")


def find_hot_pixels(summed: ArrayLike, *, threshold: float = 8.0) -> NDArray[np.bool_]:
    """Pixels far brighter than their neighbours at most rocking angles.

    Parameters
    ----------
    summed : (angle, det_y, det_x) array_like
        Frames summed over all scan points.
    threshold : float
        In units of the Poisson noise of the 3x3 median: a pixel is hot when the median
        over angles of ``(S - median3x3(S)) / sqrt(median3x3(S) + 1)`` exceeds it (a Bragg
        peak is bright at a few angles only, a hot pixel at all of them).

    Returns
    -------
    (det_y, det_x) ndarray of bool

    Notes
    -----
    The result for the last read-only float64 array that owns its data (a Bliss source's
    kept survey) is kept, and a copy returned when the same array is asked for again.
    """
    s = np.asarray(summed, dtype=np.float64)
    if s.ndim != 3:
        raise ParameterError(f"summed frames must be (angle, det_y, det_x), got shape {s.shape}")
    frozen = not s.flags.writeable and s.flags.owndata  # no other array can change its values
    if frozen:
        with _HOT_LOCK:
            kept = _HOT_KEPT.get(threshold)
        if kept is not None and kept[0]() is s:
            return kept[1].copy()
    hot = _hot_pixels(s, threshold)
    if frozen:
        with _HOT_LOCK:
            _HOT_KEPT.clear()  # one survey's at a time
            _HOT_KEPT[threshold] = (weakref.ref(s), hot.copy())
    return hot


_HOT_LOCK = threading.Lock()
_HOT_KEPT: dict[float, tuple[weakref.ref[NDArray[np.float64]], NDArray[np.bool_]]] = {}
"""The hot pixels of the last frozen survey: a Bliss source's survey is one read-only array
owning its data (:meth:`operando.sxdm.io.BlissSource.survey`), which the reduction, the recut
and the two-phase survey each ask the hot pixels of (0.75 s each on 30 x 516^2 sums)."""


def _bound_passes_sparse(s: NDArray[np.float64], scale: float) -> NDArray[np.intp]:
    """Per pixel, the angles where ``S - m0 > scale * sqrt(m0 + 1)`` (``m0``: the 3 x 3
    minimum, "nearest" edges), for sums ``s`` >= 0 and ``scale`` > 0.

    There ``m0 >= 0``, so the bound is at least ``scale`` and ``S - m0 <= S``: only pixels
    above ``scale`` can pass, and only theirs are tested (the same test, the same
    floating-point operations as over the whole frame). Survey sums of sparse frames hold
    a few hundred such pixels of 516^2: 0.3 s -> 0.02 s on 30 angles.

    Examples
    --------
    >>> s = np.zeros((3, 5, 6)); s[:, 2, 3] = 50.0; s[0, 0, 0] = 9.0; s[1, 4, 5] = 3.0
    >>> _bound_passes_sparse(s, 8.0)[[2, 0, 4], [3, 0, 5]].tolist()
    [3, 1, 0]
    """
    _, dy, dx = s.shape
    passes = np.zeros(dy * dx, dtype=np.intp)
    offsets = np.array([(oy, ox) for oy in (-1, 0, 1) for ox in (-1, 0, 1)])
    for frame in s:
        flat = frame.reshape(-1)
        cand = np.flatnonzero(flat > scale)
        if not cand.size:
            continue
        cy, cx = np.divmod(cand, dx)
        ny = np.clip(cy[:, None] + offsets[:, 0], 0, dy - 1)  # "nearest": the edge pixel repeated
        nx = np.clip(cx[:, None] + offsets[:, 1], 0, dx - 1)
        lo = frame[ny, nx].min(axis=1)
        bound = np.sqrt(np.maximum(lo, 0.0) + 1.0) * scale
        passes[cand[flat[cand] - lo > bound]] += 1
    return passes.reshape(dy, dx)


def _hot_pixels(s: NDArray[np.float64], threshold: float) -> NDArray[np.bool_]:
    """:func:`find_hot_pixels` of float64 sums ``s`` (angle, det_y, det_x)."""
    # Where the 3x3 minimum m0 >= 0 (then S >= m0 >= 0), the median m >= m0 and
    # z(m) = (S - m) / sqrt(m + 1) falls as m grows, so z(m0) bounds z from above (elsewhere
    # take +inf). A median over angles above the threshold needs at least half the angles
    # above it, so only pixels where half the bounds pass can be hot, and only those need
    # the 3x3 median (a rank filter, ~10x slower than the minimum over the whole detector).
    # One angle at a time: the temporaries of a frame stay in the cache (those of the whole
    # stack were ~16 MB each, written to fresh memory).
    scale = threshold - 1e-9 * abs(threshold)
    if scale > 0 and s.size and s.min() >= 0:
        passes = _bound_passes_sparse(s, scale)
    else:
        passes = np.zeros(s.shape[1:], dtype=np.intp)
        lo = np.empty(s.shape[1:])
        bound = np.empty(s.shape[1:])
        rows = np.empty(s.shape[1:])
        for frame in s:
            _min3x3_nearest(frame, out=lo, work=rows)
            np.maximum(lo, 0.0, out=bound)
            bound += 1.0
            np.sqrt(bound, out=bound)
            bound *= scale
            passes += (lo < 0) | (frame - lo > bound)
    iy, ix = np.nonzero(passes >= (len(s) + 1) // 2)
    hot = np.zeros(s.shape[1:], dtype=bool)
    if iy.size > s[0].size // 10:  # many candidates: the filter over the whole detector is cheaper
        med = ndimage.median_filter(s, size=(1, 3, 3), mode="nearest")
        z = (s - med) / np.sqrt(np.maximum(med, 0.0) + 1.0)
        return np.asarray(np.median(z, axis=0) > threshold)
    if iy.size:
        # clipped indices = the filter's "nearest" edges (np.pad of the whole stack cost 0.18 s
        # of fresh memory on 30 x 516^2 sums, for three candidates)
        dy, dx = np.mgrid[-1:2, -1:2].reshape(2, 9)
        ny, nx = s.shape[1:]
        window = s[:, np.clip(iy[:, None] + dy, 0, ny - 1), np.clip(ix[:, None] + dx, 0, nx - 1)]  # (angle, cand, 9)
        med = np.median(window, axis=-1)
        z = (s[:, iy, ix] - med) / np.sqrt(np.maximum(med, 0.0) + 1.0)
        hot[iy, ix] = np.median(z, axis=0) > threshold
    return hot


def _masked_median(s: NDArray[np.float64], ok: NDArray[np.bool_]) -> float:
    """``np.median(s[:, ok])`` of a stack ``s`` (angle, det_y, det_x), exactly, without the
    16 MB copy and the full partition of the selection.

    The median is bracketed by quantiles of an evenly spread sample; one pass, a frame at
    a time (in the cache), counts the values below the bracket and keeps those inside it,
    whose partition gives the median. If the bracket misses it (or a value is NaN), the
    plain ``np.median`` is used: the result is the same either way (~4x faster on a
    30 x 256 x 256 stack).

    Examples
    --------
    Equal to NumPy's median, bit for bit: counts, floats, a sorted stack, ties, odd sizes,
    a NaN, a small stack (no bracket) and a bright peak over most of the detector:

    >>> rng, same = np.random.default_rng(1), []
    >>> for case in ["poisson", "float", "sorted", "ties", "odd", "nan", "few", "skewed", "sparse", "half"]:
    ...     shape = (31, 67, 65) if case == "odd" else (12, 128, 96)
    ...     s = rng.poisson(80.0, shape).astype(float)
    ...     if case == "float":
    ...         s = rng.normal(3.0, 2.0, shape)
    ...     elif case == "sorted":
    ...         s = np.sort(rng.exponential(5.0, s.size)).reshape(shape)
    ...     elif case == "ties":
    ...         s = rng.integers(0, 3, shape).astype(float)
    ...     elif case == "nan":
    ...         s[3, 4, 5] = np.nan
    ...     elif case == "few":
    ...         s = s[:2, :10, :10]
    ...     elif case == "skewed":
    ...         s[:, 10:120, 10:90] += 1e4
    ...     elif case == "sparse":  # most voxels 0 (a short exposure)
    ...         s = rng.poisson(0.3, shape).astype(float)
    ...     elif case == "half":  # the zeros end just at the middle: the median is 0.5
    ...         s = np.where(np.arange(s.size).reshape(shape) < s.size // 2, 0.0, 1.0)
    ...     ok = rng.random(s.shape[1:]) > 0.1
    ...     want, got = float(np.median(s[:, ok])), _masked_median(s, ok)
    ...     same.append(bool(got == want or (np.isnan(want) and np.isnan(got))))
    >>> same
    [True, True, True, True, True, True, True, True, True, True]
    """
    flat = s.reshape(len(s), -1)
    good = np.asarray(ok, dtype=bool).ravel()
    cols = np.flatnonzero(good)
    n = len(flat) * cols.size
    if n < 65536:
        return float(np.median(s[:, ok]))
    # sparse frames (a single point's, or a short exposure's): the median is 0 when the zeros
    # straddle the middle; two counts, ~5x faster than the bracket on 30 x 159 x 162 voxels
    below = int(np.count_nonzero((flat < 0) & good))
    zeros = int(np.count_nonzero((flat == 0) & good))
    if below <= (n - 1) // 2 and n // 2 < below + zeros:
        return 0.0
    k = np.arange(0, n, max(1, n // 16384))
    sample = flat[k // cols.size, cols[k % cols.size]]
    lo, hi = np.quantile(sample, [0.48, 0.52])  # ~5 sigma of the sample median either side
    below = above = 0
    inside = []
    for frame in flat:
        v = frame[cols]
        below += int(np.count_nonzero(v < lo))
        above += int(np.count_nonzero(v > hi))
        inside.append(v[(v >= lo) & (v <= hi)])
    ins = np.concatenate(inside)
    k1, k2 = (n - 1) // 2 - below, n // 2 - below  # the middle order statistics, within the bracket
    if below + above + ins.size != n or k1 < 0 or k2 >= ins.size:  # NaN, or the bracket missed
        return float(np.median(s[:, ok]))
    part = np.partition(ins, (k1, k2))
    return float(np.mean(part[[k1, k2]]))


def _excess_mean3x3(s: NDArray[np.float64], base: float, ok: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Mean over 3 x 3 pixels of each frame of ``s - base`` (angle, det_y, det_x), zero at
    pixels not ``ok`` and outside the detector: ``scipy.ndimage.uniform_filter(np.where(ok,
    s - base, 0), size=(1, 3, 3), mode="constant")`` to rounding.

    Shifted sums, one frame at a time: its temporaries stay in the cache (~4x faster than
    the filter over a 30 x 256 x 256 stack, whose temporaries are 16 MB of fresh memory).

    Examples
    --------
    >>> from scipy import ndimage
    >>> rng, close = np.random.default_rng(2), []
    >>> for shape in [(1, 1), (1, 6), (6, 1), (2, 2), (3, 9), (40, 33)]:
    ...     stack, ok = rng.normal(size=(3, *shape)), rng.random(shape) > 0.3
    ...     want = ndimage.uniform_filter(np.where(ok, stack - 0.25, 0.0), size=(1, 3, 3), mode="constant")
    ...     close.append(np.allclose(_excess_mean3x3(stack, 0.25, ok), want, rtol=0, atol=1e-14))
    >>> all(close)
    True
    """
    out = np.empty_like(s)
    frame = np.empty(s.shape[1:])
    rows = np.empty(s.shape[1:])
    bad = ~ok
    for a in range(len(s)):
        np.subtract(s[a], base, out=frame)
        frame[bad] = 0.0
        rows[...] = frame
        rows[:, 1:] += frame[:, :-1]
        rows[:, :-1] += frame[:, 1:]
        o = out[a]
        o[...] = rows
        o[1:] += rows[:-1]
        o[:-1] += rows[1:]
        o /= 9.0
    return out


def _excess_above(
    s: NDArray[np.float64], base: float, ok: NDArray[np.bool_], floor: float
) -> tuple[float, NDArray[np.intp], NDArray[np.float64]]:
    """:func:`_excess_mean3x3` kept only where it exceeds ``floor``: ``(its maximum over
    every voxel, flat indices into s of the voxels above floor (ascending), their excess)``.

    The same values as the whole stack's, one frame at a time, without its
    ``(angle, det_y, det_x)`` float64 result: 64 MB of fresh memory for 30 x 516^2 sums,
    whose page faults cost ~0.15 s on this VM (find_roi and phase_region each made one).

    Examples
    --------
    >>> s = np.zeros((2, 5, 5)); s[1, 2, 2] = 90.0
    >>> peak, idx, val = _excess_above(s, 0.0, np.ones((5, 5), bool), 5.0)
    >>> peak, idx.tolist(), val.tolist()
    (10.0, [31, 32, 33, 36, 37, 38, 41, 42, 43], [10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0])
    """
    peak = -np.inf
    idx: list[NDArray[np.intp]] = []
    val: list[NDArray[np.float64]] = []
    n_px = s[0].size if len(s) else 0
    for a in range(len(s)):
        o = _excess_mean3x3(s[a : a + 1], base, ok)[0].reshape(-1)
        if o.size:
            peak = max(peak, float(o.max()))
        k = np.flatnonzero(o > floor)
        idx.append(k + a * n_px)
        val.append(o[k])
    if not idx:
        return peak, np.zeros(0, dtype=np.intp), np.zeros(0)
    return peak, np.concatenate(idx), np.concatenate(val)


def _dense_box(
    idx: NDArray[np.intp], val: NDArray[np.float64], shape: tuple[int, ...], grow: tuple[int, ...] = (0, 0, 0)
) -> tuple[tuple[slice, ...], NDArray[np.bool_], NDArray[np.float64]]:
    """The voxels at flat ``idx`` of a stack of ``shape`` (at least one) in their bounding box
    grown by ``grow`` (clipped): ``(box slices, True at them, val at them and 0 elsewhere)``.

    Examples
    --------
    >>> box, lit, ex = _dense_box(np.array([7, 9]), np.array([1.0, 2.0]), (1, 3, 4))
    >>> [(b.start, b.stop) for b in box], lit.astype(int).tolist(), ex.tolist()
    ([(0, 1), (1, 3), (1, 4)], [[[0, 0, 1], [1, 0, 0]]], [[[0.0, 0.0, 1.0], [2.0, 0.0, 0.0]]])
    """
    coords = np.unravel_index(idx, shape)
    box = tuple(
        slice(max(0, int(c.min()) - g), min(n, int(c.max()) + 1 + g))
        for c, g, n in zip(coords, grow, shape, strict=True)
    )
    dims = tuple(b.stop - b.start for b in box)
    local = tuple(c - b.start for c, b in zip(coords, box, strict=True))
    lit = np.zeros(dims, dtype=bool)
    lit[local] = True
    excess = np.zeros(dims)
    excess[local] = val
    return box, lit, excess


def find_roi(
    summed: ArrayLike,
    *,
    valid: ArrayLike | None = None,
    threshold: float = 0.05,
    pad_fraction: float = 0.25,
) -> ROI:
    """Box around the map-averaged Bragg peak, padded.

    The excess over the median is smoothed over 3 x 3 pixels; voxels above both
    ``threshold`` times its maximum and five times its Poisson noise are grouped into
    connected regions, and the box encloses the regions whose maximum reaches a fifth of
    the overall maximum (the peak and any strong side peak, not isolated noise; with
    many pixels, noise alone exceeds a small fraction of a weak peak).

    Parameters
    ----------
    summed : (angle, det_y, det_x) array_like
        Frames summed over several scan points.
    valid : (det_y, det_x) array_like of bool, optional
        Usable pixels (neither masked nor hot).
    threshold : float
        Fraction of the maximum smoothed excess that defines the peak's extent.
    pad_fraction : float
        Each side of the box is widened by this fraction of its size (at least one angle
        and two pixels), clipped to the data.

    Returns
    -------
    ROI
    """
    if not 0.0 < threshold < 1.0 or not pad_fraction >= 0.0:
        raise ParameterError(f"find_roi needs 0 < threshold < 1 and pad_fraction >= 0, got {threshold}, {pad_fraction}")
    s = np.asarray(summed, dtype=np.float64)
    ok = np.ones(s.shape[1:], dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    base = _masked_median(s, ok)
    noise = np.sqrt(max(base, 0.0) + 1.0) / 3.0  # Poisson noise of a 3 x 3 mean of the background
    peak, idx, val = _excess_above(s, base, ok, 5.0 * noise)
    if not peak > 5.0 * noise:
        raise ParameterError("no Bragg peak above the background in the summed frames")
    above = val > max(threshold * peak, 5.0 * noise)
    # label only the box around the voxels above threshold: the same regions, a far smaller volume
    box, above_box, excess_box = _dense_box(idx[above], val[above], s.shape)
    labels, n = ndimage.label(above_box, structure=np.ones((3, 3, 3)))
    lit = labels > 0
    maxima = np.full(n + 1, -np.inf)
    np.maximum.at(maxima, labels[lit], excess_box[lit])  # per-region maximum, over the thresholded voxels only
    keep = np.flatnonzero(maxima >= 0.2 * peak)
    kept = [k + b.start for k, b in zip(np.nonzero(np.isin(labels, keep)), box, strict=True)]
    core = [(int(i.min()), int(i.max()) + 1) for i in kept]
    bounds = []
    for (lo, hi), size, minimum in zip(core, s.shape, (1, 2, 2), strict=True):
        pad = max(minimum, int(np.ceil(pad_fraction * (hi - lo))))
        bounds.append((max(0, lo - pad), min(size, hi + pad)))
    # a peak that fills the frames and the rocking range: the padding is taken back, angles
    # first, until a valid voxel is left outside for the background (global_background)
    for axis in range(3):
        if (~ROI(*bounds).inside(s.shape) & ok[None]).any():
            break
        bounds[axis] = core[axis]
    return ROI(*bounds)


def global_background(summed: ArrayLike, *, n_points: int, roi: ROI, valid: ArrayLike | None = None) -> float:
    """Mean counts per pixel per frame outside the region of interest.

    Parameters
    ----------
    summed : (angle, det_y, det_x) array_like
        Frames summed over ``n_points`` scan points.
    n_points : int
        Number of points summed.
    roi : ROI
        Excluded region.
    valid : (det_y, det_x) array_like of bool, optional
        Usable pixels.

    Returns
    -------
    float
    """
    s = np.asarray(summed, dtype=np.float64)
    use = ~roi.inside(s.shape)
    if valid is not None:
        use &= np.asarray(valid, dtype=bool)[None]
    if not use.any():
        raise ParameterError("the region of interest covers every valid voxel: no background estimate possible")
    return float(s[use].mean() / n_points)


def frame_background(frames: ArrayLike, *, roi: ROI, valid: ArrayLike | None = None) -> NDArray[np.float64]:
    """Per-frame mean counts per pixel outside the region of interest's detector box.

    Parameters
    ----------
    frames : (angle, point, det_y, det_x) array_like
        Full frames.
    roi : ROI
        Its detector box is excluded (at every angle).
    valid : (det_y, det_x) array_like of bool, optional
        Usable pixels.

    Returns
    -------
    (angle, point) ndarray of float64
    """
    f = np.asarray(frames)
    use = np.ones(f.shape[2:], dtype=bool) if valid is None else np.asarray(valid, dtype=bool).copy()
    use[roi.slices[1:]] = False
    if not use.any():
        raise ParameterError("no valid pixel outside the region of interest: no per-frame background possible")
    return np.asarray(f[:, :, use].sum(-1, dtype=np.float64) / use.sum())


def _voxel_weights(
    q: NDArray[np.float64], eta: NDArray[np.float64], ok: NDArray[np.bool_]
) -> tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.float64], float]:
    """Per-voxel weights ``[q - q0, 1, eta - e0, (eta - e0)^2]`` (zero where not ``ok``).

    Returns
    -------
    w32 : (angle, voxels, 6) ndarray of float32
        The weights the frames are multiplied with.
    colsum : (angle, 6) ndarray of float64
        Their sum over the voxels of each angle (the weight of a flat background).
    q0 : (3,) ndarray
        Mean Q of the valid voxels, 1/Å.
    e0 : float
        Mean rocking angle, degrees.
    """
    n_a, ny, nx = ok.shape
    q0 = q[ok].mean(0)
    e0 = float(eta.mean())
    de = np.broadcast_to((eta - e0)[:, None, None], (n_a, ny, nx))
    w = np.concatenate([q - q0, np.ones((n_a, ny, nx, 1)), de[..., None], (de**2)[..., None]], axis=-1)
    w[~ok] = 0.0
    w32 = w.reshape(n_a, ny * nx, 6).astype(np.float32)
    return w32, w.reshape(n_a, ny * nx, 6).sum(1), q0, e0


def _angle_sums(
    frames: NDArray[np.generic], w32: NDArray[np.float32], colsum: NDArray[np.float64], background: Any
) -> NDArray[np.float64]:
    """Background-subtracted weighted sums of one rocking angle.

    ``frames`` (point, voxels) counts, ``w32`` (voxels, 6), ``colsum`` (6,), ``background``
    a number or (point,) counts per pixel -> (point, 6) float64.  The product runs in
    float32 (counts times q relative to its mean), the background correction in float64.
    """
    sums = (frames.astype(np.float32, copy=False) @ w32).astype(np.float64)
    b = np.asarray(background, dtype=np.float64)
    sums -= (b[:, None] if b.ndim else b) * colsum
    return sums


def _finish(sums: NDArray[np.float64], q0: NDArray[np.float64], e0: float) -> NDArray[np.float64]:
    """(..., 6) summed moments -> (..., 6) ``intensity, qx, qy, qz, rocking_com, rocking_width``."""
    intensity = sums[..., 3]
    with np.errstate(invalid="ignore", divide="ignore"):
        inv = np.where(intensity > 0, 1.0 / intensity, np.nan)
        qc = q0 + sums[..., :3] * inv[..., None]
        m1 = sums[..., 4] * inv
        var = sums[..., 5] * inv - m1**2
    width = np.sqrt(np.maximum(var, 0.0))
    return np.concatenate([intensity[..., None], qc, (e0 + m1)[..., None], width[..., None]], axis=-1)


def centre_of_mass(
    frames: ArrayLike,
    q: ArrayLike,
    *,
    eta_deg: ArrayLike,
    valid: ArrayLike | None = None,
    background: float | ArrayLike = 0.0,
) -> CentreOfMass:
    """3D centre of mass of Q for a block of scan points, without a q-space cube.

    Parameters
    ----------
    frames : (angle, point, det_y, det_x) array_like
        Counts already cropped to the region of interest (any real dtype; used as float32).
    q : (angle, det_y, det_x, 3) array_like
        Q of each voxel, same crop, 1/Å.
    eta_deg : (angle,) array_like
        Rocking angle of each frame.
    valid : (det_y, det_x) or (angle, det_y, det_x) array_like of bool, optional
        Voxels to use (False: masked or hot).
    background : float or (angle, point) array_like
        Counts per pixel per frame subtracted from every valid voxel.

    Returns
    -------
    CentreOfMass
        Points with zero or negative net intensity get NaN moments.
    """
    f = np.asarray(frames)
    qa = np.asarray(q, dtype=np.float64)
    n_a, n_p, ny, nx = f.shape
    if qa.shape != (n_a, ny, nx, 3):
        raise ParameterError(f"q has shape {qa.shape}, expected {(n_a, ny, nx, 3)} to match frames {f.shape}")
    eta = np.asarray(eta_deg, dtype=np.float64)
    if eta.shape != (n_a,):
        raise ParameterError(f"eta_deg has shape {eta.shape}, expected ({n_a},)")
    ok = np.ones((n_a, ny, nx), dtype=bool)
    if valid is not None:
        ok &= np.broadcast_to(np.asarray(valid, dtype=bool), (n_a, ny, nx))
    if not ok.any():
        raise ParameterError("no valid voxel in the region of interest")
    w32, colsum, q0, e0 = _voxel_weights(qa, eta, ok)
    b = np.asarray(background, dtype=np.float64)
    bg = np.broadcast_to(b, (n_a, n_p)) if b.ndim else np.full((n_a, n_p), float(b))
    sums = np.zeros((n_p, 6))
    for a in range(n_a):  # float32 products per angle, float64 accumulation over angles
        sums += _angle_sums(f[a].reshape(n_p, ny * nx), w32[a], colsum[a], bg[a])
    out = _finish(sums, q0, e0)
    return CentreOfMass(intensity=out[:, 0], q=out[:, 1:4], rocking_com_deg=out[:, 4], rocking_width_deg=out[:, 5])


BackgroundMode = Literal["global", "frame", "none"]


def survey_rows(row_chunks: tuple[int, ...], n_x: int, survey_points: int | None) -> NDArray[np.intp]:
    """Map rows whose frames are summed to find the region of interest, hot pixels and background.

    The rows needed for ``survey_points`` points are taken in runs, one from the middle of
    each of equal stretches of the map, and each run inside one of the map's chunks along
    y (``row_chunks``): lazy frames are then read a few whole chunks at most, and a chunk
    of more rows than needed is not read whole by a reader that reads rows (the Bliss one).

    Parameters
    ----------
    row_chunks : tuple of int
        Rows per chunk along the map's y axis (``(1,) * n_y`` for in-memory frames).
    n_x : int
        Points per row.
    survey_points : int or None
        Points wanted; None (or more than the map holds) takes every row.

    Returns
    -------
    ndarray of int
        Sorted row indices.

    Examples
    --------
    >>> survey_rows((1,) * 10, 5, 12).tolist()
    [1, 5, 8]
    >>> survey_rows((2, 2, 2, 2), 5, None).tolist()
    [0, 1, 2, 3, 4, 5, 6, 7]
    >>> survey_rows((3,) * 6 + (2,), 20, 64).tolist()  # 4 rows: two from each of two chunks
    [3, 4, 15, 16]
    """
    bounds = np.concatenate([[0], np.cumsum(row_chunks)]).astype(np.intp)
    n_chunks = len(row_chunks)
    if survey_points is None or bounds[-1] * n_x <= survey_points:
        return np.arange(bounds[-1], dtype=np.intp)
    if survey_points < 1:
        raise ParameterError(f"survey_points must be at least 1, got {survey_points}")
    rows_needed = int(np.ceil(survey_points / n_x))
    rows_per_chunk = bounds[-1] / n_chunks
    want = min(n_chunks, max(1, int(np.ceil(rows_needed / rows_per_chunk))))
    # the middle of each of ``want`` equal stretches of the map (its edges are often empty)
    picked = np.unique(((np.arange(want) + 0.5) * n_chunks / want).astype(np.intp))
    per_chunk = int(np.ceil(rows_needed / len(picked)))
    runs = []
    for k in picked:
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        take = min(hi - lo, per_chunk)
        start = lo + (hi - lo - take) // 2  # the middle of the chunk
        runs.append(np.arange(start, start + take))
    return np.concatenate(runs).astype(np.intp)


def _block_partials(
    frames: NDArray[np.generic],
    w32: NDArray[np.float32],
    colsum: NDArray[np.float64],
    *,
    crop: tuple[slice, slice],
    outside: NDArray[np.intp] | None,
    constant: float,
) -> NDArray[np.float64]:
    """Full frames (angle, y, x, det_y, det_x) of a block -> per-angle sums (angle, y, x, n)
    (``n``: the weights' columns).

    ``outside``: flat indices of the pixels whose mean is each frame's background (per-frame
    mode), or None to subtract ``constant``.
    """
    n_a, by, bx, dy, dx = frames.shape
    out = np.empty((n_a, by, bx, w32.shape[-1]))
    for a in range(n_a):
        full = frames[a].reshape(by * bx, dy, dx)
        roi = full[:, crop[0], crop[1]].reshape(by * bx, -1)
        bg: Any = constant
        if outside is not None:
            bg = full.reshape(by * bx, -1)[:, outside].sum(-1, dtype=np.float64) / outside.size
        out[a] = _angle_sums(roi, w32[a], colsum[a], bg).reshape(by, bx, -1)
    return out


def _region_angle_sums(
    a: int, frames: NDArray[Any], *, w32: NDArray[np.float32], colsum: NDArray[np.float64], constant: float
) -> NDArray[np.float64]:
    """Region frames ``(points, roi_det_y, roi_det_x)`` of the region's angle ``a`` -> (points, n)."""
    return _angle_sums(frames.reshape(len(frames), -1), w32[a], colsum[a], constant)


def _as_source(frames: ArrayLike | FrameSource) -> tuple[Any, Callable[..., Any], Callable[..., Any]]:
    """``(frames, survey, region_sums)`` of a frame source, or the plain ones of bare frames."""
    import dask.array as da

    if isinstance(frames, FrameSource):
        return frames.frames, frames.survey, frames.region_sums
    fr = frames if isinstance(frames, da.Array) else np.asarray(frames)
    return fr, partial(plain_survey, fr), partial(plain_region_sums, fr)


def _checked_inputs(
    fr: Any, q: ArrayLike | Callable[[ROI], ArrayLike], pixel_mask: ArrayLike | None
) -> tuple[NDArray[np.float64] | None, NDArray[np.bool_]]:
    """The full Q map (None when ``q`` is a callable) and the unmasked pixels, shapes checked."""
    if fr.ndim != 5:
        raise ParameterError(f"frames must be (angle, y, x, det_y, det_x), got shape {fr.shape}")
    n_a, _, _, dy, dx = fr.shape
    qa = None
    if not callable(q):
        qa = np.asarray(q, dtype=np.float64)
        if qa.shape != (n_a, dy, dx, 3):
            raise ParameterError(f"q has shape {qa.shape}, expected {(n_a, dy, dx, 3)}")
    valid = np.ones((dy, dx), dtype=bool) if pixel_mask is None else np.asarray(pixel_mask) == 0
    if valid.shape != (dy, dx):
        raise ParameterError(f"pixel_mask has shape {valid.shape}, expected {(dy, dx)}")
    return qa, valid


def _survey_sum(
    survey: Callable[..., Any], rows: NDArray[np.intp], shape: tuple[int, int, int], scheduler: Any
) -> NDArray[np.float64]:
    """The survey's summed frames ``(angle, det_y, det_x)``, shape checked."""
    summed = np.asarray(survey(rows, scheduler=scheduler), dtype=np.float64)
    if summed.shape != shape:
        raise ParameterError(f"survey gave sums of shape {summed.shape}, expected {shape}")
    return summed


def _background_constant(
    background: BackgroundMode | float,
    summed: NDArray[np.float64],
    *,
    n_points: int,
    roi: ROI,
    valid: NDArray[np.bool_],
) -> float:
    """Counts per pixel per frame subtracted everywhere (0 for the per-frame background)."""
    if background == "global":
        return global_background(summed, n_points=n_points, roi=roi, valid=valid)
    if background in ("none", "frame"):
        return 0.0
    if isinstance(background, str):
        raise ParameterError(f"background must be 'global', 'frame', 'none' or a number, got {background!r}")
    return float(background)


def _region_weights(
    q: ArrayLike | Callable[[ROI], ArrayLike],
    qa: NDArray[np.float64] | None,
    roi: ROI,
    eta: NDArray[np.float64],
    valid: NDArray[np.bool_],
) -> tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.float64], float]:
    """:func:`_voxel_weights` of the region of interest (its Q from ``q(roi)`` or cropped)."""
    sa, sy, sx = roi.slices
    e_roi = eta[sa]
    ok = np.broadcast_to(valid[sy, sx], (len(e_roi), *valid[sy, sx].shape))
    if not ok.any():
        raise ParameterError("no valid voxel in the region of interest")
    want = (len(e_roi), sy.stop - sy.start, sx.stop - sx.start, 3)
    if qa is not None:
        q_roi = qa[sa, sy, sx]
    else:
        assert callable(q)
        q_roi = np.asarray(q(roi), dtype=np.float64)
    if q_roi.shape != want:
        raise ParameterError(f"q of the region {roi} has shape {q_roi.shape}, expected {want}")
    return _voxel_weights(q_roi, e_roi, ok)


def _outside_pixels(valid: NDArray[np.bool_], roi: ROI) -> NDArray[np.intp]:
    """Flat indices of the valid pixels outside the region's detector box (per-frame background)."""
    use = valid.copy()
    use[roi.slices[1:]] = False
    if not use.any():
        raise ParameterError("no valid pixel outside the region of interest: no per-frame background possible")
    return np.flatnonzero(use)


def _sums_in_memory(
    fr: NDArray[Any],
    w32: NDArray[np.float32],
    colsum: NDArray[np.float64],
    *,
    roi: ROI,
    outside: NDArray[np.intp] | None,
    constant: float,
    points_per_block: int,
) -> NDArray[np.float64]:
    """(y, x, n) sums of in-memory frames, block of points by block of points."""
    _, ny, nx, _, _ = fr.shape
    sa, sy, sx = roi.slices
    sums = np.zeros((ny, nx, w32.shape[-1]))
    block_rows = max(1, points_per_block // nx)
    cols = min(nx, points_per_block)
    for y0 in range(0, ny, block_rows):
        for x0 in range(0, nx, cols):
            ys, xs = slice(y0, y0 + block_rows), slice(x0, x0 + cols)
            part = _block_partials(fr[sa, ys, xs], w32, colsum, crop=(sy, sx), outside=outside, constant=constant)
            sums[ys, xs] = part.sum(0)  # float64 accumulation over angles, in angle order
    return sums


def _lazy_sums_per_frame(
    fr: Any, w32: NDArray[np.float32], colsum: NDArray[np.float64], *, roi: ROI, outside: NDArray[np.intp]
) -> Any:
    """Lazy (y, x, n) sums with a background per frame and point (full frames are needed)."""
    import dask.array as da

    sa, sy, sx = roi.slices
    sub = fr[sa]
    w_d = da.from_array(w32, chunks=(sub.chunks[0], -1, -1))
    c_d = da.from_array(colsum, chunks=(sub.chunks[0], -1))
    parts = da.blockwise(
        partial(_block_partials, crop=(sy, sx), outside=outside, constant=0.0),
        "ayxc",
        sub,
        "ayxij",
        w_d,
        "akc",
        c_d,
        "ac",
        concatenate=True,
        dtype=np.float64,
        meta=np.empty((0, 0, 0, 0)),
    )
    return parts.sum(axis=0)


EDGE_FRACTION = 0.02
"""A side of the region's box that holds more than this fraction of a point's net counts
(and five times their Poisson noise) is crossed by the point's signal: the region cuts it."""

EDGE_SIDES = ("angle_low", "angle_high", "det_y_low", "det_y_high", "det_x_low", "det_x_high")
"""The sides of a region's box, in the order of the bits of ``roi_edge_sides`` (bit k = side k)."""


def side_widths(roi: ROI) -> tuple[int, int, int]:
    """Thickness of each side band of a region's box, ``(angles, det_y px, det_x px)``: a
    tenth of the box (at least one angle or two pixels, at most half of it).

    Examples
    --------
    >>> side_widths(ROI((10, 21), (232, 285), (234, 288)))
    (2, 6, 6)
    >>> side_widths(ROI((0, 3), (0, 3), (0, 40)))
    (1, 1, 4)
    """
    sizes = (roi.angles[1] - roi.angles[0], roi.det_y[1] - roi.det_y[0], roi.det_x[1] - roi.det_x[0])
    ta, ty, tx = (min(max(m, int(np.ceil(0.1 * n))), max(1, n // 2)) for n, m in zip(sizes, (1, 2, 2), strict=True))
    return ta, ty, tx


def signal_beyond(
    frames: ArrayLike,
    roi: ROI,
    *,
    valid: ArrayLike,
    background: float,
    row0: int = 0,
    angle0: int = 0,
    sigmas: float = 3.0,
    min_fraction: float = 0.005,
) -> bool:
    """Whether one point's signal reaches past a side of the region's box.

    Just outside each side of the box, a shell as thick as the side's band
    (:func:`side_widths`) and as wide as the box: its counts less ``background`` per valid
    voxel are the signal that leaves the box there. It does where they stand ``sigmas``
    Poisson standard deviations above nothing and hold more than ``min_fraction`` of the
    point's net counts in the box. A bright point's rocking tails fill a side band
    *inside* the box (:func:`reduce_kmap`'s edge check) without reaching past it; only
    where the signal goes on does the point need a region of its own.

    Parameters
    ----------
    frames : (angles, rows, det_x) array_like
        The point's counts, rocking angles ``angle0`` on and detector rows ``row0`` on;
        they must hold the box widened by its side widths along angles and rows, where
        the data have them (the shells are clipped to the frames given).
    roi : ROI
        The box, in detector coordinates.
    valid : (det_y, det_x) array_like of bool
        Usable pixels of the whole detector.
    background : float
        Counts per voxel not from the point's peak (the reduction's constant).
    row0, angle0 : int
        Detector row of ``frames[:, 0]`` and rocking angle of ``frames[0]``.
    sigmas, min_fraction : float
        Significance and size of a shell's net counts for the signal to leave the box.

    Returns
    -------
    bool

    Examples
    --------
    A peak centred in the box, and the same peak at the box's last angle:

    >>> roi = ROI((2, 7), (4, 12), (4, 12))
    >>> f = np.zeros((10, 16, 16)); f[4, 7:9, 7:9] = 500.0
    >>> ok = np.ones((16, 16), bool)
    >>> signal_beyond(f, roi, valid=ok, background=0.0)
    False
    >>> f[7, 7:9, 7:9] = 200.0
    >>> signal_beyond(f, roi, valid=ok, background=0.0)
    True
    """
    f = np.asarray(frames)
    ok = np.asarray(valid, dtype=bool)[row0 : row0 + f.shape[1], : f.shape[2]]
    spans = [[roi.angles[0] - angle0, roi.angles[1] - angle0], [roi.det_y[0] - row0, roi.det_y[1] - row0]]
    spans = [[max(0, lo), min(n, hi)] for (lo, hi), n in zip(spans, f.shape[:2], strict=True)] + [list(roi.det_x)]

    def net(box: list[list[int]]) -> tuple[float, float]:
        (a0, a1), (y0, y1), (x0, x1) = box
        if a1 <= a0 or y1 <= y0 or x1 <= x0:
            return 0.0, 0.0
        use = ok[y0:y1, x0:x1]
        counts = float(f[a0:a1, y0:y1, x0:x1][:, use].sum(dtype=np.float64))
        return counts - background * (a1 - a0) * int(use.sum()), counts

    total = net(spans)[0]
    for axis, t in enumerate(side_widths(roi)):
        lo, hi = spans[axis]
        for shell in ((max(0, lo - t), lo), (hi, min(f.shape[axis], hi + t))):
            box = [list(s) for s in spans]
            box[axis] = list(shell)
            excess, counts = net(box)
            if excess > sigmas * np.sqrt(max(counts, 0.0) + 1.0) and excess > min_fraction * max(total, 0.0):
                return True
    return False


def _edge_weights(roi: ROI, shape: tuple[int, int, int], ok: NDArray[np.bool_]) -> NDArray[np.float64]:
    """``(roi angles, voxels, 6)`` 0/1 weights of the six sides of the region's box.

    A side is a band of :func:`side_widths`; a side at the data's limit (first or last
    angle, detector edge) has none, as there is nothing beyond it to widen to. Invalid
    voxels (``ok`` False) weigh nothing.
    """
    sizes = tuple(hi - lo for lo, hi in (roi.angles, roi.det_y, roi.det_x))
    lows = (roi.angles[0], roi.det_y[0], roi.det_x[0])
    highs = (roi.angles[1], roi.det_y[1], roi.det_x[1])
    box = np.zeros((6, *sizes))
    for axis, t in enumerate(side_widths(roi)):
        lo: list[slice] = [slice(None)] * 3
        hi: list[slice] = [slice(None)] * 3
        lo[axis], hi[axis] = slice(0, t), slice(sizes[axis] - t, None)
        if lows[axis] > 0:
            box[2 * axis][tuple(lo)] = 1.0
        if highs[axis] < shape[axis]:
            box[2 * axis + 1][tuple(hi)] = 1.0
    box *= np.broadcast_to(ok, sizes)
    return np.moveaxis(box, 0, -1).reshape(sizes[0], -1, 6)


def _edge_sides(
    sums: NDArray[np.float64], counts: NDArray[np.float64], level: float, residual: float
) -> NDArray[np.float64]:
    """Bit mask (float) of the sides of the box that a point's signal crosses.

    ``sums`` (..., 12): the six moments' sums then the six sides' net counts; ``counts``
    (12,): the valid voxels of each column; ``level``: background counts per voxel (for
    the noise); ``residual``: background per voxel still in the net counts (the survey's
    level where none or less was subtracted).
    """
    total = sums[..., 3] - residual * counts[3]
    side = sums[..., 6:12] - residual * counts[6:12]
    noise = np.sqrt(np.maximum(side, 0.0) + max(level, 0.0) * counts[6:12] + 1.0)
    with np.errstate(invalid="ignore"):
        hit = (side > EDGE_FRACTION * total[..., None]) & (side > 5.0 * noise) & (total[..., None] > 0)
    return np.asarray((hit * (1 << np.arange(6))).sum(-1), dtype=np.float64)


def _finish_edges(
    sums: NDArray[np.float64],
    q0: NDArray[np.float64],
    e0: float,
    counts: NDArray[np.float64],
    level: float,
    residual: float,
) -> NDArray[np.float64]:
    """(..., 12) sums -> (..., 7): :func:`_finish`'s six moments and :func:`_edge_sides`."""
    edges = _edge_sides(sums, counts, level, residual)
    return np.concatenate([_finish(sums[..., :6], q0, e0), edges[..., None]], axis=-1)


def _noise_level(
    background: BackgroundMode | float,
    constant: float,
    summed: NDArray[np.float64],
    *,
    n_points: int,
    roi: ROI,
    valid: NDArray[np.bool_],
) -> tuple[float, float]:
    """``(level, residual)`` of :func:`_edge_sides`: the survey's background per voxel, and
    what of it the reduction leaves in the net counts."""
    if background == "global":  # the constant subtracted is the survey's level
        return constant, 0.0
    try:
        level = global_background(summed, n_points=n_points, roi=roi, valid=valid)
    except ParameterError:  # the box covers every valid voxel: only the subtracted constant is known
        level = constant
    return level, (0.0 if background == "frame" else level - constant)


def _settings(
    roi: ROI,
    background: BackgroundMode | float,
    constant: float,
    hot: NDArray[np.bool_],
    valid: NDArray[np.bool_],
    n_surveyed: int,
) -> dict[str, object]:
    return {
        "roi_angles": list(roi.angles),
        "roi_det_y": list(roi.det_y),
        "roi_det_x": list(roi.det_x),
        "background": background if isinstance(background, str) else float(background),
        "background_counts_per_pixel": constant,
        "hot_pixels": int(hot.sum()),
        "masked_pixels": int((~valid).sum()),
        "survey_points": n_surveyed,
        "estimator": "raw-voxel centre of mass, sum((I-b) q) / sum(I-b), no q-space binning",
    }


def reduce_kmap(
    frames: ArrayLike | FrameSource,
    q: ArrayLike | Callable[[ROI], ArrayLike],
    *,
    eta_deg: ArrayLike,
    pixel_mask: ArrayLike | None = None,
    roi: ROI | None = None,
    background: BackgroundMode | float = "global",
    hot_pixel_threshold: float | None = 8.0,
    points_per_block: int = 64,
    survey_points: int | None = None,
    scheduler: Any = None,
) -> tuple[dict[str, NDArray[np.float64]], dict[str, object]]:
    """Reduce a whole K-map to per-point moments (see :func:`centre_of_mass`).

    Two passes over the frames: a survey (the frames of some or all points summed, for the
    region of interest, the hot pixels and the global background), then the moments from
    the region's rocking angles only.  The second pass works frame block by frame block:
    each block (one rocking angle, a run of points) becomes ``(points, 6)`` float64 sums,
    summed over angles at the end, so memory holds a few blocks whatever the map size.

    Parameters
    ----------
    frames : (angle, y, x, det_y, det_x) ndarray or dask array, or FrameSource
        Counts, or a frame source (:class:`operando.sxdm.FrameSource`, e.g. from
        :func:`operando.sxdm.open_kmap`) whose ``survey`` gives the first pass and whose
        ``region_sums`` the second (unless the background is per frame: then its full
        frames are read). A dask array (or a source's) is reduced lazily once the survey
        sum has been computed; its chunks along angle and points are kept (one task per
        chunk).
    q : (angle, det_y, det_x, 3) array_like, or callable
        Pixel -> Q map of every rocking angle, 1/Å; or ``q(roi)`` -> the same for the
        region of interest only, ``(roi angles, roi det_y, roi det_x, 3)`` (saves
        computing Q for pixels that are never used).
    eta_deg : (angle,) array_like
        Rocking angles.
    pixel_mask : (det_y, det_x) array_like, optional
        Detector mask, nonzero = bad pixel (the Bliss convention).
    roi : ROI, optional
        Region of interest; by default :func:`find_roi` on the survey sum.
    background : {"global", "frame", "none"} or float
        ``"global"``: one constant per pixel and frame from the survey sum outside the
        region of interest; ``"frame"``: per frame and point, outside the region's
        detector box; a number: that constant.
    hot_pixel_threshold : float or None
        See :func:`find_hot_pixels`; None keeps all unmasked pixels.
    points_per_block : int
        Scan points per block for in-memory frames (whole map rows when rows are shorter).
    survey_points : int or None
        Points in the survey: whole blocks of rows evenly spread over the map
        (:func:`survey_rows`); None surveys every point.  A few hundred points give the
        region, hot pixels and background of a map whose crystal spans many rows; a
        feature confined to rows between the surveyed ones can fall outside the region.
    scheduler : optional
        Where the survey of lazy frames is computed (passed to ``compute``); None: Dask's
        own choice.

    Returns
    -------
    moments : dict of (y, x) arrays
        ``intensity``, ``qx``, ``qy``, ``qz``, ``rocking_com``, ``rocking_width``, and
        ``roi_edge_sides``: a bit mask (as float) of the sides of the region's box
        (:data:`EDGE_SIDES`) that the point's signal crosses (a side holding more than
        :data:`EDGE_FRACTION` of its net counts, at five sigma), 0 where the region holds
        it (NumPy
        or lazy dask, following the input; compute lazy ones together, inside
        :func:`operando.parallel.single_threaded_blas` for results that do not depend on
        the BLAS thread count).
    settings : dict
        The resolved region of interest, background, hot pixels, mask counts and survey.
    """
    import dask.array as da

    fr, survey, region_sums = _as_source(frames)
    lazy = isinstance(fr, da.Array)
    qa, valid = _checked_inputs(fr, q, pixel_mask)
    n_a, ny, nx, dy, dx = fr.shape
    eta = np.asarray(eta_deg, dtype=np.float64)
    if lazy:
        fr = fr.rechunk({3: -1, 4: -1})
    rows = survey_rows(fr.chunks[1] if lazy else (1,) * ny, nx, survey_points)
    summed = _survey_sum(survey, rows, (n_a, dy, dx), scheduler)
    hot = np.zeros_like(valid)
    if hot_pixel_threshold is not None:
        hot = find_hot_pixels(summed, threshold=hot_pixel_threshold) & valid
    valid = valid & ~hot
    if roi is None:
        roi = find_roi(summed, valid=valid)
    constant = _background_constant(background, summed, n_points=len(rows) * nx, roi=roi, valid=valid)
    w32, colsum, q0, e0 = _region_weights(q, qa, roi, eta, valid)
    # six more columns: the net counts in each side of the box, to tell where signal leaves it
    edge = _edge_weights(roi, (n_a, dy, dx), valid[roi.slices[1:]])
    w32 = np.concatenate([w32, edge.astype(np.float32)], axis=-1)
    colsum = np.concatenate([colsum, edge.sum(1)], axis=-1)
    level, residual = _noise_level(background, constant, summed, n_points=len(rows) * nx, roi=roi, valid=valid)
    finish = partial(_finish_edges, q0=q0, e0=e0, counts=colsum.sum(0), level=level, residual=residual)
    n_sums = w32.shape[-1]
    outside = _outside_pixels(valid, roi) if background == "frame" else None
    if not lazy:
        sums = _sums_in_memory(
            fr, w32, colsum, roi=roi, outside=outside, constant=constant, points_per_block=points_per_block
        )
        out = finish(sums)
    else:
        if outside is not None:
            lazy_sums = _lazy_sums_per_frame(fr, w32, colsum, roi=roi, outside=outside)
        else:
            angle_sums = partial(_region_angle_sums, w32=w32, colsum=colsum, constant=constant)
            lazy_sums = region_sums(roi, angle_sums, n_sums=n_sums)
            if lazy_sums.shape != (ny, nx, n_sums):
                raise ParameterError(f"region_sums gave sums of shape {lazy_sums.shape}, expected {(ny, nx, n_sums)}")
        lazy_sums = lazy_sums.rechunk({2: -1})
        out = lazy_sums.map_blocks(finish, dtype=np.float64, chunks=(*lazy_sums.chunks[:2], (7,)))
    names = ("intensity", "qx", "qy", "qz", "rocking_com", "rocking_width", "roi_edge_sides")
    moments = {name: out[..., i] for i, name in enumerate(names)}
    return moments, _settings(roi, background, constant, hot, valid, int(len(rows) * nx))
