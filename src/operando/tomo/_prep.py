"""Preprocessing kernels: flat/dark normalisation, -log, stripe (ring) removal, rotation centre.

Pure array-in, array-out: NumPy in gives NumPy out, Dask in gives lazy Dask out.
dtype policy: float32 stays float32, everything else becomes float64.

Centre convention (the whole subpackage): the rotation centre is a detector column
position in pixels **measured from the centre of pixel 0** (column index coordinates),
so a centre of ``(n_cols - 1) / 2`` is exactly mid-detector.
"""

from __future__ import annotations

import warnings
from typing import Any

import dask.array as da
import numpy as np

from operando.errors import ParameterError

__all__ = [
    "RING_METHODS",
    "bin_frames",
    "find_center",
    "handle_rings",
    "minus_log",
    "normalize",
    "paganin_filter",
    "remove_rings",
    "remove_stripes",
    "remove_zingers",
]

RING_METHODS = ("detect", "sort", "vo-all", "none")
"""Ring (stripe) handling: ``detect`` (default, :func:`remove_rings`), ``sort`` (algotom's sorting
filter, :func:`remove_stripes`), ``vo-all`` (Vo's combined dead/large/small-stripe removal) or ``none``."""


def _float_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


def normalize(projections: Any, flats: Any, darks: Any = None, *, floor: float = 1e-6) -> Any:
    """Flat/dark correction ``(I - mean(dark)) / (mean(flat) - mean(dark))``, clipped below at ``floor``.

    Parameters
    ----------
    projections : (n_angles, n_rows, n_cols) ndarray or dask array
        Raw projections, counts.
    flats : (n_flats, n_rows, n_cols) array
        Open-beam frames, counts; their mean is used.
    darks : (n_darks, n_rows, n_cols) array, optional
        Dark frames, counts; their mean is used (zero when absent).
    floor : float, default 1e-6
        Smallest transmission kept, so that ``-log`` stays finite.

    Returns
    -------
    (n_angles, n_rows, n_cols) ndarray or dask array
        Transmission (dimensionless), float32 for float32 input, else float64.
    """
    dt = _float_dtype(np.dtype(projections.dtype))
    flat = flats.astype(dt).mean(axis=0)
    dark = darks.astype(dt).mean(axis=0) if darks is not None else dt.type(0)
    denom = flat - dark
    denom = (da if isinstance(denom, da.Array) else np).where(denom > floor, denom, dt.type(floor))
    out = (projections.astype(dt) - dark) / denom
    return out.clip(dt.type(floor), None).astype(dt, copy=False)


def minus_log(transmission: Any) -> Any:
    """Line integrals ``-ln(T)`` from a transmission (any shape; NumPy or Dask)."""
    dt = _float_dtype(np.dtype(transmission.dtype))
    return -(da if isinstance(transmission, da.Array) else np).log(transmission.astype(dt, copy=False))


def _stripes_2d(sino: np.ndarray, size: int, dim: int) -> np.ndarray:
    from algotom.prep.removal import remove_stripe_based_sorting

    with warnings.catch_warnings():
        # algotom's scipy/numba paths warn about deprecated keyword spellings; nothing actionable here
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"algotom\..*")
        out = remove_stripe_based_sorting(np.asarray(sino), size=size, dim=dim)
    return np.asarray(out, dtype=sino.dtype)


def remove_stripes(sinograms: Any, *, size: int = 21, dim: int = 1) -> Any:
    """Remove stripe artefacts (rings after reconstruction) with Vo's sorting-based filter.

    Wraps :func:`algotom.prep.removal.remove_stripe_based_sorting` (Vo et al., Opt. Express 26, 2018).

    Parameters
    ----------
    sinograms : (n_angles, n_cols) or (n_angles, n_rows, n_cols) ndarray or dask array
        Sinogram(s) after ``-log``; a 3-D stack is processed row by row.
    size : int, default 21
        Median filter window across the angles, pixels.
    dim : {1, 2}, default 1
        1-D or 2-D median filter.

    Returns
    -------
    ndarray or dask array
        Same shape; float32 for float32 input, else float64.
    """
    dt = _float_dtype(np.dtype(sinograms.dtype))
    if sinograms.ndim == 2:
        return _stripes_2d(np.asarray(sinograms, dtype=dt), size, dim)
    if sinograms.ndim != 3:
        raise ParameterError(f"sinograms must be 2-D or 3-D, got shape {sinograms.shape}")

    def block(b: np.ndarray) -> np.ndarray:
        b = b.astype(dt, copy=False)
        return np.stack([_stripes_2d(b[:, r], size, dim) for r in range(b.shape[1])], axis=1)

    if isinstance(sinograms, da.Array):
        arr = sinograms.rechunk({0: -1, 2: -1})
        return arr.map_blocks(block, dtype=dt, meta=np.empty((0, 0, 0), dt))
    return block(np.asarray(sinograms))


def find_center(
    sinogram: np.ndarray,
    *,
    search_px: tuple[float, float] | None = None,
    step_px: float = 0.25,
    ratio: float = 0.5,
) -> float:
    """Rotation centre of a 180° sinogram by Vo's Fourier method, searched coarse to fine.

    Vo et al., Opt. Express 22, 19078 (2014): the sinogram stacked on its mirrored copy shifted
    by twice the trial centre's offset is a 360° sinogram whose 2-D spectrum has the least
    energy outside a double wedge at the right centre (algotom's
    :func:`~algotom.prep.calculation.make_inverse_double_wedge_mask` gives the mask).

    algotom's :func:`~algotom.prep.calculation.find_center_vo` searches whole pixels on a
    column-binned copy, then every ``step_px`` over ±4 px on the full sinogram, each trial a cubic-
    spline shift and an FFT of ``2 n_angles x n_cols`` (complex128): 28-31 s at the paper's
    1500 x 2448. Here every stage works on a copy with the angles binned to at most
    ``_CENTRE_ROWS`` rows (averaged: no data dropped), in complex64:

    1. whole pixels of a copy binned ``n_cols // 640`` times along the columns (as algotom),
       over ``search_px``;
    2. half pixels on the full columns around it (a half-pixel centre is a whole-pixel shift of
       the mirrored copy: no interpolation), over ± (binning + 1) px;
    3. ``step_px`` steps (cubic-spline shifts) within ± half a pixel of the best half pixel.

    Parameters
    ----------
    sinogram : (n_angles, n_cols) array
        One sinogram after ``-log``, angles spanning [0, 180) degrees.
    search_px : (float, float), optional
        Search range of the centre, pixels (this package's convention); default algotom's
        (the middle of the detector ± ``n_cols / 16``).
    step_px : float, default 0.25
        Sub-pixel search step, pixels.
    ratio : float, default 0.5
        Object size relative to the field of view (algotom's mask parameter).

    Returns
    -------
    float
        Centre in pixels from the centre of pixel 0 (column index). algotom uses the same
        index convention (checked against a synthetic sinogram with a known centre).

    Examples
    --------
    >>> from skimage.transform import radon
    >>> img = np.zeros((64, 64)); img[20:30, 25:45] = 1.0; img[40:50, 15:22] = 2.0
    >>> sino = radon(img, np.arange(0, 180, 1.0), circle=True).T  # axis at column 32
    >>> find_center(np.roll(sino, 3, axis=1))  # the axis moved by 3 px: algotom's answer, 34.75, too
    34.75
    """
    sino = np.asarray(sinogram, dtype=np.float32)
    if sino.ndim != 2:
        raise ParameterError(f"sinogram must be 2-D (angle, col), got shape {sino.shape}")
    if not step_px > 0:
        raise ParameterError(f"step_px must be > 0, got {step_px}")
    from scipy import ndimage

    n_rows, n_cols = sino.shape
    start, stop = (n_cols // 2 - n_cols // 16, n_cols // 2 + n_cols // 16) if search_px is None else search_px
    rows = max(1, -(-n_rows // _CENTRE_ROWS))
    # stage 1: whole pixels on a column-binned copy (algotom's coarse search, smoothed over 3 angles)
    dsp = max(1, n_cols // 640) if n_cols > 1000 else 1
    coarse = _bin2d(ndimage.gaussian_filter(sino, (3, 1), mode="reflect"), rows, dsp)
    lo = int(np.clip(np.floor(start / dsp), 0, coarse.shape[1] - 1))
    hi = int(np.clip(np.ceil(stop / dsp), 0, coarse.shape[1] - 1))
    cands = np.arange(lo, hi + 1, dtype=np.float64)
    metric = _vo_metrics(coarse, cands, ratio)
    k = int(np.argmin(metric))
    if k in (0, cands.size - 1) and cands.size > 1:
        warnings.warn(
            f"find_center: the best centre lies at the end of the search range {start:g}-{stop:g} px; widen it",
            UserWarning,
            stacklevel=2,
        )
    raw = cands[k] * dsp + 0.5 * (dsp - 1)
    # stage 2: half pixels (whole-pixel shifts) on the full columns, smoothed as algotom's fine search
    fine = _bin2d(ndimage.gaussian_filter(sino, (2, 2), mode="reflect"), rows, 1)
    radius = dsp + 1
    half = np.round(2.0 * raw) / 2.0 + np.arange(-2 * radius, 2 * radius + 1) / 2.0
    half = half[(half >= 0) & (half <= n_cols - 1)]
    best = float(half[int(np.argmin(_vo_metrics(fine, half, ratio)))])
    if step_px >= 0.5:
        return best
    # stage 3: sub-pixel steps around the best half pixel
    steps = best + np.arange(-np.floor(0.5 / step_px), np.floor(0.5 / step_px) + 1) * step_px
    steps = np.clip(steps, 0.0, n_cols - 1.0)
    return float(steps[int(np.argmin(_vo_metrics(fine, steps, ratio)))])


_CENTRE_ROWS = 512
"""At most this many (binned) angles in the centre search."""


def _bin2d(m: np.ndarray, f0: int, f1: int) -> np.ndarray:
    """Mean of ``f0 x f1`` blocks of a 2-D array (trailing rows/columns that do not fill a block dropped)."""
    r, c = m.shape[0] // f0, m.shape[1] // f1
    return np.ascontiguousarray(m[: r * f0, : c * f1].reshape(r, f0, c, f1).mean(axis=(1, 3), dtype=np.float32))


def _vo_metrics(sino: np.ndarray, centres: np.ndarray, ratio: float) -> np.ndarray:
    """Vo's metric (energy outside the double wedge of the 360° sinogram's spectrum) of each trial centre.

    Parameters
    ----------
    sino : (n_angles, n_cols) ndarray of float32
        180° sinogram.
    centres : (n,) ndarray
        Trial centres, pixels (column index); whole or half pixels need no interpolation.
    ratio : float
        Object size relative to the field of view.

    Returns
    -------
    (n,) ndarray of float64
    """
    from algotom.prep.calculation import make_inverse_double_wedge_mask
    from scipy import fft, ndimage

    n_rows, n_cols = sino.shape
    mask = np.fft.ifftshift(make_inverse_double_wedge_mask(2 * n_rows, n_cols, 0.5 * ratio * n_cols))
    flip = np.ascontiguousarray(sino[:, ::-1])
    comp = sino[::-1]
    mat = np.empty((2 * n_rows, n_cols), np.float32)
    mat[:n_rows] = sino
    out = np.empty(centres.size)
    for i, centre in enumerate(np.asarray(centres, dtype=np.float64)):
        shift = 2.0 * (centre - (n_cols - 1) / 2.0)
        if shift == np.floor(shift):
            shifted = np.roll(flip, int(shift), axis=1)
        else:
            shifted = ndimage.shift(flip, (0.0, shift), order=3, prefilter=True)
        cut = int(np.ceil(shift)) if shift >= 0 else int(np.floor(shift))
        if cut > 0:
            shifted[:, :cut] = comp[:, :cut]
        elif cut < 0:
            shifted[:, cut:] = comp[:, cut:]
        mat[n_rows:] = shifted
        spec = np.abs(fft.fft2(mat))
        out[i] = float(np.mean(spec * mask))
    return out


def _interpolate_columns(m: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """``m`` (row, col) with the ``bad`` columns of each row linearly interpolated from the good ones."""
    out = np.array(m, dtype=np.float64)
    cols = np.arange(m.shape[1])
    for r in np.flatnonzero(bad.any(axis=1)):
        good = ~bad[r]
        if good.sum() >= 2:
            out[r, ~good] = np.interp(cols[~good], cols[good], m[r, good])
    return out


def _deviation(m: np.ndarray, size: int, reference: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """How far each column of ``m`` (row, col) stands out from its neighbours (magnitude, signed offset).

    Two baselines from ``reference`` (default ``m``): a running median (exact on steps, such as
    the cell's edges, but it flattens smooth peaks) and a quadratic Savitzky-Golay fit (exact on
    smooth peaks, such as the middle of the cell's profile, but it rings at steps). A stripe stands
    out from both with the same sign; the smaller deviation is kept (0 where they disagree).
    """
    from scipy import ndimage
    from scipy.signal import savgol_filter

    ref = m if reference is None else reference
    # edge values repeated: a monotone profile stays monotone up to the detector's edge (mirroring
    # would make a peak there); a stripe within size // 2 of the edge may then go undetected
    dm = m - ndimage.median_filter(ref, size=(1, size), mode="nearest")
    ds = m - savgol_filter(ref, size, 2, axis=1, mode="nearest")
    same = np.sign(dm) == np.sign(ds)
    d = np.where(same, np.where(np.abs(dm) < np.abs(ds), dm, ds), 0.0)
    return np.abs(d), d


def _ring_offsets(sino: np.ndarray, snr: float, size: int, max_width: int) -> np.ndarray:
    """Per (row, col) additive stripe offsets of ``(angle, row, col)`` sinograms; 0 where no stripe is detected."""
    from scipy import ndimage

    m = sino.mean(axis=0, dtype=np.float64)  # (row, col)
    # noise of the angle average, per row: from the differences between successive angles
    # (noise dominated at real angular sampling; robust to the few features that move fast)
    steps = np.abs(np.diff(sino, axis=0)).astype(np.float64)
    sigma = 1.4826 * np.median(steps.reshape(-1, m.shape[0], m.shape[1]), axis=(0, 2)) / np.sqrt(2 * sino.shape[0])
    sigma = np.maximum(sigma, np.finfo(np.float64).tiny)[:, None]
    # iteratively: the strongest stripes are interpolated away before the baselines are taken
    # again, so that a stripe does not shift its neighbours' baselines (making them stripes too)
    size = min(size, m.shape[1] - 1 + m.shape[1] % 2)  # odd and no longer than the row
    if size < 5:
        return np.zeros_like(m)
    clean = m
    detected = np.zeros(m.shape, bool)
    for _ in range(6):
        a, _ = _deviation(clean, size)
        # only the local peaks of the deviation: a stripe's neighbours deviate by its shift of their baselines
        peak = (a > snr * sigma) & (a >= ndimage.maximum_filter(a, size=(1, 3), mode="nearest")) & ~detected
        if not peak.any():
            break
        detected |= peak
        clean = _interpolate_columns(m, detected)
    a, d = _deviation(m, size, reference=clean)
    hit = detected & (a > snr * sigma)
    if max_width > 0:
        # a bad detector pixel is a narrow stripe; a wider run is a feature of the object (on the axis)
        lab, _ = ndimage.label(hit, structure=np.array([[0, 0, 0], [1, 1, 1], [0, 0, 0]]))
        wide = np.bincount(lab.ravel()) > max_width
        wide[0] = False
        hit &= ~wide[lab]
    return np.where(hit, d, 0.0)


def remove_rings(sinograms: Any, *, snr: float = 4.0, size: int = 9, max_width: int = 3) -> Any:
    """Remove ring artefacts by subtracting detected per-pixel offsets of the angle-averaged sinogram.

    A detector pixel whose gain the flats do not correct adds a constant to its column of
    the ``-log`` sinogram at every angle (a ring after reconstruction). The angle average of
    each sinogram row is smooth across columns except at such pixels (object features move
    across columns with the angle; only features on the rotation axis stay put), so the
    deviation of the average from its smooth baseline across ``size`` columns is the
    stripe's offset (Boin & Haibel, Opt. Express 14, 12071, 2006); it must stand out from both
    a running median (exact at steps) and a quadratic fit (exact at smooth peaks, e.g. the middle
    of a cylinder's profile on a small detector). Unlike that method and
    algotom's sorting filter, only columns whose deviation exceeds ``snr`` times the row's
    robust noise (and whose run is at most ``max_width`` pixels wide) are corrected: every
    other value is returned unchanged, so strong edges (the Li/electrolyte interface) are
    not touched. Hand-written because algotom's filters change every column: on the
    bare-interface phantom (``tests/tomo/test_ring_bias.py``) they moved the contact area
    by more than this does.

    Parameters
    ----------
    sinograms : (n_angles, n_cols) or (n_angles, n_rows, n_cols) ndarray or dask array
        Line integrals (after ``-log``).
    snr : float, default 4
        Detection threshold, in robust standard deviations of the residual of each row.
    size : int, default 9
        Window of the two baselines across columns (running median, quadratic
        Savitzky-Golay), pixels (odd, > 2 ``max_width``).
    max_width : int, default 3
        Widest run of adjacent columns corrected, pixels (0: no limit).

    Returns
    -------
    ndarray or dask array
        Same shape; float32 for float32 input, else float64.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> sino = np.tile(np.hanning(64), (90, 1)) + rng.normal(0, 0.01, (90, 64))
    >>> bad = sino.copy()
    >>> bad[:, 20] += 0.2
    >>> fixed = remove_rings(bad)
    >>> bool(abs(fixed[:, 20].mean() - sino[:, 20].mean()) < 0.01), int((fixed != bad).any(axis=0).sum()) <= 3
    (True, True)
    """
    if not snr > 0 or size < 3 or max_width < 0:
        raise ParameterError(
            f"remove_rings: snr must be > 0, size >= 3, max_width >= 0 (got {snr}, {size}, {max_width})"
        )
    dt = _float_dtype(np.dtype(sinograms.dtype))
    if sinograms.ndim == 2:
        s2 = np.asarray(sinograms, dtype=dt)
        off = _ring_offsets(s2[:, None, :], snr, size, max_width)[0]
        return (s2 - off.astype(dt)).astype(dt, copy=False)
    if sinograms.ndim != 3:
        raise ParameterError(f"sinograms must be 2-D or 3-D, got shape {sinograms.shape}")

    def block(b: np.ndarray) -> np.ndarray:
        b = b.astype(dt, copy=False)
        off = _ring_offsets(b, snr, size, max_width)
        return b - off.astype(dt)[None]

    if isinstance(sinograms, da.Array):
        arr = sinograms.rechunk({0: -1, 2: -1})
        return arr.map_blocks(block, dtype=dt, meta=np.empty((0, 0, 0), dt))
    return block(np.asarray(sinograms))


def _vo_all_2d(sino: np.ndarray) -> np.ndarray:
    from algotom.prep.removal import remove_all_stripe

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"algotom\..*")
        try:
            out = remove_all_stripe(np.asarray(sino), snr=3.0, la_size=51, sm_size=21)
        except ValueError:  # algotom refuses rows without noise (e.g. all air): nothing to remove there
            return sino
    return np.asarray(out, dtype=sino.dtype)


def handle_rings(sinograms: Any, method: str) -> Any:
    """Apply the ring handling named ``method`` (one of :data:`RING_METHODS`) to ``(angle, row, col)`` sinograms.

    Returns the input unchanged for ``"none"``.

    Examples
    --------
    >>> s = np.zeros((4, 2, 8), np.float32)
    >>> handle_rings(s, "none") is s
    True
    """
    if method == "none":
        return sinograms
    if method == "detect":
        return remove_rings(sinograms)
    if method == "sort":
        return remove_stripes(sinograms)
    if method == "vo-all":
        dt = _float_dtype(np.dtype(sinograms.dtype))

        def block(b: np.ndarray) -> np.ndarray:
            b = b.astype(dt, copy=False)
            return np.stack([_vo_all_2d(b[:, r]) for r in range(b.shape[1])], axis=1)

        if isinstance(sinograms, da.Array):
            arr = sinograms.rechunk({0: -1, 2: -1})
            return arr.map_blocks(block, dtype=dt, meta=np.empty((0, 0, 0), dt))
        return block(np.asarray(sinograms))
    raise ParameterError(f"unknown ring handling {method!r}; use {', '.join(RING_METHODS)}")


def remove_zingers(frames: Any, *, threshold: float = 8.0, size: int = 3, track_px: int | None = None) -> Any:
    """Replace zingers (single-frame bright spots of raw counts) by the median of their neighbours.

    A zinger (a gamma ray or a scattered photon hitting the scintillator or the sensor) raises
    one or a few pixels of one frame far above their neighbours. A pixel is replaced (by the
    median of its neighbours) when it exceeds its third-brightest neighbour in the
    ``size x size`` window by more than ``threshold`` times the frame's noise, measured on
    counts scaled by the square root of the median (Poisson counts with an unknown detector
    gain), **and** exceeds by as much every pixel of the same row within ``track_px`` columns in
    the previous or in the next frame. A pixel on an edge or a steep gradient has brighter
    neighbours on one side and is not flagged; spots of up to three pixels are. Real structure
    persists from one projection angle to the next: the projection of a pore (brighter than the
    material around it) one detector row thick is a spot as small as a zinger, but it is there,
    a few columns away at most, in the neighbouring frames (at 1e6 counts such pores made 3.7 %
    of a projection's pixels look like zingers without this test).

    Parameters
    ----------
    frames : (n_frames, n_rows, n_cols) ndarray or dask array
        Raw counts (projections, flats or darks), frames in acquisition order.
    threshold : float, default 8
        Detection threshold, in robust standard deviations.
    size : int, default 3
        Side of the neighbourhood, pixels (odd).
    track_px : int, optional
        How far (columns) a structure may move between neighbouring frames. Default: the
        largest move of a point at the detector's edge on a 180° scan of ``n_frames``
        projections about the middle column, ``ceil(pi n_cols / (2 n_frames)) + 1`` (4 at the
        paper's 1500 x 2448), at most 64 (flats do not move, and only spots that passed the
        spatial test are looked at). Pass twice that for a 360° scan, more for an axis off the
        middle. A single frame gets the spatial test only.

    Returns
    -------
    ndarray or dask array
        Same shape; float32 (float64 for float64 input), zingers replaced.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> f = rng.poisson(1000.0, (3, 16, 16)).astype(np.float32)
    >>> f[:, 9, 3] += 3000  # a spot in every frame: structure
    >>> f[1, 5, 7] += 30000  # a spot in one frame: a zinger
    >>> out = remove_zingers(f)
    >>> bool(abs(out[1, 5, 7] - 1000) < 200), bool(np.all(out[:, 9, 3] == f[:, 9, 3])), int((out != f).sum()) <= 2
    (True, True, True)
    """
    if not threshold > 0 or size < 3 or size % 2 == 0:
        raise ParameterError(f"remove_zingers: threshold must be > 0 and size odd >= 3 (got {threshold}, {size})")
    if frames.ndim != 3:
        raise ParameterError(f"frames must be (n_frames, n_rows, n_cols), got shape {frames.shape}")
    if track_px is not None and track_px < 0:
        raise ParameterError(f"remove_zingers: track_px must be >= 0, got {track_px}")
    dt = np.dtype(np.float64) if frames.dtype == np.float64 else np.dtype(np.float32)
    n_frames, _, n_cols = frames.shape
    track = (
        int(track_px) if track_px is not None else min(64, int(np.ceil(0.5 * np.pi * n_cols / max(n_frames, 1))) + 1)
    )
    temporal = n_frames >= 2
    h = size // 2
    offsets = [(dy, dx) for dy in range(-h, h + 1) for dx in range(-h, h + 1) if (dy, dx) != (0, 0)]

    def block(b: np.ndarray, ghosts: bool, edge: int) -> np.ndarray:
        """Frames ``1 .. n - 2`` of ``b`` when ``ghosts`` (its first and last frames are neighbours only), else all;
        ``edge`` rows and columns on each side are overlap (left out of the noise estimate)."""
        b = b.astype(dt, copy=True)
        lo, hi = (1, b.shape[0] - 1) if ghosts else (0, b.shape[0])
        if hi <= lo:
            return b
        work = b[lo:hi]
        n_r, n_c = work.shape[1:]
        p = np.pad(work, ((0, 0), (h, h), (h, h)), mode="edge")
        # the noise of counts scaled by their square root, per frame, from neighbouring pixels (every 4th row)
        sub = work[:, edge : n_r - edge : 4, edge : n_c - edge]
        if sub.shape[1] < 1 or sub.shape[2] < 2:  # (a block of a row or a column: its overlap too)
            sub = work[:, ::4]
        step = np.diff(sub, axis=-1) / np.sqrt(np.maximum(0.5 * (sub[:, :, 1:] + sub[:, :, :-1]), 1.0))
        centre = np.median(step, axis=(1, 2), keepdims=True)
        sigma = np.maximum(1.4826 * np.median(np.abs(step - centre), axis=(1, 2)) / np.sqrt(2.0), 1e-12)
        # cheap candidates: above the second-dimmest of the 4 nearest neighbours by the threshold, scaled by the
        # dimmest (a necessary condition of the exact test below, which runs on these only: the k-th brightest of
        # 4 of the 8 neighbours is at most the k-th brightest of all 8). The full rank filters took most of the
        # preprocessing time at 2448 columns; with the dimmest as the cheap bound, every pixel along an edge was
        # a candidate and gathering their neighbours took half of it (28 of 54 s at 1500 x 28 x 2448, 1e6
        # counts); the second-dimmest leaves out pixels with a single darker nearest neighbour.
        w, e = p[:, h : h + n_r, h - 1 : h - 1 + n_c], p[:, h : h + n_r, h + 1 : h + 1 + n_c]
        n, s = p[:, h - 1 : h - 1 + n_r, h : h + n_c], p[:, h + 1 : h + 1 + n_r, h : h + n_c]
        lo1, lo2 = np.minimum(w, e), np.minimum(n, s)
        low = np.minimum(lo1, lo2)
        second = np.minimum(np.maximum(lo1, lo2), np.minimum(np.maximum(w, e), np.maximum(n, s)))
        excess = work - second
        excess /= np.sqrt(np.maximum(low, 1.0))
        cand = np.flatnonzero(excess > threshold * sigma[:, None, None])
        if cand.size == 0:
            return b
        f, rc = np.divmod(cand, n_r * n_c)
        r, c = np.divmod(rc, n_c)
        flat = work.reshape(-1)
        if temporal and b.shape[0] >= 2:
            # ... and above the same row, +- track columns, of a neighbouring frame (tested first: one-row
            # structure at high counts makes many candidates, 4.6 % of the pixels of the benchmark's block at 1e6)
            above = _above_neighbour_frames(b, lo, f, r, c, track) / np.sqrt(np.maximum(low.reshape(-1)[cand], 1.0))
            keep = above > threshold * sigma[f]
            cand, f, r, c = cand[keep], f[keep], r[keep], c[keep]
            if cand.size == 0:
                return b
        nb = np.sort(np.stack([p[f, r + h + dy, c + h + dx] for dy, dx in offsets], axis=1), axis=1)
        med = nb[:, len(offsets) // 2]
        # a zinger (up to 3 pixels) stands above its third-brightest neighbour; a pixel on an edge or a steep
        # gradient does not (it does stand above its median: 15 false hits of 3600 in the test)
        scale = np.sqrt(np.maximum(med, 1.0))
        hit = (flat[cand] - nb[:, -3]) / scale > threshold * sigma[f]
        flat[cand[hit]] = med[hit]
        return b

    if isinstance(frames, da.Array):
        # (in a block of part of the columns the track window stops at the block's overlap)
        depth = {0: 1 if temporal else 0, 1: h, 2: h}
        if not temporal:
            return frames.map_overlap(
                block, ghosts=False, edge=h, depth=depth, boundary="nearest", dtype=dt, meta=np.empty((0, 0, 0), dt)
            )
        # the neighbours of an end frame are its two nearest frames (as for NumPy in)
        k0, k1 = min(2, n_frames - 1), max(n_frames - 3, 0)
        padded = da.concatenate([frames[k0 : k0 + 1], frames, frames[k1 : k1 + 1]], axis=0)
        out = padded.map_overlap(
            block,
            ghosts=True,
            edge=h,
            depth=depth,
            boundary={0: "none", 1: "nearest", 2: "nearest"},
            dtype=dt,
            meta=np.empty((0, 0, 0), dt),
        )
        return out[1:-1]
    return block(np.asarray(frames), False, 0)


def _above_neighbour_frames(
    b: np.ndarray, lo: int, f: np.ndarray, r: np.ndarray, c: np.ndarray, track: int
) -> np.ndarray:
    """How far pixels ``(lo + f, r, c)`` of ``b`` stand above the same row, ``c +- track``, of a neighbouring frame.

    Structure (a pore's trace, a one-row line on a gradient) is in both neighbouring frames, moved by a
    few columns at most: the pixel does not stand above their windows. Another zinger near the same spot
    is in one of them only: the smaller excess (over the brighter window) is returned. An end frame's
    neighbours are its two nearest frames.

    Parameters
    ----------
    b : (n_frames, n_rows, n_cols) ndarray
        Frames.
    lo : int
        Index in ``b`` of frame 0 of ``f``.
    f, r, c : (n,) ndarray of int
        Pixels.
    track : int
        Half-width of the window, columns.

    Returns
    -------
    (n,) ndarray
        ``b[lo + f, r, c]`` minus the smaller of the two windows' maxima, counts.
    """
    n_f, n_r, n_c = b.shape
    k = f + lo
    last = n_f - 1
    prev = np.where(k >= 1, k - 1, min(2, last))
    nxt = np.where(k < last, k + 1, max(last - 2, 0))
    whole = b.reshape(-1)
    width = 2 * track + 1
    if 2 * width * f.size > b.size // 4:
        # many pixels: the running maximum of the rows they need, once (van Herk's: independent of the width)
        from scipy.ndimage import maximum_filter1d

        rows = np.unique(np.concatenate([prev * n_r + r, nxt * n_r + r]))
        runmax = maximum_filter1d(b.reshape(-1, n_c)[rows], width, axis=1, mode="nearest")
        at_p = np.searchsorted(rows, prev * n_r + r)
        at_n = np.searchsorted(rows, nxt * n_r + r)
        around = np.minimum(runmax[at_p, c], runmax[at_n, c])
    else:
        cols = np.clip(c[:, None] + np.arange(-track, track + 1)[None, :], 0, n_c - 1)
        around = np.minimum(
            whole[((prev * n_r + r) * n_c)[:, None] + cols].max(axis=1),
            whole[((nxt * n_r + r) * n_c)[:, None] + cols].max(axis=1),
        )
    return whole[(k * n_r + r) * n_c + c] - around


def bin_frames(frames: Any, factor: int) -> Any:
    """Sum ``factor x factor`` blocks of detector pixels of every frame (counts stay counts).

    Parameters
    ----------
    frames : (n_frames, n_rows, n_cols) ndarray or dask array
        Counts; trailing rows/columns that do not fill a block are dropped.
    factor : int
        Binning factor (1: unchanged).

    Returns
    -------
    (n_frames, n_rows // factor, n_cols // factor) array, float32 (float64 for float64 input)

    Examples
    --------
    >>> bin_frames(np.ones((1, 4, 5), np.uint16), 2)[0]
    array([[4., 4.],
           [4., 4.]], dtype=float32)
    """
    if factor < 1:
        raise ParameterError(f"binning must be a positive integer, got {factor}")
    dt = np.dtype(np.float64) if frames.dtype == np.float64 else np.dtype(np.float32)
    if factor == 1:
        return frames.astype(dt)
    n, r, c = frames.shape
    r2, c2 = r // factor, c // factor
    if r2 < 1 or c2 < 1:
        raise ParameterError(f"binning {factor} leaves no pixel of a {r} x {c} detector")
    cut = frames[:, : r2 * factor, : c2 * factor].astype(dt)
    if isinstance(cut, da.Array):
        return da.coarsen(np.sum, cut, {1: factor, 2: factor}, trim_excess=True).astype(dt)
    return cut.reshape(n, r2, factor, c2, factor).sum(axis=(2, 4), dtype=dt).astype(dt)


def paganin_filter(
    transmission: Any, *, pixel_size_um: float, distance_mm: float, energy_kev: float, delta_beta: float
) -> Any:
    """Single-material phase retrieval (Paganin et al., J. Microsc. 206, 33, 2002) of flat-field-corrected frames.

    Each frame is divided in Fourier space by ``1 + pi lambda z (delta/beta) |u|^2`` (``u`` the
    spatial frequency, 1/m), after padding to twice its size with its edge values (no wrap-
    around between opposite edges). ``-log`` of the result is the projected thickness times
    the attenuation coefficient, as for a pure absorption scan, with the edge-enhancement
    fringes of propagation merged into the contrast (and the noise low-pass filtered).
    Hand-written: a few lines of NumPy FFTs; TomoPy (not on PyPI) has the same filter.

    Parameters
    ----------
    transmission : (n_frames, n_rows, n_cols) ndarray or dask array
        Flat/dark-corrected transmission.
    pixel_size_um : float
        Detector pixel size at the sample, µm.
    distance_mm : float
        Sample-to-detector distance, mm.
    energy_kev : float
        Photon energy, keV.
    delta_beta : float
        Ratio of the refractive index decrement to the absorption index (> 0).

    Returns
    -------
    Same shape and type, float32 (float64 for float64 input).

    Examples
    --------
    >>> t = np.full((1, 32, 32), 0.5, np.float32)
    >>> out = paganin_filter(t, pixel_size_um=1.7, distance_mm=100, energy_kev=28, delta_beta=200)
    >>> bool(np.allclose(out, 0.5, atol=1e-5))
    True
    """
    for name, value in (
        ("pixel_size_um", pixel_size_um),
        ("distance_mm", distance_mm),
        ("energy_kev", energy_kev),
        ("delta_beta", delta_beta),
    ):
        if not (np.isfinite(value) and value > 0):
            raise ParameterError(f"Paganin filter: {name} must be a positive number, got {value}")
    dt = np.dtype(np.float64) if transmission.dtype == np.float64 else np.dtype(np.float32)
    wavelength_m = 12.398419843320026e-10 / energy_kev  # h c / E, with E in keV
    z = distance_mm * 1e-3
    px = pixel_size_um * 1e-6
    n_rows, n_cols = transmission.shape[1:]
    pr, pc = n_rows // 2, n_cols // 2
    u = np.fft.fftfreq(n_rows + 2 * pr, d=px)
    v = np.fft.rfftfreq(n_cols + 2 * pc, d=px)
    filt = 1.0 / (1.0 + np.pi * wavelength_m * z * delta_beta * (u[:, None] ** 2 + v[None, :] ** 2))

    def block(b: np.ndarray) -> np.ndarray:
        padded = np.pad(np.asarray(b, dtype=np.float64), ((0, 0), (pr, pr), (pc, pc)), mode="edge")
        spec = np.fft.rfft2(padded) * filt
        out = np.fft.irfft2(spec, s=padded.shape[1:])[:, pr : pr + n_rows, pc : pc + n_cols]
        return np.clip(out, 1e-6, None).astype(dt)

    if isinstance(transmission, da.Array):
        # 8 frames a block, as below (one block of all frames ran on one thread: 10.6 s -> 1.7 s on a bin-2 stack)
        arr = transmission.rechunk({0: 8, 1: -1, 2: -1})
        return arr.map_blocks(block, dtype=dt, meta=np.empty((0, 0, 0), dt))
    # a few frames at a time: the padded complex spectra of a whole stack do not fit in cache (750 frames of
    # 28 x 1224, interleaved: 6.7-12 s at once, 2.2-2.9 s in groups of 8, bit for bit the same values)
    t = np.asarray(transmission)
    out = np.empty(t.shape, dt)
    for i in range(0, t.shape[0], 8):
        out[i : i + 8] = block(t[i : i + 8])
    return out
