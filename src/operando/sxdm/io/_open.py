"""One entry point for K-map files: ID01 Bliss HDF5, SPEC + EDF, or an XSOCS merged master file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from os import PathLike
from pathlib import Path

import h5py

from operando._hashing import DataFile
from operando._hdf5 import data_files
from operando.errors import UnsupportedFormatError
from operando.sxdm._source import ArraySource, FrameSource
from operando.sxdm.io._bliss import BlissSource, KMapMetadata, open_bliss_kmap, read_bliss_metadata
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


def _with_data_files(meta: KMapMetadata, kind: str, follow: bool) -> KMapMetadata:
    """``meta`` with the files its frames and metadata come from besides the master
    (:attr:`KMapMetadata.data_files`, for the provenance).

    An HDF5 master (Bliss, XSOCS): every external link below the scans' entries, the frame
    datasets' virtual-dataset sources and external raw storage
    (:func:`operando._hdf5.data_files`); one outside the master's folder raises
    :class:`operando._hdf5.LinkOutsideFolderError` unless ``follow``. SPEC: the EDF files
    of its scans (where the SPEC file says they are: not refused).
    """
    if kind == "spec":
        edf: dict[Path, str] = {}
        for s in meta.scans:
            f = Path(s.frames)
            if f.is_file():
                edf.setdefault(f.resolve(), f"EDF frames of scan {s.name}")
        return replace(meta, data_files=tuple(DataFile(f, meta.path, via) for f, via in sorted(edf.items())))
    names = [f"/{s.name}" for s in meta.scans]
    names += [s.frames if kind == "bliss" else f"/{s.name}/measurement/image/data" for s in meta.scans]
    return replace(meta, data_files=tuple(data_files(meta.path, names, follow=follow)))


def read_kmap_metadata(
    path: str | PathLike[str],
    *,
    scans: Sequence[int] | None = None,
    detector: str | None = None,
    follow_external_links: bool = False,
) -> KMapMetadata:
    """Metadata of a K-map, Bliss, XSOCS master or SPEC (found by content): see
    :func:`read_bliss_metadata`, :func:`read_xsocs_metadata` and :func:`read_spec_metadata`.
    ``detector``: the Bliss image dataset or SPEC Lima mnemonic; by default found by
    content (Bliss) or ``mpx4`` (SPEC); an XSOCS master names its own.
    ``follow_external_links``: read HDF5 links that leave the master's folder (refused by
    default, :class:`operando._hdf5.LinkOutsideFolderError`). ``data_files`` lists the
    files read besides the master."""
    p = Path(path)
    kind = _kind(p)
    if kind == "bliss":
        meta = read_bliss_metadata(p, scans=scans, detector=detector)
    elif kind == "xsocs":
        meta = read_xsocs_metadata(p, scans=scans)
    else:
        meta = read_spec_metadata(p, scans=scans, detector=detector or "mpx4")
    return _with_data_files(meta, kind, follow_external_links)


def open_kmap(
    path: str | PathLike[str],
    *,
    scans: Sequence[int] | None = None,
    points_per_chunk: int = 32,
    detector: str | None = None,
    follow_external_links: bool = False,
) -> FrameSource:
    """The frame source of a Bliss, XSOCS or SPEC K-map (found by content).

    Parameters
    ----------
    path : str or PathLike
        Bliss master file, XSOCS master file or SPEC file.
    scans : sequence of int, optional
        Scan numbers, one per rocking angle; all by default.
    points_per_chunk : int
        Scan points per read (whole map rows when a row is shorter).
    detector : str, optional
        See :func:`read_kmap_metadata`.
    follow_external_links : bool
        See :func:`read_kmap_metadata`.

    Returns
    -------
    FrameSource
        ``frames`` (lazy ``(angle, y, x, det_y, det_x)`` counts), ``meta``, and the survey
        and region sums of :func:`operando.sxdm.reduce_kmap` (a Bliss file's read straight
        from its Lima files, :class:`BlissSource`; the others' computed from the frames).
    """
    p = Path(path)
    kind = _kind(p)
    # the frames are lazy: links are refused (_with_data_files) before any frame is read
    if kind == "bliss":
        frames, meta = open_bliss_kmap(p, scans=scans, points_per_chunk=points_per_chunk, detector=detector)
        meta = _with_data_files(meta, kind, follow_external_links)
        return BlissSource(frames, meta, points_per_chunk=points_per_chunk)
    if kind == "xsocs":
        frames, meta = open_xsocs_kmap(p, scans=scans, points_per_chunk=points_per_chunk)
        return ArraySource(frames, _with_data_files(meta, kind, follow_external_links))
    frames, meta = open_spec_kmap(p, scans=scans, points_per_chunk=points_per_chunk, detector=detector or "mpx4")
    return ArraySource(frames, _with_data_files(meta, kind, follow_external_links))
