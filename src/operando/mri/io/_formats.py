"""How the format registry recognises MRI files (NIfTI, TopSpin 1D profile exports)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

from operando.errors import CorruptFileError

__all__ = ["describe_nifti", "describe_topspin_profile", "sniff_nifti", "sniff_topspin_profile"]


def _nifti_header(head: bytes, path: Path) -> bytes:
    if head.startswith(b"\x1f\x8b"):  # .nii.gz: the header is the start of the stream
        try:
            with gzip.open(path, "rb") as fh:
                return fh.read(544)
        except (OSError, EOFError):
            return b""
    return head


def sniff_nifti(head: bytes, path: Path) -> bool:
    """NIfTI-1 (``n+1`` at byte 344, header size 348) or NIfTI-2 (``n+2``, 540), plain or gzipped.

    Examples
    --------
    >>> sniff_nifti(struct.pack("<i", 348) + bytes(340) + b"n+1\\x00", Path("a.nii"))
    True
    >>> sniff_nifti(b"time,voltage\\n", Path("a.csv"))
    False
    """
    h = _nifti_header(head, path)
    if len(h) >= 348 and h[344:347] == b"n+1":
        return struct.unpack("<i", h[:4])[0] == 348 or struct.unpack(">i", h[:4])[0] == 348
    if len(h) >= 12 and h[4:7] == b"n+2":
        return struct.unpack("<i", h[:4])[0] == 540 or struct.unpack(">i", h[:4])[0] == 540
    return False


def sniff_topspin_profile(head: bytes, path: Path) -> bool:
    """A TopSpin ``totxt`` export of a 1D profile (its header names LEFT and RIGHT in ppm)."""
    text = head[:2048]
    return b"LEFT" in text and b"RIGHT" in text and b"ppm" in text and text.lstrip().startswith(b"#")


def describe_nifti(path: Path) -> dict[str, Any]:
    """Summary of a NIfTI image from its header (shape, voxel size, units, scaling).

    Raises
    ------
    CorruptFileError
        When nibabel cannot parse the header.
    """
    import nibabel

    try:
        img: Any = nibabel.load(str(path))  # a Nifti1Image or Nifti2Image
    except Exception as exc:  # nibabel raises several kinds for damaged headers
        raise CorruptFileError(f"has a NIfTI signature but its header cannot be read: {exc}", path=path) from exc
    header: Any = img.header
    space, time = header.get_xyzt_units()
    slope, inter = header.get_slope_inter()
    return {
        "kind": "MRI image",
        "format": f"NIfTI-{1 if isinstance(header, nibabel.Nifti1Header) and header.sizeof_hdr == 348 else 2}",
        "shape": f"{tuple(int(n) for n in img.shape)} {header.get_data_dtype()}",
        "voxel_size": f"{tuple(round(float(z), 6) for z in header.get_zooms())} ({space or 'unknown'}, {time or '-'})",
        "scaling": "none" if slope is None else f"slope {slope}, intercept {inter}",
    }


def describe_topspin_profile(path: Path) -> dict[str, Any]:
    """Summary of a TopSpin 1D profile export (points, ppm range)."""
    from operando.mri.io._read import read_topspin_profile

    profile = read_topspin_profile(path)
    return {
        "kind": "MRI 1D profile",
        "format": "TopSpin totxt export",
        "points": int(profile.values.size),
        "ppm_range": f"{profile.left_ppm:.4g} .. {profile.right_ppm:.4g} ppm",
        "depth": "needs the field of view (not in the export)",
    }
