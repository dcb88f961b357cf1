"""Sample drift between rocking angles: measured by phase cross-correlation, undone by
shifting each angle's scan-point grid before the angles are combined.

During a K-map the sample (or the beam) drifts by a fraction of a scan step from one
rocking angle to the next, so the frame taken at grid point ``(y, x)`` and angle ``a``
shows the crystal at ``(y, x) + d_a``. The per-angle intensity maps (frames summed over
the detector) are registered to the brightest angle with sub-pixel phase
cross-correlation (:func:`skimage.registration.phase_cross_correlation`, upsampled DFT);
angles with too little diffracted signal to register take the drift interpolated
(along the angle index) from their neighbours. Drifts are reported relative to the
middle angle of the rocking scan, whose grid the corrected map keeps.

The correction shifts each angle's frames over the scan grid by bilinear interpolation
(``corrected_a(p) = frames_a(p - d_a)``, positions clamped at the map edges), so a
sub-step shift mixes neighbouring points as a larger beam footprint would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from operando.errors import ParameterError

__all__ = ["Drift", "drift_consistency", "estimate_drift", "intensity_maps", "register_maps", "shift_frames"]


@dataclass(frozen=True)
class Drift:
    """Drift of each rocking angle relative to the middle one.

    Attributes
    ----------
    shifts : (angle, 2) ndarray
        (y, x) drift in scan points: angle ``a`` at grid point ``p`` saw ``p + shifts[a]``
        of the middle angle's grid.
    measured : (angle,) ndarray of bool
        True where the shift was measured, False where it was interpolated (too little
        signal to register).
    error : (angle,) ndarray
        Normalised registration error of skimage (NaN where not measured).
    reference : int
        Angle the maps were registered to (the brightest).
    weights : (angle,) ndarray
        Net diffracted counts of each angle's map.
    closure : float
        Weighted RMS (scan points, per axis) by which direct registrations between pairs
        of measured angles miss the difference of their shifts to the reference (NaN
        when not checked): a drift is one displacement per angle, so the registrations
        close; the tilt contrast of a mosaic crystal (other domains lit at each angle)
        does not.
    """

    shifts: NDArray[np.float64]
    measured: NDArray[np.bool_]
    error: NDArray[np.float64]
    reference: int
    weights: NDArray[np.float64]
    closure: float = float("nan")


def intensity_maps(frames: Any, *, pixel_mask: ArrayLike | None = None) -> Any:
    """Counts per scan point and angle over the valid detector pixels.

    Parameters
    ----------
    frames : (angle, y, x, det_y, det_x) ndarray or dask array
    pixel_mask : (det_y, det_x) array_like, optional
        Nonzero = bad pixel (excluded).

    Returns
    -------
    (angle, y, x) ndarray or dask array of float64
    """
    import dask.array as da

    if frames.ndim != 5:
        raise ParameterError(f"frames must be (angle, y, x, det_y, det_x), got shape {frames.shape}")
    valid = np.ones(frames.shape[3:], dtype=bool) if pixel_mask is None else np.asarray(pixel_mask) == 0
    if valid.shape != tuple(frames.shape[3:]):
        raise ParameterError(f"pixel_mask has shape {valid.shape}, expected {tuple(frames.shape[3:])}")
    if isinstance(frames, da.Array):
        f = frames.rechunk({3: -1, 4: -1})
        return f.map_blocks(
            lambda b: b[..., valid].sum(-1, dtype=np.float64),
            drop_axis=[3, 4],
            dtype=np.float64,
            meta=np.empty((0, 0, 0)),
        )
    return np.asarray(frames)[..., valid].sum(-1, dtype=np.float64)


def register_maps(
    maps: ArrayLike,
    *,
    upsample_factor: int = 100,
    min_fraction: float = 0.2,
    max_pairs_angles: int = 12,
) -> Drift:
    """Drift of each angle from its intensity map, relative to the middle angle.

    Parameters
    ----------
    maps : (angle, y, x) array_like
        Intensity maps (see :func:`intensity_maps`); each map's median is taken as its
        background and removed.
    upsample_factor : int
        Sub-pixel precision ``1 / upsample_factor`` scan points.
    min_fraction : float
        Angles whose net counts are below this fraction of the brightest angle's are not
        registered; their drift is interpolated along the angle index.
    max_pairs_angles : int
        The brightest measured angles whose pairs are registered to each other for the
        closure check (:attr:`Drift.closure`).

    Returns
    -------
    Drift

    Examples
    --------
    >>> yy, xx = np.mgrid[0:32, 0:32]
    >>> blob = lambda y, x: np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 20.0)
    >>> d = register_maps(np.stack([blob(15, 15), blob(16, 16), blob(17.5, 15)]))
    >>> np.round(d.shifts, 2).tolist()
    [[1.0, 1.0], [0.0, 0.0], [-1.5, 1.0]]
    """
    from skimage.registration import phase_cross_correlation

    m = np.asarray(maps, dtype=np.float64)
    if m.ndim != 3 or m.shape[0] < 1 or min(m.shape[1:]) < 2:
        raise ParameterError(f"maps must be (angle, y, x) with at least 2 x 2 points, got shape {m.shape}")
    n_a = m.shape[0]
    net = m - np.median(m.reshape(n_a, -1), axis=1)[:, None, None]
    weights = np.clip(net, 0.0, None).sum((1, 2))
    ref = int(np.argmax(weights))
    if not weights[ref] > 0:
        raise ParameterError("no angle's intensity map has signal above its median: nothing to register")
    measured = weights >= min_fraction * weights[ref]
    raw = np.full((n_a, 2), np.nan)
    error = np.full(n_a, np.nan)
    for a in np.flatnonzero(measured):
        if a == ref:
            raw[a], error[a] = 0.0, 0.0
            continue
        shift, err, _ = phase_cross_correlation(net[ref], net[a], upsample_factor=upsample_factor, normalization=None)
        # shift registers map a onto the reference: map_a(p - shift) = ref(p), so angle a
        # saw ``p + shift`` of the reference angle's grid
        raw[a], error[a] = shift, err
    idx = np.arange(n_a)
    known = np.flatnonzero(measured)
    shifts = np.column_stack([np.interp(idx, known, raw[known, k]) for k in range(2)])
    shifts -= shifts[n_a // 2]
    closure = _closure(
        net, raw, weights, known, upsample_factor=min(int(upsample_factor), 20), max_angles=max_pairs_angles
    )
    return Drift(shifts=shifts, measured=measured, error=error, reference=ref, weights=weights, closure=closure)


def _closure(
    net: NDArray[np.float64],
    raw: NDArray[np.float64],
    weights: NDArray[np.float64],
    known: NDArray[np.intp],
    *,
    upsample_factor: int,
    max_angles: int,
) -> float:
    """Weighted RMS (points, per axis) of ``register(a -> b) - (raw[a] - raw[b])`` over pairs
    of the ``max_angles`` brightest measured angles (each pair weighted by its weaker map);
    NaN with fewer than three."""
    from skimage.registration import phase_cross_correlation

    use = known[np.argsort(weights[known])[::-1][:max_angles]]
    if use.size < 3:
        return float("nan")
    miss, wts = [], []
    for i, a in enumerate(use):
        for b in use[i + 1 :]:
            s_ab, _, _ = phase_cross_correlation(net[b], net[a], upsample_factor=upsample_factor, normalization=None)
            miss.append(float(np.sum((s_ab - (raw[a] - raw[b])) ** 2)))
            wts.append(float(min(weights[a], weights[b])))
    w = np.asarray(wts)
    return float(np.sqrt(np.sum(w * np.asarray(miss)) / w.sum() / 2.0))


def estimate_drift(
    frames: Any,
    *,
    pixel_mask: ArrayLike | None = None,
    upsample_factor: int = 100,
    min_fraction: float = 0.2,
) -> Drift:
    """Drift of each rocking angle of a K-map (one pass over the frames).

    Parameters
    ----------
    frames : (angle, y, x, det_y, det_x) ndarray or dask array
    pixel_mask : (det_y, det_x) array_like, optional
        Nonzero = bad pixel.
    upsample_factor, min_fraction
        See :func:`register_maps`.

    Returns
    -------
    Drift
    """
    maps = intensity_maps(frames, pixel_mask=pixel_mask)
    maps = np.asarray(maps.compute() if hasattr(maps, "compute") else maps)
    return register_maps(maps, upsample_factor=upsample_factor, min_fraction=min_fraction)


def _shift_axis(arr: Any, axis: int, shift: float, xp: Any) -> Any:
    """``out[i] = arr[i - shift]`` along ``axis``, linear interpolation, edges clamped."""
    n = arr.shape[axis]
    src = -float(shift)
    k = int(np.floor(src))
    f = src - k
    if f < 1e-9:
        f, parts = 0.0, [(k, 1.0)]
    else:
        parts = [(k, 1.0 - f), (k + 1, f)]
    pad = max(abs(k), abs(k + 1)) if parts else 0
    width = [(0, 0)] * arr.ndim
    width[axis] = (pad, pad)
    padded = xp.pad(arr, width, mode="edge") if pad else arr
    out = None
    for off, w in parts:
        sl = [slice(None)] * arr.ndim
        sl[axis] = slice(pad + off, pad + off + n)
        term = padded[tuple(sl)] * np.float32(w) if w != 1.0 else padded[tuple(sl)]
        out = term if out is None else out + term
    return out


def shift_frames(frames: Any, shifts: ArrayLike) -> Any:
    """Undo a per-angle drift: shift each angle's frames over the scan grid.

    Parameters
    ----------
    frames : (angle, y, x, det_y, det_x) ndarray or dask array
        Counts.
    shifts : (angle, 2) array_like
        (y, x) drift in scan points (:attr:`Drift.shifts`).

    Returns
    -------
    (angle, y, x, det_y, det_x) float32 ndarray or dask array
        ``out[a, p] = frames[a, p - shifts[a]]``, bilinear, positions clamped to the map.
    """
    import dask.array as da

    s = np.asarray(shifts, dtype=np.float64)
    if frames.ndim != 5 or s.shape != (frames.shape[0], 2):
        raise ParameterError(f"shifts must be (angle, 2) for frames (angle, y, x, det_y, det_x), got {s.shape}")
    if not np.isfinite(s).all():
        raise ParameterError("shifts must be finite")
    if isinstance(frames, da.Array):
        # one task per chunk: each chunk sees enough neighbouring rows and columns
        # (map edges repeated) to be shifted on its own
        reach = [int(np.ceil(np.abs(s[:, k]).max())) + 1 for k in range(2)]
        depth = {0: 0, 1: min(reach[0], frames.shape[1]), 2: min(reach[1], frames.shape[2]), 3: 0, 4: 0}
        # whole rows, and several of them, so that the halo is a small part of each chunk
        rows = min(frames.shape[1], max(4 * depth[1], max(frames.chunks[1])))
        frames = frames.rechunk({0: 1, 1: rows, 2: -1})
        return frames.map_overlap(
            _shift_block,
            depth=depth,
            boundary="nearest",
            shifts=s,
            dtype=np.float32,
            meta=np.empty((0,) * 5, dtype=np.float32),
        )
    return _shift_block(np.asarray(frames), shifts=s, block_info={0: {"array-location": [(0, frames.shape[0])]}})


def _shift_block(block: Any, *, shifts: NDArray[np.float64], block_info: Any = None) -> NDArray[np.float32]:
    """Shift every angle of a (angle, y, x, det_y, det_x) block; the block's first angle
    index comes from dask's ``block_info``."""
    a0 = int(block_info[0]["array-location"][0][0]) if block_info else 0
    out = np.empty(block.shape, dtype=np.float32)
    for i in range(block.shape[0]):
        f = block[i].astype(np.float32)
        f = _shift_axis(f, 0, shifts[a0 + i, 0], np)
        out[i] = _shift_axis(f, 1, shifts[a0 + i, 1], np)
    return out


def drift_consistency(drift: Drift, *, degree: int = 2) -> float:
    """How far the measured shifts stray from a drift that is smooth in time.

    A sample drifts slowly: over one rocking scan its drift is a low-order function of
    the angle index (time). In a mosaic crystal the angles light up different tilt
    domains, and registering their intensity maps finds "shifts" that follow the domains,
    not time: up to 3.4 points, jumping between neighbouring angles, in a drift-free crystal
    with 0.03 deg domains. The weighted RMS residual of the measured shifts about a
    polynomial of ``degree`` in the angle index tells the two apart, and where the
    registrations were checked against each other (:attr:`Drift.closure`) the larger of
    the two is returned: domains lit over a few neighbouring angles can also give shifts
    that are smooth in the angle index (0.02 deg domains: residual 0.01-0.05 point, but
    closure 0.22-0.50 and shifts 0.3-0.7 point off in a drift-free crystal), while a
    flat crystal's drift closes to 0.01-0.03 point.

    Parameters
    ----------
    drift : Drift
        From :func:`register_maps`.
    degree : int
        Degree of the smooth drift model.

    Returns
    -------
    float
        RMS residual in scan points (weighted by each angle's net counts), or the closure
        if larger; NaN when fewer than ``degree + 2`` angles were measured (nothing to
        check against).

    Examples
    --------
    >>> a = np.arange(9.0)
    >>> smooth = Drift(np.column_stack([0.1 * a, 0.02 * a**2]), np.ones(9, bool), np.zeros(9), 4, np.ones(9))
    >>> round(drift_consistency(smooth), 6)
    0.0
    >>> jumpy = Drift(np.column_stack([np.where(a < 4, 3.0, 0.0), 0 * a]), np.ones(9, bool), np.zeros(9), 4, np.ones(9))
    >>> drift_consistency(jumpy) > 0.5
    True
    """
    idx = np.flatnonzero(drift.measured)
    if idx.size < degree + 2:
        return float("nan")
    w = np.sqrt(np.clip(drift.weights[idx], 0.0, None))
    x = (idx - idx.mean()) / max(1.0, float(np.ptp(idx)))
    basis = np.vander(x, degree + 1) * w[:, None]
    resid = []
    for k in range(2):
        y = drift.shifts[idx, k] * w
        coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
        resid.append((y - basis @ coef) / np.where(w > 0, w, 1.0))
    r = np.stack(resid, -1)
    ww = drift.weights[idx]
    smooth = float(np.sqrt(np.sum(ww[:, None] * r**2) / (2 * ww.sum())))
    return max(smooth, drift.closure) if np.isfinite(drift.closure) else smooth
