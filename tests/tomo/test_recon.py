"""Reconstruction against phantoms with a known centre, and against skimage's iradon on tooth.h5."""

import dask.array as da
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.data import shepp_logan_phantom
from skimage.transform import iradon, radon

from operando.tomo import find_center, minus_log, normalize, read_tomo, reconstruct, reconstruct_slice


def _circle(n, margin=2):
    yy, xx = np.mgrid[:n, :n] - n // 2
    return xx**2 + yy**2 < (n // 2 - margin) ** 2


def _nrms(a, b, mask):
    return np.linalg.norm((a - b)[mask]) / np.linalg.norm(b[mask])


def _discs_sinogram(n_cols, center, angles_deg, discs):
    """Exact line integrals of discs ``(row, col, radius, value)`` placed relative to the axis."""
    th = np.deg2rad(angles_deg)
    s = np.arange(n_cols) - center
    sino = np.zeros((th.size, n_cols))
    for r0, c0, rad, v in discs:
        s0 = c0 * np.cos(th) - r0 * np.sin(th)
        sino += v * 2 * np.sqrt(np.clip(rad**2 - (s[None, :] - s0[:, None]) ** 2, 0, None))
    return sino


def test_smooth_phantom_matches():
    img = gaussian_filter(shepp_logan_phantom()[::2, ::2], 1.0)  # 200 x 200
    angles = np.arange(0, 180, 180 / 300)
    sino = radon(img, theta=angles, circle=True).T  # axis at column n // 2
    rec = reconstruct_slice(sino, angles, center=100, window="ramp")
    assert _nrms(rec, img, _circle(200)) < 0.03
    rec32 = reconstruct_slice(sino.astype(np.float32), angles, center=100)
    assert rec32.dtype == np.float32
    assert _nrms(rec32, img, _circle(200)) < 0.04


@pytest.mark.parametrize("center", [100.0, 103.25, 96.5])
def test_centre_convention_off_centre_disc(center):
    angles = np.arange(0, 180, 0.5)
    row0, col0 = -23.0, 31.0
    sino = _discs_sinogram(200, center, angles, [(row0, col0, 9.0, 1.0)])
    rec = reconstruct_slice(sino, angles, center=center, size=200)
    yy, xx = np.mgrid[:200, :200]
    w = np.where((yy - 100 - row0) ** 2 + (xx - 100 - col0) ** 2 < 14**2, rec, 0.0)
    cy, cx = (w * yy).sum() / w.sum(), (w * xx).sum() / w.sum()
    assert abs(cy - (100 + row0)) < 0.25
    assert abs(cx - (100 + col0)) < 0.25
    # the disc's value (attenuation per pixel) is recovered inside it
    inner = (yy - 100 - row0) ** 2 + (xx - 100 - col0) ** 2 < 5**2
    assert rec[inner].mean() == pytest.approx(1.0, abs=0.05)


def test_find_center_known_axis():
    angles = np.arange(0, 180, 0.5)
    sino = _discs_sinogram(256, 130.25, angles, [(10, -30, 20, 1.0), (-40, 20, 12, 2.0), (30, 40, 8, 1.5)])
    assert find_center(sino) == pytest.approx(130.25, abs=0.25)


def test_stack_numpy_and_dask_agree():
    angles = np.arange(0, 180, 2.0)
    sino = _discs_sinogram(64, 32.0, angles, [(5, -8, 6, 1.0)])
    stack = np.stack([sino, 2 * sino], axis=1)
    out = reconstruct(stack, angles, center=32.0)
    lazy = reconstruct(da.from_array(stack, chunks=(45, 1, 64)), angles, center=32.0)
    assert isinstance(lazy, da.Array)
    assert lazy.shape == out.shape == (2, 64, 64)
    # one-row dask chunks take the half-plane path, the numpy stack the paired whole-plane path
    np.testing.assert_allclose(lazy.compute(), out, atol=1e-8)
    np.testing.assert_allclose(out[1], 2 * out[0], atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_paired_slices_equal_single_slices(dtype):
    """Two slices packed as real + imaginary of one transform (and an odd third) match one by one."""
    angles = np.arange(0, 180, 1.5)
    sinos = [
        _discs_sinogram(96, 47.5, angles, [(5, -8, 6, 1.0), (-20, 10, 9, 0.5)]),
        _discs_sinogram(96, 47.5, angles, [(-15, 25, 7, 2.0)]),
        _discs_sinogram(96, 47.5, angles, [(0, 0, 30, 0.3)]),
    ]
    stack = np.stack(sinos, axis=1).astype(dtype)
    # the pairing is checked at a tolerance 10 x finufft's (float32's default 1e-4 is checked against astra)
    eps = None if dtype == np.float64 else 1e-5
    out = reconstruct(stack, angles, center=47.5, size=90, eps=eps)
    assert out.dtype == dtype and out.shape == (3, 90, 90)
    tol = 1e-7 if dtype == np.float64 else 1e-4
    for r, sino in enumerate(stack.transpose(1, 0, 2)):
        single = reconstruct_slice(sino, angles, center=47.5, size=90, eps=eps)
        np.testing.assert_allclose(out[r], single, atol=tol * np.abs(single).max())


@pytest.mark.realdata
@pytest.mark.slow
def test_tooth_centre_and_iradon(real_file):
    scan = read_tomo(real_file("tomo/tomopy/tooth.h5"))
    sino = np.asarray(minus_log(normalize(scan.projections, scan.flats, scan.darks))[:, 0].compute())
    center = find_center(sino)
    assert center == pytest.approx(295.0, abs=1.0)
    n = sino.shape[1]
    rec = reconstruct_slice(sino, scan.angles_deg, center=center, window="ramp")
    # iradon rotates about column n // 2: shift the sinogram so the axis sits there
    from scipy.ndimage import shift

    shifted = shift(sino.astype(np.float64), (0, n // 2 - center), order=1, mode="nearest")
    mask = _circle(n, margin=4)
    ref = iradon(shifted.T, theta=scan.angles_deg, filter_name="ramp", circle=True, interpolation="cubic")
    # 181 angles over 640 px is ~3.5x undersampled and noisy: iradon's interpolated back-projection
    # low-passes the streaks and noise that the (exact) gridding keeps, so the raw difference is ~7 %
    assert _nrms(rec, ref, mask) < 0.10
    # at the scale of the structures (1 px Gaussian on both) the two agree to a few per cent
    ref_lin = iradon(shifted.T, theta=scan.angles_deg, filter_name="ramp", circle=True)
    assert _nrms(gaussian_filter(rec, 1.0), gaussian_filter(ref_lin, 1.0), mask) < 0.05


@pytest.mark.parametrize("n_pad", [400, 406, 1382])
def test_ramp_filter_any_even_length(n_pad):
    """The band-limited ramp is ~|f| for every even length, not only multiples of 4."""
    from operando.tomo import ramp_filter

    f = np.fft.rfftfreq(n_pad)
    filt = ramp_filter(n_pad, window="ramp")
    assert filt[0] > 0
    np.testing.assert_allclose(filt[5:], f[5:], rtol=0.02)


@pytest.mark.parametrize("n_cols", [200, 201, 202])
def test_disc_value_any_width(n_cols):
    """Widths whose padded length is 2 mod 4 (201, 202 -> 406) once gave a wrong filter."""
    angles = np.arange(0, 180, 0.5)
    sino = _discs_sinogram(n_cols, 100.0, angles, [(-23.0, 31.0, 9.0, 1.0)])
    rec = reconstruct_slice(sino, angles, center=100.0)
    yy, xx = np.mgrid[:n_cols, :n_cols] - n_cols // 2
    assert rec[(yy + 23) ** 2 + (xx - 31) ** 2 < 25].mean() == pytest.approx(1.0, abs=0.05)
    assert np.abs(rec[(yy + 23) ** 2 + (xx - 31) ** 2 > 20**2]).mean() < 0.02
