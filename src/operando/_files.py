"""Checks every reader makes before it parses: the path exists, is a file, is not empty."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from operando.errors import CorruptFileError, OperandoError

HEAD_BYTES = 4096


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
    if not p.exists():
        raise OperandoError("no such file", path=p)
    if p.is_dir():
        return p, b""
    try:
        with p.open("rb") as fh:
            head = fh.read(n)
    except OSError as exc:
        raise OperandoError(f"cannot read: {exc.strerror or exc}", path=p) from exc
    if not head:
        raise CorruptFileError("file is empty (0 bytes)", path=p)
    return p, head
