"""ID01 SPEC + EDF K-maps (before Bliss): metadata and lazy frames.

Layout (one SPEC scan per rocking angle, as XSOCS's merger expects)::

    #O0 del eta chi phi nu mu ...                      motor names (file header)
    #UDETCALIB cen_pix_x=..,cen_pix_y=..,pixperdeg=..,det_distance_CC=..
    #UMONO ...,mononrj=8.990keV,...
    #Ulima mpx4int 0 xmin xmax ymin ymax               full-frame counter (detector size)
    #S n _pscando pix x0 x1 nx piz y0 y1 ny expo       (or ``kmap``): fast motor first
    #D Sun 2021/03/14 16:27:33                         scan start (local time, no zone)
    #P0 ...                                            motor positions (eta, del, nu, phi)
    #L ... adcX adcY adcZ ... imgnr                     piezo read-back: pix=adcY, piy=adcX, piz=adcZ
    #C imageFile dir[..] prefix[..] idxFmt[%05d] nextNr[k] suffix[.edf.gz]

The frames of scan ``n`` are the frames of one multi-frame EDF file
``dir/prefix + idxFmt % nextNr + suffix`` (frame ``i`` = scan point ``i``), the file name
rule of XSOCS's ``KmapSpecParser`` (``version=1``). The SPEC text is parsed with
:class:`silx.io.specfile.SpecFile` and the EDF frames are read with :mod:`fabio`.

Detector distance and pixel size: SPEC records channels per degree; the pixel pitch is
taken as ``2 D tan(0.5 deg) / pixperdeg``, the convention of xrayutilities'
``init_area(chpdeg=...)`` that XSOCS uses, so Q agrees with XSOCS's conversion.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from operando.errors import CorruptFileError, MissingMetadataError, ParameterError, UnsupportedFormatError
from operando.sxdm._geometry import DetectorGeometry
from operando.sxdm.io._bliss import BlissScan, KMapMetadata, SXDMLayoutError, scan_axis_um
from operando.sxdm.io._describe import sniff_spec

__all__ = ["is_spec_file", "open_spec_kmap", "read_spec_metadata"]

_HC_EV_A = 12398.419843320026
_NUM = r"([-+0-9.eE]+)"
_COMMAND = re.compile(rf"^\s*(\w+)\s+(\w+)\s+{_NUM}\s+{_NUM}\s+(\d+)\s+(\w+)\s+{_NUM}\s+{_NUM}\s+(\d+)(?:\s+{_NUM})?")
_IMAGEFILE = re.compile(
    r"^#C imageFile dir\[(?P<dir>[^\]]*)\] prefix\[(?P<prefix>[^\]]*)\] "
    r"(?:idxFmt\[(?P<idxFmt>[^\]]*)\] )?nextNr\[(?P<nextNr>[^\]]*)\] suffix\[(?P<suffix>[^\]]*)\]"
)
# piezo motor -> SPEC read-back column (XSOCS's MOTORCOLS)
PIEZO_COLUMNS = {"pix": "adcY", "piy": "adcX", "piz": "adcZ"}
# our angle name -> SPEC motor mnemonic(s)
_ANGLE_MOTORS = {"eta": ("eta",), "phi": ("phi",), "nu": ("nu",), "delta": ("del", "delta")}


def is_spec_file(path: str | PathLike[str]) -> bool:
    """True when the file starts like a SPEC data file (``#F`` or ``#S`` header line)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return sniff_spec(head, Path(path))


def _header_fields(lines: Sequence[str], key: str) -> dict[str, str]:
    """``key a=1,b=2`` header lines -> {"a": "1", "b": "2"} (last line wins)."""
    out: dict[str, str] = {}
    for line in lines:
        if line.startswith(key + " "):
            for item in line[len(key) + 1 :].strip().split(","):
                k, sep, v = item.partition("=")
                if sep:
                    out[k.strip()] = v.strip()
    return out


def _detector_shape(lines: Sequence[str], detector: str) -> tuple[int, int] | None:
    """Detector size from the full-frame Lima counter ``#Ulima <det>int 0 xmin xmax ymin ymax``."""
    for line in lines:
        parts = line.split()
        if len(parts) == 7 and parts[0] == "#Ulima" and parts[1] == f"{detector}int":
            try:
                x0, x1, y0, y1 = (int(p) for p in parts[3:])
            except ValueError:
                return None
            return y1 - y0 + 1, x1 - x0 + 1
    return None


def _start_time(lines: Sequence[str], timezone: str | None = None) -> str:
    """``#D Sun 2021/03/14 16:27:33`` -> ``2021-03-14T16:27:33`` (SPEC records no zone;
    with ``timezone``, an IANA name, the offset of that zone is attached).

    The scan's own ``#D`` line comes after the file header's, so the last one is used."""
    for line in reversed(lines):
        if line.startswith("#D "):
            try:
                when = datetime.strptime(line[3:].strip(), "%a %Y/%m/%d %H:%M:%S")
            except ValueError:
                return ""
            if timezone is not None:
                from zoneinfo import ZoneInfo

                when = when.replace(tzinfo=ZoneInfo(timezone))
            return when.isoformat()
    return ""


def _image_file(lines: Sequence[str], spec: Path, image_dir: Path | None) -> tuple[Path, str]:
    """The EDF file of a scan: the ``#C imageFile`` rule, looked for in ``image_dir``, the
    recorded folder, then beside the SPEC file. Returns (path, name)."""
    match = None
    for line in lines:
        if line.startswith("#C imageFile"):
            match = _IMAGEFILE.match(line.strip())
    if match is None:
        raise MissingMetadataError(
            "scan has no '#C imageFile dir[..] prefix[..] nextNr[..] suffix[..]' line", path=spec
        )
    fmt = match["idxFmt"] or "%05d"
    name = match["prefix"] + (fmt % int(match["nextNr"])) + match["suffix"]
    folders = [image_dir] if image_dir is not None else [Path(match["dir"]), spec.parent]
    for folder in folders:
        if folder is not None and (folder / name).is_file():
            return folder / name, name
    return (folders[0] or spec.parent) / name, name


def _motor(scan: Any, names: Sequence[str], spec: Path, label: str) -> float:
    for name in names:
        if name in scan.motor_names:
            return float(scan.motor_position_by_name(name))
    raise MissingMetadataError(f"scan {label} has no motor {' / '.join(names)} in its #O/#P lines", path=spec)


def _read_scan(
    sf: Any, key: str, spec: Path, *, detector: str, image_dir: Path | None, timezone: str | None = None
) -> tuple[BlissScan, dict[str, Any]]:
    scan = sf[key]
    command = str(scan.scan_header_dict.get("S", "")).split(None, 1)
    title = command[1] if len(command) > 1 else ""
    m = _COMMAND.match(title)
    if m is None:
        raise UnsupportedFormatError(f"scan {key} ({title!r}) is not a two-motor map (_pscando / kmap)", path=spec)
    _, fast, _, _, nfast, slow, _, _, nslow, *_ = m.groups()
    map_shape = (int(nslow), int(nfast))
    data = scan.data  # (columns, points)
    n_points = data.shape[1] if data.ndim == 2 else 0
    if n_points != map_shape[0] * map_shape[1]:
        raise SXDMLayoutError(
            f"scan {key}: {title!r} gives {map_shape[0]} x {map_shape[1]} points, the scan holds {n_points} lines "
            "(aborted scan?)",
            path=spec,
        )
    header = list(scan.header)
    positioners: dict[str, float | NDArray[np.float64]] = {
        ang: _motor(scan, names, spec, key) for ang, names in _ANGLE_MOTORS.items()
    }
    labels = list(scan.labels)
    for motor, column in PIEZO_COLUMNS.items():
        if column in labels:
            positioners[motor] = np.asarray(scan.data_column_by_name(column), dtype=np.float64)
        elif motor in scan.motor_names:
            positioners[motor] = float(scan.motor_position_by_name(motor))
    edf, name = _image_file(header, spec, image_dir)
    calib = _header_fields(header, "#UDETCALIB")
    mono = _header_fields(header, "#UMONO")
    info = BlissScan(
        name=key,
        title=title,
        start_time=_start_time(header, timezone),
        map_shape=map_shape,
        motors=(slow, fast),
        positioners=positioners,
        frames=str(edf),
        sources=((str(edf), "edf", 0, n_points, 0),),
        missing=() if edf.is_file() else (name,),
    )
    return info, {"calib": calib, "mono": mono, "shape": _detector_shape(header, detector), "edf": edf}


def _float(fields: dict[str, str], key: str, spec: Path, line: str, suffix: str = "") -> float:
    if key not in fields:
        raise MissingMetadataError(f"no {key}= in the {line} header line", path=spec)
    text = fields[key]
    text = text[: -len(suffix)] if suffix and text.endswith(suffix) else text
    try:
        return float(text)
    except ValueError:
        raise CorruptFileError(f"{line} {key}={fields[key]!r} is not a number", path=spec) from None


def _inconsistencies(infos: Sequence[BlissScan], extras: Sequence[dict[str, Any]]) -> list[str]:
    """What the scans disagree on with the first: map shape, calibration, energy, fixed angles."""
    first, e0 = infos[0], extras[0]
    problems = []
    for s, e in zip(infos[1:], extras[1:], strict=True):
        if s.map_shape != first.map_shape:
            problems.append(f"scan {s.name} maps {s.map_shape}, scan {first.name} {first.map_shape}")
        for key in ("cen_pix_x", "cen_pix_y", "pixperdeg", "det_distance_CC"):
            if e["calib"].get(key) != e0["calib"].get(key):
                problems.append(
                    f"scan {s.name} has {key} {e['calib'].get(key)}, scan {first.name} {e0['calib'].get(key)}"
                )
        if e["mono"].get("mononrj") != e0["mono"].get("mononrj"):
            problems.append(
                f"scan {s.name} has mononrj {e['mono'].get('mononrj')}, scan {first.name} {e0['mono'].get('mononrj')}"
            )
        for key in ("phi", "nu", "delta"):
            a, b = float(s.positioners[key]), float(first.positioners[key])
            if abs(a - b) > 1e-4:
                problems.append(f"scan {s.name} has {key} = {a} deg, scan {first.name} {b} deg")
    return problems


def read_spec_metadata(
    path: str | PathLike[str],
    *,
    scans: Sequence[int] | None = None,
    detector: str = "mpx4",
    image_dir: str | PathLike[str] | None = None,
    timezone: str | None = None,
) -> KMapMetadata:
    """Read the metadata of an ID01 SPEC K-map (no frames are read).

    Parameters
    ----------
    path : str or PathLike
        SPEC file (one scan per rocking angle).
    scans : sequence of int, optional
        Scan numbers ``#S n``; all scans by default.
    detector : str
        Lima detector mnemonic (``mpx4``): the ``#Ulima <det>int`` full-frame counter
        gives the detector size when no EDF file is at hand.
    image_dir : str or PathLike, optional
        Folder of the EDF files; by default the folder recorded in ``#C imageFile``,
        then the SPEC file's folder.
    timezone : str, optional
        IANA zone of the beamline clock (``"Europe/Paris"`` at the ESRF): SPEC records
        local time without zone, and :mod:`operando.timeline` reads naive times as UTC.

    Returns
    -------
    KMapMetadata
        As for Bliss files; each scan's ``frames`` is its EDF file, ``missing`` lists
        the EDF files not found; ``start_time`` is local time, without zone unless
        ``timezone`` is given.

    Raises
    ------
    UnsupportedFormatError
        Not a SPEC file, or a scan is not a two-motor map.
    MissingMetadataError
        No detector calibration (``#UDETCALIB``), energy (``#UMONO``), angle or image file line.
    SXDMLayoutError
        Scans disagree on map shape, calibration or fixed angles, or a scan is incomplete.
    """
    from silx.io.specfile import SfErrFileOpen, SpecFile

    p = Path(path)
    if timezone is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, ImportError):
            raise ParameterError(f"unknown time zone {timezone!r} (an IANA name like Europe/Paris)") from None
    if not is_spec_file(p):
        raise UnsupportedFormatError("not a SPEC file (no #F / #S header)", path=p)
    idir = Path(image_dir) if image_dir is not None else None
    try:
        sf = SpecFile(str(p))
    except SfErrFileOpen as exc:
        raise CorruptFileError(f"SPEC file cannot be parsed: {exc}", path=p) from None
    try:
        keys = list(sf.keys())
        if scans is not None:
            wanted = {int(s) for s in scans}
            absent = sorted(wanted - {int(k.split(".")[0]) for k in keys})
            if absent:
                raise SXDMLayoutError(f"scans {absent} are not in the file", path=p)
            keys = [k for k in keys if int(k.split(".")[0]) in wanted]
        if not keys:
            raise UnsupportedFormatError("no scans (#S) in the SPEC file", path=p)
        read = [_read_scan(sf, k, p, detector=detector, image_dir=idir, timezone=timezone) for k in keys]
    except UnicodeDecodeError as exc:  # silx decodes header lines as UTF-8: damaged bytes in the file
        raise CorruptFileError(f"SPEC file holds bytes that are not text (at {exc.start})", path=p) from None
    finally:
        sf.close()
    infos, extras = [r[0] for r in read], [r[1] for r in read]
    first, e0 = infos[0], extras[0]
    problems = _inconsistencies(infos, extras)
    if problems:
        raise SXDMLayoutError("inconsistent scans: " + "; ".join(problems), path=p)
    cen_x = _float(e0["calib"], "cen_pix_x", p, "#UDETCALIB")
    cen_y = _float(e0["calib"], "cen_pix_y", p, "#UDETCALIB")
    pixperdeg = _float(e0["calib"], "pixperdeg", p, "#UDETCALIB")
    distance = _float(e0["calib"], "det_distance_CC", p, "#UDETCALIB")
    energy_eV = _float(e0["mono"], "mononrj", p, "#UMONO", suffix="keV") * 1e3
    shape = _edf_shape(e0["edf"]) if e0["edf"].is_file() else e0["shape"]
    if shape is None:
        raise MissingMetadataError(
            f"detector size unknown: no EDF file and no '#Ulima {detector}int' full-frame counter line", path=p
        )
    pixel = 2.0 * distance * np.tan(np.radians(0.5)) / pixperdeg
    det = DetectorGeometry(
        shape=shape,
        beam_center_y_px=cen_y,
        beam_center_x_px=cen_x,
        pixel_size_y_m=pixel,
        pixel_size_x_m=pixel,
        distance_m=distance,
    )
    ny, nx = first.map_shape
    slow, fast = first.motors

    wl_A = _HC_EV_A / energy_eV
    return KMapMetadata(
        path=p,
        scans=tuple(infos),
        detector=det,
        wavelength_A=wl_A,
        energy_eV=energy_eV,
        pixel_mask=np.zeros(shape, dtype=np.uint8),
        map_shape=(ny, nx),
        eta_deg=np.array([float(s.positioners["eta"]) for s in infos]),
        phi_deg=np.array([float(s.positioners["phi"]) for s in infos]),
        nu_deg=np.array([float(s.positioners["nu"]) for s in infos]),
        delta_deg=np.array([float(s.positioners["delta"]) for s in infos]),
        y_um=scan_axis_um(first, slow, 1, ny),
        x_um=scan_axis_um(first, fast, 0, nx),
        missing=tuple(m for s in infos for m in s.missing),
    )


def _edf_shape(path: Path) -> tuple[int, int]:
    import fabio

    try:
        with fabio.open(str(path)) as img:
            shape = img.shape
    except Exception as exc:  # fabio raises many types for damaged files
        raise CorruptFileError(f"EDF file cannot be read: {exc}", path=path) from None
    return int(shape[-2]), int(shape[-1])


def _read_edf_points(path: str, start: int, stop: int) -> NDArray[Any]:
    """Frames ``start:stop`` of a multi-frame EDF file, shape (points, det_y, det_x)."""
    import fabio

    try:
        with fabio.open(path) as img:
            if img.nframes < stop:
                raise CorruptFileError(f"holds {img.nframes} frames, the scan needs {stop}", path=path)
            first = img.getframe(start).data
            out = np.empty((stop - start, *first.shape), dtype=first.dtype)
            out[0] = first
            for i in range(start + 1, stop):
                out[i - start] = img.getframe(i).data
    except CorruptFileError:
        raise
    except Exception as exc:
        raise CorruptFileError(f"EDF frames {start}:{stop} cannot be read: {exc}", path=path) from None
    return out


def open_spec_kmap(
    path: str | PathLike[str],
    *,
    scans: Sequence[int] | None = None,
    detector: str = "mpx4",
    image_dir: str | PathLike[str] | None = None,
    points_per_chunk: int = 32,
    timezone: str | None = None,
) -> tuple[Any, KMapMetadata]:
    """Lazy frames of an ID01 SPEC + EDF K-map and its metadata.

    Parameters
    ----------
    path : str or PathLike
        SPEC file.
    scans, detector, image_dir, timezone
        See :func:`read_spec_metadata`.
    points_per_chunk : int
        Scan points per EDF read (whole map rows when a row is shorter).

    Returns
    -------
    frames : (angle, y, x, det_y, det_x) dask.array
        Counts in the EDF dtype, one chunk per run of points of one scan.
    meta : KMapMetadata

    Raises
    ------
    SXDMLayoutError
        EDF files are missing (all of them are named in one message).
    """
    import dask
    import dask.array as da

    meta = read_spec_metadata(path, scans=scans, detector=detector, image_dir=image_dir, timezone=timezone)
    if meta.missing:
        folder = Path(image_dir) if image_dir is not None else None
        where = f" in {folder}" if folder is not None else " (recorded folder or beside the SPEC file)"
        raise SXDMLayoutError(
            f"{len(meta.missing)} EDF frame file(s) missing{where}: " + ", ".join(meta.missing), path=meta.path
        )
    first_edf = meta.scans[0].frames
    dtype = _read_edf_points(first_edf, 0, 1).dtype
    shapes = {s.name: _edf_shape(Path(s.frames)) for s in meta.scans}
    wrong = [
        f"{Path(meta.scans[i].frames).name} {v}" for i, v in enumerate(shapes.values()) if v != meta.detector.shape
    ]
    if wrong:
        raise SXDMLayoutError(
            f"EDF frames of another size than {meta.detector.shape}: " + ", ".join(wrong), path=meta.path
        )
    ny, nx = meta.map_shape
    dy, dx = meta.detector.shape
    rows = max(1, points_per_chunk // nx)
    cols = min(nx, points_per_chunk)
    read = dask.delayed(_read_edf_points, pure=True)
    per_scan = []
    for s in meta.scans:
        grid = []
        for y0 in range(0, ny, rows):
            by = min(rows, ny - y0)
            line = []
            for x0 in range(0, nx, cols):
                bx = min(cols, nx - x0)
                start = y0 * nx + x0
                block = read(s.frames, start, start + by * bx)
                line.append(da.from_delayed(block, (by * bx, dy, dx), dtype=dtype).reshape(1, by, bx, dy, dx))
            grid.append(da.concatenate(line, axis=2))
        per_scan.append(da.concatenate(grid, axis=1))
    return da.concatenate(per_scan, axis=0), meta
