"""``operando echem``: read, summarise, export and plot potentiostat/cycler files."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from operando.echem import EchemRecord

app = typer.Typer(help="Electrochemistry records (EC-Lab, BT-Lab, ...).", no_args_is_help=True)

TimezoneOption = Annotated[
    str, typer.Option("--timezone", help="IANA zone of the instrument PC's clock, for files that store local time.")
]
MapOption = Annotated[
    list[str] | None,
    typer.Option("--map", help="Plain CSV: CANONICAL=COLUMN, e.g. --map voltage_V='Voltage(V)'. Repeat per column."),
]
LenientOption = Annotated[
    bool,
    typer.Option(
        "--lenient",
        help="Read a file whose row count differs from the count it declares (or whose last row was cut) "
        "with the rows it holds; the difference is printed and kept in the record's metadata.",
    ),
]
NonfiniteOption = Annotated[
    str,
    typer.Option(
        "--nonfinite",
        help="NaN/inf time, voltage or current: 'refuse' the file (naming the first bad row) or 'flag' the rows "
        "(a boolean 'nonfinite' column).",
    ),
]
UnitOption = Annotated[
    list[str] | None,
    typer.Option("--unit", help="Plain CSV: CANONICAL=UNIT of that file column, e.g. --unit current_mA=A."),
]


def _pairs(items: list[str] | None, option: str) -> dict[str, str]:
    from operando.errors import ParameterError

    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"{option} expects CANONICAL=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def _read(
    path: Path,
    timezone: str,
    maps: list[str] | None = None,
    units: list[str] | None = None,
    *,
    lenient: bool = False,
    nonfinite: str = "refuse",
) -> EchemRecord:
    from operando import echem

    options: dict[str, object] = {"timezone": timezone}
    if maps:
        options["columns"] = _pairs(maps, "--map")
    if units:
        options["units"] = _pairs(units, "--unit")
    record = echem.read(path, lenient=lenient, nonfinite=nonfinite, **options)
    for key in ("lenient", "nonfinite_rows"):
        if key in record.meta.extra:
            typer.echo(f"warning: {path}: {record.meta.extra[key]}", err=True)
    return record


def _check_output(source: Path, out: Path, overwrite: bool) -> None:
    """Refuse an output that is the input file, or an existing file without ``--overwrite``."""
    from operando.errors import ParameterError

    if out.exists() and source.exists() and os.path.samefile(out, source):
        raise ParameterError(f"output {out} is the input file; choose another --out", path=source)
    if out.exists() and not overwrite:
        raise ParameterError(f"output {out} exists; pass --overwrite to replace it")
    if out.is_dir():
        raise ParameterError(f"output {out} is a folder; give a file name")


@app.command("info")
def info(
    path: Annotated[Path, typer.Argument(help="Potentiostat or cycler file.")],
    timezone: TimezoneOption = "UTC",
    maps: MapOption = None,
    units: UnitOption = None,
    symmetric: Annotated[
        bool,
        typer.Option("--symmetric", help="Li|electrolyte|Li cell: look for short circuits and polarisation jumps."),
    ] = False,
    lenient: LenientOption = False,
    nonfinite: NonfiniteOption = "refuse",
) -> None:
    """Summarise a record: format, instrument, techniques, rows, spans, segments, plateaus."""
    from operando import echem
    from operando.info import format_summary

    record = _read(path, timezone, maps, units, lenient=lenient, nonfinite=nonfinite)
    summary = {"path": str(path), **record.summary()}
    for key in ("lenient", "nonfinite_rows"):
        if key in record.meta.extra:
            summary[key] = record.meta.extra[key]
    seg = echem.segments(record)
    if len(seg):
        summary["segments"] = ", ".join(f"{n} {kind}" for kind, n in seg["kind"].value_counts().items())
    summary.update(echem.plateau_summary(record))
    events = echem.detect_failures(record) if symmetric else []
    if symmetric:
        summary["failure_signatures"] = "none found"
    if events:
        summary["failure_signatures"] = [f"{e.kind} at {e.time_s:.1f} s (half cycle {e.half_cycle})" for e in events]
    typer.echo(format_summary(summary))


@app.command("export")
def export(
    path: Annotated[Path, typer.Argument(help="Potentiostat or cycler file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")],
    timezone: TimezoneOption = "UTC",
    maps: MapOption = None,
    units: UnitOption = None,
    lenient: LenientOption = False,
    nonfinite: NonfiniteOption = "refuse",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT when it exists.")] = False,
) -> None:
    """Write the record as CSV: canonical columns first, then every other column, with units."""
    from operando import echem

    _check_output(path, out, overwrite)
    record = _read(path, timezone, maps, units, lenient=lenient, nonfinite=nonfinite)
    echem.write_csv(record, out)
    typer.echo(f"{len(record)} rows -> {out}")


@app.command("plot")
def plot(
    path: Annotated[Path, typer.Argument(help="Potentiostat or cycler file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Image file to write (.png, .svg, .pdf).")],
    markers: Annotated[
        str | None,
        typer.Option("--markers", help="Measurement times in s on the record's axis, comma separated, e.g. 300,1200."),
    ] = None,
    timezone: TimezoneOption = "UTC",
    maps: MapOption = None,
    units: UnitOption = None,
    lenient: LenientOption = False,
    nonfinite: NonfiniteOption = "refuse",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT when it exists.")] = False,
) -> None:
    """Voltage against time and against capacity, with optional markers at measurement times."""
    from operando.errors import ParameterError
    from operando.report import plot_timeline, save_figure
    from operando.timeline import align

    times: list[float] = []
    if markers:
        try:
            times = [float(t) for t in markers.split(",") if t.strip()]
        except ValueError as exc:
            raise ParameterError(f"--markers must be numbers in seconds separated by commas, got {markers!r}") from exc
        if not all(math.isfinite(t) for t in times):
            raise ParameterError(f"--markers must be finite times in seconds, got {markers!r}")
    suffix = out.suffix.lstrip(".") or "png"
    _check_output(path, out.with_suffix(f".{suffix}"), overwrite)
    record = _read(path, timezone, maps, units, lenient=lenient, nonfinite=nonfinite)
    timeline = align(record, times) if times else None
    written = save_figure(plot_timeline(record, timeline), out.with_suffix(""), formats=(suffix,))
    typer.echo(f"-> {written[0]}")
