"""Randomised cell phantoms shared by the segmentation tests (geometry drawn per seed)."""

import numpy as np

from operando.synthetic import simulate_cell


def random_cell(seed, **overrides):
    """A phantom whose size, layer thicknesses, roughness and voids are drawn from ``seed``."""
    rng = np.random.default_rng(10_000 + seed)
    n = int(rng.integers(52, 72))
    params = {
        "shape": (int(rng.integers(60, 72)), n, n),
        "voxel_size_um": float(rng.uniform(2.0, 8.0)),
        "n_voids": (int(rng.integers(4, 10)), int(rng.integers(4, 10))),
        "void_radius_px": (1.5, float(rng.uniform(3.5, 6.5))),
        "interphase_px": float(rng.uniform(3.0, 4.5)),
        "roughness_px": float(rng.uniform(0.5, 1.5)),
        "n_pores": int(rng.integers(0, 4)),
        "seed": seed,
    }
    params.update(overrides)
    return simulate_cell(**params)


def void_matches(truth_ids, labels, void_code=2):
    """Best IoU of every true void with a segmented void component, and the false components."""
    from scipy import ndimage

    comp, n = ndimage.label(labels == void_code)
    ious = []
    for i in range(1, int(truth_ids.max()) + 1):
        m = truth_ids == i
        best = 0.0
        for j in np.unique(comp[m]):
            if j:
                c = comp == j
                best = max(best, (m & c).sum() / (m | c).sum())
        ious.append(best)
    false = [j for j in range(1, n + 1) if not (truth_ids[comp == j] > 0).any()]
    return np.array(ious), false
