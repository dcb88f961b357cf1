"""6Li abundance recovered from synthetic 6Li/7Li MAS pairs written as Bruker folders."""

from __future__ import annotations

import numpy as np
import pytest

from operando.errors import ParameterError
from operando.nmr import (
    integral_uncertainty,
    integrate,
    li6_fraction,
    noise_std,
    process,
    read_bruker,
    sensitivity_factor,
    window_mask,
)
from operando.synthetic import LICL_PPM, li_isotope_pair, licl_reference_pair

METAL = (240.0, 290.0)  # around the Li-metal Knight shift, 264.5 ppm
NOISE = (-130.0, -50.0)  # clear of lines and spinning sidebands in both spectra
LICL = (LICL_PPM - 15.0, LICL_PPM + 15.0)


def _integral(folder, window=METAL):
    ds = process(read_bruker(folder), lb_Hz=0.0, first_point=0.5)
    spec, ppm = ds["intensity"].values / ds.attrs["size"], ds["ppm"].values
    value = float(integrate(spec, ppm, lo=window[0], hi=window[1]))
    n = int(window_mask(ppm, *window).sum())
    return value, float(integral_uncertainty(noise_std(spec, ppm, lo=NOISE[0], hi=NOISE[1]), n))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("x6", [0.0759, 0.30, 0.95])
def test_recovered_abundance_within_half_a_percent(tmp_path, x6, seed):
    li7, li6 = li_isotope_pair(tmp_path, x6_metal=x6, snr_7li=5000.0, seed=int(1000 * x6) + seed)
    (i6, s6), (i7, s7) = _integral(li6), _integral(li7)
    x, sx = li6_fraction(i6, i7, sigma_i6=s6, sigma_i7=s7)
    assert abs(float(x) - x6) < 0.005
    assert 0 < float(sx) < 0.005
    # beyond noise: the electrolyte line's Lorentzian tail reaches the metal window (<= 0.1 at.%)
    assert abs(float(x) - x6) < 4 * float(sx) + 1e-3


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("x6", [0.0759, 0.30, 0.95])
def test_abundance_with_factor_calibrated_on_natural_licl(tmp_path, x6, seed):
    """The whole procedure: factor from a natural-abundance LiCl pair, then the cell's metal line."""
    ref7, ref6 = licl_reference_pair(tmp_path / "licl", snr_7li=20000.0, seed=100 + seed)
    (r6, t6), (r7, t7) = _integral(ref6, LICL), _integral(ref7, LICL)
    factor, sigma_factor = sensitivity_factor(r6, r7, sigma_i6=t6, sigma_i7=t7)
    assert abs(factor - 28.45) < 4 * sigma_factor
    li7, li6 = li_isotope_pair(tmp_path / "cell", x6_metal=x6, snr_7li=5000.0, seed=seed)
    (i6, s6), (i7, s7) = _integral(li6), _integral(li7)
    x, sx = li6_fraction(i6, i7, factor=factor, sigma_i6=s6, sigma_i7=s7, sigma_factor=sigma_factor)
    assert abs(float(x) - x6) < 0.005
    assert abs(float(x) - x6) < 4 * float(sx) + 1e-3


def test_factor_from_natural_reference_pair(tmp_path):
    li7, li6 = li_isotope_pair(tmp_path, x6_metal=0.0759, snr_7li=20000.0, seed=7)
    (i6, s6), (i7, s7) = _integral(li6), _integral(li7)
    f, sf = sensitivity_factor(i6, i7, sigma_i6=s6, sigma_i7=s7)
    assert abs(f - 28.45) < 3 * sf + 0.1
    assert sf < 1.5


def test_noise_uncertainty_matches_scatter():
    rng = np.random.default_rng(0)
    ppm = np.linspace(10, -10, 2001)
    draws = rng.normal(0, 0.3, (400, ppm.size))
    ints = integrate(draws, ppm, lo=-1, hi=1)
    sigma = integral_uncertainty(0.3, int(window_mask(ppm, -1, 1).sum()))
    assert float(np.std(ints)) == pytest.approx(float(sigma), rel=0.1)


def test_bad_factor():
    with pytest.raises(ParameterError, match="positive"):
        li6_fraction(1.0, 1.0, factor=0)


def test_report_numbers(tmp_path):
    """Not an assertion of its own: prints the measured errors for the record (pytest -s)."""
    ref7, ref6 = licl_reference_pair(tmp_path / "licl", snr_7li=20000.0, seed=100)
    (r6, t6), (r7, t7) = _integral(ref6, LICL), _integral(ref7, LICL)
    f, sf = sensitivity_factor(r6, r7, sigma_i6=t6, sigma_i7=t7)
    print(f"LiCl factor {f:.3f} ± {sf:.3f} (truth 28.45)")
    for x6 in (0.0759, 0.30, 0.95):
        for seed in range(3):
            li7, li6 = li_isotope_pair(tmp_path / f"{x6}-{seed}", x6_metal=x6, snr_7li=5000.0, seed=seed)
            (i6, s6), (i7, s7) = _integral(li6), _integral(li7)
            for name, factor, sfac in (("given", 28.45, 0.0), ("LiCl", f, sf)):
                x, sx = li6_fraction(i6, i7, factor=factor, sigma_i6=s6, sigma_i7=s7, sigma_factor=sfac)
                err = 100 * (float(x) - x6)
                print(f"x6={x6} seed {seed} factor {name}: {float(x):.5f} ± {float(sx):.5f}, error {err:+.3f} at.%")
