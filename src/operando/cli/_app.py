"""Typer application: the root command, its modality groups and the one error mapping.

Called as the console script, the application turns every failure into one line on stderr:
bad input (:class:`~operando.errors.OperandoError`, an ``OSError`` with its file, a raw
HDF5 error from h5py, given the file it came from) and a missing optional dependency
(named with the extra that installs it) exit 2; anything else is an internal error (exit
1, ``--debug`` for the traceback).
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import re
import sys
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from operando import __version__
from operando.cli._options import QuietOption, SchedulerOption, WorkersOption, run_on
from operando.errors import ParameterError

__all__ = [
    "QuietOption",
    "SchedulerOption",
    "WorkersOption",
    "app",
    "error_line",
    "extras_by_module",
    "run_on",
    "state",
]


@dataclass
class _State:
    debug: bool = False


state = _State()


class _OperandoApp(typer.Typer):
    """The root application: called as the console script, every failure ends in one line.

    Typer's test runner invokes the click command directly and still sees the exception.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        argv = list(kwargs.get("args") or sys.argv[1:])
        try:
            require_command_extra(argv)
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if state.debug:
                raise
            code, line = error_line(exc, argv)
            print(line, file=sys.stderr)
            sys.exit(code)


app = _OperandoApp(
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
    live: Annotated[
        Path | None,
        typer.Option(
            "--live",
            help="Instead: write a beamtime into this folder over time (K-maps, a growing potentiostat file) "
            "for `operando watch` to follow.",
        ),
    ] = None,
    maps: Annotated[int, typer.Option("--maps", min=1, max=17, help="With --live: K-maps to acquire.")] = 3,
    interval_s: Annotated[
        float, typer.Option("--interval-s", min=1.0, help="With --live: wall seconds between two K-maps.")
    ] = 15.0,
    experiment: Annotated[
        str,
        typer.Option(
            "--experiment",
            help="With --live: sxdm (K-maps of the LMNO cell), tomo (DXchange scans of the Li|SE|Li cell) or nmr "
            "(TopSpin 7Li experiments of a Li|Cu cell plating lithium); --maps counts scans or experiments (1-12).",
        ),
    ] = "sxdm",
) -> None:
    """Generate the built-in sample experiment, process it and print where the results are.

    With --live DIR it writes the LMNO beamtime into DIR as it happens instead; follow it with
    `operando watch DIR/raw ...` as printed.
    """
    if live is not None:
        _live_demo(live, maps=maps, interval_s=interval_s, experiment=experiment)
        return
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


def _live_demo(folder: Path, *, maps: int, interval_s: float, experiment: str = "sxdm") -> None:
    """``operando demo --live DIR``: the beamtime simulator in the foreground."""
    from operando.live import (
        EXPERIMENTS,
        SIMULATED_ECHEM_NAME,
        SIMULATED_NMR_ECHEM_NAME,
        SIMULATED_TOMO_ECHEM_NAME,
        simulate_beamtime,
    )

    if experiment not in EXPERIMENTS:
        raise ParameterError(f"--experiment {experiment!r}: use one of {', '.join(EXPERIMENTS)}")
    if experiment in ("tomo", "nmr") and maps > 12:
        raise ParameterError(f"--maps {maps}: a {experiment} beamtime has 1-12 measurements")
    raw = folder / "raw"
    if raw.exists() and any(raw.iterdir()):
        raise ParameterError("already holds a beamtime; give an empty or new folder", path=raw)
    results = folder / "results"
    if experiment == "tomo":
        echem = raw / "echem" / SIMULATED_TOMO_ECHEM_NAME
        what, extra = f"{maps} tomography scans", "--center 24"
    elif experiment == "nmr":
        echem = raw / "echem" / SIMULATED_NMR_ECHEM_NAME
        what, extra = f"{maps} 7Li NMR experiments", "--settle-s 1"
    else:
        echem = raw / "echem" / SIMULATED_ECHEM_NAME
        what, extra = f"{maps} K-maps", "--reflection 400"
    typer.echo(f"operando demo --live: a beamtime of {what}, one every {interval_s:g} s, into {raw}")
    typer.echo("follow it, in another terminal, with:")
    typer.echo(f"  operando watch {raw} --echem {echem} -o {results} {extra} --serve 127.0.0.1:8765")
    simulate_beamtime(raw, n_maps=maps, interval_s=interval_s, on_event=typer.echo, experiment=experiment)


from operando.cli import _echem, _mri, _nmr, _sxdm, _tomo  # noqa: E402  (the modality groups)
from operando.cli._report import report_command  # noqa: E402

app.add_typer(_echem.app, name="echem")
app.add_typer(_sxdm.app, name="sxdm")
app.add_typer(_tomo.app, name="tomo")
app.add_typer(_nmr.app, name="nmr")
app.add_typer(_mri.app, name="mri")
app.command("report")(report_command)


# -- one line, exit 2, file named --------------------------------------------------------
# distributions whose import name is not their name with '-' -> '_'
_IMPORT_NAMES = {
    "scikit-image": "skimage",
    "scikit-learn": "sklearn",
    "pillow": "PIL",
    "astra-toolbox": "astra",
    "pyyaml": "yaml",
    "opencv-python": "cv2",
}
_NOT_FOR_USERS = {"all", "test", "anchors"}  # aggregate / developer extras: never the one to name
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def extras_by_module(requirements: Iterable[str]) -> dict[str, list[str]]:
    """Which user extras install each importable module, from the package's requirements.

    Parameters
    ----------
    requirements : iterable of str
        Requirement strings as in the package metadata (``'algotom>=1.6; extra == "tomo"'``).

    Returns
    -------
    dict of str to list of str
        Top-level module name -> the extras (in order of appearance) that install it;
        ``all``, ``test`` and ``anchors`` are left out.

    Examples
    --------
    >>> extras_by_module(['algotom>=1.6; extra == "tomo"', 'scikit-image>=0.22; extra == "sxdm"',
    ...                   'scikit-image>=0.22; extra == "tomo"', 'numpy>=1.26'])
    {'algotom': ['tomo'], 'skimage': ['sxdm', 'tomo']}
    """
    out: dict[str, list[str]] = {}
    for req in requirements:
        name, extra = _REQUIREMENT.match(req), _EXTRA.search(req)
        if name is None or extra is None or extra.group(1) in _NOT_FOR_USERS:
            continue
        dist = name.group(1).lower()
        if dist == "operando":
            continue
        module = _IMPORT_NAMES.get(dist, dist.replace("-", "_").replace(".", "_"))
        out.setdefault(module, [])
        if extra.group(1) not in out[module]:
            out[module].append(extra.group(1))
    return out


@functools.cache
def _installed_extras() -> dict[str, list[str]]:
    try:
        return extras_by_module(importlib.metadata.requires("operando") or [])
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return {}


def missing_dependency_line(module: str, argv: Sequence[str] = (), extras: dict[str, list[str]] | None = None) -> str:
    """The one line for a module that is not installed, naming the extra that installs it.

    Examples
    --------
    >>> missing_dependency_line("skimage.filters", ["tomo", "recon"], {"skimage": ["sxdm", "tomo"]})
    'skimage is not installed; this command needs the tomo extra: pip install "operando[tomo]"'
    >>> missing_dependency_line("foo", [], {})
    'foo is not installed (an optional dependency): pip install foo'
    """
    top = module.split(".")[0]
    table = _installed_extras() if extras is None else extras
    choices = table.get(top, [])
    if not choices:
        return f"{top} is not installed (an optional dependency): pip install {top}"
    command_group = next((a for a in argv if not a.startswith("-")), "")
    extra = command_group if command_group in choices else choices[0]
    return f'{top} is not installed; this command needs the {extra} extra: pip install "operando[{extra}]"'


# Commands whose work needs their modality's whole extra: checked before any work, so a missing
# package ends in the one line naming the extra, not after a progress bar and a partial run.
_COMMAND_EXTRAS: dict[tuple[str, ...], str] = {
    ("tomo", "recon"): "tomo",
    ("tomo", "segment"): "tomo",
    ("tomo", "interface"): "tomo",
    ("tomo", "series"): "tomo",
}


def require_command_extra(argv: Sequence[str], extras: dict[str, list[str]] | None = None) -> None:
    """Raise ``ModuleNotFoundError`` when a module of the extra the command needs is not importable.

    Parameters
    ----------
    argv : sequence of str
        The command line after the program name (``["tomo", "recon", "scan.h5", ...]``).
    extras : dict, optional
        Module -> extras table (default: from the installed package's metadata).

    Examples
    --------
    >>> require_command_extra(["tomo", "recon", "x.h5"], {"numpy": ["tomo"]})
    >>> require_command_extra(["tomo", "recon"], {"not_a_module_zz": ["tomo"]})
    Traceback (most recent call last):
    ...
    ModuleNotFoundError: No module named 'not_a_module_zz'
    """
    import importlib.util

    if "--help" in argv:
        return
    words = tuple(a for a in argv if not a.startswith("-"))[:2]
    extra = _COMMAND_EXTRAS.get(words)
    if extra is None:
        return
    table = _installed_extras() if extras is None else extras
    for module, names in table.items():
        if extra in names and importlib.util.find_spec(module) is None:
            raise ModuleNotFoundError(f"No module named {module!r}", name=module)


def _from_h5py(tb: types.TracebackType | None) -> bool:
    while tb is not None:
        if f"{os.sep}h5py{os.sep}" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


def _file_in_frames(tb: types.TracebackType | None) -> str | None:
    """The file an error came from: an h5py object or a path in the failing frames (innermost first)."""
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for value in list(frame.f_locals.values()):
            name = _file_name_of(value)
            if name:
                return name
    return None


def _file_name_of(value: Any) -> str | None:
    try:
        if isinstance(value, Path):
            return str(value) if value.is_file() else None
        if isinstance(value, str | bytes | int | float | dict | list | tuple) or value is None:
            return None
        h5file = getattr(value, "file", None)  # h5py File/Group/Dataset
        filename = getattr(h5file, "filename", None) if h5file is not None else getattr(value, "filename", None)
    except Exception:  # a closed HDF5 object, a property that fails: no file from this one
        return None
    return filename if isinstance(filename, str) and filename else None


def _first_input(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-") and os.path.exists(arg):
            return arg
    return None


def error_line(exc: BaseException, argv: Sequence[str] = ()) -> tuple[int, str]:
    """The exit status and the one line (without a newline) for an exception ending a command.

    ``2`` for bad input: an :class:`~operando.errors.OperandoError`, an ``OSError`` (with the
    file it names), an error raised inside h5py (named with the file it was reading,
    found from the failing frames, else the command's first existing input), and a
    missing optional module (named with the extra that installs it). ``1`` otherwise.

    Examples
    --------
    >>> from operando.errors import CorruptFileError
    >>> error_line(CorruptFileError("truncated", path="a.h5"))
    (2, 'operando: error: a.h5: truncated')
    >>> error_line(ModuleNotFoundError("No module named 'zzz'", name="zzz"))[0]
    2
    """
    from operando.errors import OperandoError

    if isinstance(exc, OperandoError):
        return 2, "operando: error: " + " ".join(str(exc).split())  # one line, whatever a library put in it
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return 2, f"operando: error: {missing_dependency_line(exc.name, argv)}"
    tb = exc.__traceback__
    text = " ".join(str(exc.strerror if isinstance(exc, OSError) and exc.strerror else exc).split()).strip("'\"")
    if isinstance(exc, OSError) or (isinstance(exc, KeyError | ValueError | RuntimeError) and _from_h5py(tb)):
        where = getattr(exc, "filename", None) or _file_in_frames(tb) or _first_input(argv)
        what = "HDF5 error: " if _from_h5py(tb) else ""
        return 2, f"operando: error: {where + ': ' if where else ''}{what}{text or type(exc).__name__}"
    first = str(exc).splitlines()[0] if str(exc) else ""
    return 1, f"operando: internal error: {type(exc).__name__}: {first} (rerun with --debug for the traceback)"
