"""Accuracy of the Li-cell segmentation against the phantom's truth, over many random phantoms.

Run from the repository root::

    .venv/bin/python benchmarks/tomo_segment_accuracy.py --seeds 20

Prints, per condition, the mean and worst relative errors of the contact area (both
interfaces), the Li and interphase volumes (per electrode), and the share of voids found
(best IoU >= 0.5, or > 0 through the reconstruction):

* ``volume noise 0.6``: the phantom volume with Gaussian noise (5 % of the electrolyte's
  attenuation), thresholds + column traversal;
* ``volume noise 1.0 + RF``: noise 1.0 (Li/void contrast-to-noise 3) with the interphase
  classifier trained on three slices of another phantom;
* ``volume noise 0.6 blur 0.6``: with a Gaussian blur of 0.6 voxel (threshold path);
* ``recon``: DXchange counts (Poisson, ring-causing gain errors) reconstructed with
  ``operando.tomo.reconstruct`` at the known centre, no stripe removal.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _errors(cell, labels):
    from operando.tomo import analyse_interfaces, cell_quantities

    seg = analyse_interfaces(labels, voxel_size_um=cell.voxel_size_um)
    q = cell_quantities(labels, voxel_size_um=cell.voxel_size_um)
    return (
        seg["contact_area_mm2"].values / cell.contact_area_mm2 - 1,
        q["li_volume_electrode_mm3"].values / cell.li_volume_mm3 - 1,
        q["interphase_volume_interface_mm3"].values / cell.interphase_volume_mm3 - 1,
    )


def _report(name, rows, found, total, seconds):
    arr = np.array(rows)  # (n, 3, 2)
    parts = []
    for i, what in enumerate(("contact", "Li", "interphase")):
        e = np.abs(arr[:, i, :])
        parts.append(f"{what} {100 * e.mean():.2f} % (worst {100 * e.max():.2f} %)")
    print(f"{name:28s} {', '.join(parts)}; voids found {found}/{total}; {seconds:.1f} s per volume")


def main() -> None:
    from tests.tomo._cells import random_cell, void_matches

    from operando.synthetic import simulate_cell, write_cell_dxchange
    from operando.tomo import (
        minus_log,
        normalize,
        read_dxchange,
        reconstruct,
        segment_cell,
        train_interphase_classifier,
    )

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10, help="phantoms per condition")
    ap.add_argument("--recon-seeds", type=int, default=3, help="phantoms through projection + FBP")
    args = ap.parse_args()

    train = random_cell(100, noise_sigma=1.0)
    sparse = np.full(train.labels.shape, 255, np.uint8)
    for frac in (0.3, 0.5, 0.7):
        y = int(frac * train.labels.shape[1])
        sparse[:, y, :] = train.labels[:, y, :]
    clf = train_interphase_classifier(train.volume, sparse, n_estimators=30)

    conditions = [
        ("volume noise 0.6", {"noise_sigma": 0.6}, None),
        ("volume noise 1.0 + RF", {"noise_sigma": 1.0}, clf),
        ("volume noise 0.6 blur 0.6", {"noise_sigma": 0.6, "blur_sigma_px": 0.6}, None),
    ]
    for name, kw, model in conditions:
        rows, found, total, t = [], 0, 0, 0.0
        for seed in range(args.seeds):
            cell = random_cell(1000 + seed, **kw)
            t0 = time.perf_counter()
            labels = segment_cell(cell.volume, classifier=model)
            t += time.perf_counter() - t0
            rows.append(_errors(cell, labels))
            ious, _ = void_matches(cell.void_ids, labels)
            found += int((ious >= 0.5).sum())
            total += ious.size
        _report(name, rows, found, total, t / args.seeds)

    rows, found, total, t = [], 0, 0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.recon_seeds):
            cell = simulate_cell((56, 64, 64), n_voids=(6, 6), void_radius_px=(1.5, 5.0), voxel_size_um=10.0, seed=seed)
            path = write_cell_dxchange(Path(tmp) / f"c{seed}.h5", cell, n_angles=240, flat_counts=6e4, seed=seed)
            scan = read_dxchange(path)
            t0 = time.perf_counter()
            sino = minus_log(normalize(scan.projections, scan.flats, scan.darks))
            vol = np.asarray(reconstruct(sino, scan.angles_deg, center=32.0)) / (scan.pixel_size_um * 1e-4)
            labels = segment_cell(vol)
            t += time.perf_counter() - t0
            rows.append(_errors(cell, labels))
            ious, _ = void_matches(cell.void_ids, labels)
            found += int((ious > 0).sum())
            total += ious.size
    _report("recon (240 angles, 64 px)", rows, found, total, t / max(1, args.recon_seeds))


if __name__ == "__main__":
    main()
