"""Maps from per-point centres of mass: d-spacing, strain, tilt altitude and azimuth."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from operando.errors import ParameterError

__all__ = ["strain_tilt_maps"]


def _max_pairwise_deg(points: NDArray[np.float64]) -> float:
    """Largest distance between 2D points (tangent-plane degrees), via the convex hull."""
    if len(points) < 2:
        return 0.0
    from scipy.spatial import ConvexHull, QhullError

    with contextlib.suppress(QhullError):  # collinear or too few points: use them all
        points = points[ConvexHull(points).vertices]
    diff = points[:, None, :] - points[None, :, :]
    return float(np.sqrt((diff**2).sum(-1)).max())


def strain_tilt_maps(
    moments: Mapping[str, ArrayLike],
    *,
    intensity_threshold: float = 0.2,
    y_um: ArrayLike | None = None,
    x_um: ArrayLike | None = None,
) -> xr.Dataset:
    """d-spacing, strain and tilt maps from the centre of mass of Q at each point.

    Parameters
    ----------
    moments : mapping of (y, x) array_like
        ``qx, qy, qz`` (1/Å, sample frame) and ``intensity`` (background-subtracted
        counts), as returned by :func:`operando.sxdm.reduce_kmap`; other (y, x) entries
        (``rocking_com``, ``rocking_width``) are carried over.
    intensity_threshold : float
        Points below this fraction of the maximum intensity are masked (NaN maps).
    y_um, x_um : (y,) and (x,) array_like, optional
        Piezo positions used as coordinates.

    Returns
    -------
    xarray.Dataset
        Dims ``(y, x)``: ``d_spacing`` (Å), ``strain`` (relative to the mean d-spacing of
        the unmasked points), ``tilt_altitude`` (deg, angle between local and mean Q),
        ``tilt_azimuth`` (deg, in the plane normal to the mean Q, from the projection of
        sample +x towards that of +y), ``mask`` (True = used), and the inputs.
        Scalars: ``d_spacing_mean`` (Å), ``q_mean`` (1/Å, dim ``component``),
        ``microstrain`` (standard deviation of the strain histogram),
        ``max_misorientation`` (deg, largest angle between the Q directions of two points).
    """
    q = np.stack([np.asarray(moments[k], dtype=np.float64) for k in ("qx", "qy", "qz")], axis=-1)
    intensity = np.asarray(moments["intensity"], dtype=np.float64)
    if q.shape[:-1] != intensity.shape or intensity.ndim != 2:
        raise ParameterError(f"qx, qy, qz and intensity must be (y, x) maps of one shape, got {q.shape[:-1]}")
    finite = np.isfinite(q).all(-1) & np.isfinite(intensity)
    top = np.max(intensity, where=finite, initial=-np.inf)
    if not top > 0:
        raise ParameterError("no point has a positive intensity: no map can be made")
    mask = finite & (intensity >= intensity_threshold * top)
    qn = np.linalg.norm(q, axis=-1)
    d = 2 * np.pi / qn
    d_mean = float(d[mask].mean())
    strain = d / d_mean - 1.0
    u = q / qn[..., None]
    qm = q[mask].mean(0)
    um = qm / np.linalg.norm(qm)
    altitude = np.degrees(np.arccos(np.clip(u @ um, -1.0, 1.0)))
    # tangent-plane axes: projections of sample +x (or +y when Q is along x) and um x e1
    ref = np.array([1.0, 0.0, 0.0]) if abs(um[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = ref - (ref @ um) * um
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(um, e1)
    t1, t2 = np.degrees(u @ e1), np.degrees(u @ e2)
    azimuth = np.degrees(np.arctan2(t2, t1))
    nan = np.where(mask, 1.0, np.nan)
    dims = ("y", "x")
    ny, nx = intensity.shape
    coords = {
        "y": ("y", np.arange(ny) if y_um is None else np.asarray(y_um, dtype=np.float64), {"units": "um"}),
        "x": ("x", np.arange(nx) if x_um is None else np.asarray(x_um, dtype=np.float64), {"units": "um"}),
    }
    if y_um is None:
        coords["y"] = ("y", np.arange(ny), {"units": "point"})
    if x_um is None:
        coords["x"] = ("x", np.arange(nx), {"units": "point"})
    data = {
        "d_spacing": (dims, d * nan, {"units": "angstrom", "long_name": "d-spacing 2 pi / |Q_com|"}),
        "strain": (dims, strain * nan, {"units": "1", "long_name": "d / mean(d) - 1"}),
        "tilt_altitude": (dims, altitude * nan, {"units": "deg", "long_name": "angle between Q and mean Q"}),
        "tilt_azimuth": (dims, azimuth * nan, {"units": "deg", "long_name": "azimuth of Q about mean Q"}),
        "mask": (dims, mask, {"units": "1", "long_name": f"intensity >= {intensity_threshold} x max"}),
        "qx": (dims, q[..., 0], {"units": "1/angstrom"}),
        "qy": (dims, q[..., 1], {"units": "1/angstrom"}),
        "qz": (dims, q[..., 2], {"units": "1/angstrom"}),
        "intensity": (dims, intensity, {"units": "counts"}),
        "d_spacing_mean": ((), d_mean, {"units": "angstrom"}),
        "q_mean": (("component",), qm, {"units": "1/angstrom"}),
        "microstrain": ((), float(strain[mask].std()), {"units": "1", "long_name": "std of the strain histogram"}),
        "max_misorientation": (
            (),
            _max_pairwise_deg(np.column_stack([t1[mask], t2[mask]])),
            {"units": "deg", "long_name": "largest angle between two Q directions"},
        ),
    }
    for name, units in (("rocking_com", "deg"), ("rocking_width", "deg")):
        if name in moments:
            data[name] = (dims, np.asarray(moments[name], dtype=np.float64), {"units": units})
    return xr.Dataset(data, coords={**coords, "component": ["qx", "qy", "qz"]})
