"""Chemical-shift separation of lithium metal and electrolyte signals.

Lithium metal resonates ~260 ppm from diamagnetic Li salts (the Knight shift), so the two
signals can be told apart in two ways, depending on what was acquired:

* **Spectroscopic data** (chemical-shift imaging, or one spectrum per profile/voxel):
  integrate a shift window around each line (:func:`separate_by_shift`).
* **Frequency-encoded images or profiles** (FLASH, spin echo): under the read gradient a
  shift is a frequency offset and so a displacement along the read axis of
  ``shift_ppm * frequency_MHz / bandwidth_Hz_per_px`` voxels
  (:func:`shift_displacement_px`). When the metal and the electrolyte are imaged
  separately (two excitation frequencies, or chemically selective pulses) each image is
  in the right place only for its own resonance; the metal image is registered back onto
  the electrolyte's depth axis by the known displacement (:func:`correct_displacement`).
  A single non-selective image with both resonances overlapping cannot be separated from
  its magnitude alone; that case is not handled.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from operando.errors import ParameterError

__all__ = [
    "KNIGHT_SHIFT_LI_PPM",
    "correct_displacement",
    "separate_by_shift",
    "shift_displacement_px",
    "shift_window_mask",
]

KNIGHT_SHIFT_LI_PPM = 260.0
"""Knight shift of 7Li/6Li in lithium metal relative to diamagnetic Li salts (ppm)."""


def shift_displacement_px(shift_ppm: float, *, frequency_MHz: float, bandwidth_Hz_per_px: float) -> float:
    """Read-direction displacement (voxels) of a resonance at ``shift_ppm`` from the reference.

    Parameters
    ----------
    shift_ppm : float
        Shift difference to the resonance the image is centred on.
    frequency_MHz : float
        Imaging (Larmor) frequency of the nucleus.
    bandwidth_Hz_per_px : float
        Receiver bandwidth per voxel along the read direction (Hz/px); the sign gives the
        read polarity (positive: higher frequency at higher index).

    Examples
    --------
    >>> round(shift_displacement_px(260.0, frequency_MHz=116.6, bandwidth_Hz_per_px=3789.5), 3)
    8.0
    """
    if bandwidth_Hz_per_px == 0:
        raise ParameterError("bandwidth per voxel must be non-zero")
    return float(shift_ppm * frequency_MHz / bandwidth_Hz_per_px)


def correct_displacement(images: npt.ArrayLike, shift_px: float, *, axis: int = 1) -> npt.NDArray[np.float64]:
    """Move an image back by a known read displacement (linear interpolation, zero fill).

    Parameters
    ----------
    images : (..., D, ...) array_like
        Image(s) displaced by ``+shift_px`` along ``axis``.
    shift_px : float
        The displacement to undo, in voxels (from :func:`shift_displacement_px`).
    axis : int, default 1
        The read (depth) axis.

    Returns
    -------
    ndarray of float64
        Same shape; integer shifts are exact, others interpolate linearly (the sum over
        the axis is kept up to what moves across the ends).

    Examples
    --------
    >>> correct_displacement([[0.0, 0.0, 1.0, 2.0]], 2.0).tolist()
    [[1.0, 2.0, 0.0, 0.0]]
    """
    arr = np.asarray(images, dtype=np.float64)
    shifts = np.zeros(arr.ndim)
    shifts[axis] = -float(shift_px)
    if float(shift_px).is_integer():
        out = np.zeros_like(arr)
        k = int(shift_px)
        n = arr.shape[axis]
        src = [slice(None)] * arr.ndim
        dst = [slice(None)] * arr.ndim
        src[axis] = slice(max(k, 0), n + min(k, 0))
        dst[axis] = slice(max(-k, 0), n + min(-k, 0))
        out[tuple(dst)] = arr[tuple(src)]
        return out
    return np.asarray(ndimage.shift(arr, shifts, order=1, mode="constant", cval=0.0))


def shift_window_mask(ppm: npt.ArrayLike, window_ppm: tuple[float, float]) -> npt.NDArray[np.bool_]:
    """Points of a ppm axis inside a window (either order of the limits).

    Examples
    --------
    >>> shift_window_mask([300, 260, 0, -10], (200, 320)).tolist()
    [True, True, False, False]
    """
    x = np.asarray(ppm, dtype=np.float64)
    lo, hi = sorted(float(v) for v in window_ppm)
    return np.asarray((x >= lo) & (x <= hi))


def separate_by_shift(
    spectra: npt.ArrayLike,
    ppm: npt.ArrayLike,
    *,
    metal_ppm: tuple[float, float] = (200.0, 320.0),
    electrolyte_ppm: tuple[float, float] = (-50.0, 50.0),
    axis: int = -1,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Metal and electrolyte signal of spectroscopic data by integrating shift windows.

    Parameters
    ----------
    spectra : (..., P, ...) array_like
        Real (phased) spectra with the chemical-shift axis ``axis``, e.g. CSI data
        ``(frame, depth, ppm)``.
    ppm : (P,) array_like
        Uniformly spaced shift axis.
    metal_ppm, electrolyte_ppm : (float, float)
        Integration windows; the defaults bracket the Li metal Knight shift (~260 ppm)
        and the diamagnetic electrolyte/SEI lines (~0 ppm).
    axis : int, default -1

    Returns
    -------
    metal, electrolyte : ndarray
        ``spectra`` with ``axis`` summed over each window, times ``|Δppm|`` (area in
        signal × ppm). The noise error of each is ``sigma * sqrt(n) * |Δppm|`` with ``n``
        the points of :func:`shift_window_mask`.

    Raises
    ------
    ParameterError
        When the windows overlap or one holds no point.
    """
    x = np.asarray(ppm, dtype=np.float64)
    s = np.moveaxis(np.asarray(spectra, dtype=np.float64), axis, -1)
    if s.shape[-1] != x.size or x.size < 2:
        raise ParameterError(f"the shift axis has {s.shape[-1]} points but ppm has {x.size}")
    m_mask, e_mask = shift_window_mask(x, metal_ppm), shift_window_mask(x, electrolyte_ppm)
    if not m_mask.any() or not e_mask.any():
        raise ParameterError(f"a shift window holds no point of the axis ({x.min():.1f}..{x.max():.1f} ppm)")
    if np.any(m_mask & e_mask):
        raise ParameterError("the metal and electrolyte windows overlap")
    step = abs(float(x[1] - x[0]))
    return s[..., m_mask].sum(axis=-1) * step, s[..., e_mask].sum(axis=-1) * step
