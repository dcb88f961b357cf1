"""Physical quantities of a segmented Li | electrolyte | Li cell, and Li-metal stripping.

Volumes are split between the two electrodes at the middle of the two Li edges of each
column (:func:`operando.tomo.li_edges`); interface 0 is the electrode at ``z = 0``.
"""

from __future__ import annotations

import math
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from operando.errors import ParameterError
from operando.tomo._interface import li_edges
from operando.tomo._segment import INTERPHASE, LITHIUM, OUTSIDE, PORE, VOID, column_blocks

__all__ = ["LI_DENSITY_G_CM3", "LI_MOLAR_MASS_G_MOL", "cell_quantities", "li_charge_mAh", "stripping_fraction"]

LI_DENSITY_G_CM3 = 0.534
"""Density of lithium metal, g/cm^3."""
LI_MOLAR_MASS_G_MOL = 6.941
"""Molar mass of lithium, g/mol."""
_FARADAY_C_MOL = 96485.33212


def _counts_block(labels: NDArray[np.integer]) -> NDArray[np.float64]:
    """Per block: voxel counts of (Li, void, interphase, pore) per electrode, plus column sums."""
    nz = labels.shape[0]
    edges = np.asarray(li_edges(labels))
    cell = edges[0] >= 0
    mid = np.where(cell, 0.5 * (edges[0] + edges[1]), nz / 2.0)
    # voxels per (code, upper half) in one pass: key = 2 code + upper, counted slab by slab
    if np.issubdtype(labels.dtype, np.signedinteger) and labels.min(initial=0) < 0:
        raise ParameterError("labels must be non-negative label codes")
    n_codes = int(labels.max(initial=0)) + 1
    hist = np.zeros(2 * n_codes, np.int64)
    step = max(1, 2**22 // max(1, math.prod(labels.shape[1:])))
    for z0 in range(0, nz, step):
        zz = np.arange(z0, min(z0 + step, nz))[:, None, None]
        key = 2 * labels[z0 : z0 + step].astype(np.intp) + (zz >= mid[None])
        hist += np.bincount(key.ravel(), minlength=2 * n_codes)
    per_code = hist.reshape(n_codes, 2)
    out = np.zeros(12)
    for i, code in enumerate((LITHIUM, VOID, INTERPHASE, PORE)):
        if code < n_codes:
            out[2 * i : 2 * i + 2] = per_code[code]
    out[8] = cell.sum()
    # stack thickness summed over columns, voxels (a column outside the cell is all OUTSIDE)
    out[9] = per_code.sum() - (per_code[OUTSIDE].sum() if n_codes > OUTSIDE else 0)
    out[10] = edges[0][cell].sum()
    out[11] = edges[1][cell].sum()
    return out[None, None, None, :]


def cell_quantities(labels: Any, *, voxel_size_um: float) -> xr.Dataset:
    """Volumes, thicknesses and interface positions of a segmented cell.

    Parameters
    ----------
    labels : (nz, ny, nx) ndarray or dask array of int
        Label codes (:func:`operando.tomo.segment_cell`); Dask is reduced block by block.
    voxel_size_um : float
        Voxel edge, µm.

    Returns
    -------
    xarray.Dataset
        Scalars ``li_volume_mm3``, ``void_volume_mm3``, ``interphase_volume_mm3``,
        ``pore_volume_mm3``, ``interphase_thickness_um`` (mean of both interfaces),
        ``stack_thickness_um`` (collector to collector, mean over the cell's columns),
        ``cell_area_mm2``; and per ``interface`` (0 bottom, 1 top):
        ``li_volume_electrode_mm3``, ``void_volume_interface_mm3``,
        ``interphase_volume_interface_mm3``, ``interphase_thickness_interface_um``,
        ``interface_position_um`` (mean z of the Li edge).
    """
    if labels.ndim != 3:
        raise ParameterError(f"labels must be (z, y, x), got shape {labels.shape}")
    if not voxel_size_um > 0:
        raise ParameterError(f"voxel_size_um must be positive, got {voxel_size_um}")
    if isinstance(labels, da.Array):
        arr: Any = column_blocks(labels, 16)
        parts = arr.map_blocks(
            _counts_block, new_axis=3, chunks=((1,), *((1,) * len(c) for c in arr.chunks[1:]), (12,)), dtype=float
        )
        c = np.asarray(parts.sum(axis=(0, 1, 2)).compute())
    else:
        c = _counts_block(np.asarray(labels))[0, 0, 0]
    vox_mm3 = (voxel_size_um * 1e-3) ** 3
    pix_mm2 = (voxel_size_um * 1e-3) ** 2
    n_cols = c[8]
    cell_area = n_cols * pix_mm2
    li, void, ip, pore = (c[2 * i : 2 * i + 2] * vox_mm3 for i in range(4))
    safe_area = cell_area if cell_area > 0 else np.nan
    ip_thick = ip / safe_area * 1e3  # mm -> um
    pos = np.array([c[10], c[11]]) / (n_cols if n_cols else np.nan) * voxel_size_um
    mm3 = {"units": "mm3"}
    return xr.Dataset(
        {
            "li_volume_mm3": ((), li.sum(), mm3),
            "void_volume_mm3": ((), void.sum(), mm3),
            "interphase_volume_mm3": ((), ip.sum(), mm3),
            "pore_volume_mm3": ((), pore.sum(), mm3),
            "interphase_thickness_um": ((), ip_thick.mean(), {"units": "um"}),
            "stack_thickness_um": ((), c[9] / (n_cols if n_cols else np.nan) * voxel_size_um, {"units": "um"}),
            "cell_area_mm2": ((), cell_area, {"units": "mm2"}),
            "li_volume_electrode_mm3": ("interface", li, mm3),
            "void_volume_interface_mm3": ("interface", void, mm3),
            "interphase_volume_interface_mm3": ("interface", ip, mm3),
            "interphase_thickness_interface_um": ("interface", ip_thick, {"units": "um"}),
            "interface_position_um": ("interface", pos, {"units": "um", "long_name": "mean z of the Li edge"}),
        },
        coords={"interface": np.arange(2)},
        attrs={"voxel_size_um": float(voxel_size_um)},
    )


def li_charge_mAh(volume_mm3: ArrayLike) -> NDArray[np.float64]:
    """Charge carried by dissolving a volume of lithium metal, mA h.

    ``Q = V rho / M F`` with rho = 0.534 g/cm^3, M = 6.941 g/mol.

    Examples
    --------
    >>> round(float(li_charge_mAh(1.0)), 4)  # 1 mm^3 of Li, mA h
    2.0619
    """
    v_cm3 = np.asarray(volume_mm3, dtype=np.float64) * 1e-3
    return v_cm3 * LI_DENSITY_G_CM3 / LI_MOLAR_MASS_G_MOL * _FARADAY_C_MOL / 3.6


def stripping_fraction(
    li_volume_mm3: ArrayLike, charge_mAh: ArrayLike, *, electrode: int | None = None
) -> NDArray[np.float64]:
    """Fraction of the charge passed that came from stripping Li metal, since the first scan.

    Parameters
    ----------
    li_volume_mm3 : (n_frames, 2) array_like
        Li volume of each electrode per scan (voids not counted as Li), mm^3.
    charge_mAh : (n_frames,) array_like
        Charge passed since the first scan (magnitude), mA h.
    electrode : {0, 1}, optional
        The stripped electrode; default the one that lost more Li by the last scan.

    Returns
    -------
    (n_frames,) ndarray
        ``li_charge_mAh(V[0] - V[k]) / Q[k]``; NaN where no charge has passed.
    """
    v = np.asarray(li_volume_mm3, dtype=np.float64)
    q = np.abs(np.asarray(charge_mAh, dtype=np.float64))
    if v.ndim != 2 or v.shape[1] != 2 or q.shape != (v.shape[0],):
        raise ParameterError(f"li_volume_mm3 {v.shape} must be (n_frames, 2) and charge_mAh {q.shape} (n_frames,)")
    e = int(np.argmax(v[0] - v[-1])) if electrode is None else int(electrode)
    lost = v[0, e] - v[:, e]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(q > 0, li_charge_mAh(lost) / q, np.nan)
