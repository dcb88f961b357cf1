"""Readers of tomography files: raw instrument files in, data and metadata out (no kernels, no store).

``FORMATS`` registers them with :mod:`operando.formats` (DXchange, NXtomo, TIFF, Xradia).
"""

from __future__ import annotations

from typing import Any

from operando.formats import Format
from operando.tomo.io._describe import (
    describe_dxchange,
    describe_nxtomo,
    describe_tiff,
    describe_xradia,
    sniff_dxchange,
    sniff_nxtomo,
    sniff_tiff,
    sniff_xradia,
)


def _read(name: str) -> Any:
    def read(path: Any, **options: Any) -> Any:
        from operando.tomo.io import _readers

        return getattr(_readers, name)(path, **options)

    return read


def _read_xradia(path: Any, **options: Any) -> Any:
    from operando.tomo.io._xradia import read_xradia

    return read_xradia(path, **options)


FORMATS = (
    Format("dxchange", "tomo", "DXchange HDF5 (APS Data Exchange)", sniff_dxchange, _read("read_dxchange"),
           describe_dxchange),
    Format("nxtomo", "tomo", "NeXus NXtomo HDF5 (image_key)", sniff_nxtomo, _read("read_nxtomo"), describe_nxtomo),
    Format("tiff", "tomo", "TIFF stack of projections", sniff_tiff, _read("read_tiff"), describe_tiff),
    Format("xradia", "tomo", "Zeiss/Xradia TXRM/XRM (OLE2)", sniff_xradia, _read_xradia, describe_xradia),
)  # fmt: skip
"""Tomography formats, in detection order (found by content only: no extension is owned)."""
