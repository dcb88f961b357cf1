"""Time our gridding FBP against astra-toolbox's CPU FBP and algotom's DFI on the same sinograms.

Usage::

    python benchmarks/tomo_recon.py [--quick] [--slices 4] [--no-astra] [--seed 0] [--repeat 2]

Input: a phantom of 40 random ellipses (seeded) inside the field of view, projected
*analytically* (exact line integrals of each ellipse, no forward model of any of the codes)
onto 1500 angles in [0, 180) x 2448 detector pixels (``--quick``: 376 x 612), float32, with
the rotation axis at ``(n - 1) / 2`` px, which is astra's native centre, so that no code
needs its sinogram shifted. All three use a Hann-windowed ramp (astra ``hann``, algotom's
``hann`` smoothing window, ours ``window="hann"``).

Prints, per code: seconds per slice on one core (``OMP_NUM_THREADS=1`` etc. are set before
numpy is imported; finufft gets ``nthreads=1``; algotom ``ncore=1``; astra's CPU FBP is
single-threaded), the ratio to ours, and the NRMS difference ``||a - b|| / ||b||`` inside
the reconstruction circle (radius ``n/2 - 4`` px) against ours and against the phantom
(rasterised at pixel centres, so its sharp edges are not band-limited: the NRMS to the
truth has a floor common to all codes). Then our 2-core scaling over ``--slices`` slices
(``reconstruct`` with ``nthreads`` 1 vs 2, in a child process with ``OMP_NUM_THREADS=2``),
and how much faster one slice of a stack is than a lone slice (plan reuse). The machine's load average is printed: on a
shared machine other people's jobs take cores and the timings are upper bounds.

TomoPy's gridrec (which algotom's ``gridrec_reconstruction`` wraps) is not installable from
PyPI, so it is reported as unavailable; field notes give 1.8 s per slice on one core.
"""

from __future__ import annotations

import os

# One core for everything; the 2-core scaling re-runs this script in a child with OpenMP at 2
# (finufft sizes its pool from OMP_NUM_THREADS and warns about nthreads beyond it).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = os.environ.get("TOMO_BENCH_OMP", "1") if _var == "OMP_NUM_THREADS" else "1"

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
from scipy.ndimage import fourier_shift  # noqa: E402

from operando.tomo import reconstruct, reconstruct_slice  # noqa: E402


def ellipses(n: int, seed: int, count: int = 40) -> np.ndarray:
    """Random ellipses ``(x0, y0, a, b, phi, value)`` (pixels, radians, 1/pixel) within radius 0.45 n.

    ``x0`` is the column offset and ``y0`` the *upward* offset (minus the row offset) from
    the rotation axis, so that a projection at ``theta`` samples ``s = x cos + y sin``.
    """
    rng = np.random.default_rng(seed)
    out = [(0.0, 0.0, 0.42 * n, 0.38 * n, 0.0, 0.002)]
    for _ in range(count - 1):
        a, b = rng.uniform(0.01, 0.12, 2) * n
        r = rng.uniform(0, 0.42 * n - max(a, b))
        t = rng.uniform(0, 2 * np.pi)
        out.append((r * np.cos(t), r * np.sin(t), a, b, rng.uniform(0, np.pi), rng.uniform(-0.001, 0.003)))
    return np.asarray(out)


def project(ell: np.ndarray, angles_deg: np.ndarray, n: int, center: float) -> np.ndarray:
    """Exact line integrals ``(n_angles, n)`` of the ellipses; detector column ``j`` at ``s = j - center``."""
    th = np.deg2rad(angles_deg)[:, None]
    s = np.arange(n)[None, :] - center
    sino = np.zeros((th.shape[0], n))
    for x0, y0, a, b, phi, val in ell:
        s0 = x0 * np.cos(th) + y0 * np.sin(th)
        r2 = (a * np.cos(th - phi)) ** 2 + (b * np.sin(th - phi)) ** 2
        sino += 2 * val * a * b / r2 * np.sqrt(np.clip(r2 - (s - s0) ** 2, 0, None))
    return sino.astype(np.float32)


def rasterise(ell: np.ndarray, n: int, axis: float) -> np.ndarray:
    """The phantom at pixel centres, rows ``y`` down, columns ``x``, rotation axis at pixel ``axis``."""
    yy, xx = np.mgrid[:n, :n].astype(np.float64)
    x, y = xx - axis, -(yy - axis)
    img = np.zeros((n, n))
    for x0, y0, a, b, phi, val in ell:
        u = (x - x0) * np.cos(phi) + (y - y0) * np.sin(phi)
        v = -(x - x0) * np.sin(phi) + (y - y0) * np.cos(phi)
        img += val * ((u / a) ** 2 + (v / b) ** 2 <= 1)
    return img


def astra_fbp(sino: np.ndarray, angles_deg: np.ndarray) -> np.ndarray:
    """astra CPU FBP (linear projector, Hann filter); its rotation axis is the detector's middle."""
    from _astra import astra_fbp as fbp  # benchmarks/_astra.py, shared with tomo_pipeline.py

    return fbp(sino, angles_deg, "hann")


def algotom_dfi(sino: np.ndarray, angles_deg: np.ndarray, center: float, ncore: int = 1) -> np.ndarray:
    from algotom.rec.reconstruction import dfi_reconstruction

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = dfi_reconstruction(
            sino, center, angles=np.deg2rad(angles_deg), filter_name="hann", apply_log=False, ratio=None, ncore=ncore
        )
    return np.asarray(rec)


def timed(fn: Callable[[], np.ndarray], repeat: int = 1) -> tuple[float, np.ndarray]:
    """Best wall time of ``repeat`` runs (other jobs on a shared machine only ever add time)."""
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def nrms(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    return float(np.linalg.norm((a - b)[mask]) / np.linalg.norm(b[mask]))


def scaling(sino: np.ndarray, angles: np.ndarray, center: float, k: int, repeat: int) -> None:
    """Our ``reconstruct`` on ``k`` slices: finufft on 1 then 2 threads, then 2 dask threads x 1."""
    import dask
    import dask.array as da

    stack = np.repeat(sino[:, None, :], k, axis=1)
    stack *= np.linspace(0.8, 1.2, k, dtype=np.float32)[None, :, None]
    loads = [os.getloadavg()[0]]
    t1, _ = timed(lambda: reconstruct(stack, angles, center=center, window="hann", nthreads=1), repeat)
    t2, _ = timed(lambda: reconstruct(stack, angles, center=center, window="hann", nthreads=2), repeat)
    lazy = reconstruct(da.from_array(stack, chunks=(-1, 2, -1)), angles, center=center, window="hann", nthreads=1)
    with dask.config.set(scheduler="threads", num_workers=2):
        t3, _ = timed(lambda: lazy.compute(), repeat)
    loads.append(os.getloadavg()[0])
    print(f"  1 thread:                         {t1 / k:.3f} s/slice")
    print(f"  finufft + FFTs on 2 threads:      {t2 / k:.3f} s/slice   speed-up {t1 / t2:.2f}x")
    print(f"  2 dask threads x 1 (2-row chunks): {t3 / k:.3f} s/slice   speed-up {t1 / t3:.2f}x")
    print(f"  (load average {loads[0]:.2f} -> {loads[1]:.2f} on 2 CPUs: a speed-up needs a free core)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="376 angles x 612 px instead of 1500 x 2448")
    ap.add_argument("--slices", type=int, default=4, help="slices for the 2-core scaling of ours")
    ap.add_argument("--no-astra", action="store_true", help="skip astra (about a minute per full-size slice)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=2, help="best of this many runs, for every code")
    ap.add_argument("--scaling-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    n_angles, n = (376, 612) if args.quick else (1500, 2448)
    center = (n - 1) / 2.0  # astra's native axis (the middle of the detector)
    angles = np.arange(n_angles) * (180.0 / n_angles)
    ell = ellipses(n, args.seed)
    start = time.perf_counter()
    sino = project(ell, angles, n, center)
    if args.scaling_only:
        scaling(sino, angles, center, args.slices, args.repeat)
        return
    print(f"sinogram {n_angles} angles x {n} px float32, analytic ellipses ({time.perf_counter() - start:.1f} s)")
    print(f"load average before timing: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (shared machine)")
    yy, xx = np.mgrid[:n, :n]
    mask = (yy - n / 2 + 0.5) ** 2 + (xx - n / 2 + 0.5) ** 2 < (n / 2 - 4) ** 2

    # Ours puts the rotation axis on pixel n // 2; astra and algotom put it at (n - 1) / 2,
    # between pixels. For the differences, ours is moved onto their grid by a half-pixel
    # Fourier shift (exact for a band-limited image); each code's truth is rasterised on its
    # own grid.
    results: dict[str, tuple[float, np.ndarray, float]] = {}
    t, ours = timed(lambda: reconstruct_slice(sino, angles, center=center, window="hann", nthreads=1), args.repeat)
    results["ours (finufft gridding FBP)"] = (t, ours, n // 2)
    t, dfi = timed(lambda: algotom_dfi(sino, angles, center), args.repeat)
    results["algotom DFI"] = (t, dfi, (n - 1) / 2)
    if not args.no_astra:
        t, ast = timed(lambda: astra_fbp(sino, angles), args.repeat)
        results["astra-toolbox CPU FBP"] = (t, ast, (n - 1) / 2)
    print(f"load average after: {os.getloadavg()[0]:.2f}")

    t_ours = results["ours (finufft gridding FBP)"][0]
    print(f"\none core, one slice ({n_angles} x {n} -> {n} x {n}), best of {args.repeat}:")
    print(f"{'code':30s} {'s/slice':>8s} {'x ours':>7s} {'NRMS vs truth':>14s}")
    for name, (t, img, axis) in results.items():
        truth = rasterise(ell, n, axis)
        print(f"{name:30s} {t:8.2f} {t / t_ours:7.1f} {nrms(img, truth, mask):14.4f}")
    print("TomoPy gridrec: not available (not on PyPI); field notes: 1.8 s/slice on one core")

    print("\nNRMS difference ||a - b|| / ||b|| inside the circle:")
    ours_on_grid = np.fft.ifft2(fourier_shift(np.fft.fft2(ours), (-0.5, -0.5))).real
    others = [k for k in results if not k.startswith("ours")]
    for name in others:
        print(f"  ours vs {name}: {nrms(ours_on_grid, results[name][1], mask):.4f}")
    if len(others) == 2:
        print(f"  {others[1]} vs {others[0]}: {nrms(results[others[1]][1], results[others[0]][1], mask):.4f}")

    print(f"\nours, {args.slices} slices with reconstruct (plan reuse, 2 slices per transform), best of {args.repeat}:")
    cmd = [sys.executable, __file__, "--scaling-only", "--slices", str(args.slices), "--repeat", str(args.repeat)]
    cmd += ["--seed", str(args.seed)]
    env = dict(os.environ, TOMO_BENCH_OMP="2")
    child = subprocess.run(cmd + (["--quick"] if args.quick else []), env=env, capture_output=True, text=True)
    print(child.stdout.rstrip() or child.stderr.rstrip())
    fastest = min((t for name, (t, _, _) in results.items() if not name.startswith("ours")), default=float("nan"))
    print(f"\nours is {fastest / t_ours:.1f}x faster than the fastest other code here on one core")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
