"""``operando sxdm``: K-maps from ESRF ID01 Bliss files to strain and tilt maps."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from operando.cli._options import QuietOption, SchedulerOption, WorkersOption, check_output, run_on

if TYPE_CHECKING:
    import xarray as xr

    from operando.pipelines.sxdm import PhaseMode
    from operando.sxdm import BackgroundMode

app: typer.Typer = typer.Typer(help="Scanning X-ray diffraction microscopy (ID01 K-maps).", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Scanning X-ray diffraction microscopy (ID01 K-maps)."""


def _scan_range(text: str | None) -> list[int] | None:
    """``"1-30"`` or ``"1,3,5-9"`` -> scan numbers."""
    from operando.errors import ParameterError

    if not text:
        return None
    out: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            out.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise ParameterError(f"--scans must be like 1-30 or 1,3,5-9, got {text!r}") from None
    return out


def _background(text: str) -> BackgroundMode | float:
    """``global``, ``frame``, ``none`` or a number of counts per pixel."""
    from operando.errors import ParameterError

    if text in ("global", "frame", "none"):
        return cast("BackgroundMode", text)
    try:
        return float(text)
    except ValueError:
        raise ParameterError(f"--background must be global, frame, none or counts per pixel, got {text!r}") from None


ScansOption = Annotated[str | None, typer.Option("--scans", help="Scan numbers (in every file), e.g. 1-30.")]
ReflectionOption = Annotated[str | None, typer.Option("--reflection", help="Miller indices, e.g. 400.")]
BackgroundOption = Annotated[str, typer.Option("--background", help="global, frame, none or counts per pixel.")]
ThresholdOption = Annotated[float, typer.Option("--threshold", help="Intensity mask, fraction of the maximum.")]
DriftOption = Annotated[
    bool, typer.Option("--drift/--no-drift", help="Correct the drift between rocking angles (cross-correlation).")
]
DetectorOption = Annotated[
    str | None,
    typer.Option(
        "--detector", help="Area detector in the file (mpx1x4, mpxgaas, eiger2M); default: the only image dataset."
    ),
]
MedianOption = Annotated[
    str | None,
    typer.Option(
        "--median",
        help=(
            "Median of each detector frame as XSOCS computes it: an even size k spans k-1 pixels, "
            "so 2x2 (the paper's) leaves frames unchanged; 3x3 removes zingers."
        ),
    ),
]
MedianPointsOption = Annotated[
    str | None,
    typer.Option("--median-points", help="Median of each pixel over neighbouring scan points (spatial), e.g. 2x2."),
]
MaskOption = Annotated[
    Path | None, typer.Option("--mask", help="Detector mask file (EDF, .npy or TIFF; nonzero = bad), added.")
]
MonitorOption = Annotated[
    str,
    typer.Option("--monitor", help="Counter normalising each frame: auto (mon1.. or ring current), none, or a name."),
]
WidePixelsOption = Annotated[
    bool, typer.Option("--wide-pixels", help="Maxipix 2x2: spread the wide pixels' counts over the chip gap.")
]
FollowOption = Annotated[
    bool,
    typer.Option(
        "--follow-external-links",
        help="Read data that HDF5 external links, virtual-dataset sources or external storage of the master take "
        "from outside its folder. Off by default: a master file can point anywhere on disk, so links are "
        "followed only inside its own folder tree (where Bliss writes the Lima files).",
    ),
]
PhasesOption = Annotated[
    str,
    typer.Option(
        "--phases",
        help="Two lattice phases in one scan point, from each point's radial |Q| profile: auto (where the "
        "map's summed profile shows two populations), on or off.",
    ),
]


def _phases(text: str) -> PhaseMode:
    from operando.errors import ParameterError

    if text not in ("auto", "on", "off"):
        raise ParameterError(f"--phases must be auto, on or off, got {text!r}")
    return cast("PhaseMode", text)


def _median(text: str | None) -> tuple[int, int] | None:
    from operando.sxdm import parse_window

    return parse_window(text) if text else None


@app.command("process")
def process(
    path: Annotated[Path, typer.Argument(help="Bliss master file or SPEC file (one scan per rocking angle).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Zarr store to write.")],
    scans: ScansOption = None,
    reflection: ReflectionOption = None,
    background: BackgroundOption = "global",
    threshold: ThresholdOption = 0.2,
    drift: DriftOption = False,
    median: MedianOption = None,
    median_points: MedianPointsOption = None,
    mask: MaskOption = None,
    wide_pixels: WidePixelsOption = False,
    phases: PhasesOption = "auto",
    monitor: MonitorOption = "auto",
    widths: Annotated[bool, typer.Option("--widths", help="Add the 3D peak widths (second moments of Q).")] = False,
    detector: DetectorOption = None,
    follow_external_links: FollowOption = False,
    echem: Annotated[
        Path | None,
        typer.Option("--echem", help="Potentiostat file: the map gets the voltage, capacity, x(Li) it was taken at."),
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Reduce a K-map (3D centre of mass of Q per point) and write d-spacing, strain and tilt maps."""
    check_output(out, [path, echem, mask], overwrite=overwrite)
    from operando.pipelines.sxdm import kmap_data_files, parse_reflection, process_kmap
    from operando.store import write_results

    scan_numbers, hkl = _scan_range(scans), parse_reflection(reflection) if reflection else None
    bg, window = _background(background), _median(median)
    with run_on(scheduler, workers, quiet=quiet, description="K-map"):
        record = None
        if echem is not None:
            from operando import echem as echem_io

            record = echem_io.read(echem)
        maps, parameters = process_kmap(
            path,
            scans=scan_numbers,
            reflection=hkl,
            background=bg,
            intensity_threshold=threshold,
            drift_correction=drift,
            median_filter=window,
            widths=widths,
            record=record,
            detector=detector,
            median_points=_median(median_points),
            mask_file=mask,
            wide_pixels=wide_pixels,
            phases=_phases(phases),
            monitor=monitor,
            follow_external_links=follow_external_links,
        )
        inputs: list[str | os.PathLike[str]] = [path, *([mask] if mask is not None else [])]
        inputs += kmap_data_files(
            path, scans=scan_numbers, detector=detector, follow_external_links=follow_external_links
        )
        if echem is not None:
            inputs.append(echem)
            parameters["echem"] = str(echem)
        target = write_results(maps, out, parameters=parameters, inputs=inputs, overwrite=overwrite)
    n = int(maps["mask"].sum())
    typer.echo(
        f"{target}: {maps.sizes['y']} x {maps.sizes['x']} points, {n} in the crystal, "
        f"mean d = {float(maps.d_spacing_mean):.5f} Å, microstrain = {float(maps.microstrain):.2e}, "
        f"max misorientation = {float(maps.max_misorientation):.4f} deg"
    )
    if echem is not None:
        typer.echo(
            f"taken at {float(maps.echem_voltage_V):.4f} V, {float(maps.echem_charge_mAh):.4g} mA h, "
            f"x(Li) = {float(maps.echem_x_li):.3f} ({maps.echem_label.item()})"
        )


@app.command("series")
def series(
    paths: Annotated[
        list[Path], typer.Argument(help="Bliss master or SPEC files, one K-map each, in the order they were measured.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Zarr store to write (dimension frame).")],
    scans: ScansOption = None,
    reflection: ReflectionOption = None,
    background: BackgroundOption = "global",
    threshold: ThresholdOption = 0.2,
    drift: DriftOption = False,
    median: MedianOption = None,
    median_points: MedianPointsOption = None,
    mask: MaskOption = None,
    wide_pixels: WidePixelsOption = False,
    phases: PhasesOption = "auto",
    monitor: MonitorOption = "auto",
    detector: DetectorOption = None,
    follow_external_links: FollowOption = False,
    register: Annotated[
        bool,
        typer.Option("--register/--no-register", help="Move every map onto the reference map's crystal position."),
    ] = True,
    reference: Annotated[int, typer.Option("--reference", help="Index of the map whose grid and frame are kept.")] = 0,
    echem: Annotated[
        Path | None,
        typer.Option("--echem", help="Potentiostat file: each map gets the voltage, capacity, x(Li) it was taken at."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing store, discard progress.")
    ] = False,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Process several K-maps (one master file each) into one series along the charge.

    Resumable: maps already done are kept in ``OUT.partial`` and skipped when the same
    command is run again. Scan grids are matched by the scan commands' motor ranges (the
    readback jitter is recorded); a map scanned over another window is resampled onto the
    reference's grid, and every map is registered to the reference's crystal position.
    """
    check_output(out, [*paths, echem, mask], overwrite=overwrite)
    from operando.pipelines.sxdm import parse_reflection, process_series
    from operando.store import open_results

    scan_numbers, hkl = _scan_range(scans), parse_reflection(reflection) if reflection else None
    bg, window = _background(background), _median(median)
    with run_on(scheduler, workers, quiet=quiet, description="K-maps"):
        record = None
        if echem is not None:
            from operando import echem as echem_io

            record = echem_io.read(echem)
        target = process_series(
            paths,
            out,
            scans=scan_numbers,
            reflection=hkl,
            background=bg,
            intensity_threshold=threshold,
            drift_correction=drift,
            median_filter=window,
            record=record,
            overwrite=overwrite,
            progress=not quiet,
            detector=detector,
            register=register,
            reference=reference,
            median_points=_median(median_points),
            mask_file=mask,
            wide_pixels=wide_pixels,
            phases=_phases(phases),
            monitor=monitor,
            follow_external_links=follow_external_links,
        )
    ds = open_results(target)
    typer.echo(f"{target}: {ds.sizes['frame']} maps of {ds.sizes['y']} x {ds.sizes['x']} points")
    for k in range(ds.sizes["frame"]):
        row = ds.isel(frame=k)
        line = f"  {k}: {Path(str(row['key'].values)).name}  mean d = {float(row.d_spacing_mean):.5f} Å"
        if "shift_y" in ds:
            line += f"  shift ({float(row.shift_y):+.2f}, {float(row.shift_x):+.2f}) points"
        if "echem_voltage_V" in ds:
            line += f"  {float(row.echem_voltage_V):.4f} V  x(Li) = {float(row.echem_x_li):.3f}"
        typer.echo(line)


def _frames(text: str | None) -> list[int] | None:
    """``"0,3,7"`` -> [0, 3, 7] (map indices; negative ones count from the end)."""
    from operando.errors import ParameterError

    if not text:
        return None
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ParameterError(f"--frames must be map indices like 0,3,7, got {text!r}") from None


def _point(text: str | None) -> tuple[int, int] | None:
    """``"12,30"`` -> (12, 30): row (y) and column (x) of a scan point."""
    from operando.errors import ParameterError

    if not text:
        return None
    try:
        y, x = (int(p) for p in text.split(","))
    except ValueError:
        raise ParameterError(f"--point must be a scan point's row and column like 12,30, got {text!r}") from None
    return y, x


def _point_source(
    store: Path, maps: xr.Dataset, point: tuple[int, int], frame: int, kmap: Path | None
) -> tuple[xr.Dataset, Path, tuple[int, int], str, str | None]:
    """Where ``--point`` is read, checked before anything is drawn: the map, the raw K-map,
    the raw scan point (a registered series map showed at ``p - shift`` what the reference
    shows at ``p``), a note saying so, and the detector the store was made with."""
    import json

    from operando.errors import ParameterError
    from operando.report import select_frames

    try:
        one = select_frames(maps, [frame]).isel(frame=0)
    except ParameterError as err:
        raise ParameterError(f"--point-frame: {err}", path=store) from None
    ny, nx = one.sizes["y"], one.sizes["x"]
    y, x = point
    if not (0 <= y < ny and 0 <= x < nx):
        raise ParameterError(f"--point {y},{x} is outside the {ny} x {nx} maps", path=store)
    raw_y, raw_x, moved = y, x, ""
    if "frame" in maps.dims:
        if kmap is None:
            kmap = Path(str(one["key"].values)) if "key" in one else None
        resampled = list(maps.attrs.get("resampled", []))
        k = frame % maps.sizes["frame"]
        if k < len(resampled) and resampled[k]:
            raise ParameterError(
                f"map {k} was resampled onto another grid: its scan points are not the store's", path=store
            )
        if "shift_y" in one and bool(one.get("registered", True)):
            # the map at p - shift showed what the reference shows at p (pipelines.sxdm.align_series)
            raw_y, raw_x = round(y - float(one.shift_y)), round(x - float(one.shift_x))
            moved = f" (registered; raw point {raw_y},{raw_x})"
    elif kmap is None and "source" in maps.attrs:
        kmap = Path(str(maps.attrs["source"]))
    if kmap is None or not kmap.is_file():
        raise ParameterError(f"the raw K-map of the store is not found ({kmap}); give it with --kmap", path=store)
    if not (0 <= raw_y < ny and 0 <= raw_x < nx):
        raise ParameterError(f"--point {y},{x} falls outside the raw map {kmap} once registered", path=store)
    params = json.loads(str(maps.attrs.get("operando_parameters", "{}")))
    named = params.get("detector")
    detector = params.get("detector_name") or (named if isinstance(named, str) else None)
    return one, kmap, (raw_y, raw_x), moved, detector


def _point_figure(
    source: tuple[xr.Dataset, Path, tuple[int, int], str, str | None], point: tuple[int, int], frame: int, out: Path
) -> list[Path]:
    """Grid the frames of one scan point into a q-space cube (XSOCS binning, written beside
    the figures as an XSOCS qspace file) and draw its three projections."""
    import numpy as np

    from operando.pipelines.sxdm import qspace_cube
    from operando.report import plot_point_qspace, save_figure

    one, kmap, (raw_y, raw_x), moved, detector = source
    y, x = point
    target = out / f"point_y{y}_x{x}_frame{frame}_qspace.h5"
    _, cube = qspace_cube(
        kmap, target, points=(slice(raw_y, raw_y + 1), slice(raw_x, raw_x + 1)), overwrite=True, detector=detector
    )
    fitted = tuple(float(one[c].values[y, x]) for c in ("qx", "qy", "qz"))
    fig = plot_point_qspace(
        cube,
        one,
        point=point,
        fitted_q=fitted if all(np.isfinite(fitted)) else None,  # type: ignore[arg-type]
        title=f"{kmap.name}, point y={y}, x={x}{moved}: reciprocal space (red: fitted centre of mass)",
    )
    return [target, *save_figure(fig, out / f"qspace_point_y{y}_x{x}_frame{frame}")]


@app.command("figures")
def figures(
    stores: Annotated[
        list[Path],
        typer.Argument(
            help="Maps store(s) from 'sxdm process' (y, x) or 'sxdm series' (frame); several: population statistics."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the figures (PNG and SVG).")],
    max_tilt: Annotated[
        float | None, typer.Option("--max-tilt", help="Tilt (deg) of full colour saturation; default 99th percentile.")
    ] = None,
    frames: Annotated[
        str | None, typer.Option("--frames", help="Maps whose tilt maps are drawn on one colour wheel, e.g. 0,3,7.")
    ] = None,
    point: Annotated[
        str | None,
        typer.Option(
            "--point", help="Scan point Y,X (row, column): its 3D intensity around the Bragg peak, projected."
        ),
    ] = None,
    point_frame: Annotated[int, typer.Option("--point-frame", help="Map of a series that --point is taken in.")] = 0,
    kmap: Annotated[
        Path | None,
        typer.Option("--kmap", help="Raw K-map for --point (default: the one the store was made from)."),
    ] = None,
    population: Annotated[
        bool, typer.Option("--population", help="Largest misorientation per map, over all stores given.")
    ] = False,
    labels: Annotated[
        str | None,
        typer.Option("--labels", help="One label per store for --population (e.g. pristine,60,90); default names."),
    ] = None,
    keep: Annotated[
        float,
        typer.Option(
            "--keep", help="Percentile of deviation from the median Q direction up to which points count (100: all)."
        ),
    ] = 99.0,
) -> None:
    """Draw the intensity, d-spacing, misorientation, pole-figure and histogram figures of a store,
    intensity and phase fraction against charge for a series, and on request the tilt maps of
    chosen maps (--frames), one point's reciprocal space (--point) and, for several stores
    (or --population), the largest misorientation inside each crystal across the population."""
    import numpy as np

    from operando.errors import ParameterError

    check_output(out, [*stores, kmap], overwrite=True)
    from operando.report import (
        misorientation_population,
        plot_misorientation_population,
        save_figure,
        save_sxdm_figures,
        select_frames,
    )
    from operando.store import open_results

    chosen, where = _frames(frames), _point(point)
    names = [p.name for p in stores]
    if labels is not None:
        names = [p.strip() for p in labels.split(",")]
        if len(names) != len(stores):
            raise ParameterError(f"--labels gives {len(names)} labels for {len(stores)} stores")
    if not 0.0 < keep <= 100.0:
        raise ParameterError(f"--keep must be a percentile in (0, 100], got {keep}")
    if len(stores) > 1 and (chosen is not None or where is not None):
        raise ParameterError("--frames and --point draw one store's maps: give a single store")
    written: list[Path] = []
    if len(stores) > 1 or population:
        pop = misorientation_population(
            [(n, open_results(p).load()) for n, p in zip(names, stores, strict=True)], keep=keep
        )
        out.mkdir(parents=True, exist_ok=True)
        table = out / "misorientation_population.csv"
        with table.open("w", encoding="utf-8") as fh:
            fh.write(f"# largest misorientation per map; points within the {keep:g}th percentile of deviation\n")
            fh.write("label,store,frame,max_misorientation_deg,n_points,n_kept\n")
            for k in range(pop.sizes["map"]):
                row = pop.isel(map=k)
                fh.write(
                    f"{row.label.item()},{stores[int(row.store)]},{int(row.frame)},"
                    f"{float(row.max_misorientation_deg):.5f},{int(row.n_points)},{int(row.n_kept)}\n"
                )
        written += [table, *save_figure(plot_misorientation_population(pop), out / "misorientation_population")]
        for name in dict.fromkeys(pop.label.values.tolist()):
            v = pop.max_misorientation_deg.values[pop.label.values == name]
            typer.echo(
                f"{name}: {v.size} maps, largest misorientation median {float(np.nanmedian(v)):.4f} deg, "
                f"max {float(np.nanmax(v)):.4f} deg"
            )
    if len(stores) == 1:
        maps = open_results(stores[0]).load()
        if chosen is not None:
            try:
                select_frames(maps, chosen)
            except ParameterError as err:
                raise ParameterError(f"--frames: {err}", path=stores[0]) from None
        source = _point_source(stores[0], maps, where, point_frame, kmap) if where is not None else None
        for paths in save_sxdm_figures(maps, out, max_tilt_deg=max_tilt, frames=chosen).values():
            written += paths
        if source is not None and where is not None:
            written += _point_figure(source, where, point_frame, out)
    for path in written:
        typer.echo(str(path))


def _bins(text: str) -> tuple[int, int, int]:
    """``"50x100x100"`` -> (50, 100, 100)."""
    from operando.errors import ParameterError

    try:
        n = tuple(int(p) for p in text.lower().split("x"))
    except ValueError:
        n = ()
    if len(n) != 3 or min(n) < 2:
        raise ParameterError(f"--bins must be three counts >= 2 like 50x100x100, got {text!r}")
    return n[0], n[1], n[2]


def _region(text: str | None) -> tuple[slice, slice] | None:
    """``"y0:y1,x0:x1"`` (scan-point indices, half-open) -> two slices."""
    from operando.errors import ParameterError

    if not text:
        return None
    try:
        ys, xs = text.split(",")
        out = []
        for part in (ys, xs):
            lo, _, hi = part.partition(":")
            out.append(slice(int(lo) if lo.strip() else None, int(hi) if hi.strip() else None))
    except ValueError:
        raise ParameterError(f"--points must be like 10:20,5:15 (rows, columns), got {text!r}") from None
    return out[0], out[1]


@app.command("qspace")
def qspace(
    path: Annotated[Path, typer.Argument(help="Bliss master, XSOCS master or SPEC file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="XSOCS q-space HDF5 file to write.")],
    scans: ScansOption = None,
    bins: Annotated[str, typer.Option("--bins", help="Bins along qx, qy, qz, e.g. 50x100x100.")] = "50x100x100",
    points: Annotated[
        str | None, typer.Option("--points", help="Region of scan points rows:rows,cols:cols (default all).")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing file.")] = False,
    detector: DetectorOption = None,
    follow_external_links: FollowOption = False,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Grid each scan point's frames into a q-space cube (XSOCS binning) and write XSOCS's qspace.h5 layout."""
    check_output(out, [path], overwrite=overwrite)
    import numpy as np

    from operando.pipelines.sxdm import qspace_cube

    shape, region = _bins(bins), _region(points)
    with run_on(scheduler, workers, quiet=quiet, description="q-space"):
        target, cube = qspace_cube(
            path,
            out,
            scans=_scan_range(scans),
            shape=shape,
            points=region,
            overwrite=overwrite,
            detector=detector,
            follow_external_links=follow_external_links,
        )
    total = cube.qspace.sum("point").values
    peak = np.unravel_index(int(total.argmax()), total.shape)
    at = ", ".join(f"{ax} = {float(cube[ax][i]):.4f}" for ax, i in zip(("qx", "qy", "qz"), peak, strict=True))
    typer.echo(f"{target}: {cube.sizes['point']} points x {bins} bins, summed peak at {at} 1/Å")
