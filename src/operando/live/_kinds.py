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
        ``compute(key, done, options) -> Dataset`` of one measurement (``done``: the keys
        processed before it, in acquisition order), not yet placed on the potentiostat
        record.
    assemble : callable
        ``assemble(frames, keys, record, options) -> Dataset``: the store's content.
    start_time : callable
        ``start_time(frame) -> str``: ISO time the measurement started (acquisition order).
    """

    name: str
    store_name: str
    formats: frozenset[str]
    complete: Callable[[Path], Completion]
    compute: Callable[[str, list[str], Mapping[str, Any]], xr.Dataset]
    assemble: Callable[[list[xr.Dataset], list[str], EchemRecord | None, Mapping[str, Any]], xr.Dataset]
    start_time: Callable[[xr.Dataset], str]


def _sxdm_compute(key: str, done: list[str], options: Mapping[str, Any]) -> xr.Dataset:
    from operando.pipelines.sxdm import plan_series

    # the first map that landed is the series' reference (grid, monitor, crystal position),
    # as the first map given to `operando sxdm series` is
    masters = [done[0], key] if done and done[0] != key else [key]
    return plan_series(masters, **options).measure(key)


def _sxdm_assemble(
    frames: list[xr.Dataset], keys: list[str], record: EchemRecord | None, options: Mapping[str, Any]
) -> xr.Dataset:
    from operando.pipelines.sxdm import plan_series
    from operando.store import concat_frames

    plan = plan_series(keys, record=record, **options)
    series = concat_frames([plan.frame(f, record) for f in frames], keys)
    return plan.finish(series)


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
