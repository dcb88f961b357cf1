"""Tracer exchange of 6Li between a Li-metal electrode and a solid electrolyte.

Each plating/stripping step exchanges an amount ``n`` of Li between the electrode
(6Li atomic fraction ``x1``, Li amount ``m1``) and the electrolyte (``x2``, ``m2``)::

    x1' = x1 - n * m2 / (m1 * (m2 + n)) * (x1 - x2)
    x2' = x2 + n / (m2 + n) * (x1 - x2)

The total amount of 6Li, ``m1 * x1 + m2 * x2``, is conserved, and both fractions relax
geometrically towards ``(m1 * x1 + m2 * x2) / (m1 + m2)`` with the ratio
``r = 1 - n * (m1 + m2) / (m1 * (m2 + n))`` per step. The amounts only need a common
unit (mol, mmol or mg of Li).

Row convention of the published table (``Jak1022/Python_tracer_exchange``): row ``k``
holds the state after ``k + 1`` exchange steps (row 0 is already one step from the
start), and ``steps`` names the last row, so a table has ``steps + 1`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from operando.errors import ParameterError

__all__ = [
    "ExchangeFit",
    "classify_dendrite",
    "electrolyte_abundance",
    "fit_exchange",
    "mechanism2_share",
    "tracer_exchange",
]


def _check_amounts(m1: float, m2: float, n: float) -> None:
    if not (m1 > 0 and m2 > 0):
        raise ParameterError(f"Li amounts must be positive, got m1={m1}, m2={m2}")
    if not n >= 0:
        raise ParameterError(f"exchanged amount per step n must be >= 0, got {n}")


def tracer_exchange(
    *,
    m1: float,
    x1: float,
    m2: float,
    x2: float,
    n: float,
    steps: int,
    charge_per_step_mAh: float | None = None,
) -> pd.DataFrame:
    """Iterate the exchange model and return the table of both abundances.

    Parameters
    ----------
    m1, m2 : float
        Li amount in the electrode and in the electrolyte (any common unit).
    x1, x2 : float
        Initial 6Li atomic fraction (0..1) of the electrode and of the electrolyte.
    n : float
        Li amount exchanged per step (same unit as ``m1``).
    steps : int
        Index of the last row; the table has ``steps + 1`` rows, row ``k`` being the state
        after ``k + 1`` steps (the published table's convention).
    charge_per_step_mAh : float, optional
        Charge passed per exchange step; adds a ``charge_mAh`` column ``(k + 1) * q``.

    Returns
    -------
    pandas.DataFrame
        Columns ``step`` (row index k), ``x_electrode``, ``x_electrolyte`` and optionally
        ``charge_mAh``; ``steps + 1`` rows.

    Examples
    --------
    >>> t = tracer_exchange(m1=100, x1=0.95, m2=300.47, x2=0.069825, n=0.1088, steps=2)
    >>> [f"{v:.4f}" for v in t.iloc[0, 1:]]
    ['0.9490', '0.0701']
    """
    _check_amounts(m1, m2, n)
    if steps < 0:
        raise ParameterError(f"steps must be >= 0, got {steps}")
    a = n * m2 / (m1 * (m2 + n))
    b = n / (m2 + n)
    xe = np.empty(steps + 1)
    xl = np.empty(steps + 1)
    e, li = float(x1), float(x2)
    # the plain recurrence (not the closed form) so that rounding follows the published code
    for k in range(steps + 1):
        d = e - li
        e, li = e - a * d, li + b * d
        xe[k], xl[k] = e, li
    table = pd.DataFrame({"step": np.arange(steps + 1), "x_electrode": xe, "x_electrolyte": xl})
    if charge_per_step_mAh is not None:
        table["charge_mAh"] = (table["step"].to_numpy() + 1) * float(charge_per_step_mAh)
    return table


def electrolyte_abundance(
    charge_mAh: npt.ArrayLike,
    *,
    m1: float,
    x1: float,
    m2: float,
    x2: float,
    n: float,
    charge_per_step_mAh: float,
) -> npt.NDArray[np.float64]:
    """6Li fraction of the electrolyte after a given charge (closed form, any real step count).

    Parameters
    ----------
    charge_mAh : (N,) array_like
        Charge passed, mA h (absolute, cumulative over plating and stripping).
    m1, x1, m2, x2, n
        As in :func:`tracer_exchange`.
    charge_per_step_mAh : float
        Charge per exchange step; ``charge / charge_per_step`` steps have been made.

    Returns
    -------
    (N,) ndarray of float64
        Electrolyte 6Li atomic fraction; equals :func:`tracer_exchange` at
        ``charge = (k + 1) * charge_per_step``.
    """
    _check_amounts(m1, m2, n)
    if not charge_per_step_mAh > 0:
        raise ParameterError(f"charge per step must be positive, got {charge_per_step_mAh}")
    k = np.asarray(charge_mAh, dtype=np.float64) / charge_per_step_mAh
    x_eq = (m1 * x1 + m2 * x2) / (m1 + m2)
    r = 1.0 - n * (m1 + m2) / (m1 * (m2 + n))
    return np.asarray(x_eq - (x_eq - x2) * np.power(r, k), dtype=np.float64)


@dataclass(frozen=True)
class ExchangeFit:
    """Least-squares estimate of the exchanged amount per step.

    Attributes
    ----------
    n, n_stderr : float
        Exchanged amount per step and its standard error (unit of ``m1``).
    residuals : (N,) ndarray
        Measured minus model electrolyte abundance.
    chi2_reduced : float
        Weighted residual sum of squares over ``N - 1`` degrees of freedom.
    """

    n: float
    n_stderr: float
    residuals: npt.NDArray[np.float64]
    chi2_reduced: float


def fit_exchange(
    charge_mAh: npt.ArrayLike,
    x_electrolyte: npt.ArrayLike,
    *,
    m1: float,
    x1: float,
    m2: float,
    x2: float,
    charge_per_step_mAh: float,
    sigma: npt.ArrayLike | None = None,
    absolute_sigma: bool = False,
    n0: float | None = None,
) -> ExchangeFit:
    """Fit the exchanged amount per step ``n`` to measured electrolyte abundances.

    Parameters
    ----------
    charge_mAh, x_electrolyte : (N,) array_like
        Charge passed and the measured electrolyte 6Li atomic fraction (0..1).
    m1, x1, m2, x2, charge_per_step_mAh
        As in :func:`electrolyte_abundance`.
    sigma : (N,) array_like, optional
        Standard uncertainty of each abundance (weights ``1/sigma``).
    absolute_sigma : bool, default False
        Take ``sigma`` as absolute; otherwise the covariance is scaled by the reduced chi².
    n0 : float, optional
        Starting value; default ``1e-3 * m1``.

    Returns
    -------
    ExchangeFit
    """
    from scipy.optimize import least_squares

    q = np.asarray(charge_mAh, dtype=np.float64)
    y = np.asarray(x_electrolyte, dtype=np.float64)
    if q.shape != y.shape or q.ndim != 1 or q.size < 2:
        raise ParameterError(f"need matching 1-D charge and abundance arrays of >= 2 points, got {q.shape}, {y.shape}")
    s = np.ones_like(y) if sigma is None else np.broadcast_to(np.asarray(sigma, dtype=np.float64), y.shape)
    if np.any(s <= 0):
        raise ParameterError("sigma must be positive")

    def resid(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        model = electrolyte_abundance(q, m1=m1, x1=x1, m2=m2, x2=x2, n=p[0], charge_per_step_mAh=charge_per_step_mAh)
        return (y - model) / s

    start = 1e-3 * m1 if n0 is None else n0
    res = least_squares(resid, [start], bounds=([0.0], [np.inf]), x_scale="jac")
    dof = max(q.size - 1, 1)
    chi2 = float(np.sum(res.fun**2) / dof)
    jtj = float(res.jac[:, 0] @ res.jac[:, 0])
    var = (1.0 / jtj if jtj > 0 else np.inf) * (1.0 if (absolute_sigma and sigma is not None) else chi2)
    return ExchangeFit(
        n=float(res.x[0]), n_stderr=float(np.sqrt(var)), residuals=np.asarray(res.fun * s), chi2_reduced=chi2
    )


def classify_dendrite(
    x_dendrite: npt.ArrayLike,
    *,
    x_electrolyte: npt.ArrayLike,
    x_electrode: npt.ArrayLike,
    sigma: npt.ArrayLike = 0.0,
) -> npt.NDArray[np.str_]:
    """Growth mechanism from the 6Li abundance of dendritic Li.

    ``"mechanism 1"``: between electrolyte and electrode (Li carried from the electrode);
    ``"mechanism 2"``: below the electrolyte (Li formed from the electrolyte's own, depleted
    reservoir); ``"undetermined"``: outside both, or within ``sigma`` of the electrolyte value.

    Parameters
    ----------
    x_dendrite, x_electrolyte, x_electrode : (N,) array_like
        6Li atomic fractions (broadcast together).
    sigma : (N,) array_like, default 0
        Standard uncertainty of ``x_dendrite``.

    Returns
    -------
    (N,) ndarray of str

    Examples
    --------
    >>> classify_dendrite([0.5, 0.05, 0.99], x_electrolyte=0.1, x_electrode=0.95).tolist()
    ['mechanism 1', 'mechanism 2', 'undetermined']
    """
    xd, xl, xe, s = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (x_dendrite, x_electrolyte, x_electrode, sigma))
    )
    toward = np.sign(xe - xl)  # +1 for the usual enriched electrode over a natural electrolyte
    dist = (xd - xl) * toward  # signed distance from the electrolyte, towards the electrode
    span = np.abs(xe - xl)
    out = np.full(xd.shape, "undetermined", dtype="<U12")
    out[(dist > s) & (dist <= span)] = "mechanism 1"
    out[dist < -s] = "mechanism 2"
    return out


def mechanism2_share(
    x_dendrite: npt.ArrayLike,
    *,
    x_mech1: npt.ArrayLike,
    x_mech2: npt.ArrayLike,
    sigma_dendrite: npt.ArrayLike = 0.0,
    sigma_mech1: npt.ArrayLike = 0.0,
    sigma_mech2: npt.ArrayLike = 0.0,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Share of Mechanism-2 Li by two-source mixing, with propagated uncertainty.

    ``x_dendrite = f * x_mech2 + (1 - f) * x_mech1`` gives
    ``f = (x_mech1 - x_dendrite) / (x_mech1 - x_mech2)``; the standard uncertainty is
    first-order propagation of the three independent uncertainties.

    Parameters
    ----------
    x_dendrite : (N,) array_like
        Measured 6Li fraction of the dendritic Li.
    x_mech1, x_mech2 : (N,) array_like
        End members: 6Li fraction of Li deposited by Mechanism 1 (e.g. the electrolyte
        abundance, the Li it carries) and by Mechanism 2.
    sigma_dendrite, sigma_mech1, sigma_mech2 : (N,) array_like, default 0
        Their standard uncertainties.

    Returns
    -------
    share, sigma_share : (N,) ndarray of float64
        Fraction (0..1, not clipped) and its standard uncertainty.

    Examples
    --------
    >>> f, s = mechanism2_share(0.06, x_mech1=0.07, x_mech2=0.05, sigma_dendrite=0.002)
    >>> round(float(f), 3), round(float(s), 3)
    (0.5, 0.1)
    """
    xd, a, b, sd, sa, sb = np.broadcast_arrays(
        *(
            np.asarray(v, dtype=np.float64)
            for v in (x_dendrite, x_mech1, x_mech2, sigma_dendrite, sigma_mech1, sigma_mech2)
        )
    )
    den = a - b
    if np.any(den == 0):
        raise ParameterError("the two end members have the same abundance; the share is undefined")
    f = (a - xd) / den
    # partial derivatives: df/dxd = -1/den, df/da = (xd - b)/den², df/db = (a - xd)/den²
    var = (sd / den) ** 2 + (sa * (xd - b) / den**2) ** 2 + (sb * (a - xd) / den**2) ** 2
    return f, np.sqrt(var)
