"""The watch follows tomography scans (DXchange) as ``operando tomo series`` would process them.

Checked: a scan is taken only once its file opens cleanly and stopped growing (a scan that
still gains projections is left alone), the store equals ``tomo series`` on the same files
and options afterwards (variable by variable, placed on the potentiostat record, kept
volumes included), finished scans are never opened again, ``[tomo]`` options are checked
before anything is watched, a scan that fails is listed and the watch goes on, and the
simulator writes a tomography beamtime that ``tomo series`` reads.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from operando import echem
from operando.echem import EchemMetadata
from operando.errors import ParameterError
from operando.live import SIMULATED_TOMO_ECHEM_NAME, Watch, load_options, simulate_beamtime
from operando.pipelines.tomo import SeriesOptions, process_series
from operando.store import open_results
from operando.synthetic import simulate_cell_series, write_cell_dxchange

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
CENTER = 16.0  # the phantom's rotation axis on its 32-pixel detector


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """Two small scans (Poisson noise, rings, zingers) dated 20 min apart and the cell's record."""
    d = tmp_path_factory.mktemp("staged")
    frames = simulate_cell_series(
        2,
        (32, 32, 32),
        voxel_size_um=10.0,
        n_voids=(2, 3),
        recede_px_per_frame=2,
        interphase_px=2.0,
        scan_interval_s=1200.0,
        seed=3,
    )
    scans = [
        write_cell_dxchange(
            d / f"scan_{k}.h5",
            f,
            n_angles=60,
            flat_counts=6e4,
            seed=k,
            zinger_fraction=1e-4,
            start_time=T0 + timedelta(seconds=300 + f.time_s),
            scan_duration_s=300.0,
        )
        for k, f in enumerate(frames)
    ]
    t = np.arange(0.0, 2400.0, 10.0)
    rng = np.random.default_rng(0)
    record = echem.EchemRecord.from_columns(
        time_s=t,
        voltage_V=0.012 + 0.004 * t / t[-1] + rng.normal(0, 2e-4, t.size),  # polarisation grows, ADC noise
        current_mA=np.full(t.size, 0.4),
        timestamp=pd.Timestamp(T0) + pd.to_timedelta(t, unit="s"),
        meta=EchemMetadata(source="", format="synthetic", start_time=T0),
    )
    csv = echem.write_csv(record, d / "cell.csv")
    return scans, csv


def _equal_stores(batch_path: Path, live_path: Path) -> None:
    batch, live = open_results(batch_path).load(), open_results(live_path).load()
    assert set(batch.data_vars) == set(live.data_vars)
    for name in batch.data_vars:
        xr.testing.assert_equal(batch[name].reset_coords(drop=True), live[name].reset_coords(drop=True))
    for name in ("key", "time_s"):
        np.testing.assert_array_equal(batch[name].values, live[name].values)
    assert live.attrs["operando_kind"] == "tomo-series"


def test_a_scan_is_taken_once_it_stopped_growing_and_the_store_is_tomo_series(staged, tmp_path):
    scans, csv = staged
    raw = tmp_path / "raw"
    (raw / "tomo").mkdir(parents=True)
    # the later scan lands first (its file is written before the other): the store follows acquisition order;
    # its writer has put the metadata in, not the projections yet: it reads as a plain HDF5 file for now
    late = raw / "tomo" / "a_scan.h5"
    with h5py.File(scans[1], "r") as src, h5py.File(late, "w") as dst:
        src.copy(src["measurement"], dst, "measurement")
    events: list = []
    w = Watch(
        raw,
        tmp_path / "res",
        echem=csv,
        options={"tomo": {"center": CENTER}},
        settle_s=5.0,
        report=False,
        on_event=events.append,
    )
    assert w.step(now=-10.0) == [] and not w.pending()
    shutil.copyfile(scans[1], late)
    assert w.step(now=0.0) == [] and w.pending()  # now a DXchange scan: sniffed again since it changed
    # the writer appends to it again: it has not stopped growing
    with h5py.File(late, "r+") as f:
        f["exchange/extra_monitor"] = np.arange(100.0)
    assert w.step(now=6.0) == []  # changed since last seen: the settle clock starts again
    assert w.step(now=10.0) == []
    assert [e.what for e in w.step(now=11.5)] == ["added"]
    early = shutil.copyfile(scans[0], raw / "tomo" / "b_scan.h5")
    assert w.step(now=20.0) == []
    assert [e.what for e in w.step(now=26.0)] == ["added"]
    assert not w.pending()
    assert [e.what for e in events] == ["added", "added"]
    live = open_results(tmp_path / "res" / "tomo_series.zarr")
    assert [Path(k).name for k in live["key"].values] == ["b_scan.h5", "a_scan.h5"]  # by start date
    batch = process_series(
        [early, late],
        tmp_path / "batch.zarr",
        options=SeriesOptions(center_px=CENTER),
        record=echem.read(csv),
        progress=False,
    )
    _equal_stores(batch, tmp_path / "res" / "tomo_series.zarr")
    assert np.isfinite(live["echem_voltage_V"].values).all() and live["volume"].shape[:2] == (2, 32)
    assert live.attrs["echem_source"] == str(csv)  # the potentiostat file, not the watch's snapshot of it


def test_an_undated_scan_is_refused_alone_when_placing_on_a_record(staged, tmp_path):
    scans, csv = staged
    raw = tmp_path / "raw"
    (raw / "tomo").mkdir(parents=True)
    undated = shutil.copyfile(scans[0], raw / "tomo" / "undated.h5")
    with h5py.File(undated, "r+") as f:
        del f["process/acquisition"]
    shutil.copyfile(scans[1], raw / "tomo" / "dated.h5")
    options = {"tomo": {"center": CENTER, "keep_volumes": False}}
    w = Watch(raw, tmp_path / "res", echem=csv, options=options, settle_s=0.0, report=False)
    assert sorted(e.what for e in w.step()) == ["added", "failed"]
    assert "no start time" in w.errors[str(undated.resolve())]
    assert open_results(tmp_path / "res" / "tomo_series.zarr").sizes["frame"] == 1


def test_a_scan_whose_projections_are_not_all_written_is_left_alone(staged, tmp_path):
    """The writer made the projection stack at full size and paused half-way (longer than the settle time)."""
    scans, _ = staged
    raw = tmp_path / "raw"
    (raw / "tomo").mkdir(parents=True)
    scan = raw / "tomo" / "s.h5"
    with h5py.File(scans[0], "r") as src, h5py.File(scan, "w") as dst:
        for name in ("exchange/theta", "exchange/data_white", "exchange/data_dark", "measurement", "process"):
            src.copy(src[name], dst, name)
        dst["implements"] = src["implements"][()]
        data = src["exchange/data"]
        out = dst.create_dataset("exchange/data", shape=data.shape, dtype=data.dtype, chunks=data.chunks)
        out.attrs.update(dict(data.attrs))
        out[: data.shape[0] // 2] = data[: data.shape[0] // 2]
    w = Watch(raw, tmp_path / "res", options={"tomo": {"center": CENTER, "keep_volumes": False}}, settle_s=0.0,
              report=False)  # fmt: skip
    assert w.step() == [] and w.pending()  # opens cleanly, yet half of its projections are still zeros on disk
    with h5py.File(scans[0], "r") as src, h5py.File(scan, "r+") as dst:
        dst["exchange/data"][...] = src["exchange/data"][...]
    assert [e.what for e in w.step()] == ["added"]


def test_finished_scans_are_never_opened_again(staged, tmp_path, monkeypatch):
    scans, _ = staged
    raw = tmp_path / "raw"
    (raw / "tomo").mkdir(parents=True)
    shutil.copyfile(scans[0], raw / "tomo" / "s0.h5")
    w = Watch(
        raw, tmp_path / "res", options={"tomo": {"center": CENTER, "keep_volumes": False}}, settle_s=0.0, report=False
    )
    assert [e.what for e in w.step()] == ["added"]
    kind = w.kinds["tomo"]
    opened: list[Path] = []

    def counting(path: Path, *rest):
        opened.append(path)
        return kind.complete(path, *rest)

    w.kinds = {**w.kinds, "tomo": dataclasses.replace(kind, complete=counting)}
    import operando.formats

    detected: list[Path] = []
    real_detect = operando.formats.detect
    monkeypatch.setattr(operando.formats, "detect", lambda p: detected.append(p) or real_detect(p))
    for _ in range(3):
        assert w.step() == []
    assert opened == [] and detected == []  # neither the completion check nor the format sniffing reads it
    os.utime(raw / "tomo" / "s0.h5")  # touched: looked at again, and recomputed from its new signature
    assert [e.what for e in w.step()] == ["added"] and len(opened) == 1
    # a restarted watch keeps it: nothing is computed again
    again = Watch(
        raw, tmp_path / "res", options={"tomo": {"center": CENTER, "keep_volumes": False}}, settle_s=0.0, report=False
    )
    assert again.step() == [] and again.n_measurements == 1


def test_a_failing_scan_is_listed_and_the_others_go_on(staged, tmp_path):
    scans, _ = staged
    raw = tmp_path / "raw"
    (raw / "tomo").mkdir(parents=True)
    bad = shutil.copyfile(scans[0], raw / "tomo" / "nopx.h5")
    with h5py.File(bad, "r+") as f:  # the file records no pixel size, and none is given
        del f["measurement/instrument/detection_system/objective/resolution"]
    shutil.copyfile(scans[1], raw / "tomo" / "ok.h5")
    w = Watch(raw, tmp_path / "res", options={"tomo": {"center": CENTER}}, settle_s=0.0, report=True)
    events = w.step()
    assert sorted(e.what for e in events) == ["added", "failed", "report"]
    message = w.errors[str(bad.resolve())]
    assert "pixel size" in message and len(message.splitlines()) == 1
    assert open_results(tmp_path / "res" / "tomo_series.zarr").sizes["frame"] == 1
    assert w.step() == []  # the same bytes are not tried again
    # the static report lists it too, with its one-line error, beside the scan that worked
    page = (tmp_path / "res" / "report.html").read_text()
    failures = page[page.index('id="live-failures"') :].split("</div>")[0]
    assert "1 measurement failed" in failures and "<code>tomo/nopx.h5</code>" in failures
    assert "records no pixel size" in failures and "ok.h5" not in failures
    assert str(tmp_path) not in failures  # local folders are not shown
    assert 'data-frames="1"' in page or "tomo_series" in page  # the series itself is on the page


def test_a_report_with_only_failures_and_the_failure_gone_once_fixed(staged, tmp_path):
    scans, _ = staged
    raw = tmp_path / "raw"
    (raw / "tomo").mkdir(parents=True)
    scan = raw / "tomo" / "scan.h5"
    shutil.copyfile(scans[0], scan)
    with h5py.File(scan, "r+") as f:  # the detector's angles were never written: a damaged scan
        del f["exchange/theta"]
    w = Watch(raw, tmp_path / "res", options={"tomo": {"center": CENTER, "keep_volumes": False}}, settle_s=0.0)
    assert [e.what for e in w.step()] == ["failed", "report"]
    page = (tmp_path / "res" / "report.html").read_text()
    assert 'id="live-failures"' in page and "<code>tomo/scan.h5</code>" in page
    assert "no measurement processed yet" in page
    shutil.copyfile(scans[0], scan)  # written again, whole
    assert sorted(e.what for e in w.step()) == ["added", "report"] and w.errors == {}
    assert 'id="live-failures"' not in (tmp_path / "res" / "report.html").read_text()


def test_tomo_options_come_from_toml_and_the_command_line(tmp_path):
    cfg = tmp_path / "opts.toml"
    cfg.write_text(
        '[tomo]\nvoxel_size_um = 5.0\ncenter = 20.0\nrows = [0, 24]\nrings = "sort"\n'
        "thresholds = {void = 0.1, lithium = 0.3, electrolyte = 0.6}\n"
    )
    opts = load_options(cfg, center=24.0)
    assert opts["tomo"]["center"] == 24.0 and opts["tomo"]["voxel_size_um"] == 5.0  # the command line wins
    from operando.pipelines import tomo_series_options

    series = tomo_series_options(opts["tomo"])
    assert series.prep.rows == (0, 24) and series.prep.rings == "sort" and series.thresholds.lithium == 0.3
    for text, words in (
        ("[tomo]\nbinnin = 2\n", "unknown options"),
        ("[tomo]\nvoxel_size_um = -1\n", "voxel-size-um"),
        ("[tomo]\ndvc = true\n", "not followed live"),
        ("[tomo]\nrows = [0]\n", "rows"),
        ("[tomo]\nthresholds = {void = 0.5, lithium = 0.3, electrolyte = 0.6}\n", "thresholds"),
        ("[tomo]\nclassifier = 'missing.skops'\n", "no such file"),
        ("[mri]\n", "unknown tables"),
    ):
        cfg.write_text(text)
        with pytest.raises(ParameterError, match=words) as info:
            load_options(cfg)
        assert len(str(info.value).splitlines()) == 1
    with pytest.raises(ParameterError, match="voxel-size-um"):
        load_options(None, voxel_size_um=float("nan"))


def test_the_watch_command_refuses_bad_tomo_options_in_one_line(tmp_path):
    exe = shutil.which("operando") or str(Path(sys.executable).with_name("operando"))
    (tmp_path / "raw").mkdir()
    r = subprocess.run(
        [exe, "watch", str(tmp_path / "raw"), "-o", str(tmp_path / "res"), "--voxel-size-um", "0", "--once"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "voxel-size-um" in r.stderr


def test_the_simulator_writes_a_tomography_beamtime(tmp_path):
    lines: list[str] = []
    scans = simulate_beamtime(
        tmp_path, n_maps=2, interval_s=1.0, tick_s=0.01, experiment="tomo", on_event=lines.append, sleep=lambda _s: None
    )
    assert [p.name for p in scans] == ["LiSELi_scan_00.h5", "LiSELi_scan_01.h5"]
    record = echem.read(tmp_path / "echem" / SIMULATED_TOMO_ECHEM_NAME)
    assert record.start_timestamp is not None and float(record.time_s[-1]) > 1800.0
    with h5py.File(scans[1], "r") as f:
        assert f["exchange/data"].shape == (180, 56, 48) and f["exchange/data"][-1].max() > 0  # every block written
        start = f["process/acquisition/start_date"][()].decode()
        assert "end_date" in f["process/acquisition"]
    assert pd.Timestamp(start) == pd.Timestamp(T0) + pd.Timedelta(seconds=600 + 1200)
    assert any(line.endswith(" done") for line in lines) and lines[-1].startswith("beamtime over")
    with pytest.raises(ValueError, match="experiment"):
        simulate_beamtime(tmp_path / "x", experiment="mri")


# -- end to end: the watch as a command, the simulator writing scans in place -------------------------------


@pytest.mark.slow
def test_watch_follows_a_tomography_beamtime_and_equals_tomo_series(tmp_path):
    """Three scans written in place 12 s apart: each in the store within 30 s of its file's closing."""
    exe = shutil.which("operando") or str(Path(sys.executable).with_name("operando"))
    raw, res = tmp_path / "raw", tmp_path / "res"
    raw.mkdir()
    ech = raw / "echem" / SIMULATED_TOMO_ECHEM_NAME
    cmd = [exe, "watch", str(raw), "-o", str(res), "--echem", str(ech), "--center", "24", "--settle-s", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: dict[int, float] = {}
    done: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                n = int(open_results(res / "tomo_series.zarr").sizes.get("frame", 0))
            except Exception:
                n = 0
            for k in range(1, n + 1):
                seen.setdefault(k, time.monotonic())
            time.sleep(0.3)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        scans = simulate_beamtime(
            raw,
            n_maps=3,
            interval_s=12.0,
            experiment="tomo",
            on_event=lambda s: done.append(time.monotonic()) if s.endswith(" done") else None,
        )
        t0 = time.monotonic()
        while len(seen) < 3 and time.monotonic() - t0 < 60:
            time.sleep(0.3)
        snap = res / ".operando-watch" / "echem" / SIMULATED_TOMO_ECHEM_NAME
        while not (snap.exists() and snap.read_bytes() == ech.read_bytes()) and time.monotonic() - t0 < 90:
            time.sleep(0.3)
        time.sleep(4.0)  # the store is placed on the whole record right after
    finally:
        stop.set()
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert len(done) == 3 and sorted(seen) == [1, 2, 3], out
    latency = [seen[k + 1] - done[k] for k in range(3)]
    print("tomography watch: seconds from each scan's file closing to its frame in the store:", latency)
    assert max(latency) < 30.0, latency
    batch = tmp_path / "batch.zarr"
    r = subprocess.run(
        [exe, "tomo", "series", *map(str, scans), "--echem", str(ech), "--center", "24", "-o", str(batch), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    _equal_stores(batch, res / "tomo_series.zarr")


def test_the_next_scan_does_not_wait_for_the_page(staged, tmp_path, monkeypatch):
    """The report is drawn beside the loop: a scan lands in the store while a page is still being drawn."""
    import operando.report

    scans, _ = staged
    raw = tmp_path / "raw"
    (raw / "tomo").mkdir(parents=True)
    shutil.copyfile(scans[0], raw / "tomo" / "s0.h5")
    real_build = operando.report.build_report
    release, drawing = threading.Event(), threading.Event()

    def slow_build(*args, **kwargs):
        drawing.set()
        assert release.wait(120)  # a page that takes as long as the test wants
        return real_build(*args, **kwargs)

    monkeypatch.setattr(operando.report, "build_report", slow_build)
    store = tmp_path / "res" / "tomo_series.zarr"
    w = Watch(raw, tmp_path / "res", options={"tomo": {"center": CENTER, "keep_volumes": False}}, settle_s=0.3)
    stop = threading.Event()
    loop = threading.Thread(target=w.run, kwargs={"stop": stop}, daemon=True)
    loop.start()

    def frames_within(n: int, timeout: float) -> bool:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            try:
                if open_results(store).sizes["frame"] == n:
                    return True
            except Exception:
                pass
            time.sleep(0.2)
        return False

    try:
        assert frames_within(1, 90) and drawing.wait(30)
        shutil.copyfile(scans[1], raw / "tomo" / "s1.h5")
        assert frames_within(2, 90)
        assert not release.is_set()  # the first page is still being drawn: the store did not wait for it
    finally:
        release.set()
        stop.set()
        loop.join(timeout=120)
    assert not loop.is_alive()
    t0 = time.monotonic()  # the last page may still be drawn after the loop ended (it waits 30 s for it)
    while 'data-frames="2"' not in (tmp_path / "res" / "report.html").read_text() and time.monotonic() - t0 < 120:
        time.sleep(0.5)
    assert 'data-frames="2"' in (tmp_path / "res" / "report.html").read_text()  # the last page has the second scan


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to read CPU time")
def test_the_watch_uses_no_cpu_while_nothing_is_written(staged, tmp_path):
    """After a scan and a TopSpin experiment are done, the watch sleeps in the file-event wait."""
    from tests.live.test_live_nmr import T0 as NMR_T0
    from tests.live.test_live_nmr import write_experiment

    scans, _ = staged
    raw = tmp_path / "raw"
    (raw / "tomo").mkdir(parents=True)
    shutil.copyfile(scans[0], raw / "tomo" / "s0.h5")
    write_experiment(raw / "nmr" / "10", 0.8, NMR_T0, seed=4)
    exe = shutil.which("operando") or str(Path(sys.executable).with_name("operando"))
    cmd = [exe, "watch", str(raw), "-o", str(tmp_path / "res"), "--center", str(CENTER), "--settle-s", "0.5"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        t0 = time.monotonic()
        while sum(" added in " in x for x in lines) < 2 or not any(x.startswith("report:") for x in lines):
            assert proc.poll() is None and time.monotonic() - t0 < 180, lines
            time.sleep(0.2)
        time.sleep(3.0)  # the last page is drawn beside the loop
        before = _cpu_s(proc.pid)
        time.sleep(6.0)
        idle = _cpu_s(proc.pid) - before
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        reader.join(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert idle < 0.3, f"{idle:.2f} s of CPU in 6 s of nothing written"


def test_demo_live_writes_a_tomography_beamtime_and_says_how_to_follow_it(tmp_path):
    exe = shutil.which("operando") or str(Path(sys.executable).with_name("operando"))
    cmd = [exe, "demo", "--live", str(tmp_path / "bt"), "--experiment", "tomo", "--maps", "1", "--interval-s", "1"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    follow = next(line for line in r.stdout.splitlines() if line.strip().startswith("operando watch"))
    assert (
        f"--echem {tmp_path / 'bt' / 'raw' / 'echem' / SIMULATED_TOMO_ECHEM_NAME}" in follow and "--center 24" in follow
    )
    assert (tmp_path / "bt" / "raw" / "tomo" / "LiSELi_scan_00.h5").is_file()
    for bad in (
        ["--experiment", "mri"],
        ["--experiment", "tomo", "--maps", "13"],
        ["--experiment", "nmr", "--maps", "13"],
    ):
        r = subprocess.run([exe, "demo", "--live", str(tmp_path / "x"), *bad], capture_output=True, text=True)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.realdata
@pytest.mark.parametrize("rel", ["tomo/tomopy/tooth.h5", "tomo/httomo_k11_diad/k11-18014.nxs"])
def test_real_scans_are_recognised_and_complete(rel, real_file, tmp_path):
    """A beamline's DXchange and NXtomo files (the NXtomo's frames in external files beside it) count as finished."""
    path = real_file(rel)
    for extra in sorted(path.parent.rglob("*.h5")) if path.suffix == ".nxs" else []:
        real_file(str(extra.relative_to(path.parents[len(Path(rel).parts) - 1])))
    raw = tmp_path / "raw"
    shutil.copytree(path.parent, raw / "scan")
    copied = raw / "scan" / path.name
    from operando.formats import detect
    from operando.live import LIVE_KINDS

    assert detect(copied).name in LIVE_KINDS["tomo"].formats
    state = LIVE_KINDS["tomo"].complete(copied, {})
    assert state.done, state.reason
