"""One self-contained HTML file for an experiment: the charging curve and every result on it.

The page needs no network: CSS and a small vanilla-JS script are inline, figures are PNG
data URIs. At the top, voltage against time and against capacity, with a clickable
marker for every measurement of every series; clicking one (or moving a series' slider)
shows that measurement's figures, which are pre-rendered. Below, one section per store
(see :mod:`operando.report._sections` for what each kind shows). A store that is not
complete (interrupted, damaged) gets a visible warning instead of its figures; a store
whose figures cannot be drawn gets an error box; the others are unaffected.

Sizes: figures in the page are drawn at :data:`HTML_DPI` (about 900 × 350 px each, tens
of kB); maps are block-averaged to at most 256 points a side. The print versions go to
``figures_dir`` as PNG (300 dpi) and SVG.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
import struct
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; never ask for a display
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from operando import __version__
from operando.echem._record import EchemRecord
from operando.errors import OperandoError
from operando.report import _kinds  # noqa: F401  (registers the dedicated sections)
from operando.report._sections import FigureSpec, Section, make_section
from operando.report._timeline import save_figure
from operando.store import open_results, store_status

__all__ = ["HTML_DPI", "ReportResult", "build_report"]

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
    """

    path: Path
    size_bytes: int = 0
    n_images: int = 0
    image_bytes: int = 0
    figures: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


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
        fig.savefig(buf, format="png", dpi=HTML_DPI)
        data = buf.getvalue()
        width, height = struct.unpack(">II", data[16:24])  # the PNG header (IHDR) holds the pixel size
        if self.figures_dir is not None and stem is not None:
            self.result.figures += save_figure(fig, self.figures_dir / stem)  # closes it
        else:
            plt.close(fig)
        self.result.n_images += 1
        self.result.image_bytes += len(data)
        return _Rendered(title, "data:image/png;base64," + base64.b64encode(data).decode("ascii"), width, height)

    def spec(self, spec: FigureSpec, folder: str) -> _Rendered:
        return self.render(spec.draw(), spec.title, Path(folder) / spec.name)


# -- the charging curve ---------------------------------------------------------------------------
@dataclass
class _Marker:
    section: str
    frame: int
    left_pct: float
    top_pct: float
    colour: str
    label: str
    interactive: bool


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
    """Voltage vs time and vs capacity with a marker per measurement; None when nothing to draw."""
    points: list[tuple[str, Section, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], str]] = []
    cap_label = ""
    if record is not None:
        t_rec = record.time_s
        cap_rec, cap_label = _capacity_curve(record, mass_g)
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
            cap_label = cap_label or st.capacity_label
        colour = colours.get(sid, "#7f7f7f")
        points.append((sid, sec, t, v, q, colour))
    if record is None and not any(np.isfinite(p[3]).any() for p in points):
        return None
    fig, (ax_t, ax_q) = plt.subplots(1, 2, figsize=(11.0, 3.8), dpi=HTML_DPI)
    fig.set_layout_engine("constrained")
    if record is not None:
        s = _stride(record.time_s.size)
        ax_t.plot(record.time_s[::s] / 3600.0, record.voltage_V[::s], color="0.25", lw=1.0)
        ax_q.plot(cap_rec[::s], record.voltage_V[::s], color="0.25", lw=1.0)
    else:
        fig.text(0.5, 0.01, "no echem record given: measurement points only", ha="center", fontsize=8)
    for _sid, sec, t, v, q, colour in points:
        passive = not sec.interactive
        kw = {"ms": 3 if passive else 6, "color": colour, "ls": "none", "marker": "o", "zorder": 3}
        ax_t.plot(t / 3600.0, v, **kw)
        ax_q.plot(q, v, **kw)
    ax_t.set_xlabel("time (h)")
    ax_q.set_xlabel(cap_label or "capacity")
    for ax in (ax_t, ax_q):
        ax.set_ylabel("voltage (V)")
    fig.canvas.draw()  # fixes the constrained layout, so data -> pixel transforms are final
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
    parts.append(f'<p class="meta">{_e(sec.source)} — kind <code>{_e(sec.kind)}</code></p>')
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
        f'<p class="meta">{_e(path)}</p><div class="{"warning" if css == "incomplete" else "error"}" role="alert">'
        f"<strong>{_e(heading)}</strong> {_e(text)}</div></section>"
    )


def _load_record(echem: str | PathLike[str] | None) -> EchemRecord | None:
    if echem is None:
        return None
    from operando.echem import read

    return read(echem)


def build_report(
    stores: Sequence[str | PathLike[str]],
    echem: str | PathLike[str] | None = None,
    out: str | PathLike[str] = "report.html",
    figures_dir: str | PathLike[str] | None = None,
    *,
    title: str | None = None,
) -> ReportResult:
    """Write a self-contained HTML report of result stores on the charging curve.

    Parameters
    ----------
    stores : sequence of path
        Result stores (Zarr, from :func:`operando.store.write_results`), in any order. A
        store that is not complete is shown as such (a warning box), never opened.
    echem : path, optional
        The cell's potentiostat record (any format :func:`operando.echem.read` knows):
        the voltage curve the measurements are placed on. Without it the chart shows
        the measurements' own voltage and capacity, when the stores carry them.
    out : path, default "report.html"
        The HTML file; written atomically (a temporary file, then a rename).
    figures_dir : path, optional
        Folder for the print versions of every figure (PNG at 300 dpi and SVG): the
        timeline, then ``<store>/<figure>`` and ``<store>/frames/<figure>_frameNNN``.
    title : str, optional
        Page title; default from the record or the first store.

    Returns
    -------
    ReportResult

    Raises
    ------
    OperandoError
        When the echem record cannot be read.
    """
    target = Path(out)
    result = ReportResult(path=target)
    fig_dir = None if figures_dir is None else Path(figures_dir)
    renderer = _Renderer(fig_dir, result)
    record = _load_record(echem)
    paths = [Path(p) for p in stores]

    built: list[tuple[str, Section | None, Path, str]] = []  # (id, section, path, problem html)
    mass = record.meta.active_mass_g if record is not None else None
    for i, path in enumerate(paths):
        sid = f"s{i}"
        status = store_status(path)
        if not status.complete:
            text = f"{status.reason}. Its results are not shown; rerun the processing to finish it."
            result.problems.append(f"{path}: incomplete store: {status.reason}")
            built.append((sid, None, path, _problem_html(sid, path, "incomplete", "Incomplete result store:", text)))
            continue
        try:
            ds = open_results(path)
            section = make_section(ds, path)
        except Exception as exc:  # one bad store must not cost the others their report
            result.problems.append(f"{path}: cannot be shown: {type(exc).__name__}: {exc}")
            built.append((sid, None, path, _problem_html(sid, path, "failed", "Cannot be shown:", _brief(exc))))
            continue
        if mass is None and np.isfinite(float(ds.attrs.get("active_mass_g", np.nan))):
            mass = float(ds.attrs["active_mass_g"])
        built.append((sid, section, path, ""))

    sections = [(sid, sec) for sid, sec, _, _ in built if sec is not None]
    colours: dict[str, str] = {}
    k = 0
    for sid, sec in sections:
        if sec.state is not None and sec.interactive:
            colours[sid] = _COLOURS[k % len(_COLOURS)]
            k += 1
    body: list[str] = []
    chart = _timeline_figure(record, sections, mass, colours)
    if chart is not None:
        fig, markers = chart
        rendered = renderer.render(fig, "voltage against time and capacity", Path("timeline"))
        body.append('<section id="timeline"><h2>Charging curve</h2>')
        body.append(
            '<p class="meta">Each circle is one measurement; click one to show its figures below. '
            "Grey dots: measurements of the schedule (no figures).</p>"
        )
        body.append('<div class="chart">')
        body.append(
            f'<img src="{rendered.uri}" width="{rendered.width}" height="{rendered.height}" alt="{_e(rendered.title)}">'
        )
        for m in markers:
            cls = "marker" if m.interactive else "marker passive"
            body.append(
                f'<button type="button" class="{cls}" data-section="{m.section}" data-frame="{m.frame}" '
                f'style="left:{m.left_pct:.3f}%;top:{m.top_pct:.3f}%;--c:{m.colour}" title="{_e(m.label)}" '
                f'aria-label="{_e(m.label)}"></button>'
            )
        body.append("</div>")
        legend = [
            f'<span><i style="--c:{colours[sid]}"></i>{_e(sec.title)}</span>' for sid, sec in sections if sid in colours
        ]
        if legend:
            body.append('<p class="legend">' + "".join(legend) + "</p>")
        body.append("</section>")
    elif record is None:
        body.append(
            '<section id="timeline"><p class="meta">No echem record given and no store carries the '
            "electrochemical state of its measurements: no charging curve.</p></section>"
        )

    used: set[str] = set()
    for sid, maybe, path, problem in built:
        if maybe is None:
            body.append(problem)
            continue
        try:
            body.append(_section_html(sid, maybe, _store_folder(path, used), renderer, colours.get(sid)))
        except Exception as exc:  # a drawing failure shows up in its own section only
            plt.close("all")
            result.problems.append(f"{path}: figures failed: {type(exc).__name__}: {exc}")
            body.append(_problem_html(sid, path, "failed", "Figures could not be drawn:", _brief(exc)))

    page_title = title or _default_title(record, paths)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    head = (
        f"<header><h1>{_e(page_title)}</h1>"
        f"<p>operando {_e(__version__)} — {_e(created)} — {len(paths)} store(s)"
        + (f" — echem record {_e(Path(echem).name)}" if echem is not None else "")
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
        + (f"Print versions (PNG 300 dpi, SVG): {_e(fig_dir)}." if fig_dir is not None else "")
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
    size = len(page.encode("utf-8"))
    page = page.replace("SIZE_PLACEHOLDER", f"{size / 1024:.0f} kB")
    _write_atomic(target, page)
    result.size_bytes = target.stat().st_size
    return result


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


def _write_atomic(target: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``target``, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
