"""Same results on the local threads and on a two-process LocalCluster, bit for bit."""

from functools import partial

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from operando.errors import ParameterError
from operando.parallel import SCHEDULER_ENV, cluster
from operando.store import open_results, run_series
from operando.timeline import window_mean


def _workload(seed: int):
    """A chunked reduction whose float sums depend on the reduction order."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 1e5, 20_000))
    f = np.sin(t / 777.0) + rng.normal(0, 0.1, t.size)
    start = da.from_array(np.sort(rng.uniform(0, 9e4, 4000)), chunks=500)
    means = da.map_blocks(lambda s: window_mean(t, f, s, s + 1234.5), start, dtype=np.float64)
    field = da.from_array(rng.normal(size=(400, 300)).astype(np.float32), chunks=(64, 64))
    return means, (field**2).sum(axis=0), field.mean()


def _frame(key: int) -> xr.Dataset:
    means, colsum, mean = _workload(key)
    return xr.Dataset({"means": ("m", means), "colsum": ("x", colsum), "mean": ((), mean)})


@pytest.mark.slow
def test_local_cluster_equals_threads_bit_for_bit(tmp_path):
    with cluster() as where:
        assert where.kind == "threads"
        local = [np.asarray(x) for x in da.compute(*_workload(1))]
        run_series([1, 2, 3], _frame, tmp_path / "threads.zarr", progress=False)
    with cluster(workers=2) as where:
        assert where.kind == "local-cluster"
        assert where.address.startswith("tcp://127.0.0.1:")
        assert len(where.client.scheduler_info()["workers"]) == 2
        remote = [np.asarray(x) for x in da.compute(*_workload(1))]
        run_series([1, 2, 3], _frame, tmp_path / "cluster.zarr", progress=False)
    for a, b in zip(local, remote, strict=True):
        assert a.tobytes() == b.tobytes()
    a = open_results(tmp_path / "threads.zarr").load()
    b = open_results(tmp_path / "cluster.zarr").load()
    for name in a.data_vars:
        assert a[name].values.tobytes() == b[name].values.tobytes()


def test_scheduler_address_from_environment(monkeypatch):
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://127.0.0.1:1")
    with pytest.raises(ParameterError, match="not both"), cluster(workers=2):
        pass


def test_unreachable_scheduler_is_one_clear_error():
    from operando.errors import OperandoError

    with (
        pytest.raises(OperandoError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"),
        cluster("tcp://127.0.0.1:9"),
    ):
        pass


def test_bad_worker_count():
    with pytest.raises(ParameterError, match="at least 1"), cluster(workers=0):
        pass


def test_partial_is_picklable():
    # workers receive functions by pickle; the kernels must be importable, not closures over locals
    import pickle

    assert pickle.loads(pickle.dumps(partial(window_mean, [0, 1], [0, 1])))([0.0], [1.0])[0] == 0.5


def test_local_cluster_serves_its_dashboard():
    pytest.importorskip("bokeh")
    import urllib.request

    with cluster(workers=1) as where:
        assert "dashboard http://127.0.0.1:" in where.describe()
        with urllib.request.urlopen(where.client.dashboard_link, timeout=20) as page:
            assert page.status == 200


@pytest.mark.parametrize(
    ("address", "expect"),
    [
        ("ucx://127.0.0.1:8786", "UCX transport"),
        ("tls://127.0.0.1:8786", "TLS settings"),
        ("wss://127.0.0.1:8786", "TLS settings"),
        ("inproc://x", "must be like tcp://HOST:PORT"),
        ("tcp://h%:1", "must be like tcp://HOST:PORT"),
        ("tcp://127.0.0.1:0", "must be like tcp://HOST:PORT"),
    ],
)
def test_odd_scheduler_schemes_are_one_line(address, expect):
    from operando.errors import OperandoError

    with pytest.raises(OperandoError, match=expect) as info, cluster(address):
        pass
    assert "\n" not in str(info.value)
