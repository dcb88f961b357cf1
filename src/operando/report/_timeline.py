"""The charging curve with a marker at every measurement (the timeline figure)."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # figures are files; never ask for a display
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FixedFormatter, FixedLocator, LogLocator, MaxNLocator, NullFormatter
from numpy.typing import NDArray

from operando.echem import EchemRecord

__all__ = ["plot_timeline", "readable_ticks", "save_figure", "tick_label_boxes", "tick_label_problems"]

_LABEL_COLOURS = {"charge": "#c0392b", "discharge": "#2471a3", "rest": "#7f8c8d", "outside": "#000000"}


def plot_timeline(record: EchemRecord, timeline: xr.Dataset | None = None, *, title: str | None = None) -> Figure:
    """Voltage against time and against capacity, with a marker per measurement.

    Parameters
    ----------
    record : EchemRecord
        The potentiostat record.
    timeline : xarray.Dataset, optional
        From :func:`operando.timeline.align`; each measurement is drawn as a shaded
        acquisition window and a marker at its mid-time, coloured by charge/discharge/rest.
    title : str, optional
        Figure title; default the record's file name.

    Returns
    -------
    matplotlib.figure.Figure
    """
    t_h = record.time_s / 3600.0
    mass = record.meta.active_mass_g
    if timeline is not None and np.isfinite(timeline.attrs.get("active_mass_g", np.nan)):
        mass = float(timeline.attrs["active_mass_g"])
    fig, (ax_t, ax_q) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    ax_t.plot(t_h, record.voltage_V, color="0.2", lw=1.0)
    ax_t.set_xlabel("time (h)")
    ax_t.set_ylabel("voltage (V)")
    if mass:
        capacity = record.charge_mAh / mass
        ax_q.set_xlabel("specific capacity (mA h g$^{-1}$)")
    else:
        capacity = record.charge_mAh
        ax_q.set_xlabel("charge (mA h)")
    for hc in np.unique(record.half_cycle):
        sel = record.half_cycle == hc
        ax_q.plot(capacity[sel], record.voltage_V[sel], lw=1.0, color="0.2" if hc % 2 == 0 else "0.5")
    ax_q.set_ylabel("voltage (V)")
    if timeline is not None and timeline.sizes.get("frame", 0):
        inside = timeline["in_record"].to_numpy()
        labels = timeline["label"].to_numpy().astype(str)
        for k in np.flatnonzero(inside):
            colour = _LABEL_COLOURS.get(labels[k], "k")
            ax_t.axvspan(
                timeline["t_start_s"].values[k] / 3600.0,
                timeline["t_end_s"].values[k] / 3600.0,
                color=colour,
                alpha=0.12,
                lw=0,
            )
        mid_h = timeline["t_mid_s"].to_numpy() / 3600.0
        v_mid = timeline["voltage_V"].to_numpy()
        q_mid = timeline["specific_capacity_mAh_g"].to_numpy() if mass else timeline["charge_mAh"].to_numpy()
        for label, colour in _LABEL_COLOURS.items():
            sel = inside & (labels == label)
            if sel.any():
                ax_t.plot(mid_h[sel], v_mid[sel], "o", ms=5, color=colour, label=f"measurement ({label})")
                ax_q.plot(q_mid[sel], v_mid[sel], "o", ms=5, color=colour)
        for k in np.flatnonzero(inside):
            ax_t.annotate(
                str(k), (mid_h[k], v_mid[k]), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7
            )
        ax_t.legend(loc="best", fontsize=8, frameon=False)
        outside = int((~inside).sum())
        if outside:
            ax_t.text(
                0.01,
                0.98,
                f"{outside} measurement(s) outside the record",
                transform=ax_t.transAxes,
                va="top",
                fontsize=8,
            )
    fig.suptitle(title or Path(record.meta.source).name or "electrochemistry record")
    return fig


def save_figure(
    fig: Figure, stem: str | PathLike[str], *, formats: Sequence[str] = ("png", "svg"), dpi: int = 300
) -> list[Path]:
    """Save a figure in several formats at print resolution, each file written atomically.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    stem : str or os.PathLike
        Output path without suffix.
    formats : sequence of str
        File suffixes understood by matplotlib.
    dpi : int, default 300
        Resolution of raster formats.

    Returns
    -------
    list of pathlib.Path
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    readable_ticks(fig)
    written = []
    for fmt in formats:
        final = stem.with_suffix(f".{fmt}")
        tmp = final.with_name(f".{final.name}.tmp")
        fig.savefig(tmp, format=fmt, dpi=dpi)
        tmp.replace(final)
        written.append(final)
    plt.close(fig)
    return written


# -- readable tick labels ----------------------------------------------------------------------------
# Matplotlib never checks that tick labels fit: a long label on a narrow axis (charge labels,
# many frames, a colour bar beside a map) overlaps its neighbour or leaves the figure. These
# functions measure every drawn tick label's extent and fix what they find before a figure is
# saved (no library offers this check; it is a few lines of geometry on matplotlib's extents).
MIN_TICK_FONT_PT = 6.0
"""Smallest font size tick labels are shrunk to before some are left out."""

_TOL_PX = 0.5  # labels that only touch (anti-aliasing, rounding) do not overlap


def _drawn_labels(axis: Axis, which: str = "both") -> list[Text]:
    """The tick labels of ``axis`` that the last draw showed (inside the view, visible, not empty)."""
    lo, hi = sorted(axis.get_view_interval())
    tol = 1e-9 * max(abs(hi - lo), 1e-300)
    groups = []
    if which in ("both", "major"):
        locs = axis.get_majorticklocs()
        groups.append((locs, axis.get_major_ticks(len(locs))))
    if which in ("both", "minor"):
        locs = axis.get_minorticklocs()
        groups.append((locs, axis.get_minor_ticks(len(locs))))
    out: list[Text] = []
    for locs, ticks in groups:
        for loc, tick in zip(locs, ticks, strict=False):
            if not (lo - tol <= loc <= hi + tol) or not tick.get_visible():
                continue
            out += [lab for lab in (tick.label1, tick.label2) if lab.get_visible() and lab.get_text().strip()]
    return out


def _axes_axes(fig: Figure) -> list[tuple[str, Axis]]:
    """(name, axis) of every visible x and y axis of the figure (colour bars included)."""
    out = []
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison:
            continue
        name = ax.get_label() or ax.get_title() or f"axes {i}"
        out += [(f"{name} x", ax.xaxis), (f"{name} y", ax.yaxis)]
    return out


def _corners(label: Text, renderer: object) -> NDArray[np.float64]:
    """The four corners (4, 2), in display pixels, of the label's text box, rotated as drawn.

    A rotated label's axis-aligned extent is larger than its text (neighbouring labels at 30 deg
    would always "overlap"); the rotated box has the same centre as that extent.
    """
    box = label.get_window_extent(renderer)  # type: ignore[arg-type]
    angle = label.get_rotation()
    if angle % 90 == 0:
        return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]], dtype=float)
    label.set_rotation(0)
    flat = label.get_window_extent(renderer)  # type: ignore[arg-type]
    label.set_rotation(angle)
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    hw, hh = flat.width / 2, flat.height / 2
    local = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]])
    return local @ np.array([[c, s], [-s, c]]) + [(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2]


def _overlap(a: NDArray[np.float64], b: NDArray[np.float64]) -> bool:
    """Whether two convex quadrilaterals (4, 2) overlap by more than :data:`_TOL_PX` (separating axes).

    >>> sq = np.array([[0, 0], [10, 0], [10, 5], [0, 5]], dtype=float)
    >>> _overlap(sq, sq + [9, 0]), _overlap(sq, sq + [10.2, 0]), _overlap(sq, sq + [0, 4.9])
    (True, False, False)
    """
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        for nx, ny in np.stack([-edges[:, 1], edges[:, 0]], axis=1):
            norm = np.hypot(nx, ny)
            if norm == 0:
                continue
            pa, pb = a @ [nx, ny] / norm, b @ [nx, ny] / norm
            if min(pa.max(), pb.max()) - max(pa.min(), pb.min()) <= _TOL_PX:
                return False
    return True


_Pair = tuple[str, Axis, Axis, Text, Text]


def _renderer(fig: Figure) -> Any:
    """The figure's Agg renderer; a bare ``Figure()`` (FigureCanvasBase, which has none)
    gets an Agg canvas first, as ``savefig`` would give it."""
    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    return fig.canvas.get_renderer()  # type: ignore[attr-defined]


def _find(fig: Figure) -> tuple[list[_Pair], list[tuple[str, Axis, Text]]]:
    """Overlapping pairs (names, axis of each, label, label) and clipped labels, after a draw."""
    fig.draw_without_rendering()  # layout and tick positions, no pixels: a fraction of a real draw
    renderer = _renderer(fig)
    width, height = fig.canvas.get_width_height()
    items = []
    for name, axis in _axes_axes(fig):
        items += [(name, axis, lab, _corners(lab, renderer)) for lab in _drawn_labels(axis)]
    pairs = []
    for i, (name, axis, lab, box) in enumerate(items):
        for name2, axis2, lab2, box2 in items[i + 1 :]:
            lo, hi = np.maximum(box.min(0), box2.min(0)), np.minimum(box.max(0), box2.max(0))
            if (hi > lo).all() and _overlap(box, box2):
                pairs.append((name if name == name2 else f"{name} / {name2}", axis, axis2, lab, lab2))
    clipped = [
        (name, axis, lab)
        for name, axis, lab, box in items
        if box[:, 0].min() < -1 or box[:, 1].min() < -1 or box[:, 0].max() > width + 1 or box[:, 1].max() > height + 1
    ]
    return pairs, clipped


def tick_label_problems(fig: Figure) -> list[str]:
    """Tick labels of a figure that overlap another tick label or leave the figure, as drawn now.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Drawn (at its own dpi) to measure every visible tick label's extent in pixels.

    Returns
    -------
    list of str
        One line per overlapping pair and per clipped label; empty when every label is readable.

    Examples
    --------
    >>> fig, ax = plt.subplots(figsize=(2, 2))
    >>> _ = ax.set_xticks(range(10), [f"frame {k} at 0.025 mA h" for k in range(10)])
    >>> len(tick_label_problems(fig)) > 0
    True
    >>> plt.close(fig)
    """
    pairs, clipped = _find(fig)
    lines = [f"{name}: {a.get_text()!r} overlaps {b.get_text()!r}" for name, _, _, a, b in pairs]
    return lines + [f"{name}: {lab.get_text()!r} is cut off by the figure's edge" for name, _, lab in clipped]


def _thin(axis: Axis) -> bool:
    """Fewer major ticks on ``axis`` (about half); False when its locator cannot be thinned."""
    n_drawn = len(_drawn_labels(axis, "major"))
    locator = axis.get_major_locator()
    if isinstance(locator, MaxNLocator) and n_drawn > 2:  # AutoLocator too
        locator.set_params(nbins=max(1, n_drawn // 2))
        return True
    if isinstance(locator, LogLocator) and n_drawn > 2:
        locator.set_params(numticks=max(2, n_drawn // 2))
        return True
    locs = np.asarray(axis.get_majorticklocs())
    if isinstance(locator, FixedLocator) and locs.size > 2:
        formatter = axis.get_major_formatter()
        if isinstance(formatter, FixedFormatter) and len(formatter.seq) == locs.size:
            axis.set_ticks(locs[::2], labels=list(formatter.seq)[::2])
        else:
            axis.set_ticks(locs[::2])
        return True
    return False


def _shrink(axis: Axis) -> bool:
    """Tick labels one point smaller, down to :data:`MIN_TICK_FONT_PT`; False when already there."""
    sizes = [float(lab.get_fontsize()) for lab in _drawn_labels(axis)]
    if not sizes or max(sizes) <= MIN_TICK_FONT_PT:
        return False
    axis.set_tick_params(which="both", labelsize=max(MIN_TICK_FONT_PT, max(sizes) - 1.0))
    return True


def _fit_in_figure(fig: Figure) -> None:
    """Move and scale every axes (figure fractions) so that everything drawn lies inside the figure."""
    renderer = _renderer(fig)
    tight = fig.get_tightbbox(renderer)
    if tight is None:
        return
    tight = tight.transformed(fig.dpi_scale_trans)  # inches -> pixels
    width, height = fig.canvas.get_width_height()
    pad = 2.0
    x0, x1 = min(tight.x0, pad), max(tight.x1, width - pad)
    y0, y1 = min(tight.y0, pad), max(tight.y1, height - pad)
    sx, sy = (width - 2 * pad) / (x1 - x0), (height - 2 * pad) / (y1 - y0)
    fig.set_layout_engine("none")
    for ax in fig.axes:
        b = ax.get_position()
        nx0 = (pad + (b.x0 * width - x0) * sx) / width
        ny0 = (pad + (b.y0 * height - y0) * sy) / height
        ax.set_position((nx0, ny0, b.width * sx, b.height * sy))


def readable_ticks(fig: Figure, *, max_rounds: int = 12) -> list[str]:
    """Make every tick label of a figure readable: none overlapping another, none cut off.

    Each round measures the drawn labels (:func:`tick_label_problems`) and fixes what it
    finds, least intrusive first: minor labels dropped, then fewer major ticks on an axis
    whose labels collide (its locator asked for about half as many), then a smaller font
    (down to :data:`MIN_TICK_FONT_PT`; labels of two axes that collide), then the axes moved
    inside the figure for labels past its edge. Labels that still collide after that are left
    out alternately (never both of a pair), and labels still past the edge are left out.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Changed in place; drawn at the end, so its transforms are final, and its layout is
        kept as solved then (layout engine ``"none"``): saving it does not solve it again (the
        layout is half of a figure's drawing time; measured on the demo's report).
    max_rounds : int
        Rounds of measure-and-fix before the last resort.

    Returns
    -------
    list of str
        Problems left (empty unless a label is wider than its whole axis).

    Examples
    --------
    >>> fig, ax = plt.subplots(figsize=(2, 2))
    >>> _ = ax.set_xticks(range(10), [f"frame {k} at 0.025 mA h" for k in range(10)])
    >>> readable_ticks(fig), tick_label_problems(fig)
    ([], [])
    >>> plt.close(fig)
    """
    for _ in range(max_rounds):
        pairs, clipped = _find(fig)
        if not pairs and not clipped:
            fig.set_layout_engine("none")  # keep the layout just solved: saving does not solve it again
            return []
        changed = False
        crowded: dict[int, Axis] = {}
        across: dict[int, Axis] = {}
        for _name, axis, axis2, _a, _b in pairs:
            (crowded if axis is axis2 else across).update({id(axis): axis, id(axis2): axis2})
        for axis in crowded.values():
            if _drawn_labels(axis, "minor") and not isinstance(axis.get_minor_formatter(), NullFormatter):
                axis.set_minor_formatter(NullFormatter())
                changed = True
            else:
                changed = _thin(axis) or _shrink(axis) or changed
        for axis in across.values():
            changed = _shrink(axis) or changed
        if clipped and not pairs:
            before = len(clipped)
            _fit_in_figure(fig)
            if len(_find(fig)[1]) >= before:  # moving the axes did not help: smaller labels
                for _name, axis, _lab in clipped:
                    _shrink(axis)
            changed = True
        if not changed:
            break
    # last resort: leave out one label of each pair that still collides, and labels still cut off
    pairs, clipped = _find(fig)
    hidden: set[int] = set()
    for _name, _axis, _axis2, a, b in pairs:
        if id(a) not in hidden and id(b) not in hidden:
            b.set_visible(False)
            hidden.add(id(b))
    for _name, _axis, lab in clipped:
        lab.set_visible(False)
    left = tick_label_problems(fig)
    fig.set_layout_engine("none")
    return left


def tick_label_boxes(fig: Figure) -> list[list[float]]:
    """Every drawn tick label's box as the saved image shows it: four corners, pixels from top left.

    The report stores these in each figure's PNG (a ``zTXt`` chunk ``operando:tick-labels``), so
    that a page's figures can be checked for overlapping or cut-off labels where they are shown.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Measured at its own dpi (save it at that dpi for the boxes to match the image).

    Returns
    -------
    list of list of float
        One ``[x0, y0, x1, y1, x2, y2, x3, y3]`` per label (rotated labels as drawn), 0.1 px.

    Examples
    --------
    >>> fig, ax = plt.subplots(figsize=(2, 2), dpi=50)
    >>> boxes = tick_label_boxes(fig)
    >>> len(boxes) > 4 and all(len(b) == 8 for b in boxes)
    True
    >>> plt.close(fig)
    """
    fig.draw_without_rendering()
    renderer = _renderer(fig)
    height = fig.canvas.get_width_height()[1]
    out = []
    for _name, axis in _axes_axes(fig):
        for lab in _drawn_labels(axis):
            c = _corners(lab, renderer)
            c[:, 1] = height - c[:, 1]
            out.append([round(float(v), 1) for v in c.ravel()])
    return out
