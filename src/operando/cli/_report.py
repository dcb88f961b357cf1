"""``operando report``: one self-contained HTML file of an experiment's result stores.

The root app registers :func:`report_command` as a single command::

    app.command("report")(report_command)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from operando.cli._options import (
    OverwriteOption,
    QuietOption,
    SchedulerOption,
    WorkersOption,
    check_output,
    run_on,
)

__all__ = ["app", "report_command"]


def report_command(
    results: Annotated[
        list[Path],
        typer.Argument(
            help="Result stores (Zarr) to show. Each is verified (SHA-256 of every file) first: a store that is "
            "missing, incomplete or damaged is refused and nothing is written."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path("report.html"),
    echem: Annotated[
        list[Path] | None,
        typer.Option(
            "--echem",
            help="Potentiostat record of a cell: a charging curve; repeat it for an experiment of several cells. "
            "Each store goes on the record it was aligned to (its echem_sha256, else the file name).",
        ),
    ] = None,
    figures: Annotated[
        Path | None, typer.Option("--figures", help="Also write every figure here as PNG (300 dpi) and SVG.")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Page title.")] = None,
    overwrite: OverwriteOption = False,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Write RESULTS on their cells' charging curves into one HTML file that needs no network."""
    from operando.report import build_report

    inputs = [*results, *(echem or [])]
    check_output(out, inputs, overwrite=overwrite, option="-o")
    if figures is not None:
        check_output(figures, [*inputs, out], overwrite=overwrite, option="--figures")
    with run_on(scheduler, workers, quiet=quiet, description="report"):
        result = build_report(
            results,
            echem=echem,
            out=out,
            figures_dir=figures,
            title=title,
            progress=not quiet,
            strict=True,
            overwrite=overwrite,
        )
    for problem in result.problems:
        typer.echo(f"warning: {problem}", err=True)
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(
        f"report: {result.path} ({result.size_bytes / 1024:.0f} kB, {result.n_images} figures)"
        + (f"; {len(result.figures)} print files in {figures}" if figures is not None else "")
    )


app = typer.Typer(help="The HTML report of an experiment.", no_args_is_help=True, add_completion=False)
app.command("report")(report_command)
