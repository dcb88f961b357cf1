"""Li/electrolyte interfaces of a segmented cell: Li edges, contact maps, contact regions.

Definitions (operando issue 5, after the seed paper)
----------------------------------------------------
* Interface 0 is that of the electrode on the collector at ``z = 0``, interface 1 that of
  the electrode at the top of the volume.
* The **Li edge** of a column ``(y, x)``: walking along ``z`` from the electrode's
  collector (label 5), the first voxel that is neither lithium (1) nor void (2).
* A column of the cell is **in contact** unless a void voxel lies within
  ``void_distance_px`` voxels (default 5) before the Li edge.
* **Contact regions** are the connected components of the contact map
  (:func:`skimage.measure.label`); the share of the contact held by regions smaller
  than ``small_region_mm2`` (default 0.02 mm^2) measures how fragmented it is.

Label volumes are ``(z, y, x)``; NumPy or Dask (chunked by columns, ``z`` whole).
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from numpy.typing import NDArray

from operando.errors import ParameterError
from operando.tomo._segment import LITHIUM, OUTSIDE, VOID, _first, column_blocks

__all__ = ["analyse_interfaces", "contact_change", "contact_maps", "contact_regions", "li_edges"]


def _edges_block(labels: NDArray[np.integer], void_distance_px: int) -> NDArray[np.int64]:
    """(3, ny, nx): bottom edge, top edge (z indices, -1 outside the cell), and contact bits."""
    nz = labels.shape[0]
    z = np.arange(nz)[:, None, None]
    body = labels != OUTSIDE
    first_body = _first(body, nz)
    cell = first_body < nz
    last_body = np.where(cell, nz - 1 - _first(body[::-1], nz), -1)
    li_or_void = (labels == LITHIUM) | (labels == VOID)
    # bottom: first non-(Li|void) at or after the first non-collector voxel
    e0 = _first(~li_or_void & (z >= first_body), nz)
    # top: last non-(Li|void) at or before the last non-collector voxel
    e1 = nz - 1 - _first((~li_or_void & (z <= last_body))[::-1], nz)
    # a void within d voxels before the edge: d planes picked per column, not the volume
    d = void_distance_px
    iy, ix = np.arange(labels.shape[1])[:, None], np.arange(labels.shape[2])[None, :]
    lost0 = np.zeros(labels.shape[1:], bool)
    lost1 = np.zeros(labels.shape[1:], bool)
    for k in range(1, min(d, nz) + 1):
        z0, z1 = e0 - k, e1 + k
        lost0 |= (z0 >= 0) & (labels[np.clip(z0, 0, nz - 1), iy, ix] == VOID)
        lost1 |= (z1 < nz) & (labels[np.clip(z1, 0, nz - 1), iy, ix] == VOID)
    contact = cell & ~lost0
    contact1 = cell & ~lost1
    e0 = np.where(cell, e0, -1)
    e1 = np.where(cell, e1, -1)
    return np.stack([e0, e1, contact.astype(np.int64) + 2 * contact1.astype(np.int64)])


def _columns(labels: Any, void_distance_px: int) -> Any:
    if labels.ndim != 3:
        raise ParameterError(f"labels must be (z, y, x), got shape {labels.shape}")
    if void_distance_px < 1:
        raise ParameterError(f"void_distance_px must be at least 1, got {void_distance_px}")
    if isinstance(labels, da.Array):
        arr: Any = column_blocks(labels, 16)
        return arr.map_blocks(
            _edges_block,
            void_distance_px,
            chunks=((3,), *arr.chunks[1:]),
            dtype=np.int64,
            meta=np.empty((0, 0, 0), np.int64),
        )
    return _edges_block(np.asarray(labels), void_distance_px)


def li_edges(labels: Any) -> Any:
    """Li edge of both interfaces (module notes).

    Parameters
    ----------
    labels : (nz, ny, nx) ndarray or dask array of int
        Label codes.

    Returns
    -------
    (2, ny, nx) ndarray or dask array of int64
        z index of the Li edge of interface 0 and 1; -1 outside the cell.

    Examples
    --------
    >>> col = np.array([5, 1, 1, 2, 4, 0, 0, 4, 1, 5])[:, None, None]
    >>> li_edges(col)[:, 0, 0].tolist()
    [4, 7]
    """
    return _columns(labels, 1)[:2]


def contact_maps(labels: Any, *, void_distance_px: int = 5) -> Any:
    """Contact map of both interfaces.

    Parameters
    ----------
    labels : (nz, ny, nx) ndarray or dask array of int
        Label codes.
    void_distance_px : int, default 5
        A void within this many voxels before the Li edge breaks the contact.

    Returns
    -------
    (2, ny, nx) ndarray or dask array of bool
        True where the column is in contact.

    Examples
    --------
    >>> col = np.array([5, 1, 2, 1, 1, 1, 1, 4, 0, 4, 1, 5])[:, None, None]
    >>> contact_maps(col, void_distance_px=5)[:, 0, 0].tolist()
    [False, True]
    >>> contact_maps(col, void_distance_px=4)[:, 0, 0].tolist()
    [True, True]
    """
    bits = _columns(labels, void_distance_px)[2]
    return (bits[None] & np.array([1, 2])[:, None, None]) > 0


def contact_regions(
    contact: NDArray[np.bool_],
    *,
    pixel_area_mm2: float,
    small_region_mm2: float = 0.02,
    connectivity: int = 1,
) -> tuple[NDArray[np.int32], NDArray[np.float64], float]:
    """Connected contact regions of one interface and the share held by small ones.

    Parameters
    ----------
    contact : (ny, nx) ndarray of bool
        Contact map.
    pixel_area_mm2 : float
        Area of one column, mm^2.
    small_region_mm2 : float, default 0.02
        Regions below this area count as small.
    connectivity : {1, 2}
        Neighbourhood of :func:`skimage.measure.label` (1: edges, 2: edges and corners).

    Returns
    -------
    regions : (ny, nx) ndarray of int32
        Region index, 0 where there is no contact.
    areas_mm2 : (n_regions,) ndarray
        Area of each region (index ``i + 1``), mm^2.
    small_share : float
        Fraction of the contact area in regions smaller than ``small_region_mm2``
        (NaN without contact).

    Examples
    --------
    >>> c = np.zeros((6, 6), bool); c[:2, :2] = True; c[3:, 3:] = True
    >>> _, areas, share = contact_regions(c, pixel_area_mm2=0.01, small_region_mm2=0.05)
    >>> areas.round(3).tolist(), round(share, 3)
    ([0.04, 0.09], 0.308)
    """
    from skimage.measure import label

    if pixel_area_mm2 <= 0:
        raise ParameterError(f"pixel_area_mm2 must be positive, got {pixel_area_mm2}")
    regions = np.asarray(label(np.asarray(contact, bool), connectivity=connectivity), dtype=np.int32)
    areas = np.bincount(regions.ravel())[1:] * pixel_area_mm2
    total = areas.sum()
    share = float(areas[areas < small_region_mm2].sum() / total) if total > 0 else float("nan")
    return regions, areas.astype(np.float64), share


def contact_change(before: NDArray[np.bool_], after: NDArray[np.bool_], *, pixel_area_mm2: float) -> xr.Dataset:
    """Contact area lost and gained between two scans.

    Parameters
    ----------
    before, after : (n_interface, ny, nx) ndarray of bool
        Contact maps of the same interfaces on the same grid.
    pixel_area_mm2 : float
        Area of one column, mm^2.

    Returns
    -------
    xarray.Dataset
        ``lost_area_mm2`` and ``gained_area_mm2`` (dim ``interface``), and ``lost``,
        ``gained`` maps ``(interface, y, x)``.
    """
    a, b = np.asarray(before, bool), np.asarray(after, bool)
    if a.shape != b.shape:
        raise ParameterError(f"contact maps of shapes {a.shape} and {b.shape} cannot be compared")
    lost, gained = a & ~b, b & ~a
    dims = ("interface", "y", "x")
    return xr.Dataset(
        {
            "lost_area_mm2": ("interface", lost.sum(axis=(1, 2)) * pixel_area_mm2, {"units": "mm2"}),
            "gained_area_mm2": ("interface", gained.sum(axis=(1, 2)) * pixel_area_mm2, {"units": "mm2"}),
            "lost": (dims, lost),
            "gained": (dims, gained),
        },
        coords={"interface": np.arange(a.shape[0])},
    )


def analyse_interfaces(
    labels: Any,
    *,
    voxel_size_um: float,
    void_distance_px: int = 5,
    small_region_mm2: float = 0.02,
    connectivity: int = 1,
) -> xr.Dataset:
    """Contact maps, contact areas and contact regions of both interfaces.

    Parameters
    ----------
    labels : (nz, ny, nx) ndarray or dask array of int
        Label codes (:func:`operando.tomo.segment_cell`).
    voxel_size_um : float
        Voxel edge, µm.
    void_distance_px, small_region_mm2, connectivity
        See :func:`contact_maps` and :func:`contact_regions`.

    Returns
    -------
    xarray.Dataset
        ``operando_kind = "tomo-interface"``: ``contact`` (interface, y, x) bool,
        ``li_edge_z`` (interface, y, x) z index (-1 outside the cell),
        ``contact_area_mm2``, ``cell_area_mm2``, ``contact_fraction``, ``n_regions``,
        ``small_region_share`` (interface), ``region_area_mm2`` (interface, region;
        largest first, NaN padded).
    """
    if not voxel_size_um > 0:
        raise ParameterError(f"voxel_size_um must be positive, got {voxel_size_um}")
    cols = _columns(labels, void_distance_px)
    cols = np.asarray(cols.compute() if isinstance(cols, da.Array) else cols)
    edges = cols[:2]
    contact = (cols[2][None] & np.array([1, 2])[:, None, None]) > 0
    cell = edges[0] >= 0
    pix = (voxel_size_um * 1e-3) ** 2
    areas, shares, counts = [], [], []
    for k in range(2):
        _, a, s = contact_regions(
            contact[k], pixel_area_mm2=pix, small_region_mm2=small_region_mm2, connectivity=connectivity
        )
        areas.append(np.sort(a)[::-1])
        shares.append(s)
        counts.append(a.size)
    n_max = max(1, *counts)
    table = np.full((2, n_max), np.nan)
    for k, a in enumerate(areas):
        table[k, : a.size] = a
    contact_area = contact.sum(axis=(1, 2)) * pix
    cell_area = np.full(2, cell.sum() * pix)
    ny, nx = edges.shape[1:]
    dims = ("interface", "y", "x")
    return xr.Dataset(
        {
            "contact": (dims, contact, {"long_name": "column in contact (no void near the Li edge)"}),
            "li_edge_z": (dims, edges, {"long_name": "z index of the Li edge (-1 outside the cell)"}),
            "contact_area_mm2": ("interface", contact_area, {"units": "mm2"}),
            "cell_area_mm2": ("interface", cell_area, {"units": "mm2"}),
            "contact_fraction": ("interface", contact_area / np.where(cell_area > 0, cell_area, np.nan)),
            "n_regions": ("interface", np.array(counts)),
            "small_region_share": (
                "interface",
                np.array(shares),
                {"long_name": f"share of the contact area in regions < {small_region_mm2} mm2"},
            ),
            "region_area_mm2": (("interface", "region"), table, {"units": "mm2"}),
        },
        coords={
            "interface": np.arange(2),
            "y": ("y", np.arange(ny) * voxel_size_um, {"units": "um"}),
            "x": ("x", np.arange(nx) * voxel_size_um, {"units": "um"}),
        },
        attrs={
            "operando_kind": "tomo-interface",
            "voxel_size_um": float(voxel_size_um),
            "void_distance_px": int(void_distance_px),
            "small_region_mm2": float(small_region_mm2),
        },
    )
