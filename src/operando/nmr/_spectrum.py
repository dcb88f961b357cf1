"""From a read Bruker or Varian FID to a spectrum with a ppm axis (an ``xarray.Dataset``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import xarray as xr

from operando.errors import ParameterError
from operando.nmr._process import autophase, ppm_axis, process_fid

if TYPE_CHECKING:  # the type only: kernels import no reader
    from operando.nmr.io._bruker import NMRFID

__all__ = ["process"]


def process(
    fid: NMRFID,
    *,
    lb_Hz: float | None = None,
    size: int | None = None,
    phase_mode: Literal["manual", "auto"] = "manual",
    p0_deg: float | None = None,
    p1_deg: float | None = None,
    first_point: float = 1.0,
) -> xr.Dataset:
    """Process raw data as TopSpin's ``efp`` would, returning the real spectrum.

    Parameters
    ----------
    fid : NMRFID
        From :func:`read_bruker`, :func:`read_varian` or :func:`read_fid`.
    lb_Hz : float, optional
        Exponential line broadening; default ``LB`` from ``pdata/1/procs`` when its window
        is exponential (``WDW`` = 1), else 0.
    size : int, optional
        Spectrum size after zero filling; default ``SI`` from ``procs``, else the next power
        of two at or above twice the FID length.
    phase_mode : {"manual", "auto"}
        ``"manual"``: ``p0_deg``/``p1_deg``, defaulting to ``PHC0``/``PHC1`` from ``procs``
        (0 without); ``"auto"``: ACME entropy minimisation on the sum of all rows.
    p0_deg, p1_deg : float, optional
        Phase angles (TopSpin's convention), degrees.
    first_point : float, default 1.0
        See :func:`process_fid`; 1.0 reproduces TopSpin, 0.5 gives offset-free integrals.

    Returns
    -------
    xarray.Dataset
        ``intensity`` with dims ``("ppm",)`` for one FID or ``("row", "ppm")`` for a pseudo-2D
        set, on TopSpin's absolute scale (``FT x 2**NC`` = ``1r x 2**NC_proc``); coordinate
        ``ppm`` (decreasing); attrs with the parameters used and ``operando_kind`` =
        ``"nmr-spectrum"``.
    """
    meta = fid.meta
    procs = meta.processing
    n = fid.data.shape[-1]
    if size is None:
        size = int(procs["SI"]) if "SI" in procs else int(2 ** int(np.ceil(np.log2(2 * n))))
    if lb_Hz is None:
        lb_Hz = float(procs.get("LB", 0.0)) if int(procs.get("WDW", 0)) == 1 else 0.0
    if phase_mode == "auto":
        raw = process_fid(
            fid.data, sw_Hz=meta.sw_Hz, size=size, group_delay=meta.group_delay, lb_Hz=lb_Hz, first_point=first_point
        )
        p0_deg, p1_deg = autophase(raw.sum(axis=0))
    elif phase_mode == "manual":
        p0_deg = float(procs.get("PHC0", 0.0)) if p0_deg is None else p0_deg
        p1_deg = float(procs.get("PHC1", 0.0)) if p1_deg is None else p1_deg
    else:
        raise ParameterError(f"phase must be 'manual' or 'auto', got {phase_mode!r}")
    spec = process_fid(
        fid.data,
        sw_Hz=meta.sw_Hz,
        size=size,
        group_delay=meta.group_delay,
        lb_Hz=lb_Hz,
        p0_deg=p0_deg,
        p1_deg=p1_deg,
        scale=2.0**meta.nc,
        first_point=first_point,
    ).real
    ppm = ppm_axis(size, sfo1_MHz=meta.sfo1_MHz, sw_Hz=meta.sw_Hz, reference_MHz=meta.reference_MHz)
    if spec.shape[0] == 1:
        da = xr.DataArray(spec[0], dims=("ppm",), coords={"ppm": ppm})
    else:
        da = xr.DataArray(spec, dims=("row", "ppm"), coords={"row": np.arange(spec.shape[0]), "ppm": ppm})
    da.attrs["units"] = "a.u. (TopSpin absolute scale)"
    da.coords["ppm"].attrs["units"] = "ppm"
    attrs = {
        "operando_kind": "nmr-spectrum",
        "nucleus": meta.nucleus,
        "vendor": meta.vendor,
        "source": meta.path,
        "lb_Hz": float(lb_Hz),
        "size": int(size),
        "p0_deg": float(p0_deg),
        "p1_deg": float(p1_deg),
        "phase_mode": phase_mode,
        "first_point": float(first_point),
        "group_delay_points": float(meta.group_delay),
        "sfo1_MHz": meta.sfo1_MHz,
        "reference_MHz": meta.reference_MHz,
    }
    return xr.Dataset({"intensity": da}, attrs=attrs)
