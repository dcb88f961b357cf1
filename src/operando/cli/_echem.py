"""``operando echem``: read, summarise, export and plot potentiostat/cycler files."""

from __future__ import annotations

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


def _read(path: Path, timezone: str, maps: list[str] | None = None, units: list[str] | None = None) -> EchemRecord:
    from operando import echem

    options: dict[str, object] = {"timezone": timezone}
    if maps:
        options["columns"] = _pairs(maps, "--map")
    if units:
        options["units"] = _pairs(units, "--unit")
    return echem.read(path, **options)


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
) -> None:
    """Summarise a record: format, instrument, techniques, rows, spans, segments, plateaus."""
    from operando import echem
    from operando.info import format_summary

    record = _read(path, timezone, maps, units)
    summary = {"path": str(path), **record.summary()}
    seg = echem.segments(record)
    if len(seg):
        summary["segments"] = ", ".join(f"{n} {kind}" for kind, n in seg["kind"].value_counts().items())
    peaks = echem.plateaus(record)
    if len(peaks):
        summary["plateaus_V"] = ", ".join(
            f"{v:.3f} ({'charge' if d > 0 else 'discharge'} {h})"
            for v, d, h in zip(peaks["voltage_V"], peaks["direction"], peaks["half_cycle"], strict=True)
        )[:300]
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
) -> None:
    """Write the record as CSV: canonical columns first, then every other column, with units."""
    from operando import echem

    record = _read(path, timezone, maps, units)
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
) -> None:
    """Voltage against time and against capacity, with optional markers at measurement times."""
    from operando.errors import ParameterError
    from operando.report import plot_timeline, save_figure
    from operando.timeline import align

    record = _read(path, timezone, maps, units)
    timeline = None
    if markers:
        try:
            times = [float(t) for t in markers.split(",") if t.strip()]
        except ValueError as exc:
            raise ParameterError(f"--markers must be numbers in seconds separated by commas, got {markers!r}") from exc
        timeline = align(record, times)
    suffix = out.suffix.lstrip(".") or "png"
    written = save_figure(plot_timeline(record, timeline), out.with_suffix(""), formats=(suffix,))
    typer.echo(f"-> {written[0]}")
