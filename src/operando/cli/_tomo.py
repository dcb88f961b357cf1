"""``operando tomo``: projections to volumes, segmentation of Li cells, contact maps and quantities."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from operando.cli._options import QuietOption, SchedulerOption, WorkersOption, check_output, run_on

app: typer.Typer = typer.Typer(
    help="Operando tomography: reconstruction, segmentation of Li cells, contact maps.", no_args_is_help=True
)


@app.callback()
def _group() -> None:
    """Operando tomography."""


RingsOption = Annotated[
    str,
    typer.Option(
        "--rings",
        help="Ring handling: detect (default: only the detector columns found to carry a constant offset are "
        "corrected, edges untouched), sort (algotom's sorting filter), vo-all (Vo's combined filter), none.",
    ),
]
StripesOption = Annotated[
    bool | None,
    typer.Option("--stripes/--no-stripes", help="Old switch: --stripes is --rings sort, --no-stripes --rings none."),
]
ZingersOption = Annotated[
    bool, typer.Option("--zingers/--no-zingers", help="Replace zingers (bright single-pixel spots) first.")
]
BinningOption = Annotated[int, typer.Option("--binning", help="Sum N x N detector pixels (voxel N times larger).")]
RowsOption = Annotated[
    str | None, typer.Option("--rows", help="START:STOP: detector rows to reconstruct (before binning).")
]
CropOption = Annotated[
    str | None,
    typer.Option("--crop", help="Y0:Y1,X0:X1: part of every slice kept (voxels of the reconstructed grid)."),
]
PaganinOption = Annotated[
    float | None,
    typer.Option("--paganin-delta-beta", help="Paganin phase retrieval with this delta/beta (needs --distance-mm)."),
]
DistanceOption = Annotated[
    float | None, typer.Option("--distance-mm", help="Sample-to-detector distance, mm (Paganin).")
]
TrustPickleOption = Annotated[
    bool,
    typer.Option(
        "--trust-pickle",
        help="Also read a --classifier that is a pickle from an earlier operando. Reading a pickle can run code "
        "hidden in it: give this only for a file you made yourself (files written now hold plain arrays).",
    ),
]
FollowOption = Annotated[
    bool,
    typer.Option(
        "--follow-external-links",
        help="Read data that HDF5 external links, virtual-dataset sources or external storage of a scan file "
        "take from outside its folder. Off by default: a file can point anywhere on disk, so links are "
        "followed only inside its own folder tree.",
    ),
]
NoFlatsOption = Annotated[
    bool,
    typer.Option(
        "--no-flats",
        help="Reconstruct without flat fields (missing or unusable): the open beam is estimated per frame and row.",
    ),
]


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Print every UserWarning of the run as one line on stderr (``warning: ...``); others pass on unchanged."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for w in caught:
                if issubclass(w.category, UserWarning) and not issubclass(w.category, DeprecationWarning):
                    typer.echo(f"warning: {w.message}", err=True)
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _span(text: str | None, option: str, parts: int = 2) -> tuple[int, ...] | None:
    """``"A:B"`` (or ``"A:B,C:D"``) as whole numbers, refused with one line naming the option."""
    from operando.errors import ParameterError

    if text is None:
        return None
    try:
        values = tuple(int(v) for chunk in text.split(",") for v in chunk.split(":"))
    except ValueError:
        values = ()
    if len(values) != parts:
        form = "START:STOP" if parts == 2 else "Y0:Y1,X0:X1"
        raise ParameterError(f"{option} {text!r}: give {form} (whole numbers)")
    return values


def _prep(
    rings: str,
    zingers: bool,
    binning: int,
    rows: str | None,
    crop: str | None,
    paganin: float | None,
    distance: float | None,
    no_flats: bool,
    stripes: bool | None,
) -> Any:
    from operando.pipelines.tomo import PrepOptions

    if stripes is not None:
        rings = "sort" if stripes else "none"
    r = _span(rows, "--rows")
    c = _span(crop, "--crop", 4)
    return PrepOptions(
        rings=rings,
        zingers=zingers,
        binning=binning,
        rows=(r[0], r[1]) if r else None,
        crop=(c[0], c[1], c[2], c[3]) if c else None,
        paganin_delta_beta=paganin,
        distance_mm=distance,
        no_flats=no_flats,
    )


def _trial_list(text: str) -> list[float]:
    from operando.errors import ParameterError
    from operando.pipelines.tomo import check_number

    try:
        a, b, step = (float(v) for v in text.split(":"))
    except ValueError:
        raise ParameterError(f"--trial-centers {text!r}: give START:STOP:STEP in px") from None
    for v in (a, b, step):
        check_number("--trial-centers", v)
    if not (step > 0 and b >= a):
        raise ParameterError(f"--trial-centers {text!r}: need STEP > 0 and STOP >= START")
    n = int((b - a) / step + 1e-9) + 1
    if n > 200:
        raise ParameterError(f"--trial-centers {text!r}: {n} centres; at most 200")
    return [a + k * step for k in range(n)]


@app.command("recon")
def recon(
    path: Annotated[Path, typer.Argument(help="DXchange HDF5, NeXus (image_key), Xradia .txrm/.xrm or TIFF scan.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Zarr store of the volume.")],
    center: Annotated[
        float | None, typer.Option("--center", help="Rotation centre, px from the centre of pixel 0 (default: found).")
    ] = None,
    voxel_size_um: Annotated[
        float | None, typer.Option("--voxel-size-um", help="Voxel size in µm when the file does not record it.")
    ] = None,
    rings: RingsOption = "detect",
    stripes: StripesOption = None,
    zingers: ZingersOption = True,
    binning: BinningOption = 1,
    rows: RowsOption = None,
    crop: CropOption = None,
    paganin_delta_beta: PaganinOption = None,
    distance_mm: DistanceOption = None,
    no_flats: NoFlatsOption = False,
    trial_centers: Annotated[
        str | None,
        typer.Option(
            "--trial-centers",
            help="START:STOP:STEP: instead of the volume, write one slice per trial centre (px) to -o (a Zarr "
            "store, or a .tif stack) for choosing the centre by eye.",
        ),
    ] = None,
    trial_row: Annotated[
        int | None, typer.Option("--trial-row", help="Detector row of the trial slices (default: the middle one).")
    ] = None,
    angle_range_deg: Annotated[
        str | None,
        typer.Option(
            "--angle-range-deg",
            help="START,STOP: projections evenly spaced over [START, STOP) degrees, for files that record no angles "
            "(TIFF stacks).",
        ),
    ] = None,
    energy_kev: Annotated[
        float | None, typer.Option("--energy-kev", help="Beam energy in keV when the file does not record it.")
    ] = None,
    follow_external_links: FollowOption = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Remove zingers, flat/dark normalise, -log, find the centre, handle rings and reconstruct every row."""
    check_output(out, [path], overwrite=overwrite)
    from operando.errors import ParameterError
    from operando.pipelines.tomo import reconstruct_scan, trial_centres
    from operando.store import open_results

    prep = _prep(rings, zingers, binning, rows, crop, paganin_delta_beta, distance_mm, no_flats, stripes)

    angles: tuple[float, float] | None = None
    if angle_range_deg is not None:
        try:
            start, stop = (float(v) for v in angle_range_deg.split(","))
        except ValueError:
            raise ParameterError(f"--angle-range-deg must be START,STOP in degrees, got {angle_range_deg!r}") from None
        angles = (start, stop)
    if trial_centers is not None:
        centres = _trial_list(trial_centers)
        with run_on(scheduler, workers, quiet=quiet, description="trial centres"):
            written = trial_centres(
                path,
                out,
                centres,
                row=trial_row,
                voxel_size_um=voxel_size_um,
                angle_range_deg=angles,
                prep=prep,
                overwrite=overwrite,
                follow_external_links=follow_external_links,
            )
        typer.echo(f"{written}: {len(centres)} slices at centres {centres[0]:g} ... {centres[-1]:g} px")
        return
    with run_on(scheduler, workers, quiet=quiet, description="recon"), _warnings_as_lines():
        target = reconstruct_scan(
            path,
            out,
            center_px=center,
            voxel_size_um=voxel_size_um,
            angle_range_deg=angles,
            energy_kev=energy_kev,
            overwrite=overwrite,
            prep=prep,
            follow_external_links=follow_external_links,
        )
    ds = open_results(target)
    nz, n, _ = ds["attenuation"].shape
    voxel, center_px = ds.attrs["voxel_size_um"], ds.attrs["center_px"]
    typer.echo(f"{target}: {nz} slices of {n} x {n} voxels ({voxel} µm), centre {center_px:.2f} px")


@app.command("segment")
def segment(
    volume: Annotated[Path, typer.Argument(help="Volume store written by 'operando tomo recon'.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Zarr store of the labels.")],
    void_threshold: Annotated[float | None, typer.Option("--void-threshold", help="Below: void/pore.")] = None,
    li_threshold: Annotated[float | None, typer.Option("--li-threshold", help="Lithium cut-off.")] = None,
    electrolyte_threshold: Annotated[
        float | None, typer.Option("--electrolyte-threshold", help="Above: electrolyte (ends the traversal).")
    ] = None,
    collector_threshold: Annotated[
        float | None, typer.Option("--collector-threshold", help="At or above: current collector.")
    ] = None,
    no_collector: Annotated[
        bool, typer.Option("--no-collector", help="The volume shows no current collectors (four grey classes).")
    ] = False,
    classifier: Annotated[
        Path | None, typer.Option("--classifier", help="Interphase classifier file from an earlier --train.")
    ] = None,
    train: Annotated[
        Path | None,
        typer.Option("--train", help="Label TIFF (z, y, x) of the volume's shape, 255 = unlabelled: train first."),
    ] = None,
    save_classifier: Annotated[
        Path | None, typer.Option("--save-classifier", help="Where to write the classifier trained with --train.")
    ] = None,
    trust_pickle: TrustPickleOption = False,
    variable: Annotated[str, typer.Option("--variable", help="Variable of the volume store.")] = "attenuation",
    voxel_size_um: Annotated[
        float | None, typer.Option("--voxel-size-um", help="Voxel size in µm when the store does not record it.")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Label lithium, voids, pores, interphase and electrolyte (thresholds from the histogram unless given)."""
    check_output(out, [volume, classifier, train], overwrite=overwrite)
    if save_classifier is not None:
        check_output(save_classifier, [volume, classifier, train, out], overwrite=True, option="--save-classifier")
    import json

    import numpy as np

    from operando.pipelines.tomo import check_number, segment_volume
    from operando.store import open_results

    given = {
        "void": void_threshold,
        "lithium": li_threshold,
        "electrolyte": electrolyte_threshold,
        "collector": collector_threshold,
    }
    for name, value in given.items():
        check_number(f"--{'li' if name == 'lithium' else name}-threshold", value)
    with run_on(scheduler, workers, quiet=quiet, description="segment"):
        target = segment_volume(
            volume,
            out,
            thresholds={k: v for k, v in given.items() if v is not None},
            collector=not no_collector,
            classifier=classifier,
            train=train,
            save_classifier_to=save_classifier,
            trust_pickle=trust_pickle,
            variable=variable,
            voxel_size_um=voxel_size_um,
            overwrite=overwrite,
        )
    ds = open_results(target)
    counts = np.bincount(np.asarray(ds["labels"].values).ravel(), minlength=6)
    t = json.loads(ds.attrs["thresholds"])
    v_mm3 = (ds.attrs["voxel_size_um"] * 1e-3) ** 3
    typer.echo(
        f"{target}: Li {counts[1] * v_mm3:.4g} mm3, voids {counts[2] * v_mm3:.4g} mm3, "
        f"interphase {counts[4] * v_mm3:.4g} mm3 (thresholds void {t['void']:.4g}, Li {t['lithium']:.4g}, "
        f"electrolyte {t['electrolyte']:.4g}, collector {t['collector']:.4g})"
    )


@app.command("interface")
def interface(
    seg: Annotated[Path, typer.Argument(help="Label store written by 'operando tomo segment'.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Zarr store of the contact maps and quantities.")],
    void_distance: Annotated[
        int, typer.Option("--void-distance", help="A void this many voxels from the Li edge breaks contact.")
    ] = 5,
    small_region_mm2: Annotated[
        float, typer.Option("--small-region-mm2", help="Contact regions below this area count as small.")
    ] = 0.02,
    voxel_size_um: Annotated[
        float | None, typer.Option("--voxel-size-um", help="Voxel size in µm when the store does not record it.")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Contact map, contact area and regions of both Li/electrolyte interfaces, with volumes and thicknesses."""
    check_output(out, [seg], overwrite=overwrite)
    from operando.pipelines.tomo import check_number, interface_maps
    from operando.store import open_results

    check_number("--void-distance", void_distance, low=1)
    check_number("--small-region-mm2", small_region_mm2, low=0)
    check_number("--voxel-size-um", voxel_size_um, low=0, low_open=True)
    with run_on(scheduler, workers, quiet=quiet, description="interface"):
        target = interface_maps(
            seg,
            out,
            void_distance_px=void_distance,
            small_region_mm2=small_region_mm2,
            voxel_size_um=voxel_size_um,
            overwrite=overwrite,
        )
    res = open_results(target)
    for k in (0, 1):
        typer.echo(
            f"interface {k}: contact {float(res.contact_area_mm2[k]):.4g} mm2 "
            f"({100 * float(res.contact_fraction[k]):.1f} % of the cell), {int(res.n_regions[k])} regions, "
            f"{100 * float(res.small_region_share[k]):.1f} % in regions < {small_region_mm2} mm2"
        )
    typer.echo(f"{target}")


@app.command("series")
def series(
    scans: Annotated[list[Path], typer.Argument(help="Scans (DXchange, NeXus, TIFF) in measurement order.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Zarr store of the series (tomo-series).")],
    echem: Annotated[
        Path | None,
        typer.Option("--echem", help="Potentiostat file: each scan gets the voltage and charge it was taken at."),
    ] = None,
    voxel_size_um: Annotated[
        float | None, typer.Option("--voxel-size-um", help="Voxel size in µm when the files do not record it.")
    ] = None,
    center: Annotated[
        float | None, typer.Option("--center", help="Rotation centre, px from the centre of pixel 0 (default: found).")
    ] = None,
    rings: RingsOption = "detect",
    stripes: StripesOption = None,
    zingers: ZingersOption = True,
    binning: BinningOption = 1,
    rows: RowsOption = None,
    crop: CropOption = None,
    paganin_delta_beta: PaganinOption = None,
    distance_mm: DistanceOption = None,
    no_flats: NoFlatsOption = False,
    keep_volumes: Annotated[
        bool,
        typer.Option("--keep-volumes/--no-keep-volumes", help="Keep every scan's volume and labels in the store."),
    ] = True,
    volume_dtype: Annotated[
        str,
        typer.Option("--volume-dtype", help="Kept volumes as float32, or uint16 scaled (scale_factor/add_offset)."),
    ] = "float32",
    classifier: Annotated[Path | None, typer.Option("--classifier", help="Interphase classifier file.")] = None,
    trust_pickle: TrustPickleOption = False,
    void_distance: Annotated[int, typer.Option("--void-distance", help="Contact definition, voxels.")] = 5,
    small_region_mm2: Annotated[float, typer.Option("--small-region-mm2", help="Small contact region, mm2.")] = 0.02,
    dvc: Annotated[
        bool, typer.Option("--dvc", help="Also the displacement field in the electrolyte between consecutive scans.")
    ] = False,
    dvc_subvolume: Annotated[int, typer.Option("--dvc-subvolume", help="DVC subvolume edge, voxels.")] = 32,
    dvc_step: Annotated[int, typer.Option("--dvc-step", help="DVC grid step, voxels.")] = 16,
    analyses: Annotated[
        bool,
        typer.Option(
            "--analyses",
            help="Also the paper's analyses per scan (electrolyte density from random cubes, roughness vs voids, "
            "interphase thickness maps, positions) and the registered contact change between scans.",
        ),
    ] = False,
    density_edge_um: Annotated[
        float, typer.Option("--density-edge-um", help="With --analyses: edge of the density cubes, um.")
    ] = 340.0,
    follow_external_links: FollowOption = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Recon -> segment -> interface -> quantities for every scan, resumable, on the echem record."""
    check_output(out, [*scans, echem, classifier], overwrite=overwrite)
    from operando.pipelines.tomo import SeriesOptions, process_series
    from operando.store import open_results
    from operando.tomo import load_classifier

    record = None
    if echem is not None:
        from operando import echem as echem_io

        record = echem_io.read(echem)
    options = SeriesOptions(
        voxel_size_um=voxel_size_um,
        center_px=center,
        prep=_prep(rings, zingers, binning, rows, crop, paganin_delta_beta, distance_mm, no_flats, stripes),
        keep_volumes=keep_volumes,
        volume_dtype=volume_dtype,
        void_distance_px=void_distance,
        small_region_mm2=small_region_mm2,
        dvc=dvc,
        dvc_subvolume_vox=dvc_subvolume,
        dvc_step_vox=dvc_step,
        analyses=analyses,
        density_edge_um=density_edge_um,
    )
    model = load_classifier(classifier, trust_pickle=trust_pickle) if classifier is not None else None
    with run_on(scheduler, workers, quiet=quiet, description="scans"), _warnings_as_lines():
        target = process_series(
            scans,
            out,
            options=options,
            classifier=model,
            record=record,
            overwrite=overwrite,
            progress=not quiet,
            follow_external_links=follow_external_links,
        )
    ds = open_results(target)
    for k in range(ds.sizes["frame"]):
        row = ds.isel(frame=k)
        line = (
            f"{k}: contact {float(row.contact_area_mm2[0]):.4g} / {float(row.contact_area_mm2[1]):.4g} mm2, "
            f"Li {float(row.li_volume_mm3):.4g} mm3, voids {float(row.void_volume_mm3):.4g} mm3"
        )
        if "echem_charge_mAh" in ds:
            line += f", {float(row.echem_charge_mAh):.4g} mA h, stripping {float(row.stripping_fraction):.3f}"
        if "dvc_mean_displacement_um" in ds and k > 0:
            line += (
                f", electrolyte moved {float(row.dvc_mean_displacement_um):.3g} um mean "
                f"({float(row.dvc_mean_uz_um):+.3g} um along z)"
            )
        typer.echo(line)
    typer.echo(str(target))


def _window(text: str, option: str) -> tuple[float, float]:
    """``"START_S,END_S"`` as two floats (seconds on the echem record's axis)."""
    from operando.errors import ParameterError

    parts = text.split(",")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise ParameterError(f"{option} {text!r}: give START_S,END_S (two numbers, seconds)") from None
    if not hi > lo:
        raise ParameterError(f"{option} {text!r}: the end must be after the start")
    return lo, hi


def _echo_scenarios(ds: Any) -> None:
    """One line per contact scenario: its RMS against the measured voltage and its largest |V|."""
    import numpy as np

    for k, name in enumerate(ds["scenario"].values):
        v = ds["scenario_voltage_V"].values[k]
        peak = float(np.nanmax(np.abs(v))) * 1e3 if np.isfinite(v).any() else float("nan")
        typer.echo(
            f"scenario {name}: RMS vs measured {float(ds['scenario_rms_V'].values[k]) * 1e3:.3g} mV, "
            f"largest |V| {peak:.4g} mV"
        )


@app.command("model")
def model(
    series_store: Annotated[Path, typer.Argument(help="Series store written by 'operando tomo series' (tomo-series).")],
    echem: Annotated[Path, typer.Option("--echem", help="Potentiostat file of the cell (the series' record).")],
    fit: Annotated[str, typer.Option("--fit", help="Fit window START_S,END_S on the record's time axis.")],
    electrolyte_thickness_um: Annotated[
        float, typer.Option("--electrolyte-thickness-um", help="Electrolyte (pellet) thickness, µm.")
    ],
    electrolyte_conductivity_S_cm: Annotated[
        float, typer.Option("--electrolyte-conductivity-S-cm", help="Electrolyte ionic conductivity, S/cm.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Zarr store of the comparison (tomo-cellmodel).")],
    predict: Annotated[
        str | None, typer.Option("--predict", help="Prediction window START_S,END_S (default: all but the fit).")
    ] = None,
    area_mm2: Annotated[
        float | None,
        typer.Option("--area-mm2", help="Electrolyte cross-section, mm2 (default: the series' segmented cell area)."),
    ] = None,
    j0_start: Annotated[float, typer.Option("--j0-start", help="Starting exchange current density, mA/cm2.")] = 1.0,
    interphase_conductivity_start: Annotated[
        float, typer.Option("--interphase-conductivity-start", help="Starting interphase conductivity, S/cm.")
    ] = 1e-5,
    alpha: Annotated[float, typer.Option("--alpha", help="Anodic transfer coefficient.")] = 0.5,
    temperature_K: Annotated[float, typer.Option("--temperature-K", help="Cell temperature, K.")] = 298.15,
    figure: Annotated[Path | None, typer.Option("--figure", help="Also draw the comparison (PNG, SVG, PDF).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
    scenarios: Annotated[
        str | None,
        typer.Option(
            "--scenarios",
            help="Contact scenarios predicted too, comma-separated: percentages of the measured contact at the "
            "start of the prediction, held (the paper: 100,25,1), and/or 'dynamic' (the measured contact).",
        ),
    ] = None,
    scenario_interface: Annotated[
        str,
        typer.Option("--scenario-interface", help="Interface the scenarios set: both, 0 or 1 (the other: measured)."),
    ] = "both",
    ohmic: Annotated[
        str,
        typer.Option(
            "--ohmic",
            help="Current density of the ohmic drops: contact-averaged (the paper: mean of I/A at both interfaces) "
            "or geometric (I over the electrolyte's cross-section).",
        ),
    ] = "contact-averaged",
) -> None:
    """Fit the Butler–Volmer symmetric-cell model with the measured contact areas, predict the rest."""
    check_output(out, [series_store, echem], overwrite=overwrite)
    if figure is not None:
        check_output(figure, [series_store, echem, out], overwrite=True, option="--figure")
    import numpy as np

    from operando import echem as echem_io
    from operando.errors import MissingMetadataError, ParameterError
    from operando.store import open_results, write_results

    fit_window = _window(fit, "--fit")
    predict_window = _window(predict, "--predict") if predict is not None else None
    chosen = [p.strip() for p in scenarios.split(",") if p.strip()] if scenarios is not None else []
    if scenarios is not None and not chosen:
        raise ParameterError(f"--scenarios {scenarios!r}: give e.g. 100,25,1,dynamic")
    interfaces = {"both": (0, 1), "0": (0,), "1": (1,)}.get(scenario_interface.strip().lower())
    if interfaces is None:
        raise ParameterError(f"--scenario-interface {scenario_interface!r}: give both, 0 or 1")
    series = open_results(series_store)
    if series.attrs.get("operando_kind") != "tomo-series":
        raise ParameterError(
            f"{series_store}: not a tomo-series store (operando_kind {series.attrs.get('operando_kind')!r})"
        )
    if area_mm2 is None:
        if "cell_area_mm2" not in series:
            raise MissingMetadataError("the series has no cell_area_mm2; give --area-mm2", path=series_store)
        area_mm2 = float(np.nanmean(series["cell_area_mm2"].values))
    record = echem_io.read(echem)
    cell = echem_io.SymmetricCellModel(
        j0_mA_cm2=j0_start,
        interphase_conductivity_S_cm=interphase_conductivity_start,
        electrolyte_thickness_um=electrolyte_thickness_um,
        electrolyte_conductivity_S_cm=electrolyte_conductivity_S_cm,
        electrolyte_area_mm2=area_mm2,
        alpha=alpha,
        temperature_K=temperature_K,
        ohmic=ohmic,
    )
    ds, result = echem_io.model_tomo_series(
        series.load(),
        record.time_s,
        record.current_mA,
        record.voltage_V,
        model=cell,
        fit_window_s=fit_window,
        predict_window_s=predict_window,
        scenarios=chosen,
        scenario_interfaces=interfaces,
    )
    parameters: dict[str, Any] = {
        "series": str(series_store),  # a directory: named here, not hashed as an input
        "fit_window_s": list(fit_window),
        "predict_window_s": list(predict_window) if predict_window else None,
        "electrolyte_thickness_um": electrolyte_thickness_um,
        "electrolyte_conductivity_S_cm": electrolyte_conductivity_S_cm,
        "area_mm2": area_mm2,
        "alpha": alpha,
        "temperature_K": temperature_K,
        "ohmic": ohmic,
        "scenarios": chosen,
        "scenario_interfaces": list(interfaces),
    }
    target = write_results(ds, out, parameters=parameters, inputs=[echem], overwrite=overwrite)
    fitted = result.model
    typer.echo(
        f"j0 = {fitted.j0_mA_cm2:.4g} ± {result.j0_err_mA_cm2:.2g} mA/cm2, interphase conductivity = "
        f"{fitted.interphase_conductivity_S_cm:.4g} ± {result.interphase_conductivity_err_S_cm:.2g} S/cm"
    )
    typer.echo(
        f"RMS residual: fit {ds.attrs['fit_rms_V'] * 1e3:.3g} mV ({ds.attrs['fit_points']} points), "
        f"prediction {ds.attrs['predict_rms_V'] * 1e3:.3g} mV ({ds.attrs['predict_points']} points)"
    )
    if chosen:
        _echo_scenarios(ds)
    if figure is not None:
        from operando.report import plot_cell_model

        fig = plot_cell_model(ds, fit_window_s=fit_window)
        fig.savefig(figure, dpi=120)
        typer.echo(str(figure))
    typer.echo(str(target))
