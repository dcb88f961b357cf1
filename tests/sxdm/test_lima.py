"""Bitshuffle-lz4 frames decompressed outside h5py equal h5py's own read, bit for bit."""

from __future__ import annotations

import os
from dataclasses import replace

import h5py
import hdf5plugin
import numpy as np
import pytest

from operando.errors import CorruptFileError
from operando.sxdm import chunk_index, read_bitshuffle_frames, read_indexed_frames


@pytest.mark.parametrize("dtype", [np.int32, np.uint16])
def test_same_frames_as_h5py(tmp_path, dtype):
    rng = np.random.default_rng(0)
    frames = rng.poisson(rng.uniform(0, 30, (7, 33, 20))).astype(dtype)
    frames[2, 5, 5] = np.iinfo(dtype).max
    with h5py.File(tmp_path / "lima.h5", "w") as h:
        h.create_dataset("data", data=frames, chunks=(1, 33, 20), **hdf5plugin.Bitshuffle(cname="lz4"))
    with h5py.File(tmp_path / "lima.h5", "r") as h:
        got = read_bitshuffle_frames(h["data"], 1, 6)
        assert got is not None and got.dtype == frames.dtype
        assert got.tobytes() == h["data"][1:6].tobytes() == frames[1:6].tobytes()


def test_other_layouts_fall_back(tmp_path):
    frames = np.arange(4 * 8 * 8, dtype=np.int32).reshape(4, 8, 8)
    with h5py.File(tmp_path / "other.h5", "w") as h:
        h.create_dataset("gzip", data=frames, chunks=(1, 8, 8), compression="gzip")
        h.create_dataset("two_frames", data=frames, chunks=(2, 8, 8), **hdf5plugin.Bitshuffle(cname="lz4"))
        h.create_dataset("zstd", data=frames, chunks=(1, 8, 8), **hdf5plugin.Bitshuffle(cname="zstd"))
        h.create_dataset("plain", data=frames)
    with h5py.File(tmp_path / "other.h5", "r") as h:
        for name in ("two_frames", "zstd", "plain"):
            assert read_bitshuffle_frames(h[name], 0, 4) is None, name
        # whole-frame gzip chunks are read outside h5py too (zlib in threads), bit for bit
        np.testing.assert_array_equal(read_bitshuffle_frames(h["gzip"], 0, 4), frames)


@pytest.mark.parametrize(
    ("block_size", "rows"),
    [(0, (0, 200)), (0, (37, 101)), (0, (150, 200)), (0, (5, 6)), (96, (9, 190)), (24, (199, 200))],
)
@pytest.mark.parametrize("n_frames", [3, 20])  # block headers walked in Python (few frames) or NumPy (many)
def test_row_band_same_as_h5py(tmp_path, block_size, rows, n_frames):
    """Decompressing only the blocks that cover a band of rows gives h5py's rows, bit for bit
    (bands starting and ending inside blocks, the frame's short last block and raw tail)."""
    rng = np.random.default_rng(1)
    frames = rng.poisson(rng.uniform(0, 30, (n_frames, 200, 43))).astype(np.int32)  # 8600 elements: a short tail
    with h5py.File(tmp_path / "lima.h5", "w") as h:
        h.create_dataset(
            "data", data=frames, chunks=(1, 200, 43), **hdf5plugin.Bitshuffle(nelems=block_size, cname="lz4")
        )
    with h5py.File(tmp_path / "lima.h5", "r") as h:
        got = read_bitshuffle_frames(h["data"], 0, n_frames, rows=rows)
        one = read_bitshuffle_frames(h["data"], n_frames - 1, n_frames, rows=rows)
    assert got is not None and got.shape == (n_frames, rows[1] - rows[0], 43)
    np.testing.assert_array_equal(got, frames[:, rows[0] : rows[1]])
    np.testing.assert_array_equal(one, frames[-1:, rows[0] : rows[1]])


def _lima(path, frames, **kw):
    with h5py.File(path, "w") as h:
        h.create_dataset("data", data=frames, chunks=(1, *frames.shape[1:]), **hdf5plugin.Bitshuffle(cname="lz4", **kw))
    return chunk_index(path, "data")


@pytest.mark.parametrize(
    ("rows", "cols"), [(None, (3, 17)), ((40, 131), (0, 43)), ((7, 8), (42, 43)), ((0, 200), None)]
)
def test_detector_box_same_as_h5py(tmp_path, rows, cols):
    rng = np.random.default_rng(2)
    frames = rng.poisson(rng.uniform(0, 30, (5, 200, 43))).astype(np.int32)
    index = _lima(tmp_path / "lima.h5", frames)
    assert index is not None and len(index) == 5
    got = read_indexed_frames(index, 1, 4, rows=rows, cols=cols)
    r, c = slice(*(rows or (None,))), slice(*(cols or (None,)))
    want = frames[1:4, r, c]
    assert got.flags.c_contiguous and got.dtype == frames.dtype
    np.testing.assert_array_equal(got, want)


def test_rewritten_file_is_indexed_again(tmp_path):
    path = tmp_path / "lima.h5"
    a = np.zeros((3, 16, 16), dtype=np.int32)
    first = _lima(path, a)
    b = np.arange(4 * 16 * 16, dtype=np.int32).reshape(4, 16, 16)
    os.utime(path, ns=(1, 1))  # a rewrite within the clock's resolution still changes the size here
    second = _lima(path, b)
    assert len(first) == 3 and len(second) == 4
    np.testing.assert_array_equal(read_indexed_frames(second, 0, 4), b)


def test_damaged_chunks_give_one_clear_error(tmp_path):
    """A flipped byte in a chunk header or a block size, or a cut file: CorruptFileError naming
    the file, never a crash or silently wrong frames."""
    rng = np.random.default_rng(3)
    frames = rng.poisson(5.0, (20, 64, 64)).astype(np.int32)
    path = tmp_path / "lima.h5"
    index = _lima(path, frames, nelems=256)
    raw = bytearray(path.read_bytes())
    o = int(index.offsets[2])
    for where, value in ((o + 3, 0x7F), (o + 12, 0xFF), (o + 13, 0xFF)):  # total size; first block's size
        bad = bytearray(raw)
        bad[where] = value
        damaged = tmp_path / f"bad{where}.h5"
        damaged.write_bytes(bytes(bad))
        idx = chunk_index(damaged, "data")
        for first, last in ((0, 4), (2, 3), (0, 20)):  # headers walked in Python (few frames) and NumPy (many)
            with pytest.raises(CorruptFileError, match="frame 2|block sizes|decompress") as err:
                read_indexed_frames(idx, first, last, rows=(40, 50))
            assert str(damaged) in str(err.value)
    cut = tmp_path / "cut.h5"
    cut.write_bytes(bytes(raw[: int(index.offsets[3]) + 10]))
    with pytest.raises(CorruptFileError, match="truncated"):
        read_indexed_frames(replace(index, filename=str(cut)), 0, 4)


@pytest.mark.parametrize("dtype", ["<i4", ">i4", "<u2", "<f4"])
@pytest.mark.parametrize("codec", ["raw", "deflate", "shuffle-deflate"])
@pytest.mark.parametrize(("rows", "cols"), [(None, None), ((37, 101), None), ((0, 1), (42, 43)), ((150, 200), (3, 17))])
def test_uncompressed_and_gzip_boxes_same_as_h5py(tmp_path, codec, dtype, rows, cols):
    """Raw chunks read only the box's rows, gzip chunks un-shuffle only the box: every box
    equals h5py's read, bit for bit, in any byte order and type."""
    rng = np.random.default_rng(4)
    frames = rng.poisson(rng.uniform(0, 300, (5, 200, 43))).astype(dtype)
    frames[1, 60, 7] = 70000 if dtype != "<u2" else 65535  # a count that fills the higher byte planes
    kw = {"raw": {}, "deflate": {"compression": "gzip"}, "shuffle-deflate": {"compression": "gzip", "shuffle": True}}
    with h5py.File(tmp_path / "lima.h5", "w") as h:
        h.create_dataset("data", data=frames, chunks=(1, 200, 43), **kw[codec])
    index = chunk_index(tmp_path / "lima.h5", "data")
    assert index is not None and index.codec == codec
    got = read_indexed_frames(index, 1, 5, rows=rows, cols=cols)
    with h5py.File(tmp_path / "lima.h5", "r") as h:
        want = h["data"][1:5, slice(*(rows or (None,))), slice(*(cols or (None,)))]
    assert got.dtype == want.dtype and got.flags.c_contiguous
    assert got.tobytes() == np.ascontiguousarray(want).tobytes()


def test_gzip_without_libdeflate_reads_the_same(tmp_path, monkeypatch):
    """zlib, the fallback where libdeflate is not installed, inflates to the same frames."""
    frames = np.random.default_rng(5).poisson(9.0, (3, 64, 48)).astype(np.int32)
    with h5py.File(tmp_path / "g.h5", "w") as h:
        h.create_dataset("data", data=frames, chunks=(1, 64, 48), compression="gzip", shuffle=True)
    index = chunk_index(tmp_path / "g.h5", "data")
    fast = read_indexed_frames(index, 0, 3, rows=(10, 40))
    monkeypatch.setattr("operando.sxdm.io._lima._libdeflate", lambda: None)
    np.testing.assert_array_equal(read_indexed_frames(index, 0, 3, rows=(10, 40)), fast)
    np.testing.assert_array_equal(fast, frames[:, 10:40])
