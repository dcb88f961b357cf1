"""Tomography: DXchange, NeXus (image_key), TIFF and Zeiss/Xradia readers, preprocessing, reconstruction,
displacement fields by digital volume correlation.

Centre convention: rotation centres are in pixels from the centre of detector pixel 0.
"""

from operando.tomo._dvc import correlate_volumes
from operando.tomo._prep import find_center, minus_log, normalize, remove_stripes
from operando.tomo._readers import TomoFileError, TomoScan, read_dxchange, read_nxtomo, read_tiff, read_tomo
from operando.tomo._recon import ramp_filter, reconstruct, reconstruct_slice
from operando.tomo._xradia import read_xradia

__all__ = [
    "TomoFileError",
    "TomoScan",
    "correlate_volumes",
    "find_center",
    "minus_log",
    "normalize",
    "ramp_filter",
    "read_dxchange",
    "read_nxtomo",
    "read_tiff",
    "read_tomo",
    "read_xradia",
    "reconstruct",
    "reconstruct_slice",
    "remove_stripes",
]
