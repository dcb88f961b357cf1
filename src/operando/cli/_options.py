"""Options every long command shares (--scheduler, --workers, --quiet) and the engine they choose."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

import typer

__all__ = ["QuietOption", "SchedulerOption", "WorkersOption", "run_on"]

SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        envvar="OPERANDO_SCHEDULER",
        help=(
            "Address of a dask.distributed scheduler (tcp://HOST:PORT; its workers need operando installed). "
            "Default: $OPERANDO_SCHEDULER, else local threads."
        ),
    ),
]
WorkersOption = Annotated[
    int | None, typer.Option("--workers", min=1, help="Start a local cluster of N worker processes.")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]


@contextlib.contextmanager
def run_on(scheduler: str | None, workers: int | None, *, quiet: bool, description: str) -> Iterator[None]:
    """Enter the chosen Dask engine with task progress on stderr (none when ``quiet``)."""
    from operando.parallel import engine

    with engine(scheduler, workers=workers, progress=not quiet, description=description):
        yield
