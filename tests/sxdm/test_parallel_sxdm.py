"""process_kmap on a two-process LocalCluster equals the local threaded run, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from operando.parallel import cluster
from operando.store import provenance
from operando.sxdm import process_kmap
from operando.synthetic._sxdm import simulate_kmap, write_bliss_kmap


@pytest.mark.slow
def test_process_kmap_local_cluster_equals_threads(tmp_path):
    model = simulate_kmap(map_shape=(6, 8), n_angles=8, detector_shape=(40, 40), seed=5, eta_step_deg=0.04)
    master = write_bliss_kmap(model, tmp_path / "raw", frames_per_file=20)
    with cluster() as where:
        assert where.kind == "threads"
        local, p_local = process_kmap(master, points_per_chunk=8)
    with cluster(workers=2) as where:
        assert where.kind == "local-cluster"
        assert len(where.client.scheduler_info()["workers"]) == 2
        from distributed import get_task_stream

        with get_task_stream(where.client) as stream:
            remote, p_remote = process_kmap(master, points_per_chunk=8)
        assert len({task["worker"] for task in stream.data}) == 2  # the work ran in both worker processes
    assert (
        provenance(parameters=p_local)["operando_parameters"] == provenance(parameters=p_remote)["operando_parameters"]
    )
    assert sorted(local.data_vars) == sorted(remote.data_vars)
    assert int(local["mask"].sum()) > 0
    for name in local.data_vars:
        a, b = np.asarray(local[name].values), np.asarray(remote[name].values)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert a.tobytes() == b.tobytes(), name
