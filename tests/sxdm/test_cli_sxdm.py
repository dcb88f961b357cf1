"""``operando sxdm process`` through typer's runner on the sub-app."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from operando.cli import sxdm_app as app
from operando.errors import CorruptFileError, ParameterError
from operando.pipelines.sxdm import process_kmap
from operando.store import open_results
from operando.synthetic import simulate_kmap, write_bliss_kmap


def test_process_writes_maps_with_provenance(tmp_path):
    model = simulate_kmap(map_shape=(8, 8), n_angles=12, detector_shape=(48, 48), seed=2, eta_step_deg=0.03)
    master = write_bliss_kmap(model, tmp_path / "raw")
    out = tmp_path / "maps.zarr"
    res = CliRunner().invoke(app, ["process", str(master), "--scans", "1-12", "--reflection", "400", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "points" in res.output
    ds = open_results(out)
    m = model.truth.mask & ds["mask"].values
    d_err = ds["d_spacing"].values[m] - model.truth.d_spacing_A[m]
    assert np.sqrt(np.mean(d_err**2)) < 1e-4
    np.testing.assert_allclose(ds["lattice_parameter"].values[m], 4 * ds["d_spacing"].values[m])
    assert ds["d_spacing"].attrs["units"] == "angstrom"
    assert '"reflection": [4, 0, 0]' in ds.attrs["operando_parameters"]
    assert "sample_0001.h5" in ds.attrs["operando_inputs"]


def test_bad_scan_range(tmp_path):
    res = CliRunner().invoke(app, ["process", str(tmp_path / "x.h5"), "--scans", "a-b", "-o", str(tmp_path / "o.zarr")])
    assert isinstance(res.exception, ParameterError)
    assert "--scans must be like 1-30" in str(res.exception)


def test_process_places_the_map_on_the_charging_curve(tmp_path):
    from datetime import UTC, datetime

    import pandas as pd

    from operando import echem
    from operando.synthetic import simulate_gcpl, write_eclab_mpt
    from operando.timeline import align

    model = simulate_kmap(map_shape=(6, 6), n_angles=8, detector_shape=(40, 40), seed=3, eta_step_deg=0.04)
    master = write_bliss_kmap(model, tmp_path / "raw")
    # the synthetic scans start at 2024-05-01 08:00:00 UTC, one second apart
    cell = simulate_gcpl(start_time=datetime(2024, 5, 1, 7, 30, tzinfo=UTC), dt_s=30.0)
    mpt = write_eclab_mpt(cell, tmp_path / "cell.mpt")
    out = tmp_path / "maps.zarr"
    res = CliRunner().invoke(app, ["process", str(master), "--echem", str(mpt), "-o", str(out)])
    assert res.exit_code == 0, res.output
    ds = open_results(out)
    start = pd.Timestamp("2024-05-01T08:00:00Z")
    expected = align(echem.read(mpt), [start], [start + pd.Timedelta(seconds=7)])
    assert float(ds["echem_voltage_V"]) == float(expected["voltage_V"][0])
    assert float(ds["echem_x_li"]) == float(expected["x_li"][0])
    assert ds["echem_label"].item() == "charge"
    assert float(ds["echem_t_start_s"]) == 1800.0
    assert "cell.mpt" in ds.attrs["operando_inputs"]


def test_truncated_lima_file_is_one_error_naming_it(tmp_path):
    """A Lima frame file cut short: process_kmap names it; the installed CLI prints one line,
    exits 2 and leaves no store."""
    model = simulate_kmap(map_shape=(6, 8), n_angles=9, detector_shape=(40, 36), seed=4, eta_step_deg=0.03)
    master = write_bliss_kmap(model, tmp_path / "raw", frames_per_file=20)
    lima = sorted(p for p in (tmp_path / "raw").rglob("*.h5") if p != master)[3]
    with open(lima, "r+b") as f:
        f.truncate(3000)
    with pytest.raises(CorruptFileError) as err:
        process_kmap(master)
    assert lima.name in str(err.value)
    exe = shutil.which("operando") or str(Path(sys.executable).with_name("operando"))
    out = tmp_path / "maps.zarr"
    cmd = [exe, "sxdm", "process", str(master), "-o", str(out), "--quiet"]  # no progress bar: the error alone
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and lima.name in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("command", "address", "message"),
    [
        ("process", "not an address", "scheduler address must be"),
        ("series", "tcp://host", "scheduler address must be"),
        ("qspace", "tcp://127.0.0.1:99999", "scheduler address must be"),
        ("process", "tcp://127.0.0.1:1", "cannot reach the Dask scheduler"),
    ],
)
def test_bad_scheduler_is_one_line_and_exit_2(tmp_path, command, address, message):
    """A malformed or unreachable --scheduler: one line on stderr, exit status 2, nothing written
    (the engine is entered before any file is read)."""
    exe = shutil.which("operando") or str(Path(sys.executable).with_name("operando"))
    out = tmp_path / "out.h5"
    cmd = [exe, "sxdm", command, str(tmp_path / "master.h5"), "-o", str(out), "--scheduler", address]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and message in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()
