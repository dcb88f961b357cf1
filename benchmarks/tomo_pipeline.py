"""One operando scan at the seed paper's geometry, end to end on 2 cores, against the 15-minute cadence.

Usage::

    python benchmarks/tomo_pipeline.py [--rows 28] [--binning 1 2] [--flat-counts 2e4] [--reference-slices 2]

Geometry (the paper's Methods): 1500 projections over 180 degrees of a 2448-column detector,
2048 rows in a full scan (a 7-min scan every 15 min). A full scan is 15 GB of raw counts and
49 GB of float32 volume, so the script processes a block of ``--rows`` detector rows of the full
geometry (every slice 2448 x 2448) and **extrapolates linearly in the rows** to 2048 (every
stage is per row or per column of voxels; the centre search and the 2-D contact regions are
per scan and not scaled). With ``--binning 2`` the block is binned 2 x 2 on the detector
(1224 columns, half the rows: 1024 per scan).

Input (untimed): a Li | interphase | electrolyte | interphase | Li cell with collectors, the
layers along the block's rows, with interfacial voids and pores, projected analytically (exact
chords), turned into counts with photon (shot) noise at ``--flat-counts`` open-beam counts
(default 2e4, a realistic detector level; pure absorption then hides Li voids, which real scans
see by phase contrast, so the contact sanity line is only meaningful with ``--flat-counts 1e10``)
plus 10 flats and 5 darks, and written as DXchange HDF5.

Stages (timed, 2 threads: ``OMP_NUM_THREADS=2``, finufft ``nthreads=2``, dask threads x 2):

1. read + bin + zingers + normalise + -log (``read_tomo``, ``bin_frames``, ``remove_zingers``, ``normalize``,
   ``minus_log``; binned before anything else, as ``reconstruct_scan`` does)
2. rings (``handle_rings(..., "detect")``, the default)
3. reconstruct (``reconstruct`` as ``reconstruct_scan`` runs it: blocks of rows in parallel on the dask
   threads, one finufft thread each)
4. write the volume (``write_results``: chunked, compressed Zarr with its manifest)
5. segment, re-reading the volume (``segment_volume``: thresholds, ``segment_cell``, labels written)
6. interface (``interface_maps``: labels re-read, contact maps, quantities, written)

plus, once per scan, the centre search, and once per process the segmentation's warm-up (its compiled
kernels load from numba's disk cache on the first call: 3-8 s, timed apart, not scaled; the reconstruction
is warmed by the reference timing). The input is written once and shared by every ``--binning``.
Reference: TomoPy gridrec when importable (``ncore=2``), else
algotom's direct Fourier inversion (``dfi_reconstruction``, pure NumPy/SciPy, two slices at a time
on two threads), and astra-toolbox's CPU FBP when importable (two slices at a time on two threads),
timed on ``--reference-slices`` slices of the same sinograms against ours on the same slices as a
stack on two threads. The labels' class counts are printed: at detector-level
counts a pure-absorption phantom may hide the lithium (no cell found), and the segmentation's
time then is not that of a real scan (``--flat-counts 1e6`` gives a cell that segments).
The load average is printed: the machine is shared, times are upper bounds.

``--phantom paper`` (an option; the default phantom is unchanged) makes the input the paper's cell instead:
a 2-mm Li | Li6PS5Cl | Li stack (no collector in the block: lithium at both ends, segmented with
``collector=False``) with the coefficients of 28 keV (``PAPER_MU``, ``PAPER_DELTA``), the frames propagated
100 mm (exact Fresnel propagator: the edge fringes of the real scans) before the noise, and stage 1 adds
Paganin retrieval with the electrolyte's delta/beta (360). Measured at ``--cols 1224 --angles 750 --binning 1``
(seed 0): the cell is found at 2e4 and at 1e6 counts (labels: electrolyte 6.4 / 6.3 %, lithium 5.9 / 6.2 %,
interphase 5.0 / 4.8 %, voids 0.8 / 0.7 %); the 1-row pores are lost in Paganin's blur (0 %), and the contact
fraction of interface 0 reads 0.87-0.88 against 0.64 (the voids' 3-row domes, 5 um, are thinner than the
retrieval's blur): known limits of this phantom, not yet tuned. At the full geometry (2448 columns, 1500 angles,
load 5-6): segmentation / reconstruction 0.56 (2e4, bin 2), 0.61 (1e6, bin 2), 0.41 (1e6, bin 1); stage 1 is
3500-4000 s per scan, nearly all of it Paganin on the Dask stack (one block of every frame); a bin-1 run peaks
at 13.7 GiB RSS (two at once do not fit in 24 GB).
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
import xarray as xr  # noqa: E402

from operando.errors import ParameterError  # noqa: E402
from operando.pipelines.tomo import interface_maps, segment_volume  # noqa: E402
from operando.store import open_results, write_results  # noqa: E402
from operando.synthetic import CellMaterials  # noqa: E402
from operando.tomo import (  # noqa: E402
    bin_frames,
    find_center,
    handle_rings,
    minus_log,
    normalize,
    paganin_filter,
    read_tomo,
    reconstruct,
    remove_zingers,
)

CADENCE_S = 900.0  # a scan every 15 min
CORES = 2


@dataclass(frozen=True)
class Geometry:
    n_angles: int
    n_cols: int
    n_rows_full: int
    n_rows: int
    voxel_um: float = 1.7


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


def line_integrals(
    geo: Geometry, seed: int, coefficients: dict[str, float] | None = None, radius_frac: float = 0.42
) -> tuple[np.ndarray, np.ndarray, float]:
    """Exact line integrals (n_angles, n_rows, n_cols) of the block's cell, and angles (deg), contact truth.

    ``coefficients`` (per material, 1/cm; default :class:`CellMaterials`) are integrated along each
    ray: attenuation, or the phase shift per cm (``2 pi delta / lambda``). The cell's radius is
    ``radius_frac`` of the detector width. Returns the sinograms, the angles and the true contact
    fraction of interface 0 (share of the footprint not covered by a void disc touching the interface).
    """
    mats = CellMaterials()
    mu = coefficients or {
        "collector": mats.collector,
        "lithium": mats.lithium,
        "interphase": mats.interphase,
        "electrolyte": mats.electrolyte,
    }
    rng = np.random.default_rng(seed)
    n = geo.n_cols
    radius = radius_frac * n
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


# The paper's beamline (Methods): 28 keV, 100 mm sample-to-detector, a 2-mm Li | SE | Li stack. Coefficients at
# 28 keV: delta and the photoabsorption part of beta from xrayutilities (Amorphous materials, Henke/Chantler
# tables) plus Compton scattering (mu/rho ~0.15 cm^2/g at 28 keV) in mu. Li (0.534 g/cm^3): delta 1.22e-7,
# mu 0.002 + 0.08 /cm; Li6PS5Cl (pressed, 1.64 g/cm^3): delta 4.22e-7, mu 3.08 + 0.25 /cm; the interphase
# (Li2S/Li3P-rich) taken midway. Pure absorption leaves lithium invisible (0.08/cm); propagation phase
# contrast (Fresnel number ~1 per 1.7 um pixel at 100 mm) and Paganin retrieval make it visible.
PAPER_ENERGY_KEV = 28.0
PAPER_DISTANCE_MM = 100.0
PAPER_RADIUS_FRAC = 1000.0 / (2448 * 1.7)  # a 2-mm cell on the 2448 x 1.7 um field
_LAMBDA_CM = 12.398419843320026e-8 / PAPER_ENERGY_KEV  # h c / E
PAPER_MU = {"lithium": 0.082, "interphase": 1.7, "electrolyte": 3.33}
PAPER_DELTA = {"lithium": 1.22e-7, "interphase": 2.72e-7, "electrolyte": 4.22e-7}
PAPER_DELTA_BETA = PAPER_DELTA["electrolyte"] / (PAPER_MU["electrolyte"] * _LAMBDA_CM / (4 * np.pi))


def paper_line_integrals(geo: Geometry, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Attenuation and phase line integrals of the paper's cell (no collectors in the block: Li at both ends).

    Returns ``(attenuation, phase shift in rad, theta_deg, contact0)``.
    """
    mu = {**PAPER_MU, "collector": PAPER_MU["lithium"]}
    k = 2 * np.pi / _LAMBDA_CM
    phi = {name: k * d for name, d in PAPER_DELTA.items()}
    phi["collector"] = phi["lithium"]
    att, theta, contact0 = line_integrals(geo, seed, mu, PAPER_RADIUS_FRAC)
    phase, _, _ = line_integrals(geo, seed, phi, PAPER_RADIUS_FRAC)
    return att, phase, theta, contact0


def fresnel_intensity(att: np.ndarray, phase: np.ndarray, pixel_um: float) -> np.ndarray:
    """Intensity (flat = 1) at the paper's distance of the exit wave ``exp(-att / 2 - i phase)``, (n, rows, cols).

    Exact Fresnel propagator in Fourier space (the wave padded with its edge values to twice its size).
    """
    n_r, n_c = att.shape[1:]
    pr, pc = n_r // 2, n_c // 2
    u = np.fft.fftfreq(n_r + 2 * pr, d=pixel_um * 1e-4)
    v = np.fft.fftfreq(n_c + 2 * pc, d=pixel_um * 1e-4)
    kernel = np.exp(-1j * np.pi * _LAMBDA_CM * PAPER_DISTANCE_MM * 0.1 * (u[:, None] ** 2 + v[None, :] ** 2))
    psi = np.exp(-0.5 * att.astype(np.float64) - 1j * phase.astype(np.float64))
    psi = np.pad(psi, ((0, 0), (pr, pr), (pc, pc)), mode="edge")
    out = np.fft.ifft2(np.fft.fft2(psi) * kernel)[:, pr : pr + n_r, pc : pc + n_c]
    return (np.abs(out) ** 2).astype(np.float32)


def write_block(
    path: Path,
    line: np.ndarray,
    theta: np.ndarray,
    voxel_um: float,
    seed: int,
    flat: float,
    phase: np.ndarray | None = None,
) -> None:
    """Counts with shot noise (Gaussian of variance = counts), flats and darks, as float32 DXchange.

    With ``phase`` the frames are propagated to the paper's detector distance (:func:`fresnel_intensity`).
    """
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
            if phase is None:
                trans = np.exp(-line[i : i + 50].astype(np.float64))
            else:
                trans = fresnel_intensity(line[i : i + 50], phase[i : i + 50], voxel_um).astype(np.float64)
            data[i : i + 50] = noisy(flat * trans + dark)
        ex["data_white"] = noisy(np.full((10, *shape), flat + dark))
        ex["data_dark"] = noisy(np.full((5, *shape), dark))
        ex["theta"] = theta
        ex["theta"].attrs["units"] = "degrees"
        res = fh.create_dataset("measurement/instrument/detection_system/objective/resolution", data=voxel_um)
        res.attrs["units"] = "um"


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is KiB on Linux


def _astra_fbp(sino: np.ndarray, theta: np.ndarray, centre: float) -> np.ndarray:
    """astra-toolbox's CPU FBP (Ram-Lak) of one sinogram (angles, cols): padded so that the axis is mid-detector."""
    c = round(2 * centre) / 2
    extra = round(2 * c) - (sino.shape[1] - 1)
    padded = np.pad(sino, ((0, 0), (0, extra) if extra >= 0 else (-extra, 0)), mode="edge")
    from _astra import astra_fbp  # benchmarks/_astra.py, shared with tomo_recon.py

    return astra_fbp(padded, theta, "ram-lak")


def _reference(sino: np.ndarray, theta: np.ndarray, centre: float, n: int) -> tuple[list[tuple[str, float]], float]:
    """(rivals as (name, seconds), seconds of ours) for ``n`` slices of the same sinograms, each on 2 threads.

    The rivals: TomoPy gridrec when importable, else algotom's DFI; and astra-toolbox's CPU FBP when
    importable (two slices at a time on two threads, as algotom).
    """
    from concurrent.futures import ThreadPoolExecutor

    rows = [sino.shape[1] // 2 + k for k in range(n)]
    rivals: list[tuple[str, float]] = []
    try:
        import tomopy

        t = time.perf_counter()
        tomopy.recon(sino[:, rows, :], np.deg2rad(theta), center=centre, algorithm="gridrec", ncore=CORES)
        rivals.append(("TomoPy gridrec", time.perf_counter() - t))
    except ImportError:
        from algotom.rec.reconstruction import dfi_reconstruction

        def one(r: int) -> np.ndarray:
            return dfi_reconstruction(sino[:, r, :], centre, angles=np.deg2rad(theta), apply_log=False)

        t = time.perf_counter()
        with ThreadPoolExecutor(CORES) as pool:
            list(pool.map(one, rows))
        rivals.append(("algotom DFI on 2 threads (TomoPy not importable)", time.perf_counter() - t))
    try:
        import astra  # noqa: F401

        t = time.perf_counter()
        with ThreadPoolExecutor(CORES) as pool:
            list(pool.map(lambda r: _astra_fbp(sino[:, r, :], theta, centre), rows))
        rivals.append(("astra CPU FBP on 2 threads", time.perf_counter() - t))
    except ImportError:
        pass
    block = da.from_array(np.ascontiguousarray(sino[:, rows, :]), chunks=(-1, 2 if n >= 4 else 1, -1))
    t = time.perf_counter()
    with dask.config.set(scheduler="threads", num_workers=CORES):
        np.asarray(reconstruct(block, theta, center=centre, nthreads=1))
    return rivals, time.perf_counter() - t


def _warm_segmentation() -> None:
    """Segment a small noisy phantom cell: loads the compiled kernels (median, traversal) once."""
    from operando.synthetic import simulate_cell
    from operando.tomo import segment_cell

    cell = simulate_cell((60, 40, 40), n_voids=(3, 3), seed=1)
    noisy = cell.volume + np.random.default_rng(1).normal(0.0, 0.05 * float(np.ptp(cell.volume)), cell.volume.shape)
    segment_cell(da.from_array(noisy.astype(np.float32), chunks=(-1, 20, 20))).compute()


def make_input(geo: Geometry, *, seed: int, path: Path, flat_counts: float, phantom: str) -> float:
    """Write the block's DXchange file (untimed, shared by every binning); returns interface 0's true contact."""
    t0 = time.perf_counter()
    phase = None
    if phantom == "paper":
        line, phase, theta, contact0 = paper_line_integrals(geo, seed)
    else:
        line, theta, contact0 = line_integrals(geo, seed)
    write_block(path, line, theta, geo.voxel_um, seed, flat_counts, phase)
    print(f"input: {path.stat().st_size / 2**20:.0f} MiB float32 DXchange written in {time.perf_counter() - t0:.1f} s "
          "(untimed)")  # fmt: skip
    return contact0


def run(
    geo: Geometry,
    *,
    binning: int,
    seed: int,
    workdir: Path,
    flat_counts: float,
    ref_slices: int,
    phantom: str = "effective",
    path: Path,
    contact0: float,
) -> float:
    print(f"--- binning {binning} ---")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    paper = phantom == "paper"
    rows_full = geo.n_rows_full // binning
    rows = geo.n_rows // binning
    times: dict[str, float] = {}
    per_scan: dict[str, float] = {}
    with dask.config.set(scheduler="threads", num_workers=CORES):
        t = time.perf_counter()
        scan = read_tomo(path)
        if scan.flats is None or scan.darks is None:
            raise SystemExit("the block file lost its flats or darks")
        proj, flats, darks = (da.asarray(a) for a in (scan.projections, scan.flats, scan.darks))
        if binning > 1:
            proj, flats, darks = (bin_frames(a, binning) for a in (proj, flats, darks))
        proj, flats = remove_zingers(proj), remove_zingers(flats)
        trans = normalize(proj, flats, darks)
        if paper:  # Paganin retrieval with the electrolyte's delta/beta (the pipeline's --paganin option)
            trans = paganin_filter(
                trans, pixel_size_um=geo.voxel_um * binning, distance_mm=PAPER_DISTANCE_MM,
                energy_kev=PAPER_ENERGY_KEV, delta_beta=PAPER_DELTA_BETA,
            )  # fmt: skip
        sino = np.asarray(minus_log(trans), dtype=np.float32)
        times["read + bin + zingers + norm. + -log" + (" + Paganin" if paper else "")] = time.perf_counter() - t

        t = time.perf_counter()
        centre = find_center(sino[:, sino.shape[1] // 2, :])
        per_scan["find centre (once per scan)"] = time.perf_counter() - t

        t = time.perf_counter()
        sino = np.asarray(handle_rings(da.from_array(sino, chunks=(-1, 2, -1)), "detect"))
        times["rings (detect)"] = time.perf_counter() - t

        rivals, t_ours = _reference(sino, np.asarray(scan.angles_deg), centre, ref_slices)

        t = time.perf_counter()
        # as reconstruct_scan: blocks of an even number of rows (<= 64, >= 4 blocks), one thread each
        size = min(64, max(2, -(-sino.shape[1] // 4)))
        size += size % 2
        blocks = da.from_array(sino, chunks=(-1, size, -1))
        volume = np.asarray(reconstruct(blocks, scan.angles_deg, center=centre, nthreads=1))
        times["reconstruct (FBP)"] = time.perf_counter() - t
        del sino

        # the segmentation's compiled kernels (numba, cached on disk) load on their first call, 3-8 s on the
        # loaded machine: once per process, like the reconstruction's warm-up in the reference timing above,
        # so timed apart and not scaled with the rows
        t = time.perf_counter()
        _warm_segmentation()
        per_scan["segmentation warm-up (once per process)"] = time.perf_counter() - t

        t = time.perf_counter()
        voxel = geo.voxel_um * binning
        n = volume.shape[1]
        ds = xr.Dataset(
            {"attenuation": (("z", "y", "x"), da.from_array(volume, chunks=(16, 512, 512)), {"units": "1/voxel"})},
            attrs={"voxel_size_um": voxel},
        )
        vol_store = write_results(ds, workdir / "v.zarr", overwrite=True)
        times["write volume (Zarr)"] = time.perf_counter() - t
        del volume, ds

        t = time.perf_counter()
        seg_store = segment_volume(vol_store, workdir / "s.zarr", overwrite=True, collector=not paper)
        times["segment (re-reads the volume)"] = time.perf_counter() - t

        t = time.perf_counter()
        try:
            if_store: Path | None = interface_maps(seg_store, workdir / "i.zarr", overwrite=True)
        except ParameterError as exc:  # at detector-level counts the pure-absorption phantom may show no Li
            if_store = None
            print(f"interface: {exc}")
        times["interface + quantities"] = time.perf_counter() - t

    scale = rows_full / rows
    print(f"geometry: {geo.n_angles} x {rows_full} rows x {n} columns per scan; block of {rows} rows, x{scale:.0f}")
    print(f"{'stage':36s} {'block s':>9s} {'ms/row':>8s} {'full scan s':>12s}")
    total = 0.0
    for stage, sec in times.items():
        total += sec * scale
        print(f"{stage:36s} {sec:9.2f} {1e3 * sec / rows:8.1f} {sec * scale:12.1f}")
    for stage, sec in per_scan.items():
        total += sec
        print(f"{stage:36s} {sec:9.2f} {'-':>8s} {sec:12.1f}")
    print(f"{'total':36s} {'':9s} {'':8s} {total:12.1f}")
    for name, t_ref in rivals:
        print(f"reconstruction of {ref_slices} slice(s): {name} {t_ref:.2f} s, ours {t_ours:.2f} s "
              f"(ours / reference = {t_ours / t_ref:.2f})")  # fmt: skip
    recon = times["reconstruct (FBP)"]
    seg = times["segment (re-reads the volume)"]
    print(f"segmentation / reconstruction time: {seg / recon:.2f}")
    verdict = "keeps up with" if total <= CADENCE_S else "does NOT keep up with"
    print(f"verdict: {total:.0f} s per scan on {CORES} cores {verdict} a scan every {CADENCE_S / 60:.0f} min "
          f"({total / CADENCE_S:.2f} x the cadence)")  # fmt: skip
    counts = np.bincount(np.asarray(open_results(seg_store)["labels"].values).ravel(), minlength=6)
    names = ("electrolyte", "lithium", "void", "pore", "interphase", "outside")
    print("labels: " + ", ".join(f"{k} {100 * c / counts.sum():.1f} %" for k, c in zip(names, counts, strict=False)))
    if if_store is not None:
        measured = float(open_results(if_store)["contact_fraction"].values[0])
        print(f"sanity: contact fraction of interface 0 measured {measured:.3f}, truth {contact0:.3f}")
    else:
        print(f"sanity: no cell segmented at {flat_counts:g} counts (truth {contact0:.3f}); try --flat-counts 1e10")
    print(f"peak RSS so far: {_peak_rss_gib():.2f} GiB; load average after: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=28, help="detector rows in the block (>= 28)")
    ap.add_argument("--binning", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--angles", type=int, default=1500)
    ap.add_argument("--cols", type=int, default=2448)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--flat-counts", type=float, default=2e4, help="open-beam counts per pixel (shot noise)")
    ap.add_argument("--reference-slices", type=int, default=2)
    ap.add_argument(
        "--phantom", choices=("effective", "paper"), default="effective",
        help="effective: the package's effective attenuation (pure absorption); paper: the paper's 2-mm "
        "Li | Li6PS5Cl | Li cell at 28 keV with 100-mm propagation phase contrast, Paganin-retrieved",
    )  # fmt: skip
    args = ap.parse_args()
    geo = Geometry(n_angles=args.angles, n_cols=args.cols, n_rows_full=2048, n_rows=args.rows)
    with tempfile.TemporaryDirectory() as tmp_in:
        path = Path(tmp_in) / "block.h5"
        contact0 = make_input(geo, seed=args.seed, path=path, flat_counts=args.flat_counts, phantom=args.phantom)
        for b in args.binning:
            with tempfile.TemporaryDirectory() as tmp:
                run(geo, binning=b, seed=args.seed, workdir=Path(tmp), flat_counts=args.flat_counts,
                    ref_slices=args.reference_slices, phantom=args.phantom, path=path, contact0=contact0)  # fmt: skip


if __name__ == "__main__":
    main()
