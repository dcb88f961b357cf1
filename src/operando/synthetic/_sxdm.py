"""Synthetic SXDM K-map of one faceted spinel crystal, written as ID01 Bliss files.

The forward model
-----------------
* A convex faceted crystal (a polygon on the scan map) with a smooth random d-spacing
  field and a few mosaic domains, each tilted by a small angle.
* Per scan point a 3D Gaussian Bragg peak in q-space centred at the true Q (sample
  frame), sampled through :func:`operando.sxdm.pixel_q` at every detector pixel and
  rocking angle; Poisson counts on a flat background, a few hot pixels and dead
  (masked) pixels.
* :func:`write_bliss_kmap` writes the ID01 layout: a Bliss master file with one scan
  ``N.1`` per rocking angle whose ``measurement/<detector>`` (``mpx1x4``, ``mpxgaas``,
  ``eiger2M``: :data:`DETECTORS`) is a virtual dataset onto the Lima file
  ``scanNNNN/<detector>_0000.h5``; the piezo readbacks carry the encoder jitter
  (``readback_noise_um``) around the nominal grid of the scan command.
* Between maps of a series the crystal moves: ``offset_points`` shifts the crystal
  under the scan grid (grid point ``p`` probes the crystal at ``p + offset``).

The ground truth is the Q vector of every point (so d-spacing and tilt are exact), not
the centre of mass of the sampled counts.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

from operando.errors import ParameterError
from operando.sxdm import DetectorGeometry, pixel_q

__all__ = ["DETECTORS", "KMapTruth", "SyntheticKMap", "simulate_kmap", "write_bliss_kmap", "write_spec_kmap"]

_HC_EV_A = 12398.419843320026  # h c in eV Å

#: ID01's area detectors: (rows, columns) and pixel pitch (m) of the frames Lima writes
#: (Maxipix 2x2 with its chip gaps filled: 516 px; Eiger2 2M as ID01 records it, 75 µm)
DETECTORS: dict[str, tuple[tuple[int, int], float]] = {
    "mpx1x4": ((516, 516), 55e-6),
    "mpxgaas": ((516, 516), 55e-6),
    "eiger2M": ((2164, 1030), 75e-6),
}


@dataclass(frozen=True)
class KMapTruth:
    """Ground truth of a synthetic K-map; maps have shape (y, x).

    Attributes
    ----------
    q : (y, x, 3) ndarray
        True scattering vector of the reflection at each point, sample frame, 1/Å.
    d_spacing_A : (y, x) ndarray
        ``2 pi / |q|`` in Å.
    tilt_altitude_deg, tilt_azimuth_deg : (y, x) ndarray
        Tilt of ``q`` from the nominal direction (sample +z) and its azimuth, measured
        from +x towards +y, in degrees.
    mask : (y, x) ndarray of bool
        True inside the crystal.
    counts : (y, x) ndarray
        Expected integrated Bragg counts per point (zero outside the crystal).
    domains : (y, x) ndarray of int
        Mosaic domain index (-1 outside the crystal).
    phase : (y, x) ndarray of int
        0 = first phase, 1 = second phase (behind the two-phase front), -1 outside.
    """

    q: NDArray[np.float64]
    d_spacing_A: NDArray[np.float64]
    tilt_altitude_deg: NDArray[np.float64]
    tilt_azimuth_deg: NDArray[np.float64]
    mask: NDArray[np.bool_]
    counts: NDArray[np.float64]
    domains: NDArray[np.int64]
    phase: NDArray[np.int64] | None = None


@dataclass(frozen=True)
class SyntheticKMap:
    """A synthetic K-map: acquisition parameters, ground truth and a frame generator.

    Frames are generated on demand with :meth:`frames` (deterministic per point), so a
    map larger than memory can be streamed. ``drift`` (angle, 2), when set, is the beam
    position error (y, x) in scan points at each rocking angle: at angle ``a`` the point
    ``(y, x)`` of the grid probes the crystal at ``(y, x) + drift[a]``.
    """

    eta_deg: NDArray[np.float64]
    phi_deg: float
    nu_deg: float
    delta_deg: float
    detector: DetectorGeometry
    wavelength_A: float
    pix_um: NDArray[np.float64]
    piy_um: NDArray[np.float64]
    truth: KMapTruth
    peak_sigma_q: float
    background: float
    pixel_mask: NDArray[np.uint8]
    hot_pixels: NDArray[np.bool_]
    hot_pixel_rate: float
    seed: int
    exposure_s: float = 0.01
    drift: NDArray[np.float64] | None = None
    detector_name: str = "mpx1x4"
    flux: float = 1.0
    _q: NDArray[np.float64] = field(repr=False, default_factory=lambda: np.zeros((0, 0, 0, 3)))

    @property
    def map_shape(self) -> tuple[int, int]:
        """(y, x) scan points: y follows ``piy`` (slow), x follows ``pix`` (fast)."""
        ny, nx = self.truth.mask.shape
        return ny, nx

    @property
    def energy_eV(self) -> float:
        """Photon energy in eV."""
        return _HC_EV_A / self.wavelength_A

    def pixel_q(self) -> NDArray[np.float64]:
        """Q of every pixel at every rocking angle, shape (angle, det_y, det_x, 3), 1/Å."""
        return self._q

    def _expected(self, points: NDArray[np.intp]) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """Expected Bragg counts of grid points on the voxels that can receive any.

        Returns
        -------
        near : (V,) ndarray of int
            Flat (angle, det_y, det_x) indices of the voxels within reach of the peaks.
        peak : (V, len(points)) ndarray
            Expected counts of each point on those voxels.
        """
        q = self._q
        qtrue = self.truth.q.reshape(-1, 3)[points]
        counts = self.truth.counts.reshape(-1)[points]
        # Only voxels within 8 sigma of some true Q can receive Bragg counts.
        qflat = q.reshape(-1, 3)
        centre = self.truth.q[self.truth.mask].mean(0) if self.truth.mask.any() else qflat.mean(0)
        reach = 8.0 * self.peak_sigma_q + float(
            np.linalg.norm(self.truth.q[self.truth.mask] - centre, axis=-1).max(initial=0)
        )
        near = np.flatnonzero(np.linalg.norm(qflat - centre, axis=-1) < reach)
        qn = qflat[near]
        # |q - Q|^2 = |q - c|^2 - 2 (q - c).(Q - c) + |Q - c|^2, relative to the centre c for accuracy
        qc, Qc = qn - centre, qtrue - centre
        dist2 = (qc**2).sum(1)[:, None] - 2.0 * qc @ Qc.T + (Qc**2).sum(1)[None, :]
        g = np.exp(-0.5 * np.maximum(dist2, 0.0) / self.peak_sigma_q**2)  # (near voxels, points)
        # float64 throughout: the normalisation needs the tails
        norm = g.sum(0)
        scale = np.divide(counts, norm, out=np.zeros_like(counts), where=norm > 0)
        return near, g * scale

    def _drifted(self, start: int, stop: int) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """Expected Bragg counts with the per-angle drift: at angle ``a`` the beam probes
        ``(y, x) + drift[a]``, the expected frames of the four surrounding grid points
        interpolated bilinearly (positions clipped to the map)."""
        ny, nx = self.map_shape
        n_a, dy, dx, _ = self._q.shape
        drift = np.zeros((n_a, 2)) if self.drift is None else self.drift
        pts = np.arange(start, stop)
        py, px = np.divmod(pts, nx)
        sy = np.clip(py[None, :] + drift[:, 0:1], 0, ny - 1)  # (angle, points)
        sx = np.clip(px[None, :] + drift[:, 1:2], 0, nx - 1)
        y0, x0 = np.minimum(np.floor(sy).astype(np.intp), ny - 2), np.minimum(np.floor(sx).astype(np.intp), nx - 2)
        fy, fx = sy - y0, sx - x0
        corners = [(0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)]
        idx = np.stack([(y0 + a) * nx + (x0 + b) for a, b, _ in corners], -1)  # (angle, points, 4)
        w = np.stack([c[2] for c in corners], -1)
        needed, inverse = np.unique(idx, return_inverse=True)
        inverse = inverse.reshape(idx.shape)
        near, peak_needed = self._expected(needed)
        angle_of = near // (dy * dx)
        peak = np.zeros((near.size, pts.size))
        for a in range(n_a):
            sel = np.flatnonzero(angle_of == a)
            if sel.size:
                sub = peak_needed[sel]  # (voxels of angle a, needed)
                peak[sel] = np.einsum("vpk,pk->vp", sub[:, inverse[a]], w[a])
        return near, peak

    def frames(self, start: int, stop: int) -> NDArray[np.int32]:
        """Counts of scan points ``start:stop`` (flattened row-major over (y, x)).

        Returns
        -------
        (angle, point, det_y, det_x) ndarray of int32
        """
        ny, nx = self.map_shape
        if not 0 <= start <= stop <= ny * nx:
            raise ParameterError(f"points {start}:{stop} outside 0:{ny * nx}")
        n_a, dy, dx, _ = self._q.shape
        if self.drift is None or not np.any(self.drift):
            near, peak = self._expected(np.arange(start, stop))
        else:
            near, peak = self._drifted(start, stop)
        hot = np.flatnonzero(np.broadcast_to(self.hot_pixels, (n_a, dy, dx)).reshape(-1))
        n_vox = n_a * dy * dx
        # Flat background by inverse transform of uniforms (a sum of independent Poisson
        # variables is Poisson with the summed rate, so the parts are drawn separately).
        cdf = _poisson_cdf(self.background)
        out = np.empty((stop - start, n_vox), dtype=np.int32)
        for i, p in enumerate(range(start, stop)):
            rng = np.random.default_rng([self.seed, 1, p])
            row = out[i]
            row[:] = np.searchsorted(cdf, rng.random(n_vox, dtype=np.float32), side="right")
            lit = peak[:, i] > 1e-7  # beyond ~6 sigma the expected counts are negligible
            row[near[lit]] += rng.poisson(peak[lit, i]).astype(np.int32)
            row[hot] += rng.poisson(self.hot_pixel_rate, hot.size).astype(np.int32)
        out = out.reshape(stop - start, n_a, dy, dx).transpose(1, 0, 2, 3).copy()
        out[:, :, self.pixel_mask.astype(bool)] = 0
        return out


def _poisson_cdf(rate: float) -> NDArray[np.float32]:
    """Cumulative Poisson probabilities up to where the tail is below float32 resolution."""
    from scipy import stats

    k = np.arange(int(rate + 12 * np.sqrt(rate) + 12))
    return stats.poisson.cdf(k, rate).astype(np.float32)[:-1]


def _convex_polygon_mask(
    shape: tuple[int, int], rng: np.random.Generator, n_vertices: int, size: float = 0.42
) -> NDArray[np.bool_]:
    ny, nx = shape
    cy, cx = (ny - 1) / 2, (nx - 1) / 2
    radius = size * min(ny, nx)
    angles = np.sort(
        rng.uniform(0, 2 * np.pi, n_vertices) * 0.15 + np.linspace(0, 2 * np.pi, n_vertices, endpoint=False)
    )
    r = radius * rng.uniform(0.85, 1.0, n_vertices)
    vy, vx = cy + r * np.sin(angles), cx + r * np.cos(angles)
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    inside = np.ones(shape, dtype=bool)
    for i in range(n_vertices):
        j = (i + 1) % n_vertices
        # counter-clockwise polygon: the inside is on the left of each edge
        cross = (vx[j] - vx[i]) * (yy - vy[i]) - (vy[j] - vy[i]) * (xx - vx[i])
        inside &= cross >= 0
    return inside


def _front(mask: NDArray[np.bool_], fraction: float, angle_deg: float) -> NDArray[np.int64]:
    """Phase map: the ``fraction`` of crystal points lying furthest back along the front's
    direction of travel are phase 1, the rest phase 0, -1 outside."""
    ny, nx = mask.shape
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    a = np.radians(angle_deg)
    u = xx * np.cos(a) + yy * np.sin(a)
    phase = np.where(mask, 0, -1)
    n = round(float(fraction * mask.sum()))
    if n:
        order = np.argsort(np.where(mask, u, np.inf), axis=None, kind="stable")[:n]
        phase.reshape(-1)[order] = 1
    return phase.astype(np.int64)


def simulate_kmap(
    *,
    map_shape: tuple[int, int] = (24, 24),
    n_angles: int = 30,
    detector_shape: tuple[int, int] | None = None,
    seed: int = 0,
    energy_keV: float = 9.0,
    lattice_A: float = 8.17,
    hkl: tuple[int, int, int] = (4, 0, 0),
    eta_step_deg: float = 0.016,
    distance_m: float = 1.5,
    pixel_size_m: float | None = None,
    peak_counts: float = 3e4,
    peak_sigma_q: float = 1.0e-3,
    background: float = 0.5,
    strain_std: float = 2e-4,
    strain_correlation_points: float = 4.0,
    n_domains: int = 4,
    max_tilt_deg: float = 0.03,
    n_hot_pixels: int = 3,
    hot_pixel_rate: float = 50.0,
    n_dead_pixels: int = 5,
    drift_points: ArrayLike | None = None,
    phase2_strain: float = 0.0,
    phase2_fraction: float = 0.0,
    front_angle_deg: float = 0.0,
    detector: str = "mpx1x4",
    offset_points: tuple[float, float] | None = None,
    crystal_size: float = 0.42,
    flux: float = 1.0,
) -> SyntheticKMap:
    """Build a synthetic K-map of a faceted cubic spinel crystal (LiMn1.5Ni0.5O4-like).

    Parameters
    ----------
    map_shape : (int, int)
        Scan points (y, x).
    n_angles : int
        Rocking angles (one Bliss scan each), centred on the Bragg angle.
    detector_shape : (int, int), optional
        Detector pixels (det_y, det_x); (96, 96) by default (a window of a real
        detector, for speed); ``DETECTORS[detector][0]`` for the real size.
    seed : int
        Seed of every random choice (crystal shape, fields, noise).
    energy_keV : float
        Photon energy.
    lattice_A : float
        Mean cubic lattice parameter; the reflection is ``hkl``, its plane normal along
        sample +z (symmetric Bragg geometry).
    eta_step_deg : float
        Rocking step.
    distance_m, pixel_size_m : float
        Detector distance and pixel pitch (that of ``detector`` by default).
    peak_counts : float
        Integrated Bragg counts of the brightest point.
    peak_sigma_q : float
        Standard deviation of the isotropic Gaussian peak, 1/Å.
    background : float
        Flat background, counts per pixel per frame.
    strain_std : float
        Standard deviation of the smooth relative d-spacing field.
    strain_correlation_points : float
        Correlation length of that field, in scan points.
    n_domains : int
        Mosaic domains (Voronoi cells of random seeds in the crystal).
    max_tilt_deg : float
        Largest domain tilt.
    n_hot_pixels, hot_pixel_rate : int, float
        Unmasked hot pixels near the peak and their extra counts per frame.
    n_dead_pixels : int
        Dead pixels (zero counts, flagged in ``pixel_mask``) away from the peak, plus the
        first detector row.
    drift_points : (n_angles, 2) array_like, optional
        Sample drift (y, x) in scan points at each rocking angle, added to the beam
        position (see :class:`SyntheticKMap`); the ground truth stays on the grid.
    phase2_strain : float
        Relative d-spacing of a second phase, ``d2 = d (1 + phase2_strain)``.
    phase2_fraction : float
        Fraction of the crystal's points already converted to the second phase: the
        region behind a straight front that sweeps across the crystal (0: none, 1: all).
    front_angle_deg : float
        Direction in which the front advances, from +x towards +y.
    detector : str
        Name the frames are recorded under (a key of :data:`DETECTORS` gives its pixel
        pitch; any other Lima name is accepted with ``pixel_size_m`` given).
    offset_points : (float, float), optional
        Position (y, x) of the crystal under the scan grid, in scan points: grid point
        ``p`` probes the crystal at ``p + offset`` at every angle (the crystal moved
        between two maps of a series); the ground truth stays in the crystal's frame.
        Positions beyond the map repeat its edge: keep the crystal clear of the edges.
    crystal_size : float
        Circumradius of the crystal outline, as a fraction of the map's smaller side.
    flux : float
        Incident flux relative to nominal (the ring current has decayed, the beam was
        refocused): scales the Bragg counts and the background; the monitor that
        :func:`write_bliss_kmap` records follows it.

    Returns
    -------
    SyntheticKMap
    """
    if not (np.isfinite(flux) and flux > 0):
        raise ParameterError(f"flux must be positive, got {flux}")
    peak_counts, background = peak_counts * flux, background * flux
    if pixel_size_m is None:
        if detector not in DETECTORS:
            raise ParameterError(f"unknown detector {detector!r}: give pixel_size_m (known: {', '.join(DETECTORS)})")
        pixel_size_m = DETECTORS[detector][1]
    detector_shape = (96, 96) if detector_shape is None else (int(detector_shape[0]), int(detector_shape[1]))
    if min(map_shape) < 3 or n_angles < 3 or min(detector_shape) < 16:
        raise ParameterError("map_shape >= 3x3, n_angles >= 3 and detector_shape >= 16x16 are needed")
    rng = np.random.default_rng(seed)
    ny, nx = map_shape
    wavelength = _HC_EV_A / (energy_keV * 1e3)
    d0 = lattice_A / float(np.linalg.norm(hkl))
    sin_theta = wavelength / (2 * d0)
    if not 0 < sin_theta < 1:
        raise ParameterError(f"reflection {hkl} of a = {lattice_A} Å is unreachable at {energy_keV} keV")
    theta = float(np.degrees(np.arcsin(sin_theta)))
    eta = theta + (np.arange(n_angles) - (n_angles - 1) / 2) * eta_step_deg

    if not 0.05 <= crystal_size <= 0.5:
        raise ParameterError(f"crystal_size must be within [0.05, 0.5] of the map, got {crystal_size}")
    mask = _convex_polygon_mask(map_shape, rng, 8, crystal_size)
    field_ = ndimage.gaussian_filter(rng.standard_normal(map_shape), strain_correlation_points, mode="reflect")
    field_ = (field_ - field_[mask].mean()) / field_[mask].std() * strain_std
    d_map = d0 * (1.0 + field_)
    if not 0.0 <= phase2_fraction <= 1.0:
        raise ParameterError(f"phase2_fraction must be within [0, 1], got {phase2_fraction}")
    phase = _front(mask, phase2_fraction, front_angle_deg)
    d_map = np.where(phase == 1, d_map * (1.0 + phase2_strain), d_map)

    pts = np.argwhere(mask)
    seeds = pts[rng.choice(len(pts), size=n_domains, replace=False)]
    yy, xx = np.mgrid[0:ny, 0:nx]
    dist = (yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2
    domains = np.where(mask, dist.argmin(-1), -1)
    alt_dom = max_tilt_deg * rng.uniform(0.3, 1.0, n_domains)
    az_dom = rng.uniform(-180.0, 180.0, n_domains)
    alt = np.where(mask, alt_dom[domains], 0.0)
    az = np.where(mask, az_dom[domains], 0.0)
    a, p = np.radians(alt), np.radians(az)
    qmag = 2 * np.pi / d_map
    q = qmag[..., None] * np.stack([np.sin(a) * np.cos(p), np.sin(a) * np.sin(p), np.cos(a)], axis=-1)

    shade = 0.7 + 0.3 * ndimage.gaussian_filter(rng.uniform(size=map_shape), 3.0)
    shade /= shade[mask].max()
    counts = np.where(mask, peak_counts * shade, 0.0)

    dy, dx = detector_shape
    geometry = DetectorGeometry((dy, dx), dy / 2 - 0.3, dx / 2 + 0.4, pixel_size_m, pixel_size_m, distance_m)
    pixel_mask = np.zeros(detector_shape, dtype=np.uint8)
    pixel_mask[0, :] = 1
    ry, rx = np.mgrid[0:dy, 0:dx]
    far = np.argwhere(np.hypot(ry - dy / 2, rx - dx / 2) > 0.4 * min(dy, dx))
    dead = far[rng.choice(len(far), size=n_dead_pixels, replace=False)]
    pixel_mask[dead[:, 0], dead[:, 1]] = 1
    hot = np.zeros(detector_shape, dtype=bool)
    near = np.argwhere((np.hypot(ry - dy / 2, rx - dx / 2) < 0.12 * min(dy, dx)) & (pixel_mask == 0))
    hp = near[rng.choice(len(near), size=n_hot_pixels, replace=False)]
    hot[hp[:, 0], hp[:, 1]] = True

    step = 0.1  # µm per scan point
    pix = 10.0 + step * np.arange(nx)
    piy = 20.0 + step * np.arange(ny)
    qtable = pixel_q(eta, 0.0, 0.0, 2 * theta, detector=geometry, wavelength_A=wavelength)
    truth = KMapTruth(
        q=q,
        d_spacing_A=d_map,
        tilt_altitude_deg=alt,
        tilt_azimuth_deg=az,
        mask=mask,
        counts=counts,
        domains=domains,
        phase=phase,
    )
    drift = None
    if drift_points is not None:
        drift = np.asarray(drift_points, dtype=np.float64)
        if drift.shape != (n_angles, 2) or not np.isfinite(drift).all():
            raise ParameterError(f"drift_points must be finite with shape ({n_angles}, 2), got {drift.shape}")
    if offset_points is not None:
        offset = np.asarray(offset_points, dtype=np.float64)
        if offset.shape != (2,) or not np.isfinite(offset).all():
            raise ParameterError(f"offset_points must be two finite numbers (y, x), got {offset_points!r}")
        drift = (np.zeros((n_angles, 2)) if drift is None else drift) + offset
    return SyntheticKMap(
        eta_deg=np.asarray(eta, dtype=np.float64),
        phi_deg=0.0,
        nu_deg=0.0,
        delta_deg=2 * theta,
        detector=geometry,
        wavelength_A=wavelength,
        pix_um=np.asarray(pix, dtype=np.float64),
        piy_um=np.asarray(piy, dtype=np.float64),
        truth=truth,
        peak_sigma_q=peak_sigma_q,
        background=background,
        pixel_mask=pixel_mask,
        hot_pixels=hot,
        hot_pixel_rate=hot_pixel_rate,
        seed=seed,
        drift=drift,
        detector_name=detector,
        flux=float(flux),
        _q=qtable,
    )


def write_bliss_kmap(
    model: SyntheticKMap,
    directory: str | Path,
    *,
    name: str = "sample_0001",
    points_per_block: int = 64,
    frames_per_file: int = 1000,
    first_scan: int = 1,
    start_time: datetime | None = None,
    scan_duration_s: float = 1.0,
    readback_noise_um: float = 0.0,
    monitor_counts: float | None = None,
    encoding: str = "bitshuffle-lz4",
) -> Path:
    """Write a synthetic K-map in the ID01 Bliss layout.

    Parameters
    ----------
    model : SyntheticKMap
        From :func:`simulate_kmap`.
    directory : str or Path
        Created if needed; receives ``{name}.h5`` and ``scanNNNN/<detector>_MMMM.h5``
        (``model.detector_name``).
    name : str
        Stem of the master file.
    points_per_block : int
        Points generated and written at once.
    frames_per_file : int
        Frames per Lima file (Lima writes 1000).
    first_scan : int
        Number of the first scan (``N.1``).
    start_time : datetime, optional
        Start of the first scan (timezone-aware); default 2024-05-01 10:00:00+02:00.
    scan_duration_s : float
        Each scan starts this long after the previous one and lasts as long.
    readback_noise_um : float
        Standard deviation of the encoder jitter of the piezo readbacks
        (``instrument/pi?_position/value``) around the nominal grid, per point and scan
        (ID01's piezos: a few nm); the scan command keeps the nominal ranges.
    monitor_counts : float, optional
        Mean counts of the beam monitor ``measurement/mon1`` per point at nominal flux
        (Poisson, times ``model.flux``), and the ring current
        ``instrument/machine/current`` (200 mA times the flux); none by default.
    encoding : str
        Compression of the Lima frames, one frame per chunk: ``"bitshuffle-lz4"`` (Lima's
        default at the ESRF), ``"gzip"`` (deflate level 4, with byte shuffle) or ``"none"``.

    Returns
    -------
    Path
        The master file.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ny, nx = model.map_shape
    n_points = ny * nx
    n_a = len(model.eta_deg)
    det = model.detector
    dy, dx = det.shape
    n_files = -(-n_points // frames_per_file)
    encodings = {
        "bitshuffle-lz4": dict(hdf5plugin.Bitshuffle(cname="lz4")),
        "gzip": {"compression": "gzip", "compression_opts": 4, "shuffle": True},
        "none": {},
    }
    if encoding not in encodings:
        raise ParameterError(f"encoding must be one of {', '.join(encodings)}, got {encoding!r}")
    compression = encodings[encoding]
    det_name = model.detector_name
    lima_data = f"entry_0000/instrument/{det_name}/data"
    if not readback_noise_um >= 0:
        raise ParameterError(f"readback_noise_um must be >= 0, got {readback_noise_um}")
    lima: list[list[h5py.File]] = []
    try:
        for i in range(n_a):
            scan_dir = directory / f"scan{first_scan + i:04d}"
            scan_dir.mkdir(exist_ok=True)
            files = []
            for f in range(n_files):
                n = min(frames_per_file, n_points - f * frames_per_file)
                h = h5py.File(scan_dir / f"{det_name}_{f:04d}.h5", "w")
                h.create_dataset(
                    lima_data,
                    shape=(n, dy, dx),
                    dtype=np.int32,
                    chunks=(1, dy, dx),
                    **compression,
                )
                files.append(h)
            lima.append(files)
        for start in range(0, n_points, points_per_block):
            stop = min(start + points_per_block, n_points)
            block = model.frames(start, stop)
            for i in range(n_a):
                p = start
                while p < stop:
                    f, off = divmod(p, frames_per_file)
                    n = min(stop - p, frames_per_file - off)
                    lima[i][f][lima_data][off : off + n] = block[i, p - start : p - start + n]
                    p += n
    finally:
        for files in lima:
            for h in files:
                h.close()

    master = directory / f"{name}.h5"
    pix_grid = np.broadcast_to(model.pix_um[None, :], (ny, nx)).reshape(-1)
    piy_grid = np.broadcast_to(model.piy_um[:, None], (ny, nx)).reshape(-1)
    title = (
        f"asxdm( pix, {model.pix_um[0]:.3f}, {model.pix_um[-1]:.3f}, {nx}, "
        f"piy, {model.piy_um[0]:.3f}, {model.piy_um[-1]:.3f}, {ny}, {model.exposure_s} )"
    )
    first_start = start_time or datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    with h5py.File(master, "w") as h:
        for i in range(n_a):
            scan_no = first_scan + i
            g = h.create_group(f"{scan_no}.1")
            g.attrs["NX_class"] = "NXentry"
            g["title"] = title
            scan_start = first_start + timedelta(seconds=i * scan_duration_s)
            g["start_time"] = scan_start.isoformat()
            g["end_time"] = (scan_start + timedelta(seconds=scan_duration_s)).isoformat()
            inst = g.create_group("instrument")
            mpx = inst.create_group(det_name)
            mpx.attrs["NX_class"] = "NXdetector"  # as Bliss writes it; XSOCS finds detectors by it
            mpx["beam_center_x"] = det.beam_center_x_px
            mpx["beam_center_y"] = det.beam_center_y_px
            mpx["distance"] = det.distance_m
            mpx["x_pixel_size"] = det.pixel_size_x_m
            mpx["y_pixel_size"] = det.pixel_size_y_m
            mpx["dim_i"] = dx
            mpx["dim_j"] = dy
            mpx["pixel_mask"] = model.pixel_mask
            layout = h5py.VirtualLayout(shape=(n_points, dy, dx), dtype=np.int32)
            for f in range(n_files):
                lo = f * frames_per_file
                n = min(frames_per_file, n_points - lo)
                src = h5py.VirtualSource(f"scan{scan_no:04d}/{det_name}_{f:04d}.h5", lima_data, shape=(n, dy, dx))
                layout[lo : lo + n] = src
            mpx.create_virtual_dataset("image", layout, fillvalue=-1)
            mono = inst.create_group("monochromator")
            mono["WaveLength"] = model.wavelength_A * 1e-10
            mono["Energy"] = model.energy_eV
            pos = inst.create_group("positioners")
            for motor, value in (
                ("eta", model.eta_deg[i]),
                ("phi", model.phi_deg),
                ("nu", model.nu_deg),
                ("delta", model.delta_deg),
                ("pix", model.pix_um[0]),
                ("piy", model.piy_um[0]),
                ("piz", 5.0),
            ):
                pos[motor] = value
                pos[motor].attrs["units"] = "deg" if motor in ("eta", "phi", "nu", "delta") else "um"
            jitter = np.random.default_rng([model.seed, 7, scan_no, zlib.crc32(name.encode())])
            for motor, values in (("pix", pix_grid), ("piy", piy_grid), ("piz", np.full(n_points, 5.0))):
                pg = inst.create_group(f"{motor}_position")
                pg.attrs["NX_class"] = "NXpositioner"
                pg["value"] = values + (jitter.normal(0.0, readback_noise_um, n_points) if readback_noise_um else 0.0)
            meas = g.create_group("measurement")
            meas[det_name] = mpx["image"]
            if monitor_counts is not None:
                meas["mon1"] = jitter.poisson(monitor_counts * model.flux, n_points).astype(np.float64)
                machine = inst.create_group("machine")
                machine["current"] = 200.0 * model.flux
                machine["current"].attrs["units"] = "mA"
            meas["pix_position"] = inst["pix_position/value"]
            meas["piy_position"] = inst["piy_position/value"]
    return master


_SPEC_MOTORS = (
    ("del", "eta", "chi", "phi", "nu", "mu", "Invalid", "osay"),
    ("osaz", "oosay", "oosaz", "ofzpx", "ofzpy", "ofzpz", "fuz", "focus"),
    ("thx", "thy", "thz", "piy", "pix", "piz", "mpx1eth", "nrj"),
)


def write_spec_kmap(
    model: SyntheticKMap,
    directory: str | Path,
    *,
    name: str = "KMAP_2021_03_14_140646_fast_00001",
    first_scan: int = 1,
    first_image_number: int = 3,
    image_prefix: str = "data_mpx4_",
    start_time: datetime | None = None,
    points_per_block: int = 64,
) -> Path:
    """Write a synthetic K-map as ID01 wrote them before Bliss: SPEC file + EDF frames.

    The SPEC headers mirror the real file in ``data/sxdm/id01-sxdm-utils/spec_fastmap``
    (``#O`` motor names, ``#UDETCALIB``, ``#UMONO``, ``#Ulima``, ``#S n _pscando ...``,
    ``#P`` positions, ``#L`` counters with ``adcX adcY adcZ`` read-back and ``imgnr``,
    ``#C imageFile ...``); the frames of scan ``n`` are one multi-frame gzip EDF file
    ``{image_prefix}{nextNr:05d}.edf.gz`` written with :mod:`fabio` in ``directory``.

    Parameters
    ----------
    model : SyntheticKMap
        From :func:`simulate_kmap`.
    directory : str or Path
        Created if needed; receives ``{name}.spec`` and the EDF files.
    name : str
        Stem of the SPEC file.
    first_scan : int
        Number of the first scan (``#S n``).
    first_image_number : int
        ``nextNr`` of the first scan's EDF file (then one per scan).
    image_prefix : str
        EDF file name prefix.
    start_time : datetime, optional
        Start of the first scan (local time, SPEC records no zone); scans 60 s apart.
    points_per_block : int
        Points generated at once.

    Returns
    -------
    Path
        The SPEC file.
    """
    import fabio.edfimage

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ny, nx = model.map_shape
    n_points = ny * nx
    n_a = len(model.eta_deg)
    det = model.detector
    dy, dx = det.shape
    t0 = start_time or datetime(2021, 3, 14, 16, 27, 33)
    pixperdeg = 2.0 * det.distance_m * np.tan(np.radians(0.5)) / det.pixel_size_x_m
    if not np.isclose(det.pixel_size_x_m, det.pixel_size_y_m, rtol=1e-12):
        raise ParameterError("SPEC records one channels-per-degree: square pixels only")
    energy_keV = model.energy_eV / 1e3
    calib = (
        f"#UDETCALIB cen_pix_x={det.beam_center_x_px:.3f},cen_pix_y={det.beam_center_y_px:.3f},"
        f"pixperdeg={pixperdeg:.6f},det_distance_CC={det.distance_m:.6f},det_distance_COM={det.distance_m:.6f},"
        f"timestamp={t0.isoformat()}"
    )
    mono = (
        f"#UMONO mono=dcm,monotz=7.0mm,monorz=217.204mrad,monoty=-5.1mm,mononrj={energy_keV:.6f}keV,"
        "monoth=12.705deg,monobof=18.186mm"
    )
    user = [
        "#UATT11 att11:Out",
        calib,
        "#UFILT1 1",
        "#Ulima name xmin xmax ymin ymax",
        f"#Ulima mpx4int 0 0 {dx - 1} 0 {dy - 1} ",
        "#UMA Ie=033.12mA",
        mono,
    ]
    lines = [
        f"#F /data/id01/inhouse/synthetic/spec/{name}.spec",
        f"#E {int(t0.timestamp())}",
        f"#D {t0.strftime('%a %Y/%m/%d %H:%M:%S')}",
        "#C psic_nano  User = opid01",
        "",
    ]
    lines += [f"#O{i} " + " ".join(f"{m:>9}" for m in group) for i, group in enumerate(_SPEC_MOTORS)]
    lines += [*user, f"#ULIMA_mpx4 /data/id01/inhouse/synthetic/mpx/{image_prefix}{first_image_number:05d}.edf.gz", ""]
    pix = np.broadcast_to(model.pix_um[None, :], (ny, nx)).reshape(-1)
    piy = np.broadcast_to(model.piy_um[:, None], (ny, nx)).reshape(-1)
    edfs = []
    for i in range(n_a):
        nr = first_image_number + i
        when = t0 + timedelta(seconds=60 * i)
        values = {
            "del": model.delta_deg,
            "eta": model.eta_deg[i],
            "chi": 90.0,
            "phi": model.phi_deg,
            "nu": model.nu_deg,
        }
        values.update({"pix": float(model.pix_um[0]), "piy": float(model.piy_um[0]), "piz": 5.0, "nrj": energy_keV})
        lines += [
            f"#S {first_scan + i} _pscando pix {model.pix_um[0]:.3f} {model.pix_um[-1]:.3f} {nx} "
            f"piy {model.piy_um[0]:.3f} {model.piy_um[-1]:.3f} {ny} {model.exposure_s}",
            "#C scan mode SAW_V2",
            f"#C pscan - fastscan / lines[{n_points}] ncols[7] mode[psi]",
            f"#D {when.strftime('%a %Y/%m/%d %H:%M:%S')}",
            f"#T {model.exposure_s} (Seconds)",
            "#C --------------------- MOTORS",
        ]
        lines += [
            f"#P{j}  " + " ".join(f"{values.get(m, 0.0):.10g}" for m in group) for j, group in enumerate(_SPEC_MOTORS)
        ]
        lines += [
            "#N 9",
            "#L timer  cnt1  adcX  adcY  adcZ  mpx4int  roi1  Seconds  imgnr",
            *user,
            f"#C imageFile dir[/data/id01/inhouse/synthetic/mpx] prefix[{image_prefix}] idxFmt[%05d] "
            f"nextNr[{nr}] suffix[.edf.gz]",
        ]
        edfs.append((directory / f"{image_prefix}{nr:05d}.edf.gz", i))
        rows = []
        for k in range(n_points):
            rows.append(
                f"{model.exposure_s * (k + 1):.6g} 8 {piy[k]:.6g} {pix[k]:.6g} 5 0 0 {model.exposure_s} {nr + k} "
            )
        lines += [*rows, ""]
    # integrated counts in the mpx4int column would need all frames first: left 0 (counters are not used)
    images: list[fabio.edfimage.EdfImage | None] = [None] * n_a
    for start in range(0, n_points, points_per_block):
        stop = min(start + points_per_block, n_points)
        block = model.frames(start, stop)
        for i in range(n_a):
            for k in range(stop - start):
                header = {"acq_frame_nb": str(start + k), "count_time": str(model.exposure_s)}
                img = images[i]
                if img is None:
                    images[i] = fabio.edfimage.EdfImage(data=block[i, k], header=header)
                else:
                    img.append_frame(data=block[i, k], header=header)
    for (path, _), img in zip(edfs, images, strict=True):
        assert img is not None
        img.write(str(path))
    spec = directory / f"{name}.spec"
    spec.write_text("\n".join(lines) + "\n")
    return spec
