"""Auto thresholds when multi-Otsu splits the broad air peak around a bare cell (the seed-11 contact error).

Bare interface (no interphase class): air around a cylinder (45 % of the slice, broad), lithium,
electrolyte, collectors. When the air peak is broad, five Otsu classes spend two on the air and the
void threshold falls inside the air peak while lithium becomes the "interphase" class. The air is
then merged into one class: the void threshold lies between air and lithium, and lithium is lithium.
"""

import numpy as np
import pytest

from operando.tomo import auto_thresholds

AIR, LI, EL, COLL, NOISE = 3.0, 15.5, 60.0, 120.0, 4.5


def _bare_cell(seed, air_sigma):
    rng = np.random.default_rng(seed)
    nz, n = 48, 96
    yy, xx = np.mgrid[:n, :n] - n / 2
    foot = xx**2 + yy**2 < (0.42 * n) ** 2
    z = np.arange(nz)
    prof = np.select([z < 3, z < 18, z < 30, z < 45], [COLL, LI, EL, LI], COLL)
    v = np.where(foot[None], prof[:, None, None], 0.0) + rng.normal(0, NOISE, (nz, n, n))
    out = np.broadcast_to(~foot, v.shape)
    v[out] = rng.normal(AIR, air_sigma, int(out.sum()))
    return v.astype(np.float32)


@pytest.mark.parametrize("seed", range(2))
def test_a_split_air_peak_is_merged(seed):
    t = auto_thresholds(_bare_cell(seed, air_sigma=9.0))
    assert AIR < t.void < 0.5 * (AIR + LI), t  # between air and lithium, leaning to the rare voids
    assert t.lithium > LI + 2 * NOISE, t  # lithium is not the interphase class
    assert LI < t.electrolyte < EL and EL < t.collector < COLL, t
    assert t.void_level == pytest.approx(AIR, abs=2.0)


@pytest.mark.parametrize("seed", range(2))
def test_a_narrow_air_peak_is_left_alone(seed):
    # the air as narrow as the noise: its classes are not merged, the thresholds are the plain intermeans ones
    from skimage.filters import threshold_multiotsu

    v = _bare_cell(seed, air_sigma=NOISE)
    vals = v.astype(np.float64).ravel()  # (under 2e6 voxels: auto_thresholds samples every one)
    cls = np.digitize(vals, threshold_multiotsu(vals, classes=5, nbins=128))
    med = np.array([np.median(vals[cls == k]) for k in range(5)])
    t = auto_thresholds(v)
    np.testing.assert_allclose([t.void, t.lithium, t.electrolyte, t.collector], 0.5 * (med[:-1] + med[1:]))
