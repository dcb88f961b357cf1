"""The seed paper's analyses of one scan and of two successive scans, as named, unit-carrying variables.

:func:`scan_analyses` (one scan: electrolyte density from random cubes, collector and
interface positions, interface roughness and its relation to voids, interphase local
thickness, phase volumes in chosen subvolumes) and :func:`between_scans` (rigid registration
of the later scan onto the earlier one, contact lost and gained once registered, the
capacity passed between them) return ``dict[str, xarray.DataArray]`` whose variables carry
pint-parseable ``units`` (``um``, ``mm**2``, ``mm**3``, ``mA*h``, ``1``) and a ``long_name``,
ready to be merged into a scan's dataset and stored along ``frame`` by
:func:`operando.pipelines.tomo.process_series` (the first scan of a series gets NaN for the
between-scan variables: :func:`between_scans_placeholder`).

Kernels: :mod:`operando.tomo` (``subvolume_density``, ``stack_positions``, ...). Volumes and
labels may be NumPy or Dask; only what each analysis needs is computed (cubes, column
summaries, a binned copy and a crop for the registration).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from operando.errors import ParameterError
from operando.tomo import (
    PHASE_CODES,
    contact_change_registered,
    contact_maps,
    drop_rim,
    interphase_thickness_maps,
    phase_volumes,
    register_volumes,
    roughness_rms,
    roughness_vs_voids,
    stack_positions,
    subvolume_density,
)

__all__ = ["between_scans", "between_scans_placeholder", "register_scans", "scan_analyses"]

Box = Sequence[Sequence[float]]

_AXES = ("z", "y", "x")


def _var(dims: Any, values: Any, units: str | None, long_name: str) -> xr.DataArray:
    attrs = {"long_name": long_name}
    if units is not None:
        attrs["units"] = units
    return xr.DataArray(np.asarray(values), dims=dims, attrs=attrs)


def _numpy(a: Any) -> np.ndarray:
    return np.asarray(a.compute() if isinstance(a, da.Array) else a)


def _density(labels: Any, voxel: float, edge_um: float, n: int, seed: int) -> dict[str, xr.DataArray]:
    try:
        res = subvolume_density(labels, voxel_size_um=voxel, edge_um=edge_um, n=n, seed=seed)
        dens, mean, sd, corners = res.density, res.mean, res.std, res.corners_vox * voxel
    except ParameterError as err:
        if "fit wholly" not in str(err) and "does not fit" not in str(err):
            raise
        warnings.warn(f"electrolyte density not measured: {err}", UserWarning, stacklevel=3)
        dens, mean, sd = np.full(n, np.nan), math.nan, math.nan
        corners = np.full((n, 3), np.nan)
    what = f"{n} random {edge_um:g} um cubes wholly in the electrolyte"
    return {
        "electrolyte_density": _var((), mean, "1", f"electrolyte density (1 - porosity), mean of {what}"),
        "electrolyte_density_sd": _var((), sd, "1", f"electrolyte density, sample s.d. over {what}"),
        "electrolyte_density_cube": _var(("density_cube",), dens, "1", "electrolyte density of each cube"),
        "density_cube_corner_um": _var(
            ("density_cube", "axis"), corners, "um", "(z, y, x) of each cube's first voxel centre"
        ),
    }


def _positions(labels: Any, voxel: float) -> tuple[dict[str, xr.DataArray], np.ndarray]:
    pos = stack_positions(labels, voxel_size_um=voxel)
    out: dict[str, xr.DataArray] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: no cell column
        for name, arr, what in (
            ("collector_position_um", pos.collector_um, "current-collector face"),
            ("li_interface_position_um", pos.interface_um, "Li/electrolyte interface (Li edge face)"),
        ):
            out[name] = _var(("interface",), np.nanmean(arr, axis=(1, 2)), "um", f"mean z of the {what}")
            out[name.replace("_um", "_sd_um")] = _var(
                ("interface",), np.nanstd(arr, axis=(1, 2)), "um", f"s.d. over the cell's columns of the {what} z"
            )
        out["stack_height_um"] = _var(
            (),
            np.nanmean(pos.collector_um[1] - pos.collector_um[0]),
            "um",
            "collector face to collector face, mean over the cell's columns",
        )
    out["interface_height_um"] = _var(
        ("interface", "y", "x"),
        pos.interface_um.astype(np.float32),
        "um",
        "z of the Li/electrolyte interface per column (NaN outside the cell)",
    )
    return out, pos.interface_um


def _roughness(heights: np.ndarray, contact: np.ndarray, tile_px: int, rim_px: int) -> dict[str, xr.DataArray]:
    ny, nx = heights.shape[1:]
    ty, tx = ny // tile_px, nx // tile_px
    rms = np.full(2, np.nan)
    voidf = np.full(2, np.nan)
    rho = np.full(2, np.nan)
    pval = np.full(2, np.nan)
    tile_rms = np.full((2, ty, tx), np.nan)
    tile_void = np.full((2, ty, tx), np.nan)
    for k in range(2):
        voidf[k] = (~contact[k])[np.isfinite(heights[k])].mean() if np.isfinite(heights[k]).any() else np.nan
        h = drop_rim(heights[k], rim_px=rim_px)
        cell = np.isfinite(h)
        voids = cell & ~contact[k]
        rms[k] = roughness_rms(h)
        if ty and tx:
            t = roughness_vs_voids(h, voids, tile_px=tile_px)
            iy, ix = t.tile_yx[:, 0] // tile_px, t.tile_yx[:, 1] // tile_px
            tile_rms[k, iy, ix] = t.rms_um
            tile_void[k, iy, ix] = t.void_fraction
            rho[k], pval[k] = t.spearman_rho, t.p_value
    tdims = ("interface", "tile_y", "tile_x")
    return {
        "roughness_rms_um": _var(
            ("interface",), rms, "um", f"RMS roughness of the interface (its plane removed, {rim_px} rim columns out)"
        ),
        "interface_void_fraction": _var(
            ("interface",), voidf, "1", "share of the cell's columns with a void at the interface (not in contact)"
        ),
        "roughness_tile_rms_um": _var(tdims, tile_rms, "um", f"RMS roughness in {tile_px}-column tiles"),
        "roughness_tile_void_fraction": _var(tdims, tile_void, "1", f"void fraction in {tile_px}-column tiles"),
        "roughness_void_spearman": _var(
            ("interface",), rho, "1", "Spearman correlation of tile roughness and tile void fraction"
        ),
        "roughness_void_p_value": _var(("interface",), pval, "1", "two-sided p-value of that correlation"),
    }


def _thickness(
    labels: Any, voxel: float, box: Box | None, box_units: str, square_um: float | None
) -> dict[str, xr.DataArray]:
    ny, nx = labels.shape[1:]
    if box is not None:
        from operando.tomo import box_slices

        sl = box_slices(box, labels.shape, voxel_size_um=voxel, units=box_units)
        where = " (in the thickness box)"
    else:
        side = ny if square_um is None else max(1, round(square_um / voxel))
        y0, x0 = max(0, (ny - side) // 2), max(0, (nx - side) // 2)
        sl = (slice(0, labels.shape[0]), slice(y0, min(ny, y0 + side)), slice(x0, min(nx, x0 + side)))
        whole = sl[1] == slice(0, ny) and sl[2] == slice(0, nx)
        where = "" if whole else f" (central {square_um:g} um square)"
    t = interphase_thickness_maps(labels[sl], voxel_size_um=voxel)
    maps = np.full((2, ny, nx), np.nan, np.float32)
    maps[:, sl[1], sl[2]] = t.map_um
    return {
        "interphase_local_thickness_mean_um": _var(
            ("interface",), t.mean_um, "um", "interphase local thickness, mean over the map" + where
        ),
        "interphase_local_thickness_sd_um": _var(
            ("interface",), t.std_um, "um", "interphase local thickness, s.d. over the map" + where
        ),
        "interphase_local_thickness_map_um": _var(
            ("interface", "y", "x"),
            maps,
            "um",
            "largest inscribed-sphere thickness of the column's interphase (NaN: none, or not measured)" + where,
        ),
    }


def _volumes(labels: Any, voxel: float, boxes: Mapping[str, Box], box_units: str) -> dict[str, xr.DataArray]:
    names = list(boxes)
    table = {phase: np.zeros(len(names)) for phase in (*PHASE_CODES, "box")}
    for i, name in enumerate(names):
        vols = phase_volumes(labels, boxes[name], voxel_size_um=voxel, units=box_units)
        for phase, v in vols.items():
            table[phase][i] = v
    out = {
        f"subvolume_{phase}_mm3": _var(("subvolume",), table[phase], "mm**3", f"{phase} volume in the subvolume")
        for phase in ("lithium", "void", "interphase", "electrolyte", "pore")
    }
    out["subvolume_box_mm3"] = _var(("subvolume",), table["box"], "mm**3", "volume of the subvolume")
    for arr in out.values():
        arr.coords["subvolume"] = names
    return out


def scan_analyses(
    volume: Any,
    labels: Any,
    *,
    voxel_size_um: float,
    contact: Any = None,
    void_distance_px: int = 5,
    density_edge_um: float = 340.0,
    n_density_cubes: int = 10,
    seed: int = 0,
    roughness_tile_um: float = 100.0,
    rim_px: int = 2,
    thickness: bool = True,
    thickness_square_um: float | None = 680.0,
    thickness_box: Box | None = None,
    boxes: Mapping[str, Box] | None = None,
    box_units: str = "um",
) -> dict[str, xr.DataArray]:
    """The paper's per-scan analyses of a segmented scan.

    Parameters
    ----------
    volume : (nz, ny, nx) ndarray or dask array
        Reconstructed volume (not used by these analyses; kept in the signature so that the
        caller passes the pair and a grey-value analysis can join without a new call).
    labels : (nz, ny, nx) ndarray or dask array of int
        Label codes of :func:`operando.tomo.segment_cell`.
    voxel_size_um : float
        Voxel edge, µm.
    contact : (2, ny, nx) array_like of bool, optional
        Contact maps (default: :func:`operando.tomo.contact_maps` with ``void_distance_px``).
    void_distance_px : int, default 5
        Contact definition when ``contact`` is not given.
    density_edge_um, n_density_cubes, seed
        Electrolyte density from ``n_density_cubes`` random non-overlapping cubes of edge
        ``density_edge_um`` (paper: ten 340 µm cubes). When that many do not fit, the density
        is NaN and a warning says so.
    roughness_tile_um : float, default 100
        Tile edge of roughness against void fraction, µm.
    rim_px : int, default 2
        Columns at the cell's rim left out of the roughness (:func:`operando.tomo.drop_rim`).
    thickness : bool, default True
        Interphase local-thickness map (:func:`operando.tomo.interphase_thickness_maps`).
    thickness_square_um : float or None, default 680
        The map is measured in the central square of this edge (all of ``z``), as the paper
        measured the interphase in 680 x 680 µm subvolumes; NaN outside it. ``None``: every
        column. The local thickness costs about a minute per 5 million interphase voxels on two
        shared cores (a paper-size scan whole: about 50 times that).
    thickness_box : ((z0, z1), (y0, y1), (x0, x1)), optional
        Measure the thickness in this box instead.
    boxes : mapping of name to box, optional
        Subvolumes (e.g. the paper's 680 x 680 x 340 µm at each interface) whose Li, void,
        interphase, electrolyte and pore volumes are returned.
    box_units : {"um", "vox"}
        Units of the boxes.

    Returns
    -------
    dict of str to xarray.DataArray
        ``electrolyte_density``, ``electrolyte_density_sd`` (), ``electrolyte_density_cube``
        (density_cube), ``density_cube_corner_um`` (density_cube, axis);
        ``collector_position_um``, ``collector_position_sd_um``,
        ``li_interface_position_um``, ``li_interface_position_sd_um`` (interface),
        ``stack_height_um`` (), ``interface_height_um`` (interface, y, x);
        ``roughness_rms_um``, ``interface_void_fraction``, ``roughness_void_spearman``,
        ``roughness_void_p_value`` (interface), ``roughness_tile_rms_um``,
        ``roughness_tile_void_fraction`` (interface, tile_y, tile_x);
        ``interphase_local_thickness_mean_um``, ``interphase_local_thickness_sd_um``
        (interface) and ``interphase_local_thickness_map_um`` (interface, y, x; NaN outside
        the measured square or box); ``subvolume_<phase>_mm3`` (subvolume) for each box.

    Examples
    --------
    >>> from operando.synthetic import simulate_cell
    >>> cell = simulate_cell((60, 40, 40), n_voids=(3, 3), seed=1)
    >>> out = scan_analyses(cell.volume, cell.labels, voxel_size_um=5.0, density_edge_um=40.0, n_density_cubes=3)
    >>> sorted(out)[:3], out["roughness_rms_um"].attrs["units"]
    (['collector_position_sd_um', 'collector_position_um', 'density_cube_corner_um'], 'um')
    """
    if getattr(labels, "ndim", None) != 3:
        raise ParameterError(f"labels must be (z, y, x), got shape {getattr(labels, 'shape', None)}")
    if volume is not None and tuple(volume.shape) != tuple(labels.shape):
        raise ParameterError(f"volume {tuple(volume.shape)} and labels {tuple(labels.shape)} differ in shape")
    if not roughness_tile_um > 0:
        raise ParameterError(f"roughness_tile_um must be positive, got {roughness_tile_um}")
    voxel = float(voxel_size_um)
    out = _density(labels, voxel, density_edge_um, n_density_cubes, seed)
    positions, heights = _positions(labels, voxel)
    out.update(positions)
    cmap = _numpy(contact if contact is not None else contact_maps(labels, void_distance_px=void_distance_px))
    if cmap.shape != (2, *labels.shape[1:]):
        raise ParameterError(f"contact maps of shape {cmap.shape}; the labels need (2, {labels.shape[1]}, ...)")
    out.update(_roughness(heights, cmap.astype(bool), max(3, round(roughness_tile_um / voxel)), rim_px))
    if thickness:
        out.update(_thickness(labels, voxel, thickness_box, box_units, thickness_square_um))
    if boxes:
        out.update(_volumes(labels, voxel, boxes, box_units))
    for v in out.values():
        if "axis" in v.dims:
            v.coords["axis"] = list(_AXES)
    return out


# ----------------------------------------------------------------------------- between scans


def _binned(volume: Any, factor: int) -> np.ndarray:
    """Block mean by ``factor`` along every axis (trailing partial blocks dropped), float64."""
    if factor <= 1:
        return _numpy(volume).astype(np.float64)
    shape = [n // factor * factor for n in volume.shape]
    v = volume[: shape[0], : shape[1], : shape[2]]
    if isinstance(v, da.Array):
        return np.asarray(da.coarsen(np.mean, v.astype(np.float64), dict.fromkeys(range(3), factor)).compute())
    from skimage.measure import block_reduce

    return np.asarray(block_reduce(np.asarray(v, np.float64), (factor,) * 3, np.mean))


def register_scans(
    reference: Any, moving: Any, *, max_voxels: int = 2**22, crop_vox: int = 96
) -> tuple[np.ndarray, float]:
    """Rigid translation of ``moving`` onto ``reference`` for volumes of any size, voxels.

    The volumes are block-averaged until they hold at most ``max_voxels`` and registered
    (:func:`operando.tomo.register_volumes`); when they had to be binned, the estimate is
    refined at full resolution on a central ``crop_vox`` cube of ``reference`` against the
    ``moving`` cube that the estimate points at.

    Parameters
    ----------
    reference, moving : (nz, ny, nx) ndarray or dask array
        Two scans on the same grid.
    max_voxels : int
        Largest volume registered in one go.
    crop_vox : int
        Edge of the full-resolution refinement cube.

    Returns
    -------
    shift_vox : (3,) ndarray
        ``(dz, dy, dx)``: ``scipy.ndimage.shift(moving, shift_vox)`` matches ``reference``.
    error : float
        Registration error of the last step (skimage).
    """
    if tuple(reference.shape) != tuple(moving.shape) or len(reference.shape) != 3:
        raise ParameterError(f"scans of shapes {reference.shape} and {moving.shape} cannot be registered")
    factor = max(1, math.ceil((math.prod(reference.shape) / max_voxels) ** (1 / 3)))
    shift, error = register_volumes(_binned(reference, factor), _binned(moving, factor))
    shift = shift * factor
    if factor == 1:
        return shift, error
    n = np.array(reference.shape)
    edge = np.minimum(crop_vox, n)
    whole = np.round(shift).astype(int)
    start = (n - edge) // 2
    mstart = start - whole
    if (mstart < 0).any() or (mstart + edge > n).any():
        return shift, error  # the refinement cube would leave the volume: keep the binned estimate
    ref = _numpy(reference[tuple(slice(s, s + e) for s, e in zip(start, edge, strict=True))])
    mov = _numpy(moving[tuple(slice(s, s + e) for s, e in zip(mstart, edge, strict=True))])
    fine, error = register_volumes(ref, mov)
    return whole + fine, error


def between_scans(
    before_volume: Any,
    after_volume: Any,
    before_contact: Any,
    after_contact: Any,
    *,
    voxel_size_um: float,
    charge_mAh: tuple[float, float] | None = None,
    cell_area_mm2: float | None = None,
    register: bool = True,
    max_voxels: int = 2**22,
) -> dict[str, xr.DataArray]:
    """Registration, contact lost and gained, and the capacity passed between two successive scans.

    Parameters
    ----------
    before_volume, after_volume : (nz, ny, nx) ndarray or dask array
        The two reconstructed volumes (on the same grid).
    before_contact, after_contact : (2, ny, nx) array_like of bool
        Their contact maps.
    voxel_size_um : float
        Voxel edge, µm.
    charge_mAh : (float, float), optional
        The echem record's cumulative charge at both scans (e.g. ``echem_charge_mAh`` of the
        two frames); NaN capacity without it.
    cell_area_mm2 : float, optional
        Cell (electrode) area for the areal capacity.
    register : bool, default True
        Register the volumes and move the later contact maps by the in-plane shift before
        comparing; False compares the maps as they are (and the shift is NaN).
    max_voxels : int
        See :func:`register_scans`.

    Returns
    -------
    dict of str to xarray.DataArray
        ``registration_shift_um`` (axis: z, y, x), ``registration_error`` ();
        ``contact_lost_area_mm2``, ``contact_gained_area_mm2``, ``contact_lost_fraction``,
        ``contact_gained_fraction``, ``contact_change_fraction`` (interface);
        ``contact_lost``, ``contact_gained`` (interface, y, x) bool;
        ``capacity_between_mAh`` and ``areal_capacity_between_mAh_cm2`` ().
    """
    voxel = float(voxel_size_um)
    if register:
        shift_vox, error = register_scans(before_volume, after_volume, max_voxels=max_voxels)
    else:
        shift_vox, error = np.zeros(3), math.nan
    pix = (voxel * 1e-3) ** 2
    ch = contact_change_registered(
        _numpy(before_contact), _numpy(after_contact), pixel_area_mm2=pix, shift_yx=tuple(shift_vox[1:])
    )
    dq = math.nan
    if charge_mAh is not None:
        dq = abs(float(charge_mAh[1]) - float(charge_mAh[0]))
    areal = dq / (cell_area_mm2 * 1e-2) if cell_area_mm2 else math.nan
    since = " since the previous scan"
    reg_shift = shift_vox * voxel if register else np.full(3, np.nan)
    out = {
        "registration_shift_um": _var(
            ("axis",), reg_shift, "um", "rigid shift that brings this scan onto the previous one (z, y, x)"
        ),
        "registration_error": _var((), error, "1", "registration error (skimage phase_cross_correlation)"),
        "contact_lost_area_mm2": _var(("interface",), ch["lost_area_mm2"], "mm**2", "contact area lost" + since),
        "contact_gained_area_mm2": _var(("interface",), ch["gained_area_mm2"], "mm**2", "contact area gained" + since),
        "contact_lost_fraction": _var(
            ("interface",), ch["lost_fraction"], "1", "contact lost, share of the previous contact"
        ),
        "contact_gained_fraction": _var(
            ("interface",), ch["gained_fraction"], "1", "contact gained, share of the previous contact"
        ),
        "contact_change_fraction": _var(
            ("interface",), ch["change_fraction"], "1", "(contact after - before) / before" + since
        ),
        "contact_lost": _var(("interface", "y", "x"), ch["lost"], None, "column lost contact" + since),
        "contact_gained": _var(("interface", "y", "x"), ch["gained"], None, "column gained contact" + since),
        "capacity_between_mAh": _var((), dq, "mA*h", "charge passed" + since),
        "areal_capacity_between_mAh_cm2": _var((), areal, "mA*h/cm**2", "charge per cell area passed" + since),
    }
    out["registration_shift_um"].coords["axis"] = list(_AXES)
    return out


def between_scans_placeholder(shape_yx: tuple[int, int]) -> dict[str, xr.DataArray]:
    """The variables of :func:`between_scans` for a series' first scan: NaN, and maps all False.

    Examples
    --------
    >>> sorted(between_scans_placeholder((4, 5)))[:2]
    ['areal_capacity_between_mAh_cm2', 'capacity_between_mAh']
    """
    none = np.zeros((2, 1, 1), bool)
    out = between_scans(np.zeros((1, 1, 1)), np.zeros((1, 1, 1)), none, none, voxel_size_um=1.0, register=False)
    for name, v in out.items():
        if v.dtype == bool:
            out[name] = _var(("interface", "y", "x"), np.zeros((2, *shape_yx), bool), None, v.attrs["long_name"])
        else:
            out[name] = v.copy(data=np.full(v.shape, np.nan))
    return out
