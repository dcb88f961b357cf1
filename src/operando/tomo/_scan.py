"""The scan every tomography reader returns (its own module: the readers share it, no cycle)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import dask.array as da
import numpy as np

from operando.errors import TomoFileError

__all__ = ["TomoFileError", "TomoScan"]  # the error re-exported: it belongs to this contract


@dataclass(frozen=True)
class TomoScan:
    """One tomography scan as read from disk (nothing is loaded until computed).

    Attributes
    ----------
    projections : (n_angles, n_rows, n_cols) dask.array.Array
        Raw projections (counts, or transmission/absorption as the file stores them),
        chunked by rows.
    angles_deg : (n_angles,) ndarray of float64
        Rotation angle of each projection, degrees.
    flats, darks : (n_flats, n_rows, n_cols) dask.array.Array or None
        Flat (open-beam) and dark frames, when the file has them.
    pixel_size_um : float or None
        Detector pixel size at the sample, µm, when recorded.
    energy_kev : float or None
        Beam energy, keV, when recorded.
    path : pathlib.Path
        The file read.
    layout : {"dxchange", "nxtomo", "tiff", "xradia"}
        Which layout was recognised.
    """

    projections: da.Array
    angles_deg: np.ndarray
    flats: da.Array | None
    darks: da.Array | None
    pixel_size_um: float | None
    energy_kev: float | None
    path: Path
    layout: Literal["dxchange", "nxtomo", "tiff", "xradia"]
