"""The line kernels behind the 6Li integrals, against forward-model truth: turned lines, coinciding trains."""

from __future__ import annotations

import numpy as np
import pytest

from operando.nmr import LineShape, coinciding_trains, fit_centre_shape, joint_train_areas, sideband_area


def _spectrum_from_fid(lines, step_ppm=0.0, n=8192, sw_ppm=800.0, noise=0.0, seed=0):
    """Real spectrum of time-domain lines (FFT, first point halved): a forward model independent of the profiles.

    ``lines``: (ppm, area, lorentzian FWHM ppm, gaussian FWHM ppm, phase deg, sidebands {k: weight}).
    """
    t = np.arange(n) / sw_ppm  # time in 1/ppm
    fid = np.zeros(n, complex)
    for ppm, area, fl, fg, phase, bands in lines:
        decay = np.exp(-np.pi * fl * t - (np.pi * fg * t) ** 2 / (4 * np.log(2)))
        for k, w in {0: 1.0 - sum(bands.values()), **bands}.items():
            fid += area * w * np.exp(1j * np.deg2rad(phase)) * decay * np.exp(2j * np.pi * (ppm + k * step_ppm) * t)
    fid[0] *= 0.5
    spec = np.fft.fftshift(np.fft.fft(fid)).real / (n / 2)  # a line of area A sums to A
    ppm = np.fft.fftshift(np.fft.fftfreq(n, d=1.0 / sw_ppm))
    rng = np.random.default_rng(seed)
    return spec[::-1] + noise * rng.standard_normal(n), ppm[::-1]


@pytest.mark.parametrize("phase", [0.0, 20.0, -35.0])
def test_a_turned_line_gives_its_magnitude_and_phase(phase):
    spec, ppm = _spectrum_from_fid([(100.0, 2.0, 3.0, 2.0, phase, {})], noise=2e-5, seed=1)
    shape = fit_centre_shape(spec, ppm, (75.0, 125.0), noise=2e-5)
    assert shape is not None
    assert shape.area == pytest.approx(2.0, abs=4 * shape.area_err + 2e-3)  # not 2 cos(phase)
    assert shape.phase_deg == pytest.approx(phase, abs=0.5)
    assert float(spec.sum()) == pytest.approx(2.0 * np.cos(np.deg2rad(phase)), abs=6e-3)  # absorption: 2 cos(phase)


def test_coinciding_trains_are_split_by_the_bands_beyond_the_overlap():
    # B sits 2 spinning periods (2 x 60 ppm) below A: every band of one train on a band of the other
    a = (150.0, 1.0, 3.0, 0.0, 0.0, {1: 0.15, -1: 0.15, 2: 0.05, -2: 0.05})
    b = (30.0, 4.0, 1.5, 1.0, 0.0, {1: 0.1, -1: 0.1, 2: 0.04, -2: 0.04})
    spec, ppm = _spectrum_from_fid([a, b], step_ppm=60.0, noise=1e-5, seed=2)
    shapes = [fit_centre_shape(spec, ppm, (w - 12.0, w + 12.0), noise=1e-5) for w in (150.0, 30.0)]
    assert all(s is not None for s in shapes)
    areas, sigmas, models = joint_train_areas(spec, ppm, shapes, 60.0, 1e-5)  # the shapes blended, not refitted
    assert models.shape == (2, ppm.size)
    assert areas == pytest.approx([1.0, 4.0], rel=0.1)
    # each shape refitted on the spectrum less the other train (as line_integral does), warned
    with pytest.warns(UserWarning, match="coincide"):
        value, sigma, systematic = coinciding_trains(spec, ppm, shapes[0], (138.0, 162.0), [(18.0, 42.0)], 60.0,
                                                      1e-5, 1.0, "x")  # fmt: skip
    assert value == pytest.approx(1.0, rel=0.01)
    assert abs(value - 1.0) < 3.0 * np.hypot(sigma, systematic)
    # each train alone in its own sideband windows counts the other's bands as its own
    alone = shapes[0].area + sum(sideband_area(spec, ppm, shapes[0], k * 60.0, (150 + k * 60 - 12, 150 + k * 60 + 12),
                                               1e-5)[0] for k in (-2, -1, 1, 2))  # fmt: skip
    assert alone > 1.5
    assert np.all(sigmas > 0)


def test_voigt_fwhm_against_a_sampled_profile():
    x = np.linspace(30, -30, 60001)
    s = LineShape(0.0, 0.7, 0.4, 1.0)
    y = s.profile(x)
    above = x[y >= 0.5 * y.max()]
    assert s.fwhm_ppm == pytest.approx(float(above.max() - above.min()), rel=2e-3)
