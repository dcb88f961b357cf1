"""A tomography series built one scan at a time: what ``operando tomo series`` does, in two steps.

:func:`operando.pipelines.tomo.process_series` takes every scan at once. A caller that gets
scans as they land (``operando watch``) needs its two halves apart: :func:`measure_tomo_scan`,
the per-scan step (reconstruct, segment, interfaces and quantities, with the volume kept
for the series store), and :func:`assemble_tomo_scans`, which makes the series store's content
from the scans measured so far, placed on the potentiostat record as far as it has grown.
Both go through :mod:`operando.pipelines.tomo` (``process_scan``, ``scan_window``, and the
same helpers ``process_series`` runs after its scans for the registered contact change and
the kept volumes and labels); the assembly mirrors its other steps (frames read back from a
store, ``time_s``, ``stripping_fraction``), and ``tests/live`` checks that the result equals
``operando tomo series`` on the same files, variable by variable.

:func:`tomo_series_options` turns a flat table of the command's option names (a TOML ``[tomo]``
table) into :class:`~operando.pipelines.tomo.SeriesOptions`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from operando.errors import MissingMetadataError, ParameterError
from operando.pipelines.tomo import (
    PrepOptions,
    SeriesOptions,
    _scan_starts,
    _with_changes,
    _with_volumes,
    process_scan,
    scan_window,
)
from operando.tomo import InterphaseClassifier, Thresholds, stripping_fraction

__all__ = [
    "TOMO_OPTION_NAMES",
    "assemble_tomo_scans",
    "measure_tomo_scan",
    "tomo_scan_window",
    "tomo_series_options",
]

# ``tomo series`` option (as a TOML key: dashes become underscores) -> (SeriesOptions / PrepOptions field, type)
_SERIES_KEYS: dict[str, tuple[str, type]] = {
    "voxel_size_um": ("voxel_size_um", float),
    "center": ("center_px", float),
    "stripes": ("stripes", bool),
    "keep_volumes": ("keep_volumes", bool),
    "volume_dtype": ("volume_dtype", str),
    "void_distance": ("void_distance_px", int),
    "small_region_mm2": ("small_region_mm2", float),
    "analyses": ("analyses", bool),
    "density_edge_um": ("density_edge_um", float),
}
_PREP_KEYS: dict[str, tuple[str, type]] = {
    "rings": ("rings", str),
    "zingers": ("zingers", bool),
    "binning": ("binning", int),
    "rows": ("rows", tuple),
    "crop": ("crop", tuple),
    "paganin_delta_beta": ("paganin_delta_beta", float),
    "distance_mm": ("distance_mm", float),
    "no_flats": ("no_flats", bool),
}
_OTHER_KEYS = {"thresholds", "classifier", "trust_pickle"}
TOMO_OPTION_NAMES = frozenset(_SERIES_KEYS) | frozenset(_PREP_KEYS) | _OTHER_KEYS
"""The keys a ``[tomo]`` table may hold: ``tomo series``'s options with underscores, plus ``thresholds``."""

# the scans ``process_series`` dates (its rule: other files get no window)
_DATED_SUFFIXES = (".h5", ".hdf5", ".nxs")


def _typed(key: str, value: Any, kind: type) -> Any:
    if kind is tuple:
        if isinstance(value, str):  # "START:STOP" as on the command line
            value = value.replace(",", ":").split(":")
        try:
            return tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise ParameterError(f"[tomo] {key} = {value!r}: give whole numbers, e.g. [0, 40]") from None
    if kind is bool:
        if not isinstance(value, bool):
            raise ParameterError(f"[tomo] {key} = {value!r}: give true or false")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ParameterError(f"[tomo] {key} = {value!r}: give a string")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(f"[tomo] {key} = {value!r}: give a number")
    if kind is int and float(value) != int(value):
        raise ParameterError(f"[tomo] {key} = {value!r}: give a whole number")
    return kind(value)


def tomo_series_options(table: Mapping[str, Any]) -> SeriesOptions:
    """``tomo series``'s options from a flat table of its option names (underscores for dashes).

    Parameters
    ----------
    table : mapping
        E.g. ``{"voxel_size_um": 5.0, "center": 24.0, "rings": "detect", "rows": [0, 40],
        "thresholds": {"void": 0.1, "lithium": 0.3, "electrolyte": 0.6}}``. ``dvc`` is
        refused (the displacement between scans is computed by ``tomo series`` afterwards);
        ``classifier`` and ``trust_pickle`` are left to the caller (:func:`measure_tomo_scan`).

    Returns
    -------
    SeriesOptions
        Checked as ``tomo series`` checks them.

    Raises
    ------
    ParameterError
        An unknown key, a value of the wrong type, or one out of range.

    Examples
    --------
    >>> o = tomo_series_options({"voxel_size_um": 5, "center": 24.0, "rows": "0:40", "no_flats": True})
    >>> o.voxel_size_um, o.center_px, o.prep.rows, o.prep.no_flats
    (5.0, 24.0, (0, 40), True)
    """
    if "dvc" in table or any(k.startswith("dvc_") for k in table):
        raise ParameterError(
            "[tomo] dvc: the displacement between scans is not followed live; run 'operando tomo series --dvc' "
            "on the scans afterwards"
        )
    unknown = sorted(set(table) - TOMO_OPTION_NAMES)
    if unknown:
        raise ParameterError(f"[tomo]: unknown options {unknown} (known: {sorted(TOMO_OPTION_NAMES)})")
    series = {f: _typed(k, table[k], t) for k, (f, t) in _SERIES_KEYS.items() if table.get(k) is not None}
    prep = {f: _typed(k, table[k], t) for k, (f, t) in _PREP_KEYS.items() if table.get(k) is not None}
    for name, want in (("rows", 2), ("crop", 4)):
        if name in prep and len(prep[name]) != want:
            raise ParameterError(f"[tomo] {name} = {table[name]!r}: give {want} whole numbers")
    thresholds = None
    if table.get("thresholds") is not None:
        given = table["thresholds"]
        if not isinstance(given, Mapping):
            raise ParameterError("[tomo] thresholds: give a table, e.g. {void = 0.1, lithium = 0.3, electrolyte = 0.6}")
        try:
            thresholds = Thresholds(**{k: float(v) for k, v in given.items()})
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"[tomo] thresholds {dict(given)}: {exc}") from None
    return SeriesOptions(prep=PrepOptions(**prep), thresholds=thresholds, **series)


def tomo_scan_window(path: str | PathLike[str]) -> tuple[str, str] | None:
    """Start and end (ISO) of a scan, by the rule of ``tomo series`` (only HDF5 scans are dated).

    Examples
    --------
    >>> tomo_scan_window("scan.tif") is None
    True
    """
    p = Path(path)
    return scan_window(p) if p.suffix.lower() in _DATED_SUFFIXES else None


def measure_tomo_scan(
    path: str | PathLike[str],
    options: SeriesOptions,
    classifier: InterphaseClassifier | None = None,
    *,
    keep_volume: str | PathLike[str] | None = None,
    scratch: str | PathLike[str] | None = None,
) -> xr.Dataset:
    """One scan of a series, computed as ``tomo series`` computes each scan (not yet placed).

    Parameters
    ----------
    path : path
        The scan (DXchange, NeXus).
    options : SeriesOptions
    classifier : InterphaseClassifier, optional
    keep_volume : path, optional
        Zarr store for the scan's volume, labels and electrolyte mask; needed by
        :func:`assemble_tomo_scans` when ``options.keep_volumes``.
    scratch : path, optional
        Folder for the temporary store the volume passes through.

    Returns
    -------
    xarray.Dataset
        :func:`operando.pipelines.tomo.process_scan`'s result: contact maps
        ``(interface, y, x)`` and the scan's quantities (mm², mm³, µm).
    """
    return process_scan(path, options, classifier, keep_volume=keep_volume, scratch=scratch)


def _read_back(series: xr.Dataset, scratch: Path) -> xr.Dataset:
    """The frames as ``tomo series`` uses them: written as one store and read back."""
    from operando.store import open_results, write_results

    store = scratch / "frames.zarr"
    write_results(series, store, overwrite=True)
    return open_results(store).load()


def assemble_tomo_scans(
    frames: Sequence[xr.Dataset],
    keys: Sequence[str],
    windows: Sequence[tuple[str, str] | None],
    record: Any,
    options: SeriesOptions,
    *,
    volumes: Sequence[str | PathLike[str]] | None,
    scratch: str | PathLike[str],
) -> xr.Dataset:
    """The ``tomo-series`` content of the scans measured so far, in acquisition order.

    Parameters
    ----------
    frames : sequence of xarray.Dataset
        :func:`measure_tomo_scan` of each scan (not placed).
    keys : sequence of str
        Each scan's path (the store's ``key`` coordinate).
    windows : sequence of (str, str) or None
        Each scan's start and end (:func:`tomo_scan_window`).
    record : operando.echem.EchemRecord, optional
        The potentiostat record so far: each scan is placed on it
        (:func:`operando.timeline.place_on_record`) and ``stripping_fraction`` uses its charge.
    options : SeriesOptions
        The options every frame was measured with.
    volumes : sequence of path, optional
        Each scan's kept volume store; needed when ``options.keep_volumes``.
    scratch : path
        A folder for the read-back store (replaced each time).

    Returns
    -------
    xarray.Dataset
        What ``tomo series`` stores for the same scans and options (``operando_kind``
        ``tomo-series``): dims ``frame`` (coordinate ``time_s``, s on the record's axis),
        ``interface``, ``y``, ``x`` and, with kept volumes, ``z``.

    Raises
    ------
    MissingMetadataError
        A record is given and a scan records no start date.
    """
    from operando.store import concat_frames
    from operando.timeline import place_on_record

    if not frames:
        raise ParameterError("no scan to assemble")
    if record is not None:
        for key, window in zip(keys, windows, strict=True):
            if window is None:
                raise MissingMetadataError("the scan records no start date: cannot place it on the echem record",
                                           path=key)  # fmt: skip
        frames = [place_on_record(f, record, w[0], w[1]) for f, w in zip(frames, windows, strict=True) if w]
    series = _read_back(concat_frames(list(frames), list(keys)), Path(scratch))
    series = series.assign_coords(time_s=("frame", _scan_starts(windows, record), {"units": "s"}))
    if record is not None:
        charge = np.abs(series["echem_charge_mAh"].values - series["echem_charge_mAh"].values[0])
        frac = stripping_fraction(series["li_volume_electrode_mm3"].values, charge)
    else:
        frac = np.full(series.sizes["frame"], np.nan)
    series["stripping_fraction"] = ("frame", frac, {"long_name": "share of the charge from Li-metal stripping"})
    kept = [Path(v) for v in volumes] if volumes is not None else None
    if options.keep_volumes and (kept is None or len(kept) != len(frames)):
        raise ParameterError("each scan's kept volume is needed for the series store")
    if options.analyses and options.keep_volumes and kept is not None and len(kept) > 1:
        series = _with_changes(series, kept, record is not None)
    series.attrs["operando_kind"] = "tomo-series"
    for name in [k for k in series.attrs if k.startswith("operando_") and k != "operando_kind"]:
        del series.attrs[name]
    if options.keep_volumes and kept is not None:
        series = _with_volumes(series, kept, options.volume_dtype)
    return series
