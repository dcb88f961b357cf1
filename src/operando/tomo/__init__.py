"""Tomography: readers of DXchange, NeXus (image_key) and TIFF scans, preprocessing, reconstruction."""

from operando.tomo._readers import TomoFileError, TomoScan, read_dxchange, read_nxtomo, read_tiff, read_tomo

__all__ = ["TomoFileError", "TomoScan", "read_dxchange", "read_nxtomo", "read_tiff", "read_tomo"]
