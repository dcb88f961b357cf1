"""The coarse-to-fine centre search against the truth and against algotom's ``find_center_vo``.

Sinograms of discs (exact chords) about a known sub-pixel axis, with Poisson noise at detector
counts: a 1280-column detector exercises the column-binned coarse stage and the angle binning
(the paper's 2448 columns x 1500 angles took algotom 55-107 s on this loaded machine, ours
1.9-3.7 s, the same centre: ``benchmarks/tomo_pipeline.py`` phantom, rows in Li and electrolyte).
"""

import warnings

import numpy as np
import pytest

from operando.tomo import find_center


def _disc_sinogram(n_cols, n_angles, centre, seed, flat=2e4):
    """-log of noisy counts of a cylinder of discs (attenuation in 1/px) about column ``centre``."""
    rng = np.random.default_rng(seed)
    th = np.deg2rad(np.arange(n_angles) * 180.0 / n_angles)[:, None]
    s = np.arange(n_cols)[None, :] - centre
    big = 0.4 * n_cols
    discs = [(0.0, 0.0, big, 2.0 / n_cols)]  # a cell filling most of the field, ~1.6 in -log at the middle
    for _ in range(12):
        r = rng.uniform(0.01, 0.06) * n_cols
        rho, phi = rng.uniform(0, big - r), rng.uniform(0, 2 * np.pi)
        discs.append((rho * np.cos(phi), rho * np.sin(phi), r, rng.choice([-1.0, 1.0]) * 1.5 / n_cols))
    line = np.zeros((n_angles, n_cols))
    for x, y, r, mu in discs:
        d = s - (x * np.cos(th) - y * np.sin(th))
        line += mu * 2.0 * np.sqrt(np.clip(r * r - d * d, 0.0, None))
    counts = rng.poisson(flat * np.exp(-line))
    return -np.log(np.maximum(counts, 1) / flat).astype(np.float32)


@pytest.mark.parametrize(("n_cols", "n_angles", "offset"), [(160, 180, 0.25), (160, 180, -3.5), (1280, 900, 6.75)])
def test_centre_found_within_a_quarter_pixel(n_cols, n_angles, offset):
    centre = (n_cols - 1) / 2.0 + offset
    sino = _disc_sinogram(n_cols, n_angles, centre, seed=n_cols + n_angles)
    assert find_center(sino) == pytest.approx(centre, abs=0.25)


@pytest.mark.parametrize("offset", [0.25, -2.0, 4.5])
def test_same_centre_as_algotom(offset):
    from algotom.prep.calculation import find_center_vo

    sino = _disc_sinogram(200, 240, 99.5 + offset, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ref = find_center_vo(sino, ncore=1)
    assert find_center(sino) == pytest.approx(ref, abs=0.25)


@pytest.mark.slow
def test_same_centre_as_algotom_binned_columns():
    from algotom.prep.calculation import find_center_vo

    sino = _disc_sinogram(1280, 900, 639.5 - 5.25, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ref = find_center_vo(sino, ncore=1)
    assert find_center(sino) == pytest.approx(ref, abs=0.25)
