"""Drift between rocking angles that checks itself: a mosaic crystal's tilt contrast is not
taken for drift (a warning, the raw maps), a real drift of a flat crystal is undone."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from operando.pipelines.sxdm import process_kmap
from operando.sxdm import Drift, drift_consistency
from operando.synthetic import simulate_kmap, write_bliss_kmap


def _d_rms(maps, model):
    sel = ndimage.binary_erosion(model.truth.mask, np.ones((3, 3))) & maps.mask.values
    return float(np.sqrt(np.mean((maps.d_spacing.values - model.truth.d_spacing_A)[sel] ** 2)))


def test_mosaic_tilt_contrast_is_not_taken_for_drift(tmp_path):
    # domains tilted by up to 0.03 deg (LMNO): each rocking angle lights up other domains
    model = simulate_kmap(
        seed=0, map_shape=(14, 14), n_angles=16, detector_shape=(40, 40), max_tilt_deg=0.03, n_domains=6
    )
    master = write_bliss_kmap(model, tmp_path / "m")
    raw, _ = process_kmap(master)
    with pytest.warns(RuntimeWarning, match="drift between rocking angles not corrected"):
        checked, params = process_kmap(master, drift_correction=True)
    assert params["drift_applied"] is False
    # the unchecked estimate would have moved the angles by points
    assert np.abs(np.asarray(params["drift_shifts_points"])[params["drift_measured"]]).max() > 1.0
    assert _d_rms(checked, model) <= 1.5 * _d_rms(raw, model)
    np.testing.assert_array_equal(checked.d_spacing.values, raw.d_spacing.values)


def test_drift_consistency_tells_smooth_from_jumpy():
    a = np.arange(10.0)
    ones = np.ones(10)
    smooth = Drift(np.column_stack([0.2 * a - 1, -0.01 * a**2]), ones > 0, 0 * a, 5, ones)
    assert drift_consistency(smooth) < 1e-9
    jumpy = Drift(np.column_stack([np.where(a % 3 == 0, 2.5, 0.0), 0 * a]), ones > 0, 0 * a, 5, ones)
    assert drift_consistency(jumpy) > 0.5
    few = Drift(np.zeros((10, 2)), a < 3, 0 * a, 1, ones)
    assert np.isnan(drift_consistency(few))


@pytest.mark.slow
def test_real_drift_of_a_flat_crystal_is_undone(tmp_path):
    n = 20
    a = np.arange(n) - n // 2
    drift = np.column_stack([0.25 * a, -0.15 * a])  # up to 2.5 and 1.5 points from the middle angle
    model = simulate_kmap(
        seed=0,
        map_shape=(16, 16),
        n_angles=n,
        detector_shape=(48, 48),
        max_tilt_deg=0.002,
        strain_std=5e-5,
        drift_points=drift,
        crystal_size=0.3,
    )
    master = write_bliss_kmap(model, tmp_path / "d")
    maps, params = process_kmap(master, drift_correction=True)
    assert params["drift_applied"] is True and params["drift_residual_points"] < 0.05
    measured = np.asarray(params["drift_measured"])
    got = np.asarray(params["drift_shifts_points"])[measured]
    assert np.abs(got - drift[measured]).max() < 0.2
    assert _d_rms(maps, model) < 2.5e-5
