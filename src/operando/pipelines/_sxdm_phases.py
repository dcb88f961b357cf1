"""Two phases in one scan point: the radial-profile decomposition added to a K-map's maps.

Glue between a frame source and the kernel :mod:`operando.sxdm._phases`: one survey pass
(every point's frames summed: hot pixels, the region where any point diffracts, the map's
lattice populations) and, when it runs, one pass over that region's frames that gives
each point its radial (|Q|) profile; the per-point decomposition becomes (y, x) variables
of the maps. ``mode="auto"`` runs the per-point decomposition only where the survey finds
two lattice populations; the maps record what ran and why in ``attrs``.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import dask.array as da
import numpy as np
import xarray as xr

from operando.errors import ParameterError
from operando.parallel import local_scheduler, single_threaded_blas
from operando.pipelines._sxdm_q import region_q
from operando.sxdm import (
    ROI,
    FrameSource,
    decompose_phases,
    find_hot_pixels,
    phase_region,
    radial_bins,
    radial_profiles,
    region_background,
    survey_phases,
    survey_rows,
)

__all__ = ["PHASE_VARIABLES", "PhaseMode", "add_phase_maps"]

PhaseMode = Literal["auto", "on", "off"]

PHASE_VARIABLES: dict[str, dict[str, str]] = {
    "two_phase": {"units": "1", "long_name": "two lattice phases in the point (one |Q| peak does not explain it)"},
    "phase_fraction": {"units": "1", "long_name": "fraction of the integrated radial intensity in the larger-d phase"},
    "d_phase1": {"units": "angstrom", "long_name": "d-spacing of the larger-d phase (radial |Q| peak)"},
    "d_phase2": {"units": "angstrom", "long_name": "d-spacing of the smaller-d phase (radial |Q| peak)"},
    "width_phase1": {"units": "1/angstrom", "long_name": "radial width of the larger-d phase (std of |Q|)"},
    "width_phase2": {"units": "1/angstrom", "long_name": "radial width of the smaller-d phase (std of |Q|)"},
    "two_phase_delta_bic": {"units": "1", "long_name": "BIC of one radial peak minus BIC of two"},
}


def _box_q(meta: Any, roi: ROI) -> np.ndarray:
    """|Q| of the region's angles and detector box, ``(angle, det_y, det_x)`` 1/Å."""
    return np.asarray(np.linalg.norm(region_q(meta)(roi), axis=-1))


def _fill(maps: xr.Dataset, values: dict[str, np.ndarray], *, decomposed: bool) -> None:
    """The phase variables into ``maps``; NaN (False for ``two_phase``) outside its mask."""
    maps["phases_decomposed"] = ((), decomposed, {"long_name": "per-point two-phase decomposition run on this map"})
    keep = np.asarray(maps["mask"].values, dtype=bool)
    for name, attrs in PHASE_VARIABLES.items():
        v = values[name]
        v = (v & keep) if v.dtype == bool else np.where(keep, v, np.nan)
        maps[name] = (("y", "x"), v, dict(attrs))


def add_phase_maps(
    maps: xr.Dataset,
    source: FrameSource,
    settings: dict[str, Any],
    *,
    mode: PhaseMode = "auto",
    survey_points: int | None = None,
) -> None:
    """Per-point phase fractions, d-spacings and radial widths of up to two phases, into ``maps``.

    Parameters
    ----------
    maps : xarray.Dataset
        Dims ``(y, x)`` with ``mask`` (from :func:`operando.sxdm.strain_tilt_maps`);
        receives ``two_phase``, ``phase_fraction``, ``d_phase1``, ``d_phase2`` (Å),
        ``width_phase1``, ``width_phase2`` (1/Å), ``two_phase_delta_bic`` (see
        :func:`operando.sxdm.decompose_phases`) and the scalar ``phases_decomposed``
        (kept by a series, whose maps lose their attrs) unless ``mode`` is ``"off"``, and
        the attrs ``phases`` (what ran and why), ``phases_mode``, ``phases_survey``,
        ``phases_survey_d_A``, ``phases_bin_width_per_A``, ``phases_background_counts``.
    source : FrameSource
        The frames the maps come from (e.g. :func:`operando.sxdm.open_kmap`).
    settings : dict
        The reduction's settings (kept for the call's symmetry with the other passes; the
        background is measured here, outside the region where any point diffracts).
    mode : {"auto", "on", "off"}
        ``"auto"``: decompose every point when the map's summed radial profile shows two
        lattice populations, else the variables say one phase (``two_phase`` False,
        the rest NaN); ``"on"``: decompose every point; ``"off"``: add nothing.
    survey_points : int, optional
        Points whose summed frames make the survey (whole blocks of rows spread over the
        map, :func:`operando.sxdm.survey_rows`); every point by default. Fewer save most
        of a pass over the frames but can miss a phase confined to rows between them
        (the region may then cut some points' peaks: a warning says so).

    Raises
    ------
    ParameterError
        Unknown ``mode``, maps of another grid than the frames, or no Bragg peak.

    Examples
    --------
    >>> ds = xr.Dataset({"mask": (("y", "x"), np.ones((2, 2), dtype=bool))})
    >>> add_phase_maps(ds, source=None, settings={}, mode="off")  # type: ignore[arg-type]
    >>> ds.attrs["phases"]
    'not run (phases off)'
    """
    if mode not in ("auto", "on", "off"):
        raise ParameterError(f"phases must be 'auto', 'on' or 'off', got {mode!r}")
    maps.attrs["phases_mode"] = mode
    if mode == "off":
        maps.attrs["phases"] = "not run (phases off)"
        return
    frames, meta = source.frames, source.meta
    _, ny, nx, _, _ = frames.shape
    if maps["mask"].shape != (ny, nx):
        raise ParameterError(f"maps of {maps['mask'].shape} points, frames of {(ny, nx)}", path=meta.path)
    scheduler = local_scheduler()
    chunks = frames.chunks[1] if isinstance(frames, da.Array) else (1,) * ny
    rows = survey_rows(tuple(int(c) for c in chunks), nx, survey_points)
    summed = np.asarray(source.survey(rows, scheduler=scheduler), dtype=np.float64)
    n_surveyed = len(rows) * nx
    valid = np.asarray(meta.pixel_mask) == 0
    valid &= ~find_hot_pixels(summed)
    try:
        roi, inside = phase_region(summed, valid=valid)
        bins = radial_bins(_box_q(meta, roi), roi=roi, inside=inside, valid=valid[roi.slices[1:]])
        # the flat background outside the region where any point diffracts (the reduction's own
        # may be per frame, or none): fixed in the fits, as a free one mimics a broad peak
        background = region_background(summed, roi, inside, valid=valid, n_points=n_surveyed)
    except ParameterError as err:  # name the file: the CLI prints one line
        raise ParameterError(f"phases: {err.problem}", path=meta.path) from None
    total = np.asarray(radial_profiles(summed[:, None, None], bins).compute(scheduler=scheduler))[0, 0]
    survey = survey_phases(total, bins, background=background * n_surveyed)
    maps.attrs.update(
        phases_survey=survey.reason,
        phases_survey_d_A=[float(d) for d in survey.d_spacings_A],
        phases_bin_width_per_A=bins.width,
        phases_background_counts=background,
    )
    if mode == "auto" and not survey.two_populations:
        nan = np.full((ny, nx), np.nan)
        _fill(
            maps, {**dict.fromkeys(PHASE_VARIABLES, nan), "two_phase": np.zeros((ny, nx), dtype=bool)}, decomposed=False
        )
        maps.attrs["phases"] = "per-point decomposition not run (phases auto): the survey finds one lattice population"
        return
    with single_threaded_blas():
        profiles = np.asarray(radial_profiles(source, bins).compute(scheduler=scheduler))
    keep = np.asarray(maps["mask"].values, dtype=bool)
    found = decompose_phases(profiles, bins, survey=survey, background=background, points=keep)
    _fill(maps, found, decomposed=True)
    lo, hi = float(bins.edges[0]), float(bins.edges[-1])
    near_edge = np.zeros((ny, nx), dtype=bool)
    for k in ("1", "2"):
        with np.errstate(invalid="ignore", divide="ignore"):
            q, w = 2.0 * np.pi / found[f"d_phase{k}"], found[f"width_phase{k}"]
            near_edge |= (q - 2.5 * w < lo) | (q + 2.5 * w > hi)
    near_edge &= keep
    if near_edge.any():
        warnings.warn(
            f"{meta.path}: at {int(near_edge.sum())} points a radial peak lies within 2.5 widths of the edge of "
            f"the region's |Q| range ({lo:.4f}-{hi:.4f} 1/A): their fractions and d-spacings are less certain",
            stacklevel=2,
        )
    maps.attrs["phases"] = (
        f"per-point decomposition run (phases {mode}): {int(found['two_phase'].sum())} two-phase points"
    )
