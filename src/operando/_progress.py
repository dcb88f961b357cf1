"""Progress bars on stderr (rich): counted steps, and the tasks of every Dask graph.

:func:`task_progress` is entered once per command (through :func:`operando.parallel.engine`)
and counts the tasks of every Dask graph computed inside it:

* local schedulers (threads, synchronous): a ``dask.callbacks.Callback`` sees each task
  finish in this process;
* a ``distributed`` cluster: the computations are routed through the client as usual, and
  the scheduler reports how many tasks of the graph are still to run (the protocol of
  ``distributed.progress``), which the same bar shows.

Nothing is drawn when progress is disabled (``--quiet``), and nothing at all for a command
that computes no graph.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["progress_bar", "task_progress"]


def _columns() -> tuple[Any, ...]:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )


def _console() -> Any:
    from rich.console import Console

    return Console(file=sys.stderr)


@contextlib.contextmanager
def progress_bar(*, total: int, description: str, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; draw a bar on stderr when ``enabled``.

    Parameters
    ----------
    total : int
        Number of steps.
    description : str
        What is being counted.
    enabled : bool, default True
        False gives a no-op ``advance``.
    """
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import Progress

    with Progress(*_columns(), console=_console(), transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


class _Bar:
    """One rich bar, started at the first graph; its total grows with every graph computed."""

    def __init__(self, description: str) -> None:
        self.description = description
        self._progress: Any = None
        self._task: Any = None
        self._lock = threading.Lock()

    def add(self, n_tasks: int) -> None:
        with self._lock:
            if self._progress is None:
                from rich.progress import Progress

                self._progress = Progress(*_columns(), console=_console(), transient=False)
                self._progress.start()
                self._task = self._progress.add_task(f"{self.description} (Dask tasks)", total=0)
            total = self._progress.tasks[0].total or 0
            self._progress.update(self._task, total=total + n_tasks)

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def stop(self) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None


def _local_callback(bar: _Bar) -> Any:
    """A Dask callback that counts the tasks of every graph run by a local scheduler."""
    from dask.callbacks import Callback

    class _Counter(Callback):
        def _start_state(self, dsk: Any, state: Any) -> None:
            bar.add(sum(len(state[k]) for k in ("ready", "waiting", "running")) + len(state.get("finished", ())))

        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            bar.advance(1)

    return _Counter()


def _distributed_get(client: Any, bar: _Bar) -> Callable[..., Any]:
    """A Dask scheduler function: the graph runs on ``client``; the bar follows its tasks."""
    from dask.core import flatten
    from distributed.diagnostics.progressbar import ProgressBar
    from distributed.utils import LoopRunner

    class _Listener(ProgressBar):
        def __init__(self, keys: Any) -> None:
            super().__init__(keys, scheduler=client.scheduler.address, interval="200ms")
            self.client = None  # connect with the client's own security settings below
            self._seen_all = 0
            self._done = 0

        def _draw_bar(self, remaining: int, all: int, **kwargs: Any) -> None:
            if all > self._seen_all:
                bar.add(all - self._seen_all)
                self._seen_all = all
            done = all - remaining
            if done > self._done:
                bar.advance(done - self._done)
                self._done = done

    def get(dsk: Any, keys: Any, **kwargs: Any) -> Any:
        futures = client.get(dsk, keys, sync=False, **kwargs)
        flat = [f for f in flatten(futures) if hasattr(f, "key")]
        if flat:
            with contextlib.suppress(Exception):  # a bar that cannot connect never stops the computation
                LoopRunner(asynchronous=False).run_sync(_Listener(flat).listen)
        return client.gather(futures)

    return get


@contextlib.contextmanager
def task_progress(client: Any, description: str, *, enabled: bool = True) -> Iterator[None]:
    """Count the tasks of every Dask graph computed inside, on one bar on stderr.

    Parameters
    ----------
    client : distributed.Client or None
        The cluster's client; None for the local schedulers.
    description : str
        The bar's label.
    enabled : bool, default True
        False: no bar, nothing printed.
    """
    if not enabled:
        yield
        return
    bar = _Bar(description)
    try:
        if client is None:
            with _local_callback(bar):
                yield
        else:
            import dask

            with dask.config.set(scheduler=_distributed_get(client, bar)):
                yield
    finally:
        bar.stop()
