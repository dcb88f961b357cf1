"""operando's K-map reduction against XSOCS on one synthetic 5D SXDM map, in one run.

Usage (from the repository root)::

    python benchmarks/sxdm_vs_xsocs.py                 # 40 x 40 points, 30 angles, 256^2 pixels
    python benchmarks/sxdm_vs_xsocs.py --quick         # 12 x 12 points, to try it
    # gzip Lima frames at Maxipix size, as ID01 records them (10 ms frames, chip gap: the
    # defaults at 516^2) on the paper's map (6 x 6 um^2 at 80 nm: 75 x 75 points, the
    # default at 516^2) x 30 angles, kept for reruns:
    python benchmarks/sxdm_vs_xsocs.py --encoding gzip --detector 516 --map-dir /tmp/map-id01-gzip-75-30
    # a smaller map (the fixed cost of each map weighs more: see the README)
    python benchmarks/sxdm_vs_xsocs.py --encoding lima-gzip --detector 516 --points 40
    # uncompressed frames read from the disk by both tools (51 GB; 180 GB at 75 x 75):
    python benchmarks/sxdm_vs_xsocs.py --encoding none --detector 516 --points 40 --cold
    python benchmarks/sxdm_vs_xsocs.py --out-of-core 30   # also a 30 GB map (ours only)
    # the model's dense frames at Maxipix size (0.5 counts per pixel, no chip gap):
    python benchmarks/sxdm_vs_xsocs.py --detector 516 --background 0.5 --peak-counts 3e4 --no-chip-gap

ID01-like frames
----------------
At ``--detector 516`` (a Maxipix 2 x 2) the frames are ID01's unless told otherwise:
``--background 0.005 --peak-counts 3000`` give frames of a 10 ms exposure: 0.0055 counts
per pixel, 99.5 % of the pixels zero, Poisson counts drawn at the detector (the model's
defaults, 0.5 counts per pixel and 3e4 Bragg counts per point, are a much denser frame);
``--chip-gap`` writes them as the Maxipix 2 x 2 reads them out (the wide pixels at the
chips' inner edges hold the counts of the 4-pixel gap, which reads 0). Lima writes one
frame per chunk; ``--encoding lima-gzip`` is what its HDF5GZ saving writes (deflate level
6, *no* byte shuffle: LImA ``control/src/CtSaving_Hdf5.cpp``), ``bitshuffle-lz4`` its
HDF5BS saving (the ESRF default), ``none`` its plain HDF5; ``gzip`` (deflate 4 after
HDF5's byte shuffle) is the synthetic writer's and not Lima's.
Frames this sparse (``--background`` at most 0.05) are drawn count by count
(:class:`_SparseCounts`, the same distribution as the model's pixel-by-pixel draw, checked
on one point before writing), which writes a 40 x 40 x 30-angle 516^2 map in minutes
rather than over an hour; ``lima-gzip`` is deflated from a bitshuffle-lz4 map, so the raw
frames (51 GB at 40 x 40, 115 GB at 60 x 60) never reach the disk.

What it does
------------
1. Simulates one K-map with known truth (:func:`operando.synthetic.simulate_kmap`) and
   writes it in the ID01 layout (Bliss master file + Lima bitshuffle-lz4 frame files,
   :func:`operando.synthetic.write_bliss_kmap`).
2. XSOCS (``xsocs`` from PyPI) as a user runs it on ID01 Bliss data, with its defaults:
   ``xsocs.io.bliss.make_xsocs_links`` (the master/entry files XSOCS reads, linking the
   Bliss frames), ``QSpaceConverter`` with the q-space size its GUI proposes (at most 100
   bins per axis), no median filter, no mask, its default number of processes; then
   ``PeakFitter`` with its default (1D Gaussian per axis, no background).
3. Ours: :func:`operando.sxdm.process_kmap` on the same master file (local threaded
   Dask scheduler, default settings).

Each tool runs in its own child process (same interpreter), ``--repeat`` times (3),
interleaved (XSOCS, ours, XSOCS, ours, ...), and the median run is reported. Times are wall-clock around
the pipeline call in the child (imports excluded for both: ours imports beforehand the
modules its first call would import lazily, see ``_import_lazy_modules``; nothing else is
warmed, so the Lima chunk tables are read inside the timed call). Peak memory is the largest
sum over the child and all its descendants (XSOCS forks worker processes) of the
proportional set size (PSS, shared pages split between the processes that map them),
sampled every 100 ms with psutil from this process, in one more run of each tool (sampling
stalls the sampled process's page faults, so timed runs are not sampled); the peak resident set (VmHWM) of the
child's main process is printed beside it, and the CPU time (user + system) of the child
and its workers, a measure less sensitive to other load on the machine. On a machine
shared with other work, compare the CPU-time ratio as well: both tools' wall times stretch
with the load (runs of one tool differed 3x here). Errors are
against the simulated truth on the crystal points that both tools return: RMS of the
d-spacing error (Å), RMS and maximum of the angle between measured and true Q (deg), and
the correlation of measured with true d-spacing (= strain).

``--out-of-core SIZE_GB`` then writes a map of SIZE_GB of uncompressed frames to
``/tmp/sxdm-ooc`` (streamed block by block, never held in memory), reduces it with ours
only, prints time, peak memory and errors, and deletes it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# mean background counts per pixel per frame at and below which the frames are drawn count by
# count (:class:`_SparseCounts`), above it pixel by pixel by the model
SPARSE_BELOW = 0.05


# -- the two pipelines (run in child processes) ---------------------------------------------


def _xsocs_qspace_dims(master: str) -> list[int]:
    """The q-space size XSOCS's GUI proposes (QSpaceWidget): bins from the smallest q step, at most 100.

    Copied from ``xsocs.gui.process.QSpaceWidget`` (GUI code, not importable without Qt).
    """
    from xsocs.io import XsocsH5
    from xsocs.process.qspace.QSpaceConverter import qspace_conversion

    with XsocsH5.XsocsH5(master) as x:
        entries = x.entries()
        entry = entries[0]
        angles = {k: [x.positioner(e, k) for e in entries] for k in ("phi", "eta", "nu", "del")}
        q = qspace_conversion(
            img_size=x.image_size(entry),
            center_chan=x.direct_beam(entry),
            chan_per_deg=x.chan_per_deg(entry),
            beam_energy=[x.beam_energy(e) for e in entries],
            phi=angles["phi"],
            eta=angles["eta"],
            nu=angles["nu"],
            delta=angles["del"],
        )
    dims = []
    for dim in (q[..., 0], q[..., 1], q[..., 2]):
        maxbin = np.inf
        for j in range(dim.ndim):
            step = abs(np.diff(dim, axis=j)).max()
            maxbin = min(maxbin, (abs(dim).max() - abs(dim).min()) / step)
        dims.append(min(int(maxbin) + 1, 100))
    return dims


def run_xsocs(master: str, work: str) -> dict[str, Any]:
    import hdf5plugin  # noqa: F401  (registers the bitshuffle-lz4 filter of the Lima files, as at ID01)
    from xsocs.io.bliss import make_xsocs_links
    from xsocs.process.fit import PeakFitter
    from xsocs.process.qspace.QSpaceConverter import QSpaceConverter

    t0 = time.perf_counter()
    xmaster = make_xsocs_links(master, work)
    t1 = time.perf_counter()
    dims = _xsocs_qspace_dims(xmaster)
    qspace_f = os.path.join(work, "qspace.h5")
    conv = QSpaceConverter(xmaster, qspace_dims=dims, output_f=qspace_f)
    conv.convert(overwrite=True)
    if conv.status != QSpaceConverter.DONE:
        raise RuntimeError(f"XSOCS conversion failed: {conv.status_msg}")
    t2 = time.perf_counter()
    result = PeakFitter(qspace_f).peak_fit()
    t3 = time.perf_counter()
    centre = np.stack([result.get_results(i, "Center") for i in range(3)], axis=-1)
    ok = np.all([result.get_results(i, "Status") for i in range(3)], axis=0)
    centre[~ok] = np.nan
    return {
        "q": centre.tolist(),
        "times": {"merge (links)": t1 - t0, "q-space conversion": t2 - t1, "fit": t3 - t2, "total": t3 - t0},
        "settings": f"qspace_dims={dims}, n_proc={conv.n_proc}, fit=gaussian, background=none",
        "qspace_MB": os.path.getsize(qspace_f) / 1e6,
    }


def _import_lazy_modules() -> None:
    """Import what ``process_kmap`` would import on its first call, so that its time excludes
    imports as XSOCS's does: Dask's array and delayed modules, threadpoolctl, and pint, which
    xarray imports (when installed) the first time it builds a coordinate index."""
    import importlib

    for name in ("dask.array", "dask.delayed", "dask.threaded", "threadpoolctl", "pint"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def run_ours(master: str, work: str) -> dict[str, Any]:
    from operando.pipelines.sxdm import process_kmap

    _import_lazy_modules()
    t0 = time.perf_counter()
    maps, parameters = process_kmap(master)
    t1 = time.perf_counter()
    q = np.stack([maps[k].values for k in ("qx", "qy", "qz")], axis=-1)
    q[~maps["mask"].values.astype(bool)] = np.nan
    keep = ("roi_angles", "roi_det_y", "roi_det_x", "hot_pixels", "survey_points", "background")
    return {
        "q": q.reshape(-1, 3).tolist(),
        "times": {"process_kmap": t1 - t0, "total": t1 - t0},
        "settings": ", ".join(f"{k}={parameters[k]}" for k in keep),
    }


def _cpu_s() -> float:
    """User + system CPU seconds of this process and its waited-for children (XSOCS's workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def child(tool: str, master: str, work: str, out: str) -> None:
    if tool == "ours":  # outside the timed call, as for the wall time
        _import_lazy_modules()
    cpu0 = _cpu_s()
    result = {"xsocs": run_xsocs, "ours": run_ours}[tool](master, work)
    result["cpu_call_s"] = _cpu_s() - cpu0  # the pipeline call and the result's conversion, no start-up
    # VmHWM: peak resident set of this process since exec (ru_maxrss would include the parent's
    # peak, inherited through fork)
    status = Path("/proc/self/status").read_text().splitlines()
    result["vm_hwm_MB"] = next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    Path(out).write_text(json.dumps(result))


# -- measuring ---------------------------------------------------------------------------------


def _tree_pss(proc: Any) -> float:
    import psutil

    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += p.memory_full_info().pss
    return total


def evict_from_page_cache(folder: Path) -> float:
    """Drop the HDF5 files under ``folder`` from the page cache (``posix_fadvise``
    DONTNEED, no privileges needed), so that the next run reads them from the disk, as a
    user's first pass over a beamtime's files does. Returns the GB still cached (``fincore``;
    NaN where it is missing).

    Without it, repeated runs of a map larger than the memory favour ours: XSOCS streams every
    frame once, while ours reads a few GB (the survey's frames and the region's rows) that
    stay cached from its previous run (40 x 40 uncompressed 516^2: 1.6 s warm, 3.5 s cold).
    """
    files = sorted(folder.rglob("*.h5"))
    for _ in range(2):  # pages on a per-CPU list are dropped by the second call
        for f in files:
            fd = os.open(f, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
    if shutil.which("fincore") is None:
        return float("nan")
    out = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--output", "RES", *map(str, files)],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    return sum(int(x) for x in out.split()) / 1e9


def measure(tool: str, master: Path, work: Path, *, sample: bool = True, cold: bool = False) -> dict[str, Any]:
    """Run one tool in a child process; with ``sample``, sample the PSS of its process tree;
    with ``cold``, the map's files are first dropped from the page cache.

    Reading a process's PSS walks its page tables under the kernel's memory-map lock, which
    stalls its page faults: timed runs are made without sampling, memory runs apart.
    """
    import psutil

    cached = evict_from_page_cache(master.parent) if cold else None
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"{tool}.json"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = [sys.executable, __file__, "--child", tool, str(master), str(work), str(out)]
    start = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    ps = psutil.Process(proc.pid)
    peak = 0.0
    while sample and proc.poll() is None:
        try:
            peak = max(peak, _tree_pss(ps))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} failed (exit {proc.returncode})")
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(out.read_text())
    # user + system CPU of the child and its waited-for descendants (XSOCS's pool workers),
    # imports and interpreter start included
    result["cpu_s"] = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    result["peak_pss_MB"] = peak / 1e6
    result["child_wall_s"] = time.perf_counter() - start
    if cached is not None:
        result["cached_GB"] = cached  # of the map's files, left in the page cache at the start
    return result


def errors(q: np.ndarray, truth: Any, points: np.ndarray) -> dict[str, float]:
    """d-spacing and tilt errors against the truth on the boolean (y, x) ``points``."""
    qm, qt = q[points], truth.q[points]
    d = 2 * np.pi / np.linalg.norm(qm, axis=-1)
    dt = truth.d_spacing_A[points]
    cos = (qm * qt).sum(-1) / np.linalg.norm(qm, axis=-1) / np.linalg.norm(qt, axis=-1)
    tilt = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return {
        "d_rms_A": float(np.sqrt(np.mean((d - dt) ** 2))),
        "tilt_rms_deg": float(np.sqrt(np.mean(tilt**2))),
        "tilt_max_deg": float(tilt.max()),
        "strain_corr": float(np.corrcoef(d, dt)[0, 1]),
    }


class _MaxipixReadout:
    """A synthetic K-map seen through Lima's Maxipix 2 x 2 readout with the chip gap
    (fill mode ZERO, as ID01 records ``mpx1x4``): the photons that fall on a chip's inner
    edge, three pixels wide, are counted in its edge pixel and the ``gap`` positions
    between the chips read 0, along both detector axes. Everything but :meth:`frames`
    is the model's own (its pixel mask, truth and geometry)."""

    def __init__(self, model: Any, chip: int = 256, gap: int = 4) -> None:
        dy, dx = model.pixel_mask.shape
        if (dy, dx) != (2 * chip + gap, 2 * chip + gap):
            raise SystemExit(
                f"--chip-gap needs {2 * chip + gap}^2 frames (--detector {2 * chip + gap}), got {dy} x {dx}"
            )
        self._model, self._chip, self._gap = model, chip, gap

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def frames(self, start: int, stop: int) -> np.ndarray:
        """The model's counts ``(angle, point, det_y, det_x)`` int32 as the readout gives them."""
        out = self._model.frames(start, stop)
        c, half = self._chip, self._gap // 2
        for axis in (2, 3):
            f = np.moveaxis(out, axis, 0)  # a view: writes go to ``out``
            f[c - 1] += f[c : c + half].sum(0)  # the lower chip's wide edge pixel
            f[c + self._gap] += f[c + half : c + self._gap].sum(0)  # the upper chip's
            f[c : c + self._gap] = 0
        return out


class _SparseCounts:
    """A synthetic K-map whose frames are drawn count by count rather than pixel by pixel,
    for sparse frames (ID01-like, ``--background 0.005``): the same distribution as the
    model's own :meth:`frames`, ~100x faster at 516^2 x 30 angles.

    Per point, the model draws every voxel's background as an independent Poisson variable
    of mean ``background``. Here the total background count of the point's frames is drawn
    as Poisson(``background`` x voxels) and each count placed at a uniformly random voxel:
    given the total, the per-voxel counts are multinomial with equal probabilities, and a
    Poisson total split that way gives independent Poisson(``background``) voxels (Poisson
    splitting), so the two are the same distribution, not an approximation. The Bragg
    counts (Poisson on the voxels within reach of the peak, the model's ``_expected``) and
    the hot pixels are drawn as the model draws them; the masked pixels read 0.
    :func:`_check_sparse` compares one point's frames with the model's. Deterministic per
    point (its own seed sequence), so not the model's realisation."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def frames(self, start: int, stop: int) -> np.ndarray:
        """Counts ``(angle, point, det_y, det_x)`` int32 of the points ``start:stop``."""
        m = self._model
        n_a, dy, dx, _ = m.pixel_q().shape
        n_px, n_pts = dy * dx, stop - start
        n_vox = n_a * n_px
        points = np.arange(start, stop)
        drifting = m.drift is not None and np.any(m.drift)
        near, peak = m._drifted(start, stop) if drifting else m._expected(points)
        hot = np.flatnonzero(np.broadcast_to(m.hot_pixels, (n_a, dy, dx)).reshape(-1))
        out = np.zeros((n_a, n_pts, n_px), dtype=np.int32)
        flat = out.reshape(-1)
        for i, p in enumerate(points):
            rng = np.random.default_rng([m.seed, 3, int(p)])
            background = rng.integers(0, n_vox, rng.poisson(m.background * n_vox))
            lit = peak[:, i] > 1e-7  # as the model: beyond ~6 sigma the expected counts are negligible
            vox = np.concatenate([background, near[lit], hot])
            counts = np.concatenate(
                [
                    np.ones(background.size, dtype=np.int64),
                    rng.poisson(peak[lit, i]),
                    rng.poisson(m.hot_pixel_rate, hot.size),
                ]
            )
            angle, pixel = np.divmod(vox, n_px)
            np.add.at(flat, (angle * n_pts + i) * n_px + pixel, counts.astype(np.int32))
        out[:, :, m.pixel_mask.reshape(-1).astype(bool)] = 0
        return out.reshape(n_a, n_pts, dy, dx)


def _check_sparse(model: Any, point: int) -> str:
    """One point's frames from :class:`_SparseCounts` against the model's per-pixel draw:
    mean counts per pixel and fraction of zero pixels equal within 5 standard errors."""
    dense = model.frames(point, point + 1).astype(np.float64)
    sparse = _SparseCounts(model).frames(point, point + 1).astype(np.float64)
    n = dense.size
    mean_d, mean_s = dense.mean(), sparse.mean()
    zero_d, zero_s = np.mean(dense == 0), np.mean(sparse == 0)
    se_mean = math.sqrt((dense.var() + sparse.var()) / n)
    se_zero = math.sqrt((zero_d * (1 - zero_d) + zero_s * (1 - zero_s)) / n)
    assert abs(mean_d - mean_s) < 5 * se_mean, f"sparse writer: mean {mean_s:.5g} vs per-pixel {mean_d:.5g}"
    assert abs(zero_d - zero_s) < 5 * se_zero, f"sparse writer: zeros {zero_s:.5%} vs per-pixel {zero_d:.5%}"
    return (
        f"sparse writer checked on point {point}: {mean_s:.5g} vs {mean_d:.5g} counts/pixel, "
        f"{zero_s:.4%} vs {zero_d:.4%} zero pixels (per-pixel draw)"
    )


def _datasets(h: Any) -> list[str]:
    """Paths of the datasets in an open HDF5 file."""
    import h5py

    names: list[str] = []
    h.visit(lambda n: names.append(n) if isinstance(h[n], h5py.Dataset) else None)
    return names


def _lima_deflate(folder: Path, level: int = 6) -> None:
    """Every Lima file under ``folder`` rewritten as Lima's HDF5GZ saving writes it:
    deflate at ``level`` (Lima's ``m_compression_level = 6``), no byte shuffle, one frame
    per chunk, each chunk written whole (``H5DOwrite_chunk``; LImA
    ``control/src/CtSaving_Hdf5.cpp``, ``plist.setDeflate`` and no ``setShuffle``). The
    files may hold frames in any encoding HDF5 reads (written bitshuffle-lz4)."""
    import zlib
    from concurrent.futures import ThreadPoolExecutor

    import h5py
    import hdf5plugin  # noqa: F401  (reads the bitshuffle-lz4 frames)

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        for path in sorted(folder.glob("scan*/*.h5")):
            tmp = path.with_suffix(".gz.tmp")
            with h5py.File(path, "r") as src, h5py.File(tmp, "w") as dst:
                for name in _datasets(src):
                    d = src[name]
                    out = dst.create_dataset(
                        name,
                        shape=d.shape,
                        dtype=d.dtype,
                        chunks=(1, *d.shape[1:]),
                        compression="gzip",
                        compression_opts=level,
                    )
                    for s in range(0, d.shape[0], 64):
                        block = d[s : s + 64]
                        packed = pool.map(lambda f: zlib.compress(np.ascontiguousarray(f).tobytes(), level), block)
                        for k, z in enumerate(packed):
                            out.id.write_direct_chunk((s + k, 0, 0), z)
            os.replace(tmp, path)


def make_map(
    side: tuple[int, int],
    n_angles: int,
    det: int,
    folder: Path,
    seed: int,
    encoding: str = "bitshuffle-lz4",
    *,
    background: float | None = None,
    peak_counts: float | None = None,
    chip_gap: bool = False,
) -> tuple[Any, Path, float]:
    """Simulate the map and write it to ``folder``, or reuse the one written there with the same
    parameters (``--map-dir``; the model is deterministic in its seed, the frames are not rewritten).

    ``background`` (counts per pixel per frame) and ``peak_counts`` are the model's
    (:func:`operando.synthetic.simulate_kmap`, its defaults when None); ``chip_gap`` writes
    the frames as a Maxipix 2 x 2 reads them out (:class:`_MaxipixReadout`);
    ``encoding="lima-gzip"`` is deflate level 6 without shuffle (:func:`_lima_deflate`),
    ``"gzip"`` the writer's deflate level 4 after HDF5's byte shuffle."""
    from operando.synthetic import simulate_kmap, write_bliss_kmap

    extra = {k: v for k, v in (("background", background), ("peak_counts", peak_counts)) if v is not None}
    model = simulate_kmap(map_shape=side, n_angles=n_angles, detector_shape=(det, det), seed=seed, **extra)
    stamp = folder / "map-parameters.json"
    sparse = model.background <= SPARSE_BELOW
    wanted = json.dumps(
        {"side": side, "angles": n_angles, "detector": det, "seed": seed, "encoding": encoding}
        | ({**extra, "chip_gap": chip_gap} if extra or chip_gap else {})
        | ({"writer": "sparse"} if sparse else {})
    )
    if stamp.is_file() and stamp.read_text() == wanted:
        return model, next(folder.glob("*.h5")), 0.0
    shutil.rmtree(folder, ignore_errors=True)
    if encoding == "none":
        _check_room(folder, side[0] * side[1] * n_angles * det * det * 4)
    t0 = time.perf_counter()
    counts = model
    if sparse:
        ny, nx = side
        print(_check_sparse(model, (ny // 2) * nx + nx // 2), flush=True)
        counts = _SparseCounts(model)
    written = _MaxipixReadout(counts) if chip_gap else counts
    # lima-gzip: written bitshuffle-lz4 first (a tenth of the disk of raw frames), then deflated
    master = write_bliss_kmap(written, folder, encoding="bitshuffle-lz4" if encoding == "lima-gzip" else encoding)
    if encoding == "lima-gzip":
        _lima_deflate(folder)
    stamp.write_text(wanted)
    return model, master, time.perf_counter() - t0


def _check_room(folder: Path, needed: int) -> None:
    """Exit 2 with one line when the disk under ``folder`` cannot hold ``needed`` bytes of
    uncompressed frames (a 75 x 75 x 30-angle map of 516^2 int32 frames is 180 GB): a map
    written until the disk is full would fail half-way, and fill the disk for everyone."""
    probe = folder
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed > 0.95 * free:
        print(
            f"error: {folder}: the uncompressed map needs {needed / 1e9:.0f} GB and {probe} has "
            f"{free / 1e9:.0f} GB free; use a smaller --points or --angles, or --map-dir on a larger disk",
            file=sys.stderr,
        )
        sys.exit(2)


def _sparsity(master: Path) -> str:
    """Mean counts per pixel and the fraction of zero pixels of the map's first Lima file's frames."""
    import h5py

    first = sorted(master.parent.glob("scan*/*.h5"))[0]
    with h5py.File(first, "r") as h:
        found: list[str] = []
        h.visit(lambda n: found.append(n) if isinstance(h[n], h5py.Dataset) and h[n].ndim == 3 else None)
        d = h[found[0]]
        f = d[: min(16, d.shape[0])]
    return f"{f.mean():.3g} counts/pixel/frame, {np.mean(f == 0):.1%} zero pixels"


def _du(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e9


def _report_tool(name: str, r: dict[str, Any], n: int, err: dict[str, float]) -> None:
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in r["times"].items())
    runs = r.get("all_totals", [r["times"]["total"]])
    print(
        f"{name}: {r['times']['total'] / n * 1e3:.2f} ms/point ({steps}; median of {len(runs)} runs: "
        + ", ".join(f"{t:.2f}" for t in runs)
        + " s)"
    )
    print(
        f"    CPU time (child + workers, incl. start-up): {r['cpu_s']:.1f} s = {r['cpu_s'] / n * 1e3:.2f} ms/point; "
        f"child wall {r['child_wall_s']:.1f} s; in the timed call {r['cpu_call_s']:.1f} s = "
        f"{r['cpu_call_s'] / n * 1e3:.2f} ms/point"
    )
    print(
        f"    peak memory: {r['peak_pss_MB']:.0f} MB PSS (process tree, a separate sampled run), "
        f"main process VmHWM {r['vm_hwm_MB']:.0f} MB"
    )
    print(f"    settings: {r['settings']}")
    print(
        f"    errors: d RMS {err['d_rms_A']:.2e} A, tilt RMS {err['tilt_rms_deg']:.5f} deg, "
        f"tilt max {err['tilt_max_deg']:.5f} deg, correlation with true strain {err['strain_corr']:.5f}"
    )


def compare(args: argparse.Namespace) -> None:
    side = (12, 12) if args.quick else (args.points, args.points)
    det = 128 if args.quick and args.detector == 256 else args.detector
    if args.workdir is not None:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sxdm-bench-", dir=args.workdir))
    try:
        raw = Path(args.map_dir) if args.map_dir else work / "raw"
        model, master, t_write = make_map(
            side,
            args.angles,
            det,
            raw,
            args.seed,
            args.encoding,
            background=args.background,
            peak_counts=args.peak_counts,
            chip_gap=args.chip_gap,
        )
        n = side[0] * side[1]
        print(
            f"map: {side[0]} x {side[1]} points x {args.angles} angles x {det}^2 pixels "
            f"({n * args.angles * det * det * 4 / 1e9:.2f} GB of int32 frames, {_du(raw):.2f} GB on disk "
            f"{args.encoding}), "
            + (f"written in {t_write:.0f} s" if t_write else f"reused from {raw}")
            + f"; {os.cpu_count()} CPU cores"
        )
        print(f"frames: {_sparsity(master)}" + (", Maxipix chip gap (fill mode ZERO)" if args.chip_gap else ""))
        results = {}
        tools = ("xsocs", "ours")
        timed: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
        for _ in range(args.repeat):  # interleaved, so a change in the machine's load hits both alike
            for tool in tools:
                timed[tool].append(measure(tool, master, work / tool, sample=False, cold=args.cold))
        if args.cold:
            left = [r["cached_GB"] for runs in timed.values() for r in runs if r["cached_GB"] == r["cached_GB"]]
            what = f"at most {max(left):.2f} GB left cached" if left else "fincore missing: not checked"
            print(f"page cache: the map's files were dropped before each timed run ({what})")
        for tool in tools:  # then one run each sampled for memory
            runs = sorted(timed[tool], key=lambda r: r["times"]["total"])
            results[tool] = runs[len(runs) // 2]  # the median run
            results[tool]["all_totals"] = [r["times"]["total"] for r in timed[tool]]
            results[tool]["peak_pss_MB"] = measure(tool, master, work / tool)["peak_pss_MB"]
        qs = {t: np.asarray(r["q"], dtype=np.float64).reshape(*side, 3) for t, r in results.items()}
        both = model.truth.mask & np.all([np.isfinite(q).all(-1) for q in qs.values()], axis=0)
        print(f"error points: {int(both.sum())} crystal points returned by both (of {int(model.truth.mask.sum())})")
        for tool, label in (("xsocs", "XSOCS"), ("ours", "operando")):
            _report_tool(label, results[tool], n, errors(qs[tool], model.truth, both))
        ratio = results["xsocs"]["times"]["total"] / results["ours"]["times"]["total"]
        cpu_ratio = results["xsocs"]["cpu_s"] / results["ours"]["cpu_s"]
        call_ratio = results["xsocs"]["cpu_call_s"] / results["ours"]["cpu_call_s"]
        print(
            f"speed-up (XSOCS time / ours, end to end wall clock): {ratio:.1f}x; CPU-time ratio {cpu_ratio:.1f}x "
            f"(start-up included), {call_ratio:.1f}x in the timed calls"
        )
        print(f"XSOCS q-space file: {results['xsocs']['qspace_MB']:.0f} MB")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def out_of_core(args: argparse.Namespace) -> None:
    det, n_angles = args.detector, args.angles
    per_point = n_angles * det * det * 4
    side = math.ceil(math.sqrt(args.out_of_core * 1e9 / per_point))
    folder = Path("/tmp/sxdm-ooc")
    shutil.rmtree(folder, ignore_errors=True)
    try:
        model, master, t_write = make_map((side, side), n_angles, det, folder / "raw", args.seed)
        print(
            f"out-of-core map: {side} x {side} points x {n_angles} angles x {det}^2 pixels = "
            f"{side * side * per_point / 1e9:.1f} GB of int32 frames ({_du(folder / 'raw'):.1f} GB on disk), "
            f"written in {t_write:.0f} s"
        )
        r = measure("ours", master, folder / "ours")
        q = np.asarray(r["q"], dtype=np.float64).reshape(side, side, 3)
        points = model.truth.mask & np.isfinite(q).all(-1)
        _report_tool("operando (out of core)", r, side * side, errors(q, model.truth, points))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


MAXIPIX_SIDE = 516
"""Side of a Maxipix 2 x 2 frame (pixels): at this size the frames are ID01's by default."""

PAPER_MAP_SIDE = 75
"""Points per row and column of the paper's maps (6 x 6 um^2 at 80 nm steps): the default
map at Maxipix size, where a beamtime's map costs XSOCS minutes."""


def _id01_defaults(args: argparse.Namespace) -> None:
    """At Maxipix size, a map as ID01 records it unless told otherwise: the paper's 75 x 75
    points, frames of a 10 ms exposure (0.005 background counts per pixel, 3000 Bragg counts
    a point) and the chip gap; at other sizes 40 x 40 points, the model's dense defaults and
    no gap.

    Examples
    --------
    >>> a = argparse.Namespace(detector=516, points=None, background=None, peak_counts=None, chip_gap=None)
    >>> _id01_defaults(a); (a.points, a.background, a.peak_counts, a.chip_gap)
    (75, 0.005, 3000.0, True)
    >>> a = argparse.Namespace(detector=516, points=40, background=0.5, peak_counts=None, chip_gap=False)
    >>> _id01_defaults(a); (a.points, a.background, a.peak_counts, a.chip_gap)
    (40, 0.5, 3000.0, False)
    >>> a = argparse.Namespace(detector=256, points=None, background=None, peak_counts=None, chip_gap=None)
    >>> _id01_defaults(a); (a.points, a.background, a.peak_counts, a.chip_gap)
    (40, None, None, False)
    """
    maxipix = args.detector == MAXIPIX_SIDE
    if args.points is None:
        args.points = PAPER_MAP_SIDE if maxipix else 40
    if maxipix and args.background is None:
        args.background = 0.005
    if maxipix and args.peak_counts is None:
        args.peak_counts = 3000.0
    if args.chip_gap is None:
        args.chip_gap = maxipix


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        child(*argv[1:5])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--points", type=int, default=None, help="map side, points per row and column (75 at 516^2, else 40)"
    )
    parser.add_argument("--angles", type=int, default=30, help="rocking angles (one Bliss scan each)")
    parser.add_argument("--detector", type=int, default=256, help="detector side in pixels")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--encoding",
        choices=("none", "gzip", "lima-gzip", "bitshuffle-lz4"),
        default="bitshuffle-lz4",
        help="compression of the Lima frames, one frame per chunk: lima-gzip is what Lima's HDF5GZ saving "
        "writes (deflate 6, no shuffle), gzip the synthetic writer's deflate 4 after byte shuffle",
    )
    parser.add_argument(
        "--background",
        type=float,
        default=None,
        help="mean background counts per pixel per frame (0.005 at 516^2, ID01's 10 ms at 1e9 ph/s; "
        "else simulate_kmap's 0.5)",
    )
    parser.add_argument(
        "--peak-counts",
        type=float,
        default=None,
        help="a crystal point's Bragg counts (3000 at 516^2; else simulate_kmap's 3e4)",
    )
    parser.add_argument(
        "--chip-gap",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write 516^2 frames as the Maxipix 2 x 2 reads them (4-pixel chip gap); on by default at 516^2",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each tool (the median is reported)")
    parser.add_argument("--quick", action="store_true", help="12 x 12 points, 128^2 pixels")
    parser.add_argument("--workdir", default=None, help="folder for the map and XSOCS files (default: system temp)")
    parser.add_argument("--keep", action="store_true", help="keep the written files")
    parser.add_argument(
        "--map-dir", default=None, help="write the map here and keep it; a later run with the same parameters reuses it"
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="drop the map's files from the page cache before each timed run (a first read from the disk)",
    )
    parser.add_argument("--skip-compare", action="store_true", help="only the out-of-core run")
    parser.add_argument(
        "--out-of-core", type=float, default=None, metavar="SIZE_GB", help="also reduce a map of this many GB (ours)"
    )
    args = parser.parse_args(argv)
    _id01_defaults(args)
    if not args.skip_compare:
        compare(args)
    if args.out_of_core:
        out_of_core(args)


if __name__ == "__main__":
    main()
