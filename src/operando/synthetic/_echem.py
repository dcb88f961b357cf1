"""A synthetic LiMn1.5Ni0.5O4 half cell, written as EC-Lab writes its text export.

The open-circuit curve of disordered LiMn1.5Ni0.5O4 against Li has a short Mn3+/Mn4+
step near 4.0 V and the two Ni2+/Ni3+/Ni4+ plateaus near 4.70 and 4.75 V. Here it is a
sum of logistic steps in the delithiation ``y = x0 - x``; the cell voltage adds an ohmic
drop ``I * R``. The file has EC-Lab's header and columns, so the same reader that reads
real exports reads it, and the ground truth comes back with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["SyntheticCell", "lmno_ocv", "simulate_gcpl", "simulate_gitt", "write_eclab_mpt"]

# (voltage step in V, position in y, width in y) of the logistic steps
_STEPS = ((0.15, 0.02, 0.01), (0.62, 0.07, 0.008), (0.06, 0.5, 0.012), (0.20, 0.985, 0.006))
_BASE_V = 3.9


def lmno_ocv(y: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Open-circuit voltage (V vs Li) of Li(1-y)Mn1.5Ni0.5O4, ``0 <= y <= 1``.

    Examples
    --------
    >>> float(lmno_ocv(0.3).round(2)), float(lmno_ocv(0.8).round(2))
    (4.66, 4.74)
    """
    y = np.asarray(y, dtype=np.float64)
    v = np.full(y.shape, _BASE_V) + 0.03 * (y - 0.5)
    for dv, y0, w in _STEPS:
        v = v + dv / (1.0 + np.exp(-(y - y0) / w))
    return v


@dataclass(frozen=True)
class SyntheticCell:
    """Ground truth of a simulated galvanostatic record.

    Attributes
    ----------
    time_s, voltage_V, current_mA, charge_mAh : (N,) ndarray
        The true signals (the file holds these, rounded as EC-Lab rounds).
    x_li : (N,) ndarray
        Li content ``x0 - Q / (m C_theo)``.
    half_cycle : (N,) ndarray of int
    active_mass_g : float
    theoretical_capacity_mAh_g : float
    start_time : datetime
        Acquisition start (UTC).
    """

    time_s: npt.NDArray[np.float64]
    voltage_V: npt.NDArray[np.float64]
    current_mA: npt.NDArray[np.float64]
    charge_mAh: npt.NDArray[np.float64]
    x_li: npt.NDArray[np.float64]
    half_cycle: npt.NDArray[np.int64]
    active_mass_g: float
    theoretical_capacity_mAh_g: float
    start_time: datetime


def simulate_gcpl(
    *,
    active_mass_g: float = 0.004,
    theoretical_capacity_mAh_g: float = 146.7,
    c_rate: float = 0.5,
    cycles: int = 1,
    rest_s: float = 600.0,
    dt_s: float = 10.0,
    resistance_ohm: float = 40.0,
    y_max: float = 0.96,
    noise_V: float = 2e-4,
    start_time: datetime | None = None,
    seed: int = 0,
) -> SyntheticCell:
    """Galvanostatic charge/discharge of an LMNO half cell with rests between.

    The record starts with a rest, then each cycle charges to ``y_max`` delithiation at
    ``c_rate``, rests, discharges back to ``y = 0`` and rests.

    Parameters
    ----------
    active_mass_g : float
        Active mass in g.
    theoretical_capacity_mAh_g : float
        Capacity of one Li per formula unit, mA h/g.
    c_rate : float
        Current as a C-rate of the theoretical capacity (1/h).
    cycles : int
        Full cycles.
    rest_s : float
        Duration of each rest in s.
    dt_s : float
        Sampling interval in s.
    resistance_ohm : float
        Ohmic resistance of the cell.
    y_max : float
        Delithiation reached at the end of charge.
    noise_V : float
        Gaussian noise on the voltage, V.
    start_time : datetime, optional
        Acquisition start; default 2026-03-02 09:00:00 UTC.
    seed : int
        Seed of the noise.

    Returns
    -------
    SyntheticCell
    """
    capacity_mAh = active_mass_g * theoretical_capacity_mAh_g
    current = c_rate * capacity_mAh  # mA
    t_half = y_max * capacity_mAh / current * 3600.0
    segments: list[tuple[float, float]] = [(rest_s, 0.0)]
    for _ in range(cycles):
        segments += [(t_half, current), (rest_s, 0.0), (t_half, -current), (rest_s, 0.0)]
    times, currents, halves = [], [], []
    t0, half = 0.0, 0
    last_sign = 0
    for duration, amps in segments:
        n = max(round(duration / dt_s), 1)
        t = t0 + dt_s * np.arange(n)
        sign = int(np.sign(amps))
        if sign != 0 and last_sign != 0 and sign != last_sign:
            half += 1
        if sign != 0:
            last_sign = sign
        times.append(t)
        currents.append(np.full(n, amps))
        halves.append(np.full(n, half))
        t0 = t0 + n * dt_s
    time_s = np.concatenate(times)
    current_mA = np.concatenate(currents)
    half_cycle = np.concatenate(halves).astype(np.int64)
    # charge accumulated up to each sample (current is piecewise constant on [t_k, t_k+1))
    dq = current_mA * dt_s / 3600.0
    charge = np.concatenate([[0.0], np.cumsum(dq)[:-1]])
    y = np.clip(charge / capacity_mAh, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    voltage = lmno_ocv(y) + current_mA * 1e-3 * resistance_ohm + rng.normal(0.0, noise_V, y.shape)
    return SyntheticCell(
        time_s=time_s,
        voltage_V=voltage,
        current_mA=current_mA,
        charge_mAh=charge,
        x_li=1.0 - charge / capacity_mAh,
        half_cycle=half_cycle,
        active_mass_g=active_mass_g,
        theoretical_capacity_mAh_g=theoretical_capacity_mAh_g,
        start_time=start_time or datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC),
    )


_COLUMNS = (
    "mode",
    "ox/red",
    "error",
    "control changes",
    "Ns changes",
    "counter inc.",
    "Ns",
    "time/s",
    "control/V/mA",
    "Ewe/V",
    "I/mA",
    "dq/mA.h",
    "(Q-Qo)/mA.h",
    "half cycle",
    "cycle number",
)


def write_eclab_mpt(cell: SyntheticCell, path: str | PathLike[str]) -> Path:
    """Write a simulated record in the layout of EC-Lab's GCPL text export.

    Parameters
    ----------
    cell : SyntheticCell
        From :func:`simulate_gcpl`.
    path : str or os.PathLike
        Output ``.mpt`` file (overwritten).

    Returns
    -------
    pathlib.Path
    """
    p = Path(path)
    start = cell.start_time.astimezone(UTC)
    settings = [
        "Galvanostatic Cycling with Potential Limitation",
        "",
        "Run on channel : 1 (SN 0000)",
        "User : operando synthetic",
        "Acquisition started on : " + start.strftime("%m/%d/%Y %H:%M:%S.") + f"{start.microsecond // 1000:03d}",
        "Saved on :",
        "\tFile : " + p.with_suffix(".mpr").name,
        "Device : SP-240 (SN 0000)",
        "EC-LAB for windows v11.50 (software)",
        "Electrode material : LiMn1.5Ni0.5O4 (synthetic)",
        "Initial state : discharged",
        "Electrolyte : 1 M LiPF6 EC:DMC (synthetic)",
        "Comments : written by operando.synthetic; not a measurement",
        f"Mass of active material : {cell.active_mass_g * 1e3:.3f} mg",
        "Electrode surface area : 1.131 cm²",
    ]
    n_header = 3 + len(settings) + 2  # magic, count, blank, settings, blank, column header
    header = ["EC-Lab ASCII FILE", f"Nb header lines : {n_header:<3d}", "", *settings, "", "\t".join(_COLUMNS)]
    sign = np.sign(cell.current_mA)
    ns = np.concatenate([[0], np.cumsum(np.diff(sign) != 0)])
    dq = np.concatenate([[0.0], np.diff(cell.charge_mAh)])
    rows = []
    for k in range(cell.time_s.size):
        rows.append(
            "\t".join(
                (
                    "1",
                    "1" if sign[k] >= 0 else "0",
                    "0",
                    "0",
                    "1" if k and ns[k] != ns[k - 1] else "0",
                    "0",
                    str(int(ns[k])),
                    f"{cell.time_s[k]:.15E}",
                    f"{cell.current_mA[k]:.7E}",
                    f"{cell.voltage_V[k]:.7E}",
                    f"{cell.current_mA[k]:.15E}",
                    f"{dq[k]:.15E}",
                    f"{cell.charge_mAh[k]:.15E}",
                    str(int(cell.half_cycle[k])),
                    f"{float(cell.half_cycle[k] // 2):.15E}",
                )
            )
        )
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(("\r\n".join(header + rows) + "\r\n").encode("windows-1252"))
    return p


@dataclass(frozen=True)
class SyntheticSteps:
    """Ground truth of a many-step (GITT-like) cycler record.

    Attributes
    ----------
    time_s, voltage_V, current_mA : (N,) ndarray
        What the cycler logs (with its noise).
    step : (N,) ndarray of int
        Protocol step index (one per pulse or rest).
    y : (N,) ndarray
        True delithiation of the LMNO electrode.
    half_cycles : int
        Number of charge/discharge half cycles driven.
    """

    time_s: npt.NDArray[np.float64]
    voltage_V: npt.NDArray[np.float64]
    current_mA: npt.NDArray[np.float64]
    step: npt.NDArray[np.int64]
    y: npt.NDArray[np.float64]
    half_cycles: int


def simulate_gitt(
    *,
    rows: int = 700_000,
    steps: int = 36_000,
    half_cycles: int = 20,
    current_mA: float = 0.5,
    resistance_ohm: float = 40.0,
    tau_s: float = 4.0,
    noise_V: float = 2e-4,
    noise_mA: float = 2e-4,
    dt_s: float = 1.0,
    seed: int = 0,
) -> SyntheticSteps:
    """A GITT-like record as a cycler logs it: current pulses and rests, thousands of steps.

    Each pair of steps is a constant-current pulse then a rest; the pulses walk the
    LMNO electrode between ``y = 0.03`` and ``0.99`` ``half_cycles`` times (charge,
    discharge, ...). The voltage is ``lmno_ocv(y) + I R`` plus a polarisation that
    relaxes with ``tau_s`` in the rests, ADC noise on voltage and current (and the
    leakage an idle channel reports in the rests), and a jittered logging clock. Step
    lengths vary (Poisson around ``rows / steps``) like a cycler's limits do.

    Parameters
    ----------
    rows, steps : int
        Size of the record (rows) and number of protocol steps (even).
    half_cycles : int
        Charge/discharge half cycles (each ``steps / half_cycles`` steps long).
    current_mA, resistance_ohm, tau_s : float
        Pulse current, ohmic resistance, relaxation time constant.
    noise_V, noise_mA : float
        Standard deviation of the voltage and current noise.
    dt_s : float
        Logging period (jittered by 0.1 %).
    seed : int

    Returns
    -------
    SyntheticSteps

    Examples
    --------
    >>> rec = simulate_gitt(rows=2000, steps=100, half_cycles=2)
    >>> rec.time_s.shape, int(rec.step.max()) + 1
    ((2000,), 100)
    """
    if steps % 2 or steps < 2 * half_cycles or rows < 2 * steps:
        raise ValueError("steps must be even, >= 2 * half_cycles, and rows >= 2 * steps")
    rng = np.random.default_rng(seed)
    lengths = 2 + rng.poisson(rows / steps - 2, size=steps)
    lengths = np.maximum(2, np.round(lengths * rows / lengths.sum()).astype(np.int64))
    lengths[-1] += rows - int(lengths.sum())
    if lengths[-1] < 2:
        raise ValueError("rows too few for the steps")
    step = np.repeat(np.arange(steps, dtype=np.int64), lengths)
    pulse_per_half = (steps // 2) // half_cycles
    pulse_index = step // 2
    half = np.minimum(pulse_index // max(pulse_per_half, 1), half_cycles - 1)
    sign = np.where(half % 2 == 0, 1.0, -1.0)
    flowing = step % 2 == 0
    true_i = np.where(flowing, sign * current_mA, 0.0)
    t = np.arange(rows) * dt_s * (1.0 + 1e-3 * rng.standard_normal(rows).cumsum() / np.sqrt(rows))
    t = np.maximum.accumulate(t)
    # state of charge: each half cycle's pulses move y across [0.03, 0.99], into the
    # steep ends of the curve as a charge to 4.9 V and a discharge to 3.5 V do
    dt = np.diff(t, prepend=t[0])
    dq = true_i * dt  # mA s
    per_half = np.bincount(half, weights=np.abs(dq), minlength=half_cycles)
    y = 0.03 + np.cumsum(np.abs(dq) / per_half[half] * 0.96 * sign)
    y = np.clip(y, 0.0, 1.0)
    # polarisation: follows I R in pulses, relaxes exponentially in rests
    start_of_step = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    since = t - t[start_of_step][step]
    eta = np.where(flowing, true_i * 1e-3 * resistance_ohm * (1.0 - 0.3 * np.exp(-since / tau_s)), 0.0)
    prev_i = np.where(flowing, 0.0, sign * current_mA)
    eta = eta + np.where(flowing, 0.0, prev_i * 1e-3 * resistance_ohm * 0.3 * np.exp(-since / tau_s))
    voltage = lmno_ocv(y) + eta + noise_V * rng.standard_normal(rows)
    current = true_i + noise_mA * rng.standard_normal(rows) * np.where(flowing, 1.0, 0.01)
    return SyntheticSteps(t, voltage, current, step, y, half_cycles)
