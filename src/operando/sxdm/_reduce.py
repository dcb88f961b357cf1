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
keeps ~1e-10 1/Å), accumulated over rocking angles in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

from operando.errors import ParameterError

__all__ = [
    "ROI",
    "CentreOfMass",
    "centre_of_mass",
    "find_hot_pixels",
    "find_roi",
    "frame_background",
    "global_background",
    "reduce_kmap",
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
    """
    s = np.asarray(summed, dtype=np.float64)
    if s.ndim != 3:
        raise ParameterError(f"summed frames must be (angle, det_y, det_x), got shape {s.shape}")
    med = ndimage.median_filter(s, size=(1, 3, 3), mode="nearest")
    z = (s - med) / np.sqrt(np.maximum(med, 0.0) + 1.0)
    return np.asarray(np.median(z, axis=0) > threshold)


def find_roi(
    summed: ArrayLike,
    *,
    valid: ArrayLike | None = None,
    threshold: float = 0.05,
    pad_fraction: float = 0.25,
) -> ROI:
    """Box around the map-averaged Bragg peak, padded.

    Parameters
    ----------
    summed : (angle, det_y, det_x) array_like
        Frames summed over all scan points.
    valid : (det_y, det_x) array_like of bool, optional
        Usable pixels (neither masked nor hot).
    threshold : float
        Voxels above ``threshold`` times the maximum of ``summed - median(summed)`` define
        the box.
    pad_fraction : float
        Each side of the box is widened by this fraction of its size (at least one angle
        and two pixels), clipped to the data.

    Returns
    -------
    ROI
    """
    s = np.asarray(summed, dtype=np.float64)
    ok = np.ones(s.shape[1:], dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    excess = np.where(ok, s - np.median(s[:, ok]), 0.0)
    peak = excess.max()
    if not peak > 0:
        raise ParameterError("no Bragg peak above the background in the summed frames")
    idx = np.nonzero(excess > threshold * peak)
    bounds = []
    for axis, minimum in zip(range(3), (1, 2, 2), strict=True):
        lo, hi = int(idx[axis].min()), int(idx[axis].max()) + 1
        pad = max(minimum, int(np.ceil(pad_fraction * (hi - lo))))
        bounds.append((max(0, lo - pad), min(s.shape[axis], hi + pad)))
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
    q0 = qa[ok].mean(0)
    e0 = float(eta.mean())
    de = np.broadcast_to((eta - e0)[:, None, None], (n_a, ny, nx))
    w = np.concatenate([qa - q0, np.ones((n_a, ny, nx, 1)), de[..., None], (de**2)[..., None]], axis=-1)
    w[~ok] = 0.0
    w32 = w.reshape(n_a, ny * nx, 6).astype(np.float32)
    f32 = f.reshape(n_a, n_p, ny * nx).astype(np.float32, copy=False)
    sums = np.zeros((n_p, 6))
    for a in range(n_a):  # float32 products per angle, float64 accumulation over angles
        sums += f32[a] @ w32[a]
    colsum = w.reshape(n_a, ny * nx, 6).sum(1)  # (angle, 6), float64
    b = np.asarray(background, dtype=np.float64)
    sums -= np.broadcast_to(b, (n_a, n_p)).T @ colsum if b.ndim else b * colsum.sum(0)
    intensity = sums[:, 3]
    with np.errstate(invalid="ignore", divide="ignore"):
        inv = np.where(intensity > 0, 1.0 / intensity, np.nan)
        qc = q0 + sums[:, :3] * inv[:, None]
        m1 = sums[:, 4] * inv
        var = sums[:, 5] * inv - m1**2
    return CentreOfMass(
        intensity=intensity,
        q=qc,
        rocking_com_deg=e0 + m1,
        rocking_width_deg=np.sqrt(np.maximum(var, 0.0)),
    )


BackgroundMode = Literal["global", "frame", "none"]


def _block_moments(
    frames: NDArray[np.generic],
    background: NDArray[np.float64] | None,
    *,
    q: NDArray[np.float64],
    eta_deg: NDArray[np.float64],
    valid: NDArray[np.bool_],
    constant: float,
) -> NDArray[np.float64]:
    """(angle, y, x, det_y, det_x) cropped block -> (y, x, 6) moments."""
    n_a, by, bx = frames.shape[:3]
    f = frames.reshape(n_a, by * bx, *frames.shape[3:])
    bg: float | NDArray[np.float64] = constant if background is None else background.reshape(n_a, by * bx)
    c = centre_of_mass(f, q, eta_deg=eta_deg, valid=valid, background=bg)
    out = np.column_stack([c.intensity, c.q, c.rocking_com_deg, c.rocking_width_deg])
    return out.reshape(by, bx, 6)


def reduce_kmap(
    frames: ArrayLike,
    q: ArrayLike,
    *,
    eta_deg: ArrayLike,
    pixel_mask: ArrayLike | None = None,
    roi: ROI | None = None,
    background: BackgroundMode | float = "global",
    hot_pixel_threshold: float | None = 8.0,
    points_per_block: int = 64,
) -> tuple[dict[str, NDArray[np.float64]], dict[str, object]]:
    """Reduce a whole K-map to per-point moments (see :func:`centre_of_mass`).

    Parameters
    ----------
    frames : (angle, y, x, det_y, det_x) ndarray or dask array
        Counts. A dask array is reduced lazily once the map sum (for the region of
        interest, the global background and the hot pixels) has been computed.
    q : (angle, det_y, det_x, 3) array_like
        Pixel -> Q map of every rocking angle, 1/Å.
    eta_deg : (angle,) array_like
        Rocking angles.
    pixel_mask : (det_y, det_x) array_like, optional
        Detector mask, nonzero = bad pixel (the Bliss convention).
    roi : ROI, optional
        Region of interest; by default :func:`find_roi` on the map sum.
    background : {"global", "frame", "none"} or float
        ``"global"``: one constant per pixel and frame from the map sum outside the
        region of interest; ``"frame"``: per frame and point, outside the region's
        detector box; a number: that constant.
    hot_pixel_threshold : float or None
        See :func:`find_hot_pixels`; None keeps all unmasked pixels.
    points_per_block : int
        Scan points per matrix product (whole map rows are used when rows are shorter).

    Returns
    -------
    moments : dict of (y, x) arrays
        ``intensity``, ``qx``, ``qy``, ``qz``, ``rocking_com``, ``rocking_width`` (NumPy
        or lazy dask, following the input).
    settings : dict
        The resolved region of interest, background, hot pixels and mask counts.
    """
    import dask.array as da

    lazy = isinstance(frames, da.Array)
    fr: Any = frames if lazy else np.asarray(frames)
    if fr.ndim != 5:
        raise ParameterError(f"frames must be (angle, y, x, det_y, det_x), got shape {fr.shape}")
    n_a, ny, nx, dy, dx = fr.shape
    qa = np.asarray(q, dtype=np.float64)
    if qa.shape != (n_a, dy, dx, 3):
        raise ParameterError(f"q has shape {qa.shape}, expected {(n_a, dy, dx, 3)}")
    eta = np.asarray(eta_deg, dtype=np.float64)
    valid = np.ones((dy, dx), dtype=bool) if pixel_mask is None else np.asarray(pixel_mask) == 0
    if valid.shape != (dy, dx):
        raise ParameterError(f"pixel_mask has shape {valid.shape}, expected {(dy, dx)}")

    summed = fr.sum(axis=(1, 2), dtype=np.float64)
    summed = np.asarray(summed.compute() if lazy else summed)
    hot = np.zeros_like(valid)
    if hot_pixel_threshold is not None:
        hot = find_hot_pixels(summed, threshold=hot_pixel_threshold) & valid
    valid = valid & ~hot
    if roi is None:
        roi = find_roi(summed, valid=valid)
    constant = 0.0
    per_frame = background == "frame"
    if background == "global":
        constant = global_background(summed, n_points=ny * nx, roi=roi, valid=valid)
    elif background == "none":
        constant = 0.0
    elif not per_frame:
        if isinstance(background, str):
            raise ParameterError(f"background must be 'global', 'frame', 'none' or a number, got {background!r}")
        constant = float(background)
    sa, sy, sx = roi.slices
    q_roi, v_roi, e_roi = qa[sa, sy, sx], valid[sy, sx], eta[sa]
    kw = {"q": q_roi, "eta_deg": e_roi, "valid": v_roi, "constant": constant}

    rows = max(1, points_per_block // nx)
    cols = min(nx, points_per_block)
    if lazy:
        cropped = fr[sa, :, :, sy, sx].rechunk((-1, rows, cols, -1, -1))
        if per_frame:
            inside = np.zeros((dy, dx), dtype=bool)
            inside[sy, sx] = True
            use = valid & ~inside
            bgd = fr[sa].map_blocks(
                lambda b: b[..., use].sum(-1, dtype=np.float64) / use.sum(),
                drop_axis=[3, 4],
                dtype=np.float64,
                meta=np.empty((0, 0, 0)),
            )
            out = da.blockwise(
                lambda f, b: _block_moments(f, b, **kw),  # type: ignore[arg-type]
                "yxc",
                cropped,
                "ayxij",
                bgd.rechunk((-1, rows, cols)),
                "ayx",
                new_axes={"c": 6},
                concatenate=True,
                dtype=np.float64,
                meta=np.empty((0, 0, 0)),
            )
        else:
            out = da.blockwise(
                lambda f: _block_moments(f, None, **kw),  # type: ignore[arg-type]
                "yxc",
                cropped,
                "ayxij",
                new_axes={"c": 6},
                concatenate=True,
                dtype=np.float64,
                meta=np.empty((0, 0, 0)),
            )
    else:
        out = np.empty((ny, nx, 6))
        for y0 in range(0, ny, rows):
            for x0 in range(0, nx, cols):
                ys, xs = slice(y0, y0 + rows), slice(x0, x0 + cols)
                block = fr[sa, ys, xs]
                bg = None
                if per_frame:
                    full = fr[sa, ys, xs]
                    bg = frame_background(full.reshape(full.shape[0], -1, dy, dx), roi=roi, valid=valid)
                out[ys, xs] = _block_moments(block[..., sy, sx], bg, **kw)  # type: ignore[arg-type]
    names = ("intensity", "qx", "qy", "qz", "rocking_com", "rocking_width")
    moments = {name: out[..., i] for i, name in enumerate(names)}
    settings: dict[str, object] = {
        "roi_angles": list(roi.angles),
        "roi_det_y": list(roi.det_y),
        "roi_det_x": list(roi.det_x),
        "background": background if isinstance(background, str) else float(background),
        "background_counts_per_pixel": constant,
        "hot_pixels": int(hot.sum()),
        "masked_pixels": int((~valid).sum()),
        "estimator": "raw-voxel centre of mass, sum((I-b) q) / sum(I-b), no q-space binning",
    }
    return moments, settings
