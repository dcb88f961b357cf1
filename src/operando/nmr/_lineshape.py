"""Fits of overlapping NMR lines (Lorentzian, Gaussian or Voigt) with lmfit: shift, width, area and their uncertainties.

The Knight shift of metallic Li (about 264.5 ppm) and the line width (amorphous ->
crystalline dendrites narrow the 6Li line) are read from such fits. Uncertainties are
lmfit's from the covariance matrix with the residuals weighted by the spectrum's noise
(``scale_covar=False``): they are honest only when the points' noise is independent, i.e.
without zero filling and with the noise of the spectrum given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from operando.errors import ParameterError

__all__ = ["SHAPES", "fit_lines"]

#: Line shapes :func:`fit_lines` fits (lmfit's models of these names).
SHAPES = ("lorentzian", "gaussian", "voigt")

COLUMNS = ("shift_ppm", "shift_ppm_err", "fwhm_ppm", "fwhm_ppm_err", "area", "area_err", "height")


def fit_lines(
    spectrum: npt.ArrayLike,
    ppm: npt.ArrayLike,
    *,
    centres_ppm: Sequence[float],
    window_ppm: tuple[float, float],
    noise: float,
    shape: str = "lorentzian",
    fwhm_guess_ppm: float | None = None,
    baseline: int = 1,
) -> tuple[pd.DataFrame, float]:
    """Least-squares fit of ``len(centres_ppm)`` lines plus a polynomial baseline inside a window.

    Parameters
    ----------
    spectrum : (K,) array_like of float
        Real spectrum.
    ppm : (K,) array_like of float
        Its axis (either order).
    centres_ppm : sequence of float
        Starting positions of the lines, ppm.
    window_ppm : (float, float)
        The fitted region.
    noise : float
        Standard deviation of the spectrum's noise per point (the residual weights).
    shape : {"lorentzian", "gaussian", "voigt"}
        Voigt lines have independent Gaussian and Lorentzian widths.
    fwhm_guess_ppm : float, optional
        Starting FWHM (default a twentieth of the window).
    baseline : int, default 1
        Degree of the baseline polynomial (0 constant, -1 none).

    Returns
    -------
    lines : pandas.DataFrame
        One row per line, ordered as ``centres_ppm``: ``shift_ppm``, ``fwhm_ppm``, ``area``
        (sum over points, the unit of :func:`operando.nmr.integrate`), each with ``_err``
        (1 sigma), and ``height``.
    chi2_reduced : float
        Reduced chi-square (near 1 when the model and the noise are right).

    Examples
    --------
    >>> x = np.linspace(10, -10, 2001)
    >>> y = 5.0 / (1 + ((x - 1.0) / 0.5) ** 2)
    >>> lines, _ = fit_lines(y, x, centres_ppm=[0.8], window_ppm=(-10, 10), noise=1e-3)
    >>> round(float(lines["shift_ppm"][0]), 4), round(float(lines["fwhm_ppm"][0]), 4)
    (1.0, 1.0)
    """
    import lmfit

    if shape not in SHAPES:
        raise ParameterError(f"line shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    if not noise > 0:
        raise ParameterError(f"noise must be positive, got {noise}")
    if not centres_ppm:
        raise ParameterError("give at least one line position")
    s = np.asarray(spectrum, dtype=np.float64)
    x = np.asarray(ppm, dtype=np.float64)
    lo, hi = min(window_ppm), max(window_ppm)
    m = (x >= lo) & (x <= hi)
    n_par = 3 * len(centres_ppm) + (len(centres_ppm) if shape == "voigt" else 0) + baseline + 1
    if m.sum() <= n_par + 2:
        raise ParameterError(f"window {lo}..{hi} ppm holds {int(m.sum())} points, too few for {n_par} parameters")
    xs, ys = x[m], s[m]
    step = abs(x[1] - x[0])
    width = fwhm_guess_ppm if fwhm_guess_ppm else (hi - lo) / 20.0
    models = {"lorentzian": lmfit.models.LorentzianModel, "gaussian": lmfit.models.GaussianModel,
              "voigt": lmfit.models.VoigtModel}  # fmt: skip
    model: lmfit.Model | None = None
    params = lmfit.Parameters()
    for i, c in enumerate(centres_ppm):
        if not lo <= c <= hi:
            raise ParameterError(f"line position {c} ppm is outside the window {lo}..{hi} ppm")
        part = models[shape](prefix=f"l{i}_")
        params.update(part.make_params())
        height = float(np.interp(c, xs[::-1], ys[::-1]) if xs[0] > xs[-1] else np.interp(c, xs, ys))
        params[f"l{i}_center"].set(value=c, min=lo, max=hi)
        sig = width / 2 if shape == "lorentzian" else width / 2.3548
        if shape == "voigt":
            sig = width / 3.6
            params[f"l{i}_gamma"].set(value=sig, min=step / 10, vary=True, expr=None)
        params[f"l{i}_sigma"].set(value=sig, min=step / 10, max=hi - lo)
        params[f"l{i}_amplitude"].set(value=max(height, noise) * width * 1.2)
        model = part if model is None else model + part
    assert model is not None
    if baseline >= 0:
        base = lmfit.models.PolynomialModel(degree=min(baseline, 7), prefix="b_")
        params.update(base.make_params(**{f"c{k}": 0.0 for k in range(min(baseline, 7) + 1)}))
        model = model + base
    result = model.fit(ys, params, x=xs, weights=np.full(xs.size, 1.0 / noise), scale_covar=False)
    if not result.success or result.covar is None:
        raise ParameterError(f"the fit of {len(centres_ppm)} {shape} line(s) did not converge ({result.message})")
    rows = []
    for i in range(len(centres_ppm)):
        p = result.params
        fw = p[f"l{i}_fwhm"]
        rows.append({
            "shift_ppm": p[f"l{i}_center"].value, "shift_ppm_err": p[f"l{i}_center"].stderr,
            "fwhm_ppm": fw.value, "fwhm_ppm_err": fw.stderr,
            "area": p[f"l{i}_amplitude"].value / step, "area_err": p[f"l{i}_amplitude"].stderr / step,
            "height": p[f"l{i}_height"].value,
        })  # fmt: skip
    table = pd.DataFrame(rows, columns=list(COLUMNS)).astype(np.float64)
    return table, float(result.redchi)
