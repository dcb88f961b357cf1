"""Synthetic cw-EPR: first-derivative Lorentzian/Gaussian lines and a BES3T writer.

Ground truth: a line of area ``A`` (absorption integral, signal x mT), centre ``B0`` and
half width; its derivative has ``ΔB_pp = 2Γ/√3`` (Lorentzian, HWHM ``Γ``) or ``2σ``
(Gaussian), and its double integral is ``A``.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["derivative_dysonian", "derivative_gaussian", "derivative_lorentzian", "write_bes3t", "write_winepr"]


def derivative_lorentzian(
    field_mT: npt.ArrayLike, *, centre_mT: float, hwhm_mT: float, area: float = 1.0
) -> npt.NDArray[np.float64]:
    """``d/dB`` of ``(A/π) Γ / (Γ² + (B - B0)²)``; extrema ``2Γ/√3`` apart.

    Returns
    -------
    (N,) ndarray of float64
    """
    d = np.asarray(field_mT, dtype=np.float64) - centre_mT
    g = hwhm_mT
    return np.asarray(-(area / np.pi) * 2 * g * d / (g * g + d * d) ** 2)


def derivative_gaussian(
    field_mT: npt.ArrayLike, *, centre_mT: float, sigma_mT: float, area: float = 1.0
) -> npt.NDArray[np.float64]:
    """``d/dB`` of ``A exp(-(B - B0)² / 2σ²) / (σ √(2π))``; extrema ``2σ`` apart.

    Returns
    -------
    (N,) ndarray of float64
    """
    d = np.asarray(field_mT, dtype=np.float64) - centre_mT
    s = sigma_mT
    return np.asarray(-area * d / (s**3 * np.sqrt(2 * np.pi)) * np.exp(-d * d / (2 * s * s)))


def write_bes3t(
    path: str | PathLike[str],
    data: npt.ArrayLike,
    *,
    x_min: float,
    x_width: float,
    x_unit: str = "G",
    mw_frequency_Hz: float = 9.5e9,
    byte_order: str = "BIG",
    irfmt: str = "D",
    y: npt.ArrayLike | None = None,
    y_unit: str = "",
    title: str = "operando synthetic",
) -> tuple[Path, Path]:
    """Write ``data`` as a BES3T pair ``<path>.DSC`` + ``<path>.DTA`` as Xepr lays it out.

    Parameters
    ----------
    path : str or os.PathLike
        File name without (or with) suffix.
    data : (N,) or (M, N) array_like of float or complex
        One row per ``y`` value; complex data are written ``IKKF CPLX``.
    x_min, x_width : float
        First abscissa and sweep width (``XMIN``, ``XWID``) in ``x_unit``.
    byte_order : {"BIG", "LIT"}
    irfmt : {"D", "F", "I", "S"}
        Stored number type (integers are rounded).
    y : (M,) array_like, optional
        Second-axis values (written as a linear ``IDX`` axis from the first and last).

    Returns
    -------
    dsc, dta : pathlib.Path
    """
    base = Path(path)
    dsc, dta = base.with_suffix(".DSC"), base.with_suffix(".DTA")
    arr = np.atleast_2d(np.asarray(data))
    is_complex = np.iscomplexobj(arr)
    fmt = {"D": "f8", "F": "f4", "I": "i4", "S": "i2"}[irfmt]
    dtype = np.dtype(fmt).newbyteorder(">" if byte_order == "BIG" else "<")
    flat = np.stack([arr.real, arr.imag], axis=-1).ravel() if is_complex else arr.real.ravel()
    if dtype.kind == "i":
        flat = np.round(flat)
    ny, nx = arr.shape
    lines = [
        "#DESC\t1.2 * DESCRIPTOR INFORMATION ***********************", "*",
        "DSRC\tEXP", f"BSEQ\t{byte_order}", f"IKKF\t{'CPLX' if is_complex else 'REAL'}", "XTYP\tIDX",
        f"YTYP\t{'IDX' if ny > 1 else 'NODATA'}", "ZTYP\tNODATA", "*",
        f"IRFMT\t{irfmt}", *([f"IIFMT\t{irfmt}"] if is_complex else []),
        f"XPTS\t{nx}", f"XMIN\t{x_min:.6f}", f"XWID\t{x_width:.6f}",
    ]  # fmt: skip
    if ny > 1:
        yv = np.asarray(y if y is not None else np.arange(ny), dtype=np.float64)
        lines += [f"YPTS\t{ny}", f"YMIN\t{yv[0]:.6f}", f"YWID\t{yv[-1] - yv[0]:.6f}", f"YUNI\t'{y_unit}'"]
    lines += [f"TITL\t'{title}'", "IRNAM\t'Intensity'", "XNAM\t'Field'", "IRUNI\t''", f"XUNI\t'{x_unit}'", "*"]
    lines += ["#SPL\t1.2 * STANDARD PARAMETER LAYER", "*", "EXPT    CW", f"MWFQ    {mw_frequency_Hz:.6e}",
              "MWPW    0.002", "AVGS    1", "B0MA    0.0001", "B0MF    100000", "*"]  # fmt: skip
    dsc.write_text("\n".join(lines) + "\n", encoding="latin-1")
    flat.astype(dtype).tofile(dta)
    return dsc, dta


def derivative_dysonian(
    field_mT: npt.ArrayLike, *, centre_mT: float, hwhm_mT: float, phase_deg: float, amplitude: float = 1.0
) -> npt.NDArray[np.float64]:
    """First-derivative Dysonian line of a metal (conduction-electron spin resonance).

    ``d/dB [A (cos(phi) L(x) + sin(phi) D(x))] `` with ``x = (B - B0) / hwhm``, ``L = 1/(1+x^2)``,
    ``D = x/(1+x^2)``: ``phi = 0`` is the derivative Lorentzian; a metal particle thicker
    than the skin depth mixes in dispersion (``phi`` towards 90 degrees), which makes the
    low-field lobe larger than the high-field one (the A/B asymmetry of Li metal).

    Returns
    -------
    (n,) ndarray of float64
    """
    x = (np.asarray(field_mT, dtype=np.float64) - centre_mT) / hwhm_mT
    den = (1.0 + x**2) ** 2
    phi = np.deg2rad(phase_deg)
    return amplitude / hwhm_mT * (np.cos(phi) * (-2.0 * x) + np.sin(phi) * (1.0 - x**2)) / den


def write_winepr(
    path: str | PathLike[str],
    data: npt.ArrayLike,
    *,
    start_G: float,
    width_G: float,
    mw_frequency_GHz: float = 9.5,
    dos: bool = True,
    legacy_esp: bool = False,
) -> tuple[Path, Path]:
    """Write a 1D spectrum as a WinEPR (``dos=True``: float32 little-endian) or ESP (int32 big-endian) pair.

    ``legacy_esp=True`` writes an ESP-era ``.par`` as older spectrometers did: no point count
    (``ANZ``/``RES``; the ``.spc`` size gives it), no ``MIN``/``MAX``, and the field as
    centre and sweep (``HCF``/``HSW``) instead of start and width (``GST``/``GSI``).

    Returns
    -------
    par, spc : pathlib.Path
    """
    base = Path(path)
    par, spc = base.with_suffix(".par"), base.with_suffix(".spc")
    values = np.asarray(data, dtype=np.float64)
    stored = values.astype("<f4") if dos else np.round(values).astype(">i4")
    lines = (["DOS  Format"] if dos else []) + [
        f"ANZ {values.size}", f"MIN {float(stored.min()):.6f}", f"MAX {float(stored.max()):.6f}",
        "JSS 0", f"GST {start_G:.6f}", f"GSI {width_G:.6f}", "JUN G", "JEX field-sweep", "JSD 1",
        f"MF  {mw_frequency_GHz:.6f}", "MP  2.000e+000",
    ]  # fmt: skip
    if legacy_esp:
        lines = [f"HCF {start_G + width_G / 2:.6f}", f"HSW {width_G:.6f}", "JUN G", "JEX field-sweep", "JSD 1",
                 f"MF  {mw_frequency_GHz:.6f}", "MP  2.000e+000", "RMA 1.000e+000"]  # fmt: skip
        stored = np.round(values).astype(">i4")
    par.write_bytes("\r".join(lines).encode("latin-1"))
    stored.tofile(spc)
    return par, spc
