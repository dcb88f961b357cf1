"""Where Dask work runs: the local threaded scheduler, or a ``dask.distributed`` cluster.

Every command takes the same three choices:

* nothing: the local threaded scheduler (no processes, no network);
* ``--scheduler tcp://HOST:PORT`` (or the ``OPERANDO_SCHEDULER`` environment variable):
  an existing ``dask.distributed`` cluster;
* ``--workers N``: a local ``distributed.LocalCluster`` of N single-threaded worker
  processes on the loopback interface.

Results do not depend on the choice: kernels are deterministic per chunk and chunks
are reduced in a fixed order, so the local and the distributed run agree bit for bit
(tested with a two-process ``LocalCluster``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dask

from operando.errors import OperandoError, ParameterError

__all__ = ["SCHEDULER_ENV", "Cluster", "cluster"]

SCHEDULER_ENV = "OPERANDO_SCHEDULER"


@dataclass
class Cluster:
    """The scheduler in use: ``kind`` is ``"threads"``, ``"local-cluster"`` or ``"remote"``."""

    kind: str
    address: str | None = None
    client: Any = None
    workers: int | None = None

    def describe(self) -> str:
        """One line for logs and provenance."""
        if self.kind == "threads":
            return "local threaded scheduler"
        if self.kind == "local-cluster":
            return f"local cluster of {self.workers} worker processes at {self.address}"
        return f"distributed scheduler at {self.address}"


@contextlib.contextmanager
def cluster(scheduler: str | None = None, *, workers: int | None = None) -> Iterator[Cluster]:
    """Run the enclosed Dask work on the chosen scheduler.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running ``dask.distributed`` scheduler, e.g. ``tcp://10.0.0.5:8786``.
        Default: the ``OPERANDO_SCHEDULER`` environment variable, else local threads.
    workers : int, optional
        Start a local cluster of this many worker processes (one thread each) on
        127.0.0.1 instead. Cannot be combined with ``scheduler``.

    Yields
    ------
    Cluster

    Raises
    ------
    ParameterError
        When both a scheduler and a worker count are given, or ``workers < 1``.
    OperandoError
        When the scheduler cannot be reached.
    """
    address = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if address and workers:
        raise ParameterError("give either a scheduler address or a number of local workers, not both")
    if workers is not None and workers < 1:
        raise ParameterError(f"workers must be at least 1, got {workers}")
    if not address and not workers:
        with dask.config.set(scheduler="threads"):
            yield Cluster("threads")
        return
    # dask.distributed is imported only when asked for: it is slow to import and
    # kernels must never depend on it.
    from distributed import Client, LocalCluster

    if workers:
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as local,
            Client(local, set_as_default=True) as client,
        ):
            yield Cluster("local-cluster", address=local.scheduler_address, client=client, workers=workers)
        return
    try:
        client = Client(address, set_as_default=True, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise OperandoError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    with client:
        yield Cluster("remote", address=address, client=client)
