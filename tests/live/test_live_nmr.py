"""The watch follows TopSpin experiment folders, each processed as ``operando nmr process`` does.

An operando 7Li NMR series: Li metal (262 ppm) plated while the cell is charged, the
electrolyte line (0 ppm) constant; each experiment is a TopSpin folder (``acqus`` with its
``DATE``, int32 ``fid`` of NS scans times the receiver gain with noise per scan, and the
audit trail ``audita.txt`` written when the acquisition ends). Checked: an experiment is
taken only when its acquisition is finished (acqus whole, fid of TD points, audit trail
written), each frame of the store equals what ``nmr process`` stores for its folder, the
frames are in acquisition order and placed on the record over their acquisition windows,
``[nmr]`` options are checked, and real TopSpin/XWIN-NMR folders are followed too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from operando import echem
from operando.echem import EchemMetadata
from operando.errors import ParameterError
from operando.live import Watch, load_options, topspin_complete
from operando.pipelines import nmr_acquisition_window
from operando.pipelines.nmr import process_spectrum, write_spectrum
from operando.store import open_results
from operando.synthetic import NMRLine, acquire, write_bruker_fid

T0 = datetime(2026, 4, 1, 8, 0, 0, tzinfo=UTC)
NS, D1, TD_COMPLEX, SW = 16, 2.0, 2048, 100_000.0
SFO1 = 155.5  # 7Li at 9.4 T, MHz
WINDOWS = [[230.0, 300.0], [-20.0, 20.0]]


def _exe() -> str:
    return shutil.which("operando") or str(Path(sys.executable).with_name("operando"))


def _acquisition_s() -> float:
    return NS * (D1 + TD_COMPLEX / SW)


def write_experiment(folder: Path, metal: float, start: datetime, *, seed: int, audit: bool = True) -> Path:
    """One finished TopSpin experiment: acqus with DATE (the end), fid, and the audit trail."""
    rng = np.random.default_rng(seed)
    lines = [NMRLine(262.0, metal, lw_Hz=900.0, sidebands=(0.02,)), NMRLine(0.0, 1.0, lw_Hz=300.0, gw_Hz=100.0)]
    fid = acquire(lines, ns=NS, rg=64.0, noise_per_scan=0.002, rng=rng, sfo1_MHz=SFO1, carrier_ppm=130.0,
                  sw_Hz=SW, n_points=TD_COMPLEX, spin_rate_Hz=20_000.0)  # fmt: skip
    write_bruker_fid(folder, fid, nucleus="7Li", sfo1_MHz=SFO1, carrier_ppm=130.0, sw_Hz=SW, ns=NS, rg=64.0,
                     spin_rate_Hz=20_000.0, d1_s=D1, title="TOPSPIN\t\tVersion 4.1.4")  # fmt: skip
    end = start + timedelta(seconds=_acquisition_s())
    acqus = folder / "acqus"
    text = acqus.read_text().replace("##END=", f"##$DATE= {int(end.timestamp())}\n##$DS= 0\n##END=")
    acqus.write_text(text)
    if audit:
        plus_two = timezone(timedelta(hours=2))  # the spectrometer's local time
        local, began = end.astimezone(plus_two), start.astimezone(plus_two)
        (folder / "audita.txt").write_text(
            "##TITLE= Audit trail, TOPSPIN\t\tVersion 4.1.4\n##JCAMPDX= 5.01\n##ORIGIN= Bruker BioSpin GmbH\n"
            f"##OWNER= nmrsu\n$$ {folder}/audita.txt\n##AUDIT TRAIL=  $$ (NUMBER, WHEN, WHO, WHERE, WHAT)\n"
            f"(   1,<{local:%Y-%m-%d %H:%M:%S}.{local.microsecond // 1000:03d} +0200>,<nmrsu>,<spect>,<go4>,"
            "<TOPSPIN 4.1.4>,\n"
            f"      <created by zg\n       started at {began:%Y-%m-%d %H:%M:%S}.000 +0200,\n"
            "       POWCHK enabled, PULCHK disabled,\n       data hash MD5: 8K\n"
            "       2B 8E 3C 73 11 0F 67 2A 9B 66 06 8C F6 C6 2D A3>)\n##END=\n"
        )
    return folder


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """Three experiments 30 min apart while Li metal is plated, and the cell's record (6 h, noisy)."""
    d = tmp_path_factory.mktemp("nmr")
    starts = [T0 + timedelta(minutes=20 + 30 * k) for k in range(3)]
    folders = [write_experiment(d / "stage" / f"{k + 10}", 0.5 + 0.4 * k, starts[k], seed=k) for k in range(3)]
    t = np.arange(0.0, 3 * 3600.0, 5.0)
    rng = np.random.default_rng(1)
    record = echem.EchemRecord.from_columns(
        time_s=t,
        voltage_V=-0.03 - 0.01 * np.sqrt(t / t[-1]) + rng.normal(0, 3e-4, t.size),  # plating overpotential
        current_mA=np.full(t.size, -0.2),
        timestamp=pd.Timestamp(T0) + pd.to_timedelta(t, unit="s"),
        meta=EchemMetadata(source="", format="synthetic", start_time=T0),
    )
    csv = echem.write_csv(record, d / "cell.csv")
    return folders, starts, csv


def test_an_experiment_is_complete_only_when_its_acquisition_ended(series, tmp_path):
    folders, _, _ = series
    done = topspin_complete(folders[0])
    assert done.done and done.files[0].name == "acqus" and done.files[1].name == "fid"
    running = shutil.copytree(folders[0], tmp_path / "running")
    (running / "audita.txt").unlink()
    assert topspin_complete(running).done  # no audit trail at all (copied data): size and settling decide
    state = topspin_complete(running, require_audit=True)
    assert not state.done and "audita" in state.reason
    fid = (running / "fid").read_bytes()
    (running / "fid").write_bytes(fid[: len(fid) // 2])  # the fid is still being written
    state = topspin_complete(running)
    assert not state.done and "holds" in state.reason
    (running / "fid").write_bytes(fid)
    (running / "audita.txt").write_text("##TITLE= Audit trail, TOPSPIN\n")  # opened, no entry yet
    assert not topspin_complete(running).done
    (running / "acqus").write_text((folders[0] / "acqus").read_text().split("##$NS")[0])  # acqus half written
    assert not topspin_complete(running).done
    assert not topspin_complete(tmp_path / "nothing").done


def test_acquisition_windows_come_from_acqus_and_the_audit_trail(series):
    folders, starts, _ = series
    start, end, how = nmr_acquisition_window(folders[1])
    assert pd.Timestamp(start) == pd.Timestamp(starts[1])  # the audit trail's "started at" (+0200 read right)
    assert abs((pd.Timestamp(end) - pd.Timestamp(starts[1])).total_seconds() - _acquisition_s()) <= 1.0
    assert "audita" in how and "DATE" in how


def test_the_store_is_nmr_process_per_experiment_placed_in_acquisition_order(series, tmp_path):
    folders, starts, csv = series
    raw = tmp_path / "raw"
    # the last experiment is copied first, the first last: the store follows the acquisition times
    for f in reversed(folders):
        shutil.copytree(f, raw / "cell" / f.name)
    cfg = tmp_path / "opts.toml"
    cfg.write_text('[nmr]\nlb = 20.0\nwindows = [[230.0, 300.0], "-20,20"]\nrequire_audit = true\n')
    options = load_options(cfg)
    w = Watch(raw, tmp_path / "res", echem=csv, options={"nmr": options["nmr"]}, settle_s=0.0, report=True)
    events = w.step()
    assert sorted(e.what for e in events) == ["added", "added", "added", "report"], w.errors
    live = open_results(tmp_path / "res" / "nmr_spectra.zarr").load()
    assert [Path(k).name for k in live["key"].values] == ["10", "11", "12"]
    assert live.attrs["operando_kind"] == "nmr-spectrum" and live["intensity"].dims == ("frame", "ppm")
    for k, folder in enumerate(folders):
        out = tmp_path / f"p{k}.zarr"
        if k == 0:  # the command itself once; the others through the functions it calls (seconds saved)
            cmd = [_exe(), "nmr", "process", str(raw / "cell" / folder.name), "-o", str(out), "--lb", "20"]
            cmd += ["--window", "230,300", "--window=-20,20"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
        else:
            spec = process_spectrum(raw / "cell" / folder.name, lb_Hz=20.0, windows_ppm=[(230, 300), (-20, 20)])
            write_spectrum(spec, out)
        batch = open_results(out).load()
        for name in batch.data_vars:
            xr.testing.assert_equal(
                batch[name].reset_coords(drop=True), live[name].isel(frame=k, drop=True).reset_coords(drop=True)
            )
    metal = live["integral"].values[:, 0, 0]
    assert np.all(np.diff(metal) > 0)  # the plated metal grows
    expected = [(pd.Timestamp(s) - pd.Timestamp(T0)).total_seconds() for s in starts]
    np.testing.assert_allclose(live["time_s"].values, expected)
    # placed over each acquisition window: the plating voltage, the charge passed by then
    assert np.all(live["echem_voltage_V"].values < -0.02)
    assert np.all(np.diff(live["echem_charge_mAh"].values) < 0)
    assert (tmp_path / "res" / "report.html").stat().st_size > 0


def test_nmr_options_are_checked_in_one_line(tmp_path):
    cfg = tmp_path / "o.toml"
    for text, words in (
        ("[nmr]\nlb = 'wide'\n", "lb"),
        ("[nmr]\nphase = 'magic'\n", "phase"),
        ("[nmr]\nwindows = [[1.0]]\n", "windows"),
        ("[nmr]\nreference = '-0.8'\n", "reference"),
        ("[nmr]\nzf = 100.5\n", "zf"),
        ("[nmr]\nrequire_audit = 'yes'\n", "require_audit"),
        ("[nmr]\nsi = 4096\n", "unknown options"),
    ):
        cfg.write_text(text)
        with pytest.raises(ParameterError, match=words) as info:
            load_options(cfg)
        assert str(cfg) in str(info.value) and len(str(info.value).splitlines()) == 1


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("rel", "end_utc"),
    [
        ("nmr/bruker_nmr/spectrochempy_data/topspin_1d/1", "2015-12-03T09:16:27+00:00"),
        ("nmr/bruker_nmr/nmrML/MTBLS1_ADG19007u_162/10", "2004-05-15T01:03:28+00:00"),
    ],
)
def test_real_topspin_and_xwin_folders_are_followed(rel, end_utc, real_file, tmp_path):
    acqus = real_file(f"{rel}/acqus")
    exp = shutil.copytree(acqus.parent, tmp_path / "raw" / "exp" / acqus.parent.name)
    w = Watch(tmp_path / "raw", tmp_path / "res", settle_s=0.0, report=False)
    assert [e.what for e in w.step()] == ["added"], w.errors
    live = open_results(tmp_path / "res" / "nmr_spectra.zarr").load()
    assert live["acquisition_end"].values[0] == end_utc  # acqus DATE: when the acquisition ended
    out = tmp_path / "p.zarr"
    r = subprocess.run([_exe(), "nmr", "process", str(exp), "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    batch = open_results(out).load()
    for name in batch.data_vars:
        xr.testing.assert_equal(
            batch[name].reset_coords(drop=True), live[name].isel(frame=0, drop=True).reset_coords(drop=True)
        )


def test_the_watch_loop_takes_an_experiment_when_topspin_ends_it(series, tmp_path):
    """acqus first, then the fid, then the audit trail: the store gets the experiment only after the last."""
    import threading
    import time

    folders, _, csv = series
    raw = tmp_path / "raw"
    raw.mkdir()
    store = tmp_path / "res" / "nmr_spectra.zarr"
    w = Watch(raw, tmp_path / "res", echem=csv, options={"nmr": {"require_audit": True}}, settle_s=0.3,
              report=False)  # fmt: skip
    stop = threading.Event()
    loop = threading.Thread(target=w.run, kwargs={"stop": stop}, daemon=True)
    loop.start()
    exp = raw / "cell" / "10"
    try:
        exp.mkdir(parents=True)
        shutil.copyfile(folders[0] / "acqus", exp / "acqus")  # zg started
        time.sleep(1.5)
        fid = (folders[0] / "fid").read_bytes()
        (exp / "fid").write_bytes(fid[: len(fid) // 3])
        time.sleep(1.0)
        (exp / "fid").write_bytes(fid)  # every scan in; TopSpin has not closed the acquisition yet
        time.sleep(2.0)
        assert not store.exists() and w.pending()
        shutil.copyfile(folders[0] / "audita.txt", exp / "audita.txt")
        t0 = time.monotonic()
        while not store.exists() and time.monotonic() - t0 < 60:
            time.sleep(0.2)
    finally:
        stop.set()
        loop.join(timeout=60)
    assert open_results(store).sizes["frame"] == 1 and not w.pending() and w.errors == {}


def test_the_simulator_writes_an_nmr_beamtime_the_watch_follows(tmp_path):
    from operando.live import SIMULATED_NMR_ECHEM_NAME, simulate_beamtime

    lines: list[str] = []
    raw = tmp_path / "raw"
    folders = simulate_beamtime(raw, n_maps=2, interval_s=1.0, tick_s=0.01, experiment="nmr", on_event=lines.append,
                                sleep=lambda _s: None)  # fmt: skip
    assert [f.name for f in folders] == ["10", "11"] and lines[-1].startswith("beamtime over")
    assert all(topspin_complete(f, require_audit=True).done for f in folders)
    ech = raw / "echem" / SIMULATED_NMR_ECHEM_NAME
    record = echem.read(ech)
    start, _, how = nmr_acquisition_window(folders[1])
    assert pd.Timestamp(start) == record.start_timestamp + pd.Timedelta(seconds=1200 + 1800) and "audita" in how
    w = Watch(raw, tmp_path / "res", echem=ech, options={"nmr": {"windows": [[230.0, 300.0]]}}, settle_s=0.0,
              report=False)  # fmt: skip
    assert [e.what for e in w.step()] == ["added", "added"], w.errors
    live = open_results(tmp_path / "res" / "nmr_spectra.zarr").load()
    metal = live["integral"].values[:, 0, 0]
    assert metal[1] > metal[0] > 0  # more lithium plated by the second experiment
    assert live["echem_charge_mAh"].values[1] < live["echem_charge_mAh"].values[0] < 0  # placed while plating
