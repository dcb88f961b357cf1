"""Drift between rocking angles: recovered shifts and corrected maps against the forward model."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage
from typer.testing import CliRunner

from operando.cli import sxdm_app
from operando.errors import ParameterError
from operando.pipelines.sxdm import process_kmap
from operando.store import open_results
from operando.sxdm import (
    estimate_drift,
    median_filter_points,
    parse_window,
    reduce_kmap,
    register_maps,
    shift_frames,
    strain_tilt_maps,
)
from operando.synthetic import simulate_kmap, write_bliss_kmap

N_ANGLES = 20


def _drift():
    """Up to 1.3 scan points of smooth drift, zero at the middle angle (whose grid is kept)."""
    a = np.arange(N_ANGLES) - N_ANGLES // 2
    d = np.column_stack([1.5 * np.sin(a / 3.0), -0.26 * a])
    return d - d[N_ANGLES // 2]


def _model(drift):
    # a small mosaic tilt and strain, so that every angle images the same crystal
    return simulate_kmap(
        seed=0,
        map_shape=(20, 20),
        n_angles=N_ANGLES,
        detector_shape=(64, 64),
        max_tilt_deg=0.002,
        strain_std=5e-5,
        drift_points=drift,
    )


def _frames(model):
    ny, nx = model.map_shape
    f = model.frames(0, ny * nx)
    return f.reshape(f.shape[0], ny, nx, *f.shape[2:])


@pytest.fixture(scope="module")
def drifted():
    model = _model(_drift())
    return model, _frames(model)


def _errors(frames, model):
    moments, _ = reduce_kmap(frames, model.pixel_q(), eta_deg=model.eta_deg, pixel_mask=model.pixel_mask)
    maps = strain_tilt_maps(moments)
    truth = model.truth
    # points whose 3 x 3 neighbourhood is inside the crystal (a sub-step shift mixes neighbours)
    sel = ndimage.binary_erosion(truth.mask, np.ones((3, 3))) & maps.mask.values
    q = np.stack([maps[k].values for k in ("qx", "qy", "qz")], axis=-1)
    cos = (q * truth.q).sum(-1) / np.linalg.norm(q, axis=-1) / np.linalg.norm(truth.q, axis=-1)
    tilt = np.degrees(np.arccos(np.clip(cos, -1, 1)))[sel]
    d = maps.d_spacing.values[sel]
    d_true = truth.d_spacing_A[sel]
    return np.sqrt(np.mean((d - d_true) ** 2)), np.sqrt(np.mean(tilt**2)), np.corrcoef(d, d_true)[0, 1]


def test_register_maps_recovers_known_shifts():
    yy, xx = np.mgrid[0:40, 0:40]
    rng = np.random.default_rng(1)
    blob = ndimage.gaussian_filter(rng.uniform(size=(40, 40)), 3) * ((yy - 20) ** 2 + (xx - 20) ** 2 < 150)
    true = np.array([[0.7, -1.2], [0.0, 0.0], [-0.35, 0.5]])
    maps = np.stack([ndimage.shift(blob, -s, order=3) for s in true])  # map_a(p) = blob(p + s_a)
    d = register_maps(maps)
    np.testing.assert_allclose(d.shifts, true - true[1], atol=0.06)
    assert d.measured.all() and d.reference in (0, 1, 2)


def test_drift_is_recovered_and_corrected_maps_meet_the_floor(drifted):
    model, frames = drifted
    truth = _drift()
    d = estimate_drift(frames, pixel_mask=model.pixel_mask)
    assert d.measured.sum() >= 4
    # every angle bright enough to register is within 0.1 scan step
    assert np.abs(d.shifts - truth)[d.measured].max() < 0.1
    rms_d, rms_tilt, corr = _errors(shift_frames(frames, d.shifts), model)
    assert rms_d < 2.5e-5 and rms_tilt < 0.002 and corr > 0.99
    rms_d_raw, _, corr_raw = _errors(frames, model)
    assert rms_d_raw > 1.5 * rms_d and corr_raw < corr


def test_shift_frames_numpy_and_dask_agree():
    rng = np.random.default_rng(0)
    f = rng.poisson(5, size=(3, 6, 7, 4, 4)).astype(np.int32)
    s = np.array([[0.0, 0.0], [1.25, -0.5], [-2.0, 0.3]])
    a = shift_frames(f, s)
    b = shift_frames(da.from_array(f, chunks=(1, 3, 3, 4, 4)), s)
    assert isinstance(b, da.Array) and a.dtype == np.float32
    np.testing.assert_allclose(b.compute(), a, rtol=1e-6)
    np.testing.assert_array_equal(a[0], f[0])
    # out[a, p] = f[a, p - s], bilinear, edges clamped: scipy's shift with the same convention
    for k in range(3):
        ref = ndimage.shift(f[k].astype(np.float64), (*s[k], 0, 0), order=1, mode="nearest")
        np.testing.assert_allclose(a[k], ref, rtol=1e-5)


def test_median_filter_over_scan_points():
    rng = np.random.default_rng(2)
    f = rng.poisson(50, size=(2, 8, 8, 3, 3)).astype(np.int32)
    f[1, 4, 4, 1, 1] = 10_000  # a zinger at one point
    out = median_filter_points(f, size=(2, 2))
    ref = ndimage.median_filter(f.astype(np.float32), size=(1, 2, 2, 1, 1), mode="nearest")
    np.testing.assert_array_equal(out, ref)
    assert out[1, :, :, 1, 1].max() < 1000
    lazy = median_filter_points(da.from_array(f, chunks=(1, 3, 5, 3, 3)), size=(2, 2))
    np.testing.assert_array_equal(lazy.compute(), ref)
    assert parse_window("2x2") == (2, 2)
    with pytest.raises(ParameterError, match="median window"):
        parse_window("2x")


@pytest.mark.slow
def test_process_kmap_drift_option(tmp_path, drifted):
    model, _ = drifted
    master = write_bliss_kmap(model, tmp_path / "k")
    maps, params = process_kmap(master, drift_correction=True)
    assert params["drift_correction"] and len(params["drift_shifts_points"]) == N_ANGLES
    measured = np.array(params["drift_measured"])
    np.testing.assert_allclose(np.array(params["drift_shifts_points"])[measured], _drift()[measured], atol=0.1)
    sel = ndimage.binary_erosion(model.truth.mask, np.ones((3, 3))) & maps.mask.values
    assert np.sqrt(np.mean((maps.d_spacing.values - model.truth.d_spacing_A)[sel] ** 2)) < 2.5e-5


def test_cli_drift_and_median_options(tmp_path):
    model = simulate_kmap(map_shape=(6, 6), n_angles=12, detector_shape=(48, 48), seed=3, peak_counts=1e5)
    master = write_bliss_kmap(model, tmp_path / "k")
    out = tmp_path / "maps.zarr"
    # a drift-free mosaic crystal (0.03 deg domains): the estimate fails its closure check, so
    # both routes warn and keep the raw maps
    with pytest.warns(RuntimeWarning, match="drift between rocking angles not corrected"):
        res = CliRunner().invoke(sxdm_app, ["process", str(master), "-o", str(out), "--drift", "--median", "2x2"])
    assert res.exit_code == 0, res.output
    with pytest.warns(RuntimeWarning, match="drift between rocking angles not corrected"):
        ref, params = process_kmap(master, drift_correction=True, median_filter=(2, 2))
    assert params["median_filter"] == [2, 2] and params["drift_applied"] is False
    np.testing.assert_allclose(open_results(out).d_spacing.values, ref.d_spacing.values, rtol=1e-9, equal_nan=True)
    res = CliRunner().invoke(sxdm_app, ["process", str(master), "-o", str(out), "--median", "2y2", "--overwrite"])
    assert isinstance(res.exception, ParameterError)
