"""``operando mri``: MRI time series of lithium cells to per-layer amounts, growth rates and stages."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from operando.cli._options import QuietOption, SchedulerOption, WorkersOption, check_output, run_on

app: typer.Typer = typer.Typer(help="MRI of lithium cells: depth layers, growth rates, stages.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """MRI of lithium cells."""


def _electrodes(text: str | None) -> tuple[float, float] | None:
    from operando.errors import ParameterError

    if text is None:
        return None
    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise ParameterError(f"--electrodes takes two depths in mm as A,B, got {text!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)) or a == b:
        raise ParameterError(f"--electrodes {text}: two finite, different depths in mm")
    return a, b


@app.command("layers")
def layers(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="TopSpin 1D profile exports, or NIfTI / ParaVision images (each repetition of a scan is a frame)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Zarr store of the 'mri-layers' dataset.")],
    voltage: Annotated[
        Path | None, typer.Option("--voltage", help="Zahner POL.txt log (time h, V, mA) on the frames' clock.")
    ] = None,
    echem: Annotated[Path | None, typer.Option("--echem", help="Any potentiostat file operando reads.")] = None,
    n_layers: Annotated[int, typer.Option("--layers", help="Equal layers between the electrodes.")] = 5,
    electrodes: Annotated[
        str | None, typer.Option("--electrodes", help="Electrode faces A,B in mm (default: found from the profile).")
    ] = None,
    fov_mm: Annotated[float, typer.Option("--fov-mm", help="Read field of view of 1D profiles (mm).")] = 4.0,
    seconds_per_frame: Annotated[
        float | None,
        typer.Option(
            "--seconds-per-frame",
            help="Time of one profile/image (s); default: the images' recorded frame time, 513 s for TopSpin profiles.",
        ),
    ] = None,
    t0_s: Annotated[float, typer.Option("--t0-s", help="Start of the first frame on the echem clock (s).")] = 0.0,
    depth_axis: Annotated[str, typer.Option("--depth-axis", help="Image axis across the cell (images).")] = "x",
    magnitude: Annotated[
        bool, typer.Option("--magnitude/--real", help="Magnitude data (Rayleigh noise) or phased real data.")
    ] = True,
    noise: Annotated[
        str, typer.Option("--noise", help="'temporal' (frame differences, correlated) or 'spatial' (white, per frame).")
    ] = "temporal",
    normalise: Annotated[
        str, typer.Option("--normalise", help="'first' (each layer / its first frame) or 'none'.")
    ] = "first",
    displacement_px: Annotated[
        float, typer.Option("--displacement-px", help="Read displacement of the resonance to undo (voxels).")
    ] = 0.0,
    window: Annotated[
        int, typer.Option("--window", help="Longest window (frames) of the local straight-line rate fits.")
    ] = 7,
    n_stages: Annotated[
        int, typer.Option("--stages", help="Growth stages to find before the short circuit (0: none).")
    ] = 4,
    stage_signal: Annotated[
        str, typer.Option("--stage-signal", help="'total', 'rate' or 'gradient' (first minus last layer).")
    ] = "total",
    short_frame: Annotated[
        int | None,
        typer.Option(
            "--short-frame", help="First frame after a short circuit known otherwise (default: from the voltage)."
        ),
    ] = None,
    figures: Annotated[Path | None, typer.Option("--figures", help="Folder for the PNG figures.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Amount per depth layer with error bars, growth rate, stages I-IV and the short circuit."""
    from operando.pipelines.mri import layers_from_files, stage_table, uncovered_frames

    check_output(out, [*inputs, voltage, echem], overwrite=overwrite)
    if figures is not None:
        check_output(figures, [*inputs, voltage, echem, out], overwrite=True, option="--figures")

    with run_on(scheduler, workers, quiet=quiet, description="mri layers"):
        run = layers_from_files(
            inputs,
            out,
            voltage=voltage,
            echem=echem,
            n_layers=n_layers,
            electrodes_mm=_electrodes(electrodes),
            fov_mm=fov_mm,
            seconds_per_frame=seconds_per_frame,
            t0_s=t0_s,
            depth_axis=depth_axis,
            magnitude=magnitude,
            noise=noise,  # type: ignore[arg-type]
            normalise=normalise,  # type: ignore[arg-type]
            displacement_px=displacement_px,
            window=window,
            n_stages=n_stages,
            stage_signal=stage_signal,  # type: ignore[arg-type]
            short_frame=short_frame,
            overwrite=overwrite,
        )
    ds, target = run.dataset, run.store
    a, b = ds.attrs["electrodes_mm"]
    typer.echo(
        f"{target}: {ds.sizes['frame']} frames, {n_layers} layers between {a:.3f} and {b:.3f} mm, "
        f"noise sigma {float(ds['noise_sigma'].mean()):.4g} per voxel"
    )
    for row in stage_table(ds):
        typer.echo(
            f"  stage {row['stage']}: frames {row['first_frame']}-{row['last_frame']} "
            f"({row['t_start_s'] / 3600:.2f}-{row['t_end_s'] / 3600:.2f} h), "
            + (f"mean V {v:.3f}" if math.isfinite(v := row["mean_voltage_V"]) else "no voltage recorded")
        )
    empty = uncovered_frames(ds)
    if empty.size:  # the stages' "mean V" and the short detection see only the covered frames
        t = ds["time_s"].values / 3600
        typer.echo(
            f"  note: {empty.size} of {t.size} frames ({t[empty].min():.2f}-{t[empty].max():.2f} h) lie outside the "
            "echem record's time and have no voltage; --t0-s puts the frames on the record's clock",
            err=True,
        )
    if ds.attrs["short_circuit_frame"] >= 0:
        typer.echo(f"  short circuit at frame {ds.attrs['short_circuit_frame']}")
    if figures is not None:
        from operando.report import save_mri_figures

        for path in save_mri_figures(ds, figures):
            typer.echo(f"  figure {path}")


def _window(text: str, option: str) -> tuple[float, float]:
    from operando.errors import ParameterError

    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise ParameterError(f"{option} takes two shifts in ppm as A,B, got {text!r}") from None
    return a, b


@app.command("csi")
def csi(
    scan: Annotated[
        Path, typer.Argument(help="ParaVision CSI scan folder (fid, acqp, method) or TopSpin set (ser, acqus, ...).")
    ],
    metal_ppm: Annotated[
        str, typer.Option("--metal-ppm", help="Integration window of the metal line A,B (ppm).")
    ] = "200,320",
    electrolyte_ppm: Annotated[
        str, typer.Option("--electrolyte-ppm", help="Integration window of the electrolyte line A,B (ppm).")
    ] = "-50,50",
    line_broadening_hz: Annotated[float, typer.Option("--lb-hz", help="Exponential line broadening (Hz).")] = 0.0,
    phase_deg: Annotated[float, typer.Option("--phase-deg", help="Zero-order phase (degrees).")] = 0.0,
    fov_mm: Annotated[
        str | None,
        typer.Option("--fov-mm", help="Field of view per phase axis A,B[,C] in mm (needed for TopSpin ser sets)."),
    ] = None,
    figures: Annotated[
        Path | None, typer.Option("--figures", help="Folder for cross-sections and histograms (PNG).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Zarr store of the 'mri-csi' maps (shown by the report).")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
) -> None:
    """3D chemical-shift imaging from the raw k-space: metal and electrolyte maps, totals, figures, a store."""
    import numpy as np

    from operando.errors import ParameterError
    from operando.pipelines.mri import csi_from_scan

    if not (np.isfinite(line_broadening_hz) and line_broadening_hz >= 0):
        raise ParameterError(f"--lb-hz {line_broadening_hz:g}: must be 0 or more")
    if not np.isfinite(phase_deg):
        raise ParameterError(f"--phase-deg {phase_deg:g}: must be finite")
    if out is not None:
        check_output(out, [scan], overwrite=overwrite)
    if figures is not None:
        check_output(figures, [scan, *([out] if out is not None else [])], overwrite=True, option="--figures")
    extent = None
    if fov_mm is not None:
        try:
            extent = [float(v) for v in fov_mm.split(",")]
        except ValueError:
            raise ParameterError(f"--fov-mm takes lengths in mm as A,B[,C], got {fov_mm!r}") from None
    ds = csi_from_scan(
        scan,
        extent_mm=extent,
        metal_ppm=_window(metal_ppm, "--metal-ppm"),
        electrolyte_ppm=_window(electrolyte_ppm, "--electrolyte-ppm"),
        line_broadening_hz=line_broadening_hz,
        phase_deg=phase_deg,
    )
    sigma = float(ds["noise_sigma"])
    metal = ds["metal"].values
    n = int(metal.size)
    typer.echo(
        f"{ds.attrs['source']}: {' x '.join(str(s) for s in metal.shape)} voxels, "
        f"{ds.attrs['nucleus'] or 'nucleus ?'} at {ds.attrs['bf_MHz']:.4g} MHz"
    )
    typer.echo(
        f"  metal {float(metal.sum()):.4g} +/- {sigma * np.sqrt(n):.2g}, "
        f"electrolyte {float(ds['electrolyte'].values.sum()):.4g} +/- {sigma * np.sqrt(n):.2g} (ADC counts x ppm); "
        f"{int((metal > 5 * sigma).sum())} voxels hold metal above 5 sigma"
    )
    if out is not None:
        from operando.pipelines.mri import write_csi

        parameters = {"metal_ppm": list(_window(metal_ppm, "--metal-ppm")),
                      "electrolyte_ppm": list(_window(electrolyte_ppm, "--electrolyte-ppm")),
                      "line_broadening_hz": line_broadening_hz, "phase_deg": phase_deg, "fov_mm": extent}  # fmt: skip
        typer.echo(f"  store {write_csi(ds, out, parameters=parameters, overwrite=overwrite)}")
    if figures is not None:
        from operando.report import save_csi_figures

        for path in save_csi_figures(ds, figures):
            typer.echo(f"  figure {path}")
