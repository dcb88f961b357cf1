"""Held-out-style 6Li/7Li MAS pairs: line shapes, phases, baselines and acquisitions the main generator lacks.

:func:`operando.synthetic.li_isotope_pair` writes Lorentzian metal lines, a Voigt
electrolyte line, perfect phases and flat baselines. Real spectra also have Gaussian or
Voigt metal lines, asymmetric (Dysonian-like) metal lines, a first-order phase error the
spectrometer's stored phases leave, a rolling baseline from corrupted first FID points,
spinning rates at which one species' sidebands fall on another's centre band, other fields,
and each nucleus at its own gain, scans and pulse. :func:`heldout_isotope_pair` writes such
a pair as Bruker folders (through :func:`operando.synthetic.write_bruker_fid`), so that the
quantitation is tested on conditions it was not tuned on.

The truth is each species' number of nuclei: a line of area ``A`` has the FID magnitude
``A`` at ``t = 0`` (sidebands included) per scan at unit gain, after a 90-degree pulse.
A Dysonian-like line is the same line with a dispersion admixture (its whole sideband
family turned by ``asymmetry_deg``); its absorption integral is ``A cos(asymmetry)``, so
with the same asymmetry in both nuclei the 6Li fraction is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import numpy.typing as npt

from operando.synthetic._nmr import ELECTROLYTE_PPM, LI_METAL_PPM, write_bruker_fid

__all__ = ["FIELDS_MHZ", "HeldoutAcquisition", "HeldoutLine", "heldout_fid", "heldout_isotope_pair"]

#: 7Li and 6Li Larmor frequencies at common fields (MHz), from the 1H frequency.
FIELDS_MHZ: dict[str, dict[str, float]] = {
    "300": {"7Li": 116.64, "6Li": 44.17},
    "400": {"7Li": 155.4512, "6Li": 58.8805},
    "500": {"7Li": 194.37, "6Li": 73.60},
    "600": {"7Li": 233.23, "6Li": 88.31},
    "850": {"7Li": 330.35, "6Li": 125.09},
}


@dataclass(frozen=True)
class HeldoutLine:
    """One resonance of :func:`heldout_fid`.

    Attributes
    ----------
    ppm : float
        Isotropic shift.
    area : float
        Number of nuclei in FID units (magnitude at ``t = 0``), sidebands included.
    lw_Hz, gw_Hz : float
        Lorentzian and Gaussian FWHM, Hz (0 and >0: a Gaussian line; both: Voigt).
    sidebands : tuple of float
        Relative areas of the sideband orders 1, 2... (each at ``+k`` and ``-k``).
    asymmetry_deg : float
        Dispersion admixture of the whole line (Dysonian-like asymmetry), degrees.
    """

    ppm: float
    area: float
    lw_Hz: float = 200.0
    gw_Hz: float = 0.0
    sidebands: tuple[float, ...] = ()
    asymmetry_deg: float = 0.0


@dataclass(frozen=True)
class HeldoutAcquisition:
    """One nucleus' acquisition in :func:`heldout_isotope_pair`.

    Attributes
    ----------
    ns, rg : int, float
        Scans and receiver gain (the stored FID is ``RG x`` the sum of the scans).
    p1_us, p90_us : float
        Pulse and 90-degree pulse (the signal per scan is ``sin(90 p1 / p90)``; full
        relaxation).
    phase1_deg : float
        First-order phase error left in the data, degrees from the carrier to the band edge
        (each band turned by ``phase1_deg x 2 offset / SW``).
    roll : float
        Baseline roll: a slow ripple (one and a half periods over the spectral width) from
        corrupted FID points 1 and 2, its amplitude in units of the spectrum's tallest
        point (0: none).
    sw_Hz : float
        Spectral width.
    n_points : int
        Complex points.
    filtered : bool
        A digital anti-alias filter as a DSP receiver has (default): bands beyond 90 % of
        the Nyquist frequency are rolled off (raised cosine) and none folds back; False:
        every band is sampled as it is, and those beyond ``SW / 2`` fold into the spectrum.
    """

    ns: int = 16
    rg: float = 64.0
    p1_us: float = 2.0
    p90_us: float = 2.0
    phase1_deg: float = 0.0
    roll: float = 0.0
    sw_Hz: float = 100_000.0
    n_points: int = 4096
    filtered: bool = True


def heldout_fid(
    lines: list[HeldoutLine],
    *,
    sfo1_MHz: float,
    carrier_ppm: float,
    acquisition: HeldoutAcquisition,
    spin_rate_Hz: float,
    noise_per_scan: float,
    rng: np.random.Generator,
) -> npt.NDArray[np.complex128]:
    """The stored FID of ``lines`` (``RG x`` sum over ``NS`` scans), with phase error, roll and noise.

    Parameters
    ----------
    lines : list of HeldoutLine
    sfo1_MHz, carrier_ppm : float
        Transmitter frequency and the shift at the carrier.
    acquisition : HeldoutAcquisition
    spin_rate_Hz : float
        MAS rate (sideband spacing), Hz.
    noise_per_scan : float
        Standard deviation of the real and imaginary noise of one scan per point.
    rng : numpy.random.Generator

    Returns
    -------
    (n_points,) ndarray of complex128

    Examples
    --------
    >>> acq = HeldoutAcquisition(ns=4, rg=2.0, n_points=256)
    >>> f = heldout_fid([HeldoutLine(10.0, 1.5)], sfo1_MHz=100.0, carrier_ppm=0.0, acquisition=acq,
    ...                 spin_rate_Hz=0.0, noise_per_scan=0.0, rng=np.random.default_rng(0))
    >>> round(float(abs(f[0])), 6)  # RG x NS x area
    12.0
    """
    acq = acquisition
    t = np.arange(acq.n_points) / acq.sw_Hz
    bf1 = sfo1_MHz / (1.0 + carrier_ppm * 1e-6)
    per_scan = float(np.sin(np.deg2rad(90.0 * acq.p1_us / acq.p90_us)))
    signal = np.zeros(acq.n_points, dtype=np.complex128)
    for line in lines:
        decay = np.exp(-np.pi * line.lw_Hz * t - (np.pi * line.gw_Hz * t) ** 2 / (4.0 * np.log(2.0)))
        bands = [(0, 1.0 - 2.0 * sum(line.sidebands))]
        bands += [(s * k, w) for k, w in enumerate(line.sidebands, start=1) for s in (1, -1)]
        for order, weight in bands:
            f = (line.ppm - carrier_ppm) * bf1 + order * spin_rate_Hz
            phase = np.deg2rad(line.asymmetry_deg + acq.phase1_deg * 2.0 * f / acq.sw_Hz)
            gain = _filter_gain(f, acq.sw_Hz) if acq.filtered else 1.0
            signal += gain * line.area * weight * np.exp(1j * phase) * decay * np.exp(2j * np.pi * f * t)
    signal *= per_scan
    if acq.roll:
        # ripple from corrupted points 1 and 2: cos/sin terms of one and two periods over SW
        spectrum_peak = float(np.abs(np.fft.fft(signal).real).max())
        signal[1] += acq.roll * spectrum_peak * 0.6 * np.exp(0.7j)
        signal[2] += acq.roll * spectrum_peak * 0.4 * np.exp(-1.1j)
    noise = noise_per_scan * np.sqrt(acq.ns) * (rng.standard_normal(acq.n_points)
                                                + 1j * rng.standard_normal(acq.n_points))  # fmt: skip
    return np.asarray(acq.rg * (acq.ns * signal + noise))


def _filter_gain(f_Hz: float, sw_Hz: float, passband: float = 0.9) -> float:
    """A DSP decimation filter's gain at ``f_Hz`` from the carrier: flat, then a raised cosine to 0 at ``SW / 2``.

    Examples
    --------
    >>> _filter_gain(10.0, 100.0), round(_filter_gain(47.5, 100.0), 9), _filter_gain(60.0, 100.0)
    (1.0, 0.5, 0.0)
    """
    edge = min(max((abs(f_Hz) / (0.5 * sw_Hz) - passband) / (1.0 - passband), 0.0), 1.0)
    return float(0.5 * (1.0 + np.cos(np.pi * edge)))


@dataclass(frozen=True)
class HeldoutPair:
    """What :func:`heldout_isotope_pair` wrote.

    Attributes
    ----------
    li7, li6 : pathlib.Path
        The Bruker folders.
    x6_metal, x6_electrolyte : float
        True 6Li fractions.
    p90_us : dict
        The 90-degree pulse of each nucleus (what an analysis must be told).
    """

    li7: Path
    li6: Path
    x6_metal: float
    x6_electrolyte: float
    p90_us: dict[str, float] = field(default_factory=dict)


def heldout_isotope_pair(
    folder: str | PathLike[str],
    *,
    x6_metal: float,
    x6_electrolyte: float = 0.0759,
    metal_amount: float = 1.0,
    electrolyte_amount: float = 1.0,
    factor: float = 28.45,
    field: str = "400",
    spin_rate_Hz: float = 25_000.0,
    metal_lw_ppm: float = 3.86,
    metal_gw_ppm: float = 0.0,
    electrolyte_lw_ppm: float = 1.93,
    electrolyte_gw_ppm: float = 0.64,
    sidebands_7li: tuple[float, ...] = (0.03,),
    sidebands_6li: tuple[float, ...] = (0.01,),
    asymmetry_deg: float = 0.0,
    acquisition_7li: HeldoutAcquisition = HeldoutAcquisition(),
    acquisition_6li: HeldoutAcquisition = HeldoutAcquisition(ns=256, rg=512.0),
    snr_7li: float = 2000.0,
    seed: int = 0,
) -> HeldoutPair:
    """Write ``<folder>/7Li/1`` and ``<folder>/6Li/1``: Li metal (264.5 ppm) and electrolyte (1.2 ppm).

    As :func:`operando.synthetic.li_isotope_pair` (the 6Li signal per nucleus is ``1 /
    factor`` of the 7Li one; equal noise per scan in both, set by the 7Li metal line's
    time-domain SNR of one scan), with line widths in ppm (Gaussian parts too), the same
    electrolyte sidebands as the metal's, the metal's Dysonian-like asymmetry in both nuclei,
    and each nucleus' own :class:`HeldoutAcquisition` (gain, scans, pulse, phase error, roll,
    spectral width). ``field`` is a key of :data:`FIELDS_MHZ`.

    Returns
    -------
    HeldoutPair
    """
    rng = np.random.default_rng(seed)
    root = Path(folder)
    larmor = FIELDS_MHZ[field]
    noise = factor * metal_amount * (1.0 - x6_metal) / snr_7li
    written = {}
    for nucleus, per, bands, acq in (("7Li", factor, sidebands_7li, acquisition_7li),
                                     ("6Li", 1.0, sidebands_6li, acquisition_6li)):  # fmt: skip
        x_m = x6_metal if nucleus == "6Li" else 1.0 - x6_metal
        x_e = x6_electrolyte if nucleus == "6Li" else 1.0 - x6_electrolyte
        sf = larmor[nucleus]
        lines = [
            HeldoutLine(LI_METAL_PPM, per * metal_amount * x_m, lw_Hz=metal_lw_ppm * sf, gw_Hz=metal_gw_ppm * sf,
                        sidebands=bands, asymmetry_deg=asymmetry_deg),
            HeldoutLine(ELECTROLYTE_PPM, per * electrolyte_amount * x_e, lw_Hz=electrolyte_lw_ppm * sf,
                        gw_Hz=electrolyte_gw_ppm * sf, sidebands=bands),
        ]  # fmt: skip
        fid = heldout_fid(lines, sfo1_MHz=sf, carrier_ppm=130.0, acquisition=acq, spin_rate_Hz=spin_rate_Hz,
                          noise_per_scan=noise * np.sqrt(acq.sw_Hz / 100_000.0), rng=rng)  # fmt: skip
        written[nucleus] = write_bruker_fid(root / nucleus / "1", fid, nucleus=nucleus, sfo1_MHz=sf, carrier_ppm=130.0,
                                            sw_Hz=acq.sw_Hz, ns=acq.ns, rg=acq.rg, spin_rate_Hz=spin_rate_Hz,
                                            p1_us=acq.p1_us, d1_s=30.0,
                                            acqus={"DECIM": 16} if acq.filtered else None)  # fmt: skip
    return HeldoutPair(written["7Li"], written["6Li"], x6_metal, x6_electrolyte,
                       {"7Li": acquisition_7li.p90_us, "6Li": acquisition_6li.p90_us})  # fmt: skip
