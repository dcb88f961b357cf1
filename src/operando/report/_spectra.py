"""Figures of processed NMR spectra: chemical-shift axis, integration windows shaded."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

__all__ = ["plot_spectra"]


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
