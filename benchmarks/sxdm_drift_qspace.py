"""Drift correction, q-space gridding against XSOCS, and 3D widths: the numbers, in one run.

Run from the repository root::

    PYTHONPATH=src .venv/bin/python benchmarks/sxdm_drift_qspace.py

Prints: the recovered per-angle drift against the synthetic model's (20 x 20 points,
20 angles, 64^2 pixels, up to 1.3 scan points of drift) and the map errors without and
with the correction; the gridded cube against xsocs's QSpaceConverter on the same input
(and the time per point of each); the 3D peak widths against the model's Gaussian width.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def drift() -> None:
    from tests.sxdm.test_drift import _drift, _errors, _frames, _model

    from operando.sxdm import estimate_drift, shift_frames

    truth = _drift()
    model = _model(truth)
    frames = _frames(model)
    t0 = time.perf_counter()
    d = estimate_drift(frames, pixel_mask=model.pixel_mask)
    shifted = shift_frames(frames, d.shifts)
    t1 = time.perf_counter()
    err = np.abs(d.shifts - truth)[d.measured]
    print(
        f"drift: {d.measured.sum()} angles registered, max |error| {err.max():.3f} scan points "
        f"(estimate + shift {1e3 * (t1 - t0) / 400:.2f} ms/point)"
    )
    for name, f in (("uncorrected", frames), ("corrected", shifted)):
        rms_d, rms_t, corr = _errors(f, model)
        print(f"  {name:12s} RMS d {rms_d:.2e} Å, RMS tilt {rms_t:.2e} deg, corr(d) {corr:.4f}")


def qspace() -> None:
    from tests.sxdm.test_qspace import SHAPE, _xsocs_input
    from xsocs import config
    from xsocs.io.QSpaceH5 import QSpaceH5
    from xsocs.process.qspace import QSpaceConverter

    from operando.sxdm import gridded_qspace
    from operando.synthetic import simulate_kmap

    model = simulate_kmap(map_shape=(5, 4), n_angles=12, detector_shape=(40, 40), seed=5, peak_counts=5e4)
    f = model.frames(0, 20)
    frames = f.reshape(f.shape[0], 5, 4, *f.shape[2:])
    with tempfile.TemporaryDirectory() as tmp:
        master = _xsocs_input(model, frames, Path(tmp))
        config.DEFAULT_PROCESS_NUMBER = 1
        t0 = time.perf_counter()
        conv = QSpaceConverter(str(master), qspace_dims=SHAPE, output_f=str(Path(tmp) / "q.h5"))
        conv.n_proc = 1
        conv.mask = model.pixel_mask
        conv.convert()
        t1 = time.perf_counter()
        ref = QSpaceH5(str(Path(tmp) / "q.h5"))
        theirs, hits = ref.qspace, ref.histo
    ours = gridded_qspace(frames, model.pixel_q(), shape=SHAPE, pixel_mask=model.pixel_mask)
    t2 = time.perf_counter()
    diff = np.abs(ours.qspace.values - theirs).sum((1, 2, 3)) / theirs.sum((1, 2, 3))
    print(
        f"q-space {SHAPE}: histo bins differing {(ours.histo.values != hits).sum()}, "
        f"max relative L1 cube difference {diff.max():.1e}; xsocs {1e3 * (t1 - t0) / 20:.0f} ms/point "
        f"(1 process, with its file writing), ours {1e3 * (t2 - t1) / 20:.1f} ms/point"
    )


def widths() -> None:
    from operando.sxdm import ROI, peak_widths, reduce_kmap
    from operando.synthetic import simulate_kmap

    model = simulate_kmap(map_shape=(8, 8), n_angles=30, detector_shape=(96, 96), seed=0)
    f = model.frames(0, 64)
    frames = f.reshape(f.shape[0], 8, 8, *f.shape[2:])
    _, s = reduce_kmap(frames, model.pixel_q(), eta_deg=model.eta_deg, pixel_mask=model.pixel_mask)
    roi = ROI(tuple(s["roi_angles"]), tuple(s["roi_det_y"]), tuple(s["roi_det_x"]))
    bad = (model.pixel_mask > 0) | model.hot_pixels
    w = peak_widths(frames, model.pixel_q(), roi=roi, pixel_mask=bad, background=s["background_counts_per_pixel"])
    m = model.truth.mask
    print(
        f"widths (model sigma {model.peak_sigma_q:.1e} 1/Å): "
        + ", ".join(f"{k[6:]} {np.median(v[m]):.3e}" for k, v in w.items())
    )


if __name__ == "__main__":
    drift()
    qspace()
    widths()
