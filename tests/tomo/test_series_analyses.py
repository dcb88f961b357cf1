"""The paper's per-scan analyses and the contact change between scans, in a series store
(``tomo series --analyses``), against the phantom series' own truth."""

from __future__ import annotations

import numpy as np
import pytest

from operando.pipelines.tomo import SeriesOptions, process_series
from operando.store import open_results
from operando.synthetic import simulate_cell_series, write_cell_dxchange


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    d = tmp_path_factory.mktemp("analyses")
    frames = simulate_cell_series(2, (48, 40, 40), voxel_size_um=10.0, n_voids=(2, 3), recede_px_per_frame=2, seed=5)
    paths = [write_cell_dxchange(d / f"s{k}.h5", f, n_angles=90, flat_counts=6e4, seed=k) for k, f in enumerate(frames)]
    return paths, frames


def test_series_store_holds_the_analyses_and_the_contact_change(scans, tmp_path):
    paths, frames = scans
    opts = SeriesOptions(center_px=20.0, analyses=True, density_edge_um=60.0)
    out = process_series(paths, tmp_path / "s.zarr", options=opts, progress=False)
    ds = open_results(out).load()
    for name in ("electrolyte_density", "contact_lost_area_mm2", "contact_gained_area_mm2", "capacity_between_mAh"):
        assert name in ds, sorted(ds.data_vars)
        assert ds[name].sizes.get("frame") == 2
    # electrolyte density from cubes inside the slab: the phantom's electrolyte is dense apart from
    # a few small pores, so the density is close to (and not above) 1
    density = ds["electrolyte_density"].values
    assert np.all((density > 0.9) & (density <= 1.0))
    # the first scan has no predecessor: its change is NaN; the second's is measured
    assert np.isnan(ds["contact_lost_area_mm2"].values[0]).all()
    lost = ds["contact_lost_area_mm2"].values[1]  # per interface
    true_lost = (frames[0].contact & ~frames[1].contact).sum(axis=(1, 2)) * (10e-3) ** 2
    # within 15 columns of 10 x 10 um (1 % of each interface's footprint); the receding
    # interface is the one that lost contact
    np.testing.assert_allclose(lost, true_lost, atol=0.0015)
    assert np.argmax(lost) == np.argmax(true_lost)
