"""The built-in sample experiment: synthetic raw files, processed end to end.

``operando demo`` writes raw files as the instruments would (``raw/``), processes them
into result stores (``results/``) and figures (``figures/``), and returns where
everything is. Each modality adds its part here as it lands; today: the cell's
potentiostat record (an EC-Lab GCPL export of a LiMn1.5Ni0.5O4 half cell), the
timeline of the scans taken while it cycles, and three SXDM K-maps of one cathode
crystal (ID01 Bliss layout) taken during charge and discharge, reduced to d-spacing,
strain and tilt maps that carry the voltage and Li content they were taken at; and
``report.html``, the self-contained HTML report of all of it on the charging curve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from operando import echem, synthetic
from operando.echem import EchemRecord
from operando.errors import MissingMetadataError
from operando.report import build_report, plot_timeline, save_figure, save_sxdm_figures
from operando.store import open_results, write_results
from operando.timeline import align

# The demo's K-maps: which measurements of the schedule, and the cubic lattice parameter
# against Li content (a linear, Vegard-like solid solution between LiMn1.5Ni0.5O4 and
# Mn1.5Ni0.5O4; the two-phase regime of the real material is left out).
SXDM_FRAMES = (2, 6, 12)
LATTICE_A_AT_X1 = 8.17
LATTICE_A_AT_X0 = 8.00

__all__ = ["DemoResult", "measurement_schedule", "run_demo"]


@dataclass
class DemoResult:
    """Paths of what the demo wrote, by kind."""

    out: Path
    raw: dict[str, Path] = field(default_factory=dict)
    results: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, list[Path]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def measurement_schedule(
    end_s: float, *, period_s: float = 900.0, duration_s: float = 420.0, first_s: float = 300.0
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end times (s) of scans taken every ``period_s``, each ``duration_s`` long.

    Examples
    --------
    >>> start, end = measurement_schedule(2000.0)
    >>> start.tolist(), end.tolist()
    ([300.0, 1200.0], [720.0, 1620.0])
    """
    start = np.arange(first_s, end_s - duration_s + 1e-9, period_s)
    return start, start + duration_s


def run_demo(out: str | PathLike[str], *, progress: bool = True) -> DemoResult:
    """Write and process the sample experiment under ``out``.

    Parameters
    ----------
    out : str or os.PathLike
        Output folder; created if needed, earlier demo output in it is replaced.
    progress : bool, default True
        Show progress bars for long steps.

    Returns
    -------
    DemoResult
    """
    root = Path(out)
    result = DemoResult(out=root)
    cell = synthetic.simulate_gcpl(active_mass_g=0.004, c_rate=0.5, cycles=1)
    mpt = synthetic.write_eclab_mpt(cell, root / "raw" / "echem" / "LMNO_halfcell_GCPL_C01.mpt")
    result.raw["echem"] = mpt
    record = echem.read(mpt)
    start, end = measurement_schedule(float(record.time_s[-1]))
    timeline = align(record, start, end)
    result.results["timeline"] = write_results(
        timeline.assign_attrs(operando_kind="echem-timeline"),
        root / "results" / "timeline.zarr",
        parameters={"period_s": 900.0, "duration_s": 420.0, "theoretical_capacity_mAh_g": 146.7},
        inputs=[mpt],
        overwrite=True,
    )
    maps_store, masters = _sxdm_series(root, record, timeline, progress=progress)
    result.raw["sxdm"] = masters[0].parent.parent
    result.results["sxdm"] = maps_store
    fig = plot_timeline(record, timeline, title="sample experiment: LMNO half cell, GCPL at C/2")
    result.figures["timeline"] = save_figure(fig, root / "figures" / "timeline")
    for name, paths in save_sxdm_figures(open_results(maps_store).load(), root / "figures" / "sxdm").items():
        result.figures[f"sxdm {name}"] = paths
    report = build_report(
        [result.results["timeline"], maps_store],
        echem=mpt,
        out=root / "report.html",
        figures_dir=root / "figures" / "report",
        title="operando sample experiment: LMNO half cell, GCPL at C/2",
    )
    result.results["report"] = report.path
    result.figures["report"] = [root / "figures" / "report"]  # a folder: PNG (300 dpi) and SVG of every figure
    result.notes.append(
        f"report: {report.path} ({report.size_bytes / 1024:.0f} kB, {report.n_images} figures; open it in a browser)"
    )
    result.notes.append(
        f"{timeline.sizes['frame']} measurements on a {record.time_s[-1] / 3600:.2f} h record, "
        f"x(Li) from {float(np.nanmax(timeline['x_li'])):.3f} to {float(np.nanmin(timeline['x_li'])):.3f}"
    )
    return result


def _sxdm_series(root: Path, record: EchemRecord, timeline: xr.Dataset, *, progress: bool) -> tuple[Path, list[Path]]:
    """Write three synthetic K-maps at scheduled times and reduce them to one map series."""
    from operando.sxdm import process_series
    from operando.synthetic import simulate_kmap, write_bliss_kmap

    origin = record.start_timestamp
    if origin is None:
        raise MissingMetadataError("the demo record has no start time", path=record.meta.source)
    masters = []
    for k in SXDM_FRAMES:
        x = float(timeline["x_li"][k])
        model = simulate_kmap(
            map_shape=(12, 12),
            n_angles=16,
            detector_shape=(48, 48),
            eta_step_deg=0.03,
            seed=11,  # the same crystal every time
            lattice_A=LATTICE_A_AT_X0 + (LATTICE_A_AT_X1 - LATTICE_A_AT_X0) * x,
        )
        start = origin + pd.to_timedelta(float(timeline["t_start_s"][k]), unit="s")
        duration = float(timeline["t_end_s"][k] - timeline["t_start_s"][k]) / 16
        masters.append(
            write_bliss_kmap(
                model,
                root / "raw" / "sxdm" / f"kmap_{k:02d}",
                name=f"LMNO_kmap_{k:02d}",
                start_time=start.to_pydatetime(),
                scan_duration_s=duration,
            )
        )

    store = process_series(
        masters,
        root / "results" / "sxdm_maps.zarr",
        reflection=(4, 0, 0),
        record=record,
        overwrite=True,
        progress=progress,
    )
    return store, masters
