"""One entry point for K-map files: ID01 Bliss HDF5, SPEC + EDF, or an XSOCS merged master file."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import h5py

from operando.errors import UnsupportedFormatError
from operando.sxdm.io._bliss import KMapMetadata, open_bliss_kmap, read_bliss_metadata
from operando.sxdm.io._spec import is_spec_file, open_spec_kmap, read_spec_metadata
from operando.sxdm.io._xsocs import is_xsocs_master, open_xsocs_kmap, read_xsocs_metadata

__all__ = ["open_kmap", "read_kmap_metadata"]


def _kind(path: Path) -> str:
    from operando._files import require_file

    require_file(path)
    if h5py.is_hdf5(path):
        return "xsocs" if is_xsocs_master(path) else "bliss"
    if is_spec_file(path):
        return "spec"
    raise UnsupportedFormatError("neither a Bliss HDF5 master file nor a SPEC file", path=path)


def read_kmap_metadata(path: str | PathLike[str], *, scans: Sequence[int] | None = None) -> KMapMetadata:
    """Metadata of a K-map, Bliss, XSOCS master or SPEC (found by content): see
    :func:`read_bliss_metadata`, :func:`read_xsocs_metadata` and :func:`read_spec_metadata`."""
    p = Path(path)
    kind = _kind(p)
    if kind == "bliss":
        return read_bliss_metadata(p, scans=scans)
    if kind == "xsocs":
        return read_xsocs_metadata(p, scans=scans)
    return read_spec_metadata(p, scans=scans)


def open_kmap(
    path: str | PathLike[str], *, scans: Sequence[int] | None = None, points_per_chunk: int = 32
) -> tuple[Any, KMapMetadata]:
    """Lazy frames ``(angle, y, x, det_y, det_x)`` and metadata of a Bliss, XSOCS or SPEC K-map."""
    p = Path(path)
    kind = _kind(p)
    if kind == "bliss":
        return open_bliss_kmap(p, scans=scans, points_per_chunk=points_per_chunk)
    if kind == "xsocs":
        return open_xsocs_kmap(p, scans=scans, points_per_chunk=points_per_chunk)
    return open_spec_kmap(p, scans=scans, points_per_chunk=points_per_chunk)
