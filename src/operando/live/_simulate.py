"""A beamtime on a laptop: the demo's LMNO half cell written into a folder as it happens.

The potentiostat file grows row by row (EC-Lab text export, flushed in pieces, the last
line sometimes half written), and every ``interval_s`` seconds one K-map is acquired the
way Bliss writes one: the master file appears first with scans that have not ended, the
Lima frame files land one by one, and the master is rewritten with every scan's
``end_time`` when the map is done. Experiment time runs faster than wall time: the whole
C/2 cycle passes in ``n_maps * interval_s`` seconds, each map at the charge state it has in
the demo.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SIMULATED_ECHEM_NAME", "BeamtimePlan", "plan_beamtime", "simulate_beamtime"]

# the potentiostat file the simulator writes under ``echem/`` (watch it with --echem)
SIMULATED_ECHEM_NAME = "LMNO_halfcell_live_C01.mpt"


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

    def __init__(self, full: Path, out: Path, *, time_column: int, header_lines: int) -> None:
        lines = full.read_bytes().splitlines(keepends=True)
        self.header = b"".join(lines[:header_lines])
        self.rows = lines[header_lines:]
        self.times = np.array([float(r.split(b"\t")[time_column]) for r in self.rows])
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
) -> list[Path]:
    """Write the demo's LMNO experiment into ``root`` over time, as instruments would.

    Parameters
    ----------
    root : path
        The folder (created); receives ``echem/LMNO_halfcell_live_C01.mpt`` and
        ``sxdm/kmap_NN/`` (Bliss master + Lima files).
    n_maps : int
        K-maps to acquire (1-17), at the demo's charge states.
    interval_s : float
        Wall seconds between two K-maps.
    tick_s : float
        How often the potentiostat file is extended.
    on_event : callable, optional
        Called with a line for each thing written.
    sleep : callable
        ``time.sleep`` (tests may pass a faster clock).

    Returns
    -------
    list of pathlib.Path
        The K-maps' master files, in acquisition order.
    """
    from operando import echem, synthetic
    from operando.demo import LATTICE_A_AT_X0, LATTICE_A_AT_X1, measurement_schedule
    from operando.timeline import align

    if not 1 <= n_maps <= 17:
        raise ValueError(f"n_maps must be 1-17, got {n_maps}")
    if not interval_s > 0 or not tick_s > 0:
        raise ValueError("interval_s and tick_s must be > 0")
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
        for j, k in enumerate(picks):
            x = float(timeline["x_li"][k])
            model = synthetic.simulate_kmap(
                map_shape=(12, 12),
                n_angles=16,
                detector_shape=(48, 48),
                eta_step_deg=0.03,
                seed=11,
                lattice_A=LATTICE_A_AT_X0 + (LATTICE_A_AT_X1 - LATTICE_A_AT_X0) * x,
            )
            t0 = origin + pd.to_timedelta(float(timeline["t_start_s"][k]), unit="s")
            duration = float(timeline["t_end_s"][k] - timeline["t_start_s"][k]) / 16
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
