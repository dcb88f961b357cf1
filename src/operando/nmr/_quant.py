"""Quantitative NMR intensities: what the spectrometer did to the signal, and where a species' signal lies.

A FID as stored is ``RG x sum over NS scans`` of the nuclei's signal (TopSpin adds scans;
the receiver gain ``RG`` is a linear factor), so intensities of spectra recorded at other
gains or scan counts compare only after dividing by ``NS x RG``. A pulse shorter than 90
degrees excites ``sin(theta)`` of the magnetisation, and a recycle delay short against
``T1`` leaves the steady state ``(1 - E) / (1 - E cos theta)``, ``E = exp(-TR / T1)``
(Ernst & Anderson, Rev. Sci. Instrum. 37, 93 (1966)); :func:`signal_factor` is their
product, the signal relative to a fully relaxed 90-degree acquisition.

Under magic-angle spinning a line's area is shared between its centre band and sidebands
spaced by the spinning rate (in Hz, the same for every nucleus): :func:`sideband_windows`
gives a species' windows, :func:`hz_matched_window` carries a window to another nucleus at
the same width in Hz, and :func:`windows_mask` joins windows without counting a point twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from operando.errors import ParameterError

__all__ = [
    "flip_angle_deg",
    "hz_matched_window",
    "saturation_factor",
    "sideband_windows",
    "signal_factor",
    "windows_mask",
]

Window = tuple[float, float]


def flip_angle_deg(pulse_us: float, p90_us: float) -> float:
    """Flip angle of a pulse of length ``pulse_us`` when ``p90_us`` gives 90 degrees.

    Examples
    --------
    >>> flip_angle_deg(1.0, 2.0)
    45.0
    """
    if not (pulse_us > 0 and p90_us > 0):
        raise ParameterError(f"pulse ({pulse_us} us) and 90-degree pulse ({p90_us} us) must be positive")
    return 90.0 * pulse_us / p90_us


def saturation_factor(repetition_s: float, t1_s: float, *, flip_deg: float = 90.0) -> float:
    """Steady-state longitudinal magnetisation left for each scan, relative to full relaxation.

    ``(1 - E) / (1 - E cos theta)`` with ``E = exp(-TR / T1)`` (Ernst & Anderson 1966; the
    transverse magnetisation is assumed to have decayed before the next pulse).

    Parameters
    ----------
    repetition_s : float
        Time between pulses, ``TR`` = recycle delay + acquisition, s.
    t1_s : float
        Longest longitudinal relaxation time of the species, s.
    flip_deg : float, default 90

    Returns
    -------
    float
        In (0, 1]; 1 - exp(-5) = 0.993 at ``TR = 5 T1`` and 90 degrees.

    Examples
    --------
    >>> round(saturation_factor(5.0, 1.0), 4)
    0.9933
    >>> round(saturation_factor(1.0, 1.0, flip_deg=30.0), 3)
    0.928
    """
    if not (repetition_s > 0 and t1_s > 0):
        raise ParameterError(f"repetition time ({repetition_s} s) and T1 ({t1_s} s) must be positive")
    e = np.exp(-repetition_s / t1_s)
    return float((1.0 - e) / (1.0 - e * np.cos(np.deg2rad(flip_deg))))


def signal_factor(
    *,
    pulse_us: float | None = None,
    p90_us: float | None = None,
    repetition_s: float | None = None,
    t1_s: float | None = None,
) -> float:
    """Signal per scan relative to a fully relaxed 90-degree pulse: ``sin(theta) x saturation``.

    The flip angle needs both ``pulse_us`` and ``p90_us`` (else 90 degrees); the
    saturation needs ``repetition_s`` and ``t1_s`` (else full relaxation).

    Examples
    --------
    >>> signal_factor()
    1.0
    >>> round(signal_factor(pulse_us=1.0, p90_us=2.0), 4)
    0.7071
    """
    flip = 90.0
    if pulse_us is not None and p90_us is not None:
        flip = flip_angle_deg(pulse_us, p90_us)
    factor = float(np.sin(np.deg2rad(flip)))
    if repetition_s is not None and t1_s is not None:
        factor *= saturation_factor(repetition_s, t1_s, flip_deg=flip)
    if abs(factor) < 1e-6:
        raise ParameterError(f"a {flip:g}-degree pulse excites no signal; check the pulse and 90-degree pulse")
    return factor


def sideband_windows(
    lo: float, hi: float, *, spin_rate_Hz: float | None, sf_MHz: float, ppm_limits: Window
) -> list[tuple[int, float, float]]:
    """The centre-band window and its spinning-sideband copies inside the spectrum.

    Parameters
    ----------
    lo, hi : float
        Centre-band window, ppm.
    spin_rate_Hz : float or None
        MAS rate; None or 0 gives the centre band only.
    sf_MHz : float
        Spectrometer frequency of the nucleus (ppm = Hz / MHz).
    ppm_limits : (float, float)
        The spectrum's ppm range; a sideband window is kept while it overlaps it.

    Returns
    -------
    list of (order, lo, hi)
        Order 0 first, then +-1, +-2, ... (``lo < hi``). When the window is wider than half
        the sideband spacing the sideband windows are narrowed about their centres so that
        none overlaps another or the centre band's (none at all for a window as wide as the
        spacing).

    Examples
    --------
    >>> sideband_windows(-5, 5, spin_rate_Hz=10000.0, sf_MHz=100.0, ppm_limits=(-250, 250))
    [(0, -5.0, 5.0), (1, 95.0, 105.0), (-1, -105.0, -95.0), (2, 195.0, 205.0), (-2, -205.0, -195.0)]
    >>> sideband_windows(-70, 70, spin_rate_Hz=10000.0, sf_MHz=100.0, ppm_limits=(-150, 150))
    [(0, -70.0, 70.0), (1, 70.0, 130.0), (-1, -130.0, -70.0)]
    """
    a, b = min(lo, hi), max(lo, hi)
    out = [(0, float(a), float(b))]
    if not spin_rate_Hz or spin_rate_Hz <= 0:
        return out
    if not sf_MHz > 0:
        raise ParameterError(f"spectrometer frequency must be positive, got {sf_MHz} MHz")
    step = spin_rate_Hz / sf_MHz
    # a window wider than the spacing would reach into its neighbours: the sideband windows
    # are narrowed about their centres so that none overlaps the centre band's or another's
    half = min((b - a) / 2.0, step - (b - a) / 2.0, step / 2.0)
    if half <= 0:
        return out
    centre = (a + b) / 2.0
    pmin, pmax = min(ppm_limits), max(ppm_limits)
    k = 1
    while True:
        added = False
        for order in (k, -k):
            wlo, whi = centre + order * step - half, centre + order * step + half
            if whi >= pmin and wlo <= pmax:
                out.append((order, float(wlo), float(whi)))
                added = True
        if not added:
            return out
        k += 1


def hz_matched_window(lo: float, hi: float, *, from_MHz: float, to_MHz: float) -> Window:
    """A ppm window carried to another nucleus at the same width in Hz, about the same centre (ppm).

    Parameters
    ----------
    lo, hi : float
        Window on the nucleus observed at ``from_MHz``, ppm.
    from_MHz, to_MHz : float
        Spectrometer frequencies of the two nuclei.

    Returns
    -------
    (float, float)

    Examples
    --------
    >>> hz_matched_window(250.0, 280.0, from_MHz=155.0, to_MHz=62.0)
    (227.5, 302.5)
    """
    if not (from_MHz > 0 and to_MHz > 0):
        raise ParameterError(f"frequencies must be positive, got {from_MHz} and {to_MHz} MHz")
    centre = (lo + hi) / 2.0
    scale = from_MHz / to_MHz
    return float(centre + (lo - centre) * scale), float(centre + (hi - centre) * scale)


def windows_mask(ppm: npt.ArrayLike, windows: Sequence[Window]) -> npt.NDArray[np.bool_]:
    """Points inside any of the windows (each point once).

    Examples
    --------
    >>> windows_mask(np.arange(6.0), [(0, 1), (1, 2), (4, 4)]).tolist()
    [True, True, True, False, True, False]
    """
    x = np.asarray(ppm, dtype=np.float64)
    m = np.zeros(x.shape, dtype=bool)
    for lo, hi in windows:
        m |= (x >= min(lo, hi)) & (x <= max(lo, hi))
    return m
