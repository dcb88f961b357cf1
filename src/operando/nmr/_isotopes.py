"""6Li atomic fraction from 6Li and 7Li spectra of the same Li species.

The signal of one nucleus differs between the isotopes (gyromagnetic ratio, Larmor
frequency, probe and receiver); ``factor`` is the per-nucleus 7Li:6Li signal ratio,
so that ``N6 / N7 = factor * I6 / I7`` for integrals ``I6``, ``I7`` recorded and processed
alike. The paper measured 28.45 on natural-abundance LiCl; theory (receptivity ratio)
gives about 34.5, so it stays a parameter and :func:`sensitivity_factor` derives it from
a reference pair of known composition.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from operando.errors import ParameterError

__all__ = ["LI6_NATURAL", "SENSITIVITY_7LI_6LI", "li6_fraction", "sensitivity_factor"]

#: Natural 6Li atomic fraction, the IUPAC representative isotopic composition
#: x(6Li) = 0.0759(4) (IUPAC CIAAW; Meija et al., "Isotopic compositions of the elements
#: 2013", Pure Appl. Chem. 88, 293-306 (2016), Table 1). Natural materials range widely
#: (0.019-0.078), so calibrate on the reference actually used when it matters.
LI6_NATURAL = 0.0759

#: Per-nucleus 7Li:6Li signal ratio measured in the paper on natural-abundance LiCl.
SENSITIVITY_7LI_6LI = 28.45


def li6_fraction(
    i6: npt.ArrayLike,
    i7: npt.ArrayLike,
    *,
    factor: float = SENSITIVITY_7LI_6LI,
    sigma_i6: npt.ArrayLike = 0.0,
    sigma_i7: npt.ArrayLike = 0.0,
    sigma_factor: float = 0.0,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """6Li atomic fraction ``x = r / (1 + r)``, ``r = factor * I6 / I7``, with its uncertainty.

    Parameters
    ----------
    i6, i7 : (N,) array_like
        Integrals of the same species in the 6Li and the 7Li spectrum, in one common unit
        (same scans, gain and processing, or normalised to them).
    factor : float, default 28.45
        Per-nucleus 7Li:6Li signal ratio.
    sigma_i6, sigma_i7 : (N,) array_like, default 0
        Standard uncertainties of the integrals (see :func:`integral_uncertainty`).
    sigma_factor : float, default 0
        Standard uncertainty of ``factor``.

    Returns
    -------
    x6, sigma_x6 : (N,) ndarray of float64
        Atomic fraction (0..1) and its first-order propagated standard uncertainty.

    Examples
    --------
    >>> x, s = li6_fraction(1.0, 28.45 * 0.9241 / 0.0759)
    >>> round(float(x), 4)
    0.0759
    """
    a6, a7, s6, s7 = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (i6, i7, sigma_i6, sigma_i7)))
    if not factor > 0:
        raise ParameterError(f"sensitivity factor must be positive, got {factor}")
    if np.any(a7 <= 0):
        raise ParameterError("7Li integral must be positive")
    r = factor * a6 / a7
    x = r / (1.0 + r)
    rel2 = (s7 / a7) ** 2 + (sigma_factor / factor) ** 2
    # sigma_r from I6 in absolute terms, so that I6 ~ 0 still gets an uncertainty
    sr = np.sqrt((factor * s6 / a7) ** 2 + r**2 * rel2)
    return x, sr / (1.0 + r) ** 2


def sensitivity_factor(
    i6: float,
    i7: float,
    *,
    x6: float = LI6_NATURAL,
    sigma_i6: float = 0.0,
    sigma_i7: float = 0.0,
    sigma_x6: float = 0.0,
) -> tuple[float, float]:
    """Per-nucleus 7Li:6Li signal ratio from a reference pair of known 6Li fraction.

    Parameters
    ----------
    i6, i7 : float
        Integrals of the reference in the 6Li and 7Li spectra.
    x6 : float, default 0.0759
        6Li atomic fraction of the reference (natural abundance by default).
    sigma_i6, sigma_i7, sigma_x6 : float
        Standard uncertainties.

    Returns
    -------
    factor, sigma_factor : float
        ``factor = (I7 / I6) * x6 / (1 - x6)``.

    Examples
    --------
    >>> f, _ = sensitivity_factor(1.0, 28.45 * 0.9241 / 0.0759)
    >>> round(f, 2)
    28.45
    """
    if not (i6 > 0 and i7 > 0 and 0 < x6 < 1):
        raise ParameterError(f"need positive integrals and 0 < x6 < 1, got I6={i6}, I7={i7}, x6={x6}")
    f = (i7 / i6) * x6 / (1.0 - x6)
    rel2 = (sigma_i6 / i6) ** 2 + (sigma_i7 / i7) ** 2 + (sigma_x6 / (x6 * (1.0 - x6))) ** 2
    return float(f), float(f * np.sqrt(rel2))
