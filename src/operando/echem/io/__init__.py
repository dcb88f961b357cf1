"""Readers of potentiostat and cycler files: raw files in, an ``EchemRecord`` out (no kernels, no store).

``FORMATS`` registers every format of :data:`operando.echem.READERS` with
:mod:`operando.formats`, in the same order (generic delimited text last).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from operando.formats import Format


def _describe(read: Any) -> Any:
    def describe(path: Path) -> dict[str, Any]:
        summary: dict[str, Any] = read(path).summary()
        return summary

    return describe


def _formats() -> tuple[Format, ...]:
    from operando.echem.io._read import READERS

    return tuple(
        Format(f.name, "echem", f.description, f.sniff, f.read, _describe(f.read), f.suffixes) for f in READERS
    )


def __getattr__(name: str) -> Any:
    """``FORMATS``, built on first use: the table imports every reader module (one reader's
    import stays light)."""
    if name == "FORMATS":
        return _formats()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
