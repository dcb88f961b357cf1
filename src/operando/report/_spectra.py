"""Figures of NMR spectra (ppm axis, windows shaded), of fitted lines and of replicate cells; the ``nmr-lines``
report section."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from operando.report._sections import FigureSpec, Section, register_section

__all__ = [
    "nmr_lines_figure",
    "nmr_lines_section",
    "nmr_replicates_figure",
    "plot_line_fits",
    "plot_spectra",
    "replicate_specs",
]


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


def _replicate_cells(ds: xr.Dataset) -> list[tuple[str, np.ndarray, np.ndarray, list[str]]]:
    """Per group of an ``nmr-isotopes`` store: its cells' fractions, their uncertainties and names."""
    x = np.asarray(ds["li6_fraction"].values, dtype=np.float64)
    err = (np.asarray(ds["li6_fraction_err"].values, dtype=np.float64) if "li6_fraction_err" in ds
           else np.zeros_like(x))  # fmt: skip
    names = [str(v) for v in ds["sample"].values] if "sample" in ds.coords else [str(i) for i in range(x.size)]
    groups = [str(v) for v in ds["group"].values]
    if "sample_group" in ds:
        labels = [str(v) for v in ds["sample_group"].values]
    else:  # written without --group: one group of every cell ("all"); several cannot be told apart
        labels = [groups[0] if len(groups) == 1 else ""] * x.size
    out = []
    for g in groups:
        sel = np.array([lab == g for lab in labels])
        out.append((g, x[sel], err[sel], [n for n, k in zip(names, sel, strict=True) if k]))
    return out


def nmr_replicates_figure(ds: xr.Dataset) -> Figure:
    """Replicate cells per group: each cell's 6Li fraction (± its uncertainty), the mean ± std, the propagated error.

    Parameters
    ----------
    ds : xarray.Dataset
        An ``nmr-isotopes`` store with ``group_mean``, ``group_std``, ``group_propagated_err``
        (and ``sample_group`` naming each cell's group; without it every cell is in the one group).

    Returns
    -------
    matplotlib.figure.Figure
        One column per group: the cells as dots with error bars, the mean as a bar with its
        standard deviation (thick) and the propagated uncertainty of the mean (thin, beside).

    Examples
    --------
    >>> ds = xr.Dataset({"li6_fraction": ("sample", [0.058, 0.060, 0.063]), "group_n": ("group", [3]),
    ...                  "group_mean": ("group", [0.0603]), "group_std": ("group", [0.0025]),
    ...                  "group_propagated_err": ("group", [0.001])},
    ...                 coords={"sample": ["c1", "c2", "c3"], "group": ["61C"]})
    >>> fig = nmr_replicates_figure(ds)
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['61C\\n(n = 3)']
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    cells = _replicate_cells(ds)
    mean, std = np.asarray(ds["group_mean"].values, float), np.asarray(ds["group_std"].values, float)
    prop = np.asarray(ds["group_propagated_err"].values, float)
    for i, (_g, x, err, names) in enumerate(cells):
        if x.size:  # (cells of several groups written without their group names are not drawn)
            offsets = np.linspace(-0.18, 0.18, x.size) if x.size > 1 else np.zeros(1)
            ax.errorbar(i + offsets, 100 * x, yerr=100 * err, fmt="o", ms=4, color="0.35", capsize=2,
                        label="cells (± own uncertainty)" if i == 0 else None)  # fmt: skip
            for xo, yv, name in zip(i + offsets, x, names, strict=True):
                ax.annotate(name, (xo, 100 * yv), textcoords="offset points", xytext=(3, 3), fontsize=6)
        ax.hlines(100 * mean[i], i - 0.3, i + 0.3, color="C3", lw=2, label="mean" if i == 0 else "_nolegend_")
        if np.isfinite(std[i]):
            ax.errorbar(i + 0.34, 100 * mean[i], yerr=100 * std[i], fmt="none", ecolor="C3", elinewidth=2.5,
                        capsize=4, label="± std of the cells" if i == 0 else None)  # fmt: skip
        ax.errorbar(i + 0.42, 100 * mean[i], yerr=100 * prop[i], fmt="none", ecolor="C0", elinewidth=1,
                    capsize=3, label="± propagated" if i == 0 else None)  # fmt: skip
    ax.set_xticks(range(len(cells)), [f"{g}\n(n = {x.size})" for g, x, _, _ in cells], fontsize=8)
    ax.set_xlim(-0.6, len(cells) - 0.4)
    ax.set_ylabel("6Li atomic fraction (at.%)")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("replicate cells: mean ± std per group", fontsize=10)
    return fig


def replicate_specs(ds: xr.Dataset) -> list[FigureSpec]:
    """The replicate figure of an ``nmr-isotopes`` store when a group holds two or more cells, else none.

    Examples
    --------
    >>> replicate_specs(xr.Dataset({"li6_fraction": ("sample", [0.05])}))
    []
    """
    if "group_n" not in ds or not (np.asarray(ds["group_n"].values) > 1).any():
        return []
    return [FigureSpec("li6_replicates", "replicate cells: mean ± std per group", lambda: nmr_replicates_figure(ds))]
