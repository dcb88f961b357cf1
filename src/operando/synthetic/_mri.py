"""Forward model of in situ MRI of lithium dendrites growing through a solid electrolyte.

A Li | electrolyte | Li pellet is imaged along its depth (the read direction) while
lithium is plated from the left electrode. The metal grows layer by layer: the total
amount ``M(t)`` is piecewise linear with one growth rate per stage, as the paper reads
its in situ 7Li MRI (I fast initial growth, II stalled growth, III fast growth again,
IV slowing down towards the short circuit), and fills the layers between the electrodes
one after another from the plating side. All four stages precede the short circuit; from
the short on the current flows through the metal path and the amount stops growing. Each
layer's metal is spread unevenly over the lateral voxels (fixed random weights of mean 1)
and uniformly over its depth voxels, so the exact per-layer amount is known.

Two images per frame are returned, as a two-frequency acquisition gives them: the
electrolyte image (uniform in the gap) and the metal image (the electrode foils plus the
dendrites), the latter displaced along the read axis by the Knight shift
(``shift_displacement_px``). Both are phase-corrected real images with white Gaussian
noise whose level jitters from frame to frame (receiver and temperature drifts) on a
per-frame receiver offset; 1D profiles are their lateral sums. The potentiostat record of the same plating
current shows the short circuit when the last layer fills.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from os import PathLike
from pathlib import Path

import numpy as np
import numpy.typing as npt
import xarray as xr

from operando.echem import EchemRecord
from operando.errors import ParameterError
from operando.mri import stages_from_boundaries
from operando.synthetic._symmetric import simulate_symmetric_cell

__all__ = [
    "DendriteTruth",
    "SyntheticDendriteMRI",
    "csi_phantom",
    "simulate_dendrite_mri",
    "write_paravision_csi",
    "write_paravision_scan",
    "write_topspin_csi",
]


@dataclass(frozen=True)
class DendriteTruth:
    """The ground truth of :func:`simulate_dendrite_mri`.

    Attributes
    ----------
    amount : (F, L) ndarray
        Metal in each layer, in image units × mm summed over the lateral voxels (the unit
        :func:`operando.mri.layer_amounts` returns for a laterally summed image).
    total : (F,) ndarray
    edges_mm : (L + 1,) ndarray
        Layer edges; the first and last are the electrode faces.
    stage_boundaries : tuple of int
        First frame of stages II, III, IV.
    stage : (F,) ndarray of int
        1 .. 4 before the short, 0 from the short on.
    short_frame : int
        First frame after the short circuit (growth has stopped).
    short_time_s : float
        When the dendrite reaches the counter-electrode (after stage IV).
    sigma : float
        Mean noise std per voxel.
    sigma_frame : (F,) ndarray
        Noise std per voxel of each frame.
    rate : (F, L) ndarray
        True d(amount)/dt per layer (per s), the one-sided rate after each frame start
        (at a kink: the rate of the stage that starts there).
    """

    amount: npt.NDArray[np.float64]
    total: npt.NDArray[np.float64]
    edges_mm: npt.NDArray[np.float64]
    stage_boundaries: tuple[int, ...]
    stage: npt.NDArray[np.int64]
    short_frame: int
    short_time_s: float
    sigma: float
    sigma_frame: npt.NDArray[np.float64]
    rate: npt.NDArray[np.float64]


@dataclass(frozen=True)
class SyntheticDendriteMRI:
    """Images, record and truth of one simulated experiment.

    Attributes
    ----------
    metal : xarray.DataArray
        ``(frame, depth, lateral)`` metal image, displaced by ``displacement_px`` voxels.
    electrolyte : xarray.DataArray
        ``(frame, depth, lateral)`` electrolyte image.
    record : EchemRecord
    truth : DendriteTruth
    displacement_px : float
    """

    metal: xr.DataArray
    electrolyte: xr.DataArray
    record: EchemRecord
    truth: DendriteTruth
    displacement_px: float


def _total_amount(
    n_frames: int, boundaries: Sequence[int], levels: Sequence[float], short_frame: int, m_max: float
) -> npt.NDArray[np.float64]:
    """Piecewise-linear total through ``levels * m_max`` at the stage boundaries and ``m_max``
    at the short circuit, flat after it."""
    knots = [0, *boundaries, short_frame]
    if np.any(np.diff(knots) <= 0):
        raise ParameterError(f"stage boundaries {list(boundaries)} and the short at {short_frame} must increase")
    if short_frame > n_frames - 1:
        raise ParameterError(f"the short circuit at frame {short_frame} is after the last frame {n_frames - 1}")
    values = [0.0, *(lv * m_max for lv in levels), m_max]
    return np.interp(np.arange(n_frames), knots, values)


def simulate_dendrite_mri(
    *,
    n_frames: int = 60,
    stage_boundaries: Sequence[int] = (10, 20, 34),
    stage_levels: Sequence[float] = (0.25, 0.3, 0.8),
    short_frame: int | None = None,
    n_layers: int = 5,
    depth_px: int = 160,
    lateral_px: int = 24,
    voxel_mm: float = 0.02,
    electrodes_px: tuple[int, int] = (24, 104),
    foil_px: int = 10,
    fill: float = 0.5,
    sigma: float = 0.05,
    sigma_jitter: float = 0.1,
    offset_sigma: float = 0.5,
    seconds_per_frame: float = 300.0,
    displacement_px: float = 8.0,
    current_mA: float = 0.5,
    seed: int = 0,
) -> SyntheticDendriteMRI:
    """Simulate the MRI series and the voltage of a pellet shorted by layer-by-layer dendrites.

    Parameters
    ----------
    n_frames : int
    stage_boundaries : (3,) sequence of int
        First frames of stages II, III and IV.
    stage_levels : (3,) sequence of float
        Fraction of the amount at the short reached at each stage boundary (the default
        rates per frame: fast, stalled, fast, slowing).
    short_frame : int, optional
        First frame after the short circuit (growth stops there); default halfway between
        the start of stage IV and the last frame.
    n_layers : int
        Layers between the electrodes; the gap must hold a whole number of voxels per layer.
    depth_px, lateral_px : int
        Image size.
    voxel_mm : float
        Voxel size along depth (mm).
    electrodes_px : (int, int)
        Electrode faces, in voxel edges.
    foil_px : int
        Thickness of each Li foil outside the gap (metal signal 1).
    fill : float
        Metal signal of a full layer voxel (foil = 1).
    sigma : float
        Mean noise std per voxel (both images).
    sigma_jitter : float
        Relative frame-to-frame spread of the noise std (log-normal).
    offset_sigma : float
        Std of the per-frame receiver offset, in units of ``sigma``.
    seconds_per_frame : float
    displacement_px : float
        Read displacement of the metal image (Knight shift / bandwidth per voxel).
    current_mA : float
        Plating current of the record.
    seed : int

    Returns
    -------
    SyntheticDendriteMRI

    Examples
    --------
    >>> sim = simulate_dendrite_mri(seed=1)
    >>> sim.truth.stage_boundaries, sim.truth.short_frame, sim.metal.dims
    ((10, 20, 34), 47, ('frame', 'depth', 'lateral'))
    """
    a, b = electrodes_px
    gap = b - a
    if gap % n_layers:
        raise ParameterError(f"the gap of {gap} voxels does not split into {n_layers} whole layers")
    if a - foil_px < 0 or b + foil_px > depth_px:
        raise ParameterError("the foils do not fit in the field of view")
    if len(stage_boundaries) != len(stage_levels):
        raise ParameterError("one level per stage boundary")
    short = int(stage_boundaries[-1] + (n_frames - stage_boundaries[-1]) // 2) if short_frame is None else short_frame
    rng = np.random.default_rng(seed)
    per_layer = gap // n_layers
    capacity = fill * per_layer * lateral_px * voxel_mm  # amount of a full layer
    total = _total_amount(n_frames, stage_boundaries, stage_levels, short, n_layers * capacity)
    amount = np.clip(total[:, None] - capacity * np.arange(n_layers)[None, :], 0.0, capacity)
    lateral = rng.gamma(8.0, 1.0 / 8.0, size=(n_layers, lateral_px))
    lateral /= lateral.mean(axis=1, keepdims=True)
    clean = np.zeros((n_frames, depth_px, lateral_px))
    clean[:, a - foil_px : a, :] = 1.0
    clean[:, b : b + foil_px, :] = 1.0
    for k in range(n_layers):
        density = amount[:, k] / (per_layer * lateral_px * voxel_mm)  # per voxel, lateral mean
        lo = a + k * per_layer
        clean[:, lo : lo + per_layer, :] += density[:, None, None] * lateral[k][None, None, :]
    shifted = np.zeros_like(clean)
    k_int = int(np.floor(displacement_px))
    frac = displacement_px - k_int
    # displace by linear interpolation (exact for whole voxels)
    for w, k_s in ((1.0 - frac, k_int), (frac, k_int + 1)):
        if w == 0.0:
            continue
        if k_s >= 0:
            shifted[:, k_s:, :] += w * clean[:, : depth_px - k_s, :]
        else:
            shifted[:, :k_s, :] += w * clean[:, -k_s:, :]
    # receiver conditions: the noise level drifts from frame to frame, each frame on its own
    # DC offset (removed by the background mean for real-valued images)
    sigma_frame = sigma * np.exp(sigma_jitter * rng.standard_normal(n_frames) - 0.5 * sigma_jitter**2)
    offsets = offset_sigma * sigma * rng.standard_normal((2, n_frames))
    noise = rng.standard_normal((2, *clean.shape)) * sigma_frame[None, :, None, None]
    metal = shifted + noise[0] + offsets[0][:, None, None]
    electrolyte_clean = np.zeros_like(clean)
    electrolyte_clean[:, a:b, :] = 1.0
    electrolyte = electrolyte_clean + noise[1] + offsets[1][:, None, None]
    t = np.arange(n_frames) * seconds_per_frame
    coords = {
        "frame": np.arange(n_frames),
        "depth": ("depth", (np.arange(depth_px) + 0.5) * voxel_mm, {"units": "mm"}),
        "lateral": ("lateral", (np.arange(lateral_px) + 0.5) * voxel_mm, {"units": "mm"}),
        "time_s": ("frame", t, {"units": "s"}),
        "time_end_s": ("frame", t + seconds_per_frame, {"units": "s"}),
    }
    dims = ("frame", "depth", "lateral")
    short_time = short * seconds_per_frame
    record = simulate_symmetric_cell(
        current_mA=current_mA,
        half_cycle_s=(n_frames + 1) * seconds_per_frame,
        half_cycles=1,
        dt_s=seconds_per_frame / 20.0,
        overpotential_V=0.1,
        growth_per_h=0.05,
        short_at_s=short_time,
        noise_V=2e-4,
        seed=seed,
    )
    rate = np.zeros_like(amount)
    rate[:-1] = np.diff(amount, axis=0) / seconds_per_frame
    rate[-1] = rate[-2] if n_frames > 1 else 0.0
    truth = DendriteTruth(
        amount=amount,
        total=amount.sum(axis=1),
        edges_mm=np.asarray((a + per_layer * np.arange(n_layers + 1)) * voxel_mm, dtype=np.float64),
        stage_boundaries=tuple(int(v) for v in stage_boundaries),
        stage=stages_from_boundaries(n_frames, stage_boundaries, short_frame=short),
        short_frame=int(short),
        short_time_s=float(short_time),
        sigma=float(sigma),
        sigma_frame=sigma_frame,
        rate=rate,
    )
    return SyntheticDendriteMRI(
        metal=xr.DataArray(metal, dims=dims, coords=coords, attrs={"units": "a.u.", "channel": "metal"}),
        electrolyte=xr.DataArray(
            electrolyte, dims=dims, coords=coords, attrs={"units": "a.u.", "channel": "electrolyte"}
        ),
        record=record,
        truth=truth,
        displacement_px=float(displacement_px),
    )


def csi_phantom(
    metal: npt.ArrayLike,
    electrolyte: npt.ArrayLike,
    *,
    ppm: npt.ArrayLike | None = None,
    metal_ppm: float = 260.0,
    electrolyte_ppm: float = 0.0,
    width_ppm: float = 8.0,
    sigma: float = 0.0,
    seed: int = 0,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Chemical-shift-imaging data: a Gaussian line per species per voxel.

    Parameters
    ----------
    metal, electrolyte : (...) array_like
        Line areas (signal × ppm) of each species in each voxel.
    ppm : (P,) array_like, optional
        Shift axis; default 401 points from 400 to -200 ppm.
    metal_ppm, electrolyte_ppm, width_ppm : float
        Line positions and Gaussian standard deviation.
    sigma : float
        White noise per spectral point.
    seed : int

    Returns
    -------
    spectra : (..., P) ndarray
    ppm : (P,) ndarray
    """
    x = np.linspace(400.0, -200.0, 401) if ppm is None else np.asarray(ppm, dtype=np.float64)
    m = np.asarray(metal, dtype=np.float64)[..., None]
    e = np.asarray(electrolyte, dtype=np.float64)[..., None]

    def line(centre: float) -> npt.NDArray[np.float64]:
        return np.asarray(np.exp(-0.5 * ((x - centre) / width_ppm) ** 2) / (width_ppm * np.sqrt(2 * np.pi)))

    spectra = m * line(metal_ppm) + e * line(electrolyte_ppm)
    if sigma:
        spectra = spectra + np.random.default_rng(seed).normal(0.0, sigma, spectra.shape)
    return spectra, x


# -- Bruker ParaVision scans -------------------------------------------------------------------


def _jcamp_value(value: object) -> str:
    """One JCAMP-DX parameter value as ParaVision writes it (arrays with their size line)."""
    if isinstance(value, str):
        return value
    arr = np.asarray(value)
    if arr.ndim == 0:
        return f"{arr.item():.15g}" if arr.dtype.kind == "f" else str(arr.item())
    body = " ".join(f"{v:.15g}" if arr.dtype.kind == "f" else str(v) for v in arr.ravel())
    # ParaVision wraps long value lines at 80 characters
    lines, line = [], ""
    for word in body.split(" "):
        if len(line) + len(word) + 1 > 79:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    # wrapped lines keep a trailing blank: readers join the lines as they are
    return f"( {', '.join(str(n) for n in arr.shape)} )\n" + " \n".join(lines)


def _write_jcamp(path: Path, title: str, params: dict[str, object]) -> None:
    head = [
        f"##TITLE={title}",
        "##JCAMPDX=4.24",
        "##DATATYPE=Parameter Values",
        "##ORIGIN=Bruker BioSpin MRI GmbH",
        "##OWNER=operando-synthetic",
        f"$$ {path}",
    ]
    body = [f"##${name}={_jcamp_value(v)}" for name, v in params.items()]
    path.write_text("\n".join([*head, *body, "##END=", ""]), encoding="latin-1")


def write_paravision_scan(
    folder: str | PathLike[str],
    images: npt.ArrayLike,
    *,
    extent_mm: Sequence[float],
    frame_groups: Sequence[tuple[str, int]] = (),
    scan_time_s: float = 300.0,
    frequency_MHz: float = 194.4,
    nucleus: str = "7Li",
    echo_time_ms: float = 1.0,
    repetition_time_ms: float = 250.0,
    method: str = "FLASH",
    pv_version: str = "6.0.1",
    describe_groups: bool = True,
    acquired_at: datetime | None = None,
    seed: int = 0,
) -> Path:
    """Write images as a ParaVision scan folder: ``acqp``, ``method`` and ``pdata/1/{2dseq, visu_pars}``.

    The 2dseq holds 16-bit signed integers, each frame scaled to the full int16 range with
    its own ``VisuCoreDataSlope`` (and a small ``VisuCoreDataOffs``), as ParaVision maps
    reconstructed frames; frame groups are listed innermost first (``VisuFGOrderDesc``),
    repetitions as ``FG_CYCLE`` (``NR`` in acqp, ``PVM_NRepetitions`` in method). Slices
    of a multi-slice scan get distinct ``VisuCorePosition`` entries; a single-slice scan
    repeats one position (brukerapi then adds a frame axis of length 1).

    Parameters
    ----------
    folder : path
        The scan folder to create (e.g. ``study/12``); must not exist.
    images : (X, Y[, Z], G1, G2, ...) array_like
        Real (magnitude) images, core axes first then one axis per frame group.
    extent_mm : sequence of float
        Field of view along each core axis (``VisuCoreExtent``).
    frame_groups : sequence of (str, int)
        ``(FG_name, size)`` of each frame axis of ``images``, innermost (fastest) first,
        e.g. ``[("FG_SLICE", 3), ("FG_CYCLE", 20)]``.
    scan_time_s : float
        Duration of one repetition; the scan time recorded is ``scan_time_s * NR``.
    frequency_MHz, nucleus, echo_time_ms, repetition_time_ms, method, pv_version
        Header values.
    describe_groups : bool, default True
        False writes no ``VisuFGOrderDesc`` (older/odd exports): the frames are then
        described only by ``VisuCoreFrameCount`` and acqp's ``NR``/``NI``.
    acquired_at : datetime, optional
        Acquisition start, written as ``VisuAcqDate`` the way ParaVision 360 writes it
        (``<2024-07-25T09:15:09,381+0200>``; naive times as PV 5/6: ``<09:15:09 25 Jul 2024>``).
    seed : int
        For the per-frame offsets.

    Returns
    -------
    Path
        The scan folder.
    """
    data = np.asarray(images, dtype=np.float64)
    groups = [(str(n), int(k)) for n, k in frame_groups]
    core = data.ndim - len(groups)
    if core not in (2, 3) or tuple(data.shape[core:]) != tuple(k for _, k in groups):
        raise ParameterError(f"images of shape {data.shape} do not match frame groups {groups}")
    if len(extent_mm) != core:
        raise ParameterError(f"{len(extent_mm)} extents for {core} core axes")
    out = Path(folder)
    if out.exists():
        raise ParameterError(f"{out} exists already")
    pdata = out / "pdata" / "1"
    pdata.mkdir(parents=True)
    n_frames = int(np.prod([k for _, k in groups])) if groups else 1
    frames = data.reshape(*data.shape[:core], n_frames, order="F")
    rng = np.random.default_rng(seed)
    offs = rng.normal(0.0, 1e-3, n_frames) * np.abs(frames).max(axis=tuple(range(core)))
    span = np.abs(frames - offs).max(axis=tuple(range(core)))
    slope = np.where(span > 0, span / 32767.0, 1.0)
    stored = np.round((frames - offs) / slope).astype("<i2")
    (pdata / "2dseq").write_bytes(stored.tobytes(order="F"))
    sizes = dict(groups)
    n_rep = sizes.get("FG_CYCLE", 1) * sizes.get("FG_REPETITION", 1)
    n_slice = sizes.get("FG_SLICE", 1)
    slice_index = np.zeros(n_frames, dtype=int)
    if "FG_SLICE" in sizes:
        inner = int(np.prod([k for n, k in groups[: [n for n, _ in groups].index("FG_SLICE")]]))
        slice_index = (np.arange(n_frames) // inner) % n_slice
    position = np.zeros((n_frames, 3))
    position[:, 2] = 2.0 * (slice_index - (n_slice - 1) / 2)
    visu: dict[str, object] = {
        "VisuVersion": "1",
        "VisuCreator": "( 65 )\n<ParaVision>",
        "VisuCreatorVersion": f"( 65 )\n<{pv_version}>",
        "VisuCoreFrameCount": str(n_frames),
        "VisuCoreDim": str(core),
        "VisuCoreSize": np.asarray(data.shape[:core], dtype=int),
        "VisuCoreDimDesc": f"( {core} )\n" + " ".join(["spatial"] * core),
        "VisuCoreExtent": np.asarray(extent_mm, dtype=np.float64),
        "VisuCoreFrameThickness": np.asarray([2.0]),
        "VisuCoreUnits": f"( {core}, 65 )\n" + " ".join(["<mm>"] * core),
        "VisuCoreOrientation": np.tile(np.eye(3).ravel(), (n_frames, 1)),
        "VisuCorePosition": position,
        "VisuCoreDataMin": (stored.min(axis=tuple(range(core))) * slope + offs).astype(np.float64),
        "VisuCoreDataMax": (stored.max(axis=tuple(range(core))) * slope + offs).astype(np.float64),
        "VisuCoreDataOffs": offs.astype(np.float64),
        "VisuCoreDataSlope": slope.astype(np.float64),
        "VisuCoreFrameType": "MAGNITUDE_IMAGE",
        "VisuCoreWordType": "_16BIT_SGN_INT",
        "VisuCoreByteOrder": "littleEndian",
    }
    if describe_groups and groups:
        visu["VisuFGOrderDescDim"] = str(len(groups))
        start = 0
        desc = []
        for name, k in groups:
            deps = 2 if name == "FG_SLICE" else 0
            desc.append(f"({k}, <{name}>, <>, {start}, {deps})")
            start += deps
        visu["VisuFGOrderDesc"] = f"( {len(groups)} )\n" + " ".join(desc)
        visu["VisuGroupDepVals"] = "( 2 )\n(<VisuCoreOrientation>, 0) (<VisuCorePosition>, 0)"
    visu.update(
        {
            "VisuAcqImagingFrequency": np.float64(frequency_MHz),
            "VisuAcqImagedNucleus": nucleus,
            "VisuAcqEchoTime": np.asarray([echo_time_ms]),
            "VisuAcqRepetitionTime": np.asarray([repetition_time_ms]),
            "VisuAcqScanTime": np.float64(scan_time_s * 1e3 * n_rep),
            "VisuAcqSequenceName": f"( 65 )\n<{method}>",
        }
    )
    if acquired_at is not None:
        if acquired_at.tzinfo is None:
            visu["VisuAcqDate"] = "( 21 )\n<" + acquired_at.strftime("%H:%M:%S %d %b %Y") + ">"
        else:
            stamp = acquired_at.strftime("%Y-%m-%dT%H:%M:%S,") + f"{acquired_at.microsecond // 1000:03d}"
            visu["VisuAcqDate"] = "<" + stamp + acquired_at.strftime("%z") + ">"
    _write_jcamp(pdata / "visu_pars", "Parameter List", visu)
    _write_jcamp(
        out / "acqp",
        "Parameter List",
        {
            "ACQ_sw_version": f"<PV {pv_version}>",
            "PULPROG": f"<{method}.ppg>",
            "ACQ_method": f"<Bruker:{method}>",
            "ACQ_dim": str(core),
            "NI": str(n_slice * sizes.get("FG_ECHO", 1)),
            "NA": "1",
            "NAE": "1",
            "NR": str(n_rep),
            "NECHOES": str(sizes.get("FG_ECHO", 1)),
            "ACQ_n_movie_frames": str(sizes.get("FG_MOVIE", 1)),
            "BF1": np.float64(frequency_MHz),
            "NUC1": f"<{nucleus}>",
            "ACQ_scan_time": np.float64(scan_time_s * 1e3 * n_rep),
        },
    )
    _write_jcamp(
        out / "method",
        "Parameter List",
        {
            "Method": f"<Bruker:{method}>",
            "PVM_NRepetitions": str(n_rep),
            "PVM_ScanTime": np.float64(scan_time_s * 1e3 * n_rep),
            "PVM_Matrix": np.asarray(data.shape[:core], dtype=int),
            "PVM_Fov": np.asarray(extent_mm, dtype=np.float64),
            "PVM_RepetitionTime": np.float64(repetition_time_ms),
            "PVM_EchoTime": np.float64(echo_time_ms),
        },
    )
    return out


def _dft_matrix(n: int) -> npt.NDArray[np.complex128]:
    """``exp(-2 pi i k x / n)`` for centred ``k`` and ``x`` (``-n//2 .. n - n//2 - 1``): the
    phase encoding of one axis written out, no FFT (an independent forward model)."""
    c = np.arange(n) - n // 2
    return np.asarray(np.exp(-2j * np.pi * np.outer(c, c) / n))


def _csi_fids(
    metal: npt.NDArray[np.float64],
    electrolyte: npt.NDArray[np.float64],
    n_spec: int,
    sw_hz: float,
    bf_MHz: float,
    o1_hz: float,
    metal_ppm: float,
    electrolyte_ppm: float,
    t2_s: float,
    sigma: float,
    seed: int,
    *,
    delay: float,
) -> npt.NDArray[np.complex128]:
    """K-space FIDs ``(k1, ..., t)`` of two Lorentzian species by explicit phase encoding.

    ``delay`` (points) shifts every FID as a digital filter's group delay does: point ``n``
    samples the signal at ``(n - delay) / sw`` (nothing before it).
    """
    mats = [_dft_matrix(n) for n in metal.shape]

    def encode(rho: npt.NDArray[np.float64]) -> npt.NDArray[np.complex128]:
        k = rho.astype(np.complex128)
        for axis, mat in enumerate(mats):
            k = np.moveaxis(np.tensordot(mat, np.moveaxis(k, axis, 0), axes=(1, 0)), 0, axis)
        return k

    t = (np.arange(n_spec) - delay) / sw_hz
    decay = np.where(t >= 0, np.exp(-np.clip(t, 0, None) / t2_s), 0.0)
    line_m = np.exp(-2j * np.pi * (metal_ppm * bf_MHz - o1_hz) * t) * decay
    line_e = np.exp(-2j * np.pi * (electrolyte_ppm * bf_MHz - o1_hz) * t) * decay
    fid = encode(metal)[..., None] * line_m + encode(electrolyte)[..., None] * line_e
    if sigma:
        rng = np.random.default_rng(seed)
        fid = fid + sigma * (rng.standard_normal(fid.shape) + 1j * rng.standard_normal(fid.shape))
    return np.asarray(fid)


def write_paravision_csi(
    folder: str | PathLike[str],
    metal: npt.ArrayLike,
    electrolyte: npt.ArrayLike,
    *,
    extent_mm: Sequence[float],
    n_spec: int = 256,
    sw_hz: float = 100_000.0,
    bf_MHz: float = 194.4,
    o1_hz: float = 25_000.0,
    metal_ppm: float = 264.5,
    electrolyte_ppm: float = 1.2,
    t2_s: float = 1.5e-3,
    sigma: float = 0.0,
    counts: float | None = None,
    seed: int = 0,
) -> tuple[Path, float]:
    """Write a ParaVision CSI scan (raw ``fid`` + ``acqp`` + ``method``) of two Li species.

    Every spatial axis is phase encoded; each k-space point is one FID of ``n_spec``
    complex points (int32, real/imaginary interleaved, each FID padded to 1 KiB as
    ``GO_block_size = Standard_KBlock_Format`` stores it; k axis 1 fastest). The k-space is
    computed by explicit phase-encoding sums (not an FFT); each species is one Lorentzian
    line (``T2*`` decay) at its shift, the metal's the Knight shift; white complex noise of
    ``sigma`` (in image units x ``sqrt(voxels)``) is added per k-space sample, then the
    receiver scales to ADC counts and rounds.

    Parameters
    ----------
    folder : path
        The scan folder to create.
    metal, electrolyte : (N1[, N2[, N3]]) array_like
        Line area (FID amplitude at t = 0) of each species in each voxel; voxel ``N // 2``
        of each axis sits at the centre of the field of view.
    extent_mm : sequence of float
        Field of view per spatial axis.
    n_spec, sw_hz, bf_MHz, o1_hz : int, float
        Spectral points, width, base frequency and carrier offset (``O1``).
    metal_ppm, electrolyte_ppm, t2_s : float
        Line positions (from the base frequency) and decay.
    sigma : float
        Noise std per k-space sample and quadrature channel.
    counts : float, optional
        ADC counts per unit signal (the receiver gain); default: the largest power of two
        that keeps the k-space centre below 2**30 counts (as an automatic gain setting).
    seed : int

    Returns
    -------
    (Path, float)
        The scan folder and ``counts`` (divide a reconstruction by it for image units).
    """
    m = np.asarray(metal, dtype=np.float64)
    e = np.asarray(electrolyte, dtype=np.float64)
    if m.shape != e.shape or not 1 <= m.ndim <= 3 or len(extent_mm) != m.ndim:
        raise ParameterError(f"metal {m.shape} and electrolyte {e.shape} must match, 1-3 axes, one extent each")
    out = Path(folder)
    if out.exists():
        raise ParameterError(f"{out} exists already")
    out.mkdir(parents=True)
    fid = _csi_fids(m, e, n_spec, sw_hz, bf_MHz, o1_hz, metal_ppm, electrolyte_ppm, t2_s, sigma, seed, delay=0.0)
    peak = float(max(np.abs(fid.real).max(), np.abs(fid.imag).max(), 1e-300))
    counts = float(2.0 ** np.floor(np.log2(2.0**30 / peak))) if counts is None else float(counts)
    adc = np.empty((*fid.shape[:-1], 2 * n_spec), dtype=np.float64)
    adc[..., 0::2] = fid.real * counts
    adc[..., 1::2] = fid.imag * counts
    if np.abs(adc).max() >= 2**31:
        raise ParameterError("the receiver overflows: lower counts")
    block = int(np.ceil(2 * n_spec * 4 / 1024) * 1024 // 4)
    blocks = np.zeros((int(np.prod(fid.shape[:-1])), block), dtype="<i4")
    # FIDs in acquisition order: phase axis 1 fastest (Fortran order of the k axes)
    lines = np.moveaxis(adc, -1, 0).reshape(2 * n_spec, -1, order="F").T
    blocks[:, : 2 * n_spec] = np.round(lines).astype("<i4")
    (out / "fid").write_bytes(blocks.tobytes())
    spatial = list(m.shape)
    _write_jcamp(
        out / "acqp",
        "Parameter List",
        {
            "ACQ_sw_version": "<PV 6.0.1>",
            "PULPROG": "<CSI.ppg>",
            "ACQ_dim": str(1 + m.ndim),
            "ACQ_dim_desc": f"( {1 + m.ndim} )\nSpectroscopic" + " Spatial" * m.ndim,
            "ACQ_size": np.asarray([2 * n_spec, *spatial], dtype=int),
            "NI": "1",
            "NR": "1",
            "NA": "1",
            "SW_h": np.float64(sw_hz),
            "BF1": np.float64(bf_MHz),
            "O1": np.float64(o1_hz),
            "NUC1": "<7Li>",
            "GO_raw_data_format": "GO_32BIT_SGN_INT",
            "BYTORDA": "little",
            "GO_block_size": "Standard_KBlock_Format",
            "ACQ_fov": np.asarray(extent_mm, dtype=np.float64) / 10.0,  # acqp keeps cm
        },
    )
    _write_jcamp(
        out / "method",
        "Parameter List",
        {
            "Method": "<Bruker:CSI>",
            "PVM_Fov": np.asarray(extent_mm, dtype=np.float64),
            "PVM_Matrix": np.asarray(spatial, dtype=int),
            "PVM_SpecMatrix": np.asarray([n_spec], dtype=int),
            "PVM_SpecSWH": np.asarray([sw_hz], dtype=np.float64),
            "PVM_EncNReceivers": "1",
        },
    )
    return out, float(counts)


def write_topspin_csi(
    folder: str | PathLike[str],
    metal: npt.ArrayLike,
    electrolyte: npt.ArrayLike,
    *,
    n_spec: int = 512,
    sw_hz: float = 100_000.0,
    bf_MHz: float = 194.4,
    o1_hz: float = 25_000.0,
    metal_ppm: float = 264.5,
    electrolyte_ppm: float = 1.2,
    t2_s: float = 1e-3,
    grpdly: float = 67.98,
    sigma: float = 0.0,
    seed: int = 0,
) -> tuple[Path, float]:
    """Write a TopSpin ``ser`` (``acqus``, ``acqu2s``, ...) whose indirect dimensions are the
    phase-encoded axes of a CSI, as an imaging experiment run from TopSpin records it.

    The same explicit phase-encoding forward model as :func:`write_paravision_csi`, with the
    digital filter's group delay (``GRPDLY`` points, TopSpin ``DSPFVS = 20``: the signal
    starts ``GRPDLY`` points into each FID and its last points are not acquired); int32,
    each FID padded to 1 KiB; the first k axis (``acqu2s``) fastest.

    Returns
    -------
    (Path, float)
        The experiment folder and the ADC counts per unit signal.
    """
    m = np.asarray(metal, dtype=np.float64)
    e = np.asarray(electrolyte, dtype=np.float64)
    if m.shape != e.shape or not 1 <= m.ndim <= 2:
        raise ParameterError(f"metal {m.shape} and electrolyte {e.shape} must match, 1 or 2 phase-encoded axes")
    out = Path(folder)
    if out.exists():
        raise ParameterError(f"{out} exists already")
    out.mkdir(parents=True)
    fid = _csi_fids(m, e, n_spec, sw_hz, bf_MHz, o1_hz, metal_ppm, electrolyte_ppm, t2_s, sigma, seed, delay=grpdly)
    peak = float(max(np.abs(fid.real).max(), np.abs(fid.imag).max(), 1e-300))
    counts = float(2.0 ** np.floor(np.log2(2.0**30 / peak)))
    block = int(np.ceil(2 * n_spec * 4 / 1024) * 1024 // 4)
    lines = np.zeros((int(np.prod(m.shape)), block), dtype="<i4")
    flat = fid.reshape(-1, n_spec, order="F") if m.ndim > 1 else fid  # acqu2s axis fastest
    lines[:, 0 : 2 * n_spec : 2] = np.round(flat.real * counts)
    lines[:, 1 : 2 * n_spec : 2] = np.round(flat.imag * counts)
    (out / "ser").write_bytes(lines.tobytes())

    def jcamp(name: str, params: dict[str, object]) -> None:
        head = ["##TITLE= Parameter file, TOPSPIN\t\tVersion 3.6.2", "##JCAMPDX= 5.0", "##DATATYPE= Parameter Values",
                "##ORIGIN= Bruker BioSpin GmbH", "##OWNER= operando-synthetic"]  # fmt: skip
        body = [f"##${k}= {v}" for k, v in params.items()]
        (out / name).write_text("\n".join([*head, *body, "##END=", ""]), encoding="latin-1")

    jcamp(
        "acqus",
        {
            "TD": 2 * n_spec, "SW_h": sw_hz, "BF1": bf_MHz, "SFO1": bf_MHz + o1_hz * 1e-6, "O1": o1_hz,
            "DECIM": 16, "DSPFVS": 20, "GRPDLY": grpdly, "BYTORDA": 0, "DTYPA": 0, "AQ_mod": 3, "NUC1": "<7Li>",
            "PULPROG": "<csi3d>",
        },
    )  # fmt: skip
    for k, n in enumerate(m.shape, start=2):
        jcamp(f"acqu{k}s", {"TD": n, "FnMODE": 1, "SW_h": 1.0, "BF1": bf_MHz})
    return out, counts
