"""ESRF Bliss HDF5 K-maps as ID01 writes them: metadata and lazy frames.

Layout (one scan ``N.1`` per rocking angle; ``DET`` is the area detector, e.g.
``mpx1x4``, ``mpxgaas`` or ``eiger2M``: the only image dataset of ``measurement``)::

    N.1/title                                  "asxdm( pix, x0, x1, nx, piy, y0, y1, ny, expo )"
    N.1/measurement/DET                        (points, det_y, det_x) int32, often a virtual
                                               dataset onto scanNNNN/DET_0000.h5
    N.1/instrument/DET/{beam_center_x, beam_center_y, distance, x_pixel_size,
                        y_pixel_size, pixel_mask}
    N.1/instrument/monochromator/WaveLength    metres
    N.1/instrument/positioners/{eta, phi, delta, nu, pix, piy, piz}
    N.1/instrument/{pix,piy,piz}_position/value  per-point piezo positions
    N.1/measurement/{mon1, mon2, ...}           per-point beam monitors; instrument/machine/current

The master file is only ever opened read-only. Frames are read straight from the Lima
files that the virtual dataset points to (a missing source would silently read as the
fill value through the virtual dataset), in blocks of whole runs of scan points.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any

import h5py
import hdf5plugin  # noqa: F401  (registers the Lima compression filters)
import numpy as np
from numpy.typing import NDArray

from operando._hashing import DataFile
from operando.errors import CorruptFileError, MissingMetadataError, SXDMLayoutError, UnsupportedFormatError
from operando.sxdm._geometry import DetectorGeometry
from operando.sxdm.io._lima import chunk_index, read_indexed_frames, thread_buffer

__all__ = [
    "MONITORS",
    "BlissScan",
    "BlissSource",
    "KMapMetadata",
    "SXDMLayoutError",
    "bliss_frames",
    "bliss_point_frames",
    "bliss_point_sums",
    "bliss_region_sums",
    "find_image_dataset",
    "index_frame_sources",
    "nominal_grid",
    "open_bliss_kmap",
    "read_bliss_metadata",
]

_NUM = r"([-+0-9.eE]+)"
_TITLE = re.compile(
    rf"^\s*\w*sxdm\w*\(\s*(\w+)\s*,\s*{_NUM}\s*,\s*{_NUM}\s*,\s*(\d+)\s*,\s*(\w+)\s*,\s*{_NUM}\s*,\s*{_NUM}\s*,\s*(\d+)"
)
# two motors with start, stop and points, as a map command names them: ``asxdm( pix, x0, x1, nx, piy, ...`` (Bliss)
# or ``_pscando pix x0 x1 nx piy ...`` / ``kmap ...`` (SPEC)
_GRID = re.compile(rf"(\w+)[\s,]+{_NUM}[\s,]+{_NUM}[\s,]+(\d+)[\s,]+(\w+)[\s,]+{_NUM}[\s,]+{_NUM}[\s,]+(\d+)")
ANGLES = ("eta", "phi", "nu", "delta")
#: counters that normalise frames, most wanted first: ID01's beam monitors, then the ring current
MONITORS = ("mon1", "mon2", "ct_mon1", "ct_mon2", "current")


@dataclass(frozen=True)
class BlissScan:
    """One Bliss scan (one rocking angle of a K-map).

    Attributes
    ----------
    name : str
        Entry name, e.g. ``"12.1"``.
    title : str
        Scan command.
    start_time : str
        ISO 8601 with offset.
    map_shape : (int, int)
        (y, x) points: y follows the slow motor, x the fast one (``(1, points)`` when the
        title is not an ``asxdm`` map).
    motors : (str, str)
        (slow, fast) piezo names, e.g. ``("piy", "pix")``.
    positioners : dict of str to float or ndarray
        ``eta, phi, nu, delta`` (deg) and ``pix, piy, piz`` (µm); arrays when the motor
        moved during the scan.
    frames : str
        Path of the frame dataset in the master file.
    sources : tuple of (str, str, int, int, int)
        Frame sources: (file relative to the master's folder, dataset, first point, last
        point + 1, first frame in the source).
    missing : tuple of str
        Source files that do not exist.
    monitors : dict of str to ndarray
        Per-point monitor counters found in ``measurement`` (names of :data:`MONITORS`),
        and the ring current ``current`` (one value per scan, from
        ``instrument/machine/current``) where recorded.
    """

    name: str
    title: str
    start_time: str
    map_shape: tuple[int, int]
    motors: tuple[str, str]
    positioners: dict[str, float | NDArray[np.float64]]
    frames: str
    sources: tuple[tuple[str, str, int, int, int], ...]
    missing: tuple[str, ...]
    monitors: dict[str, NDArray[np.float64]] = field(default_factory=dict)


@dataclass(frozen=True)
class KMapMetadata:
    """Everything needed to turn a Bliss K-map into Q, without its frames.

    Attributes
    ----------
    path : Path
        Master file.
    scans : tuple of BlissScan
        In scan-number order (one per rocking angle).
    detector : DetectorGeometry
        Calibration of the first scan (all scans must agree).
    wavelength_A, energy_eV : float
        From ``instrument/monochromator/WaveLength`` (m).
    pixel_mask : (det_y, det_x) ndarray of uint8
        Nonzero = bad pixel.
    map_shape : (int, int)
        (y, x) scan points.
    eta_deg, phi_deg, nu_deg, delta_deg : (scan,) ndarray
        Angle of each scan; NaN where the motor moved during that scan.
    y_um, x_um : (y,) and (x,) ndarray
        Piezo positions of the map rows and columns (first scan).
    data_files : tuple of DataFile
        Files besides ``path`` whose bytes the map reads (Lima files, entry files, EDF
        files), for the provenance; filled by :func:`operando.sxdm.io.read_kmap_metadata`.
    """

    path: Path
    scans: tuple[BlissScan, ...]
    detector: DetectorGeometry
    wavelength_A: float
    energy_eV: float
    pixel_mask: NDArray[np.uint8]
    map_shape: tuple[int, int]
    eta_deg: NDArray[np.float64]
    phi_deg: NDArray[np.float64]
    nu_deg: NDArray[np.float64]
    delta_deg: NDArray[np.float64]
    y_um: NDArray[np.float64]
    x_um: NDArray[np.float64]
    missing: tuple[str, ...] = field(default=())
    detector_name: str = ""
    data_files: tuple[DataFile, ...] = field(default=())


def nominal_grid(scan: BlissScan) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """Nominal positions (µm) of a map's rows and columns, from its scan command.

    The command names both piezo ranges (``asxdm( pix, x0, x1, nx, piy, y0, y1, ny, expo )``
    or SPEC's ``_pscando pix x0 x1 nx piy y0 y1 ny expo``); the readbacks of the same map
    scatter around these positions by the encoder jitter.

    Parameters
    ----------
    scan : BlissScan
        Any scan of the map.

    Returns
    -------
    (y_um, x_um) : (ny,) and (nx,) ndarray, or None
        ``linspace(y0, y1, ny)`` and ``linspace(x0, x1, nx)``; None when the command
        names no two-motor grid of ``scan.map_shape`` points.

    Examples
    --------
    >>> s = BlissScan("1.1", "asxdm( pix, 10, 10.4, 5, piy, 2, 2.2, 3, 0.01 )", "", (3, 5), ("piy", "pix"),
    ...               {}, "", (), ())
    >>> [a.round(2).tolist() for a in nominal_grid(s)]
    [[2.0, 2.1, 2.2], [10.0, 10.1, 10.2, 10.3, 10.4]]
    """
    m = _GRID.search(scan.title)
    if m is None:
        return None
    _, x0, x1, nx, _, y0, y1, ny = m.groups()
    if (int(ny), int(nx)) != tuple(scan.map_shape):
        return None
    return np.linspace(float(y0), float(y1), int(ny)), np.linspace(float(x0), float(x1), int(nx))


def find_image_dataset(measurement: h5py.Group, scan: str, path: Path) -> str:
    """Name of the 2D detector of a Bliss scan: its only image dataset (3D: points, rows,
    columns) in the scan's ``measurement`` group.

    Raises
    ------
    MissingMetadataError
        No image dataset, or several (the message names them: choose one by name).
    """
    names = []
    for key in measurement:
        obj = measurement.get(key)
        if isinstance(obj, h5py.Dataset) and obj.ndim == 3:
            names.append(key)
    if len(names) == 1:
        return names[0]
    if not names:
        raise MissingMetadataError(
            f"scan {scan} has no image dataset (points, rows, columns) in measurement", path=path
        )
    raise MissingMetadataError(
        f"scan {scan} has several image datasets in measurement ({', '.join(sorted(names))}): name one (--detector)",
        path=path,
    )


def _text(value: Any) -> str:
    value = value[()] if isinstance(value, h5py.Dataset) else value
    return value.decode() if isinstance(value, bytes) else str(value)


def _values(group: h5py.Group, key: str) -> NDArray[Any] | None:
    """The numeric dataset ``key`` (a path below ``group``) read whole, or None where it is
    absent or not a dataset.

    h5py's low-level calls: a scan has ~20 such small datasets and the high-level object
    layer took ~3x longer per read (~150 of 45 us), a third of reading a map's metadata.
    """
    try:
        dsid = h5py.h5d.open(group.id, key.encode())
    except KeyError:
        return None
    out = np.empty(dsid.shape, dtype=dsid.dtype)
    dsid.read(h5py.h5s.ALL, h5py.h5s.ALL, out)
    return out


def _scalar(group: h5py.Group, key: str, path: Path, scan: str) -> float:
    values = _values(group, key)
    if values is None or values.size == 0:
        raise MissingMetadataError(f"scan {scan} has no {group.name}/{key}", path=path)
    return float(values.reshape(-1)[0])


def _source_path(master: str | PathLike[str], fname: str) -> Path:
    """The file a virtual-dataset source ``fname`` names: the master itself for ``"."``,
    else an absolute path, or one relative to the master's folder."""
    if fname == ".":
        return Path(master)
    return Path(fname) if Path(fname).is_absolute() else Path(master).parent / fname


def _scan_number(name: str) -> int:
    head = name.split(".")[0]
    return int(head) if head.isdigit() else -1


def _positioners(g: h5py.Group, name: str, path: Path) -> dict[str, float | NDArray[np.float64]]:
    """Angles (deg, required) and piezo positions (µm; per-point readback where recorded) of a scan."""
    pos_group = g.get("instrument/positioners")
    positioners: dict[str, float | NDArray[np.float64]] = {}
    for key in (*ANGLES, "pix", "piy", "piz"):
        node = None if pos_group is None else _values(pos_group, key)
        if node is None:
            if key in ANGLES:
                raise MissingMetadataError(f"scan {name} has no instrument/positioners/{key}", path=path)
            continue
        v = np.asarray(node, dtype=np.float64)
        positioners[key] = float(v) if v.ndim == 0 else v
    for key in ("pix", "piy", "piz"):
        readback = _values(g, f"instrument/{key}_position/value")
        if readback is not None:
            positioners[key] = np.asarray(readback, dtype=np.float64)
    return positioners


def _frame_sources(
    dset: h5py.Dataset, frames: str, path: Path
) -> tuple[list[tuple[str, str, int, int, int]], list[str]]:
    """Where a scan's frames are stored (virtual-dataset sources, or the dataset itself) and
    which source files are missing."""
    sources: list[tuple[str, str, int, int, int]] = []
    missing: list[str] = []
    if not dset.is_virtual:
        return [(".", frames, 0, dset.shape[0], 0)], missing
    for vs in dset.virtual_sources():
        (v0, *_), (v1, *_) = vs.vspace.get_select_bounds()
        s0 = 0  # the whole source is selected (h5py cannot bound an "all" selection)
        if vs.src_space.get_select_type() != h5py.h5s.SEL_ALL:
            (s0, *_), _ = vs.src_space.get_select_bounds()
        fname = vs.file_name
        sources.append((fname, vs.dset_name, int(v0), int(v1) + 1, int(s0)))
        src = _source_path(path, fname)
        if fname != "." and not src.is_file() and fname not in missing:
            missing.append(fname)
    return sources, missing


def _monitors(g: h5py.Group, n_points: int) -> dict[str, NDArray[np.float64]]:
    """The monitor counters of a scan (one value per point) and its ring current (scalar)."""
    out: dict[str, NDArray[np.float64]] = {}
    meas = g.get("measurement")
    for key in MONITORS[:-1]:
        v = None if meas is None else _values(meas, key)
        if v is not None and v.size == n_points:
            out[key] = np.asarray(v, dtype=np.float64).reshape(-1)
    current = _values(g, "instrument/machine/current")
    if current is not None and current.size >= 1:
        out["current"] = np.asarray(current, dtype=np.float64).reshape(-1)[:1]
    return out


def _read_scan(
    h: h5py.File, name: str, path: Path, detector: str | None, *, mask: bool = True
) -> tuple[BlissScan, dict[str, Any]]:
    """One scan's layout, positioners and calibration (its ``pixel_mask`` only if ``mask``);
    the detector found by content when ``detector`` is None."""
    g = h[name]
    if detector is None:
        meas = g.get("measurement")
        if not isinstance(meas, h5py.Group):
            raise MissingMetadataError(f"scan {name} has no measurement group", path=path)
        detector = find_image_dataset(meas, name, path)
    frames = f"{name}/measurement/{detector}"
    dset = h.get(frames)
    if dset is None:
        frames = f"{name}/instrument/{detector}/image"
        dset = h.get(frames)
    if dset is None:
        raise MissingMetadataError(f"scan {name} has no measurement/{detector} frames", path=path)
    if dset.ndim != 3:
        raise CorruptFileError(
            f"scan {name}: frames have shape {dset.shape}, expected (points, det_y, det_x)", path=path
        )
    n_points = dset.shape[0]
    title_node = g.get("title")
    title = _text(title_node) if title_node is not None else ""
    m = _TITLE.match(title)
    if m:
        fast, _, _, nfast, slow, _, _, nslow = m.groups()
        map_shape, motors = (int(nslow), int(nfast)), (slow, fast)
        if map_shape[0] * map_shape[1] != n_points:
            raise SXDMLayoutError(
                f"scan {name}: title {title!r} gives {map_shape[0]} x {map_shape[1]} points, frames hold {n_points}",
                path=path,
            )
    else:
        map_shape, motors = (1, n_points), ("piy", "pix")
    positioners = _positioners(g, name, path)
    sources, missing = _frame_sources(dset, frames, path)
    inst = g.get(f"instrument/{detector}")
    if inst is None:
        raise MissingMetadataError(f"scan {name} has no instrument/{detector} calibration", path=path)
    calib = {
        "shape": tuple(int(n) for n in dset.shape[1:]),
        "beam_center_x": _scalar(inst, "beam_center_x", path, name),
        "beam_center_y": _scalar(inst, "beam_center_y", path, name),
        "distance": _scalar(inst, "distance", path, name),
        "x_pixel_size": _scalar(inst, "x_pixel_size", path, name),
        "y_pixel_size": _scalar(inst, "y_pixel_size", path, name),
        "wavelength": _scalar(g["instrument"], "monochromator/WaveLength", path, name),
        "pixel_mask": None,
    }
    calib["detector"] = detector
    if mask:
        pixels = _values(inst, "pixel_mask")
        calib["pixel_mask"] = (
            np.asarray(pixels, dtype=np.uint8) if pixels is not None else np.zeros(dset.shape[1:], dtype=np.uint8)
        )
    scan = BlissScan(
        name=name,
        title=title,
        start_time=_text(start) if (start := g.get("start_time")) is not None else "",
        map_shape=map_shape,
        motors=motors,
        positioners=positioners,
        frames=frames,
        sources=tuple(sources),
        missing=tuple(missing),
        monitors=_monitors(g, n_points),
    )
    return scan, calib


def scan_axis_um(scan: BlissScan, motor: str, axis: int, n: int) -> NDArray[np.float64]:
    """Positions (µm) of one scan axis: the piezo readback averaged across the other axis.

    Parameters
    ----------
    scan : BlissScan
        Any scan of the map (its ``positioners`` and ``map_shape`` are used).
    motor : str
        The piezo of this axis (``scan.motors``).
    axis : int
        The array axis to average over: 1 for the slow (row) motor, 0 for the fast one.
    n : int
        Points along this axis; ``arange(n)`` when the readback is not one value per point.

    Returns
    -------
    (n,) ndarray of float64
    """
    ny, nx = scan.map_shape
    v = np.asarray(scan.positioners.get(motor, np.nan), dtype=np.float64)
    if v.size != ny * nx:
        return np.arange(n, dtype=np.float64)
    return np.asarray(v.reshape(ny, nx).mean(axis=axis), dtype=np.float64)


def read_bliss_metadata(
    path: str | PathLike[str], *, scans: Sequence[int] | None = None, detector: str | None = None
) -> KMapMetadata:
    """Read the metadata of a Bliss K-map (no frames are read).

    Parameters
    ----------
    path : str or PathLike
        Bliss master (dataset) file.
    scans : sequence of int, optional
        Scan numbers ``N`` of the entries ``N.1`` to use; all ``N.1`` entries by default.
    detector : str, optional
        Lima detector name (``mpx1x4``, ``mpxgaas``, ``eiger2M``, ...); by default the
        only image dataset of each scan's ``measurement`` group.

    Returns
    -------
    KMapMetadata

    Raises
    ------
    UnsupportedFormatError
        Not an HDF5 file with Bliss scans.
    MissingMetadataError
        A calibration field or angle is absent.
    SXDMLayoutError
        Scans disagree on map shape, detector calibration or fixed angles.
    """
    p = Path(path)
    if not h5py.is_hdf5(p):
        raise UnsupportedFormatError("not an HDF5 file", path=p)
    with h5py.File(p, "r") as h:
        names = sorted((n for n in h if n.endswith(".1") and _scan_number(n) >= 0), key=_scan_number)
        if scans is not None:
            wanted = {int(s) for s in scans}
            absent = sorted(wanted - {_scan_number(n) for n in names})
            if absent:
                raise SXDMLayoutError(f"scans {absent} are not in the file", path=p)
            names = [n for n in names if _scan_number(n) in wanted]
        if not names:
            raise UnsupportedFormatError("no Bliss scan entries (N.1) in the file", path=p)
        # the map's pixel mask is its first scan's: the others' are not read
        read = [_read_scan(h, n, p, detector, mask=k == 0) for k, n in enumerate(names)]
    infos = [r[0] for r in read]
    calibs = [r[1] for r in read]
    first, c0 = infos[0], calibs[0]
    problems = []
    for s, c in zip(infos[1:], calibs[1:], strict=True):
        if c["detector"] != c0["detector"]:
            problems.append(f"scan {s.name} records detector {c['detector']}, scan {first.name} {c0['detector']}")
            continue
        if s.map_shape != first.map_shape:
            problems.append(f"scan {s.name} maps {s.map_shape}, scan {first.name} {first.map_shape}")
        for key in ("shape", "beam_center_x", "beam_center_y", "distance", "x_pixel_size", "y_pixel_size"):
            if not np.allclose(c[key], c0[key], rtol=1e-9, atol=0):
                problems.append(f"scan {s.name} has {key} {c[key]}, scan {first.name} {c0[key]}")
        if not np.isclose(c["wavelength"], c0["wavelength"], rtol=1e-9):
            problems.append(f"scan {s.name} has wavelength {c['wavelength']} m, scan {first.name} {c0['wavelength']} m")
        for key in ("phi", "nu", "delta"):
            a, b = s.positioners[key], first.positioners[key]
            if np.ndim(a) == 0 and np.ndim(b) == 0 and abs(float(a) - float(b)) > 1e-4:
                problems.append(f"scan {s.name} has {key} = {a} deg, scan {first.name} {b} deg")
    if problems:
        raise SXDMLayoutError("inconsistent scans: " + "; ".join(problems), path=p)

    def angle(key: str) -> NDArray[np.float64]:
        return np.array([float(v) if np.ndim(v := s.positioners[key]) == 0 else np.nan for s in infos])

    ny, nx = first.map_shape
    slow, fast = first.motors
    xs = np.asarray(first.positioners.get(fast, np.nan), dtype=np.float64)
    ys = np.asarray(first.positioners.get(slow, np.nan), dtype=np.float64)
    x_um = xs.reshape(ny, nx)[0] if xs.size == ny * nx else np.arange(nx, dtype=np.float64)
    y_um = ys.reshape(ny, nx)[:, 0] if ys.size == ny * nx else np.arange(ny, dtype=np.float64)
    wl_A = c0["wavelength"] * 1e10
    det = DetectorGeometry(
        shape=c0["shape"],
        beam_center_y_px=c0["beam_center_y"],
        beam_center_x_px=c0["beam_center_x"],
        pixel_size_y_m=c0["y_pixel_size"],
        pixel_size_x_m=c0["x_pixel_size"],
        distance_m=c0["distance"],
    )
    return KMapMetadata(
        path=p,
        scans=tuple(infos),
        detector=det,
        wavelength_A=wl_A,
        energy_eV=12398.419843320026 / wl_A,
        pixel_mask=c0["pixel_mask"],
        map_shape=(ny, nx),
        eta_deg=angle("eta"),
        phi_deg=angle("phi"),
        nu_deg=angle("nu"),
        delta_deg=angle("delta"),
        y_um=np.asarray(y_um, dtype=np.float64),
        x_um=np.asarray(x_um, dtype=np.float64),
        missing=tuple(m for s in infos for m in s.missing),
        detector_name=str(c0["detector"]),
    )


def _read_points(
    master: str,
    sources: tuple[tuple[str, str, int, int, int], ...],
    start: int,
    stop: int,
    rows: tuple[int, int] | None = None,
    cols: tuple[int, int] | None = None,
    out: NDArray[Any] | None = None,
) -> Any:
    """Frames of points ``start:stop`` of one scan (a detector box ``rows`` x ``cols`` only,
    if given), one read per source file touched: bitshuffle-lz4 Lima files through their
    cached chunk index (no HDF5 call, threads in parallel), others through h5py. ``out``:
    a C-contiguous array of the result's shape and dtype to fill and return."""
    filled = 0
    for fname, dname, v0, v1, s0 in sources:
        lo, hi = max(start, v0), min(stop, v1)
        if lo >= hi:
            continue
        src = _source_path(master, fname)
        index = chunk_index(src, dname)
        if index is not None and s0 + hi - v0 <= len(index):
            if out is None and (lo, hi) != (start, stop):
                out = np.empty((stop - start, *_box_shape(index.frame_shape, rows, cols)), dtype=index.dtype)
            part = None if out is None else out[lo - start : hi - start]
            block = read_indexed_frames(index, s0 + lo - v0, s0 + hi - v0, rows=rows, cols=cols, out=part)
        else:
            try:
                with h5py.File(src, "r") as h:
                    d = h[dname]
                    block = d[s0 + lo - v0 : s0 + hi - v0, slice(*rows) if rows else slice(None)]
            except (OSError, KeyError) as err:  # truncated, not HDF5, damaged chunk, or no such dataset
                raise CorruptFileError(f"cannot read the frames {dname}: {err}", path=src) from err
            if cols is not None:
                block = block[:, :, slice(*cols)]
            if out is None and (lo, hi) != (start, stop):
                out = np.empty((stop - start, *block.shape[1:]), dtype=block.dtype)
            if out is not None:
                out[lo - start : hi - start] = block
        filled += hi - lo
        if out is None:  # one source file holds the whole run: no copy
            return block
    if filled != stop - start:
        raise CorruptFileError(f"the frame sources cover {filled} of points {start}:{stop}", path=master)
    return out


def _box_shape(frame: tuple[int, int], rows: tuple[int, int] | None, cols: tuple[int, int] | None) -> tuple[int, int]:
    """Shape of the detector box ``rows`` x ``cols`` (half-open, clipped) of a frame."""
    r0, r1 = (0, frame[0]) if rows is None else (max(0, rows[0]), min(frame[0], rows[1]))
    c0, c1 = (0, frame[1]) if cols is None else (max(0, cols[0]), min(frame[1], cols[1]))
    return max(0, r1 - r0), max(0, c1 - c0)


class _BlissFrames:
    """Array-like ``(angle, y, x, det_y, det_x)`` view of a K-map's Lima frames, for
    :func:`dask.array.from_array`: indexing reads only the selected scans, points and
    detector rows (Dask fuses a slice of the array into the read of each chunk, so a region
    of interest decompresses only the compressed blocks that cover its rows)."""

    ndim = 5

    def __init__(
        self,
        master: str,
        sources: tuple[tuple[tuple[str, str, int, int, int], ...], ...],
        map_shape: tuple[int, int],
        det_shape: tuple[int, int],
        dtype: Any,
        window: tuple[tuple[int, int], tuple[int, int]] | None = None,
    ) -> None:
        self.master, self.sources = master, sources
        # detector box (det_y, det_x half-open ranges) the array shows, the whole detector by default
        self.window = window or ((0, det_shape[0]), (0, det_shape[1]))
        self.full_rows, self.full_cols = det_shape
        (y0, y1), (x0, x1) = self.window
        self.shape = (len(sources), *map_shape, y1 - y0, x1 - x0)
        self.dtype = np.dtype(dtype)

    def __dask_tokenize__(self) -> object:
        return (self.master, self.sources, self.shape, self.window, self.dtype.str)

    def __getitem__(self, key: Any) -> NDArray[Any]:
        key = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis or k is None for k in key) or len(key) > 5:
            return self[(slice(None),) * 5][key]  # rare forms: read all, index in memory
        key = key + (slice(None),) * (5 - len(key))
        box, rest, simple = [], [], True
        for k, n in zip(key, self.shape, strict=True):
            if isinstance(k, slice) and k.step in (None, 1):
                lo, hi, _ = k.indices(n)
                box.append((lo, max(lo, hi)))
                rest.append(slice(None))
            else:  # integers, steps, index arrays: read their bounding range whole, index in memory
                box.append((0, n))
                rest.append(k)
                simple = False
        block = self._read_box(*box)
        return block if simple else block[tuple(rest)]

    def _read_box(
        self,
        angles: tuple[int, int],
        ys: tuple[int, int],
        xs: tuple[int, int],
        det_y: tuple[int, int],
        det_x: tuple[int, int],
    ) -> NDArray[Any]:
        nx = self.shape[2]
        by, bx = ys[1] - ys[0], xs[1] - xs[0]
        shape = (angles[1] - angles[0], by, bx, det_y[1] - det_y[0], det_x[1] - det_x[0])
        (wy, _), (wx, _) = self.window
        det_y, det_x = (det_y[0] + wy, det_y[1] + wy), (det_x[0] + wx, det_x[1] + wx)
        rows = None if det_y == (0, self.full_rows) else det_y
        cols = None if det_x == (0, self.full_cols) else det_x
        if 0 in shape:
            return np.empty(shape, dtype=self.dtype)
        if angles[1] - angles[0] == 1 and (bx == nx or by == 1):  # one read (every Dask chunk): no copy
            start = ys[0] * nx + xs[0]
            block = _read_points(self.master, self.sources[angles[0]], start, start + by * bx, rows, cols)
            return np.asarray(block).reshape(shape)
        out = np.empty(shape, dtype=self.dtype)
        runs = (
            [(ys[0] * nx, ys[1] * nx, slice(None))]
            if bx == nx
            else [(y * nx + xs[0], y * nx + xs[1], y - ys[0]) for y in range(*ys)]
        )
        for i, a in enumerate(range(*angles)):
            for start, stop, where in runs:  # read straight into the block (no copy)
                _read_points(
                    self.master, self.sources[a], start, stop, rows, cols, out=out[i, where].reshape(-1, *shape[3:])
                )
        return out


def open_bliss_kmap(
    path: str | PathLike[str],
    *,
    scans: Sequence[int] | None = None,
    detector: str | None = None,
    points_per_chunk: int = 32,
) -> tuple[Any, KMapMetadata]:
    """Lazy frames of a Bliss K-map and its metadata.

    Parameters
    ----------
    path : str or PathLike
        Bliss master file.
    scans : sequence of int, optional
        Scan numbers (one per rocking angle); all by default.
    detector : str, optional
        Lima detector name; by default the only image dataset of ``measurement``.
    points_per_chunk : int
        Scan points per HDF5 read (whole map rows when a row is shorter).

    Returns
    -------
    frames : (angle, y, x, det_y, det_x) dask.array
        Counts in the detector's dtype, one chunk per run of points of one scan.
    meta : KMapMetadata

    Raises
    ------
    SXDMLayoutError
        Lima files are missing (all are named), or a rocking motor moved within a scan.
    """
    meta = read_bliss_metadata(path, scans=scans, detector=detector)
    if meta.missing:
        raise SXDMLayoutError(
            f"{len(meta.missing)} Lima frame file(s) missing beside the master file: " + ", ".join(meta.missing),
            path=meta.path,
        )
    moving = [s.name for s, e in zip(meta.scans, meta.eta_deg, strict=True) if np.isnan(e)]
    moving += [
        s.name
        for k in ("phi", "nu", "delta")
        for s, v in zip(meta.scans, getattr(meta, f"{k}_deg"), strict=True)
        if np.isnan(v)
    ]
    if moving:
        raise SXDMLayoutError(f"an angle moves within scan(s) {sorted(set(moving))}: not a K-map", path=meta.path)
    return bliss_frames(meta, points_per_chunk=points_per_chunk), meta


def bliss_frames(
    meta: KMapMetadata,
    *,
    points_per_chunk: int = 32,
    window: tuple[tuple[int, int], tuple[int, int]] | None = None,
    angles: tuple[int, int] | None = None,
    angles_per_chunk: int = 1,
) -> Any:
    """Lazy frames of a Bliss K-map whose metadata are read, optionally a detector box only.

    Parameters
    ----------
    meta : KMapMetadata
        From :func:`read_bliss_metadata`.
    points_per_chunk : int
        Scan points per read (whole map rows when a row is shorter).
    window : ((int, int), (int, int)), optional
        Detector rows and columns (half-open) to read; only the compressed blocks that
        cover the rows are decompressed (bitshuffle-lz4 Lima frames).
    angles : (int, int), optional
        Rocking angles (scans, half-open index range) to show; all by default.
    angles_per_chunk : int
        Rocking angles per chunk (one read per angle, one task per chunk).

    Returns
    -------
    (angle, y, x, det_y, det_x) dask.array
    """
    import dask.array as da
    from dask.base import tokenize

    ny, nx = meta.map_shape
    rows, cols = _point_chunks(nx, points_per_chunk)
    a0, a1 = angles if angles is not None else (0, len(meta.scans))
    dtype = _frames_dtype(meta)
    source = _BlissFrames(
        str(meta.path), tuple(s.sources for s in meta.scans[a0:a1]), (ny, nx), meta.detector.shape, dtype, window
    )
    # one layer of one read per chunk (a graph of delayed reads took ~1 s to build and optimise at 1200 chunks)
    return da.from_array(
        source,
        chunks=(max(1, angles_per_chunk), rows, cols, -1, -1),
        name="bliss-frames-" + tokenize(source),
        asarray=False,
        fancy=True,  # index arrays are handled (by reading their range)
        lock=False,
        meta=np.empty((0,) * 5, dtype=dtype),
    )


def _exact_sum_dtype(frames: NDArray[Any]) -> np.dtype[Any]:
    """A 32-bit integer type in which the sum of ``frames`` over its first axis is exact
    (no partial sum can overflow it), else float64.

    Integer detector frames summed in 32 bits run ~3x faster than with a float64
    accumulator (a casting loop). 8- and 16-bit frames always fit; 32-bit frames are
    bounded by one max over the block, signed ones through their unsigned view (one pass,
    not a min and a max): a negative value reads as 2**31 or more there, so frames holding
    one are summed in float64.

    Examples
    --------
    The accumulator of three frames holding ``values`` at one pixel (32 bits only when no
    sum can overflow), and the sum exact whatever it is:

    >>> cases = [
    ...     (np.uint32, [3, 7, 11]),
    ...     (np.uint32, [2**32 - 1, 5, 9]),  # a dead pixel at the counter's maximum
    ...     (np.uint32, [2**31, 2**31, 0]),  # each fits, their sum does not
    ...     (np.int32, [-(2**30), 2**30, 1]),  # 3 * 2**30 >= 2**31
    ...     (np.int32, [5, 4, 1000]),
    ...     (np.int32, [-1, 4, 1000]),  # a negative flag: bounded through the unsigned view
    ...     (np.uint16, [65535, 65535, 65535]),
    ...     (np.int16, [-32768, 32767, -1]),
    ...     (np.uint8, [255, 255, 255]),
    ...     (np.float32, [1.0, 2.0, 3.0]),
    ...     (np.uint64, [1, 2, 3]),
    ... ]
    >>> for dtype, values in cases:
    ...     frames = np.zeros((3, 4, 5), dtype=dtype)
    ...     frames[:, 1, 2] = values
    ...     acc = _exact_sum_dtype(frames)
    ...     exact = np.sum(frames, axis=0, dtype=acc).astype(np.float64)[1, 2] == sum(float(v) for v in values)
    ...     print(acc, exact)
    uint32 True
    float64 True
    float64 True
    float64 True
    int32 True
    float64 True
    uint32 True
    int32 True
    uint32 True
    float64 True
    float64 True
    """
    n = len(frames)
    kind, size = frames.dtype.kind, frames.dtype.itemsize
    if kind not in "ui" or size > 4 or frames.size == 0:
        return np.dtype(np.float64)
    acc, limit = (np.dtype(np.uint32), 2**32) if kind == "u" else (np.dtype(np.int32), 2**31)
    largest = 2 ** (8 * size) - 1 if kind == "u" else 2 ** (8 * size - 1)  # the largest |value| of the type
    if size < 4 and largest * n < limit:
        return acc
    if size < 4 and kind == "i":  # a sum of so many could overflow: bound |value| by the min and the max
        largest = max(int(frames.max()), -int(frames.min()))
    else:
        largest = int(frames.view(f"u{size}").max())
    return acc if largest * n < limit else np.dtype(np.float64)


def _sum_frames(
    master: str,
    sources: tuple[tuple[str, str, int, int, int], ...],
    runs: tuple[tuple[int, int], ...],
    block: tuple[int, int, int],
    dtype: Any,
    weights: NDArray[np.float32] | None = None,
    out: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Frames of the point ranges ``runs`` of one scan, summed: (det_y, det_x) float64, read
    ``block[0]`` frames at a time into this thread's reused buffer (never all in memory);
    each frame times its point's ``weights`` (all the scan's points, float32) if given.
    ``out``: zeros of that shape to add them into (and return)."""
    frames = _frame_buffer(block, dtype)
    total = np.zeros(block[1:], dtype=np.float64) if out is None else out
    for start, stop in runs:
        for s in range(start, stop, block[0]):
            view = frames[: min(block[0], stop - s)]
            _read_points(master, sources, s, s + len(view), out=view)
            if weights is not None:  # float32 products, as the frames times the monitor's factors give
                w = weights[s : s + len(view)]
                total += np.einsum("n,nij->ij", w, view.astype(np.float32), dtype=np.float32)
                continue
            acc = _exact_sum_dtype(view)  # exact either way: integers, float64 adds them exactly below 2**53
            total += np.sum(view, axis=0, dtype=acc)
    return total


def bliss_point_frames(
    meta: KMapMetadata,
    y: int,
    x: int,
    factors: NDArray[np.float32] | None = None,
    *,
    rows: tuple[int, int] | None = None,
    angles: tuple[int, int] | None = None,
) -> NDArray[Any]:
    """Every rocking angle's frame of one scan point, read directly: ``(angle, det_y, det_x)``
    in the detector's dtype (only the detector rows ``rows`` and the rocking angles
    ``angles``, half-open, if given).

    A lazy frame array reads whole chunks of points (64 points of 1 MB at 516^2) to give one;
    here each frame is one read of its own chunk, and a band of rows decompresses only the
    bitshuffle blocks that cover it.

    Parameters
    ----------
    meta : KMapMetadata
        From :func:`read_bliss_metadata`.
    y, x : int
        The point's row and column in the map.
    factors : (angle, y, x) ndarray of float32, optional
        Each frame's normalisation (a monitor's): the frames come back times it, float32.
    rows : (int, int), optional
        Detector rows ``[start, stop)`` to read (clipped to the detector); all by default.
    angles : (int, int), optional
        Rocking angles (scans, in map order) ``[start, stop)`` to read (clipped); all by
        default.

    Returns
    -------
    (angle, det_y, det_x) ndarray
        ``det_y`` is the band's height when ``rows`` is given, ``angle`` the number of
        angles read.
    """
    ny, nx = meta.map_shape
    if not (0 <= y < ny and 0 <= x < nx):
        raise ValueError(f"point ({y}, {x}) outside the {ny} x {nx} map")
    n = y * nx + x
    height, width = meta.detector.shape
    if rows is not None:
        rows = (max(0, int(rows[0])), min(height, int(rows[1])))
        if rows[1] <= rows[0]:
            raise ValueError(f"detector rows {rows} hold no row of the {height}-row detector")
        if rows == (0, height):
            rows = None
    band = height if rows is None else rows[1] - rows[0]
    a0, a1 = (0, len(meta.scans)) if angles is None else (max(0, angles[0]), min(len(meta.scans), angles[1]))
    out = np.empty((max(0, a1 - a0), band, width), dtype=_frames_dtype(meta))
    for a, scan in enumerate(meta.scans[a0:a1]):
        _read_points(str(meta.path), scan.sources, n, n + 1, rows, out=out[a : a + 1])
    if factors is not None:  # float32, as the frames times the monitor's factors give
        return out * np.asarray(factors, dtype=np.float32)[a0:a1, y, x, None, None]
    return out


def index_frame_sources(meta: KMapMetadata) -> None:
    """Build (and cache) the chunk index of every Lima file of the map, here and now.

    On local threads, call it before the frames are read: built inside the reading tasks,
    each index (~2 ms of h5py calls and Python callbacks, under the GIL) stalls the other
    threads' decompression for as long, which cost ~0.19 s on a 60-file map instead of
    the ~0.11 s of building them all first.
    """
    for scan in meta.scans:
        for fname, dname, *_ in scan.sources:
            chunk_index(_source_path(meta.path, fname), dname)


def bliss_point_sums(
    meta: KMapMetadata,
    rows: NDArray[np.intp],
    *,
    scheduler: Any = None,
    factors: NDArray[np.float32] | None = None,
) -> NDArray[np.float64]:
    """The frames of whole map rows summed over their points, per rocking angle.

    The survey of :func:`operando.sxdm.reduce_kmap`: one task per rocking angle, each
    reading its frames a few at a time and adding them up (no frame block is kept).

    Parameters
    ----------
    meta : KMapMetadata
        From :func:`read_bliss_metadata`.
    rows : (n,) ndarray of int
        Map rows.
    scheduler : optional
        Passed to :func:`dask.compute`.

    Returns
    -------
    (angle, det_y, det_x) ndarray of float64
    """
    import dask
    import dask.threaded

    dtype = _frames_dtype(meta)
    runs, block = _survey_plan(rows, meta.map_shape[1], meta.detector.shape, dtype)
    w = [None] * len(meta.scans) if factors is None else [np.asarray(f, np.float32).reshape(-1) for f in factors]
    # on this process's threads each angle is summed into one shared result (30 fresh 2 MB sums
    # and their 64 MB stack had cost ~30k page faults, ~0.3 s of system time on this VM, for a
    # 40 x 40 map's survey of 516^2 frames); elsewhere (distributed) each task returns its sum
    shared = scheduler is dask.threaded.get
    out = np.zeros((len(meta.scans), *meta.detector.shape)) if shared else None
    tasks = [
        dask.delayed(_sum_frames, pure=False)(
            str(meta.path), s.sources, runs, block, dtype, w[a], None if out is None else out[a]
        )
        for a, s in enumerate(meta.scans)
    ]
    sums = dask.compute(*tasks, scheduler=scheduler)
    return out if out is not None else np.stack(sums)


def _survey_plan(
    rows: NDArray[np.intp], n_x: int, frame_shape: tuple[int, int], dtype: np.dtype[Any]
) -> tuple[tuple[tuple[int, int], ...], tuple[int, int, int]]:
    """Runs of points ``(start, stop)`` covering whole map ``rows`` of ``n_x`` points, and the
    frame block read at a time (~8 MB: 4 MB and 16 MB were slower here)."""
    r = np.asarray(rows, dtype=np.intp)
    if r.size == 0:
        raise ValueError("no rows to sum")
    cuts = np.flatnonzero(np.diff(r) != 1) + 1
    runs = tuple((int(g[0]) * n_x, (int(g[-1]) + 1) * n_x) for g in np.split(r, cuts))
    frame_bytes = int(np.prod(frame_shape)) * np.dtype(dtype).itemsize
    return runs, (max(1, (8 << 20) // frame_bytes), *frame_shape)


def _frame_buffer(shape: tuple[int, ...], dtype: Any) -> NDArray[Any]:
    """This thread's reusable block of frames of ``shape`` (frames are summed away at once, so
    one buffer serves every block: a fresh 30 MB block costs ~8000 page faults)."""
    dt = np.dtype(dtype)
    size = int(np.prod(shape))
    return np.frombuffer(thread_buffer("frames", size * dt.itemsize), dtype=dt, count=size).reshape(shape)


def _frames_dtype(meta: KMapMetadata) -> np.dtype[Any]:
    """Pixel type of the K-map's frames (of its first scan), cached per master file version
    (opening the master cost 0.45 ms, a tenth of reading one point's band of 30 frames)."""
    st = os.stat(meta.path)
    return _dataset_dtype(os.fspath(meta.path), meta.scans[0].frames, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=64)
def _dataset_dtype(path: str, dataset: str, mtime_ns: int, size: int) -> np.dtype[Any]:
    """The dtype of ``dataset`` in the file ``path`` (as of ``mtime_ns`` and ``size``)."""
    with h5py.File(path, "r") as h:
        return np.dtype(h[dataset].dtype)


def _point_chunks(n_x: int, points_per_chunk: int) -> tuple[int, int]:
    """(rows, columns) of map points per chunk, for rows of ``n_x`` points: whole rows when a
    row is shorter than ``points_per_chunk``, else part of one row."""
    return max(1, points_per_chunk // n_x), min(n_x, points_per_chunk)


def _region_block(
    master: str,
    sources: tuple[tuple[tuple[str, str, int, int, int], ...], ...],
    n_x: int,
    box: tuple[tuple[int, int], tuple[int, int]],
    dtype: Any,
    angle_sums: Callable[[int, NDArray[Any]], NDArray[np.float64]],
    factors: NDArray[np.float32] | None = None,
    block_info: Any = None,
) -> NDArray[np.float64]:
    """One block of points: ``angle_sums(a, frames)`` summed over the region's angles ``a``
    (frames times ``factors`` (region angle, y, x), float32, if given)."""
    (y0, y1), (x0, x1), _ = block_info[None]["array-location"]
    (r0, r1), (c0, c1) = box
    # whole rows are one run of points, else one run per row
    runs = [(y0 * n_x, y1 * n_x)] if x1 - x0 == n_x else [(y * n_x + x0, y * n_x + x1) for y in range(y0, y1)]
    n_points = (y1 - y0) * (x1 - x0)
    frames = _frame_buffer((n_points, r1 - r0, c1 - c0), dtype)
    total: NDArray[np.float64] | None = None
    for a, angle_sources in enumerate(sources):
        k = 0
        for start, stop in runs:
            _read_points(master, angle_sources, start, stop, (r0, r1), (c0, c1), out=frames[k : k + stop - start])
            k += stop - start
        if factors is None:
            part = angle_sums(a, frames)
        else:
            scale = factors[a, y0:y1, x0:x1].reshape(-1, 1, 1)
            part = angle_sums(a, frames.astype(np.float32) * scale)
        total = part if total is None else np.add(total, part, out=total)
    assert total is not None
    return total.reshape(y1 - y0, x1 - x0, -1)


def bliss_region_sums(
    meta: KMapMetadata,
    roi: Any,
    angle_sums: Callable[[int, NDArray[Any]], NDArray[np.float64]],
    *,
    n_sums: int,
    points_per_chunk: int,
    factors: NDArray[np.float32] | None = None,
) -> Any:
    """Per-point sums over the region of interest, read and reduced block by block.

    For each block of scan points and each of the region's rocking angles, the frames are
    read as the region's detector box into a reused buffer and reduced at once by
    ``angle_sums(a, frames)`` (``a``: the angle's index within the region; ``frames``:
    ``(points, roi det_y, roi det_x)``) to ``(points, n_sums)``; the results are added over
    the angles. The frames of a block are never kept (the second pass of
    :func:`operando.sxdm.reduce_kmap` without materialising frame chunks).

    Parameters
    ----------
    meta : KMapMetadata
    roi : ROI
        Region of interest (angles, det_y, det_x).
    angle_sums : callable
        Picklable, for distributed workers.
    n_sums : int
        Sums per point.
    points_per_chunk : int
        Scan points per block (whole map rows when a row is shorter).

    Returns
    -------
    (y, x, n_sums) dask.array of float64
    """
    import dask.array as da

    ny, nx = meta.map_shape
    rows, cols = _point_chunks(nx, points_per_chunk)
    sources = tuple(s.sources for s in meta.scans[roi.angles[0] : roi.angles[1]])
    chunks = da.core.normalize_chunks((rows, cols, n_sums), shape=(ny, nx, n_sums))
    return da.map_blocks(
        _region_block,
        str(meta.path),
        sources,
        nx,
        (tuple(roi.det_y), tuple(roi.det_x)),
        _frames_dtype(meta),
        angle_sums,
        None if factors is None else np.asarray(factors, dtype=np.float32)[roi.angles[0] : roi.angles[1]],
        chunks=chunks,
        dtype=np.float64,
        meta=np.empty((0, 0, 0)),
    )


def _region_points_per_chunk(bytes_per_point: int, n_x: int, minimum: int, target: int = 32 << 20) -> int:
    """Scan points per chunk: whole map rows of about ``target`` bytes, at least ``minimum`` points."""
    want = max(minimum, target // max(1, bytes_per_point))
    return max(n_x, (want // n_x) * n_x) if want >= n_x else want


@dataclass(frozen=True)
class BlissSource:
    """The frame source (:class:`operando.sxdm.FrameSource`) of a Bliss K-map.

    Both passes of :func:`operando.sxdm.reduce_kmap` read the Lima files directly: the
    survey sums the frames while they are decompressed (:func:`bliss_point_sums`), the
    region sums reduce the region's detector box as it is read, ~32 MB of frames per task
    (:func:`bliss_region_sums`); full frame blocks are never held.

    Attributes
    ----------
    frames : (angle, y, x, det_y, det_x) dask.array
        From :func:`open_bliss_kmap`.
    meta : KMapMetadata
        Its metadata.
    points_per_chunk : int
        Fewest scan points per read of the region sums.
    factors : (angle, y, x) ndarray of float32, optional
        Each frame's normalisation (a beam monitor's, :meth:`scaled`): ``frames`` are
        then the scaled frames, and the survey, region sums and point frames scale what
        they read.
    """

    frames: Any
    meta: KMapMetadata
    points_per_chunk: int = 32
    factors: NDArray[np.float32] | None = field(default=None, compare=False)
    _surveys: dict[tuple[int, ...], NDArray[np.float64]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def survey(self, rows: NDArray[np.intp], *, scheduler: Any = None) -> NDArray[np.float64]:
        """:func:`bliss_point_sums` of ``rows``; with a scheduler given (local threads), every
        Lima file is indexed first (:func:`index_frame_sources`).

        The sums of the last rows asked for are kept and returned again, read-only (the same
        array, not a copy), when the same rows are asked for again: the reduction, the recut
        and the two-phase survey all survey the same rows, and a second pass decompressed
        every surveyed frame again (1.8 s of 4.3 s on a 12 x 12 x 12-angle map of 516^2
        bitshuffle-lz4 frames); a copy of the 64 MB sums cost 0.1-0.4 s more per caller. Being
        the same frozen array, :func:`operando.sxdm.find_hot_pixels` of it is computed once.
        A copy of the source made with :func:`dataclasses.replace` starts without any.
        """
        key = tuple(int(r) for r in np.asarray(rows).ravel())
        kept = self._surveys.get(key)
        if kept is not None:
            return kept
        if scheduler is not None:
            index_frame_sources(self.meta)
        summed = bliss_point_sums(self.meta, rows, scheduler=scheduler, factors=self.factors)
        summed.flags.writeable = False  # shared by every caller: nobody may change it
        self._surveys.clear()  # one survey kept: (angle, det_y, det_x) float64 is 64 MB at 30 x 516^2
        self._surveys[key] = summed
        return summed

    def point_frames(
        self, y: int, x: int, *, rows: tuple[int, int] | None = None, angles: tuple[int, int] | None = None
    ) -> NDArray[Any]:
        """:func:`bliss_point_frames`: one point's frames at every rocking angle (a band of
        detector ``rows`` and a range of ``angles`` only, if given)."""
        return bliss_point_frames(self.meta, y, x, self.factors, rows=rows, angles=angles)

    def region_sums(
        self, roi: Any, angle_sums: Callable[[int, NDArray[Any]], NDArray[np.float64]], *, n_sums: int
    ) -> Any:
        """:func:`bliss_region_sums` in chunks of about 32 MB of region frames (all its angles)."""
        n_a = roi.angles[1] - roi.angles[0]
        box = (roi.det_y[1] - roi.det_y[0]) * (roi.det_x[1] - roi.det_x[0]) * self.frames.dtype.itemsize
        ppc = _region_points_per_chunk(n_a * box, self.meta.map_shape[1], self.points_per_chunk)
        return bliss_region_sums(self.meta, roi, angle_sums, n_sums=n_sums, points_per_chunk=ppc, factors=self.factors)

    def scaled(self, frames: Any, factors: NDArray[np.float32]) -> BlissSource:
        """This source with every frame times its ``factors`` ``(angle, y, x)`` (a monitor's):
        ``frames`` (the lazy frames so scaled) for any other pass; the survey, region sums
        and point frames scale as they read, keeping the fast reads."""
        want = (len(self.meta.scans), *self.meta.map_shape)
        if np.shape(factors) != want:
            raise ValueError(f"factors of shape {np.shape(factors)}, expected {want}")
        return replace(self, frames=frames, factors=np.asarray(factors, dtype=np.float32))
