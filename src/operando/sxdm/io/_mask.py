"""A user's detector mask file (EDF, NumPy ``.npy`` or TIFF, found by content)."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from operando.errors import CorruptFileError, ParameterError, UnsupportedFormatError

__all__ = ["read_mask_file"]


def read_mask_file(path: str | PathLike[str], shape: tuple[int, int] | None = None) -> NDArray[np.uint8]:
    """A detector mask drawn by the user (silx/pyFAI/XSOCS masks): nonzero = bad pixel.

    Parameters
    ----------
    path : str or PathLike
        EDF (``{`` header), NumPy ``.npy`` (``\\x93NUMPY``) or TIFF (``II*`` / ``MM*``)
        file holding one 2D image; found by its first bytes, not its name.
    shape : (int, int), optional
        The detector's (rows, columns): a mask of another shape is refused.

    Returns
    -------
    (det_y, det_x) ndarray of uint8
        1 where the file's value is nonzero (or NaN), else 0.

    Raises
    ------
    UnsupportedFormatError
        Neither EDF, NumPy nor TIFF.
    CorruptFileError
        The file cannot be read, or holds no 2D image.
    ParameterError
        Its shape is not the detector's.
    """
    from operando._files import require_file

    p = Path(path)
    require_file(p)
    head = p.read_bytes()[:8]
    try:
        if head.startswith(b"\x93NUMPY"):
            image = np.load(p, allow_pickle=False)
        elif head.lstrip()[:1] == b"{" or head[:4] in (b"II*\x00", b"MM\x00*"):
            import fabio

            image = fabio.open(str(p)).data
        else:
            raise UnsupportedFormatError("not an EDF, NumPy (.npy) or TIFF mask", path=p)
    except (OSError, ValueError, KeyError) as err:
        raise CorruptFileError(f"cannot read the mask: {err}", path=p) from err
    image = np.squeeze(np.asarray(image))
    if image.ndim != 2:
        raise CorruptFileError(f"a mask is one 2D image, this holds shape {image.shape}", path=p)
    if shape is not None and tuple(image.shape) != tuple(shape):
        raise ParameterError(f"mask of {image.shape[0]} x {image.shape[1]} pixels, the detector has {shape}", path=p)
    bad = image != 0
    if image.dtype.kind == "f":
        bad |= np.isnan(image)
    return bad.astype(np.uint8)
