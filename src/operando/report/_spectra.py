"""Figures of NMR spectra (ppm axis, windows shaded) and of fitted lines; the ``nmr-lines`` report section."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from operando.report._sections import FigureSpec, Section, register_section

__all__ = ["nmr_lines_figure", "nmr_lines_section", "plot_line_fits", "plot_spectra"]


def plot_spectra(
    spectra: Sequence[tuple[str, ArrayLike, ArrayLike]],
    *,
    windows_ppm: Sequence[tuple[float, float]] = (),
    title: str | None = None,
) -> Figure:
    """One panel per spectrum, chemical shift decreasing to the right (the NMR convention).

    Parameters
    ----------
    spectra : sequence of (label, ppm, intensity)
        ``ppm`` (n,) chemical shift, ppm; ``intensity`` (n,) or (rows, n) real part, arbitrary
        units (rows of a pseudo-2D set are overlaid).
    windows_ppm : sequence of (lo, hi)
        Integration windows, shaded on every panel.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = max(1, len(spectra))
    fig = Figure(figsize=(6.0, 2.4 * n), layout="constrained")
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    for ax, (label, ppm, intensity) in zip(axes, spectra, strict=False):
        x = np.asarray(ppm, dtype=np.float64)
        rows = np.atleast_2d(np.real(np.asarray(intensity)))
        for k, row in enumerate(rows):
            ax.plot(x, row, lw=0.8, color="C0" if len(rows) == 1 else f"C{k % 10}")
        for lo, hi in windows_ppm:
            ax.axvspan(min(lo, hi), max(lo, hi), color="C1", alpha=0.2, lw=0)
        ax.set_xlim(float(x.max()), float(x.min()))
        ax.set_xlabel("chemical shift (ppm)")
        ax.set_ylabel("intensity (a.u.)")
        ax.set_title(label, fontsize="medium")
    if title:
        fig.suptitle(title)
    return fig


def plot_line_fits(
    spectra: Sequence[tuple[str, ArrayLike, ArrayLike, Sequence[float]]],
    *,
    window_ppm: tuple[float, float],
) -> Figure:
    """One panel per spectrum over the fitted window, the fitted line positions marked.

    Parameters
    ----------
    spectra : sequence of (label, ppm, intensity, shifts)
        ``ppm``, ``intensity`` (n,); ``shifts``: fitted positions, ppm.
    window_ppm : (lo, hi)
        The fitted region (the x range drawn).

    Returns
    -------
    matplotlib.figure.Figure
    """
    lo, hi = min(window_ppm), max(window_ppm)
    n = max(1, len(spectra))
    fig = Figure(figsize=(6.0, 2.2 * n), layout="constrained")
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    for ax, (label, ppm, intensity, shifts) in zip(axes, spectra, strict=False):
        x = np.asarray(ppm, dtype=np.float64)
        y = np.real(np.asarray(intensity, dtype=np.float64))
        m = (x >= lo) & (x <= hi)
        ax.plot(x[m], y[m], lw=0.8, color="C0")
        for k, s in enumerate(shifts):
            ax.axvline(float(s), color=f"C{(k + 1) % 10}", lw=0.8, ls="--", label=f"{float(s):.2f} ppm")
        ax.set_xlim(hi, lo)
        ax.set_xlabel("chemical shift (ppm)")
        ax.set_ylabel("intensity per scan")
        ax.set_title(label, fontsize="medium")
        ax.legend(fontsize=7, frameon=False)
    return fig


def nmr_lines_figure(ds: xr.Dataset) -> Figure:
    """Shift (Knight shift) and FWHM of every fitted line across samples (against charge when recorded).

    Parameters
    ----------
    ds : xarray.Dataset
        An ``nmr-lines`` dataset (dims ``sample``, ``line``).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels with 1-sigma error bars: the amorphous-to-crystalline narrowing and the
        Knight-shift trend of the paper read from them.
    """
    names = [str(s) for s in ds["sample"].values]
    by_charge = "charge_mAh" in ds and bool(np.isfinite(ds["charge_mAh"].values.astype(float)).any())
    xv = ds["charge_mAh"].values.astype(float) if by_charge else np.arange(len(names), dtype=np.float64)
    fig = Figure(figsize=(6.4, 5.0), layout="constrained")
    ax_shift, ax_width = fig.subplots(2, 1, sharex=True)
    for k in range(ds.sizes["line"]):
        sel = ds.isel(line=k)
        for ax, var in ((ax_shift, "shift_ppm"), (ax_width, "fwhm_ppm")):
            err = sel[f"{var}_err"].values if f"{var}_err" in sel else None
            ax.errorbar(xv, sel[var].values, yerr=err, fmt="o-", ms=4, capsize=3, label=f"line {k}")
    ax_shift.set_ylabel("shift (ppm)")
    ax_width.set_ylabel("FWHM (ppm)")
    if by_charge:
        ax_width.set_xlabel("charge passed (mA h)")
    else:
        ax_width.set_xticks(xv, names, rotation=30, ha="right", fontsize=8)
        ax_width.set_xlabel("sample")
    ax_shift.legend(fontsize=7, frameon=False)
    ax_shift.set_title(f"{ds.attrs.get('nucleus', '')} fitted lines: shift and width", fontsize=10)
    return fig


@register_section("nmr-lines")
def nmr_lines_section(ds: xr.Dataset, source: Path) -> Section:
    """Fitted lines: shift and FWHM trends, one note per sample and line."""
    ds = ds.load()
    notes = [f"{ds.sizes['sample']} spectrum(s), {ds.sizes['line']} line(s) each, measured ex situ"]
    for i, name in enumerate(ds["sample"].values):
        for k in range(ds.sizes["line"]):
            r = ds.isel(sample=i, line=k)
            notes.append(
                f"{name} line {k}: {float(r['shift_ppm']):.2f} ± {float(r['shift_ppm_err']):.2f} ppm, FWHM "
                f"{float(r['fwhm_ppm']):.2f} ± {float(r['fwhm_ppm_err']):.2f} ppm, area {float(r['area']):.4g} ± "
                f"{float(r['area_err']):.2g}"
            )
    spec = FigureSpec("nmr_lines", "fitted shift and FWHM per sample", lambda: nmr_lines_figure(ds))
    return Section(kind="nmr-lines", title=f"NMR line fits: {source.name}", source=source, summary=[spec], notes=notes)
