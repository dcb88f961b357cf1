"""Figures of SXDM K-maps and of K-map series along the charge (as in the paper).

Every function takes the maps of :func:`operando.sxdm.process_kmap` (dims ``(y, x)``) or
a series of them (dims ``(frame, y, x)``, e.g. from ``operando sxdm series``) and returns
a :class:`matplotlib.figure.Figure`; save it with :func:`operando.report.save_figure`.
Maps carrying ``echem_voltage_V`` / ``echem_x_li`` are labelled with them.
"""

from __future__ import annotations

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
from operando.report._timeline import save_figure

__all__ = [
    "frame_labels",
    "misorientation_rgb",
    "plot_dspacing_histograms",
    "plot_dspacing_maps",
    "plot_intensity_maps",
    "plot_misorientation",
    "plot_pole_figure",
    "plot_width_maps",
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


def save_sxdm_figures(
    maps: xr.Dataset, out_dir: str | PathLike[str], *, max_tilt_deg: float | None = None
) -> dict[str, list[Path]]:
    """Draw and save the SXDM figure set of one map or a series (PNG + SVG each).

    Parameters
    ----------
    maps : xarray.Dataset
        Maps with dims ``(y, x)`` or ``(frame, y, x)``, loaded.
    out_dir : str or os.PathLike
        Folder; created if needed.
    max_tilt_deg : float, optional
        Tilt of full colour saturation; default the 99th percentile.

    Returns
    -------
    dict of str to list of pathlib.Path
        ``intensity``, ``d_spacing_shared``, ``d_spacing_relative``, ``misorientation``,
        ``pole_figure``, ``d_spacing_histograms`` (and ``width_radial`` where the maps
        carry widths) -> the files written.
    """
    out = Path(out_dir)
    drawn = {
        "intensity": plot_intensity_maps(maps),
        "d_spacing_shared": plot_dspacing_maps(maps),
        "d_spacing_relative": plot_dspacing_maps(maps, relative=True),
        "misorientation": plot_misorientation(maps, max_tilt_deg=max_tilt_deg),
        "pole_figure": plot_pole_figure(maps, max_tilt_deg=max_tilt_deg),
        "d_spacing_histograms": plot_dspacing_histograms(maps),
    }
    if "width_radial" in maps:
        drawn["width_radial"] = plot_width_maps(maps)
    return {name: save_figure(fig, out / name) for name, fig in drawn.items()}
