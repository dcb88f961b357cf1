"""Where Dask work runs: the local threaded scheduler, or a ``dask.distributed`` cluster.

Scheduling policy lives here and nowhere else. Every long command takes the same choices:

* nothing: the local threaded scheduler (no processes, no network);
* ``--scheduler tcp://HOST:PORT`` (or the ``OPERANDO_SCHEDULER`` environment variable):
  an existing ``dask.distributed`` cluster, whose workers have operando installed;
* ``--workers N``: a local ``distributed.LocalCluster`` of N single-threaded worker
  processes on the loopback interface.

Results do not depend on the choice: kernels are deterministic per chunk and chunks
are reduced in a fixed order, so the local and the distributed run agree bit for bit
(tested with a real ``dask scheduler`` and two ``dask worker`` processes).

:func:`engine` is what a command enters: the scheduler plus task progress on stderr.
:func:`map_measurements` runs one function per measurement of a series: one after another
on local threads (each measurement's own graph already uses every core), all submitted
together on a cluster (the cluster works on several scans at once).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import dask

from operando.errors import OperandoError, ParameterError

__all__ = [
    "SCHEDULER_ENV",
    "Cluster",
    "active_client",
    "cluster",
    "engine",
    "local_scheduler",
    "map_measurements",
    "parse_scheduler_address",
    "single_threaded_blas",
]

SCHEDULER_ENV = "OPERANDO_SCHEDULER"

T = TypeVar("T")

_ADDRESS = re.compile(r"^(tcp|tls|ucx|ws|wss)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def parse_scheduler_address(address: str) -> str:
    """Check a scheduler address: ``PROTOCOL://HOST:PORT`` with a port in 1..65535.

    A bare ``HOST:PORT`` is taken as ``tcp://HOST:PORT`` (what ``dask scheduler`` prints
    without its scheme).

    Raises
    ------
    ParameterError
        Anything else (no port, another scheme, spaces, a port out of range).

    Examples
    --------
    >>> parse_scheduler_address("127.0.0.1:8786")
    'tcp://127.0.0.1:8786'
    >>> parse_scheduler_address("tls://dask.example.org:8786")
    'tls://dask.example.org:8786'
    """
    text = address.strip()
    if "://" not in text:
        text = "tcp://" + text
    match = _ADDRESS.match(text)
    if match is None or not 1 <= int(match.group(3)) <= 65535:
        raise ParameterError(
            f"scheduler address must be like tcp://HOST:PORT (from --scheduler or ${SCHEDULER_ENV}), got {address!r}"
        )
    return text


def _has_bokeh() -> bool:
    """The dashboard needs bokeh (extra ``cluster``); without it the cluster runs without one."""
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


def _check_scheme(address: str) -> None:
    """Refuse, in one line, a scheme this installation cannot speak (before any connection).

    ``ucx://`` needs the UCX communication package; ``tls://`` and ``wss://`` need Dask's TLS
    settings (``distributed.comm.tls.ca-file`` and the client's certificate), without which
    ``distributed`` fails with a TypeError about an SSL context.
    """
    import importlib.util

    scheme = address.partition("://")[0]
    if scheme == "ucx" and not any(importlib.util.find_spec(m) for m in ("distributed_ucxx", "ucp")):
        raise ParameterError(
            f"scheduler address {address}: ucx:// needs the UCX transport (distributed-ucxx), which is not installed"
        )
    if scheme in ("tls", "wss") and not dask.config.get("distributed.comm.tls.ca-file", None):
        raise ParameterError(
            f"scheduler address {address}: {scheme}:// needs Dask's TLS settings (distributed.comm.tls.ca-file and "
            "distributed.comm.tls.client.cert/key in the Dask configuration), none are set"
        )


def _check_reachable(address: str, timeout_s: float = 3.0) -> None:
    """Fail in seconds, not after the client's retries, when nothing listens at a TCP address."""
    scheme, _, rest = address.partition("://")
    if scheme not in ("tcp", "tls", "ws", "wss"):
        return
    host, _, port = rest.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise OperandoError(f"cannot reach the Dask scheduler at {address}: {exc.strerror or exc}") from None


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
        dashboard = ""
        if self.client is not None and getattr(self.client, "dashboard_link", None) and _has_bokeh():
            dashboard = f", dashboard {self.client.dashboard_link}"
        if self.kind == "local-cluster":
            return f"local cluster of {self.workers} worker processes at {self.address}{dashboard}"
        return f"distributed scheduler at {self.address}{dashboard}"


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
        When both a scheduler and a worker count are given, ``workers < 1``, or the
        address is malformed.
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
                dashboard_address=":0" if _has_bokeh() else None,
                silence_logs=logging.ERROR,
            ) as local,
            Client(local, set_as_default=True) as client,
        ):
            yield Cluster("local-cluster", address=local.scheduler_address, client=client, workers=workers)
        return
    assert address is not None
    address = parse_scheduler_address(address)
    _check_scheme(address)
    _check_reachable(address)
    try:
        client = Client(address, set_as_default=True, timeout="10s")
    except (OSError, TimeoutError, ValueError, TypeError) as exc:  # TypeError: a transport not set up
        raise OperandoError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    with client:
        yield Cluster("remote", address=address, client=client)


@contextlib.contextmanager
def engine(
    scheduler: str | None = None, *, workers: int | None = None, progress: bool = True, description: str = "tasks"
) -> Iterator[Cluster]:
    """:func:`cluster` plus a task progress bar on stderr for every Dask computation inside.

    This is what each long command enters once, around all its work: the bar counts the
    tasks of every graph computed inside (local threads: every task; a cluster: every task
    of the graph, from the scheduler). ``progress=False`` (``--quiet``) draws nothing.

    Parameters
    ----------
    scheduler, workers
        See :func:`cluster`.
    progress : bool, default True
        Draw the bars.
    description : str
        What the bars are labelled with.

    Yields
    ------
    Cluster
    """
    from operando._progress import task_progress

    with cluster(scheduler, workers=workers) as where, task_progress(where.client, description, enabled=progress):
        yield where


def active_client() -> Any:
    """The ``distributed.Client`` that Dask computations go to now, or None (local schedulers).

    Never imports ``distributed`` itself: without it imported no Client can exist.
    """
    if "distributed" not in sys.modules or dask.config.get("scheduler", None) in ("threads", "sync", "synchronous"):
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None


def map_measurements(
    func: Callable[[T], Any],
    items: Sequence[T],
    *,
    on_done: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """``[func(item) for item in items]``, on a cluster all submitted together.

    Local threads: one after another in this process (each call's own Dask graph already
    uses every core). A ``distributed`` client: every call is one task, all submitted at
    once, so the workers process several measurements at the same time; ``func`` must be
    picklable and whatever it writes must be on a file system the workers share.

    Parameters
    ----------
    func : callable
        One measurement's work.
    items : sequence
        The measurements, in order.
    on_done : callable, optional
        ``on_done(index, result)`` as each call finishes (in completion order on a cluster).

    Returns
    -------
    list
        The results, in the order of ``items``.

    Examples
    --------
    >>> map_measurements(lambda x: x * x, [1, 2, 3])
    [1, 4, 9]
    """
    client = active_client()
    results: list[Any] = [None] * len(items)
    if client is None or len(items) < 2:
        for i, item in enumerate(items):
            results[i] = func(item)
            if on_done is not None:
                on_done(i, results[i])
        return results
    from distributed import as_completed

    futures = [client.submit(func, item, pure=False) for item in items]
    index = {f.key: i for i, f in enumerate(futures)}
    try:
        for future in as_completed(futures):
            i = index[future.key]
            results[i] = future.result()  # re-raises the task's own error (an OperandoError names its file)
            if on_done is not None:
                on_done(i, results[i])
    finally:
        for future in futures:
            future.cancel()
    return results


def single_threaded_blas() -> contextlib.AbstractContextManager[object]:
    """Context in which BLAS runs one thread (threadpoolctl), when threadpoolctl is installed.

    Small per-block products ((points, voxels) @ (voxels, 6)) with the Dask threads already
    busy: a multi-threaded BLAS only oversubscribes the cores (measured ~12 ms instead of
    0.06 ms per 48-point product on two loaded cores).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def local_scheduler() -> Callable[..., Any] | None:
    """Dask's threaded scheduler when no scheduler is set and no ``distributed`` Client can
    exist (``distributed`` not imported), else None (Dask's own choice).

    Dask looks for a distributed Client by importing ``distributed`` (~0.3 s the first
    time in a process, even for ``scheduler="threads"``); without the import no Client can
    be running.
    """
    import dask.threaded

    if "distributed" in sys.modules or dask.config.get("scheduler", None) is not None:
        return None
    return dask.threaded.get
