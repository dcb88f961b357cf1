"""Tomography figures of one scan: orthoslices with the segmentation over them, the contact
maps beside them, and intensity line profiles across both Li/electrolyte interfaces (the
paper's Supplementary Fig. 6: the grey value along the stacking axis, averaged over the
cell's cross-section, with the interfaces marked where the labels change).

The functions take plain arrays (one scan's ``(z, y, x)`` volume and labels, ``z`` the
stacking axis) so that the report can draw them from any store that keeps volumes, and
tests can draw them from a phantom.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from numpy.typing import ArrayLike, NDArray

from operando.report._sections import FigureSpec, honest_ylim, significant

# one colour per label code of the segmentation (electrolyte, lithium, void, pore,
# interphase, collector/background); alpha 0 for the electrolyte keeps the grey values
# of the bulk readable under the overlay
_LABEL_COLOURS = {
    "electrolyte": (0.0, 0.0, 0.0, 0.0),
    "lithium": (0.20, 0.45, 0.85, 0.40),
    "void": (0.90, 0.20, 0.15, 0.65),
    "pore": (1.00, 0.60, 0.00, 0.70),
    "interphase": (0.15, 0.70, 0.30, 0.60),
    "collector_or_background": (0.5, 0.5, 0.5, 0.35),
}


def interface_planes(labels: ArrayLike, *, electrode: Sequence[int], electrolyte: Sequence[int]) -> list[float]:
    """Positions along ``z`` (voxels) where an electrode meets the electrolyte.

    Parameters
    ----------
    labels : (Z, Y, X) array of int
        Segmentation, ``z`` the stacking axis (Li | electrolyte | Li).
    electrode : sequence of int
        Label codes on the electrode side (lithium, and its voids and interphase).
    electrolyte : sequence of int
        Label codes on the electrolyte side (electrolyte, and its pores and interphase).

    Returns
    -------
    list of float
        Mid-planes (voxels) between a slice mostly electrode and the next slice mostly
        electrolyte or the other way round, sorted; slices that are mostly neither (current
        collector, background) are skipped, so a Li | collector boundary is not an interface.

    Examples
    --------
    >>> lab = np.full((12, 2, 2), 5); lab[1:4] = 1; lab[4:8] = 0; lab[8:11] = 1
    >>> interface_planes(lab, electrode=[1, 2], electrolyte=[0, 4])
    [3.5, 7.5]
    """
    lab = np.asarray(labels)
    side_e = np.isin(lab, list(electrode)).mean(axis=(1, 2))
    side_s = np.isin(lab, list(electrolyte)).mean(axis=(1, 2))
    state = np.where(side_e + side_s < 0.5, 0, np.where(side_e > side_s, 1, -1))
    inside = np.flatnonzero(state != 0)
    planes = []
    for a, b in itertools.pairwise(inside):
        if state[a] != state[b]:
            planes.append((float(a) + float(b)) / 2 if b - a > 1 else float(a) + 0.5)
    return planes


def line_profile(
    volume: ArrayLike, *, mask: ArrayLike | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean and standard deviation of the grey value of every ``z`` slice.

    Parameters
    ----------
    volume : (Z, Y, X) array
        Reconstructed attenuation.
    mask : (Y, X) array of bool, optional
        The cross-section to average over (e.g. the cell, or the contact area); all of it
        by default.

    Returns
    -------
    mean, std : (Z,) ndarray of float64

    Examples
    --------
    >>> v = np.arange(8.0).reshape(2, 2, 2)
    >>> line_profile(v)[0]
    array([1.5, 5.5])
    """
    vol = np.asarray(volume, dtype=np.float64)
    flat = vol.reshape(vol.shape[0], -1) if mask is None else vol[:, np.asarray(mask, dtype=bool)]
    return np.nanmean(flat, axis=1), np.nanstd(flat, axis=1)


def _overlay(labels: NDArray[np.integer], codes: Mapping[str, int]) -> tuple[NDArray[np.float64], list[Patch]]:
    rgba = np.zeros((*labels.shape, 4))
    handles = []
    for name, code in codes.items():
        colour = _LABEL_COLOURS.get(name, (0.6, 0.2, 0.6, 0.5))
        hit = labels == code
        if hit.any():
            rgba[hit] = colour
            if colour[3] > 0:
                handles.append(Patch(facecolor=colour[:3], alpha=max(colour[3], 0.5), label=name.replace("_", " ")))
    return rgba, handles


def orthoslice_figure(
    volume: ArrayLike,
    *,
    voxel_um: float,
    labels: ArrayLike | None = None,
    codes: Mapping[str, int] | None = None,
    contact: ArrayLike | None = None,
    interfaces: Sequence[str] = ("interface 0", "interface 1"),
    centre: tuple[int, int, int] | None = None,
    title: str = "",
) -> Figure:
    """Three orthoslices of one scan, the segmentation over them, the contact maps beside.

    Parameters
    ----------
    volume : (Z, Y, X) array
        Reconstructed attenuation (``z`` the stacking axis).
    voxel_um : float
        Voxel size, micrometres (axes are in micrometres).
    labels : (Z, Y, X) array of int, optional
        Segmentation drawn semi-transparently over the slices.
    codes : mapping of str to int, optional
        Label name -> code (the store's ``label_codes``); required with ``labels``.
    contact : (I, Y, X) array of bool, optional
        Contact map of each interface, drawn beside the slices.
    interfaces : sequence of str
        Names of the contact maps.
    centre : (z, y, x) int, optional
        Where the slices cut (voxels); the volume's centre by default.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = orthoslice_figure(np.random.default_rng(0).random((6, 5, 4)), voxel_um=2.0)
    >>> len(fig.axes) >= 3
    True
    """
    vol = np.asarray(volume, dtype=np.float64)
    nz, ny, nx = vol.shape
    cz, cy, cx = centre if centre is not None else (nz // 2, ny // 2, nx // 2)
    lab = None if labels is None else np.asarray(labels)
    if lab is not None and codes is None:
        raise ValueError("codes are needed to draw labels")
    maps = [] if contact is None else list(np.asarray(contact, dtype=bool))
    finite = vol[np.isfinite(vol)]
    lo, hi = np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0)
    cuts = [
        (f"x-y (z = {cz * voxel_um:.0f} um)", vol[cz], None if lab is None else lab[cz], (nx, ny), ("x", "y")),
        (
            f"x-z (y = {cy * voxel_um:.0f} um)",
            vol[:, cy, :],
            None if lab is None else lab[:, cy, :],
            (nx, nz),
            ("x", "z"),
        ),
        (
            f"y-z (x = {cx * voxel_um:.0f} um)",
            vol[:, :, cx],
            None if lab is None else lab[:, :, cx],
            (ny, nz),
            ("y", "z"),
        ),
    ]
    n = len(cuts) + len(maps)
    fig, axes = plt.subplots(1, n, figsize=(2.9 * n + 0.6, 3.4), layout="constrained", squeeze=False)
    handles: list[Patch] = []
    for ax, (name, img, over, (w, h), (xl, yl)) in zip(axes[0], cuts, strict=False):
        extent = (0.0, w * voxel_um, 0.0, h * voxel_um)
        ax.imshow(img, origin="lower", cmap="gray", vmin=lo, vmax=hi, extent=extent, interpolation="nearest")
        if over is not None and codes is not None:
            rgba, hs = _overlay(over, codes)
            ax.imshow(rgba, origin="lower", extent=extent, interpolation="nearest")
            handles = handles if len(handles) >= len(hs) else hs
        ax.set_title(name, fontsize=8)
        ax.set_xlabel(f"{xl} (um)")
        ax.set_ylabel(f"{yl} (um)")
    cmap = ListedColormap(["#f2f2f2", "#1f4e79"])
    for ax, m, name in zip(axes[0][len(cuts) :], maps, interfaces, strict=False):
        h, w = m.shape
        ax.imshow(
            m,
            origin="lower",
            cmap=cmap,
            vmin=0,
            vmax=1,
            extent=(0, w * voxel_um, 0, h * voxel_um),
            interpolation="nearest",
        )
        ax.set_title(f"contact, {name} ({100 * m.mean():.1f} %)", fontsize=8)
        ax.set_xlabel("x (um)")
        ax.set_ylabel("y (um)")
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def interface_profile_figure(
    volume: ArrayLike,
    *,
    voxel_um: float,
    planes_vox: Sequence[float] = (),
    mask: ArrayLike | None = None,
    title: str = "",
) -> Figure:
    """Grey value along the stacking axis across both interfaces (mean +/- s.d.).

    Parameters
    ----------
    volume : (Z, Y, X) array
        Reconstructed attenuation.
    voxel_um : float
        Voxel size, micrometres.
    planes_vox : sequence of float
        Interface positions along ``z`` in voxels (:func:`interface_planes`), marked.
    mask : (Y, X) array of bool, optional
        Cross-section averaged over.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = interface_profile_figure(np.ones((5, 3, 3)), voxel_um=1.0, planes_vox=[2.5])
    >>> fig.axes[0].get_xlabel()
    'z, stacking axis (um)'
    """
    mean, std = line_profile(volume, mask=mask)
    z = np.arange(mean.size) * voxel_um
    fig, ax = plt.subplots(figsize=(5.6, 3.3), layout="constrained")
    ax.fill_between(z, mean - std, mean + std, color="0.85", label="± 1 s.d. over the cross-section")
    ax.plot(z, mean, color="#1f4e79", lw=1.4, label="mean grey value")
    for i, p in enumerate(planes_vox):
        ax.axvline(
            p * voxel_um, color="#c0392b", ls="--", lw=1.0, label="Li | electrolyte interface" if i == 0 else None
        )
    ax.set_xlabel("z, stacking axis (um)")
    ax.set_ylabel("attenuation (grey value)")
    ax.legend(fontsize=7, frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


# -- the paper's analyses of a series (tomo series --analyses) ----------------------------------------
# Variables these figures show; the report's generic tables leave them out.
ANALYSIS_VARIABLES = (
    "electrolyte_density",
    "electrolyte_density_sd",
    "electrolyte_density_cube",
    "density_cube_corner_um",
    "collector_position_um",
    "collector_position_sd_um",
    "li_interface_position_um",
    "li_interface_position_sd_um",
    "roughness_rms_um",
    "interface_void_fraction",
    "roughness_tile_rms_um",
    "roughness_tile_void_fraction",
    "roughness_void_spearman",
    "roughness_void_p_value",
    "interphase_local_thickness_map_um",
    "interphase_local_thickness_mean_um",
    "interphase_local_thickness_sd_um",
    "li_volume_electrode_mm3",
    "void_volume_interface_mm3",
    "interphase_volume_interface_mm3",
    "contact_lost_area_mm2",
    "contact_gained_area_mm2",
    "contact_lost_fraction",
    "contact_gained_fraction",
    "contact_change_fraction",
    "contact_lost",
    "contact_gained",
    "capacity_between_mAh",
    "areal_capacity_between_mAh_cm2",
    "registration_shift_um",
    "registration_error",
)
_SUBVOLUME_PHASES = ("lithium", "void", "interphase")
_INTERFACE_COLOURS = ("#1f77b4", "#d62728")


def _arr(ds: Any, name: str) -> NDArray[np.float64]:
    return np.asarray(ds[name].values, dtype=np.float64)


def _interface_names(ds: Any) -> list[str]:
    n = ds.sizes.get("interface", 2)
    if "interface" in ds.coords:
        return [f"interface {v}" for v in ds["interface"].values.tolist()]
    return [f"interface {i}" for i in range(n)]


def _pct(mean: float, sd: float) -> str:
    """A fraction as ``"96.8 ± 0.9 %"``: the s.d. to one significant digit, the mean to the same decimal.

    Examples
    --------
    >>> _pct(0.96812, 0.0091), _pct(0.9, 0.023), _pct(0.97, float("nan"))
    ('96.8 ± 0.9 %', '90 ± 2 %', '97.0 %')
    """
    m, s = 100.0 * mean, 100.0 * sd
    if not np.isfinite(s) or s <= 0:
        return f"{m:.1f} %"
    decimals = int(min(3, max(0, -np.floor(np.log10(s)))))
    if round(s, decimals) >= 10 ** (1 - decimals):  # 0.96 rounds to 1.0: one decimal fewer
        decimals = max(0, decimals - 1)
    return f"{m:.{decimals}f} ± {s:.{decimals}f} %"


def density_sentence(ds: Any) -> str | None:
    """The electrolyte density from random subvolumes as the paper writes it, per scan.

    Parameters
    ----------
    ds : xarray.Dataset
        A ``tomo-series`` store with ``electrolyte_density`` and ``electrolyte_density_sd``
        (``frame``) and ``electrolyte_density_cube`` (``frame, density_cube``: N = its finite
        values).

    Returns
    -------
    str or None
        E.g. ``"Electrolyte density (1 − porosity) from random subvolumes, mean ± s.d.: scan 0
        96.8 ± 0.9 % (N = 10), ..."``; None without the variables.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset({"electrolyte_density": ("frame", [0.968, np.nan]),
    ...                  "electrolyte_density_sd": ("frame", [0.009, np.nan]),
    ...                  "electrolyte_density_cube": (("frame", "density_cube"), [[0.96, 0.97, 0.975], [np.nan] * 3])})
    >>> density_sentence(ds).split(": ", 1)[1]
    'scan 0 96.8 ± 0.9 % (N = 3); scan 1 not measured (the cubes did not fit in the electrolyte).'
    """
    if "electrolyte_density" not in ds or "electrolyte_density_sd" not in ds:
        return None
    mean = np.atleast_1d(_arr(ds, "electrolyte_density"))
    sd = np.atleast_1d(_arr(ds, "electrolyte_density_sd"))
    cubes = _arr(ds, "electrolyte_density_cube") if "electrolyte_density_cube" in ds else None
    parts = []
    for k in range(mean.size):
        if not np.isfinite(mean[k]):
            parts.append(f"scan {k} not measured (the cubes did not fit in the electrolyte)")
            continue
        n = f" (N = {int(np.isfinite(np.atleast_2d(cubes)[k]).sum())})" if cubes is not None else ""
        parts.append(f"scan {k} {_pct(float(mean[k]), float(sd[k]))}{n}")
    how = ""
    long_name = str(ds["electrolyte_density"].attrs.get("long_name", ""))
    if "mean of " in long_name:
        how = " (" + long_name.split("mean of ", 1)[1].replace(" um ", " µm ") + ")"
    return f"Electrolyte density (1 − porosity) from random subvolumes{how}, mean ± s.d.: " + "; ".join(parts) + "."


def _x_of_scans(state: Any, n: int) -> tuple[NDArray[np.float64], str]:
    """Capacity when known, else the scan index."""
    if state is not None and np.isfinite(state.capacity).all():
        return np.asarray(state.capacity, dtype=np.float64), str(state.capacity_label)
    return np.arange(n, dtype=np.float64), "scan"


def plot_density(ds: Any, state: Any = None) -> Figure:
    """Electrolyte density (%) per scan, mean ± s.d. over the random cubes, each cube a dot."""
    mean, sd = (
        100 * np.atleast_1d(_arr(ds, "electrolyte_density")),
        100 * np.atleast_1d(_arr(ds, "electrolyte_density_sd")),
    )
    x, xlabel = _x_of_scans(state, mean.size)
    fig, ax = plt.subplots(figsize=(5.0, 3.2), layout="constrained")
    if "electrolyte_density_cube" in ds:
        cubes = 100 * np.atleast_2d(_arr(ds, "electrolyte_density_cube"))
        for k in range(cubes.shape[0]):
            ok = np.isfinite(cubes[k])
            ax.plot(np.full(ok.sum(), x[k]), cubes[k][ok], ".", color="0.6", ms=4, label="one cube" if k == 0 else None)
    ax.errorbar(x, mean, yerr=sd, fmt="o", color="#1f4e79", capsize=3, label="mean ± s.d.")
    honest_ylim(ax, mean, sd)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("electrolyte density (%)")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("electrolyte density from random subvolumes", fontsize=10)
    return fig


def plot_positions(ds: Any, state: Any = None) -> Figure:
    """Current-collector and Li/electrolyte interface positions (z, µm) per scan, one panel per interface."""
    names = _interface_names(ds)
    n = ds.sizes["frame"]
    x, xlabel = _x_of_scans(state, n)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.2), layout="constrained", squeeze=False)
    for i, ax in enumerate(axes[0]):
        for var, style, what in (
            ("collector_position_um", {"marker": "s", "ls": "--", "color": "0.35"}, "current collector"),
            (
                "li_interface_position_um",
                {"marker": "o", "ls": "-", "color": _INTERFACE_COLOURS[i % 2]},
                "Li | electrolyte",
            ),
        ):
            if var not in ds:
                continue
            y = _arr(ds, var)[:, i]
            sd_name = var.replace("_um", "_sd_um")
            e = _arr(ds, sd_name)[:, i] if sd_name in ds else None
            ax.errorbar(x, y, yerr=e, capsize=3, ms=4, label=what, **style)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("z position (µm)")
        ax.set_title(names[i], fontsize=9)
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle("interface and current-collector positions (mean ± s.d. over the cell's columns)", fontsize=10)
    return fig


def plot_roughness_vs_voids(ds: Any) -> Figure:
    """Interface roughness against void fraction: every tile of every scan, and each scan's interface."""
    names = _interface_names(ds)
    n = ds.sizes["frame"]
    fig, (ax_t, ax_s) = plt.subplots(1, 2, figsize=(9.0, 3.5), layout="constrained")
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, max(n, 1)))
    markers = ("o", "s")
    if "roughness_tile_rms_um" in ds and "roughness_tile_void_fraction" in ds:
        rms, voids = _arr(ds, "roughness_tile_rms_um"), _arr(ds, "roughness_tile_void_fraction")
        for k in range(n):
            for i in range(len(names)):
                ok = np.isfinite(rms[k, i]) & np.isfinite(voids[k, i])
                ax_t.plot(
                    100 * voids[k, i][ok],
                    rms[k, i][ok],
                    markers[i % 2],
                    ms=4,
                    color=colours[k],
                    alpha=0.7,
                    mfc="none" if i else colours[k],
                    label=f"scan {k}, {names[i]}",
                )
        rho = []
        if "roughness_void_spearman" in ds:
            r = _arr(ds, "roughness_void_spearman")[-1]
            p = _arr(ds, "roughness_void_p_value")[-1] if "roughness_void_p_value" in ds else np.full(r.shape, np.nan)
            rho = [
                f"{names[i]} ρ = {r[i]:.2f} (p = {significant(p[i], 2)})"
                for i in range(len(names))
                if np.isfinite(r[i])
            ]
        ax_t.set_title("tiles" + (f"; last scan: {', '.join(rho)}" if rho else ""), fontsize=8)
        ax_t.set_xlabel("void fraction of the tile (%)")
        ax_t.set_ylabel("RMS roughness of the tile (µm)")
        if n * len(names) <= 8:
            ax_t.legend(fontsize=6, frameon=False)
    if "roughness_rms_um" in ds and "interface_void_fraction" in ds:
        rms_i, void_i = _arr(ds, "roughness_rms_um"), _arr(ds, "interface_void_fraction")
        for i in range(len(names)):
            ax_s.plot(
                100 * void_i[:, i], rms_i[:, i], markers[i % 2] + "-", color=_INTERFACE_COLOURS[i % 2], label=names[i]
            )
            for k in range(n):
                if np.isfinite(void_i[k, i]) and np.isfinite(rms_i[k, i]):
                    ax_s.annotate(
                        str(k), (100 * void_i[k, i], rms_i[k, i]), textcoords="offset points", xytext=(4, 3), fontsize=7
                    )
        ax_s.set_xlabel("void fraction at the interface (%)")
        ax_s.set_ylabel("RMS roughness (µm)")
        ax_s.set_title("each scan's interface (numbers: scan)", fontsize=8)
        ax_s.legend(fontsize=7, frameon=False)
    fig.suptitle("interface roughness against void fraction", fontsize=10)
    return fig


def plot_phase_volumes(ds: Any, state: Any = None) -> Figure:
    """Li, void and interphase volumes per scan: in each chosen subvolume, else at each interface."""
    n = ds.sizes["frame"]
    x, xlabel = _x_of_scans(state, n)
    subvolumes = [p for p in _SUBVOLUME_PHASES if f"subvolume_{p}_mm3" in ds]
    if subvolumes:
        groups = [str(v) for v in ds["subvolume"].values] if "subvolume" in ds.coords else None
        series = {p: _arr(ds, f"subvolume_{p}_mm3") for p in subvolumes}
        where = "subvolume"
    else:
        names = {
            "lithium": "li_volume_electrode_mm3",
            "void": "void_volume_interface_mm3",
            "interphase": "interphase_volume_interface_mm3",
        }
        subvolumes = [p for p, v in names.items() if v in ds]
        series = {p: _arr(ds, names[p]) for p in subvolumes}
        groups = _interface_names(ds)
        where = "interface"
    fig, axes = plt.subplots(
        1, max(1, len(subvolumes)), figsize=(3.6 * max(1, len(subvolumes)), 3.2), layout="constrained", squeeze=False
    )
    for ax, phase in zip(axes[0], subvolumes, strict=False):
        values = np.atleast_2d(series[phase].T).T if series[phase].ndim == 1 else series[phase]
        for j in range(values.shape[1]):
            label = groups[j] if groups is not None and j < len(groups) else f"{where} {j}"
            ax.plot(
                x,
                values[:, j],
                "o-",
                ms=4,
                color=_INTERFACE_COLOURS[j % 2] if where == "interface" else None,
                label=label,
            )
        honest_ylim(ax, values)
        ax.set_title(f"{phase} volume", fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("volume (mm³)")
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"Li, void and interphase volumes per {where}", fontsize=10)
    return fig


def plot_contact_change(ds: Any) -> Figure:
    """Contact lost and gained between consecutive scans (after registration), with the charge passed."""
    names = _interface_names(ds)
    lost, gained = _arr(ds, "contact_lost_area_mm2"), _arr(ds, "contact_gained_area_mm2")
    n = lost.shape[0]
    dq = _arr(ds, "capacity_between_mAh") if "capacity_between_mAh" in ds else np.full(n, np.nan)
    pairs = list(range(1, n))
    fig, ax = plt.subplots(figsize=(max(4.5, 1.6 * len(pairs) + 2.5), 3.4), layout="constrained")
    width = 0.8 / max(1, len(names))
    for i in range(len(names)):
        xs = np.arange(len(pairs)) + (i - (len(names) - 1) / 2) * width
        ax.bar(xs, gained[pairs, i], width, color=_INTERFACE_COLOURS[i % 2], alpha=0.85, label=f"{names[i]}: gained")
        ax.bar(
            xs,
            -lost[pairs, i],
            width,
            color=_INTERFACE_COLOURS[i % 2],
            alpha=0.45,
            hatch="//",
            label=f"{names[i]}: lost",
        )
    ax.axhline(0, color="0.3", lw=0.8)
    ticks = [f"{k - 1}→{k}" + (f"\n{significant(dq[k], 3)} mA h" if np.isfinite(dq[k]) else "") for k in pairs]
    ax.set_xticks(np.arange(len(pairs)), ticks)
    ax.set_xlabel("scans (charge passed between them)")
    ax.set_ylabel("contact area change (mm²)")
    shift = ""
    if "registration_shift_um" in ds:
        s = np.abs(_arr(ds, "registration_shift_um")[1:])
        if np.isfinite(s).any():
            largest = significant(float(np.nanmax(s)), 2)
            shift = f"\nafter rigid registration of each scan onto the previous (largest shift {largest} µm)"
    ax.set_title("contact lost (hatched, below 0) and gained between scans" + shift, fontsize=8)
    fig.legend(fontsize=7, frameon=False, loc="outside right upper")
    return fig


def plot_scan_maps(ds: Any, k: int) -> Figure:
    """One scan's interphase local-thickness map and contact change map at each interface."""
    names = _interface_names(ds)
    has_t = "interphase_local_thickness_map_um" in ds
    has_c = "contact_lost" in ds and "contact_gained" in ds
    rows = int(has_t) + int(has_c)
    fig, axes = plt.subplots(
        max(rows, 1),
        len(names),
        figsize=(3.4 * len(names) + 0.8, 3.0 * max(rows, 1)),
        layout="constrained",
        squeeze=False,
    )
    row = 0
    if has_t:
        thick = np.asarray(ds["interphase_local_thickness_map_um"].isel(frame=k).values, dtype=np.float64)
        finite = thick[np.isfinite(thick)]
        vmax = float(np.percentile(finite, 99)) if finite.size else 1.0
        for i, ax in enumerate(axes[row]):
            im = ax.imshow(thick[i], origin="lower", cmap="magma", vmin=0.0, vmax=max(vmax, 1e-6))
            ax.set_title(f"{names[i]}: interphase thickness", fontsize=8)
            ax.set_xlabel("x (column)")
            ax.set_ylabel("y (column)")
        fig.colorbar(im, ax=list(axes[row]), label="local thickness (µm)", shrink=0.9)
        row += 1
    if has_c:
        lost = np.asarray(ds["contact_lost"].isel(frame=k).values, dtype=bool)
        gained = np.asarray(ds["contact_gained"].isel(frame=k).values, dtype=bool)
        contact = np.asarray(ds["contact"].isel(frame=k).values, dtype=bool) if "contact" in ds else np.zeros_like(lost)
        cmap = ListedColormap(["#ffffff", "#bbbbbb", "#c0392b", "#27ae60"])
        for i, ax in enumerate(axes[row]):
            code = np.where(gained[i], 3, np.where(lost[i], 2, np.where(contact[i], 1, 0)))
            ax.imshow(code, origin="lower", cmap=cmap, vmin=-0.5, vmax=3.5, interpolation="nearest")
            title = f"{names[i]}: contact change" if k > 0 else f"{names[i]}: first scan, no change"
            ax.set_title(title, fontsize=8)
            ax.set_xlabel("x (column)")
            ax.set_ylabel("y (column)")
        handles = [
            Patch(facecolor=c, edgecolor="0.5", label=t)
            for c, t in zip(["#bbbbbb", "#c0392b", "#27ae60"], ["in contact", "lost", "gained"], strict=True)
        ]
        fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=7, frameon=False)
    fig.suptitle(f"scan {k}: interphase thickness and contact change since the previous scan", fontsize=10)
    return fig


def analysis_specs(
    ds: Any, state: Any = None
) -> tuple[list[Any], Callable[[int], list[Any]] | None, list[str], set[str]]:
    """The report's figures of a series' analyses (``tomo series --analyses``).

    Parameters
    ----------
    ds : xarray.Dataset
        A ``tomo-series`` store.
    state : FrameState, optional
        Where each scan sits on the charging curve (capacity on the x axes when known).

    Returns
    -------
    summary : list of FigureSpec
        Density, positions, roughness against voids, phase volumes, contact change (those
        whose variables are in the store).
    per_scan : callable or None
        ``per_scan(k)``: the thickness and contact-change maps of scan ``k``.
    notes : list of str
        The density sentence.
    used : set of str
        The variables shown (for the generic tables to leave out).
    """
    has = set(map(str, ds.data_vars))
    summary: list[Any] = []
    notes = [s for s in [density_sentence(ds)] if s]
    if "electrolyte_density" in has and "electrolyte_density_sd" in has:
        summary.append(
            FigureSpec("tomo_density", "electrolyte density from random subvolumes", lambda: plot_density(ds, state))
        )
    if {"collector_position_um", "li_interface_position_um"} & has:
        summary.append(
            FigureSpec("tomo_positions", "interface and collector positions", lambda: plot_positions(ds, state))
        )
    if {"roughness_rms_um", "roughness_tile_rms_um"} & has:
        summary.append(
            FigureSpec("tomo_roughness_voids", "roughness against void fraction", lambda: plot_roughness_vs_voids(ds))
        )
    if any(f"subvolume_{p}_mm3" in has for p in _SUBVOLUME_PHASES) or "li_volume_electrode_mm3" in has:
        summary.append(
            FigureSpec("tomo_phase_volumes", "Li, void and interphase volumes", lambda: plot_phase_volumes(ds, state))
        )
    if {"contact_lost_area_mm2", "contact_gained_area_mm2"} <= has and ds.sizes.get("frame", 0) > 1:
        summary.append(
            FigureSpec("tomo_contact_change", "contact lost and gained between scans", lambda: plot_contact_change(ds))
        )
    per_scan = None
    if "interphase_local_thickness_map_um" in has or {"contact_lost", "contact_gained"} <= has:

        def per_scan(k: int) -> list[Any]:
            return [
                FigureSpec(
                    f"tomo_maps_frame{k:03d}", "interphase thickness and contact change", lambda: plot_scan_maps(ds, k)
                )
            ]

    used = {v for v in ANALYSIS_VARIABLES if v in has} | {v for v in has if v.startswith("subvolume_")}
    return summary, per_scan, notes, used
