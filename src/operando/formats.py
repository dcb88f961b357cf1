"""One registry of file formats for every modality.

Each reader package (``operando.<modality>.io``) lists its formats in ``FORMATS``: a
:class:`Format` says how the format is recognised from its content (``sniff``), how it is
read (``open``), how ``operando info`` summarises it without loading bulk data
(``describe``), and which file extensions it owns. The idea is xarray's backend
entrypoints: dispatch by content, one table, every modality the same way.

The registry is built on first use and imports each reader package then, so importing
this module costs nothing. Order matters only where signatures overlap: the formats are
tried provider by provider in :data:`PROVIDERS` order (Bruker EPR before Gamry, whose
``.DTA`` files share a suffix; generic delimited text and generic HDF5 last).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from operando._files import read_head
from operando.errors import OperandoError, UnsupportedFormatError

__all__ = ["KINDS", "PROVIDERS", "Format", "describe_file", "detect", "formats", "open_file", "owner_by_suffix"]

KINDS = ("sxdm", "tomo", "nmr", "epr", "mri", "echem", "hdf5")
"""What a format holds: a modality's raw data, or a generic container."""

PROVIDERS = (
    "operando.tomo.io",
    "operando.sxdm.io",
    "operando.nmr.io",
    "operando.mri.io",
    "operando.echem.io",
    "operando._hdf5",
)
"""Modules whose ``FORMATS`` make the registry, in detection order."""


@dataclass(frozen=True)
class Format:
    """One file format: how to recognise it, read it and summarise it.

    Attributes
    ----------
    name : str
        Short identifier, e.g. ``"bliss-kmap"``, ``"biologic-mpr"``.
    kind : str
        One of :data:`KINDS`.
    description : str
        What a user calls it, e.g. ``"ESRF Bliss HDF5 K-map"``.
    sniff : callable
        ``sniff(head, path) -> bool`` from the first bytes (``b""`` for a folder); may look
        at the file's structure, must not raise for a file of another format.
    open : callable or None
        The reader: ``open(path, **options)``.
    describe : callable or None
        ``describe(path) -> dict`` for ``operando info`` (``kind`` and ``format`` first).
    suffixes : tuple of str
        Extensions this format owns: a file with one that no sniffer recognises goes to
        this reader anyway, so that its error says what is wrong.
    folder : bool
        The format is a folder (a Bruker experiment), not a file.
    """

    name: str
    kind: str
    description: str
    sniff: Callable[[bytes, Path], bool]
    open: Callable[..., Any] | None = None
    describe: Callable[[Path], dict[str, Any]] | None = None
    suffixes: tuple[str, ...] = ()
    folder: bool = False


@functools.cache
def _registry() -> tuple[Format, ...]:
    found: list[Format] = []
    for module in PROVIDERS:
        found.extend(importlib.import_module(module).FORMATS)
    names = [f.name for f in found]
    if len(set(names)) != len(names):  # pragma: no cover - a programming error caught by the tests
        raise RuntimeError(f"format names registered twice: {sorted({n for n in names if names.count(n) > 1})}")
    return tuple(found)


def formats(kind: str | None = None) -> tuple[Format, ...]:
    """Every registered format, in detection order; only those of ``kind`` when given.

    Examples
    --------
    >>> "biologic-mpr" in [f.name for f in formats("echem")]
    True
    """
    return tuple(f for f in _registry() if kind is None or f.kind == kind)


def _head(path: str | PathLike[str]) -> tuple[Path, bytes]:
    p = Path(path)
    if p.is_dir():
        return p, b""
    return read_head(p)


def detect(path: str | PathLike[str], *, kind: str | None = None) -> Format | None:
    """The first format whose signature the file's (or folder's) content matches, or None.

    Parameters
    ----------
    path : str or os.PathLike
        A file or folder.
    kind : str, optional
        Only formats of this kind.

    Raises
    ------
    OperandoError
        When the path does not exist; CorruptFileError when the file is empty.
    """
    p, head = _head(path)
    for fmt in formats(kind):
        if fmt.folder != p.is_dir():
            continue
        if fmt.sniff(head, p):
            return fmt
    return None


def owner_by_suffix(path: str | PathLike[str], *, kind: str | None = None) -> Format | None:
    """The format that owns the file's extension (asked only when no signature matched)."""
    suffix = Path(path).suffix.lower()
    return next((f for f in formats(kind) if suffix in f.suffixes), None) if suffix else None


def _known(kind: str | None) -> str:
    return ", ".join(f.description for f in formats(kind))


def open_file(path: str | PathLike[str], *, kind: str | None = None, **options: Any) -> Any:
    """Read any registered format, found by content (then by extension).

    Parameters
    ----------
    path : str or os.PathLike
    kind : str, optional
        Only formats of this kind (e.g. ``"echem"``).
    **options
        Passed to the format's reader.

    Raises
    ------
    UnsupportedFormatError
        When no format recognises the content, or the format has no reader.
    """
    fmt = detect(path, kind=kind) or owner_by_suffix(path, kind=kind)
    if fmt is None:
        raise UnsupportedFormatError(f"not a recognised {kind or ''} file (supported: {_known(kind)})", path=path)
    if fmt.open is None:
        raise UnsupportedFormatError(f"{fmt.description}: recognised, but it is not read directly", path=path)
    return fmt.open(path, **options)


def describe_file(path: str | PathLike[str]) -> dict[str, Any]:
    """``operando info`` for a raw file or folder: ``{"path", "kind", "format", ...}``.

    Raises
    ------
    UnsupportedFormatError
        When no format recognises the content.
    CorruptFileError
        When the file is recognised but damaged.
    """
    p, head = _head(path)
    fmt = detect(p) or owner_by_suffix(p)
    if fmt is None:
        if p.is_dir():
            raise UnsupportedFormatError(
                "a folder that is not an operando result store nor a Bruker/ParaVision/VnmrJ experiment", path=p
            )
        printable = head[:16].hex(" ")
        raise UnsupportedFormatError(
            f"content not recognised as any supported format (first bytes: {printable})", path=p
        )
    if fmt.describe is None:  # pragma: no cover - every registered format describes itself
        raise OperandoError(f"{fmt.description}: no summary available", path=p)
    return {"path": str(p), **fmt.describe(p)}
