"""One operando scan from projections to contact maps on 2 cores, against the 7-minute scan time.

Usage::

    python benchmarks/tomo_pipeline.py [--quick] [--rows 32] [--stripes] [--seed 0] [--keep DIR]

Interpretation of issue 5's "one 2048 x 2048 x 1000 scan": 1000 projections of a
2048 x 2048 detector (rows x columns), i.e. 2048 sinograms of 1000 angles x 2048 columns,
reconstructed into a 2048 x 2048 x 2048 volume. Its raw projections alone are 8 GiB (uint16),
the float32 sinograms 16 GiB and the float32 volume 32 GiB, so the full scan is *not* written:
the script processes a representative block of ``--rows`` detector rows of the full geometry
(1000 angles x 2048 columns, reconstructed on 2048 x 2048 slices) and **extrapolates linearly
in the number of rows** to 2048 rows. Every stage is linear in the rows (reading,
normalisation and ``-log`` are per pixel; FBP is per slice; segmentation and contact maps
traverse columns of voxels, linear in their length); the per-scan constants (finding the
centre on one sinogram, the connected contact regions of the two 2048 x 2048 maps) are timed
once and not scaled. The reslicing of the volume from row slabs (reconstruction) to column
blocks (segmentation) through a chunked store is not included.

Input (untimed): a Li | interphase | electrolyte | interphase | Li cell with current collectors,
the layers stacked along the detector rows within the block (2048-px-wide cylinder of radius
0.42 x 2048 px, 0.65 µm voxels), with disc-shaped interfacial voids in both Li electrodes and
pores in the electrolyte, projected *analytically* (exact chord lengths of the cylinder and of
every void/pore disc at each row; no reconstruction code's forward model), turned into uint16
float32 counts (``--flat-counts`` open-beam counts, default 1e10, with shot noise; 10 flats,
5 darks) and written as an APS Data Exchange HDF5 file, which the pipeline reads with
:func:`operando.tomo.read_tomo`. Why so many counts: in pure absorption a 0.65 µm void in
lithium (3 /cm) changes a line integral by 2e-4 against a 1700-px chord, below the shot noise of
any real detector; real scans see Li voids by phase contrast. The high count rate gives the
segmentation the contrast a real scan has, so that it does its real work (the sanity line
compares the measured contact fraction with the truth).

Stages (each timed on the block, 2 threads everywhere: ``OMP_NUM_THREADS=2``, finufft
``nthreads=2``, dask's threaded scheduler with 2 workers):

1. read + normalise + -log (``read_tomo``, ``normalize``, ``minus_log``)
2. stripes (``remove_stripes``; only with ``--stripes``)
3. reconstruct (``reconstruct``, finufft gridding FBP)
4. segment (``auto_thresholds`` + ``segment_cell`` on column blocks)
5. contact maps (``contact_maps``) + ``cell_quantities``; then, once per scan, the connected
   contact regions of the two 2048 x 2048 maps (``contact_regions``, as
   ``analyse_interfaces`` does; a 2-D cost that does not grow with the rows)

Prints a table (seconds on the block, seconds per row, extrapolated seconds for 2048 rows),
the total against the 420 s scan time, and the peak resident memory of the process (which
depends on the block, not on the scan, when a full scan runs block after block with the volume
and labels in chunked stores, as ``operando tomo recon`` -> ``segment`` -> ``interface`` and
:func:`operando.tomo.process_scan` (behind ``operando tomo series``) do; that round trip
through the store, about 32 GiB of float32 volume written and read back per scan, is not
timed here). The machine's load average is printed:
this machine is shared with other jobs, so the times are upper bounds.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "2"

import argparse  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import dask  # noqa: E402
import dask.array as da  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402

from operando.synthetic import CellMaterials  # noqa: E402
from operando.tomo import (  # noqa: E402
    auto_thresholds,
    cell_quantities,
    contact_maps,
    contact_regions,
    find_center,
    minus_log,
    normalize,
    read_tomo,
    reconstruct,
    remove_stripes,
    segment_cell,
)

SCAN_TIME_S = 420.0
CORES = 2


@dataclass(frozen=True)
class Geometry:
    n_angles: int
    n_cols: int
    n_rows_full: int
    n_rows: int
    voxel_um: float = 0.65


def _layers(n_rows: int) -> list[tuple[int, int, str]]:
    """Row ranges (start, stop, material) of the stacked cell inside the block."""
    coll = max(2, n_rows // 16)
    li = max(5, round(0.22 * n_rows))
    ip = max(2, n_rows // 16)
    el = n_rows - 2 * coll - 2 * li - 2 * ip
    if el < 4:
        raise SystemExit(f"--rows {n_rows} is too few for the cell's layers (need >= 28)")
    names = ["collector", "lithium", "interphase", "electrolyte", "interphase", "lithium", "collector"]
    sizes = [coll, li, ip, el, ip, li, coll]
    out, z = [], 0
    for name, n in zip(names, sizes, strict=True):
        out.append((z, z + n, name))
        z += n
    return out


def _chord(s: np.ndarray, r: float) -> np.ndarray:
    """Length of the chord of a disc of radius ``r`` at offsets ``s`` from its centre."""
    return 2.0 * np.sqrt(np.clip(r * r - s * s, 0.0, None))


def line_integrals(geo: Geometry, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Exact line integrals (n_angles, n_rows, n_cols) of the block's cell, and angles (deg), contact truth.

    Returns the sinograms, the angles and the true contact fraction of interface 0 (share of
    the footprint not covered by a void disc touching the interface).
    """
    mats = CellMaterials()
    mu = {
        "collector": mats.collector,
        "lithium": mats.lithium,
        "interphase": mats.interphase,
        "electrolyte": mats.electrolyte,
    }
    rng = np.random.default_rng(seed)
    n = geo.n_cols
    radius = 0.42 * n
    theta = np.arange(geo.n_angles) * 180.0 / geo.n_angles
    th = np.deg2rad(theta)[:, None]
    s = np.arange(n)[None, :] - n / 2.0  # detector column offsets from the axis (centre n/2)
    disc = _chord(s, radius) * np.ones((geo.n_angles, 1))  # (angles, cols), px
    cm = geo.voxel_um * 1e-4
    layers = _layers(geo.n_rows)
    line = np.empty((geo.n_angles, geo.n_rows, n), np.float32)
    for z0, z1, name in layers:
        line[:, z0:z1, :] = (mu[name] * cm * disc)[:, None, :]
    # interfacial voids: discs in the last/first 3 Li rows next to each interphase
    li_rows = [(z0, z1) for z0, z1, name in layers if name == "lithium"]
    n_voids = max(8, n // 16)
    void_mask0 = np.zeros((n, n), bool)
    yy, xx = np.mgrid[0:n, 0:n] - n / 2.0
    for k, (z0, z1) in enumerate(li_rows):
        rows = range(z1 - 3, z1) if k == 0 else range(z0, z0 + 3)
        for _ in range(n_voids):
            r = rng.uniform(0.005, 0.03) * n
            rho = rng.uniform(0, radius - r)
            phi = rng.uniform(0, 2 * np.pi)
            cx, cy = rho * np.cos(phi), rho * np.sin(phi)
            s0 = cx * np.cos(th) - cy * np.sin(th)  # (angles, 1)
            for depth, z in enumerate(rows if k == 1 else reversed(rows)):
                rz = r * np.sqrt(1.0 - (depth / 3.0) ** 2)  # a flattened dome on the interface
                line[:, z, :] -= (mu["lithium"] * cm * _chord(s - s0, rz)).astype(np.float32)
            if k == 0:
                void_mask0 |= (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    # pores in the electrolyte
    el = next((z0, z1) for z0, z1, name in layers if name == "electrolyte")
    for _ in range(max(4, n // 64)):
        r = rng.uniform(1.5, 4.0)
        rho = rng.uniform(0, radius - r)
        phi = rng.uniform(0, 2 * np.pi)
        cx, cy = rho * np.cos(phi), rho * np.sin(phi)
        s0 = cx * np.cos(th) - cy * np.sin(th)
        z = int(rng.integers(el[0] + 1, el[1] - 1))
        line[:, z, :] -= (mu["electrolyte"] * cm * _chord(s - s0, r)).astype(np.float32)
    foot = xx**2 + yy**2 <= radius**2
    contact0 = float(np.count_nonzero(foot & ~void_mask0) / np.count_nonzero(foot))
    return line, theta, contact0


def write_block(path: Path, line: np.ndarray, theta: np.ndarray, voxel_um: float, seed: int, flat: float) -> None:
    """Counts with shot noise (Gaussian of variance = counts), flats and darks, as float32 DXchange."""
    rng = np.random.default_rng(seed + 1)
    dark = 100.0
    shape = line.shape[1:]

    def noisy(expected: np.ndarray) -> np.ndarray:
        return (expected + np.sqrt(expected) * rng.standard_normal(expected.shape)).astype(np.float32)

    with h5py.File(path, "w") as fh:
        fh["implements"] = "exchange:measurement"
        ex = fh.create_group("exchange")
        data = ex.create_dataset("data", shape=line.shape, dtype=np.float32, chunks=(1, *shape))
        for i in range(0, line.shape[0], 50):
            data[i : i + 50] = noisy(flat * np.exp(-line[i : i + 50].astype(np.float64)) + dark)
        ex["data_white"] = noisy(np.full((10, *shape), flat + dark))
        ex["data_dark"] = noisy(np.full((5, *shape), dark))
        ex["theta"] = theta
        ex["theta"].attrs["units"] = "degrees"
        res = fh.create_dataset("measurement/instrument/detection_system/objective/resolution", data=voxel_um)
        res.attrs["units"] = "um"


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is KiB on Linux


def run(geo: Geometry, *, stripes: bool, seed: int, workdir: Path, flat_counts: float) -> None:
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print("NOTE: this machine is shared with other jobs right now; times are upper bounds.")
    print(
        f"geometry: {geo.n_angles} projections x {geo.n_rows_full} rows x {geo.n_cols} columns "
        f"(-> {geo.n_rows_full} x {geo.n_cols} x {geo.n_cols} volume); block of {geo.n_rows} rows, "
        f"extrapolated x{geo.n_rows_full / geo.n_rows:.0f}"
    )
    t0 = time.perf_counter()
    line, theta, contact0 = line_integrals(geo, seed)
    path = workdir / "block.h5"
    write_block(path, line, theta, geo.voxel_um, seed, flat_counts)
    del line
    size_mib = path.stat().st_size / 2**20
    print(f"input: {size_mib:.0f} MiB float32 DXchange written in {time.perf_counter() - t0:.1f} s (untimed)")
    rss_input = _peak_rss_gib()

    times: dict[str, float] = {}
    per_scan: dict[str, float] = {}
    with dask.config.set(scheduler="threads", num_workers=CORES):
        t = time.perf_counter()
        scan = read_tomo(path)
        assert scan.flats is not None
        sino = np.asarray(minus_log(normalize(scan.projections, scan.flats, scan.darks)))
        times["read + normalise + -log"] = time.perf_counter() - t

        if stripes:
            t = time.perf_counter()
            sino = np.asarray(remove_stripes(da.from_array(sino, chunks=(-1, 2, -1))))
            times["stripes"] = time.perf_counter() - t

        t = time.perf_counter()
        centre = find_center(sino[:, geo.n_rows // 2, :])
        per_scan["find centre (once per scan)"] = time.perf_counter() - t

        t = time.perf_counter()
        volume = np.asarray(reconstruct(sino, scan.angles_deg, center=centre, nthreads=CORES))
        times["reconstruct (FBP)"] = time.perf_counter() - t
        del sino

        t = time.perf_counter()
        thresholds = auto_thresholds(volume)
        labels = np.asarray(segment_cell(da.from_array(volume, chunks=(-1, 256, 256)), thresholds=thresholds))
        times["segment"] = time.perf_counter() - t
        del volume

        t = time.perf_counter()
        contact = np.asarray(contact_maps(labels))
        quantities = cell_quantities(labels, voxel_size_um=geo.voxel_um)
        times["contact maps + quantities"] = time.perf_counter() - t

        t = time.perf_counter()
        pix = (geo.voxel_um * 1e-3) ** 2
        for k in range(2):
            contact_regions(contact[k], pixel_area_mm2=pix)
        per_scan["contact regions (once per scan)"] = time.perf_counter() - t

    scale = geo.n_rows_full / geo.n_rows
    print()
    print(f"{'stage':34s} {'block s':>9s} {'ms/row':>8s} {'full scan s':>12s}")
    total = 0.0
    for name, sec in times.items():
        full = sec * scale
        total += full
        print(f"{name:34s} {sec:9.2f} {1e3 * sec / geo.n_rows:8.1f} {full:12.1f}")
    for name, sec in per_scan.items():
        total += sec
        print(f"{name:34s} {sec:9.2f} {'-':>8s} {sec:12.1f}")
    print(f"{'total':34s} {'':9s} {'':8s} {total:12.1f}")
    print()
    verdict = "keeps up with" if total <= SCAN_TIME_S else "does NOT keep up with"
    print(
        f"verdict: {total:.0f} s per scan on {CORES} cores {verdict} the {SCAN_TIME_S:.0f} s scan time "
        f"({total / SCAN_TIME_S:.2f} x)"
    )
    print(
        f"peak RSS: {_peak_rss_gib():.2f} GiB for a {geo.n_rows}-row block "
        f"(input generation alone: {rss_input:.2f} GiB); set by the block size when the scan is streamed "
        "block by block through chunked stores (tomo recon/segment/interface, process_scan)"
    )
    measured = float(contact[0].sum() * pix / float(quantities["cell_area_mm2"]))
    print(f"sanity: contact fraction of interface 0 measured {measured:.3f}, truth {contact0:.3f}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="250 angles x 512 columns, 512-row scan, 32-row block")
    ap.add_argument("--rows", type=int, default=32, help="detector rows in the block (>= 28)")
    ap.add_argument("--stripes", action="store_true", help="include stripe removal")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--flat-counts", type=float, default=1e10, help="open-beam counts per pixel (shot noise)")
    ap.add_argument("--keep", type=Path, default=None, help="write the input file here instead of a temp dir")
    args = ap.parse_args()
    geo = (
        Geometry(n_angles=250, n_cols=512, n_rows_full=512, n_rows=args.rows)
        if args.quick
        else Geometry(n_angles=1000, n_cols=2048, n_rows_full=2048, n_rows=args.rows)
    )
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        run(geo, stripes=args.stripes, seed=args.seed, workdir=args.keep, flat_counts=args.flat_counts)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(geo, stripes=args.stripes, seed=args.seed, workdir=Path(tmp), flat_counts=args.flat_counts)


if __name__ == "__main__":
    main()
