"""``operando sxdm series`` and ``operando sxdm figures`` through typer's runner."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from operando import echem
from operando.cli import sxdm_app as app
from operando.errors import ParameterError
from operando.store import open_results
from operando.synthetic import simulate_gcpl, simulate_kmap, write_bliss_kmap, write_eclab_mpt
from operando.timeline import align


def _masters(tmp_path, lattices=(8.17, 8.13)):
    models, masters = [], []
    for k, lattice in enumerate(lattices):
        # one crystal along the charge (a series follows one particle): the same outline, another lattice
        model = simulate_kmap(
            map_shape=(6, 6), n_angles=8, detector_shape=(40, 40), seed=0, eta_step_deg=0.04, lattice_A=lattice
        )
        models.append(model)
        masters.append(write_bliss_kmap(model, tmp_path / f"map{k}", name=f"lmno_{k:04d}"))
    return models, masters


@pytest.fixture(scope="module")
def series_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("series")
    models, masters = _masters(tmp)
    cell = simulate_gcpl(start_time=datetime(2024, 5, 1, 7, 30, tzinfo=UTC), dt_s=30.0)
    mpt = write_eclab_mpt(cell, tmp / "cell.mpt")
    out = tmp / "series.zarr"
    res = CliRunner().invoke(app, ["series", *map(str, masters), "--echem", str(mpt), "-o", str(out)])
    assert res.exit_code == 0, res.output
    return models, masters, mpt, out, res.output


def test_series_has_frames_and_echem_state(series_store):
    models, masters, mpt, out, output = series_store
    ds = open_results(out)
    assert ds.sizes["frame"] == 2 and ds["d_spacing"].dims == ("frame", "y", "x")
    assert [str(k) for k in ds["key"].values] == [str(m) for m in masters]
    for k, model in enumerate(models):
        m = model.truth.mask & ds["mask"].values[k]
        err = ds["d_spacing"].values[k][m] - model.truth.d_spacing_A[m]
        assert np.sqrt(np.mean(err**2)) < 1e-4
    # both synthetic maps were taken 08:00:00 to 08:00:07 UTC
    start = pd.Timestamp("2024-05-01T08:00:00Z")
    want = align(echem.read(mpt), [start] * 2, [start + pd.Timedelta(seconds=7)] * 2)
    np.testing.assert_array_equal(ds["echem_voltage_V"].values, want["voltage_V"].values)
    np.testing.assert_array_equal(ds["echem_x_li"].values, want["x_li"].values)
    assert ds["d_spacing"].attrs["units"] == "angstrom"
    assert "lmno_0001.h5" in ds.attrs["operando_inputs"] and "cell.mpt" in ds.attrs["operando_inputs"]
    assert "2 maps of 6 x 6 points" in output and " V  x(Li) = " in output


def test_series_resumes_after_an_interruption(tmp_path, monkeypatch):
    _, masters = _masters(tmp_path)
    out = tmp_path / "s.zarr"
    import operando.pipelines.sxdm as sxdm  # process_series calls the module's process_kmap

    real = sxdm.process_kmap
    calls = []

    def flaky(path, **kw):
        calls.append(str(path))
        if len(calls) == 2:
            raise RuntimeError("beamtime over")  # an interruption mid-series
        return real(path, **kw)

    monkeypatch.setattr(sxdm, "process_kmap", flaky)
    args = ["series", *map(str, masters), "-o", str(out)]
    res = CliRunner().invoke(app, args)
    assert isinstance(res.exception, RuntimeError) and not out.exists()
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert calls == [str(masters[0]), str(masters[1]), str(masters[1])]  # the first map was not redone
    assert open_results(out).sizes["frame"] == 2


def test_series_puts_a_smaller_window_on_the_reference_grid(tmp_path):
    kw = {"n_angles": 6, "detector_shape": (40, 40), "eta_step_deg": 0.04}
    a = write_bliss_kmap(simulate_kmap(map_shape=(6, 6), **kw), tmp_path / "a")
    b = write_bliss_kmap(simulate_kmap(map_shape=(5, 6), **kw), tmp_path / "b")  # one row fewer
    out = tmp_path / "s.zarr"
    res = CliRunner().invoke(app, ["series", str(a), str(b), "-o", str(out), "--no-register"])
    assert res.exit_code == 0, res.output
    ds = open_results(out)
    assert ds.sizes["y"] == 6 and ds.attrs["resampled"] == [False, True]
    assert np.isnan(ds["intensity"].values[1, 5]).all() and np.isfinite(ds["intensity"].values[1, :5]).all()
    c = write_bliss_kmap(simulate_kmap(map_shape=(6, 6), **kw), tmp_path / "c")
    with h5py.File(c, "r+") as h:  # scanned with another pair of piezos
        for name in h:
            del h[f"{name}/title"]
            h[f"{name}/title"] = "asxdm( pix, 10.0, 10.5, 6, piz, 20.0, 20.5, 6, 0.01 )"
    res = CliRunner().invoke(app, ["series", str(a), str(c), "-o", str(tmp_path / "t.zarr")])
    assert isinstance(res.exception, ParameterError) and "one pair of motors" in str(res.exception)


@pytest.mark.parametrize("single", [False, True], ids=["series", "single-map"])
def test_figures_command(series_store, tmp_path, single):
    _, masters, _, store, _ = series_store
    if single:
        store = tmp_path / "one.zarr"
        res = CliRunner().invoke(app, ["process", str(masters[0]), "-o", str(store)])
        assert res.exit_code == 0, res.output
    out = tmp_path / "figs"
    res = CliRunner().invoke(app, ["figures", str(store), "-o", str(out)])
    assert res.exit_code == 0, res.output
    printed = res.output.split()
    names = [
        "intensity",
        "d_spacing_shared",
        "d_spacing_relative",
        "misorientation",
        "pole_figure",
        "d_spacing_histograms",
        *([] if single else ["charge_curves"]),  # intensity and phase fraction along the series
    ]
    assert printed == [str(out / f"{n}.{ext}") for n in names for ext in ("png", "svg")]
    for p in printed:
        if p.endswith(".png"):
            assert Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
