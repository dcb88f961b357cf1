"""Gridded q-space cubes for a region of a K-map, binned as XSOCS bins them (the XSOCS
q-space file is read and written by :mod:`operando.sxdm.io._qspace_h5`).

The binning (XSOCS ``QSpaceConverter``)
---------------------------------------
Bin centres run from the smallest to the largest Q of the valid pixels over all
rocking angles, ``n`` centres per axis (``step = (max - min) / (n - 1)``), so the bin
edges are ``[min - step/2, max + step/2]`` with the last bin closed. Each pixel of each
frame adds its counts to the bin its Q falls in: the cube is the *sum* of intensities
per bin (``Data/qspace``), ``histo`` counts the voxels (pixel x angle) per bin and the
intensity per voxel is ``qspace / histo`` (XSOCS divides by the hits when it projects
the cube for its fits). The centre of mass of the summed cube equals the raw-voxel
centre of mass of :func:`operando.sxdm.centre_of_mass` to within the bin size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from operando.errors import ParameterError

__all__ = ["gridded_qspace", "qspace_bins", "qspace_centre_of_mass"]

_AXES = ("qx", "qy", "qz")


def qspace_bins(
    q: ArrayLike,
    *,
    shape: tuple[int, int, int],
    valid: ArrayLike | None = None,
    q_range: Sequence[tuple[float, float]] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Bin centres of an XSOCS q-space grid.

    Parameters
    ----------
    q : (angle, det_y, det_x, 3) array_like
        Q of every voxel, 1/Å.
    shape : (int, int, int)
        Bins along qx, qy, qz (at least 2 each).
    valid : (det_y, det_x) array_like of bool, optional
        Pixels used (the others are left out of the range, as XSOCS sets them to NaN).
    q_range : three (min, max) pairs, optional
        First and last bin centres per axis; by default the extent of the valid voxels.

    Returns
    -------
    qx, qy, qz : ndarray
        Bin centres, 1/Å.

    Examples
    --------
    >>> q = np.zeros((1, 1, 2, 3)); q[0, 0, 1] = 1.0
    >>> [c.tolist() for c in qspace_bins(q, shape=(3, 2, 2))]
    [[0.0, 0.5, 1.0], [0.0, 1.0], [0.0, 1.0]]
    """
    qa = np.asarray(q, dtype=np.float64)
    if qa.ndim != 4 or qa.shape[-1] != 3:
        raise ParameterError(f"q must be (angle, det_y, det_x, 3), got shape {qa.shape}")
    if len(shape) != 3 or min(shape) < 2:
        raise ParameterError(f"shape must be three bin counts >= 2, got {shape}")
    ok = np.ones(qa.shape[1:3], dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    pts = qa[:, ok]
    if not pts.size:
        raise ParameterError("no valid pixel: no q-space range")
    out = []
    for k, n in enumerate(shape):
        lo, hi = (float(pts[..., k].min()), float(pts[..., k].max())) if q_range is None else map(float, q_range[k])
        if not hi > lo:
            raise ParameterError(f"{_AXES[k]} range [{lo}, {hi}] is empty")
        out.append(lo + (hi - lo) / (n - 1) * np.arange(n, dtype=np.float64))
    return out[0], out[1], out[2]


def _lut(q: NDArray[np.float64], centres: Sequence[NDArray[np.float64]], valid: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Flat bin index of every voxel (-1: masked or outside the grid)."""
    flat = np.zeros(q.shape[:-1], dtype=np.intp)
    inside = np.broadcast_to(valid, q.shape[:-1]).copy()
    for k, c in enumerate(centres):
        n = c.size
        step = (c[-1] - c[0]) / (n - 1)
        lo, hi = c[0] - step / 2, c[-1] + step / 2
        x = q[..., k]
        idx = np.floor((x - lo) / step).astype(np.intp)
        idx[x == hi] = n - 1  # last bin closed
        inside &= (x >= lo) & (x <= hi)
        flat = flat * n + np.clip(idx, 0, n - 1)
    return np.where(inside, flat, -1)


def gridded_qspace(
    frames: Any,
    q: ArrayLike,
    *,
    shape: tuple[int, int, int] = (50, 100, 100),
    pixel_mask: ArrayLike | None = None,
    points: tuple[slice, slice] | None = None,
    q_range: Sequence[tuple[float, float]] | None = None,
    background: float = 0.0,
    y_um: ArrayLike | None = None,
    x_um: ArrayLike | None = None,
) -> xr.Dataset:
    """q-space cube of every scan point of a region, binned as XSOCS does.

    Parameters
    ----------
    frames : (angle, y, x, det_y, det_x) ndarray or dask array
        Counts (only the region is read, one map row at a time).
    q : (angle, det_y, det_x, 3) array_like
        Q of every voxel, 1/Å.
    shape : (int, int, int)
        Bins along qx, qy, qz.
    pixel_mask : (det_y, det_x) array_like, optional
        Nonzero = bad pixel (left out).
    points : (slice, slice), optional
        Region of scan points (rows, columns); the whole map by default.
    q_range : three (min, max) pairs, optional
        See :func:`qspace_bins`.
    background : float
        Counts per pixel per frame subtracted before binning (XSOCS subtracts nothing).
    y_um, x_um : (y,) and (x,) array_like, optional
        Scan positions, stored as ``sample_y`` and ``sample_x``.

    Returns
    -------
    xarray.Dataset
        ``qspace`` (point, qx, qy, qz) float32: summed counts per bin; ``histo``
        (qx, qy, qz) int32: voxels per bin; ``intensity`` = qspace / histo (NaN where
        empty); ``qspace_sum`` (point); coordinates ``qx, qy, qz`` (bin centres, 1/Å),
        ``iy, ix`` (grid indices) and ``sample_y, sample_x`` (µm) per point.
    """
    qa = np.asarray(q, dtype=np.float64)
    if frames.ndim != 5 or qa.shape != (frames.shape[0], *frames.shape[3:], 3):
        raise ParameterError(f"frames {frames.shape} and q {qa.shape} do not match (angle, y, x, det_y, det_x)")
    _n_a, ny, nx, dy, dx = frames.shape
    valid = np.ones((dy, dx), dtype=bool) if pixel_mask is None else np.asarray(pixel_mask) == 0
    ys, xs = points if points is not None else (slice(None), slice(None))
    rows, cols = np.arange(ny)[ys], np.arange(nx)[xs]
    if not rows.size or not cols.size:
        raise ParameterError(f"the region {points} holds no scan point of the {ny} x {nx} map")
    centres = qspace_bins(qa, shape=shape, valid=valid, q_range=q_range)
    lut = _lut(qa, centres, valid).reshape(-1)
    use = lut >= 0
    lut_use = lut[use]
    nbins = int(np.prod(shape))
    histo = np.bincount(lut_use, minlength=nbins).astype(np.int32)
    cube = np.empty((rows.size * cols.size, nbins), dtype=np.float32)
    for i, r in enumerate(rows):
        block = frames[:, r, cols]
        block = np.asarray(block.compute() if hasattr(block, "compute") else block, dtype=np.float64)
        block = block.transpose(1, 0, 2, 3).reshape(cols.size, -1)[:, use] - background
        for j in range(cols.size):
            cube[i * cols.size + j] = np.bincount(lut_use, weights=block[j], minlength=nbins)
    iy, ix = np.repeat(rows, cols.size), np.tile(cols, rows.size)
    yv = np.arange(ny, dtype=np.float64) if y_um is None else np.asarray(y_um, dtype=np.float64)
    xv = np.arange(nx, dtype=np.float64) if x_um is None else np.asarray(x_um, dtype=np.float64)
    cube4 = cube.reshape(-1, *shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        h3 = histo.reshape(shape)
        per_voxel = np.where(h3 > 0, cube4 / h3, np.nan).astype(np.float32)
    dims = ("point", *_AXES)
    return xr.Dataset(
        {
            "qspace": (dims, cube4, {"units": "counts", "long_name": "summed counts per q bin (XSOCS Data/qspace)"}),
            "histo": (_AXES, histo.reshape(shape), {"units": "1", "long_name": "voxels (pixel x angle) per bin"}),
            "intensity": (dims, per_voxel, {"units": "counts", "long_name": "qspace / histo"}),
            "qspace_sum": (("point",), cube.sum(1, dtype=np.float64).astype(np.float32), {"units": "counts"}),
        },
        coords={
            **{ax: (ax, c, {"units": "1/angstrom"}) for ax, c in zip(_AXES, centres, strict=True)},
            "iy": ("point", iy),
            "ix": ("point", ix),
            "sample_y": ("point", yv[iy], {"units": "um"}),
            "sample_x": ("point", xv[ix], {"units": "um"}),
        },
        attrs={"binning": "XSOCS QSpaceConverter: centres from min to max Q of the valid voxels, last bin closed"},
    )


def qspace_centre_of_mass(cube: xr.Dataset) -> NDArray[np.float64]:
    """Centre of mass of each point's summed cube, (point, 3) in 1/Å (NaN when empty)."""
    w = np.asarray(cube["qspace"].values, dtype=np.float64)
    total = w.sum((1, 2, 3))
    out = np.empty((w.shape[0], 3))
    for k, (ax, axes) in enumerate(zip(_AXES, ((2, 3), (1, 3), (1, 2)), strict=True)):
        proj = w.sum(axes)
        out[:, k] = proj @ cube[ax].values
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total[:, None] != 0, out / total[:, None], np.nan)
