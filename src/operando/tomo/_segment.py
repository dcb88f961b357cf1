"""Segmentation of a Li | solid electrolyte | Li cell stacked along ``z``.

The seed paper's rules, generalised and vectorised over columns ``(y, x)``:

1. **Thresholds** from the histogram (:func:`auto_thresholds`: five Otsu classes — air and
   voids, lithium, interphase, electrolyte, current collector — then each threshold moved
   to the midpoint of the medians of the two classes it separates, so that it does not
   lean towards the smaller class), or given.
2. **Lithium by column traversal** from each current collector: the collector is the
   leading run of voxels at or above the collector threshold; walking on along ``z``, the
   electrode region lasts until the mean of the next ``window_px`` (5) voxels exceeds the
   electrolyte threshold (one bright noisy voxel does not stop it); its end is the first
   voxel at or above the electrolyte threshold from there on. In that region voxels below
   the lithium cut-off are lithium, the rest interphase.
3. **Interfacial voids** are voxels darker than the void threshold inside an electrode
   region, i.e. with lithium, not electrolyte, beyond them along the column; dark voxels
   between the two electrode regions are **pores** (after the median: every voxel of the
   unfiltered volume below the midpoint of the void and electrolyte levels, in a component
   seeded on a 0.7-voxel Gaussian, so that pores of 1.5-3 voxel radius keep their volume).
   Void components smaller than
   ``min_void_voxels`` are noise and become lithium.
   Columns at the cell's rim, only partly inside it, hold values lowered by their filled
   fraction (and by reconstruction blur): when the thresholds know the electrolyte level
   they are traversed again after rescaling, and get no voids or pores (partial volume
   there cannot be told from a void).
4. **Interphase** optionally by a trainable pixel classifier
   (:class:`InterphaseClassifier`: a scikit-learn random forest on
   :func:`skimage.feature.multiscale_basic_features`, trained on a few labelled slices),
   which replaces the threshold band.

The thresholds are applied to a 3 x 3 x 3 median of the volume (steps and 3 x 3 x 3 voids
survive it; noise specks do not); voids get back their outline by hysteresis on the
unfiltered volume. The median (:func:`median_filter3d`, exact) is skipped for columns that
cannot join the cell whatever their median (no value near the electrolyte's in their
neighbourhood), e.g. the air around a cylindrical cell.

Columns are independent along ``z``: a Dask volume is processed in blocks of columns
(``map_overlap`` with an overlap in ``y, x`` only, for the features and the void clean-up),
NumPy in gives NumPy out.

Label codes: 0 electrolyte, 1 lithium, 2 void, 3 pore, 4 interphase, 5 collector/background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from operando.errors import ParameterError

__all__ = [
    "ELECTROLYTE",
    "INTERPHASE",
    "LITHIUM",
    "OUTSIDE",
    "PORE",
    "VOID",
    "ForestArrays",
    "InterphaseClassifier",
    "Thresholds",
    "auto_thresholds",
    "median_filter3d",
    "segment_cell",
    "train_interphase_classifier",
]

ELECTROLYTE, LITHIUM, VOID, PORE, INTERPHASE, OUTSIDE = 0, 1, 2, 3, 4, 5
UNLABELLED = 255


@dataclass(frozen=True)
class Thresholds:
    """Grey-value thresholds of a cell volume, in the volume's units.

    Attributes
    ----------
    void : float
        Below: void (in an electrode) or pore (in the electrolyte).
    lithium : float
        Lithium cut-off: below (and above ``void``) is lithium.
    electrolyte : float
        Above: electrolyte (stops the column traversal).
    collector : float
        At or above: current collector (``inf`` when the volume shows none).
    electrolyte_level : float, optional
        Typical electrolyte value; when known, columns at the cell's rim (partial volume)
        are rescaled by their filled fraction before the traversal.
    void_level : float, optional
        Typical value of air and voids; with ``electrolyte_level`` it sets the pore
        threshold at their midpoint (the half-contrast surface, unbiased for the volume of
        a blurred pore), else pores are voxels below ``lithium``.
    lithium_level : float, optional
        Typical lithium value; with ``void_level`` the voids found also take every connected voxel
        below their midpoint after a 0.7-voxel Gaussian (the half-contrast surface: ``void`` leans to
        the air so that lithium's noise seeds no void, and voids of 1.5-5 voxels lost 4-37 % of their
        volume on the bare-cell phantom, -23 to +10 % with this).
    """

    void: float
    lithium: float
    electrolyte: float
    collector: float = math.inf
    electrolyte_level: float | None = None
    void_level: float | None = None
    lithium_level: float | None = None

    def __post_init__(self) -> None:
        if not self.void < self.lithium < self.electrolyte < self.collector:
            raise ParameterError(
                f"thresholds must increase void < lithium < electrolyte < collector, got {self.void:g}, "
                f"{self.lithium:g}, {self.electrolyte:g}, {self.collector:g}"
            )


def _sample3d(volume: Any, max_samples: int) -> NDArray[np.float64]:
    """Up to ``max_samples`` voxels on a regular stride, as a (z, y, x) block (only those computed for Dask)."""
    step = max(1, math.ceil((math.prod(volume.shape) / max_samples) ** (1 / 3)))
    sub = volume[::step, ::step, ::step]
    arr = sub.compute() if isinstance(sub, da.Array) else np.asarray(sub)
    return np.asarray(arr, dtype=np.float64)


def _sample(volume: Any, max_samples: int) -> NDArray[np.float64]:
    """Up to ``max_samples`` finite voxels taken on a regular stride (only those are computed for Dask)."""
    vals = _sample3d(volume, max_samples).ravel()
    return vals[np.isfinite(vals)]


def _air_classes(sub: NDArray[np.float64], med: NDArray[np.float64], t: NDArray[np.float64]) -> int:
    """How many of the lowest grey classes are the air around the cell (1 when that cannot be told).

    Multi-Otsu splits the largest broad population: with a bare interface (no interphase class to
    fill) that can be the air around a cylindrical cell (about 45 % of a square reconstruction),
    and the void/lithium threshold then falls inside the air peak while lithium becomes the
    "interphase" class (seed 11 of the bare-cell phantom: 21 % of the void columns found). The
    air is measured where it is alone: in the columns of the strided sample whose mean along
    ``z`` falls in the lower Otsu class of the column means (when they look like air: their
    median is below ``t[1]``, and they are >= 2 % of the columns); the lowest classes are air
    while their median lies within 0.5 robust s.d. of the air's median (the class above the lowest
    is the one tested: the lowest is air by construction). Seed 11: the second class 0.13 s.d.
    from the air's median (merged); seed 12, whose second class holds the air's upper tail and
    lithium's lower one, 1.0 s.d. (kept: its void threshold already lies between air and lithium).
    """
    from skimage.filters import threshold_otsu

    if sub.ndim != 3 or sub.shape[0] < 3 or sub.shape[1] * sub.shape[2] < 16:
        return 1
    finite = np.isfinite(sub)
    colmean = np.where(finite, sub, 0.0).sum(axis=0) / np.maximum(finite.sum(axis=0), 1)
    if np.ptp(colmean) == 0:
        return 1
    outside = colmean < threshold_otsu(colmean)
    if not 0.02 <= outside.mean() <= 0.98:
        return 1
    out_vals = sub[:, outside]
    out_vals = out_vals[np.isfinite(out_vals)]
    in_vals = sub[:, ~outside]
    in_vals = in_vals[np.isfinite(in_vals)]
    if not (np.median(out_vals) < t[1] <= np.median(in_vals)):
        return 1
    air = out_vals[out_vals < t[min(2, t.size - 1)]]
    if air.size < 100:
        return 1
    centre = float(np.median(air))
    sigma = 1.4826 * float(np.median(np.abs(air - centre)))
    n = 1
    while n < med.size - 2 and np.isfinite(med[n]) and abs(med[n] - centre) <= 0.5 * sigma:
        n += 1
    return n


def _merge_split_lithium(
    vals: NDArray[np.float64], med: NDArray[np.float64], t: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Class medians and thresholds with the lithium and "interphase" classes merged when the latter is lithium.

    A bare Li/electrolyte interface has no interphase population: multi-Otsu then spends the interphase
    class on the upper half of the broad lithium peak (bare-cell phantom seeds 12-22: 25-89 % of the
    lithium labelled interphase). The interphase class is taken for lithium when its median lies within
    ``1.4`` noise s.d. of the lithium mode (a split Gaussian puts the upper half's median 0.67 s.d. above
    it; measured 0.3-0.9 s.d. on seeds 11-18, partial volume at the interface included; a real layer of
    2-4 voxels at the paper's intermediate attenuation, 2.0-2.7 s.d.). The noise s.d. is the electrolyte
    class's robust one (the reconstruction's noise is nearly the same in every material; the electrolyte
    class is large and has no neighbour class within several s.d.). The lithium level is the mode of
    the values between the void and electrolyte thresholds (the class medians are pulled by the air's
    tail below and partial volume above). Merged: the electrolyte threshold is the midpoint of the
    lithium mode and the electrolyte median, the lithium cut-off the largest value below it (no
    interphase band), the void threshold is kept.

    Parameters
    ----------
    vals : (n,) ndarray
        Finite sampled voxel values.
    med : (n_classes,) ndarray
        Class medians (air, lithium, interphase, electrolyte[, collector]); NaN for an empty class.
    t : (n_classes - 1,) ndarray
        Thresholds between them.

    Returns
    -------
    med, t : ndarray
        Unchanged, or merged (``med[2]`` NaN).
    """
    if med.size < 4 or not np.all(np.isfinite(med[1:4])) or not t[0] < t[1] < t[2]:
        return med, t
    upper = t[3] if t.size > 3 else math.inf
    el = vals[(vals >= t[2]) & (vals < upper)]
    band = vals[(vals >= t[0]) & (vals < t[2])]
    if el.size < 100 or band.size < 100:
        return med, t
    sigma = 1.4826 * float(np.median(np.abs(el - np.median(el))))
    if not sigma > 0:
        return med, t
    # the lithium mode: histogram of bins a quarter s.d. wide, smoothed over one s.d.
    n_bins = int(np.clip(np.ceil((t[2] - t[0]) / (0.25 * sigma)), 8, 4096))
    hist, edges = np.histogram(band, bins=n_bins, range=(float(t[0]), float(t[2])))
    smooth = np.convolve(hist, np.ones(5) / 5.0, mode="same")
    k = int(np.argmax(smooth))
    mode = 0.5 * float(edges[k] + edges[k + 1])
    if med[2] - mode >= 1.4 * sigma:
        return med, t
    t_el = 0.5 * (mode + float(med[3]))
    if not t[0] < t_el:
        return med, t
    out_t = np.array(t, dtype=np.float64)
    out_t[2] = t_el
    out_t[1] = np.nextafter(t_el, -math.inf)
    out_med = np.array(med, dtype=np.float64)
    out_med[1], out_med[2] = mode, np.nan
    return out_med, out_t


def auto_thresholds(volume: Any, *, collector: bool = True, max_samples: int = 2_000_000) -> Thresholds:
    """Thresholds from the grey-value histogram (Otsu classes refined to intermeans).

    Parameters
    ----------
    volume : (nz, ny, nx) ndarray or dask array
        Reconstructed cell (or phantom) volume.
    collector : bool, default True
        The volume shows current collectors (five classes); False for four classes and
        ``collector = inf``.
    max_samples : int
        Voxels used, on a regular stride.

    Returns
    -------
    Thresholds

    Notes
    -----
    :func:`skimage.filters.threshold_multiotsu` splits the histogram into classes; each
    threshold is then set to the midpoint of the medians of its two neighbouring classes
    (one Ridler–Calvard intermeans step), which is unbiased for equal noise on both sides
    and does not depend on the classes' sizes the way Otsu's optimum does. When several of the
    lowest classes are the air around the cell (:func:`_air_classes`), they are merged into one
    and the values above them split again into the remaining classes. When the interphase class
    is only the upper half of the lithium peak (a bare interface, :func:`_merge_split_lithium`),
    it is merged into the lithium: the lithium cut-off then equals the electrolyte threshold and
    no voxel is interphase.
    """
    from skimage.filters import threshold_multiotsu

    sub = _sample3d(volume, max_samples)
    vals = sub.ravel()
    vals = vals[np.isfinite(vals)]
    n_classes = 5 if collector else 4
    if vals.size < 10 * n_classes or np.ptp(vals) == 0:
        raise ParameterError("the volume has too few distinct values to choose thresholds from")
    levels = np.unique(vals)
    if levels.size == n_classes:  # a noise-free (phantom) volume: one value per class
        med = levels.astype(np.float64)
        t = 0.5 * (med[:-1] + med[1:])
    else:
        otsu = threshold_multiotsu(vals, classes=n_classes, nbins=128)
        cls = np.digitize(vals, otsu)
        med = np.array([np.median(vals[cls == k]) if np.any(cls == k) else np.nan for k in range(n_classes)])
        mids = 0.5 * (med[:-1] + med[1:])
        t = np.where(np.isfinite(mids), mids, otsu)
        n_air = _air_classes(sub, med, t)
        if n_air > 1 and med.size - n_air == n_classes - 2:
            # the air was split (one class short: no interphase class, a bare interface): one air class;
            # the void threshold midway between the air level and the boundary of air and lithium (the
            # levels' midpoint makes false voids of lithium's noise, a small population next to a large
            # one: contact -1.8 % on seed 11, -0.1 % with this; seeds whose air is not split land at the
            # same place); the interphase cut-off midway between lithium and the electrolyte threshold
            air_med = float(np.median(vals[vals < t[n_air - 1]]))
            rest_med = med[n_air:]
            upper = 0.5 * (rest_med[:-1] + rest_med[1:])
            t = np.array([0.5 * (air_med + t[n_air - 1]), 0.5 * (rest_med[0] + upper[0]), *upper])
            med = np.array([air_med, rest_med[0], np.nan, *rest_med[1:]])
        elif n_air > 1:
            # the air split more than once: one air class, and the other materials split again among the rest
            cut = t[n_air - 1]
            rest = vals[vals >= cut]
            otsu_rest = threshold_multiotsu(rest, classes=n_classes - 1, nbins=128)
            cls = np.digitize(rest, otsu_rest)
            med_rest = [np.median(rest[cls == k]) if np.any(cls == k) else np.nan for k in range(n_classes - 1)]
            med = np.array([np.median(vals[vals < cut]), *med_rest])
            mids = 0.5 * (med[:-1] + med[1:])
            t = np.where(np.isfinite(mids), mids, np.concatenate([[cut], otsu_rest]))
    if levels.size != n_classes:
        med, t = _merge_split_lithium(vals, med, t)
    return Thresholds(
        void=float(t[0]),
        lithium=float(t[1]),
        electrolyte=float(t[2]),
        collector=float(t[3]) if collector else math.inf,
        electrolyte_level=float(med[3]),
        void_level=float(med[0]),
        lithium_level=float(med[1]) if np.isfinite(med[1]) else None,
    )


# -- column traversal -------------------------------------------------------------------------


def _first(mask: NDArray[np.bool_], default: int) -> NDArray[np.int64]:
    """Index of the first True along axis 0 (``default`` where none).

    ``argmax`` along axis 0 copies the array transposed first; walking the planes in
    order is several times faster unless the planes are small.
    """
    if mask.ndim < 2 or math.prod(mask.shape[1:]) < 1024:
        idx = mask.argmax(axis=0)
        return np.where(mask.any(axis=0), idx, default).astype(np.int64)
    out = np.full(mask.shape[1:], default, np.int64)
    found = np.zeros(mask.shape[1:], bool)
    for z in range(mask.shape[0]):
        new = mask[z] & ~found
        out[new] = z
        found |= new
    return out


def median_filter3d(
    v: NDArray[np.floating],
    size: int,
    *,
    columns: NDArray[np.bool_] | None = None,
    max_bytes: int = 4 * 2**20,
) -> NDArray[np.floating]:
    """Median of every ``size``-cube of ``v``, edges repeated (``scipy.ndimage.median_filter``'s ``"nearest"``).

    Parameters
    ----------
    v : (nz, ny, nx) ndarray of float
        Volume (finite values).
    size : int
        Side of the cube, voxels.
    columns : (ny, nx) ndarray of bool, optional
        Filter only these columns (and perhaps a few more); the others keep ``v``'s values.
    max_bytes : int
        Scratch memory of one strip of windows.

    Returns
    -------
    (nz, ny, nx) ndarray, dtype of ``v``
        The ``size**3 // 2``-th smallest value of each window: identical to
        ``scipy.ndimage.median_filter(v, size=size, mode="nearest")`` (in ``columns``).

    Notes
    -----
    SciPy's rank filter selects within every window voxel by voxel (about 0.2 µs per voxel
    for 3 x 3 x 3); copying strips of windows side by side and selecting with
    :func:`numpy.partition` along the last axis is 4-6 times faster on the same values.

    Examples
    --------
    >>> from scipy import ndimage
    >>> v = np.random.default_rng(0).normal(size=(6, 7, 8)).astype(np.float32)
    >>> bool(np.array_equal(median_filter3d(v, 3), ndimage.median_filter(v, size=3, mode="nearest")))
    True
    """
    k = int(size)
    n = k**3
    pad = (k // 2, (k - 1) // 2)
    p = np.pad(v, (pad, pad, pad), mode="edge")
    nz, ny, nx = v.shape
    if k == 3 and v.size:
        out = np.array(v) if columns is not None else np.empty_like(v)
        cols = np.ones((ny, nx), bool) if columns is None else np.asarray(columns, dtype=bool)
        _median27()(p, out, cols, _SORT9, _TAKE14)
        return out
    out = np.array(v) if columns is not None else np.empty_like(v)
    rows = max(1, min(ny, max_bytes // max(1, nx * n * v.itemsize)))
    buf = np.empty((rows * nx * n,), v.dtype)
    offsets = [(dz, dy, dx) for dz in range(k) for dy in range(k) for dx in range(k)]
    for y0 in range(0, ny, rows):
        r = min(rows, ny - y0)
        # the strip's columns: x0 .. x1 - 1 hold every requested column of rows y0 .. y0 + r - 1
        x0, x1 = 0, nx
        if columns is not None:
            hit = np.flatnonzero(columns[y0 : y0 + r].any(axis=0))
            if hit.size == 0:
                continue
            x0, x1 = int(hit[0]), int(hit[-1]) + 1
        w = buf[: r * (x1 - x0) * n].reshape(r, x1 - x0, n)
        for z in range(nz):
            for i, (dz, dy, dx) in enumerate(offsets):  # windows side by side
                w[:, :, i] = p[z + dz, y0 + dy : y0 + dy + r, x0 + dx : x1 + dx]
            w.partition(n // 2, axis=-1)
            out[z, y0 : y0 + r, x0:x1] = w[..., n // 2]
    return out


_MEDIAN27: Any = None
# a 25-comparator sorting network of 9 values (rows 1..9 of the group table; row 0 is -inf)
_SORT9 = (
    np.array(
        [
            *((0, 3), (1, 7), (2, 5), (4, 8), (0, 7), (2, 4), (3, 8), (5, 6), (0, 2), (1, 3), (4, 5), (7, 8), (1, 4)),
            *((3, 6), (5, 7), (0, 1), (2, 4), (3, 5), (6, 8), (2, 3), (4, 5), (6, 7), (1, 2), (3, 4), (5, 6)),
        ],
        np.int64,
    )
    + 1
)
# the 14th smallest of three sorted lists of 9 is the least, over the ways (i, j, l) of taking 14 values
# from their fronts, of the largest value taken: 75 ways
_TAKE14 = np.array([(i, j, 14 - i - j) for i in range(10) for j in range(10) if 0 <= 14 - i - j <= 9], np.int64)


def _median27() -> Any:
    """The compiled 3 x 3 x 3 median (:func:`numba.njit`, compiled on first use, cached on disk).

    Hand-written because no library has a fast exact 3-D median of floats: per voxel of a
    28 x 300 x 400 float32 volume on the loaded 2-core machine, ``scipy.ndimage.median_filter``
    took 2.7-3.5 µs, the NumPy strips of windows with :func:`numpy.partition` 1.5-1.9 µs, a
    per-voxel sorting network and merge 0.24 µs, this 0.04 µs. Per ``(z, y)`` row: the 9 values
    of every ``3 x 3`` group of ``(z, y)`` neighbours are sorted by a sorting network applied to
    whole rows (structure of arrays: each comparator is one loop over ``x`` that the compiler
    vectorises), and the median of the window at ``x`` (the groups at ``x - 1, x, x + 1``) is
    the least over 75 ways of taking 14 values from the fronts of the three sorted groups of the
    largest value taken, again one vectorised loop per way. No data-dependent branch (they made
    a per-voxel insertion sort 4 times slower). Finite values only (``fastmath``).
    """
    global _MEDIAN27
    if _MEDIAN27 is None:
        import numba

        @numba.njit(nogil=True, cache=True, fastmath=True)
        def median27(p: Any, out: Any, cols: Any, net: Any, take: Any) -> None:  # pragma: no cover - compiled
            nz, ny, nx = out.shape
            g = np.empty((10, nx + 2), p.dtype)
            g[0, :] = -np.inf
            acc = np.empty(nx, p.dtype)
            for z in range(nz):
                for y in range(ny):
                    x_lo = -1
                    x_hi = -1
                    for x in range(nx):
                        if cols[y, x]:
                            if x_lo < 0:
                                x_lo = x
                            x_hi = x
                    if x_lo < 0:
                        continue
                    n = x_hi + 3 - x_lo
                    for dz in range(3):
                        for dy in range(3):
                            r = 1 + 3 * dz + dy
                            for k in range(n):
                                g[r, k] = p[z + dz, y + dy, x_lo + k]
                    for c in range(net.shape[0]):
                        i = net[c, 0]
                        j = net[c, 1]
                        for k in range(n):
                            a = g[i, k]
                            b = g[j, k]
                            g[i, k] = min(a, b)
                            g[j, k] = max(a, b)
                    w = n - 2
                    for k in range(w):
                        acc[k] = np.inf
                    for t in range(take.shape[0]):
                        i = take[t, 0]
                        j = take[t, 1]
                        m = take[t, 2]
                        for k in range(w):
                            acc[k] = min(acc[k], max(max(g[i, k], g[j, k + 1]), g[m, k + 2]))
                    for k in range(w):
                        if cols[y, x_lo + k]:
                            out[z, y, x_lo + k] = acc[k]

        _MEDIAN27 = median27
    return _MEDIAN27


def column_blocks(arr: da.Array, bytes_per_voxel: int, target_bytes: int = 64 * 2**20, min_side: int = 8) -> da.Array:
    """``arr`` rechunked into whole columns (``z`` unsplit); ``(y, x)`` blocks kept below ~``target_bytes``.

    Smaller ``(y, x)`` chunks than that are kept as they are.
    """
    nz = arr.shape[0]
    side = max(min_side, int((target_bytes / max(1, nz * bytes_per_voxel)) ** 0.5))
    chunks: dict[int, Any] = {0: -1}
    for ax in (1, 2):
        too_big, too_small = max(arr.chunks[ax]) > side, min(arr.chunks[ax]) < min(min_side, arr.shape[ax])
        chunks[ax] = min(arr.shape[ax], side) if too_big or too_small else arr.chunks[ax]
    return arr.rechunk(chunks)


def _masked_quantile(v: NDArray[np.floating], mask: NDArray[np.bool_], q: float) -> NDArray[np.float64]:
    """Per column, the ``q`` quantile (lower neighbour) of the values where ``mask``; 0 where none.

    (``np.nanquantile`` warns on empty columns, and warning filters are not thread-safe
    under the threaded Dask scheduler.)
    """
    k = mask.sum(axis=0)
    # sorted along contiguous rows (the columns transposed): several times faster than along axis 0
    ordered = np.sort(np.where(mask, v, np.inf).reshape(v.shape[0], -1).T, axis=-1)
    idx = np.clip(np.floor(q * (k - 1)).astype(np.int64), 0, v.shape[0] - 1)
    out = np.take_along_axis(ordered, idx.reshape(-1, 1), axis=-1).reshape(k.shape)
    return np.where(k > 0, out, 0.0).astype(np.float64)


_TRAVERSE: Any = None


def _traverse_kernel() -> Any:
    """The compiled column traversal (:func:`numba.njit`), one column at a time.

    Hand-written because the traversal is a walk along each column that stops early: the
    whole-volume NumPy version (kept as the reference in ``tests/tomo/test_segment_fast.py``)
    takes about 20 passes over the volume, a float64 copy of it for the window means and a
    sort along ``z`` for the median between the electrodes; it was half of the segmentation's
    time (43 of 85 s on 28 x 1224 x 2448 voxels of the paper-geometry benchmark volume). The
    window mean is summed in the same order in float64 (bit-identical), and "the median of the
    electrolyte run >= threshold" is counted instead of sorted (the lower-neighbour median
    is at or above ``thr`` exactly when at most ``(k - 1) // 2`` of the ``k`` values lie below).
    """
    global _TRAVERSE
    if _TRAVERSE is None:
        import numba

        @numba.njit(nogil=True, cache=True)
        def region(
            v: Any, y: int, x: int, rev: bool, coll: Any, elec: Any, elec_mean: float, window: int
        ) -> Any:  # pragma: no cover
            nz = v.shape[0]
            start = nz
            for z in range(nz):
                if v[nz - 1 - z, y, x] < coll if rev else v[z, y, x] < coll:
                    start = z
                    break
            stop = nz
            for z in range(start, nz):
                zz = nz - 1 - z if rev else z
                bright = v[zz, y, x] >= elec
                if bright and z + 1 < nz:
                    nxt = v[zz - 1, y, x] if rev else v[zz + 1, y, x]
                    if nxt >= elec:
                        stop = z
                        break
                acc = np.float64(v[zz, y, x])
                n = min(window, nz - z)
                for k in range(1, n):
                    acc += v[zz - k, y, x] if rev else v[zz + k, y, x]
                if acc / n > elec_mean:
                    stop = z
                    break
            end = nz
            for z in range(stop, nz):
                zz = nz - 1 - z if rev else z
                if v[zz, y, x] >= elec:
                    end = z
                    break
            return start, end

        @numba.njit(nogil=True, cache=True)
        def traverse(
            v: Any,
            void: Any,
            lith: Any,
            elec: Any,
            coll: Any,
            elec_mean: float,
            window: int,
            todo: Any,
            lab: Any,
            cell: Any,
        ) -> None:  # pragma: no cover - compiled
            nz, ny, nx = v.shape
            for y in range(ny):
                for x in range(nx):
                    if not todo[y, x]:
                        continue
                    s0, e0 = region(v, y, x, False, coll, elec, elec_mean, window)
                    s1r, e1r = region(v, y, x, True, coll, elec, elec_mean, window)
                    s1, e1 = nz - 1 - s1r, nz - 1 - e1r
                    ok = (e0 < nz) and (e1r < nz) and (e0 <= e1) and (e0 > s0) and (s1 > e1)
                    if ok:  # the lower median of the run e0..e1 is electrolyte
                        below = 0
                        for z in range(e0, e1 + 1):
                            if v[z, y, x] < elec_mean:
                                below += 1
                        ok = below <= (e1 - e0) // 2
                    cell[y, x] = ok
                    if not ok:
                        continue
                    last_dark0 = -1
                    for z in range(s0, e0):
                        if v[z, y, x] < lith:
                            last_dark0 = z
                    first_dark1 = nz
                    for z in range(e1 + 1, s1 + 1):
                        if v[z, y, x] < lith:
                            first_dark1 = z
                            break
                    for z in range(s0, e0):
                        c = v[z, y, x]
                        lab[z, y, x] = VOID if c < void else (INTERPHASE if z > last_dark0 and c >= lith else LITHIUM)
                    for z in range(e0, e1 + 1):
                        lab[z, y, x] = PORE if v[z, y, x] < lith else ELECTROLYTE
                    for z in range(e1 + 1, s1 + 1):
                        c = v[z, y, x]
                        lab[z, y, x] = VOID if c < void else (INTERPHASE if z < first_dark1 and c >= lith else LITHIUM)

        _TRAVERSE = traverse
    return _TRAVERSE


def _traverse(
    v: NDArray[np.floating], t: Thresholds, window_px: int, col_max: NDArray[np.floating] | None = None
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """Labels by column traversal, and which columns belong to the cell.

    ``col_max`` (``v.max(axis=0)``, when the caller has it): a column with no voxel at or above the
    electrolyte threshold never ends an electrode region, so it is outside the cell and is not walked
    (the air around a cylindrical cell: 80 % of the paper benchmark's columns, each walked twice over
    its whole length with the window mean).

    Per column: the electrode region from each end (the collector is the leading run at or above
    the collector threshold; the region lasts until the mean of the next ``window_px`` voxels, or
    two voxels in a row, reach the electrolyte threshold; it ends at the first electrolyte voxel
    from there); a cell column has both, in order, with a median at or above the electrolyte
    threshold between them. Electrode voxels below the void threshold are void, the bright run
    ending at the electrolyte is interphase, the rest lithium; between the electrodes, voxels
    below the lithium cut-off are pore, the rest electrolyte.
    """
    lab = np.full(v.shape, OUTSIDE, np.uint8)
    cell = np.zeros(v.shape[1:], bool)
    if v.size:
        # voxel comparisons in the voxels' precision (as NumPy compares a float32 array with a float),
        # the window mean and the median in float64 (as the NumPy version)
        f = v.dtype.type
        top = v.max(axis=0) if col_max is None else col_max
        _traverse_kernel()(
            v,
            f(t.void),
            f(t.lithium),
            f(t.electrolyte),
            f(t.collector),
            float(t.electrolyte),
            int(window_px),
            np.asarray(top >= f(t.electrolyte)),
            lab,
            cell,
        )
    return lab, cell


def _fill_fraction(v: NDArray[np.floating], t: Thresholds) -> NDArray[np.float64]:
    """Per column of ``v`` (``(nz, ...)``): its electrolyte level over the volume's (75th percentile, not collector)."""
    if t.electrolyte_level is None:
        return np.zeros(v.shape[1:])
    return _masked_quantile(v, v < t.collector, 0.75) / t.electrolyte_level


def _may_hold_cell(v: NDArray[np.floating], t: Thresholds, median_px: int) -> NDArray[np.bool_]:
    """Columns whose median-filtered values might join the cell (the others need no median).

    A column whose ``median_px`` neighbourhood holds no value at or above ``bound`` keeps
    every median below it: its traversal never meets electrolyte (``bound`` <= the
    electrolyte threshold) and its fill fraction stays below 0.5 (``bound`` <= half the
    electrolyte level), so it is outside the cell whatever the exact values (e.g. the air
    around a cylindrical cell, about 45 % of a square reconstruction).
    """
    bound = t.electrolyte if t.electrolyte_level is None else min(t.electrolyte, 0.5 * t.electrolyte_level)
    top = ndimage.maximum_filter(v.max(axis=0), size=median_px, mode="nearest")
    return np.asarray(~(top < bound))


def pore_threshold(t: Thresholds) -> float:
    """Grey value below which an electrolyte voxel is pore: midway between the void and electrolyte levels.

    Falls back to ``t.lithium`` when the levels are unknown (thresholds given by hand).

    Examples
    --------
    >>> pore_threshold(Thresholds(1.5, 7.5, 9.0, 18.0, electrolyte_level=12.0, void_level=0.0))
    6.0
    """
    if t.electrolyte_level is None or t.void_level is None:
        return t.lithium
    return 0.5 * (t.electrolyte_level + t.void_level)


def _restore_pores(
    lab: NDArray[np.uint8], v: NDArray[np.floating], cell: NDArray[np.bool_], t: Thresholds, min_voxels: int
) -> None:
    """Pores (in place) from the unfiltered volume: every voxel of the cell's middle below :func:`pore_threshold`
    in a component that holds a seed (a voxel below it after a Gaussian of 0.7 voxel) and ``min_voxels`` voxels.

    The 3 x 3 x 3 median used for the traversal erases pores of 1.5-2 voxel radius (measured:
    33 of 261 pore voxels found on the bare-interface phantom; 258 with this).
    """
    middle = _is_any(lab, ELECTROLYTE, PORE) & cell[None]
    if not middle.any():
        return
    thr = pore_threshold(t)
    lab[middle & (lab == PORE)] = ELECTROLYTE
    dark = middle & (v < thr)
    seeds = dark & (ndimage.gaussian_filter(np.asarray(v, dtype=np.float32), 0.7, truncate=4.0) < thr)
    if not seeds.any():
        return
    comp, n = ndimage.label(dark)
    sizes = np.bincount(comp.ravel(), minlength=n + 1)
    keep = np.zeros(n + 1, bool)
    keep[np.unique(comp[seeds])] = True
    keep &= sizes >= max(1, min_voxels)
    keep[0] = False
    lab[keep[comp]] = PORE


def _is_any(lab: NDArray[np.uint8], *codes: int) -> NDArray[np.bool_]:
    """``np.isin(lab, codes)`` for a few label codes, as comparisons (``np.isin`` sorts; a table look-up
    gathers at about 4 ns per voxel, the comparisons run at memory speed).

    Examples
    --------
    >>> _is_any(np.array([0, 1, 2, 5], np.uint8), 1, 5).tolist()
    [False, True, False, True]
    """
    out = lab == codes[0]
    for c in codes[1:]:
        out |= lab == c
    return out


def _box(mask: NDArray[np.bool_], margin: int) -> tuple[slice, slice]:
    """Bounding box (y, x slices) of the True of a 2-D ``mask``, widened by ``margin`` and clipped; empty when none.

    Examples
    --------
    >>> m = np.zeros((6, 8), bool)
    >>> m[2, 3] = m[3, 5] = True
    >>> _box(m, 1)
    (slice(1, 5, None), slice(2, 7, None))
    >>> _box(np.zeros((3, 3), bool), 2)
    (slice(0, 0, None), slice(0, 0, None))
    """
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return slice(0, 0), slice(0, 0)
    ny, nx = mask.shape
    return (
        slice(max(0, int(rows[0]) - margin), min(ny, int(rows[-1]) + 1 + margin)),
        slice(max(0, int(cols[0]) - margin), min(nx, int(cols[-1]) + 1 + margin)),
    )


def _segment_block(
    v: NDArray[np.floating],
    t: Thresholds,
    window_px: int,
    min_void_voxels: int,
    classifier: InterphaseClassifier | None,
    median_px: int,
) -> NDArray[np.uint8]:
    vm = median_filter3d(v, median_px, columns=_may_hold_cell(v, t, median_px)) if median_px > 1 else v
    col_max = vm.max(axis=0)
    lab, cell = _traverse(vm, t, window_px, col_max)
    # Voids, interphase and the cell's middle lie in the cell's columns only (the rim columns below get
    # no void or pore): the void growth, the pores and the small-void clean-up look at the cell's
    # bounding box in (y, x) only, widened by the Gaussians' radius (3 voxels) so that their values in
    # the box are those of the whole block (the air around the cell: 80 % of the paper benchmark's voxels)
    box = _box(cell, 3)
    lb, vb = lab[:, box[0], box[1]], v[:, box[0], box[1]]  # views: labels written through
    if median_px > 1:
        # voids keep their voxel-level outline: every dark (raw) voxel connected to a void
        # of the median-filtered volume is void (hysteresis); noise alone seeds none
        seeds = lb == VOID
        if seeds.any():  # (no seed, nothing to grow: the labelling is the costly part)
            dark = vb < t.void
            if t.void_level is not None and t.lithium_level is not None:
                # (and every voxel below the half-contrast level of voids and lithium after a 0.7-voxel Gaussian)
                mid = 0.5 * (t.void_level + t.lithium_level)
                dark |= ndimage.gaussian_filter(np.asarray(vb, dtype=np.float32), 0.7, truncate=3.0) < mid
            dark &= _is_any(lb, LITHIUM, VOID, INTERPHASE)
            comp, n = ndimage.label(dark | seeds)
            keep = np.zeros(n + 1, bool)
            keep[np.unique(comp[seeds])] = True
            keep[0] = False
            lb[keep[comp]] = VOID
    # columns at the cell's rim are partly outside it: every value is lowered by the filled
    # fraction f, so they are traversed again after dividing by f (when f >= 0.5)
    # (only the columns outside the cell are looked at)
    # (a column whose maximum is below half the electrolyte level has f < 0.5: not looked at; 0.49
    # leaves room for rounding)
    level = t.electrolyte_level if t.electrolyte_level is not None else math.inf
    out = np.flatnonzero(~cell & (col_max >= 0.49 * level))
    flat_vm = vm.reshape(vm.shape[0], -1)
    f = _fill_fraction(flat_vm[:, out], t)
    retry = (f >= 0.5) & (f < 1.0)
    if retry.any():
        cols = flat_vm[:, out[retry]] / f[retry]
        lab2, cell2 = _traverse(cols[:, :, None], t, window_px)
        # rim columns hold too little of the cell to tell voids or pores from partial volume
        rim = lab2[:, cell2[:, 0], 0]
        rim[rim == VOID] = LITHIUM
        rim[rim == PORE] = ELECTROLYTE
        lab.reshape(lab.shape[0], -1)[:, out[retry][cell2[:, 0]]] = rim
    if median_px > 1:
        _restore_pores(lb, vb, cell[box], t, min_void_voxels)
    if min_void_voxels > 1:
        comp, n = ndimage.label(lb == VOID)
        if n:
            sizes = np.bincount(comp.ravel())
            small = sizes < min_void_voxels
            small[0] = False
            lb[small[comp]] = LITHIUM
    if classifier is not None:
        rf = classifier.predict(v)
        editable = _is_any(lab, ELECTROLYTE, LITHIUM, INTERPHASE)
        lab[editable & (rf == INTERPHASE)] = INTERPHASE
        demote = editable & (lab == INTERPHASE) & (rf != INTERPHASE)
        lab[demote & (rf == LITHIUM)] = LITHIUM
        lab[demote & (rf == ELECTROLYTE)] = ELECTROLYTE
    return lab


def segment_cell(
    volume: Any,
    *,
    thresholds: Thresholds | None = None,
    window_px: int = 5,
    min_void_voxels: int = 4,
    classifier: InterphaseClassifier | None = None,
    median_px: int = 3,
    overlap_px: int | None = None,
) -> Any:
    """Label every voxel of a Li | electrolyte | Li cell volume (module notes).

    Parameters
    ----------
    volume : (nz, ny, nx) ndarray or dask array
        Attenuation volume with the stack along ``z`` (collectors at both ends, or the
        electrodes reaching the volume's ends).
    thresholds : Thresholds, optional
        Default :func:`auto_thresholds`.
    window_px : int, default 5
        Voxels averaged ahead of the column traversal.
    min_void_voxels : int, default 4
        Void components smaller than this become lithium.
    classifier : InterphaseClassifier, optional
        Decides the interphase instead of the threshold band.
    median_px : int, default 3
        Side of the median filter applied before the thresholds (1: none). A median keeps
        steps (interfaces) in place and 3 x 3 x 3 voids (19 of 27 voxels); voids then get
        back their voxel-level outline by hysteresis on the unfiltered volume.
    overlap_px : int, optional
        Overlap between column blocks of a Dask volume, voxels; default enough for the
        classifier's features (or 4 without one).

    Returns
    -------
    (nz, ny, nx) ndarray or dask array of uint8
        Label codes; a Dask volume gives a lazy result chunked by columns.

    Examples
    --------
    >>> from operando.synthetic import simulate_cell
    >>> cell = simulate_cell((60, 40, 40), n_voids=(3, 3), seed=1)
    >>> labels = segment_cell(cell.volume)
    >>> float((labels == cell.labels).mean()) > 0.99
    True
    """
    if volume.ndim != 3:
        raise ParameterError(f"volume must be (z, y, x), got shape {volume.shape}")
    if window_px < 1:
        raise ParameterError(f"window_px must be at least 1, got {window_px}")
    t = thresholds if thresholds is not None else auto_thresholds(volume)
    dt = np.float32 if volume.dtype == np.float32 else np.float64

    def block(b: NDArray[Any]) -> NDArray[np.uint8]:
        return _segment_block(np.asarray(b, dtype=dt), t, window_px, min_void_voxels, classifier, median_px)

    if isinstance(volume, da.Array):
        depth = overlap_px if overlap_px is not None else (classifier.overlap_px if classifier else 4)
        # the classifier's features take ~30 floats per voxel: smaller blocks then
        arr: Any = column_blocks(volume, 4 if classifier is None else 128, min_side=2 * depth)
        return arr.map_overlap(
            block,
            depth={0: 0, 1: depth, 2: depth},
            boundary="none",
            dtype=np.uint8,
            meta=np.empty((0, 0, 0), np.uint8),
        )
    return block(np.asarray(volume))


# -- interphase classifier ----------------------------------------------------------------------


@dataclass(frozen=True)
class ForestArrays:
    """A trained random forest as plain arrays (what a classifier file holds: no code, only numbers).

    Trees are stored one after another; tree ``t`` owns nodes ``offsets[t]:offsets[t + 1]``,
    whose child indices are local to the tree (-1 at leaves).

    Attributes
    ----------
    classes : (n_classes,) ndarray
        Label code of each class.
    offsets : (n_trees + 1,) ndarray of int64
    left, right, feature : (n_nodes,) ndarray of int64
    threshold : (n_nodes,) ndarray of float64
        A sample goes left when ``x[feature] <= threshold`` (scikit-learn's rule, on float32 features).
    value : (n_nodes, n_classes) ndarray of float64
        Class weights of each node (normalised per node when predicting).

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 3)).astype(np.float32)
    >>> rf = RandomForestClassifier(n_estimators=3, random_state=0).fit(x, (x[:, 0] > 0).astype(int))
    >>> bool(np.array_equal(ForestArrays.from_sklearn(rf).predict(x), rf.predict(x)))
    True
    """

    classes: NDArray[Any]
    offsets: NDArray[np.int64]
    left: NDArray[np.int64]
    right: NDArray[np.int64]
    feature: NDArray[np.int64]
    threshold: NDArray[np.float64]
    value: NDArray[np.float64]

    @classmethod
    def from_sklearn(cls, model: Any) -> ForestArrays:
        """The arrays of a fitted :class:`sklearn.ensemble.RandomForestClassifier` (one output)."""
        trees = [est.tree_ for est in model.estimators_]
        sizes = [t.node_count for t in trees]
        return cls(
            classes=np.asarray(model.classes_),
            offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            left=np.concatenate([t.children_left for t in trees]).astype(np.int64),
            right=np.concatenate([t.children_right for t in trees]).astype(np.int64),
            feature=np.concatenate([t.feature for t in trees]).astype(np.int64),
            threshold=np.concatenate([t.threshold for t in trees]).astype(np.float64),
            value=np.concatenate([t.value[:, 0, :] for t in trees]).astype(np.float64),
        )

    def predict_proba(self, x: NDArray[Any]) -> NDArray[np.float64]:
        """(n_samples, n_classes) mean over the trees of each leaf's class fractions."""
        xs = np.asarray(x, dtype=np.float32)
        if xs.ndim != 2 or (self.feature.size and int(self.feature.max()) >= xs.shape[1]):
            raise ParameterError(
                f"the classifier uses feature {int(self.feature.max())}; the samples have {xs.shape[-1]} features"
            )
        rows = np.arange(xs.shape[0])
        total = np.zeros((xs.shape[0], self.classes.size))
        for t in range(self.offsets.size - 1):
            base = int(self.offsets[t])
            node = np.zeros(xs.shape[0], np.int64)
            while True:
                g = base + node
                inner = self.left[g] >= 0
                if not inner.any():
                    break
                f = np.where(inner, self.feature[g], 0)
                go_left = xs[rows, f] <= self.threshold[g]
                node = np.where(inner, np.where(go_left, self.left[g], self.right[g]), node)
            leaf = self.value[base + node]
            total += leaf / np.maximum(leaf.sum(axis=1, keepdims=True), 1e-300)
        return total / max(self.offsets.size - 1, 1)

    def predict(self, x: NDArray[Any]) -> NDArray[Any]:
        """Class of highest mean probability (ties: the first, as scikit-learn)."""
        return self.classes[np.argmax(self.predict_proba(x), axis=1)]


@dataclass
class InterphaseClassifier:
    """A random forest on multiscale features that labels interphase voxels.

    Attributes
    ----------
    model : sklearn.ensemble.RandomForestClassifier or ForestArrays
        Trained on label codes (a forest read from a classifier file is its arrays).
    sigma_min, sigma_max : float
        Scales of :func:`skimage.feature.multiscale_basic_features`, voxels.

    Notes
    -----
    Written and read by :func:`operando.tomo.save_classifier` and
    :func:`operando.tomo.load_classifier` (readers, not this kernel).
    """

    model: Any
    sigma_min: float
    sigma_max: float

    @property
    def overlap_px(self) -> int:
        """Overlap that keeps the features of a block equal to those of the whole volume."""
        return math.ceil(4 * self.sigma_max) + 1

    def features(self, volume: NDArray[np.floating]) -> NDArray[np.float32]:
        """``(..., n_features)`` features of every voxel."""
        return _features(volume, self.sigma_min, self.sigma_max)

    def predict(self, volume: NDArray[np.floating]) -> NDArray[np.uint8]:
        """Label code predicted for every voxel, shape of ``volume``."""
        f = self.features(volume)
        out = self.model.predict(f.reshape(-1, f.shape[-1]))
        return np.asarray(out, dtype=np.uint8).reshape(volume.shape)


def _features(volume: NDArray[np.floating], sigma_min: float, sigma_max: float) -> NDArray[np.float32]:
    from skimage.feature import multiscale_basic_features

    img = np.asarray(volume, dtype=np.float32)
    f = multiscale_basic_features(
        img, intensity=True, edges=True, texture=True, sigma_min=sigma_min, sigma_max=sigma_max
    )
    return np.asarray(f, dtype=np.float32)


def train_interphase_classifier(
    volume: NDArray[np.floating],
    labels: NDArray[np.integer],
    *,
    sigma_min: float = 1.0,
    sigma_max: float = 4.0,
    n_estimators: int = 40,
    max_samples_per_class: int = 20_000,
    seed: int = 0,
) -> InterphaseClassifier:
    """Train the interphase classifier from a few labelled slices.

    Parameters
    ----------
    volume : (nz, ny, nx) ndarray
        Attenuation volume (features are computed on all of it: pass a crop around the
        labelled slices for large volumes).
    labels : (nz, ny, nx) ndarray of int
        Label codes where known, ``255`` elsewhere (e.g. only a few ``y`` slices labelled).
    sigma_min, sigma_max : float
        Feature scales, voxels.
    n_estimators : int
        Trees.
    max_samples_per_class : int
        Labelled voxels drawn per class (balanced training).
    seed : int
        Seed of the sampling and the forest.

    Returns
    -------
    InterphaseClassifier
    """
    from sklearn.ensemble import RandomForestClassifier

    vol = np.asarray(volume)
    lab = np.asarray(labels)
    if vol.shape != lab.shape or vol.ndim != 3:
        raise ParameterError(f"volume {vol.shape} and labels {lab.shape} must be the same (z, y, x) shape")
    known = lab != UNLABELLED
    if not np.any(lab[known] == INTERPHASE):
        raise ParameterError("the training labels hold no interphase voxel (code 4)")
    rng = np.random.default_rng(seed)
    picks = []
    for code in np.unique(lab[known]):
        idx = np.flatnonzero(lab.ravel() == code)
        picks.append(rng.choice(idx, min(idx.size, max_samples_per_class), replace=False))
    sel = np.concatenate(picks)
    f = _features(vol, sigma_min, sigma_max)
    feats = f.reshape(-1, f.shape[-1])
    model = RandomForestClassifier(n_estimators=n_estimators, max_depth=12, n_jobs=1, random_state=seed)
    model.fit(feats[sel], lab.ravel()[sel])
    return InterphaseClassifier(model=model, sigma_min=sigma_min, sigma_max=sigma_max)
