"""Lima frames compressed with bitshuffle-lz4, decompressed outside h5py's global lock.

h5py serialises every HDF5 call behind one lock, filters included, so threads reading
bitshuffle-lz4 frames (the Lima default at the ESRF) decompress one at a time. Here the
compressed chunks are read as bytes (``read_direct_chunk``, cheap, under the lock) and
decompressed by ``bshuf_decompress_lz4`` of the bitshuffle library that ``hdf5plugin``
ships (its public C API, called through ctypes, which releases the GIL), so threads
decompress in parallel. Anything else (other filters, chunks that are not whole frames,
no library) returns None and the caller reads through h5py.

Bitshuffle compresses each chunk in independent blocks (8 kB by default), each stored as
a 4-byte big-endian compressed size and its lz4 payload, one after another. A band of
detector rows is decompressed alone by walking those size headers to its first block and
decompressing only the blocks that cover it (a region of interest a quarter of the
detector high costs a quarter of the decompression).
"""

from __future__ import annotations

import ctypes
import functools
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["read_bitshuffle_frames"]

BSHUF_FILTER = 32008  # registered HDF5 filter id of bitshuffle
_HEADER = struct.Struct(">QI")  # the filter's chunk header: uncompressed bytes, block size in bytes
_BLOCK = struct.Struct(">I")  # each compressed block's header: its compressed bytes


@functools.cache
def _decompress_fn() -> Any:
    """``bshuf_decompress_lz4`` from hdf5plugin's bitshuffle plugin, or None."""
    try:
        import hdf5plugin
    except ImportError:  # pragma: no cover - hdf5plugin is a dependency
        return None
    lib_path = Path(hdf5plugin.PLUGINS_PATH) / "libh5bshuf.so"
    try:
        lib = ctypes.CDLL(str(lib_path))
        fn = lib.bshuf_decompress_lz4
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_int64
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t]
    return fn


def _is_whole_frame_bitshuffle_lz4(dset: Any) -> bool:
    plist = dset.id.get_create_plist()
    if dset.chunks is None or dset.chunks[0] != 1 or tuple(dset.chunks[1:]) != dset.shape[1:]:
        return False
    if plist.get_nfilters() != 1:
        return False
    code, _flags, values, _name = plist.get_filter(0)
    # cd_values: major, minor version, element size, block size, compression (2 = lz4)
    return code == BSHUF_FILTER and len(values) >= 5 and values[4] == 2


@functools.lru_cache(maxsize=256)
def _chunk_table(filename: str, dataset: str, stamp: tuple[int, int]) -> NDArray[np.int64] | None:
    """(frame, 3) ``byte_offset, size, filter_mask`` of every chunk of a one-frame-per-chunk
    dataset (``stamp``: the file's mtime and size, so a rewritten file is read again), or
    None when HDF5 cannot list them in one call (``chunk_iter``) or a chunk is missing."""
    import h5py

    with h5py.File(filename, "r") as h:
        dset = h[dataset]
        table = np.full((dset.shape[0], 3), -1, dtype=np.int64)

        def store(info: Any) -> None:
            table[info.chunk_offset[0]] = (info.byte_offset, info.size, info.filter_mask)

        try:
            dset.id.chunk_iter(store)
        except (AttributeError, RuntimeError, TypeError):  # pragma: no cover - HDF5 < 1.12.3
            return None
    return None if (table[:, 0] < 0).any() else table


def _raw_chunks(dset: Any, start: int, stop: int) -> list[memoryview] | None:
    """Compressed chunks ``start:stop`` in one read of the file (they lie one after another
    in Lima files; h5py's ``read_direct_chunk`` costs ~20 us a frame), or None."""
    filename = dset.file.filename
    try:
        st = os.stat(filename)
    except OSError:  # pragma: no cover - the file is open
        return None
    table = _chunk_table(filename, dset.name, (st.st_mtime_ns, st.st_size))
    if table is None:
        return None
    rows = table[start:stop]
    if (rows[:, 2] != 0).any():
        return None
    lo, hi = int(rows[:, 0].min()), int((rows[:, 0] + rows[:, 1]).max())
    if hi - lo > 2 * int(rows[:, 1].sum()) + (1 << 20):  # scattered chunks: not worth one read
        return None
    fd = os.open(filename, os.O_RDONLY)
    try:
        data = os.pread(fd, hi - lo, lo)
    finally:
        os.close(fd)
    if len(data) != hi - lo:
        return None
    view = memoryview(data)
    return [view[o - lo : o - lo + n] for o, n in zip(rows[:, 0].tolist(), rows[:, 1].tolist(), strict=True)]


def _block_span(raw: bytes, first: int) -> int:
    """Byte offset in ``raw`` (after the chunk header) of compressed block ``first``."""
    offset = _HEADER.size
    for _ in range(first):
        (n,) = _BLOCK.unpack_from(raw, offset)
        offset += _BLOCK.size + n
    return offset


def read_bitshuffle_frames(
    dset: Any, start: int, stop: int, rows: tuple[int, int] | None = None
) -> NDArray[Any] | None:
    """Frames ``start:stop`` of a (frame, det_y, det_x) h5py dataset, or None if not applicable.

    Parameters
    ----------
    dset : h5py.Dataset
        Chunked one frame per chunk, bitshuffle-lz4 as the only filter.
    start, stop : int
        Frame range.
    rows : (int, int), optional
        Detector rows ``det_y`` to return (half-open); only the compressed blocks that
        cover them are decompressed. All rows by default.

    Returns
    -------
    (stop - start, det_y, det_x) ndarray or None
        ``det_y`` is ``rows[1] - rows[0]`` when ``rows`` is given.
    """
    fn = _decompress_fn()
    if fn is None or dset.ndim != 3 or not _is_whole_frame_bitshuffle_lz4(dset):
        return None
    dtype = dset.dtype
    ny, nx = dset.shape[1:]
    r0, r1 = (0, ny) if rows is None else (max(0, rows[0]), min(ny, rows[1]))
    r1 = max(r0, r1)
    n_elem = ny * nx
    out = np.empty((stop - start, r1 - r0, nx), dtype=dtype)
    scratch = np.empty(n_elem, dtype=dtype)
    chunks = _raw_chunks(dset, start, stop) if stop > start else []
    for i, k in enumerate(range(start, stop)):
        if chunks is not None:
            raw: Any = chunks[i]
        else:
            mask, raw = dset.id.read_direct_chunk((k, 0, 0))
            if mask:  # the filter was skipped for this chunk: let h5py handle it
                return None
        total, block = _HEADER.unpack_from(raw)
        if total != n_elem * dtype.itemsize or block % dtype.itemsize:
            return None
        buf = np.frombuffer(raw, dtype=np.uint8)
        b = block // dtype.itemsize  # elements per block
        if (r0, r1) == (0, ny):
            used = fn(buf.ctypes.data + _HEADER.size, out[i].ctypes.data, n_elem, dtype.itemsize, b)
            if used < 0:
                return None
            continue
        first, size = 0, n_elem
        if b > 0 and b % 8 == 0:  # the blocks first:last cover the rows
            first, last = (r0 * nx) // b, -(-(r1 * nx) // b)
            # whole blocks only; a frame's tail (a short block, then raw elements) is decompressed to the end
            size = (last - first) * b if last <= n_elem // b else n_elem - first * b
        used = fn(buf.ctypes.data + _block_span(raw, first), scratch.ctypes.data, size, dtype.itemsize, b)
        if used < 0:
            return None
        lo = r0 * nx - first * b
        out[i] = scratch[lo : lo + (r1 - r0) * nx].reshape(r1 - r0, nx)
    return out
