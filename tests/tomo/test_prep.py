"""Preprocessing kernels: normalisation, -log, stripe removal; NumPy in/out and lazy Dask in/out."""

import dask.array as da
import numpy as np

from operando.tomo import minus_log, normalize, remove_stripes


def test_normalize_numpy_and_floor():
    proj = np.full((3, 2, 4), 60.0, np.float32)
    proj[0, 0, 0] = 5.0  # below the dark level
    flats = np.full((2, 2, 4), 110.0, np.float32)
    darks = np.full((2, 2, 4), 10.0, np.float32)
    t = normalize(proj, flats, darks)
    assert t.dtype == np.float32
    assert t[1, 1, 1] == np.float32(0.5)
    assert t[0, 0, 0] == np.float32(1e-6)
    np.testing.assert_allclose(minus_log(t)[1], np.log(2), rtol=1e-6)


def test_normalize_dask_lazy_and_int_promoted():
    proj = da.from_array(np.full((3, 2, 4), 60, np.uint16), chunks=(3, 1, 4))
    t = normalize(proj, np.full((2, 2, 4), 110, np.uint16), np.full((1, 2, 4), 10, np.uint16))
    assert isinstance(t, da.Array)
    assert t.dtype == np.float64
    np.testing.assert_allclose(t.compute(), 0.5)


def test_remove_stripes_reduces_a_stripe():
    rng = np.random.default_rng(1)
    angles = np.linspace(0, np.pi, 180, endpoint=False)
    cols = np.arange(100)
    sino = np.exp(-(((cols[None, :] - 50 - 20 * np.cos(angles)[:, None]) / 10) ** 2)) + 0.01 * rng.random((180, 100))
    striped = sino.copy()
    striped[:, 37] += 0.2
    clean = remove_stripes(striped)
    assert np.abs(clean - sino)[:, 37].mean() < 0.3 * np.abs(striped - sino)[:, 37].mean()
    stack = da.from_array(np.stack([striped, striped], axis=1).astype(np.float32), chunks=(180, 1, 100))
    lazy = remove_stripes(stack)
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute()[:, 1], clean, atol=1e-5)
