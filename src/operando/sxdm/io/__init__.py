"""Readers of K-map files: raw instrument files in, data and metadata out (no kernels, no store).

``FORMATS`` registers them with :mod:`operando.formats` (Bliss, XSOCS master, SPEC + EDF).
"""

from __future__ import annotations

from typing import Any

from operando.formats import Format
from operando.sxdm.io._describe import (
    describe_bliss,
    describe_spec,
    describe_xsocs,
    sniff_bliss,
    sniff_spec,
    sniff_xsocs,
)


def _open_kmap(path: Any, **options: Any) -> Any:
    from operando.sxdm.io._open import open_kmap

    return open_kmap(path, **options)


FORMATS = (
    Format("bliss-kmap", "sxdm", "ESRF Bliss HDF5 scans (ID01 K-map)", sniff_bliss, _open_kmap, describe_bliss),
    Format("xsocs-master", "sxdm", "XSOCS merged K-map master (HDF5)", sniff_xsocs, _open_kmap, describe_xsocs),
    Format("spec-kmap", "sxdm", "SPEC file + EDF frames (ID01 before Bliss)", sniff_spec, _open_kmap, describe_spec),
)
"""K-map formats, in detection order (XSOCS before generic HDF5; SPEC text before echem text)."""
