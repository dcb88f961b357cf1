"""What the watch processes: one entry per kind of measurement it recognises.

Each kind says which files are its measurements (by content, through the format
registry), when one is complete, how one is computed (the batch pipeline's own per-
measurement step, with the batch command's options) and how the measurements so far make
the store the batch ``series`` command would write:

* ``sxdm``: Bliss K-maps -> ``sxdm_maps.zarr``, as ``operando sxdm series`` (the earliest
  map is the reference);
* ``tomo``: DXchange/NXtomo scans -> ``tomo_series.zarr``, as ``operando tomo series``;
* ``nmr``: TopSpin experiment folders -> ``nmr_spectra.zarr``, one frame per experiment,
  each what ``operando nmr process`` stores for it (there is no batch NMR series command).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from operando.echem import EchemRecord
from operando.live._complete import Completion, bliss_complete, projections_written, topspin_complete

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
        ``complete(path, options) -> Completion``.
    compute : callable
        ``compute(key, done, options, side) -> Dataset`` of one measurement (``done``: the
        keys processed before it, in acquisition order), not yet placed on the potentiostat
        record; ``side`` is a folder of its own for what the store needs beside the frame
        (a tomography scan's kept volume).
    assemble : callable
        ``assemble(frames, keys, record, options, sides, scratch) -> Dataset``: the store's
        content (``sides``: each frame's side folder; ``scratch``: a folder it may use).
    start_time : callable
        ``start_time(frame) -> str``: ISO time the measurement started (acquisition order).
    folder : bool
        A measurement is a folder (a TopSpin experiment), not a file.
    referenced : bool
        Each measurement is computed against the series' first one in acquisition order
        (a K-map's grid, monitor and crystal position): ``compute`` takes it as
        ``done[0]``, and when a measurement that started earlier lands later, the others
        are computed again against it.
    """

    name: str
    store_name: str
    formats: frozenset[str]
    complete: Callable[[Path, Mapping[str, Any]], Completion]
    compute: Callable[[str, list[str], Mapping[str, Any], Path], xr.Dataset]
    assemble: Callable[
        [list[xr.Dataset], list[str], EchemRecord | None, Mapping[str, Any], list[Path], Path], xr.Dataset
    ]
    start_time: Callable[[xr.Dataset], str]
    folder: bool = False
    referenced: bool = False


def _sxdm_complete(path: Path, options: Mapping[str, Any]) -> Completion:
    return bliss_complete(path)


def _sxdm_compute(key: str, done: list[str], options: Mapping[str, Any], side: Path) -> xr.Dataset:
    from operando.pipelines.sxdm import plan_series

    # the earliest map (acquisition start) is the series' reference (grid, monitor, crystal
    # position), as the first of the time-sorted maps given to `operando sxdm series` is; the
    # watch computes the others again when an earlier map lands later
    masters = [done[0], key] if done and done[0] != key else [key]
    return plan_series(masters, **options).measure(key)


def _sxdm_assemble(
    frames: list[xr.Dataset],
    keys: list[str],
    record: EchemRecord | None,
    options: Mapping[str, Any],
    sides: list[Path],
    scratch: Path,
) -> xr.Dataset:
    from operando.pipelines.sxdm import plan_series
    from operando.store import concat_frames

    plan = plan_series(keys, record=record, **options)
    series = concat_frames([plan.frame(f, record) for f in frames], keys)
    return plan.finish(series)


def _sxdm_start(frame: xr.Dataset) -> str:
    return str(frame.attrs.get("first_scan_start", ""))


# where a tomography frame keeps its scan's window (removed before the store is made)
_TOMO_START, _TOMO_END = "live_scan_start", "live_scan_end"


def _tomo_classifier(options: Mapping[str, Any]) -> Any:
    if not options.get("classifier"):
        return None
    from operando.tomo import load_classifier

    return load_classifier(Path(options["classifier"]), trust_pickle=bool(options.get("trust_pickle", False)))


def _tomo_compute(key: str, done: list[str], options: Mapping[str, Any], side: Path) -> xr.Dataset:
    from operando.pipelines import measure_tomo_scan, tomo_scan_window, tomo_series_options

    opts = tomo_series_options(options)
    keep = side / "volume.zarr" if opts.keep_volumes else None
    side.mkdir(parents=True, exist_ok=True)
    ds = measure_tomo_scan(key, opts, _tomo_classifier(options), keep_volume=keep, scratch=side)
    window = tomo_scan_window(key)
    return ds.assign_attrs({_TOMO_START: window[0] if window else "", _TOMO_END: window[1] if window else ""})


def _tomo_assemble(
    frames: list[xr.Dataset],
    keys: list[str],
    record: EchemRecord | None,
    options: Mapping[str, Any],
    sides: list[Path],
    scratch: Path,
) -> xr.Dataset:
    from operando.pipelines import assemble_tomo_scans, tomo_series_options

    opts = tomo_series_options(options)
    windows: list[tuple[str, str] | None] = []
    clean = []
    for f in frames:
        start, end = str(f.attrs.get(_TOMO_START, "")), str(f.attrs.get(_TOMO_END, ""))
        windows.append((start, end) if start else None)
        attrs = {k: v for k, v in f.attrs.items() if k not in (_TOMO_START, _TOMO_END)}
        bare = f.copy()
        bare.attrs = attrs
        clean.append(bare)
    volumes = [s / "volume.zarr" for s in sides] if opts.keep_volumes else None
    scratch.mkdir(parents=True, exist_ok=True)
    return assemble_tomo_scans(clean, keys, windows, record, opts, volumes=volumes, scratch=scratch)


def _tomo_start(frame: xr.Dataset) -> str:
    """The scan's start as a UTC ISO string (comparable as text); empty when undated."""
    import pandas as pd

    start = str(frame.attrs.get(_TOMO_START, ""))
    return pd.Timestamp(start).tz_convert("UTC").isoformat() if start and pd.Timestamp(start).tzinfo else start


def tomo_complete(path: Path, options: Mapping[str, Any]) -> Completion:
    """A tomography scan is complete when its HDF5 file opens and reads and every image stack is
    written (:func:`operando.live.projections_written`).

    "Stopped growing" is the watch's settle check (sizes and modification times unchanged
    for ``--settle-s``).
    """
    return projections_written(path)


# the [nmr] table's key that says when an experiment is finished (the others are nmr process's)
NMR_COMPLETION_KEYS = frozenset({"require_audit"})
_NMR_START, _NMR_END, _NMR_HOW = "live_acquisition_start", "live_acquisition_end", "live_acquisition_window"


def _nmr_processing(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in NMR_COMPLETION_KEYS}


def nmr_complete(path: Path, options: Mapping[str, Any]) -> Completion:
    """A TopSpin experiment is complete per :func:`operando.live.topspin_complete`."""
    return topspin_complete(path, require_audit=bool(options.get("require_audit", False)))


def _nmr_compute(key: str, done: list[str], options: Mapping[str, Any], side: Path) -> xr.Dataset:
    from operando.pipelines import measure_nmr_experiment, nmr_acquisition_window

    start, end, how = nmr_acquisition_window(key)
    ds = measure_nmr_experiment(key, _nmr_processing(options))
    return ds.assign_attrs({_NMR_START: start, _NMR_END: end, _NMR_HOW: how})


def _nmr_assemble(
    frames: list[xr.Dataset],
    keys: list[str],
    record: EchemRecord | None,
    options: Mapping[str, Any],
    sides: list[Path],
    scratch: Path,
) -> xr.Dataset:
    from operando.pipelines import assemble_nmr_spectra

    windows, clean = [], []
    for f in frames:
        windows.append((str(f.attrs[_NMR_START]), str(f.attrs[_NMR_END]), str(f.attrs[_NMR_HOW])))
        bare = f.copy()
        bare.attrs = {k: v for k, v in f.attrs.items() if k not in (_NMR_START, _NMR_END, _NMR_HOW)}
        clean.append(bare)
    return assemble_nmr_spectra(clean, keys, windows, record)


def _nmr_start(frame: xr.Dataset) -> str:
    return str(frame.attrs.get(_NMR_START, ""))


LIVE_KINDS: dict[str, LiveKind] = {
    "sxdm": LiveKind(
        name="sxdm",
        store_name="sxdm_maps.zarr",
        formats=frozenset({"bliss-kmap"}),
        complete=_sxdm_complete,
        compute=_sxdm_compute,
        assemble=_sxdm_assemble,
        start_time=_sxdm_start,
        referenced=True,
    ),
    "tomo": LiveKind(
        name="tomo",
        store_name="tomo_series.zarr",
        formats=frozenset({"dxchange", "nxtomo"}),
        complete=tomo_complete,
        compute=_tomo_compute,
        assemble=_tomo_assemble,
        start_time=_tomo_start,
    ),
    "nmr": LiveKind(
        name="nmr",
        store_name="nmr_spectra.zarr",
        formats=frozenset({"bruker-nmr"}),
        complete=nmr_complete,
        compute=_nmr_compute,
        assemble=_nmr_assemble,
        start_time=_nmr_start,
        folder=True,
    ),
}
