"""Two LMNO phases in one scan point: radial-profile decomposition against the forward model's truth.

The maps hold points where the d400 = 2.0332 Å and 2.0184 Å phases coexist in known
proportion (frames linear in intensity, Poisson noise at detector level, random strain
field and mosaic tilt domains); single-phase maps must come out single-phase with the
centre-of-mass d-spacing untouched.
"""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import pytest
from scipy import optimize, special

from operando.errors import ParameterError
from operando.pipelines.sxdm import add_phase_maps, process_kmap
from operando.sxdm import (
    ROI,
    ArraySource,
    decompose_phases,
    find_hot_pixels,
    fit_radial_peaks,
    open_kmap,
    phase_region,
    radial_bins,
    radial_profiles,
    region_background,
    survey_phases,
)
from operando.synthetic import (
    front_fraction_field,
    random_fraction_field,
    simulate_kmap,
    simulate_two_phase_kmap,
    write_bliss_kmap,
)

D1, D2 = 2.0332, 2.0184
# both LMNO peaks on the detector: 0.8 m, 128 rows along 2theta; rocking over +-0.21 deg
GEOMETRY = {"seed": 5, "n_angles": 24, "eta_step_deg": 0.018, "detector_shape": (128, 36), "distance_m": 0.8}
SHAPE = (10, 10)
PHASE_NAMES = (
    "two_phase",
    "phase_fraction",
    "d_phase1",
    "d_phase2",
    "width_phase1",
    "width_phase2",
    "two_phase_delta_bic",
)


def _processed(model, directory, mode="auto"):
    master = write_bliss_kmap(model, directory)
    maps, params = process_kmap(master)
    before = maps.d_spacing.values.copy()
    add_phase_maps(maps, open_kmap(master), params, mode=mode)
    return maps, before, master


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """Every point holds both phases, phase 1's share a smooth random field over [0, 1]; phase 2
    misoriented by 0.02 deg and with a broader peak."""
    f = random_fraction_field(SHAPE, seed=4)
    model = simulate_two_phase_kmap(f, tilt_between_deg=0.02, second_sigma_q=1.3e-3, **GEOMETRY)
    return model, *_processed(model, tmp_path_factory.mktemp("mixed"))


@pytest.fixture(scope="module")
def front(tmp_path_factory):
    """A phase front across the crystal: pure phase 1 ahead, pure phase 2 behind, mixed in between."""
    f = front_fraction_field(SHAPE, position=0.5, angle_deg=30.0, width_points=0.7)
    model = simulate_two_phase_kmap(f, **{**GEOMETRY, "seed": 8})
    return model, *_processed(model, tmp_path_factory.mktemp("front"))


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """One phase, random strain field and tilt domains (the K-maps tests/sxdm checks)."""
    model = simulate_kmap(map_shape=SHAPE, lattice_A=4 * D1, strain_std=2e-4, max_tilt_deg=0.03, **GEOMETRY)
    master = write_bliss_kmap(model, tmp_path_factory.mktemp("single"))
    return model, master


def _rms(a):
    return float(np.sqrt(np.mean(np.square(a))))


def test_every_point_two_phases(mixed):
    model, maps, _, _ = mixed
    inside = model.truth.mask & maps.mask.values
    assert inside.sum() > 30
    assert maps.attrs["phases"].startswith("per-point decomposition run (phases auto)")
    assert bool(maps.phases_decomposed)
    np.testing.assert_allclose(maps.attrs["phases_survey_d_A"], [D1, D2], atol=5e-4)
    share = np.minimum(model.fraction, 1.0 - model.fraction)
    # the bar is 0.05 RMS; the decomposition does an order of magnitude better
    assert _rms((maps.phase_fraction.values - model.fraction)[inside]) < 0.02
    assert maps.two_phase.values[inside & (share >= 0.1)].all()
    for name, truth, own in (("d_phase1", model.truth, model.fraction), ("d_phase2", model.second, 1 - model.fraction)):
        sel = inside & (own >= 0.1)
        assert _rms((maps[name].values - truth.d_spacing_A)[sel]) < 2.5e-5, name
        assert maps[name].attrs["units"] == "angstrom"
    # each phase's own radial width, not their spread
    assert np.nanmedian(maps.width_phase1.values[inside]) == pytest.approx(model.peak_sigma_q, rel=0.1)
    assert np.nanmedian(maps.width_phase2.values[inside]) == pytest.approx(model.second_sigma_q, rel=0.1)
    assert np.isnan(maps.phase_fraction.values[~maps.mask.values]).all()
    assert not maps.two_phase.values[~maps.mask.values].any()


def test_the_centre_of_mass_alone_fakes_a_solid_solution(mixed):
    """What the phase maps correct: the centre of mass is the intensity-weighted mean d."""
    model, maps, before, _ = mixed
    inside = model.truth.mask & maps.mask.values
    np.testing.assert_array_equal(before, maps.d_spacing.values)  # the phase maps leave d_spacing alone
    q_mean = model.fraction * 2 * np.pi / model.truth.d_spacing_A + (1 - model.fraction) * 2 * np.pi / (
        model.second.d_spacing_A
    )
    com = maps.d_spacing.values[inside]
    assert _rms(com - (2 * np.pi / q_mean)[inside]) < 1e-4
    assert np.ptp(com) > 0.5 * (D1 - D2)  # a fake gradient spanning most of the gap


def test_phase_front(front):
    model, maps, _, _ = front
    inside = model.truth.mask & maps.mask.values
    share = np.minimum(model.fraction, 1.0 - model.fraction)
    assert (share[inside] < 0.01).sum() > 10 and (share[inside] > 0.15).sum() >= 3
    assert _rms((maps.phase_fraction.values - model.fraction)[inside]) < 0.05
    assert maps.two_phase.values[inside & (share > 0.15)].all()
    assert not maps.two_phase.values[inside & (share < 0.01)].any()
    # pure points belong wholly to their side of the front, with their own d-spacing
    pure1, pure2 = inside & (model.fraction > 0.99), inside & (model.fraction < 0.01)
    np.testing.assert_allclose(maps.phase_fraction.values[pure1], 1.0, atol=0.02)
    np.testing.assert_allclose(maps.phase_fraction.values[pure2], 0.0, atol=0.02)
    assert _rms((maps.d_phase1.values - model.truth.d_spacing_A)[pure1]) < 2.5e-5
    assert _rms((maps.d_phase2.values - model.second.d_spacing_A)[pure2]) < 2.5e-5
    assert np.isnan(maps.d_phase2.values[pure1]).all() and np.isnan(maps.d_phase1.values[pure2]).all()


def test_single_phase_map(single):
    model, master = single
    maps, params = process_kmap(master)
    before = maps.d_spacing.values.copy()
    inside = model.truth.mask & maps.mask.values
    add_phase_maps(maps, open_kmap(master), params)  # auto: the survey finds one population
    assert "not run" in maps.attrs["phases"] and "one lattice population" in maps.attrs["phases_survey"]
    assert not maps.two_phase.values.any() and np.isnan(maps.phase_fraction.values).all()
    assert not bool(maps.phases_decomposed)
    np.testing.assert_array_equal(before, maps.d_spacing.values)
    assert _rms((maps.d_spacing.values - model.truth.d_spacing_A)[inside]) < 2.5e-5
    add_phase_maps(maps, open_kmap(master), params, mode="on")
    assert maps.attrs["phases_mode"] == "on" and "run" in maps.attrs["phases"]
    assert maps.two_phase.values[inside].mean() <= 0.02
    assert _rms((maps.d_phase1.values - model.truth.d_spacing_A)[inside]) < 2.5e-5
    assert np.isnan(maps.d_phase2.values[inside]).mean() >= 0.98
    np.testing.assert_array_equal(before, maps.d_spacing.values)


def test_survey_says_two_populations_only_where_there_are_two(mixed, front, single):
    assert mixed[1].attrs["phases_survey"].startswith("two lattice populations")
    assert front[1].attrs["phases_survey"].startswith("two lattice populations")
    maps, params = process_kmap(single[1])
    add_phase_maps(maps, open_kmap(single[1]), params, mode="on")
    assert maps.attrs["phases_survey"].startswith("one lattice population")


def test_a_partial_survey_finds_the_front(front):
    """Surveying a third of the rows (whole rows spread over the map) still sees both phases."""
    model, full, _, master = front
    maps, params = process_kmap(master)
    with warnings.catch_warnings():  # the narrower region may cut a peak's far tail: said, not refused
        warnings.filterwarnings("ignore", message=".*edge of the region")
        add_phase_maps(maps, open_kmap(master), params, survey_points=30)
    assert maps.attrs["phases_survey"].startswith("two lattice populations")
    inside = model.truth.mask & maps.mask.values
    np.testing.assert_allclose(maps.phase_fraction.values[inside], full.phase_fraction.values[inside], atol=0.02)
    assert maps.attrs["phases_background_counts"] == pytest.approx(model.background, rel=0.05)


def test_the_variables_and_their_units(mixed):
    maps = mixed[1]
    units = {"two_phase": "1", "phase_fraction": "1", "d_phase1": "angstrom", "width_phase1": "1/angstrom"}
    for name in PHASE_NAMES:
        assert maps[name].dims == ("y", "x") and maps[name].attrs["long_name"]
    for name, unit in units.items():
        assert maps[name].attrs["units"] == unit
    assert maps.two_phase.dtype == bool


def test_modes(single):
    _, master = single
    maps, params = process_kmap(master)
    maps = maps.drop_vars([*PHASE_NAMES, "phases_decomposed"], errors="ignore")  # were they wired in
    add_phase_maps(maps, open_kmap(master), params, mode="off")
    assert maps.attrs["phases"] == "not run (phases off)" and "two_phase" not in maps
    with pytest.raises(ParameterError, match="phases must be"):
        add_phase_maps(maps, open_kmap(master), params, mode="yes")  # type: ignore[arg-type]
    source = open_kmap(master)
    blank = np.random.default_rng(0).poisson(0.5, source.frames.shape).astype(np.int32)
    with pytest.raises(ParameterError, match="no Bragg peak") as err:
        add_phase_maps(maps, ArraySource(blank, source.meta), params)
    assert err.value.path == str(source.meta.path)
    with pytest.raises(ParameterError, match="points"):
        add_phase_maps(maps.isel(y=slice(0, 5)), source, params)


# -- kernel, on arrays ------------------------------------------------------------------


def _bins(n=161, lo=3.0, hi=3.04):
    q = np.broadcast_to(np.linspace(lo, hi, n)[None, :, None], (1, n, 1))
    return radial_bins(q, roi=ROI((0, 1), (0, n), (0, 1)))


def _gauss(bins, centre, sigma):
    """Expected share of a Gaussian peak in each bin."""
    e = bins.edges
    return special.ndtr((e[1:] - centre) / sigma) - special.ndtr((e[:-1] - centre) / sigma)


def test_fit_agrees_with_a_direct_poisson_likelihood_fit():
    """The EM fit against scipy's minimiser of the same Poisson likelihood (an independent route)."""
    b = _bins()
    lam = 3.0 + 6e3 * _gauss(b, 3.013, 1.2e-3) + 2e3 * _gauss(b, 3.024, 0.9e-3)
    y = np.random.default_rng(3).poisson(lam).astype(float)
    fit = fit_radial_peaks(y[None], b)

    def nll(p):
        beta, a1, m1, s1, a2, m2, s2 = p
        model = beta * b.voxels + a1 * _gauss(b, m1, abs(s1)) + a2 * _gauss(b, m2, abs(s2)) + 1e-12
        return float((model - y * np.log(model)).sum())

    start = [2.0, 5e3, 3.012, 1e-3, 2.5e3, 3.025, 1e-3]
    ref = optimize.minimize(nll, start, method="Nelder-Mead", options={"maxiter": 40000, "xatol": 1e-9, "fatol": 1e-9})
    _, a1, m1, s1, a2, m2, s2 = ref.x
    np.testing.assert_allclose(fit["mu2"][0], [m1, m2], atol=2e-5)
    np.testing.assert_allclose(fit["sigma2"][0], [abs(s1), abs(s2)], rtol=0.03)
    np.testing.assert_allclose(fit["amp2"][0], [a1, a2], rtol=0.01)
    # and both against the truth, to their Poisson errors
    np.testing.assert_allclose(fit["mu2"][0], [3.013, 3.024], atol=1e-4)
    assert fit["amp2"][0, 0] / fit["amp2"][0].sum() == pytest.approx(0.75, abs=0.01)
    assert fit["delta_bic"][0] > 1e3


def test_a_broad_or_skewed_single_peak_is_not_two_phases():
    """A solid-solution gradient inside the beam footprint: a flat-topped or skewed radial
    peak, which two Gaussians fit better but which has no second maximum."""
    b = _bins()
    x = b.centres
    rng = np.random.default_rng(5)
    centres = np.linspace(3.014, 3.022, 9)  # uniform d spread of 4 peak widths
    flat = sum(2e3 * _gauss(b, c, 1e-3) for c in centres)
    skew = 1.5e4 * _gauss(b, 3.018, 1e-3) + 4e3 * _gauss(b, 3.0195, 1.5e-3)
    lam = np.stack([flat, skew]) + 2.0
    out = decompose_phases(rng.poisson(lam)[None].astype(float), b)
    assert not out["two_phase"].any()
    assert np.all(out["two_phase_delta_bic"] > 10)  # two Gaussians do fit better: resolution decides
    assert survey_phases(rng.poisson(flat * 50 + 20), b).two_populations is False
    assert x[0] < 3.014 and x[-1] > 3.022


def test_profiles_equal_a_weighted_histogram_and_stay_lazy():
    rng = np.random.default_rng(7)
    n_a, ny, nx, dy, dx = 3, 2, 3, 10, 6
    frames = rng.poisson(4.0, (n_a, ny, nx, dy, dx)).astype(np.int32)
    q = 3.0 + 1e-3 * (np.arange(dy)[:, None] + 0.3 * np.arange(dx)[None, :]) + 1e-4 * np.arange(n_a)[:, None, None]
    valid = np.ones((dy, dx), dtype=bool)
    valid[2, 3] = False
    roi = ROI((0, n_a), (1, 9), (1, 5))
    b = radial_bins(q[roi.slices], roi=roi, valid=valid[roi.slices[1:]])
    lazy = radial_profiles(da.from_array(frames, chunks=(1, 1, 3, -1, -1)), b)
    assert isinstance(lazy, da.Array) and lazy.shape == (ny, nx, len(b.centres))
    got = lazy.compute()
    sub, qs = frames[roi.slices[0], :, :, roi.slices[1], roi.slices[2]], q[roi.slices]
    ok = np.broadcast_to(valid[roi.slices[1:]], qs.shape)
    for iy in range(ny):
        for ix in range(nx):
            want, _ = np.histogram(qs[ok], bins=b.edges, weights=sub[:, iy, ix][ok])
            np.testing.assert_allclose(got[iy, ix], want)
    assert b.voxels.sum() == ok.sum()


def test_region_keeps_a_weak_second_phase():
    """The reduction's region keeps peaks reaching a fifth of the strongest; a 5 % phase must stay."""
    model = simulate_two_phase_kmap(np.full((4, 4), 0.95), **{**GEOMETRY, "n_angles": 20})
    f = model.frames(0, 16)
    summed = f.sum(1, dtype=np.float64)
    valid = (model.pixel_mask == 0) & ~find_hot_pixels(summed)
    roi, inside = phase_region(summed, valid=valid)
    qa = np.linalg.norm(model.pixel_q()[roi.slices], axis=-1)[inside]
    q2 = 2 * np.pi / model.second.d_spacing_A[model.second.mask]
    assert qa.min() < 2 * np.pi / D1 - 2e-3 and qa.max() > q2.max() + 2e-3


def test_bad_inputs():
    b = _bins(21)
    with pytest.raises(ParameterError, match="bins"):
        fit_radial_peaks(np.ones((2, 5)), b)
    with pytest.raises(ParameterError, match="references"):
        fit_radial_peaks(np.ones((2, 21)), b, references=[3.0])
    with pytest.raises(ParameterError, match="shape"):
        radial_bins(np.ones((2, 3, 3)), roi=ROI((0, 1), (0, 3), (0, 3)))
    with pytest.raises(ParameterError, match="no Bragg peak"):
        phase_region(np.ones((3, 8, 8)))
    with pytest.raises(ParameterError, match="fraction"):
        simulate_two_phase_kmap(np.full((4, 4), 1.2), **GEOMETRY)


def _in_memory(model, frames=None, pixel_mask=None):
    """The kernel's steps on frames in hand, as add_phase_maps runs them on a file."""
    ny, nx = model.map_shape
    if frames is None:
        frames = model.frames(0, ny * nx)
        frames = frames.reshape(frames.shape[0], ny, nx, *frames.shape[2:])
    pixel_mask = model.pixel_mask if pixel_mask is None else pixel_mask
    summed = frames.sum(axis=(1, 2), dtype=np.float64)
    valid = (pixel_mask == 0) & ~find_hot_pixels(summed)
    roi, inside = phase_region(summed, valid=valid)
    q_abs = np.linalg.norm(model.pixel_q()[roi.slices], axis=-1)
    bins = radial_bins(q_abs, roi=roi, inside=inside, valid=valid[roi.slices[1:]])
    profiles = np.asarray(radial_profiles(frames, bins).compute())
    background = region_background(summed, roi, inside, valid=valid, n_points=ny * nx)
    survey = survey_phases(profiles.sum((0, 1)), bins, background=background * ny * nx)
    out = decompose_phases(profiles, bins, survey=survey, background=background, points=model.truth.mask)
    return bins, background, survey, out


def test_a_chip_gap_across_a_phase_peak(mixed):
    """Three dead detector rows across phase 1's |Q| (a Maxipix chip gap): the bins' coverage
    keeps the fractions and d-spacings (the Gaussian is fitted where pixels saw it)."""
    model = mixed[0]
    ny, nx = model.map_shape
    frames = model.frames(0, ny * nx)
    frames = frames.reshape(frames.shape[0], ny, nx, *frames.shape[2:])
    q_abs = np.linalg.norm(model.pixel_q(), axis=-1)
    row = int(np.argmin(np.abs(q_abs[0, :, q_abs.shape[2] // 2] - 2 * np.pi / D1)))
    frames[..., row - 1 : row + 2, :] = 0
    pixel_mask = model.pixel_mask.copy()
    pixel_mask[row - 1 : row + 2, :] = 1
    bins, background, _, out = _in_memory(model, frames, pixel_mask)
    assert (bins.coverage[bins.voxels > 0] < 1).any() and (bins.voxels == 0).any()  # the gap empties bins
    assert background == pytest.approx(model.background, rel=0.05)
    inside = model.truth.mask
    assert _rms((out["phase_fraction"] - model.fraction)[inside]) < 0.02
    own = inside & (model.fraction >= 0.1)
    assert _rms((out["d_phase1"] - model.truth.d_spacing_A)[own]) < 2.5e-5


def test_few_counts_per_point():
    """1000 Bragg counts per point on a flat background of 0.5 per pixel and frame (short
    exposures): the survey still finds both phases and the fractions meet the 0.05 bar."""
    model = simulate_two_phase_kmap(random_fraction_field(SHAPE, seed=4), peak_counts=1e3, **GEOMETRY)
    _, _, survey, out = _in_memory(model)
    assert survey.two_populations
    np.testing.assert_allclose(survey.d_spacings_A, [D1, D2], atol=5e-4)
    assert _rms((out["phase_fraction"] - model.fraction)[model.truth.mask]) < 0.05


def test_blocks_and_empty_selections():
    b = _bins(60, 3.0, 3.03)
    rng = np.random.default_rng(0)
    y = rng.poisson(5 + 3e3 * _gauss(b, 3.015, 1e-3), (5, 60)).astype(float)
    whole, blocks = fit_radial_peaks(y, b), fit_radial_peaks(y, b, block=2)
    for k in whole:
        np.testing.assert_allclose(whole[k], blocks[k])
    assert fit_radial_peaks(np.zeros((0, 60)), b)["mu2"].shape == (0, 2)
    out = decompose_phases(y.reshape(1, 5, 60), b, points=np.zeros((1, 5), dtype=bool))
    assert not out["two_phase"].any() and np.isnan(out["phase_fraction"]).all()
