"""Every Lima frame encoding reads the same frames and maps: bitshuffle-lz4, gzip, none."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from operando.errors import CorruptFileError
from operando.pipelines.sxdm import process_kmap
from operando.sxdm import chunk_index, clear_chunk_indexes, open_bliss_kmap, read_indexed_frames
from operando.synthetic import simulate_kmap, write_bliss_kmap


@pytest.fixture(scope="module")
def maps(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("enc")
    model = simulate_kmap(map_shape=(5, 6), n_angles=8, detector_shape=(48, 44), eta_step_deg=0.04, seed=4)
    return model, {e: write_bliss_kmap(model, tmp / e, encoding=e) for e in ("bitshuffle-lz4", "gzip", "none")}


def test_gzip_frames_are_indexed_and_read_outside_hdf5(maps):
    _, masters = maps
    lima = masters["gzip"].parent / "scan0001" / "mpx1x4_0000.h5"
    index = chunk_index(lima, "entry_0000/instrument/mpx1x4/data")
    assert index is not None and index.codec == "shuffle-deflate"
    with h5py.File(lima, "r") as h:
        want = h["entry_0000/instrument/mpx1x4/data"][:]
    np.testing.assert_array_equal(read_indexed_frames(index, 0, len(index)), want)
    np.testing.assert_array_equal(read_indexed_frames(index, 3, 9, rows=(5, 20), cols=(7, 30)), want[3:9, 5:20, 7:30])
    plain = chunk_index(masters["none"].parent / "scan0001" / "mpx1x4_0000.h5", "entry_0000/instrument/mpx1x4/data")
    assert plain is not None and plain.codec == "raw"
    np.testing.assert_array_equal(read_indexed_frames(plain, 2, 7, rows=(1, 4)), want[2:7, 1:4])  # same frames


def test_every_encoding_gives_the_same_maps(maps):
    model, masters = maps
    frames = {e: np.asarray(open_bliss_kmap(m)[0]) for e, m in masters.items()}
    truth = model.frames(0, 30).reshape(8, 5, 6, 48, 44)
    for f in frames.values():
        np.testing.assert_array_equal(f, truth)
    d = {e: process_kmap(m)[0].d_spacing.values for e, m in masters.items()}
    np.testing.assert_array_equal(d["gzip"], d["bitshuffle-lz4"])
    np.testing.assert_array_equal(d["none"], d["bitshuffle-lz4"])


def test_damaged_gzip_chunk_is_named(tmp_path):
    model = simulate_kmap(map_shape=(3, 3), n_angles=3, detector_shape=(20, 20))
    master = write_bliss_kmap(model, tmp_path / "g", encoding="gzip")
    lima = master.parent / "scan0001" / "mpx1x4_0000.h5"
    clear_chunk_indexes()
    index = chunk_index(lima, "entry_0000/instrument/mpx1x4/data")
    with open(lima, "r+b") as f:  # scribble over the second frame's compressed bytes
        f.seek(int(index.offsets[1]) + 2)
        f.write(b"\xff" * 8)
    with pytest.raises(CorruptFileError, match="frame 1: gzip"):
        read_indexed_frames(index, 0, 3)
    clear_chunk_indexes()
