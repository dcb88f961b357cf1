"""A Li | solid electrolyte | Li symmetric cell under alternating constant current.

Its voltage is the overpotential: an ohmic part plus a slowly growing interfacial part;
optional events reproduce what kills such cells — a short circuit (the voltage
collapses to the resistance of a Li filament) and a sudden polarisation (contact loss
by voids multiplies the interfacial resistance).

:func:`simulate_bv_symmetric_cell` is the physical version: the voltage comes from the
Butler–Volmer cell model (:mod:`operando.echem._cellmodel`) with contact areas that shrink
at the stripping electrode (voids) and an interphase that thickens as sqrt(t); its truth
(areas, thickness, parameters) is returned alongside the record.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from operando.echem import EchemMetadata, EchemRecord, SymmetricCellModel, cell_voltage
from operando.errors import ParameterError

__all__ = ["simulate_bv_symmetric_cell", "simulate_symmetric_cell"]


def _alternating_sign(half_cycle_s: float, half_cycles: int, dt_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Sample times (s) and the current direction (+1 first, flipping every half cycle)."""
    t = np.arange(0.0, half_cycles * half_cycle_s, dt_s)
    return t, np.where((t // half_cycle_s) % 2 == 0, 1.0, -1.0)


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
    t, sign = _alternating_sign(half_cycle_s, half_cycles, dt_s)
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


DEFAULT_BV_CELL = SymmetricCellModel(
    j0_mA_cm2=0.5,
    interphase_conductivity_S_cm=1e-5,
    electrolyte_thickness_um=500.0,
    electrolyte_conductivity_S_cm=1e-3,
    electrolyte_area_mm2=78.5,
)


def simulate_bv_symmetric_cell(
    model: SymmetricCellModel = DEFAULT_BV_CELL,
    *,
    current_mA: float = 0.5,
    half_cycle_s: float = 3600.0,
    half_cycles: int = 2,
    dt_s: float = 10.0,
    void_growth_per_half_cycle: float = 0.5,
    void_refill_ratio: float = 0.5,
    interphase_um_per_sqrt_h: float = 2.0,
    noise_V: float = 2e-4,
    seed: int = 0,
) -> tuple[EchemRecord, xr.Dataset]:
    """Record of a Li | electrolyte | Li cell from the Butler–Volmer model, with its truth.

    The void fraction of the stripping electrode grows linearly during its half cycle by
    ``void_growth_per_half_cycle`` (of the electrolyte area) and shrinks at
    ``void_refill_ratio`` times that rate while it plates (kept within [0, 0.95]); the
    contact area is ``electrolyte_area_mm2 * (1 - void fraction)``. Both interphases
    thicken as ``interphase_um_per_sqrt_h * sqrt(t / 1 h)``.

    Parameters
    ----------
    model : SymmetricCellModel
        Cell parameters (default: j0 0.5 mA cm⁻², 500 µm electrolyte of 1 mS cm⁻¹ and
        78.5 mm², interphase 10 µS cm⁻¹).
    current_mA, half_cycle_s, half_cycles, dt_s : float, float, int, float
        Alternating constant current (positive first: electrode 1 strips), its half-cycle
        length, number of half cycles and the sampling interval.
    void_growth_per_half_cycle, void_refill_ratio : float
    interphase_um_per_sqrt_h : float
    noise_V : float
        Gaussian voltage noise.
    seed : int

    Returns
    -------
    record : EchemRecord
        ``meta.format == "synthetic"``.
    truth : xarray.Dataset
        Dim ``time`` (coordinate ``time_s``) and ``interface``: ``contact_area_mm2``,
        ``interphase_thickness_um``, ``current_mA``, ``voltage_clean_V``; model parameters
        in ``attrs``.
    """
    if not 0 <= void_growth_per_half_cycle < 1 or void_refill_ratio < 0:
        raise ParameterError("void growth must be in [0, 1) and the refill ratio non-negative")
    t, sign = _alternating_sign(half_cycle_s, half_cycles, dt_s)
    current = current_mA * sign
    rate = void_growth_per_half_cycle / half_cycle_s  # void fraction per s while stripping
    void = np.zeros((t.size, 2))
    for k, stripping_sign in enumerate((1.0, -1.0)):
        d = np.where(sign == stripping_sign, rate, -void_refill_ratio * rate) * dt_s
        v = 0.0
        for i, step in enumerate(d):
            void[i, k] = v
            v = min(max(v + step, 0.0), 0.95)
    areas = model.electrolyte_area_mm2 * (1.0 - void)
    thickness = interphase_um_per_sqrt_h * np.sqrt(t / 3600.0)
    clean = cell_voltage(model, current, areas, thickness)
    rng = np.random.default_rng(seed)
    record = EchemRecord.from_columns(
        time_s=t,
        voltage_V=clean + rng.normal(0.0, noise_V, t.size),
        current_mA=current,
        meta=EchemMetadata(source="", format="synthetic"),
    )
    truth = xr.Dataset(
        {
            "contact_area_mm2": (("time", "interface"), areas, {"units": "mm2"}),
            "interphase_thickness_um": ("time", thickness, {"units": "µm"}),
            "current_mA": ("time", current, {"units": "mA"}),
            "voltage_clean_V": ("time", clean, {"units": "V"}),
        },
        coords={"time_s": ("time", t, {"units": "s"}), "interface": [1, 2]},
        attrs={k: float(getattr(model, k)) for k in model.__dataclass_fields__ if k != "ohmic"},
    )
    truth.attrs["ohmic"] = model.ohmic
    return record, truth
