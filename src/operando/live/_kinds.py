"""What the watch processes: one entry per kind of measurement it recognises.

Each kind says which files are its measurements (by content, through the format
registry), when one is complete, how one is computed (the batch pipeline's own per-
measurement step, with the batch command's options) and how the measurements so far make
the store the batch ``series`` command would write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from operando.echem import EchemRecord
from operando.live._complete import Completion, bliss_complete, hdf5_complete

__all__ = ["LIVE_KINDS", "LiveKind"]


@dataclass(frozen=True)
class LiveKind:
    """One kind of measurement the watch follows.

    Attributes
    ----------
    name : str
        Short name, also the option table's name in the TOML file (``[sxdm]``).
    store_name : str
        The series store's file name in the results folder.
    formats : frozenset of str
        Names of the registry formats (:mod:`operando.formats`) whose files are its
        measurements.
    complete : callable
        ``complete(path) -> Completion``.
    compute : callable
        ``compute(key, options) -> Dataset`` of one measurement, not yet placed on the
        potentiostat record.
    assemble : callable
        ``assemble(frames, keys, record, options) -> Dataset``: the store's content.
    start_time : callable
        ``start_time(frame) -> str``: ISO time the measurement started (acquisition order).
    """

    name: str
    store_name: str
    formats: frozenset[str]
    complete: Callable[[Path], Completion]
    compute: Callable[[str, Mapping[str, Any]], xr.Dataset]
    assemble: Callable[[list[xr.Dataset], list[str], EchemRecord | None, Mapping[str, Any]], xr.Dataset]
    start_time: Callable[[xr.Dataset], str]


def _sxdm_compute(key: str, options: Mapping[str, Any]) -> xr.Dataset:
    from operando.pipelines.sxdm import process_kmap

    maps, _ = process_kmap(key, **options)
    return maps


def _sxdm_assemble(
    frames: list[xr.Dataset], keys: list[str], record: EchemRecord | None, options: Mapping[str, Any]
) -> xr.Dataset:
    from operando.live._series import concat_frames
    from operando.pipelines.sxdm import place_map

    placed = []
    for maps in frames:
        if record is not None:
            maps = place_map(maps, record)
        echem_attrs = {k: maps.attrs[k] for k in ("echem_source", "echem_sha256") if k in maps.attrs}
        placed.append(
            maps.drop_attrs(deep=False).assign_attrs(modality="sxdm", operando_kind="sxdm-maps", **echem_attrs)
        )
    return concat_frames(placed, keys)


def _sxdm_start(frame: xr.Dataset) -> str:
    return str(frame.attrs.get("first_scan_start", ""))


LIVE_KINDS: dict[str, LiveKind] = {
    "sxdm": LiveKind(
        name="sxdm",
        store_name="sxdm_maps.zarr",
        formats=frozenset({"bliss-kmap"}),
        complete=bliss_complete,
        compute=_sxdm_compute,
        assemble=_sxdm_assemble,
        start_time=_sxdm_start,
    ),
}
_ = hdf5_complete  # DXchange scans (tomography) are the next kind: complete when their writer closed them
