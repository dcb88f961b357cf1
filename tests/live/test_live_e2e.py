"""Live mode end to end: ``operando watch`` on an empty folder while the beamtime simulator
writes three K-maps (master first, Lima files one by one, end markers last) and a growing
potentiostat file into it.

Checked: one frame per map within 30 s of the map's completion (2 cores); the final store
equal to ``operando sxdm series`` on the same files afterwards; a browser on the served page
sees the new markers appear without reloading; a watch killed mid-measurement and restarted
ends with the same store.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from operando.live import SIMULATED_ECHEM_NAME as ECHEM_NAME
from operando.live import simulate_beamtime
from operando.store import open_results

pytestmark = pytest.mark.slow

INTERVAL_S = 14.0
N_MAPS = 3


def _exe() -> str:
    return shutil.which("operando") or str(Path(sys.executable).with_name("operando"))


def _frames(store: Path) -> int:
    try:
        return int(open_results(store).sizes.get("frame", 0))
    except Exception:
        return 0


def _watch(raw: Path, res: Path, *extra: str) -> subprocess.Popen[str]:
    cmd = [_exe(), "watch", str(raw), "-o", str(res), "--echem", str(raw / "echem" / ECHEM_NAME)]
    cmd += ["--reflection", "400", "--settle-s", "1", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


class _Lines(threading.Thread):
    """Collects a subprocess's output lines (so its pipe never fills)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        super().__init__(daemon=True)
        self.proc, self.lines = proc, []

    def run(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r} in {timeout} s: {self.lines}")


def _stop(proc: subprocess.Popen[str], reader: threading.Thread | None = None) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if reader is not None:
        reader.join(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture(scope="module")
def live_run(tmp_path_factory):
    """The watch following a simulated beamtime; the browser (when there is one) on its page."""
    root = tmp_path_factory.mktemp("live")
    raw, res = root / "raw", root / "results"
    raw.mkdir()
    proc = _watch(raw, res, "--serve", "127.0.0.1:0")
    out = _Lines(proc)
    out.start()
    url = out.wait_for(r"live page at (http://\S+)", 60).group(1)
    page_log: dict[str, object] = {}
    done_at: list[float] = []
    seen_at: dict[int, float] = {}
    stop_poll = threading.Event()

    def poll_store() -> None:
        while not stop_poll.is_set():
            n = _frames(res / "sxdm_maps.zarr")
            for k in range(1, n + 1):
                seen_at.setdefault(k, time.monotonic())
            time.sleep(0.3)

    poller = threading.Thread(target=poll_store, daemon=True)
    poller.start()
    browser_thread = threading.Thread(target=_browse, args=(url, page_log, res), daemon=True)
    browser_thread.start()
    masters = simulate_beamtime(
        raw,
        n_maps=N_MAPS,
        interval_s=INTERVAL_S,
        on_event=lambda line: done_at.append(time.monotonic()) if line.endswith(" done") else None,
    )
    t0 = time.monotonic()
    while len(seen_at) < N_MAPS and time.monotonic() - t0 < 60:
        time.sleep(0.3)
    # the watch takes the last piece of the potentiostat file too (the store is re-placed)
    final = (raw / "echem" / ECHEM_NAME).read_bytes()
    snap = res / ".operando-watch" / "echem" / ECHEM_NAME
    t0 = time.monotonic()
    while not (snap.exists() and snap.read_bytes() == final) and time.monotonic() - t0 < 30:
        time.sleep(0.3)
    time.sleep(3.0)  # its store and report are rewritten right after
    browser_thread.join(timeout=90)
    stop_poll.set()
    _stop(proc, out)
    return {
        "raw": raw,
        "res": res,
        "masters": masters,
        "done_at": done_at,
        "seen_at": seen_at,
        "page": page_log,
        "lines": out.lines,
        "url": url,
    }


def _browse(url: str, log: dict[str, object], res: Path) -> None:
    """Open the page after the first map and watch markers appear without a reload."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        log["skip"] = "playwright is not installed"
        return
    chromium = next((shutil.which(c) for c in ("chromium", "chromium-browser") if shutil.which(c)), None)
    if chromium is None:
        log["skip"] = "chromium not found"
        return
    t0 = time.monotonic()
    while _frames(res / "sxdm_maps.zarr") < 1 and time.monotonic() - t0 < 120:
        time.sleep(0.3)
    time.sleep(2.0)
    try:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
            page = b.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            page.evaluate("window.__sameDocument = 'yes'")
            # measurements with a marker (each has one on the time and one on the capacity chart)
            count = (
                "new Set(Array.from(document.querySelectorAll('.marker[data-section]:not(.passive)'))"
                ".map(m => m.dataset.section + '/' + m.dataset.frame)).size"
            )
            log["markers_first"] = page.evaluate(count)
            page.wait_for_function(f"{count} >= {N_MAPS}", timeout=110_000)
            log["markers_last"] = page.evaluate(count)
            log["same_document"] = page.evaluate("window.__sameDocument")
            log["banner"] = page.evaluate("(document.getElementById('operando-live-banner') || {}).textContent")
            log["current"] = page.evaluate(
                "Array.from(document.querySelectorAll('.marker.current')).map(m => Number(m.dataset.frame))"
            )
            log["errors"] = errors
            b.close()
    except Exception as exc:
        log["failure"] = repr(exc)


def test_each_map_lands_in_the_store_within_30_s(live_run):
    done, seen = live_run["done_at"], live_run["seen_at"]
    assert len(done) == N_MAPS, live_run["lines"]
    assert sorted(seen) == list(range(1, N_MAPS + 1)), live_run["lines"]
    latency = [seen[k + 1] - done[k] for k in range(N_MAPS)]
    assert max(latency) < 30.0, latency
    assert sum(" added in " in line for line in live_run["lines"]) == N_MAPS


def test_the_store_is_what_sxdm_series_gives_afterwards(live_run, tmp_path):
    raw = live_run["raw"]
    out = tmp_path / "series.zarr"
    cmd = [_exe(), "sxdm", "series", *map(str, live_run["masters"]), "--echem", str(raw / "echem" / ECHEM_NAME)]
    r = subprocess.run([*cmd, "--reflection", "400", "-o", str(out), "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    batch = open_results(out).load()
    live = open_results(live_run["res"] / "sxdm_maps.zarr").load()
    assert set(batch.data_vars) == set(live.data_vars)
    for name in batch.data_vars:
        xr.testing.assert_equal(batch[name].reset_coords(drop=True), live[name].reset_coords(drop=True))
    np.testing.assert_array_equal(batch["key"].values, live["key"].values)


def test_the_served_page_updates_without_reloading(live_run):
    log = live_run["page"]
    if "skip" in log:
        pytest.skip(f"browser part skipped: {log['skip']}")
    assert "failure" not in log, log
    assert log["markers_first"] < N_MAPS <= log["markers_last"]
    assert log["same_document"] == "yes"  # the page swapped its content; it was never reloaded
    assert f"{N_MAPS} measurements processed" in str(log["banner"])
    assert N_MAPS - 1 in log["current"]  # the newest measurement is selected
    assert log["errors"] == []


def test_a_watch_killed_mid_measurement_resumes_to_the_same_store(live_run, tmp_path):
    raw, res = live_run["raw"], tmp_path / "results"
    proc = _watch(raw, res, "--quiet")
    frames = res / ".operando-watch" / "sxdm" / "frames"
    t0 = time.monotonic()
    while not (frames.exists() and any(frames.glob("*.zarr"))) and time.monotonic() - t0 < 120:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # in the middle of the next map
    proc.communicate()
    assert proc.stdout is not None
    proc.stdout.close()
    assert len(list(frames.glob("*.zarr"))) < N_MAPS
    r = subprocess.run(
        [
            _exe(),
            "watch",
            str(raw),
            "-o",
            str(res),
            "--echem",
            str(raw / "echem" / ECHEM_NAME),
            "--reflection",
            "400",
            "--once",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    resumed = open_results(res / "sxdm_maps.zarr").load()
    uninterrupted = open_results(live_run["res"] / "sxdm_maps.zarr").load()
    for name in uninterrupted.data_vars:
        xr.testing.assert_equal(uninterrupted[name], resumed[name])
