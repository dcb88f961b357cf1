"""Readers of tomography scans: DXchange HDF5, NeXus/NXtomo (``image_key``), TIFF (Xradia in ``_xradia``).

Every reader returns a :class:`TomoScan`: lazy ``dask.array`` stacks of projections,
flats and darks, shaped ``(frame, row, col)`` and chunked by detector rows (each chunk
holds every frame of a few rows, i.e. whole sinograms), plus the metadata that was
recorded (angles in degrees; pixel size in µm and energy in keV when the file has them,
else ``None``). Files are only ever opened read-only, and each chunk opens the file
again when it is computed, so a scan can be handed to any dask scheduler.
"""

from __future__ import annotations

import math
from os import PathLike
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np

from operando._files import read_head
from operando._hashing import DataFile
from operando._hdf5 import data_files
from operando.errors import MissingMetadataError, UnsupportedFormatError
from operando.tomo._scan import TomoFileError, TomoScan
from operando.tomo.io._xradia import OLE2_MAGIC, read_xradia

__all__ = ["read_dxchange", "read_nxtomo", "read_tiff", "read_tomo", "tomo_data_files"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_ROW_CHUNK_BYTES = 64 * 2**20


class _H5Source:
    """Array-like over one HDF5 dataset that opens the file read-only per read (picklable)."""

    def __init__(self, path: Path, name: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        self.path, self.name, self.shape, self.dtype = path, name, shape, dtype
        self.ndim = len(shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        import h5py

        with h5py.File(self.path, "r") as fh:
            return np.asarray(fh[self.name][key])


def _row_chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """Chunks that keep every frame and column and split rows into ~64 MiB pieces."""
    n_frames, n_rows, n_cols = shape
    rows = max(1, min(n_rows, _ROW_CHUNK_BYTES // max(1, n_frames * n_cols * itemsize)))
    return (n_frames, rows, n_cols)


def _lazy(path: Path, name: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> da.Array:
    src = _H5Source(path, name, shape, dtype)
    return da.from_array(src, chunks=_row_chunks(shape, dtype.itemsize), meta=np.empty((0, 0, 0), dtype), lock=False)


def _dataset(fh: Any, name: str, path: Path, *, what: str) -> Any:
    """Open ``name`` in ``fh``; a dangling external link raises :class:`TomoFileError`."""
    import h5py

    parent, _, leaf = name.rstrip("/").rpartition("/")
    group = fh[parent or "/"]
    link = group.get(leaf, getlink=True)
    try:
        obj = group[leaf]
    except (KeyError, OSError):
        if isinstance(link, h5py.ExternalLink):
            raise TomoFileError(
                f"{what} {name} is an external link to {link.filename}:{link.path}, which cannot be opened "
                f"(is {link.filename} beside the file?)",
                path=path,
            ) from None
        raise TomoFileError(f"{what} {name} cannot be opened (broken link)", path=path) from None
    if not isinstance(obj, h5py.Dataset):
        raise TomoFileError(f"{what} {name} is not a dataset", path=path)
    return obj


def _text(value: Any) -> str:
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", errors="replace").strip()
    return str(value).strip()


def _angles_deg(values: np.ndarray, units: str | None, path: Path, name: str) -> np.ndarray:
    """Convert an angle dataset to degrees; units ``deg``/``degrees`` (the default) or ``rad``."""
    angles = np.asarray(values, dtype=np.float64).reshape(-1)
    u = (units or "degrees").lower()
    if u in ("rad", "radian", "radians"):
        angles = np.degrees(angles)
    elif u not in ("deg", "degree", "degrees", "°"):
        raise TomoFileError(f"angles {name} have units {units!r}; expected degrees or radians", path=path)
    if not np.all(np.isfinite(angles)):
        bad = np.flatnonzero(~np.isfinite(angles))
        raise TomoFileError(f"angles {name} hold {bad.size} NaN/inf value(s) (first at index {bad[0]})", path=path)
    return angles


def _check_frames(path: Path, proj: tuple[int, ...], other: tuple[int, ...], what: str) -> None:
    if len(other) != 3 or other[1:] != proj[1:]:
        raise TomoFileError(f"{what} have shape {other}, projections {proj}: frame sizes differ", path=path)


def _units(ds: Any) -> str | None:
    return _text(ds.attrs["units"]) if "units" in ds.attrs else None


def _quantity(fh: Any, names: tuple[str, ...], scale: dict[str, float]) -> float | None:
    """First of ``names`` present as a finite scalar, converted with ``scale[units]``."""
    for name in names:
        try:
            ds = fh[name]
            value = float(np.asarray(ds[()]).reshape(-1)[0])
        except (KeyError, OSError, TypeError, ValueError, IndexError, AttributeError):
            continue
        units = (_units(ds) or "").lower()
        if units in scale and math.isfinite(value):
            return value * scale[units]
    return None


_LENGTH_TO_UM = {"m": 1e6, "mm": 1e3, "um": 1.0, "µm": 1.0, "micron": 1.0, "microns": 1.0, "nm": 1e-3}
_ENERGY_TO_KEV = {"kev": 1.0, "ev": 1e-3, "mev": 1e3}


def _linked(fh: Any, path: Path, follow: bool) -> list[DataFile]:
    """Files a DXchange/NeXus scan reads besides ``path``: every external link in the file
    and the frames' virtual-dataset sources and external storage (:func:`operando._hdf5.data_files`);
    one outside the file's folder raises :class:`operando.errors.LinkOutsideFolderError`
    unless ``follow``."""
    import h5py

    names = ["/"]
    if "exchange" in fh:
        names += [f"/exchange/{k}" for k in ("data", "data_white", "data_dark")]
    for entry in fh:
        grp = fh.get(entry)
        if isinstance(grp, h5py.Group):
            names += [f"/{entry}/{k}/data" for k in grp if isinstance(grp.get(k, getlink=True), h5py.HardLink)]
    return data_files(path, names, follow=follow, fh=fh)


def tomo_data_files(path: str | PathLike[str], *, follow_external_links: bool = False) -> list[DataFile]:
    """The files besides ``path`` whose bytes a tomography scan reads, for its provenance.

    Parameters
    ----------
    path : str or os.PathLike
        A scan :func:`read_tomo` reads.
    follow_external_links : bool
        As for :func:`read_tomo`.

    Returns
    -------
    list of DataFile
        HDF5 external-link targets, virtual-dataset sources and external raw storage of a
        DXchange/NeXus file; empty for TIFF and Xradia files.

    Raises
    ------
    operando.errors.LinkOutsideFolderError
        A file outside ``path``'s folder, unless ``follow_external_links``.
    """
    p, head = read_head(path, 8)
    if not head.startswith(_HDF5_MAGIC):
        return []
    import h5py

    with h5py.File(p, "r") as fh:
        return _linked(fh, p, follow_external_links)


def read_dxchange(path: str | PathLike[str], *, follow_external_links: bool = False) -> TomoScan:
    """Read an APS Data Exchange HDF5 scan (``/exchange/data``, ``data_white``, ``data_dark``, ``theta``).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.h5`` file.
    follow_external_links : bool
        Read data that HDF5 links take from outside the file's folder (refused by default:
        :class:`operando.errors.LinkOutsideFolderError`, before any data are read).

    Returns
    -------
    TomoScan
        ``theta`` is converted to degrees from its ``units`` attribute (degrees when
        absent, as the Data Exchange specification prescribes).

    Raises
    ------
    UnsupportedFormatError
        No ``/exchange/data``.
    MissingMetadataError
        No ``/exchange/theta``.
    TomoFileError
        Shapes that disagree, NaN angles, a dangling link to a needed dataset.
    """
    import h5py

    p = Path(path)
    with h5py.File(p, "r") as fh:
        if "exchange" not in fh or "data" not in fh["exchange"]:
            raise UnsupportedFormatError("not a Data Exchange file (no /exchange/data)", path=p)
        _linked(fh, p, follow_external_links)
        data = _dataset(fh, "/exchange/data", p, what="projections")
        if data.ndim != 3:
            raise TomoFileError(f"/exchange/data has shape {data.shape}; expected (theta, y, x)", path=p)
        if "theta" not in fh["exchange"]:
            raise MissingMetadataError("no rotation angles (/exchange/theta)", path=p)
        theta = _dataset(fh, "/exchange/theta", p, what="angles")
        angles = _angles_deg(theta[()], _units(theta), p, "/exchange/theta")
        if angles.size != data.shape[0]:
            raise TomoFileError(
                f"/exchange/theta has {angles.size} angles but /exchange/data {data.shape[0]} projections", path=p
            )
        projections = _lazy(p, "/exchange/data", data.shape, data.dtype)
        extra: dict[str, da.Array | None] = {}
        for key, what in (("data_white", "flats"), ("data_dark", "darks")):
            extra[key] = None
            if key in fh["exchange"]:
                ds = _dataset(fh, f"/exchange/{key}", p, what=what)
                _check_frames(p, data.shape, ds.shape, f"{what} /exchange/{key}")
                extra[key] = _lazy(p, f"/exchange/{key}", ds.shape, ds.dtype)
        pixel = _quantity(
            fh,
            (
                "/measurement/instrument/detection_system/objective/resolution",
                "/measurement/instrument/detector/pixel_size",
            ),
            _LENGTH_TO_UM,
        )
        energy = _quantity(fh, ("/measurement/instrument/monochromator/energy",), _ENERGY_TO_KEV)
    return TomoScan(projections, angles, extra["data_white"], extra["data_dark"], pixel, energy, p, "dxchange")


def _find_nxdata(fh: Any, path: Path) -> tuple[str, str]:
    """``(entry, NXdata group)`` of the first NXentry whose NXdata ``data`` is a 3-D dataset.

    NXdata groups whose ``data`` dangles are skipped when another one resolves; when none
    resolves, the dangling link of the first is reported.
    """
    import h5py

    candidates: list[tuple[str, str]] = []
    for entry in fh:
        grp = fh[entry]
        if _text(grp.attrs.get("NX_class", b"")) != "NXentry":
            continue
        for name in ["data", *sorted(k for k in grp if k != "data")]:
            sub = grp.get(name)
            if isinstance(sub, h5py.Group) and _text(sub.attrs.get("NX_class", b"")) == "NXdata" and "data" in sub:
                candidates.append((f"/{entry}", f"/{entry}/{name}"))
    if not candidates:
        raise UnsupportedFormatError("no NXentry with an NXdata group holding 'data'", path=path)
    problems = []
    for entry, nxdata in candidates:
        try:
            obj = _dataset(fh, f"{nxdata}/data", path, what="frames")
        except TomoFileError as err:
            problems.append(err.problem)
            continue
        if obj.ndim == 3:
            return entry, nxdata
        problems.append(f"{nxdata}/data has shape {obj.shape}, not (frame, y, x)")
    raise TomoFileError("no frames can be read: " + "; ".join(problems), path=path)


def read_nxtomo(path: str | PathLike[str], *, follow_external_links: bool = False) -> TomoScan:
    """Read a NeXus scan whose frames are tagged by ``image_key`` (0 projection, 1 flat, 2 dark).

    Handles NXtomo (``entry/data/data``, ``entry/instrument/detector/image_key``,
    ``entry/sample/rotation_angle``) and Diamond's layout (``entry/<det>/data`` with
    ``entry/instrument/<det>/image_key`` and the angles, e.g. ``gts_theta_value``, in
    the NXdata group), following HDF5 external links relative to the master file.

    Parameters
    ----------
    path : str or os.PathLike
        The NeXus master file (``.nxs``/``.h5``).
    follow_external_links : bool
        As for :func:`read_dxchange`.

    Returns
    -------
    TomoScan
        Angles of the projection frames only (degrees).

    Raises
    ------
    UnsupportedFormatError
        No NXentry/NXdata with ``data``.
    MissingMetadataError
        No ``image_key`` or no rotation angles.
    TomoFileError
        A dangling external link to the data or the angles, lengths that disagree, NaN angles.
    """
    import h5py

    p = Path(path)
    with h5py.File(p, "r") as fh:
        _linked(fh, p, follow_external_links)
        entry, nxdata = _find_nxdata(fh, p)
        data_name = f"{nxdata}/data"
        data = _dataset(fh, data_name, p, what="frames")
        if data.ndim != 3:
            raise TomoFileError(f"{data_name} has shape {data.shape}; expected (frame, y, x)", path=p)
        n = data.shape[0]
        det = nxdata.rsplit("/", 1)[1]
        key_names = [
            f"{entry}/instrument/detector/image_key",
            f"{entry}/instrument/{det}/image_key",
            f"{nxdata}/image_key",
        ]
        key_name = next((k for k in key_names if k in fh), None)
        if key_name is None:
            raise MissingMetadataError(f"no image_key (looked for {', '.join(key_names)})", path=p)
        keys = np.asarray(_dataset(fh, key_name, p, what="image_key")[()]).reshape(-1)
        if keys.size != n:
            raise TomoFileError(f"{key_name} has {keys.size} entries but {data_name} {n} frames", path=p)
        angle_names = [f"{entry}/sample/rotation_angle", f"{nxdata}/rotation_angle"]
        angle_names += sorted(f"{nxdata}/{k}" for k in fh[nxdata] if "theta" in k and not k.endswith("_set"))
        present = [a for a in angle_names if fh[a.rsplit("/", 1)[0]].get(a.rsplit("/", 1)[1], getlink=True)]
        if not present:
            raise MissingMetadataError(f"no rotation angles (looked for {', '.join(angle_names)})", path=p)
        angle_ds = _dataset(fh, present[0], p, what="angles")
        all_angles = np.asarray(angle_ds[()], dtype=np.float64).reshape(-1)
        if all_angles.size != n:
            raise TomoFileError(f"{present[0]} has {all_angles.size} angles but {data_name} {n} frames", path=p)
        proj_idx = np.flatnonzero(keys == 0)
        if proj_idx.size == 0:
            raise TomoFileError(f"{key_name} marks no frame as a projection (key 0)", path=p)
        angles = _angles_deg(all_angles[proj_idx], _units(angle_ds), p, present[0])
        frames = _lazy(p, data_name, data.shape, data.dtype)
        flat_idx, dark_idx = np.flatnonzero(keys == 1), np.flatnonzero(keys == 2)
        flats = frames[flat_idx] if flat_idx.size else None
        darks = frames[dark_idx] if dark_idx.size else None
        pixel = _quantity(
            fh, (f"{entry}/instrument/detector/x_pixel_size", f"{entry}/instrument/{det}/x_pixel_size"), _LENGTH_TO_UM
        )
        energy = _quantity(
            fh,
            (
                f"{entry}/beam/incident_energy",
                f"{entry}/instrument/monochromator/energy",
                f"{entry}/instrument/source/energy",
            ),
            _ENERGY_TO_KEV,
        )
    projections = frames[proj_idx]
    return TomoScan(projections, angles, flats, darks, pixel, energy, p, "nxtomo")


class _TiffSource:
    """Array-like over the pages of a TIFF file, ``(page, row, col)``, read per request."""

    def __init__(self, path: Path, n_pages: int, shape: tuple[int, int, int], dtype: np.dtype[Any]) -> None:
        self.path, self.n_pages, self.shape, self.dtype = path, n_pages, shape, dtype
        self.ndim = 3

    def __getitem__(self, key: Any) -> np.ndarray:
        import tifffile

        arr = np.asarray(tifffile.imread(self.path, key=range(self.n_pages)))
        return arr.reshape(self.shape)[key]


def read_tiff(
    path: str | PathLike[str],
    *,
    angles_deg: np.ndarray | None = None,
    angle_range_deg: tuple[float, float] | None = None,
) -> TomoScan:
    """Read a TIFF: one 2-D page is a sinogram ``(angle, col)``, several pages are projections.

    TIFF records no angles: give them, or the range they cover uniformly.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.tif``/``.tiff`` file.
    angles_deg : (n_angles,) array_like, optional
        Angle of each projection (sinogram row), degrees.
    angle_range_deg : (float, float), optional
        ``(start, stop)``, degrees, half-open: ``n_angles`` uniform angles from ``start``.

    Returns
    -------
    TomoScan
        A sinogram becomes projections of shape ``(n_angles, 1, n_cols)``; no flats or
        darks. An ImageJ ``slope = ...`` calibration is *not* applied (the values stay
        as stored).

    Raises
    ------
    MissingMetadataError
        Neither ``angles_deg`` nor ``angle_range_deg`` given.
    TomoFileError
        The number of angles differs from the number of projections, or NaN angles.
    """
    import tifffile

    p = Path(path)
    with tifffile.TiffFile(p) as tif:
        pages = tif.pages
        first = pages.first
        shape2 = tuple(int(s) for s in first.shape)
        dtype = np.dtype(first.dtype)
        n_pages = len(pages)
    if len(shape2) != 2:
        raise UnsupportedFormatError(f"TIFF pages of shape {shape2}; expected 2-D greyscale pages", path=p)
    shape: tuple[int, int, int]
    shape = (shape2[0], 1, shape2[1]) if n_pages == 1 else (n_pages, shape2[0], shape2[1])
    if angles_deg is not None:
        angles = _angles_deg(np.asarray(angles_deg), "degrees", p, "angles_deg")
    elif angle_range_deg is not None:
        start, stop = angle_range_deg
        angles = start + (stop - start) * np.arange(shape[0]) / shape[0]
    else:
        raise MissingMetadataError("TIFF records no rotation angles; give angles_deg or angle_range_deg", path=p)
    if angles.size != shape[0]:
        raise TomoFileError(f"{angles.size} angles given for {shape[0]} projections", path=p)
    src = _TiffSource(p, n_pages, shape, dtype)
    projections = da.from_array(src, chunks=_row_chunks(shape, dtype.itemsize), meta=np.empty((0, 0, 0), dtype))
    return TomoScan(projections, angles, None, None, None, None, p, "tiff")


def read_tomo(path: str | PathLike[str], *, follow_external_links: bool = False, **tiff_options: Any) -> TomoScan:
    """Read a tomography scan, the layout found from the file's content.

    Parameters
    ----------
    path : str or os.PathLike
        DXchange HDF5, NeXus with ``image_key``, TIFF, or Zeiss/Xradia ``.txrm``/``.xrm``
        (OLE2; see :func:`operando.tomo.read_xradia`).
    follow_external_links : bool
        HDF5 files: read data that links take from outside the file's folder (refused by
        default, :func:`read_dxchange`); :func:`tomo_data_files` lists the files read.
    **tiff_options
        ``angles_deg`` / ``angle_range_deg`` for TIFF files (see :func:`read_tiff`).

    Returns
    -------
    TomoScan

    Raises
    ------
    UnsupportedFormatError
        Neither HDF5, TIFF nor OLE2, or an HDF5/OLE2 file of another layout.
    """
    p, head = read_head(path, 8)
    if head.startswith(_HDF5_MAGIC):
        import h5py

        with h5py.File(p, "r") as fh:
            is_dx = "exchange" in fh and "data" in fh["exchange"]
        if is_dx:
            return read_dxchange(p, follow_external_links=follow_external_links)
        return read_nxtomo(p, follow_external_links=follow_external_links)
    if head[:4] in _TIFF_MAGICS:
        return read_tiff(p, **tiff_options)
    if head.startswith(OLE2_MAGIC):
        return read_xradia(p)
    raise UnsupportedFormatError("not a tomography file this package reads (HDF5, TIFF or Xradia OLE2)", path=p)
