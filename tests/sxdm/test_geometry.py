"""Pixel -> Q against xrayutilities (the independent implementation XSOCS uses)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operando.errors import ParameterError
from operando.sxdm import DetectorGeometry, Offsets, d_spacing, pixel_q

xu = pytest.importorskip("xrayutilities")


def _xu_q(det: DetectorGeometry, wavelength_A: float, angles, offsets=(0.0, 0.0, 0.0, 0.0)):
    qconv = xu.QConversion(["y-", "z-"], ["z-", "y-"], [1, 0, 0])
    hxrd = xu.HXRD([1, 0, 0], [0, 0, 1], en=xu.lam2en(wavelength_A), qconv=qconv)
    hxrd.wavelength = wavelength_A
    hxrd.Ang2Q.init_area(
        "z-",
        "y+",
        cch1=det.beam_center_y_px,
        cch2=det.beam_center_x_px,
        Nch1=det.shape[0],
        Nch2=det.shape[1],
        pwidth1=det.pixel_size_y_m,
        pwidth2=det.pixel_size_x_m,
        distance=det.distance_m,
        detrot=det.rotation_deg,
        tilt=det.tilt_deg,
        tiltazimuth=det.tilt_azimuth_deg,
    )
    return np.stack(hxrd.Ang2Q.area(*angles, delta=list(offsets)), axis=-1)


def _rel_dev(mine, ref):
    return float(np.abs(mine - ref).max() / np.linalg.norm(ref, axis=-1).max())


finite = {"allow_nan": False, "allow_infinity": False}


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 24), st.integers(1, 24)),
    centre=st.tuples(st.floats(-50, 80, **finite), st.floats(-50, 80, **finite)),
    pixel_um=st.tuples(st.floats(10, 200, **finite), st.floats(10, 200, **finite)),
    distance_m=st.floats(0.2, 3.0, **finite),
    wavelength_A=st.floats(0.5, 2.0, **finite),
    # delta >= 5 deg keeps the detector off the direct beam, so that |Q| > 0 and a relative
    # deviation means something
    angles=st.tuples(
        st.floats(-40, 80, **finite),
        st.floats(-180, 180, **finite),
        st.floats(-40, 40, **finite),
        st.floats(5, 120, **finite),
    ),
    offsets=st.tuples(*(st.floats(-1, 1, **finite) for _ in range(4))),
    rot_tilt_az=st.tuples(st.floats(-5, 5, **finite), st.floats(-5, 5, **finite), st.floats(0, 360, **finite)),
)
def test_pixel_q_matches_xrayutilities(shape, centre, pixel_um, distance_m, wavelength_A, angles, offsets, rot_tilt_az):
    rot, tilt, az = rot_tilt_az
    det = DetectorGeometry(
        shape, centre[0], centre[1], pixel_um[0] * 1e-6, pixel_um[1] * 1e-6, distance_m, rot, tilt, az
    )
    ref = _xu_q(det, wavelength_A, angles, offsets)
    mine = pixel_q(*angles, detector=det, wavelength_A=wavelength_A, offsets=Offsets(*offsets))
    assert mine.shape == (*shape, 3)
    assert mine.dtype == np.float64
    assert _rel_dev(mine, ref) < 1e-6


def test_pixel_q_broadcasts_over_rocking_angles():
    det = DetectorGeometry((16, 12), 6.3, 4.1, 55e-6, 55e-6, 1.5)
    eta = np.linspace(18.0, 18.5, 5)
    q = pixel_q(eta, 1.0, 2.0, 37.0, detector=det, wavelength_A=1.3)
    assert q.shape == (5, 16, 12, 3)
    for i, e in enumerate(eta):
        np.testing.assert_allclose(q[i], _xu_q(det, 1.3, (e, 1.0, 2.0, 37.0)), rtol=0, atol=1e-9)


def test_direct_beam_pixel_has_zero_q_and_bragg_d_spacing():
    det = DetectorGeometry((5, 5), 2.0, 2.0, 55e-6, 55e-6, 1.0)
    q = pixel_q(0.0, 0.0, 0.0, 0.0, detector=det, wavelength_A=1.0)
    assert np.linalg.norm(q[2, 2]) < 1e-12
    # symmetric Bragg: delta = 2 theta, eta = theta -> Q along +z with d = lambda / (2 sin theta)
    theta = 20.0
    q = pixel_q(theta, 0.0, 0.0, 2 * theta, detector=det, wavelength_A=1.0)[2, 2]
    np.testing.assert_allclose(q[:2], 0.0, atol=1e-12)
    np.testing.assert_allclose(d_spacing(q), 1.0 / (2 * np.sin(np.radians(theta))), rtol=1e-14)


def test_bad_detector_parameters():
    with pytest.raises(ParameterError, match="distance_m"):
        DetectorGeometry((4, 4), 1.0, 1.0, 55e-6, 55e-6, 0.0)
    det = DetectorGeometry((4, 4), 1.0, 1.0, 55e-6, 55e-6, 1.0)
    with pytest.raises(ParameterError, match="wavelength"):
        pixel_q(0.0, 0.0, 0.0, 0.0, detector=det, wavelength_A=-1.0)
