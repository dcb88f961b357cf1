"""Figures of MRI depth-layer series (``operando_kind = "mri-layers"``).

Each function takes the dataset of :func:`operando.mri.quantify_layers` and returns a
:class:`matplotlib.figure.Figure`; :func:`save_mri_figures` writes the set.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; never ask for a display
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from operando.errors import ParameterError
from operando.report._timeline import save_figure

__all__ = ["plot_layer_amounts", "plot_layer_rates", "plot_profiles", "save_mri_figures"]

_STAGE_COLOURS = ("#f4d03f", "#5dade2", "#ec7063", "#58d68d", "#af7ac5", "#aab7b8")


def _check(ds: xr.Dataset) -> None:
    if ds.attrs.get("operando_kind") != "mri-layers":
        raise ParameterError(f"expected an 'mri-layers' dataset, got {ds.attrs.get('operando_kind')!r}")


def _hours(ds: xr.Dataset) -> np.ndarray:
    return np.asarray(ds["time_s"].values, dtype=np.float64) / 3600.0


def _shade_stages(ax: Axes, ds: xr.Dataset, *, label: bool) -> None:
    t = _hours(ds)
    step = float(np.median(np.diff(t))) if t.size > 1 else 1.0
    names = list(ds.attrs.get("stage_names", ["I", "II", "III", "IV"]))
    stage = np.asarray(ds["stage"].values)
    for s in np.unique(stage):
        frames = np.flatnonzero(stage == s)
        lo, hi = t[frames[0]] - step / 2, t[frames[-1]] + step / 2
        if int(s) == 0:  # after the short circuit: no growth stage
            ax.axvspan(lo, hi, facecolor="none", edgecolor="0.6", hatch="//", lw=0)
            continue
        name = names[int(s) - 1] if int(s) - 1 < len(names) else str(int(s))
        ax.axvspan(lo, hi, color=_STAGE_COLOURS[(int(s) - 1) % len(_STAGE_COLOURS)], alpha=0.18, lw=0)
        if label:
            ax.text(0.5 * (lo + hi), 1.0, name, transform=ax.get_xaxis_transform(), ha="center", va="bottom")
    short = int(ds.attrs.get("short_circuit_frame", -1))
    if short >= 0:
        ax.axvline(t[short] - step / 2, color="k", ls="--", lw=0.8)


def _voltage_panel(ax: Axes, ds: xr.Dataset) -> None:
    if "echem_voltage_mean_V" in ds:
        ax.plot(_hours(ds), ds["echem_voltage_mean_V"].values, "k.-", ms=3, lw=0.8)
        ax.set_ylabel("cell voltage (V)")
    else:
        ax.text(0.5, 0.5, "no voltage record", transform=ax.transAxes, ha="center", va="center")
        ax.set_yticks([])
    _shade_stages(ax, ds, label=False)
    ax.set_xlabel("time (h)")


def plot_layer_amounts(ds: xr.Dataset, *, title: str | None = None) -> Figure:
    """Amount per layer against time with 1-sigma error bars, stages shaded, voltage below."""
    _check(ds)
    fig, (ax, axv) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, height_ratios=(3, 1), layout="constrained")
    t = _hours(ds)
    lo, hi = ds["layer_start_mm"].values, ds["layer_end_mm"].values
    for k in range(ds.sizes["layer"]):
        ax.errorbar(
            t,
            ds["amount"].values[:, k],
            yerr=ds["amount_err"].values[:, k],
            fmt=".-",
            ms=3,
            lw=0.8,
            capsize=1.5,
            label=f"layer {k} ({lo[k]:.2f}-{hi[k]:.2f} mm)",
        )
    _shade_stages(ax, ds, label=True)
    ax.set_ylabel(f"amount ({ds['amount'].attrs.get('units', '')})")
    ax.legend(fontsize="small", ncols=2)
    if title:
        fig.suptitle(title)
    _voltage_panel(axv, ds)
    return fig


def plot_layer_rates(ds: xr.Dataset, *, title: str | None = None) -> Figure:
    """Growth rate per layer (Savitzky–Golay derivative) with error bands, voltage below."""
    _check(ds)
    fig, (ax, axv) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, height_ratios=(3, 1), layout="constrained")
    t = _hours(ds)
    for k in range(ds.sizes["layer"]):
        rate = ds["growth_rate"].values[:, k] * 3600.0
        err = ds["growth_rate_err"].values[:, k] * 3600.0
        (line,) = ax.plot(t, rate, lw=1.0, label=f"layer {k}")
        ax.fill_between(t, rate - err, rate + err, color=line.get_color(), alpha=0.2, lw=0)
    ax.axhline(0.0, color="0.5", lw=0.6)
    _shade_stages(ax, ds, label=True)
    ax.set_ylabel(f"growth rate ({ds['amount'].attrs.get('units', '')}/h)")
    ax.legend(fontsize="small", ncols=2)
    if title:
        fig.suptitle(title)
    _voltage_panel(axv, ds)
    return fig


def plot_profiles(ds: xr.Dataset, *, every: int | None = None) -> Figure:
    """Depth profiles coloured by time, with the electrode faces and layer edges."""
    _check(ds)
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    n = ds.sizes["frame"]
    step = every or max(1, n // 12)
    cmap = plt.get_cmap("viridis")
    for f in range(0, n, step):
        ax.plot(ds["depth"].values, ds["profile"].values[f], color=cmap(f / max(n - 1, 1)), lw=0.8)
    for edge in np.r_[ds["layer_start_mm"].values, ds["layer_end_mm"].values[-1:]]:
        ax.axvline(edge, color="0.4", lw=0.6, ls=":")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, float(_hours(ds)[-1])))
    fig.colorbar(sm, ax=ax, label="time (h)")
    ax.set_xlabel("depth (mm)")
    ax.set_ylabel(f"signal ({ds['profile'].attrs.get('units', '')})")
    return fig


def save_mri_figures(
    ds: xr.Dataset, directory: str | PathLike[str], *, formats: tuple[str, ...] = ("png",)
) -> list[Path]:
    """Write the layer-amount, growth-rate and profile figures into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for stem, make in (
        ("mri_layer_amounts", plot_layer_amounts),
        ("mri_growth_rates", plot_layer_rates),
        ("mri_profiles", plot_profiles),
    ):
        fig = make(ds)
        try:
            written += save_figure(fig, out / stem, formats=formats, dpi=150)
        finally:
            plt.close(fig)
    return written
