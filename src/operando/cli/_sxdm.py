"""``operando sxdm``: K-maps from ESRF ID01 Bliss files to strain and tilt maps."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Scanning X-ray diffraction microscopy (ID01 K-maps).", no_args_is_help=True)


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


@app.command("process")
def process(
    path: Annotated[Path, typer.Argument(help="Bliss master file (one scan N.1 per rocking angle).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Zarr store to write.")],
    scans: Annotated[str | None, typer.Option("--scans", help="Scan numbers, e.g. 1-30.")] = None,
    reflection: Annotated[str | None, typer.Option("--reflection", help="Miller indices, e.g. 400.")] = None,
    background: Annotated[
        str, typer.Option("--background", help="global, frame, none or counts per pixel.")
    ] = "global",
    threshold: Annotated[float, typer.Option("--threshold", help="Intensity mask, fraction of the maximum.")] = 0.2,
    echem: Annotated[
        Path | None,
        typer.Option("--echem", help="Potentiostat file: the map gets the voltage, capacity, x(Li) it was taken at."),
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
) -> None:
    """Reduce a K-map (3D centre of mass of Q per point) and write d-spacing, strain and tilt maps."""
    from operando.store import write_results
    from operando.sxdm import parse_reflection, process_kmap

    bg: str | float = background if background in ("global", "frame", "none") else float(background)
    hkl = parse_reflection(reflection) if reflection else None
    maps, parameters = process_kmap(
        path,
        scans=_scan_range(scans),
        reflection=hkl,
        background=bg,  # type: ignore[arg-type]
        intensity_threshold=threshold,
    )
    inputs = [path]
    if echem is not None:
        from operando import echem as echem_io
        from operando.sxdm import place_on_record

        maps = place_on_record(maps, echem_io.read(echem))
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
