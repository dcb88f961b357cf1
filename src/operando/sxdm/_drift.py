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

In a mosaic crystal each angle lights other tilt domains, so the intensity maps change
with angle without any drift; :func:`register_spot_maps` (opt-in, ``estimate_drift(...,
spot=True)``) registers instead where each point's Bragg spot falls on the detector, a
property of the point, from per-point detector moments taken in the same single pass
(:func:`detector_moments`).

The correction shifts each angle's frames over the scan grid by bilinear interpolation
(``corrected_a(p) = frames_a(p - d_a)``, positions clamped at the map edges), so a
sub-step shift mixes neighbouring points as a larger beam footprint would.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from operando.errors import ParameterError

__all__ = [
    "MOMENTS",
    "Drift",
    "detector_moments",
    "drift_consistency",
    "estimate_drift",
    "intensity_maps",
    "register_maps",
    "register_spot_maps",
    "shift_frames",
]


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
    method : str
        What was registered: ``"intensity"`` (maps of counts, :func:`register_maps`) or
        ``"spot"`` (maps of where the Bragg spot falls on the detector,
        :func:`register_spot_maps`).
    """

    shifts: NDArray[np.float64]
    measured: NDArray[np.bool_]
    error: NDArray[np.float64]
    reference: int
    weights: NDArray[np.float64]
    closure: float = float("nan")
    method: str = "intensity"


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


#: per frame, the sums :func:`detector_moments` returns, in this order
MOMENTS = ("intensity", "net", "row", "col", "counts", "row2", "col2")


def _survey_window(frames: Any, valid: NDArray[np.bool_], survey_points: int) -> tuple[Any, NDArray[np.bool_], float]:
    """Detector box around the Bragg peak, hot pixels and background (counts per pixel per
    frame), from the frames of a few map rows summed (:func:`operando.sxdm.plain_survey`)."""
    from operando.sxdm._reduce import find_hot_pixels, find_roi, global_background, survey_rows
    from operando.sxdm._source import plain_survey

    row_chunks = tuple(frames.chunks[1]) if hasattr(frames, "chunks") else (1,) * frames.shape[1]
    rows = survey_rows(row_chunks, frames.shape[2], survey_points)
    summed = plain_survey(frames, rows)
    summed[:, ~valid] = 0.0
    ok = valid & ~find_hot_pixels(summed)
    roi = find_roi(summed, valid=ok)
    background = global_background(summed, n_points=len(rows) * frames.shape[2], roi=roi, valid=ok)
    return roi, ok, background


def _moment_block(block: Any, *, valid: NDArray[np.bool_], window: NDArray[np.intp], basis: NDArray[np.float64]) -> Any:
    """Per-frame sums of a (..., det_y, det_x) block: valid total, then ``basis`` over the
    window's pixels (counts, row, col, row^2, col^2)."""
    flat = block.reshape(*block.shape[:-2], -1)
    total = flat[..., valid.reshape(-1)].sum(-1, dtype=np.float64)
    win = flat[..., window].astype(np.float64) @ basis
    return np.concatenate([total[..., None], win], axis=-1)


def detector_moments(
    frames: Any, *, pixel_mask: ArrayLike | None = None, survey_points: int = 64
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per scan point and angle: counts, and where on the detector the Bragg spot falls.

    One pass over the frames (after a survey of a few map rows that finds the detector box
    around the peak, the hot pixels and the background): the counts over all valid pixels
    (:func:`intensity_maps`), and over the box's valid pixels the background-subtracted
    counts and first moments (row, column), with the raw counts and second moments that
    give the moments' Poisson noise.

    Parameters
    ----------
    frames : (angle, y, x, det_y, det_x) ndarray or dask array
    pixel_mask : (det_y, det_x) array_like, optional
        Nonzero = bad pixel.
    survey_points : int
        Scan points whose frames are summed to find the box.

    Returns
    -------
    moments : (7, angle, y, x) ndarray of float64
        :data:`MOMENTS`: total valid counts; net counts in the box; net row and column
        moments (pixels from the box centre, times counts); raw counts, row^2 and col^2
        moments in the box.
    box : (4,) ndarray
        ``det_y0, det_y1, det_x0, det_x1`` of the box (half-open, pixels).
    """
    import dask.array as da

    if frames.ndim != 5:
        raise ParameterError(f"frames must be (angle, y, x, det_y, det_x), got shape {frames.shape}")
    shape = tuple(frames.shape[3:])
    valid = np.ones(shape, dtype=bool) if pixel_mask is None else np.asarray(pixel_mask) == 0
    if valid.shape != shape:
        raise ParameterError(f"pixel_mask has shape {valid.shape}, expected {shape}")
    roi, ok, background = _survey_window(frames, valid, survey_points)
    (y0, y1), (x0, x1) = roi.det_y, roi.det_x
    inside = np.zeros(shape, dtype=bool)
    inside[y0:y1, x0:x1] = True
    window = np.flatnonzero(inside & ok)
    rr, cc = np.divmod(window, shape[1])
    r = rr - (y0 + y1 - 1) / 2.0
    c = cc - (x0 + x1 - 1) / 2.0
    basis = np.column_stack([np.ones_like(r), r, c, r * r, c * c])
    fn = partial(_moment_block, valid=valid, window=window, basis=basis)
    if isinstance(frames, da.Array):
        f = frames.rechunk({3: -1, 4: -1})
        out = f.map_blocks(
            fn, drop_axis=[3, 4], new_axis=[3], chunks=(*f.chunks[:3], (6,)), dtype=np.float64,
            meta=np.empty((0, 0, 0, 0)),
        ).compute()  # fmt: skip
    else:
        out = fn(np.asarray(frames))
    out = np.moveaxis(np.asarray(out, dtype=np.float64), -1, 0)
    total, counts, row, col, row2, col2 = out
    net = counts - background * window.size
    moments = np.stack([total, net, row - background * r.sum(), col - background * c.sum(), counts, row2, col2])
    return moments, np.array([y0, y1, x0, x1], dtype=np.float64)


def _bilinear(m: NDArray[np.float64], pad: int, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``out[..., p] = m[..., p + x]`` for ``m`` zero-padded by ``pad`` on both map axes,
    bilinear (a sub-step drift mixes neighbouring points' frames in the same way)."""
    ny, nx = m.shape[-2] - 2 * pad, m.shape[-1] - 2 * pad
    ky, kx = int(np.floor(x[0])), int(np.floor(x[1]))
    fy, fx = x[0] - ky, x[1] - kx
    y0, x0 = pad + ky, pad + kx
    a = m[..., y0 : y0 + ny, x0 : x0 + nx]
    b = m[..., y0 : y0 + ny, x0 + 1 : x0 + 1 + nx]
    c = m[..., y0 + 1 : y0 + 1 + ny, x0 : x0 + nx]
    d = m[..., y0 + 1 : y0 + 1 + ny, x0 + 1 : x0 + 1 + nx]
    return (1 - fy) * ((1 - fx) * a + fx * b) + fy * ((1 - fx) * c + fx * d)


def _spot(m: NDArray[np.float64], floor: float) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Spot position (row, col) of each point from its moments (net, row, col, counts,
    row2, col2), its variance (pixels^2, Poisson), and the points lit above ``floor``."""
    net, row, col, counts, row2, col2 = m
    lit = net > floor
    n = np.where(lit, net, 1.0)
    pos = np.stack([row / n, col / n])
    var = (row2 - 2 * pos[0] * row + pos[0] ** 2 * counts + col2 - 2 * pos[1] * col + pos[1] ** 2 * counts) / n**2
    return pos, np.where(lit, np.maximum(var, 1e-6), np.inf), lit


def _jumps(pos: NDArray[np.float64], lit: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Largest step (pixels) of the spot position to a lit 4-neighbour: a domain boundary."""
    out = np.zeros(lit.shape)
    for ax in (0, 1):
        step = np.abs(np.diff(pos, axis=ax + 1)).max(0)
        both = lit.take(range(1, lit.shape[ax]), ax) & lit.take(range(lit.shape[ax] - 1), ax)
        step = np.where(both, step, 0.0)
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[ax], hi[ax] = slice(0, -1), slice(1, None)
        out[tuple(lo)] = np.maximum(out[tuple(lo)], step)
        out[tuple(hi)] = np.maximum(out[tuple(hi)], step)
    return out


def _pair_cost(
    fixed: tuple[Any, ...],
    moving: NDArray[np.float64],
    pad: int,
    x: NDArray[np.float64],
    floor: float,
    boundary_px: float,
    ratio_px: float,
) -> tuple[float, float]:
    """Weighted mean square (pixels^2) by which two angles' spot maps differ, beyond a
    constant, with the moving angle's moments shifted by ``x``; and the weight.

    ``fixed`` is the other angle's (spot position, variance, lit, jumps, net counts). A
    point's weight is lowered at a step of the spot position (``boundary_px``), and more
    where the two angles' intensity ratio also changes across it (``ratio_px``: pixels
    times the change of the log ratio to a neighbour), where mixing neighbouring points
    weighs their spot positions differently at the two angles."""
    pa, va, la, ja, na = fixed
    mb = _bilinear(moving, pad, x)
    pb, vb, lb = _spot(mb, floor)
    both = la & lb
    if both.sum() < 4:
        return float("inf"), 0.0
    jump = np.maximum(ja, _jumps(pb, lb))
    w = np.where(both, 1.0 / (np.where(both, va + vb, 1.0) * (1.0 + (jump / boundary_px) ** 2)), 0.0)
    if np.isfinite(ratio_px):
        rho = np.log(np.where(both, np.abs(na) + 1e-9, 1.0) / np.where(both, np.abs(mb[0]) + 1e-9, 1.0))
        drho = np.zeros(both.shape)
        for ax in (0, 1):
            for sg in (1, -1):
                y = np.roll(rho, sg, ax)
                oy = np.roll(both, sg, ax)
                drho = np.maximum(drho, np.where(both & oy, np.abs(rho - y), 0.0))
        w = w / (1.0 + (drho * jump / ratio_px) ** 2)
    d = pa - pb
    d -= (w * d).sum((1, 2), keepdims=True) / w.sum()
    return float((w * d * d).sum() / w.sum()), float(w.sum())


def _search(
    cost: Any, start: NDArray[np.float64], *, reach: float, coarse: float | None, limit: float
) -> NDArray[np.float64]:
    """Minimise ``cost(x)`` over 2-vectors: a grid of step ``coarse`` within ``reach`` of
    ``start`` (when given), then a 3 x 3 pattern search with halving steps down to 0.01."""
    best_x = np.asarray(start, dtype=np.float64)
    best = cost(best_x)
    if coarse is not None:
        g = np.arange(-reach, reach + 1e-9, coarse)
        for dy in g:
            for dx in g:
                x = np.clip(start + np.array([dy, dx]), -limit, limit)
                c = cost(x)
                if c < best:
                    best, best_x = c, x
    step = coarse / 2 if coarse is not None else reach
    while step >= 0.01 - 1e-12:
        moved = True
        while moved:
            moved = False
            for dy in (-step, 0.0, step):
                for dx in (-step, 0.0, step):
                    if dy == 0.0 and dx == 0.0:
                        continue
                    x = np.clip(best_x + np.array([dy, dx]), -limit, limit)
                    c = cost(x)
                    if c < best - 1e-12:
                        best, best_x, moved = c, x, True
        step /= 2
    return best_x


def register_spot_maps(
    moments: ArrayLike,
    *,
    min_fraction: float = 0.2,
    lit_fraction: float = 0.05,
    neighbours: int = 2,
    reach: float = 1.5,
    boundary_px: float = 1.0,
    ratio_px: float = 1.0,
    sweeps: int = 3,
) -> Drift:
    """Drift of each angle from where each point's Bragg spot falls on the detector.

    Where a point is lit, the position of its spot on the detector (centre of mass: the
    tilt across the diffraction plane, the strain along 2 theta) is a property of the
    crystal at that point, plus a constant per angle (the Ewald sphere moves the spot
    with the rocking angle, the same for all points). So the spot maps of two angles
    differ by the drift only, where both angles light the point, even in a mosaic
    crystal whose angles light other tilt domains (which defeats :func:`register_maps`).

    The shifts of all angles are solved together (coordinate descent, neighbouring angles
    within ``neighbours`` compared, the brightest measured angle held still): angles ``a``
    and ``b`` are compared after their moment maps are moved by each other's drift (the
    frames of both are then mixed between neighbouring points in the same way, so a
    sub-step drift does not blur one more than the other), each point weighted by the
    inverse Poisson variance of the difference and less at a domain boundary (a step of
    the spot position, where which domain is brighter at each angle weighs the mixed
    point's position; less still where the two angles' intensity ratio changes across
    that step, which is when the mixing weighs the two sides differently).

    Parameters
    ----------
    moments : (6, angle, y, x) array_like
        Net counts, net row and column moments, raw counts, row^2 and col^2 moments per
        point (``detector_moments(...)[0][1:]``).
    min_fraction : float
        Angles whose net counts are below this fraction of the brightest angle's are not
        registered (their drift is interpolated along the angle index).
    lit_fraction : float
        Points below this fraction of the brightest point's net counts carry no weight.
    neighbours : int
        Angles up to this many steps apart are compared.
    reach : float
        Largest drift (scan points) between an angle and its already solved neighbour.
    boundary_px : float
        Step of the spot position (pixels) to a neighbouring point at which the point's
        weight is halved.
    ratio_px : float
        Step of the spot position times the change of the two angles' log intensity ratio
        to a neighbouring point at which the point's weight is halved again (``inf``: not
        used).
    sweeps : int
        Passes of the coordinate descent.

    Limits (synthetic 16 x 16-point K-maps, 0.02-0.03 deg domains, 40 x 40 px): a whole-step
    drift is recovered to 0.05-0.12 point where the intensity maps miss it by 0.5-3 points,
    but a sub-step drift (up to 1.2 points over the lit angles) only to 0.06-0.56 point
    (within 0.2 on 14 of 20 maps; 0.08-0.48 on larger crystals), while the check
    (:func:`drift_consistency`) stayed at 0.02-0.12 point: mixing neighbouring points
    weighs each one's spot position by its intensity, which differs between angles at a
    domain boundary, and the check does not see the bias. Hence not used by default
    (:func:`estimate_drift` with ``spot``). Applied anyway, the shifts brought the
    d-spacing error of drifting maps to 0.52-1.02x the raw maps', and made drift-free ones
    1.15-1.33x worse (fake shifts of 0.07-0.21 point).

    Returns
    -------
    Drift
        ``shifts`` relative to the middle angle; ``error`` the weighted mean square spot
        mismatch (pixels^2) left at each measured angle; ``closure`` the weighted RMS
        (points, per axis) by which each pair of angles, compared alone, misses the
        difference of their shifts.
    """
    m = np.asarray(moments, dtype=np.float64)
    if m.ndim != 4 or m.shape[0] != 6 or min(m.shape[2:]) < 2:
        raise ParameterError(f"moments must be (6, angle, y, x) with at least 2 x 2 points, got shape {m.shape}")
    n_a = m.shape[1]
    weights = np.clip(m[0], 0.0, None).sum((1, 2))
    anchor = int(np.argmax(weights))
    if not weights[anchor] > 0:
        raise ParameterError("no angle has diffracted counts above the background: nothing to register")
    measured = weights >= min_fraction * weights[anchor]
    floor = lit_fraction * float(m[0].max())
    pad = int(np.ceil(reach * n_a)) + 2
    limit = float(pad - 2)
    padded = np.pad(m, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    idx = np.flatnonzero(measured)
    d = np.zeros((n_a, 2))

    def fixed(a: int, x: NDArray[np.float64]) -> tuple[Any, ...]:
        moved = _bilinear(padded[:, a], pad, x)
        pos, var, lit = _spot(moved, floor)
        return pos, var, lit, _jumps(pos, lit), moved[0]

    def local(a: int, partners: list[int]) -> Any:
        # angle ``a`` against each partner ``b``: a's moments moved by d_b, b's by the trial d_a
        held = [(fixed(a, d[b]), padded[:, b]) for b in partners]

        def cost(x: NDArray[np.float64]) -> float:
            num = den = 0.0
            for f, mov in held:
                c, w = _pair_cost(f, mov, pad, x, floor, boundary_px, ratio_px)
                if w > 0 and np.isfinite(c):
                    num, den = num + c * w, den + w
            return num / den if den > 0 else float("inf")

        return cost

    def partners(a: int, done: set[int] | None) -> list[int]:
        return [int(b) for b in idx if 0 < abs(b - a) <= neighbours and (done is None or b in done)]

    order = sorted((int(a) for a in idx if a != anchor), key=lambda a: (abs(a - anchor), a))
    done = {anchor}
    for a in order:  # outward from the anchor, each angle from its solved neighbours
        near = partners(a, done)
        if not near:
            near_b = min(done, key=lambda b: abs(b - a))
            near = [near_b]
        start = d[min(near, key=lambda b: abs(b - a))]
        d[a] = _search(local(a, near), start, reach=reach, coarse=0.25, limit=limit)
        done.add(a)
    for _ in range(max(0, sweeps - 1)):
        for a in order:
            near = partners(a, None)
            if near:
                d[a] = _search(local(a, near), d[a], reach=0.1, coarse=None, limit=limit)
    error = np.full(n_a, np.nan)
    miss, wts = [], []
    for k in idx:
        a = int(k)
        near = partners(a, None)
        if not near:
            continue
        error[a] = local(a, near)(d[a])
        for b in near:
            if b < a:
                continue
            alone = _search(local(a, [b]), d[a], reach=0.1, coarse=None, limit=limit)
            miss.append(float(np.sum((alone - d[a]) ** 2)))
            wts.append(float(min(weights[a], weights[b])))
    closure = float(np.sqrt(np.sum(np.asarray(wts) * miss) / np.sum(wts) / 2.0)) if len(wts) >= 2 else float("nan")
    all_idx = np.arange(n_a)
    shifts = np.column_stack([np.interp(all_idx, idx, d[idx, k]) for k in range(2)])
    shifts -= shifts[n_a // 2]
    return Drift(
        shifts=shifts, measured=measured, error=error, reference=anchor, weights=weights, closure=closure,
        method="spot",
    )  # fmt: skip


def estimate_drift(
    frames: Any,
    *,
    pixel_mask: ArrayLike | None = None,
    upsample_factor: int = 100,
    min_fraction: float = 0.2,
    trusted_points: float = 0.15,
    spot: bool = False,
) -> Drift:
    """Drift of each rocking angle of a K-map (one pass over the frames).

    The intensity maps (the frames summed over the detector) are registered
    (:func:`register_maps`). With ``spot``, where they fail their check
    (:func:`drift_consistency` above ``trusted_points``: a mosaic crystal, whose angles
    light other tilt domains), the maps of where each point's Bragg spot falls on the
    detector are registered too (:func:`register_spot_maps`) and the estimate that checks
    better is returned; both come from one pass (:func:`detector_moments`). Not the
    default: on mosaic crystals the spot estimate was off by up to 0.56 point while its
    own check passed (see :func:`register_spot_maps`).

    Parameters
    ----------
    frames : (angle, y, x, det_y, det_x) ndarray or dask array
    pixel_mask : (det_y, det_x) array_like, optional
        Nonzero = bad pixel.
    upsample_factor, min_fraction
        See :func:`register_maps`.
    trusted_points : float
        Largest :func:`drift_consistency` (scan points) at which the intensity estimate is
        kept without trying the spot maps.
    spot : bool
        Also try the spot maps (a survey of a few map rows first, to find the detector
        box around the peak).

    Returns
    -------
    Drift
        Its ``method`` says which maps gave it.
    """
    if not spot:
        maps = intensity_maps(frames, pixel_mask=pixel_mask)
        maps = np.asarray(maps.compute() if hasattr(maps, "compute") else maps)
        return register_maps(maps, upsample_factor=upsample_factor, min_fraction=min_fraction)
    try:
        moments, _ = detector_moments(frames, pixel_mask=pixel_mask)
    except ParameterError:  # no Bragg peak in the survey to put a box around: intensity only
        return estimate_drift(frames, pixel_mask=pixel_mask, upsample_factor=upsample_factor, min_fraction=min_fraction)
    by_intensity = register_maps(moments[0], upsample_factor=upsample_factor, min_fraction=min_fraction)
    checked = drift_consistency(by_intensity)
    if np.isfinite(checked) and checked <= trusted_points:
        return by_intensity
    by_spot = register_spot_maps(moments[1:], min_fraction=min_fraction)
    spot_checked = drift_consistency(by_spot)
    if np.isfinite(spot_checked) and not spot_checked >= checked:
        return by_spot
    return by_intensity


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
