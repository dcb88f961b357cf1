"""Figures and sentences of MRI results: depth-layer series (``operando_kind = "mri-layers"``)
and 3D images (CSI maps, volumes).

The layer functions take the dataset of :func:`operando.pipelines.mri.quantify_layers` and
return a :class:`matplotlib.figure.Figure` (:func:`save_mri_figures` writes the set);
:func:`stage_sentence` words the growth stages and the short circuit for the report. A 3D
image is shown as orthogonal cross-sections through its brightest voxel with projections
(:func:`plot_volume_views`) and as an intensity histogram (:func:`plot_volume_histogram`),
as the paper shows its 3D 7Li MRI.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; never ask for a display
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from operando.errors import ParameterError
from operando.report._sections import FigureSpec, Section, register_section
from operando.report._timeline import save_figure

__all__ = [
    "csi_notes",
    "mri_csi_section",
    "plot_layer_amounts",
    "plot_layer_rates",
    "plot_profiles",
    "plot_volume_histogram",
    "plot_volume_views",
    "save_csi_figures",
    "save_mri_figures",
    "stage_sentence",
]

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
    """Growth rate per layer (local straight-line fits) with 1-sigma error bands, voltage below."""
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


def _stage_names(ds: xr.Dataset) -> list[str]:
    return [str(n) for n in ds.attrs.get("stage_names", ["I", "II", "III", "IV", "V", "VI"])]


def _stage_rate(ds: xr.Dataset, frames: npt.NDArray[np.intp]) -> tuple[float, float] | None:
    """Mean total growth rate of a stage (per h): the weighted straight-line slope of the
    total over its frames, with the slope's error (None with fewer than 2 frames)."""
    if "total" not in ds or frames.size < 2:
        return None
    t = np.asarray(ds["time_s"].values, dtype=np.float64)[frames] / 3600.0
    y = np.asarray(ds["total"].values, dtype=np.float64)[frames]
    err = np.asarray(ds["total_err"].values, dtype=np.float64)[frames] if "total_err" in ds else np.ones_like(y)
    w = 1.0 / np.maximum(err, 1e-12 * (np.abs(y).max() + 1e-300)) ** 2
    dt = t - np.sum(w * t) / np.sum(w)
    stt = float(np.sum(w * dt**2))
    return float(np.sum(w * dt * y) / stt), float(np.sqrt(1.0 / stt))


def stage_sentence(ds: xr.Dataset) -> str:
    """The growth stages and the short circuit of an ``mri-layers`` dataset, in words.

    Each stage with its frames, its time span (h from the first frame) and its mean growth
    rate (straight-line slope of the total amount over the stage, with its error); then
    the short circuit as an event of its own.

    Examples
    --------
    >>> import textwrap
    >>> ds = xr.Dataset(
    ...     {"stage": ("frame", [1, 1, 2, 2, 0]), "total": ("frame", [0.0, 2.0, 4.0, 4.0, 4.0]),
    ...      "total_err": ("frame", [0.1] * 5)},
    ...     coords={"time_s": ("frame", [0.0, 3600.0, 7200.0, 10800.0, 14400.0]),
    ...             "time_end_s": ("frame", [3600.0, 7200.0, 10800.0, 14400.0, 18000.0])},
    ...     attrs={"operando_kind": "mri-layers", "stage_names": ["I", "II"], "short_circuit_frame": 4},
    ... )
    >>> print(textwrap.fill(stage_sentence(ds), 90))
    Stage I spans frames 0-1 (0.00-2.00 h, growth 2 +/- 0.14 a.u./h) and stage II frames 2-3
    (2.00-4.00 h, growth 0 +/- 0.14 a.u./h); the short circuit follows at frame 4 (4.00 h),
    after which no growth stage is assigned.
    """
    _check(ds)
    stage = np.asarray(ds["stage"].values)
    timed = "time_s" in ds.coords
    t = np.asarray(ds["time_s"].values if timed else np.zeros(stage.size), dtype=np.float64)
    start = (t - t[0]) / 3600.0
    end_s = ds["time_end_s"].values if "time_end_s" in ds.coords else t
    end = (np.asarray(end_s, dtype=np.float64) - t[0]) / 3600.0
    names = _stage_names(ds)
    unit = str(ds["total"].attrs.get("units", "a.u.")) if "total" in ds else "a.u."
    parts: list[str] = []
    for s in [int(v) for v in np.unique(stage) if int(v) > 0]:
        frames = np.flatnonzero(stage == s)
        name = names[s - 1] if s - 1 < len(names) else str(s)
        text = f"{name} {'spans ' if not parts else ''}frames {frames[0]}-{frames[-1]}"
        details = [f"{start[frames[0]]:.2f}-{end[frames[-1]]:.2f} h"] if timed else []
        rate = _stage_rate(ds, frames) if timed else None
        if rate is not None:
            details.append(f"growth {rate[0]:.3g} +/- {rate[1]:.2g} {unit}/h")
        parts.append(text + (f" ({', '.join(details)})" if details else ""))
    if not parts:
        sentence = "No growth stage was found"
    else:
        words = [f"Stage {parts[0]}", *(f"stage {p}" for p in parts[1:])]
        sentence = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    short = int(ds.attrs.get("short_circuit_frame", -1))
    if 0 <= short < start.size:
        when = f" ({start[short]:.2f} h)" if timed else ""
        sentence += f"; the short circuit follows at frame {short}{when}, after which no growth stage is assigned."
    else:
        sentence += "; no short circuit was seen."
    return sentence


def _volume(image: xr.DataArray) -> xr.DataArray:
    if image.ndim != 3:
        raise ParameterError(f"a 3D image is needed, got dims {image.dims}")
    return image


def _edges(centres: npt.NDArray[np.float64]) -> tuple[float, float]:
    half = 0.5 * float(centres[1] - centres[0]) if centres.size > 1 else 0.5
    return float(centres[0]) - half, float(centres[-1]) + half


def plot_volume_views(image: xr.DataArray, *, title: str | None = None, cmap: str = "magma") -> Figure:
    """Orthogonal cross-sections of a 3D image through its brightest voxel, and its projections.

    Top row: the three planes through the brightest voxel (dashed lines mark where the
    others cut); bottom row: maximum-intensity projections along each axis. Axes in the
    image's coordinates (mm where given).
    """
    vol = _volume(image)
    values = np.asarray(vol.values, dtype=np.float64)
    peak = np.unravel_index(int(np.nanargmax(values)), values.shape)
    dims = [str(d) for d in vol.dims]
    coords = [
        np.asarray(vol[d].values, dtype=np.float64) if d in vol.coords else np.arange(n)
        for d, n in zip(dims, values.shape, strict=True)
    ]
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    fig, axes = plt.subplots(2, 3, figsize=(11, 6.5), layout="constrained")
    for col, axis in enumerate(range(3)):
        rows, cols = [a for a in range(3) if a != axis]
        plane = np.take(values, peak[axis], axis=axis)
        proj = np.nanmax(values, axis=axis)
        for row, (img, label) in enumerate(
            ((plane, f"{dims[axis]} = {coords[axis][peak[axis]]:.3g}"), (proj, f"max along {dims[axis]}"))
        ):
            ax = axes[row, col]
            extent = (*_edges(coords[cols]), *_edges(coords[rows]))  # voxel edges, not centres
            shown = ax.imshow(img, origin="lower", extent=extent, aspect="auto", cmap=cmap, vmin=lo, vmax=hi)
            if row == 0:
                ax.axhline(coords[rows][peak[rows]], color="w", ls="--", lw=0.6)
                ax.axvline(coords[cols][peak[cols]], color="w", ls="--", lw=0.6)
            ax.set_title(label, fontsize="small")
            ax.set_xlabel(dims[cols])
            ax.set_ylabel(dims[rows])
    fig.colorbar(shown, ax=axes, label=str(vol.attrs.get("units", "")), shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig


def plot_volume_histogram(
    image: xr.DataArray, *, bins: int = 100, threshold: float | None = None, title: str | None = None
) -> Figure:
    """Voxel intensity histogram of a 3D image (log counts), with an optional threshold marked
    and the fraction of voxels above it."""
    vol = _volume(image)
    values = np.asarray(vol.values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ParameterError("the image has no finite voxel")
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    ax.hist(values, bins=bins, color="0.3", log=True)
    if threshold is not None:
        above = float(np.mean(values > threshold))
        ax.axvline(
            threshold, color="C3", ls="--", lw=1.0, label=f"threshold {threshold:.3g}: {100 * above:.2f} % above"
        )
        ax.legend(fontsize="small")
    ax.set_xlabel(f"voxel value ({vol.attrs.get('units', '')})")
    ax.set_ylabel("voxels")
    if title:
        ax.set_title(title)
    return fig


def save_csi_figures(
    ds: xr.Dataset, directory: str | PathLike[str], *, formats: tuple[str, ...] = ("png",)
) -> list[Path]:
    """Cross-sections and histograms of each 3D map of a CSI dataset (``metal``, ``electrolyte``);
    the metal histogram marks 5 noise sigma when ``noise_sigma`` is there."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    sigma = float(ds["noise_sigma"]) if "noise_sigma" in ds else None
    for name in ("metal", "electrolyte"):
        if name not in ds or ds[name].ndim != 3:
            continue
        figures = {
            f"csi_{name}_views": plot_volume_views(ds[name], title=f"{name}: cross-sections and projections"),
            f"csi_{name}_histogram": plot_volume_histogram(
                ds[name], threshold=None if sigma is None else 5 * sigma, title=f"{name}: voxel histogram"
            ),
        }
        for stem, fig in figures.items():
            try:
                written += save_figure(fig, out / stem, formats=formats, dpi=150)
            finally:
                plt.close(fig)
    return written


def csi_notes(ds: xr.Dataset) -> list[str]:
    """One line per species of a CSI store (total ± noise, voxels above 5 sigma) and the scan's parameters.

    Examples
    --------
    >>> cube = np.ones((2, 2, 2))
    >>> ds = xr.Dataset({"metal": (("x", "y", "z"), cube), "electrolyte": (("x", "y", "z"), 0 * cube),
    ...                  "noise_sigma": ((), 0.1)})
    >>> csi_notes(ds)[0]
    'metal: total 8 ± 0.28 over 8 voxels, 8 above 5 sigma (12.5 % of the total in the brightest voxel)'
    """
    sigma = float(ds["noise_sigma"])
    notes = []
    for name in ("metal", "electrolyte"):
        values = np.asarray(ds[name].values, dtype=np.float64)
        total = float(values.sum())
        share = float(values.max()) / total if total > 0 else float("nan")
        notes.append(
            f"{name}: total {total:.4g} ± {sigma * np.sqrt(values.size):.2g} over {values.size} voxels, "
            f"{int((values > 5 * sigma).sum())} above 5 sigma ({100 * share:.3g} % of the total in the brightest voxel)"
        )
    attrs = ds.attrs
    if "bf_MHz" in attrs:
        lb, ph = float(attrs.get("line_broadening_hz", 0.0)), float(attrs.get("phase_deg", 0.0))
        notes.append(
            f"{attrs.get('nucleus') or 'nucleus ?'} at {float(attrs['bf_MHz']):.5g} MHz, "
            f"SW {float(attrs['sw_hz']):.6g} Hz, line broadening {lb:g} Hz, phase {ph:g} deg"
        )
    for name in ("metal", "electrolyte"):
        if "long_name" in ds[name].attrs:
            notes.append(f"{name} = {ds[name].attrs['long_name']} ({ds[name].attrs.get('units', '')})")
    return notes


def _views_spec(image: xr.DataArray, name: str) -> FigureSpec:
    return FigureSpec(
        f"csi_{name}_views",
        f"{name}: cross-sections through the brightest voxel, and projections",
        lambda: plot_volume_views(image, title=f"{name} (CSI)"),
    )


@register_section("mri-csi")
def mri_csi_section(ds: xr.Dataset, source: Path) -> Section:
    """CSI maps: cross-sections and projections of each species, the metal's voxel histogram, totals.

    Examples
    --------
    >>> cube = np.zeros((3, 3, 3)); cube[1, 1, 1] = 2.0
    >>> ds = xr.Dataset({"metal": (("x", "y", "z"), cube), "electrolyte": (("x", "y", "z"), cube / 2),
    ...                  "noise_sigma": ((), 0.01)})
    >>> [spec.name for spec in mri_csi_section(ds, Path("csi.zarr")).summary]
    ['csi_metal_views', 'csi_electrolyte_views', 'csi_metal_histogram']
    """
    ds = ds.load()
    sigma = float(ds["noise_sigma"])
    summary = [_views_spec(ds[name], name) for name in ("metal", "electrolyte") if ds[name].ndim == 3]
    notes = csi_notes(ds)
    if ds["metal"].ndim == 3:
        summary.append(
            FigureSpec(
                "csi_metal_histogram",
                "metal: voxel histogram (5 noise sigma marked)",
                lambda: plot_volume_histogram(ds["metal"], threshold=5 * sigma, title="metal voxels"),
            )
        )
    else:
        notes.append(f"{ds['metal'].ndim}D maps: given as numbers only (the views need 3D)")
    return Section(
        kind="mri-csi",
        title=f"MRI chemical-shift imaging: {source.name}",
        source=source,
        summary=summary,
        notes=notes,
    )
