"""One registry of result kinds: what each kind of result store holds.

Every result dataset says what it is in ``attrs["operando_kind"]``. The writers
(:func:`operando.store.write_results` checks the required variables before anything is
written), ``operando info`` (names the kind and what it means) and the report (one
section per kind) share this table, so a kind is spelled in one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from operando.errors import ParameterError

__all__ = ["KINDS", "ResultKind", "check_result", "describe_kind", "is_description", "kind_of", "normalize_units"]


@dataclass(frozen=True)
class ResultKind:
    """One kind of result.

    Attributes
    ----------
    name : str
        The value of ``attrs["operando_kind"]``, e.g. ``"sxdm-maps"``.
    modality : str
        ``sxdm``, ``tomo``, ``nmr``, ``mri`` or ``echem``.
    description : str
        One line for ``operando info`` and the report.
    required : mapping of str to str
        Variables every dataset of this kind has, with their units (pint-parseable,
        ``"1"`` dimensionless, ``None`` not checked; compared after
        :func:`normalize_units`, so ``"mm2"`` and ``"mm**2"`` are the same).
    """

    name: str
    modality: str
    description: str
    required: Mapping[str, str | None] = field(default_factory=dict)


_TABLE = (
    ResultKind(
        "sxdm-maps",
        "sxdm",
        "K-map(s): d-spacing, strain and tilt per scan point (along frame for a series)",
        {"d_spacing": "angstrom", "strain": None, "tilt_altitude": "deg", "tilt_azimuth": "deg"},
    ),
    ResultKind(
        "tomo-segmentation",
        "tomo",
        "labelled volume of a Li | electrolyte | Li cell (electrolyte, Li, void, interphase, ...)",
        {"labels": None},
    ),
    ResultKind("tomo-interface", "tomo", "Li/electrolyte contact maps of each interface", {"contact": None}),
    ResultKind(
        "tomo-displacement",
        "tomo",
        "displacement field between two scans (digital volume correlation)",
        {"uz": "voxel", "uy": "voxel", "ux": "voxel"},
    ),
    ResultKind(
        "tomo-series",
        "tomo",
        "operando tomography series: volumes, contact and stripping along frame",
        {"contact_area_mm2": "mm**2", "stripping_fraction": None},
    ),
    ResultKind(
        "tomo-cellmodel",
        "tomo",
        "Butler-Volmer cell model on a tomography series' contact areas",
        {"measured_voltage_V": "V", "predicted_voltage_V": "V"},
    ),
    ResultKind(
        "echem-cellmodel",
        "echem",
        "Butler-Volmer symmetric-cell model fitted to a record",
        {"measured_voltage_V": "V", "predicted_voltage_V": "V", "residual_V": "V"},
    ),
    ResultKind(
        "echem-timeline",
        "echem",
        "the measurements' windows on the charging curve (voltage, charge, x(Li) per measurement)",
        {"t_start_s": "s", "t_end_s": "s", "voltage_V": "V", "in_record": None},
    ),
    ResultKind(
        "mri-layers",
        "mri",
        "Li amount per depth layer and frame, growth rates, stages I-IV",
        {"amount": None, "amount_err": None, "growth_rate": None, "stage": None},
    ),
    ResultKind(
        "mri-csi",
        "mri",
        "3D chemical-shift imaging: metal and electrolyte signal per voxel (areas of their shift windows)",
        {"metal": None, "electrolyte": None, "noise_sigma": None},
    ),
    ResultKind("nmr-spectrum", "nmr", "processed 1D spectrum on a ppm axis", {"intensity": None}),
    ResultKind("nmr-isotopes", "nmr", "6Li atomic fraction of each sample", {"li6_fraction": None}),
    ResultKind(
        "nmr-lines",
        "nmr",
        "fitted NMR lines per sample: shift (Knight shift), FWHM and area with uncertainties",
        {"shift_ppm": "ppm", "fwhm_ppm": "ppm", "area": None},
    ),
)

KINDS: Mapping[str, ResultKind] = {k.name: k for k in _TABLE}
"""Every result kind, by name."""


_DIMENSIONLESS = {"", "1", "dimensionless", "unitless", "none", "-", "fraction", "ratio", "a.u.", "au", "arb. units"}
# a unit symbol followed by an integer power written without an operator: mm2, cm-3, s-1
_BARE_POWER = re.compile(r"(?<![\w*^.])([A-Za-zµμÅΩ]+)(-?[0-9]+)(?![\w.])")
_ARBITRARY = re.compile(r"(?<![\w.])(a\.u\.|arb\.\s*units?|arbitrary\s+units?)(?![\w.])", re.IGNORECASE)
# words that are unit names (pint's): any other word of 4+ letters, or an upper-case
# acronym of 3+ letters, makes the text a description, not a unit
_UNIT_WORDS = {
    *("angstrom", "angstroms", "second", "seconds", "minute", "minutes", "hour", "hours", "gram", "grams"),
    *("count", "counts", "voxel", "voxels", "pixel", "pixels", "degree", "degrees", "kelvin", "volt", "volts"),
    *("ampere", "amperes", "meter", "meters", "metre", "metres", "radian", "radians", "percent", "hertz"),
    *("tesla", "liter", "liters", "litre", "litres", "mole", "moles", "degC", "ohm", "ohms", "coulomb", "coulombs"),
    *("watt", "watts", "joule", "joules", "electron_volt", "dimensionless", "year", "years", "day", "days"),
}
_WORD = re.compile(r"[A-Za-z_]+")


def is_description(units: str) -> bool:
    """True when a ``units`` text is a description (``"FID amplitude per scan"``), not a unit.

    Examples
    --------
    >>> is_description("FID amplitude per scan"), is_description("mA h/g"), is_description("counts/s")
    (True, False, False)
    """
    for word in _WORD.findall(units):
        if word in _UNIT_WORDS or word.lower() in _UNIT_WORDS:
            continue
        if len(word) >= 4 or (len(word) >= 3 and word.isupper()) or word.lower() == "per":
            return True
    return False


def normalize_units(units: Any) -> str:
    """The pint-parseable spelling of a ``units`` attribute.

    Bare powers get an operator (``mm2`` -> ``mm**2``, ``g-1`` -> ``g**-1``), ``^`` becomes
    ``**``, arbitrary-unit factors are dropped (``a.u. mm`` -> ``mm``), and every spelling
    of dimensionless (``''``, ``'1'``, ``'dimensionless'``, ``'a.u.'``, ...) becomes ``'1'``,
    as does a description written where a unit belongs (:func:`is_description`). Anything
    else is returned stripped and unchanged.

    Parameters
    ----------
    units : str
        The attribute as written (non-strings are turned into text).

    Returns
    -------
    str

    Examples
    --------
    >>> normalize_units("mm2"), normalize_units("mm3"), normalize_units("mA h g-1")
    ('mm**2', 'mm**3', 'mA h g**-1')
    >>> normalize_units(""), normalize_units("dimensionless"), normalize_units("deg")
    ('1', '1', 'deg')
    >>> normalize_units("1/s"), normalize_units("m^2"), normalize_units("a.u. mm/s")
    ('1/s', 'm**2', 'mm/s')
    >>> normalize_units("FID amplitude per scan")
    '1'
    """
    text = str(units).strip()
    if text.lower() in _DIMENSIONLESS or is_description(_ARBITRARY.sub("", text)):
        return "1"
    text = _ARBITRARY.sub("", text).strip()
    text = text.strip("* ")
    if not text:
        return "1"
    if text.startswith("/"):
        text = "1" + text
    text = text.replace("^", "**")
    return _BARE_POWER.sub(r"\1**\2", text)


def kind_of(ds: Any) -> str:
    """The dataset's ``operando_kind``; for stores written before that attribute, a guess.

    Examples
    --------
    >>> import xarray as xr
    >>> kind_of(xr.Dataset(attrs={"operando_kind": "mri-layers"}))
    'mri-layers'
    >>> kind_of(xr.Dataset({"d_spacing": ("frame", [2.04])}, attrs={"modality": "sxdm"}))
    'sxdm-maps'
    >>> kind_of(xr.Dataset())
    'unknown'
    """
    kind = ds.attrs.get("operando_kind")
    if kind:
        return str(kind)
    if ds.attrs.get("modality") == "sxdm" and ("frame" in ds.dims or "d_spacing" in ds.variables):
        return "sxdm-maps"
    if {"t_start_s", "t_end_s", "in_record", "voltage_V"} <= set(ds.data_vars):
        return "echem-timeline"
    return "unknown"


def check_result(ds: Any) -> None:
    """Refuse a dataset that names a kind it does not satisfy (before anything is written).

    A kind that is not registered (a user's own, or a later version's) is not checked.

    Raises
    ------
    ParameterError
        A required variable missing, or one whose ``units`` attribute differs from the
        registry's.

    Examples
    --------
    >>> import xarray as xr
    >>> check_result(xr.Dataset({"li6_fraction": ("sample", [0.07])}, attrs={"operando_kind": "nmr-isotopes"}))
    >>> check_result(xr.Dataset(attrs={"operando_kind": "nmr-isotopes"}))
    Traceback (most recent call last):
    ...
    operando.errors.ParameterError: a nmr-isotopes result needs the variable(s) ['li6_fraction']
    """
    name = ds.attrs.get("operando_kind")
    if not name:
        return
    kind = KINDS.get(str(name))
    if kind is None:
        return
    missing = [v for v in kind.required if v not in ds.variables]
    if missing:
        raise ParameterError(f"a {kind.name} result needs the variable(s) {missing}")
    for var, units in kind.required.items():
        if units is not None and normalize_units(ds[var].attrs.get("units", "")) != normalize_units(units):
            raise ParameterError(f"{kind.name}: {var} must be in {units!r}, not {ds[var].attrs.get('units')!r}")


def describe_kind(name: str) -> str:
    """One line for ``operando info``: the kind's description, or that it is not registered.

    Examples
    --------
    >>> describe_kind("nmr-isotopes")
    '6Li atomic fraction of each sample'
    """
    kind = KINDS.get(name)
    return kind.description if kind else "not a registered result kind"
