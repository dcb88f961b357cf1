"""Figures of SXDM K-maps and of K-map series along the charge (as in the paper).

Every function takes the maps of :func:`operando.sxdm.process_kmap` (dims ``(y, x)``) or
a series of them (dims ``(frame, y, x)``, e.g. from ``operando sxdm series``) and returns
a :class:`matplotlib.figure.Figure`; save it with :func:`operando.report.save_figure`.
Maps carrying ``echem_voltage_V`` / ``echem_x_li`` are labelled with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import cast

import matplotlib

matplotlib.use("Agg")  # figures are files; never ask for a display
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.colors import Normalize, hsv_to_rgb
from matplotlib.figure import Figure
from matplotlib.projections.polar import PolarAxes
from numpy.typing import NDArray

from operando.errors import ParameterError
from operando.report._sections import frame_state, honest_ylim, plot_by_direction
from operando.report._timeline import save_figure

__all__ = [
    "charge_curves",
    "frame_labels",
    "misorientation_population",
    "misorientation_rgb",
    "plot_charge_curves",
    "plot_dspacing_histograms",
    "plot_dspacing_maps",
    "plot_intensity_maps",
    "plot_misorientation",
    "plot_misorientation_population",
    "plot_point_qspace",
    "plot_pole_figure",
    "plot_width_maps",
    "project_qspace",
    "save_sxdm_figures",
    "select_frames",
]

_MASKED_RGB = (0.85, 0.85, 0.85)


def _as_series(maps: xr.Dataset) -> xr.Dataset:
    """A single map (y, x) becomes a series of one (frame, y, x)."""
    if "y" not in maps.dims or "x" not in maps.dims:
        raise ParameterError(f"SXDM maps need dims y and x, got {tuple(maps.dims)}")
    if "frame" not in maps.dims:
        maps = maps.expand_dims("frame")
    return maps


def _values(maps: xr.Dataset, name: str) -> NDArray[np.float64]:
    if name not in maps:
        raise ParameterError(f"the maps have no variable {name!r}")
    return np.asarray(maps[name].values, dtype=np.float64)


def _axis_label(maps: xr.Dataset, dim: str) -> str:
    units = str(maps[dim].attrs.get("units", "point")) if dim in maps.coords else "point"
    return f"{dim} ({'µm' if units in ('um', 'micrometre', 'micrometer') else units})"


def _extent(maps: xr.Dataset) -> tuple[float, float, float, float]:
    """imshow extent so that pixel centres sit on the x and y coordinates."""

    def edges(c: NDArray[np.float64]) -> tuple[float, float]:
        step = float(c[1] - c[0]) if c.size > 1 else 1.0
        return float(c[0] - step / 2), float(c[-1] + step / 2)

    def coord(dim: str) -> NDArray[np.float64]:
        if dim in maps.coords:
            return np.asarray(maps[dim].values, dtype=np.float64)
        return np.arange(maps.sizes[dim], dtype=np.float64)

    return (*edges(coord("x")), *edges(coord("y")))


def frame_labels(maps: xr.Dataset) -> list[str]:
    """One label per map: voltage and x(Li) when the maps carry them, else ``map i``.

    Parameters
    ----------
    maps : xarray.Dataset
        Dims ``(y, x)`` or ``(frame, y, x)``.

    Returns
    -------
    list of str
        One entry per frame.
    """
    series = _as_series(maps)
    n = series.sizes["frame"]
    volt = _values(series, "echem_voltage_V").reshape(n) if "echem_voltage_V" in series else np.full(n, np.nan)
    x_li = _values(series, "echem_x_li").reshape(n) if "echem_x_li" in series else np.full(n, np.nan)
    labels = []
    for i in range(n):
        parts = []
        if np.isfinite(volt[i]):
            parts.append(f"{volt[i]:.3f} V")
        if np.isfinite(x_li[i]):
            parts.append(f"x(Li) = {x_li[i]:.2f}")
        labels.append(", ".join(parts) if parts else f"map {i}")
    return labels


def _map_axes(n: int, *, extra: int = 0, size: float = 3.0) -> tuple[Figure, list[Axes]]:
    fig, axes = plt.subplots(1, n + extra, figsize=(size * (n + extra) + 1.2, size + 0.6), squeeze=False)
    fig.set_layout_engine("constrained")
    return fig, list(axes[0])


def plot_dspacing_maps(
    maps: xr.Dataset,
    *,
    relative: bool = False,
    variable: str = "d_spacing",
    percentiles: tuple[float, float] = (1.0, 99.0),
    limits: tuple[float, float] | None = None,
    title: str | None = None,
) -> Figure:
    """d-spacing maps of a series in one row.

    Parameters
    ----------
    maps : xarray.Dataset
        Dims ``(y, x)`` or ``(frame, y, x)`` with ``variable`` in Å (NaN where masked).
    relative : bool, default False
        False: one colour scale shared by all maps (one colour bar, Å). True: each map
        shows ``d - mean(d)`` of that map (10⁻³ Å) on its own symmetric scale with its own
        colour bar, which shows the heterogeneity inside each map.
    variable : str, default "d_spacing"
        Map to draw (e.g. ``lattice_parameter``).
    percentiles : (float, float)
        Colour limits are these percentiles of the finite values (robust to outliers).
    limits : (float, float), optional
        Colour limits (Å) of the shared scale instead of the percentiles, e.g. those of a
        whole series when drawing one map of it at a time (ignored when ``relative``).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One image axes per map (``frame`` order), plus the colour bar axes.
    """
    series = _as_series(maps)
    data = _values(series, variable)
    n = data.shape[0]
    labels = frame_labels(series)
    extent = _extent(series)
    fig, axes = _map_axes(n)
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        raise ParameterError(f"{variable} has no finite value to draw")
    cmap = plt.get_cmap("viridis" if not relative else "RdBu_r").with_extremes(bad=_MASKED_RGB)
    images = []
    if not relative:
        lo, hi = np.percentile(finite, percentiles) if limits is None else limits
        norm = Normalize(vmin=float(lo), vmax=float(hi))  # one norm object: the scale is shared
        for ax, img, label in zip(axes, data, labels, strict=True):
            images.append(ax.imshow(img, origin="lower", extent=extent, cmap=cmap, norm=norm))
            ok = np.isfinite(img)
            mean = f"\n⟨{'a' if variable == 'lattice_parameter' else 'd'}⟩ = {img[ok].mean():.5f} Å" if ok.any() else ""
            ax.set_title(label + mean, fontsize=9)  # the paper's mean d above each map
        cb = fig.colorbar(images[0], ax=axes, shrink=0.85)
        cb.set_label(f"{variable.replace('_', ' ')} (Å)")
    else:
        for ax, img, label in zip(axes, data, labels, strict=True):
            ok = np.isfinite(img)
            rel = (img - (img[ok].mean() if ok.any() else 0.0)) * 1e3
            span = float(np.percentile(np.abs(rel[ok]), percentiles[1])) if ok.any() else 1.0
            span = span if span > 0 else 1.0
            im = ax.imshow(rel, origin="lower", extent=extent, cmap=cmap, vmin=-span, vmax=span)
            images.append(im)
            cb = fig.colorbar(im, ax=ax, shrink=0.85)
            cb.set_label(r"$d - \langle d \rangle$ ($10^{-3}$ Å)")
            ax.set_title(label, fontsize=9)
    for k, ax in enumerate(axes):
        ax.set_xlabel(_axis_label(series, "x"))
        if k == 0:
            ax.set_ylabel(_axis_label(series, "y"))
    fig.suptitle(title or ("d-spacing, per-map relative scale" if relative else "d-spacing, shared scale"))
    return fig


def plot_intensity_maps(maps: xr.Dataset, *, outline: int | None = 0, title: str | None = None) -> Figure:
    """Integrated diffracted intensity of each map on one scale, the crystal outline of one
    chosen map drawn over all of them (the paper's Figs. 2a and 4).

    Parameters
    ----------
    maps : xarray.Dataset
        Dims ``(y, x)`` or ``(frame, y, x)`` with ``intensity`` (counts) and ``mask``.
    outline : int or None, default 0
        Frame whose crystal mask is outlined on every map (on a registered series the
        crystal should fill it in each); None draws none.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    series = _as_series(maps)
    data = _values(series, "intensity")
    n = data.shape[0]
    if outline is not None and not -n <= outline < n:
        raise ParameterError(f"outline must index one of the {n} maps, got {outline}")
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        raise ParameterError("intensity has no finite value to draw")
    extent = _extent(series)
    fig, axes = _map_axes(n)
    norm = Normalize(vmin=0.0, vmax=float(np.percentile(finite, 99.5)) or 1.0)
    cmap = plt.get_cmap("magma").with_extremes(bad=_MASKED_RGB)
    shape = None
    if outline is not None and "mask" in series:
        shape = np.asarray(series["mask"].values[outline], dtype=np.float64)
    x0, x1, y0, y1 = extent
    ny, nx = data.shape[1:]
    xs = x0 + (np.arange(nx) + 0.5) * (x1 - x0) / nx
    ys = y0 + (np.arange(ny) + 0.5) * (y1 - y0) / ny
    image = None
    for ax, img, label in zip(axes, data, frame_labels(series), strict=True):
        image = ax.imshow(img, origin="lower", extent=extent, cmap=cmap, norm=norm)
        if shape is not None and shape.any():
            ax.contour(xs, ys, shape, levels=[0.5], colors="cyan", linewidths=1.0)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel(_axis_label(series, "x"))
    axes[0].set_ylabel(_axis_label(series, "y"))
    assert image is not None
    fig.colorbar(image, ax=axes, shrink=0.85).set_label("integrated intensity (counts)")
    what = "" if outline is None else f"; outline: crystal of map {outline % n}"
    fig.suptitle(title or f"integrated diffracted intensity{what}")
    return fig


def plot_width_maps(maps: xr.Dataset, *, variable: str = "width_radial", title: str | None = None) -> Figure:
    """Peak-width (microstrain) maps of a series on one scale: the radial width of the
    Bragg peak (std of |Q|, from ``sxdm process --widths``) as a relative ``σ|Q| / |Q|``.

    Parameters
    ----------
    maps : xarray.Dataset
        Dims ``(y, x)`` or ``(frame, y, x)`` with ``variable`` (1/Å) and ``qx, qy, qz``.
    variable : str
        ``width_radial`` (default), ``width_rocking``, ``width_major``, ...
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    series = _as_series(maps)
    if variable not in series:
        raise ParameterError(f"no {variable} in the maps: process them with --widths")
    width = _values(series, variable)
    q = np.sqrt(sum(_values(series, k) ** 2 for k in ("qx", "qy", "qz")))
    rel = width / np.where(q > 0, q, np.nan) * 1e3
    finite = rel[np.isfinite(rel)]
    if finite.size == 0:
        raise ParameterError(f"{variable} has no finite value to draw")
    lo, hi = np.percentile(finite, (1.0, 99.0))
    norm = Normalize(vmin=float(lo), vmax=float(hi))
    cmap = plt.get_cmap("cividis").with_extremes(bad=_MASKED_RGB)
    fig, axes = _map_axes(rel.shape[0])
    extent = _extent(series)
    image = None
    for ax, img, label in zip(axes, rel, frame_labels(series), strict=True):
        image = ax.imshow(img, origin="lower", extent=extent, cmap=cmap, norm=norm)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel(_axis_label(series, "x"))
    axes[0].set_ylabel(_axis_label(series, "y"))
    assert image is not None
    fig.colorbar(image, ax=axes, shrink=0.85).set_label(f"{variable.replace('_', ' ')} / |Q| ($10^{{-3}}$)")
    fig.suptitle(title or "peak width (microstrain), shared scale")
    return fig


def misorientation_rgb(
    altitude_deg: NDArray[np.float64], azimuth_deg: NDArray[np.float64], max_tilt_deg: float
) -> NDArray[np.float64]:
    """HSV colour-wheel encoding of local tilts.

    Parameters
    ----------
    altitude_deg, azimuth_deg : (...) ndarray
        Tilt altitude and azimuth in degrees; NaN where masked.
    max_tilt_deg : float
        Altitude mapped to full saturation (larger ones are clipped).

    Returns
    -------
    (..., 3) ndarray
        RGB in [0, 1]: hue = azimuth / 360°, saturation = altitude / ``max_tilt_deg``,
        value 1; masked (non-finite) points are light grey.
    """
    if not max_tilt_deg > 0:
        raise ParameterError(f"max_tilt_deg must be positive, got {max_tilt_deg}")
    alt = np.asarray(altitude_deg, dtype=np.float64)
    az = np.asarray(azimuth_deg, dtype=np.float64)
    ok = np.isfinite(alt) & np.isfinite(az)
    hsv = np.stack(
        [
            np.where(ok, np.mod(az, 360.0) / 360.0, 0.0),
            np.where(ok, np.clip(alt / max_tilt_deg, 0.0, 1.0), 0.0),
            np.ones(alt.shape),
        ],
        axis=-1,
    )
    rgb = hsv_to_rgb(hsv)
    rgb[~ok] = _MASKED_RGB
    return np.asarray(rgb, dtype=np.float64)


def _max_tilt(series: xr.Dataset, max_tilt_deg: float | None) -> float:
    if max_tilt_deg is not None:
        return float(max_tilt_deg)
    alt = _values(series, "tilt_altitude")
    alt = alt[np.isfinite(alt)]
    top = float(np.percentile(alt, 99.0)) if alt.size else 0.0
    return top if top > 0 else 1.0


def _colour_wheel(ax: PolarAxes, max_tilt_deg: float) -> None:
    """The HSV legend on polar axes: angle = azimuth, radius = altitude (deg)."""
    theta = np.linspace(0.0, 2 * np.pi, 181)
    r = np.linspace(0.0, max_tilt_deg, 41)
    tt, rr = np.meshgrid(theta[:-1] + np.diff(theta) / 2, r[:-1] + np.diff(r) / 2)
    rgb = misorientation_rgb(rr, np.degrees(tt), max_tilt_deg)
    ax.pcolormesh(theta, r, rgb, shading="flat", rasterized=True)  # RGB cells; 7200 of them as SVG paths were 1.4 MB
    ax.set_rmax(max_tilt_deg)
    ax.set_yticks([max_tilt_deg / 2, max_tilt_deg])
    ax.set_yticklabels([f"{max_tilt_deg / 2:.3g}°", f"{max_tilt_deg:.3g}°"], fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title("tilt azimuth (angle)\nand altitude (radius)", fontsize=8)


def plot_misorientation(maps: xr.Dataset, *, max_tilt_deg: float | None = None, title: str | None = None) -> Figure:
    """Misorientation maps in an HSV colour wheel, with the wheel as the legend.

    Parameters
    ----------
    maps : xarray.Dataset
        Dims ``(y, x)`` or ``(frame, y, x)`` with ``tilt_altitude`` and ``tilt_azimuth``
        (deg, NaN where masked), as from :func:`operando.sxdm.strain_tilt_maps`.
    max_tilt_deg : float, optional
        Altitude of full saturation, the same for every map; default the 99th
        percentile of all altitudes.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One RGB image axes per map and a last polar axes with the colour wheel (its
        label is ``"colour wheel"``).
    """
    series = _as_series(maps)
    alt = _values(series, "tilt_altitude")
    az = _values(series, "tilt_azimuth")
    top = _max_tilt(series, max_tilt_deg)
    n = alt.shape[0]
    fig, axes = _map_axes(n, extra=1)
    extent = _extent(series)
    for k, (ax, label) in enumerate(zip(axes[:n], frame_labels(series), strict=True)):
        ax.imshow(misorientation_rgb(alt[k], az[k], top), origin="lower", extent=extent, interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel(_axis_label(series, "x"))
        if k == 0:
            ax.set_ylabel(_axis_label(series, "y"))
    axes[-1].remove()
    wheel = cast(PolarAxes, fig.add_subplot(1, n + 1, n + 1, projection="polar", label="colour wheel"))
    _colour_wheel(wheel, top)
    fig.suptitle(title or "misorientation (tilt of local Q from the mean Q)")
    return fig


def plot_pole_figure(
    maps: xr.Dataset, *, max_tilt_deg: float | None = None, variable: str = "d_spacing", title: str | None = None
) -> Figure:
    """Pole figure of the local Q directions: azimuth (angle) against altitude (radius).

    Parameters
    ----------
    maps : xarray.Dataset
        Dims ``(y, x)`` or ``(frame, y, x)`` with ``tilt_altitude``, ``tilt_azimuth``
        (deg) and ``variable``; masked (NaN) points are left out.
    max_tilt_deg : float, optional
        Radial limit (deg); default the largest altitude.
    variable : str, default "d_spacing"
        Colours the points (Å), on one scale shared by all maps.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One polar axes per map and one colour bar.
    """
    series = _as_series(maps)
    alt = _values(series, "tilt_altitude")
    az = _values(series, "tilt_azimuth")
    colour = _values(series, variable)
    ok = np.isfinite(alt) & np.isfinite(az) & np.isfinite(colour)
    if not ok.any():
        raise ParameterError("no unmasked point to draw")
    rmax = float(max_tilt_deg) if max_tilt_deg is not None else float(alt[ok].max()) * 1.05 or 1.0
    lo, hi = np.percentile(colour[ok], (1.0, 99.0))
    norm = Normalize(vmin=float(lo), vmax=float(hi))  # shared by every map
    n = alt.shape[0]
    fig = plt.figure(figsize=(3.2 * n + 1.2, 3.8), layout="constrained")
    axes = [cast(PolarAxes, fig.add_subplot(1, n, k + 1, projection="polar")) for k in range(n)]
    scatters = []
    for k, (ax, label) in enumerate(zip(axes, frame_labels(series), strict=True)):
        sel = ok[k]
        scatters.append(
            ax.scatter(np.radians(az[k][sel]), alt[k][sel], c=colour[k][sel], s=6, cmap="viridis", norm=norm, lw=0)
        )
        ax.set_rmax(rmax)
        ax.set_rlabel_position(22.5)
        ax.tick_params(labelsize=7)
        ax.set_title(f"{label}\nradius: tilt altitude (deg)", fontsize=8)
    cb = fig.colorbar(scatters[-1], ax=axes, shrink=0.8)
    cb.set_label(f"{variable.replace('_', ' ')} (Å)")
    fig.suptitle(title or "pole figure of local Q (angle: tilt azimuth)")
    return fig


def plot_dspacing_histograms(
    maps: xr.Dataset,
    *,
    variable: str = "d_spacing",
    bins: int = 60,
    offset: float = 1.1,
    title: str | None = None,
) -> Figure:
    """Histograms of the d-spacing of each map, stacked along the charge.

    Parameters
    ----------
    maps : xarray.Dataset
        Dims ``(y, x)`` or ``(frame, y, x)`` with ``variable`` in Å (NaN where masked).
    variable : str, default "d_spacing"
        Map to histogram.
    bins : int, default 60
        Bins over the common range of all maps.
    offset : float, default 1.1
        Vertical offset between curves, in units of each curve's peak (curves are
        normalised to a peak of 1).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; curve ``k`` is map ``k``, labelled with its voltage / x(Li) (legend).
    """
    series = _as_series(maps)
    data = _values(series, variable)
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        raise ParameterError(f"{variable} has no finite value to draw")
    edges = np.histogram_bin_edges(finite, bins=bins)
    centres = 0.5 * (edges[1:] + edges[:-1])
    n = data.shape[0]
    colours = plt.get_cmap("plasma")(np.linspace(0.0, 0.85, max(n, 2)))
    fig, ax = plt.subplots(figsize=(7.0, 1.6 + 0.7 * n), layout="constrained")
    for k, label in enumerate(frame_labels(series)):
        values = data[k][np.isfinite(data[k])]
        counts, _ = np.histogram(values, bins=edges)
        curve = counts / counts.max() if counts.max() > 0 else counts.astype(float)
        base = k * offset
        ax.fill_between(centres, base, base + curve, step="mid", color=colours[k], alpha=0.35, lw=0)
        ax.step(centres, base + curve, where="mid", color=colours[k], lw=1.2, label=label)
    ax.set_xlabel(f"{variable.replace('_', ' ')} (Å)")
    ax.set_ylabel("points (normalised), offset per map")
    ax.set_yticks([])
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False, reverse=True)
    ax.set_title(title or "d-spacing distribution along the charge")
    return fig


def select_frames(maps: xr.Dataset, frames: Sequence[int]) -> xr.Dataset:
    """The chosen maps of a series, in the order given (negative indices count from the end).

    Examples
    --------
    >>> ds = xr.Dataset({"d_spacing": (("frame", "y", "x"), np.arange(3.0).reshape(3, 1, 1))})
    >>> select_frames(ds, [2, 0])["d_spacing"].values.ravel().tolist()
    [2.0, 0.0]
    """
    series = _as_series(maps)
    n = series.sizes["frame"]
    chosen = [int(k) for k in frames]
    if not chosen:
        raise ParameterError("no frame chosen")
    bad = [k for k in chosen if not -n <= k < n]
    if bad:
        raise ParameterError(f"frames {bad} are not among the {n} maps (0 to {n - 1})")
    return series.isel(frame=[k % n for k in chosen])


def save_sxdm_figures(
    maps: xr.Dataset,
    out_dir: str | PathLike[str],
    *,
    max_tilt_deg: float | None = None,
    frames: Sequence[int] | None = None,
) -> dict[str, list[Path]]:
    """Draw and save the SXDM figure set of one map or a series (PNG + SVG each).

    Parameters
    ----------
    maps : xarray.Dataset
        Maps with dims ``(y, x)`` or ``(frame, y, x)``, loaded.
    out_dir : str or os.PathLike
        Folder; created if needed.
    max_tilt_deg : float, optional
        Tilt of full colour saturation; default the 99th percentile (of the chosen
        ``frames`` for their figure).
    frames : sequence of int, optional
        Maps whose tilt maps are drawn side by side on one colour wheel
        (``misorientation_frames``), e.g. the paper's Fig. 5 selection.

    Returns
    -------
    dict of str to list of pathlib.Path
        ``intensity``, ``d_spacing_shared``, ``d_spacing_relative``, ``misorientation``,
        ``pole_figure``, ``d_spacing_histograms``; ``charge_curves`` for a series
        (normalised intensity and phase fraction against charge); ``width_radial``
        where the maps carry widths; ``misorientation_frames`` when ``frames`` is given
        -> the files written.
    """
    out = Path(out_dir)
    chosen = select_frames(maps, frames) if frames is not None else None  # checked before drawing
    drawn = {
        "intensity": plot_intensity_maps(maps),
        "d_spacing_shared": plot_dspacing_maps(maps),
        "d_spacing_relative": plot_dspacing_maps(maps, relative=True),
        "misorientation": plot_misorientation(maps, max_tilt_deg=max_tilt_deg),
        "pole_figure": plot_pole_figure(maps, max_tilt_deg=max_tilt_deg),
        "d_spacing_histograms": plot_dspacing_histograms(maps),
    }
    if "frame" in maps.dims and "intensity" in maps:
        drawn["charge_curves"] = plot_charge_curves(maps)
    if "width_radial" in maps:
        drawn["width_radial"] = plot_width_maps(maps)
    if chosen is not None:
        picked = ", ".join(str(int(k) % maps.sizes.get("frame", 1)) for k in frames or ())
        drawn["misorientation_frames"] = plot_misorientation(
            chosen, max_tilt_deg=max_tilt_deg, title=f"misorientation of maps {picked}, one colour wheel"
        )
    return {name: save_figure(fig, out / name) for name, fig in drawn.items()}


# -- along the charge: normalised intensity and phase fraction (the paper's Supp. Fig. 10) --
def charge_curves(maps: xr.Dataset) -> xr.Dataset:
    """Per map of a series: normalised integrated intensity and mean phase fraction.

    Parameters
    ----------
    maps : xarray.Dataset
        Dims ``(frame, y, x)`` (or ``(y, x)``) with ``intensity`` (counts, monitor-normalised
        across a series); ``phase_fraction`` (share of the larger-d phase, from the two-phase
        decomposition) when present; ``echem_*`` state variables when placed on a record.

    Returns
    -------
    xarray.Dataset
        Dim ``frame``: ``intensity_total`` (counts summed over every scan point, finite
        values), ``intensity_norm`` (``intensity_total`` over that of the first map with a
        nonzero total; 1 there), ``phase_fraction`` (intensity-weighted mean of
        ``phase_fraction`` over the points where it is finite, i.e. the larger-d phase's
        share of the diffracted intensity; NaN when the maps were not decomposed),
        ``d_phase1`` and ``d_phase2`` (Å, medians over the map: which two phases the
        fraction is of, since they differ from one plateau to the next),
        ``capacity`` (specific capacity in mA h/g, else charge in mA h, else NaN; its label
        in ``attrs``), ``x_li`` (NaN when unknown) and ``direction`` (+1 charge, -1
        discharge, 0 rest or unknown).

    Examples
    --------
    >>> ds = xr.Dataset({"intensity": (("frame", "y", "x"), np.array([[[2.0, 2.0]], [[1.0, 0.0]]]))})
    >>> charge_curves(ds)["intensity_norm"].values.tolist()
    [1.0, 0.25]
    """
    series = _as_series(maps)
    n = series.sizes["frame"]
    intensity = _values(series, "intensity").reshape(n, -1)
    total = np.nansum(np.where(np.isfinite(intensity), intensity, 0.0), axis=1)
    first = np.flatnonzero(total > 0)
    norm = total / total[first[0]] if first.size else np.full(n, np.nan)
    fraction = np.full(n, np.nan)
    pair = {name: np.full(n, np.nan) for name in ("d_phase1", "d_phase2")}
    for name, values in pair.items():
        if name in series:
            d = _values(series, name).reshape(n, -1)
            for k in range(n):
                ok = np.isfinite(d[k])
                values[k] = float(np.median(d[k][ok])) if ok.any() else np.nan
    if "phase_fraction" in series:
        f = _values(series, "phase_fraction").reshape(n, -1)
        w = np.clip(np.nan_to_num(intensity), 0.0, None)
        ok = np.isfinite(f) & (w > 0)
        wsum = np.where(ok, w, 0.0).sum(axis=1)
        fsum = np.where(ok, w * np.nan_to_num(f), 0.0).sum(axis=1)
        fraction = np.where(wsum > 0, fsum / np.where(wsum > 0, wsum, 1.0), np.nan)
    state = frame_state(series)
    capacity = state.capacity if state is not None else np.full(n, np.nan)
    label = state.capacity_label if state is not None else "capacity"
    direction = state.direction if state is not None and state.direction is not None else np.zeros(n)
    x_li = _values(series, "echem_x_li").reshape(n) if "echem_x_li" in series else np.full(n, np.nan)
    return xr.Dataset(
        {
            "intensity_total": ("frame", total, {"units": "counts"}),
            "intensity_norm": ("frame", norm, {"units": "1", "long_name": "integrated intensity / first map's"}),
            "phase_fraction": ("frame", fraction, {"units": "1", "long_name": "larger-d phase, intensity-weighted"}),
            "d_phase1": ("frame", pair["d_phase1"], {"units": "angstrom", "long_name": "median d, larger-d phase"}),
            "d_phase2": ("frame", pair["d_phase2"], {"units": "angstrom", "long_name": "median d, smaller-d phase"}),
            "capacity": ("frame", capacity, {"long_name": label}),
            "x_li": ("frame", x_li, {"units": "1"}),
            "direction": ("frame", np.nan_to_num(np.asarray(direction, dtype=np.float64))),
        }
    )


def plot_charge_curves(maps: xr.Dataset, *, title: str | None = None) -> Figure:
    """Normalised integrated intensity and phase fraction against capacity and x(Li).

    Charge and discharge are separate lines (discharge: open markers), never joined, as
    :func:`operando.report.plot_by_direction` draws them.

    Parameters
    ----------
    maps : xarray.Dataset
        As for :func:`charge_curves`.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        A 2 x 2 grid: columns intensity (``label`` "intensity") and phase fraction
        ("phase fraction", each point annotated with the two phases' median d-spacings);
        rows against capacity (or the map index when the maps are not placed on a record)
        and against x(Li) (its axis decreasing to the right, as Li leaves on charge; left
        out when x(Li) is unknown).
    """
    curves = charge_curves(maps)
    n = curves.sizes["frame"]
    direction = curves["direction"].values
    cap = curves["capacity"].values
    axes_x: list[tuple[NDArray[np.float64], str]] = []
    if np.isfinite(cap).any():
        axes_x.append((cap, str(curves["capacity"].attrs["long_name"])))
    else:
        axes_x.append((np.arange(n, dtype=np.float64), "map (index, not placed on a record)"))
    if np.isfinite(curves["x_li"].values).any():
        axes_x.append((curves["x_li"].values, "x(Li)"))
    fig, grid = plt.subplots(len(axes_x), 2, figsize=(9.5, 3.1 * len(axes_x)), squeeze=False, layout="constrained")
    columns = (
        ("intensity_norm", "integrated intensity\n(relative to the first map)", "#1f77b4", "intensity"),
        ("phase_fraction", "larger-d phase fraction\n(intensity-weighted)", "#c0392b", "phase fraction"),
    )
    for row, (xv, xlabel) in zip(grid, axes_x, strict=True):
        for ax, (name, ylabel, colour, label) in zip(row, columns, strict=True):
            values = curves[name].values
            ax.set_label(label)
            if np.isfinite(values).any():
                plot_by_direction(ax, xv, values, direction, marker="o", ms=4, lw=1.2, color=colour)
                if ax.get_legend_handles_labels()[1]:
                    ax.legend(fontsize=7, frameon=False)
                if name == "intensity_norm":
                    honest_ylim(ax, values, rel_floor=0.1)  # a 3 % change does not fill the axis
                else:  # which two phases each fraction is of
                    d1, d2 = curves["d_phase1"].values, curves["d_phase2"].values
                    for xk, fk, a, b in zip(xv, values, d1, d2, strict=True):
                        if np.isfinite(fk) and np.isfinite(a) and np.isfinite(b):
                            ax.annotate(f"{a:.4f} / {b:.4f} Å", (xk, fk), xytext=(4, 4), textcoords="offset points",
                                        fontsize=6, color="0.3")  # fmt: skip
            else:
                ax.text(0.5, 0.5, "no two-phase decomposition\nin these maps", ha="center", va="center",
                        transform=ax.transAxes, fontsize=8, color="0.4")  # fmt: skip
            if name == "phase_fraction":
                ax.set_ylim(-0.03, 1.1)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            if xlabel == "x(Li)" and not ax.xaxis_inverted():
                ax.invert_xaxis()
    fig.suptitle(title or "SXDM: diffracted intensity and phase fraction along the charge")
    return fig


# -- largest misorientation over a population of crystals (the paper's Fig. 7) ------------
def misorientation_population(stores: Sequence[tuple[str, xr.Dataset]], *, keep: float = 99.0) -> xr.Dataset:
    """Largest misorientation of every map of several stores (crystals, cycles).

    Parameters
    ----------
    stores : sequence of (str, xarray.Dataset)
        A label (e.g. the sample: "pristine", "60 cycles") and the maps of one store, dims
        ``(y, x)`` or ``(frame, y, x)`` with ``qx, qy, qz`` (1/Å) and ``mask``.
    keep : float, default 99.0
        Percentile of the points' deviation from the median Q direction up to which points
        count (see :func:`operando.sxdm.max_misorientation`; 100: plain maximum).

    Returns
    -------
    xarray.Dataset
        Dim ``map`` (one per map of every store, in order): ``max_misorientation_deg``,
        ``n_points`` (valid points), ``n_kept``, ``label``, ``store`` (index of the store)
        and ``frame`` (index in it); ``attrs["keep_percentile"]``.

    Examples
    --------
    >>> a = np.radians([[0.0, 0.2]])
    >>> ds = xr.Dataset({k: (("y", "x"), v) for k, v in
    ...      {"qx": 0 * a, "qy": 3 * np.sin(a), "qz": 3 * np.cos(a), "mask": a == a}.items()})
    >>> pop = misorientation_population([("pristine", ds)], keep=100.0)
    >>> np.round(pop["max_misorientation_deg"].values, 6).tolist(), pop["label"].values.tolist()
    ([0.2], ['pristine'])
    """
    from operando.sxdm import max_misorientation

    rows: list[tuple[float, int, int, str, int, int]] = []
    for s, (label, maps) in enumerate(stores):
        series = _as_series(maps)
        q = [_values(series, k) for k in ("qx", "qy", "qz")]
        mask = np.asarray(series["mask"].values, dtype=bool) if "mask" in series else None
        for k in range(series.sizes["frame"]):
            found = max_misorientation(*(c[k] for c in q), valid=None if mask is None else mask[k], keep=keep)
            rows.append((found.angle_deg, found.n_valid, found.n_kept, str(label), s, k))
    if not rows:
        raise ParameterError("no maps to compare")
    angle, n_valid, n_kept, labels, store, frame = (list(c) for c in zip(*rows, strict=True))
    return xr.Dataset(
        {
            "max_misorientation_deg": ("map", np.asarray(angle, dtype=np.float64), {"units": "degree"}),
            "n_points": ("map", np.asarray(n_valid)),
            "n_kept": ("map", np.asarray(n_kept)),
            "label": ("map", np.asarray(labels, dtype=str)),
            "store": ("map", np.asarray(store)),
            "frame": ("map", np.asarray(frame)),
        },
        attrs={"keep_percentile": keep},
    )


def plot_misorientation_population(population: xr.Dataset, *, title: str | None = None) -> Figure:
    """Largest misorientation per map, grouped by label, and the population's distribution.

    Parameters
    ----------
    population : xarray.Dataset
        From :func:`misorientation_population`.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Left (label "groups"): one column per label in first-seen order, every map a
        point (its y the angle), the group's median a bar; right (label "distribution"):
        the empirical cumulative distribution of all maps' angles, with its median and
        90th percentile in the legend.
    """
    angle = np.asarray(population["max_misorientation_deg"].values, dtype=np.float64)
    labels = [str(v) for v in population["label"].values]
    groups = list(dict.fromkeys(labels))
    fig, (ax_g, ax_d) = plt.subplots(1, 2, figsize=(10.0, 3.8), layout="constrained")
    ax_g.set_label("groups")
    ax_d.set_label("distribution")
    rng = np.random.default_rng(0)  # a fixed horizontal jitter, so that equal values do not hide each other
    colours = plt.get_cmap("tab10")(np.arange(len(groups)) % 10)
    for g, (name, colour) in enumerate(zip(groups, colours, strict=True)):
        values = angle[[k for k, lab in enumerate(labels) if lab == name]]
        ok = values[np.isfinite(values)]
        ax_g.scatter(g + rng.uniform(-0.12, 0.12, values.size), values, s=22, color=colour, zorder=3)
        if ok.size:
            ax_g.hlines(float(np.median(ok)), g - 0.3, g + 0.3, color="k", lw=1.5, zorder=4)
    ax_g.set_xticks(range(len(groups)), groups, rotation=20 if len(groups) > 4 else 0)
    ax_g.set_xlim(-0.6, len(groups) - 0.4)
    ax_g.set_ylim(bottom=0.0)
    ax_g.set_ylabel("largest misorientation (deg)")
    ax_g.set_title("per map (bar: median of the group)", fontsize=9)
    ok = np.sort(angle[np.isfinite(angle)])
    if ok.size:
        ax_d.step(ok, np.arange(1, ok.size + 1) / ok.size, where="post", color="k", lw=1.5, label=f"{ok.size} maps")
        for q, style in ((50, "--"), (90, ":")):
            v = float(np.percentile(ok, q))
            ax_d.axvline(v, color="#c0392b", ls=style, lw=1.0, label=f"{q}th percentile {v:.3f}°")
        ax_d.legend(fontsize=7, frameon=False, loc="lower right")
    ax_d.set_xlabel("largest misorientation (deg)")
    ax_d.set_ylabel("fraction of maps")
    ax_d.set_ylim(0.0, 1.02)
    keep = float(population.attrs.get("keep_percentile", 100.0))
    cut = "all points" if keep >= 100 else f"points within the {keep:g}th percentile of deviation"
    fig.suptitle(title or f"largest lattice misorientation inside each crystal ({cut})")
    return fig


# -- reciprocal space around the Bragg peak of one point (the paper's Supp. Fig. 1) -------
def project_qspace(
    counts: NDArray[np.float64],
    hits: NDArray[np.float64],
    centres: tuple[NDArray[np.float64], NDArray[np.float64]],
    *,
    along: int,
    max_factor: int = 8,
    max_empty: float = 0.02,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Projection of a binned q-space cube along one axis, with bins no finer than the data.

    The projection is the summed counts over the summed voxel hits along ``along`` (mean
    counts per detector voxel on each line), so bins that no voxel reached do not read as
    zero intensity. A q-space grid finer than the detector's sampling (XSOCS's 50 x 100 x
    100 on a small detector) leaves whole lines unhit, which draws as stripes: the two
    remaining axes are merged by the smallest integer factors (up to ``max_factor``, the
    smallest product first) for which at most ``max_empty`` of the bins of the data's
    footprint are unhit (the footprint: the hit bins with gaps of up to 4 bins closed, so
    the edges of the sheared region the rocking scan covers do not count as holes).

    Parameters
    ----------
    counts, hits : (nx, ny, nz) ndarray
        ``qspace`` of one point (summed counts) and ``histo`` (voxels per bin).
    centres : two (n,) ndarray
        Bin centres (1/Å) of the two axes kept, in order.
    along : int
        Axis summed over (0, 1 or 2).
    max_factor : int
        Largest merge factor per axis.
    max_empty : float
        Largest accepted fraction of unhit bins in the footprint.

    Returns
    -------
    image : (na, nb) ndarray
        Mean counts per voxel; NaN where no voxel fell.
    ca, cb : ndarray
        Centres of the (merged) bins, 1/Å.

    Examples
    --------
    >>> hits = np.zeros((4, 1, 4)); hits[:, :, ::2] = 1.0  # every other qz bin unhit
    >>> img, ca, cb = project_qspace(2.0 * hits, hits, (np.arange(4.0), np.arange(4.0)), along=1)
    >>> img.shape, cb.tolist(), float(img.max())
    ((4, 2), [0.5, 2.5], 2.0)
    """
    from scipy import ndimage

    c2 = np.asarray(counts, dtype=np.float64).sum(axis=along)
    h2 = np.asarray(hits, dtype=np.float64).sum(axis=along)
    ca, cb = (np.asarray(c, dtype=np.float64) for c in centres)
    if c2.shape != (ca.size, cb.size):
        raise ParameterError(f"projection {c2.shape} does not match the centres ({ca.size}, {cb.size})")

    def merged(fa: int, fb: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        na, nb = c2.shape[0] // fa, c2.shape[1] // fb
        block = (na, fa, nb, fb)
        return c2[: na * fa, : nb * fb].reshape(block).sum((1, 3)), h2[: na * fa, : nb * fb].reshape(block).sum((1, 3))

    factors = sorted(
        ((fa, fb) for fa in range(1, max_factor + 1) for fb in range(1, max_factor + 1)),
        key=lambda f: (f[0] * f[1], max(f)),
    )
    chosen = factors[-1]
    for fa, fb in factors:
        if c2.shape[0] // fa < 2 or c2.shape[1] // fb < 2:
            continue
        _, hs = merged(fa, fb)
        hit = hs > 0
        # the data's footprint with gaps of up to 4 bins closed: its unhit bins are the grid's holes
        support = ndimage.binary_closing(np.pad(hit, 3), structure=np.ones((5, 5), dtype=bool))[3:-3, 3:-3]
        if (support & ~hit).sum() <= max_empty * max(int(support.sum()), 1):
            chosen = (fa, fb)
            break
    fa, fb = chosen
    cs, hs = merged(fa, fb)
    image = np.where(hs > 0, cs / np.where(hs > 0, hs, 1.0), np.nan)
    na, nb = image.shape
    return image, ca[: na * fa].reshape(na, fa).mean(1), cb[: nb * fb].reshape(nb, fb).mean(1)


def plot_point_qspace(
    cube: xr.Dataset,
    maps: xr.Dataset | None = None,
    *,
    point: tuple[int, int] | None = None,
    fitted_q: tuple[float, float, float] | None = None,
    title: str | None = None,
) -> Figure:
    """The three projections of one scan point's 3D intensity around its Bragg peak.

    Parameters
    ----------
    cube : xarray.Dataset
        From :func:`operando.sxdm.gridded_qspace` (or ``operando sxdm qspace``) holding the
        point: ``qspace`` (point, qx, qy, qz) summed counts and ``histo`` (qx, qy, qz)
        voxels per bin; bin centres ``qx, qy, qz`` (1/Å). The first point is drawn.
    maps : xarray.Dataset, optional
        One map (y, x) with ``intensity``: drawn first, the point marked with a red cross.
    point : (int, int), optional
        (row, column) of the point in ``maps``.
    fitted_q : (float, float, float), optional
        The point's centre of mass of Q (1/Å), marked with a red cross on each projection.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Axes labelled ``"qx-qy"``, ``"qx-qz"``, ``"qy-qz"``: :func:`project_qspace` of the
        cube along the third axis (mean counts per voxel), log scale, each image's array
        oriented (second axis, first axis) so that ``origin="lower"`` puts the first named
        axis horizontal; limits zoomed to where the projection exceeds 1 % of its maximum
        (padded by half that span).
    """
    from matplotlib.colors import LogNorm

    if "qspace" not in cube or "histo" not in cube:
        raise ParameterError("the q-space cube needs qspace and histo (from gridded_qspace)")
    counts = np.asarray(cube["qspace"].values, dtype=np.float64)
    counts = counts[0] if counts.ndim == 4 else counts
    hits = np.asarray(cube["histo"].values, dtype=np.float64)
    centres = {k: np.asarray(cube[k].values, dtype=np.float64) for k in ("qx", "qy", "qz")}
    pairs = (("qx", "qy", 2), ("qx", "qz", 1), ("qy", "qz", 0))
    with_map = maps is not None and point is not None
    fig, axes = plt.subplots(1, 3 + int(with_map), figsize=(3.6 * (3 + int(with_map)) + 0.8, 3.6), squeeze=False)
    fig.set_layout_engine("constrained")
    row = list(axes[0])
    if maps is not None and point is not None:
        one = _values(maps, "intensity")
        if one.ndim != 2:
            raise ParameterError(f"maps must be one map (y, x) here, got dims {tuple(maps['intensity'].dims)}")
        ax = row.pop(0)
        ax.imshow(one, origin="lower", cmap=plt.get_cmap("magma").with_extremes(bad=_MASKED_RGB))
        ax.plot([point[1]], [point[0]], "+", color="red", ms=14, mew=2)
        ax.set_title(f"integrated intensity, point (y={point[0]}, x={point[1]})", fontsize=9)
        ax.set_xlabel("x (point)")
        ax.set_ylabel("y (point)")
    for ax, (a, b, along) in zip(row, pairs, strict=True):
        proj, ca, cb = project_qspace(counts, hits, (centres[a], centres[b]), along=along)
        finite = proj[np.isfinite(proj) & (proj > 0)]
        top = float(finite.max()) if finite.size else 1.0
        step_a, step_b = (ca[1] - ca[0]) / 2, (cb[1] - cb[0]) / 2
        image = ax.imshow(
            np.where(proj > 0, proj, np.nan).T,
            origin="lower",
            aspect="auto",
            extent=(ca[0] - step_a, ca[-1] + step_a, cb[0] - step_b, cb[-1] + step_b),
            cmap=plt.get_cmap("viridis").with_extremes(bad="white"),
            norm=LogNorm(vmin=max(float(finite.min()) if finite.size else 1e-3, top * 1e-4), vmax=top),
            interpolation="nearest",
        )
        ax.set_label(f"{a}-{b}")
        weight = np.nan_to_num(proj)
        for axis, c, prof in ((ax.set_xlim, ca, weight.sum(1)), (ax.set_ylim, cb, weight.sum(0))):
            strong = np.flatnonzero(prof > 0.01 * prof.max()) if prof.max() > 0 else np.arange(c.size)
            lo, hi = float(c[strong[0]]), float(c[strong[-1]])
            pad = 0.5 * (hi - lo) + (c[1] - c[0])
            axis(max(lo - pad, c[0]), min(hi + pad, c[-1]))
        if fitted_q is not None:
            fq = dict(zip(("qx", "qy", "qz"), fitted_q, strict=True))
            ax.plot([fq[a]], [fq[b]], "+", color="red", ms=14, mew=2)
        ax.set_xlabel(f"{a} (Å⁻¹)")
        ax.set_ylabel(f"{b} (Å⁻¹)")
        ax.ticklabel_format(useOffset=False)
        ax.tick_params(labelsize=7)
        third = ("qx", "qy", "qz")[along]
        fig.colorbar(image, ax=ax, shrink=0.8).set_label(f"mean counts per voxel along {third}", fontsize=7)
    fig.suptitle(title or "reciprocal space around the Bragg peak (red: fitted centre of mass)")
    return fig
