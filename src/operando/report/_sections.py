"""What the HTML report shows of one result store: a registry of sections by kind.

Every result store says what it holds in ``attrs["operando_kind"]`` (``"sxdm-maps"``,
``"tomo-series"``, ``"mri-layers"``, ``"nmr-isotopes"``, ``"echem-timeline"``, ...). A
*section builder* registered for that kind turns the opened dataset into a
:class:`Section`: summary figures of the whole series, and for series (a ``frame``
dimension) the figures of each measurement, plus where each measurement sits on the
charging curve (:class:`FrameState`). Figures are *specs* (a name and a function that
draws it) so that the report draws, encodes and closes them one at a time.

A store whose kind has no builder gets the generic section: 1D variables over ``frame``
become summary plots against time and capacity, ``(frame, ..., y, x)`` variables one image
per measurement, ``(frame, N)`` variables line profiles. Dedicated builders can hand the
variables they do not draw to the same generic code (:func:`generic_specs`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; never ask for a display
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from numpy.typing import NDArray

from operando.kinds import KINDS, kind_of

__all__ = [
    "MAX_IMAGE_PIXELS",
    "FigureSpec",
    "FrameState",
    "Section",
    "frame_state",
    "generic_specs",
    "honest_ylim",
    "infer_kind",
    "make_section",
    "plot_by_direction",
    "register_section",
    "significant",
    "units_label",
]

MAX_IMAGE_PIXELS = 256
"""Longest side, in data points, of a map drawn in the report (larger maps are block-averaged)."""

MAX_PANELS = 4
"""Most panels drawn along an extra dimension of an image variable (``interface``, ``z``...)."""

PROFILE_MIN_POINTS = 9
"""A ``(frame, N)`` variable with at least this many points is a profile; fewer are separate series."""

MAX_SUMMARY_VARIABLES = 12


@dataclass(frozen=True)
class FigureSpec:
    """A figure to draw: ``draw()`` returns a new matplotlib figure; ``name`` is a file stem."""

    name: str
    title: str
    draw: Callable[[], Figure]


@dataclass(frozen=True)
class FrameState:
    """Where each measurement of a series sits on the charging curve.

    Attributes
    ----------
    t_mid_s : (n,) ndarray
        Mid-time of each measurement on the echem record's time axis (s); NaN if unknown.
    voltage_V : (n,) ndarray
        Voltage at that time (V), from the store; NaN if unknown.
    capacity : (n,) ndarray
        Specific capacity (mA h/g) or charge (mA h), see ``capacity_label``; NaN if unknown.
    capacity_label : str
        Axis label of ``capacity`` with its unit.
    labels : list of str
        One short label per measurement.
    """

    t_mid_s: NDArray[np.float64]
    voltage_V: NDArray[np.float64]
    capacity: NDArray[np.float64]
    capacity_label: str
    labels: list[str]
    direction: NDArray[np.float64] | None = None  # +1 charge (I > 0), -1 discharge, 0/NaN rest or unknown


@dataclass
class Section:
    """What the report shows of one store.

    Attributes
    ----------
    kind : str
        The store's ``operando_kind`` (or the inferred one).
    title : str
    source : pathlib.Path
        The store.
    summary : list of FigureSpec
        Figures of the whole store.
    frame_figures : callable, optional
        ``frame_figures(k)`` -> figure specs of measurement ``k``; None when the store has no
        measurements to step through.
    n_frames : int
    state : FrameState, optional
        Where each measurement sits on the charging curve (markers on the timeline).
    notes : list of str
        Lines shown under the title (downsampling, variables not drawn, ...).
    interactive : bool
        False for stores whose measurements have no figures (the timeline store): their
        markers are drawn but not clickable.
    """

    kind: str
    title: str
    source: Path
    summary: list[FigureSpec] = field(default_factory=list)
    frame_figures: Callable[[int], list[FigureSpec]] | None = None
    n_frames: int = 0
    state: FrameState | None = None
    notes: list[str] = field(default_factory=list)
    interactive: bool = True


SectionBuilder = Callable[[xr.Dataset, Path], Section]
_REGISTRY: dict[str, SectionBuilder] = {}


def register_section(kind: str) -> Callable[[SectionBuilder], SectionBuilder]:
    """Decorator: use the decorated function to build the section of stores of ``kind``.

    ``kind`` must be in the result-kind registry (:data:`operando.kinds.KINDS`).
    """
    if kind not in KINDS:
        raise ValueError(f"{kind!r} is not a registered result kind (operando.kinds.KINDS)")

    def deco(builder: SectionBuilder) -> SectionBuilder:
        _REGISTRY[kind] = builder
        return builder

    return deco


def infer_kind(ds: xr.Dataset) -> str:
    """The store's result kind (:func:`operando.kinds.kind_of`).

    Examples
    --------
    >>> infer_kind(xr.Dataset(attrs={"operando_kind": "mri-layers"}))
    'mri-layers'
    """
    return kind_of(ds)


def make_section(ds: xr.Dataset, source: Path) -> Section:
    """The section of an opened store: its kind's builder, else the generic one."""
    kind = infer_kind(ds)
    builder = _REGISTRY.get(kind, generic_section)
    return builder(ds, source)


# -- small helpers ----------------------------------------------------------------------
def units_label(da: xr.DataArray | xr.Variable, name: str | None = None) -> str:
    """``"long name (units)"``; ``""`` units print as ``(1)``, absent ones as ``(units not recorded)``.

    Examples
    --------
    >>> units_label(xr.DataArray([1.0], dims="frame", attrs={"units": "mm3"}), "void_volume_mm3")
    'void volume (mm³)'
    """
    attrs = da.attrs
    label = str(attrs.get("long_name") or name or getattr(da, "name", "") or "value").replace("_", " ")
    if label.endswith((" mm3", " mm2", " um", " s", " V", " mAh", " deg")):  # units already in the long name
        label = label.rsplit(" ", 1)[0]
    if "units" not in attrs:
        return f"{label} (units not recorded)"
    return f"{label} ({pretty_units(str(attrs['units']))})"


_PRETTY = {
    "": "1",
    "um": "µm",
    "micrometre": "µm",
    "micrometer": "µm",
    "angstrom": "Å",
    "mm3": "mm³",
    "mm2": "mm²",
    "um3": "µm³",
    "um2": "µm²",
    "mA h/g": "mA h g⁻¹",
    "mAh/g": "mA h g⁻¹",
    "deg": "°",
    "degree": "°",
}


_POWERS = {"-1": "⁻¹", "-2": "⁻²", "-3": "⁻³", "2": "²", "3": "³"}


def pretty_units(units: str) -> str:
    """Units as printed on axes: the stores' pint spelling made readable.

    Examples
    --------
    >>> pretty_units("um"), pretty_units(""), pretty_units("mm**2"), pretty_units("mm**3")
    ('µm', '1', 'mm²', 'mm³')
    >>> pretty_units("mA*h/cm**2"), pretty_units("mA h g**-1"), pretty_units("umol/h")
    ('mA h/cm²', 'mA h g⁻¹', 'µmol/h')
    """
    text = units.strip()
    if text in _PRETTY:
        return _PRETTY[text]
    text = re.sub(r"\*\*\s*(-?[123])\b", lambda m: _POWERS[m.group(1)], text)
    text = re.sub(r"\s*\*\s*", " ", text)
    return re.sub(r"\bu(m|mol|s|A|V|L|g)\b", r"µ\1", text)


def _floats(da: xr.DataArray) -> NDArray[np.float64]:
    return np.asarray(da.values, dtype=np.float64)


def frame_state(ds: xr.Dataset) -> FrameState | None:
    """Where each measurement sits: from the ``echem_*`` variables, else the ``time_s`` coordinate.

    Returns None when the dataset has no ``frame`` dimension.
    """
    if "frame" not in ds.dims:
        return None
    n = ds.sizes["frame"]
    nan = np.full(n, np.nan)
    if "echem_t_start_s" in ds and "echem_t_end_s" in ds:
        t_mid = 0.5 * (_floats(ds["echem_t_start_s"]) + _floats(ds["echem_t_end_s"]))
    elif "t_mid_s" in ds.variables:
        t_mid = _floats(ds["t_mid_s"])
    elif "time_s" in ds.variables:
        t_mid = _floats(ds["time_s"])
    else:
        t_mid = nan
    volt = _floats(ds["echem_voltage_V"]) if "echem_voltage_V" in ds else nan
    if "voltage_V" in ds and "echem_voltage_V" not in ds:  # the timeline store itself
        volt = _floats(ds["voltage_V"])
    cap, cap_label = nan, "specific capacity (mA h g⁻¹)"
    for name, label in (
        ("echem_specific_capacity_mAh_g", "specific capacity (mA h g⁻¹)"),
        ("specific_capacity_mAh_g", "specific capacity (mA h g⁻¹)"),
        ("echem_charge_mAh", "charge (mA h)"),
        ("charge_mAh", "charge (mA h)"),
    ):
        if name in ds and np.isfinite(_floats(ds[name])).any():
            cap, cap_label = _floats(ds[name]), label
            break
    current = next((_floats(ds[c]) for c in ("echem_current_mean_mA", "current_mean_mA") if c in ds), None)
    direction = np.sign(current) if current is not None and current.shape == (n,) else None
    labels = []
    for k in range(n):
        parts = [f"#{k}"]
        if np.isfinite(volt[k]):
            parts.append(f"{volt[k]:.3f} V")
        if np.isfinite(cap[k]):
            parts.append(f"{significant(cap[k])} {cap_label[cap_label.index('(') + 1 : -1]}")
        elif np.isfinite(t_mid[k]):
            parts.append(f"{significant(t_mid[k] / 3600)} h")
        if direction is not None and np.isfinite(direction[k]) and direction[k] != 0:
            parts.append("charge" if direction[k] > 0 else "discharge")
        labels.append(", ".join(parts))
    return FrameState(t_mid, volt, cap, cap_label, labels, direction)


def significant(value: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (never 0.0 for 0.025).

    Examples
    --------
    >>> significant(0.025), significant(146.66), significant(0.0), significant(1234.5)
    ('0.025', '147', '0', '1.23e+03')
    """
    return f"{value:.{digits}g}"


def honest_ylim(
    ax: Axes, values: NDArray[np.float64], err: NDArray[np.float64] | None = None, *, rel_floor: float = 0.02
) -> None:
    """A y range that never zooms into noise, and tick labels without a hidden offset.

    The range spans at least ``rel_floor`` of the values' magnitude and four times their
    typical uncertainty (``err``), centred on the data: a 0.03 % change of a microstrain
    stays flat instead of filling the axis. Matplotlib's offset notation (``+1.988e-4``
    in a corner) is switched off so the ticks read as the values.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    values : array
        The plotted values (NaN ignored).
    err : array, optional
        Their uncertainties (error bars), same shape.
    rel_floor : float, default 0.02
        Smallest span as a fraction of ``max(|values|)``.
    """
    v = np.asarray(values, dtype=float)
    e = np.zeros_like(v) if err is None else np.abs(np.asarray(err, dtype=float))
    ok = np.isfinite(v)
    if not ok.any():
        return
    e = np.where(np.isfinite(e), e, 0.0)
    lo, hi = float(np.min(v[ok] - e[ok])), float(np.max(v[ok] + e[ok]))
    floor = max(rel_floor * float(np.max(np.abs(v[ok]))), 4.0 * float(np.median(e[ok])) if err is not None else 0.0)
    if hi - lo < floor and floor > 0:
        centre = 0.5 * (hi + lo)
        ax.set_ylim(centre - 0.6 * floor, centre + 0.6 * floor)
    with contextlib.suppress(AttributeError):  # not a ScalarFormatter (log axes, dates)
        ax.ticklabel_format(axis="y", useOffset=False)


def plot_by_direction(
    ax: Axes,
    xv: NDArray[np.float64],
    values: NDArray[np.float64],
    direction: NDArray[np.float64] | None,
    *,
    err: NDArray[np.float64] | None = None,
    **style: object,
) -> None:
    """Measurements in time order, one line per charge or discharge segment (never joined).

    Charge (``direction > 0``) filled markers, discharge open ones, labelled once each; a
    series without a known direction is one line.
    """
    n = xv.size
    d = np.zeros(n) if direction is None else np.nan_to_num(np.asarray(direction, dtype=float))
    breaks = np.flatnonzero(np.diff(d) != 0) + 1
    seen: set[str] = set()
    for seg in np.split(np.arange(n), breaks):
        if seg.size == 0:
            continue
        sign = d[seg[0]]
        name = "charge" if sign > 0 else "discharge" if sign < 0 else ""
        kw = dict(style)
        if sign < 0:
            kw["mfc"] = "white"
        if name and name not in seen:
            kw["label"] = name
            seen.add(name)
        ax.errorbar(xv[seg], values[seg], yerr=None if err is None else err[seg], **kw)  # type: ignore[arg-type]


def x_axes(state: FrameState | None, n: int) -> list[tuple[NDArray[np.float64], str]]:
    """The x axes a series is plotted against: capacity and time when known, else the index."""
    out: list[tuple[NDArray[np.float64], str]] = []
    if state is not None and np.isfinite(state.t_mid_s).any():
        out.append((state.t_mid_s / 3600.0, "time (h)"))
    if state is not None and np.isfinite(state.capacity).any():
        out.append((state.capacity, state.capacity_label))
    return out or [(np.arange(n, dtype=np.float64), "measurement (index)")]


def downsample(image: NDArray[np.float64], max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[NDArray[np.float64], int]:
    """Block-average a 2D map so that its longest side is at most ``max_pixels``.

    Returns the map and the block size (1 when unchanged); NaNs are ignored in a block.

    Examples
    --------
    >>> img, step = downsample(np.arange(16.0).reshape(4, 4), 2)
    >>> step, img.tolist()
    (2, [[2.5, 4.5], [10.5, 12.5]])
    """
    step = int(np.ceil(max(image.shape) / max_pixels))
    if step <= 1:
        return image, 1
    ny, nx = (image.shape[0] // step) * step, (image.shape[1] // step) * step
    blocks = image[:ny, :nx].reshape(ny // step, step, nx // step, step)
    with np.errstate(invalid="ignore"):
        count = np.isfinite(blocks).sum(axis=(1, 3))
        total = np.nansum(blocks, axis=(1, 3))
        out = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out, step


def _spatial_extent(da: xr.DataArray, step: int) -> tuple[tuple[float, float, float, float], str, str]:
    """imshow extent and axis labels of the last two dims (coordinates and units when present)."""
    ydim, xdim = da.dims[-2], da.dims[-1]

    def axis(dim: str | object) -> tuple[float, float, str]:
        name = str(dim)
        size = da.sizes[name]
        if name in da.coords and da[name].dtype.kind in "iuf" and size > 1:
            c = np.asarray(da[name].values, dtype=np.float64)
            half = (c[1] - c[0]) / 2
            unit = pretty_units(str(da[name].attrs.get("units", "pixel")))
            return float(c[0] - half), float(c[-1] + half), f"{name} ({unit})"
        return -0.5, size - 0.5, f"{name} (pixel)"

    x0, x1, xl = axis(xdim)
    y0, y1, yl = axis(ydim)
    del step  # the extent is that of the full map; a downsampled map just has bigger pixels
    return (x0, x1, y0, y1), xl, yl


def _is_numeric(da: xr.DataArray) -> bool:
    return da.dtype.kind in "iufb"


# -- generic figures ----------------------------------------------------------------------
def _summary_figure(
    ds: xr.Dataset, names: Sequence[str], state: FrameState | None, title: str, *, stages: NDArray[np.float64] | None
) -> Figure:
    """One row per variable, one column per x axis (time, capacity)."""
    n = ds.sizes["frame"]
    axes_x = x_axes(state, n)
    fig, axes = plt.subplots(
        len(names), len(axes_x), figsize=(4.6 * len(axes_x) + 0.6, 2.3 * len(names) + 0.8), squeeze=False
    )
    fig.set_layout_engine("constrained")
    for row, name in zip(axes, names, strict=True):
        da = ds[name]
        for ax, (xv, xlabel) in zip(row, axes_x, strict=True):
            if stages is not None:
                shade_stages(ax, xv, stages)
            _plot_over_frames(ax, da, xv, ds)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(units_label(da, name), fontsize=8)
    fig.suptitle(title)
    return fig


def _plot_over_frames(ax: Axes, da: xr.DataArray, xv: NDArray[np.float64], ds: xr.Dataset) -> None:
    """A (frame,) or (frame, k) variable against ``xv``; ``<name>_err`` as error bars."""
    name = str(da.name)
    err = ds.get(f"{name}_err")
    values = _floats(da)
    order = np.argsort(xv, kind="stable") if np.isfinite(xv).all() else np.arange(xv.size)
    if values.ndim == 1:
        e = _floats(err) if err is not None else None
        direction = frame_state(ds).direction if "frame" in ds.dims else None  # type: ignore[union-attr]
        if direction is not None and np.unique(np.nan_to_num(direction)).size > 1:
            # time order, one line per charge / discharge segment
            plot_by_direction(ax, xv, values, direction, err=e, marker="o", ms=4, lw=1.2, capsize=2)
            ax.legend(fontsize=7, frameon=False)
        else:
            ax.errorbar(
                xv[order], values[order], yerr=None if e is None else e[order], marker="o", ms=4, lw=1.2, capsize=2
            )
        honest_ylim(ax, values, e)
        return
    other = da.dims[1]
    labels = [str(v) for v in da[other].values] if other in da.coords else [str(i) for i in range(values.shape[1])]
    for j in range(values.shape[1]):
        e = _floats(err)[order, j] if err is not None else None
        ax.errorbar(
            xv[order], values[order, j], yerr=e, marker="o", ms=3, lw=1.1, capsize=2, label=f"{other} {labels[j]}"
        )
    ax.legend(fontsize=7, frameon=False)


_STAGE_COLOURS = ("#fdebd0", "#d6eaf8", "#d5f5e3", "#f5d5e8", "#eeeeee")


def shade_stages(ax: Axes, xv: NDArray[np.float64], stages: NDArray[np.float64]) -> None:
    """Shade runs of equal stage along x (between midpoints of neighbouring measurements)."""
    ok = np.isfinite(xv) & np.isfinite(stages)
    if not ok.any():
        return
    x, s = xv[ok], stages[ok].astype(int)
    order = np.argsort(x, kind="stable")
    x, s = x[order], s[order]
    edges = np.concatenate([[x[0]], 0.5 * (x[1:] + x[:-1]), [x[-1]]])
    seen: set[int] = set()
    start = 0
    for i in range(1, x.size + 1):
        if i == x.size or s[i] != s[start]:
            stage = int(s[start])
            ax.axvspan(
                edges[start],
                edges[i],
                color=_STAGE_COLOURS[(stage - 1) % len(_STAGE_COLOURS)],
                lw=0,
                zorder=0,
                label=None if stage in seen else f"stage {stage}",
            )
            seen.add(stage)
            start = i


def _image_panels(da: xr.DataArray, k: int) -> tuple[list[NDArray[np.float64]], list[str], int]:
    """The 2D maps of frame ``k`` of a (frame, ..., y, x) variable, at most MAX_PANELS of them."""
    one = da.isel(frame=k)
    extra = one.dims[:-2]
    if not extra:
        img, step = downsample(_floats(one))
        return [img], [""], step
    # one panel per index of the first extra dim (up to MAX_PANELS); further dims: the middle slice
    for dim in extra[1:]:
        one = one.isel({dim: one.sizes[dim] // 2})
    first = extra[0]
    size = one.sizes[first]
    if size <= MAX_PANELS:
        picks = list(range(size))
    else:
        picks = sorted({round(i) for i in np.linspace(0, size - 1, MAX_PANELS)})
    coords = one[first].values if first in one.coords else np.arange(size)
    imgs, titles, step = [], [], 1
    for i in picks:
        img, step = downsample(_floats(one.isel({first: i})))
        imgs.append(img)
        titles.append(f"{first} {coords[i]}")
    return imgs, titles, step


def image_figure(da: xr.DataArray, k: int, *, limits: tuple[float, float] | None, label: str) -> Figure:
    """Maps of one measurement of an image variable, one shared colour bar with units."""
    imgs, titles, step = _image_panels(da, k)
    extent, xl, yl = _spatial_extent(da, step)
    fig, axes = plt.subplots(1, len(imgs), figsize=(3.2 * len(imgs) + 1.0, 3.3), squeeze=False)
    fig.set_layout_engine("constrained")
    boolean = da.dtype.kind == "b"
    cmap = ListedColormap(["#f2f2f2", "#1f4e79"]) if boolean else plt.get_cmap("viridis").with_extremes(bad="#d9d9d9")
    lo, hi = (0.0, 1.0) if boolean else (limits if limits is not None else (None, None))
    im = None
    for ax, img, t in zip(axes[0], imgs, titles, strict=True):
        im = ax.imshow(img, origin="lower", extent=extent, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(t, fontsize=8)
        ax.set_xlabel(xl)
    axes[0][0].set_ylabel(yl)
    assert im is not None
    cb = fig.colorbar(im, ax=list(axes[0]), shrink=0.85)
    if boolean:
        cb.set_ticks([0.25, 0.75], labels=["no (0)", "yes (1)"])
        cb.set_label(f"{str(da.name).replace('_', ' ')} (boolean)")
    else:
        cb.set_label(units_label(da, str(da.name)))
    fig.suptitle(label, fontsize=10)
    return fig


def profile_figure(da: xr.DataArray, k: int | None, *, label: str) -> Figure:
    """A (frame, N) profile: every measurement faint and measurement ``k`` bold (None: all coloured)."""
    dim = str(da.dims[1])
    values = _floats(da)
    if dim in da.coords and da[dim].dtype.kind in "iuf":
        xv = _floats(da[dim])
        xlabel = f"{dim} ({pretty_units(str(da[dim].attrs.get('units', 'index')))})"
    else:
        xv = np.arange(values.shape[1], dtype=np.float64)
        xlabel = f"{dim} (index)"
    fig, ax = plt.subplots(figsize=(5.6, 3.3), layout="constrained")
    n = values.shape[0]
    colours = plt.get_cmap("viridis")(np.linspace(0, 1, max(n, 2)))
    for j in range(n):
        if k is None:
            ax.plot(xv, values[j], color=colours[j], lw=1.0)
        elif j != k:
            ax.plot(xv, values[j], color="0.8", lw=0.8)
    if k is not None:
        ax.plot(xv, values[k], color="#c0392b", lw=1.6, label=f"measurement {k}")
        ax.legend(fontsize=7, frameon=False)
    else:
        sm = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(0, max(n - 1, 1)))
        fig.colorbar(sm, ax=ax).set_label("measurement (index)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(units_label(da, str(da.name)))
    ax.set_title(label, fontsize=10)
    return fig


def _classify(ds: xr.Dataset, names: Iterable[str]) -> tuple[list[str], list[str], list[str], list[str]]:
    """Split frame variables into (1D / few-series), images, profiles and the rest."""
    series, images, profiles, rest = [], [], [], []
    for name in names:
        da = ds[name]
        if not _is_numeric(da) or name.startswith("echem_") or name.endswith("_err"):
            continue
        if "frame" not in da.dims or da.dims[0] != "frame":
            rest.append(name)
        elif da.ndim == 1 and da.dtype.kind != "b":
            series.append(name)
        elif da.ndim >= 3 and da.dims[-2:] == ("y", "x"):
            images.append(name)
        elif da.ndim == 2 and da.shape[1] < PROFILE_MIN_POINTS and da.dtype.kind != "b":
            series.append(name)
        elif da.ndim == 2:
            profiles.append(name)
        else:
            rest.append(name)
    return series, images, profiles, rest


def _robust_limits(da: xr.DataArray) -> tuple[float, float] | None:
    """1st-99th percentile over all measurements (one colour scale for the whole series)."""
    if da.dtype.kind == "b":
        return None
    sample = da
    for dim in da.dims[1:-2]:  # the slices that are drawn, not the whole volume
        sample = sample.isel({dim: slice(None, None, max(1, da.sizes[dim] // MAX_PANELS))})
    step = max(1, int(np.ceil(max(da.shape[-2:]) / MAX_IMAGE_PIXELS)))
    v = _floats(sample[..., ::step, ::step])
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    lo, hi = np.percentile(v, (1.0, 99.0))
    return (float(lo), float(hi)) if hi > lo else (float(lo) - 0.5, float(lo) + 0.5)


@dataclass
class GenericParts:
    """Generic figures of some variables of a series: summary specs and a per-frame function."""

    summary: list[FigureSpec]
    per_frame: Callable[[int], list[FigureSpec]] | None
    notes: list[str]


def generic_specs(
    ds: xr.Dataset, names: Iterable[str], state: FrameState | None, *, prefix: str = "", title: str = ""
) -> GenericParts:
    """Generic figures of the variables ``names`` of a series (see the module docstring)."""
    names = list(names)
    notes: list[str] = []
    if "frame" not in ds.dims:
        return _generic_static(ds, names)
    series, images, profiles, rest = _classify(ds, names)
    if len(series) > MAX_SUMMARY_VARIABLES:
        notes.append(
            f"{len(series) - MAX_SUMMARY_VARIABLES} more series variables not drawn: " + ", ".join(series[12:])
        )
        series = series[:MAX_SUMMARY_VARIABLES]
    summary: list[FigureSpec] = []
    stages = _floats(ds["stage"]) if "stage" in ds and ds["stage"].dims == ("frame",) else None
    if series:
        summary.append(
            FigureSpec(
                f"{prefix}series",
                f"{title or 'quantities'} along the experiment",
                lambda: _summary_figure(
                    ds, series, state, f"{title or 'quantities'} along the experiment", stages=stages
                ),
            )
        )
    for name in profiles:
        summary.append(
            FigureSpec(
                f"{prefix}{name}_all",
                f"{name}, every measurement",
                partial(profile_figure, ds[name], None, label=f"{name.replace('_', ' ')}, every measurement"),
            )
        )
    if rest:
        notes.append("not drawn (no frame-first layout): " + ", ".join(rest))
    limits = {name: _robust_limits(ds[name]) for name in images}
    for name in images:
        h, w = ds[name].shape[-2:]
        step = int(np.ceil(max(h, w) / MAX_IMAGE_PIXELS))
        if step > 1:
            notes.append(f"{name}: {h}×{w} maps shown block-averaged {step}×{step} (≤ {MAX_IMAGE_PIXELS} px a side)")
    labels = state.labels if state is not None else [f"#{k}" for k in range(ds.sizes["frame"])]

    def per_frame(k: int) -> list[FigureSpec]:
        specs = [
            FigureSpec(
                f"{prefix}{name}_frame{k:03d}",
                f"{name}, {labels[k]}",
                partial(image_figure, ds[name], k, limits=limits[name], label=f"{name.replace('_', ' ')}, {labels[k]}"),
            )
            for name in images
        ]
        specs += [
            FigureSpec(
                f"{prefix}{name}_frame{k:03d}",
                f"{name}, {labels[k]}",
                partial(profile_figure, ds[name], k, label=f"{name.replace('_', ' ')}, {labels[k]}"),
            )
            for name in profiles
        ]
        return specs

    return GenericParts(summary, per_frame if (images or profiles) else None, notes)


def _generic_static(ds: xr.Dataset, names: list[str]) -> GenericParts:
    """A store without measurements: 1D variables as line plots, (y, x) maps and (z, y, x) slices as images."""
    summary: list[FigureSpec] = []
    skipped = []
    for name in names:
        da = ds[name]
        if not _is_numeric(da) or da.ndim == 0:
            continue
        if da.ndim == 1:
            summary.append(FigureSpec(name, name, partial(_line_figure, da)))
        elif da.ndim in (2, 3) and da.dims[-2:] == ("y", "x"):  # a map, or slices through a volume
            one = da.expand_dims("frame")
            label = str(name) if da.ndim == 2 else f"{name}: {MAX_PANELS} slices along {da.dims[0]}"
            summary.append(
                FigureSpec(name, label, partial(image_figure, one, 0, limits=_robust_limits(one), label=label))
            )
        else:
            skipped.append(f"{name} {tuple(str(d) for d in da.dims)}")
    notes = ["not drawn: " + ", ".join(skipped)] if skipped else []
    return GenericParts(summary, None, notes)


def _line_figure(da: xr.DataArray) -> Figure:
    dim = str(da.dims[0])
    xv = _floats(da[dim]) if dim in da.coords and da[dim].dtype.kind in "iuf" else np.arange(da.size, dtype=float)
    unit = pretty_units(str(da[dim].attrs.get("units", "index"))) if dim in da.coords else "index"
    fig, ax = plt.subplots(figsize=(5.6, 3.2), layout="constrained")
    ax.plot(xv, _floats(da), lw=1.0)
    honest_ylim(ax, _floats(da))
    if dim == "ppm":
        ax.invert_xaxis()  # NMR convention
    ax.set_xlabel(f"{dim} ({unit})")
    ax.set_ylabel(units_label(da, str(da.name)))
    ax.set_title(str(da.name).replace("_", " "), fontsize=10)
    return fig


def _title(ds: xr.Dataset, source: Path, kind: str) -> str:
    return f"{kind}: {source.name}"


def generic_section(ds: xr.Dataset, source: Path) -> Section:
    """The section of a store whose kind has no dedicated builder."""
    kind = infer_kind(ds)
    state = frame_state(ds)
    parts = generic_specs(ds, [str(v) for v in ds.data_vars], state, title=kind)
    notes = [f"no dedicated section for kind {kind!r}: generic view", *parts.notes]
    return Section(
        kind=kind,
        title=_title(ds, source, kind),
        source=source,
        summary=parts.summary,
        frame_figures=parts.per_frame,
        n_frames=ds.sizes.get("frame", 0),
        state=state,
        notes=notes,
    )
