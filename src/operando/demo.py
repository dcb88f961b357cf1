"""The built-in sample experiment: synthetic raw files, processed end to end.

``operando demo`` writes raw files as the instruments would (``raw/``), processes them
into result stores (``results/``) and figures (``figures/``), and returns where
everything is. The experiment has several cells, each with its own potentiostat record:

* a LiMn1.5Ni0.5O4 half cell (an EC-Lab GCPL export), the timeline of the scans taken
  while it cycles, and three SXDM K-maps of one cathode crystal (ID01 Bliss layout) taken
  during charge and discharge, reduced to d-spacing, strain and tilt maps that carry the
  voltage and Li content they were taken at;
* a Li|LLZO|Li symmetric cell plated until dendrites short it: an in situ 7Li MRI series
  (metal and electrolyte images, NIfTI) and its voltage record (canonical CSV), reduced
  to the Li amount per depth layer, growth rates and growth stages;
* ex situ 6Li/7Li NMR (Bruker FIDs) of the 6Li-enriched electrode, the electrolyte and
  the dendrites of such a cell, before and after plating, calibrated on natural LiCl:
  6Li fractions against the tracer-exchange model;
* tomography of a Li|solid-electrolyte|Li cell stripped at constant current: four DXchange
  scans reconstructed, segmented and analysed into contact areas and volumes on its record.

``report.html`` is the self-contained HTML report of all of it, each series on its own
cell's charging curve.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from operando import echem, synthetic
from operando.echem import EchemRecord
from operando.errors import MissingMetadataError
from operando.report import build_report, plot_timeline, save_figure, save_mri_figures, save_sxdm_figures
from operando.store import open_results, write_results
from operando.timeline import align

# The demo's K-maps: which measurements of the schedule. Their lattice follows the paper's
# plateau physics (synthetic.lmno_lattice): on the Ni2+/3+ and Ni3+/4+ plateaus two phases of
# fixed d400 coexist and only their fractions change with x(Li), so the maps hold both.
SXDM_FRAMES = (2, 6, 12)
# both phases of a plateau on the detector (0.9 % apart in d: 95 rows at 0.8 m), rocking over both
SXDM_GEOMETRY: dict[str, Any] = {
    "map_shape": (10, 10),
    "n_angles": 24,
    "eta_step_deg": 0.018,
    "detector_shape": (128, 36),
    "distance_m": 0.8,
    "seed": 11,  # the same crystal every time
}
TOMO_SCANS = 4
# The demo's Li|SE|Li phantom (fixed seed, so tests can rebuild its truth): 56 x 48 x 48 voxels of 10 µm.
TOMO_PHANTOM: dict[str, Any] = {
    "shape": (56, 48, 48),
    "voxel_size_um": 10.0,
    "n_voids": (3, 4),
    "recede_px_per_frame": 2,
    "scan_interval_s": 1200.0,
    "seed": 0,
}
LATTICE_A_AT_X1 = 8.17  # the linear (Vegard) lattice the live simulator still uses
LATTICE_A_AT_X0 = 8.00

# The MRI cell: frames, first frames of growth stages II, III and IV (the short circuit),
# and the 7Li imaging parameters that set the metal image's Knight-shift displacement
# (7.05 T, 3789.5 Hz per voxel: 8 voxels for 260 ppm).
MRI_FRAMES = 24
MRI_STAGE_BOUNDARIES = (5, 10, 14)  # first frames of growth stages II, III, IV
MRI_SHORT_FRAME = 18  # the short circuit, after stage IV
MRI_SECONDS_PER_FRAME = 300.0
MRI_FREQUENCY_MHZ = 116.6
MRI_BANDWIDTH_HZ_PER_PX = 3789.5

# The NMR samples (6Li atomic fractions, the truth the demo's spectra are written with):
# the 6Li-enriched electrode, the electrolyte before plating, a dendrite grown by
# Mechanism 2 (below the electrolyte's value); the electrolyte after plating follows the
# tracer-exchange model with the published parameters (amounts in a common unit) and
# one exchange step per TRACER_CHARGE_PER_STEP_MAH of charge.
NMR_X6_ELECTRODE = 0.95
NMR_X6_ELECTROLYTE = 0.069825
NMR_X6_DENDRITE = 0.055
TRACER_MODEL = {"m1": 100.0, "x1": NMR_X6_ELECTRODE, "m2": 300.47, "x2": NMR_X6_ELECTROLYTE, "n": 0.1088}
TRACER_CHARGE_PER_STEP_MAH = 0.005
NMR_LINE_WINDOWS_PPM = {"metal": (240.0, 290.0), "electrolyte": (-18.8, 21.2)}
NMR_NOISE_PPM = (-130.0, -50.0)
#: How the demo's integrals are taken: as ``operando nmr isotopes`` does by default
#: (sidebands from the recorded MAS rate, windows matched in Hz across the nuclei).
NMR_OPTIONS: dict[str, Any] = {"match": "hz", "sidebands": True}

__all__ = ["DemoPart", "DemoResult", "measurement_schedule", "run_demo", "stripping_record"]


@dataclass
class DemoResult:
    """Paths of what the demo wrote, by kind.

    Attributes
    ----------
    out : pathlib.Path
        The demo folder.
    raw, results : dict of str to pathlib.Path
        Raw files (or folders) and result stores; ``results["report"]`` is the HTML report.
    figures : dict of str to list of pathlib.Path
    echem : dict of str to pathlib.Path
        The potentiostat record of each cell, by cell name.
    notes : list of str
    """

    out: Path
    raw: dict[str, Path] = field(default_factory=dict)
    results: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, list[Path]] = field(default_factory=dict)
    echem: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, part: DemoPart) -> None:
        """Take in what one part of the experiment wrote."""
        self.raw.update(part.raw)
        self.results.update(part.results)
        self.figures.update(part.figures)
        if part.echem is not None:
            self.echem[part.cell] = part.echem
        self.notes += part.notes


@dataclass
class DemoPart:
    """What one cell's part of the sample experiment wrote (see :class:`DemoResult`).

    ``stores`` are the result stores for the report, in the order they are shown;
    ``echem`` the cell's potentiostat record they are aligned to (None: none).
    """

    cell: str
    echem: Path | None = None
    stores: list[Path] = field(default_factory=list)
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
    lmno = _lmno_part(root, progress=progress)
    mri = _mri_part(root)
    assert mri.echem is not None
    parts = [lmno, mri, _nmr_part(root, charge_mAh=_charge_passed(echem.read(mri.echem)))]
    parts.append(_tomo_part(root, progress=progress))
    for part in parts:
        result.add(part)
    report = build_report(
        [store for part in parts for store in part.stores],
        echem=[part.echem for part in parts if part.echem is not None],
        out=root / "report.html",
        figures_dir=root / "figures" / "report",
        title="operando sample experiment: LMNO (SXDM), Li|LLZO|Li (MRI, NMR), Li|SE|Li (tomography)",
    )
    result.results["report"] = report.path
    result.figures["report"] = [root / "figures" / "report"]  # a folder: PNG (300 dpi) and SVG of every figure
    result.notes += report.notes
    # last, so that the final line of `operando demo` is where the report is
    result.notes.append(
        f"report: {report.path} ({report.size_bytes / 1024:.0f} kB, {report.n_images} figures; open it in a browser)"
    )
    return result


def _lmno_part(root: Path, *, progress: bool) -> DemoPart:
    """The LMNO half cell: its GCPL record, the scan timeline and three SXDM K-maps."""
    part = DemoPart(cell="LMNO half cell")
    cell = synthetic.simulate_gcpl(active_mass_g=0.004, c_rate=0.5, cycles=1)
    mpt = synthetic.write_eclab_mpt(cell, root / "raw" / "echem" / "LMNO_halfcell_GCPL_C01.mpt")
    part.raw["echem"] = part.echem = mpt
    record = echem.read(mpt)
    start, end = measurement_schedule(float(record.time_s[-1]))
    timeline = align(record, start, end)
    part.results["timeline"] = write_results(
        timeline.assign_attrs(operando_kind="echem-timeline"),
        root / "results" / "timeline.zarr",
        parameters={"period_s": 900.0, "duration_s": 420.0, "theoretical_capacity_mAh_g": 146.7},
        inputs=[mpt],
        overwrite=True,
    )
    maps_store, masters = _sxdm_series(root, record, timeline, progress=progress)
    part.raw["sxdm"] = masters[0].parent.parent
    part.results["sxdm"] = maps_store
    part.stores = [part.results["timeline"], maps_store]
    fig = plot_timeline(record, timeline, title="sample experiment: LMNO half cell, GCPL at C/2")
    part.figures["timeline"] = save_figure(fig, root / "figures" / "timeline")
    for name, paths in save_sxdm_figures(open_results(maps_store).load(), root / "figures" / "sxdm").items():
        part.figures[f"sxdm {name}"] = paths
    part.notes.append(
        f"LMNO half cell: {timeline.sizes['frame']} measurements on a {record.time_s[-1] / 3600:.2f} h record, "
        f"x(Li) from {float(np.nanmax(timeline['x_li'])):.3f} to {float(np.nanmin(timeline['x_li'])):.3f}"
    )
    return part


def _write_nifti(images: xr.DataArray, path: Path, *, seconds_per_frame: float) -> Path:
    """A ``(frame, depth, lateral)`` series as one 4D NIfTI-1 file (x = depth, y = lateral, z = 1 slice, t)."""
    import nibabel as nib

    voxel = float(images["depth"].values[1] - images["depth"].values[0])
    data = np.asarray(images.transpose("depth", "lateral", "frame").values, dtype=np.float32)[:, :, None, :]
    img = nib.Nifti1Image(data, np.diag([voxel, voxel, 1.0, 1.0]))
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_zooms((voxel, voxel, 1.0, seconds_per_frame))
    img.header["descrip"] = f"operando synthetic 7Li MRI, {images.attrs.get('channel', '')}".encode()[:79]
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, str(path))
    return path


def _mri_part(root: Path) -> DemoPart:
    """The Li|LLZO|Li cell: in situ MRI while plating shorts it, and its voltage record."""
    from operando.mri import KNIGHT_SHIFT_LI_PPM, read_image_series, shift_displacement_px
    from operando.pipelines.mri import quantify_layers

    part = DemoPart(cell="Li|LLZO|Li symmetric cell")
    displacement = shift_displacement_px(
        KNIGHT_SHIFT_LI_PPM, frequency_MHz=MRI_FREQUENCY_MHZ, bandwidth_Hz_per_px=MRI_BANDWIDTH_HZ_PER_PX
    )
    sim = synthetic.simulate_dendrite_mri(
        n_frames=MRI_FRAMES,
        stage_boundaries=MRI_STAGE_BOUNDARIES,
        short_frame=MRI_SHORT_FRAME,
        seconds_per_frame=MRI_SECONDS_PER_FRAME,
        displacement_px=displacement,
        seed=0,
    )
    csv = echem.write_csv(sim.record, root / "raw" / "echem" / "LiLLZOLi_symmetric_plating.csv")
    part.raw["mri echem"] = part.echem = csv
    folder = root / "raw" / "mri"
    metal = _write_nifti(sim.metal, folder / "LiLLZOLi_7Li_metal.nii", seconds_per_frame=MRI_SECONDS_PER_FRAME)
    electrolyte = _write_nifti(
        sim.electrolyte, folder / "LiLLZOLi_7Li_electrolyte.nii", seconds_per_frame=MRI_SECONDS_PER_FRAME
    )
    part.raw["mri"] = folder
    record = echem.read(csv)
    series = read_image_series([metal], seconds_per_frame=MRI_SECONDS_PER_FRAME)
    gap = read_image_series([electrolyte], seconds_per_frame=MRI_SECONDS_PER_FRAME)
    electrode_profile = gap.isel(frame=slice(0, 3)).sum(dim=["y", "z"]).mean("frame").values
    layers = quantify_layers(
        series,
        n_layers=5,
        electrode_profile=electrode_profile,
        magnitude=False,
        noise="spatial",
        displacement_px=displacement,
        record=record,
    )
    parameters = {
        "layers": 5,
        "seconds_per_frame": MRI_SECONDS_PER_FRAME,
        "displacement_px": displacement,
        "magnitude": False,
        "noise": "spatial",
        "electrode_profile": "electrolyte image, first 3 frames",
    }
    store = write_results(
        layers,
        root / "results" / "mri_layers.zarr",
        parameters=parameters,
        inputs=[metal, electrolyte, csv],
        overwrite=True,
    )
    part.results["mri"] = store
    part.stores = [store]
    part.figures["mri"] = save_mri_figures(layers, root / "figures" / "mri")
    short = int(layers.attrs["short_circuit_frame"])
    found = ", ".join(str(b) for b in layers.attrs["stage_boundaries"])
    part.notes.append(
        f"Li|LLZO|Li cell: {MRI_FRAMES} MRI frames, growth stages II-IV from frames {found} "
        f"(simulated: {', '.join(map(str, MRI_STAGE_BOUNDARIES))})"
        + (f", short circuit at frame {short}" if short >= 0 else "")
    )
    return part


def _charge_passed(record: EchemRecord) -> float:
    """Charge moved through a cell over its record (mA h, plating and stripping both counted)."""
    q = record.charge_mAh
    return float(np.nansum(np.abs(np.diff(q[np.isfinite(q)]))))


def _nmr_part(root: Path, *, charge_mAh: float) -> DemoPart:
    """Ex situ 6Li/7Li NMR of the Li|LLZO|Li cell's parts, before and after ``charge_mAh`` of plating."""
    from operando.nmr import classify_dendrite, electrolyte_abundance, isotopes_dataset
    from operando.pipelines.nmr import isotope_fraction, reference_factor
    from operando.synthetic import LICL_PPM, li_isotope_pair, licl_reference_pair

    part = DemoPart(cell="Li|LLZO|Li symmetric cell (ex situ NMR)")
    folder = root / "raw" / "nmr"
    model = {**TRACER_MODEL, "charge_per_step_mAh": TRACER_CHARGE_PER_STEP_MAH}
    x6_after = float(electrolyte_abundance([charge_mAh], **model)[0])
    # (sample folder, metal species, x6 metal, x6 electrolyte, metal amount, charge)
    cells = [
        ("pristine", "electrode", NMR_X6_ELECTRODE, NMR_X6_ELECTROLYTE, 1.0, 0.0),
        ("plated", "dendrite", NMR_X6_DENDRITE, x6_after, 0.3, charge_mAh),
    ]
    ref7, ref6 = licl_reference_pair(folder / "LiCl_reference", seed=5)
    window = (LICL_PPM - 15.0, LICL_PPM + 15.0)
    # the CLI's own functions (operando nmr isotopes --ref-li6/--ref-li7): centre band and
    # spinning sidebands, windows matched in Hz, per scan and unit gain
    factor, factor_err = reference_factor(ref6, ref7, window_ppm=window, noise_ppm=NMR_NOISE_PPM, **NMR_OPTIONS)
    names: list[str] = []
    species: list[str] = []
    charges: list[float] = []
    values: list[tuple[float, float, float, float]] = []  # x6, its uncertainty, I6, I7
    inputs = [ref6 / "fid", ref6 / "acqus", ref7 / "fid", ref7 / "acqus"]
    for k, (name, metal_species, x_metal, x_el, amount, charge) in enumerate(cells):
        li7, li6 = li_isotope_pair(
            folder / f"LiLLZOLi_{name}", x6_metal=x_metal, x6_electrolyte=x_el, li_metal_amount=amount, seed=10 + k
        )
        inputs += [li6 / "fid", li6 / "acqus", li7 / "fid", li7 / "acqus"]
        for kind, line in ((metal_species, "metal"), ("electrolyte", "electrolyte")):
            others = [w for other, w in NMR_LINE_WINDOWS_PPM.items() if other != line]
            r = isotope_fraction(li6, li7, window_ppm=NMR_LINE_WINDOWS_PPM[line], noise_ppm=NMR_NOISE_PPM,
                                 factor=factor, factor_err=factor_err, other_windows_ppm=others,
                                 **NMR_OPTIONS)  # fmt: skip
            names.append(f"{kind} ({name})")
            species.append(kind)
            charges.append(charge)
            values.append((r.x6, r.x6_err, r.i6, r.i7))
    x, sx, i6s, i7s = (np.array(column, dtype=np.float64) for column in zip(*values, strict=True))
    electrolyte_after = x[species.index("electrolyte", 2)]
    electrode = x[species.index("electrode")]
    mechanism = [
        str(classify_dendrite(x[i], x_electrolyte=electrolyte_after, x_electrode=electrode, sigma=sx[i]))
        if kind == "dendrite"
        else ""
        for i, kind in enumerate(species)
    ]
    q_model = np.linspace(0.0, 1.25 * max(charge_mAh, TRACER_CHARGE_PER_STEP_MAH), 101)
    ds = isotopes_dataset(
        names,
        x,
        sx,
        charge_mAh=charges,
        species=species,
        integral_6li=i6s,
        integral_7li=i7s,
        mechanism=mechanism,
        model_charge_mAh=q_model,
        model_li6_fraction=electrolyte_abundance(q_model, **model),
        model_label="electrolyte, tracer-exchange model",
        factor=factor,
        factor_err=factor_err,
        attrs={"tracer_model": json.dumps(model), "reference": "natural LiCl, x6 = 0.0759"},
    )
    store = write_results(
        ds,
        root / "results" / "nmr_isotopes.zarr",
        parameters={"windows_ppm": NMR_LINE_WINDOWS_PPM, "noise_ppm": NMR_NOISE_PPM, "tracer_model": model}
        | NMR_OPTIONS,
        inputs=inputs,
        overwrite=True,
    )
    part.raw["nmr"] = folder
    part.results["nmr"] = store
    part.stores = [store]
    part.notes.append(
        "NMR: 6Li fractions "
        + ", ".join(f"{n} {100 * v:.2f} at.%" for n, v in zip(names, x, strict=True))
        + f" (factor {factor:.4g} ± {factor_err:.2g} from LiCl)"
    )
    return part


def stripping_record(
    frames: Sequence[Any], t0: datetime, *, first_scan_s: float, scan_s: float, min_span_s: float = 0.0
) -> EchemRecord:
    """The stripped Li|SE|Li cell's potentiostat record for a series of phantom scans.

    A constant stripping current (the last scan's stripped charge over the series' span,
    at least ``min_span_s``) sampled every 10 s, and the cell voltage of the Butler-Volmer
    symmetric-cell model on the phantom's true contact areas, interpolated between the scans'
    mid-times. Used by the demo and by the live beamtime simulator.

    Parameters
    ----------
    frames : sequence of synthetic cell frames
        :func:`operando.synthetic.simulate_cell_series` (``time_s``, ``charge_mAh``,
        ``contact_area_mm2`` of both interfaces, ``footprint``, ``voxel_size_um``).
    t0 : datetime
        The record's start (UTC).
    first_scan_s, scan_s : float
        When the first scan starts after ``t0`` and how long a scan lasts, s.
    min_span_s : float, default 0
        Lower bound of the span the current is spread over (a series of one scan).

    Returns
    -------
    EchemRecord
        Dated rows (``timestamp``) from 0 to two scan lengths after the last scan's start.
    """
    from operando.echem import EchemMetadata, SymmetricCellModel, cell_voltage

    scan_mid = np.array([first_scan_s + f.time_s + scan_s / 2 for f in frames])
    t = np.arange(0.0, first_scan_s + frames[-1].time_s + 2 * scan_s, 10.0)
    span_h = max(frames[-1].time_s - frames[0].time_s, min_span_s) / 3600.0
    current = max(frames[-1].charge_mAh, 1e-6) / span_h  # mA
    areas = np.stack([np.interp(t, scan_mid, [f.contact_area_mm2[i] for f in frames]) for i in (0, 1)], axis=1)
    footprint_mm2 = float(frames[0].footprint.sum()) * (frames[0].voxel_size_um * 1e-3) ** 2
    model = SymmetricCellModel(
        j0_mA_cm2=2.0,
        interphase_conductivity_S_cm=1e-4,
        electrolyte_thickness_um=200.0,
        electrolyte_conductivity_S_cm=1e-3,
        electrolyte_area_mm2=footprint_mm2,
    )
    voltage = cell_voltage(model, np.full(t.size, current), areas, 1.0)
    return echem.EchemRecord.from_columns(
        time_s=t,
        voltage_V=voltage,
        current_mA=np.full(t.size, current),
        timestamp=pd.Timestamp(t0) + pd.to_timedelta(t, unit="s"),  # the scans are dated: absolute times
        meta=EchemMetadata(source="", format="synthetic", start_time=t0),
    )


def _tomo_part(root: Path, *, progress: bool) -> DemoPart:
    """The Li|solid-electrolyte|Li cell: operando tomography while one electrode is stripped.

    Four synthetic scans (DXchange, with Poisson noise and rings) of a cell whose top
    electrode recedes while its interfacial voids grow and both interphases thicken;
    its potentiostat record is a constant stripping current whose voltage follows the
    Butler–Volmer symmetric-cell model on the phantom's true contact areas. The scans are
    reconstructed, segmented and analysed into one ``tomo-series`` store on that record.
    """
    from datetime import UTC, timedelta

    from operando.pipelines.tomo import SeriesOptions, process_series
    from operando.synthetic import simulate_cell_series, write_cell_dxchange

    part = DemoPart(cell="Li|solid electrolyte|Li cell")
    t0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
    first_scan_s, scan_s = 600.0, 300.0
    frames = simulate_cell_series(TOMO_SCANS, **TOMO_PHANTOM)
    record = stripping_record(frames, t0, first_scan_s=first_scan_s, scan_s=scan_s)
    csv = echem.write_csv(record, root / "raw" / "echem" / "LiSELi_stripping.csv")
    part.raw["tomo echem"] = part.echem = csv
    scans = [
        write_cell_dxchange(
            root / "raw" / "tomo" / f"LiSELi_scan_{k:02d}.h5",
            f,
            n_angles=180,
            flat_counts=6e4,
            start_time=t0 + timedelta(seconds=first_scan_s + f.time_s),
            scan_duration_s=scan_s,
            seed=k,
        )
        for k, f in enumerate(frames)
    ]
    part.raw["tomo"] = scans[0].parent
    store = process_series(
        scans,
        root / "results" / "tomo_series.zarr",
        options=SeriesOptions(center_px=24.0),  # the phantom's rotation axis (48-pixel detector)
        record=echem.read(csv),
        overwrite=True,
        progress=progress,
    )
    part.results["tomo"] = store
    part.stores.append(store)
    series = open_results(store)
    truth = np.array([f.contact_area_mm2 for f in frames])
    error = np.abs(series["contact_area_mm2"].values - truth) / truth
    part.notes.append(
        f"tomography: {TOMO_SCANS} scans, contact area of the stripped electrode "
        f"{truth[0, 1]:.4f} -> {truth[-1, 1]:.4f} mm^2 (true), largest error {100 * float(error.max()):.1f} %"
    )
    return part


def _sxdm_series(root: Path, record: EchemRecord, timeline: xr.Dataset, *, progress: bool) -> tuple[Path, list[Path]]:
    """Write three synthetic K-maps at scheduled times and reduce them to one map series."""
    from operando.pipelines.sxdm import process_series
    from operando.synthetic import (
        SyntheticKMap,
        lmno_lattice,
        plateau_fraction_field,
        simulate_kmap,
        simulate_two_phase_kmap,
        write_bliss_kmap,
    )

    origin = record.start_timestamp
    if origin is None:
        raise MissingMetadataError("the demo record has no start time", path=record.meta.source)
    masters = []
    crystal = simulate_kmap(**SXDM_GEOMETRY).truth.mask  # the same crystal in every map
    for k in SXDM_FRAMES:
        lattice = lmno_lattice(float(timeline["x_li"][k]))
        model: SyntheticKMap
        if lattice.two_phase:  # on a plateau: domains of both phases, the larger-d one's share as x says
            fraction = plateau_fraction_field(SXDM_GEOMETRY["map_shape"], lattice.fraction, seed=k, within=crystal)
            shared = {k: v for k, v in SXDM_GEOMETRY.items() if k != "map_shape"}  # the fraction map's shape
            model = simulate_two_phase_kmap(fraction, d_spacings_A=lattice.d400_A, **shared)
        else:
            model = simulate_kmap(lattice_A=4.0 * lattice.d400_A[0], **SXDM_GEOMETRY)
        start = origin + pd.to_timedelta(float(timeline["t_start_s"][k]), unit="s")
        duration = float(timeline["t_end_s"][k] - timeline["t_start_s"][k]) / SXDM_GEOMETRY["n_angles"]
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
