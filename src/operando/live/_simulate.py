"""A beamtime on a laptop: one of the demo's cells written into a folder as it happens.

``experiment="sxdm"`` (default), the LMNO half cell: the potentiostat file grows row by
row (EC-Lab text export, flushed in pieces, the last line sometimes half written), and
every ``interval_s`` seconds one K-map is acquired the way Bliss writes one: the master
file appears first with scans that have not ended, the Lima frame files land one by one,
and the master is rewritten with every scan's ``end_time`` when the map is done.
Experiment time runs faster than wall time: the whole C/2 cycle passes in
``n_maps * interval_s`` seconds, each map at the charge state it has in the demo, with the
demo's crystal and lattice (:func:`lmno_kmap`: two phases of fixed d400 on the plateaus).

``experiment="tomo"``, the Li|solid electrolyte|Li cell stripped at constant current:
its potentiostat file (CSV) grows the same way, and every ``interval_s`` seconds one
DXchange scan is written in place the way a tomography writer does: the file is created
with its metadata and start date, the flats and darks come first, the projections are
appended block by block (each flushed), and the end date is written when the file is
closed. Each scan is the demo's phantom at that stage of stripping, dated on the record.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "EXPERIMENTS",
    "SIMULATED_ECHEM_NAME",
    "SIMULATED_NMR_ECHEM_NAME",
    "SIMULATED_TOMO_ECHEM_NAME",
    "BeamtimePlan",
    "plan_beamtime",
    "simulate_beamtime",
]

# the potentiostat file the simulator writes under ``echem/`` (watch it with --echem)
SIMULATED_ECHEM_NAME = "LMNO_halfcell_live_C01.mpt"
# the same for the tomography beamtime (``experiment="tomo"``)
SIMULATED_TOMO_ECHEM_NAME = "LiSELi_stripping_live.csv"
# ... and for the NMR experiment (``experiment="nmr"``)
SIMULATED_NMR_ECHEM_NAME = "LiCu_plating_live.csv"
EXPERIMENTS = ("sxdm", "tomo", "nmr")
"""What :func:`simulate_beamtime` can write: K-maps of the LMNO cell, tomography scans of the Li|SE|Li cell,
or operando 7Li NMR experiments of a Li|electrolyte|Cu cell plating lithium."""


@dataclass(frozen=True)
class BeamtimePlan:
    """When each thing is written, in wall seconds from the start.

    Attributes
    ----------
    map_starts_s, map_ends_s : (n,) ndarray
        Wall times a K-map's master appears and its scans end.
    map_windows_s : (n, 2) ndarray
        Each map's window on the experiment clock (s from the record's start).
    wall_to_experiment : callable
        Experiment time covered by the potentiostat file at a wall time.
    """

    map_starts_s: np.ndarray
    map_ends_s: np.ndarray
    map_windows_s: np.ndarray
    wall_to_experiment: Callable[[float], float]


def plan_beamtime(record_end_s: float, *, n_maps: int, interval_s: float, frames: np.ndarray) -> BeamtimePlan:
    """Map the experiment clock onto wall time so that map ``j`` ends at ``(j + 1) interval_s``.

    Parameters
    ----------
    record_end_s : float
        Length of the whole potentiostat record, s.
    n_maps : int
        K-maps to acquire.
    interval_s : float
        Wall seconds between two maps' ends.
    frames : (n_maps, 2) ndarray
        Each map's window on the experiment clock, s.

    Returns
    -------
    BeamtimePlan

    Examples
    --------
    >>> p = plan_beamtime(1000.0, n_maps=2, interval_s=10.0, frames=np.array([[100.0, 200.0], [500.0, 600.0]]))
    >>> p.map_ends_s.tolist(), round(p.wall_to_experiment(10.0)), round(p.wall_to_experiment(30.0))
    ([10.0, 20.0], 230, 1000)
    """
    ends = (np.arange(n_maps) + 1.0) * interval_s
    starts = ends - 0.6 * interval_s
    # the record reaches 30 s past each map's end when that map ends; the rest afterwards
    knots_wall = np.concatenate([[0.0], ends, [ends[-1] + interval_s]])
    knots_exp = np.concatenate([[0.0], np.minimum(frames[:, 1] + 30.0, record_end_s), [record_end_s]])
    knots_exp = np.maximum.accumulate(knots_exp)

    def wall_to_experiment(t: float) -> float:
        return float(np.interp(t, knots_wall, knots_exp))

    return BeamtimePlan(starts, ends, np.asarray(frames, dtype=np.float64), wall_to_experiment)


def _atomic_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.part")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)


def _strip_end_times(master: Path, out: Path) -> None:
    """A copy of a Bliss master as it looks while its scans run: no ``end_time`` anywhere."""
    import h5py

    shutil.copyfile(master, out)
    with h5py.File(out, "r+") as f:
        for name in list(f):
            if "end_time" in f[name]:
                del f[name]["end_time"]


class _GrowingText:
    """An instrument's text file that grows: header first, then rows as the clock passes."""

    def __init__(self, full: Path, out: Path, *, time_column: int, header_lines: int, sep: bytes = b"\t") -> None:
        lines = full.read_bytes().splitlines(keepends=True)
        self.header = b"".join(lines[:header_lines])
        self.rows = lines[header_lines:]
        self.times = np.array([float(r.split(sep)[time_column]) for r in self.rows])
        self.out = out
        self.written = 0
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(self.header)

    def grow_to(self, t_s: float, *, split_last: bool = False) -> None:
        upto = int(np.searchsorted(self.times, t_s, side="right"))
        if upto <= self.written:
            return
        chunk = b"".join(self.rows[self.written : upto])
        with self.out.open("ab") as f:
            if split_last and len(chunk) > 8:
                # a flush in the middle of a line, as a potentiostat's buffered writer does
                f.write(chunk[:-5])
                f.flush()
                time.sleep(0.05)
                f.write(chunk[-5:])
            else:
                f.write(chunk)
        self.written = upto


def simulate_beamtime(
    root: str | Path,
    *,
    n_maps: int = 3,
    interval_s: float = 10.0,
    tick_s: float = 0.5,
    on_event: Callable[[str], None] | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    experiment: str = "sxdm",
) -> list[Path]:
    """Write one of the demo's experiments into ``root`` over time, as instruments would.

    Parameters
    ----------
    root : path
        The folder (created). ``experiment="sxdm"``: receives
        ``echem/LMNO_halfcell_live_C01.mpt`` and ``sxdm/kmap_NN/`` (Bliss master + Lima
        files). ``experiment="tomo"``: ``echem/LiSELi_stripping_live.csv`` and
        ``tomo/LiSELi_scan_NN.h5`` (DXchange). ``experiment="nmr"``:
        ``echem/LiCu_plating_live.csv`` and ``nmr/LiCu_plating/NN`` (TopSpin experiments).
    n_maps : int
        Measurements to acquire: K-maps (1-17, at the demo's charge states),
        tomography scans (1-12, one every 20 min of stripping) or NMR experiments (1-12,
        one every 30 min of plating).
    interval_s : float
        Wall seconds between two measurements.
    tick_s : float
        How often the potentiostat file is extended.
    on_event : callable, optional
        Called with a line for each thing written.
    sleep : callable
        ``time.sleep`` (tests may pass a faster clock).
    experiment : {"sxdm", "tomo", "nmr"}
        Which beamtime.

    Returns
    -------
    list of pathlib.Path
        The K-maps' master files, the scans or the experiment folders, in acquisition order.
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"experiment must be one of {EXPERIMENTS}, got {experiment!r}")
    if not interval_s > 0 or not tick_s > 0:
        raise ValueError("interval_s and tick_s must be > 0")
    if experiment == "tomo":
        return _tomo_beamtime(Path(root), n_scans=n_maps, interval_s=interval_s, tick_s=tick_s,
                              say=on_event or (lambda _line: None), sleep=sleep)  # fmt: skip
    if experiment == "nmr":
        return _nmr_beamtime(Path(root), n_experiments=n_maps, interval_s=interval_s, tick_s=tick_s,
                             say=on_event or (lambda _line: None), sleep=sleep)  # fmt: skip
    from operando import echem, synthetic
    from operando.demo import SXDM_GEOMETRY, measurement_schedule
    from operando.timeline import align

    if not 1 <= n_maps <= 17:
        raise ValueError(f"n_maps must be 1-17, got {n_maps}")
    say = on_event or (lambda _line: None)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="operando-beamtime-"))
    try:
        cell = synthetic.simulate_gcpl(active_mass_g=0.004, c_rate=0.5, cycles=1)
        full = synthetic.write_eclab_mpt(cell, staging / SIMULATED_ECHEM_NAME)
        record = echem.read(full)
        start, end = measurement_schedule(float(record.time_s[-1]))
        timeline = align(record, start, end)
        picks = np.unique(np.linspace(1, len(start) - 1, n_maps).round().astype(int))
        windows = np.stack([start[picks], end[picks]], axis=1)
        plan = plan_beamtime(float(record.time_s[-1]), n_maps=len(picks), interval_s=interval_s, frames=windows)
        text = full.read_text(encoding="latin-1").splitlines()  # EC-Lab writes Windows-1252
        header_lines = int(next(x for x in text if x.startswith("Nb header lines")).split(":")[1])
        columns = text[header_lines - 1].split("\t")
        growing = _GrowingText(
            full, root / "echem" / SIMULATED_ECHEM_NAME, time_column=columns.index("time/s"), header_lines=header_lines
        )
        say(f"potentiostat file: {growing.out}")
        origin = record.start_timestamp
        assert origin is not None
        masters: list[Path] = []
        staged: list[tuple[Path, Path, list[Path]]] = []
        crystal = synthetic.simulate_kmap(**SXDM_GEOMETRY).truth.mask  # the demo's crystal, in every map
        for j, k in enumerate(picks):
            model = lmno_kmap(float(timeline["x_li"][k]), seed=int(k), crystal=crystal)
            t0 = origin + pd.to_timedelta(float(timeline["t_start_s"][k]), unit="s")
            duration = float(timeline["t_end_s"][k] - timeline["t_start_s"][k]) / SXDM_GEOMETRY["n_angles"]
            src = synthetic.write_bliss_kmap(
                model,
                staging / f"kmap_{j:02d}",
                name=f"LMNO_kmap_{j:02d}",
                start_time=t0.to_pydatetime(),
                scan_duration_s=duration,
            )
            lima = sorted(p for p in src.parent.rglob("*.h5") if p != src)
            staged.append((src, root / "sxdm" / f"kmap_{j:02d}" / src.name, lima))
        clock0 = time.monotonic()

        def wall() -> float:
            return time.monotonic() - clock0

        for j, (src, dst, lima) in enumerate(staged):
            while wall() < plan.map_starts_s[j]:
                growing.grow_to(plan.wall_to_experiment(wall()), split_last=True)
                sleep(tick_s)
            running = staging / f"running_{j:02d}.h5"
            _strip_end_times(src, running)
            _atomic_copy(running, dst)
            say(f"K-map {j}: {dst} started ({len(lima)} frame files to come)")
            gap = (plan.map_ends_s[j] - plan.map_starts_s[j]) / max(len(lima), 1)
            for f in lima:
                _atomic_copy(f, dst.parent / f.relative_to(src.parent))
                growing.grow_to(plan.wall_to_experiment(wall()))
                sleep(min(gap, tick_s))
            while wall() < plan.map_ends_s[j]:
                growing.grow_to(plan.wall_to_experiment(wall()), split_last=True)
                sleep(tick_s)
            _atomic_copy(src, dst)  # every scan has ended
            masters.append(dst)
            say(f"K-map {j}: {dst} done")
        growing.grow_to(float(record.time_s[-1]) + 1.0)
        say("beamtime over: the potentiostat file is complete")
        return masters
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def lmno_kmap(x_li: float, *, seed: int, crystal: np.ndarray | None = None) -> Any:
    """The demo's K-map of the LMNO crystal at Li content ``x_li``: the plateau lattice.

    Above and below the plateaus one phase whose d400 follows
    :func:`operando.synthetic.lmno_lattice`; on a plateau two phases of fixed d400 in
    domains (:func:`operando.synthetic.plateau_fraction_field`, the larger-d phase's share
    over the crystal as the lever rule says), in the demo's geometry
    (:data:`operando.demo.SXDM_GEOMETRY`: both phases' peaks on the detector).

    Parameters
    ----------
    x_li : float
        Li per formula unit, 0 to 1.
    seed : int
        Seed of the domains (the demo uses the frame's index).
    crystal : (y, x) ndarray of bool, optional
        The crystal's points (``simulate_kmap(**SXDM_GEOMETRY).truth.mask``; made when
        not given).

    Returns
    -------
    operando.synthetic.SyntheticKMap
        A :class:`operando.synthetic.TwoPhaseKMap` on a plateau.
    """
    from operando import synthetic
    from operando.demo import SXDM_GEOMETRY

    lattice = synthetic.lmno_lattice(x_li)
    if not lattice.two_phase:
        return synthetic.simulate_kmap(lattice_A=4.0 * lattice.d400_A[0], **SXDM_GEOMETRY)
    shape = SXDM_GEOMETRY["map_shape"]
    inside = synthetic.simulate_kmap(**SXDM_GEOMETRY).truth.mask if crystal is None else crystal
    fraction = synthetic.plateau_fraction_field(shape, lattice.fraction, seed=seed, within=inside)
    shared = {key: v for key, v in SXDM_GEOMETRY.items() if key != "map_shape"}  # the fraction map's shape
    return synthetic.simulate_two_phase_kmap(fraction, d_spacings_A=lattice.d400_A, **shared)


# the tomography beamtime: the demo's Li|SE|Li stripping experiment (scan every 20 min, 5 min each)
_FIRST_SCAN_S, _SCAN_S, _SCAN_EVERY_S = 600.0, 300.0, 1200.0


def _stripping_record(frames: list[Any], t0: Any) -> Any:
    """The cell's potentiostat record: the demo's, with this beamtime's scan times."""
    from operando.demo import stripping_record

    return stripping_record(frames, t0, first_scan_s=_FIRST_SCAN_S, scan_s=_SCAN_S, min_span_s=_SCAN_EVERY_S)


def _write_scan_in_place(src: Path, dst: Path, *, blocks: int, pause: Callable[[], None]) -> None:
    """Write a DXchange file into place as a tomography writer does, from a finished copy.

    Metadata, angles and start date first; then flats and darks; then the projections,
    block by block, each block flushed; the end date last, and the file closed.
    """
    import h5py

    dst.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(src, "r") as fin, h5py.File(dst, "w") as fout:

        def copy_all_but_data(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset) and name not in ("exchange/data", "process/acquisition/end_date"):
                fout.copy(obj, name)

        fin.visititems(copy_all_but_data)
        for k, v in fin.attrs.items():
            fout.attrs[k] = v
        data = fin["exchange/data"]
        out = fout.create_dataset("exchange/data", shape=data.shape, dtype=data.dtype, chunks=data.chunks)
        for k, v in data.attrs.items():
            out.attrs[k] = v
        fout.flush()
        pause()
        edges = np.linspace(0, data.shape[0], blocks + 1).round().astype(int)
        for a, b in itertools.pairwise(edges):
            out[a:b] = data[a:b]
            fout.flush()
            pause()
        if "process/acquisition/end_date" in fin:
            fout.copy(fin["process/acquisition/end_date"], "process/acquisition/end_date")


def _tomo_beamtime(
    root: Path,
    *,
    n_scans: int,
    interval_s: float,
    tick_s: float,
    say: Callable[[str], None],
    sleep: Callable[[float], Any],
) -> list[Path]:
    from datetime import UTC, datetime, timedelta

    from operando import echem, synthetic
    from operando.demo import TOMO_PHANTOM

    if not 1 <= n_scans <= 12:
        raise ValueError(f"n_maps (scans) must be 1-12, got {n_scans}")
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="operando-beamtime-"))
    try:
        t0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
        frames = synthetic.simulate_cell_series(max(n_scans, 2), **{**TOMO_PHANTOM, "scan_interval_s": _SCAN_EVERY_S})
        frames = frames[:n_scans]
        record = _stripping_record(frames, t0)
        full = echem.write_csv(record, staging / SIMULATED_TOMO_ECHEM_NAME)
        columns = full.read_text(encoding="utf-8").splitlines()[0].split(",")
        growing = _GrowingText(
            full, root / "echem" / SIMULATED_TOMO_ECHEM_NAME, time_column=columns.index("time_s"), header_lines=1,
            sep=b",",
        )  # fmt: skip
        say(f"potentiostat file: {growing.out}")
        windows = np.array([[_FIRST_SCAN_S + f.time_s, _FIRST_SCAN_S + f.time_s + _SCAN_S] for f in frames])
        plan = plan_beamtime(float(record.time_s[-1]), n_maps=n_scans, interval_s=interval_s, frames=windows)
        staged = []
        for k, f in enumerate(frames):
            name = f"LiSELi_scan_{k:02d}.h5"
            start = t0 + timedelta(seconds=float(windows[k, 0]))
            src = synthetic.write_cell_dxchange(staging / name, f, n_angles=180, flat_counts=6e4, start_time=start,
                                                scan_duration_s=_SCAN_S, seed=k)  # fmt: skip
            staged.append((src, root / "tomo" / name))
        clock0 = time.monotonic()

        def wall() -> float:
            return time.monotonic() - clock0

        scans: list[Path] = []
        for j, (src, dst) in enumerate(staged):
            while wall() < plan.map_starts_s[j]:
                growing.grow_to(plan.wall_to_experiment(wall()), split_last=True)
                sleep(tick_s)
            say(f"scan {j}: {dst} started")
            blocks = 6
            gap = min((plan.map_ends_s[j] - plan.map_starts_s[j]) / (blocks + 1), tick_s)

            def pause(gap: float = gap) -> None:
                growing.grow_to(plan.wall_to_experiment(wall()))
                sleep(gap)

            _write_scan_in_place(src, dst, blocks=blocks, pause=pause)
            scans.append(dst)
            say(f"scan {j}: {dst} done")
            while j + 1 < len(staged) and wall() < plan.map_ends_s[j]:
                growing.grow_to(plan.wall_to_experiment(wall()), split_last=True)
                sleep(tick_s)
        growing.grow_to(float(record.time_s[-1]) + 1.0)
        say("beamtime over: the potentiostat file is complete")
        return scans
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# the NMR experiment: 7Li spectra of a Li|electrolyte|Cu cell while lithium is plated on the copper
_NMR_FIRST_S, _NMR_EVERY_S, _NMR_NS, _NMR_D1_S = 1200.0, 1800.0, 16, 2.0
_NMR_TD, _NMR_SW_HZ, _NMR_SFO1_MHZ = 2048, 100_000.0, 155.4512
_NMR_CURRENT_MA = -0.2


def _plating_record(n_experiments: int, t0: Any) -> Any:
    """Constant plating current; the overpotential grows as the plated lithium roughens (noisy ADC)."""
    from operando import echem
    from operando.echem import EchemMetadata

    end = _NMR_FIRST_S + n_experiments * _NMR_EVERY_S
    t = np.arange(0.0, end, 5.0)
    rng = np.random.default_rng(7)
    voltage = -0.03 - 0.012 * np.sqrt(t / end) + rng.normal(0.0, 3e-4, t.size)
    return echem.EchemRecord.from_columns(
        time_s=t,
        voltage_V=voltage,
        current_mA=np.full(t.size, _NMR_CURRENT_MA),
        timestamp=pd.Timestamp(t0) + pd.to_timedelta(t, unit="s"),
        meta=EchemMetadata(source="", format="synthetic", start_time=t0),
    )


def _topspin_experiment(folder: Path, metal: float, start: Any, *, seed: int) -> Path:
    """A finished TopSpin 7Li experiment: acqus (with DATE, the end), the fid of NS scans, the audit trail."""
    from datetime import timedelta, timezone

    from operando.synthetic import NMRLine, acquire, write_bruker_fid

    rng = np.random.default_rng(seed)
    lines = [NMRLine(262.0, metal, lw_Hz=900.0, sidebands=(0.02,)), NMRLine(0.0, 1.0, lw_Hz=300.0, gw_Hz=100.0)]
    fid = acquire(lines, ns=_NMR_NS, rg=64.0, noise_per_scan=0.002, rng=rng, sfo1_MHz=_NMR_SFO1_MHZ,
                  carrier_ppm=130.0, sw_Hz=_NMR_SW_HZ, n_points=_NMR_TD, spin_rate_Hz=20_000.0)  # fmt: skip
    write_bruker_fid(folder, fid, nucleus="7Li", sfo1_MHz=_NMR_SFO1_MHZ, carrier_ppm=130.0, sw_Hz=_NMR_SW_HZ,
                     ns=_NMR_NS, rg=64.0, spin_rate_Hz=20_000.0, d1_s=_NMR_D1_S,
                     title="TOPSPIN\t\tVersion 4.1.4")  # fmt: skip
    end = start + timedelta(seconds=_NMR_NS * (_NMR_D1_S + _NMR_TD / _NMR_SW_HZ))
    acqus = folder / "acqus"
    acqus.write_text(acqus.read_text().replace("##END=", f"##$DATE= {int(end.timestamp())}\n##$DS= 0\n##END="))
    local = timezone(timedelta(hours=2))  # the spectrometer's clock
    e, b = end.astimezone(local), start.astimezone(local)
    (folder / "audita.txt").write_text(
        "##TITLE= Audit trail, TOPSPIN\t\tVersion 4.1.4\n##JCAMPDX= 5.01\n##ORIGIN= Bruker BioSpin GmbH\n"
        "##OWNER= nmrsu\n##AUDIT TRAIL=  $$ (NUMBER, WHEN, WHO, WHERE, WHAT)\n"
        f"(   1,<{e:%Y-%m-%d %H:%M:%S}.000 +0200>,<nmrsu>,<spect>,<go4>,<TOPSPIN 4.1.4>,\n"
        f"      <created by zg\n       started at {b:%Y-%m-%d %H:%M:%S}.000 +0200,\n"
        "       POWCHK enabled, PULCHK disabled>)\n##END=\n"
    )
    return folder


def _nmr_beamtime(
    root: Path, *, n_experiments: int, interval_s: float, tick_s: float, say: Callable[[str], None],
    sleep: Callable[[float], Any],
) -> list[Path]:  # fmt: skip
    from datetime import UTC, datetime, timedelta

    from operando import echem

    if not 1 <= n_experiments <= 12:
        raise ValueError(f"n_maps (experiments) must be 1-12, got {n_experiments}")
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="operando-beamtime-"))
    try:
        t0 = datetime(2026, 4, 1, 8, 0, 0, tzinfo=UTC)
        record = _plating_record(n_experiments, t0)
        full = echem.write_csv(record, staging / SIMULATED_NMR_ECHEM_NAME)
        columns = full.read_text(encoding="utf-8").splitlines()[0].split(",")
        growing = _GrowingText(full, root / "echem" / SIMULATED_NMR_ECHEM_NAME,
                               time_column=columns.index("time_s"), header_lines=1, sep=b",")  # fmt: skip
        say(f"potentiostat file: {growing.out}")
        acq_s = _NMR_NS * (_NMR_D1_S + _NMR_TD / _NMR_SW_HZ)
        starts = _NMR_FIRST_S + _NMR_EVERY_S * np.arange(n_experiments)
        windows = np.stack([starts, starts + acq_s], axis=1)
        plan = plan_beamtime(float(record.time_s[-1]), n_maps=n_experiments, interval_s=interval_s, frames=windows)
        plated = np.abs(_NMR_CURRENT_MA) * windows[:, 1] / 3600.0  # mA h plated by the end of each experiment
        staged = []
        for k in range(n_experiments):
            name = f"{k + 10}"  # TopSpin experiment numbers
            src = _topspin_experiment(staging / name, 0.3 + 2.0 * plated[k], t0 + timedelta(seconds=float(starts[k])),
                                      seed=k)  # fmt: skip
            staged.append((src, root / "nmr" / "LiCu_plating" / name))
        clock0 = time.monotonic()

        def wall() -> float:
            return time.monotonic() - clock0

        folders: list[Path] = []
        for j, (src, dst) in enumerate(staged):
            while wall() < plan.map_starts_s[j]:
                growing.grow_to(plan.wall_to_experiment(wall()), split_last=True)
                sleep(tick_s)
            _atomic_copy(src / "acqus", dst / "acqus")  # zg started
            say(f"experiment {j}: {dst} started")
            while wall() < plan.map_ends_s[j]:
                growing.grow_to(plan.wall_to_experiment(wall()), split_last=True)
                sleep(tick_s)
            _atomic_copy(src / "fid", dst / "fid")  # every scan in
            sleep(min(tick_s, 0.2))
            _atomic_copy(src / "audita.txt", dst / "audita.txt")  # the acquisition ended
            folders.append(dst)
            say(f"experiment {j}: {dst} done")
        growing.grow_to(float(record.time_s[-1]) + 1.0)
        say("beamtime over: the potentiostat file is complete")
        return folders
    finally:
        shutil.rmtree(staging, ignore_errors=True)
