"""A real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1.

``operando sxdm series`` and ``operando tomo series`` run on them through ``--scheduler``
and through ``OPERANDO_SCHEDULER``, as a user runs them: the scheduler receives the tasks,
and the stores equal the local run's, bit for bit.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from operando.store import open_results
from operando.synthetic import (
    simulate_cell_series,
    simulate_gcpl,
    simulate_kmap,
    write_bliss_kmap,
    write_cell_dxchange,
    write_eclab_mpt,
)

BIN = Path(sys.executable).parent
T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """``dask scheduler`` + two ``dask worker`` processes (one thread each); yields (address, client)."""
    distributed = pytest.importorskip("distributed")
    logs = tmp_path_factory.mktemp("dask-logs")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask_cli = str(BIN / "dask")
    files = contextlib.ExitStack()
    procs = [
        subprocess.Popen(
            [dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=subprocess.DEVNULL,
            stderr=files.enter_context((logs / "scheduler.log").open("w")),
        )
    ]
    for k in range(2):
        procs.append(
            subprocess.Popen(
                [dask_cli, "worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{k}"],
                stdout=subprocess.DEVNULL,
                stderr=files.enter_context((logs / f"worker{k}.log").open("w")),
            )
        )
    client = None
    try:
        client = distributed.Client(address, timeout="30s")
        client.wait_for_workers(2, timeout=60)
        yield address, client
    finally:
        if client is not None:
            client.close()
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        files.close()


def _tasks_seen(client) -> int:
    return int(client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter))


def _operando(args, env_scheduler=None):
    env = {k: v for k, v in os.environ.items() if k != "OPERANDO_SCHEDULER"}
    if env_scheduler:
        env["OPERANDO_SCHEDULER"] = env_scheduler
    res = subprocess.run([str(BIN / "operando"), *args], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr
    return res


def _assert_same_store(a_path: Path, b_path: Path) -> None:
    a, b = open_results(a_path).load(), open_results(b_path).load()
    assert set(a.variables) == set(b.variables)
    for name in a.variables:
        va, vb = a[name].values, b[name].values
        assert va.dtype == vb.dtype, name
        if va.dtype.kind in "fciub":
            assert va.tobytes() == vb.tobytes(), name
        else:
            assert np.array_equal(va, vb), name


def _local_flag_and_env_runs_agree(common: list[str], tmp_path: Path, address: str, client) -> None:
    """Run ``operando COMMON`` locally, with ``--scheduler`` and with ``OPERANDO_SCHEDULER``: the
    scheduler must receive the tasks of both cluster runs, and all three stores must be equal."""
    _operando([*common, "-o", str(tmp_path / "local.zarr")])
    before = _tasks_seen(client)
    _operando([*common, "--scheduler", address, "-o", str(tmp_path / "flag.zarr")])
    after_flag = _tasks_seen(client)
    _operando([*common, "-o", str(tmp_path / "env.zarr")], env_scheduler=address)
    after_env = _tasks_seen(client)
    assert after_flag > before and after_env > after_flag  # the scheduler received both runs' tasks
    _assert_same_store(tmp_path / "local.zarr", tmp_path / "flag.zarr")
    _assert_same_store(tmp_path / "local.zarr", tmp_path / "env.zarr")


def _kmaps(tmp: Path) -> list[str]:
    out = []
    for k, lattice in enumerate((8.17, 8.13, 8.15)):
        model = simulate_kmap(
            map_shape=(6, 6), n_angles=8, detector_shape=(40, 40), seed=k, eta_step_deg=0.04, lattice_A=lattice
        )
        out.append(str(write_bliss_kmap(model, tmp / f"map{k}", name=f"lmno_{k:04d}")))
    return out


def _scans(tmp: Path) -> list[str]:
    frames = simulate_cell_series(
        2, (40, 32, 32), voxel_size_um=10.0, n_voids=(2, 3), recede_px_per_frame=2, scan_interval_s=1200.0, seed=2
    )
    return [
        str(
            write_cell_dxchange(
                tmp / f"scan{k}.h5",
                f,
                n_angles=90,
                flat_counts=6e4,
                start_time=T0 + timedelta(seconds=600 + f.time_s),
                scan_duration_s=300.0,
                seed=k,
            )
        )
        for k, f in enumerate(frames)
    ]


@pytest.mark.slow
def test_sxdm_series_on_a_real_cluster_equals_the_local_run(tmp_path, dask_cluster):
    address, client = dask_cluster
    masters = _kmaps(tmp_path)
    mpt = str(write_eclab_mpt(simulate_gcpl(start_time=datetime(2024, 5, 1, 7, 30, tzinfo=UTC)), tmp_path / "c.mpt"))
    common = ["sxdm", "series", *masters, "--echem", mpt, "--quiet"]
    _local_flag_and_env_runs_agree(common, tmp_path, address, client)


@pytest.mark.slow
def test_tomo_series_on_a_real_cluster_equals_the_local_run(tmp_path, dask_cluster):
    address, client = dask_cluster
    scans = _scans(tmp_path)
    mpt = str(write_eclab_mpt(simulate_gcpl(start_time=T0), tmp_path / "cell.mpt"))
    common = ["tomo", "series", *scans, "--center", "16", "--echem", mpt, "--quiet"]
    _local_flag_and_env_runs_agree(common, tmp_path, address, client)


def test_unreachable_or_malformed_scheduler_is_one_line_exit_2(tmp_path):
    masters = _kmaps(tmp_path)[:1]
    for address, message in (("tcp://127.0.0.1:1", "cannot reach the Dask scheduler"), ("nonsense:port", "HOST:PORT")):
        res = subprocess.run(
            [str(BIN / "operando"), "sxdm", "series", *masters, "--scheduler", address, "-o", str(tmp_path / "x.zarr")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert res.returncode == 2, res.stderr
        assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
        assert not (tmp_path / "x.zarr").exists()
