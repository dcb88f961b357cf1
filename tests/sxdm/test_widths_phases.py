"""3D peak widths against the forward model's Gaussian width, and a two-phase front through a series."""

from __future__ import annotations

import numpy as np
import pytest

from operando.pipelines.sxdm import process_kmap, process_series
from operando.store import open_results
from operando.sxdm import ROI, peak_widths, q_covariance, reduce_kmap
from operando.synthetic import simulate_kmap, write_bliss_kmap


def _frames(model):
    ny, nx = model.map_shape
    f = model.frames(0, ny * nx)
    return f.reshape(f.shape[0], ny, nx, *f.shape[2:])


def test_q_covariance_of_a_sampled_gaussian():
    cov = np.array([[4.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]]) * 1e-6
    # voxels on a regular q grid, weights = an anisotropic Gaussian: the weighted covariance is the Gaussian's
    g = np.stack(np.meshgrid(*[np.linspace(-0.012, 0.012, 25)] * 3, indexing="ij"), -1).reshape(5, 125, 25, 3)
    q = g + np.array([0.0, 0.0, 3.0])
    inv = np.linalg.inv(cov)
    d = q - [0.0, 0.0, 3.0]
    w = np.exp(-0.5 * np.einsum("...i,ij,...j->...", d, inv, d))
    frames = np.stack([w * 1000.0, w * 500.0 + 2.0], axis=1)  # two points, the second on a flat background
    i, m, c = q_covariance(frames, q, background=np.array([[0.0, 2.0]] * 5))
    np.testing.assert_allclose(i[0], 2 * i[1], rtol=1e-9)
    np.testing.assert_allclose(m, [[0, 0, 3]] * 2, atol=1e-9)
    np.testing.assert_allclose(c, [cov, cov], rtol=1e-6, atol=1e-12)


def test_peak_widths_recover_the_model_width():
    model = simulate_kmap(map_shape=(8, 8), n_angles=30, detector_shape=(96, 96), seed=0)
    frames = _frames(model)
    moments, s = reduce_kmap(frames, model.pixel_q(), eta_deg=model.eta_deg, pixel_mask=model.pixel_mask)
    roi = ROI(tuple(s["roi_angles"]), tuple(s["roi_det_y"]), tuple(s["roi_det_x"]))
    bad = (model.pixel_mask > 0) | model.hot_pixels
    w = peak_widths(frames, model.pixel_q(), roi=roi, pixel_mask=bad, background=s["background_counts_per_pixel"])
    inside = model.truth.mask
    for name in ("width_major", "width_middle", "width_minor", "width_radial", "width_rocking"):
        # the model's peak is an isotropic Gaussian of standard deviation peak_sigma_q in every direction
        assert np.median(w[name][inside]) == pytest.approx(model.peak_sigma_q, rel=0.06), name
    assert np.all(w["width_major"][inside] >= w["width_minor"][inside])
    # the rocking width in q is |Q| times the rocking-curve width in radians (second moment of eta)
    qn = np.linalg.norm(np.stack([moments[k] for k in ("qx", "qy", "qz")], -1), axis=-1)
    ratio = w["width_rocking"][inside] / (qn * np.radians(moments["rocking_width"]))[inside]
    assert np.median(ratio) == pytest.approx(1.0, abs=0.1)


@pytest.mark.slow
def test_two_phase_front_through_a_series(tmp_path):
    """Solid-solution shift, then a second phase growing behind a front (the issue's demo)."""
    steps = [(8.17, 0.0), (8.165, 0.0), (8.165, 0.35), (8.165, 0.7)]  # (lattice A, phase-2 fraction)
    models, masters = [], []
    for k, (a, frac) in enumerate(steps):
        m = simulate_kmap(
            map_shape=(12, 12),
            n_angles=24,
            detector_shape=(64, 64),
            seed=7,
            lattice_A=a,
            phase2_strain=-6e-4,
            strain_std=1e-4,
            phase2_fraction=frac,
            peak_counts=5e4,
        )
        models.append(m)
        masters.append(write_bliss_kmap(m, tmp_path / f"map{k}", first_scan=1))
    store = process_series(masters, tmp_path / "series.zarr", progress=False)
    ds = open_results(store)
    assert ds.sizes["frame"] == 4
    d_mean = ds.d_spacing_mean.values
    assert d_mean[1] < d_mean[0]  # solid-solution shift
    np.testing.assert_allclose(d_mean[0] - d_mean[1], (8.17 - 8.165) / 4, rtol=0.1)
    for k, m in enumerate(models):
        truth = m.truth
        d = ds.d_spacing.isel(frame=k).values
        sel = truth.mask & np.isfinite(d)
        d1 = 8.165 / 4 if k else 8.17 / 4
        d2 = d1 * (1 - 6e-4)
        found = d < (d1 + d2) / 2
        # each point is assigned to its phase by its d-spacing, as in the truth
        assert (found[sel] == (truth.phase[sel] == 1)).mean() > 0.95, k
        assert found[sel].mean() == pytest.approx(steps[k][1], abs=0.08)
        assert np.sqrt(np.mean((d - truth.d_spacing_A)[sel] ** 2)) < 2.5e-5


def test_process_kmap_widths_option(tmp_path):
    model = simulate_kmap(map_shape=(6, 6), n_angles=24, detector_shape=(64, 64), seed=2)
    maps, params = process_kmap(write_bliss_kmap(model, tmp_path / "k"), widths=True)
    assert params["widths"] and maps.width_radial.attrs["units"] == "1/angstrom"
    inside = maps.mask.values
    assert np.nanmedian(maps.width_minor.values[inside]) == pytest.approx(model.peak_sigma_q, rel=0.1)
    assert np.isnan(maps.width_major.values[~inside]).all()
