"""From a Bliss K-map file to strain and tilt maps (the public workflow)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from os import PathLike
from pathlib import Path
from typing import Any

import dask
import numpy as np
import xarray as xr

from operando.echem import EchemRecord
from operando.errors import MissingMetadataError, ParameterError
from operando.parallel import local_scheduler, single_threaded_blas
from operando.store import run_series
from operando.sxdm import (
    ROI,
    ArraySource,
    BackgroundMode,
    FrameSource,
    estimate_drift,
    find_hot_pixels,
    gridded_qspace,
    median_filter_points,
    open_kmap,
    peak_widths,
    pixel_q,
    read_kmap_metadata,
    reduce_kmap,
    shift_frames,
    strain_tilt_maps,
    write_xsocs_qspace,
)
from operando.timeline import place_on_record

__all__ = ["parse_reflection", "process_kmap", "process_series", "qspace_cube", "region_q"]


def parse_reflection(text: str) -> tuple[int, int, int]:
    """``"400"`` or ``"4,0,0"`` or ``"-1 1 3"`` -> Miller indices.

    Examples
    --------
    >>> parse_reflection("400"), parse_reflection("-1,1,3")
    ((4, 0, 0), (-1, 1, 3))
    """
    parts = text.replace(",", " ").split()
    try:
        hkl = tuple(int(p) for p in parts) if len(parts) == 3 else tuple(int(c) for c in text.strip())
    except ValueError:
        raise ParameterError(f"reflection must be like 400 or 4,0,0, got {text!r}") from None
    if len(hkl) != 3 or hkl == (0, 0, 0):
        raise ParameterError(f"reflection must be three Miller indices, not all zero, got {text!r}")
    return hkl[0], hkl[1], hkl[2]


def region_q(meta: Any) -> Any:
    """``q(roi)``: Q of the region's angles and detector box only (the detector cropped =
    its beam centre moved), for :func:`operando.sxdm.reduce_kmap`."""

    def q(roi: ROI) -> Any:
        (a0, a1), (y0, y1), (x0, x1) = roi.angles, roi.det_y, roi.det_x
        det = replace(
            meta.detector,
            shape=(y1 - y0, x1 - x0),
            beam_center_y_px=meta.detector.beam_center_y_px - y0,
            beam_center_x_px=meta.detector.beam_center_x_px - x0,
        )
        pick = [
            np.broadcast_to(np.asarray(v, dtype=np.float64), (len(meta.eta_deg),))[a0:a1]
            for v in (meta.eta_deg, meta.phi_deg, meta.nu_deg, meta.delta_deg)
        ]
        return pixel_q(*pick, detector=det, wavelength_A=meta.wavelength_A)

    return q


def process_kmap(
    path: str | PathLike[str],
    *,
    scans: Sequence[int] | None = None,
    reflection: tuple[int, int, int] | None = None,
    background: BackgroundMode | float = "global",
    intensity_threshold: float = 0.2,
    points_per_chunk: int = 64,
    survey_points: int | None = 128,
    drift_correction: bool = False,
    median_filter: tuple[int, int] | None = None,
    widths: bool = False,
    record: EchemRecord | None = None,
) -> tuple[xr.Dataset, dict[str, Any]]:
    """Strain and tilt maps of a K-map (Bliss master or SPEC + EDF, found by content).

    Parameters
    ----------
    path : str or PathLike
        Bliss master file or SPEC file.
    scans : sequence of int, optional
        Scan numbers, one per rocking angle.
    reflection : (int, int, int), optional
        Miller indices; adds ``lattice_parameter`` (cubic, Å) to the maps.
    background, intensity_threshold
        See :func:`operando.sxdm.reduce_kmap` and :func:`operando.sxdm.strain_tilt_maps`.
    points_per_chunk : int
        Scan points per HDF5 read (whole map rows when a row is shorter).
    survey_points : int or None
        Points whose summed frames give the region of interest, hot pixels and global
        background (see :func:`operando.sxdm.reduce_kmap`); None: every point.
    drift_correction : bool
        Measure the drift between rocking angles (:func:`operando.sxdm.estimate_drift`,
        one extra pass over the frames) and shift each angle's scan grid back before the
        angles are combined.
    median_filter : (int, int), optional
        Median of each pixel over this window of scan points (per angle) before the
        reduction (:func:`operando.sxdm.median_filter_points`), e.g. ``(2, 2)``.
    widths : bool
        Add the 3D peak widths (:func:`operando.sxdm.peak_widths`: ``width_major``,
        ``width_middle``, ``width_minor``, ``width_radial``, ``width_rocking``, 1/Å) in
        the same region of interest, background and pixel masks (two extra passes).
    record : EchemRecord, optional
        The cell's record: the map gets the electrochemical state it was taken at, over
        the window from its first to its last scan (:func:`operando.timeline.place_on_record`).

    Returns
    -------
    maps : xarray.Dataset
        Dims ``(y, x)``, see :func:`operando.sxdm.strain_tilt_maps`.
    parameters : dict
        Resolved parameters (for provenance).
    """
    source = open_kmap(path, scans=scans, points_per_chunk=points_per_chunk)
    frames, meta = source.frames, source.meta
    if len(meta.eta_deg) < 2:
        raise ParameterError("a K-map needs at least two rocking angles (scans)")
    extra: dict[str, Any] = {"drift_correction": drift_correction, "median_filter": None, "widths": widths}
    if drift_correction:
        drift = estimate_drift(frames, pixel_mask=meta.pixel_mask)
        frames = shift_frames(frames, drift.shifts)
        extra.update(drift_shifts_points=drift.shifts.tolist(), drift_measured=drift.measured.tolist())
    if median_filter is not None:
        frames = median_filter_points(frames, size=median_filter)
        extra["median_filter"] = list(median_filter)
    if frames is not source.frames:  # frames computed from the file's: the plain survey and region sums
        source = ArraySource(frames, meta)
    scheduler = local_scheduler()
    moments, settings = reduce_kmap(
        source,
        region_q(meta),
        eta_deg=meta.eta_deg,
        pixel_mask=meta.pixel_mask,
        background=background,
        survey_points=survey_points,
        scheduler=scheduler,
    )
    # one compute for all moments: they share every frame read (np.asarray on each would re-read the map per moment)
    with single_threaded_blas():  # the Dask threads are the parallelism; BLAS threads would oversubscribe
        values = dask.compute(*moments.values(), scheduler=scheduler)
    computed = {k: np.asarray(v) for k, v in zip(moments, values, strict=True)}
    maps = strain_tilt_maps(computed, intensity_threshold=intensity_threshold, y_um=meta.y_um, x_um=meta.x_um)
    if widths:
        _add_widths(maps, source, settings)
    if reflection is not None:
        maps["lattice_parameter"] = maps.d_spacing * float(np.linalg.norm(reflection))
        maps["lattice_parameter"].attrs = {"units": "angstrom", "long_name": f"cubic a from the {reflection} d-spacing"}
    parameters: dict[str, Any] = {
        "scans": [s.name for s in meta.scans],
        "reflection": list(reflection) if reflection else None,
        "intensity_threshold": intensity_threshold,
        "wavelength_A": meta.wavelength_A,
        "detector": {k: getattr(meta.detector, k) for k in meta.detector.__dataclass_fields__},
        "eta_deg": meta.eta_deg,
        "geometry": "ID01/XSOCS: eta y-, phi z-; nu z-, delta y-; beam +x; pixels z-, y+",
        **settings,
        **extra,
    }
    starts = [s.start_time for s in meta.scans if s.start_time]
    maps.attrs.update({"modality": "sxdm", "source": str(meta.path)})
    if starts:  # the map's acquisition window, for placing it on the charging curve
        maps.attrs.update({"first_scan_start": min(starts), "last_scan_start": max(starts)})
    if record is not None:
        maps = _place_map(maps, record)
        parameters["echem"] = record.meta.source
    return maps, parameters


def _full_q(meta: Any) -> Any:
    """Q of every pixel at every rocking angle, ``(angle, det_y, det_x, 3)`` 1/Å."""
    return pixel_q(
        meta.eta_deg, meta.phi_deg, meta.nu_deg, meta.delta_deg, detector=meta.detector, wavelength_A=meta.wavelength_A
    )


def _add_widths(maps: xr.Dataset, source: FrameSource, settings: dict[str, Any]) -> None:
    """The 3D peak widths in the region, background and masks of the reduction, into ``maps``."""
    frames, meta = source.frames, source.meta
    summed = frames.sum(axis=(1, 2), dtype=np.float64)
    summed = np.asarray(summed.compute() if hasattr(summed, "compute") else summed)
    bad = meta.pixel_mask != 0
    bad |= find_hot_pixels(summed) & ~bad
    roi = ROI(tuple(settings["roi_angles"]), tuple(settings["roi_det_y"]), tuple(settings["roi_det_x"]))
    found = peak_widths(
        frames,
        _full_q(meta),
        roi=roi,
        pixel_mask=bad,
        background=float(settings["background_counts_per_pixel"]),
    )
    keep = np.where(maps["mask"].values, 1.0, np.nan)
    for name, values in found.items():
        maps[name] = (("y", "x"), values * keep, {"units": "1/angstrom", "long_name": f"peak {name} (std of Q)"})


def _place_map(maps: xr.Dataset, record: EchemRecord) -> xr.Dataset:
    """The map on the record: its window runs from its first to its last scan start.

    Raises
    ------
    MissingMetadataError
        When the scans recorded no start time.
    """
    if "first_scan_start" not in maps.attrs:
        raise MissingMetadataError(
            "the scans record no start_time: cannot place the map on the echem record", path=maps.attrs.get("source")
        )
    return place_on_record(maps, record, maps.attrs["first_scan_start"], maps.attrs["last_scan_start"])


def process_series(
    masters: Sequence[str | PathLike[str]],
    out: str | PathLike[str],
    *,
    scans: Sequence[int] | None = None,
    reflection: tuple[int, int, int] | None = None,
    background: BackgroundMode | float = "global",
    intensity_threshold: float = 0.2,
    record: EchemRecord | None = None,
    overwrite: bool = False,
    progress: bool = True,
    drift_correction: bool = False,
    median_filter: tuple[int, int] | None = None,
) -> Path:
    """Process several K-maps (one Bliss master file each) into one resumable series store.

    Parameters
    ----------
    masters : sequence of path
        Master files (Bliss) or SPEC files in measurement order; all maps must share one
        scan grid.
    out : path
        Target store (dimension ``frame``, coordinate ``key`` = master path); progress
        lives in ``OUT.partial`` and a rerun skips finished maps (:func:`run_series`).
    scans, reflection, background, intensity_threshold, drift_correction, median_filter
        See :func:`process_kmap`.
    record : EchemRecord, optional
        Each map gets the electrochemical state it was taken at (:func:`operando.timeline.place_on_record`).
    overwrite, progress
        See :func:`operando.store.run_series`.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ParameterError
        No master file, or maps on different scan grids.
    MissingMetadataError
        A record is given but a map's scans have no start time.
    """
    if not masters:
        raise ParameterError("give at least one Bliss master file")
    metas = [read_kmap_metadata(p, scans=scans) for p in masters]
    first = metas[0]
    for p, meta in zip(masters[1:], metas[1:], strict=True):
        if meta.map_shape != first.map_shape or not (
            np.array_equal(meta.x_um, first.x_um) and np.array_equal(meta.y_um, first.y_um)
        ):
            raise ParameterError(
                f"the K-map in {p} has another scan grid ({meta.map_shape[0]} x {meta.map_shape[1]} points) than "
                f"{masters[0]} ({first.map_shape[0]} x {first.map_shape[1]}): a series needs one grid",
                path=p,
            )
        if record is not None and not any(s.start_time for s in meta.scans):
            raise MissingMetadataError(
                "the scans record no start_time: cannot place the map on the echem record", path=p
            )

    def one_map(key: str) -> xr.Dataset:
        maps, _ = process_kmap(
            key,
            scans=scans,
            reflection=reflection,
            background=background,
            intensity_threshold=intensity_threshold,
            drift_correction=drift_correction,
            median_filter=median_filter,
            record=record,
        )
        # per-map source and scan times live in the key coordinate and the echem_* variables; the
        # record they were placed on stays named (the report finds each series' own cell by it)
        echem_attrs = {k: maps.attrs[k] for k in ("echem_source", "echem_sha256") if k in maps.attrs}
        return maps.drop_attrs(deep=False).assign_attrs(modality="sxdm", operando_kind="sxdm-maps", **echem_attrs)

    parameters = {
        "scans": list(scans) if scans is not None else None,
        "reflection": list(reflection) if reflection else None,
        "background": background,
        "intensity_threshold": intensity_threshold,
        "drift_correction": drift_correction,
        "median_filter": list(median_filter) if median_filter is not None else None,
        "echem": record.meta.source if record is not None else None,
    }
    inputs = [*masters, *([record.meta.source] if record is not None and record.meta.source else [])]
    return run_series(
        [str(p) for p in masters],
        one_map,
        out,
        parameters=parameters,
        inputs=inputs,
        overwrite=overwrite,
        progress=progress,
        description="K-maps",
    )


def qspace_cube(
    path: str | PathLike[str],
    out: str | PathLike[str],
    *,
    scans: Sequence[int] | None = None,
    shape: tuple[int, int, int] = (50, 100, 100),
    points: tuple[slice, slice] | None = None,
    overwrite: bool = False,
) -> tuple[Path, xr.Dataset]:
    """Grid each scan point's frames of a K-map into a q-space cube and write XSOCS's qspace.h5.

    Parameters
    ----------
    path : str or PathLike
        Bliss master, XSOCS master or SPEC file (found by content).
    out : str or PathLike
        XSOCS q-space HDF5 file to write.
    scans : sequence of int, optional
        Scan numbers, one per rocking angle; all by default.
    shape : (int, int, int)
        Bins along qx, qy, qz.
    points : (slice, slice), optional
        Region of scan points (rows, columns); the whole map by default.
    overwrite : bool
        Replace an existing file (checked before any frame is read).

    Returns
    -------
    target : pathlib.Path
        The file written.
    cube : xarray.Dataset
        From :func:`operando.sxdm.gridded_qspace`.

    Raises
    ------
    ParameterError
        ``out`` exists and ``overwrite`` is False.
    """
    target = Path(out)
    if target.exists() and not overwrite:
        raise ParameterError(f"{target} exists (pass overwrite=True to replace it)", path=target)
    source = open_kmap(path, scans=scans)
    meta = source.meta
    cube = gridded_qspace(
        source.frames,
        _full_q(meta),
        shape=shape,
        pixel_mask=meta.pixel_mask,
        points=points,
        y_um=meta.y_um,
        x_um=meta.x_um,
    )
    det = meta.detector
    one_deg = 2 * det.distance_m * np.tan(np.radians(0.5))  # xrayutilities' channels-per-degree convention
    written = write_xsocs_qspace(
        cube,
        target,
        entries=[s.name for s in meta.scans],
        beam_energy_eV=meta.energy_eV,
        direct_beam=(det.beam_center_y_px, det.beam_center_x_px),
        channels_per_degree=(one_deg / det.pixel_size_y_m, one_deg / det.pixel_size_x_m),
        overwrite=overwrite,
    )
    return written, cube
