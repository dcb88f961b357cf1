"""benchmarks/sxdm_vs_xsocs.py: the map a user gets at Maxipix size, and a clear refusal
when its uncompressed frames cannot fit on the disk (no map written until the disk is full)."""

from __future__ import annotations

import argparse
import doctest
import importlib.util
import shutil
import sys
from collections import namedtuple
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "sxdm_vs_xsocs.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("sxdm_vs_xsocs_under_test", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop(spec.name, None)


def test_maxipix_size_means_the_papers_map_and_id01_frames(bench):
    a = argparse.Namespace(detector=516, points=None, background=None, peak_counts=None, chip_gap=None)
    bench._id01_defaults(a)
    assert (a.points, a.background, a.peak_counts, a.chip_gap) == (75, 0.005, 3000.0, True)
    b = argparse.Namespace(detector=516, points=40, background=None, peak_counts=None, chip_gap=False)
    bench._id01_defaults(b)
    assert (b.points, b.chip_gap) == (40, False)  # what the user asked for stays
    c = argparse.Namespace(detector=256, points=None, background=None, peak_counts=None, chip_gap=None)
    bench._id01_defaults(c)
    assert (c.points, c.background, c.chip_gap) == (40, None, False)
    failed, _ = doctest.testmod(bench, verbose=False)
    assert failed == 0


def test_an_uncompressed_map_larger_than_the_free_disk_is_refused_in_one_line(bench, tmp_path, monkeypatch, capsys):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(100e9, 20e9, 80e9))
    target = tmp_path / "not-yet" / "map"
    with pytest.raises(SystemExit) as e:
        bench._check_room(target, 180 * 10**9)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(target) in err[0] and "180 GB" in err[0] and "80 GB free" in err[0]
    assert not target.exists()
    bench._check_room(target, 50 * 10**9)  # fits: no exit


def test_dropping_a_map_from_the_page_cache_leaves_its_files_as_they_were(bench, tmp_path):
    import h5py
    import numpy as np

    (tmp_path / "scan0001").mkdir()
    data = np.arange(4 * 64 * 64, dtype=np.int32).reshape(4, 64, 64)
    for name in ("sample_0001.h5", "scan0001/mpx1x4_0000.h5"):
        with h5py.File(tmp_path / name, "w") as h:
            h["frames"] = data
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.h5")}
    left = bench.evict_from_page_cache(tmp_path)
    assert left != left or left >= 0.0  # NaN without fincore
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.h5")} == before
