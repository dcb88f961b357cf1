"""An operando tomography series: per scan recon -> segment -> interfaces -> quantities, on the echem record.

This is the pipeline behind ``operando tomo series`` (it reads files; the kernels it calls
do not). Each scan's result is stored as soon as it is done (:func:`operando.store.run_series`),
so an interrupted series resumes; the assembled store (``operando_kind = "tomo-series"``)
then gets the fraction of the charge that Li-metal stripping carried.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from operando.errors import MissingMetadataError, OperandoError, ParameterError
from operando.tomo._interface import analyse_interfaces
from operando.tomo._prep import find_center, minus_log, normalize, remove_stripes
from operando.tomo._quantities import cell_quantities, stripping_fraction
from operando.tomo._readers import read_tomo
from operando.tomo._recon import reconstruct
from operando.tomo._segment import InterphaseClassifier, Thresholds, auto_thresholds, segment_cell

__all__ = ["SeriesOptions", "process_scan", "process_series", "scan_window"]


@dataclass(frozen=True)
class SeriesOptions:
    """Parameters of every scan of a series (recorded in the store's provenance).

    Attributes
    ----------
    voxel_size_um : float, optional
        Used when a file records no pixel size (never guessed).
    center_px : float, optional
        Rotation centre, px from the centre of pixel 0; default found per scan.
    stripes : bool
        Remove stripes before reconstruction. Off by default: on a cylindrical cell centred
        on the rotation axis the sorting filter also removes axis-centred features.
    thresholds : Thresholds, optional
        Default chosen per scan from its histogram.
    void_distance_px, small_region_mm2 : int, float
        Contact definition (:func:`operando.tomo.analyse_interfaces`).
    """

    voxel_size_um: float | None = None
    center_px: float | None = None
    stripes: bool = False
    thresholds: Thresholds | None = None
    void_distance_px: int = 5
    small_region_mm2: float = 0.02


def scan_window(path: str | PathLike[str]) -> tuple[str, str] | None:
    """Start and end (ISO 8601) of a DXchange scan (``/process/acquisition/start_date``, ``end_date``).

    Returns ``None`` when the file records no start date.
    """
    import h5py

    with h5py.File(Path(path), "r") as fh:
        dates: list[str | None] = []
        for name in ("/process/acquisition/start_date", "/process/acquisition/end_date"):
            if name not in fh:
                dates.append(None)
                continue
            value = fh[name][()]
            value = value.decode() if isinstance(value, bytes) else str(np.asarray(value).reshape(-1)[0])
            dates.append(value.strip())
    if dates[0] is None:
        return None
    return dates[0], dates[1] or dates[0]


def process_scan(
    path: str | PathLike[str], options: SeriesOptions, classifier: InterphaseClassifier | None = None
) -> xr.Dataset:
    """Reconstruct, segment and analyse one scan.

    Returns
    -------
    xarray.Dataset
        ``contact`` (interface, y, x), ``contact_area_mm2``, ``small_region_share``,
        ``n_regions`` (interface), the scalars and per-interface quantities of
        :func:`operando.tomo.cell_quantities`; attrs ``voxel_size_um``, ``center_px``.

    Raises
    ------
    MissingMetadataError
        The file records no pixel size and ``options.voxel_size_um`` is not set.
    """
    scan = read_tomo(path)
    voxel = options.voxel_size_um if options.voxel_size_um is not None else scan.pixel_size_um
    if voxel is None:
        raise MissingMetadataError("the file records no pixel size; give the voxel size", path=path)
    if scan.flats is not None:
        sino = minus_log(normalize(scan.projections, scan.flats, scan.darks))
    else:
        sino = scan.projections.astype(np.float32)
    if options.stripes:
        sino = remove_stripes(sino)
    center = options.center_px
    if center is None:
        center = find_center(np.asarray(sino[:, sino.shape[1] // 2, :]))
    volume = np.asarray(reconstruct(sino, scan.angles_deg, center=center))
    thresholds = options.thresholds or auto_thresholds(volume)
    labels = segment_cell(volume, thresholds=thresholds, classifier=classifier)
    inter = analyse_interfaces(
        labels,
        voxel_size_um=voxel,
        void_distance_px=options.void_distance_px,
        small_region_mm2=options.small_region_mm2,
    )
    keep = ["contact", "contact_area_mm2", "cell_area_mm2", "contact_fraction", "small_region_share", "n_regions"]
    out = inter[keep].merge(cell_quantities(labels, voxel_size_um=voxel), compat="override", combine_attrs="override")
    return out.assign_attrs(voxel_size_um=float(voxel), center_px=float(center))


def process_series(
    paths: Sequence[str | PathLike[str]],
    out: str | PathLike[str],
    *,
    options: SeriesOptions | None = None,
    classifier: InterphaseClassifier | None = None,
    record: Any = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Process scans into one resumable ``tomo-series`` store, placed on the echem record.

    Parameters
    ----------
    paths : sequence of path
        Scans (DXchange, NeXus or TIFF) in measurement order, on one grid.
    out : path
        Target store. Scans are computed into ``.{name}.frames.zarr.partial`` beside it and
        a rerun skips those done.
    options : SeriesOptions, optional
        Parameters of every scan.
    classifier : InterphaseClassifier, optional
        Interphase classifier applied to every scan.
    record : operando.echem.EchemRecord, optional
        The cell's potentiostat record: each frame gets the state of
        :func:`operando.timeline.attach_state` (window = the scan's start and end date)
        and ``stripping_fraction`` uses its charge. Without it, ``stripping_fraction``
        is NaN.
    overwrite : bool
        Replace an existing store.
    progress : bool
        Show a progress bar.

    Returns
    -------
    pathlib.Path
        Dims ``frame`` (coordinate ``time_s``: scan start on the record's axis, NaN when
        unknown), ``interface``, ``y``, ``x``.
    """
    from operando.store import open_results, run_series, store_status, write_results
    from operando.timeline import align, attach_state

    opts = options or SeriesOptions()
    target = Path(out)
    files = [Path(p) for p in paths]
    windows = [scan_window(p) if p.suffix.lower() in (".h5", ".hdf5", ".nxs") else None for p in files]
    if record is not None and any(w is None for w in windows):
        missing = files[[w is None for w in windows].index(True)]
        raise MissingMetadataError("the scan records no start date: cannot place it on the echem record", path=missing)
    timeline = None
    if record is not None:
        timeline = align(record, [w[0] for w in windows if w], [w[1] for w in windows if w])
        starts = np.asarray(timeline["t_start_s"].values, dtype=np.float64)
    elif all(w is not None for w in windows):
        import pandas as pd

        stamps = pd.to_datetime([w[0] for w in windows if w], utc=True)
        starts = np.asarray((stamps - stamps[0]).total_seconds(), dtype=np.float64)
    else:
        starts = np.full(len(files), np.nan)

    keys = [str(f) for f in files]
    if len(set(keys)) != len(keys):
        raise ParameterError("a scan is given twice")

    def one(key: str) -> xr.Dataset:
        i = keys.index(key)
        ds = process_scan(files[i], opts, classifier)
        if timeline is not None:
            ds = attach_state(ds, timeline, i)
        return ds

    if target.exists() and not overwrite:
        raise OperandoError("output exists; choose another path or pass overwrite", path=target)
    frames_store = target.with_name(f".{target.name}.frames.zarr")
    params = {**asdict(opts), "classifier": classifier is not None, "echem": record is not None}
    if not store_status(frames_store).complete:  # complete only if a crash came after the last scan
        run_series(
            keys,
            one,
            frames_store,
            parameters=params,
            inputs=files,
            overwrite=overwrite,
            progress=progress,
            description="scans",
        )
    series = open_results(frames_store).load()
    series = series.assign_coords(time_s=("frame", starts, {"units": "s"}))
    if timeline is not None:
        charge = np.abs(series["echem_charge_mAh"].values - series["echem_charge_mAh"].values[0])
        frac = stripping_fraction(series["li_volume_electrode_mm3"].values, charge)
    else:
        frac = np.full(series.sizes["frame"], np.nan)
    series["stripping_fraction"] = ("frame", frac, {"long_name": "share of the charge from Li-metal stripping"})
    series.attrs["operando_kind"] = "tomo-series"
    for name in [k for k in series.attrs if k.startswith("operando_") and k != "operando_kind"]:
        del series.attrs[name]
    written = write_results(series, target, parameters=params, inputs=files, overwrite=overwrite)
    shutil.rmtree(frames_store, ignore_errors=True)
    return written
