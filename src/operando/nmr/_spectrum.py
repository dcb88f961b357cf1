"""From a read Bruker or Varian FID to a spectrum with a ppm axis (an ``xarray.Dataset``)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import xarray as xr

from operando.errors import ParameterError
from operando.nmr._lp import lp_from_procs
from operando.nmr._process import WINDOWS, autophase, fid_baseline, ppm_axis, process_fid, window_function

if TYPE_CHECKING:  # the type only: kernels import no reader
    from operando.nmr.io._bruker import NMRFID

__all__ = ["process"]


def _procs_number(procs: dict[str, Any], key: str, default: float) -> float:
    """``procs[key]`` as a number; a value that is not a finite number (XWIN-NMR on Windows
    writes ``PHC0= -1.#IND``, ``LB= 1.#INF``) gives ``default``, with a warning naming the key.

    Examples
    --------
    >>> _procs_number({"LB": "0.3"}, "LB", 0.0), _procs_number({}, "LB", 1.0)
    (0.3, 1.0)
    """
    raw = procs.get(key, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = float("nan")
    if np.isfinite(value):
        return value
    warnings.warn(f"procs: {key} = {raw!r} is not a number: {default} used", stacklevel=3)
    return default


def process(
    fid: NMRFID,
    *,
    lb_Hz: float | None = None,
    size: int | None = None,
    phase_mode: Literal["manual", "auto"] = "manual",
    p0_deg: float | None = None,
    p1_deg: float | None = None,
    first_point: float = 1.0,
    reference_shift_ppm: float = 0.0,
) -> xr.Dataset:
    """Process raw data as TopSpin's ``efp`` would, returning the real spectrum.

    What ``pdata/1/procs`` says is followed: ``SI``, ``TDeff`` (points used), ``BC_mod``
    (FID offset, single/quad), ``ME_mod`` linear prediction (``NCOEF``, ``LPBIN``, ``TDoff``;
    :func:`operando.nmr._lp.lp_from_procs`),
    the window ``WDW`` (EM, GM, SINE, QSINE with ``LB``, ``GB``,
    ``SSB``), ``PHC0``/``PHC1`` and ``PH_mod`` (2: magnitude, 3: power spectrum, with the
    stored phases only); a step that cannot be reproduced is warned about. For
    pre-TopSpin digitally filtered data (``DSPFVS`` < 20) the stored ``PHC0`` is XWIN-NMR's,
    which is ``180 x group delay`` degrees off ours (``meta.phase_offset_deg``); it is
    added, so that the default result matches the spectrometer's ``1r``.

    Parameters
    ----------
    fid : NMRFID
        From :func:`read_bruker`, :func:`read_varian` or :func:`read_fid`.
    lb_Hz : float, optional
        Exponential line broadening; given, it replaces the stored window by ``EM`` with
        this ``LB``; default the stored window (``WDW``/``LB``/``GB``/``SSB``).
    size : int, optional
        Spectrum size after zero filling; default ``SI`` from ``procs``, else the next power
        of two at or above twice the FID length.
    phase_mode : {"manual", "auto"}
        ``"manual"``: ``p0_deg``/``p1_deg``, defaulting to ``PHC0``/``PHC1`` from ``procs``
        (0 without); ``"auto"``: :func:`autophase` on the sum of all rows.
    p0_deg, p1_deg : float, optional
        Phase angles in this package's convention (:func:`phase`), degrees; ``p0_deg``
        given is used as is (no XWIN-NMR offset).
    first_point : float, default 1.0
        See :func:`process_fid`; 1.0 reproduces TopSpin, 0.5 gives offset-free integrals.
    reference_shift_ppm : float, default 0
        Added to the ppm axis (``--reference OBSERVED=TRUE`` gives ``TRUE - OBSERVED``).

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
    data = fid.data
    tdeff = int(_procs_number(procs, "TDeff", 0))
    if 0 < tdeff // 2 < data.shape[-1]:
        data = data[..., : tdeff // 2]
    n = data.shape[-1]
    if size is None:
        size = int(procs["SI"]) if "SI" in procs else int(2 ** int(np.ceil(np.log2(2 * n))))
    bc_mod = int(_procs_number(procs, "BC_mod", 0))
    if bc_mod in (1, 2):
        data = fid_baseline(data, mode=bc_mod)
    elif bc_mod:
        warnings.warn(
            f"{meta.path}: FID baseline correction BC_mod={bc_mod} (polynomial/filter) is not applied", stacklevel=2
        )
    # TopSpin's linear prediction (ME_mod 1-2 forward to LPBIN, 3-4 backward over TDoff points)
    try:
        lp = lp_from_procs(procs, n)
    except ParameterError as exc:
        warnings.warn(f"{meta.path}: {exc}; no linear prediction applied", stacklevel=2)
        lp = None
    if lp is None and int(_procs_number(procs, "ME_mod", 0)) in (3, 4):
        warnings.warn(f"{meta.path}: backward linear prediction with TDoff=0: no point predicted", stacklevel=2)
    wdw = int(_procs_number(procs, "WDW", 0)) if lb_Hz is None else 1
    lb = _procs_number(procs, "LB", 0.0) if lb_Hz is None else float(lb_Hz)
    if wdw not in WINDOWS:
        warnings.warn(f"{meta.path}: window WDW={wdw} is not implemented; no window applied", stacklevel=2)
        wdw = 0
    window = window_function(
        size, wdw=wdw, sw_Hz=meta.sw_Hz, n_acquired=n, lb_Hz=lb,
        gb=_procs_number(procs, "GB", 0.0), ssb=_procs_number(procs, "SSB", 0.0),
    )  # fmt: skip
    offset = 0.0
    stored_phases = p0_deg is None and p1_deg is None
    if phase_mode == "auto":
        raw = process_fid(  # halved first point: no constant offset to lift dispersion tails (autophase)
            data,
            sw_Hz=meta.sw_Hz,
            size=size,
            group_delay=meta.group_delay,
            window=window,
            first_point=0.5,
            linear_prediction=lp,
        )
        p0_deg, p1_deg = autophase(raw.sum(axis=0))
    elif phase_mode == "manual":
        if p0_deg is None:
            p0_deg = (_procs_number(procs, "PHC0", 0.0) + meta.phase_offset_deg) % 360.0
            offset = meta.phase_offset_deg
        p1_deg = _procs_number(procs, "PHC1", 0.0) if p1_deg is None else p1_deg
    else:
        raise ParameterError(f"phase must be 'manual' or 'auto', got {phase_mode!r}")
    complex_spec = process_fid(
        data,
        sw_Hz=meta.sw_Hz,
        size=size,
        group_delay=meta.group_delay,
        p0_deg=p0_deg,
        p1_deg=p1_deg,
        scale=2.0**meta.nc,
        first_point=first_point,
        window=window,
        linear_prediction=lp,
    )
    # PH_mod: 1 phase correction (pk), 2 magnitude (mc), 3 power (ps); followed as efp did
    # when the phases are the stored ones
    ph_mod = int(_procs_number(procs, "PH_mod", 1)) if phase_mode == "manual" and stored_phases else 1
    if ph_mod == 2:
        spec = np.abs(complex_spec)
    elif ph_mod == 3:
        spec = np.abs(complex_spec) ** 2
    else:
        spec = complex_spec.real
    ppm = ppm_axis(size, sfo1_MHz=meta.sfo1_MHz, sw_Hz=meta.sw_Hz, reference_MHz=meta.reference_MHz)
    ppm = ppm + reference_shift_ppm
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
        "lb_Hz": float(lb if wdw in (1, 2) else 0.0),
        "window": WINDOWS[wdw],
        "size": int(size),
        "p0_deg": float(p0_deg),
        "p1_deg": float(p1_deg),
        "xwin_phase_offset_deg": float(offset),
        "phase_mode": phase_mode,
        "spectrum_mode": {2: "magnitude", 3: "power"}.get(ph_mod, "phased"),
        "first_point": float(first_point),
        "linear_prediction": "none" if lp is None else f"{lp.mode} {lp.points} points, order {lp.order}",
        "group_delay_points": float(meta.group_delay),
        "sfo1_MHz": meta.sfo1_MHz,
        "reference_MHz": meta.reference_MHz,
        "reference_shift_ppm": float(reference_shift_ppm),
        "ns": int(meta.ns),
        "rg": float(meta.rg),
    }
    return xr.Dataset({"intensity": da}, attrs=attrs)
