"""The drift estimate checks itself by closure: registrations between pairs of rocking angles
must agree with the per-angle shifts (one displacement per angle), which tilt contrast in a
mosaic crystal breaks even where its fake shifts are smooth in the angle index.

Without the closure check, drift-free crystals with 0.02-0.05 deg domains had 0.17-0.56
points of smooth fake drift accepted and applied (d RMS up to 2.8x the unfiltered map's).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from operando.pipelines.sxdm import DRIFT_RESIDUAL_POINTS, process_kmap
from operando.sxdm import Drift, drift_consistency, estimate_drift
from operando.synthetic import simulate_kmap, write_bliss_kmap

N = 20


def _frames(model):
    ny, nx = model.map_shape
    f = model.frames(0, ny * nx)
    return f.reshape(f.shape[0], ny, nx, *f.shape[2:])


def _mosaic(seed, tilt=0.02):
    return simulate_kmap(
        seed=seed, map_shape=(16, 16), n_angles=N, detector_shape=(40, 40), max_tilt_deg=tilt, n_domains=6,
        crystal_size=0.3,
    )  # fmt: skip


@pytest.mark.parametrize(("seed", "tilt"), [(0, 0.02), (3, 0.02), (2, 0.05)])
def test_smooth_fake_drift_of_a_mosaic_crystal_fails_closure(seed, tilt):
    model = _mosaic(seed, tilt)
    d = estimate_drift(_frames(model), pixel_mask=model.pixel_mask)
    smooth_only = drift_consistency(Drift(d.shifts, d.measured, d.error, d.reference, d.weights))
    assert smooth_only < DRIFT_RESIDUAL_POINTS  # the smoothness check alone would have applied it
    assert np.abs(d.shifts[d.measured]).max() > 0.15  # ... though the crystal did not move
    assert d.closure > 2 * DRIFT_RESIDUAL_POINTS
    assert drift_consistency(d) == d.closure


def test_a_flat_crystals_drift_closes():
    a = np.arange(N) - N // 2
    drift = np.column_stack([0.2 * a, -0.12 * a])  # up to 2 and 1.2 points from the middle angle
    model = simulate_kmap(
        seed=1, map_shape=(16, 16), n_angles=N, detector_shape=(40, 40), max_tilt_deg=0.002, strain_std=5e-5,
        drift_points=drift, crystal_size=0.3,
    )  # fmt: skip
    d = estimate_drift(_frames(model), pixel_mask=model.pixel_mask)
    assert d.closure < 0.05 and drift_consistency(d) < DRIFT_RESIDUAL_POINTS
    assert np.abs(d.shifts - drift)[d.measured].max() < 0.2


def test_the_pipeline_keeps_the_raw_maps_of_a_drift_free_mosaic_crystal(tmp_path):
    model = _mosaic(0)
    master = write_bliss_kmap(model, tmp_path / "m")
    raw, _ = process_kmap(master)
    with pytest.warns(RuntimeWarning, match="drift between rocking angles not corrected"):
        checked, params = process_kmap(master, drift_correction=True)
    assert params["drift_applied"] is False and params["drift_residual_points"] > DRIFT_RESIDUAL_POINTS
    np.testing.assert_array_equal(checked.d_spacing.values, raw.d_spacing.values)
    sel = ndimage.binary_erosion(model.truth.mask, np.ones((3, 3))) & raw.mask.values
    assert np.sqrt(np.mean((raw.d_spacing.values - model.truth.d_spacing_A)[sel] ** 2)) < 2.5e-5
