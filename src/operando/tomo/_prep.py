"""Preprocessing kernels: flat/dark normalisation, -log, stripe (ring) removal, rotation centre.

Pure array-in, array-out: NumPy in gives NumPy out, Dask in gives lazy Dask out.
dtype policy: float32 stays float32, everything else becomes float64.

Centre convention (the whole subpackage): the rotation centre is a detector column
position in pixels **measured from the centre of pixel 0** (column index coordinates),
so a centre of ``(n_cols - 1) / 2`` is exactly mid-detector.
"""

from __future__ import annotations

import warnings
from typing import Any

import dask.array as da
import numpy as np

from operando.errors import ParameterError

__all__ = ["find_center", "minus_log", "normalize", "remove_stripes"]


def _float_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


def normalize(projections: Any, flats: Any, darks: Any = None, *, floor: float = 1e-6) -> Any:
    """Flat/dark correction ``(I - mean(dark)) / (mean(flat) - mean(dark))``, clipped below at ``floor``.

    Parameters
    ----------
    projections : (n_angles, n_rows, n_cols) ndarray or dask array
        Raw projections, counts.
    flats : (n_flats, n_rows, n_cols) array
        Open-beam frames, counts; their mean is used.
    darks : (n_darks, n_rows, n_cols) array, optional
        Dark frames, counts; their mean is used (zero when absent).
    floor : float, default 1e-6
        Smallest transmission kept, so that ``-log`` stays finite.

    Returns
    -------
    (n_angles, n_rows, n_cols) ndarray or dask array
        Transmission (dimensionless), float32 for float32 input, else float64.
    """
    dt = _float_dtype(np.dtype(projections.dtype))
    flat = flats.astype(dt).mean(axis=0)
    dark = darks.astype(dt).mean(axis=0) if darks is not None else dt.type(0)
    denom = flat - dark
    denom = (da if isinstance(denom, da.Array) else np).where(denom > floor, denom, dt.type(floor))
    out = (projections.astype(dt) - dark) / denom
    return out.clip(dt.type(floor), None).astype(dt, copy=False)


def minus_log(transmission: Any) -> Any:
    """Line integrals ``-ln(T)`` from a transmission (any shape; NumPy or Dask)."""
    dt = _float_dtype(np.dtype(transmission.dtype))
    return -(da if isinstance(transmission, da.Array) else np).log(transmission.astype(dt, copy=False))


def _stripes_2d(sino: np.ndarray, size: int, dim: int) -> np.ndarray:
    from algotom.prep.removal import remove_stripe_based_sorting

    with warnings.catch_warnings():
        # algotom's scipy/numba paths warn about deprecated keyword spellings; nothing actionable here
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"algotom\..*")
        out = remove_stripe_based_sorting(np.asarray(sino), size=size, dim=dim)
    return np.asarray(out, dtype=sino.dtype)


def remove_stripes(sinograms: Any, *, size: int = 21, dim: int = 1) -> Any:
    """Remove stripe artefacts (rings after reconstruction) with Vo's sorting-based filter.

    Wraps :func:`algotom.prep.removal.remove_stripe_based_sorting` (Vo et al., Opt. Express 26, 2018).

    Parameters
    ----------
    sinograms : (n_angles, n_cols) or (n_angles, n_rows, n_cols) ndarray or dask array
        Sinogram(s) after ``-log``; a 3-D stack is processed row by row.
    size : int, default 21
        Median filter window across the angles, pixels.
    dim : {1, 2}, default 1
        1-D or 2-D median filter.

    Returns
    -------
    ndarray or dask array
        Same shape; float32 for float32 input, else float64.
    """
    dt = _float_dtype(np.dtype(sinograms.dtype))
    if sinograms.ndim == 2:
        return _stripes_2d(np.asarray(sinograms, dtype=dt), size, dim)
    if sinograms.ndim != 3:
        raise ParameterError(f"sinograms must be 2-D or 3-D, got shape {sinograms.shape}")

    def block(b: np.ndarray) -> np.ndarray:
        b = b.astype(dt, copy=False)
        return np.stack([_stripes_2d(b[:, r], size, dim) for r in range(b.shape[1])], axis=1)

    if isinstance(sinograms, da.Array):
        arr = sinograms.rechunk({0: -1, 2: -1})
        return arr.map_blocks(block, dtype=dt, meta=np.empty((0, 0, 0), dt))
    return block(np.asarray(sinograms))


def find_center(
    sinogram: np.ndarray,
    *,
    search_px: tuple[float, float] | None = None,
    step_px: float = 0.25,
    ratio: float = 0.5,
) -> float:
    """Rotation centre of a 180° sinogram by Vo's Fourier method.

    Wraps :func:`algotom.prep.calculation.find_center_vo` (Vo et al., Opt. Express 22, 2014).

    Parameters
    ----------
    sinogram : (n_angles, n_cols) array
        One sinogram after ``-log``, angles spanning [0, 180) degrees.
    search_px : (float, float), optional
        Search range of the centre, pixels (this package's convention); default algotom's
        (the middle of the detector ± 16 %).
    step_px : float, default 0.25
        Sub-pixel search step, pixels.
    ratio : float, default 0.5
        Object size relative to the field of view (algotom's mask parameter).

    Returns
    -------
    float
        Centre in pixels from the centre of pixel 0 (column index). algotom uses the same
        index convention (checked against a synthetic sinogram with a known centre).
    """
    sino = np.asarray(sinogram, dtype=np.float32)
    if sino.ndim != 2:
        raise ParameterError(f"sinogram must be 2-D (angle, col), got shape {sino.shape}")
    from algotom.prep.calculation import find_center_vo

    start, stop = (None, None) if search_px is None else search_px
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"algotom\..*")
        centre = find_center_vo(sino, start=start, stop=stop, step=step_px, ratio=ratio, ncore=1)
    return float(centre)
