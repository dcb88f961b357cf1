"""One registry of result kinds: what each kind of result store holds.

Every result dataset says what it is in ``attrs["operando_kind"]``. The writers
(:func:`operando.store.write_results` checks the required variables before anything is
written), ``operando info`` (names the kind and what it means) and the report (one
section per kind) share this table, so a kind is spelled in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from operando.errors import ParameterError

__all__ = ["KINDS", "ResultKind", "check_result", "describe_kind", "kind_of"]


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
        ``""`` dimensionless, ``None`` not checked).
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
        {"contact_area_mm2": "mm2", "stripping_fraction": None},
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
    ResultKind("nmr-spectrum", "nmr", "processed 1D spectrum on a ppm axis", {"intensity": None}),
    ResultKind("nmr-isotopes", "nmr", "6Li atomic fraction of each sample", {"li6_fraction": None}),
)

KINDS: Mapping[str, ResultKind] = {k.name: k for k in _TABLE}
"""Every result kind, by name."""


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
    if ds.attrs.get("modality") == "sxdm" and "frame" in ds.dims:
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
        if units is not None and ds[var].attrs.get("units") != units:
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
