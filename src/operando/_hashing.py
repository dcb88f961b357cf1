"""File checksums recorded in provenance and checked before real-data tests.

Two kinds of checksum, never confused:

* :func:`sha256_file`: the SHA-256 of every byte (``"sha256"`` in the provenance).
* :func:`sampled_sha256`: a SHA-256 over the file's size and :data:`SAMPLE_BLOCKS` fixed
  blocks of :data:`SAMPLE_BLOCK_BYTES` (first, last and evenly spaced between), written
  ``"sampled-sha256:16x64KiB:<hex>"`` so that nobody mistakes it for a full hash. It is
  what the provenance records for the large data files an HDF5 master links to (Lima
  frame files, virtual-dataset sources, external raw storage), together with their size
  and modification time.

Why sampled for large linked files: a full SHA-256 costs about 2 s per GB (1 GiB of four
256 MiB files, warm cache: 2.2 s on one thread, 2.2 s on two threads of this 2-core
machine), which is one more full read of every frame of a map (tens of GB at a beamline,
over a network file system); the sampled hash costs 1.5 ms per file (16 x 64 KiB reads),
whatever its size. It detects a file replaced, resized, rewritten (the modification time
is recorded beside it) or changed in a sampled block, not a change of bytes between the
blocks that keeps size and time: said in the ``hash`` field itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

__all__ = ["SAMPLE_BLOCKS", "SAMPLE_BLOCK_BYTES", "DataFile", "sampled_sha256", "sha256_file"]

_BLOCK = 1 << 20
SAMPLE_BLOCKS = 16
"""Blocks read by :func:`sampled_sha256`."""
SAMPLE_BLOCK_BYTES = 1 << 16
"""Bytes per sampled block (64 KiB)."""


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


def sampled_sha256(
    path: str | PathLike[str], *, blocks: int = SAMPLE_BLOCKS, block_bytes: int = SAMPLE_BLOCK_BYTES
) -> str:
    """A labelled SHA-256 over a file's size and ``blocks`` fixed blocks of its bytes.

    The blocks start at ``k * (size - block_bytes) // (blocks - 1)`` for ``k = 0 ..
    blocks - 1`` (the first and the last block of the file, the others evenly spaced); a
    file no larger than ``blocks * block_bytes`` is hashed whole (plain SHA-256). The size (8 bytes,
    little-endian) is hashed first, so a file cut or grown changes the digest.

    Parameters
    ----------
    path : str or os.PathLike
        File to hash; never opened for writing.
    blocks : int
        Number of blocks (at least 2).
    block_bytes : int
        Bytes per block (at least 1).

    Returns
    -------
    str
        ``"sampled-sha256:{blocks}x{block_bytes // 1024}KiB:<64 hex>"``, or ``"sha256:<64
        hex>"`` (:func:`sha256_file`, every byte) when the blocks would cover the whole file.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "f.bin"
    ...     _ = p.write_bytes(bytes(4 << 20))
    ...     sampled_sha256(p)[:24]
    'sampled-sha256:16x64KiB:'
    """
    if blocks < 2 or block_bytes < 1:
        raise ValueError(f"sampled_sha256 needs blocks >= 2 and block_bytes >= 1, not {blocks}, {block_bytes}")
    p = Path(path)
    digest = hashlib.sha256()
    with p.open("rb") as fh:
        size = fh.seek(0, 2)
        if size <= blocks * block_bytes:
            return f"sha256:{sha256_file(p)}"
        digest.update(size.to_bytes(8, "little"))
        for k in range(blocks):
            fh.seek(k * (size - block_bytes) // (blocks - 1))
            digest.update(fh.read(block_bytes))
    return f"sampled-sha256:{blocks}x{block_bytes // 1024}KiB:{digest.hexdigest()}"


@dataclass(frozen=True)
class DataFile:
    """A file whose bytes a dataset of an input file reads (an HDF5 external link's target, a
    virtual-dataset source, external raw storage, an EDF frame file), and how it is reached.

    A path-like: it can be given wherever an input path is (``provenance(inputs=...)``
    records it with its master and the way it was reached).

    Attributes
    ----------
    path : pathlib.Path
        The file, absolute, symbolic links and ``..`` resolved.
    master : pathlib.Path
        The input file whose datasets reach ``path``.
    via : str
        How: ``"external link /1.1/measurement/mpx1x4 -> scan0001/mpx1x4_0000.h5:/entry_0000/..."``,
        ``"virtual dataset source of /1.1/measurement/mpx1x4: scan0001/mpx1x4_%b.h5"``,
        ``"external raw storage of /exchange/data: raw.bin"``.

    Examples
    --------
    >>> import os
    >>> os.fspath(DataFile(Path("/data/scan0001/mpx1x4_0000.h5"), Path("/data/s.h5"), "frames"))
    '/data/scan0001/mpx1x4_0000.h5'
    """

    path: Path
    master: Path
    via: str

    def __fspath__(self) -> str:
        return str(self.path)
