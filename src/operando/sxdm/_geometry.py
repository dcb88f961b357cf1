"""Diffractometer geometry of ID01 as XSOCS uses it: detector pixel and angles -> Q.

Conventions (those of XSOCS, written here from the geometry, not from its code)
--------------------------------------------------------------------------------
* Laboratory frame: the primary beam travels along +x, z points up, y completes a
  right-handed frame.
* Sample circles, outer to inner: ``eta`` about ``y`` in the negative sense, ``phi``
  about ``z`` in the negative sense.  Q in the sample frame is the laboratory Q rotated
  back through both circles: ``Q_sample = R_phi^T R_eta^T Q_lab``.
* Detector circles, outer to inner: ``nu`` about ``z`` (negative sense), ``delta``
  about ``y`` (negative sense); at ``nu = delta = 0`` the direct beam hits pixel
  ``(beam_center_y, beam_center_x)``.
* Detector pixel directions: the row index (``det_y``, dim 0) runs along ``-z`` and the
  column index (``det_x``, dim 1) along ``+y`` when the detector angles are zero.
* A positive rotation angle about a unit axis ``a`` is right-handed; "negative sense"
  means the matrix for ``-angle``.
* Angular offsets are subtracted: the angle used is ``reading - offset``.

Everything is float64; Q is in inverse ångström, ``|Q| = 4 pi sin(theta) / lambda``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from operando.errors import ParameterError

__all__ = [
    "DetectorGeometry",
    "Offsets",
    "d_spacing",
    "pixel_q",
    "rotation_matrix",
]

_AXES = {"x": 0, "y": 1, "z": 2}
# Sample circles (outer first) and detector circles (outer first), with their axes.
SAMPLE_CIRCLES = (("eta", "y", -1.0), ("phi", "z", -1.0))
DETECTOR_CIRCLES = (("nu", "z", -1.0), ("delta", "y", -1.0))
# Lab directions of increasing pixel index at zero detector angles: rows (-z), columns (+y).
_DIR_ROWS = np.array([0.0, 0.0, -1.0])
_DIR_COLS = np.array([0.0, 1.0, 0.0])
_BEAM = np.array([1.0, 0.0, 0.0])


@dataclass(frozen=True)
class DetectorGeometry:
    """Area detector calibration (the fields of ``instrument/<detector>`` in a Bliss file).

    Parameters
    ----------
    shape : (int, int)
        Pixels along rows (``det_y``, dim 0) and columns (``det_x``, dim 1).
    beam_center_y_px, beam_center_x_px : float
        Pixel (row, column) hit by the direct beam at ``delta = nu = 0``.
    pixel_size_y_m, pixel_size_x_m : float
        Pixel pitch along rows and columns, in metres.
    distance_m : float
        Sample to direct-beam-pixel distance, in metres.
    rotation_deg : float, default 0
        Rotation of the detector about the primary beam (right-handed about +x).
    tilt_deg : float, default 0
        Tilt of the detector plane, about the in-plane axis normal to ``tilt_azimuth_deg``.
    tilt_azimuth_deg : float, default 0
        Direction of the tilt in the detector plane, from the row direction towards the
        column direction, in degrees.
    """

    shape: tuple[int, int]
    beam_center_y_px: float
    beam_center_x_px: float
    pixel_size_y_m: float
    pixel_size_x_m: float
    distance_m: float
    rotation_deg: float = 0.0
    tilt_deg: float = 0.0
    tilt_azimuth_deg: float = 0.0

    def __post_init__(self) -> None:
        ny, nx = self.shape
        if ny < 1 or nx < 1:
            raise ParameterError(f"detector shape must be positive, got {self.shape}")
        for name in ("pixel_size_y_m", "pixel_size_x_m", "distance_m"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ParameterError(f"{name} must be a positive finite number, got {value}")

    def binned(self, factor: int) -> DetectorGeometry:
        """The same detector read with ``factor x factor`` pixel binning (pixel centres kept exact)."""
        ny, nx = self.shape
        return replace(
            self,
            shape=(ny // factor, nx // factor),
            beam_center_y_px=(self.beam_center_y_px + 0.5) / factor - 0.5,
            beam_center_x_px=(self.beam_center_x_px + 0.5) / factor - 0.5,
            pixel_size_y_m=self.pixel_size_y_m * factor,
            pixel_size_x_m=self.pixel_size_x_m * factor,
        )


@dataclass(frozen=True)
class Offsets:
    """Angular offsets in degrees, subtracted from the motor readings."""

    eta: float = 0.0
    phi: float = 0.0
    nu: float = 0.0
    delta: float = 0.0


def rotation_matrix(axis: str, angle_deg: ArrayLike) -> NDArray[np.float64]:
    """Right-handed rotation matrices about a laboratory axis.

    Parameters
    ----------
    axis : {"x", "y", "z"}
        Rotation axis.
    angle_deg : (...) array_like
        Angles in degrees.

    Returns
    -------
    (..., 3, 3) ndarray of float64

    Examples
    --------
    >>> rotation_matrix("z", 90.0) @ [1.0, 0.0, 0.0]
    array([6.123234e-17, 1.000000e+00, 0.000000e+00])
    """
    a = np.radians(np.asarray(angle_deg, dtype=np.float64))
    c, s = np.cos(a), np.sin(a)
    i = _AXES[axis]
    j, k = (i + 1) % 3, (i + 2) % 3
    out = np.zeros((*a.shape, 3, 3))
    out[..., i, i] = 1.0
    out[..., j, j] = c
    out[..., k, k] = c
    out[..., k, j] = s
    out[..., j, k] = -s
    return out


def _detector_vectors(det: DetectorGeometry) -> NDArray[np.float64]:
    """Lab position (m) of every pixel centre at zero detector angles, shape (det_y, det_x, 3)."""
    ny, nx = det.shape
    rows = (np.arange(ny) - det.beam_center_y_px) * det.pixel_size_y_m
    cols = (np.arange(nx) - det.beam_center_x_px) * det.pixel_size_x_m
    d1, d2 = _DIR_ROWS, _DIR_COLS
    if det.tilt_deg:
        # Tilt the detector plane: rotate both pixel directions about the in-plane axis
        # normal to the tilt direction t = cos(az) d1 + sin(az) d2; the axis is
        # t x beam, the sense in which xrayutilities counts a positive tilt).
        az = np.radians(det.tilt_azimuth_deg)
        t = np.cos(az) * d1 + np.sin(az) * d2
        axis = np.cross(t, _BEAM)
        rot = _axis_rotation(axis, det.tilt_deg)
        d1, d2 = rot @ d1, rot @ d2
    pos = det.distance_m * _BEAM + rows[:, None, None] * d1[None, None, :] + cols[None, :, None] * d2[None, None, :]
    if det.rotation_deg:
        pos = pos @ rotation_matrix("x", det.rotation_deg).T
    return pos


def _axis_rotation(axis: NDArray[np.float64], angle_deg: float) -> NDArray[np.float64]:
    """Right-handed rotation matrix about an arbitrary unit axis (Rodrigues)."""
    u = axis / np.linalg.norm(axis)
    a = np.radians(angle_deg)
    k = np.array([[0.0, -u[2], u[1]], [u[2], 0.0, -u[0]], [-u[1], u[0], 0.0]])
    return np.eye(3) + np.sin(a) * k + (1.0 - np.cos(a)) * (k @ k)


def pixel_q(
    eta_deg: ArrayLike,
    phi_deg: ArrayLike,
    nu_deg: ArrayLike,
    delta_deg: ArrayLike,
    *,
    detector: DetectorGeometry,
    wavelength_A: float,
    offsets: Offsets | None = None,
) -> NDArray[np.float64]:
    """Scattering vector of every detector pixel in the sample frame.

    Parameters
    ----------
    eta_deg, phi_deg, nu_deg, delta_deg : (...) array_like
        Diffractometer angles in degrees; they broadcast against each other (e.g. one
        value per rocking angle for ``eta`` and scalars for the rest).
    detector : DetectorGeometry
        Detector calibration.
    wavelength_A : float
        X-ray wavelength in ångström.
    offsets : Offsets, optional
        Angular offsets subtracted from the readings.

    Returns
    -------
    q : (..., det_y, det_x, 3) ndarray of float64
        ``(qx, qy, qz)`` of each pixel centre, in 1/Å, in the sample frame.

    Examples
    --------
    >>> det = DetectorGeometry((2, 2), 0.5, 0.5, 55e-6, 55e-6, 1.0)
    >>> q = pixel_q(0.0, 0.0, 0.0, 0.0, detector=det, wavelength_A=1.0)
    >>> q.shape, bool(abs(q).max() < 1e-3)
    ((2, 2, 3), True)
    """
    if not np.isfinite(wavelength_A) or wavelength_A <= 0:
        raise ParameterError(f"wavelength_A must be positive, got {wavelength_A}")
    off = offsets or Offsets()
    eta, phi, nu, delta = np.broadcast_arrays(
        np.asarray(eta_deg, dtype=np.float64) - off.eta,
        np.asarray(phi_deg, dtype=np.float64) - off.phi,
        np.asarray(nu_deg, dtype=np.float64) - off.nu,
        np.asarray(delta_deg, dtype=np.float64) - off.delta,
    )
    k = 2.0 * np.pi / wavelength_A
    pos = _detector_vectors(detector)
    kf0 = pos / np.linalg.norm(pos, axis=-1, keepdims=True)  # (det_y, det_x, 3)
    # Detector rotation (outer nu, inner delta) and inverse sample rotation, per angle set.
    r_det = rotation_matrix("z", -nu) @ rotation_matrix("y", -delta)
    r_sample = rotation_matrix("y", -eta) @ rotation_matrix("z", -phi)
    r_inv = np.swapaxes(r_sample, -1, -2)
    # Q_sample = R_s^T (k R_d kf0 - k beam) = k (R_s^T R_d) kf0 - k R_s^T beam
    m = k * (r_inv @ r_det)  # (..., 3, 3)
    shift = k * (r_inv @ _BEAM)  # (..., 3)
    q = np.einsum("...ij,yxj->...yxi", m, kf0)
    q -= shift[..., None, None, :]
    return q


def d_spacing(q: ArrayLike) -> NDArray[np.float64]:
    """Lattice-plane spacing ``2 pi / |Q|`` in ångström.

    Parameters
    ----------
    q : (..., 3) array_like
        Scattering vectors in 1/Å.

    Returns
    -------
    (...) ndarray of float64

    Examples
    --------
    >>> float(d_spacing([0.0, 0.0, 2 * np.pi]))
    1.0
    """
    q = np.asarray(q, dtype=np.float64)
    return 2.0 * np.pi / np.linalg.norm(q, axis=-1)
