"""The fast segmentation kernels against the straightforward ones they replace (identical labels)."""

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage

from operando.tomo import (
    ELECTROLYTE,
    INTERPHASE,
    LITHIUM,
    OUTSIDE,
    PORE,
    VOID,
    Thresholds,
    auto_thresholds,
    cell_quantities,
    contact_maps,
    li_edges,
    median_filter3d,
    segment_cell,
)

from ._cells import random_cell


@pytest.mark.parametrize("size", [2, 3, 4, 5])
@pytest.mark.parametrize("shape", [(7, 9, 11), (2, 3, 40), (1, 1, 1)])
def test_median_filter3d_is_scipys(size, shape):
    rng = np.random.default_rng(size)
    v = rng.normal(size=shape).astype(np.float32)
    v[rng.random(shape) < 0.3] = 0.5  # ties
    assert np.array_equal(median_filter3d(v, size), ndimage.median_filter(v, size=size, mode="nearest"))
    w = v.astype(np.float64)
    out = median_filter3d(w, size, max_bytes=1)  # one row of windows at a time
    assert out.dtype == np.float64
    assert np.array_equal(out, ndimage.median_filter(w, size=size, mode="nearest"))


def test_median_filter3d_on_some_columns_only():
    rng = np.random.default_rng(7)
    v = rng.normal(size=(5, 30, 20)).astype(np.float32)
    cols = np.zeros((30, 20), bool)
    cols[3, 4] = cols[20:25, 10:18] = True
    out = median_filter3d(v, 3, columns=cols, max_bytes=20 * 27 * 4 * 4)  # strips of 4 rows
    ref = ndimage.median_filter(v, size=3, mode="nearest")
    assert np.array_equal(out[:, cols], ref[:, cols])
    far = np.ones_like(cols)
    far[:28] = False  # the strip of rows 28.. holds no requested column: left as it is
    assert np.array_equal(out[:, far], v[:, far])


# -- the implementation before the speed-up (column-wise cumulative sums, whole-volume
#    passes, SciPy's median), kept here as the reference ------------------------------------


def _masked_quantile(v, mask, q):
    """Per column, the ``q`` quantile (lower neighbour) of the values where ``mask``; 0 where none."""
    out = np.zeros(v.shape[1:])
    for idx in np.ndindex(*v.shape[1:]):
        vals = np.sort(v[(slice(None), *idx)][mask[(slice(None), *idx)]])
        if vals.size:
            out[idx] = vals[int(np.floor(q * (vals.size - 1)))]
    return out


def _first(mask, default):
    return np.where(mask.any(axis=0), mask.argmax(axis=0), default).astype(np.int64)


def _electrode_region(v, t, window_px):
    nz = v.shape[0]
    z = np.arange(nz)[:, None, None]
    start = _first(v < t.collector, nz)
    cs = np.concatenate([np.zeros((1, *v.shape[1:])), np.cumsum(v, axis=0, dtype=np.float64)])
    hi = np.minimum(np.arange(nz) + window_px, nz)
    count = (hi - np.arange(nz))[:, None, None]
    ahead = (cs[hi] - cs[:nz]) / count
    bright = v >= t.electrolyte
    two = np.concatenate([bright[:-1] & bright[1:], np.zeros((1, *v.shape[1:]), bool)])  # two bright in a row
    stop = _first(((ahead > t.electrolyte) | two) & (z >= start), nz)
    end = _first(bright & (z >= stop), nz)
    return start, end


def _traverse(v, t, window_px):
    nz = v.shape[0]
    z = np.arange(nz)[:, None, None]
    s0, e0 = _electrode_region(v, t, window_px)
    s1r, e1r = _electrode_region(v[::-1], t, window_px)
    s1, e1 = nz - 1 - s1r, nz - 1 - e1r
    cell = (e0 < nz) & (e1r < nz) & (e0 <= e1) & (e0 > s0) & (s1 > e1)
    low = (z >= s0) & (z < e0)
    high = (z <= s1) & (z > e1)
    cell &= _masked_quantile(v, (z >= e0) & (z <= e1), 0.5) >= t.electrolyte
    electrode = (low | high) & cell
    middle = (z >= e0) & (z <= e1) & cell
    dark = v < t.lithium
    last_dark0 = nz - 1 - _first((dark & low)[::-1], nz)
    first_dark1 = _first(dark & high, nz)
    band = (low & (z > last_dark0)) | (high & (z < first_dark1))
    lab = np.full(v.shape, OUTSIDE, np.uint8)
    lab[electrode] = LITHIUM
    lab[electrode & band & ~dark] = INTERPHASE
    lab[electrode & (v < t.void)] = VOID
    lab[middle] = ELECTROLYTE
    lab[middle & (v < t.lithium)] = PORE
    return lab, cell


def _reference_segment(v, t, window_px=5, min_void_voxels=4):
    """Labels, and how many rim columns were traversed again."""
    vm = ndimage.median_filter(v, size=3, mode="nearest")
    lab, cell = _traverse(vm, t, window_px)
    seeds = lab == VOID
    dark = v < t.void
    if t.void_level is not None and t.lithium_level is not None:  # voids grow to the half-contrast level
        dark |= ndimage.gaussian_filter(v.astype(np.float32), 0.7, truncate=3.0) < 0.5 * (
            t.void_level + t.lithium_level
        )
    dark &= np.isin(lab, (LITHIUM, VOID, INTERPHASE))
    comp, n = ndimage.label(dark | seeds)
    if n:
        keep = np.zeros(n + 1, bool)
        keep[np.unique(comp[seeds])] = True
        keep[0] = False
        lab[keep[comp]] = VOID
    f = _masked_quantile(vm, vm < t.collector, 0.75) / t.electrolyte_level
    retry = ~cell & (f >= 0.5) & (f < 1.0)
    lab2, cell2 = _traverse(vm / np.where(retry, f, 1.0)[None], t, window_px)
    take = retry & cell2
    rim = lab2[:, take]
    rim[rim == VOID] = LITHIUM
    rim[rim == PORE] = ELECTROLYTE
    lab[:, take] = rim
    # pores: raw voxels of the cell's middle below the void/electrolyte midpoint, in components of at
    # least min_void_voxels that hold a voxel dark after a 0.7-voxel Gaussian
    middle = np.isin(lab, (ELECTROLYTE, PORE)) & cell[None]
    thr = 0.5 * (t.electrolyte_level + t.void_level)
    lab[middle & (lab == PORE)] = ELECTROLYTE
    dark = middle & (v < thr)
    smooth = ndimage.gaussian_filter(v.astype(np.float32), 0.7, truncate=4.0)
    comp, n = ndimage.label(dark)
    for j in range(1, n + 1):
        m = comp == j
        if m.sum() >= min_void_voxels and (smooth[m] < thr).any():
            lab[m] = PORE
    comp, n = ndimage.label(lab == VOID)
    sizes = np.bincount(comp.ravel())
    small = sizes < min_void_voxels
    small[0] = False
    lab[small[comp]] = LITHIUM
    return lab, int(take.sum())


@pytest.mark.parametrize("seed", range(3))
def test_segment_cell_gives_the_reference_labels(seed):
    cell = random_cell(seed, noise_sigma=0.6, blur_sigma_px=1.0)
    v = cell.volume.astype(np.float32)
    t = auto_thresholds(v)
    ref, n_rim = _reference_segment(v, t)
    assert n_rim > 0  # the rim columns' second traversal is exercised
    assert np.array_equal(segment_cell(v, thresholds=t), ref)
    lazy = segment_cell(da.from_array(v, chunks=(-1, 24, 24)), thresholds=t)
    assert np.array_equal(np.asarray(lazy), ref)


def test_window_mean_stops_where_the_cumulative_sum_does():
    # noisy columns: collector, Li, electrolyte, Li, collector (noise reaching across the thresholds)
    rng = np.random.default_rng(3)
    z = np.arange(50)
    profile = np.select([z < 3, z < 15, z < 35, z < 47], [19.0, 4.0, 14.0, 4.0], 19.0)
    v = profile[:, None, None] + rng.uniform(-7.0, 7.0, size=(50, 8, 9))
    t = Thresholds(void=2.0, lithium=6.0, electrolyte=10.0, collector=18.0)  # no electrolyte level: no rim pass
    for window in (1, 2, 5, 60):
        got = segment_cell(v, thresholds=t, window_px=window, median_px=1, min_void_voxels=1)
        want, cell = _traverse(v, t, window)
        assert cell.any()
        assert np.array_equal(got, want)


# -- contact maps and volumes: the previous whole-volume versions ---------------------------


def _reference_edges(labels, void_distance_px):
    nz = labels.shape[0]
    z = np.arange(nz)[:, None, None]
    cell = (labels != OUTSIDE).any(axis=0)
    li_or_void = (labels == LITHIUM) | (labels == VOID)
    body = labels != OUTSIDE
    first_body = np.where(cell, body.argmax(axis=0), nz)
    last_body = np.where(cell, nz - 1 - body[::-1].argmax(axis=0), -1)
    stop0 = ~li_or_void & (z >= first_body)
    e0 = np.where(stop0.any(axis=0), stop0.argmax(axis=0), nz)
    stop1 = ~li_or_void & (z <= last_body)
    e1 = np.where(stop1.any(axis=0), nz - 1 - stop1[::-1].argmax(axis=0), -1)
    void = labels == VOID
    d = void_distance_px
    lost0 = (void & (z < e0) & (z >= e0 - d)).any(axis=0)
    lost1 = (void & (z > e1) & (z <= e1 + d)).any(axis=0)
    contact = cell & ~lost0
    contact1 = cell & ~lost1
    e0 = np.where(cell, e0, -1)
    e1 = np.where(cell, e1, -1)
    return np.stack([e0, e1, contact.astype(np.int64) + 2 * contact1.astype(np.int64)])


def _reference_counts(labels):
    nz = labels.shape[0]
    edges = _reference_edges(labels, 1)[:2]
    cell = edges[0] >= 0
    mid = np.where(cell, 0.5 * (edges[0] + edges[1]), nz / 2.0)
    lower = np.arange(nz)[:, None, None] < mid[None]
    out = np.zeros(12)
    for i, code in enumerate((LITHIUM, VOID, INTERPHASE, PORE)):
        hit = labels == code
        out[2 * i] = np.count_nonzero(hit & lower)
        out[2 * i + 1] = np.count_nonzero(hit & ~lower)
    out[8] = cell.sum()
    out[9] = ((labels != OUTSIDE) & cell[None]).sum()
    out[10] = edges[0][cell].sum()
    out[11] = edges[1][cell].sum()
    return out


def _label_volumes():
    cell = random_cell(5, noise_sigma=0.6)
    yield segment_cell(cell.volume)
    yield cell.labels
    rng = np.random.default_rng(0)
    for shape in ((12, 40, 50), (3, 1, 2000), (30, 2, 3)):  # random codes; small planes too
        lab = rng.choice(np.array([0, 1, 2, 2, 3, 4, 5, 5], np.uint8), size=shape)
        lab[0] = lab[-1] = OUTSIDE
        lab[:, 0, 0] = OUTSIDE  # a column outside the cell
        yield lab


def test_contact_columns_and_counts_are_the_references():
    for lab in _label_volumes():
        for d in (1, 5, 40):
            ref = _reference_edges(lab, d)
            assert np.array_equal(np.asarray(li_edges(lab)), ref[:2])
            bits = contact_maps(lab, void_distance_px=d)
            assert np.array_equal(bits[0], (ref[2] & 1) > 0)
            assert np.array_equal(bits[1], (ref[2] & 2) > 0)
        # a 1 mm voxel: volumes in mm3 are the voxel counts
        c = _reference_counts(lab)
        q = cell_quantities(lab, voxel_size_um=1000.0)
        assert np.array_equal(q["li_volume_electrode_mm3"].values, c[0:2])
        assert np.array_equal(q["void_volume_interface_mm3"].values, c[2:4])
        assert np.array_equal(q["interphase_volume_interface_mm3"].values, c[4:6])
        assert float(q["pore_volume_mm3"]) == c[6] + c[7]
        assert float(q["cell_area_mm2"]) == c[8]
        if c[8]:
            np.testing.assert_allclose(float(q["stack_thickness_um"]), c[9] / c[8] * 1000.0, rtol=1e-14)
            np.testing.assert_allclose(q["interface_position_um"].values, c[10:12] / c[8] * 1000.0, rtol=1e-14)


def test_segment_cell_in_wide_air_gives_the_reference_labels():
    # the cell in a field of noisy air (as the paper's 2-mm cell on a 4-mm detector: most columns air),
    # so that blocks hold no cell, part of it or all of it: the traversal skips air columns and the void,
    # pore and clean-up steps look at the cell's bounding box only; the labels stay the reference's
    cell = random_cell(1, noise_sigma=0.6, blur_sigma_px=1.0)
    rng = np.random.default_rng(5)
    nz, ny, nx = cell.volume.shape
    v = rng.normal(0.0, 0.6, (nz, ny + 50, nx + 37)).astype(np.float32)
    v[:, 30 : 30 + ny, 11 : 11 + nx] = cell.volume
    t = auto_thresholds(v)
    ref, _ = _reference_segment(v, t)
    assert np.isin(ref, (VOID, PORE)).any() and (ref == OUTSIDE).all(axis=0).mean() > 0.5
    assert np.array_equal(segment_cell(v, thresholds=t), ref)
    lazy = segment_cell(da.from_array(v, chunks=(-1, 29, 31)), thresholds=t)
    assert np.array_equal(np.asarray(lazy), ref)
