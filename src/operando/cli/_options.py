"""Options every command shares and the checks they make before any work.

* ``--scheduler``, ``--workers``, ``--quiet`` and the engine they choose (:func:`run_on`);
* ``--overwrite`` and :func:`check_output`: an output never replaces or lands inside an
  input, and never replaces an existing file or store unless ``--overwrite`` is given.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from os import PathLike
from pathlib import Path
from typing import Annotated

import typer

from operando.errors import ParameterError

__all__ = ["OverwriteOption", "QuietOption", "SchedulerOption", "WorkersOption", "check_output", "run_on"]

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
OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="Replace an existing output (never one of the inputs).")
]


@contextlib.contextmanager
def run_on(scheduler: str | None, workers: int | None, *, quiet: bool, description: str) -> Iterator[None]:
    """Enter the chosen Dask engine with task progress on stderr (none when ``quiet``)."""
    from operando.parallel import engine

    with engine(scheduler, workers=workers, progress=not quiet, description=description):
        yield


def _same(a: Path, b: Path) -> bool:
    """True when two existing paths are one file (symbolic or hard links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _inside(child: Path, parent: Path) -> bool:
    """True when ``child`` is ``parent`` or lies below it (both already resolved)."""
    return child == parent or parent in child.parents


def check_output(
    out: str | PathLike[str],
    inputs: Sequence[str | PathLike[str] | None],
    *,
    overwrite: bool,
    option: str = "-o",
) -> Path:
    """Refuse an output path that could destroy an input or an earlier result.

    Call it in a command before any work is done, with every path the command reads.

    Parameters
    ----------
    out : str or os.PathLike
        The output the command is about to write (a file or a store folder).
    inputs : sequence of path or None
        Every input of the command (files, folders, result stores); ``None`` entries
        (options not given) are skipped.
    overwrite : bool
        The command's ``--overwrite``: an existing output may be replaced.
    option : str, default "-o"
        The option that named ``out``, for the message.

    Returns
    -------
    pathlib.Path
        ``Path(out)``, unchanged.

    Raises
    ------
    ParameterError
        (exit status 2, one line naming ``out``) when ``out`` is one of the inputs (also
        through a symbolic or hard link), lies inside an input (a store's metadata file),
        holds an input (replacing it would delete the input), or exists while
        ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> (d / "raw.mpt").write_text("data")
    4
    >>> check_output(d / "out.csv", [d / "raw.mpt"], overwrite=False).name
    'out.csv'
    >>> check_output(d / "raw.mpt", [d / "raw.mpt"], overwrite=True)
    Traceback (most recent call last):
    ...
    operando.errors.ParameterError: ...raw.mpt: -o is an input of this command (raw.mpt); choose another output
    """
    target = Path(out)
    resolved = target.resolve()
    for item in inputs:
        if item is None:
            continue
        src = Path(item)
        src_resolved = src.resolve()
        if resolved == src_resolved or (target.exists() and _same(target, src)):
            raise ParameterError(f"{option} is an input of this command ({src.name}); choose another output", path=out)
        if _inside(resolved, src_resolved):
            raise ParameterError(
                f"{option} lies inside the input {src}; writing there would damage it; choose another output",
                path=out,
            )
        if _inside(src_resolved, resolved):
            raise ParameterError(
                f"{option} holds the input {src.name}; replacing it would delete the input; choose another output",
                path=out,
            )
    if (target.exists() or target.is_symlink()) and not overwrite:
        what = "a folder" if target.is_dir() else "a file"
        raise ParameterError(f"{option} names {what} that exists; pass --overwrite to replace it", path=out)
    return target
