"""Filtered back-projection by Fourier gridding on a non-uniform FFT (gridrec-like quality).

For each angle the sinogram row is zero-padded, Fourier transformed, ramp-filtered and
windowed, and phase-shifted so that the rotation centre is the origin. The back-projection
of all angles is then one type-1 non-uniform FFT (finufft) from the polar samples
``(theta_k, omega_m)`` to the Cartesian image grid: finufft spreads the samples onto an
oversampled grid with an exponential-of-semicircle kernel, applies the 2-D inverse FFT and
divides by the kernel's transform (deapodisation), which is what gridrec does.

Geometry (same as ``skimage.transform.radon``): a projection at angle ``theta`` samples
``s = x cos(theta) - y sin(theta)`` with ``x`` the image column and ``y`` the image row
offsets from the rotation axis; detector column ``j`` sits at ``s = j - center``
(centre convention: pixels from the centre of pixel 0, see :mod:`operando.tomo._prep`).
The rotation axis lands on pixel ``(size // 2, size // 2)`` of the reconstruction.
"""

from __future__ import annotations

from typing import Any, Literal

import dask.array as da
import numpy as np
from scipy import fft as sfft

from operando.errors import ParameterError

__all__ = ["ramp_filter", "reconstruct", "reconstruct_slice"]

Window = Literal["ramp", "shepp-logan", "hann", "cosine"]


def ramp_filter(n_pad: int, *, window: Window = "shepp-logan") -> np.ndarray:
    """Discrete ramp filter on the ``rfft`` frequencies of a length-``n_pad`` signal.

    The ramp is the transform of the band-limited spatial kernel (``1/4`` at 0,
    ``-1/(pi n)^2`` at odd ``n``), whose zero-frequency value is not zero; this avoids the
    DC offset of a sampled ``|f|``.

    Parameters
    ----------
    n_pad : int
        Padded signal length (even).
    window : {"ramp", "shepp-logan", "hann", "cosine"}
        Apodisation window multiplied into the ramp.

    Returns
    -------
    (n_pad // 2 + 1,) ndarray of float64
        Filter values at ``f = 0 ... 0.5`` cycles/pixel; equals ``|f|`` for large ``n_pad``.
    """
    odd = np.arange(1, n_pad, 2)
    dist = np.minimum(odd, n_pad - odd)  # circular distance of the odd taps from tap 0
    h = np.zeros(n_pad)
    h[0] = 0.25
    h[1::2] = -1.0 / (np.pi * dist) ** 2
    filt = np.real(sfft.rfft(h))
    f = sfft.rfftfreq(n_pad)
    if window == "shepp-logan":
        filt[1:] *= np.sinc(f[1:])
    elif window == "hann":
        filt *= 0.5 * (1.0 + np.cos(2.0 * np.pi * f))
    elif window == "cosine":
        filt *= np.cos(np.pi * f)
    elif window != "ramp":
        raise ParameterError(f"unknown window {window!r}; use ramp, shepp-logan, hann or cosine")
    return filt


def reconstruct_slice(
    sinogram: np.ndarray,
    angles_deg: np.ndarray,
    *,
    center: float | None = None,
    size: int | None = None,
    window: Window = "shepp-logan",
    eps: float | None = None,
    nthreads: int | None = None,
) -> np.ndarray:
    """Reconstruct one slice from its sinogram.

    Parameters
    ----------
    sinogram : (n_angles, n_cols) array_like
        Line integrals (after ``-log``), one row per angle; float32 stays float32.
    angles_deg : (n_angles,) array_like
        Projection angles, degrees, uniformly covering 180° (or 360°).
    center : float, optional
        Rotation centre, pixels from the centre of detector pixel 0; default ``n_cols / 2``.
    size : int, optional
        Side of the square reconstruction, pixels; default ``n_cols``.
    window : {"ramp", "shepp-logan", "hann", "cosine"}, default "shepp-logan"
        Window multiplied into the ramp filter.
    eps : float, optional
        finufft tolerance; default 1e-5 (float32) or 1e-9 (float64).
    nthreads : int, optional
        finufft threads; default all.

    Returns
    -------
    (size, size) ndarray
        Attenuation per pixel (the sinogram's unit divided by the pixel size), rows ``y``
        and columns ``x``, rotation axis at ``(size // 2, size // 2)``.
    """
    import finufft

    sino = np.asarray(sinogram)
    dt = np.dtype(np.float32) if sino.dtype == np.float32 else np.dtype(np.float64)
    sino = sino.astype(dt, copy=False)
    theta = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    if sino.ndim != 2 or theta.shape != (sino.shape[0],):
        raise ParameterError(f"sinogram {sino.shape} and angles {theta.shape} must be (n_angles, n_cols), (n_angles,)")
    n_angles, n_cols = sino.shape
    c = n_cols / 2.0 if center is None else float(center)
    m = n_cols if size is None else int(size)
    n_pad = sfft.next_fast_len(2 * max(n_cols, m), real=True)
    n_pad += n_pad % 2
    spec = sfft.rfft(sino, n=n_pad, axis=1)  # (n_angles, n_pad//2+1), frequencies f = k / n_pad
    f = sfft.rfftfreq(n_pad)
    # weights: ramp * window, the phase shift putting the rotation axis at s = 0, the angular
    # step pi / n_angles, the frequency step 1 / n_pad, and 2 for the conjugate half-plane
    w = ramp_filter(n_pad, window=window) * (np.pi / n_angles) / n_pad
    w[1:-1] *= 2.0
    coef = spec * (w * np.exp(2j * np.pi * f * c))[None, :]
    omega = 2.0 * np.pi * f
    x_pts = (omega[None, :] * np.cos(theta)[:, None]).ravel()  # image column axis
    y_pts = (-omega[None, :] * np.sin(theta)[:, None]).ravel()  # image row axis
    cdt = np.complex64 if dt == np.float32 else np.complex128
    tol = eps if eps is not None else (1e-5 if dt == np.float32 else 1e-9)
    opts: dict[str, Any] = {"modeord": 0}
    if nthreads is not None:
        opts["nthreads"] = int(nthreads)
    # finufft's mode k1 is the first output axis: pass the row-axis points first
    out = finufft.nufft2d1(
        y_pts.astype(dt), x_pts.astype(dt), coef.ravel().astype(cdt), (m, m), eps=tol, isign=1, **opts
    )
    return np.ascontiguousarray(out.real, dtype=dt)


def reconstruct(
    sinograms: Any,
    angles_deg: np.ndarray,
    *,
    center: float | None = None,
    size: int | None = None,
    window: Window = "shepp-logan",
    nthreads: int | None = None,
) -> Any:
    """Reconstruct a stack of slices, one per detector row.

    Parameters
    ----------
    sinograms : (n_angles, n_rows, n_cols) ndarray or dask array
        Line integrals (after ``-log``); a dask array gives a lazy dask result, one task
        per chunk of rows (the angle and column axes are made whole).
    angles_deg : (n_angles,) array_like
        Degrees.
    center, size, window, nthreads
        See :func:`reconstruct_slice`.

    Returns
    -------
    (n_rows, size, size) ndarray or dask array
        Slices ``(z, y, x)``.
    """
    if sinograms.ndim != 3:
        raise ParameterError(f"sinograms must be (n_angles, n_rows, n_cols), got shape {sinograms.shape}")
    dt = np.dtype(np.float32) if sinograms.dtype == np.float32 else np.dtype(np.float64)
    m = sinograms.shape[2] if size is None else int(size)
    angles = np.asarray(angles_deg, dtype=np.float64)

    def block(b: np.ndarray) -> np.ndarray:  # b: (rows, angles, cols)
        out = np.empty((b.shape[0], m, m), dt)
        for r in range(b.shape[0]):
            out[r] = reconstruct_slice(b[r], angles, center=center, size=m, window=window, nthreads=nthreads)
        return out

    if isinstance(sinograms, da.Array):
        arr = sinograms.rechunk({0: -1, 2: -1}).transpose(1, 0, 2)
        return arr.map_blocks(block, dtype=dt, chunks=(arr.chunks[0], (m,), (m,)), meta=np.empty((0, 0, 0), dt))
    return block(np.asarray(sinograms).transpose(1, 0, 2))
