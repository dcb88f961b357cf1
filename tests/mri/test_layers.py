"""Depth-layer kernels, chemical-shift separation and stages against analytic answers and Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operando.errors import ParameterError
from operando.mri import (
    AFTER_SHORT,
    KNIGHT_SHIFT_LI_PPM,
    collapse_lateral,
    correct_displacement,
    detect_stages,
    find_electrodes,
    growth_rate,
    layer_amounts,
    layer_edges,
    layer_weights,
    noise_from_differences,
    noise_sigma,
    normalise,
    separate_by_shift,
    shift_displacement_px,
    shift_window_mask,
)
from operando.synthetic import csi_phantom


@given(
    n=st.integers(8, 80),
    a=st.floats(0.0, 3.0),
    width=st.floats(0.5, 5.0),
    n_layers=st.integers(1, 9),
)
@settings(max_examples=60, deadline=None)
def test_layer_weights_partition_the_gap(n, a, width, n_layers):
    x = (np.arange(n) + 0.5) * (10.0 / n)
    edges = layer_edges((a, a + width), n_layers)
    w = layer_weights(x, edges)
    assert w.shape == (n_layers, n)
    assert np.all((w >= 0) & (w <= 1 + 1e-12))
    # a constant profile integrates to its value times the covered length, layer by layer
    step = 10.0 / n
    covered = np.clip(np.minimum(edges[1:], 10.0) - np.maximum(edges[:-1], 0.0), 0, None)
    assert w.sum(axis=1) * step == pytest.approx(covered, abs=1e-9)
    assert np.all(w.sum(axis=0) <= 1 + 1e-9)  # no voxel counted twice


def test_layer_amounts_of_a_linear_profile_are_exact():
    x = (np.arange(200) + 0.5) * 0.01  # mm
    profile = 3.0 + 2.0 * x  # signal per voxel
    edges = layer_edges((0.3, 1.7), 4)
    amount, err = layer_amounts(profile[None, :], x, edges, sigma=0.0)
    exact = 3.0 * np.diff(edges) + (edges[1:] ** 2 - edges[:-1] ** 2)  # integral of 3 + 2x
    assert amount[0] == pytest.approx(exact, rel=1e-9)
    assert np.all(err == 0)


def test_layer_amount_errors_match_monte_carlo():
    rng = np.random.default_rng(1)
    x = (np.arange(64) + 0.5) * 0.05
    edges = layer_edges((0.61, 2.77), 3)
    sigma, n = 0.7, 4000
    noisy = 5.0 + rng.normal(0, sigma, (n, 64))
    bg = 5.0 + rng.normal(0, sigma, (n, 40))
    baseline = bg.mean(axis=1)
    amount, err = layer_amounts(noisy, x, edges, sigma=sigma, baseline=baseline, baseline_err=sigma / np.sqrt(40))
    assert amount.mean(axis=0) == pytest.approx(np.zeros(3), abs=0.02)
    assert amount.std(axis=0) == pytest.approx(err[0], rel=0.05)


def test_collapse_and_noise_estimates():
    rng = np.random.default_rng(2)
    images = rng.normal(0.0, 0.3, (3, 50, 16, 4))
    profile, sig = collapse_lateral(images, 0.3)
    assert profile.shape == (3, 50)
    assert sig == pytest.approx(np.full(3, 0.3 * 8.0))
    assert float(noise_sigma(images.reshape(3, -1), axis=1).mean()) == pytest.approx(0.3, rel=0.03)
    mag = np.abs(rng.normal(0, 1.5, 50_000) + 1j * rng.normal(0, 1.5, 50_000))
    assert float(noise_sigma(mag, magnitude=True)) == pytest.approx(1.5, rel=0.01)
    assert float(noise_sigma(mag)) == pytest.approx(1.5 * np.sqrt(2 - np.pi / 2), rel=0.02)  # Rayleigh std
    with pytest.raises(ParameterError):
        noise_sigma([1.0])


def test_find_electrodes_subvoxel():
    x = (np.arange(100) + 0.5) * 0.02
    a, b = 0.513, 1.377
    # partial-volume voxels at the faces: the crossing of half height is the face
    lo, hi = x - 0.01, x + 0.01
    frac = np.clip(np.minimum(hi, b) - np.maximum(lo, a), 0, None) / 0.02
    found = find_electrodes(10.0 * frac, x)
    assert found == pytest.approx((a, b), abs=0.1 * 0.02)  # half-height crossing: within a tenth of a voxel
    with pytest.raises(ParameterError, match="no plateau"):
        find_electrodes(np.zeros(100), x)
    with pytest.raises(ParameterError, match="end of the field of view"):
        find_electrodes(np.r_[np.zeros(70), np.ones(30)] * 4, x)


def test_normalise_to_first_and_reference():
    a = np.array([[2.0, 4.0], [3.0, 2.0]])
    e = np.array([[0.2, 0.4], [0.3, 0.1]])
    r, re = normalise(a, e)
    assert r.tolist() == [[1.0, 1.0], [1.5, 0.5]]
    assert re[0].tolist() == [0.0, 0.0]
    assert re[1] == pytest.approx([1.5 * np.sqrt(0.01 + 0.01), 0.5 * np.sqrt(0.0025 + 0.01)])
    r, re = normalise(a, e, reference=2.0, reference_err=0.0)
    assert r == pytest.approx(a / 2) and re == pytest.approx(e / 2)
    with pytest.raises(ParameterError, match="zero"):
        normalise(a, e, reference=0.0)


def test_growth_rate_is_exact_on_lines_and_errors_match_monte_carlo():
    t = np.arange(30) * 60.0
    amount = 1.0 + 0.01 * t + 1e-5 * t**2
    rate, _ = growth_rate(amount, np.full(30, 1.0), t, window=7)  # curvature well inside the errors
    # a centred straight-line fit has the slope of a parabola at its centre
    assert rate[3:-3] == pytest.approx(0.01 + 2e-5 * t[3:-3], rel=1e-9)
    rng = np.random.default_rng(3)
    line = 2.0 + 0.003 * t
    sig = 0.05 + 0.05 * rng.random(30)
    draws = line[:, None] + rng.normal(0, 1, (30, 3000)) * sig[:, None]
    r, err = growth_rate(draws, np.repeat(sig[:, None], 3000, axis=1), t, window=9)
    assert np.all(np.abs(r.mean(axis=1) - 0.003) < 4 * err[:, 0] / np.sqrt(3000))  # unbiased
    assert r.std(axis=1) == pytest.approx(err.mean(axis=1), rel=0.06)  # calibrated, ends included
    assert err[0, 0] > 1.5 * err[15, 0] and err[-1, 0] > 1.5 * err[15, 0]  # wider where one side is missing
    # uneven frame times are fine; decreasing ones and bad windows are refused
    t_uneven = np.cumsum(rng.uniform(30, 90, 30))
    r, _ = growth_rate(2.0 + 0.003 * t_uneven, np.full(30, 1e-3), t_uneven)
    assert r == pytest.approx(np.full(30, 0.003), rel=1e-6)
    with pytest.raises(ParameterError, match="increasing"):
        growth_rate(amount, amount, t[::-1])
    with pytest.raises(ParameterError, match="window"):
        growth_rate(amount, amount, t, window=2)


@pytest.mark.parametrize("seed", range(6))
def test_growth_rate_does_not_reach_across_a_kink(seed):
    """The Savitzky-Golay artefact: growth then a plateau at the end of the series. The old
    quadratic extrapolated the kink into a strongly negative rate at the last frames; the
    local fits give 0 within their error at every frame of the plateau and the growth rate on
    every frame before the kink."""
    rng = np.random.default_rng(seed)
    t = np.arange(24) * 300.0
    truth = np.interp(np.arange(24), [0, 18, 23], [0.0, 9.0, 9.0])
    sig = np.full(24, 0.05)
    amount = truth + rng.normal(0, sig)
    r, e = growth_rate(amount, sig, t)
    true_rate = np.r_[np.full(18, 0.5 / 300.0), np.zeros(6)]
    z = (r - true_rate) / e
    assert np.abs(z).max() < 3.5, z.round(1)
    assert np.abs(z[[0, 1, -2, -1]]).max() < 3


def test_detect_stages_on_noisy_piecewise_linear_total():
    rng = np.random.default_rng(4)
    frames = np.arange(80)
    truth = [12, 40, 61]
    total = np.interp(frames, [0, *truth, 79], [0, 3, 25, 70, 70]) + rng.normal(0, 0.3, 80)
    stage, bounds = detect_stages(total, n_stages=4)
    assert np.abs(np.array(bounds) - truth).max() <= 1
    assert stage[0] == 1 and stage[-1] == 4 and np.all(np.diff(stage) >= 0)


@pytest.mark.parametrize("seed", range(5))
def test_all_four_stages_precede_the_short(seed):
    """The paper's reading: stages I-IV (fast, stalled, fast, slowing) all before the short circuit,
    after which the amount stops growing; the short is its own event, not a stage boundary."""
    rng = np.random.default_rng(seed)
    frames = np.arange(70)
    truth, short = [10, 22, 38], 54
    total = np.interp(frames, [0, *truth, short, 69], [0, 8, 9, 40, 48, 48]) + rng.normal(0, 0.25, 70)
    stage, bounds = detect_stages(total, n_stages=4, short_frame=short)
    assert len(bounds) == 3 and max(bounds) < short
    assert np.abs(np.array(bounds) - truth).max() <= 1
    assert stage[:short].tolist() == sorted(stage[:short].tolist()) and set(stage[:short]) == {1, 2, 3, 4}
    assert np.all(stage[short:] == AFTER_SHORT)
    # too few frames before the short: as many stages as fit, with a warning
    with pytest.warns(UserWarning, match="precede the short"):
        stage, bounds = detect_stages(total, n_stages=4, short_frame=7)
    assert len(bounds) == 1 and set(stage[:7]) == {1, 2} and np.all(stage[7:] == 0)
    with pytest.warns(UserWarning, match="precedes the first frame"):
        stage, bounds = detect_stages(total, n_stages=4, short_frame=0)
    assert bounds == [] and np.all(stage == AFTER_SHORT)


def test_shift_displacement_and_its_correction():
    px = shift_displacement_px(KNIGHT_SHIFT_LI_PPM, frequency_MHz=155.5, bandwidth_Hz_per_px=-5000.0)
    assert px == pytest.approx(-260 * 155.5 / 5000)
    image = np.zeros((2, 40, 3))
    image[:, 10:20, :] = 1.0
    moved = correct_displacement(correct_displacement(image, -5.0), 5.0)
    assert np.array_equal(moved, image)
    frac = correct_displacement(image, 2.5)
    assert frac.sum() == pytest.approx(image.sum())  # nothing crosses the ends
    assert frac[0, 6:9, 0].tolist() == [0.0, 0.5, 1.0]  # moved back by 2.5 voxels: the edge at 10 -> 7.5


def test_separate_by_shift_recovers_csi_amounts():
    rng = np.random.default_rng(5)
    metal = rng.random((4, 30))  # frame, depth
    electrolyte = 1.0 + rng.random((4, 30))
    spectra, ppm = csi_phantom(metal, electrolyte, width_ppm=8.0, seed=1)
    m, e = separate_by_shift(spectra, ppm)
    assert m == pytest.approx(metal, abs=1e-6)  # windows of +-60 ppm hold the +-7.5 sigma lines
    assert e == pytest.approx(electrolyte, abs=1e-6)
    noisy, _ = csi_phantom(metal, electrolyte, width_ppm=8.0, sigma=0.01, seed=2)
    m, _ = separate_by_shift(noisy, ppm)
    n = int(shift_window_mask(ppm, (200.0, 320.0)).sum())
    assert np.std(m - metal) == pytest.approx(0.01 * np.sqrt(n) * 1.5, rel=0.2)  # documented error
    with pytest.raises(ParameterError, match="overlap"):
        separate_by_shift(spectra, ppm, metal_ppm=(-10, 100))
    with pytest.raises(ParameterError, match="no point"):
        separate_by_shift(spectra, ppm, metal_ppm=(900, 1000))


def test_correlated_noise_is_estimated_and_propagated():
    rng = np.random.default_rng(6)
    kernel = np.array([0.5, 1.0, 0.5])  # apodisation-like smoothing: rho1 = 2/3, rho2 = 1/6
    white = rng.normal(0, 1, (3000, 66))
    noise = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="valid"), 1, white)  # (3000, 64)
    sigma_true = np.sqrt((kernel**2).sum())
    static = np.linspace(0.0, 50.0, 64)  # a static background structure, cancels in differences
    sigma, rho = noise_from_differences(static + noise, max_lag=4)
    assert sigma == pytest.approx(sigma_true, rel=0.02)
    assert rho[:3] == pytest.approx([1.0, 2 / 3, 1 / 6], abs=0.02)
    x = (np.arange(64) + 0.5) * 0.05
    edges = layer_edges((0.33, 2.9), 3)
    amount, err = layer_amounts(noise, x, edges, sigma=sigma_true, autocorr=[1.0, 2 / 3, 1 / 6])
    assert amount.std(axis=0) == pytest.approx(err[0], rel=0.05)
    _, err_white = layer_amounts(noise, x, edges, sigma=sigma_true)
    assert np.all(err_white[0] < 0.7 * err[0])  # ignoring the correlation would understate it


def test_pelt_finds_the_number_of_stages():
    rng = np.random.default_rng(7)
    frames = np.arange(80)
    truth = [12, 40, 61]
    total = np.interp(frames, [0, *truth, 79], [0, 3, 25, 70, 70]) + rng.normal(0, 0.3, 80)
    _, bounds = detect_stages(total, n_stages=None, penalty=3 * 0.3**2 * np.log(80) * 4)
    assert len(bounds) == 3
    assert np.abs(np.array(bounds) - truth).max() <= 1
    with pytest.raises(ParameterError, match="penalty"):
        detect_stages(total, n_stages=None)


def test_stages_on_unevenly_spaced_frames():
    """Scans with pauses between them: the kinks are in time, and each lands on its frame
    (in frame numbers alone each pause looks like a jump and pulls the boundaries off)."""
    rng = np.random.default_rng(9)
    gaps = np.full(80, 300.0)
    gaps[[25, 45, 65]] = 3000.0  # a pause inside stages II, III and IV
    t = np.cumsum(gaps)
    total = np.interp(t, [t[0], *t[[15, 35, 55]], t[-1]], [0.0, 6.0, 7.0, 30.0, 36.0]) + rng.normal(0, 0.05, 80)
    _, bounds = detect_stages(total, n_stages=4, time_s=t)
    assert bounds == [15, 35, 55]
    _, by_index = detect_stages(total, n_stages=4)
    assert by_index != [15, 35, 55]
    with pytest.raises(ParameterError, match="increasing"):
        detect_stages(total, time_s=t[::-1])
