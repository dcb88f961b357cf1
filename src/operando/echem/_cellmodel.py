"""Butler–Volmer model of a Li | solid electrolyte | Li symmetric cell with measured contact areas.

The cell voltage under a current ``I`` is the sum of

- the charge-transfer overpotential of each Li | electrolyte interface, from the
  Butler–Volmer equation at the local current density ``j_k = I / A_k(t)``, where
  ``A_k(t)`` is the *measured* contact area of interface ``k`` (e.g. from operando
  tomography; voids at a stripping electrode shrink it and raise the overpotential);
- the ohmic drops through the electrolyte and through the growing interphase. As the
  paper writes them (``ohmic="contact-averaged"``, the default), both carry the applied
  current density ``i_app = (I / A_1 + I / A_2) / 2``, the average of the current densities
  at the two interfaces: ``i_app l / kappa`` and ``i_app (L_1 + L_2) / kappa_int`` (interphase
  thickness ``L_k(t)`` measured). ``ohmic="geometric"`` keeps the earlier variant: the
  electrolyte carries ``I`` over its cross-section, ``I l / (kappa A_geo)``, and each
  interphase its interface's own current density, ``I L_k / (kappa_int A_k)``.

Contact scenarios (the paper's Fig. 4b): the prediction of a half-cycle with the measured
contact areas held at their value at the start of the prediction and scaled to 100, 25 or
1 %, against the dynamically measured areas (:func:`scenario_areas`,
:func:`model_tomo_series` ``scenarios=``).

Sign convention: a positive current strips Li from electrode 1 (interface index 0) and
plates it on electrode 2; the cell voltage ``V = phi_1 - phi_2`` then is positive, and every
term follows the current direction. The Butler–Volmer equation is

``j = j0 [exp(alpha F eta / RT) - exp(-(1 - alpha) F eta / RT)]``

with ``alpha`` the anodic transfer coefficient; for ``alpha = 0.5`` its inverse is the
closed form ``eta = (2RT/F) asinh(j / 2 j0)``, otherwise it is solved numerically
(vectorised safeguarded Newton).

Units: currents mA, areas mm² (as ``contact_area_mm2`` in tomography results), current
densities mA cm⁻², thicknesses µm, conductivities S cm⁻¹, voltages V.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import xarray as xr
from scipy.optimize import least_squares

from operando.errors import MissingMetadataError, ParameterError

__all__ = [
    "FARADAY_C_MOL",
    "GAS_CONSTANT_J_MOL_K",
    "CellModelFit",
    "SymmetricCellModel",
    "butler_volmer_current",
    "butler_volmer_overpotential",
    "cell_voltage",
    "cell_voltage_terms",
    "compare_cell_model",
    "fit_cell_model",
    "model_tomo_series",
    "scenario_areas",
    "tomo_series_at",
]

OHMIC_MODES = ("contact-averaged", "geometric")

FARADAY_C_MOL = 96485.33212
GAS_CONSTANT_J_MOL_K = 8.314462618
_MM2_TO_CM2 = 1e-2
_UM_TO_CM = 1e-4


def _f(temperature_K: float) -> float:
    """F / RT in 1/V."""
    return FARADAY_C_MOL / (GAS_CONSTANT_J_MOL_K * temperature_K)


def _check_kinetics(j0_mA_cm2: float, alpha: float, temperature_K: float) -> None:
    if not j0_mA_cm2 > 0:
        raise ParameterError(f"exchange current density must be positive, got {j0_mA_cm2} mA/cm2")
    if not 0.0 < alpha < 1.0:
        raise ParameterError(f"transfer coefficient alpha must be in (0, 1), got {alpha}")
    if not temperature_K > 0:
        raise ParameterError(f"temperature must be positive, got {temperature_K} K")


def butler_volmer_current(
    overpotential_V: Any, *, j0_mA_cm2: float, alpha: float = 0.5, temperature_K: float = 298.15
) -> np.ndarray:
    """Current density from the Butler–Volmer equation.

    Parameters
    ----------
    overpotential_V : array_like
        Overpotential(s), V (positive: anodic, Li stripping).
    j0_mA_cm2 : float
        Exchange current density, mA cm⁻².
    alpha : float, default 0.5
        Anodic transfer coefficient; the cathodic one is ``1 - alpha``.
    temperature_K : float, default 298.15

    Returns
    -------
    ndarray
        Current density, mA cm⁻², same shape as ``overpotential_V``.
    """
    _check_kinetics(j0_mA_cm2, alpha, temperature_K)
    x = _f(temperature_K) * np.asarray(overpotential_V, dtype=np.float64)
    return j0_mA_cm2 * (np.exp(alpha * x) - np.exp(-(1.0 - alpha) * x))


def _bv_inverse_numeric(r: np.ndarray, alpha: float, *, max_iter: int = 200) -> np.ndarray:
    """Solve ``exp(a x) - exp(-c x) = r`` for x (a = alpha, c = 1 - alpha), elementwise.

    Safeguarded Newton: the root is bracketed by ``[0, ln(1+r)/a]`` for r >= 0 and
    ``[-ln(1-r)/c, 0]`` for r < 0; a Newton step leaving the bracket is replaced by bisection.

    Examples
    --------
    At ``alpha = 0.5`` it agrees with the closed form ``2 asinh(r / 2)`` over ten decades:

    >>> r = np.geomspace(1e-6, 1e4, 50)
    >>> r = np.concatenate([-r, r])
    >>> bool(np.allclose(_bv_inverse_numeric(r, 0.5), 2 * np.arcsinh(r / 2), rtol=1e-12, atol=1e-15))
    True
    """
    a, c = alpha, 1.0 - alpha
    lo = np.where(r >= 0, 0.0, -np.log1p(-np.minimum(r, 0.0)) / c)
    hi = np.where(r >= 0, np.log1p(np.maximum(r, 0.0)) / a, 0.0)
    # start from the larger of the linear and Tafel estimates, inside the bracket
    x = np.clip(np.where(r >= 0, np.log1p(np.abs(r)) / a, -np.log1p(np.abs(r)) / c), lo, hi)
    x = np.where(np.abs(r) < 1e-3, r, x)
    for _ in range(max_iter):
        g = np.exp(a * x) - np.exp(-c * x) - r
        lo = np.where(g < 0, x, lo)
        hi = np.where(g > 0, x, hi)
        dg = a * np.exp(a * x) + c * np.exp(-c * x)
        step = x - g / dg
        bad = (step <= lo) | (step >= hi) | ~np.isfinite(step)
        new = np.where(bad, 0.5 * (lo + hi), step)
        done = np.abs(new - x) <= 1e-14 * np.maximum(1.0, np.abs(x))
        x = new
        if done.all():
            break
    return x


def butler_volmer_overpotential(
    current_density_mA_cm2: Any, *, j0_mA_cm2: float, alpha: float = 0.5, temperature_K: float = 298.15
) -> np.ndarray:
    """Overpotential that drives a current density (the Butler–Volmer equation inverted).

    Parameters
    ----------
    current_density_mA_cm2 : array_like
        Current density, mA cm⁻² (positive: anodic).
    j0_mA_cm2 : float
        Exchange current density, mA cm⁻².
    alpha : float, default 0.5
        Anodic transfer coefficient; ``0.5`` uses ``eta = (2RT/F) asinh(j / 2 j0)``.
    temperature_K : float, default 298.15

    Returns
    -------
    ndarray
        Overpotential, V, same shape as the input.

    Examples
    --------
    >>> eta = butler_volmer_overpotential([0.1, -2.0], j0_mA_cm2=1.0)
    >>> j = butler_volmer_current(eta, j0_mA_cm2=1.0)
    >>> print(" ".join(f"{v:.6f}" for v in j))
    0.100000 -2.000000
    """
    _check_kinetics(j0_mA_cm2, alpha, temperature_K)
    r = np.asarray(current_density_mA_cm2, dtype=np.float64) / j0_mA_cm2
    if alpha != 0.5:
        return np.asarray(_bv_inverse_numeric(np.atleast_1d(r), alpha).reshape(r.shape) / _f(temperature_K))
    return np.asarray(2.0 * np.arcsinh(r / 2.0) / _f(temperature_K))


@dataclass(frozen=True)
class SymmetricCellModel:
    """Parameters of the symmetric-cell model.

    Attributes
    ----------
    j0_mA_cm2 : float
        Exchange current density of both Li | electrolyte interfaces, mA cm⁻².
    interphase_conductivity_S_cm : float
        Ionic conductivity of the interphase layers, S cm⁻¹.
    electrolyte_thickness_um : float
        Electrolyte (separator pellet) thickness, µm.
    electrolyte_conductivity_S_cm : float
        Electrolyte ionic conductivity, S cm⁻¹.
    electrolyte_area_mm2 : float
        Geometric cross-section of the electrolyte, mm².
    alpha : float, default 0.5
        Anodic transfer coefficient.
    temperature_K : float, default 298.15
    ohmic : {"contact-averaged", "geometric"}
        Current density of the ohmic drops: the paper's average of both interfaces'
        ``I / A_k`` (default), or ``I / A_geo`` in the electrolyte and ``I / A_k`` in each
        interphase (module notes). ``electrolyte_area_mm2`` is used only by ``"geometric"``.
    """

    j0_mA_cm2: float
    interphase_conductivity_S_cm: float
    electrolyte_thickness_um: float
    electrolyte_conductivity_S_cm: float
    electrolyte_area_mm2: float
    alpha: float = 0.5
    temperature_K: float = 298.15
    ohmic: str = "contact-averaged"

    def __post_init__(self) -> None:
        _check_kinetics(self.j0_mA_cm2, self.alpha, self.temperature_K)
        if self.ohmic not in OHMIC_MODES:
            raise ParameterError(f"ohmic must be one of {', '.join(OHMIC_MODES)}; got {self.ohmic!r}")
        for name in (
            "interphase_conductivity_S_cm",
            "electrolyte_thickness_um",
            "electrolyte_conductivity_S_cm",
            "electrolyte_area_mm2",
        ):
            if not getattr(self, name) > 0:
                raise ParameterError(f"{name} must be positive, got {getattr(self, name)}")

    @property
    def electrolyte_resistance_ohm(self) -> float:
        """Ohmic resistance of the electrolyte, Ω."""
        return (self.electrolyte_thickness_um * _UM_TO_CM) / (
            self.electrolyte_conductivity_S_cm * self.electrolyte_area_mm2 * _MM2_TO_CM2
        )


def _inputs(current_mA: Any, contact_area_mm2: Any, interphase_thickness_um: Any) -> tuple[np.ndarray, ...]:
    current = np.atleast_1d(np.asarray(current_mA, dtype=np.float64))
    if current.ndim != 1:
        raise ParameterError(f"current must be 1-D (time), got shape {current.shape}")
    n = current.size
    areas = np.asarray(contact_area_mm2, dtype=np.float64)
    if areas.ndim == 1 and areas.size == 2:
        areas = np.broadcast_to(areas, (n, 2))
    if areas.shape != (n, 2):
        raise ParameterError(f"contact areas must have shape (time, 2) = ({n}, 2), got {areas.shape}")
    if not (np.isfinite(areas).all() and (areas > 0).all()):
        raise ParameterError("contact areas must be finite and positive (mm2)")
    thick = np.asarray(interphase_thickness_um, dtype=np.float64)
    if thick.ndim == 0 or thick.shape == (n,):
        thick = np.broadcast_to(thick[..., None] if thick.ndim else thick, (n, 2))
    if thick.shape != (n, 2):
        raise ParameterError(f"interphase thickness must be a scalar, (time,) or (time, 2), got {thick.shape}")
    if not (np.isfinite(thick).all() and (thick >= 0).all()):
        raise ParameterError("interphase thickness must be finite and non-negative (um)")
    return current, areas, thick


def cell_voltage_terms(
    model: SymmetricCellModel, current_mA: Any, contact_area_mm2: Any, interphase_thickness_um: Any = 0.0
) -> dict[str, np.ndarray]:
    """The parts of the cell voltage, each signed with the current.

    Parameters
    ----------
    model : SymmetricCellModel
    current_mA : (n,) array_like
        Cell current, mA (positive: stripping electrode 1).
    contact_area_mm2 : (n, 2) array_like
        Contact area of interface 1 and 2 at each time, mm² (a pair broadcasts).
    interphase_thickness_um : scalar, (n,) or (n, 2) array_like, default 0
        Interphase thickness at each interface, µm ((n,) gives both interfaces the same).

    Returns
    -------
    dict of (n,) ndarray
        ``charge_transfer_1_V``, ``charge_transfer_2_V``, ``electrolyte_ohmic_V``,
        ``interphase_ohmic_V``; they sum to the cell voltage (V).

    Examples
    --------
    The paper's ohmic drop: 1 mA through contacts of 10 and 40 mm² is ``i_app`` =
    (10 + 2.5) / 2 = 6.25 mA/cm² across 1 mm of electrolyte at 2.1 mS/cm: 0.2976 V.

    >>> m = SymmetricCellModel(j0_mA_cm2=1.0, interphase_conductivity_S_cm=1e-5,
    ...                        electrolyte_thickness_um=1000.0, electrolyte_conductivity_S_cm=2.1e-3,
    ...                        electrolyte_area_mm2=3.14)
    >>> round(float(cell_voltage_terms(m, [1.0], [[10.0, 40.0]])["electrolyte_ohmic_V"][0]), 4)
    0.2976
    """
    current, areas, thick = _inputs(current_mA, contact_area_mm2, interphase_thickness_um)
    area_cm2 = areas * _MM2_TO_CM2
    j = current[:, None] / area_cm2  # mA/cm2 through each interface
    kin = dict(j0_mA_cm2=model.j0_mA_cm2, alpha=model.alpha, temperature_K=model.temperature_K)
    # electrode 1 is anodic for I > 0 (eta(+j)); electrode 2 cathodic: phi_1 - phi_2 gains -eta(-j)
    eta1 = butler_volmer_overpotential(j[:, 0], **kin)
    eta2 = -butler_volmer_overpotential(-j[:, 1], **kin)
    if model.ohmic == "contact-averaged":
        # the paper: Delta phi = i_app l / kappa with i_app the mean of both interfaces' I / A_k
        i_app = 1e-3 * j.mean(axis=1)  # A/cm2
        electrolyte = i_app * model.electrolyte_thickness_um * _UM_TO_CM / model.electrolyte_conductivity_S_cm
        interphase = i_app * thick.sum(axis=1) * _UM_TO_CM / model.interphase_conductivity_S_cm
    else:
        r_int = (thick * _UM_TO_CM / (model.interphase_conductivity_S_cm * area_cm2)).sum(axis=1)  # ohm
        electrolyte = current * 1e-3 * model.electrolyte_resistance_ohm
        interphase = current * 1e-3 * r_int
    return {
        "charge_transfer_1_V": eta1,
        "charge_transfer_2_V": eta2,
        "electrolyte_ohmic_V": electrolyte,
        "interphase_ohmic_V": interphase,
    }


def cell_voltage(
    model: SymmetricCellModel, current_mA: Any, contact_area_mm2: Any, interphase_thickness_um: Any = 0.0
) -> np.ndarray:
    """Predicted cell voltage ``V(t)`` (V), shape ``(n,)``; see :func:`cell_voltage_terms`.

    Examples
    --------
    >>> m = SymmetricCellModel(j0_mA_cm2=0.5, interphase_conductivity_S_cm=1e-5,
    ...                        electrolyte_thickness_um=500.0, electrolyte_conductivity_S_cm=1e-3,
    ...                        electrolyte_area_mm2=78.5)
    >>> v = cell_voltage(m, [0.5, -0.5], [[78.5, 78.5], [78.5, 78.5]], 2.0)
    >>> print(f"{v[0] * 1e3:.1f} mV, {v[1] * 1e3:.1f} mV")
    119.0 mV, -119.0 mV
    """
    return np.asarray(sum(cell_voltage_terms(model, current_mA, contact_area_mm2, interphase_thickness_um).values()))


@dataclass(frozen=True)
class CellModelFit:
    """Result of :func:`fit_cell_model`.

    Attributes
    ----------
    model : SymmetricCellModel
        The model with the fitted parameters.
    j0_err_mA_cm2, interphase_conductivity_err_S_cm : float
        One standard error (from the Jacobian at the optimum, residual variance scaled);
        NaN for a parameter that was held fixed.
    correlation : float
        Correlation coefficient of the two fitted parameters (NaN with one).
    rms_V : float
        Root-mean-square residual, V.
    n_points : int
    success : bool
    message : str
    """

    model: SymmetricCellModel
    j0_err_mA_cm2: float
    interphase_conductivity_err_S_cm: float
    correlation: float
    rms_V: float
    n_points: int
    success: bool
    message: str


def fit_cell_model(
    current_mA: Any,
    voltage_V: Any,
    contact_area_mm2: Any,
    interphase_thickness_um: Any,
    *,
    model: SymmetricCellModel,
    fit_interphase: bool = True,
) -> CellModelFit:
    """Fit the exchange current density (and the interphase conductivity) to a measured voltage.

    Meant for one half-cycle (one current direction) with its contact areas and interphase
    thickness interpolated on the voltage samples (:func:`tomo_series_at`). The fit runs on
    ``log j0`` and ``log kappa_int`` (both positive, similar scale) with
    :func:`scipy.optimize.least_squares`; standard errors come from ``(J^T J)^-1 s^2`` at the
    optimum, propagated to linear units.

    Parameters
    ----------
    current_mA : (n,) array_like
    voltage_V : (n,) array_like
        Measured cell voltage.
    contact_area_mm2 : (n, 2) array_like
    interphase_thickness_um : scalar, (n,) or (n, 2) array_like
    model : SymmetricCellModel
        Fixed parameters, and the starting values of the fitted ones.
    fit_interphase : bool, default True
        Also fit ``interphase_conductivity_S_cm`` (needs a non-zero interphase thickness).

    Returns
    -------
    CellModelFit

    Raises
    ------
    ParameterError
        Inputs of different lengths, non-finite voltages, too few points, or no interphase to fit.
    """
    current, areas, thick = _inputs(current_mA, contact_area_mm2, interphase_thickness_um)
    volt = np.asarray(voltage_V, dtype=np.float64)
    if volt.shape != current.shape:
        raise ParameterError(f"voltage has shape {volt.shape}, current {current.shape}")
    if not np.isfinite(volt).all():
        raise ParameterError("voltage contains NaN or infinite values")
    n_par = 2 if fit_interphase else 1
    if fit_interphase and not (thick > 0).any():
        raise ParameterError("interphase thickness is zero everywhere: its conductivity cannot be fitted")
    if current.size <= n_par:
        raise ParameterError(f"need more than {n_par} points to fit, got {current.size}")

    def with_params(p: np.ndarray) -> SymmetricCellModel:
        kappa = float(np.exp(p[1])) if fit_interphase else model.interphase_conductivity_S_cm
        return replace(model, j0_mA_cm2=float(np.exp(p[0])), interphase_conductivity_S_cm=kappa)

    def residual(p: np.ndarray) -> np.ndarray:
        return cell_voltage(with_params(p), current, areas, thick) - volt

    p0 = np.log([model.j0_mA_cm2, model.interphase_conductivity_S_cm][:n_par])
    sol = least_squares(residual, p0, x_scale=1.0, xtol=1e-12, ftol=1e-12, gtol=1e-12)
    dof = max(current.size - n_par, 1)
    s2 = float(sol.fun @ sol.fun) / dof
    cov = np.linalg.pinv(sol.jac.T @ sol.jac) * s2
    err_log = np.sqrt(np.diag(cov))
    fitted = with_params(sol.x)
    return CellModelFit(
        model=fitted,
        j0_err_mA_cm2=float(fitted.j0_mA_cm2 * err_log[0]),
        interphase_conductivity_err_S_cm=(
            float(fitted.interphase_conductivity_S_cm * err_log[1]) if fit_interphase else float("nan")
        ),
        correlation=float(cov[0, 1] / (err_log[0] * err_log[1])) if fit_interphase else float("nan"),
        rms_V=float(np.sqrt(np.mean(sol.fun**2))),
        n_points=int(current.size),
        success=bool(sol.success),
        message=str(sol.message),
    )


def compare_cell_model(
    model: SymmetricCellModel,
    time_s: Any,
    current_mA: Any,
    voltage_V: Any,
    contact_area_mm2: Any,
    interphase_thickness_um: Any = 0.0,
) -> xr.Dataset:
    """Measured and predicted voltage side by side (the input of the model figure).

    Parameters
    ----------
    model : SymmetricCellModel
    time_s, current_mA, voltage_V : (n,) array_like
    contact_area_mm2 : (n, 2) array_like
    interphase_thickness_um : scalar, (n,) or (n, 2) array_like

    Returns
    -------
    xarray.Dataset
        Dims ``time`` (coordinate ``time_s``) and ``interface`` (1, 2); variables
        ``measured_voltage_V``, ``predicted_voltage_V``, ``residual_V``, ``current_mA``,
        ``contact_area_mm2``, ``interphase_thickness_um`` and the voltage terms of
        :func:`cell_voltage_terms`; the model parameters in ``attrs``.
    """
    current, areas, thick = _inputs(current_mA, contact_area_mm2, interphase_thickness_um)
    t = np.asarray(time_s, dtype=np.float64)
    volt = np.asarray(voltage_V, dtype=np.float64)
    if t.shape != current.shape or volt.shape != current.shape:
        raise ParameterError(f"time {t.shape}, current {current.shape} and voltage {volt.shape} differ in length")
    terms = cell_voltage_terms(model, current, areas, thick)
    predicted = np.asarray(sum(terms.values()))
    v = "V"
    data = {
        "measured_voltage_V": ("time", volt, {"units": v}),
        "predicted_voltage_V": ("time", predicted, {"units": v}),
        "residual_V": ("time", volt - predicted, {"units": v}),
        "current_mA": ("time", current, {"units": "mA"}),
        "contact_area_mm2": (("time", "interface"), np.asarray(areas), {"units": "mm2"}),
        "interphase_thickness_um": (("time", "interface"), np.asarray(thick), {"units": "µm"}),
    }
    data.update({name: ("time", value, {"units": v}) for name, value in terms.items()})
    attrs: dict[str, Any] = {"operando_kind": "echem-cellmodel"}
    attrs.update({k: float(getattr(model, k)) for k in model.__dataclass_fields__ if k != "ohmic"})
    attrs["ohmic"] = model.ohmic
    return xr.Dataset(data, coords={"time_s": ("time", t, {"units": "s"}), "interface": [1, 2]}, attrs=attrs)


def tomo_series_at(series: xr.Dataset, time_s: Any) -> tuple[np.ndarray, np.ndarray]:
    """Contact areas and interphase thickness of a ``tomo-series`` interpolated at given times.

    Each scan is placed at the middle of its acquisition (``(echem_t_start_s + echem_t_end_s) / 2``
    when the series carries the echem state, else its ``time_s`` coordinate); values are
    interpolated linearly and held constant before the first and after the last scan.

    Parameters
    ----------
    series : xarray.Dataset
        ``contact_area_mm2`` (frame, interface) with two interfaces, and optionally
        ``interphase_thickness_um`` (frame) or (frame, interface).
    time_s : (n,) array_like
        Times of the voltage samples, s.

    Returns
    -------
    contact_area_mm2 : (n, 2) ndarray
    interphase_thickness_um : (n, 2) ndarray
        Zero when the series has no interphase thickness.

    Raises
    ------
    MissingMetadataError
        No contact areas or no scan times in the series.
    """
    if "contact_area_mm2" not in series:
        raise MissingMetadataError("tomo series has no 'contact_area_mm2' variable")
    if "echem_t_start_s" in series and "echem_t_end_s" in series:
        t_scan = 0.5 * (series["echem_t_start_s"].to_numpy() + series["echem_t_end_s"].to_numpy())
    elif "time_s" in series.coords or "time_s" in series:
        t_scan = series["time_s"].to_numpy()
    else:
        raise MissingMetadataError("tomo series has no scan times (echem_t_start_s/echem_t_end_s or time_s)")
    t_scan = np.asarray(t_scan, dtype=np.float64)
    order = np.argsort(t_scan)
    t = np.asarray(time_s, dtype=np.float64)

    def interp(values: np.ndarray) -> np.ndarray:
        values = values.reshape(values.shape[0], -1)
        return np.stack([np.interp(t, t_scan[order], values[order, k]) for k in range(values.shape[1])], axis=1)

    areas = interp(series["contact_area_mm2"].transpose("frame", ...).to_numpy().astype(np.float64))
    if areas.shape[1] != 2:
        raise ParameterError(f"a symmetric cell has 2 interfaces, the series has {areas.shape[1]}")
    if "interphase_thickness_um" in series:
        thick = interp(series["interphase_thickness_um"].transpose("frame", ...).to_numpy().astype(np.float64))
        thick = np.broadcast_to(thick, (t.size, 2)).copy()
    else:
        thick = np.zeros((t.size, 2))
    return areas, thick


def _window_mask(t: np.ndarray, window: tuple[float, float], name: str) -> np.ndarray:
    lo, hi = (float(w) for w in window)
    if not hi > lo:
        raise ParameterError(f"{name} window ({lo}, {hi}) s must have end > start")
    return (t >= lo) & (t <= hi)


def _series_for_model(series: xr.Dataset) -> xr.Dataset:
    """The series with its per-interface interphase thickness under the name :func:`tomo_series_at` reads."""
    if "interphase_thickness_interface_um" in series:
        series = series.drop_vars("interphase_thickness_um", errors="ignore")
        series = series.rename({"interphase_thickness_interface_um": "interphase_thickness_um"})
    return series


def _scenario_fraction(scenario: Any) -> tuple[str, float | None]:
    """``("25%", 0.25)`` for ``"25%"``, ``"25"`` or ``25``; ``("dynamic", None)`` for ``"dynamic"``."""
    text = str(scenario).strip().lower()
    if text == "dynamic":
        return "dynamic", None
    try:
        pct = float(text.removesuffix("%").strip())
    except ValueError:
        raise ParameterError(
            f"contact scenario {scenario!r}: give a percentage (e.g. 25 or 25%) or 'dynamic'"
        ) from None
    if not 0 < pct <= 1000:
        raise ParameterError(f"contact scenario {scenario!r}: the percentage must be in (0, 1000]")
    return f"{pct:g}%", pct / 100.0


def scenario_areas(
    contact_area_mm2: Any, scenario: Any, *, start: int = 0, interfaces: Sequence[int] = (0, 1)
) -> np.ndarray:
    """Contact areas of one of the paper's contact scenarios (Fig. 4b).

    Parameters
    ----------
    contact_area_mm2 : (n, 2) array_like
        Measured contact areas at the samples of the predicted period, mm².
    scenario : str or float
        ``"dynamic"``: the measured areas as they change; a percentage (``100``, ``"25%"``,
        ``1``): that share of the measured area at sample ``start``, held constant.
    start : int, default 0
        Sample whose measured area the percentage scenarios scale.
    interfaces : sequence of {0, 1}, default (0, 1)
        Interfaces the scenario applies to; the others keep their measured areas.

    Returns
    -------
    (n, 2) ndarray
        Contact areas, mm².

    Examples
    --------
    >>> a = np.array([[40.0, 30.0], [38.0, 20.0], [36.0, 10.0]])
    >>> scenario_areas(a, "25%")[:, 1].tolist()
    [7.5, 7.5, 7.5]
    >>> scenario_areas(a, 1, interfaces=[1])[2].tolist()
    [36.0, 0.3]
    >>> bool((scenario_areas(a, "dynamic") == a).all())
    True
    """
    areas = np.array(contact_area_mm2, dtype=np.float64)
    if areas.ndim != 2 or areas.shape[1] != 2 or areas.shape[0] == 0:
        raise ParameterError(f"contact areas must be (n, 2) with n > 0, got {areas.shape}")
    _, frac = _scenario_fraction(scenario)
    which = sorted({int(k) for k in interfaces})
    if not which or any(k not in (0, 1) for k in which):
        raise ParameterError(f"scenario interfaces must be 0 and/or 1, got {list(interfaces)}")
    if frac is None:
        return areas
    if not 0 <= start < areas.shape[0]:
        raise ParameterError(f"start sample {start} is outside the {areas.shape[0]} samples")
    areas[:, which] = frac * areas[start, which]
    return areas


def _scenarios(
    out: xr.Dataset,
    model: SymmetricCellModel,
    current: np.ndarray,
    areas: np.ndarray,
    thick: np.ndarray,
    volt: np.ndarray,
    pred: np.ndarray,
    scenarios: Sequence[Any],
    interfaces: Sequence[int],
) -> xr.Dataset:
    """``scenario_voltage_V`` (scenario, time), ``scenario_contact_area_mm2`` and ``scenario_rms_V``."""
    labels = [_scenario_fraction(sc)[0] for sc in scenarios]
    if len(set(labels)) != len(labels):
        raise ParameterError(f"contact scenarios given twice: {labels}")
    n = current.size
    volts = np.full((len(labels), n), np.nan)
    used = np.broadcast_to(areas, (len(labels), n, 2)).copy()
    rms = np.full(len(labels), np.nan)
    idx = np.flatnonzero(pred)
    for k, sc in enumerate(scenarios):
        if idx.size == 0:
            continue
        a = scenario_areas(areas[idx], sc, interfaces=interfaces)
        used[k, idx] = a
        volts[k, idx] = cell_voltage(model, current[idx], a, thick[idx])
        rms[k] = float(np.sqrt(np.mean((volts[k, idx] - volt[idx]) ** 2)))
    where = "the prediction" if idx.size else "no prediction samples"
    out = out.assign_coords(scenario=("scenario", labels))
    out["scenario_voltage_V"] = (
        ("scenario", "time"),
        volts,
        {"units": "V", "long_name": f"predicted voltage per contact scenario ({where}; NaN elsewhere)"},
    )
    out["scenario_contact_area_mm2"] = (
        ("scenario", "time", "interface"),
        used,
        {"units": "mm**2", "long_name": "contact areas of each scenario"},
    )
    out["scenario_rms_V"] = ("scenario", rms, {"units": "V", "long_name": "RMS of measured - scenario voltage"})
    out.attrs["scenario_interfaces"] = [int(k) for k in interfaces]
    return out


def model_tomo_series(
    series: xr.Dataset,
    time_s: Any,
    current_mA: Any,
    voltage_V: Any,
    *,
    model: SymmetricCellModel,
    fit_window_s: tuple[float, float],
    predict_window_s: tuple[float, float] | None = None,
    fit_interphase: bool | None = None,
    scenarios: Sequence[Any] = (),
    scenario_interfaces: Sequence[int] = (0, 1),
) -> tuple[xr.Dataset, CellModelFit]:
    """Fit the symmetric-cell model on one time window of a record with tomography, predict another.

    The series' contact areas and interphase thickness (per interface when it has
    ``interphase_thickness_interface_um``) are interpolated onto the record's samples
    (:func:`tomo_series_at`); ``j0`` (and the interphase conductivity) are fitted on the
    samples of ``fit_window_s`` (:func:`fit_cell_model`), and the fitted model predicts the
    samples of ``predict_window_s`` (default: all the others). Samples at zero current (rests,
    where the model says nothing about relaxation) are left out of both.

    Parameters
    ----------
    series : xarray.Dataset
        A ``tomo-series`` (``contact_area_mm2`` (frame, interface) and scan times on the
        record's axis).
    time_s, current_mA, voltage_V : (n,) array_like
        The potentiostat record (s, mA, V).
    model : SymmetricCellModel
        Fixed parameters (electrolyte thickness, conductivity, area, alpha, T) and the starting
        values of the fitted ones.
    fit_window_s, predict_window_s : (float, float)
        Start and end (s, on the record's axis), inclusive.
    fit_interphase : bool, optional
        Fit the interphase conductivity too; default when the series has a non-zero
        interphase thickness in the fit window.
    scenarios : sequence of str or float, optional
        The paper's contact scenarios (Fig. 4b), e.g. ``(100, 25, 1, "dynamic")``: the
        prediction samples are predicted again by the fitted model with the areas of
        :func:`scenario_areas` (percentages of the measured area at the first prediction
        sample, held; or the measured areas as they change).
    scenario_interfaces : sequence of {0, 1}, default (0, 1)
        Interfaces whose contact the scenarios set (the others keep the measured areas).

    Returns
    -------
    dataset : xarray.Dataset
        ``operando_kind = "tomo-cellmodel"``: the variables of :func:`compare_cell_model`
        over the fit and prediction samples (dim ``time``) plus ``fitted`` (bool, in the fit
        window); attrs the fitted model parameters, their standard errors ``j0_err_mA_cm2``,
        ``interphase_conductivity_err_S_cm``, their ``correlation``, ``fit_rms_V``,
        ``predict_rms_V``, ``fit_window_s`` and ``predict_window_s``. With ``scenarios``:
        ``scenario_voltage_V`` (scenario, time; NaN on the fit samples),
        ``scenario_contact_area_mm2`` (scenario, time, interface) and ``scenario_rms_V``
        (scenario), coordinate ``scenario`` (``"100%"``, ..., ``"dynamic"``).
    fit : CellModelFit

    Raises
    ------
    ParameterError
        A window is empty or inverted, or the record's columns differ in length.
    MissingMetadataError
        The series lacks contact areas or scan times.
    """
    t = np.asarray(time_s, dtype=np.float64)
    current = np.asarray(current_mA, dtype=np.float64)
    volt = np.asarray(voltage_V, dtype=np.float64)
    if not (t.shape == current.shape == volt.shape) or t.ndim != 1:
        raise ParameterError(f"time {t.shape}, current {current.shape} and voltage {volt.shape} differ")
    flowing = (current != 0) & np.isfinite(volt)
    in_fit = _window_mask(t, fit_window_s, "fit") & flowing
    if predict_window_s is None:
        in_pred = flowing & ~in_fit
    else:
        in_pred = _window_mask(t, predict_window_s, "predict") & flowing & ~in_fit
    if not in_fit.any():
        raise ParameterError(f"no record samples with current in the fit window {tuple(fit_window_s)} s")
    areas, thick = tomo_series_at(_series_for_model(series), t)
    if fit_interphase is None:
        fit_interphase = bool((thick[in_fit] > 0).any())
    fit = fit_cell_model(
        current[in_fit], volt[in_fit], areas[in_fit], thick[in_fit], model=model, fit_interphase=fit_interphase
    )
    use = in_fit | in_pred
    out = compare_cell_model(fit.model, t[use], current[use], volt[use], areas[use], thick[use])
    out["fitted"] = ("time", in_fit[use], {"long_name": "sample used in the fit"})
    resid = out["residual_V"].to_numpy()
    pred = ~in_fit[use]
    out.attrs.update(
        {
            "operando_kind": "tomo-cellmodel",
            "j0_err_mA_cm2": fit.j0_err_mA_cm2,
            "interphase_conductivity_err_S_cm": fit.interphase_conductivity_err_S_cm,
            "correlation": fit.correlation,
            "fit_interphase": int(fit_interphase),
            "fit_rms_V": fit.rms_V,
            "fit_points": fit.n_points,
            "fit_success": int(fit.success),
            "predict_rms_V": float(np.sqrt(np.mean(resid[pred] ** 2))) if pred.any() else float("nan"),
            "predict_points": int(pred.sum()),
            "fit_window_s": [float(w) for w in fit_window_s],
            "predict_window_s": [float(w) for w in predict_window_s] if predict_window_s is not None else [],
        }
    )
    if scenarios:
        out = _scenarios(
            out, fit.model, current[use], areas[use], thick[use], volt[use], pred, scenarios, scenario_interfaces
        )
    return out, fit
