"""The ``operando`` command. Thin: it parses, calls public functions and writes.

Bad input ends with one line on stderr and exit status 2; ``--debug`` shows the
traceback instead. Unexpected failures exit 1 with a one-line hint to use ``--debug``.
"""

from __future__ import annotations

import sys

from operando.cli._app import app, error_line, extras_by_module, state
from operando.cli._echem import app as echem_app
from operando.cli._mri import app as mri_app
from operando.cli._nmr import app as nmr_app
from operando.cli._options import check_output
from operando.cli._report import report_command
from operando.cli._sxdm import app as sxdm_app
from operando.cli._tomo import app as tomo_app
from operando.cli._watch import watch_command
from operando.errors import OperandoError

__all__ = [
    "app",
    "check_output",
    "echem_app",
    "error_line",
    "extras_by_module",
    "main",
    "mri_app",
    "nmr_app",
    "report_command",
    "sxdm_app",
    "tomo_app",
    "watch_command",
]
"""The root command, each modality's command group (for typer's test runner) and the entry point."""

app.command("watch")(watch_command)


def main() -> None:
    """Entry point of the ``operando`` console script."""
    try:
        app()
    except OperandoError as exc:
        if state.debug:
            raise
        print(f"operando: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        if state.debug:
            raise
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"operando: error: {where}{exc.strerror or exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("operando: interrupted; finished measurements are kept and a rerun resumes", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        if state.debug:
            raise
        print(
            f"operando: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        sys.exit(1)
