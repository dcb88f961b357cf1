"""Chemical-shift imaging (CSI) from k-space: Fourier transforms along the phase-encoded axes
and the spectral (acquisition-time) axis.

In CSI every spatial axis is phase encoded: each acquisition is one free-induction decay
(FID) for one point ``k`` of k-space, ``s(k, t) = sum_x rho(x, t) exp(-2 pi i k.x / N)``.
The image of spectra is the inverse discrete Fourier transform over the k axes (k-space
centred: index ``N // 2`` is ``k = 0``) and the Fourier transform over time in NMR order
(:func:`nmrglue.process.proc_base.fft`, so that the frequency axis runs from high to low
ppm, as the spectrometer shows it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from operando.errors import ParameterError

__all__ = ["csi_ppm_axis", "fid_truncation", "reconstruct_csi"]


def csi_ppm_axis(n_points: int, *, sw_hz: float, bf_MHz: float, o1_hz: float = 0.0) -> npt.NDArray[np.float64]:
    """Chemical shift (ppm from the base frequency) of each point of an NMR-ordered spectrum.

    Parameters
    ----------
    n_points : int
        Spectral points.
    sw_hz : float
        Spectral width (``SW_h``).
    bf_MHz : float
        Base (reference) frequency (``BF1``).
    o1_hz : float, default 0
        Carrier offset from the base frequency (``O1``).

    Returns
    -------
    (n_points,) ndarray
        Decreasing: point ``k`` is ``(o1 + sw/2 - k sw/n) / bf``.

    Examples
    --------
    >>> csi_ppm_axis(4, sw_hz=400.0, bf_MHz=100.0).tolist()
    [2.0, 1.0, 0.0, -1.0]
    """
    if n_points < 2 or sw_hz <= 0 or bf_MHz <= 0:
        raise ParameterError(f"need >= 2 points and positive SW_h, BF1; got {n_points}, {sw_hz}, {bf_MHz}")
    freq = o1_hz + sw_hz / 2 - np.arange(n_points) * (sw_hz / n_points)
    return np.asarray(freq / bf_MHz, dtype=np.float64)


def reconstruct_csi(
    fid: npt.ArrayLike,
    *,
    phase_axes: Sequence[int],
    spectral_axis: int = -1,
    sw_hz: float,
    bf_MHz: float,
    o1_hz: float = 0.0,
    line_broadening_hz: float = 0.0,
    phase_deg: float = 0.0,
) -> tuple[npt.NDArray[np.complex128], npt.NDArray[np.float64]]:
    """Spectra per voxel from CSI k-space data.

    Parameters
    ----------
    fid : complex array_like
        K-space FIDs, e.g. ``(k1, k2, k3, t)``; k axes centred (``k = 0`` at ``N // 2``).
    phase_axes : sequence of int
        The phase-encoded (spatial) axes; each becomes an image axis of the same length.
    spectral_axis : int, default -1
        Acquisition time; becomes the chemical-shift axis.
    sw_hz, bf_MHz, o1_hz : float
        Spectral width, base frequency, carrier offset (see :func:`csi_ppm_axis`).
    line_broadening_hz : float, default 0
        Exponential apodisation (Lorentzian broadening, FWHM added in Hz); keeps areas.
    phase_deg : float, default 0
        Zero-order phase applied to every spectrum.

    Returns
    -------
    spectra : complex ndarray
        Same shape as ``fid``, spatial axes in image space, the spectral axis in NMR order;
        scaled so that the real part integrated over ppm (``sum * |dppm|``) is the FID's
        first point: a line's area in signal x ppm is its amplitude at ``t = 0`` (the first
        point is halved before the transform, which removes the baseline offset).
    ppm : (T,) ndarray
        Decreasing shift axis.

    Examples
    --------
    >>> t = np.arange(256) / 1000.0  # 1 kHz spectral width at 100 MHz: 10 ppm
    >>> fid = np.zeros((4, 256), complex)
    >>> fid[:, :] = 2.0 * np.exp(-2j * np.pi * 156.25 * t - t / 0.05)  # flat in k: one voxel at x = 0
    >>> spectra, ppm = reconstruct_csi(fid, phase_axes=[0], sw_hz=1000.0, bf_MHz=100.0)
    >>> area = spectra.real.sum(axis=-1) * abs(ppm[1] - ppm[0])
    >>> np.round(area, 2).tolist(), float(ppm[np.argmax(spectra[2].real)])  # x = 0 is index N // 2
    ([0.0, 0.0, 2.0, 0.0], 1.5625)
    """
    from nmrglue.process import proc_base
    from scipy import fft as sfft

    data = np.asarray(fid)
    if not np.iscomplexobj(data):
        raise ParameterError("CSI data must be complex (quadrature FIDs)")
    nd = data.ndim
    spec = spectral_axis % nd
    axes = sorted({int(a) % nd for a in phase_axes})
    if not axes or spec in axes:
        raise ParameterError(
            f"phase axes {list(phase_axes)} must be given and differ from the spectral axis {spectral_axis}"
        )
    n = data.shape[spec]
    x = np.moveaxis(data.astype(np.complex128), spec, -1).copy()
    moved = [a if a < spec else a - 1 for a in axes]
    x[..., 0] *= 0.5
    if line_broadening_hz:
        t = np.arange(n) / sw_hz
        x *= np.exp(-np.pi * line_broadening_hz * t)
    # k-space centred: shift k = 0 to index 0, invert, put x = 0 back in the middle
    x = sfft.fftshift(sfft.ifftn(sfft.ifftshift(x, axes=moved), axes=moved), axes=moved)
    spectra = proc_base.fft(x) * (2.0 / n)
    ppm = csi_ppm_axis(n, sw_hz=sw_hz, bf_MHz=bf_MHz, o1_hz=o1_hz)
    spectra = spectra / abs(ppm[1] - ppm[0])
    if phase_deg:
        spectra = spectra * np.exp(1j * np.deg2rad(phase_deg))
    return np.asarray(np.moveaxis(spectra, -1, spec)), ppm


def fid_truncation(fid: npt.ArrayLike, *, spectral_axis: int = -1, tail: int = 8) -> float:
    """How much signal is left at the end of the acquisition, as a fraction of the FID's largest point.

    Measured on the FID with the most signal (the k-space centre); the noise level, taken
    from the FID with the least, is removed in quadrature. A FID cut while it still holds
    signal transforms to lines with sinc ringing that reaches every shift window (a metal
    map with metal in every voxel): an exponential window (``line_broadening_hz``) damps it.

    Parameters
    ----------
    fid : complex array_like
        K-space FIDs, e.g. ``(k1, k2, k3, t)``.
    spectral_axis : int, default -1
    tail : int, default 8
        Last points averaged.

    Returns
    -------
    float
        ``|signal|`` over the last ``tail`` points divided by the largest ``|fid|`` (0 when
        the end is at the noise level).

    Examples
    --------
    >>> t = np.arange(256) / 1e5
    >>> k = np.array([0.01, 1.0, 0.01])[:, None] * np.exp(2j * np.pi * 3e3 * t - t / 1.5e-3)
    >>> round(fid_truncation(k), 2)  # 2.56 ms of a 1.5 ms decay: about exp(-1.7)
    0.19
    >>> round(fid_truncation(k * np.exp(-t / 2e-4)), 3)
    0.0
    """
    x = np.moveaxis(np.asarray(fid), spectral_axis, -1)
    x = x.reshape(-1, x.shape[-1])
    n = min(tail, x.shape[-1] // 4) or 1
    power = np.mean(np.abs(x) ** 2, axis=-1)
    strong, weak = x[int(np.argmax(power))], x[int(np.argmin(power))]
    peak = float(np.max(np.abs(strong)))
    if peak <= 0:
        return 0.0
    signal = float(np.mean(np.abs(strong[-n:]) ** 2)) - float(np.mean(np.abs(weak[-n:]) ** 2))
    return float(np.sqrt(max(signal, 0.0)) / peak)
