"""One self-contained HTML file for an experiment: the charging curve and every result on it.

The page needs no network: CSS and a small vanilla-JS script are inline, figures are PNG
data URIs. At the top, one chart per echem record (an experiment has several cells: a
cathode half cell for SXDM, a symmetric Li cell for MRI...): voltage against time and
against capacity, with a clickable marker for every measurement of the series aligned to
that record (:func:`match_record`). Clicking one (or moving a series' slider) shows that
measurement's figures, which are pre-rendered. Series aligned to no record given are
drawn at their own stored voltage and capacity, on a chart of their own, with a note.
Below, one section per store (see :mod:`operando.report._sections` for what each kind
shows). A store that is not complete (interrupted, damaged) gets a visible warning
instead of its figures; a store whose figures cannot be drawn gets an error box; the
others are unaffected.

Sizes: figures in the page are drawn at :data:`HTML_DPI` (about 900 × 350 px each) and
stored as 256-colour PNG (10–40 kB each); maps are block-averaged to at most 256 points a
side. The print versions go to ``figures_dir`` as PNG (300 dpi) and SVG.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import struct
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; never ask for a display
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from numpy.typing import NDArray

from operando import __version__
from operando._progress import progress_bar
from operando.echem import EchemRecord
from operando.errors import IncompleteStoreError, OperandoError
from operando.report import _kinds  # noqa: F401  (registers the dedicated sections)
from operando.report._sections import FigureSpec, FrameState, Section, make_section
from operando.report._timeline import readable_ticks, save_figure, tick_label_boxes
from operando.store import open_results, store_status

__all__ = ["HTML_DPI", "VOLTAGE_TOLERANCE_V", "RecordMatch", "ReportResult", "build_report", "match_record"]

HTML_DPI = 96
"""Resolution of the figures embedded in the page (the files in ``figures_dir`` are 300 dpi)."""

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
_MAX_CURVE_POINTS = 4000


@dataclass
class ReportResult:
    """What :func:`build_report` wrote.

    Attributes
    ----------
    path : pathlib.Path
        The HTML file.
    size_bytes : int
        Its size.
    n_images : int
        Figures embedded in it.
    image_bytes : int
        Their size as PNG (before base64, which adds a third).
    figures : list of pathlib.Path
        The print files written to ``figures_dir`` (PNG and SVG).
    problems : list of str
        One line per store shown as incomplete or failed.
    placement : dict of pathlib.Path to str or None
        For each store with measurements, the source of the echem record whose chart
        carries its markers; None for stores drawn at their own stored values.
    notes : list of str
        One line per store not matched to a record by checksum (how it was placed).
    """

    path: Path
    size_bytes: int = 0
    n_images: int = 0
    image_bytes: int = 0
    figures: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    placement: dict[Path, str | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


HTML_COLOURS = 256
"""Colours of the palette the page's figures are stored with (the print files keep full colour)."""


TICK_LABELS_KEY = "operando:tick-labels"
"""PNG ``zTXt`` keyword of the page figures' tick label boxes (JSON, see ``tick_label_boxes``)."""


def _palette_png(png: bytes, tick_labels: list[list[float]] | None = None) -> bytes:
    """The same image as an indexed-colour PNG (:data:`HTML_COLOURS` colours): about 4x smaller.

    Plots are mostly flat colours and anti-aliased edges, so a 256-colour palette is
    visually lossless for them and for the maps (whose colour maps have 256 entries).
    ``tick_labels`` go into a compressed text chunk (:data:`TICK_LABELS_KEY`), so that the
    page can be checked for overlapping tick labels (about 1 kB a figure).
    """
    from PIL import Image, PngImagePlugin

    with Image.open(io.BytesIO(png)) as im:
        indexed = im.convert("RGB").quantize(colors=HTML_COLOURS, method=Image.Quantize.FASTOCTREE)
    info = None
    if tick_labels is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text(TICK_LABELS_KEY, json.dumps(tick_labels, separators=(",", ":")), zip=True)
    out = io.BytesIO()
    indexed.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


@dataclass
class _Rendered:
    """A drawn figure: its data URI for the page."""

    title: str
    uri: str
    width: int
    height: int


class _Renderer:
    """Draws specs once: PNG bytes for the page, and print files when a folder is given."""

    def __init__(self, figures_dir: Path | None, result: ReportResult) -> None:
        self.figures_dir = figures_dir
        self.result = result

    def render(self, fig: Figure, title: str, stem: Path | None) -> _Rendered:
        buf = io.BytesIO()
        fig.set_dpi(HTML_DPI)  # measure the tick labels at the resolution they are saved at
        readable_ticks(fig)  # no tick label overlapping another or cut off (issue 19)
        boxes = tick_label_boxes(fig)
        fig.savefig(buf, format="png", dpi=HTML_DPI)
        data = _palette_png(buf.getvalue(), boxes)
        width, height = struct.unpack(">II", data[16:24])  # the PNG header (IHDR) holds the pixel size
        if self.figures_dir is not None and stem is not None:
            # the layout is in figure fractions, the same at any dpi: keep it rather than solve it twice more
            fig.set_layout_engine("none")
            self.result.figures += save_figure(fig, self.figures_dir / stem)  # closes it
        else:
            plt.close(fig)
        self.result.n_images += 1
        self.result.image_bytes += len(data)
        return _Rendered(title, "data:image/png;base64," + base64.b64encode(data).decode("ascii"), width, height)

    def spec(self, spec: FigureSpec, folder: str) -> _Rendered:
        return self.render(spec.draw(), spec.title, Path(folder) / spec.name)


# -- the charging curves ---------------------------------------------------------------------------
@dataclass
class _Marker:
    section: str
    frame: int
    left_pct: float
    top_pct: float
    colour: str
    label: str
    interactive: bool


VOLTAGE_TOLERANCE_V = 0.005
"""Largest difference between a store's own voltages and a record's, for the record to be its own.

Used only for stores that do not say which record they were aligned to: a store aligned
to a record carries, per measurement, the voltage that record has at its mid-time, so on
its own record the difference is rounding."""


@dataclass(frozen=True)
class RecordMatch:
    """Which echem record a store was aligned to, and how that was found.

    Attributes
    ----------
    index : int or None
        Position of the record in the list given to :func:`match_record`; None when none is
        the store's.
    how : str
        ``"echem_sha256"`` (the store's ``attrs["echem_sha256"]`` is the record file's
        SHA-256), ``"input checksum"`` (the record file is among the store's provenance
        inputs), ``"file name"`` (``attrs["echem_source"]`` names a record file),
        ``"only record"`` (a store that names no record, whose own voltages agree with the
        only record given) or ``"none"``.
    note : str
        A line for the reader when the match is not by checksum; ``""`` otherwise.
    """

    index: int | None
    how: str
    note: str = ""


def _short(sha: str) -> str:
    return f"SHA-256 {sha[:12]}…" if sha else "no checksum"


def _agrees(state: FrameState, record: EchemRecord) -> bool | None:
    """Do the store's own voltages lie on ``record`` at its measurement times? None: cannot tell."""
    t_rec, v_rec = record.time_s, record.voltage_V
    ok_rec = np.isfinite(t_rec) & np.isfinite(v_rec)
    if not ok_rec.any():
        return None
    t_rec, v_rec = t_rec[ok_rec], v_rec[ok_rec]
    t = state.t_mid_s
    inside = np.isfinite(t) & (t >= t_rec[0]) & (t <= t_rec[-1])
    if np.isfinite(t).any() and not inside.any():
        return False  # none of its measurements falls within this record
    check = inside & np.isfinite(state.voltage_V)
    if not check.any():
        return None
    diff = np.abs(np.interp(t[check], t_rec, v_rec) - state.voltage_V[check])
    return bool(diff.max() <= VOLTAGE_TOLERANCE_V)


def _input_checksums(attrs: Mapping[str, object]) -> set[str]:
    try:
        inputs = json.loads(str(attrs.get("operando_inputs", "[]")))
    except ValueError:
        return set()
    return {str(i.get("sha256", "")) for i in inputs if isinstance(i, dict)} - {""}


def match_record(
    attrs: Mapping[str, object], records: Sequence[EchemRecord], state: FrameState | None = None
) -> RecordMatch:
    """Find the record, among ``records``, that a store's measurements were aligned to.

    In order: the store's ``attrs["echem_sha256"]`` (set by
    :func:`operando.timeline.attach_state`) equal to a record's ``meta.sha256``; a record
    file among the store's provenance inputs (``attrs["operando_inputs"]``, by
    checksum); ``attrs["echem_source"]`` with a record's file name (a file that changed
    since, e.g. an EC-Lab ``.mpr`` rewritten when opened: accepted only when the store's
    own voltages agree with it). A store that names no record at all is placed on the
    only record given when its own voltages agree with that record (or it has none to
    compare). Anything else: no match.

    Parameters
    ----------
    attrs : mapping
        The store's attributes.
    records : sequence of EchemRecord
        The records given to the report.
    state : FrameState, optional
        The store's own times and voltages (:func:`operando.report.frame_state`), for
        the voltage check.

    Returns
    -------
    RecordMatch

    Examples
    --------
    >>> from operando.echem import EchemMetadata, EchemRecord
    >>> meta = EchemMetadata(source="/data/cell_A.mpr", sha256="ab" * 32)
    >>> rec = EchemRecord.from_columns(time_s=[0.0, 10.0], voltage_V=[3.0, 4.0], current_mA=[1.0, 1.0], meta=meta)
    >>> match_record({"echem_sha256": "ab" * 32}, [rec]).how
    'echem_sha256'
    >>> match_record({"echem_sha256": "cd" * 32, "echem_source": "/elsewhere/cell_B.mpr"}, [rec]).index is None
    True
    """
    sha = str(attrs.get("echem_sha256", "") or "")
    source = str(attrs.get("echem_source", "") or "")
    names = [Path(r.meta.source).name for r in records]
    if sha:
        for i, r in enumerate(records):
            if r.meta.sha256 == sha:
                return RecordMatch(i, "echem_sha256")
    inputs = _input_checksums(attrs)
    for i, r in enumerate(records):
        if r.meta.sha256 and r.meta.sha256 in inputs:
            return RecordMatch(i, "input checksum")
    if source:
        for i, r in enumerate(records):
            if names[i] != Path(source).name:
                continue
            agree = None if state is None else _agrees(state, r)
            if agree is False:
                continue
            why = (
                f"the store was aligned to a file of that name ({_short(sha)}) whose content differs from the "
                f"one given ({_short(r.meta.sha256)})"
                if sha
                else "the store records no checksum of its record"
            )
            return RecordMatch(
                i,
                "file name",
                f"matched to {names[i]} by file name only: {why}"
                + ("" if agree else "; it stores no voltages to check it against"),
            )
    if not sha and not source and len(records) == 1:
        agree = None if state is None else _agrees(state, records[0])
        if agree is not False:
            return RecordMatch(
                0,
                "only record",
                f"the store does not say which echem record it was aligned to; drawn on {names[0]}, the only "
                + ("one given (its own voltages agree with it)" if agree else "one given (no voltages to check)"),
            )
    if sha or source:
        what = f"{Path(source).name or 'an echem record'} ({_short(sha)})"
        note = f"aligned to {what}, which is not among the records given"
    else:
        note = "the store does not say which echem record it was aligned to" + (
            ", and its voltages do not lie on the record given" if len(records) == 1 else ""
        )
    return RecordMatch(None, "none", note + ": markers at its own stored voltage and capacity, never interpolated")


def _capacity_curve(record: EchemRecord, mass_g: float | None) -> tuple[NDArray[np.float64], str]:
    if mass_g:
        return record.charge_mAh / mass_g, "specific capacity (mA h g⁻¹)"
    return record.charge_mAh, "charge (mA h)"


def _stride(n: int) -> int:
    return max(1, int(np.ceil(n / _MAX_CURVE_POINTS)))


def _timeline_figure(
    record: EchemRecord | None,
    sections: Sequence[tuple[str, Section]],
    mass_g: float | None,
    colours: dict[str, str],
) -> tuple[Figure, list[_Marker]] | None:
    """Voltage vs time and vs capacity with a marker per measurement; None when nothing to draw.

    With a record, the markers sit on its curve at the measurements' mid-times; without
    one, at the voltage and capacity each store holds for its measurements.
    """
    points: list[tuple[str, Section, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], str]] = []
    cap_label = ""
    if record is not None:
        t_rec = record.time_s
        cap_rec, cap_label = _capacity_curve(record, mass_g)
    own_labels: list[str] = []
    for sid, sec in sections:
        st = sec.state
        if st is None:
            continue
        if record is not None:
            inside = np.isfinite(st.t_mid_s) & (st.t_mid_s >= t_rec[0]) & (st.t_mid_s <= t_rec[-1])
            t = np.where(inside, st.t_mid_s, np.nan)
            v = np.where(inside, np.interp(np.nan_to_num(t), t_rec, record.voltage_V), np.nan)
            q = np.where(inside, np.interp(np.nan_to_num(t), t_rec, cap_rec), np.nan)
        else:
            t, v, q = st.t_mid_s, st.voltage_V, st.capacity
            if np.isfinite(q).any() and st.capacity_label not in own_labels:
                own_labels.append(st.capacity_label)
        colour = colours.get(sid, "#7f7f7f")
        points.append((sid, sec, t, v, q, colour))
    if record is None:
        cap_label = " / ".join(own_labels)
        if not any(np.isfinite(p[3]).any() for p in points):
            return None
    fig, (ax_t, ax_q) = plt.subplots(1, 2, figsize=(11.0, 3.8), dpi=HTML_DPI)
    fig.set_layout_engine("constrained")
    if record is not None:
        s = _stride(record.time_s.size)
        ax_t.plot(record.time_s[::s] / 3600.0, record.voltage_V[::s], color="0.25", lw=1.0)
        ax_q.plot(cap_rec[::s], record.voltage_V[::s], color="0.25", lw=1.0)
    else:
        fig.text(0.5, 0.01, "no echem record: the measurements' own stored values", ha="center", fontsize=8)
    for _sid, sec, t, v, q, colour in points:
        passive = not sec.interactive
        kw = {"ms": 3 if passive else 6, "color": colour, "ls": "none", "marker": "o", "zorder": 3}
        ax_t.plot(t / 3600.0, v, **kw)
        ax_q.plot(q, v, **kw)
    ax_t.set_xlabel("time (h)")
    ax_q.set_xlabel(cap_label or "capacity")
    for ax in (ax_t, ax_q):
        ax.set_ylabel("voltage (V)")
    readable_ticks(fig)  # readable tick labels; draws last, so data -> pixel transforms are final
    width, height = fig.canvas.get_width_height()
    markers: list[_Marker] = []
    for sid, sec, t, v, q, colour in points:
        for ax, xs in ((ax_t, t / 3600.0), (ax_q, q)):
            for k in range(xs.size):
                if not (np.isfinite(xs[k]) and np.isfinite(v[k])):
                    continue
                px, py = ax.transData.transform((xs[k], v[k]))
                label = sec.state.labels[k] if sec.state is not None else f"#{k}"
                markers.append(
                    _Marker(
                        sid,
                        k,
                        100.0 * px / width,
                        100.0 * (1.0 - py / height),
                        colour,
                        f"{sec.title} — {label}",
                        sec.interactive,
                    )
                )
    return fig, markers


# -- HTML --------------------------------------------------------------------------------------------
_CSS = """
:root{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#222;background:#fafafa}
body{margin:0 auto;max-width:1180px;padding:1em 1.2em 3em}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin:.2em 0 .4em}
header p,.meta{color:#555;font-size:.9em;margin:.2em 0}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8em 1em;margin:1em 0}
.chart{position:relative;width:100%;max-width:1056px}
.chart img{display:block;width:100%;height:auto}
.marker{position:absolute;width:16px;height:16px;margin:-8px 0 0 -8px;padding:0;border-radius:50%;
 border:2px solid var(--c);background:transparent;cursor:pointer}
.marker:hover,.marker:focus{background:rgba(0,0,0,.15);outline:none}
.marker.current{background:var(--c);box-shadow:0 0 0 3px rgba(0,0,0,.35)}
.marker.passive{width:8px;height:8px;margin:-4px 0 0 -4px;border-width:1px;cursor:default;pointer-events:none}
.legend span{display:inline-block;margin-right:1.2em;font-size:.9em}
.legend i{display:inline-block;width:.8em;height:.8em;border-radius:50%;margin-right:.3em;background:var(--c)}
figure{margin:.3em .5em .3em 0;display:inline-block;vertical-align:top;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.8em;color:#555}
.controls{display:flex;align-items:center;gap:.6em;margin:.4em 0;flex-wrap:wrap}
.controls input[type=range]{flex:1 1 20em;max-width:36em}
.frame-label{font-weight:600;font-variant-numeric:tabular-nums}
.warning,.error{border-radius:4px;padding:.6em .8em;margin:.4em 0}
.warning{background:#fff4ce;border:1px solid #e0b400}
.error{background:#fde2e1;border:1px solid #d9534f}
.notes{font-size:.85em;color:#555;margin:.2em 0 .6em;padding-left:1.2em}
footer{font-size:.8em;color:#777}
"""

_JS = """
(function(){
  'use strict';
  function select(id, k){
    var sec = document.getElementById(id);
    if (!sec) return;
    var label = '';
    sec.querySelectorAll('.frame').forEach(function(f){
      var on = Number(f.dataset.frame) === k;
      f.hidden = !on;
      if (on) label = f.dataset.label;
    });
    var slider = sec.querySelector('input.slider');
    if (slider) slider.value = String(k);
    var out = sec.querySelector('.frame-label');
    if (out) out.textContent = label;
    sec.dataset.current = String(k);
    document.querySelectorAll('.marker[data-section="' + id + '"]').forEach(function(m){
      var on = Number(m.dataset.frame) === k;
      m.classList.toggle('current', on);
      m.setAttribute('aria-pressed', on ? 'true' : 'false');
    });
  }
  function step(id, d){
    var sec = document.getElementById(id);
    var slider = sec.querySelector('input.slider');
    var k = Math.min(Number(slider.max), Math.max(0, Number(slider.value) + d));
    select(id, k);
  }
  document.querySelectorAll('input.slider').forEach(function(s){
    s.addEventListener('input', function(){ select(s.dataset.section, Number(s.value)); });
  });
  document.querySelectorAll('button.step').forEach(function(b){
    b.addEventListener('click', function(){ step(b.dataset.section, Number(b.dataset.step)); });
  });
  document.querySelectorAll('.marker[data-section]:not(.passive)').forEach(function(m){
    m.addEventListener('click', function(){
      select(m.dataset.section, Number(m.dataset.frame));
      var v = document.getElementById(m.dataset.section).querySelector('.viewer');
      if (v && v.scrollIntoView) v.scrollIntoView({block: 'nearest'});
    });
  });
  document.querySelectorAll('section[data-frames]').forEach(function(s){ select(s.id, 0); });
  window.operandoSelect = select;
})();
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _figure_html(r: _Rendered) -> str:
    return (
        f'<figure><img src="{r.uri}" width="{r.width}" height="{r.height}" alt="{_e(r.title)}">'
        f"<figcaption>{_e(r.title)}</figcaption></figure>"
    )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "store"


def _store_folder(path: Path, used: set[str]) -> str:
    base = _slug(path.name.removesuffix(".zarr"))
    name, i = base, 2
    while name in used:
        name, i = f"{base}-{i}", i + 1
    used.add(name)
    return name


def _section_html(sid: str, sec: Section, folder: str, renderer: _Renderer, colour: str | None) -> str:
    parts = [f'<section class="store" id="{sid}" data-kind="{_e(sec.kind)}"']
    viewer = sec.frame_figures is not None and sec.n_frames > 0
    if viewer:
        parts[0] += f' data-frames="{sec.n_frames}"'
    parts[0] += ">"
    swatch = f'<i style="--c:{colour}"></i>' if colour else ""
    parts.append(f'<h2 class="legend">{swatch}{_e(sec.title)}</h2>')
    parts.append(f'<p class="meta">{_e(Path(sec.source).name)} — kind <code>{_e(sec.kind)}</code></p>')
    if sec.notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in sec.notes) + "</ul>")
    parts.append('<div class="summary">')
    parts += [_figure_html(renderer.spec(spec, folder)) for spec in sec.summary]
    parts.append("</div>")
    if viewer and sec.frame_figures is not None:
        labels = sec.state.labels if sec.state is not None else [f"#{k}" for k in range(sec.n_frames)]
        parts.append('<div class="viewer">')
        parts.append(
            '<div class="controls">'
            f'<button type="button" class="step" data-section="{sid}" data-step="-1" aria-label="previous">◀</button>'
            f'<input type="range" class="slider" data-section="{sid}" min="0" max="{sec.n_frames - 1}" value="0" '
            f'step="1" aria-label="measurement of {_e(sec.title)}">'
            f'<button type="button" class="step" data-section="{sid}" data-step="1" aria-label="next">▶</button>'
            f'<span class="frame-label">{_e(labels[0])}</span></div>'
        )
        for k in range(sec.n_frames):
            hidden = "" if k == 0 else " hidden"
            parts.append(f'<div class="frame" data-frame="{k}" data-label="{_e(labels[k])}"{hidden}>')
            parts += [_figure_html(renderer.spec(spec, f"{folder}/frames")) for spec in sec.frame_figures(k)]
            parts.append("</div>")
        parts.append("</div>")
    parts.append("</section>")
    return "\n".join(parts)


def _problem_html(sid: str, path: Path, css: str, heading: str, text: str) -> str:
    return (
        f'<section class="store {css}" id="{sid}"><h2>{_e(path.name)}</h2>'
        f'<div class="{"warning" if css == "incomplete" else "error"}" role="alert">'
        f"<strong>{_e(heading)}</strong> {_e(text)}</div></section>"
    )


def _load_records(echem: str | PathLike[str] | Sequence[str | PathLike[str]] | None) -> list[EchemRecord]:
    """Read the records; one file given twice (same checksum) counts once."""
    if echem is None:
        return []
    paths = [echem] if isinstance(echem, str | PathLike) else list(echem)
    from operando.echem import read

    records: list[EchemRecord] = []
    seen: set[str] = set()
    for p in paths:
        record = read(p)
        if record.meta.sha256 and record.meta.sha256 in seen:
            continue
        seen.add(record.meta.sha256)
        records.append(record)
    return records


def _record_mass(record: EchemRecord | None, stores: Sequence[xr.Dataset]) -> float | None:
    """Active mass for the capacity axis: the record's, else the first one its stores carry."""
    if record is not None and record.meta.active_mass_g:
        return record.meta.active_mass_g
    for ds in stores:
        mass = float(ds.attrs.get("active_mass_g", np.nan))
        if np.isfinite(mass) and mass > 0:
            return mass
    return None


@dataclass
class _Chart:
    """One charging-curve chart: a record (None: stores without one) and the stores drawn on it."""

    cid: str
    record: EchemRecord | None
    members: list[tuple[str, Section]] = field(default_factory=list)
    datasets: list[xr.Dataset] = field(default_factory=list)


def _chart_html(chart: _Chart, renderer: _Renderer, colours: dict[str, str], n_charts: int, n_records: int) -> str:
    """The chart's section: heading, the image with one button per marker, a legend."""
    rec = chart.record
    drawn = _timeline_figure(rec, chart.members, _record_mass(rec, chart.datasets), colours)
    name = Path(rec.meta.source).name if rec is not None else ""
    if rec is not None:
        heading = f"Charging curve: {name}"
        stem = "timeline" if n_charts == 1 else f"timeline_{_slug(Path(name).stem)}"
        meta = f"{rec.meta.format or 'echem record'}, {len(rec)} points, {_short(rec.meta.sha256)}"
    elif n_records:
        heading = "Measurements not aligned to any record given"
        stem = "timeline_unaligned" if n_charts > 1 else "timeline"
        meta = (
            "These stores were aligned to an echem record that was not given (or name none): each marker "
            "is at the voltage and capacity the store holds for that measurement."
        )
    else:
        heading = "Measurements (no echem record given)"
        stem = "timeline"
        meta = "Each marker is at the voltage and capacity the store holds for that measurement."
    parts = [f'<section class="timeline" id="{chart.cid}" data-record="{_e(name)}"><h2>{_e(heading)}</h2>']
    parts.append(f'<p class="meta">{_e(meta)}</p>')
    if drawn is None:
        parts.append('<p class="meta">No measurement of these stores has a voltage to place it by.</p></section>')
        return "\n".join(parts)
    fig, markers = drawn
    rendered = renderer.render(fig, f"voltage against time and capacity {name}".strip(), Path(stem))
    active = [m for m in markers if m.interactive]
    parts.append(
        '<p class="meta">'
        + (
            "Each circle is one measurement; click one to show its figures below. "
            if active
            else "No store with figures is aligned to this record. "
        )
        + ("Grey dots: measurements of the schedule (no figures)." if len(active) < len(markers) else "")
        + "</p>"
    )
    parts.append('<div class="chart">')
    parts.append(
        f'<img src="{rendered.uri}" width="{rendered.width}" height="{rendered.height}" alt="{_e(rendered.title)}">'
    )
    for m in markers:
        cls = "marker" if m.interactive else "marker passive"
        parts.append(
            f'<button type="button" class="{cls}" data-section="{m.section}" data-frame="{m.frame}" '
            f'style="left:{m.left_pct:.3f}%;top:{m.top_pct:.3f}%;--c:{m.colour}" title="{_e(m.label)}" '
            f'aria-label="{_e(m.label)}"></button>'
        )
    parts.append("</div>")
    legend = [
        f'<span><i style="--c:{colours[sid]}"></i>{_e(sec.title)}</span>'
        for sid, sec in chart.members
        if sid in colours
    ]
    if legend:
        parts.append('<p class="legend">' + "".join(legend) + "</p>")
    parts.append("</section>")
    return "\n".join(parts)


def build_report(
    stores: Sequence[str | PathLike[str]],
    echem: str | PathLike[str] | Sequence[str | PathLike[str]] | None = None,
    out: str | PathLike[str] = "report.html",
    figures_dir: str | PathLike[str] | None = None,
    *,
    title: str | None = None,
    progress: bool = False,
    strict: bool = False,
    overwrite: bool = True,
) -> ReportResult:
    """Write a self-contained HTML report of result stores on their cells' charging curves.

    Parameters
    ----------
    stores : sequence of path
        Result stores (Zarr, from :func:`operando.store.write_results`), in any order. A
        store that is not complete is shown as such (a warning box), never opened.
    echem : path or sequence of path, optional
        Potentiostat records (any format :func:`operando.echem.read` knows), one per cell
        of the experiment. The page starts with one chart per record (voltage against time
        and against capacity) carrying the measurements of the stores aligned to it
        (:func:`match_record`: by the SHA-256 the store recorded, else by file name). A
        store aligned to none of them gets its markers from its own stored voltage and
        capacity, on a chart of their own, and a note saying so; without any record that
        is the only chart.
    out : path, default "report.html"
        The HTML file; written atomically (a temporary file, then a rename).
    figures_dir : path, optional
        Folder for the print versions of every figure (PNG at 300 dpi and SVG): the
        charts (``timeline`` for a single one, else ``timeline_<record>``), then
        ``<store>/<figure>`` and ``<store>/frames/<figure>_frameNNN``.
    title : str, optional
        Page title; default from the first record or the first store.
    progress : bool, default False
        A bar on stderr over the stores as their figures are drawn (where the time goes).
    strict : bool, default False
        Refuse (raise, before anything is written) a store that is missing, incomplete,
        damaged or cannot be shown, instead of flagging it on the page. ``operando
        report`` is strict.
    overwrite : bool, default True
        Replace an existing ``out``; with False the page is created exclusively (an
        existing file, or one that appears meanwhile, is never replaced).

    Every store is verified against the SHA-256 of all its files before it is shown
    (about 0.7 s per GB on one core).

    Returns
    -------
    ReportResult

    Raises
    ------
    OperandoError
        When an echem record cannot be read; with ``strict``, when a store cannot be shown;
        with ``overwrite=False``, when ``out`` exists.
    """
    target = Path(out)
    if not overwrite and (target.exists() or target.is_symlink()):
        raise OperandoError("the report exists; pass overwrite to replace it", path=target)
    result = ReportResult(path=target)
    fig_dir = None if figures_dir is None else Path(figures_dir)
    renderer = _Renderer(fig_dir, result)
    records = _load_records(echem)
    paths = [Path(p) for p in stores]

    built: list[tuple[str, Section | None, Path, str]] = []  # (id, section, path, problem html)
    charts = [_Chart(f"timeline-{i}", r) for i, r in enumerate(records)]
    unaligned = _Chart("timeline-unaligned", None)
    for i, path in enumerate(paths):
        sid = f"s{i}"
        status = store_status(path, verify="sha256")
        if not status.complete and strict:
            raise IncompleteStoreError(f"not a complete result store: {status.reason}", path=path)
        if not status.complete:
            text = f"{status.reason}. Its results are not shown; rerun the processing to finish it."
            result.problems.append(f"{path}: incomplete store: {status.reason}")
            built.append((sid, None, path, _problem_html(sid, path, "incomplete", "Incomplete result store:", text)))
            continue
        try:
            ds = open_results(path, verify="size")  # every SHA-256 was checked just now
            section = make_section(ds, path)
        except OperandoError as exc:
            if strict:
                raise
            result.problems.append(f"{path}: cannot be shown: {exc.problem}")
            built.append((sid, None, path, _problem_html(sid, path, "failed", "Cannot be shown:", _brief(exc))))
            continue
        except Exception as exc:  # one bad store must not cost the others their report
            result.problems.append(f"{path}: cannot be shown: {type(exc).__name__}: {exc}")
            built.append((sid, None, path, _problem_html(sid, path, "failed", "Cannot be shown:", _brief(exc))))
            continue
        built.append((sid, section, path, ""))
        if section.state is None:
            continue
        match = match_record(ds.attrs, records, section.state) if records else RecordMatch(None, "none")
        chart = unaligned if match.index is None else charts[match.index]
        chart.members.append((sid, section))
        chart.datasets.append(ds)
        result.placement[path] = None if chart.record is None else chart.record.meta.source
        if match.note:
            section.notes.insert(0, match.note)
            result.notes.append(f"{path}: {match.note}")

    sections = [(sid, sec) for sid, sec, _, _ in built if sec is not None]
    colours: dict[str, str] = {}
    k = 0
    for sid, sec in sections:
        if sec.state is not None and sec.interactive:
            colours[sid] = _COLOURS[k % len(_COLOURS)]
            k += 1
    shown = charts + ([unaligned] if unaligned.members else [])
    body = [_chart_html(c, renderer, colours, len(shown), len(records)) for c in shown]
    if not shown:
        body.append(
            '<section class="timeline" id="timeline-none"><p class="meta">No echem record given and no store '
            "carries the electrochemical state of its measurements: no charging curve.</p></section>"
        )

    used: set[str] = set()
    with progress_bar(total=len(built), description="report: stores drawn", enabled=progress) as advance:
        for sid, maybe, path, problem in built:
            advance(1)
            if maybe is None:
                body.append(problem)
                continue
            try:
                body.append(_section_html(sid, maybe, _store_folder(path, used), renderer, colours.get(sid)))
            except Exception as exc:  # a drawing failure shows up in its own section only
                plt.close("all")
                result.problems.append(f"{path}: figures failed: {type(exc).__name__}: {exc}")
                body.append(_problem_html(sid, path, "failed", "Figures could not be drawn:", _brief(exc)))

    page_title = title or _default_title(records[0] if records else None, paths)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    names = ", ".join(Path(r.meta.source).name for r in records)
    head = (
        f"<header><h1>{_e(page_title)}</h1>"
        f"<p>operando {_e(__version__)} — {_e(created)} — {len(paths)} store(s)"
        + (f" — echem record{'s' if len(records) > 1 else ''} {_e(names)}" if records else "")
        + "</p></header>"
    )
    warn = ""
    if result.problems:
        warn = (
            '<div class="warning" role="alert" id="problems"><strong>Not everything could be shown:</strong><ul>'
            + "".join(f"<li>{_e(p)}</li>" for p in result.problems)
            + "</ul></div>"
        )
    foot = (
        f"<footer>{result.n_images} figures embedded as PNG at {HTML_DPI} dpi "
        f"({result.image_bytes / 1024:.0f} kB before base64); page size SIZE_PLACEHOLDER. "
        + (f"Print versions (PNG 300 dpi, SVG): {_e(fig_dir.name)}/." if fig_dir is not None else "")
        + "</footer>"
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(page_title)}</title><style>{_CSS}</style></head><body>"
        + head
        + warn
        + "\n".join(body)
        + foot
        + f"<script>{_JS}</script></body></html>\n"
    )
    page = _without_local_folders(page, [*paths, target, *([fig_dir] if fig_dir else []), *_record_paths(records)])
    base = len(page.encode("utf-8")) - len("SIZE_PLACEHOLDER")
    stated = ""
    for _ in range(3):  # the stated size is part of the page: settle on a text that states its own size
        stated = f"{(base + len(stated)) / 1024:.0f} kB"
    page = page.replace("SIZE_PLACEHOLDER", stated)
    _write_atomic(target, page, overwrite=overwrite)
    result.size_bytes = target.stat().st_size
    return result


def _record_paths(records: Sequence[EchemRecord]) -> list[Path]:
    return [Path(r.meta.source) for r in records if r.meta.source]


def _without_local_folders(page: str, paths: Sequence[Path]) -> str:
    """The page with the folders of this machine taken out of every path (file names stay).

    The folders holding the inputs and outputs (as given and resolved), the working folder
    and the home folder: a report is shared, and a user's folder names are not its content.

    Examples
    --------
    >>> _without_local_folders("<p>/data/run1/a.zarr: damaged</p>", [Path("/data/run1/a.zarr")])
    '<p>a.zarr: damaged</p>'
    """
    folders: set[str] = set()
    for p in paths:
        for q in (Path(p), Path(p).resolve()):
            folders.update(str(parent) for parent in q.parents if len(parent.parts) > 1)
    for where in (Path.cwd(), Path.home()):
        folders.update(str(parent) for parent in (where, *where.parents) if len(parent.parts) > 1)
    ordered = sorted(folders, key=len, reverse=True)  # the deepest first: no half-cut path is left
    pieces = _DATA_URI.split(page)  # embedded images (odd indices) are left alone: base64 holds '/'
    for k in range(0, len(pieces), 2):
        for folder in ordered:
            for spelling in {folder, html.escape(folder)}:
                pieces[k] = pieces[k].replace(spelling + os.sep, "")
    return "".join(pieces)


_DATA_URI = re.compile(r"(data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+)")


def _brief(exc: BaseException) -> str:
    if isinstance(exc, OperandoError):
        return str(exc)
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" (at {Path(where.filename).name}:{where.lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{at}"


def _default_title(record: EchemRecord | None, paths: Sequence[Path]) -> str:
    if record is not None and record.meta.source:
        return f"operando report: {Path(record.meta.source).name}"
    return f"operando report: {paths[0].parent.name or paths[0].name}" if paths else "operando report"


def _write_atomic(target: Path, text: str, *, overwrite: bool = True) -> None:
    """Write ``text`` to a temporary file beside ``target``, then move it into place.

    With ``overwrite=False`` the move is a hard link, which fails when ``target`` exists
    (also one that appeared while the page was drawn): create-exclusive, never a replace.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, target)
            return
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise OperandoError("the report appeared while it was written; not replaced", path=target) from None
        except OSError:  # a file system without hard links: the narrowest check-then-rename
            if target.exists():
                raise OperandoError("the report appeared while it was written; not replaced", path=target) from None
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
