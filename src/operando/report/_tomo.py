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
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from numpy.typing import ArrayLike, NDArray

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
