"""Bitshuffle-lz4 frames decompressed outside h5py equal h5py's own read, bit for bit."""

from __future__ import annotations

import h5py
import hdf5plugin
import numpy as np
import pytest

from operando.sxdm._lima import read_bitshuffle_frames


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
        for name in ("gzip", "two_frames", "zstd", "plain"):
            assert read_bitshuffle_frames(h[name], 0, 4) is None, name


@pytest.mark.parametrize(
    ("block_size", "rows"),
    [(0, (0, 200)), (0, (37, 101)), (0, (150, 200)), (0, (5, 6)), (96, (9, 190)), (24, (199, 200))],
)
def test_row_band_same_as_h5py(tmp_path, block_size, rows):
    """Decompressing only the blocks that cover a band of rows gives h5py's rows, bit for bit
    (bands starting and ending inside blocks, the frame's short last block and raw tail)."""
    rng = np.random.default_rng(1)
    frames = rng.poisson(rng.uniform(0, 30, (3, 200, 43))).astype(np.int32)  # 8600 elements: a short tail
    with h5py.File(tmp_path / "lima.h5", "w") as h:
        h.create_dataset(
            "data", data=frames, chunks=(1, 200, 43), **hdf5plugin.Bitshuffle(nelems=block_size, cname="lz4")
        )
    with h5py.File(tmp_path / "lima.h5", "r") as h:
        got = read_bitshuffle_frames(h["data"], 0, 3, rows=rows)
    assert got is not None and got.shape == (3, rows[1] - rows[0], 43)
    np.testing.assert_array_equal(got, frames[:, rows[0] : rows[1]])
