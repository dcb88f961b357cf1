"""Synthetic 6Li/7Li MAS NMR of a Li-metal cell, written as a Bruker experiment folder.

Lines are Voigt profiles (Lorentzian FWHM ``lw_Hz``, optional Gaussian ``gw_Hz``) built in
the time domain, each with an optional comb of spinning sidebands, plus complex Gaussian
noise; the FID is stored as TopSpin stores it (``acqus`` JCAMP-DX and a little-endian int32
``fid``; :func:`digital_filter` adds a DSP's group delay), so the same reader that reads real data reads it.

The ground truth is the line *area*: a line of area ``A`` has the FID amplitude ``A`` at
``t = 0`` (sidebands included), so its spectral integral, in the unnormalised FT's units
divided by the number of spectral points, is ``A``.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "ELECTROLYTE_PPM",
    "LICL_PPM",
    "LI_METAL_PPM",
    "Excitation",
    "NMRLine",
    "acquire",
    "digital_filter",
    "li_isotope_pair",
    "licl_reference_pair",
    "simulate_fid",
    "write_bruker_fid",
    "write_varian_fid",
]

#: Knight shift of Li metal and the shift of Li in the electrolyte, ppm.
LI_METAL_PPM = 264.5
ELECTROLYTE_PPM = 1.2
#: Solid LiCl, the usual 6Li/7Li calibration sample: about -1.1 ppm from 1 M LiCl(aq).
LICL_PPM = -1.1
#: Larmor frequencies at 9.4 T (400 MHz 1H), MHz.
LARMOR_MHZ = {"7Li": 155.4512, "6Li": 58.8805}


@dataclass(frozen=True)
class NMRLine:
    """One resonance.

    Attributes
    ----------
    ppm : float
        Isotropic shift.
    area : float
        Integral of the line, sidebands included (FID amplitude at t = 0).
    lw_Hz : float
        Lorentzian FWHM, Hz.
    gw_Hz : float
        Gaussian FWHM, Hz (0 for a pure Lorentzian).
    sidebands : tuple of float
        Relative areas of the sidebands of order 1, 2, ... (each applied at ``+k`` and
        ``-k`` times the spinning rate); the centre band gets the rest.
    """

    ppm: float
    area: float
    lw_Hz: float = 200.0
    gw_Hz: float = 0.0
    sidebands: tuple[float, ...] = ()


@dataclass(frozen=True)
class Excitation:
    """How one nucleus was excited, and what it does to the signal per scan.

    Attributes
    ----------
    p1_us, p90_us : float
        Pulse length and the 90-degree pulse, microseconds (flip ``90 x p1 / p90``).
    d1_s : float
        Recycle delay, s.
    t1_s : float
        Longitudinal relaxation time, s (0: fully relaxed before every scan).
    sw_Hz, n_points : float, int or None
        Spectral width (dwell = 1 / SW) and complex points of this nucleus' FID (None: the
        pair's).
    """

    p1_us: float = 2.0
    p90_us: float = 2.0
    d1_s: float = 1.0
    t1_s: float = 0.0
    sw_Hz: float | None = None
    n_points: int | None = None

    def signal_fraction(self, acquisition_s: float) -> float:
        """Transverse signal per scan relative to a relaxed 90-degree pulse, stepped through 200 scans.

        The longitudinal magnetisation is followed pulse by pulse (``Mz -> Mz cos(theta)``,
        then recovery over ``D1 + AQ``) until it settles: a forward model independent of the
        closed form the analysis uses.
        """
        theta = np.deg2rad(90.0 * self.p1_us / self.p90_us)
        mz, signal = 1.0, 1.0
        recovery = np.exp(-(self.d1_s + acquisition_s) / self.t1_s) if self.t1_s > 0 else 0.0
        for _ in range(200):
            signal = mz * np.sin(theta)
            mz = 1.0 - (1.0 - mz * np.cos(theta)) * recovery
        return float(signal)


def simulate_fid(
    lines: list[NMRLine],
    *,
    sfo1_MHz: float,
    carrier_ppm: float,
    sw_Hz: float,
    n_points: int,
    spin_rate_Hz: float = 0.0,
    noise_std: float = 0.0,
    rng: np.random.Generator | None = None,
) -> npt.NDArray[np.complex128]:
    """Complex FID of a set of lines (a positive offset from the carrier rotates as ``exp(+2i pi f t)``).

    Parameters
    ----------
    lines : list of NMRLine
    sfo1_MHz : float
        Transmitter frequency ``SFO1``, MHz; 0 ppm is at ``BF1 = SFO1 / (1 + carrier_ppm * 1e-6)``.
    carrier_ppm : float
        Shift at the carrier.
    sw_Hz : float
        Spectral width (sampling rate), Hz.
    n_points : int
        Complex points.
    spin_rate_Hz : float
        MAS rate, Hz, for the sidebands.
    noise_std : float
        Standard deviation of the real and of the imaginary noise per point.
    rng : numpy.random.Generator, optional

    Returns
    -------
    (n_points,) ndarray of complex128
    """
    t = np.arange(n_points) / sw_Hz
    bf1 = sfo1_MHz / (1.0 + carrier_ppm * 1e-6)  # the carrier sits exactly at carrier_ppm
    fid = np.zeros(n_points, dtype=np.complex128)
    for line in lines:
        decay = np.exp(-np.pi * line.lw_Hz * t - (np.pi * line.gw_Hz * t) ** 2 / (4 * np.log(2)))
        bands = [(0, 1.0 - 2 * sum(line.sidebands))]
        bands += [(s * k, w) for k, w in enumerate(line.sidebands, start=1) for s in (1, -1)]
        for order, weight in bands:
            f = (line.ppm - carrier_ppm) * bf1 + order * spin_rate_Hz
            fid += line.area * weight * decay * np.exp(2j * np.pi * f * t)
    if noise_std > 0:
        rng = np.random.default_rng() if rng is None else rng
        fid += noise_std * (rng.standard_normal(n_points) + 1j * rng.standard_normal(n_points))
    return fid


def acquire(
    lines: list[NMRLine],
    *,
    ns: int = 1,
    rg: float = 1.0,
    noise_per_scan: float = 0.0,
    rng: np.random.Generator | None = None,
    **fid_options: float,
) -> npt.NDArray[np.complex128]:
    """What the spectrometer stores: ``RG x`` the sum of ``NS`` scans, each with its own noise.

    The signal adds coherently (``NS x``), the noise as ``sqrt(NS)``; the receiver gain
    multiplies both. ``fid_options`` go to :func:`simulate_fid` (``sfo1_MHz``,
    ``carrier_ppm``, ``sw_Hz``, ``n_points``, ``spin_rate_Hz``).

    Returns
    -------
    (n_points,) ndarray of complex128
    """
    summed = [NMRLine(x.ppm, x.area * ns, x.lw_Hz, x.gw_Hz, x.sidebands) for x in lines]
    n = int(fid_options.pop("n_points"))
    fid = simulate_fid(summed, n_points=n, noise_std=noise_per_scan * np.sqrt(ns), rng=rng, **fid_options)
    return rg * fid


def digital_filter(
    fid: npt.ArrayLike, group_delay: float, *, passband: float = 0.9, extra: npt.ArrayLike | None = None
) -> npt.NDArray[np.complex128]:
    """What a Bruker DSP stores for an analytic FID: the linear-phase decimation filter's output.

    The oversampled signal passes a linear-phase low-pass filter and is decimated: in the
    stored (decimated) FID the signal's time zero lies ``group_delay`` points late, after a
    pre-echo of filter ringing, and the band edges are rolled off. Modelled in the frequency
    domain on a grid twice the length (no wrap-around): flat response up to ``passband``
    times half the spectral width, a raised-cosine roll-off to the edge, and the delay as
    the phase ramp ``exp(-2i pi f D / SW)``.

    Parameters
    ----------
    fid : (N,) array_like of complex
        The signal from its time zero (as :func:`simulate_fid` gives it).
    group_delay : float
        Delay in (decimated, complex) points, e.g. 69.5 for XWIN-NMR ``DSPFVS`` 12, ``DECIM`` 12.
    passband : float, default 0.9
        Flat fraction of the band.
    extra : (M,) array_like of complex, optional
        The signal's continuation after point ``N`` (the acquisition goes on while the
        delayed points are stored); default zeros (the FID has decayed).

    Returns
    -------
    (N,) ndarray of complex128
        The first ``N`` stored points.

    Examples
    --------
    >>> f = np.exp(2j * np.pi * 0.1 * np.arange(256)) * np.exp(-np.arange(256) / 40)
    >>> g = digital_filter(f, 20.0)  # the signal starts 20 points late, after a small pre-echo
    >>> bool(np.abs(g[:19]).max() < 0.05 and np.abs(g[20]) > 0.9)
    True
    """
    f = np.asarray(fid, dtype=np.complex128)
    tail = np.zeros(0, np.complex128) if extra is None else np.asarray(extra, dtype=np.complex128)
    n = f.size
    size = 2 * (n + tail.size + int(np.ceil(group_delay)) + 64)
    padded = np.zeros(size, np.complex128)
    padded[: n + tail.size] = np.concatenate([f, tail])
    nu = np.fft.fftfreq(size)  # cycles per point: +-0.5 is the band edge
    edge = np.clip((np.abs(nu) / 0.5 - passband) / (1.0 - passband), 0.0, 1.0)
    response = 0.5 * (1.0 + np.cos(np.pi * edge)) * np.exp(-2j * np.pi * nu * group_delay)
    return np.asarray(np.fft.ifft(np.fft.fft(padded) * response)[:n])


def write_bruker_fid(
    folder: str | PathLike[str],
    fid: npt.ArrayLike,
    *,
    nucleus: str,
    sfo1_MHz: float,
    carrier_ppm: float,
    sw_Hz: float,
    ns: int = 1,
    rg: float = 1.0,
    spin_rate_Hz: float = 0.0,
    p1_us: float = 2.0,
    d1_s: float = 1.0,
    title: str = "operando synthetic",
    acqus: dict[str, Any] | None = None,
    procs: dict[str, Any] | None = None,
    dtypa: int = 0,
    bytorda: int = 0,
    block_pad: bool = False,
) -> Path:
    """Write a complex FID as a TopSpin experiment folder (``acqus`` + int32 ``fid``).

    ``dtypa`` 2 stores float64 values instead (``DTYPA = 2``, scaled like the integers),
    ``bytorda`` 1 big-endian (``BYTORDA = 1``, as SGI/Sun-era XWIN-NMR wrote), and
    ``block_pad`` pads the file with zeros to whole 1024-byte blocks, as the acquisition
    writes a ``TD`` that is not a multiple of 256.

    The FID is scaled to integers with ``NC`` so that its largest component uses about
    2**26; intensity = stored x 2**NC, as in TopSpin. ``ns``, ``rg`` (the FID must already
    hold the sum of ``ns`` scans times the gain: :func:`acquire`), the MAS rate (``MASR``
    and ``CNST31``), the pulse ``P1`` and recycle delay ``D1`` go into ``acqus``.
    ``acqus`` entries replace or add parameters (``{"DSPFVS": 12, "DECIM": 12, "GRPDLY":
    None}`` writes an XWIN-NMR header: None drops a key); ``procs`` writes
    ``pdata/1/procs`` with those parameters. Returns the folder.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    f = np.asarray(fid, dtype=np.complex128)
    peak = max(float(np.max(np.abs(np.concatenate([f.real, f.imag])))), 1e-300)
    nc = int(np.floor(np.log2(peak))) - 26
    if dtypa not in (0, 2) or bytorda not in (0, 1):
        raise ValueError(f"DTYPA {dtypa} / BYTORDA {bytorda}: only 0 (int32) or 2 (float64), 0 or 1")
    code = (">" if bytorda else "<") + ("f8" if dtypa == 2 else "i4")
    stored = np.empty(2 * f.size, dtype=code)
    stored[0::2] = np.round(f.real / 2.0**nc)
    stored[1::2] = np.round(f.imag / 2.0**nc)
    if block_pad and stored.nbytes % 1024:
        pad = np.zeros((1024 - stored.nbytes % 1024) // stored.itemsize)
        stored = np.concatenate([stored, pad]).astype(code)  # concatenate returns native byte order
    bf1 = sfo1_MHz / (1.0 + carrier_ppm * 1e-6)
    o1 = (sfo1_MHz - bf1) * 1e6
    params = {
        "AQ_mod": 3, "BF1": f"{bf1:.9f}", "BYTORDA": bytorda, "DECIM": 1, "DSPFVS": 20, "DTYPA": dtypa, "GRPDLY": 0,
        "MASR": f"{spin_rate_Hz:g}", "NC": nc, "NS": ns, "NUC1": f"<{nucleus}>", "O1": f"{o1:.6f}",
        "PULPROG": "<zg>", "RG": f"{rg:g}", "SFO1": f"{sfo1_MHz:.9f}", "SW": f"{sw_Hz / sfo1_MHz:.6f}",
        "SW_h": f"{sw_Hz:.6f}", "TD": 2 * f.size,
    }  # fmt: skip
    for key, value in (acqus or {}).items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    cnst = ["1"] * 64
    cnst[31] = f"{spin_rate_Hz:g}"
    delays = ["0"] * 64
    delays[1] = f"{d1_s:g}"
    pulses = ["0"] * 64
    pulses[1] = f"{p1_us:g}"
    lines = [f"##TITLE= Parameter file, {title}", "##JCAMPDX= 5.0", "##DATATYPE= Parameter Values"]
    lines += [f"##${k}= {v}" for k, v in params.items()]
    for name, values in (("CNST", cnst), ("D", delays), ("P", pulses)):
        lines += [f"##${name}= (0..63)", " ".join(values)]
    lines.append("##END=")
    (out / "acqus").write_text("\n".join(lines) + "\n")
    stored.tofile(out / "fid")
    if procs is not None:
        (out / "pdata" / "1").mkdir(parents=True, exist_ok=True)
        text = ["##TITLE= Parameter file, " + title, "##JCAMPDX= 5.0", "##DATATYPE= Parameter Values"]
        text += [f"##${k}= {v}" for k, v in procs.items()] + ["##END="]
        (out / "pdata" / "1" / "procs").write_text("\n".join(text) + "\n")
    return out


def qseq_points(fid_fine: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """What a Bruker sequential (qseq, ``AQ_mod`` 2) acquisition stores: one real point per ``DW``.

    The receiver's channels are read one after the other, one ``DW = 1 / (2 SW_h)`` apart,
    and the reference phase advances by 90 degrees per point (Redfield-Kunz): the stored
    points are ``Re(s[k] * i**k)``, i.e. ``x0, -y1, -x2, y3, ...``.

    Parameters
    ----------
    fid_fine : (..., TD) array_like of complex
        The signal sampled every ``DW`` (:func:`simulate_fid` with ``sw_Hz = 2 * SW_h``,
        ``n_points = TD``), in TopSpin's sign convention.

    Returns
    -------
    (..., TD) ndarray of float64

    Examples
    --------
    >>> qseq_points(np.array([1 + 2j, 1 + 2j, 1 + 2j, 1 + 2j])).tolist()
    [1.0, -2.0, -1.0, 2.0]
    """
    s = np.asarray(fid_fine, dtype=np.complex128)
    quarter = np.array([1, 1j, -1, -1j])[np.arange(s.shape[-1]) % 4]
    return np.asarray((s * quarter).real, dtype=np.float64)


def write_bruker_qseq(folder: str | PathLike[str], points: npt.ArrayLike, **options: Any) -> Path:
    """Write stored qseq real points (:func:`qseq_points`) as an ``AQ_mod`` 2 TopSpin folder.

    ``options`` are those of :func:`write_bruker_fid` (``sw_Hz`` is ``SW_h``, half the
    real-point rate); ``acqus`` entries are added to ``AQ_mod = 2``. ``TD`` is the number
    of points, which must be even here.
    """
    r = np.asarray(points, dtype=np.float64)
    if r.ndim != 1 or r.size % 2:
        raise ValueError(f"qseq points must be one even-length row, got shape {r.shape}")
    acqus = {"AQ_mod": 2, **(options.pop("acqus", None) or {})}
    # the file interleaves real values exactly as a complex FID's (re, im) pairs
    return write_bruker_fid(folder, r[0::2] + 1j * r[1::2], acqus=acqus, **options)


def write_varian_fid(
    folder: str | PathLike[str],
    fid: npt.ArrayLike,
    *,
    nucleus: str,
    sfo1_MHz: float,
    carrier_ppm: float,
    sw_Hz: float,
    nt: int = 1,
    use_reffrq: bool = True,
) -> Path:
    """Write complex FIDs as a VnmrJ ``<name>.fid`` folder (``fid`` + ``procpar``) with nmrglue.

    The data are stored conjugated (VnmrJ's quadrature sign, the opposite of TopSpin's),
    as float32, one block per row. Referencing goes into ``reffrq`` (the frequency of
    0 ppm), or, with ``use_reffrq=False``, only into ``rfl``/``rfp`` as VnmrJ also writes it.

    Parameters
    ----------
    fid : (N,) or (M, N) array_like of complex
    nucleus : str
        E.g. ``"7Li"`` (written as ``tn = Li7``).

    Returns
    -------
    pathlib.Path
        The folder.
    """
    import re

    import nmrglue as ng

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rows = np.atleast_2d(np.asarray(fid, dtype=np.complex128))
    m, n = rows.shape
    udic = ng.fileiobase.create_blank_udic(2 if m > 1 else 1)
    udic[udic["ndim"] - 1].update({"size": n, "complex": True})
    if m > 1:
        udic[0].update({"size": m, "complex": False})
    dic = ng.varian.create_dic(udic)
    ref = sfo1_MHz / (1.0 + carrier_ppm * 1e-6)
    # rfl: Hz of the 0 ppm line from the right edge (carrier - sw/2); rfp: its shift, 0 Hz
    rfl = sw_Hz / 2 - (sfo1_MHz - ref) * 1e6
    match = re.fullmatch(r"(\d+)([A-Za-z]+)", nucleus)
    tn = f"{match.group(2)}{match.group(1)}" if match else nucleus
    params = {
        "np": str(2 * n), "sw": f"{sw_Hz:.7f}", "sfrq": f"{sfo1_MHz:.9f}", "tn": tn, "nt": str(nt),
        "rfl": f"{rfl:.6f}", "rfp": "0", "fn": str(2 * n), "seqfil": "s2pul", "arraydim": str(m),
    }  # fmt: skip
    if use_reffrq:
        params["reffrq"] = f"{ref:.9f}"
    for key, value in params.items():
        dic["procpar"][key] = ng.varian.create_pdic_param(key, [value])
    data = np.conj(rows).astype(np.complex64)
    ng.varian.write_fid(str(out / "fid"), dic, data if m > 1 else data[0], overwrite=True)
    ng.varian.write_procpar(str(out / "procpar"), dic["procpar"], overwrite=True)
    return out


def li_isotope_pair(
    folder: str | PathLike[str],
    *,
    x6_metal: float,
    x6_electrolyte: float = 0.0759,
    li_metal_amount: float = 1.0,
    electrolyte_amount: float = 1.0,
    factor: float = 28.45,
    snr_7li: float = 2000.0,
    ns_6li: int = 1,
    ns_7li: int = 1,
    rg_6li: float = 1.0,
    rg_7li: float = 1.0,
    spin_rate_Hz: float = 25000.0,
    sidebands: tuple[float, ...] = (0.03,),
    sidebands_6li: tuple[float, ...] | None = None,
    line_widths: str = "ppm",
    excitation_6li: Excitation | None = None,
    excitation_7li: Excitation | None = None,
    n_points: int = 4096,
    sw_Hz: float = 100000.0,
    seed: int = 0,
    larmor_MHz: dict[str, float] | None = None,
    spin_rate_6li_Hz: float | None = None,
    sidebands_electrolyte: tuple[float, ...] | None = None,
    sidebands_electrolyte_6li: tuple[float, ...] | None = None,
) -> tuple[Path, Path]:
    """Write ``<folder>/7Li/1`` and ``<folder>/6Li/1``: Li metal (264.5 ppm) and electrolyte (1.2 ppm).

    The 6Li signal per nucleus is ``1 / factor`` of the 7Li one; the noise per scan is the
    same in both, set by the 7Li metal line's peak SNR of one scan in the time domain
    ``snr_7li``. Each spectrum is the sum of its ``ns`` scans times its receiver gain
    ``rg`` (:func:`acquire`), as a spectrometer stores it, and records both in ``acqus``
    with the MAS rate. ``sidebands`` are the relative areas of the sideband orders 1, 2...
    of every line (each at + and -; the centre band keeps the rest), ``sidebands_6li`` those
    of the 6Li lines (default the same). ``line_widths="ppm"``: each line has one width in
    ppm in both spectra (inhomogeneous broadening, Hz widths scale with the Larmor
    frequency); ``"hz"``: the 7Li widths in Hz in both (homogeneous broadening).
    ``excitation_6li``/``excitation_7li`` give each nucleus' pulse, recycle delay, T1
    (the signal per scan scaled by :meth:`Excitation.signal_fraction`, ``P1``/``D1`` in
    ``acqus``) and its own spectral width and points.

    The paper's conditions (19.6 T; 7Li at 13 kHz, 6Li at 14 kHz MAS; a strong electrolyte
    line whose 7Li satellite sidebands differ from the metal's) need: ``larmor_MHz``
    (default 9.4 T, :data:`LARMOR_MHZ`), ``spin_rate_6li_Hz`` (default ``spin_rate_Hz``),
    ``sidebands_electrolyte`` (the electrolyte's 7Li sidebands; default ``sidebands``) and
    ``sidebands_electrolyte_6li`` (default: the 6Li metal's).

    Returns
    -------
    li7_folder, li6_folder : pathlib.Path
    """
    rng = np.random.default_rng(seed)
    root = Path(folder)
    n7_metal, n6_metal = li_metal_amount * (1 - x6_metal), li_metal_amount * x6_metal
    n7_el, n6_el = electrolyte_amount * (1 - x6_electrolyte), electrolyte_amount * x6_electrolyte
    noise = factor * n7_metal / snr_7li
    written = []
    larmor = LARMOR_MHZ if larmor_MHz is None else larmor_MHz
    bands6 = sidebands if sidebands_6li is None else sidebands_6li
    el7 = sidebands if sidebands_electrolyte is None else sidebands_electrolyte
    el6 = bands6 if sidebands_electrolyte_6li is None else sidebands_electrolyte_6li
    spin6 = spin_rate_Hz if spin_rate_6li_Hz is None else spin_rate_6li_Hz
    acquisitions = (
        ("7Li", n7_metal, n7_el, factor, ns_7li, rg_7li, sidebands, el7, spin_rate_Hz),
        ("6Li", n6_metal, n6_el, 1.0, ns_6li, rg_6li, bands6, el6, spin6),
    )
    for nucleus, metal, el, per, ns, rg, bands, el_bands, spin in acquisitions:  # fmt: skip
        exc = (excitation_6li if nucleus == "6Li" else excitation_7li) or Excitation()
        sw = exc.sw_Hz or sw_Hz
        n = exc.n_points or n_points
        per = per * exc.signal_fraction(n / sw)
        sfo1 = larmor[nucleus]
        # widths were set at 9.4 T (600 and 300 Hz of 7Li): "ppm" keeps them in ppm at any field
        scale = sfo1 / LARMOR_MHZ["7Li"] if line_widths == "ppm" else 1.0
        lines = [
            NMRLine(LI_METAL_PPM, per * metal, lw_Hz=600.0 * scale, sidebands=bands),
            NMRLine(ELECTROLYTE_PPM, per * el, lw_Hz=300.0 * scale, gw_Hz=100.0, sidebands=el_bands),
        ]
        # the noise per point of a wider band is larger: sqrt(SW) at the same noise density
        fid = acquire(
            lines, ns=ns, rg=rg, noise_per_scan=noise * np.sqrt(sw / sw_Hz), rng=rng, sfo1_MHz=sfo1,
            carrier_ppm=130.0, sw_Hz=sw, n_points=n, spin_rate_Hz=spin,
        )  # fmt: skip
        written.append(
            write_bruker_fid(
                root / nucleus / "1",
                fid,
                nucleus=nucleus,
                sfo1_MHz=sfo1,
                carrier_ppm=130.0,
                sw_Hz=sw,
                ns=ns,
                rg=rg,
                spin_rate_Hz=spin,
                p1_us=exc.p1_us,
                d1_s=exc.d1_s,
            )
        )
    return written[0], written[1]


def licl_reference_pair(
    folder: str | PathLike[str],
    *,
    x6: float = 0.0759,
    factor: float = 28.45,
    snr_7li: float = 20000.0,
    spin_rate_Hz: float = 25000.0,
    n_points: int = 4096,
    sw_Hz: float = 100000.0,
    seed: int = 0,
) -> tuple[Path, Path]:
    """Write ``<folder>/7Li/1`` and ``<folder>/6Li/1`` of a LiCl calibration sample (one line, ``LICL_PPM``).

    The 6Li signal per nucleus is ``1 / factor`` of the 7Li one (as in :func:`li_isotope_pair`);
    the 6Li fraction ``x6`` defaults to natural abundance. Equal noise in both spectra, set
    by the 7Li line's time-domain SNR.

    Returns
    -------
    li7_folder, li6_folder : pathlib.Path
    """
    rng = np.random.default_rng(seed)
    root = Path(folder)
    noise = factor * (1 - x6) / snr_7li
    written = []
    for nucleus, amount in (("7Li", factor * (1 - x6)), ("6Li", x6)):
        sfo1 = LARMOR_MHZ[nucleus]
        line = NMRLine(LICL_PPM, amount, lw_Hz=150.0 * sfo1 / LARMOR_MHZ["7Li"], sidebands=(0.01,))
        fid = simulate_fid(
            [line], sfo1_MHz=sfo1, carrier_ppm=130.0, sw_Hz=sw_Hz, n_points=n_points,
            spin_rate_Hz=spin_rate_Hz, noise_std=noise, rng=rng,
        )  # fmt: skip
        written.append(
            write_bruker_fid(
                root / nucleus / "1",
                fid,
                nucleus=nucleus,
                sfo1_MHz=sfo1,
                carrier_ppm=130.0,
                sw_Hz=sw_Hz,
                spin_rate_Hz=spin_rate_Hz,
            )
        )
    return written[0], written[1]
