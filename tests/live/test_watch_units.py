"""The watch's pieces on their own: growing files, Bliss completion, settling, options."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from operando.errors import ParameterError
from operando.live import Watch, bliss_complete, parse_bind, snapshot_growing_file
from operando.synthetic import simulate_kmap, write_bliss_kmap


def test_snapshot_stops_at_the_last_complete_line(tmp_path):
    src = tmp_path / "cell.mpt"
    src.write_bytes(b"header\n1\t2\n3\t4")  # the writer is in the middle of a row
    snap = snapshot_growing_file(src, tmp_path / "snap")
    assert snap is not None and snap.read_bytes() == b"header\n1\t2\n"
    with src.open("ab") as f:
        f.write(b"\n5\t")
    assert snapshot_growing_file(src, tmp_path / "snap").read_bytes() == b"header\n1\t2\n3\t4\n"
    assert snapshot_growing_file(tmp_path / "none.mpt", tmp_path / "snap") is None
    (tmp_path / "empty.mpt").write_bytes(b"no newline yet")
    assert snapshot_growing_file(tmp_path / "empty.mpt", tmp_path / "snap") is None


@pytest.fixture(scope="module")
def kmap(tmp_path_factory):
    model = simulate_kmap(map_shape=(4, 4), n_angles=3, detector_shape=(16, 16), seed=2)
    return write_bliss_kmap(model, tmp_path_factory.mktemp("k") / "kmap", name="k")


def test_bliss_master_complete_only_when_every_scan_ended_and_frames_exist(kmap, tmp_path):
    done = bliss_complete(kmap)
    assert done.done and done.files[0] == kmap and len(done.files) > 1  # the Lima files are named
    running = tmp_path / "kmap"
    shutil.copytree(kmap.parent, running)
    master = running / kmap.name
    with h5py.File(master, "r+") as f:
        last = sorted(f)[-1]
        del f[last]["end_time"]
    state = bliss_complete(master)
    assert not state.done and "end_time" in state.reason
    with h5py.File(master, "r+") as f:
        f[last]["end_time"] = "2024-05-01T10:00:00"
    lima = next(p for p in done.files[1:])
    (running / lima.relative_to(kmap.parent)).unlink()
    state = bliss_complete(master)
    assert not state.done and "frame file" in state.reason
    (tmp_path / "garbage.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 10)
    assert not bliss_complete(tmp_path / "garbage.h5").done


def test_a_measurement_is_taken_only_after_it_settled(kmap, tmp_path):
    root = tmp_path / "raw"
    shutil.copytree(kmap.parent, root / "kmap")
    seen = []
    w = Watch(root, tmp_path / "out", settle_s=5.0, report=False, on_event=seen.append)
    w.kinds = {"sxdm": w.kinds["sxdm"]}
    assert w.step(now=100.0) == []  # first sight: wait for it to settle
    assert w.pending()
    assert w.step(now=102.0) == []
    events = w.step(now=106.0)
    assert [e.what for e in events] == ["added"]
    assert not w.pending()
    assert w.step(now=200.0) == []  # done: never read again
    assert (tmp_path / "out" / "sxdm_maps.zarr").exists()


def test_options_and_folders_are_checked(tmp_path):
    with pytest.raises(ParameterError, match="does not exist"):
        Watch(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(ParameterError, match="unknown kinds"):
        Watch(tmp_path, tmp_path / "out", options={"xrd": {}})
    with pytest.raises(ParameterError, match="settle"):
        Watch(tmp_path, tmp_path / "out", settle_s=float("nan"))
    assert parse_bind("0.0.0.0:9000") == ("0.0.0.0", 9000)
    for bad in ("host:port", "127.0.0.1:70000"):
        with pytest.raises(ParameterError, match="--serve"):
            parse_bind(bad)


def test_a_failing_measurement_is_listed_and_retried_only_when_it_changes(kmap, tmp_path):
    root = tmp_path / "raw"
    shutil.copytree(kmap.parent, root / "kmap")
    master = root / "kmap" / kmap.name
    # every frame file cut short: the master says the scans ended, the frames cannot be read
    for p in (root / "kmap").rglob("*.h5"):
        if p != master:
            p.write_bytes(p.read_bytes()[:2048])
    w = Watch(root, tmp_path / "out", settle_s=0.0, report=False)
    events = w.step()
    assert [e.what for e in events] == ["failed"]
    assert str(master.resolve()) in w.errors and len(w.errors[str(master.resolve())].splitlines()) == 1
    assert w.step() == []  # the same bytes are not tried again
    assert not w.pending()
    np.testing.assert_equal(len(w.stores()), 0)
