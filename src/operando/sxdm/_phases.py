"""Two lattice phases in one scan point: the radial (|Q|) profile split into up to two peaks.

The centre of mass of :mod:`operando.sxdm._reduce` gives, for a point that holds two
phases, their intensity-weighted mean d-spacing: a fake solid solution. Here the counts of
each point are histogrammed along ``|Q|`` instead (tilt moves a peak across |Q| shells only
to second order, so the radial profile separates lattice spacings whatever the mosaic),
and the profile is explained by a background plus one or two Gaussian peaks:

``lambda_k = beta * n_k + sum_j A_j * c_k * (Phi((e_k+1 - mu_j) / s_j) - Phi((e_k - mu_j) / s_j))``

with ``n_k`` the detector voxels (pixel x rocking angle) in bin ``k``, ``c_k`` the fraction
of the bin's voxels left by the pixel mask (gaps, dead and hot pixels), ``beta`` counts per
voxel (held at its level outside the region: a free flat background, shaped like the
region's voxel count, would mimic a broad peak) and ``Phi`` the normal CDF. The bins hold
summed detector counts, so they are Poisson: both models are fitted by maximum Poisson
likelihood (a few EM steps, then Fisher scoring, all points at once) and compared by BIC. A point
is ``two_phase`` when two peaks explain its profile decisively better than one
(``delta_bic > min_delta_bic``), the two are resolved (centres at least ``min_separation``
times the larger width apart) and the minor one holds at least ``min_fraction`` of the
intensity. The separation test tells two phases from a continuous spread of d within the
beam footprint (a solid-solution gradient): two Gaussians fitted to a uniform spread of
any width lie at most sqrt(12) = 3.46 of their widths apart (each takes half the spread:
centres W/2 apart, widths at least W/sqrt(48)), so the default 3.5 never calls a
continuum two phases; two true phases closer than that are reported as one broadened peak.

The phase fraction of a point is the share of its integrated radial intensity in the
larger-d (smaller |Q|) phase. Where the map's summed profile shows two lattice populations
(:func:`survey_phases`) and a point's own two peaks do not stand out strongly, the share
comes from a fit of the two population peaks (centres and widths of the survey, only their
intensities free): steady at a few hundred counts per point, and close to 1 or 0 on either
side of a phase front. Where the map shows one population the fraction of a single-peak
point is undefined (NaN).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage, sparse, special

from operando.errors import ParameterError
from operando.sxdm._reduce import ROI, _dense_box, _excess_above, _masked_median
from operando.sxdm._source import FrameSource, plain_region_sums

__all__ = [
    "PhaseSurvey",
    "RadialBins",
    "decompose_phases",
    "fit_radial_peaks",
    "phase_region",
    "radial_bins",
    "radial_profiles",
    "region_background",
    "survey_phases",
]

_TWO_PI = 2.0 * np.pi
# Above this BIC gain a two-phase point's fraction comes from its own free two-peak fit, below
# from the map's two population templates. Fraction RMS on 10 x 10 LMNO maps (random fractions)
# at 3e4 / 3e2 counts per point: free fit 0.003 / 0.107, templates 0.006 / 0.068, this rule
# 0.003 / 0.068.
_STRONG_BIC = 100.0
_FIT_KEYS = ("amp1", "mu1", "sigma1", "beta1", "loglik1", "amp2", "mu2", "sigma2", "beta2", "loglik2", "delta_bic")


@dataclass(frozen=True)
class RadialBins:
    """A |Q| grid over the voxels of a region of interest.

    Attributes
    ----------
    roi : ROI
        The detector box and rocking angles the voxels lie in.
    index : (angle, det_y, det_x) ndarray of int
        Bin of each voxel of the box; -1 where unused (outside the region or masked).
    edges : (K + 1,) ndarray
        Bin edges, 1/Å.
    voxels : (K,) ndarray
        Used voxels per bin (the shape of a flat background).
    coverage : (K,) ndarray
        Used voxels over the region's voxels per bin (1 where the pixel mask takes none).
    """

    roi: ROI
    index: NDArray[np.intp]
    edges: NDArray[np.float64]
    voxels: NDArray[np.float64]
    coverage: NDArray[np.float64]

    @property
    def centres(self) -> NDArray[np.float64]:
        """(K,) bin centres, 1/Å."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    @property
    def width(self) -> float:
        """Bin width, 1/Å."""
        return float(self.edges[1] - self.edges[0])

    def matrices(self) -> list[sparse.csr_array]:
        """Per angle, the (K, det_y * det_x) 0/1 matrix that sums a box frame's pixels into bins."""
        n_bins = len(self.edges) - 1
        out = []
        for idx in self.index.reshape(len(self.index), -1):
            pix = np.flatnonzero(idx >= 0)
            out.append(
                sparse.csr_array((np.ones(pix.size), (idx[pix], pix)), shape=(n_bins, idx.size), dtype=np.float64)
            )
        return out


@dataclass(frozen=True)
class PhaseSurvey:
    """Lattice populations of a whole map, from its summed radial profile.

    Attributes
    ----------
    two_populations : bool
        Two resolved peaks (two maxima with a valley) explain the summed profile.
    q_centres : (n,) ndarray
        |Q| of each population, ascending (the larger d first), 1/Å; n = 2 when
        ``two_populations`` else 1.
    q_widths : (n,) ndarray
        Their standard deviations along |Q|, 1/Å.
    fractions : (n,) ndarray
        Share of the integrated intensity.
    delta_bic : float
        BIC of one peak minus BIC of two (positive: two explain the profile better).
    reason : str
        Why the survey decided as it did, in one sentence.
    """

    two_populations: bool
    q_centres: NDArray[np.float64]
    q_widths: NDArray[np.float64]
    fractions: NDArray[np.float64]
    delta_bic: float
    reason: str

    @property
    def d_spacings_A(self) -> NDArray[np.float64]:
        """``2 pi / q_centres``, Å (descending)."""
        return np.asarray(_TWO_PI / self.q_centres)


def phase_region(
    summed: ArrayLike,
    *,
    valid: ArrayLike | None = None,
    threshold: float = 1e-3,
    grow: tuple[int, int, int] = (1, 3, 3),
) -> tuple[ROI, NDArray[np.bool_]]:
    """Every voxel where any point of the map diffracts: the support of the summed frames.

    Unlike :func:`operando.sxdm.find_roi` (which keeps regions reaching a fifth of the
    strongest, the main peak) a weak second phase is kept: the smoothed excess over the
    background (the median; below one count, the mean of the voxels not ten sigma above it) must
    pass five times its Poisson noise and ``threshold`` times its maximum, the connected
    regions so found are kept when their summed excess reaches ``threshold`` times the
    strongest region's, and the support is grown by ``grow`` (angles, rows, columns) to
    take in the peaks' tails.

    On ID01-like frames (10 ms, 99.5 % of pixels zero) the median is 0 while the mean is
    0.4 counts, and a Maxipix's wide edge pixels hold 2-3x that: without the mean and the
    regions' flux, stray voxels lit all over the detector and the box spanned every pixel and
    angle (about 2 s of CPU and 190 MB of Q per 516^2 x 30-angle map of 20 x 20 points).

    Parameters
    ----------
    summed : (angle, det_y, det_x) array_like
        Frames summed over the points of the map (counts).
    valid : (det_y, det_x) array_like of bool, optional
        Usable pixels (neither masked nor hot).
    threshold : float
        Fraction of the maximum smoothed excess.
    grow : (int, int, int)
        Dilation of the support, in angles, rows and columns.

    Returns
    -------
    roi : ROI
        Bounding box of the support.
    inside : (angle, det_y, det_x) ndarray of bool
        The support within the box (masked pixels included: :func:`radial_bins` counts
        them for the coverage).

    Examples
    --------
    >>> s = np.full((5, 20, 20), 10.0); s[2, 5:8, 9:11] += 500.0; s[3, 14, 4] += 300.0
    >>> roi, inside = phase_region(s, grow=(0, 1, 1))
    >>> roi, inside.shape
    (ROI(angles=(2, 4), det_y=(3, 17), det_x=(2, 13)), (2, 14, 11))
    """
    s = np.asarray(summed, dtype=np.float64)
    if s.ndim != 3:
        raise ParameterError(f"summed frames must be (angle, det_y, det_x), got shape {s.shape}")
    ok = np.ones(s.shape[1:], dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if ok.shape != s.shape[1:] or not ok.any():
        raise ParameterError(f"valid must be a (det_y, det_x) mask with usable pixels, got shape {ok.shape}")
    # frame by frame, without copies of the 64 MB stack (the same values as np.median(s[:, ok])
    # and a uniform filter of np.where(ok, s - base, 0): ~0.6 s less on 30 x 516^2 voxels)
    base = _masked_median(s, ok)
    if base < 1.0:  # sparse frames: the median is 0 while the mean is not (counts far above it left out: peaks)
        cols = np.flatnonzero(ok)  # the valid voxels, a frame at a time (no copy of all of them)
        mean = float(_valid_total(s, cols) / (len(s) * cols.size))
        cut = mean + 10.0 * np.sqrt(mean + 1.0)
        below = [_sum_count(f[cols], cut) for f in s.reshape(len(s), -1)]
        base = float(sum(b[0] for b in below) / sum(b[1] for b in below))
    noise = np.sqrt(max(base, 0.0) + 1.0) / 3.0  # Poisson noise of a 3 x 3 mean of the background
    peak, idx, val = _excess_above(s, base, ok, 5.0 * noise)
    if not peak > 5.0 * noise:
        raise ParameterError("no Bragg peak above the background in the summed frames")
    above = val > max(threshold * peak, 5.0 * noise)
    # the rest works in the lit voxels' box grown by ``grow`` (the same labels, flux and dilation
    # inside it, nothing outside): 30 x 516^2 voxels with ~5000 lit took 0.14 s over the whole stack
    box, lit, excess = _dense_box(idx[above], val[above], s.shape, grow)
    labels, n = ndimage.label(lit)
    if n > 1:  # stray voxels of a sparse background: keep the regions that carry signal
        # one bincount over the lit voxels (their excess is positive; sum_labels with every label
        # took ~0.24 s on 30 x 516^2 voxels)
        flux = np.bincount(labels[lit], weights=excess[lit], minlength=n + 1)[1:]
        keep = np.zeros(n + 1, dtype=bool)
        keep[1:] = flux >= threshold * flux.max()
        lit = keep[labels]
    # a box dilation, as a separable maximum filter (~10x faster than binary_dilation's loop)
    lit = ndimage.maximum_filter(lit.view(np.uint8), size=[2 * g + 1 for g in grow], mode="constant") > 0
    roi = ROI(*((b.start + lo, b.start + hi) for b, (lo, hi) in zip(box, _bounds(lit), strict=True)))
    spans = (roi.angles, roi.det_y, roi.det_x)
    return roi, lit[tuple(slice(lo - b.start, hi - b.start) for b, (lo, hi) in zip(box, spans, strict=True))]


def _bounds(mask: NDArray[np.bool_]) -> tuple[tuple[int, int], ...]:
    """Half-open bounds of the true voxels of a 3D mask along each axis (it holds one).

    Examples
    --------
    >>> m = np.zeros((3, 4, 5), bool); m[1, 2, 1] = m[2, 2, 3] = True
    >>> _bounds(m)
    ((1, 3), (2, 3), (1, 4))
    """
    out = []
    for axis in range(3):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        out.append((int(hit[0]), int(hit[-1]) + 1))
    return tuple(out)


def region_background(
    summed: ArrayLike, roi: ROI, inside: ArrayLike, *, valid: ArrayLike | None = None, n_points: int = 1
) -> float:
    """Mean counts per voxel and point outside a region (the flat background of the profiles).

    Parameters
    ----------
    summed : (angle, det_y, det_x) array_like
        Frames summed over ``n_points`` points.
    roi, inside
        The region, as :func:`phase_region` gives it.
    valid : (det_y, det_x) array_like of bool, optional
        Usable pixels.
    n_points : int
        Points summed.

    Returns
    -------
    float

    Examples
    --------
    >>> s = np.full((2, 6, 6), 4.0); s[:, 2:4, 2:4] = 100.0
    >>> inside = np.ones((2, 2, 2), dtype=bool)
    >>> region_background(s, ROI((0, 2), (2, 4), (2, 4)), inside, n_points=2)
    2.0
    """
    s = np.asarray(summed, dtype=np.float64)
    ok = np.ones(s.shape[1:], dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    # the valid voxels' sum less the region's (no 64 MB mask and copy of a 30 x 516^2 stack)
    region = np.asarray(inside, dtype=bool) & ok[roi.slices[1:]][None]
    count = len(s) * int(np.count_nonzero(ok)) - int(np.count_nonzero(region))
    if count <= 0:
        raise ParameterError("the region covers every valid voxel: no background estimate possible")
    total = _valid_total(s, np.flatnonzero(ok))
    return (total - float(s[roi.slices][region].sum())) / count / n_points


def _sum_count(v: NDArray[np.float64], cut: float) -> tuple[float, int]:
    """Sum and number of the values of ``v`` at or below ``cut`` (one comparison).

    Examples
    --------
    >>> _sum_count(np.array([1.0, 5.0, 2.0]), 2.0)
    (3.0, 2)
    """
    kept = v[v <= cut]
    return float(kept.sum()), int(kept.size)


def _valid_total(s: NDArray[np.float64], cols: NDArray[np.intp]) -> float:
    """Sum of a stack ``(angle, det_y, det_x)`` over the flat pixels ``cols`` of every frame,
    a frame at a time (in the cache; no copy of all the selected voxels).

    Examples
    --------
    >>> _valid_total(np.arange(8.0).reshape(2, 2, 2), np.array([0, 3]))
    14.0
    """
    return sum(float(frame[cols].sum()) for frame in s.reshape(len(s), -1))


def radial_bins(
    q_abs: ArrayLike,
    *,
    roi: ROI,
    inside: ArrayLike | None = None,
    valid: ArrayLike | None = None,
    bin_width: float | None = None,
) -> RadialBins:
    """The |Q| grid of a region and the bin of each of its voxels.

    Parameters
    ----------
    q_abs : (angle, det_y, det_x) array_like
        |Q| of each voxel of the region's box, 1/Å.
    roi : ROI
        The box (recorded with the bins).
    inside : (angle, det_y, det_x) array_like of bool, optional
        Voxels of the region within the box (e.g. from :func:`phase_region`); all by default.
    valid : (det_y, det_x) or (angle, det_y, det_x) array_like of bool, optional
        Usable voxels of the box (pixel mask and hot pixels removed).
    bin_width : float, optional
        1/Å; by default the radial pitch of one detector pixel (the median |Q| step
        between neighbouring pixels), the finest grid the voxels sample evenly.

    Returns
    -------
    RadialBins

    Examples
    --------
    >>> q = np.broadcast_to(np.linspace(3.0, 3.011, 12)[None, :, None], (2, 12, 3))
    >>> b = radial_bins(q, roi=ROI((0, 2), (0, 12), (0, 3)))
    >>> len(b.centres), round(b.width, 6), b.voxels.tolist()[:3]
    (12, 0.001, [6.0, 6.0, 6.0])
    """
    qa = np.asarray(q_abs, dtype=np.float64)
    want = tuple(b - a for a, b in (roi.angles, roi.det_y, roi.det_x))
    if qa.shape != want:
        raise ParameterError(f"q_abs has shape {qa.shape}, expected {want} for {roi}")
    region = np.ones(qa.shape, dtype=bool) if inside is None else np.asarray(inside, dtype=bool)
    use = region.copy()
    if valid is not None:
        use &= np.broadcast_to(np.asarray(valid, dtype=bool), qa.shape)
    if not use.any():
        raise ParameterError("no usable voxel in the region of interest")
    if bin_width is None:
        steps = [np.abs(np.diff(qa, axis=ax)) for ax in (1, 2) if qa.shape[ax] > 1]
        pitch = max((float(np.median(s)) for s in steps), default=0.0)
        if not pitch > 0:
            raise ParameterError("|Q| does not vary across the detector box: give bin_width")
        bin_width = pitch
    if not bin_width > 0:
        raise ParameterError(f"bin_width must be positive, got {bin_width}")
    lo, hi = float(qa[use].min()), float(qa[use].max())
    n_bins = int(np.floor((hi - lo) / bin_width + 1e-9)) + 1  # the extreme voxels half a bin inside
    if n_bins > 4000:
        raise ParameterError(f"{n_bins} radial bins of {bin_width:.3g} 1/Å: give a wider bin_width")
    centre = 0.5 * (lo + hi)
    edges = np.asarray(centre + (np.arange(n_bins + 1) - n_bins / 2) * bin_width, dtype=np.float64)
    k = np.clip(np.searchsorted(edges, qa, side="right") - 1, 0, n_bins - 1)
    index = np.where(use, k, -1).astype(np.intp)
    voxels = np.bincount(index[use], minlength=n_bins).astype(np.float64)
    every = np.bincount(k[region], minlength=n_bins).astype(np.float64)
    coverage = np.divide(voxels, every, out=np.zeros(n_bins), where=every > 0)
    return RadialBins(roi=roi, index=index, edges=edges, voxels=voxels, coverage=coverage)


def _angle_profile(a: int, frames: NDArray[Any], *, mats: list[sparse.csr_array]) -> NDArray[np.float64]:
    """Box frames ``(points, det_y, det_x)`` of the region's angle ``a`` -> ``(points, K)`` radial sums."""
    f = np.asarray(frames, dtype=np.float64).reshape(len(frames), -1)
    return np.asarray((mats[a] @ f.T).T)


def radial_profiles(frames: Any, bins: RadialBins) -> Any:
    """The radial profile of every scan point: its counts summed per |Q| bin.

    One pass over the region's frames, block by block (one task per chunk of the
    frames: memory holds a few blocks whatever the map size); a frame source's own
    ``region_sums`` is used (the Bliss reader reduces while it decompresses).

    Parameters
    ----------
    frames : (angle, y, x, det_y, det_x) ndarray or dask.array, or FrameSource
        Counts.
    bins : RadialBins
        From :func:`radial_bins` on the box of the same frames.

    Returns
    -------
    (y, x, K) dask.array of float64
        Counts per bin (lazy).

    Examples
    --------
    >>> f = np.ones((2, 1, 3, 4, 4), dtype=np.int32)
    >>> q = np.broadcast_to(np.linspace(3.0, 3.003, 4)[None, :, None], (2, 4, 4))
    >>> b = radial_bins(q, roi=ROI((0, 2), (0, 4), (0, 4)))
    >>> radial_profiles(f, b).compute()[0, 0].tolist()
    [8.0, 8.0, 8.0, 8.0]
    """
    mats = bins.matrices()
    angle_sums = partial(_angle_profile, mats=mats)
    n_bins = len(bins.edges) - 1
    if isinstance(frames, FrameSource):
        return frames.region_sums(bins.roi, angle_sums, n_sums=n_bins)
    return plain_region_sums(frames, bins.roi, angle_sums, n_sums=n_bins)


def _moments(w: NDArray[np.float64], x: NDArray[np.float64], h: float) -> tuple[NDArray[np.float64], ...]:
    """Sum, mean and bin-corrected standard deviation of weights ``w`` (..., K) on centres ``x``."""
    s = w.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = (w * x).sum(-1) / s
        var = (w * (x - mu[..., None]) ** 2).sum(-1) / s - h * h / 12.0  # Sheppard's correction
    return s, mu, np.sqrt(np.clip(var, (h / 2.0) ** 2, None))


def _em(
    y: NDArray[np.float64],
    bins: RadialBins,
    x: NDArray[np.float64],
    amp: NDArray[np.float64],
    mu: NDArray[np.float64],
    sig: NDArray[np.float64],
    beta: NDArray[np.float64],
    *,
    max_iter: int,
    tol: float,
    fit_background: bool = False,
) -> tuple[NDArray[np.float64], ...]:
    """Poisson maximum likelihood of background + C Gaussians by EM, for P profiles at once.

    Hand-written rather than one ``scipy.optimize`` call per point: the updates are
    closed-form and vectorise over the points (a per-point Nelder-Mead on the same
    likelihood, as in the tests, takes ~0.3 s per profile). Used for the first steps
    from the moments of the profile; :func:`_scoring` finishes.
    Intensities and the background are exact EM updates; centres and widths are the
    weighted moments on the bin centres (widths with Sheppard's correction).

    Shapes: ``y`` (P, K); ``amp, mu, sig`` (P, C); ``beta`` (P,). Returns the fitted
    ``amp, mu, sig, beta`` and the log-likelihood (P,) (without the ``log y!`` constant).
    """
    h = bins.width
    edges = bins.edges - x.mean()
    xc = x - x.mean()
    n, cov = bins.voxels, bins.coverage
    span = float(bins.edges[-1] - bins.edges[0])
    mu = mu - x.mean()
    amp, sig, beta = amp.copy(), sig.copy(), beta.copy()
    ll = np.full(len(y), -np.inf)
    active = np.arange(len(y))
    tiny = 1e-12
    for _ in range(max_iter):
        if not active.size:
            break
        ya, m, s, a, b = y[active], mu[active], sig[active], amp[active], beta[active]
        pc = np.diff(special.ndtr((edges - m[..., None]) / s[..., None]), axis=-1) * cov
        comp = a[..., None] * pc
        bg = b[:, None] * n
        lam = bg + comp.sum(1) + tiny
        new_ll = (ya * np.log(lam) - lam).sum(-1)
        ratio = ya / lam
        wc = comp * ratio[:, None, :]
        norm = pc.sum(-1)
        a_new = np.divide(wc.sum(-1), norm, out=np.zeros_like(a), where=norm > 0)
        b_new = (bg * ratio).sum(-1) / n.sum() if fit_background else b
        tot, m_new, s_new = _moments(wc, xc, h)
        keep = tot > tiny
        mu[active] = np.clip(np.where(keep, m_new, m), xc[0] - span, xc[-1] + span)
        sig[active] = np.clip(np.where(keep, s_new, s), None, span)
        amp[active], beta[active] = a_new, b_new
        done = np.abs(new_ll - ll[active]) <= tol * np.maximum(1.0, np.abs(new_ll))
        ll[active] = new_ll
        active = active[~done]
    # the log-likelihood at the final parameters
    p = np.diff(special.ndtr((edges - mu[..., None]) / sig[..., None]), axis=-1)
    lam = beta[:, None] * n + (amp[..., None] * p * cov).sum(1) + tiny
    ll = (y * np.log(lam) - lam).sum(-1)
    return amp, mu + x.mean(), sig, beta, ll


def _binned(
    bins: RadialBins,
    amp: NDArray[np.float64],
    mu: NDArray[np.float64],
    sig: NDArray[np.float64],
    beta: NDArray[np.float64],
    *,
    jacobian: bool = False,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Expected counts ``(P, K)`` of background + C binned Gaussians (``mu`` relative to the
    first edge), and optionally their derivatives ``(P, 1 + 3 C, K)`` by ``beta, amp, mu, sig``."""
    e = bins.edges - bins.edges[0]
    u = (e - mu[..., None]) / sig[..., None]  # (P, C, K + 1)
    p = np.diff(special.ndtr(u), axis=-1) * bins.coverage
    lam = beta[:, None] * bins.voxels + (amp[..., None] * p).sum(1) + 1e-12
    if not jacobian:
        return lam, None
    phi = np.exp(-0.5 * u * u) / np.sqrt(2.0 * np.pi)
    scale = -(amp / sig)[..., None] * bins.coverage
    d_mu = np.diff(phi, axis=-1) * scale
    d_sig = np.diff(u * phi, axis=-1) * scale
    d_beta = np.broadcast_to(bins.voxels, (len(lam), 1, len(bins.voxels)))
    return lam, np.concatenate([d_beta, p, d_mu, d_sig], axis=1)


def _scoring(
    y: NDArray[np.float64],
    bins: RadialBins,
    amp: NDArray[np.float64],
    mu: NDArray[np.float64],
    sig: NDArray[np.float64],
    beta: NDArray[np.float64],
    *,
    max_iter: int,
    tol: float = 1e-2,
    fit_background: bool = False,
) -> tuple[NDArray[np.float64], ...]:
    """Exact binned Poisson maximum likelihood, from an EM start: Fisher scoring with
    Levenberg-Marquardt damping, all points at once (batched 7 x 7 solves).

    EM alone crawls where a peak is weak or two overlap (300 iterations, ~16 ms per point
    of 240 bins on this loaded 2-core machine, and not converged everywhere); 15 EM steps
    then scoring: ~4 ms per point, most points done in under 20 steps.
    Returns ``amp, mu, sig, beta`` (``mu`` absolute, 1/Å) and the log-likelihood (P,).
    """
    n_c = amp.shape[1]
    x0 = bins.edges[0]
    theta = np.concatenate([beta[:, None], amp, mu - x0, sig], axis=1)
    floor = 0.25 * bins.width
    span = float(bins.edges[-1] - bins.edges[0])

    def unpack(t: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
        return t[:, 1 : 1 + n_c], t[:, 1 + n_c : 1 + 2 * n_c], t[:, 1 + 2 * n_c :], t[:, 0]

    def loglik(lam: NDArray[np.float64], yy: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray((yy * np.log(lam) - lam).sum(-1))

    a, m, s, b = unpack(theta)
    ll = loglik(_binned(bins, a, m, s, b)[0], y)
    damp = np.full(len(y), 1e-3)
    active = np.flatnonzero(np.isfinite(theta).all(1))
    for _ in range(max_iter):
        if not active.size:
            break
        t, yy = theta[active], y[active]
        a, m, s, b = unpack(t)
        lam, jac = _binned(bins, a, m, s, b, jacobian=True)
        assert jac is not None
        if not fit_background:
            jac = jac.copy()
            jac[:, 0] = 0.0  # its diagonal is set to 1 below: no step
        fisher = np.einsum("pik,pk,pjk->pij", jac, 1.0 / lam, jac)
        score = np.einsum("pik,pk->pi", jac, yy / lam - 1.0)
        diag = np.diagonal(fisher, axis1=1, axis2=2).copy()
        diag[diag <= 0] = 1.0  # a dead component: its centre and width stay put
        lhs = fisher + (damp[active, None] * diag)[..., None] * np.eye(t.shape[1])
        lhs[:, np.arange(t.shape[1]), np.arange(t.shape[1])] += 1e-12 * diag
        step = np.linalg.solve(lhs, score[..., None])[..., 0]
        trial = t + step
        # intensities stay positive: at most 90 % of the way to zero per step (a clip to zero
        # would strand a peak there, its centre and width no longer seen by the likelihood)
        trial[:, : 1 + n_c] = np.maximum(trial[:, : 1 + n_c], 0.1 * t[:, : 1 + n_c])
        trial[:, 1 + 2 * n_c :] = np.clip(trial[:, 1 + 2 * n_c :], floor, span)
        # a centre stays within a span of the grid: beyond, a peak is a flat offset, not a lattice
        trial[:, 1 + n_c : 1 + 2 * n_c] = np.clip(trial[:, 1 + n_c : 1 + 2 * n_c], -span, 2.0 * span)
        ta, tm, ts, tb = unpack(trial)
        new = loglik(_binned(bins, ta, tm, ts, tb)[0], yy)
        better = np.isfinite(new) & (new >= ll[active])
        gain = np.where(better, new - ll[active], 0.0)
        theta[active] = np.where(better[:, None], trial, t)
        ll[active] = np.where(better, new, ll[active])
        damp[active] = np.where(better, damp[active] / 3.0, damp[active] * 10.0)
        done = (better & (gain < tol)) | (damp[active] > 1e6)
        active = active[~done]
    a, m, s, b = unpack(theta)
    return a, m + x0, s, b, ll


def _smoothed_net(y: NDArray[np.float64], bins: RadialBins, beta0: NDArray[np.float64]) -> NDArray[np.float64]:
    """Net counts ``(P, K)`` above the background, smoothed over about one bin (bins without
    voxels hold none: a gap in the region reads as a valley)."""
    net = np.clip(y - beta0[:, None] * bins.voxels, 0.0, None)
    return np.asarray(ndimage.gaussian_filter1d(net, 1.0, axis=-1, mode="constant"))


def _mode_window(smooth: NDArray[np.float64], level: float = 0.1) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """Per profile the bin of the highest smoothed count and the contiguous bins around it
    above ``level`` times that count: ``(P,)`` indices and a ``(P, K)`` mask."""
    k = np.argmax(smooth, axis=-1)
    top = np.take_along_axis(smooth, k[:, None], -1)
    below = smooth < level * top
    idx = np.arange(smooth.shape[-1])[None, :]
    left = np.where(below & (idx < k[:, None]), idx, -1).max(-1)
    right = np.where(below & (idx > k[:, None]), idx, smooth.shape[-1]).min(-1)
    return k, (idx > left[:, None]) & (idx < right[:, None])


def _init_one(y: NDArray[np.float64], bins: RadialBins, beta0: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    """One peak per profile: the moments of the net profile (counts above ``beta0`` per voxel),
    or, where their centre falls in a valley (two maxima, or a gap of the region between
    two peaks, whose moments centre on the empty middle), the moments of the highest maximum's
    own bins (a start in the valley sends the fit to a flat peak far off the grid)."""
    net = np.clip(y - beta0[:, None] * bins.voxels, 0.0, None)
    tot, mu, sig = _moments(net, bins.centres, bins.width)
    smooth = _smoothed_net(y, bins, beta0)
    k, window = _mode_window(smooth)
    at_mu = np.clip(np.searchsorted(bins.centres, np.nan_to_num(mu)), 0, len(bins.centres) - 1)
    top = np.take_along_axis(smooth, k[:, None], -1)[:, 0]
    valley = np.take_along_axis(smooth, at_mu[:, None], -1)[:, 0] < 0.5 * top
    if valley.any():
        _, mu_w, sig_w = _moments(np.where(window, net, 0.0)[valley], bins.centres, bins.width)
        ok = np.isfinite(mu_w) & np.isfinite(sig_w)
        mu[valley] = np.where(ok, mu_w, mu[valley])
        sig[valley] = np.where(ok, sig_w, sig[valley])
    return tot[:, None], mu[:, None], sig[:, None]


def _valley_split(y: NDArray[np.float64], bins: RadialBins, beta0: NDArray[np.float64]) -> NDArray[np.float64]:
    """Where to split a profile between two maxima: ``(P,)`` |Q| (1/Å) of the lowest point
    between the highest maximum and the most prominent other one, NaN where no other
    maximum rises clearly above the noise (by more than 4 Poisson sigma of the smoothed
    counts and 2 % of the highest).

    Examples
    --------
    >>> q = np.broadcast_to(np.linspace(3.0, 3.06, 61)[None, :, None], (1, 61, 1))
    >>> b = radial_bins(q, roi=ROI((0, 1), (0, 61), (0, 1)))
    >>> g = lambda c: np.exp(-0.5 * ((b.centres - c) / 2e-3) ** 2)
    >>> y = 1e3 * g(3.015) + 300 * g(3.04)
    >>> np.round(_valley_split(y[None], b, np.zeros(1)), 3).tolist()
    [3.028]
    """
    smooth = _smoothed_net(y, bins, beta0)
    n_k = smooth.shape[-1]
    k, _ = _mode_window(smooth)
    idx = np.arange(n_k)[None, :]
    # lowest smoothed count between the highest maximum and each bin, outward on either side
    right = np.where(idx >= k[:, None], smooth, np.inf)
    right = np.minimum.accumulate(np.where(idx >= k[:, None], right, np.take_along_axis(smooth, k[:, None], -1)), -1)
    left = np.where(idx <= k[:, None], smooth, np.inf)[:, ::-1]
    left = np.minimum.accumulate(
        np.where(idx[:, ::-1] <= k[:, None], left, np.take_along_axis(smooth, k[:, None], -1)), -1
    )[:, ::-1]
    floor = np.where(idx >= k[:, None], right, left)
    prominence = smooth - floor
    j = np.argmax(prominence, axis=-1)
    prom = np.take_along_axis(prominence, j[:, None], -1)[:, 0]
    top = np.take_along_axis(smooth, k[:, None], -1)[:, 0]
    level = beta0 * float(np.median(bins.voxels[bins.voxels > 0])) if (bins.voxels > 0).any() else beta0
    noise = np.sqrt(np.maximum(np.take_along_axis(floor, j[:, None], -1)[:, 0] + level, 1.0) / 2.5)
    clear = (prom > 4.0 * noise) & (prom > 0.02 * top)
    # the lowest point between the two maxima (the middle of a flat, empty stretch)
    lo, hi = np.minimum(j, k), np.maximum(j, k)
    between = (idx >= lo[:, None]) & (idx <= hi[:, None])
    vals = np.where(between, smooth, np.inf)
    low = vals <= vals.min(-1, keepdims=True)
    centre = (low * bins.centres).sum(-1) / np.maximum(low.sum(-1), 1)
    return np.asarray(np.where(clear, centre, np.nan))


def _init_two(
    y: NDArray[np.float64], bins: RadialBins, beta0: NDArray[np.float64], split: NDArray[np.float64]
) -> tuple[NDArray[np.float64], ...]:
    """Two peaks per profile: the moments of the net profile on either side of ``split`` (P,)."""
    x = bins.centres
    net = np.clip(y - beta0[:, None] * bins.voxels, 0.0, None)
    left = x[None, :] < split[:, None]
    parts = [_moments(np.where(side, net, 0.0), x, bins.width) for side in (left, ~left)]
    tot = np.stack([p[0] for p in parts], -1)
    mu = np.stack([p[1] for p in parts], -1)
    sig = np.stack([p[2] for p in parts], -1)
    # an empty side: a small peak at the split, as wide as the other side's
    empty = ~(tot > 0) | ~np.isfinite(mu)
    mu = np.where(empty, split[:, None], mu)
    sig = np.where(empty, np.nanmax(np.where(empty, np.nan, sig), axis=-1, keepdims=True), sig)
    sig = np.where(np.isfinite(sig), sig, bins.width)
    tot = np.where(empty, 1e-3 * np.nansum(tot, -1, keepdims=True) + 1.0, tot)
    return tot, mu, sig


def _init_residual(
    y: NDArray[np.float64],
    bins: RadialBins,
    a1: NDArray[np.float64],
    m1: NDArray[np.float64],
    s1: NDArray[np.float64],
    b1: NDArray[np.float64],
) -> tuple[NDArray[np.float64], ...]:
    """Two peaks per profile: the fitted one, and one as wide at the maximum of the counts it
    leaves unexplained (smoothed over its width), holding the positive residual there."""
    x = bins.centres
    lam, _ = _binned(bins, a1, m1 - bins.edges[0], s1, b1)
    resid = y - lam
    width = np.nanmedian(s1[:, 0]) / bins.width
    smooth = ndimage.gaussian_filter1d(resid, sigma=max(float(width), 0.5) if np.isfinite(width) else 1.0, axis=-1)
    k = np.argmax(smooth, axis=-1)
    m2 = x[k]
    near = np.abs(x[None, :] - m2[:, None]) <= 2.0 * s1
    a2 = np.maximum(np.where(near, resid, 0.0).sum(-1), 1.0)
    amp = np.stack([a1[:, 0], a2], -1)
    mu = np.stack([m1[:, 0], m2], -1)
    sig = np.concatenate([s1, s1], -1)
    ok = np.isfinite(mu).all(-1) & np.isfinite(sig).all(-1)
    mu = np.where(ok[:, None], mu, x.mean())
    sig = np.where(ok[:, None], sig, bins.width)
    return np.where(np.isfinite(amp), amp, 1.0), mu, sig


def _fit_block(
    y: NDArray[np.float64],
    bins: RadialBins,
    beta0: NDArray[np.float64],
    ref: NDArray[np.float64] | None,
    *,
    fit_background: bool,
    em_steps: int,
    max_iter: int,
    tol: float,
) -> dict[str, NDArray[np.float64]]:
    """:func:`fit_radial_peaks` of a block of profiles ``(P, K)``."""
    a1, m1, s1 = _init_one(y, bins, beta0)
    a1, m1, s1, b1, _ = _em(
        y, bins, bins.centres, a1, m1, s1, beta0, max_iter=em_steps, tol=tol, fit_background=fit_background
    )
    a1, m1, s1, b1, ll1 = _scoring(y, bins, a1, m1, s1, b1, max_iter=max_iter, fit_background=fit_background)
    if ref is not None:
        starts = [_init_two(y, bins, beta0, np.full(len(y), ref.mean()))]
    else:  # no populations known: split at the one peak, and a second peak where it leaves most unexplained
        # between two maxima where the profile shows two; else at the fitted peak
        split = _valley_split(y, bins, beta0)
        split = np.where(np.isfinite(split), split, m1[:, 0])
        split = np.where(np.isfinite(split), split, bins.centres.mean())
        starts = [_init_two(y, bins, beta0, split), _init_residual(y, bins, a1, m1, s1, b1)]
    best: tuple[NDArray[np.float64], ...] | None = None
    for a2, m2, s2 in starts:
        a2, m2, s2, b2, _ = _em(
            y, bins, bins.centres, a2, m2, s2, b1.copy(), max_iter=em_steps, tol=tol, fit_background=fit_background
        )
        found = _scoring(y, bins, a2, m2, s2, b2, max_iter=max_iter, fit_background=fit_background)
        if best is None:
            best = found
        else:
            better = found[4] > best[4]
            best = tuple(
                np.where(better.reshape(-1, *([1] * (v.ndim - 1))), v, w) for v, w in zip(found, best, strict=True)
            )
    assert best is not None
    a2, m2, s2, b2, ll2 = best
    order = np.argsort(m2, axis=-1)
    a2, m2, s2 = (np.take_along_axis(v, order, -1) for v in (a2, m2, s2))
    n_used = max(int((bins.voxels > 0).sum()), 2)
    delta_bic = 2.0 * (ll2 - ll1) - 3.0 * np.log(n_used)
    return {
        "amp1": a1,
        "mu1": m1,
        "sigma1": s1,
        "beta1": b1,
        "loglik1": ll1,
        "amp2": a2,
        "mu2": m2,
        "sigma2": s2,
        "beta2": b2,
        "loglik2": ll2,
        "delta_bic": delta_bic,
    }


def fit_radial_peaks(
    profiles: ArrayLike,
    bins: RadialBins,
    *,
    background: float | ArrayLike | None = None,
    references: ArrayLike | None = None,
    fit_background: bool = False,
    em_steps: int = 15,
    max_iter: int = 50,
    tol: float = 1e-9,
    block: int = 2048,
) -> dict[str, NDArray[np.float64]]:
    """One- and two-peak Poisson fits of radial profiles, and the BIC that compares them.

    Parameters
    ----------
    profiles : (..., K) array_like
        Counts per |Q| bin (from :func:`radial_profiles`).
    bins : RadialBins
        Their grid.
    background : float or (...) array_like, optional
        Background, counts per voxel (e.g. the mean outside the region, per point); by
        default the mean of the outer fifth of the bins.
    fit_background : bool
        Fit the background level too (from ``background``). Off by default: a free flat
        background, whose shape along |Q| is the region's voxel count (a broad hump),
        absorbs the envelope of two separated peaks and leaves one peak a spike.
    references : (2,) array_like, optional
        |Q| of two populations (1/Å, e.g. :attr:`PhaseSurvey.q_centres`): the two-peak fit
        starts from the profile split halfway between them; by default at the one-peak centre.
    em_steps, max_iter, tol : int, int, float
        EM iterations (from the moments of the profile to the basin of the optimum; a
        profile whose log-likelihood changes by less than ``tol`` relative stops early),
        then at most ``max_iter`` Fisher-scoring steps to the exact binned optimum.
    block : int
        Profiles fitted at once (memory: ~60 bytes x 7 x bins per profile).

    Returns
    -------
    dict of (...) or (..., n) ndarrays
        ``amp1, mu1, sigma1`` (one peak; shape (..., 1)), ``amp2, mu2, sigma2`` (two peaks,
        ascending ``mu``; shape (..., 2)): integrated counts, centre and standard deviation
        along |Q| (1/Å); ``beta1, beta2`` background counts per voxel; ``loglik1, loglik2``;
        ``delta_bic`` = BIC(one) - BIC(two).

    Examples
    --------
    >>> q = np.broadcast_to(np.linspace(3.0, 3.06, 121)[None, :, None], (1, 121, 1))
    >>> b = radial_bins(q, roi=ROI((0, 1), (0, 121), (0, 1)))
    >>> x = b.centres
    >>> lam = 2.0 + 4000 * b.width * (np.exp(-0.5 * ((x - 3.02) / 2e-3) ** 2) / (2e-3 * np.sqrt(2 * np.pi)))
    >>> lam = lam + 2000 * b.width * np.exp(-0.5 * ((x - 3.04) / 2e-3) ** 2) / (2e-3 * np.sqrt(2 * np.pi))
    >>> fit = fit_radial_peaks(np.random.default_rng(0).poisson(lam), b)
    >>> np.round(fit["mu2"], 3).tolist(), bool(fit["delta_bic"] > 100)
    ([3.02, 3.04], True)
    """
    y = np.asarray(profiles, dtype=np.float64)
    n_bins = len(bins.edges) - 1
    if y.shape[-1:] != (n_bins,):
        raise ParameterError(f"profiles end in {y.shape[-1:]} bins, the grid has {n_bins}")
    lead = y.shape[:-1]
    y = y.reshape(-1, n_bins)
    if background is None:
        k = max(1, n_bins // 10)
        tails = np.r_[0:k, n_bins - k : n_bins]
        beta0 = y[:, tails].sum(-1) / max(bins.voxels[tails].sum(), 1.0)
    else:
        beta0 = np.broadcast_to(np.asarray(background, dtype=np.float64), lead).reshape(-1).copy()
    ref = None
    if references is not None:
        ref = np.sort(np.asarray(references, dtype=np.float64).reshape(-1))
        if ref.shape != (2,) or not np.isfinite(ref).all():
            raise ParameterError(f"references must be two finite |Q| values, got {references!r}")
    # blocks of profiles: the Jacobians are (P, 7, K) float64 (~140 MB for 10 000 points of 250 bins)
    parts = [
        _fit_block(
            y[i : i + block],
            bins,
            beta0[i : i + block],
            ref,
            fit_background=fit_background,
            em_steps=em_steps,
            max_iter=max_iter,
            tol=tol,
        )
        for i in range(0, len(y), max(1, int(block)))
    ]
    if not parts:  # no profile
        widths = {"amp1": 1, "mu1": 1, "sigma1": 1, "amp2": 2, "mu2": 2, "sigma2": 2}
        return {k: np.zeros((*lead, widths[k]) if k in widths else lead) for k in _FIT_KEYS}
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return {k: v.reshape((*lead, *v.shape[1:])) for k, v in out.items()}


def _resolved(fit: dict[str, NDArray[np.float64]], *, min_separation: float, min_fraction: float) -> NDArray[np.bool_]:
    """Two fitted peaks that are apart by ``min_separation`` widths and each hold ``min_fraction``."""
    a, m, s = fit["amp2"], fit["mu2"], fit["sigma2"]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = a / a.sum(-1, keepdims=True)
        apart = (m[..., 1] - m[..., 0]) >= min_separation * s.max(-1)
    ok = np.isfinite(a).all(-1) & np.isfinite(m).all(-1) & (a > 0).all(-1)
    return np.asarray(ok & apart & (frac.min(-1) >= min_fraction))


def _bimodal(fit: dict[str, NDArray[np.float64]], *, valley: float) -> bool:
    """The two-peak profile has a dip below ``valley`` times its lower maximum between the centres."""
    a, m, s = fit["amp2"].reshape(-1), fit["mu2"].reshape(-1), fit["sigma2"].reshape(-1)
    x = np.linspace(m[0] - s[0], m[1] + s[1], 2001)
    dens = (a[:, None] / s[:, None] * np.exp(-0.5 * ((x[None] - m[:, None]) / s[:, None]) ** 2)).sum(0)
    i0, i1 = np.searchsorted(x, m)
    left, right = dens[: i0 + 1].max(), dens[i1 - 1 :].max()
    dip = dens[i0 : i1 + 1].min()
    return bool(dip <= valley * min(left, right))


def _off_grid(
    q: NDArray[np.float64], width: NDArray[np.float64], lo: float, hi: float, *, nan: bool = True
) -> NDArray[np.bool_]:
    """Fitted peaks that cannot be a lattice seen in the |Q| range ``lo``-``hi`` (1/Å): centred
    more than two of their widths and more than the range's width beyond it, centred beyond
    it and wider than half of it (a flat offset grown from an empty middle), or wider than
    twice the range. A peak centred
    just beyond an edge is one the detector window clips, and a broad peak centred inside a
    narrow window (a window set round one phase, as in the paper) is a real population:
    neither is flagged here. NaN entries count as off the grid when ``nan``.

    Examples
    --------
    >>> _off_grid(np.array([3.10, 3.10, 3.16, 3.30, 3.81]), np.array([0.001, 0.04, 0.001, 0.001, 0.56]), 3.09, 3.14)
    array([False, False, False,  True,  True])
    """
    span = hi - lo
    with np.errstate(invalid="ignore"):
        outside = (q < lo) | (q > hi)
        far = np.maximum(2.0 * width, span)  # a clipped peak's fitted centre may sit a little beyond
        bad = (q < lo - far) | (q > hi + far) | (outside & (width > 0.5 * span)) | (width > 2.0 * span)
    return np.asarray(bad | (nan & ~(np.isfinite(q) & np.isfinite(width))))


def survey_phases(
    profile: ArrayLike,
    bins: RadialBins,
    *,
    background: float | None = None,
    min_delta_bic: float = 10.0,
    min_separation: float = 3.5,
    min_fraction: float = 0.01,
    valley: float = 0.8,
) -> PhaseSurvey:
    """Does the map hold two lattice populations? Its summed radial profile, one peak or two.

    Two populations: two peaks explain the profile decisively better than one
    (``delta_bic > min_delta_bic``), they are resolved (centres ``min_separation`` widths
    apart, each with ``min_fraction`` of the intensity) and the profile dips between them
    (below ``valley`` times the lower maximum). A solid-solution gradient broadens or
    skews the one peak but does not make a second maximum.

    Parameters
    ----------
    profile : (K,) array_like
        Counts per |Q| bin summed over the map.
    bins : RadialBins
        Its grid.
    background : float, optional
        Starting background, counts per voxel (of the sum).
    min_delta_bic, min_separation, min_fraction, valley : float
        The criteria above.

    Returns
    -------
    PhaseSurvey

    Examples
    --------
    >>> q = np.broadcast_to(np.linspace(3.0, 3.06, 121)[None, :, None], (1, 121, 1))
    >>> b = radial_bins(q, roi=ROI((0, 1), (0, 121), (0, 1)))
    >>> g = lambda c: b.width * np.exp(-0.5 * ((b.centres - c) / 2e-3) ** 2) / (2e-3 * np.sqrt(2 * np.pi))
    >>> rng = np.random.default_rng(1)
    >>> survey_phases(rng.poisson(5 + 1e5 * g(3.02) + 4e4 * g(3.04)), b).two_populations
    True
    >>> survey_phases(rng.poisson(5 + 1e5 * g(3.03)), b).two_populations
    False
    """
    y = np.asarray(profile, dtype=np.float64)
    if y.ndim != 1:
        raise ParameterError(f"the survey profile must be one-dimensional, got shape {y.shape}")
    fit = fit_radial_peaks(y[None], bins, background=None if background is None else [background])
    fit = {k: v[0] for k, v in fit.items()}
    dbic = float(fit["delta_bic"])
    resolved = bool(_resolved(fit, min_separation=min_separation, min_fraction=min_fraction))
    two = dbic > min_delta_bic and resolved and _bimodal(fit, valley=valley)
    lo, hi = float(bins.edges[0]), float(bins.edges[-1])
    a2, m2 = np.asarray(fit["amp2"], dtype=np.float64), np.asarray(fit["mu2"], dtype=np.float64)
    # a peak the window clips is skewed, and two Gaussians fit its one-sided profile with a
    # few-% "phase" beside it: below 5 % beside a clipped peak, that is no second lattice
    wing = bool(two and (~((m2 >= lo) & (m2 <= hi))).any() and a2.min() < 0.05 * a2.sum())
    two = two and not wing
    if two:
        a, m, s = fit["amp2"], fit["mu2"], fit["sigma2"]
        reason = (
            f"two lattice populations at d = {_TWO_PI / m[0]:.5f} and {_TWO_PI / m[1]:.5f} A "
            f"({a[0] / a.sum():.0%} / {a[1] / a.sum():.0%} of the intensity, delta BIC {dbic:.3g})"
        )
    else:
        a, m, s = fit["amp1"], fit["mu1"], fit["sigma1"]
        why = (
            "a second peak does not improve the fit"
            if dbic <= min_delta_bic
            else "the second peak is a clipped peak's wing"
            if wing
            else "no resolved second maximum"
        )
        reason = f"one lattice population at d = {_TWO_PI / m[0]:.5f} A ({why}, delta BIC {dbic:.3g})"
    off = _off_grid(np.asarray(m), np.asarray(s), lo, hi)
    beyond = ~((m >= lo) & (m <= hi))
    if off.any():  # a degenerate fit (a flat "peak" off the grid): never a lattice of this reflection
        bad = ", ".join(f"{_TWO_PI / v:.5f}" for v in np.asarray(m)[off])
        reason = (
            f"survey not trustworthy: its fitted peak at d = {bad} A lies far outside the measured range "
            f"(d {_TWO_PI / hi:.5f}-{_TWO_PI / lo:.5f} A) or is flat across it; taken as one unresolved population"
        )
        warnings.warn(f"phases: {reason}", stacklevel=2)
        two = False
    elif beyond.any():  # a peak the detector window (or the region) clips: its centre is extrapolated
        bad = ", ".join(f"{_TWO_PI / v:.5f}" for v in np.asarray(m)[beyond])
        reason += f"; the peak at d = {bad} A is centred beyond the measured range (clipped): its d is extrapolated"
        if two:  # only the two phases' d are used further (a one-phase map keeps its own per-point d)
            warnings.warn(f"phases: {reason}", stacklevel=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        fractions = a / a.sum()
    return PhaseSurvey(
        two_populations=two,
        q_centres=np.asarray(m, dtype=np.float64),
        q_widths=np.asarray(s, dtype=np.float64),
        fractions=np.asarray(fractions, dtype=np.float64),
        delta_bic=dbic,
        reason=reason,
    )


def _template_shares(
    y: NDArray[np.float64],
    bins: RadialBins,
    survey: PhaseSurvey,
    background: NDArray[np.float64] | None,
    *,
    n_iter: int = 60,
) -> NDArray[np.float64]:
    """Share of the first population in profiles ``(P, K)``: Poisson fit of the intensities
    only, the two peaks held at the survey's centres and widths (which include the map's
    strain spread, so a point's own shifted peak stays inside its template).

    With nothing but two amplitudes free this is steady at a few hundred counts per point,
    where the free two-peak fit wanders; EM for the amplitudes of fixed shapes is exact.
    """
    e = bins.edges
    tpl = np.stack(
        [
            np.diff(special.ndtr((e - c) / w)) * bins.coverage
            for c, w in zip(survey.q_centres, survey.q_widths, strict=True)
        ]
    )  # (2, K)
    if background is None:
        k = max(1, len(bins.voxels) // 10)
        tails = np.r_[0:k, len(bins.voxels) - k : len(bins.voxels)]
        background = y[:, tails].sum(-1) / max(bins.voxels[tails].sum(), 1.0)
    bg = np.asarray(background, dtype=np.float64).reshape(-1, 1) * bins.voxels  # (P, K)
    norm = tpl.sum(-1)  # (2,)
    amp = np.maximum(np.clip(y - bg, 0.0, None) @ tpl.T / np.maximum((tpl * tpl).sum(-1), 1e-300) * 1.0, 1e-3)
    for _ in range(n_iter):
        lam = bg + amp @ tpl + 1e-12
        amp = amp * ((y / lam) @ tpl.T) / norm
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(amp[:, 0] / amp.sum(-1))


def decompose_phases(
    profiles: ArrayLike,
    bins: RadialBins,
    *,
    survey: PhaseSurvey | None = None,
    background: float | ArrayLike | None = None,
    min_delta_bic: float = 10.0,
    min_separation: float = 3.5,
    min_fraction: float = 0.02,
    points: ArrayLike | None = None,
) -> dict[str, NDArray[Any]]:
    """Per scan point: one lattice phase or two, their fractions, d-spacings and radial widths.

    Parameters
    ----------
    profiles : (y, x, K) array_like
        Radial profiles (:func:`radial_profiles`, computed).
    bins : RadialBins
        Their grid.
    survey : PhaseSurvey, optional
        The map's populations (:func:`survey_phases`): the two-peak fits start from them
        and a single-peak point joins the nearer one.
    background : float or (y, x) array_like, optional
        Starting background, counts per voxel.
    min_delta_bic, min_separation, min_fraction : float
        A point is two-phase when two peaks lower the BIC by more than ``min_delta_bic``,
        their centres are at least ``min_separation`` times the larger width apart and
        the minor one holds at least ``min_fraction`` of the intensity.
    points : (y, x) array_like of bool, optional
        The points to decompose (e.g. the crystal's mask); the others get NaN (and
        ``two_phase`` False). All by default.

    Returns
    -------
    dict of (y, x) ndarrays
        ``two_phase`` (bool); ``phase_fraction`` (share of intensity in the larger-d phase;
        from the population templates of a two-population map where the point's own two
        peaks do not stand out strongly; NaN for a single-peak point of a one-population
        map); ``d_phase1``, ``d_phase2`` (Å, phase 1 has the larger d;
        NaN where absent); ``width_phase1``, ``width_phase2`` (standard deviation along
        |Q|, 1/Å); ``two_phase_delta_bic``. NaN everywhere a point has no net intensity.

    Examples
    --------
    >>> q = np.broadcast_to(np.linspace(3.0, 3.06, 121)[None, :, None], (1, 121, 1))
    >>> b = radial_bins(q, roi=ROI((0, 1), (0, 121), (0, 1)))
    >>> g = lambda c: b.width * np.exp(-0.5 * ((b.centres - c) / 2e-3) ** 2) / (2e-3 * np.sqrt(2 * np.pi))
    >>> lam = np.stack([3e3 * g(3.02) + 1e3 * g(3.04), 4e3 * g(3.02)])[None] + 1.0
    >>> out = decompose_phases(np.random.default_rng(2).poisson(lam), b)
    >>> out["two_phase"].tolist(), np.round(out["phase_fraction"], 1).tolist()
    ([[True, False]], [[0.8, nan]])
    """
    y = np.asarray(profiles, dtype=np.float64)
    if y.ndim != 3:
        raise ParameterError(f"profiles must be (y, x, K), got shape {y.shape}")
    refs = survey.q_centres if survey is not None and survey.two_populations else None
    use = np.ones(y.shape[:2], dtype=bool) if points is None else np.asarray(points, dtype=bool)
    if use.shape != y.shape[:2]:
        raise ParameterError(f"points has shape {use.shape}, the profiles {y.shape[:2]}")
    b = None if background is None else np.broadcast_to(np.asarray(background, dtype=np.float64), use.shape)[use]
    picked = fit_radial_peaks(y[use], bins, background=b, references=refs)
    fit = {}
    for k, v in picked.items():
        full = np.full((*use.shape, *v.shape[1:]), np.nan)
        full[use] = v
        fit[k] = full
    one_peak = np.isfinite(fit["mu1"][..., 0]) & (fit["amp1"][..., 0] > 0)
    two = (fit["delta_bic"] > min_delta_bic) & _resolved(fit, min_separation=min_separation, min_fraction=min_fraction)
    two &= use
    has = two | one_peak  # a peak above the background (the one-peak fit may sink into it)
    a2, m2, s2 = fit["amp2"], fit["mu2"], fit["sigma2"]
    m1, s1 = fit["mu1"][..., 0], fit["sigma1"][..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac2 = a2[..., 0] / a2.sum(-1)
        if refs is not None:  # a single peak joins the nearer population
            in_first = np.abs(m1 - refs[0]) <= np.abs(m1 - refs[1])
            frac1 = np.where(in_first, 1.0, 0.0)
            # ... in proportion to the intensities of the map's two populations found in its
            # profile (a weak minor phase below the BIC bar still counts)
            assert survey is not None
            shares = np.full(m1.shape, np.nan)
            shares[use] = _template_shares(y[use], bins, survey, b)
            frac1 = np.where(np.isfinite(shares), shares, frac1)
        else:
            in_first = np.ones(m1.shape, dtype=bool)
            frac1 = np.full(m1.shape, np.nan)
        d1 = _TWO_PI / m1
        d2a, d2b = _TWO_PI / m2[..., 0], _TWO_PI / m2[..., 1]
    nan = np.full(m1.shape, np.nan)
    if refs is None:
        fraction = np.where(two, frac2, nan)
    else:  # the free fit's share where two peaks stand out strongly, else the templates' (see _STRONG_BIC)
        fraction = np.where(two & (fit["delta_bic"] > _STRONG_BIC), frac2, frac1)
    out: dict[str, NDArray[Any]] = {
        "two_phase": two,
        "phase_fraction": fraction,
        "d_phase1": np.where(two, d2a, np.where(in_first, d1, nan)),
        "d_phase2": np.where(two, d2b, np.where(in_first, nan, d1)),
        "width_phase1": np.where(two, s2[..., 0], np.where(in_first, s1, nan)),
        "width_phase2": np.where(two, s2[..., 1], np.where(in_first, nan, s1)),
        "two_phase_delta_bic": fit["delta_bic"],
    }
    # a centre outside the measured |Q| range is a degenerate fit, not a lattice: never reported
    lo, hi = float(bins.edges[0]), float(bins.edges[-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        q1, q2 = _TWO_PI / out["d_phase1"], _TWO_PI / out["d_phase2"]
    off = has & (
        _off_grid(q1, out["width_phase1"], lo, hi, nan=False) | _off_grid(q2, out["width_phase2"], lo, hi, nan=False)
    )
    if off.any():
        warnings.warn(
            f"phases: at {int(off.sum())} points a fitted radial peak lies far outside the measured |Q| range "
            f"({lo:.4f}-{hi:.4f} 1/A) or is flat across it: their phase variables are left NaN",
            stacklevel=2,
        )
        has = has & ~off
        out["two_phase"] = two & ~off
    for k, v in out.items():
        if k != "two_phase":
            out[k] = np.where(has, v, np.nan)
    return out
