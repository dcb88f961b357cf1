"""The watch loop: file events in, finished measurements processed, stores and report out.

One pass (:meth:`Watch.step`) finds the measurements under the watched folder (by content,
through the format registry), takes those that are complete and have not changed for
``settle_s`` seconds, computes each with its kind's batch pipeline step, rewrites the
kind's series store and the report atomically, and remembers what it did in the results
folder, so a restarted watch goes on where the last one stopped. Between passes the loop
sleeps in the operating system's file-event wait (``watchfiles``; polling on request for
network file systems): no CPU is used while nothing is written.

A measurement that fails is listed with its one-line error (on the page and in
``.operando-watch/errors.json``) and the watch goes on; it is tried again when its files
change.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from operando.echem import EchemRecord
from operando.errors import MissingMetadataError, OperandoError, ParameterError
from operando.live._complete import file_signature
from operando.live._kinds import LIVE_KINDS, LiveKind
from operando.live._series import LiveSeries

__all__ = ["Watch", "WatchEvent"]

_SUFFIXES = {".h5", ".hdf5", ".hdf", ".nxs", ".nx5"}


def _compute(
    kind: LiveKind, done: list[str], options: Mapping[str, Any], key: str, side: Path, *, dated: bool = False
) -> Any:
    ds = kind.compute(key, done, options, side)
    if dated and not kind.start_time(ds):
        # refused here, on its own, as the batch command refuses it: not in the store where it would stop the rest
        raise MissingMetadataError("the measurement records no start time: cannot place it on the echem record",
                                   path=key)  # fmt: skip
    return ds


def _unchanged(signature: Any) -> bool:
    """Whether the files of a stored signature still have the sizes and times it records (no file is opened)."""
    if not signature:
        return False
    paths = tuple(Path(entry[0]) for entry in signature)
    return bool(json.loads(json.dumps(file_signature(paths))) == signature)


@dataclass(frozen=True)
class WatchEvent:
    """Something the watch did: ``what`` is ``added``, ``failed`` or ``report``."""

    what: str
    kind: str
    key: str
    message: str = ""
    seconds: float = 0.0


def snapshot_growing_file(path: Path, into: Path) -> Path | None:
    """Copy a file that is still being written up to its last complete line.

    Parameters
    ----------
    path : pathlib.Path
        A text file an instrument appends to (a potentiostat export).
    into : pathlib.Path
        Folder for the copy (same file name); replaced atomically.

    Returns
    -------
    pathlib.Path or None
        The copy, or None when the file does not exist yet or holds no complete line.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    end = data.rfind(b"\n")
    if end < 0:
        return None
    into.mkdir(parents=True, exist_ok=True)
    out = into / path.name
    if out.exists() and out.stat().st_size == end + 1 and out.read_bytes() == data[: end + 1]:
        return out
    tmp = into / f".{path.name}.tmp"
    tmp.write_bytes(data[: end + 1])
    tmp.replace(out)
    return out


def _link_or_copy(src: str, dst: str) -> None:
    """A hard link (store files are never changed in place, only replaced); a copy where links fail."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


_BARE_PAGE = (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
    "<style>body{{font:15px system-ui,sans-serif;margin:1.5em}}.error{{background:#fde2e1;"
    "border:1px solid #d9534f;border-radius:4px;padding:.6em .8em}}</style></head><body>"
    "<header><h1>{title}</h1><p>no measurement processed yet</p></header></body></html>\n"
)


def with_failures(page: str, errors: Mapping[str, str], *, roots: Iterable[Path] = ()) -> str:
    """A report page with the failed measurements listed under its header, each with its one-line error.

    Parameters
    ----------
    page : str
        The report's HTML (a ``</header>`` closes its header; else the list goes first in the body).
    errors : mapping of str to str
        Measurement (its path) -> the one-line error.
    roots : iterable of pathlib.Path
        Folders whose prefix is dropped from the paths shown (the watched and results folders).

    Returns
    -------
    str
        ``page`` unchanged when there is no error.

    Examples
    --------
    >>> page = "<body><header><h1>t</h1></header></body>"
    >>> with_failures(page, {"/raw/scan_03.h5": "/raw/scan_03.h5: no pixel size"}, roots=[Path("/raw")])
    ... # doctest: +NORMALIZE_WHITESPACE
    '<body><header><h1>t</h1></header><div class="error" role="alert" id="live-failures"><strong>1 measurement
    failed</strong> (the watch goes on; each is tried again when its files change):<ul><li><code>scan_03.h5</code>:
    scan_03.h5: no pixel size</li></ul></div></body>'
    """
    if not errors:
        return page
    prefixes = sorted({str(Path(r).resolve()) + os.sep for r in roots} | {str(Path(r)) + os.sep for r in roots},
                      key=len, reverse=True)  # fmt: skip

    def short(text: str) -> str:
        for prefix in prefixes:
            text = text.replace(prefix, "")
        return text

    n = len(errors)
    items = "".join(
        f"<li><code>{html.escape(short(key))}</code>: {html.escape(short(message))}</li>"
        for key, message in sorted(errors.items())
    )
    block = (
        f'<div class="error" role="alert" id="live-failures"><strong>{n} measurement{"s" if n > 1 else ""} '
        "failed</strong> (the watch goes on; each is tried again when its files change):"
        f"<ul>{items}</ul></div>"
    )
    at = page.find("</header>")
    if at >= 0:
        at += len("</header>")
    else:
        at = page.find(">", page.find("<body")) + 1 if "<body" in page else 0
    return page[:at] + block + page[at:]


@dataclass
class Watch:
    """Follow a folder tree and keep the results folder up to date.

    Parameters
    ----------
    root : pathlib.Path
        The folder the instruments write into.
    results : pathlib.Path
        Where the series stores, the report and the watch's own state go (may lie inside
        ``root``; it is never watched).
    echem : pathlib.Path, optional
        A potentiostat file that keeps growing; every store is placed on it as far as it
        has grown.
    options : mapping of str to dict
        Per kind, the keyword options of its pipeline (as the batch command takes them).
    settle_s : float
        A complete measurement is taken once none of its files changed for this long.
    kinds : mapping of str to LiveKind
        What to follow (all known kinds by default).
    report : bool
        Rewrite ``results/report.html`` after each change.
    on_event : callable, optional
        Called with each :class:`WatchEvent` (the CLI prints them, the server pushes them).
    """

    root: Path
    results: Path
    echem: Path | None = None
    options: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    settle_s: float = 2.0
    kinds: Mapping[str, LiveKind] = field(default_factory=lambda: dict(LIVE_KINDS))
    report: bool = True
    on_event: Callable[[WatchEvent], None] | None = None
    errors: dict[str, str] = field(default_factory=dict)
    _known: dict[Path, str | None] = field(default_factory=dict)
    _unfollowed: dict[Path, Any] = field(default_factory=dict)
    _seen: dict[Path, tuple[Any, float]] = field(default_factory=dict)
    _series: dict[str, LiveSeries] = field(default_factory=dict)
    _failed: dict[str, Any] = field(default_factory=dict)
    _record_sig: Any = None
    _source_sig: Any = None
    _record: EchemRecord | None = None
    _reporter: _Reporter | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    version: int = 0

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.results = Path(self.results)
        if not self.root.is_dir():
            raise ParameterError("the folder to watch does not exist or is not a folder", path=self.root)
        unknown = set(self.options) - set(self.kinds)
        if unknown:
            raise ParameterError(f"options for unknown kinds {sorted(unknown)}; known: {sorted(self.kinds)}")
        if self.settle_s < 0 or self.settle_s != self.settle_s:
            raise ParameterError(f"--settle-s must be >= 0, got {self.settle_s}")
        self.results.mkdir(parents=True, exist_ok=True)
        for name, kind in self.kinds.items():
            series = LiveSeries(self.results, name, kind.store_name, dict(self.options.get(name, {})))
            series.load()
            self._series[name] = series

    # -- discovery -----------------------------------------------------------------------
    @property
    def _folders(self) -> bool:
        return any(kind.folder for kind in self.kinds.values())

    def _candidates(self) -> Iterable[Path]:
        results = self.results.resolve()
        for dirpath, dirnames, filenames in os.walk(self.root):
            here = Path(dirpath)
            if here.resolve() == results or results in here.resolve().parents:
                dirnames[:] = []
                continue
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            if self._folders and "acqus" in filenames:
                yield here  # a TopSpin experiment folder: the folder is the measurement
            for name in filenames:
                if not name.startswith(".") and Path(name).suffix.lower() in _SUFFIXES:
                    yield here / name

    def _kind_of(self, path: Path) -> str | None:
        if self._known.get(path) is not None:
            return self._known[path]  # a followed measurement stays one
        sig = file_signature((path,))
        if self._unfollowed.get(path) == sig:
            return None  # of no followed format, and unchanged since: not sniffed again
        from operando.formats import detect

        try:
            fmt = detect(path)
        except (OperandoError, OSError):
            return None  # not readable yet: asked again on the next pass
        if fmt is None:
            return None
        name = next((k for k, kind in self.kinds.items() if fmt.name in kind.formats), None)
        self._known[path] = name
        if name is None:
            # e.g. a DXchange scan whose writer has not written its projections yet reads as
            # a plain HDF5 file: sniffed again only when it changes
            self._unfollowed[path] = sig
        return name

    # -- the potentiostat record ---------------------------------------------------------
    def _refresh_record(self) -> bool:
        """Re-read the potentiostat file when it grew; True when the record changed."""
        if self.echem is None:
            return False
        source = file_signature((self.echem,))
        if source == self._source_sig:
            return False  # unchanged since the last pass: not read again (it may be large)
        self._source_sig = source
        snap = snapshot_growing_file(self.echem, self.results / ".operando-watch" / "echem")
        if snap is None:
            return False
        sig = file_signature((snap,))
        if sig == self._record_sig:
            return False
        from operando import echem

        try:
            record = echem.read(snap)
        except OperandoError as exc:
            self._fail("echem", str(self.echem), str(exc))
            return False
        self._record, self._record_sig = record, sig
        self.errors.pop(str(self.echem), None)
        return True

    # -- one pass -----------------------------------------------------------------------
    def _emit(self, event: WatchEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def _fail(self, kind: str, key: str, message: str) -> None:
        self.errors[key] = message
        self._save_errors()
        self._emit(WatchEvent("failed", kind, key, message))

    def _save_errors(self) -> None:
        path = self.results / ".operando-watch" / "errors.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.errors, indent=1, sort_keys=True))
        tmp.replace(path)

    def pending(self) -> bool:
        """Whether a measurement was seen that is not finished or not settled yet."""
        return any(
            self._series[k].signature_of(key := str(p.resolve())) is None and key not in self._failed
            for p, k in self._known.items()
            if k
        )

    def step(self, *, now: float | None = None) -> list[WatchEvent]:
        """One pass over the folder; returns what it did.

        Parameters
        ----------
        now : float, optional
            The clock (``time.monotonic()``), for tests.
        """
        now = time.monotonic() if now is None else now
        events: list[WatchEvent] = []
        changed: set[str] = set()
        record_changed = self._refresh_record()
        for path in sorted(self._candidates()):
            name = self._kind_of(path)
            if name is None:
                continue
            kind, series = self.kinds[name], self._series[name]
            key = str(path.resolve())
            if _unchanged(series.signature_of(key)) or (key in self._failed and _unchanged(self._failed[key])):
                continue  # finished (or failed) from these very bytes: not opened again
            done = kind.complete(path, series.options)
            if not done.done:
                self._seen.pop(path, None)
                continue
            sig = file_signature(done.files)
            if series.signature_of(key) == json.loads(json.dumps(sig)):
                continue  # finished earlier (this run or the last) from the same bytes
            if self._failed.get(key) == json.loads(json.dumps(sig)):
                continue  # failed on these bytes: tried again when its files change
            first = self._seen.get(path)
            if first is None or first[0] != sig:
                self._seen[path] = (sig, now)
                if self.settle_s > 0:
                    continue
            elif now - first[1] < self.settle_s:
                continue
            t0 = time.monotonic()
            before = [k for k in series.keys if k != key]
            try:
                reference = (before[0] if before else key) if kind.referenced else None
                compute = partial(_compute, kind, before, series.options, dated=self.echem is not None)
                series.add(key, sig, compute, reference=reference)
                series.order(kind.start_time)
                if kind.referenced:
                    self._rereference(name)
            except OperandoError as exc:
                self._failed[key] = json.loads(json.dumps(sig))
                self._fail(name, key, str(exc))
                events.append(WatchEvent("failed", name, key, str(exc)))
                changed.add(name)  # the page shows the error
                continue
            self._failed.pop(key, None)
            self.errors.pop(key, None)
            self._save_errors()
            event = WatchEvent("added", name, key, seconds=time.monotonic() - t0)
            events.append(event)
            self._emit(event)
            changed.add(name)
        if record_changed:
            changed.update(n for n, s in self._series.items() if s.entries)
        for name in sorted(changed):
            if self._series[name].entries:
                target = str(self._series[name].target)
                try:
                    self._write_store(name)
                except OperandoError as exc:  # e.g. scans on different grids: the store stays as it was
                    self._fail(name, target, str(exc))
                    events.append(WatchEvent("failed", name, target, str(exc)))
                else:
                    if self.errors.pop(target, None) is not None:
                        self._save_errors()
        if changed:
            self.version += 1
            if self.report and self._reporter is not None:
                self._reporter.request()  # drawn beside the loop: the next measurement does not wait for it
            elif self.report and self._write_report():
                events.append(WatchEvent("report", "", str(self.results / "report.html")))
                self._emit(events[-1])
        return events

    def _rereference(self, name: str) -> None:
        """Compute again every frame computed against another reference than the earliest measurement."""
        kind, series = self.kinds[name], self._series[name]
        first = series.keys[0]
        for entry in list(series.entries):
            if entry.get("reference") == first:
                continue
            compute = partial(_compute, kind, [first], series.options, dated=self.echem is not None)
            try:
                series.add(entry["key"], entry["signature"], compute, reference=first)
            except OperandoError as exc:  # not kept against the old reference: listed, tried again when it changes
                series.remove(entry["key"])
                self._failed[entry["key"]] = entry["signature"]
                self._fail(name, entry["key"], str(exc))

    def _write_store(self, name: str) -> None:
        with self._lock:  # the reporter never links a store while it is being replaced
            self._write_store_unlocked(name)

    def _write_store_unlocked(self, name: str) -> None:
        from operando.store import write_results

        kind, series = self.kinds[name], self._series[name]
        frames = series.frames()
        scratch = series.work / "assemble"
        ds = kind.assemble(frames, series.keys, self._record, series.options, series.sides(), scratch)
        if self.echem is not None:
            # placed on the snapshot of the growing file: name the file itself (its SHA-256 stays the snapshot's)
            snap = str(self.results / ".operando-watch" / "echem" / self.echem.name)
            for attrs in (ds.attrs, *(v.attrs for v in ds.variables.values())):
                for k, v in list(attrs.items()):
                    if isinstance(v, str) and v == snap:
                        attrs[k] = str(self.echem)
        parameters = {**series.options, "echem": str(self.echem) if self.echem else None, "live": True}
        if kind.folder:  # a folder's provenance is its files (those its signature lists)
            inputs = [Path(f[0]) for e in series.entries for f in e["signature"] if Path(f[0]).is_file()]
        else:
            inputs = [Path(k) for k in series.keys]
        write_results(ds, series.target, parameters=parameters, inputs=inputs, overwrite=True)

    @property
    def n_measurements(self) -> int:
        """Measurements processed so far (this run and earlier ones in the same results)."""
        return sum(len(s.entries) for s in self._series.values())

    def stores(self) -> list[Path]:
        """The series stores written so far."""
        return [s.target for s in self._series.values() if s.entries and s.target.exists()]

    def _write_report(self) -> bool:
        """Rewrite ``report.html`` (atomically) from hard-linked copies of the stores.

        The copies are taken under the lock the store writes hold (linking is quick), so
        the page is drawn from complete stores while the loop goes on replacing them.
        """
        from operando.report import build_report

        work = self.results / ".operando-watch"
        snapdir = work / "report-stores"
        with self._lock:
            stores = self.stores()
            errors = dict(self.errors)
            if not stores and not errors:
                return False
            shutil.rmtree(snapdir, ignore_errors=True)
            snapdir.mkdir(parents=True)
            linked = [Path(shutil.copytree(s, snapdir / s.name, copy_function=_link_or_copy)) for s in stores]
            snap = work / "echem" / self.echem.name if self.echem else None
            record = None
            if snap is not None and snap.exists():
                record = Path(shutil.copy2(snap, snapdir / snap.name))
        title = f"operando watch: {self.root.name}"
        try:
            if linked:
                draft = work / "report.html"
                build_report(linked, echem=[record] if record else None, out=draft, title=title, overwrite=True)
                page = draft.read_text(encoding="utf-8")
            else:  # nothing processed yet, only failures: a page that lists them
                page = _BARE_PAGE.format(title=html.escape(title))
        finally:
            shutil.rmtree(snapdir, ignore_errors=True)
        page = with_failures(page, errors, roots=(self.root, self.results))
        out = self.results / "report.html"
        tmp = work / ".report.html.tmp"
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(out)  # atomic: a reader sees the old page or the new one
        return True

    # -- the loop -----------------------------------------------------------------------
    def run(self, *, stop: Any = None, poll: bool = False, idle_timeout_s: float | None = None) -> None:
        """Watch until ``stop`` (a threading.Event) is set or Ctrl-C.

        Parameters
        ----------
        stop : threading.Event, optional
        poll : bool
            Poll the file system instead of waiting for its events (network file systems).
        idle_timeout_s : float, optional
            Return after this long without any file event (tests, scripts).
        """
        from watchfiles import watch

        if self.report:
            self._reporter = _Reporter(self)
            self._reporter.start()
        try:
            self._run(watch, stop=stop, poll=poll, idle_timeout_s=idle_timeout_s)
        finally:
            reporter, self._reporter = self._reporter, None
            if reporter is not None:
                reporter.finish(timeout_s=_FINISH_REPORT_S)

    def _run(self, watch: Any, *, stop: Any, poll: bool, idle_timeout_s: float | None) -> None:
        self.step()
        last = time.monotonic()
        results = str(self.results.resolve())

        def relevant(_change: Any, path: str) -> bool:
            return not str(Path(path).resolve()).startswith(results)

        # one OS-level watcher for the whole run; it wakes up every settle interval (or
        # 200 ms) to let measurements settle, and only then does the pass look at files
        tick_ms = int(max(min(self.settle_s, 1.0), 0.2) * 1000)
        for changes in watch(
            self.root,
            watch_filter=relevant,
            stop_event=stop,
            rust_timeout=tick_ms,
            yield_on_timeout=True,
            force_polling=poll,
            debounce=200,
            raise_interrupt=False,
        ):
            if changes:
                last = time.monotonic()
            if changes or self.pending():
                self.step()
            if idle_timeout_s is not None and time.monotonic() - last > idle_timeout_s:
                return


_FINISH_REPORT_S = 30.0  # at the end of a watch, how long the last requested page may still take


class _Reporter(threading.Thread):
    """Draws the report beside the watch loop, one page at a time, the newest state each time.

    Drawing a page takes seconds to a minute (every figure of every store); done in the
    loop, it delayed the next measurement by as much (a tomography series: 60 s). Requests
    that come while a page is drawn are merged into one more page.
    """

    def __init__(self, watch: Watch) -> None:
        super().__init__(name="operando-watch-report", daemon=True)
        self.watch = watch
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.pending = False

    def request(self) -> None:
        self.pending = True
        self.wake.set()

    def run(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            if self.pending:
                self.pending = False
                try:
                    if self.watch._write_report():
                        self.watch._emit(WatchEvent("report", "", str(self.watch.results / "report.html")))
                except Exception as exc:  # a page that cannot be drawn must not end the watch
                    message = f"the report could not be drawn: {type(exc).__name__}: {exc}".splitlines()[0]
                    self.watch._emit(WatchEvent("failed", "report", str(self.watch.results / "report.html"), message))
            if self.stopping.is_set() and not self.pending:
                return

    def finish(self, *, timeout_s: float) -> None:
        """Draw what was asked for (waiting up to ``timeout_s``), then end."""
        self.stopping.set()
        self.wake.set()
        self.join(timeout=timeout_s)


def clean(results: Path) -> None:
    """Remove the watch's working state (a fresh start)."""
    shutil.rmtree(results / ".operando-watch", ignore_errors=True)
