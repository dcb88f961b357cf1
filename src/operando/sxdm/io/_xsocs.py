"""XSOCS "merged" K-maps (the input XSOCS converts to q-space): metadata and lazy frames.

Layout (``xsocs.io.XsocsH5``; made by XSOCS's SPEC merger or by id01-sxdm-utils'
``make_xsocs_links`` from Bliss files)::

    master.h5/N.1 -> external link to entry file N.1 (one per rocking angle)
    N.1/instrument/detector/{beam_energy (eV), center_chan_dim0, center_chan_dim1,
                             chan_per_deg_dim0, chan_per_deg_dim1, image_roi_offset}
    N.1/instrument/positioners/{eta, phi, nu, del, ...}
    N.1/scan/{motor_0, motor_0_start, motor_0_end, motor_0_steps, motor_1, ...}  motor_0 fast
    N.1/measurement/image/data      (points, det_y, det_x) frames (often an external link)
    N.1/measurement/{adcX, adcY, adcZ}  piezo read-back (pix = adcY, piy = adcX, piz = adcZ)

XSOCS records channels per degree, not a distance and pixel size: the detector is
described here at 1 m with a pitch of ``2 tan(0.5 deg) / chan_per_deg`` (the convention
of xrayutilities' ``init_area(chpdeg=...)`` that XSOCS uses), so Q is XSOCS's Q.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import h5py
import hdf5plugin  # noqa: F401  (registers the Lima compression filters)
import numpy as np
from numpy.typing import NDArray

from operando.errors import MissingMetadataError, UnsupportedFormatError
from operando.sxdm._geometry import DetectorGeometry
from operando.sxdm.io._bliss import BlissScan, KMapMetadata, SXDMLayoutError, scan_axis_um

__all__ = ["is_xsocs_master", "open_xsocs_kmap", "read_xsocs_metadata"]

_HC_EV_A = 12398.419843320026
_PIEZO = {"pix": "adcY", "piy": "adcX", "piz": "adcZ"}
_ANGLES = {"eta": "eta", "phi": "phi", "nu": "nu", "delta": "del"}
_DETECTOR = "instrument/detector"
_IMAGE = "measurement/image/data"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def is_xsocs_master(path: str | PathLike[str]) -> bool:
    """True when an HDF5 file holds XSOCS entries (``N.1`` with ``instrument/detector/chan_per_deg_dim0``)."""
    try:
        with h5py.File(path, "r") as h:
            for name in h:
                link = h.get(name, getlink=True)
                if (
                    isinstance(link, h5py.ExternalLink)
                    and re.fullmatch(r"\d+\.1", name)
                    and not (Path(path).parent / link.filename).is_file()
                ):  # an entry file that is gone: still an XSOCS master (whose reader names the files)
                    return True
                try:
                    if f"{name}/{_DETECTOR}/chan_per_deg_dim0" in h:
                        return True
                except (KeyError, OSError):  # a dangling external link to an entry file
                    link = h.get(name, getlink=True)
                    if isinstance(link, h5py.ExternalLink):
                        return True
    except OSError:
        return False
    return False


def _scalar(g: h5py.Group, key: str, path: Path, entry: str) -> float:
    if key not in g:
        raise MissingMetadataError(f"entry {entry} has no {key}", path=path)
    return float(np.asarray(g[key][()]).reshape(-1)[0])


def _positions(g: h5py.Group, motor: str) -> NDArray[np.float64] | None:
    """Per-point positions: read-back column, else the Bliss positioner array; None if dangling."""
    for key in (f"measurement/{_PIEZO.get(motor, motor)}", f"instrument/positioners/{motor}_position"):
        try:
            if key in g and isinstance(g[key], h5py.Dataset) and g[key].ndim == 1:
                return np.asarray(g[key][()], dtype=np.float64)
        except (KeyError, OSError):
            continue
    return None


def _read_entry(
    master: h5py.File, name: str, path: Path, detector_shape: tuple[int, int]
) -> tuple[BlissScan, dict[str, Any]]:
    link = master.get(name, getlink=True)
    entry_file = path.parent / link.filename if isinstance(link, h5py.ExternalLink) else path
    if not entry_file.is_file():
        raise SXDMLayoutError(f"entry {name}: its file {link.filename} is missing", path=path)
    inner = link.path if isinstance(link, h5py.ExternalLink) else name
    try:
        h = h5py.File(entry_file, "r")
    except OSError:
        raise SXDMLayoutError(
            f"entry {name}: its file {entry_file.name} is not a readable HDF5 file", path=path
        ) from None
    with h:
        if inner not in h:
            raise SXDMLayoutError(f"entry {name}: its file {entry_file.name} holds no {inner}", path=path)
        g = h[inner]
        det = g.get(_DETECTOR)
        if det is None:
            raise MissingMetadataError(f"entry {name} has no {_DETECTOR}", path=entry_file)
        calib = {
            k: _scalar(det, k, entry_file, name)
            for k in ("beam_energy", "center_chan_dim0", "center_chan_dim1", "chan_per_deg_dim0", "chan_per_deg_dim1")
        }
        offset = np.asarray(det["image_roi_offset"][()]) if "image_roi_offset" in det else np.zeros(2)
        pos = g.get("instrument/positioners")
        if pos is None:
            raise MissingMetadataError(f"entry {name} has no instrument/positioners", path=entry_file)
        positioners: dict[str, float | NDArray[np.float64]] = {
            ours: _scalar(pos, theirs, entry_file, name) for ours, theirs in _ANGLES.items()
        }
        scan = g.get("scan")
        if scan is None:
            raise MissingMetadataError(f"entry {name} has no scan parameters (scan/motor_0 ...)", path=entry_file)
        fast, slow = _text(scan["motor_0"][()]), _text(scan["motor_1"][()])
        n_fast, n_slow = int(scan["motor_0_steps"][()]), int(scan["motor_1_steps"][()])
        for motor in (fast, slow):
            v = _positions(g, motor)
            if v is not None:
                positioners[motor] = v
        missing: tuple[str, ...] = ()
        shape = detector_shape
        try:
            frames = g[_IMAGE]
            shape = (int(frames.shape[1]), int(frames.shape[2]))
            n_points = int(frames.shape[0])
        except (KeyError, OSError):
            img = g.get("measurement/image", getlink=False)
            target = img.get("data", getlink=True) if img is not None else None
            missing = (f"{getattr(target, 'filename', entry_file.name)}:{getattr(target, 'path', _IMAGE)}",)
            n_points = n_fast * n_slow
        if n_points != n_fast * n_slow:
            raise SXDMLayoutError(
                f"entry {name}: {n_slow} x {n_fast} points in scan/, {n_points} frames", path=entry_file
            )
        title = _text(g["title"][()]) if "title" in g else ""
        start = _text(g["start_time"][()]) if "start_time" in g else ""
    info = BlissScan(
        name=name,
        title=title,
        start_time=start,
        map_shape=(n_slow, n_fast),
        motors=(slow, fast),
        positioners=positioners,
        frames=f"{link.path if isinstance(link, h5py.ExternalLink) else name}/{_IMAGE}",
        sources=(
            (str(entry_file), f"{link.path if isinstance(link, h5py.ExternalLink) else name}/{_IMAGE}", 0, n_points, 0),
        ),
        missing=missing,
    )
    return info, {**calib, "offset": offset, "shape": shape}


def read_xsocs_metadata(
    path: str | PathLike[str],
    *,
    scans: Sequence[int] | None = None,
    detector_shape: tuple[int, int] = (516, 516),
) -> KMapMetadata:
    """Read the metadata of an XSOCS merged K-map (master file + entry files), no frames.

    Parameters
    ----------
    path : str or PathLike
        XSOCS master file.
    scans : sequence of int, optional
        Scan numbers ``N`` of the entries ``N.1``; all by default.
    detector_shape : (int, int)
        Used only when the frames are not reachable (then listed in ``missing``); the
        frames define it otherwise. Default: the ID01 Maxipix.

    Returns
    -------
    KMapMetadata
        Detector at 1 m with XSOCS's channels per degree (see the module notes).

    Raises
    ------
    UnsupportedFormatError
        Not an XSOCS master file.
    SXDMLayoutError
        Entry files missing, or entries that disagree on map shape or calibration.
    """
    p = Path(path)
    if not h5py.is_hdf5(p) or not is_xsocs_master(p):
        raise UnsupportedFormatError("not an XSOCS master file (no N.1 entries with instrument/detector)", path=p)
    with h5py.File(p, "r") as h:
        names = sorted(h, key=lambda n: int(n.split(".")[0]) if n.split(".")[0].isdigit() else -1)
        if scans is not None:
            wanted = {int(s) for s in scans}
            absent = sorted(wanted - {int(n.split(".")[0]) for n in names if n.split(".")[0].isdigit()})
            if absent:
                raise SXDMLayoutError(f"scans {absent} are not in the file", path=p)
            names = [n for n in names if n.split(".")[0].isdigit() and int(n.split(".")[0]) in wanted]
        missing_files = []
        for n in names:
            link = h.get(n, getlink=True)
            if isinstance(link, h5py.ExternalLink) and not (p.parent / link.filename).is_file():
                missing_files.append(link.filename)
        if missing_files:
            every = " (every one)" if len(missing_files) == len(names) else ""
            raise SXDMLayoutError(
                f"{len(missing_files)} entry file(s) missing{every}: " + ", ".join(missing_files), path=p
            )
        read = [_read_entry(h, n, p, detector_shape) for n in names]
    infos, calibs = [r[0] for r in read], [r[1] for r in read]
    first, c0 = infos[0], calibs[0]
    problems = []
    for s, c in zip(infos[1:], calibs[1:], strict=True):
        if s.map_shape != first.map_shape:
            problems.append(f"entry {s.name} maps {s.map_shape}, entry {first.name} {first.map_shape}")
        for key in ("beam_energy", "center_chan_dim0", "center_chan_dim1", "chan_per_deg_dim0", "chan_per_deg_dim1"):
            if not np.isclose(c[key], c0[key], rtol=1e-9, atol=0):
                problems.append(f"entry {s.name} has {key} {c[key]}, entry {first.name} {c0[key]}")
        for key in ("phi", "nu", "delta"):
            a, b = float(s.positioners[key]), float(first.positioners[key])
            if abs(a - b) > 1e-4:
                problems.append(f"entry {s.name} has {key} = {a} deg, entry {first.name} {b} deg")
    if problems:
        raise SXDMLayoutError("inconsistent entries: " + "; ".join(problems), path=p)
    one = 2.0 * np.tan(np.radians(0.5))
    det = DetectorGeometry(
        shape=c0["shape"],
        beam_center_y_px=c0["center_chan_dim0"] - float(c0["offset"][0]),
        beam_center_x_px=c0["center_chan_dim1"] - float(c0["offset"][1]),
        pixel_size_y_m=one / c0["chan_per_deg_dim0"],
        pixel_size_x_m=one / c0["chan_per_deg_dim1"],
        distance_m=1.0,
    )
    ny, nx = first.map_shape
    slow, fast = first.motors

    energy = float(c0["beam_energy"])
    return KMapMetadata(
        path=p,
        scans=tuple(infos),
        detector=det,
        wavelength_A=_HC_EV_A / energy,
        energy_eV=energy,
        pixel_mask=np.zeros(c0["shape"], dtype=np.uint8),
        map_shape=(ny, nx),
        eta_deg=np.array([float(s.positioners["eta"]) for s in infos]),
        phi_deg=np.array([float(s.positioners["phi"]) for s in infos]),
        nu_deg=np.array([float(s.positioners["nu"]) for s in infos]),
        delta_deg=np.array([float(s.positioners["delta"]) for s in infos]),
        y_um=scan_axis_um(first, slow, 1, ny),
        x_um=scan_axis_um(first, fast, 0, nx),
        missing=tuple(m for s in infos for m in s.missing),
    )


def _read_points(entry_file: str, dataset: str, start: int, stop: int) -> NDArray[Any]:
    with h5py.File(entry_file, "r") as h:
        return np.asarray(h[dataset][start:stop])


def open_xsocs_kmap(
    path: str | PathLike[str], *, scans: Sequence[int] | None = None, points_per_chunk: int = 32
) -> tuple[Any, KMapMetadata]:
    """Lazy frames ``(angle, y, x, det_y, det_x)`` of an XSOCS merged K-map and its metadata.

    Raises
    ------
    SXDMLayoutError
        Frames unreachable (dangling links; all are named in one message).
    """
    import dask
    import dask.array as da

    meta = read_xsocs_metadata(path, scans=scans)
    if meta.missing:
        raise SXDMLayoutError(
            f"{len(meta.missing)} frame dataset(s) unreachable (dangling links): " + ", ".join(meta.missing),
            path=meta.path,
        )
    ny, nx = meta.map_shape
    dy, dx = meta.detector.shape
    src0 = meta.scans[0].sources[0]
    with h5py.File(src0[0], "r") as h:
        dtype = h[src0[1]].dtype
    rows = max(1, points_per_chunk // nx)
    cols = min(nx, points_per_chunk)
    read = dask.delayed(_read_points, pure=True)
    per_scan = []
    for s in meta.scans:
        entry_file, dataset = s.sources[0][0], s.sources[0][1]
        grid = []
        for y0 in range(0, ny, rows):
            by = min(rows, ny - y0)
            line = []
            for x0 in range(0, nx, cols):
                bx = min(cols, nx - x0)
                start = y0 * nx + x0
                block = read(entry_file, dataset, start, start + by * bx)
                line.append(da.from_delayed(block, (by * bx, dy, dx), dtype=dtype).reshape(1, by, bx, dy, dx))
            grid.append(da.concatenate(line, axis=2))
        per_scan.append(da.concatenate(grid, axis=1))
    return da.concatenate(per_scan, axis=0), meta
