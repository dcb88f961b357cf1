"""Layers from a result store: which variables are pictures, on which physical grid.

A store says everything a viewer needs: each variable's dimensions, its dimension
coordinates (with ``units``), and for label volumes the ``flag_values`` /
``flag_meanings`` of CF conventions. A dimension is *spatial* when its coordinate is
numeric and its units are a length (parsed with pint); every numeric variable with at
least two dimensions, the last of them spatial, becomes a layer (leading dimensions such as
``frame`` or ``interface`` become napari sliders). Booleans and flagged integers become
labels, everything else an image. Data stay lazy (Dask), so a 2048^3 volume opens at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from operando.kinds import KINDS
from operando.store import open_store

LayerData = tuple[Any, dict[str, Any], str]


@cache
def _units_registry() -> Any:
    import pint

    return pint.UnitRegistry()


def length_in_um(units: str | None) -> float | None:
    """Micrometres per unit of a coordinate, or None where the units are not a length.

    Parameters
    ----------
    units : str or None
        A ``units`` attribute, e.g. ``"um"``, ``"mm"``, ``"angstrom"``.

    Returns
    -------
    float or None

    Examples
    --------
    >>> length_in_um("mm"), length_in_um("um"), length_in_um("s"), length_in_um(None)
    (1000.0, 1.0, None, None)
    """
    if not units:
        return None
    import pint

    ureg = _units_registry()
    try:
        q = ureg.Quantity(1.0, units)
    except (pint.errors.PintError, ValueError, TypeError, AttributeError):
        return None
    if q.dimensionality != ureg.meter.dimensionality:
        return None
    return float(q.to("micrometer").magnitude)


def axis_grid(coord: xr.DataArray | None) -> tuple[float, float, str] | None:
    """Origin, step and unit of a spatial dimension coordinate, or None if not spatial.

    Parameters
    ----------
    coord : (N,) DataArray or None
        The dimension coordinate with a length ``units`` attribute.

    Returns
    -------
    (origin, step, unit) or None
        In the coordinate's own unit; ``step`` is the mean spacing (napari draws a regular
        grid), 1 for a single point.

    Examples
    --------
    >>> c = xr.DataArray([0.0, 0.5, 1.0], dims="x", attrs={"units": "um"})
    >>> axis_grid(c)
    (0.0, 0.5, 'um')
    >>> axis_grid(xr.DataArray([0, 1], dims="frame")) is None
    True
    """
    if coord is None or coord.ndim != 1 or not np.issubdtype(coord.dtype, np.number):
        return None
    units = coord.attrs.get("units")
    if length_in_um(units) is None:
        return None
    values = np.asarray(coord.values, dtype=float)
    if values.size == 0 or not np.all(np.isfinite(values)):
        return None
    step = float(np.mean(np.diff(values))) if values.size > 1 else 1.0
    # 12 significant digits: the mean of float32 spacings is not the grid's step exactly
    return float(f"{values[0]:.12g}"), float(f"{step:.12g}") if step != 0 else 1.0, str(units)


def _plain(attrs: dict[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in attrs.items() if isinstance(v, str | int | float)}


def _is_labels(var: xr.DataArray) -> bool:
    return var.dtype == bool or (np.issubdtype(var.dtype, np.integer) and "flag_values" in var.attrs)


def variable_layer(ds: xr.Dataset, name: str, *, store: str = "", visible: bool = True) -> LayerData | None:
    """One napari layer tuple for a variable, or None where it is not a picture.

    Parameters
    ----------
    ds : Dataset
        An opened result store.
    name : str
        The variable.
    store : str
        The store's file name, used in the layer name.
    visible : bool
        Whether the layer starts visible.

    Returns
    -------
    (data, kwargs, layer_type) or None
        ``layer_type`` is ``"image"`` or ``"labels"``; ``kwargs`` carry ``scale``,
        ``translate``, ``units`` and ``axis_labels`` (leading non-spatial axes get step 1
        and unit ``pixel``) and the variable's attributes in ``metadata``.

    Examples
    --------
    >>> ds = xr.Dataset(
    ...     {"d_spacing": (("frame", "y", "x"), np.ones((2, 3, 4)), {"units": "angstrom"})},
    ...     coords={"y": ("y", [0.0, 0.1, 0.2], {"units": "um"}), "x": ("x", np.arange(4) * 0.1, {"units": "um"})},
    ... )
    >>> data, kw, kind = variable_layer(ds, "d_spacing")
    >>> kind, kw["scale"], kw["units"]
    ('image', (1.0, 0.1, 0.1), ('pixel', 'um', 'um'))
    """
    var = ds[name]
    if var.ndim < 2 or not (np.issubdtype(var.dtype, np.number) or var.dtype == bool):
        return None
    grids = [axis_grid(ds.coords[d]) if d in ds.coords else None for d in var.dims]
    if grids[-1] is None:
        return None
    scale = tuple(g[1] if g else 1.0 for g in grids)
    translate = tuple(g[0] if g else 0.0 for g in grids)
    units = tuple(g[2] if g else "pixel" for g in grids)
    labels = _is_labels(var)
    data = var.data
    if labels and var.dtype == bool:
        data = data.astype(np.uint8)  # napari labels are integers; lazy for Dask data
    value_units = var.attrs.get("units")
    title = f"{store}: {name}" if store else name
    if value_units and value_units != "1" and not labels:
        title += f" [{value_units}]"
    kwargs: dict[str, Any] = {
        "name": title,
        "scale": scale,
        "translate": translate,
        "units": units,
        "axis_labels": tuple(str(d) for d in var.dims),
        "visible": visible,
        "metadata": {"variable": name, "store": store, **_plain(var.attrs)},
    }
    if not labels:
        kwargs["colormap"] = "gray" if var.ndim >= 3 and len([g for g in grids if g]) >= 3 else "viridis"
    return data, kwargs, "labels" if labels else "image"


def store_layers(path: str | PathLike[str]) -> list[LayerData]:
    """Every picture of a result store as napari layer tuples (lazily, verified store).

    Parameters
    ----------
    path : str or os.PathLike
        A complete result store written by operando (its manifest is checked and its
        ``operando_kind`` must be a registered result kind).

    Returns
    -------
    list of (data, kwargs, layer_type)
        Where the kind's own variables (e.g. ``d_spacing`` of ``sxdm-maps``) are pictures,
        they start visible and the others hidden, so the first view is the paper's figure,
        not a stack of everything; otherwise every layer starts visible.

    Raises
    ------
    OperandoError
        The store is incomplete, fails its check, or lacks what its kind requires.
    """
    path = Path(path)
    ds = open_store(path)  # verified against its manifest, its kind checked
    kind_name = str(ds.attrs.get("operando_kind"))
    primary = set(KINDS[kind_name].required) if kind_name in KINDS else set()
    layers = [layer for name in ds.data_vars if (layer := variable_layer(ds, str(name), store=path.name))]
    if any(kw["metadata"]["variable"] in primary for _, kw, _ in layers):
        for _, kw, _ in layers:
            kw["visible"] = kw["metadata"]["variable"] in primary
    return layers


def _is_store(path: Path) -> bool:
    return path.is_dir() and (path / "zarr.json").is_file()


def get_reader(path: str | Sequence[str]) -> Callable[[Any], list[LayerData]] | None:
    """napari reader contribution: a reader for result stores, None for anything else.

    Parameters
    ----------
    path : str or list of str
        What the user opened.

    Returns
    -------
    callable or None
        ``reader(path) -> list of layer tuples``; napari tries other readers when None.

    Examples
    --------
    >>> get_reader("spectrum.jdx") is None
    True
    """
    paths = [path] if isinstance(path, str) else list(path)
    if not paths or not all(_is_store(Path(p)) for p in paths):
        return None
    return _read


def _read(path: str | Sequence[str]) -> list[LayerData]:
    paths = [path] if isinstance(path, str) else list(path)
    layers: list[LayerData] = []
    for p in paths:
        layers.extend(store_layers(p))  # a refused store raises with its one-line reason
    return layers
