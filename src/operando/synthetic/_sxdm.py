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
  ``N.1`` per rocking angle whose ``measurement/mpx1x4`` is a virtual dataset onto the
  Lima file ``scanNNNN/mpx1x4_0000.h5``.

The ground truth is the Q vector of every point (so d-spacing and tilt are exact), not
the centre of mass of the sampled counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from operando.errors import ParameterError
from operando.sxdm._geometry import DetectorGeometry, pixel_q

__all__ = ["KMapTruth", "SyntheticKMap", "simulate_kmap", "write_bliss_kmap"]

_HC_EV_A = 12398.419843320026  # h c in eV Å


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
    """

    q: NDArray[np.float64]
    d_spacing_A: NDArray[np.float64]
    tilt_altitude_deg: NDArray[np.float64]
    tilt_azimuth_deg: NDArray[np.float64]
    mask: NDArray[np.bool_]
    counts: NDArray[np.float64]
    domains: NDArray[np.int64]


@dataclass(frozen=True)
class SyntheticKMap:
    """A synthetic K-map: acquisition parameters, ground truth and a frame generator.

    Frames are generated on demand with :meth:`frames` (deterministic per point), so a
    map larger than memory can be streamed.
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

    def frames(self, start: int, stop: int) -> NDArray[np.int32]:
        """Counts of scan points ``start:stop`` (flattened row-major over (y, x)).

        Returns
        -------
        (angle, point, det_y, det_x) ndarray of int32
        """
        ny, nx = self.map_shape
        if not 0 <= start <= stop <= ny * nx:
            raise ParameterError(f"points {start}:{stop} outside 0:{ny * nx}")
        q = self._q
        n_a, dy, dx, _ = q.shape
        qtrue = self.truth.q.reshape(-1, 3)[start:stop]
        counts = self.truth.counts.reshape(-1)[start:stop]
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
        peak = g * scale  # expected Bragg counts on the near voxels
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


def _convex_polygon_mask(shape: tuple[int, int], rng: np.random.Generator, n_vertices: int) -> NDArray[np.bool_]:
    ny, nx = shape
    cy, cx = (ny - 1) / 2, (nx - 1) / 2
    radius = 0.42 * min(ny, nx)
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


def simulate_kmap(
    *,
    map_shape: tuple[int, int] = (24, 24),
    n_angles: int = 30,
    detector_shape: tuple[int, int] = (96, 96),
    seed: int = 0,
    energy_keV: float = 9.0,
    lattice_A: float = 8.17,
    hkl: tuple[int, int, int] = (4, 0, 0),
    eta_step_deg: float = 0.016,
    distance_m: float = 1.5,
    pixel_size_m: float = 55e-6,
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
) -> SyntheticKMap:
    """Build a synthetic K-map of a faceted cubic spinel crystal (LiMn1.5Ni0.5O4-like).

    Parameters
    ----------
    map_shape : (int, int)
        Scan points (y, x).
    n_angles : int
        Rocking angles (one Bliss scan each), centred on the Bragg angle.
    detector_shape : (int, int)
        Detector pixels (det_y, det_x).
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
        Detector distance and pixel pitch.
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

    Returns
    -------
    SyntheticKMap
    """
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

    mask = _convex_polygon_mask(map_shape, rng, 8)
    field_ = ndimage.gaussian_filter(rng.standard_normal(map_shape), strain_correlation_points, mode="reflect")
    field_ = (field_ - field_[mask].mean()) / field_[mask].std() * strain_std
    d_map = d0 * (1.0 + field_)

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
    detector = DetectorGeometry((dy, dx), dy / 2 - 0.3, dx / 2 + 0.4, pixel_size_m, pixel_size_m, distance_m)
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
    qtable = pixel_q(eta, 0.0, 0.0, 2 * theta, detector=detector, wavelength_A=wavelength)
    truth = KMapTruth(
        q=q,
        d_spacing_A=d_map,
        tilt_altitude_deg=alt,
        tilt_azimuth_deg=az,
        mask=mask,
        counts=counts,
        domains=domains,
    )
    return SyntheticKMap(
        eta_deg=np.asarray(eta, dtype=np.float64),
        phi_deg=0.0,
        nu_deg=0.0,
        delta_deg=2 * theta,
        detector=detector,
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
) -> Path:
    """Write a synthetic K-map in the ID01 Bliss layout.

    Parameters
    ----------
    model : SyntheticKMap
        From :func:`simulate_kmap`.
    directory : str or Path
        Created if needed; receives ``{name}.h5`` and ``scanNNNN/mpx1x4_MMMM.h5``.
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
    compression = hdf5plugin.Bitshuffle(cname="lz4")
    lima: list[list[h5py.File]] = []
    try:
        for i in range(n_a):
            scan_dir = directory / f"scan{first_scan + i:04d}"
            scan_dir.mkdir(exist_ok=True)
            files = []
            for f in range(n_files):
                n = min(frames_per_file, n_points - f * frames_per_file)
                h = h5py.File(scan_dir / f"mpx1x4_{f:04d}.h5", "w")
                h.create_dataset(
                    "entry_0000/instrument/mpx1x4/data",
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
                    lima[i][f]["entry_0000/instrument/mpx1x4/data"][off : off + n] = block[i, p - start : p - start + n]
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
            mpx = inst.create_group("mpx1x4")
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
                src = h5py.VirtualSource(
                    f"scan{scan_no:04d}/mpx1x4_{f:04d}.h5", "entry_0000/instrument/mpx1x4/data", shape=(n, dy, dx)
                )
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
            for motor, values in (("pix", pix_grid), ("piy", piy_grid), ("piz", np.full(n_points, 5.0))):
                pg = inst.create_group(f"{motor}_position")
                pg.attrs["NX_class"] = "NXpositioner"
                pg["value"] = values
            meas = g.create_group("measurement")
            meas["mpx1x4"] = mpx["image"]
            meas["pix_position"] = inst["pix_position/value"]
            meas["piy_position"] = inst["piy_position/value"]
    return master
