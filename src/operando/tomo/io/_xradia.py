"""Reader of Zeiss/Xradia TXM files (``.txrm`` tilt series, ``.xrm`` single images).

Both are OLE2 compound documents (read with :mod:`olefile`). The streams used, as written
by Xradia's acquisition software and read by TomoPy/DXchange's ``read_txrm``/``read_xrm``:

``ImageInfo/ImageWidth``, ``ImageHeight``, ``NoOfImages``, ``DataType`` (uint32 each;
data type 5 = uint16, 10 = float32), ``ImageInfo/Angles`` (float32 per image, degrees),
``ImageInfo/PixelSize`` (float32, µm), ``ImageInfo/Energy`` (float32 per image, eV; 0 when
not recorded); images in ``ImageData<k>/Image<i>`` (``i`` from 1, 100 images per
``ImageData`` storage, ``k = ceil(i / 100)``), row-major ``(height, width)``; an optional
flat (reference) image in ``ReferenceData/Image`` with its own ``ReferenceData/DataType``.

Each projection is its own stream, so the projections are chunked by frames (a chunk of
detector rows would read every stream whole); :func:`operando.tomo.reconstruct` rechunks.
"""

from __future__ import annotations

import math
from os import PathLike
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np

from operando._files import read_head
from operando.errors import CorruptFileError, MissingMetadataError, UnsupportedFormatError
from operando.tomo._scan import TomoScan

__all__ = ["OLE2_MAGIC", "is_xradia", "read_xradia"]

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_DTYPES: dict[int, np.dtype[Any]] = {5: np.dtype("<u2"), 10: np.dtype("<f4")}
_CHUNK_BYTES = 64 * 2**20


def _open(path: Path) -> Any:
    import olefile

    try:
        return olefile.OleFileIO(str(path))
    except (OSError, ValueError) as exc:  # olefile raises OSError for a bad header or FAT
        raise CorruptFileError(f"not a readable OLE2 compound document ({exc})", path=path) from exc


def is_xradia(path: str | PathLike[str]) -> bool:
    """True when ``path`` is an OLE2 file with Xradia's ``ImageInfo/ImageWidth`` stream."""
    p, head = read_head(path, 8)
    if not head.startswith(OLE2_MAGIC):
        return False
    ole = _open(p)
    try:
        return bool(ole.exists("ImageInfo/ImageWidth"))
    finally:
        ole.close()


def _values(ole: Any, path: Path, name: str, dtype: str, count: int | None = None) -> np.ndarray:
    if not ole.exists(name):
        raise MissingMetadataError(f"no {name} stream", path=path)
    raw = ole.openstream(name).read()
    dt = np.dtype(dtype)
    n = len(raw) // dt.itemsize if count is None else count
    if n * dt.itemsize > len(raw) or n == 0:
        raise CorruptFileError(f"{name} holds {len(raw)} bytes, fewer than {max(n, 1)} {dt.name} values", path=path)
    return np.frombuffer(raw[: n * dt.itemsize], dt)


def _scalar(ole: Any, path: Path, name: str, dtype: str) -> float:
    return float(_values(ole, path, name, dtype, 1)[0])


def _image_stream(i: int) -> str:
    return f"ImageData{math.ceil((i + 1) / 100)}/Image{i + 1}"


class _OleImages:
    """Array-like ``(n, height, width)`` over the image streams; opens the file per read (picklable)."""

    def __init__(self, path: Path, streams: list[str], shape: tuple[int, int, int], dtype: np.dtype[Any]) -> None:
        self.path, self.streams, self.shape, self.dtype = path, streams, shape, dtype
        self.ndim = 3

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        frames = range(self.shape[0])[key[0]]
        rest = key[1:]
        ole = _open(self.path)
        try:
            out = np.empty((len(frames), self.shape[1], self.shape[2]), self.dtype)
            for k, i in enumerate(frames):
                out[k] = self._read(ole, self.streams[i])
        finally:
            ole.close()
        return out[(slice(None), *rest)]

    def _read(self, ole: Any, name: str) -> np.ndarray:
        h, w = self.shape[1:]
        if not ole.exists(name):
            raise CorruptFileError(f"image stream {name} is missing", path=self.path)
        raw = ole.openstream(name).read()
        need = h * w * self.dtype.itemsize
        if len(raw) < need:
            raise CorruptFileError(f"{name} holds {len(raw)} bytes, an image of {h} x {w} needs {need}", path=self.path)
        return np.frombuffer(raw[:need], self.dtype).reshape(h, w)


def _stack(path: Path, streams: list[str], h: int, w: int, dtype: np.dtype[Any]) -> da.Array:
    src = _OleImages(path, streams, (len(streams), h, w), dtype)
    per = max(1, min(len(streams), _CHUNK_BYTES // max(1, h * w * dtype.itemsize)))
    return da.from_array(src, chunks=(per, h, w), meta=np.empty((0, 0, 0), dtype), lock=False)


def read_xradia(path: str | PathLike[str]) -> TomoScan:
    """Read a Zeiss/Xradia ``.txrm`` tilt series or ``.xrm`` image as a :class:`~operando.tomo.TomoScan`.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.txrm`` / ``.xrm`` file.

    Returns
    -------
    TomoScan
        ``projections`` (n_images, height, width) lazy dask array of the stored type (uint16
        counts or float32), ``angles_deg`` from ``ImageInfo/Angles``, ``flats`` the
        ``ReferenceData/Image`` frame (1, height, width) when present, ``darks`` None,
        ``pixel_size_um`` from ``ImageInfo/PixelSize`` and ``energy_kev`` from the first
        ``ImageInfo/Energy`` (None when 0 or absent); ``layout`` is ``"xradia"``.

    Raises
    ------
    UnsupportedFormatError
        Not an OLE2 file, or one without Xradia's ``ImageInfo`` streams.
    MissingMetadataError
        A required ``ImageInfo`` stream is absent.
    CorruptFileError
        Streams shorter than their sizes say, an unknown data type, or missing images.
    """

    p, head = read_head(path, 8)
    if not head.startswith(OLE2_MAGIC):
        raise UnsupportedFormatError("not an OLE2 compound document (Xradia .txrm/.xrm)", path=p)
    ole = _open(p)
    try:
        if not ole.exists("ImageInfo/ImageWidth"):
            raise UnsupportedFormatError("OLE2 file without ImageInfo/ImageWidth: not an Xradia file", path=p)
        w = int(_scalar(ole, p, "ImageInfo/ImageWidth", "<u4"))
        h = int(_scalar(ole, p, "ImageInfo/ImageHeight", "<u4"))
        n = int(_scalar(ole, p, "ImageInfo/NoOfImages", "<u4"))
        code = int(_scalar(ole, p, "ImageInfo/DataType", "<u4"))
        if code not in _DTYPES:
            raise CorruptFileError(f"ImageInfo/DataType {code} is not 5 (uint16) or 10 (float32)", path=p)
        if w == 0 or h == 0 or n == 0:
            raise CorruptFileError(f"empty image stack: {n} images of {h} x {w}", path=p)
        angles = _values(ole, p, "ImageInfo/Angles", "<f4", n).astype(np.float64)
        if not np.all(np.isfinite(angles)):
            raise CorruptFileError("ImageInfo/Angles holds NaN or infinite values", path=p)
        streams = [_image_stream(i) for i in range(n)]
        missing = [s for s in streams if not ole.exists(s)]
        if missing:
            raise CorruptFileError(f"{len(missing)} of {n} image streams are missing (first {missing[0]})", path=p)
        pixel = float(_scalar(ole, p, "ImageInfo/PixelSize", "<f4")) if ole.exists("ImageInfo/PixelSize") else 0.0
        energy = float(_scalar(ole, p, "ImageInfo/Energy", "<f4")) if ole.exists("ImageInfo/Energy") else 0.0
        flats = None
        if ole.exists("ReferenceData/Image"):
            ref_code = int(_scalar(ole, p, "ReferenceData/DataType", "<u4"))
            if ref_code not in _DTYPES:
                raise CorruptFileError(f"ReferenceData/DataType {ref_code} is not 5 or 10", path=p)
            flats = _stack(p, ["ReferenceData/Image"], h, w, _DTYPES[ref_code])
    finally:
        ole.close()
    return TomoScan(
        projections=_stack(p, streams, h, w, _DTYPES[code]),
        angles_deg=angles,
        flats=flats,
        darks=None,
        pixel_size_um=pixel if pixel > 0 else None,
        energy_kev=energy / 1000.0 if energy > 0 else None,
        path=p,
        layout="xradia",
    )
