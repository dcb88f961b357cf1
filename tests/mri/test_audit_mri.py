"""Issue-16 audit: one ParaVision scan per time point, listed as a shell glob lists them (scan 10 before scan 9).

Before: the frames stayed in the given order; with the acquisition times out of order the
series was refused as recording "no ... acquisition times", and with --seconds-per-frame the
frames were silently out of time order.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from operando.mri import acquisition_order, read_image_series
from operando.synthetic import write_paravision_scan

T0 = datetime(2024, 7, 25, 9, 15, 9, tzinfo=timezone(timedelta(hours=2)))


def _scans(root, starts_s, *, naive=False, seed=0):
    """One single-frame scan per start, numbered 8, 9, 10, 11...; frame k carries 1000 + k in voxel (0, 0)."""
    rng = np.random.default_rng(seed)
    out = []
    for k, dt in enumerate(starts_s):
        img = 100.0 + rng.normal(0, 1, (32, 20))
        img[0, 0] = 1000.0 + k
        when = T0 + timedelta(seconds=dt)
        out.append(write_paravision_scan(root / str(8 + k), img, extent_mm=(6.4, 4.0), scan_time_s=290.0,
                                         acquired_at=when.replace(tzinfo=None) if naive else when,
                                         pv_version="6.0.1" if naive else "PV-360.3.3"))  # fmt: skip
    return out


@pytest.mark.parametrize("naive", [False, True])
def test_scans_in_glob_order_are_put_in_acquisition_order(tmp_path, naive):
    scans = _scans(tmp_path / "study", [0.0, 600.0, 1230.0, 1800.0], naive=naive)
    glob_order = sorted(scans, key=str)  # study/10, study/11, study/8, study/9
    assert [p.name for p in glob_order] == ["10", "11", "8", "9"]
    with pytest.warns(UserWarning, match="order of their recorded acquisition times"):
        series = read_image_series(glob_order, depth_axis="x")
    assert np.round(series.values[:, 0, 0]).tolist() == [1000.0, 1001.0, 1002.0, 1003.0]
    assert series["time_s"].values.tolist() == [0.0, 600.0, 1230.0, 1800.0]
    with pytest.warns(UserWarning, match="acquisition times"):
        fixed = read_image_series(glob_order, depth_axis="x", seconds_per_frame=600.0)
    assert np.round(fixed.values[:, 0, 0]).tolist() == [1000.0, 1001.0, 1002.0, 1003.0]


def test_given_order_kept_when_in_order_or_a_time_is_missing(tmp_path, recwarn):
    scans = _scans(tmp_path / "s", [0.0, 600.0, 1200.0])
    series = read_image_series(scans, depth_axis="x")
    assert series["time_s"].values.tolist() == [0.0, 600.0, 1200.0]
    assert not [w for w in recwarn if "acquisition times" in str(w.message)]
    assert acquisition_order([T0, None, T0 - timedelta(hours=1)]) == [0, 1, 2]
    assert acquisition_order([T0, T0.replace(tzinfo=None) - timedelta(hours=1)]) == [0, 1]  # naive vs aware


def test_truncated_csi_fids_are_warned_with_the_window_that_fixes_them(tmp_path):
    """A 1.5 ms T2 sampled for 2.56 ms: the FIDs end at 17 % and their ringing put metal in all 192 voxels
    (metal total +50 %) without a word; the suggested --lb-hz brings the map back near the 8 metal voxels."""
    from operando.pipelines.mri import csi_from_scan
    from operando.synthetic import write_paravision_csi

    metal = np.zeros((4, 6, 8))
    metal[1:3, 2:4, 3:5] = 1.0
    electrolyte = np.full((4, 6, 8), 0.5)
    scan, _ = write_paravision_csi(tmp_path / "4", metal, electrolyte, extent_mm=(4, 6, 8), sigma=0.01, t2_s=1.5e-3)
    with pytest.warns(UserWarning, match=r"cut at 1\d % .* give --lb-hz (\d+) or more") as rec:
        raw = csi_from_scan(scan)
    lb = float(str(rec[0].message).split("--lb-hz ")[1].split()[0])
    ds = csi_from_scan(scan, line_broadening_hz=lb)
    truth = metal.sum() / electrolyte.sum()
    ratio = lambda d: float(d["metal"].sum() / d["electrolyte"].sum())  # noqa: E731
    assert ratio(raw) > 1.3 * truth  # the ringing's metal
    assert abs(ratio(ds) - truth) < 0.12 * truth
    above = lambda d: int((d["metal"] > 5 * d["noise_sigma"]).sum())  # noqa: E731
    assert above(raw) == 192 and 8 <= above(ds) <= 24  # of 192 voxels, 8 hold metal


def test_csi_fids_that_decay_in_time_are_not_warned(tmp_path, recwarn):
    from operando.pipelines.mri import csi_from_scan
    from operando.synthetic import write_paravision_csi

    metal = np.zeros((4, 6, 8))
    metal[1:3, 2:4, 3:5] = 1.0
    scan, _ = write_paravision_csi(tmp_path / "5", metal, np.full((4, 6, 8), 0.5), extent_mm=(4, 6, 8), sigma=0.01,
                                t2_s=4e-4)  # fmt: skip
    csi_from_scan(scan)
    assert not [w for w in recwarn if "cut at" in str(w.message)]


def test_info_counts_every_fid_of_a_3d_ser(tmp_path):
    """A TopSpin CSI with two phase axes: its ser holds TD(acqu2s) x TD(acqu3s) FIDs (info said 6, not 6 x 8)."""
    from typer.testing import CliRunner

    from operando.cli import app
    from operando.synthetic import write_topspin_csi

    metal = np.zeros((6, 8))
    metal[2:4, 3:5] = 1.0
    folder, _ = write_topspin_csi(tmp_path / "3", metal, np.full((6, 8), 0.5), sigma=0.01)
    r = CliRunner().invoke(app, ["info", str(folder)])
    assert r.exit_code == 0, r.output
    assert "data: ser: 6 x 8 x 512 complex points" in r.output and "problem" not in r.output
    ser = folder / "ser"
    ser.write_bytes(ser.read_bytes()[: ser.stat().st_size // 2])  # half the FIDs
    r = CliRunner().invoke(app, ["info", str(folder)])
    assert "problem: ser holds fewer bytes than 48 x TD=1024" in r.output


def test_frames_outside_the_echem_record_are_named(tmp_path):
    """A POL.txt log that covers 2.6-9.1 h of a 0-13.4 h profile series printed 'mean V nan' per stage, silently."""
    from operando.echem import EchemRecord
    from operando.pipelines.mri import quantify_layers, stage_table, uncovered_frames
    from operando.synthetic import simulate_dendrite_mri

    sim = simulate_dendrite_mri(seed=0)
    electrolyte = sim.electrolyte.values[:3].sum(axis=2).mean(axis=0)
    kw = {"n_layers": 5, "electrode_profile": electrolyte, "displacement_px": sim.displacement_px}
    assert uncovered_frames(quantify_layers(sim.metal, record=sim.record, **kw)).size == 0
    data = sim.record.data
    early = EchemRecord(data[data["time_s"] < 0.5 * data["time_s"].max()], sim.record.units, sim.record.meta)
    ds = quantify_layers(sim.metal, record=early, shorts=False, **kw)
    empty = uncovered_frames(ds)
    assert 25 <= empty.size <= 35 and empty[-1] == 59
    assert any(not np.isfinite(row["mean_voltage_V"]) for row in stage_table(ds))


def test_a_log_among_the_profiles_is_named_and_uncovered_frames_are_noted(tmp_path):
    """``operando mri layers folder/*.txt`` takes the Zahner POL.txt beside the profiles: the error named the first
    profile as 'not a NIfTI ...'; frames beyond the log printed 'mean V nan'."""
    from typer.testing import CliRunner

    from operando.cli import mri_app
    from operando.errors import UnsupportedFormatError

    rng = np.random.default_rng(3)
    depth = np.linspace(-1, 1, 128)
    files = []
    for k in range(12):
        values = 1000 * (np.abs(depth) < 0.6) * (1 + 0.02 * k) + rng.normal(0, 5, depth.size)
        path = tmp_path / f"p({k + 5:03d}).txt"
        path.write_text(
            f"# File created = synthetic\n# Data set = SYN  {k + 5}  1  /tmp\n# Spectral Region:\n"
            f"# LEFT = 100.0 ppm. RIGHT = -100.0 ppm.\n#\n# SIZE = {depth.size} ( = number of points)\n#\n"
            + "\n".join(f"{v:.6f}" for v in values)
            + "\n"
        )
        files.append(path)
    log = tmp_path / "POL.txt"  # Zahner: time h, V, mA; covers the first half of the 12 x 513 s
    log.write_text("".join(f"{h:.5f}\t{0.1 + 0.001 * h:.5f}\t0.1\n" for h in np.linspace(0, 0.85, 200)))
    r = CliRunner().invoke(mri_app, ["layers", *map(str, sorted([*files, log])), "-o", str(tmp_path / "a.zarr")])
    assert isinstance(r.exception, UnsupportedFormatError), r.output
    assert "POL.txt: not a TopSpin profile like the other 12" in str(r.exception)
    args = ["layers", *map(str, files), "--voltage", str(log), "--electrodes", "0.8,3.2", "--stages", "0"]
    r = CliRunner().invoke(mri_app, [*args, "-o", str(tmp_path / "b.zarr")])
    assert r.exit_code == 0, r.output
    assert "nan" not in r.output
    assert "frames (" in r.output and "lie outside the echem record's time" in r.output
