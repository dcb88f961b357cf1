"""Checks every reader makes before it parses: the path exists, is a file, is not empty."""

from __future__ import annotations

import os
import stat
from os import PathLike
from pathlib import Path

from operando.errors import CorruptFileError, OperandoError

HEAD_BYTES = 4096


def require_file(path: str | PathLike[str], *, expected: str | None = None) -> Path:
    """Return ``Path(path)`` after checking it is an existing, non-empty regular file.

    Parameters
    ----------
    path : str or os.PathLike
    expected : str, optional
        What the file should be (e.g. ``"a Gamry .DTA file"``), added to the messages.

    Raises
    ------
    OperandoError
        When the path does not exist.
    CorruptFileError
        When it is not a regular file, or is empty.
    """
    p = Path(path)
    hint = f", expected {expected}" if expected else ""
    if not p.exists():
        raise OperandoError(f"no such file{hint}", path=p)
    if not p.is_file():
        raise CorruptFileError(f"not a regular file{hint}", path=p)
    if p.stat().st_size == 0:
        raise CorruptFileError(f"file is empty (0 bytes){hint}", path=p)
    return p


def read_head(path: str | PathLike[str], n: int = HEAD_BYTES) -> tuple[Path, bytes]:
    """Return ``(Path(path), first n bytes)`` after checking the file is usable.

    Raises
    ------
    OperandoError
        When the path does not exist or is a directory that is not expected here.
    CorruptFileError
        When the file is empty.
    """
    p = Path(path)
    try:  # one stat for the usual case (a non-empty regular file) instead of four: 10 us per read
        st = os.stat(p)
    except OSError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        if p.is_dir():
            return p, b""
        require_file(p)
    try:
        with p.open("rb") as fh:
            return p, fh.read(n)
    except OSError as exc:
        raise OperandoError(f"cannot read: {exc.strerror or exc}", path=p) from exc
