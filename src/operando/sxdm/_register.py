"""Maps of one crystal brought to a common frame: scan grids matched by their nominal
motor ranges, maps resampled onto one grid, and the crystal's drift between maps measured
on the integrated-intensity maps and undone.

Between the K-maps of an operando series (tens of minutes apart) the crystal moves under
the beam by a fraction of a micrometre: thermal drift of the cell, the electrode swelling.
Each map's integrated-intensity map (the crystal's footprint) is registered to a
reference map: a first estimate by cross-correlation
(:func:`skimage.registration.phase_cross_correlation` on zero-padded maps, so the
crystal does not wrap around), refined to a fraction of a scan point by least squares
between the reference and the bilinearly shifted map (:func:`scipy.optimize.minimize`)
over the points both maps cover, with a free intensity scale (the diffracted intensity
changes with the state of charge). Shifting is bilinear and NaN-aware: a point is kept
only where every grid point that contributes to it is valid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from operando.errors import ParameterError

__all__ = ["MapShift", "common_grid", "register_intensity", "sample_map"]


@dataclass(frozen=True)
class MapShift:
    """Where a map's crystal lies relative to the reference map's.

    Attributes
    ----------
    shift : (2,) ndarray
        (y, x) in scan points: the moving map at ``p - shift`` shows what the reference
        shows at ``p`` (``sample_map(moving, rows - shift[0], cols - shift[1])`` aligns it).
    correlation : float
        Pearson correlation of the reference and the aligned map over the points both
        cover (1: the same footprint).
    overlap : int
        Points both maps cover after the shift.
    """

    shift: NDArray[np.float64]
    correlation: float
    overlap: int


def sample_map(values: ArrayLike, rows: ArrayLike, cols: ArrayLike) -> NDArray[np.float64]:
    """A map sampled at fractional grid positions, bilinearly, NaN-aware.

    Parameters
    ----------
    values : (ny, nx) array_like
        The map; NaN = no value (outside the crystal).
    rows, cols : (my,) and (mx,) array_like
        Fractional row and column indices of the output grid's rows and columns.

    Returns
    -------
    (my, mx) ndarray of float64
        NaN where a contributing grid point is NaN or the position is outside the map.

    Examples
    --------
    >>> v = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, np.nan]])
    >>> sample_map(v, [0.0, 0.5], [0.5, 1.5]).tolist()
    [[0.5, 1.5], [2.0, nan]]
    """
    from scipy import ndimage

    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ParameterError(f"a map must be (y, x), got shape {v.shape}")
    r = np.asarray(rows, dtype=np.float64)
    c = np.asarray(cols, dtype=np.float64)
    rr, cc = np.meshgrid(r, c, indexing="ij")
    valid = np.isfinite(v)
    # positions within rounding of the edge are on it (map_coordinates would weigh in the outside)
    eps = 1e-9
    rr = np.where(np.abs(rr) < eps, 0.0, np.where(np.abs(rr - (v.shape[0] - 1)) < eps, v.shape[0] - 1.0, rr))
    cc = np.where(np.abs(cc) < eps, 0.0, np.where(np.abs(cc - (v.shape[1] - 1)) < eps, v.shape[1] - 1.0, cc))
    coords = np.stack([rr, cc])
    inside = (rr >= 0) & (rr <= v.shape[0] - 1) & (cc >= 0) & (cc <= v.shape[1] - 1)
    num = ndimage.map_coordinates(np.where(valid, v, 0.0), coords, order=1, mode="nearest")
    den = ndimage.map_coordinates(valid.astype(np.float64), coords, order=1, mode="nearest")
    ok = inside & (den > 1.0 - 1e-9)
    return np.where(ok, num / np.where(ok, den, 1.0), np.nan)


def common_grid(
    axes: list[NDArray[np.float64]], *, tolerance: float = 0.25, name: str = "axis"
) -> tuple[NDArray[np.float64], list[bool]]:
    """The reference's axis and, per map, whether its axis is the same within tolerance.

    Parameters
    ----------
    axes : list of (n,) ndarray
        Nominal positions (µm) of one axis of each map; the first is the reference.
    tolerance : float
        Largest difference of a position, in reference steps, for two axes to be one.
    name : str
        Axis name for messages.

    Returns
    -------
    axis : ndarray
        The reference's axis.
    same : list of bool
        True where a map's axis matches the reference's (no resampling).

    Raises
    ------
    ParameterError
        A map's window does not overlap the reference's by at least one step.

    Examples
    --------
    >>> ref = np.linspace(0, 1.1, 12)
    >>> common_grid([ref, ref + 0.002, np.linspace(0.3, 1.4, 12)])[1]
    [True, True, False]
    """
    ref = np.asarray(axes[0], dtype=np.float64)
    step = float(np.abs(np.diff(ref)).mean()) if ref.size > 1 else 1.0
    same = []
    for k, a in enumerate(axes):
        a = np.asarray(a, dtype=np.float64)
        same.append(a.shape == ref.shape and bool(np.all(np.abs(a - ref) <= tolerance * step)))
        lo, hi = max(a.min(), ref.min()), min(a.max(), ref.max())
        if hi - lo < step * (1 - tolerance) and not same[-1]:
            raise ParameterError(
                f"map {k}: its {name} range {a.min():.4g}-{a.max():.4g} µm does not overlap the reference map's "
                f"{ref.min():.4g}-{ref.max():.4g} µm: the maps cannot be put on one grid"
            )
    return ref, same


def _footprint(values: ArrayLike) -> NDArray[np.float64]:
    """An intensity map as a footprint: NaN -> 0, negatives (noise of the background) -> 0."""
    v = np.asarray(values, dtype=np.float64)
    return np.clip(np.nan_to_num(v, nan=0.0), 0.0, None)


def register_intensity(
    reference: ArrayLike,
    moving: ArrayLike,
    *,
    max_shift: float | None = None,
    upsample_factor: int = 20,
    smooth: float = 1.0,
) -> MapShift:
    """Shift of a map's crystal relative to the reference map, from their intensity maps.

    Parameters
    ----------
    reference, moving : (y, x) array_like
        Integrated-intensity maps on one grid (NaN: not covered).
    max_shift : float, optional
        Largest plausible shift, in points; half the map's smaller side by default.
    upsample_factor : int
        Precision of the cross-correlation's first estimate (1/factor of a point).
    smooth : float
        Gaussian smoothing (points) of both maps before the least-squares refinement.

    Returns
    -------
    MapShift

    Examples
    --------
    >>> yy, xx = np.mgrid[0:24, 0:24].astype(float)
    >>> blob = lambda y, x: np.exp(-((yy - y) ** 2 + (xx - x) ** 2 / 2) / 8.0)
    >>> np.round(register_intensity(blob(11, 12), blob(12.3, 10.4)).shift, 1).tolist()  # moved by (+1.3, -1.6)
    [-1.3, 1.6]
    """
    from scipy import ndimage, optimize
    from skimage.registration import phase_cross_correlation

    ref = np.asarray(reference, dtype=np.float64)
    mov = np.asarray(moving, dtype=np.float64)
    if ref.shape != mov.shape or ref.ndim != 2 or min(ref.shape) < 3:
        raise ParameterError(f"intensity maps must be (y, x) of one shape, >= 3 x 3, got {ref.shape}, {mov.shape}")
    a, b = _footprint(ref), _footprint(mov)
    if not (a.sum() > 0 and b.sum() > 0):
        raise ParameterError("an intensity map holds no signal: nothing to register")
    # a crystal's footprint has sharp edges, which interpolation locks to whole points (a bilinearly shifted
    # polygon came back 0.1-0.15 point short); smoothed by one point and interpolated by cubic splines, the
    # same maps gave the shift to ~0.02 point
    a = ndimage.gaussian_filter(a, smooth, mode="constant")
    b = ndimage.gaussian_filter(b, smooth, mode="constant")
    limit = 0.5 * min(ref.shape) if max_shift is None else float(max_shift)
    ny, nx = ref.shape
    pad = ((ny // 2 + 1,) * 2, (nx // 2 + 1,) * 2)
    coarse, _, _ = phase_cross_correlation(
        np.pad(a, pad), np.pad(b, pad), upsample_factor=upsample_factor, normalization=None
    )
    rows, cols = np.arange(ny, dtype=np.float64), np.arange(nx, dtype=np.float64)
    ref_valid = np.isfinite(ref)
    mov_nan = np.where(np.isfinite(mov), b, np.nan)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")

    def misfit(s: NDArray[np.float64]) -> float:
        # outside its window the moving map counts as empty, so the misfit is continuous in the shift (a
        # varying overlap would favour whole-point shifts, where one more row and column are covered)
        m = ndimage.map_coordinates(b, np.stack([rr - s[0], cc - s[1]]), order=3, mode="grid-constant", cval=0.0)
        scale = float(m.reshape(-1) @ a.reshape(-1) / (m.reshape(-1) @ m.reshape(-1))) if m.any() else 0.0
        return float(np.sum((a - scale * m) ** 2))

    start = np.asarray(coarse, dtype=np.float64)
    best = optimize.minimize(misfit, start, method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 0.0})
    shift = np.asarray(best.x, dtype=np.float64)
    if not np.all(np.abs(shift) <= limit):
        shift = np.asarray(coarse, dtype=np.float64)
    m = sample_map(mov_nan, rows - shift[0], cols - shift[1])
    ok = ref_valid & np.isfinite(m)
    corr = float(np.corrcoef(a[ok], m[ok])[0, 1]) if ok.sum() > 2 and np.std(m[ok]) > 0 else float("nan")
    return MapShift(shift=shift, correlation=corr, overlap=int(ok.sum()))
