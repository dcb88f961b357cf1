"""Synthetic K-map where scan points hold two lattice phases (LMNO on a voltage plateau).

Detector frames are linear in the diffracted intensity, so a point holding a fraction
``f`` of phase 1 and ``1 - f`` of phase 2 gives, before counting noise, ``f`` times the
frames of phase 1 plus ``1 - f`` times those of phase 2. Both phases come from
:func:`operando.synthetic.simulate_kmap` (through its public parameters only) with one
seed, so they share the crystal, its strain field, its mosaic tilt domains and the
diffractometer; they differ by their d-spacing. The detector sits at the Bragg angle of
the mean of the two, so both peaks fall on it. Counts are Poisson at detector level: the
flat background, the Bragg intensity of both phases and the hot pixels, with the dead
pixels at zero, as :class:`operando.synthetic.SyntheticKMap` does.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage, special

from operando.errors import ParameterError
from operando.synthetic._echem import _STEPS
from operando.synthetic._sxdm import KMapTruth, SyntheticKMap, simulate_kmap

__all__ = [
    "LMNO_D400_A",
    "LMNO_D400_LI0_A",
    "LMNO_D400_LI1_A",
    "LMNO_PLATEAUS_X",
    "LMNOLattice",
    "TwoPhaseKMap",
    "front_fraction_field",
    "lmno_lattice",
    "plateau_fraction_field",
    "random_fraction_field",
    "simulate_two_phase_kmap",
]

LMNO_D400_A = (2.0332, 2.0184)
"""d400 of LiMn1.5Ni0.5O4 on its two plateaus (Å), the values the paper reports."""

LMNO_D400_LI1_A = 2.0409
"""d400 of the fully lithiated crystal before the charge (Å, the paper's value at 4.1 V)."""

LMNO_D400_LI0_A = 2.0003
"""d400 of delithiated Mn1.5Ni0.5O4 (Å; a = 8.001 Å), the Li0 phase of the second plateau."""

LMNO_PLATEAUS_X: tuple[float, float, float] = (1.0 - _STEPS[1][1], 1.0 - _STEPS[2][1], 1.0 - _STEPS[3][1])
"""x(Li) where the Ni2+/3+ plateau starts, where it gives way to the Ni3+/4+ plateau, and
where that one ends: the steps of :func:`operando.synthetic.lmno_ocv` (0.93, 0.5, 0.015), so
the lattice and the voltage of the synthetic cell change regime at the same Li content."""


@dataclass(frozen=True)
class LMNOLattice:
    """The (400) lattice of an LMNO crystal at one Li content.

    Attributes
    ----------
    d400_A : (float, float)
        d-spacings of the phases present (Å), larger first; equal when one phase.
    fraction : float
        Share of the first (larger-d) phase, 1 when one phase.
    plateau : int
        0 in the solid-solution region before the plateaus (and below the end of the
        second), 1 on the Ni2+/3+ plateau (Li1 + Li0.5), 2 on the Ni3+/4+ plateau (Li0.5 + Li0).
    """

    d400_A: tuple[float, float]
    fraction: float
    plateau: int

    @property
    def two_phase(self) -> bool:
        """Whether two phases coexist."""
        return 0.0 < self.fraction < 1.0

    @property
    def mean_d400_A(self) -> float:
        """Volume-weighted mean d400 (Å): what a single-peak centre of mass sees."""
        return self.fraction * self.d400_A[0] + (1.0 - self.fraction) * self.d400_A[1]


def lmno_lattice(x_li: float) -> LMNOLattice:
    """The phases of disordered LiMn1.5Ni0.5O4 and their d400 at Li content ``x_li``.

    Above the first plateau (Mn3+/4+, ``x >= 0.93``) one cubic phase contracts as a solid
    solution from :data:`LMNO_D400_LI1_A` to the Li1 plateau value; on each plateau two
    phases of fixed lattice coexist and only their fractions change with x (lever rule):
    Li1 (2.0332 Å) and Li0.5 (2.0184 Å) on the Ni2+/3+ plateau, Li0.5 and Li0
    (:data:`LMNO_D400_LI0_A`) on the Ni3+/4+ one (the paper's d400 values). The regime
    boundaries are :data:`LMNO_PLATEAUS_X`.

    Parameters
    ----------
    x_li : float
        Li per formula unit, 0 to 1.

    Returns
    -------
    LMNOLattice

    Examples
    --------
    >>> lmno_lattice(0.715)  # halfway along the first plateau
    LMNOLattice(d400_A=(2.0332, 2.0184), fraction=0.5, plateau=1)
    >>> lmno_lattice(0.25).d400_A, round(lmno_lattice(0.25).fraction, 3)
    ((2.0184, 2.0003), 0.485)
    >>> lmno_lattice(1.0)
    LMNOLattice(d400_A=(2.0409, 2.0409), fraction=1.0, plateau=0)
    """
    x = float(x_li)
    if not -0.05 <= x <= 1.05 or not np.isfinite(x):
        raise ParameterError(f"x(Li) must be within [0, 1], got {x_li}")
    x = min(max(x, 0.0), 1.0)
    start, middle, end = LMNO_PLATEAUS_X
    li1, li05 = LMNO_D400_A
    if x >= start:
        d = li1 + (LMNO_D400_LI1_A - li1) * (x - start) / (1.0 - start)
        return LMNOLattice((d, d), 1.0, 0)
    if x >= middle:
        return LMNOLattice((li1, li05), (x - middle) / (start - middle), 1)
    if x > end:
        return LMNOLattice((li05, LMNO_D400_LI0_A), (x - end) / (middle - end), 2)
    return LMNOLattice((LMNO_D400_LI0_A, LMNO_D400_LI0_A), 1.0, 0)


def plateau_fraction_field(
    shape: tuple[int, int],
    mean: float,
    *,
    seed: int = 0,
    correlation_points: float = 1.5,
    within: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Phase fractions of a crystal part-way through a two-phase plateau.

    Domains of the new phase nucleate at many points and grow (the paper's "phase-field"
    picture of the first plateau): a smooth Gaussian field ``g`` (unit variance,
    correlated over ``correlation_points``) gives ``f = Phi(g - c)``, each beam footprint
    holding both phases where the domains are smaller than it; ``c = -sqrt(2)
    Phi^-1(mean)`` makes ``E[f] = mean``, or, with ``within``, ``c`` is solved so that the
    mean over those points is ``mean`` exactly (one random field over a small crystal is
    far from its expectation: 0.37 for 0.51 on a 12 x 12 map).

    Parameters
    ----------
    shape : (int, int)
        (y, x).
    mean : float
        Expected share of the first phase, within [0, 1].
    seed : int
    correlation_points : float
        Domain size, scan points.
    within : (y, x) array_like of bool, optional
        The crystal (e.g. ``simulate_kmap(...).truth.mask``), over which the mean is exact.

    Returns
    -------
    (y, x) ndarray
        Share of the first phase per point.

    Examples
    --------
    >>> f = plateau_fraction_field((60, 60), 0.3, seed=2)
    >>> bool(0 <= f.min() and f.max() <= 1), round(float(f.mean()), 1)
    (True, 0.3)
    >>> crystal = np.zeros((12, 12), dtype=bool); crystal[3:9, 2:10] = True
    >>> round(float(plateau_fraction_field((12, 12), 0.51, seed=6, within=crystal)[crystal].mean()), 6)
    0.51
    """
    if not 0.0 <= mean <= 1.0:
        raise ParameterError(f"mean fraction must be within [0, 1], got {mean}")
    if mean in (0.0, 1.0):
        return np.full(shape, float(mean))
    g = ndimage.gaussian_filter(np.random.default_rng([seed, 29]).standard_normal(shape), correlation_points)
    g = (g - g.mean()) / g.std()
    if within is None:
        return np.asarray(special.ndtr(g + np.sqrt(2.0) * special.ndtri(mean)))
    inside = np.asarray(within, dtype=bool)
    if inside.shape != tuple(shape) or not inside.any():
        raise ParameterError(f"within must be a (y, x) mask of shape {tuple(shape)} with points in it")
    from scipy.optimize import brentq

    shift = brentq(lambda c: float(special.ndtr(g[inside] + c).mean()) - mean, -40.0, 40.0, xtol=1e-12)
    return np.asarray(special.ndtr(g + shift))


@dataclass(frozen=True)
class TwoPhaseKMap(SyntheticKMap):
    """A :class:`SyntheticKMap` whose points hold two phases.

    ``truth`` is phase 1 (the larger d-spacing), ``second`` phase 2; ``fraction`` (y, x)
    is phase 1's share of each point's Bragg intensity (its volume fraction), NaN outside
    the crystal; ``second_sigma_q`` phase 2's peak width (1/Å; ``peak_sigma_q`` if None).
    """

    second: KMapTruth | None = None
    fraction: NDArray[np.float64] | None = None
    second_sigma_q: float | None = None

    def _phase_peaks(
        self, truth: KMapTruth, points: NDArray[np.intp], sigma: float
    ) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """Expected Bragg counts of one phase (isotropic Gaussian of std ``sigma``, 1/Å): voxels
        within reach, (voxels, points)."""
        qflat = self.pixel_q().reshape(-1, 3)
        inside = truth.q[truth.mask]
        centre = inside.mean(0)
        reach = 8.0 * sigma + float(np.linalg.norm(inside - centre, axis=-1).max(initial=0.0))
        near = np.flatnonzero(np.linalg.norm(qflat - centre, axis=-1) < reach)
        qc = qflat[near] - centre
        qp = truth.q.reshape(-1, 3)[points] - centre
        dist2 = (qc**2).sum(1)[:, None] - 2.0 * qc @ qp.T + (qp**2).sum(1)[None, :]
        g = np.exp(-0.5 * np.maximum(dist2, 0.0) / sigma**2)
        norm = g.sum(0)
        counts = truth.counts.reshape(-1)[points]
        return near, g * np.divide(counts, norm, out=np.zeros_like(counts), where=norm > 0)

    def frames(self, start: int, stop: int) -> NDArray[np.int32]:
        """Counts of scan points ``start:stop`` (row-major over (y, x)).

        Returns
        -------
        (angle, point, det_y, det_x) ndarray of int32
        """
        ny, nx = self.map_shape
        if not 0 <= start <= stop <= ny * nx:
            raise ParameterError(f"points {start}:{stop} outside 0:{ny * nx}")
        if self.second is None or self.fraction is None:
            raise ParameterError("a TwoPhaseKMap needs its second phase and fraction map")
        n_a, dy, dx, _ = self.pixel_q().shape
        n_vox = n_a * dy * dx
        pts = np.arange(start, stop)
        f = np.nan_to_num(self.fraction.reshape(-1)[pts], nan=0.0)
        expected = np.zeros((pts.size, n_vox))
        second_sigma = self.peak_sigma_q if self.second_sigma_q is None else self.second_sigma_q
        for truth, share, sigma in ((self.truth, f, self.peak_sigma_q), (self.second, 1.0 - f, second_sigma)):
            near, peak = self._phase_peaks(truth, pts, sigma)
            expected[:, near] += (peak * share[None, :]).T  # frames are linear in intensity
        expected += self.background
        hot = np.broadcast_to(self.hot_pixels, (n_a, dy, dx)).reshape(-1)
        expected[:, hot] += self.hot_pixel_rate
        out = np.empty((pts.size, n_vox), dtype=np.int32)
        for i, p in enumerate(pts):
            out[i] = np.random.default_rng([self.seed, 17, int(p)]).poisson(expected[i])
        out = out.reshape(pts.size, n_a, dy, dx).transpose(1, 0, 2, 3).copy()
        out[:, :, self.pixel_mask.astype(bool)] = 0
        return out


def random_fraction_field(
    shape: tuple[int, int], *, seed: int = 0, correlation_points: float = 1.5
) -> NDArray[np.float64]:
    """A smooth random field of phase fractions, uniform on [0, 1].

    Gaussian noise smoothed over ``correlation_points`` scan points, mapped through its
    own normal CDF (so every fraction from 0 to 1 is equally likely).

    Parameters
    ----------
    shape : (int, int)
        (y, x).
    seed : int
        Random seed.
    correlation_points : float
        Standard deviation of the smoothing, scan points.

    Returns
    -------
    (y, x) ndarray

    Examples
    --------
    >>> f = random_fraction_field((40, 40), seed=1)
    >>> bool(f.min() >= 0 and f.max() <= 1), round(float(f.mean()), 1)
    (True, 0.5)
    """
    g = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal(shape), correlation_points)
    return np.asarray(special.ndtr((g - g.mean()) / g.std()))


def front_fraction_field(
    shape: tuple[int, int], *, position: float = 0.5, angle_deg: float = 0.0, width_points: float = 1.0
) -> NDArray[np.float64]:
    """Phase 1 ahead of a straight front, phase 2 behind it, mixed across its width.

    Parameters
    ----------
    shape : (int, int)
        (y, x).
    position : float
        Where the front crosses the map, as a fraction of its extent along the direction
        of travel (0: all phase 1, 1: all phase 2).
    angle_deg : float
        Direction in which the front advances, from +x towards +y.
    width_points : float
        Standard deviation of the mixed band, scan points (the beam straddles the front).

    Returns
    -------
    (y, x) ndarray
        Fraction of phase 1.

    Examples
    --------
    >>> np.round(front_fraction_field((1, 5), position=0.5, width_points=0.5)[0], 2).tolist()
    [1.0, 0.98, 0.5, 0.02, 0.0]
    """
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    a = np.radians(angle_deg)
    u = xx * np.cos(a) + yy * np.sin(a)
    cut = u.min() + position * (u.max() - u.min())
    return np.asarray(special.ndtr((cut - u) / width_points))


def simulate_two_phase_kmap(
    fraction: ArrayLike,
    *,
    d_spacings_A: tuple[float, float] = LMNO_D400_A,
    hkl: tuple[int, int, int] = (4, 0, 0),
    tilt_between_deg: float = 0.0,
    second_sigma_q: float | None = None,
    **kmap: Any,
) -> TwoPhaseKMap:
    """A K-map whose points hold two phases of known d-spacing in known proportion.

    Parameters
    ----------
    fraction : (y, x) array_like
        Share of phase 1 (the larger d-spacing) in each point's intensity, within [0, 1]
        (e.g. :func:`random_fraction_field` or :func:`front_fraction_field`); its shape is
        the map's.
    d_spacings_A : (float, float)
        Mean d-spacings of the two phases (Å), e.g. LMNO's d400 on the two plateaus.
    hkl : (int, int, int)
        The reflection.
    tilt_between_deg : float
        Misorientation of phase 2 against phase 1 (a rotation of its Q about sample +x,
        the same at every point: the lattices are not perfectly coherent).
    second_sigma_q : float, optional
        Peak width of phase 2 (1/Å); that of phase 1 (``peak_sigma_q``) by default.
    **kmap
        Passed to :func:`operando.synthetic.simulate_kmap` (``seed``, ``n_angles``,
        ``detector_shape``, ``distance_m``, ``strain_std``, ``max_tilt_deg``,
        ``peak_counts``, ...); ``map_shape``, ``lattice_A``, ``phase2_strain`` and
        ``phase2_fraction`` are set here.

    Returns
    -------
    TwoPhaseKMap
        ``truth`` and ``second`` hold each phase's Q and d-spacing per point;
        ``fraction`` is NaN outside the crystal.

    Examples
    --------
    >>> f = np.full((4, 4), 0.3)
    >>> m = simulate_two_phase_kmap(f, n_angles=8, detector_shape=(48, 24), distance_m=0.8, seed=3)
    >>> m.frames(0, 2).shape, round(float(np.nanmean(m.fraction)), 2)
    ((8, 2, 48, 24), 0.3)
    """
    f = np.asarray(fraction, dtype=np.float64)
    if f.ndim != 2 or not np.isfinite(f).all() or f.min() < 0.0 or f.max() > 1.0:
        raise ParameterError(f"fraction must be a finite (y, x) map within [0, 1], got shape {f.shape}")
    d1, d2 = (float(v) for v in d_spacings_A)
    if not d1 > d2 > 0:
        raise ParameterError(f"d_spacings_A must be (larger, smaller) and positive, got {d_spacings_A}")
    taken = {"map_shape", "lattice_A", "phase2_strain", "phase2_fraction", "hkl"} & set(kmap)
    if taken:
        raise ParameterError(f"simulate_two_phase_kmap sets {sorted(taken)} itself")
    mid = 0.5 * (d1 + d2)
    common = dict(kmap, map_shape=f.shape, hkl=hkl, lattice_A=mid * float(np.linalg.norm(hkl)), phase2_fraction=1.0)
    first = simulate_kmap(**common, phase2_strain=d1 / mid - 1.0)
    second = simulate_kmap(**common, phase2_strain=d2 / mid - 1.0)
    if not np.array_equal(first.truth.mask, second.truth.mask):
        raise ParameterError("the two phases came out on different crystals (simulate_kmap changed?)")
    truth2 = second.truth
    if tilt_between_deg:
        c, s = np.cos(np.radians(tilt_between_deg)), np.sin(np.radians(tilt_between_deg))
        q2 = truth2.q @ np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])  # rows: q' = R q
        alt = np.degrees(np.arccos(np.clip(q2[..., 2] / np.linalg.norm(q2, axis=-1), -1.0, 1.0)))
        az = np.degrees(np.arctan2(q2[..., 1], q2[..., 0]))
        truth2 = replace(truth2, q=q2, tilt_altitude_deg=alt, tilt_azimuth_deg=az)
    if second_sigma_q is not None and not second_sigma_q > 0:
        raise ParameterError(f"second_sigma_q must be positive, got {second_sigma_q}")
    base = {fl.name: getattr(first, fl.name) for fl in fields(first) if fl.init}
    return TwoPhaseKMap(
        **base, second=truth2, fraction=np.where(first.truth.mask, f, np.nan), second_sigma_q=second_sigma_q
    )
