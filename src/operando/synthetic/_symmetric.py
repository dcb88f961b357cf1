"""A Li | solid electrolyte | Li symmetric cell under alternating constant current.

Its voltage is the overpotential: an ohmic part plus a slowly growing interfacial part;
optional events reproduce what kills such cells — a short circuit (the voltage
collapses to the resistance of a Li filament) and a sudden polarisation (contact loss
by voids multiplies the interfacial resistance).
"""

from __future__ import annotations

import numpy as np

from operando.echem._record import EchemMetadata, EchemRecord

__all__ = ["simulate_symmetric_cell"]


def simulate_symmetric_cell(
    *,
    current_mA: float = 0.5,
    half_cycle_s: float = 1800.0,
    half_cycles: int = 12,
    dt_s: float = 10.0,
    overpotential_V: float = 0.05,
    growth_per_h: float = 0.02,
    short_at_s: float | None = None,
    short_resistance_ohm: float = 1.0,
    polarisation_at_s: float | None = None,
    polarisation_factor: float = 3.0,
    noise_V: float = 5e-4,
    seed: int = 0,
) -> EchemRecord:
    """Record of a symmetric Li cell, with optional short circuit and polarisation jump.

    Parameters
    ----------
    current_mA : float
        Magnitude of the alternating current.
    half_cycle_s : float
        Duration of each plating/stripping half cycle.
    half_cycles : int
        Number of half cycles.
    dt_s : float
        Sampling interval.
    overpotential_V : float
        Initial overpotential magnitude.
    growth_per_h : float
        Relative growth of the overpotential per hour (interphase growth).
    short_at_s : float, optional
        Time of a short circuit; afterwards ``|V| = I * short_resistance_ohm``.
    short_resistance_ohm : float
        Resistance of the short.
    polarisation_at_s : float, optional
        Time from which the overpotential is multiplied by ``polarisation_factor``.
    polarisation_factor : float
    noise_V : float
        Gaussian voltage noise.
    seed : int

    Returns
    -------
    EchemRecord
        ``meta.format == "synthetic"``.
    """
    t = np.arange(0.0, half_cycles * half_cycle_s, dt_s)
    sign = np.where((t // half_cycle_s) % 2 == 0, 1.0, -1.0)
    current = current_mA * sign
    eta = overpotential_V * (1.0 + growth_per_h * t / 3600.0)
    if polarisation_at_s is not None:
        eta = np.where(t >= polarisation_at_s, eta * polarisation_factor, eta)
    if short_at_s is not None:
        eta = np.where(t >= short_at_s, current_mA * 1e-3 * short_resistance_ohm, eta)
    rng = np.random.default_rng(seed)
    voltage = sign * eta + rng.normal(0.0, noise_V, t.size)
    return EchemRecord.from_columns(
        time_s=t, voltage_V=voltage, current_mA=current, meta=EchemMetadata(source="", format="synthetic")
    )
