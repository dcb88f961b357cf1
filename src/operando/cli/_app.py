"""Typer application: the root command and its modality groups."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from operando import __version__
from operando.cli._options import QuietOption, SchedulerOption, WorkersOption, run_on

__all__ = ["QuietOption", "SchedulerOption", "WorkersOption", "app", "run_on", "state"]


@dataclass
class _State:
    debug: bool = False


state = _State()

app = typer.Typer(
    name="operando",
    help="Raw operando battery data (SXDM, tomography, NMR/MRI, electrochemistry) to physics on the charging curve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"operando {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    state.debug = debug


@app.command("info")
def info_command(
    path: Annotated[Path, typer.Argument(help="A raw instrument file, folder or result store.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Recognise FILE by its content and summarise what is inside."""
    from operando.info import describe, format_summary

    summary = describe(path)
    typer.echo(json.dumps(summary, indent=1, default=str) if as_json else format_summary(summary))


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("demo-output"),
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Generate the built-in sample experiment, process it and print where the results are."""
    from operando.demo import run_demo
    from operando.parallel import cluster

    with cluster(scheduler, workers=workers) as where:
        typer.echo(f"operando demo: writing the sample experiment to {out} ({where.describe()})")
        result = run_demo(out, progress=not quiet)
    typer.echo("raw files:")
    for kind, path in result.raw.items():
        typer.echo(f"  {kind:<10} {path}")
    typer.echo("results:")
    for kind, path in result.results.items():
        typer.echo(f"  {kind:<10} {path}")
    typer.echo("figures:")
    for kind, paths in result.figures.items():
        typer.echo(f"  {kind:<10} " + ", ".join(str(p) for p in paths))
    for note in result.notes:
        typer.echo(note)


from operando.cli import _echem, _mri, _nmr, _sxdm, _tomo  # noqa: E402  (the modality groups)
from operando.cli._report import report_command  # noqa: E402

app.add_typer(_echem.app, name="echem")
app.add_typer(_sxdm.app, name="sxdm")
app.add_typer(_tomo.app, name="tomo")
app.add_typer(_nmr.app, name="nmr")
app.add_typer(_mri.app, name="mri")
app.command("report")(report_command)
