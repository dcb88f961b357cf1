"""process_kmap on a two-process LocalCluster equals the local threaded run, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from operando.parallel import cluster
from operando.pipelines.sxdm import process_kmap
from operando.store import provenance
from operando.synthetic import simulate_kmap, write_bliss_kmap

# the defaults, and a survey of some rows only with a given background
SETTINGS = ({}, {"survey_points": 24, "background": 0.5})


@pytest.mark.slow
def test_process_kmap_local_cluster_equals_threads(tmp_path):
    model = simulate_kmap(map_shape=(6, 8), n_angles=8, detector_shape=(40, 40), seed=5, eta_step_deg=0.04)
    master = write_bliss_kmap(model, tmp_path / "raw", frames_per_file=20)
    with cluster() as where:
        assert where.kind == "threads"
        local = [process_kmap(master, points_per_chunk=8, **kw) for kw in SETTINGS]
    with cluster(workers=2) as where:
        assert where.kind == "local-cluster"
        info = where.client.scheduler_info()["workers"]
        assert len(info) == 2 and all(w["nthreads"] == 1 for w in info.values())
        from distributed import get_task_stream

        with get_task_stream(where.client) as stream:
            remote = [process_kmap(master, points_per_chunk=8, **kw) for kw in SETTINGS]
        assert len({task["worker"] for task in stream.data}) == 2  # the work ran in both worker processes
    assert local[1][1]["survey_points"] == 24 and local[0][1]["survey_points"] == 48
    for (a_maps, a_par), (b_maps, b_par) in zip(local, remote, strict=True):
        key = "operando_parameters"
        assert provenance(parameters=a_par)[key] == provenance(parameters=b_par)[key]
        assert sorted(a_maps.data_vars) == sorted(b_maps.data_vars)
        assert int(a_maps["mask"].sum()) > 0
        for name in a_maps.data_vars:
            a, b = np.asarray(a_maps[name].values), np.asarray(b_maps[name].values)
            assert a.dtype == b.dtype and a.shape == b.shape, name
            assert a.tobytes() == b.tobytes(), name
