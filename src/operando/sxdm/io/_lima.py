"""Lima frames compressed with bitshuffle-lz4 (or gzip), read and decompressed outside HDF5.

h5py serialises every HDF5 call behind one lock, filters included, so threads reading
bitshuffle-lz4 frames (the Lima default at the ESRF) decompress one at a time, and opening
a file and its dataset for each block of frames costs more than decompressing a band of
their rows. Here each Lima dataset is opened with h5py once, to list where its compressed
chunks lie in the file (:func:`chunk_index`, cached); after that a block of frames is one
``pread`` of their compressed bytes and one ``bshuf_decompress_lz4`` call per frame, the
bitshuffle library that ``hdf5plugin`` ships (its public C API, called through ctypes,
which releases the GIL), so threads decompress in parallel; gzip frames (with HDF5's byte
shuffle or not) likewise through libdeflate (or :mod:`zlib`). Anything else (other filters,
chunks that are not whole frames, a chunk the filter skipped, no library) gives None and
the caller reads through h5py.

Bitshuffle compresses each chunk in independent blocks (8 kB by default), each stored as
a 4-byte big-endian compressed size and its lz4 payload, one after another. A band of
detector rows is decompressed alone by walking those size headers to its first block
(for all frames of a block at once) and decompressing only the blocks that cover it: a
region of interest a quarter of the detector high costs a quarter of the decompression.
No library reads a band of a bitshuffle chunk, hence this module.
"""

from __future__ import annotations

import ctypes
import functools
import os
import struct
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from h5py import h5z as h5py_filters
from numpy.typing import NDArray

from operando.errors import CorruptFileError

__all__ = [
    "ChunkIndex",
    "cached_chunk_indexes",
    "chunk_index",
    "clear_chunk_indexes",
    "read_bitshuffle_frames",
    "read_indexed_frames",
    "thread_buffer",
]

BSHUF_FILTER = 32008  # registered HDF5 filter id of bitshuffle
_HEADER = 12  # the filter's chunk header: uncompressed bytes (>u8), block size in bytes (>u4)


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


@dataclass(frozen=True)
class ChunkIndex:
    """Where the compressed frames of one Lima dataset lie in its file.

    Attributes
    ----------
    filename : str
        The HDF5 file.
    offsets, sizes : (frame,) ndarray of int64
        Byte offset and compressed size of each frame's chunk.
    frame_shape : (int, int)
        ``(det_y, det_x)`` pixels.
    dtype : numpy.dtype
        Pixel type.
    codec : str
        ``"bitshuffle-lz4"``, ``"deflate"`` or ``"shuffle-deflate"`` (HDF5's gzip filter,
        after its byte shuffle or not), or ``"raw"`` (chunked, no filter).
    """

    filename: str
    offsets: NDArray[np.int64]
    sizes: NDArray[np.int64]
    frame_shape: tuple[int, int]
    dtype: np.dtype[Any]
    codec: str = "bitshuffle-lz4"

    def __len__(self) -> int:
        return int(self.offsets.size)


def _whole_frame_codec(dset: Any) -> str | None:
    """The codec of a dataset chunked one whole frame per chunk that is read here, or None."""
    plist = dset.id.get_create_plist()
    if dset.ndim != 3 or dset.chunks is None or dset.chunks[0] != 1 or tuple(dset.chunks[1:]) != dset.shape[1:]:
        return None
    filters = [plist.get_filter(i) for i in range(plist.get_nfilters())]
    codes = [f[0] for f in filters]
    if codes == [BSHUF_FILTER]:
        values = filters[0][2]
        # cd_values: major, minor version, element size, block size, compression (2 = lz4)
        ok = len(values) >= 5 and values[4] == 2 and _decompress_fn() is not None
        return "bitshuffle-lz4" if ok else None
    if codes == []:
        return "raw"
    if codes == [h5py_filters.FILTER_DEFLATE]:
        return "deflate"
    if codes == [h5py_filters.FILTER_SHUFFLE, h5py_filters.FILTER_DEFLATE]:
        return "shuffle-deflate"
    return None


_INDEX_LOCK = threading.Lock()
_INDEX: dict[tuple[str, str, int, int], ChunkIndex | None] = {}


def _build_index(dset: Any) -> ChunkIndex | None:
    """The chunk table of an open dataset, or None when it cannot be read without HDF5."""
    codec = _whole_frame_codec(dset)
    if codec is None:
        return None
    where: list[int] = []
    found: list[tuple[int, int, int]] = []

    def store(info: Any) -> None:  # plain list appends: a numpy row per chunk cost ~0.6 us more
        where.append(info.chunk_offset[0])
        found.append((info.byte_offset, info.size, info.filter_mask))

    try:
        dset.id.chunk_iter(store)  # one call for all chunks (h5py's get_chunk_info costs ~20 us each)
    except (AttributeError, RuntimeError, TypeError):  # pragma: no cover - HDF5 < 1.12.3
        return None
    table = np.full((dset.shape[0], 3), -1, dtype=np.int64)
    if found:
        table[np.asarray(where, dtype=np.intp)] = np.asarray(found, dtype=np.int64)
    if (table[:, 0] < 0).any() or (table[:, 2] != 0).any():  # unwritten chunks, or the filter skipped
        return None
    return ChunkIndex(
        filename=str(dset.file.filename),
        offsets=table[:, 0].copy(),
        sizes=table[:, 1].copy(),
        frame_shape=(int(dset.shape[1]), int(dset.shape[2])),
        dtype=np.dtype(dset.dtype),
        codec=codec,
    )


def chunk_index(filename: str | os.PathLike[str], dataset: str, *, dset: Any = None) -> ChunkIndex | None:
    """The (cached) chunk index of a Lima dataset, or None when it must be read through h5py.

    The cache is keyed by the file's path, modification time and size, so a rewritten file
    is indexed again; the file is opened (read-only) only on a cache miss.

    Parameters
    ----------
    filename : path
        HDF5 file.
    dataset : str
        Path of the ``(frame, det_y, det_x)`` dataset in it.
    dset : h5py.Dataset, optional
        The dataset, already open (saves opening the file on a miss).

    Returns
    -------
    ChunkIndex or None
    """
    name = os.fspath(filename)
    st = os.stat(name)
    key = (name, dataset.lstrip("/"), st.st_mtime_ns, st.st_size)
    with _INDEX_LOCK:
        if key in _INDEX:
            return _INDEX[key]
    if dset is not None:
        index = _build_index(dset)
    else:
        import h5py

        try:
            with h5py.File(name, "r") as h:
                index = _build_index(h[dataset])
        except (OSError, KeyError) as err:  # truncated, not HDF5, or no such dataset
            raise CorruptFileError(f"cannot read the Lima frames {dataset}: {err}", path=name) from err
    with _INDEX_LOCK:
        if len(_INDEX) > 4096:  # a long session over many maps: forget the oldest
            _INDEX.pop(next(iter(_INDEX)))
        _INDEX[key] = index
    return index


def cached_chunk_indexes() -> list[str]:
    """Files whose chunk index is cached now (one entry per file and dataset).

    Examples
    --------
    >>> clear_chunk_indexes(); cached_chunk_indexes()
    []
    """
    with _INDEX_LOCK:
        return [k[0] for k, v in _INDEX.items() if v is not None]


def clear_chunk_indexes() -> None:
    """Forget every cached chunk index (the next read of each file indexes it again)."""
    with _INDEX_LOCK:
        _INDEX.clear()


def _be(buf: NDArray[np.uint8], pos: NDArray[np.int64], nbytes: int) -> NDArray[np.int64]:
    """Big-endian unsigned integers of ``nbytes`` bytes at byte positions ``pos`` of ``buf``."""
    out = np.zeros(pos.shape, dtype=np.int64)
    for k in range(nbytes):
        out = (out << 8) | buf[pos + k]
    return out


def _walk_blocks(
    buf: NDArray[np.uint8], pos: NDArray[np.int64], ends: NDArray[np.int64], n_blocks: int, filename: str
) -> NDArray[np.int64]:
    """Byte positions ``pos`` (frame,) moved past ``n_blocks`` bitshuffle blocks of each frame
    (each a 4-byte big-endian size and its payload).

    Few frames are walked in Python (~0.2 us a block), many at once with NumPy (~10 us a
    block for all frames): one point's 30 frames read one at a time, 45 blocks deep into
    a 516^2 frame, had cost 0.5 ms of walking each against 0.02 ms.
    """
    if n_blocks == 0:
        return pos
    if pos.size < 16:
        raw = buf.data
        moved = []
        for p, end in zip(pos.tolist(), ends.tolist(), strict=True):
            for _ in range(n_blocks):
                if p + 4 > end:
                    raise CorruptFileError("bitshuffle block sizes run past their chunk", path=filename)
                p += 4 + _BLOCK_SIZE.unpack_from(raw, p)[0]
            moved.append(p)
        return np.asarray(moved, dtype=np.int64)
    for _ in range(n_blocks):  # the size headers of all frames at once
        if (pos + 4 > ends).any():
            raise CorruptFileError("bitshuffle block sizes run past their chunk", path=filename)
        pos = pos + 4 + _be(buf, pos, 4)
    return pos


_BLOCK_SIZE = struct.Struct(">I")
_BUFFERS = threading.local()


def thread_buffer(slot: str, nbytes: int) -> memoryview:
    """This thread's reusable buffer ``slot``, at least ``nbytes`` long (fresh memory costs a
    page fault per 4 kB on every block, ~10 us each on a VM; a reused buffer only once).

    Each slot is one buffer per thread: the data in it are valid until the same thread asks
    for the same slot again.
    """
    buffers: dict[str, bytearray] = _BUFFERS.__dict__.setdefault("slots", {})
    buf = buffers.get(slot)
    if buf is None or len(buf) < nbytes:
        buf = buffers[slot] = bytearray(max(nbytes, 2 * len(buf or b"")))
    return memoryview(buf)[:nbytes]


def _read_compressed(index: ChunkIndex, start: int, stop: int) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Compressed chunks of frames ``start:stop`` -> (bytes, offset of each chunk in them).

    The bytes live in this thread's ``compressed`` buffer: valid until its next call.
    """
    offs, sizes = index.offsets[start:stop], index.sizes[start:stop]
    lo, hi = int(offs.min()), int((offs + sizes).max())
    fd = os.open(index.filename, os.O_RDONLY)
    try:
        if hi - lo <= 2 * int(sizes.sum()) + (1 << 20):  # they lie one after another (Lima writes them so)
            view = thread_buffer("compressed", hi - lo)
            got = os.preadv(fd, [view], lo)
            rel = offs - lo
        else:  # scattered: one read each
            view = thread_buffer("compressed", int(sizes.sum()))
            rel = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
            got = sum(
                os.preadv(fd, [view[r : r + n]], o)
                for r, o, n in zip(rel.tolist(), offs.tolist(), sizes.tolist(), strict=True)
            )
    finally:
        os.close(fd)
    if got != len(view):
        raise CorruptFileError(f"truncated: frames {start}:{stop} end past the end of the file", path=index.filename)
    return np.frombuffer(view, dtype=np.uint8), rel


def read_indexed_frames(
    index: ChunkIndex,
    start: int,
    stop: int,
    rows: tuple[int, int] | None = None,
    cols: tuple[int, int] | None = None,
    out: NDArray[Any] | None = None,
) -> NDArray[Any]:
    """Frames ``start:stop`` of an indexed Lima dataset, optionally a detector box only.

    Parameters
    ----------
    index : ChunkIndex
        From :func:`chunk_index`.
    start, stop : int
        Frame range, within the dataset.
    rows, cols : (int, int), optional
        Detector rows and columns to return (half-open, clipped to the frame); only the
        compressed blocks that cover the rows are decompressed. All by default.
    out : ndarray, optional
        C-contiguous array of the result's shape and dtype to write into (saves a copy
        when the frames go into a larger block).

    Returns
    -------
    (stop - start, rows, cols) ndarray
        In the dataset's dtype, bit-identical to h5py's read.

    Raises
    ------
    CorruptFileError
        A chunk whose header or blocks do not fit the frame, or a truncated file.
    """
    fn = _decompress_fn()
    ny, nx = index.frame_shape
    dtype, item = index.dtype, index.dtype.itemsize
    if not 0 <= start <= stop <= len(index):
        raise ValueError(f"frames {start}:{stop} outside 0:{len(index)}")
    r0, r1 = (0, ny) if rows is None else (max(0, rows[0]), min(ny, rows[1]))
    c0, c1 = (0, nx) if cols is None else (max(0, cols[0]), min(nx, cols[1]))
    r1, c1 = max(r0, r1), max(c0, c1)
    shape = (stop - start, r1 - r0, c1 - c0)
    if out is None:
        out = np.empty(shape, dtype=dtype)
    elif out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {dtype} array of shape {shape}")
    if out.size == 0:
        return out
    n_elem = ny * nx
    if index.codec == "raw":
        _raw_frames(index, start, stop, (r0, r1, c0, c1), out)
        return out
    buf, rel = _read_compressed(index, start, stop)
    if index.codec != "bitshuffle-lz4":
        return _inflate_frames(index, buf, rel, start, stop, (r0, r1, c0, c1), out)
    ends = rel + index.sizes[start:stop]
    total, block = _be(buf, rel, 8), _be(buf, rel + 8, 4)
    bad = (total != n_elem * item) | (block % item != 0) | (block != block[0])
    if bad.any():
        k = start + int(np.flatnonzero(bad)[0])
        raise CorruptFileError(
            f"frame {k}: bitshuffle chunk header does not fit a {ny} x {nx} frame", path=index.filename
        )
    b = int(block[0]) // item  # elements per block
    first, size = 0, n_elem
    if (r0, r1) != (0, ny) and b > 0 and b % 8 == 0:  # the blocks first:last cover the rows
        first, last = (r0 * nx) // b, -(-(r1 * nx) // b)
        # whole blocks only; a frame's tail (a short block, then raw elements) is decompressed to the end
        size = (last - first) * b if last <= n_elem // b else n_elem - first * b
    pos = _walk_blocks(buf, rel + _HEADER, ends, first, index.filename)
    if (pos > ends).any():
        raise CorruptFileError("bitshuffle block sizes run past their chunk", path=index.filename)
    whole = (r0, r1, c0, c1) == (0, ny, 0, nx)
    scratch = out if whole else np.empty((size,), dtype=dtype)  # small: stays in the cache
    lo = r0 * nx - first * b
    src, dst = buf.ctypes.data, scratch.ctypes.data
    limit = (ends - pos).tolist()
    for i, p in enumerate(pos.tolist()):
        used = fn(src + p, dst + i * n_elem * item if whole else dst, size, item, b)
        if used < 0 or used > limit[i]:
            raise CorruptFileError(f"frame {start + i}: bitshuffle-lz4 data do not decompress", path=index.filename)
        if not whole:
            out[i] = scratch[lo : lo + (r1 - r0) * nx].reshape(r1 - r0, nx)[:, c0:c1]
    return out


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
    if dset.ndim != 3 or not 0 <= start <= stop <= dset.shape[0]:
        return None
    index = chunk_index(dset.file.filename, dset.name, dset=dset)
    if index is None:
        return None
    return read_indexed_frames(index, start, stop, rows=rows)


@functools.cache
def _libdeflate() -> Any:
    """``deflate.zlib_decompress`` (libdeflate, PyPI ``deflate``), or None when not installed."""
    try:
        from deflate import zlib_decompress
    except ImportError:  # pragma: no cover - the sxdm extra installs it
        return None
    return zlib_decompress


def _inflate(data: memoryview, nbytes: int) -> bytes | bytearray:
    """One zlib stream (HDF5's deflate filter) inflated, at most ``nbytes`` long.

    libdeflate when installed: on 516^2 int32 Maxipix frames (level 4, byte shuffle) it
    took 0.31 ms of CPU per frame against 1.25 ms for :func:`zlib.decompress` and 0.92 ms
    for python-isal (``/tmp`` micro-benchmark, 144 frames, thread CPU time); it releases
    the GIL as zlib does. It inflates whole streams only, which is all HDF5 chunks need.
    """
    fast = _libdeflate()
    if fast is not None:
        return fast(data, nbytes)
    import zlib

    return zlib.decompress(data, bufsize=nbytes)


def _inflate_frames(
    index: ChunkIndex,
    buf: NDArray[np.uint8],
    rel: NDArray[np.int64],
    start: int,
    stop: int,
    box: tuple[int, int, int, int],
    out: NDArray[Any],
) -> NDArray[Any]:
    """Gzip (deflate) frames, after HDF5's byte shuffle or not, inflated outside HDF5
    (:func:`_inflate`), only the detector ``box`` (rows r0:r1, cols c0:c1) kept.

    Through h5py, gzip frames decompress one at a time behind h5py's lock: four threads
    read a 516^2 int32 map no faster than one. Here the inflate releases the GIL, so
    threads decompress in parallel. A shuffled chunk holds byte 0 of every element, then
    byte 1, ...: only the box is gathered back from the byte planes (un-shuffling the
    whole frame cost ~2 ms per 516^2 frame, more than inflating it).
    """
    ny, nx = index.frame_shape
    r0, r1, c0, c1 = box
    item = index.dtype.itemsize
    nbytes = ny * nx * item
    for i, (p, n) in enumerate(zip(rel.tolist(), index.sizes[start:stop].tolist(), strict=True)):
        try:
            raw = _inflate(buf[p : p + n].data, nbytes)
        except Exception as err:  # zlib.error, deflate.DeflateError, or a drop-in's own (python-isal's
            # IsalError, when a package has put isal in sys.modules["zlib"]); either way, bad data
            raise CorruptFileError(
                f"frame {start + i}: gzip data do not decompress ({err})", path=index.filename
            ) from None
        if len(raw) != nbytes:
            raise CorruptFileError(f"frame {start + i}: gzip chunk is not a {ny} x {nx} frame", path=index.filename)
        b = np.frombuffer(raw, dtype=np.uint8)
        if index.codec == "shuffle-deflate":  # byte k of each element of the box, from plane k
            _unshuffle(b.reshape(item, ny, nx)[:, r0:r1, c0:c1], out[i])
        else:
            out[i] = b.view(index.dtype).reshape(ny, nx)[r0:r1, c0:c1]
    return out


def _unshuffle(planes: NDArray[np.uint8], out: NDArray[Any]) -> None:
    """HDF5's byte shuffle undone: ``planes`` (item, h, w) uint8, byte k of each element in
    plane k -> ``out`` (h, w), any type of that item size.

    Each element is assembled as an unsigned integer, plane k shifted by 8k bits, on a
    little-endian machine (its memory bytes are then the planes' in order), and all-zero
    planes (the high bytes of low counts) are skipped: 0.07 ms per 516^2 int32 frame against
    0.93 ms for the strided transpose copy (thread CPU time, 200 frames).

    Examples
    --------
    >>> x = np.array([[1, 258, -2]], dtype=">i4")
    >>> planes = np.frombuffer(x.tobytes(), np.uint8).reshape(1, 3, 4).transpose(2, 0, 1)
    >>> out = np.empty_like(x); _unshuffle(planes, out); out.tolist()
    [[1, 258, -2]]
    """
    item = planes.shape[0]
    if item == 1 or sys.byteorder != "little":
        out.view(np.uint8).reshape(*out.shape, item)[...] = np.moveaxis(planes, 0, -1)
        return
    acc = out.view(f"<u{item}")
    np.copyto(acc, planes[0], casting="unsafe")
    for k in range(1, item):
        if planes[k].any():
            acc |= np.left_shift(planes[k], 8 * k, dtype=acc.dtype)


def _raw_frames(index: ChunkIndex, start: int, stop: int, box: tuple[int, int, int, int], out: NDArray[Any]) -> None:
    """Uncompressed chunks: only the bytes of rows r0:r1 of each frame are read (one
    ``pread`` per frame), columns c0:c1 kept.

    A region a tenth of the detector high reads a tenth of the bytes: on 516^2 int32
    frames in the page cache, 0.46 ms per frame when whole chunks were read and cropped.
    """
    ny, nx = index.frame_shape
    r0, r1, c0, c1 = box
    row = nx * index.dtype.itemsize
    whole_rows = (c0, c1) == (0, nx)
    band = out if whole_rows else np.empty((r1 - r0, nx), dtype=index.dtype)
    offs, sizes = index.offsets[start:stop], index.sizes[start:stop]
    if (sizes != ny * row).any():
        k = start + int(np.flatnonzero(sizes != ny * row)[0])
        raise CorruptFileError(f"frame {k}: uncompressed chunk is not a {ny} x {nx} frame", path=index.filename)
    fd = os.open(index.filename, os.O_RDONLY)
    try:
        for i, o in enumerate(offs.tolist()):
            dst = out[i] if whole_rows else band
            got = os.preadv(fd, [dst.reshape(-1).view(np.uint8).data], o + r0 * row)
            if got != dst.nbytes:
                raise CorruptFileError(f"truncated: frame {start + i} ends past the file's end", path=index.filename)
            if not whole_rows:
                out[i] = band[:, c0:c1]
    finally:
        os.close(fd)
