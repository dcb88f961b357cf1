"""K-maps that finish out of acquisition order: the reference is the earliest map, as ``sxdm series`` over
the time-sorted maps takes it, and the frames computed against another reference are computed again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import xarray as xr

from operando.live import Watch
from operando.pipelines.sxdm import process_series
from operando.store import open_results
from operando.synthetic import simulate_kmap, write_bliss_kmap

T0 = datetime(2026, 5, 4, 10, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def maps(tmp_path_factory):
    """Two demo-size K-maps an hour apart (lattice expanded in the second), other monitor counts and jitter."""
    d = tmp_path_factory.mktemp("maps")
    out = []
    for k, (lattice, monitor) in enumerate(((8.02, 1.0e5), (8.10, 1.3e5))):
        model = simulate_kmap(map_shape=(12, 12), n_angles=16, detector_shape=(48, 48), eta_step_deg=0.03, seed=11,
                              lattice_A=lattice)  # fmt: skip
        out.append(
            write_bliss_kmap(
                model,
                d / f"kmap_{k}",
                name=f"map_{k}",
                start_time=T0 + timedelta(hours=k),
                scan_duration_s=20.0,
                monitor_counts=monitor,
                readback_noise_um=0.02,
            )
        )
    return out


def test_a_map_that_started_earlier_but_landed_later_becomes_the_reference(maps, tmp_path):
    import shutil

    early, late = maps
    raw = tmp_path / "raw"
    shutil.copytree(late.parent, raw / "b_late")  # the later map lands first
    w = Watch(raw, tmp_path / "res", options={"sxdm": {"reflection": (4, 0, 0)}}, settle_s=0.0, report=False)
    w.kinds = {"sxdm": w.kinds["sxdm"]}
    assert [e.what for e in w.step()] == ["added"]
    alone = open_results(tmp_path / "res" / "sxdm_maps.zarr").load()
    shutil.copytree(early.parent, raw / "a_early")
    assert [e.what for e in w.step()] == ["added"]
    series = w._series["sxdm"]
    keys = [str((raw / "a_early" / early.name).resolve()), str((raw / "b_late" / late.name).resolve())]
    assert series.keys == keys and all(series.reference_of(k) == keys[0] for k in keys)
    live = open_results(tmp_path / "res" / "sxdm_maps.zarr").load()
    batch_path = process_series(keys, tmp_path / "batch.zarr", reflection=(4, 0, 0), progress=False)
    batch = open_results(batch_path).load()
    assert set(batch.data_vars) == set(live.data_vars)
    for name in batch.data_vars:
        xr.testing.assert_equal(batch[name].reset_coords(drop=True), live[name].reset_coords(drop=True))
    # against the early map's monitor, the late map's normalised intensity is not what it was alone
    name = next(v for v in ("intensity", "integrated_intensity") if v in live)
    assert not np.allclose(alone[name].values[0], live[name].values[1], equal_nan=True)
