"""3D peak widths per scan point: second moments of Q over the raw voxels.

Like the centre of mass (:mod:`operando.sxdm._reduce`) no q-space cube is built: the
covariance of Q weighted by the background-subtracted counts,
``C = sum_v w_v (q_v - m)(q_v - m)^T / sum_v w_v``, is one matrix product per block of
points with the columns ``[1, dq, dq_i dq_j]`` (``dq = q - q0``), in float64. The widths
are standard deviations (1/Å): along the principal axes of ``C`` (square roots of its
eigenvalues, largest first), along the mean Q (radial: strain spread and size) and
along the rocking direction (the direction in which Q moves as the sample rocks, the
mean of ``q[a + 1] - q[a]`` over the region of interest: mosaic tilt spread).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from operando.errors import ParameterError
from operando.sxdm._reduce import ROI

__all__ = ["PeakWidths", "peak_widths", "q_covariance", "rocking_direction"]

_PAIRS = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))


class PeakWidths(dict[str, NDArray[np.float64]]):
    """(y, x) maps ``width_major, width_middle, width_minor, width_radial, width_rocking``
    (1/Å) keyed by name (a dict, so it merges into the moments of ``reduce_kmap``)."""


def q_covariance(
    frames: ArrayLike,
    q: ArrayLike,
    *,
    valid: ArrayLike | None = None,
    background: float | ArrayLike = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Intensity, centre of mass and covariance of Q for a block of scan points.

    Parameters
    ----------
    frames : (angle, point, det_y, det_x) array_like
        Counts cropped to the region of interest.
    q : (angle, det_y, det_x, 3) array_like
        Q of each voxel (same crop), 1/Å.
    valid : (det_y, det_x) or (angle, det_y, det_x) array_like of bool, optional
        Voxels used.
    background : float or (angle, point) array_like
        Counts per pixel per frame subtracted from every valid voxel.

    Returns
    -------
    intensity : (P,) ndarray
    mean : (P, 3) ndarray
        1/Å (NaN where the net intensity is not positive).
    cov : (P, 3, 3) ndarray
        (1/Å)^2.

    Examples
    --------
    >>> q = np.zeros((1, 1, 2, 3)); q[0, 0, 1, 2] = 1.0   # two voxels, 1/Å apart along qz
    >>> i, m, c = q_covariance(np.ones((1, 1, 1, 2)), q)
    >>> float(i[0]), m[0].tolist(), float(c[0, 2, 2])
    (2.0, [0.0, 0.0, 0.5], 0.25)
    """
    f = np.asarray(frames, dtype=np.float64)
    qa = np.asarray(q, dtype=np.float64)
    n_a, n_p, ny, nx = f.shape
    if qa.shape != (n_a, ny, nx, 3):
        raise ParameterError(f"q has shape {qa.shape}, expected {(n_a, ny, nx, 3)} to match frames {f.shape}")
    ok = np.ones((n_a, ny, nx), dtype=bool)
    if valid is not None:
        ok &= np.broadcast_to(np.asarray(valid, dtype=bool), (n_a, ny, nx))
    if not ok.any():
        raise ParameterError("no valid voxel in the region of interest")
    q0 = qa[ok].mean(0)
    dq = qa - q0
    cols = [np.ones((n_a, ny, nx)), dq[..., 0], dq[..., 1], dq[..., 2]]
    cols += [dq[..., i] * dq[..., j] for i, j in _PAIRS]
    w = np.stack(cols, axis=-1)
    w[~ok] = 0.0
    w = w.reshape(n_a, ny * nx, 10)
    sums = np.einsum("apv,avc->pc", f.reshape(n_a, n_p, ny * nx), w)
    b = np.asarray(background, dtype=np.float64)
    colsum = w.sum(1)  # (angle, 10)
    sums -= np.broadcast_to(b, (n_a, n_p)).T @ colsum if b.ndim else b * colsum.sum(0)
    intensity = sums[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        inv = np.where(intensity > 0, 1.0 / intensity, np.nan)
        m1 = sums[:, 1:4] * inv[:, None]
        second = sums[:, 4:] * inv[:, None]
    cov = np.empty((n_p, 3, 3))
    for k, (i, j) in enumerate(_PAIRS):
        cov[:, i, j] = cov[:, j, i] = second[:, k] - m1[:, i] * m1[:, j]
    return intensity, q0 + m1, cov


def rocking_direction(q: ArrayLike) -> NDArray[np.float64]:
    """Unit direction in which Q moves from one rocking angle to the next.

    Parameters
    ----------
    q : (angle, det_y, det_x, 3) array_like
        At least two angles, 1/Å.

    Returns
    -------
    (3,) ndarray
    """
    qa = np.asarray(q, dtype=np.float64)
    if qa.ndim != 4 or qa.shape[0] < 2:
        raise ParameterError(f"q must be (angle >= 2, det_y, det_x, 3), got shape {qa.shape}")
    step = np.diff(qa, axis=0).reshape(-1, 3).mean(0)
    return np.asarray(step / np.linalg.norm(step))


def widths_from_covariance(
    cov: NDArray[np.float64], mean: NDArray[np.float64], rocking: NDArray[np.float64]
) -> dict[str, NDArray[np.float64]]:
    """Principal, radial and rocking widths (standard deviations, 1/Å) from (..., 3, 3) covariances."""
    finite = np.asarray(np.isfinite(cov).all(axis=(-1, -2)), dtype=bool)
    safe = np.where(finite[..., None, None], cov, 0.0)
    ev = np.linalg.eigvalsh(safe)[..., ::-1]  # largest first
    sd = np.sqrt(np.clip(ev, 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        u = mean / np.linalg.norm(mean, axis=-1, keepdims=True)
    radial = np.einsum("...i,...ij,...j->...", u, cov, u)
    rock = np.einsum("i,...ij,j->...", rocking, cov, rocking)
    nan = np.where(finite, 1.0, np.nan)
    return {
        "width_major": sd[..., 0] * nan,
        "width_middle": sd[..., 1] * nan,
        "width_minor": sd[..., 2] * nan,
        "width_radial": np.sqrt(np.clip(radial, 0.0, None)),
        "width_rocking": np.sqrt(np.clip(rock, 0.0, None)),
    }


def peak_widths(
    frames: Any,
    q: ArrayLike,
    *,
    roi: ROI,
    pixel_mask: ArrayLike | None = None,
    background: float = 0.0,
    points_per_block: int = 64,
) -> PeakWidths:
    """3D peak widths of every scan point of a K-map.

    Parameters
    ----------
    frames : (angle, y, x, det_y, det_x) ndarray or dask array
        Counts (read one block of map rows at a time).
    q : (angle, det_y, det_x, 3) array_like
        Pixel -> Q map, 1/Å.
    roi : ROI
        Region of interest, e.g. the one :func:`operando.sxdm.reduce_kmap` resolved
        (``settings["roi_angles"]`` ...).
    pixel_mask : (det_y, det_x) array_like, optional
        Nonzero = bad pixel (use the hot pixels too, as ``reduce_kmap`` does).
    background : float
        Counts per pixel per frame (``settings["background_counts_per_pixel"]``).
    points_per_block : int
        Scan points per matrix product.

    Returns
    -------
    PeakWidths
        (y, x) maps in 1/Å; NaN where the net intensity is not positive.
    """
    if frames.ndim != 5:
        raise ParameterError(f"frames must be (angle, y, x, det_y, det_x), got shape {frames.shape}")
    _, ny, nx, dy, dx = frames.shape
    qa = np.asarray(q, dtype=np.float64)
    valid = np.ones((dy, dx), dtype=bool) if pixel_mask is None else np.asarray(pixel_mask) == 0
    sa, sy, sx = roi.slices
    q_roi, v_roi = qa[sa, sy, sx], valid[sy, sx]
    rocking = rocking_direction(q_roi if q_roi.shape[0] > 1 else qa)
    rows = max(1, points_per_block // nx)
    mean = np.full((ny, nx, 3), np.nan)
    cov = np.full((ny, nx, 3, 3), np.nan)
    for y0 in range(0, ny, rows):
        block = frames[sa, y0 : y0 + rows, :, sy, sx]
        block = np.asarray(block.compute() if hasattr(block, "compute") else block)
        by = block.shape[1]
        f = block.reshape(block.shape[0], by * nx, *block.shape[3:])
        _, m, c = q_covariance(f, q_roi, valid=v_roi, background=background)
        mean[y0 : y0 + by] = m.reshape(by, nx, 3)
        cov[y0 : y0 + by] = c.reshape(by, nx, 3, 3)
    return PeakWidths(widths_from_covariance(cov, mean, rocking))
