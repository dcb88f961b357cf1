"""The region of interest is honest: a point whose signal crosses its box is seen, and the box widened."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import operando.pipelines.sxdm as pipeline
from operando.sxdm import ROI, reduce_kmap
from operando.synthetic import simulate_kmap, write_bliss_kmap


def _blob_frames(centres, *, shape=(9, 40, 40), counts=4e4, background=0.5, seed=0):
    """(angle, 1, points, det_y, det_x) Poisson frames of 3D Gaussian peaks at ``centres``
    (angle, det_y, det_x) per point, sigma 1 angle and 2 pixels, on a flat background."""
    rng = np.random.default_rng(seed)
    a, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    frames = []
    for ca, cy, cx in centres:
        g = np.exp(-0.5 * ((a - ca) ** 2 + ((y - cy) / 2) ** 2 + ((x - cx) / 2) ** 2))
        frames.append(rng.poisson(background + counts * g / g.sum()))
    return np.stack(frames, axis=1)[:, None].astype(np.int32)


def test_points_crossing_a_side_of_the_box_are_flagged_by_side():
    """A peak inside the box: no side; a peak beyond its low det_y side, or beyond its last
    angle: that side's bit, and only for that point; sides at the data's limit never."""
    frames = _blob_frames([(4, 20, 20), (4, 9, 20), (8, 20, 20), (4, 20, 20)])
    n_a, _, _, dy, dx = frames.shape
    q = np.zeros((n_a, dy, dx, 3))
    q[..., 2] = 3.0 + 1e-3 * np.arange(dy)[None, :, None]
    q[..., 0] = 1e-3 * np.arange(dx)[None, None, :]
    roi = ROI((1, 8), (12, 28), (12, 28))
    moments, _ = reduce_kmap(frames, q, eta_deg=np.linspace(10, 10.08, n_a), roi=roi, hot_pixel_threshold=None)
    sides = moments["roi_edge_sides"][0].astype(int).tolist()
    assert sides == [0, 0b000100, 0b000010, 0]  # det_y low, angle high
    # the box at the data's limits: nothing beyond it, nothing flagged
    whole, _ = reduce_kmap(
        frames, q, eta_deg=np.linspace(10, 10.08, n_a), roi=ROI((0, 9), (0, 40), (0, 40)), background=0.5
    )
    assert not whole["roi_edge_sides"].any()


@pytest.fixture(scope="module")
def wandering(tmp_path_factory):
    """A crystal whose tilt domains (0.1 deg) move its peak across the detector and the
    rocking scan: one surveyed row sees only part of where the points diffract."""
    model = simulate_kmap(map_shape=(16, 16), n_angles=24, seed=3, max_tilt_deg=0.1, n_domains=4)
    return model, write_bliss_kmap(model, tmp_path_factory.mktemp("wander") / "w")


def _d_rms(maps, model, mask):
    return float(np.sqrt(np.mean((maps.d_spacing.values - model.truth.d_spacing_A)[mask] ** 2)))


def _tilt_rms(maps, model, mask):
    """RMS angle (deg) between measured and true Q."""
    q = np.stack([maps[k].values for k in ("qx", "qy", "qz")], axis=-1)[mask]
    t = model.truth.q[mask]
    cos = (q * t).sum(-1) / np.linalg.norm(q, axis=-1) / np.linalg.norm(t, axis=-1)
    return float(np.sqrt(np.mean(np.degrees(np.arccos(np.clip(cos, -1, 1))) ** 2)))


@pytest.mark.slow
def test_wandering_peak_gives_the_result_of_a_region_that_holds_every_point(wandering, monkeypatch):
    """A survey of one row finds a box that cuts many points' peaks; the edge check finds
    them, each is reduced in its own region, and the maps equal those of the region found
    from every point's frames (within noise), where the survey's box alone was several
    times worse."""
    model, master = wandering
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every cut point reduced in its own region: no warning
        ours, p = pipeline.process_kmap(master, survey_points=16, phases="off")
        full, _ = pipeline.process_kmap(master, survey_points=None, phases="off")
    assert p["roi_recut_points"] > 10 and p["roi_cut_points"] == 0
    mask = model.truth.mask & ours["mask"].values & full["mask"].values
    d_ours, d_full = _d_rms(ours, model, mask), _d_rms(full, model, mask)
    assert d_ours < 1.25 * d_full
    diff = (ours.d_spacing.values - full.d_spacing.values)[mask]
    assert np.sqrt(np.mean(diff**2)) < 0.75 * d_full
    # the survey's box alone (the cut points left as they are): said so, and wrong
    monkeypatch.setattr(pipeline, "_recut", lambda source, meta, computed, points, *a, **k: points)
    with pytest.warns(RuntimeWarning, match=r"signal of \d+ point\(s\) crosses the region of interest"):
        cut, p_cut = pipeline.process_kmap(master, survey_points=16, phases="off")
    assert p_cut["roi_cut_points"] == p["roi_recut_points"]
    # measured: d RMS 1.2e-5 (cut points in their own region), 1.6e-5 (every point surveyed), 6.9e-5 A (cut);
    # tilt RMS 0.0008, 0.0012, 0.0053 deg
    assert _d_rms(cut, model, mask) > 2.5 * d_full
    assert _tilt_rms(ours, model, mask) < 1.25 * _tilt_rms(full, model, mask) < 0.4 * _tilt_rms(cut, model, mask)


def test_a_points_own_region_from_a_band_of_rows_is_the_whole_frames(tmp_path):
    """The recut reads a point's band of detector rows first: the region found there (near
    the map's box, then in the wider window) is the one found on its whole frames, and
    where the whole frame is needed the band says so (True) instead of guessing."""
    from operando.sxdm import find_hot_pixels, open_kmap

    model = simulate_kmap(map_shape=(10, 10), n_angles=16, seed=3, max_tilt_deg=0.1, n_domains=4)
    master = write_bliss_kmap(model, tmp_path / "w")
    source = open_kmap(master)
    _, ny, nx, dy, dx = source.frames.shape
    valid = np.asarray(source.meta.pixel_mask) == 0
    valid &= ~find_hot_pixels(np.asarray(source.frames.sum(axis=(1, 2)), dtype=np.float64))
    roi = ROI((8, 15), (dy // 2 - 6, dy // 2 + 6), (dx // 2 - 6, dx // 2 + 6))
    band = pipeline._search_window(roi, (dy, dx))[0]
    assert band != (0, dy)
    outcomes = set()
    for y, x in [(y, x) for y in range(0, ny, 2) for x in range(0, nx, 2)]:
        whole = pipeline._own_region(source.point_frames(y, x), valid, roi)
        got = pipeline._own_region(source.point_frames(y, x, rows=band), valid, roi, row0=band[0], height=dy)
        if got is True:  # its peak reaches beyond the band: only the whole frames can tell
            outcomes.add("whole")
            assert whole is None or not (band[0] < whole.det_y[0] and whole.det_y[1] < band[1])
        else:
            outcomes.add("band")
            assert got == whole
    assert outcomes == {"band", "whole"}  # both paths were taken


def test_signal_beyond_tells_tails_inside_the_box_from_signal_that_leaves_it():
    """A bright peak whose tails fill a side band inside the box (its edge bit set) keeps its
    signal in the box; the same peak moved 3 px, or to the box's last angle, sends it past
    the side; a band of rows and angles (row0, angle0) gives the answer of the whole frames."""
    from operando.sxdm import signal_beyond

    roi = ROI((2, 11), (14, 26), (14, 26))
    ok = np.ones((40, 40), dtype=bool)
    centred, shifted, last = _blob_frames([(6, 20, 20), (6, 17, 20), (10, 20, 20)], shape=(12, 40, 40))[:, 0].transpose(
        1, 0, 2, 3
    )
    n_a, dy, dx = centred.shape
    q = np.zeros((n_a, dy, dx, 3))
    q[..., 2] = 3.0 + 1e-3 * np.arange(dy)[None, :, None]
    q[..., 0] = 1e-3 * np.arange(dx)[None, None, :]
    eta = np.linspace(10, 10.11, n_a)
    sides, _ = reduce_kmap(centred[:, None, None], q, eta_deg=eta, roi=roi, hot_pixel_threshold=None, background=0.5)
    assert sides["roi_edge_sides"][0, 0] != 0  # the edge check fires on the tails ...
    assert not signal_beyond(centred, roi, valid=ok, background=0.5)  # ... that stay in the box
    assert signal_beyond(shifted, roi, valid=ok, background=0.5)
    assert signal_beyond(last, roi, valid=ok, background=0.5)
    for f in (centred, shifted, last):  # the box and a side band around it, from angle 1 and row 12
        part = signal_beyond(f[1:12, 12:28], roi, valid=ok, background=0.5, row0=12, angle0=1)
        assert part == signal_beyond(f, roi, valid=ok, background=0.5)
    # background left in (none subtracted) reads as signal everywhere: never held
    assert signal_beyond(centred, roi, valid=ok, background=0.0)
    # masked pixels count for nothing: the shifted peak's side, dead, holds no signal
    dead = ok.copy()
    dead[10:14] = False
    assert not signal_beyond(shifted, roi, valid=dead, background=0.5)


def test_points_whose_tails_stay_in_the_box_keep_the_maps_moments(tmp_path, monkeypatch):
    """ID01-like frames (0.005 counts per pixel, 3000 Bragg counts): bright points set off the
    edge check with tails that stay in the box; those are kept as reduced (``roi_recut_held_points``)
    instead of being read and reduced again, and the maps are as accurate as when every
    one of them is reduced again in its own region."""
    model = simulate_kmap(
        map_shape=(16, 16), n_angles=24, seed=4, background=0.005, peak_counts=3000.0, detector_shape=(256, 256)
    )
    master = write_bliss_kmap(model, tmp_path / "w")
    held, p = pipeline.process_kmap(master, phases="off")
    assert 0 < p["roi_recut_held_points"] < p["roi_recut_points"] and p["roi_cut_points"] == 0
    monkeypatch.setattr(pipeline, "signal_beyond", lambda *a, **k: True)  # every one reduced again
    every, p_every = pipeline.process_kmap(master, phases="off")
    assert p_every["roi_recut_held_points"] == 0
    mask = model.truth.mask & held["mask"].values & every["mask"].values
    # measured: d RMS 1.418e-5 A both ways, tilt RMS within 1 %
    assert _d_rms(held, model, mask) < 1.05 * _d_rms(every, model, mask)
    assert _tilt_rms(held, model, mask) < 1.05 * _tilt_rms(every, model, mask)
