"""The throughput changes keep the results: binning before the zinger removal (bin 2), the faster
segmentation (against its accuracy floors) and the reconstruction of a stack in parallel blocks."""

import numpy as np

from operando.tomo import bin_frames, minus_log, normalize, remove_zingers


def _frames_with_zingers(seed):
    """Raw counts (angles, rows, cols) of an edge-rich object at 2e4 open-beam counts, their zinger-free
    truth, flats and darks; isolated zingers on ~1e-3 of the pixels (1-2 pixels, 3-60 x the open beam)."""
    rng = np.random.default_rng(seed)
    n_a, n_r, n_c = 12, 40, 96
    flat_counts, dark = 2e4, 100.0
    yy, xx = np.mgrid[0:n_r, 0:n_c]
    mu = np.zeros((n_a, n_r, n_c))
    for a in range(n_a):
        shift = 20 * np.sin(a * np.pi / n_a)
        mu[a] = 1.5 * (np.abs(xx - 48 - shift) < 25) + 0.8 * (np.abs(xx - 40 - shift) < 6) * (yy > 12)
    expected = flat_counts * np.exp(-mu) + dark
    truth = rng.poisson(expected).astype(np.float32)
    # zingers apart from one another (>= 4 px) and from the frame's edge; half span two pixels
    hit = np.zeros(truth.shape, bool)
    cand = rng.random(truth.shape) < 2e-3
    cand[:, :2] = cand[:, -3:] = cand[:, :, :2] = cand[:, :, -3:] = False
    for a, r, c in np.argwhere(cand):
        if not hit[a, r - 4 : r + 5, c - 4 : c + 5].any():
            hit[a, r, c] = True
            if rng.random() < 0.5:
                hit[a, r, c + 1] = True
    amp = rng.uniform(3, 60, truth.shape) * flat_counts
    raw = np.where(hit, truth + amp, truth).astype(np.float32)
    flats = rng.poisson(flat_counts + dark, (6, n_r, n_c)).astype(np.float32)
    darks = rng.poisson(dark, (3, n_r, n_c)).astype(np.float32)
    return raw, truth, flats, darks, hit


def _sino(proj, flats, darks):
    return np.asarray(minus_log(normalize(proj, flats, darks)))


def test_binning_before_zinger_removal_equals_it_after_within_noise():
    for seed in range(3):
        raw, truth, flats, darks, hit = _frames_with_zingers(seed)
        b = 2
        fb, db = bin_frames(flats, b), bin_frames(darks, b)
        # the object moves at most 20 pi / 12 = 5.2 px between these 12 frames: the zingers' track window says so
        # (its default, for 12 angles over 180 degrees of 96 columns, is 14 px; with zingers on 1e-3 of the pixels
        # that window sometimes holds a zinger of similar height in both neighbouring frames: kept as structure)
        clean_then_bin = _sino(bin_frames(remove_zingers(raw, track_px=6), b), fb, db)
        bin_then_clean = _sino(remove_zingers(bin_frames(raw, b), track_px=6 // b), fb, db)
        truth_b = _sino(bin_frames(truth, b), fb, db)
        # noise of one binned pixel of -log: 1 / sqrt(counts of the bin)
        sigma = 1.0 / np.sqrt(bin_frames(truth, b))
        hit_b = bin_frames(hit.astype(np.float32), b) > 0
        # every zinger is gone after bin-then-clean: within 5 s.d. of the zinger-free truth, or (a bin on
        # an edge, replaced by its neighbours' median) within the spread of its neighbours
        err = np.abs(bin_then_clean - truth_b)
        pad = np.pad(truth_b, ((0, 0), (1, 1), (1, 1)), mode="edge")
        win = np.stack(
            [pad[:, dy : dy + truth_b.shape[1], dx : dx + truth_b.shape[2]] for dy in range(3) for dx in range(3)]
        )
        spread = win.max(axis=0) - win.min(axis=0)
        assert np.all(err[hit_b] < np.maximum(5 * sigma, spread)[hit_b]), seed
        # and the rest is untouched but for a handful of pixels
        assert np.count_nonzero(bin_then_clean[~hit_b] != truth_b[~hit_b]) <= 3
        # the two orders agree within the noise everywhere
        diff = np.abs(bin_then_clean - clean_then_bin)
        assert np.all(diff < np.maximum(5 * sigma, spread)), seed
        assert np.count_nonzero(diff) <= hit_b.sum() + 3
        # the cleaning matters: the zingers would be 10s of s.d.
        assert (np.abs(_sino(bin_frames(raw, b), fb, db) - truth_b) / sigma)[hit_b].max() > 20


def test_compiled_traversal_is_the_numpy_reference():
    """The compiled column walk gives the whole-volume NumPy traversal's labels, in float32 and float64, for
    windows shorter and longer than the column, on noisy and on partly empty volumes (through segment_cell
    without median, rim pass or clean-up, which is the traversal alone)."""
    import dataclasses

    from operando.tomo import OUTSIDE, auto_thresholds, median_filter3d, segment_cell

    from ._cells import random_cell
    from .test_segment_fast import _traverse as reference

    for seed in range(4):
        cell = random_cell(seed, noise_sigma=0.6 + 0.3 * seed, blur_sigma_px=1.0)
        v = cell.volume.astype(np.float32 if seed % 2 == 0 else np.float64)
        if seed == 3:
            v[:, :10] = 0.0  # air beside the cell
        t = dataclasses.replace(auto_thresholds(v), electrolyte_level=None, void_level=None)  # no rim pass
        vm = median_filter3d(v, 3)
        for window in (1, 5, 200):
            got = segment_cell(vm, thresholds=t, window_px=window, median_px=1, min_void_voxels=1)
            want, cell_want = reference(vm, t, window)
            assert np.array_equal(got, want), (seed, window)
            assert np.array_equal((got != OUTSIDE).any(axis=0), cell_want), (seed, window)
            if window == 5 and seed == 1:  # not a trivial comparison: most columns are cell columns
                assert cell_want.sum() > 0.3 * cell_want.size
