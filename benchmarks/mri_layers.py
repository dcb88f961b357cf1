"""Re-measure the MRI depth-layer numbers quoted in the report, in one run.

Run from the repository root with the real data beside it (``../shared/data``)::

    PYTHONPATH=src .venv/bin/python benchmarks/mri_layers.py

Prints: on the dendrite forward model (10 seeds), the largest per-layer error relative to
the layer's full amount (done-when: < 3 %), the largest stage-boundary error in frames
(done-when: <= 1) and the spread of the normalised residuals (1 = calibrated error bars);
on the 94 real 19F profiles of the Thienenkamp Li|PEO|Li cell, the electrodes, noise,
per-layer amounts and errors at the end of the polarisation, stages and run time.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nmr" / "mri_profiles" / "thienenkamp_Li_PEO_Li"


def synthetic() -> None:
    from operando.pipelines.mri import quantify_layers
    from operando.synthetic import simulate_dendrite_mri

    worst, worst_b, z = 0.0, 0, []
    for seed in range(10):
        sim = simulate_dendrite_mri(seed=seed)
        electrolyte = sim.electrolyte.values[:3].sum(axis=2).mean(axis=0)
        ds = quantify_layers(
            sim.metal, electrode_profile=electrolyte, displacement_px=sim.displacement_px, record=sim.record
        )
        truth = sim.truth
        worst = max(worst, float((np.abs(ds["amount"].values - truth.amount) / truth.amount.max(axis=0)).max()))
        worst_b = max(worst_b, int(np.abs(np.array(ds.attrs["stage_boundaries"]) - truth.stage_boundaries).max()))
        z.append(((ds["amount"].values - truth.amount) / ds["amount_err"].values).ravel())
    print(
        f"synthetic, 10 seeds: max layer error {100 * worst:.2f} % of full, max boundary error {worst_b} frame(s), "
        f"residual/err std {np.concatenate(z).std():.3f}"
    )


def real() -> None:
    from operando.echem import read_zahner_log
    from operando.mri import read_profile_series
    from operando.pipelines.mri import quantify_layers, stage_table

    files = sorted(DATA.glob("MRI10mm_Li_PEO_Li7(*).txt"))
    t0 = time.perf_counter()
    series = read_profile_series(files, fov_mm=4.0, seconds_per_profile=513.0)
    record = read_zahner_log(DATA / "POL.txt")
    ds = quantify_layers(
        series, magnitude=True, noise="temporal", reference="first", record=record, n_stages=3, stage_signal="gradient"
    )
    dt = time.perf_counter() - t0
    a, b = ds.attrs["electrodes_mm"]
    print(
        f"real: {ds.sizes['frame']} profiles in {dt:.2f} s; electrodes {a:.3f} / {b:.3f} mm; "
        f"noise sigma {float(ds['noise_sigma'][0]):.0f} per voxel, rho1 {ds.attrs['noise_autocorr'][1]:.2f}"
    )
    with np.printoptions(precision=4, suppress=True):
        print(f"  amount at frame 62 (end of log): {ds['amount'].values[62]} +- {ds['amount_err'].values[62]}")
        print(
            f"  growth rate at frame 10 (1/h): {3600 * ds['growth_rate'].values[10]} "
            f"+- {3600 * ds['growth_rate_err'].values[10]}"
        )
    print(f"  total between electrodes: {ds['total'].values.min():.4f} .. {ds['total'].values.max():.4f}")
    for row in stage_table(ds):
        frames = f"{row['first_frame']}-{row['last_frame']}"
        print(f"  stage {row['stage']}: frames {frames}, mean V {row['mean_voltage_V']:.3f}")


if __name__ == "__main__":
    synthetic()
    if DATA.is_dir():
        real()
