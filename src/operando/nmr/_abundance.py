"""6Li abundance of samples from their spectra, and the ``"nmr-isotopes"`` result dataset.

:func:`isotope_integral` turns one processed spectrum into the per-scan integral of one
line with its noise uncertainty (what :func:`operando.nmr.li6_fraction` needs);
:func:`isotopes_dataset` assembles the fractions of several samples, and optionally the
tracer-exchange model curve they are compared with, into the dataset that
``operando nmr isotopes -o`` writes and the HTML report's ``nmr-isotopes`` section
draws (the schema is defined here, in one place).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import xarray as xr

from operando.errors import ParameterError
from operando.nmr._process import integral_uncertainty, integrate, noise_std, window_mask
from operando.nmr._spectrum import process

if TYPE_CHECKING:  # the type only: kernels import no reader
    from operando.nmr.io._bruker import NMRFID

__all__ = ["isotope_integral", "isotopes_dataset"]


def isotope_integral(
    fid: NMRFID,
    *,
    window_ppm: tuple[float, float],
    noise_ppm: tuple[float, float],
    lb_Hz: float = 0.0,
    phase_mode: Literal["manual", "auto"] = "manual",
) -> tuple[float, float]:
    """Integral of one line per scan, in FID-amplitude units, and its noise uncertainty.

    The spectrum is processed with ``first_point=0.5`` (no integral offset) and divided by
    the spectrum size and the number of scans, so that a line of FID amplitude ``A`` at
    ``t = 0`` integrates to ``A`` whatever the size and the scans: integrals of the 6Li
    and 7Li spectra of one sample are then comparable.

    Parameters
    ----------
    fid : NMRFID
        From :func:`operando.nmr.read_fid`.
    window_ppm : (float, float)
        Integration window.
    noise_ppm : (float, float)
        Signal-free window for the noise standard deviation.
    lb_Hz : float, default 0
        Exponential line broadening.
    phase_mode : {"manual", "auto"}, default "manual"

    Returns
    -------
    value, sigma : float
        Integral (sum over the window's points) and its standard uncertainty.
    """
    ds = process(fid, lb_Hz=lb_Hz, phase_mode=phase_mode, first_point=0.5)
    norm = ds.attrs["size"] * fid.meta.ns
    spec, ppm = np.atleast_2d(ds["intensity"].values)[0] / norm, ds["ppm"].values
    lo, hi = window_ppm
    value = float(integrate(spec, ppm, lo=lo, hi=hi))
    noise = noise_std(spec, ppm, lo=noise_ppm[0], hi=noise_ppm[1])
    sigma = float(integral_uncertainty(noise, int(window_mask(ppm, lo, hi).sum())))
    return value, sigma


def _column(values: npt.ArrayLike | None, n: int, name: str) -> npt.NDArray[np.float64] | None:
    if values is None:
        return None
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size != n:
        raise ParameterError(f"{name} has {arr.size} values for {n} samples")
    return arr


def isotopes_dataset(
    samples: Sequence[str],
    li6_fraction: npt.ArrayLike,
    li6_fraction_err: npt.ArrayLike,
    *,
    charge_mAh: npt.ArrayLike | None = None,
    species: Sequence[str] | None = None,
    integral_6li: npt.ArrayLike | None = None,
    integral_7li: npt.ArrayLike | None = None,
    mechanism: Sequence[str] | None = None,
    model_charge_mAh: npt.ArrayLike | None = None,
    model_li6_fraction: npt.ArrayLike | None = None,
    model_label: str = "tracer-exchange model",
    factor: float,
    factor_err: float = 0.0,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """The ``"nmr-isotopes"`` dataset: 6Li fraction per sample, optionally a model curve.

    Parameters
    ----------
    samples : (N,) sequence of str
        Sample names (unique): the ``sample`` coordinate.
    li6_fraction, li6_fraction_err : (N,) array_like
        6Li atomic fraction (0..1) and its standard uncertainty.
    charge_mAh : (N,) array_like, optional
        Charge passed through the sample's cell before it was measured (mA h; NaN when
        not applicable, e.g. a reference).
    species : (N,) sequence of str, optional
        What each sample is (``"electrode"``, ``"electrolyte"``, ``"dendrite"``...): a
        ``species`` coordinate.
    integral_6li, integral_7li : (N,) array_like, optional
        The integrals the fractions come from (FID amplitude per scan).
    mechanism : (N,) sequence of str, optional
        Growth mechanism of dendrite samples (:func:`operando.nmr.classify_dendrite`;
        ``""`` for the others).
    model_charge_mAh, model_li6_fraction : (M,) array_like, optional
        A model curve (e.g. :func:`operando.nmr.electrolyte_abundance`): variable
        ``model_li6_fraction`` over the dimension coordinate ``model_charge_mAh``.
    model_label : str
        The curve's ``long_name``.
    factor, factor_err : float
        The 7Li:6Li sensitivity factor used, and its standard uncertainty.
    attrs : mapping, optional
        More attributes (parameters of the model, the reference...).

    Returns
    -------
    xarray.Dataset
        ``attrs["operando_kind"] = "nmr-isotopes"``; dimension ``sample``; variables
        ``li6_fraction``, ``li6_fraction_err`` (units ``"1"``) and those given.

    Examples
    --------
    >>> ds = isotopes_dataset(["electrode"], [0.95], [0.002], factor=28.45)
    >>> ds.attrs["operando_kind"], ds["li6_fraction"].dims
    ('nmr-isotopes', ('sample',))
    """
    names = [str(s) for s in samples]
    n = len(names)
    if n == 0 or len(set(names)) != n:
        raise ParameterError(f"need at least one sample and unique names, got {names}")
    x = np.asarray(_column(li6_fraction, n, "li6_fraction"))
    sx = np.asarray(_column(li6_fraction_err, n, "li6_fraction_err"))
    data: dict[str, Any] = {
        "li6_fraction": ("sample", x, {"units": "1", "long_name": "6Li atomic fraction"}),
        "li6_fraction_err": ("sample", sx, {"units": "1", "long_name": "standard uncertainty of li6_fraction"}),
    }
    coords: dict[str, Any] = {"sample": names}
    for name, values, unit, long in (
        ("charge_mAh", charge_mAh, "mA h", "charge passed before the measurement"),
        ("integral_6li", integral_6li, "FID amplitude per scan", "6Li line integral"),
        ("integral_7li", integral_7li, "FID amplitude per scan", "7Li line integral"),
    ):
        col = _column(values, n, name)
        if col is not None:
            data[name] = ("sample", col, {"units": unit, "long_name": long})
    for name, labels in (("species", species), ("mechanism", mechanism)):
        if labels is not None:
            if len(labels) != n:
                raise ParameterError(f"{name} has {len(labels)} values for {n} samples")
            target = coords if name == "species" else data
            target[name] = ("sample", np.array([str(v) for v in labels]), {"units": ""})
    if (model_charge_mAh is None) != (model_li6_fraction is None):
        raise ParameterError("model_charge_mAh and model_li6_fraction go together")
    if model_charge_mAh is not None and model_li6_fraction is not None:
        q = np.asarray(model_charge_mAh, dtype=np.float64).reshape(-1)
        m = np.asarray(model_li6_fraction, dtype=np.float64).reshape(-1)
        if q.shape != m.shape:
            raise ParameterError(f"model curve: {q.size} charges but {m.size} fractions")
        coords["model_charge_mAh"] = ("model_charge_mAh", q, {"units": "mA h", "long_name": "charge passed"})
        data["model_li6_fraction"] = ("model_charge_mAh", m, {"units": "1", "long_name": model_label})
    out_attrs = {"operando_kind": "nmr-isotopes", "factor": float(factor), "factor_err": float(factor_err)}
    out_attrs.update(dict(attrs or {}))
    return xr.Dataset(data, coords=coords, attrs=out_attrs)
