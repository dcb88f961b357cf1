"""File checksums recorded in provenance and checked before real-data tests."""

from __future__ import annotations

import hashlib
from os import PathLike
from pathlib import Path

_BLOCK = 1 << 20


def sha256_file(path: str | PathLike[str]) -> str:
    """Return the SHA-256 hex digest of a file, read in 1 MiB blocks.

    Parameters
    ----------
    path : str or os.PathLike
        File to hash; never opened for writing.

    Returns
    -------
    str
        64 lowercase hexadecimal characters.
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()
