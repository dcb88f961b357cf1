"""From a Bliss K-map file to strain and tilt maps (the public workflow)."""

from __future__ import annotations

import functools
import json
import shutil
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import dask
import numpy as np
import xarray as xr

from operando._hashing import DataFile
from operando.echem import EchemRecord
from operando.errors import MissingMetadataError, ParameterError
from operando.parallel import local_scheduler, single_threaded_blas
from operando.pipelines._sxdm_phases import PhaseMode, add_phase_maps
from operando.pipelines._sxdm_q import region_q
from operando.store import open_results, run_series, store_status, write_results
from operando.sxdm import (
    MONITORS,
    ROI,
    ArraySource,
    BackgroundMode,
    FrameSource,
    KMapMetadata,
    centre_of_mass,
    common_grid,
    drift_consistency,
    estimate_drift,
    filtered_mask,
    find_hot_pixels,
    find_roi,
    frame_background,
    gridded_qspace,
    median_filter_frames,
    median_filter_points,
    monitor_factors,
    nominal_grid,
    open_kmap,
    peak_widths,
    pixel_q,
    read_kmap_metadata,
    read_mask_file,
    reduce_kmap,
    register_intensity,
    sample_map,
    shift_frames,
    side_widths,
    signal_beyond,
    spread_wide_pixels,
    strain_tilt_maps,
    survey_rows,
    write_xsocs_qspace,
    xsocs_window,
)
from operando.timeline import place_on_record

_P = ParamSpec("_P")
_R = TypeVar("_R")

__all__ = [
    "PhaseMode",
    "SeriesPlan",
    "add_phase_maps",
    "align_series",
    "kmap_data_files",
    "parse_reflection",
    "place_map",
    "plan_series",
    "process_kmap",
    "process_series",
    "qspace_cube",
    "region_q",
    "scan_grid",
]


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


#: largest RMS (scan points) of the measured per-angle shifts about a smooth drift for the
#: drift correction to be applied (:func:`operando.sxdm.drift_consistency`): a drifting flat
#: crystal gave 0.004, drift-free and drifting mosaic crystals (0.03 deg domains) 0.31-0.37
DRIFT_RESIDUAL_POINTS = 0.15


def scan_grid(meta: KMapMetadata) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """The map's nominal grid (µm) and how far its piezo readbacks stray from it.

    Parameters
    ----------
    meta : KMapMetadata
        Of any K-map reader.

    Returns
    -------
    y_um, x_um : (y,) and (x,) ndarray
        From the scan command's motor ranges (:func:`operando.sxdm.nominal_grid`); the
        readback-derived ``meta.y_um, meta.x_um`` when the command names no grid.
    readback : dict
        ``readback_rms_um`` and ``readback_max_um``: RMS and largest deviation of the
        per-point readbacks of both piezos over all scans from the nominal grid (NaN when
        either is unknown).
    """
    nominal = nominal_grid(meta.scans[0]) if meta.scans else None
    nan = {"readback_rms_um": float("nan"), "readback_max_um": float("nan")}
    if nominal is None:
        return np.asarray(meta.y_um, dtype=np.float64), np.asarray(meta.x_um, dtype=np.float64), nan
    y, x = nominal
    ny, nx = len(y), len(x)
    slow, fast = meta.scans[0].motors
    want = {slow: np.broadcast_to(y[:, None], (ny, nx)), fast: np.broadcast_to(x[None, :], (ny, nx))}
    dev = [
        np.asarray(v, dtype=np.float64).reshape(ny, nx) - grid
        for scan in meta.scans
        for motor, grid in want.items()
        if np.size(v := scan.positioners.get(motor, np.nan)) == ny * nx
    ]
    if not dev:
        return y, x, nan
    d = np.concatenate([a.reshape(-1) for a in dev])
    return y, x, {"readback_rms_um": float(np.sqrt(np.mean(d**2))), "readback_max_um": float(np.abs(d).max())}


def monitor_counts(meta: KMapMetadata, counter: str | None = "auto") -> tuple[str, np.ndarray] | None:
    """The monitor of every frame of a K-map, ``(angle, y, x)``, and its counter's name.

    Parameters
    ----------
    meta : KMapMetadata
    counter : str or None
        ``"auto"``: the first counter that every scan recorded among ``mon1, mon2,
        ct_mon1, ct_mon2`` (per point), else the ring current ``current`` (one value per
        scan); ``"none"`` or None: no normalisation; or a counter's name.

    Returns
    -------
    (name, monitor) or None
        None when ``counter`` is ``"auto"`` and no scan recorded one, or normalisation is off.

    Raises
    ------
    MissingMetadataError
        A named counter is absent from a scan.
    """
    if counter is None or counter == "none":
        return None
    ny, nx = meta.map_shape
    names = MONITORS if counter == "auto" else (counter,)
    for name in names:
        values = [s.monitors.get(name) for s in meta.scans]
        if any(v is None for v in values):
            if counter != "auto":
                missing = [s.name for s, v in zip(meta.scans, values, strict=True) if v is None]
                raise MissingMetadataError(f"scans {missing} record no monitor {name!r}", path=meta.path)
            continue
        rows = []
        for v in values:
            arr = np.asarray(v, dtype=np.float64).reshape(-1)
            # one value per point, or one per scan (the ring current) for all its points
            rows.append(np.broadcast_to(arr, (ny * nx,)) if arr.size in (1, ny * nx) else np.full(ny * nx, np.nan))
        stack = np.stack(rows)
        return name, stack.reshape(len(values), ny, nx)
    return None


def _names_the_map(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """A :class:`ParameterError` that names no file, raised while a K-map is processed (the
    region of interest that covers every valid voxel, too few rocking angles, a phase
    decomposition that cannot estimate its background), raised again naming the map."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return func(*args, **kwargs)
        except ParameterError as err:
            if err.path is not None:
                raise
            path = args[0] if args else kwargs.get("path")
            raise ParameterError(str(err), path=path if isinstance(path, str | PathLike) else None) from None

    return wrapper


@_names_the_map
def process_kmap(
    path: str | PathLike[str],
    *,
    scans: Sequence[int] | None = None,
    reflection: tuple[int, int, int] | None = None,
    background: BackgroundMode | float = "global",
    intensity_threshold: float = 0.2,
    points_per_chunk: int = 64,
    survey_points: int | None = 64,
    drift_correction: bool = False,
    median_filter: tuple[int, int] | None = None,
    widths: bool = False,
    record: EchemRecord | None = None,
    detector: str | None = None,
    median_points: tuple[int, int] | None = None,
    mask_file: str | PathLike[str] | None = None,
    wide_pixels: bool = False,
    phases: PhaseMode = "auto",
    monitor: str | None = "auto",
    monitor_reference: float | None = None,
    follow_external_links: bool = False,
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
        background (see :func:`operando.sxdm.reduce_kmap`); None: every point. A few rows
        do (64 points: 4 of 20 rows); a point whose signal crosses the region found is
        reduced again in its own (``roi_recut_points`` in the parameters; of those,
        ``roi_recut_held_points`` had no signal beyond the region and were kept).
    drift_correction : bool
        Measure the drift between rocking angles (:func:`operando.sxdm.estimate_drift`,
        one extra pass over the frames) and shift each angle's scan grid back before the
        angles are combined, if the estimate checks out: the per-angle shifts must follow a
        smooth drift in time (:func:`operando.sxdm.drift_consistency` within
        ``DRIFT_RESIDUAL_POINTS``); else (tilt contrast of a mosaic crystal, or too few
        bright angles to tell) a warning, and the maps of the raw frames.
    median_filter : (int, int), optional
        Median of each detector frame before the reduction, exactly as XSOCS computes it
        (the paper's "2 x 2 median filter", :func:`operando.sxdm.median_filter_frames`):
        an even size ``k`` spans ``k - 1`` pixels (:func:`operando.sxdm.xsocs_window`), so
        ``(2, 2)`` leaves the frames as they are and ``(3, 3)`` removes zingers; the pixel
        mask grows by the window really used (``median_window_px`` in the parameters).
    widths : bool
        Add the 3D peak widths (:func:`operando.sxdm.peak_widths`: ``width_major``,
        ``width_middle``, ``width_minor``, ``width_radial``, ``width_rocking``, 1/Å) in
        the same region of interest, background and pixel masks (two extra passes).
    record : EchemRecord, optional
        The cell's record: the map gets the electrochemical state it was taken at, over
        the window from its first to its last scan (:func:`operando.timeline.place_on_record`).
    detector : str, optional
        The area detector's name in the file (``mpx1x4``, ``mpxgaas``, ``eiger2M``); by
        default the only image dataset of each scan's ``measurement`` group.
    median_points : (int, int), optional
        Median of each pixel over this window of neighbouring scan points, per angle
        (:func:`operando.sxdm.median_filter_points`): a spatial filter of the map.
    mask_file : path, optional
        A user mask (EDF, NumPy or TIFF; nonzero = bad) added to the detector's own
        (:func:`operando.sxdm.read_mask_file`).
    wide_pixels : bool
        Spread the counts of the Maxipix 2 x 2 wide pixels over the chip gap
        (:func:`operando.sxdm.spread_wide_pixels`; 516 x 516 frames whose gap is empty).
    phases : {"auto", "on", "off"}
        Two lattice phases in one scan point, told apart on each point's radial |Q| profile
        (:func:`add_phase_maps`: ``phase_fraction``, ``d_phase1``, ``d_phase2``,
        ``two_phase``); ``auto`` runs where the map's summed profile shows two populations.
    monitor : str or None
        Counter that normalises each frame (:func:`monitor_counts`): ``"auto"`` (a beam
        monitor, else the ring current, where the scans recorded one), ``"none"``, or a
        name. Counts become counts at ``monitor_reference`` monitor counts, so a flux that
        changes between rocking angles does not tilt the rocking curve.
    monitor_reference : float, optional
        The monitor value counts are scaled to (the map's median by default; a series
        gives its reference map's, so intensities compare across maps).
    follow_external_links : bool
        Read HDF5 links, virtual-dataset sources and external storage that leave the
        master's folder (refused by default: :func:`operando.sxdm.io.read_kmap_metadata`).
        The files read besides the master: :func:`kmap_data_files`.

    Returns
    -------
    maps : xarray.Dataset
        Dims ``(y, x)``, see :func:`operando.sxdm.strain_tilt_maps`; ``y``, ``x`` are the
        nominal piezo positions of the scan command (:func:`scan_grid`), and the attrs
        ``readback_rms_um``/``readback_max_um`` say how far the readbacks strayed.
    parameters : dict
        Resolved parameters (for provenance).
    """
    source = open_kmap(
        path,
        scans=scans,
        points_per_chunk=points_per_chunk,
        detector=detector,
        follow_external_links=follow_external_links,
    )
    frames, meta = source.frames, source.meta
    y_um, x_um, readback = scan_grid(meta)
    if len(meta.eta_deg) < 2:
        raise ParameterError("a K-map needs at least two rocking angles (scans)")
    extra: dict[str, Any] = {
        "drift_correction": drift_correction,
        "median_filter": None,
        "median_points": None,
        "widths": widths,
        "mask_file": str(mask_file) if mask_file is not None else None,
        "wide_pixels": wide_pixels,
        "phases": phases,
    }
    if follow_external_links:
        extra["follow_external_links"] = True
    scaled: tuple[Any, np.ndarray] | None = None
    found = monitor_counts(meta, monitor)
    extra.update(monitor=None, monitor_reference=None)
    if found is not None:
        name, counts = found
        try:
            factors, reference = monitor_factors(counts, monitor_reference)
        except ParameterError as err:
            raise ParameterError(f"monitor {name!r}: {err}", path=meta.path) from None
        frames = frames * factors.astype(np.float32)[..., None, None]
        scaled = (frames, factors)  # the reader's fast passes scale as they read, unless frames change again
        extra.update(monitor=name, monitor_reference=reference)
    mask = np.asarray(meta.pixel_mask, dtype=np.uint8)
    det = meta.detector
    if mask_file is not None:
        mask = mask | read_mask_file(mask_file, det.shape)
        extra["mask_file_pixels"] = int(np.count_nonzero(mask)) - int(np.count_nonzero(meta.pixel_mask))
    if wide_pixels:
        frames, mask = spread_wide_pixels(frames, mask)
    if median_filter is not None:  # per detector frame, XSOCS's window (odd, centred: no beam-centre shift)
        frames = median_filter_frames(frames, size=median_filter)
        mask = filtered_mask(mask, median_filter)
        extra["median_filter"] = list(median_filter)
        extra["median_window_px"] = list(xsocs_window(median_filter))
    meta = replace(meta, detector=det, pixel_mask=mask)
    if drift_correction:
        drift = estimate_drift(frames, pixel_mask=meta.pixel_mask)
        residual = drift_consistency(drift)
        trusted = bool(np.isfinite(residual) and residual <= DRIFT_RESIDUAL_POINTS)
        extra.update(
            drift_shifts_points=drift.shifts.tolist(),
            drift_measured=drift.measured.tolist(),
            drift_residual_points=residual,
            drift_closure_points=float(drift.closure),
            drift_applied=trusted,
        )
        if trusted:
            frames = shift_frames(frames, drift.shifts)
        else:
            why = (
                f"the measured shifts stray {residual:.2f} points from one smooth displacement per angle "
                "(smoothness and closure between pairs of angles; tilt contrast of a mosaic crystal, not drift)"
                if np.isfinite(residual)
                else f"only {int(drift.measured.sum())} rocking angles carry enough signal to check the estimate"
            )
            warnings.warn(
                f"{path}: drift between rocking angles not corrected: {why}; the maps are the raw ones",
                RuntimeWarning,
                stacklevel=2,
            )
    if median_points is not None:
        frames = median_filter_points(frames, size=median_points)
        extra["median_points"] = list(median_points)
    # frames computed from the file's: the plain survey and region sums; else the reader's fast ones
    if frames is source.frames:
        source = replace(source, meta=meta)  # type: ignore[type-var]
    elif scaled is not None and frames is scaled[0] and hasattr(source, "scaled"):  # the monitor only
        source = replace(source.scaled(frames, scaled[1]), meta=meta)
    else:
        source = ArraySource(frames, meta)
    computed, settings = _reduce_in_region(
        path,
        source,
        meta,
        background=background,
        survey_points=survey_points,
        intensity_threshold=intensity_threshold,
    )
    maps = strain_tilt_maps(computed, intensity_threshold=intensity_threshold, y_um=y_um, x_um=x_um)
    if widths:
        _add_widths(maps, source, settings)
    add_phase_maps(maps, source, settings, mode=phases, survey_points=survey_points)
    if reflection is not None:
        maps["lattice_parameter"] = maps.d_spacing * float(np.linalg.norm(reflection))
        maps["lattice_parameter"].attrs = {"units": "angstrom", "long_name": f"cubic a from the {reflection} d-spacing"}
    parameters: dict[str, Any] = {
        "scans": [s.name for s in meta.scans],
        "reflection": list(reflection) if reflection else None,
        "intensity_threshold": intensity_threshold,
        "wavelength_A": meta.wavelength_A,
        "detector_name": meta.detector_name,
        "detector": {k: getattr(meta.detector, k) for k in meta.detector.__dataclass_fields__},  # as used
        **readback,
        "eta_deg": meta.eta_deg,
        "geometry": "ID01/XSOCS: eta y-, phi z-; nu z-, delta y-; beam +x; pixels z-, y+",
        **settings,
        **extra,
    }
    starts = [s.start_time for s in meta.scans if s.start_time]
    maps.attrs.update({"modality": "sxdm", "operando_kind": "sxdm-maps", "source": str(meta.path), **readback})
    if starts:  # the map's acquisition window, for placing it on the charging curve
        maps.attrs.update({"first_scan_start": min(starts), "last_scan_start": max(starts)})
    if record is not None:
        maps = place_map(maps, record)
        parameters["echem"] = record.meta.source
    return maps, parameters


def _reduce_in_region(
    path: str | PathLike[str],
    source: FrameSource,
    meta: KMapMetadata,
    *,
    background: BackgroundMode | float,
    survey_points: int | None,
    intensity_threshold: float,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """:func:`operando.sxdm.reduce_kmap`, then the points its region cuts reduced in their own.

    The survey finds the region from some points' frames summed; a point whose peak lies
    elsewhere (a crystal that tilts or strains across the map, rows between the surveyed
    ones) is cut by it. Every point's counts in the sides of the region's box are summed
    with its moments (``roi_edge_sides``). For each point set off so, a band of its
    detector rows is read first: where no significant signal lies just beyond the box
    (:func:`operando.sxdm.signal_beyond`; a bright point's rocking tails fill a side band
    without leaving the box) its moments are kept (``roi_recut_held_points``). Otherwise
    it is reduced again in the union of the map's box and its own
    (:func:`operando.sxdm.find_roi` on its frames), with the same background and pixel
    masks. Only those points are read again (one of 400 on a 20 x 20 map of 516^2
    frames, where widening the map's box for all points cost two more passes). The
    settings record how many points set off the check (``roi_recut_points``, the held
    ones included) and how many stay cut (``roi_cut_points``: their own region leaves no
    pixel for a per-frame background; a warning where they are bright enough for the maps). A point with no
    peak that :func:`operando.sxdm.find_roi` trusts is reduced over its whole frames
    (``roi_full_frame_points``).
    A point whose peak lies wholly outside the box leaves nothing in it to see: it reads
    as a weak point.
    """
    scheduler = local_scheduler()
    moments, found = reduce_kmap(
        source,
        region_q(meta),
        eta_deg=meta.eta_deg,
        pixel_mask=meta.pixel_mask,
        background=background,
        survey_points=survey_points,
        scheduler=scheduler,
    )
    settings: dict[str, Any] = dict(found)
    # one compute for all moments: they share every frame read (np.asarray on each would re-read the map per moment)
    with single_threaded_blas():  # the Dask threads are the parallelism; BLAS threads would oversubscribe
        values = dask.compute(*moments.values(), scheduler=scheduler)
    computed = {k: np.asarray(v) for k, v in zip(moments, values, strict=True)}
    cut = np.argwhere(computed.pop("roi_edge_sides") != 0)
    settings.update(roi_recut_points=len(cut), roi_recut_held_points=0, roi_cut_points=0)
    if len(cut):
        failed = _recut(source, meta, computed, cut, settings, survey_points=survey_points, scheduler=scheduler)
        settings["roi_cut_points"] = len(failed)
        # only points bright enough to be kept in the maps matter (the others are masked out)
        intensity = computed["intensity"]
        top = np.max(intensity, where=np.isfinite(intensity), initial=0.0)
        still = int(np.count_nonzero(intensity[tuple(failed.T)] >= intensity_threshold * top)) if len(failed) else 0
        if still:
            warnings.warn(
                f"{path}: the signal of {still} point(s) crosses the region of interest {settings['roi_det_y']} x "
                f"{settings['roi_det_x']} px, angles {settings['roi_angles']}, and their own region leaves no "
                "pixel for the per-frame background: their moments miss the counts beyond the region",
                RuntimeWarning,
                stacklevel=3,
            )
    return computed, settings


def _search_window(roi: ROI, det_shape: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """The detector window a cut point's own region is looked for first: the map's region box
    widened by its own size on each side, clipped (rows, columns; half-open)."""
    dy, dx = det_shape
    (y0, y1), (x0, x1) = roi.det_y, roi.det_x
    return (max(0, y0 - (y1 - y0)), min(dy, y1 + (y1 - y0))), (max(0, x0 - (x1 - x0)), min(dx, x1 + (x1 - x0)))


def _own_region(
    frames: np.ndarray, valid: np.ndarray, roi: ROI, *, row0: int = 0, height: int | None = None
) -> ROI | bool | None:
    """A point's own region (:func:`operando.sxdm.find_roi` on its frames ``(angle, det_y,
    det_x)``), or None when it shows no peak.

    Its signal crosses a side of the map's region, so it lies near: the search runs first
    around the region's box (widened by half its size on each axis: most recut points are
    bright points whose rocking tails cross a side, and their own box lies there; ~9 ms of
    find_roi a point in :func:`_search_window` alone), then in :func:`_search_window` (a
    ninth of the detector around a 58 x 54 px region of a 516^2 frame, every angle), and on
    the whole frame only when the box found touches the edge of each window in turn.
    ``frames`` may be a band of rows ``[row0, row0 + frames.shape[1])`` of a detector
    ``height`` rows high (the whole frame by default) that holds the window: then True when
    the whole frame is needed (so a band never gives None).
    """
    n_a, band, dx = frames.shape
    dy = band if height is None else height
    limits = (n_a, dy, dx)
    near = tuple(
        (max(0, lo - (hi - lo) // 2), min(n, hi + (hi - lo) // 2))
        for (lo, hi), n in zip((roi.angles, roi.det_y, roi.det_x), limits, strict=True)
    )
    wy, wx = _search_window(roi, (dy, dx))
    whole = ((0, n_a), (0, dy), (0, dx))
    for window in near, ((0, n_a), wy, wx), whole:
        (a0, a1), (y0, y1), (x0, x1) = window
        if (y0, y1) == (0, dy) and band != dy:
            return True  # the whole frame is needed and only a band was read
        try:
            box = find_roi(frames[a0:a1, y0 - row0 : y1 - row0, x0:x1], valid=valid[y0:y1, x0:x1])
        except ParameterError:
            continue  # no peak in the window: look in the next
        found = tuple(
            (lo + w0, hi + w0) for (lo, hi), (w0, _) in zip((box.angles, box.det_y, box.det_x), window, strict=True)
        )
        # inside: no side of the box on a side of the window that is not the data's limit
        inside = all(
            (lo > w0 or w0 == 0) and (hi < w1 or w1 == n)
            for (lo, hi), (w0, w1), n in zip(found, window, limits, strict=True)
        )
        if inside or window == whole:
            return ROI(*found)
    return None


def _recut(
    source: FrameSource,
    meta: KMapMetadata,
    computed: dict[str, np.ndarray],
    points: np.ndarray,
    settings: dict[str, Any],
    *,
    survey_points: int | None,
    scheduler: Any,
) -> np.ndarray:
    """The moments of ``points`` (k, 2) (y, x) reduced again in their own region, into
    ``computed``; returns those that could not be, (m, 2): a per-frame background needs
    pixels outside the box, and a point without a peak of its own is reduced over its
    whole frames (counted in ``settings["roi_full_frame_points"]``)."""
    frames = source.frames
    _, ny, nx, _, _ = frames.shape
    chunks = frames.chunks[1] if hasattr(frames, "chunks") and frames.chunks is not None else (1,) * ny
    rows = survey_rows(tuple(int(c) for c in chunks), nx, survey_points)
    summed = np.asarray(source.survey(rows, scheduler=scheduler), dtype=np.float64)  # kept by the source
    valid = np.asarray(meta.pixel_mask) == 0
    if settings["hot_pixels"]:
        valid &= ~find_hot_pixels(summed)  # the reduction's own (same survey, same threshold)
    roi = ROI(tuple(settings["roi_angles"]), tuple(settings["roi_det_y"]), tuple(settings["roi_det_x"]))
    mode = settings["background"]
    constant = float(settings["background_counts_per_pixel"])
    q_of = region_q(meta)
    eta = np.asarray(meta.eta_deg, dtype=np.float64)
    read_point = getattr(source, "point_frames", None)  # the Bliss reader reads one point's frames alone

    det_shape = (int(frames.shape[3]), int(frames.shape[4]))
    band = _search_window(roi, det_shape)[0]
    # with a constant background only the box is read: first the search window's band of rows
    # (a bright point's tails set off most recuts, and its own box lies inside the map's:
    # 93 of 1,600 points on a 40 x 40 map of 516^2 frames, where whole frames cost 1.7 s)
    banded = read_point is not None and mode != "frame" and band != (0, det_shape[0])

    # the box's angles and rows and a side band beyond each: enough to tell whether the signal
    # leaves the box (half of a point's frames, a band of 65 of 516 rows on a 40 x 40 map)
    ta, ty, _ = side_widths(roi)
    shell_rows = (max(0, roi.det_y[0] - ty), min(det_shape[0], roi.det_y[1] + ty))
    shell_angles = (max(0, roi.angles[0] - ta), min(len(eta), roi.angles[1] + ta))

    def one(y: int, x: int) -> tuple[Any, bool, bool]:
        """(CentreOfMass or None when it cannot be reduced, reduced over its whole frames,
        held: the signal stays in the map's box, whose moments are kept)."""
        own: ROI | bool | None = True
        row0 = 0
        if banded and read_point is not None:
            near = np.asarray(read_point(y, x, rows=shell_rows, angles=shell_angles))
            if not signal_beyond(
                near, roi, valid=valid, background=constant, row0=shell_rows[0], angle0=shell_angles[0]
            ):
                return None, False, True
            f = np.asarray(read_point(y, x, rows=band))
            row0 = band[0]
            own = _own_region(f, valid, roi, row0=row0, height=det_shape[0])
        if own is True:  # the whole frames
            if read_point is not None:
                f = np.asarray(read_point(y, x))
            else:
                f = np.asarray(dask.compute(frames[:, y, x], scheduler="synchronous")[0])  # (angle, det_y, det_x)
            row0 = 0
            own = _own_region(f, valid, roi)
        assert not isinstance(own, bool)  # a band gives a region or True, never None: f is whole frames here
        whole = own is None
        if own is None:  # no peak that find_roi trusts on one point's frames: the whole frames
            own = ROI((0, f.shape[0]), (0, f.shape[1]), (0, f.shape[2]))
        box = ROI(
            *(
                (min(a[0], b[0]), max(a[1], b[1]))
                for a, b in zip((roi.angles, roi.det_y, roi.det_x), (own.angles, own.det_y, own.det_x), strict=True)
            )
        )
        sa, sy, sx = box.slices
        if mode == "frame":
            try:
                bg: Any = frame_background(f[sa, None], roi=box, valid=valid)
            except ParameterError:  # no pixel outside its box for the per-frame background
                return None, whole, False
        else:
            bg = constant
        crop = f[sa, None, sy.start - row0 : sy.stop - row0, sx]  # (angle, 1 point, det_y, det_x)
        com = centre_of_mass(crop, q_of(box), eta_deg=eta[sa], valid=valid[sy, sx], background=bg)
        return com, whole, False

    # the points in parallel on the caller's threads where the reader reads them (decompression
    # releases the GIL): done one after another, 19 points took a third of a 400-point map's wall time
    tasks = [dask.delayed(one, pure=False)(y, x) for y, x in points.tolist()]
    results = dask.compute(*tasks, scheduler=scheduler if read_point is not None else "synchronous")
    failed: list[tuple[int, int]] = []
    for (y, x), (com, whole, held) in zip(points.tolist(), results, strict=True):
        settings["roi_full_frame_points"] = settings.get("roi_full_frame_points", 0) + int(whole)
        settings["roi_recut_held_points"] += int(held)
        if held:
            continue
        if com is None:
            failed.append((y, x))
            continue
        computed["intensity"][y, x] = com.intensity[0]
        for k, name in enumerate(("qx", "qy", "qz")):
            computed[name][y, x] = com.q[0, k]
        computed["rocking_com"][y, x] = com.rocking_com_deg[0]
        computed["rocking_width"][y, x] = com.rocking_width_deg[0]
    return np.asarray(failed, dtype=np.intp).reshape(-1, 2)


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


def kmap_data_files(
    path: str | PathLike[str],
    *,
    scans: Sequence[int] | None = None,
    detector: str | None = None,
    follow_external_links: bool = False,
) -> list[DataFile]:
    """The files besides the master whose bytes a K-map's result reads, for its provenance.

    Lima frame files (virtual-dataset sources or external links of a Bliss master), the
    entry files of an XSOCS master, external raw storage, the EDF files of a SPEC file:
    give them with the master as ``inputs`` of :func:`operando.store.write_results`.

    Parameters
    ----------
    path, scans, detector, follow_external_links
        As given to :func:`process_kmap`.

    Returns
    -------
    list of DataFile
        Path-likes that :func:`operando.store.provenance` records with their master.
    """
    meta = read_kmap_metadata(path, scans=scans, detector=detector, follow_external_links=follow_external_links)
    return list(meta.data_files)


def place_map(maps: xr.Dataset, record: EchemRecord) -> xr.Dataset:
    """The map on the record: its window runs from its first to its last scan start
    (public for the live watcher, which assembles maps itself).

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


_place_map = place_map  # the name the live watcher imported first


@dataclass(frozen=True)
class SeriesPlan:
    """How the maps of one series are made: one grid, one monitor, one reference map.

    Built by :func:`plan_series`; :func:`process_series` and the live watch
    (``operando watch``) make their stores with it, so both give the same maps.

    Attributes
    ----------
    masters : tuple of str
        The series' master files, in measurement order.
    reference : int
        Index of the map whose grid and crystal position the series keeps.
    grids : tuple
        :func:`scan_grid` of each map.
    same : tuple of bool
        Whether each map shares the reference's grid (else it is resampled onto it).
    kmap_options : dict
        Keyword options of :func:`process_kmap` (monitor and its reference included).
    parameters : dict
        The options as stored in the provenance.
    data_files : tuple of DataFile
        Files besides the masters whose bytes the maps read (Lima files, EDF files), for
        the provenance.
    """

    masters: tuple[str, ...]
    reference: int
    grids: tuple[tuple[np.ndarray, np.ndarray, dict[str, float]], ...]
    same: tuple[bool, ...]
    kmap_options: dict[str, Any]
    parameters: dict[str, Any]
    grid_tolerance: float
    data_files: tuple[DataFile, ...] = ()

    def measure(self, key: str) -> xr.Dataset:
        """One map on the reference's grid, not yet placed on a record (scan times in attrs)."""
        k = self.masters.index(str(key))
        maps, _ = process_kmap(key, **self.kmap_options)
        ref_y, ref_x, _ = self.grids[self.reference]
        y, x, _ = self.grids[k]
        if self.same[k]:
            return maps.assign_coords(y=("y", ref_y, maps.y.attrs), x=("x", ref_x, maps.x.attrs))
        rows, cols = (ref_y - y[0]) / _step(y), (ref_x - x[0]) / _step(x)
        threshold = self.kmap_options["intensity_threshold"]
        return _resample(maps, rows, cols, ref_y, ref_x, intensity_threshold=threshold)

    def frame(self, maps: xr.Dataset, record: EchemRecord | None) -> xr.Dataset:
        """A measured map as one frame of the series: placed on ``record`` (if any), its
        per-map attributes dropped."""
        if record is not None:
            maps = place_map(maps, record)
        # per-map source and scan times live in the key coordinate and the echem_* variables; the
        # record they were placed on stays named (the report finds each series' own cell by it)
        echem_attrs = {k: maps.attrs[k] for k in ("echem_source", "echem_sha256") if k in maps.attrs}
        return maps.drop_attrs(deep=False).assign_attrs(modality="sxdm", operando_kind="sxdm-maps", **echem_attrs)

    def finish(self, series: xr.Dataset, *, register: bool = True) -> xr.Dataset:
        """The frames (concatenated along ``frame``, in ``masters`` order) as the series store
        holds them: readback jitter and grid in the attributes, maps registered."""
        n = len(self.masters)
        series = series.copy()
        series.attrs = {k: v for k, v in series.attrs.items() if not k.startswith("operando_") or k == "operando_kind"}
        monitor = self.kmap_options["monitor"]
        reference_counts = self.kmap_options["monitor_reference"]
        series.attrs.update(
            readback_rms_um=[self.grids[k][2]["readback_rms_um"] for k in range(n)],
            readback_max_um=[self.grids[k][2]["readback_max_um"] for k in range(n)],
            resampled=[not self.same[k] for k in range(n)],
            grid=f"nominal grid of {self.masters[self.reference]} (scan-command ranges, "
            f"tolerance {self.grid_tolerance} step)",
            monitor=monitor,
            monitor_reference=reference_counts if reference_counts is not None else float("nan"),
        )
        if register and n > 1:
            threshold = self.kmap_options["intensity_threshold"]
            series = align_series(series, reference=self.reference, intensity_threshold=threshold)
        return series


def plan_series(
    masters: Sequence[str | PathLike[str]],
    *,
    scans: Sequence[int] | None = None,
    reflection: tuple[int, int, int] | None = None,
    background: BackgroundMode | float = "global",
    intensity_threshold: float = 0.2,
    record: EchemRecord | None = None,
    drift_correction: bool = False,
    median_filter: tuple[int, int] | None = None,
    detector: str | None = None,
    reference: int = 0,
    grid_tolerance: float = 0.25,
    median_points: tuple[int, int] | None = None,
    mask_file: str | PathLike[str] | None = None,
    wide_pixels: bool = False,
    phases: PhaseMode = "auto",
    monitor: str | None = "auto",
    follow_external_links: bool = False,
) -> SeriesPlan:
    """Read every map's metadata and decide the series' grid, monitor and reference.

    Parameters are those of :func:`process_series`; ``record`` only checks that every map
    can be placed on it.

    Returns
    -------
    SeriesPlan

    Raises
    ------
    ParameterError
        No master file, maps scanned with other motors, or a map whose window does not
        overlap the reference's.
    MissingMetadataError
        A record is given but a map's scans have no start time; a map lacks the
        reference's monitor.
    """
    if not masters:
        raise ParameterError("give at least one Bliss master file")
    if not 0 <= reference < len(masters):
        raise ParameterError(f"reference must index one of the {len(masters)} maps, got {reference}")
    metas = [
        read_kmap_metadata(p, scans=scans, detector=detector, follow_external_links=follow_external_links)
        for p in masters
    ]
    grids = [scan_grid(m) for m in metas]
    ref_meta = metas[reference]
    for p, meta in zip(masters, metas, strict=True):
        if meta.scans and ref_meta.scans and meta.scans[0].motors != ref_meta.scans[0].motors:
            raise ParameterError(
                f"the K-map in {p} scans {' x '.join(meta.scans[0].motors)}, the reference map "
                f"{masters[reference]} {' x '.join(ref_meta.scans[0].motors)}: a series needs one pair of motors",
                path=p,
            )
        if record is not None and not any(s.start_time for s in meta.scans):
            raise MissingMetadataError(
                "the scans record no start_time: cannot place the map on the echem record", path=p
            )
    ref_y, ref_x = grids[reference][0], grids[reference][1]
    same: list[bool] = []
    for k, p in enumerate(masters):
        try:
            one = common_grid([ref_y, grids[k][0]], tolerance=grid_tolerance, name="slow-motor")[1][1]
            one &= common_grid([ref_x, grids[k][1]], tolerance=grid_tolerance, name="fast-motor")[1][1]
        except ParameterError as err:
            raise ParameterError(
                f"the K-map cannot be aligned with the reference {masters[reference]}: {err}", path=p
            ) from None
        same.append(bool(one))
    ref_monitor = monitor_counts(ref_meta, monitor)
    monitor_reference = None
    if ref_monitor is not None:
        monitor_reference = float(np.median(ref_monitor[1]))
        for p, meta in zip(masters, metas, strict=True):  # every map by the same counter
            if monitor_counts(meta, ref_monitor[0]) is None:
                raise MissingMetadataError(f"no monitor {ref_monitor[0]!r} as in the reference map", path=p)
    kmap_options: dict[str, Any] = {
        "scans": scans,
        "reflection": reflection,
        "background": background,
        "intensity_threshold": intensity_threshold,
        "drift_correction": drift_correction,
        "median_filter": median_filter,
        "detector": detector,
        "median_points": median_points,
        "mask_file": mask_file,
        "wide_pixels": wide_pixels,
        "phases": phases,
        "monitor": ref_monitor[0] if ref_monitor is not None else "none",
        "monitor_reference": monitor_reference,
        "follow_external_links": follow_external_links,
    }
    parameters = {
        "scans": list(scans) if scans is not None else None,
        "reflection": list(reflection) if reflection else None,
        "background": background,
        "intensity_threshold": intensity_threshold,
        "drift_correction": drift_correction,
        "median_filter": list(median_filter) if median_filter is not None else None,
        "detector": detector,
        "grid_tolerance": grid_tolerance,
        "median_points": list(median_points) if median_points is not None else None,
        "mask_file": str(mask_file) if mask_file is not None else None,
        "wide_pixels": wide_pixels,
        "phases": phases,
        "monitor": ref_monitor[0] if ref_monitor is not None else None,
        "monitor_reference": monitor_reference,
    }
    if follow_external_links:
        parameters["follow_external_links"] = True
    return SeriesPlan(
        masters=tuple(str(p) for p in masters),
        reference=reference,
        grids=tuple(grids),
        same=tuple(same),
        kmap_options=kmap_options,
        parameters=parameters,
        grid_tolerance=grid_tolerance,
        data_files=tuple(f for meta in metas for f in meta.data_files),
    )


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
    detector: str | None = None,
    register: bool = True,
    reference: int = 0,
    grid_tolerance: float = 0.25,
    median_points: tuple[int, int] | None = None,
    mask_file: str | PathLike[str] | None = None,
    wide_pixels: bool = False,
    phases: PhaseMode = "auto",
    monitor: str | None = "auto",
    follow_external_links: bool = False,
) -> Path:
    """Process several K-maps (one master file each) into one resumable series store, on
    one grid and in the frame of one crystal.

    Scan grids are matched by the nominal motor ranges of their scan commands: two maps
    whose ranges agree within ``grid_tolerance`` steps share the grid (the readbacks'
    encoder jitter is recorded, never a reason to refuse); a map whose window differs is
    resampled onto the reference map's grid (bilinear; NaN where it did not scan). With
    ``register``, each map is then shifted onto the reference map's crystal position
    (:func:`align_series`).

    Parameters
    ----------
    masters : sequence of path
        Master files (Bliss) or SPEC files in measurement order.
    out : path
        Target store (dimension ``frame``, coordinate ``key`` = master path); progress
        lives in ``OUT.partial`` (then ``OUT.unaligned`` until the maps are registered)
        and a rerun skips finished maps (:func:`run_series`).
    scans, reflection, background, intensity_threshold, drift_correction, median_filter, detector
        See :func:`process_kmap`.
    median_points, mask_file, wide_pixels, follow_external_links
        See :func:`process_kmap`.
    monitor : str or None
        See :func:`process_kmap`; every map is scaled to the reference map's median
        monitor, so intensities compare across the series.
    record : EchemRecord, optional
        Each map gets the electrochemical state it was taken at (:func:`operando.timeline.place_on_record`).
    overwrite, progress
        See :func:`operando.store.run_series`.
    register : bool
        Register the maps to the reference map (:func:`align_series`).
    reference : int
        Index of the map whose grid and crystal position the series keeps.
    grid_tolerance : float
        Largest difference of nominal positions, in scan steps, for two grids to be one.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ParameterError
        No master file, maps scanned with other motors, or a map whose window does not
        overlap the reference's.
    MissingMetadataError
        A record is given but a map's scans have no start time.
    """
    target = Path(out)
    if target.exists() and not overwrite:
        raise ParameterError("output exists; choose another path or pass overwrite", path=target)
    plan = plan_series(
        masters,
        scans=scans,
        reflection=reflection,
        background=background,
        intensity_threshold=intensity_threshold,
        record=record,
        drift_correction=drift_correction,
        median_filter=median_filter,
        detector=detector,
        reference=reference,
        grid_tolerance=grid_tolerance,
        median_points=median_points,
        mask_file=mask_file,
        wide_pixels=wide_pixels,
        phases=phases,
        monitor=monitor,
        follow_external_links=follow_external_links,
    )

    def one_map(key: str) -> xr.Dataset:
        return plan.frame(plan.measure(key), record)

    parameters = {**plan.parameters, "echem": record.meta.source if record is not None else None}
    inputs = [*masters, *([record.meta.source] if record is not None and record.meta.source else [])]
    inputs += [mask_file] if mask_file is not None else []
    inputs += plan.data_files  # Lima / EDF files: hashed with their master (operando.store.provenance)
    stage = target.with_name(target.name + ".unaligned")
    if overwrite and stage.exists():
        shutil.rmtree(stage)
    if stage.exists() and store_status(stage).complete:
        earlier = json.loads(str(open_results(stage).attrs.get("operando_parameters", "null")))
        if earlier != json.loads(json.dumps(parameters, default=str)):
            raise ParameterError(
                "maps processed with other parameters wait here to be aligned; rerun with the same ones or pass "
                "overwrite",
                path=stage,
            )
    else:
        run_series(
            [str(p) for p in masters],
            one_map,
            stage,
            parameters=parameters,
            inputs=inputs,
            overwrite=overwrite,
            progress=progress,
            description="K-maps",
        )
    series = open_results(stage).load()
    if [str(k) for k in series["key"].values] != [str(p) for p in masters]:
        raise ParameterError("maps of other files wait here to be aligned; pass overwrite", path=stage)
    series = plan.finish(series, register=register)
    full = {**parameters, "register": register, "reference": reference}
    written = write_results(series, target, parameters=full, inputs=inputs, overwrite=overwrite)
    shutil.rmtree(stage, ignore_errors=True)
    return written


def _step(axis: np.ndarray) -> float:
    """Step of a uniform axis (1.0 for a single position)."""
    return float((axis[-1] - axis[0]) / (len(axis) - 1)) if len(axis) > 1 else 1.0


def _spline(values: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``values`` at fractional grid positions by cubic splines (edges repeated)."""
    from scipy import ndimage

    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    return np.asarray(ndimage.map_coordinates(values, np.stack([rr, cc]), order=3, mode="nearest"))


def _resample(
    maps: xr.Dataset,
    rows: np.ndarray,
    cols: np.ndarray,
    y: np.ndarray | None = None,
    x: np.ndarray | None = None,
    *,
    intensity_threshold: float = 0.2,
) -> xr.Dataset:
    """A map moved onto other grid positions: sampled at fractional grid positions ``rows``
    x ``cols`` (bilinear; NaN where a contributing point is missing or off the map).

    The diffraction signal is moved, not the numbers derived from it: the intensity and the
    intensity-weighted Q (the moments of the reduction) are interpolated (cubic splines for
    the weighted Q: bilinear added a second blur, d RMS 3.8e-5 Å against 2.5e-5 Å on the
    maps below) and the maps made
    again (:func:`operando.sxdm.strain_tilt_maps`), so a point at the crystal's edge takes
    its Q from the neighbours that diffract, as a beam there would. A moved point is a
    blend of the points around it, and at the crystal's edge that blend is one-sided:
    there a moved map's d differs from the crystal's by ~0.3 of the d change per step (on a
    d field of 4e-4 Å RMS and 4-point correlation: ~4e-5 Å at the edge, ~1e-5 Å inside).
    A moved point is kept in the crystal only where every point it is made of was. Other
    ``(y, x)`` variables are sampled plainly and masked alike.
    """
    y = maps.y.values if y is None else y
    x = maps.x.values if x is None else x
    q_known = np.isfinite(maps["qx"].values) & np.isfinite(maps["qy"].values) & np.isfinite(maps["qz"].values)
    weight = np.where(q_known, np.clip(np.nan_to_num(maps["intensity"].values), 0.0, None), 0.0)
    w = _spline(weight, rows, cols)
    moments = {"intensity": sample_map(maps["intensity"].values, rows, cols)}
    for k in ("qx", "qy", "qz"):
        moved = _spline(np.nan_to_num(weight * maps[k].values), rows, cols)
        moments[k] = np.divide(moved, w, out=np.full_like(moved, np.nan), where=w > 0)
    # a moved point is in the crystal only where every point it is made of was
    inside = np.isfinite(sample_map(np.where(maps["mask"].values, 1.0, np.nan), rows, cols))
    for k in ("qx", "qy", "qz"):
        moments[k] = np.where(inside, moments[k], np.nan)
    new = strain_tilt_maps(moments, intensity_threshold=intensity_threshold, y_um=y, x_um=x)
    new = new.assign_coords(y=("y", y, maps.y.attrs), x=("x", x, maps.x.attrs))
    keep = np.where(new["mask"].values, 1.0, np.nan)
    for name, var in maps.data_vars.items():
        if name in new:
            new[name].attrs = var.attrs
            continue
        if var.dims == ("y", "x"):
            values = sample_map(np.asarray(var.values, dtype=np.float64), rows, cols)
            if name == "lattice_parameter":  # a fixed multiple of d
                ratio = np.nanmedian(var.values / maps["d_spacing"].values)
                values = new["d_spacing"].values * ratio
            if var.dtype == bool:  # a flag (two_phase, ...): set where most of the moved point was
                new[name] = (("y", "x"), (np.nan_to_num(values) >= 0.5) & (keep > 0), var.attrs)
                continue
            new[name] = (("y", "x"), values * keep, var.attrs)
        else:
            new[name] = var
    new = new.assign_coords({c: maps.coords[c] for c in maps.coords if c not in ("y", "x")})  # frame, key
    new.attrs = dict(maps.attrs)
    return new


def align_series(
    series: xr.Dataset, *, reference: int = 0, min_correlation: float = 0.6, intensity_threshold: float = 0.2
) -> xr.Dataset:
    """Maps of one crystal moved onto the reference map's crystal position.

    Each map's integrated-intensity map is registered to the reference's
    (:func:`operando.sxdm.register_intensity`, sub-point); every ``(y, x)`` variable is
    then shifted by it (bilinear, NaN where it was not measured).

    Parameters
    ----------
    series : xarray.Dataset
        Dims ``(frame, y, x)`` with an ``intensity`` variable (an ``sxdm series`` store).
    reference : int
        Frame index of the reference map.
    min_correlation : float
        A shift is applied only where the aligned footprint correlates with the
        reference's at least this well; else the map is kept unshifted, with a warning.
        Shifts under 0.02 point are recorded, not applied.
    intensity_threshold : float
        Mask of the moved maps, as in :func:`operando.sxdm.strain_tilt_maps`.

    Returns
    -------
    xarray.Dataset
        With ``shift_y``, ``shift_x`` (points; the map at ``p - shift`` showed what the
        reference shows at ``p``), ``shift_y_um``, ``shift_x_um``, ``registration_correlation``
        and ``registered`` along ``frame``.
    """
    n = series.sizes["frame"]
    shifts = np.zeros((n, 2))
    corr = np.ones(n)
    applied = np.ones(n, dtype=bool)
    ref = series["intensity"].isel(frame=reference).values
    ny, nx = ref.shape
    rows, cols = np.arange(ny, dtype=np.float64), np.arange(nx, dtype=np.float64)
    frames = []
    for k in range(n):
        one = series.isel(frame=k)
        if k != reference:
            try:
                found = register_intensity(ref, one["intensity"].values)
                shifts[k], corr[k] = found.shift, found.correlation
                ok = bool(found.correlation >= min_correlation)
            except ParameterError as err:
                corr[k], ok = np.nan, False
                warnings.warn(f"map {k} not registered: {err}", RuntimeWarning, stacklevel=2)
            if ok and np.abs(shifts[k]).max() < 0.02:  # below, moving would only blur the map
                pass
            elif ok:
                one = _resample(one, rows - shifts[k, 0], cols - shifts[k, 1], intensity_threshold=intensity_threshold)
            else:
                applied[k] = False
                warnings.warn(
                    f"map {k} ({series['key'].values[k]}): its intensity footprint matches the reference only "
                    f"to a correlation of {corr[k]:.2f} (< {min_correlation}): kept unshifted",
                    RuntimeWarning,
                    stacklevel=2,
                )
        frames.append(one)
    out = xr.concat(frames, dim="frame", data_vars="all", coords="different", compat="equals", join="exact")
    out.attrs = dict(series.attrs)
    step_y, step_x = _step(series.y.values), _step(series.x.values)
    out["shift_y"] = (("frame",), shifts[:, 0], {"units": "point", "long_name": "crystal shift from the reference"})
    out["shift_x"] = (("frame",), shifts[:, 1], {"units": "point", "long_name": "crystal shift from the reference"})
    out["shift_y_um"] = (("frame",), shifts[:, 0] * step_y, {"units": "um"})
    out["shift_x_um"] = (("frame",), shifts[:, 1] * step_x, {"units": "um"})
    out["registration_correlation"] = (("frame",), corr, {"units": "1", "long_name": "aligned footprint vs reference"})
    out["registered"] = (("frame",), applied, {"long_name": "shift applied"})
    out.attrs["registration"] = f"integrated-intensity maps registered to frame {reference} (sub-point, bilinear)"
    return out


def qspace_cube(
    path: str | PathLike[str],
    out: str | PathLike[str],
    *,
    scans: Sequence[int] | None = None,
    shape: tuple[int, int, int] = (50, 100, 100),
    points: tuple[slice, slice] | None = None,
    overwrite: bool = False,
    detector: str | None = None,
    follow_external_links: bool = False,
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
    detector, follow_external_links
        See :func:`process_kmap`.

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
    source = open_kmap(path, scans=scans, detector=detector, follow_external_links=follow_external_links)
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
