"""Per-point reduction and maps against the synthetic forward model's ground truth."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
from scipy import ndimage

from operando.errors import ParameterError
from operando.parallel import single_threaded_blas
from operando.sxdm import ROI, centre_of_mass, find_hot_pixels, find_roi, reduce_kmap, strain_tilt_maps
from operando.synthetic import simulate_kmap


def _frames(model, block=64):
    ny, nx = model.map_shape
    n = ny * nx
    f = np.concatenate([model.frames(s, min(s + block, n)) for s in range(0, n, block)], axis=1)
    return f.reshape(f.shape[0], ny, nx, *f.shape[2:])


@pytest.fixture(scope="module")
def kmap():
    """The issue's test map: 24 x 24 points, 30 rocking angles, 96 x 96 pixels, realistic counts."""
    model = simulate_kmap(seed=0)
    return model, _frames(model)


def _errors(maps, truth):
    m = truth.mask
    d_err = maps.d_spacing.values - truth.d_spacing_A
    q = np.stack([maps[k].values for k in ("qx", "qy", "qz")], axis=-1)
    cos = (q * truth.q).sum(-1) / np.linalg.norm(q, axis=-1) / np.linalg.norm(truth.q, axis=-1)
    tilt_err = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    return d_err[m], tilt_err[m]


def test_accuracy_floor_on_synthetic_map(kmap):
    model, frames = kmap
    truth = model.truth
    moments, settings = reduce_kmap(frames, model.pixel_q(), eta_deg=model.eta_deg, pixel_mask=model.pixel_mask)
    maps = strain_tilt_maps(moments)
    assert settings["hot_pixels"] == 3
    # the intensity mask finds the crystal (edge points are kept or dropped by shading only)
    assert (maps.mask.values == truth.mask).mean() > 0.97
    m = truth.mask & maps.mask.values
    d_err, tilt_err = _errors(maps, truth)
    assert np.sqrt(np.mean(d_err**2)) < 2.5e-5
    assert np.sqrt(np.mean(tilt_err**2)) < 0.002
    assert tilt_err.max() < 0.002
    assert np.corrcoef(maps.d_spacing.values[m], truth.d_spacing_A[m])[0, 1] > 0.99
    # tilt altitude relative to the particle's mean Q, truth computed the same way
    qt = truth.q[m]
    ut = qt / np.linalg.norm(qt, axis=-1, keepdims=True)
    mean_t = qt.mean(0) / np.linalg.norm(qt.mean(0))
    alt_truth = np.degrees(np.arccos(np.clip(ut @ mean_t, -1, 1)))
    assert np.corrcoef(maps.tilt_altitude.values[m], alt_truth)[0, 1] > 0.99
    assert maps.d_spacing.attrs["units"] == "angstrom"
    assert maps.tilt_altitude.dims == ("y", "x")
    assert 0 < float(maps.max_misorientation) < 0.1
    np.testing.assert_allclose(
        float(maps.microstrain), truth.d_spacing_A[m].std() / truth.d_spacing_A[m].mean(), rtol=0.05
    )


def test_defaults_avoid_the_background_trap(kmap):
    """Without ROI and background (XSOCS's defaults) the error is an order of magnitude larger."""
    model, frames = kmap
    n_a, _, _, dy, dx = frames.shape
    full = ROI((0, n_a), (0, dy), (0, dx))
    moments, _ = reduce_kmap(
        frames, model.pixel_q(), eta_deg=model.eta_deg, pixel_mask=model.pixel_mask, roi=full, background="none"
    )
    d_err, _ = _errors(strain_tilt_maps(moments), model.truth)
    assert np.sqrt(np.mean(d_err**2)) > 1e-4


def test_per_frame_background_and_dask_agree(kmap):
    model, frames = kmap
    q = model.pixel_q()
    kw = {"eta_deg": model.eta_deg, "pixel_mask": model.pixel_mask, "background": "frame"}
    with single_threaded_blas():  # the in-memory products, as the lazy ones are computed below
        ref, _ = reduce_kmap(frames, q, **kw)
    d_err, tilt_err = _errors(strain_tilt_maps(ref), model.truth)
    assert np.sqrt(np.mean(d_err**2)) < 2.5e-5
    assert np.sqrt(np.mean(tilt_err**2)) < 0.002
    # blocks of 2 rows x 24 points, as the in-memory path takes them (64 points per block -> whole rows): the
    # same float32 products, so the same numbers
    lazy = da.from_array(frames, chunks=(1, 2, 24, -1, -1))
    out, _ = reduce_kmap(lazy, q, **kw)
    assert isinstance(out["qz"], da.Array)
    # float32 BLAS products round differently with another thread count: compute as process_kmap does
    with dask.config.set(scheduler="synchronous"), single_threaded_blas():
        for name in ref:
            np.testing.assert_allclose(out[name].compute(), ref[name], rtol=1e-12, equal_nan=True)
    # other blocks: OpenBLAS may sum a float32 product of another height in another order (it does with
    # its SkylakeX kernels on AMD EPYC), so the moments agree to float32 rounding of the weighted sums
    other, _ = reduce_kmap(da.from_array(frames, chunks=(1, 4, 24, -1, -1)), q, **kw)
    with dask.config.set(scheduler="synchronous"), single_threaded_blas():
        for name in ref:
            scale = np.nanmax(np.abs(ref[name]))
            np.testing.assert_allclose(other[name].compute(), ref[name], rtol=1e-5, atol=1e-5 * scale, equal_nan=True)


def test_survey_of_some_rows_keeps_the_accuracy(kmap):
    """The region, hot pixels and background from a quarter of the rows: same floor, same region."""
    model, frames = kmap
    kw = {"eta_deg": model.eta_deg, "pixel_mask": model.pixel_mask}
    _, s_full = reduce_kmap(frames, model.pixel_q(), **kw)
    part, s_part = reduce_kmap(frames, model.pixel_q(), survey_points=128, **kw)
    assert s_part["survey_points"] == 6 * 24 and s_full["survey_points"] == 24 * 24
    assert s_part["hot_pixels"] == 3
    assert s_part["roi_angles"] == s_full["roi_angles"]
    np.testing.assert_allclose(s_part["background_counts_per_pixel"], s_full["background_counts_per_pixel"], rtol=0.02)
    d_err, tilt_err = _errors(strain_tilt_maps(part), model.truth)
    assert np.sqrt(np.mean(d_err**2)) < 2.5e-5
    assert np.sqrt(np.mean(tilt_err**2)) < 0.002
    # lazy frames: whole chunks of rows are surveyed, the answer is the in-memory one
    lazy = da.from_array(frames, chunks=(1, 2, 24, -1, -1))
    out, s_lazy = reduce_kmap(lazy, model.pixel_q(), survey_points=128, **kw)
    assert s_lazy["survey_points"] == 6 * 24
    with dask.config.set(scheduler="synchronous"):
        got = out["qz"].compute()
    assert np.isfinite(got).sum() > 0


def test_centre_of_mass_float32_path_matches_float64():
    rng = np.random.default_rng(3)
    n_a, n_p, ny, nx = 7, 5, 20, 18
    frames = rng.poisson(rng.uniform(0, 400, (n_a, n_p, ny, nx))).astype(np.int32)
    q = np.array([0.3, -0.2, 3.07]) + rng.normal(0, 5e-3, (n_a, ny, nx, 3))
    eta = np.linspace(19.5, 19.6, n_a)
    valid = rng.uniform(size=(ny, nx)) > 0.1
    bg = rng.uniform(0, 2, (n_a, n_p))
    got = centre_of_mass(frames, q, eta_deg=eta, valid=valid, background=bg)
    w = (frames - bg[..., None, None]) * valid
    s = w.sum(axis=(0, 2, 3))
    want = np.einsum("apyx,ayxc->pc", w, q) / s[:, None]
    np.testing.assert_allclose(got.intensity, s, rtol=1e-6)
    np.testing.assert_allclose(got.q, want, rtol=1e-9)
    e = (w.sum(axis=(2, 3)) * eta[:, None]).sum(0) / s
    np.testing.assert_allclose(got.rocking_com_deg, e, rtol=0, atol=1e-8)


def test_hot_pixels_are_found_not_the_peak():
    s = np.random.default_rng(0).poisson(100.0, (20, 32, 32)).astype(float)
    yy, xx = np.mgrid[0:32, 0:32]
    s[8:12] += 5e4 * np.exp(-((yy - 16) ** 2 + (xx - 16) ** 2) / (2 * 3.0**2))
    s[:, 5, 7] += 300
    hot = find_hot_pixels(s)
    assert hot.sum() == 1 and hot[5, 7]


def _hot_pixels_full_filter(summed, threshold=8.0):
    """The definition of find_hot_pixels with the 3x3 median over the whole detector."""
    med = ndimage.median_filter(summed, size=(1, 3, 3), mode="nearest")
    z = (summed - med) / np.sqrt(np.maximum(med, 0.0) + 1.0)
    return np.median(z, axis=0) > threshold


@pytest.mark.parametrize("seed", range(12))
def test_hot_pixels_same_as_the_full_median_filter(seed):
    """The median only at pixels a 3x3-minimum bound lets through finds exactly the pixels
    of the full filter: edges, corners, hot clusters, negative flags, a bright peak."""
    rng = np.random.default_rng(seed)
    n_a, ny, nx = int(rng.integers(1, 12)), int(rng.integers(3, 50)), int(rng.integers(3, 50))
    s = rng.poisson(rng.uniform(0, 200), (n_a, ny, nx)).astype(float)
    s[:, rng.integers(0, ny, 6), rng.integers(0, nx, 6)] += rng.uniform(20, 500)
    s[:, 0, 0] += 1000.0
    s[:, -1, -1] += 300.0
    s[:, ny // 2, nx // 2 : nx // 2 + 2] += 400.0  # two hot neighbours
    if seed % 3 == 0:
        s[:, rng.integers(0, ny, 4), rng.integers(0, nx, 4)] = -1.0  # detector gap flags
    if seed % 4 == 0:
        s[n_a // 2, ny // 3 : ny // 3 + 5] += 1e4
    threshold = (8.0, 3.0, 0.5)[seed % 3]
    np.testing.assert_array_equal(find_hot_pixels(s, threshold=threshold), _hot_pixels_full_filter(s, threshold))


@pytest.mark.parametrize("seed", range(6))
def test_hot_pixels_of_sparse_survey_sums_are_the_full_filters(seed):
    """Survey sums of ID01-like frames (under one count per pixel, a Bragg peak, hot pixels
    in singles and pairs, a dead chip gap), where only pixels above the threshold are
    tested: exactly the pixels of the full filter."""
    rng = np.random.default_rng(100 + seed)
    n_a, ny, nx = 30, int(rng.integers(20, 90)), int(rng.integers(20, 90))
    s = rng.poisson(rng.uniform(0.05, 1.0), (n_a, ny, nx)).astype(float)
    yy, xx = np.mgrid[0:ny, 0:nx]
    aa = np.arange(n_a)[:, None, None]
    s += rng.poisson(3e3 * np.exp(-0.5 * (((aa - 15) / 2) ** 2 + ((yy - ny / 2) / 3) ** 2 + ((xx - nx / 2) / 3) ** 2)))
    s[:, rng.integers(0, ny, 5), rng.integers(0, nx, 5)] += rng.poisson(rng.uniform(5, 60), (n_a, 5))
    s[:, 3, 4:6] += 40.0
    s[:, :, nx // 3] = 0.0
    for threshold in (8.0, 3.0):
        want = _hot_pixels_full_filter(s, threshold)
        np.testing.assert_array_equal(find_hot_pixels(s, threshold=threshold), want)


def test_many_hot_pixel_candidates_use_the_full_filter():
    s = np.random.default_rng(5).poisson(50.0, (5, 20, 20)).astype(float)
    s[:, ::2, ::2] += 500.0  # a quarter of the pixels are candidates
    np.testing.assert_array_equal(find_hot_pixels(s), _hot_pixels_full_filter(s))


def _roi_reference(s, ok, threshold=0.05, pad_fraction=0.25):
    """find_roi's definition, written plainly: scipy's filter and labels over the whole volume."""
    base = float(np.median(s[:, ok]))
    excess = ndimage.uniform_filter(np.where(ok, s - base, 0.0), size=(1, 3, 3), mode="constant")
    peak, noise = excess.max(), np.sqrt(max(base, 0.0) + 1.0) / 3.0
    labels, n = ndimage.label(excess > max(threshold * peak, 5 * noise), structure=np.ones((3, 3, 3)))
    keep = [k for k in range(1, n + 1) if excess[labels == k].max() >= 0.2 * peak]
    idx = np.nonzero(np.isin(labels, keep))
    bounds = []
    for axis, minimum in zip(range(3), (1, 2, 2), strict=True):
        lo, hi = int(idx[axis].min()), int(idx[axis].max()) + 1
        pad = max(minimum, int(np.ceil(pad_fraction * (hi - lo))))
        bounds.append((max(0, lo - pad), min(s.shape[axis], hi + pad)))
    return ROI(*bounds)


@pytest.mark.parametrize("seed", range(8))
def test_roi_same_as_its_plain_definition(seed):
    """Peak, side peaks (kept when strong enough, dropped when weak), masked pixels, edges."""
    rng = np.random.default_rng(seed)
    n_a, ny, nx = int(rng.integers(6, 25)), int(rng.integers(20, 70)), int(rng.integers(20, 70))
    s = rng.poisson(rng.uniform(1, 100), (n_a, ny, nx)).astype(float)
    aa, yy, xx = np.mgrid[0:n_a, 0:ny, 0:nx]
    for k in range(int(rng.integers(1, 4))):
        c = rng.uniform(0, 1, 3) * (n_a, ny, nx)
        w = rng.uniform(0.7, 3.0, 3)
        amp = rng.uniform(2e2, 5e4) if k else 5e4
        s += rng.poisson(
            amp * np.exp(-0.5 * (((aa - c[0]) / w[0]) ** 2 + ((yy - c[1]) / w[1]) ** 2 + ((xx - c[2]) / w[2]) ** 2))
        )
    ok = rng.random((ny, nx)) > 0.05
    assert find_roi(s, valid=ok) == _roi_reference(s, ok)


@pytest.mark.parametrize(("threshold", "pad"), [(1.5, 0.25), (0.0, 0.25), (0.05, -1.0), (float("nan"), 0.25)])
def test_roi_parameters_out_of_range_are_one_clear_error(threshold, pad):
    s = np.random.default_rng(0).poisson(10.0, (4, 12, 12)).astype(float)
    s[2, 6, 6] += 1e4
    with pytest.raises(ParameterError, match="0 < threshold < 1"):
        find_roi(s, threshold=threshold, pad_fraction=pad)


def test_bad_inputs():
    with pytest.raises(ParameterError, match="frames must be"):
        reduce_kmap(np.zeros((3, 4, 4)), np.zeros((3, 4, 4, 3)), eta_deg=np.zeros(3))
    with pytest.raises(ParameterError, match="no Bragg peak"):
        reduce_kmap(np.ones((3, 2, 2, 8, 8)), np.zeros((3, 8, 8, 3)), eta_deg=np.zeros(3))
    with pytest.raises(ParameterError, match="background must be"):
        frames = np.ones((3, 2, 2, 8, 8))
        frames[1, :, :, 4, 4] = 100
        reduce_kmap(frames, np.zeros((3, 8, 8, 3)), eta_deg=np.zeros(3), background="median")  # type: ignore[arg-type]
