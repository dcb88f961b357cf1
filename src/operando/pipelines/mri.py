"""From an MRI time series to per-layer amounts, growth rates and stages on the echem timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import xarray as xr

from operando.echem import EchemRecord, detect_failures
from operando.errors import ParameterError, UnsupportedFormatError
from operando.mri import (
    AFTER_SHORT,
    STAGE_NAMES,
    correct_displacement,
    detect_stages,
    find_electrodes,
    frame_of_time,
    growth_rate,
    layer_amounts,
    layer_edges,
    noise_from_differences,
    noise_sigma,
    normalise,
)
from operando.timeline import place_on_record

__all__ = [
    "LayersRun",
    "background_mask",
    "csi_from_scan",
    "layers_from_files",
    "quantify_layers",
    "short_circuit_frame",
    "stage_table",
    "write_csi",
]


def background_mask(depth_mm: npt.ArrayLike, *, fraction: float = 0.1) -> npt.NDArray[np.bool_]:
    """Signal-free voxels by default: the outer ``fraction`` of the field of view at both ends.

    Examples
    --------
    >>> background_mask(np.arange(10.0), fraction=0.2).tolist()
    [True, True, False, False, False, False, False, False, True, True]
    """
    n = np.asarray(depth_mm).size
    k = max(1, round(fraction * n))
    mask = np.zeros(n, dtype=bool)
    mask[:k] = True
    mask[-k:] = True
    return mask


def _temporal_noise(
    values: npt.NDArray[np.float64], idx: npt.NDArray[np.intp]
) -> tuple[float, npt.NDArray[np.float64]]:
    """Pooled :func:`noise_from_differences` over every contiguous background run and lateral line.

    ``values`` holds only the background voxels ``(frame, len(idx), lateral...)``; ``idx``
    are their depth indices (runs of consecutive indices are contiguous in space).
    """
    positions = np.arange(idx.size)
    runs = [r for r in np.split(positions, np.flatnonzero(np.diff(idx) > 1) + 1) if r.size >= 4]
    if not runs:
        raise ParameterError("the background has no run of 4 contiguous voxels for a temporal noise estimate")
    lag = min(8, min(r.size for r in runs) - 2)
    power, rho, weight = 0.0, np.zeros(lag + 1), 0
    for run in runs:
        block = np.moveaxis(values[:, run], 1, -1)  # (frame, lateral..., depth run)
        lines = block.reshape(values.shape[0], -1, run.size).transpose(1, 0, 2)  # (line, frame, run)
        for line in lines:
            sig, r = noise_from_differences(line, max_lag=lag)
            power += sig**2 * run.size
            rho += r * run.size
            weight += run.size
    return float(np.sqrt(power / weight)), rho / weight


def short_circuit_frame(record: EchemRecord, start_s: npt.ArrayLike, **kwargs: Any) -> int | None:
    """Frame nearest to the first short circuit in the voltage (None if none or after the series, 0 if before it).

    Uses :func:`operando.echem.detect_failures` (voltage collapse under current);
    ``kwargs`` go to it.
    """
    shorts = [e for e in detect_failures(record, **kwargs) if e.kind == "short_circuit"]
    if not shorts:
        return None
    start = np.asarray(start_s, dtype=np.float64)
    if shorts[0].time_s > start[-1] + (start[-1] - start[0]) / max(start.size - 1, 1):
        return None
    if shorts[0].time_s < start[0]:
        return 0  # shorted before the series began
    return frame_of_time(shorts[0].time_s, start)


def quantify_layers(
    series: xr.DataArray,
    *,
    n_layers: int = 5,
    electrodes_mm: tuple[float, float] | None = None,
    electrode_profile: npt.ArrayLike | None = None,
    magnitude: bool = False,
    noise: Literal["spatial", "temporal"] = "spatial",
    background: npt.ArrayLike | None = None,
    displacement_px: float = 0.0,
    reference: Literal["first", "none"] | float = "none",
    window: int = 7,
    n_stages: int = 4,
    stage_signal: Literal["total", "rate", "gradient"] = "total",
    record: EchemRecord | None = None,
    shorts: bool = True,
    short_frame: int | None = None,
) -> xr.Dataset:
    """Per-layer amounts, growth rates and growth stages of an MRI time series.

    Parameters
    ----------
    series : xarray.DataArray
        Dims ``(frame, depth[, ...])``: 1D profiles, or images whose axes after ``depth``
        are lateral (summed). Coordinates ``depth`` (mm, uniform) and ``time_s`` (frame
        start, s; ``time_end_s`` optional).
    n_layers : int, default 5
        Equal layers between the electrode faces.
    electrodes_mm : (float, float), optional
        Electrode faces (mm); found from ``electrode_profile`` (default: the mean of the
        first three frames, laterally summed) by :func:`find_electrodes` otherwise.
    electrode_profile : (depth,) array_like, optional
        Profile whose plateau marks the gap between the electrodes (e.g. the electrolyte
        image when ``series`` is the metal image).
    magnitude : bool, default False
        Magnitude data: Rayleigh noise estimate and no baseline subtraction. Otherwise the
        background mean is subtracted and the noise is its standard deviation.
    noise : {"spatial", "temporal"}, default "spatial"
        ``"spatial"``: white noise, its std over the background voxels of each frame
        (Rayleigh estimate for magnitude data). ``"temporal"``: from frame-to-frame
        differences of the background (:func:`noise_from_differences`), which ignores a
        static background structure and measures the voxel-to-voxel noise correlation of
        apodised/zero-filled profiles, propagated through the layer sums.
    background : (depth,) bool array_like, optional
        Signal-free depth voxels of the series as acquired (default
        :func:`background_mask`, outer 10 %).
    displacement_px : float, default 0
        Read displacement of this image's resonance (e.g. the metal's Knight shift, from
        :func:`operando.mri.shift_displacement_px`), undone after the noise estimate.
    reference : "first", "none" or float, default "none"
        Normalise each layer to its first frame, not at all, or by a reference amount.
    window : int, default 7
        Longest window (frames) of the local straight-line fits of the growth rate
        (:func:`operando.mri.growth_rate`).
    n_stages : int, default 4
        Stages to find before the short circuit (0 to skip).
    stage_signal : {"total", "rate", "gradient"}
        Change points of the total amount (continuous piecewise linear), of the total
        growth rate (piecewise constant), or of the first minus the last layer
        (continuous piecewise linear: the build-up of a concentration gradient across the
        cell, for electrolyte profiles whose total is conserved).
    record : EchemRecord, optional
        Echem record on the frames' clock: adds ``echem_*`` and, with ``shorts``, finds
        the short circuit in the voltage (:func:`short_circuit_frame`).
    shorts : bool, default True
    short_frame : int, optional
        First frame after a short circuit known otherwise (overrides the record's).
        The stages are found on the frames before the short; it and every later frame
        get stage 0 (the short is an event of its own, not a growth stage).

    Returns
    -------
    xarray.Dataset
        ``operando_kind = "mri-layers"``; dims ``frame, layer[, depth]``; variables
        ``amount``, ``amount_err``, ``growth_rate``, ``growth_rate_err`` (frame, layer),
        ``total``, ``total_err``, ``total_rate``, ``total_rate_err``, ``stage`` (frame,
        1-based, 0 from the short circuit on), ``noise_sigma`` (frame), ``profile`` (frame, depth) and ``echem_*``
        with a record; coordinates ``time_s``, ``layer_start_mm``/``layer_end_mm``.
    """
    if "depth" not in series.dims or series.dims[0] != "frame":
        raise ParameterError(f"series must have dims (frame, depth, ...), got {series.dims}")
    if "time_s" not in series.coords:
        raise ParameterError("series needs a time_s coordinate (frame start, s)")
    arr = series.transpose("frame", "depth", ...)
    depth = np.asarray(arr["depth"].values, dtype=np.float64)
    n_frames = arr.sizes["frame"]
    lateral = [d for d in arr.dims if d not in ("frame", "depth")]
    n_lat = int(np.prod([arr.sizes[d] for d in lateral])) if lateral else 1
    mask = background_mask(depth) if background is None else np.asarray(background, dtype=bool)
    if mask.shape != depth.shape or not mask.any():
        raise ParameterError("background must be a non-empty boolean mask over depth")
    idx = np.flatnonzero(mask)
    # only the background voxels and the lateral sum are ever in memory (Dask-backed
    # series are reduced chunk by chunk)
    bg_values = np.asarray(arr.isel(depth=idx).values, dtype=np.float64)
    raw_profile = np.asarray(
        arr.astype(np.float64).sum(dim=lateral).values if lateral else arr.values, dtype=np.float64
    )
    bg = bg_values.reshape(n_frames, -1)
    autocorr = None
    baseline = np.zeros(n_frames) if magnitude else bg.mean(axis=1)
    if noise == "temporal" and n_frames < 2:
        raise ParameterError(
            f"--noise temporal needs at least 2 frames, the series has {n_frames}: use --noise spatial"
        )
    if noise == "temporal":
        # a receiver offset that changes from frame to frame is removed with the baseline
        # below, so it is no noise of the amounts: take it out of the differences too
        # (over all background voxels of a frame, so no lag is biased noticeably)
        centred = bg_values - baseline.reshape((n_frames,) + (1,) * (bg_values.ndim - 1))
        sigma_t, autocorr = _temporal_noise(centred, idx)
        sigma = np.full(n_frames, sigma_t)
    elif noise == "spatial":
        sigma = noise_sigma(bg, magnitude=magnitude, axis=1)
    else:
        raise ParameterError(f"noise must be 'spatial' or 'temporal', got {noise!r}")
    baseline_err = np.zeros(n_frames) if magnitude else sigma / np.sqrt(bg.shape[1])
    # as collapse_lateral(values - baseline, sigma), without holding the whole series
    profile = raw_profile - baseline[:, None] * n_lat
    sigma_profile = sigma * np.sqrt(n_lat)
    if displacement_px:
        if not np.isfinite(displacement_px) or abs(displacement_px) >= depth.size:
            raise ParameterError(f"--displacement-px {displacement_px:g}: beyond the {depth.size} depth voxels")
        profile = correct_displacement(profile, displacement_px, axis=1)
    if electrodes_mm is None:
        ref_profile = (
            profile[: min(3, profile.shape[0])].mean(axis=0)
            if electrode_profile is None
            else np.asarray(electrode_profile, dtype=np.float64)
        )
        electrodes_mm = find_electrodes(ref_profile, depth)
    step = float(abs(depth[1] - depth[0])) if depth.size > 1 else 0.0
    lo_fov, hi_fov = float(depth.min()) - step / 2, float(depth.max()) + step / 2
    if not all(np.isfinite(v) and lo_fov <= v <= hi_fov for v in electrodes_mm):
        raise ParameterError(
            f"--electrodes {electrodes_mm[0]:g},{electrodes_mm[1]:g} mm: outside the field of view "
            f"{lo_fov:g}..{hi_fov:g} mm"
        )
    gap_voxels = abs(float(electrodes_mm[1]) - float(electrodes_mm[0])) / step if step > 0 else 0.0
    if not 1 <= n_layers <= gap_voxels:
        raise ParameterError(
            f"--layers {n_layers}: needs 1 to {int(gap_voxels)} layers (each at least one voxel of the "
            f"{gap_voxels:.1f} between the electrodes)"
        )
    edges = layer_edges(electrodes_mm, n_layers)
    # the baseline was removed per voxel before the lateral sum: per profile voxel its
    # error is n_lat times the per-voxel one, common to every voxel
    b_err = baseline_err * n_lat
    amount, amount_err = layer_amounts(
        profile, depth, edges, sigma=sigma_profile, baseline_err=b_err, autocorr=autocorr
    )
    total, total_err = (
        v[:, 0]
        for v in layer_amounts(
            profile, depth, edges[[0, -1]], sigma=sigma_profile, baseline_err=b_err, autocorr=autocorr
        )
    )
    if reference == "first":
        amount, amount_err = normalise(amount, amount_err, reference="first")
        total, total_err = (v[:, 0] for v in normalise(total[:, None], total_err[:, None], reference="first"))
    elif reference != "none":
        amount, amount_err = normalise(amount, amount_err, reference=float(reference))
        total, total_err = (v[:, 0] for v in normalise(total[:, None], total_err[:, None], reference=float(reference)))
    t = np.asarray(arr["time_s"].values, dtype=np.float64)
    if window < 3:
        raise ParameterError(f"--window {window}: must be at least 3 frames")
    if n_stages < 0 or 3 * n_stages > t.size:
        raise ParameterError(f"--stages {n_stages}: must be 0 to {t.size // 3} (3 frames per stage, {t.size} frames)")
    rate, rate_err = growth_rate(amount, amount_err, t, window=window)
    trate, trate_err = growth_rate(total, total_err, t, window=window)
    short = None
    t_end = np.asarray(arr["time_end_s"].values if "time_end_s" in arr.coords else t, dtype=np.float64)
    if short_frame is not None:
        if not 0 < short_frame < t.size:
            raise ParameterError(f"--short-frame {short_frame}: must be a frame in 1..{t.size - 1}")
        short = int(short_frame)
    elif record is not None and shorts:
        short = short_circuit_frame(record, t)
    if n_stages > 0:
        signals = {"total": total, "rate": trate, "gradient": amount[:, 0] - amount[:, -1]}
        if stage_signal not in signals:
            raise ParameterError(f"stage_signal must be one of {sorted(signals)}, got {stage_signal!r}")
        signal = signals[stage_signal]
        model = "l2" if stage_signal == "rate" else "clinear"
        stage, boundaries = detect_stages(signal, n_stages=n_stages, model=model, short_frame=short, time_s=t)
    else:
        stage, boundaries = np.ones(t.size, dtype=np.int64), []
        if short is not None:
            stage[short:] = AFTER_SHORT
    unit = "1" if reference != "none" else f"{series.attrs.get('units', 'a.u.')} mm"
    fl: tuple[str, str] = ("frame", "layer")
    ds = xr.Dataset(
        {
            "amount": (fl, amount, {"units": unit, "long_name": "signal in layer"}),
            "amount_err": (fl, amount_err, {"units": unit, "long_name": "1-sigma noise error of amount"}),
            "growth_rate": (fl, rate, {"units": f"{unit}/s", "long_name": "d(amount)/dt, local straight-line fits"}),
            "growth_rate_err": (fl, rate_err, {"units": f"{unit}/s"}),
            "total": ("frame", total, {"units": unit, "long_name": "signal between the electrodes"}),
            "total_err": ("frame", total_err, {"units": unit}),
            "total_rate": ("frame", trate, {"units": f"{unit}/s"}),
            "total_rate_err": ("frame", trate_err, {"units": f"{unit}/s"}),
            "stage": (
                "frame",
                stage,
                {"units": "", "long_name": "growth stage (1 = I, ...; 0 = after the short circuit)"},
            ),
            "noise_sigma": (
                "frame",
                sigma * np.sqrt(n_lat),
                {"units": series.attrs.get("units", "a.u."), "long_name": "noise std of one profile voxel"},
            ),
            "profile": (
                ("frame", "depth"),
                profile,
                {"units": series.attrs.get("units", "a.u."), "long_name": "profile (lateral sum, baseline removed)"},
            ),
        },
        coords={
            "frame": np.arange(t.size),
            "layer": np.arange(n_layers),
            "depth": ("depth", depth, {"units": "mm"}),
            "time_s": ("frame", t, {"units": "s", "long_name": "frame start"}),
            "time_end_s": ("frame", t_end, {"units": "s", "long_name": "frame end"}),
            "layer_start_mm": ("layer", edges[:-1], {"units": "mm"}),
            "layer_end_mm": ("layer", edges[1:], {"units": "mm"}),
        },
        attrs={
            "operando_kind": "mri-layers",
            "electrodes_mm": [float(v) for v in electrodes_mm],
            "n_layers": int(n_layers),
            "reference": str(reference),
            "magnitude": bool(magnitude),
            "noise": str(noise),
            "noise_autocorr": [] if autocorr is None else [float(v) for v in autocorr],
            "rate_window": int(window),
            "rate_method": "local straight-line fits, chi-square-tested windows",
            "stage_signal": str(stage_signal),
            "stage_boundaries": [int(b) for b in boundaries],
            "stage_names": list(STAGE_NAMES[: max(len(boundaries) + 1, 1)]),
            "short_circuit_frame": -1 if short is None else int(short),
            "displacement_px": float(displacement_px),
        },
    )
    if record is not None:
        ds = place_on_record(ds, record, ds["time_s"].values, ds["time_end_s"].values)
    return ds


def uncovered_frames(ds: xr.Dataset) -> npt.NDArray[np.intp]:
    """Frames with no echem voltage (outside the record's time; the clocks may disagree); empty without a record.

    Examples
    --------
    >>> ds = xr.Dataset({"echem_voltage_V": ("frame", [np.nan, 3.9, np.nan])})
    >>> uncovered_frames(ds).tolist()
    [0, 2]
    """
    if "echem_voltage_V" not in ds:
        return np.zeros(0, dtype=np.intp)
    return np.flatnonzero(~np.isfinite(np.asarray(ds["echem_voltage_V"].values, dtype=np.float64)))


def stage_table(ds: xr.Dataset) -> list[dict[str, Any]]:
    """Start/end frame and time of each growth stage, with the mean growth rate and the voltage.

    Frames after a short circuit (stage 0) belong to no stage and are left out; the short
    is ``ds.attrs["short_circuit_frame"]``.

    Returns
    -------
    list of dict
        One per stage: ``stage`` (roman), ``first_frame``, ``last_frame``, ``t_start_s``,
        ``t_end_s``, ``mean_rate``, ``mean_voltage_V`` (NaN without echem).
    """
    rows: list[dict[str, Any]] = []
    names: Sequence[str] = ds.attrs.get("stage_names", STAGE_NAMES)
    for s in np.unique(ds["stage"].values):
        if int(s) == AFTER_SHORT:
            continue
        frames = np.flatnonzero(ds["stage"].values == s)
        v = ds["echem_voltage_V"].values[frames] if "echem_voltage_V" in ds else np.full(frames.size, np.nan)
        rows.append(
            {
                "stage": names[int(s) - 1] if int(s) - 1 < len(names) else str(int(s)),
                "first_frame": int(frames[0]),
                "last_frame": int(frames[-1]),
                "t_start_s": float(ds["time_s"].values[frames[0]]),
                "t_end_s": float(ds["time_end_s"].values[frames[-1]]),
                "mean_rate": float(ds["total_rate"].values[frames].mean()),
                "mean_voltage_V": float(np.nanmean(v)) if np.isfinite(v).any() else float("nan"),
            }
        )
    return rows


def _check_numbers(
    *, n_layers: int, fov_mm: float, seconds_per_frame: float | None, t0_s: float, window: int, n_stages: int
) -> None:
    """Refuse out-of-range options before anything is read, naming the option (CLI spelling)."""
    if n_layers < 1:
        raise ParameterError(f"--layers {n_layers}: must be at least 1")
    if not (np.isfinite(fov_mm) and fov_mm > 0):
        raise ParameterError(f"--fov-mm {fov_mm:g}: must be a positive length")
    if seconds_per_frame is not None and not (np.isfinite(seconds_per_frame) and seconds_per_frame > 0):
        raise ParameterError(f"--seconds-per-frame {seconds_per_frame:g}: must be a positive duration")
    if not np.isfinite(t0_s):
        raise ParameterError(f"--t0-s {t0_s:g}: must be finite")
    if window < 3:
        raise ParameterError(f"--window {window}: must be at least 3 frames")
    if n_stages < 0:
        raise ParameterError(f"--stages {n_stages}: must be 0 or more")


@dataclass(frozen=True)
class LayersRun:
    """What :func:`layers_from_files` wrote.

    Attributes
    ----------
    dataset : xarray.Dataset
        The ``"mri-layers"`` dataset (:func:`quantify_layers`).
    store : Path
        The Zarr store written.
    input_kind : {"topspin-profiles", "images"}
        How the inputs were read.
    """

    dataset: xr.Dataset
    store: Path
    input_kind: str


def layers_from_files(
    inputs: Sequence[str | PathLike[str]],
    out: str | PathLike[str],
    *,
    voltage: str | PathLike[str] | None = None,
    echem: str | PathLike[str] | None = None,
    n_layers: int = 5,
    electrodes_mm: tuple[float, float] | None = None,
    fov_mm: float = 4.0,
    seconds_per_frame: float | None = None,
    t0_s: float = 0.0,
    depth_axis: str = "x",
    magnitude: bool = True,
    noise: Literal["spatial", "temporal"] = "temporal",
    normalise: Literal["first", "none"] = "first",
    displacement_px: float = 0.0,
    window: int = 7,
    n_stages: int = 4,
    stage_signal: Literal["total", "rate", "gradient"] = "total",
    short_frame: int | None = None,
    overwrite: bool = False,
) -> LayersRun:
    """Read an MRI time series and its echem record, quantify the layers and write the store.

    Parameters
    ----------
    inputs : sequence of path
        TopSpin 1D profile exports (all of them), or NIfTI / ParaVision ``2dseq`` images
        in time order; each repetition of a scan (and each volume of a 4D NIfTI) is a
        frame.
    out : path
        Zarr store of the ``"mri-layers"`` dataset (with the resolved parameters and
        the inputs' checksums).
    voltage : path, optional
        Zahner ``POL.txt`` log (h, V, mA) on the frames' clock.
    echem : path, optional
        Any potentiostat file :func:`operando.echem.read` reads (not with ``voltage``).
    n_layers : int, default 5
        Equal layers between the electrodes.
    electrodes_mm : (float, float), optional
        Electrode faces, mm (default: found from the profile).
    fov_mm : float, default 4
        Read field of view of 1D profiles, mm.
    seconds_per_frame : float, optional
        Time of one profile/image, s. Default: for images, the frame time the files record
        (a ParaVision scan's time per repetition, NIfTI's 4th zoom; refused when none);
        for TopSpin profiles, which record none, 513 s (the authors' default).
    t0_s : float, default 0
        Start of the first frame on the echem clock, s.
    depth_axis : str, default "x"
        Image axis across the cell (images).
    magnitude, noise, displacement_px, window, n_stages, stage_signal, short_frame
        See :func:`quantify_layers`.
    normalise : {"first", "none"}, default "first"
        Each layer divided by its first frame, or not.
    overwrite : bool, default False
        Replace an existing store.

    Returns
    -------
    LayersRun

    Raises
    ------
    ParameterError
        Both ``voltage`` and ``echem``; an unknown ``noise``, ``normalise`` or
        ``stage_signal``.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> depth = np.linspace(-2.0, 2.0, 128)
    >>> noise = np.random.default_rng(0).normal(0.0, 1.0, (12, depth.size))
    >>> for k in range(12):  # 12 TopSpin profile exports: a slab whose signal grows
    ...     head = f"# Data set = SYN  {10 + k}  1  /tmp\\n# LEFT = 100.0 ppm. RIGHT = -100.0 ppm.\\n"
    ...     profile = 100.0 * (np.abs(depth) < 1.0) * (1 + 0.05 * k) + noise[k]
    ...     _ = (folder / f"p{k:02d}.txt").write_text(head + "\\n".join(f"{v:.4f}" for v in profile))
    >>> run = layers_from_files(
    ...     sorted(folder.glob("p*.txt")), folder / "layers.zarr", electrodes_mm=(1.0, 3.0), n_stages=0
    ... )
    >>> run.input_kind, dict(run.dataset.sizes)["frame"], run.store.name
    ('topspin-profiles', 12, 'layers.zarr')
    """
    from operando.echem import read, read_zahner_log
    from operando.mri import is_topspin_profile, read_image_series, read_profile_series
    from operando.store import write_results

    if voltage is not None and echem is not None:
        raise ParameterError("give --voltage or --echem, not both")
    if noise not in ("temporal", "spatial"):
        raise ParameterError(f"--noise must be 'temporal' or 'spatial', got {noise!r}")
    if normalise not in ("first", "none"):
        raise ParameterError(f"--normalise must be 'first' or 'none', got {normalise!r}")
    if stage_signal not in ("total", "rate", "gradient"):
        raise ParameterError(f"--stage-signal must be total, rate or gradient, got {stage_signal!r}")
    _check_numbers(
        n_layers=n_layers,
        fov_mm=fov_mm,
        seconds_per_frame=seconds_per_frame,
        t0_s=t0_s,
        window=window,
        n_stages=n_stages,
    )
    paths = [Path(p) for p in inputs]
    profiles = [is_topspin_profile(p) for p in paths]
    if any(profiles) and not all(profiles):
        # e.g. "*.txt" over a folder of profiles that also holds the potentiostat log
        odd = paths[profiles.index(False)]
        raise UnsupportedFormatError(
            f"not a TopSpin profile like the other {sum(profiles)} input(s) (a potentiostat log? give it as --voltage)",
            path=odd,
        )
    if all(profiles):
        seconds_per_frame = 513.0 if seconds_per_frame is None else seconds_per_frame
        series = read_profile_series(paths, fov_mm=fov_mm, seconds_per_profile=seconds_per_frame, t0_s=t0_s)
        kind = "topspin-profiles"
    else:
        series = read_image_series(paths, depth_axis=depth_axis, seconds_per_frame=seconds_per_frame, t0_s=t0_s)
        seconds_per_frame = float(series.attrs["seconds_per_frame"])
        kind = "images"
    record = None
    if voltage is not None:
        record = read_zahner_log(voltage)
    elif echem is not None:
        record = read(echem)
    ds = quantify_layers(
        series,
        n_layers=n_layers,
        electrodes_mm=electrodes_mm,
        magnitude=magnitude,
        noise=noise,
        displacement_px=displacement_px,
        reference="first" if normalise == "first" else "none",
        window=window,
        n_stages=n_stages,
        stage_signal=stage_signal,
        record=record,
        short_frame=short_frame,
    )
    parameters = {
        "input_kind": kind,
        "layers": n_layers,
        "electrodes_mm": ds.attrs["electrodes_mm"],
        "fov_mm": fov_mm,
        "seconds_per_frame": seconds_per_frame,
        "t0_s": t0_s,
        "magnitude": magnitude,
        "noise": noise,
        "normalise": normalise,
        "displacement_px": displacement_px,
        "window": window,
        "stages": n_stages,
        "stage_signal": stage_signal,
        "short_frame": -1 if short_frame is None else int(short_frame),
    }
    data_files = [Path(p) for p in series.attrs.get("sources", paths)]  # a scan folder's 2dseq
    sources = [*data_files, *([Path(voltage)] if voltage else []), *([Path(echem)] if echem else [])]
    target = write_results(ds, out, parameters=parameters, inputs=sources, overwrite=overwrite)
    return LayersRun(ds, target, kind)


def csi_from_scan(
    path: str | PathLike[str],
    *,
    metal_ppm: tuple[float, float] = (200.0, 320.0),
    electrolyte_ppm: tuple[float, float] = (-50.0, 50.0),
    line_broadening_hz: float = 0.0,
    phase_deg: float = 0.0,
    keep_spectra: bool = False,
    extent_mm: Sequence[float] | None = None,
) -> xr.Dataset:
    """Metal and electrolyte maps of a CSI scan, reconstructed from its raw k-space.

    Reads a ParaVision ``fid`` (:func:`operando.mri.read_paravision_csi`) or a TopSpin
    ``ser`` whose indirect dimensions are phase encoded
    (:func:`operando.mri.read_topspin_csi`), transforms along the
    phase-encoded axes and the acquisition time (:func:`operando.mri.reconstruct_csi`)
    and integrates the shift windows of the two species
    (:func:`operando.mri.separate_by_shift`) in every voxel.

    Parameters
    ----------
    path : path
        Scan folder (or its ``fid``).
    metal_ppm, electrolyte_ppm : (float, float)
        Integration windows (default: around the Li metal Knight shift, around 0 ppm).
    line_broadening_hz, phase_deg : float
        Exponential apodisation and zero-order phase.
    keep_spectra : bool, default False
        Also return the real spectra of every voxel (large).
    extent_mm : sequence of float, optional
        Field of view per phase-encoded axis; required for TopSpin sets (their parameter
        files do not record it), overrides ParaVision's ``PVM_Fov``.

    Returns
    -------
    xarray.Dataset
        ``metal``, ``electrolyte`` (spatial dims ``x[, y[, z]]``, signal x ppm in ADC
        counts; coordinates in mm, centred on the field of view), ``noise_sigma`` (std of
        one window's area, from the spectral points outside both windows), optional
        ``spectrum`` (..., ``ppm``); attrs with the scan's spectral parameters.
    """
    from operando.mri import (
        fid_truncation,
        read_paravision_csi,
        read_topspin_csi,
        reconstruct_csi,
        separate_by_shift,
        shift_window_mask,
    )

    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    if (folder / "ser").is_file() and (folder / "acqus").is_file() and not (folder / "fid").is_file():
        if extent_mm is None:
            raise ParameterError(
                "a TopSpin ser records no field of view: give --fov-mm (one length per phase axis)", path=folder
            )
        scan = read_topspin_csi(path, extent_mm=extent_mm)
    else:
        scan = read_paravision_csi(path)
        if extent_mm is not None:
            if len(extent_mm) != len(scan.extent_mm) or not all(np.isfinite(v) and v > 0 for v in extent_mm):
                raise ParameterError(f"--fov-mm: give {len(scan.extent_mm)} positive lengths, got {list(extent_mm)}")
            scan = replace(scan, extent_mm=tuple(float(v) for v in extent_mm))
    n_space = scan.kspace.ndim - 1
    # a FID cut while it holds signal rings into every window (metal in every voxel); the
    # exponential window damps the cut: warned while more than 3 % of the largest point is left
    # (17 % moved a metal total by +50 %; 1.5 % by 2 %)
    left = fid_truncation(scan.kspace)
    aq_s = scan.kspace.shape[-1] / scan.sw_hz
    if left * np.exp(-np.pi * line_broadening_hz * aq_s) > 0.03:
        import warnings

        lb = np.log(left / 0.005) / (np.pi * aq_s)  # leaves 0.5 %
        warnings.warn(
            f"{scan.source}: the FIDs are cut at {100 * left:.0f} % of their largest point (acquisition "
            f"{1e3 * aq_s:.2g} ms): the truncation ringing carries each line into the other shift window (metal read "
            f"in every electrolyte voxel); give --lb-hz {lb:.0f} or more",
            stacklevel=2,
        )
    spectra, ppm = reconstruct_csi(
        scan.kspace,
        phase_axes=list(range(n_space)),
        sw_hz=scan.sw_hz,
        bf_MHz=scan.bf_MHz,
        o1_hz=scan.o1_hz,
        line_broadening_hz=line_broadening_hz,
        phase_deg=phase_deg,
    )
    real = np.ascontiguousarray(spectra.real)
    metal, electrolyte = separate_by_shift(real, ppm, metal_ppm=metal_ppm, electrolyte_ppm=electrolyte_ppm)
    # noise of a window's area: the points outside both windows (and away from the ends)
    free = ~(shift_window_mask(ppm, metal_ppm) | shift_window_mask(ppm, electrolyte_ppm))
    free[: ppm.size // 20] = free[-(ppm.size // 20) :] = False
    step = abs(float(ppm[1] - ppm[0]))
    n_m = int(shift_window_mask(ppm, metal_ppm).sum())
    sigma_pt = float(np.std(real[..., free])) if free.sum() > 2 else float("nan")
    dims = ["x", "y", "z"][:n_space]
    coords: dict[str, Any] = {
        d: (d, (np.arange(n) - n // 2) * (e / n), {"units": "mm"})
        for d, n, e in zip(dims, scan.kspace.shape[:-1], scan.extent_mm, strict=True)
    }
    data: dict[str, Any] = {
        "metal": (dims, metal, {"units": "ADC counts x ppm", "long_name": f"area {metal_ppm} ppm"}),
        "electrolyte": (dims, electrolyte, {"units": "ADC counts x ppm", "long_name": f"area {electrolyte_ppm} ppm"}),
        "noise_sigma": ((), sigma_pt * np.sqrt(n_m) * step, {"units": "ADC counts x ppm"}),
    }
    if keep_spectra:
        coords["ppm"] = ("ppm", ppm, {"units": "ppm"})
        data["spectrum"] = ([*dims, "ppm"], real, {"units": "ADC counts"})
    return xr.Dataset(
        data,
        coords=coords,
        attrs={
            "operando_kind": "mri-csi",
            "source": scan.source,
            "sha256": scan.sha256,
            "sw_hz": scan.sw_hz,
            "bf_MHz": scan.bf_MHz,
            "o1_hz": scan.o1_hz,
            "nucleus": scan.nucleus or "",
            "line_broadening_hz": float(line_broadening_hz),
            "phase_deg": float(phase_deg),
        },
    )


def write_csi(
    ds: xr.Dataset,
    out: str | PathLike[str],
    *,
    parameters: dict[str, Any],
    overwrite: bool = False,
) -> Path:
    """Write the ``mri-csi`` store of :func:`csi_from_scan` (maps, noise, the scan's parameters).

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`csi_from_scan` (``keep_spectra`` or not).
    out : path
        ``OUT.zarr``.
    parameters : dict
        The resolved parameters to record (windows, apodisation, phase, field of view).
    overwrite : bool, default False

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ParameterError
        ``out`` not ending in ``.zarr``.

    Examples
    --------
    >>> import tempfile
    >>> from operando.synthetic import write_paravision_csi
    >>> d = Path(tempfile.mkdtemp())
    >>> metal = np.zeros((4, 4, 2)); metal[1, 2, 0] = 1.0
    >>> scan, _ = write_paravision_csi(d / "5", metal, np.zeros_like(metal), extent_mm=(4.0, 4.0, 2.0))
    >>> write_csi(csi_from_scan(scan), d / "csi.zarr", parameters={}).name
    'csi.zarr'
    """
    from operando.store import write_results

    target = Path(out)
    if target.suffix != ".zarr":
        raise ParameterError(f"--out must end in .zarr, got {target.name}")
    folder = Path(str(ds.attrs["source"])).parent
    inputs = [f for f in sorted(folder.iterdir()) if f.is_file()]
    return write_results(ds, target, parameters=parameters, inputs=inputs, overwrite=overwrite)
