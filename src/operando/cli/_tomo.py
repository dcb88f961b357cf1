"""``operando tomo``: projections to volumes, segmentation of Li cells, contact maps and quantities."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import xarray as xr

app = typer.Typer(
    help="Operando tomography: reconstruction, segmentation of Li cells, contact maps.", no_args_is_help=True
)


@app.callback()
def _group() -> None:
    """Operando tomography."""


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
    stripes: Annotated[bool, typer.Option("--stripes/--no-stripes", help="Remove stripes (ring artefacts).")] = True,
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
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
) -> None:
    """Flat/dark normalise, -log, remove stripes, find the centre and reconstruct every row."""
    import numpy as np
    import xarray as xr

    from operando.errors import MissingMetadataError, ParameterError
    from operando.store import write_results
    from operando.tomo import find_center, minus_log, normalize, read_tomo, reconstruct, remove_stripes

    tiff_options: dict[str, Any] = {}
    if angle_range_deg is not None:
        try:
            start, stop = (float(v) for v in angle_range_deg.split(","))
        except ValueError:
            raise ParameterError(f"--angle-range-deg must be START,STOP in degrees, got {angle_range_deg!r}") from None
        tiff_options["angle_range_deg"] = (start, stop)
    try:
        scan = read_tomo(path, **tiff_options)
    except MissingMetadataError as err:
        if "angles" not in str(err):
            raise
        raise MissingMetadataError(
            "the file records no rotation angles; give --angle-range-deg START,STOP", path=path
        ) from None
    if angle_range_deg is not None and scan.layout != "tiff":
        raise ParameterError(f"--angle-range-deg is for files without angles; {path} records its own ({scan.layout})")
    energy = energy_kev if energy_kev is not None else scan.energy_kev
    voxel = voxel_size_um if voxel_size_um is not None else scan.pixel_size_um
    if voxel is None:
        raise MissingMetadataError("the file records no pixel size; give --voxel-size-um", path=path)
    if scan.flats is not None:
        sino = minus_log(normalize(scan.projections, scan.flats, scan.darks))
    else:
        sino = scan.projections.astype(np.float32)  # already line integrals (e.g. a corrected sinogram TIFF)
    if center is None:  # before stripe removal: on small detectors its filter shifts the centre found
        middle = sino.shape[1] // 2
        center = find_center(np.asarray(sino[:, middle, :]))
    if stripes:
        sino = remove_stripes(sino)
    volume = reconstruct(sino, scan.angles_deg, center=center)
    n = volume.shape[1]
    axis = (np.arange(n) - n // 2) * voxel
    ds = xr.Dataset(
        {
            "attenuation": (
                ("z", "y", "x"),
                volume,
                {"units": "1/voxel", "long_name": "linear attenuation x voxel size"},
            )
        },
        coords={
            "z": ("z", np.arange(volume.shape[0]) * voxel, {"units": "um"}),
            "y": ("y", axis, {"units": "um"}),
            "x": ("x", axis, {"units": "um"}),
        },
        attrs={"voxel_size_um": float(voxel), "center_px": float(center), "modality": "tomography"},
    )
    # the energy is not needed to reconstruct; it is recorded when known (file or option), never guessed
    if energy is not None:
        ds.attrs["energy_kev"] = float(energy)
    parameters = {
        "center_px": float(center),
        "voxel_size_um": float(voxel),
        "stripes": stripes,
        "layout": scan.layout,
        "energy_kev": None if energy is None else float(energy),
        "angle_range_deg": tiff_options.get("angle_range_deg"),
    }
    target = write_results(ds, out, parameters=parameters, inputs=[path], overwrite=overwrite)
    typer.echo(f"{target}: {volume.shape[0]} slices of {n} x {n} voxels ({voxel} µm), centre {center:.2f} px")


def _voxel_size(ds: xr.Dataset, given: float | None, path: Path) -> float:
    from operando.errors import MissingMetadataError

    voxel = given if given is not None else ds.attrs.get("voxel_size_um")
    if voxel is None:
        raise MissingMetadataError("the store records no voxel size; give --voxel-size-um", path=path)
    return float(voxel)


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
        Path | None, typer.Option("--classifier", help="Interphase classifier (.joblib) from an earlier --train.")
    ] = None,
    train: Annotated[
        Path | None,
        typer.Option("--train", help="Label TIFF (z, y, x) of the volume's shape, 255 = unlabelled: train first."),
    ] = None,
    save_classifier: Annotated[
        Path | None, typer.Option("--save-classifier", help="Where to write the classifier trained with --train.")
    ] = None,
    variable: Annotated[str, typer.Option("--variable", help="Variable of the volume store.")] = "attenuation",
    voxel_size_um: Annotated[
        float | None, typer.Option("--voxel-size-um", help="Voxel size in µm when the store does not record it.")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
) -> None:
    """Label lithium, voids, pores, interphase and electrolyte (thresholds from the histogram unless given)."""
    import dataclasses
    import json

    import numpy as np
    import xarray as xr

    from operando.errors import ParameterError
    from operando.store import open_results, write_results
    from operando.tomo import (
        Thresholds,
        auto_thresholds,
        load_classifier,
        segment_cell,
        train_interphase_classifier,
    )

    ds = open_results(volume)
    if variable not in ds:
        raise ParameterError(f"no variable {variable!r} (has {', '.join(map(str, ds.data_vars))})", path=volume)
    vol = ds[variable].data
    voxel = _voxel_size(ds, voxel_size_um, volume)
    given = {"void": void_threshold, "lithium": li_threshold, "electrolyte": electrolyte_threshold}
    given["collector"] = float("inf") if no_collector else collector_threshold
    if all(v is not None for v in given.values()):
        thresholds = Thresholds(**{k: float(v) for k, v in given.items() if v is not None})
    else:
        auto = auto_thresholds(vol, collector=not no_collector)
        thresholds = dataclasses.replace(auto, **{k: float(v) for k, v in given.items() if v is not None})
    inputs: list[Path] = []
    model = None
    if train is not None:
        import tifffile

        labels_train = np.asarray(tifffile.imread(train))
        if labels_train.shape != vol.shape:
            raise ParameterError(f"labels of shape {labels_train.shape}; the volume is {vol.shape}", path=train)
        model = train_interphase_classifier(np.asarray(vol), labels_train)
        inputs.append(train)
        if save_classifier is not None:
            model.save(save_classifier)
    elif classifier is not None:
        model = load_classifier(classifier)
        inputs.append(classifier)
    labels = segment_cell(vol, thresholds=thresholds, classifier=model)
    codes = {"electrolyte": 0, "lithium": 1, "void": 2, "pore": 3, "interphase": 4, "collector_or_background": 5}
    result = xr.Dataset(
        {"labels": (("z", "y", "x"), labels, {"flag_values": list(codes.values()), "flag_meanings": " ".join(codes)})},
        coords={c: ds[c] for c in ("z", "y", "x") if c in ds.coords},
        attrs={
            "operando_kind": "tomo-segmentation",
            "voxel_size_um": voxel,
            "label_codes": json.dumps(codes),
            "thresholds": json.dumps(dataclasses.asdict(thresholds)),
        },
    )
    parameters = {
        "volume": str(volume),
        "variable": variable,
        "voxel_size_um": voxel,
        "thresholds": dataclasses.asdict(thresholds),
        "classifier": str(classifier) if classifier else None,
        "train": str(train) if train else None,
    }
    target = write_results(result, out, parameters=parameters, inputs=inputs, overwrite=overwrite)
    counts = np.bincount(np.asarray(open_results(target)["labels"].values).ravel(), minlength=6)
    v_mm3 = (voxel * 1e-3) ** 3
    typer.echo(
        f"{target}: Li {counts[1] * v_mm3:.4g} mm3, voids {counts[2] * v_mm3:.4g} mm3, "
        f"interphase {counts[4] * v_mm3:.4g} mm3 (thresholds void {thresholds.void:.4g}, Li {thresholds.lithium:.4g}, "
        f"electrolyte {thresholds.electrolyte:.4g}, collector {thresholds.collector:.4g})"
    )


def _interface_dataset(labels: Any, voxel: float, void_distance: int, small_region_mm2: float) -> xr.Dataset:
    from operando.tomo import analyse_interfaces, cell_quantities

    res = analyse_interfaces(
        labels, voxel_size_um=voxel, void_distance_px=void_distance, small_region_mm2=small_region_mm2
    )
    q = cell_quantities(labels, voxel_size_um=voxel)
    return res.merge(q, compat="override", combine_attrs="override")


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
) -> None:
    """Contact map, contact area and regions of both Li/electrolyte interfaces, with volumes and thicknesses."""
    from operando.errors import ParameterError
    from operando.store import open_results, write_results

    ds = open_results(seg)
    if "labels" not in ds:
        raise ParameterError("no 'labels' variable: not a segmentation store", path=seg)
    voxel = _voxel_size(ds, voxel_size_um, seg)
    res = _interface_dataset(ds["labels"].data, voxel, void_distance, small_region_mm2)
    parameters = {
        "segmentation": str(seg),
        "voxel_size_um": voxel,
        "void_distance_px": void_distance,
        "small_region_mm2": small_region_mm2,
    }
    target = write_results(res, out, parameters=parameters, overwrite=overwrite)
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
    stripes: Annotated[
        bool, typer.Option("--stripes/--no-stripes", help="Remove stripes (off: it erases axis-centred voids).")
    ] = False,
    classifier: Annotated[Path | None, typer.Option("--classifier", help="Interphase classifier (.joblib).")] = None,
    void_distance: Annotated[int, typer.Option("--void-distance", help="Contact definition, voxels.")] = 5,
    small_region_mm2: Annotated[float, typer.Option("--small-region-mm2", help="Small contact region, mm2.")] = 0.02,
    dvc: Annotated[
        bool, typer.Option("--dvc", help="Also the displacement field in the electrolyte between consecutive scans.")
    ] = False,
    dvc_subvolume: Annotated[int, typer.Option("--dvc-subvolume", help="DVC subvolume edge, voxels.")] = 32,
    dvc_step: Annotated[int, typer.Option("--dvc-step", help="DVC grid step, voxels.")] = 16,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
) -> None:
    """Recon -> segment -> interface -> quantities for every scan, resumable, on the echem record."""
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
        stripes=stripes,
        void_distance_px=void_distance,
        small_region_mm2=small_region_mm2,
        dvc=dvc,
        dvc_subvolume_vox=dvc_subvolume,
        dvc_step_vox=dvc_step,
    )
    model = load_classifier(classifier) if classifier is not None else None
    target = process_series(scans, out, options=options, classifier=model, record=record, overwrite=overwrite)
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
) -> None:
    """Fit the Butler–Volmer symmetric-cell model with the measured contact areas, predict the rest."""
    import numpy as np

    from operando import echem as echem_io
    from operando.errors import MissingMetadataError, ParameterError
    from operando.store import open_results, write_results

    fit_window = _window(fit, "--fit")
    predict_window = _window(predict, "--predict") if predict is not None else None
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
    )
    ds, result = echem_io.model_tomo_series(
        series.load(),
        record.time_s,
        record.current_mA,
        record.voltage_V,
        model=cell,
        fit_window_s=fit_window,
        predict_window_s=predict_window,
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
    if figure is not None:
        from operando.report import plot_cell_model

        fig = plot_cell_model(ds, fit_window_s=fit_window)
        fig.savefig(figure, dpi=120)
        typer.echo(str(figure))
    typer.echo(str(target))
