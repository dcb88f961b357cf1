"""Readers of MRI files: raw instrument files in, data and metadata out (no kernels, no store).

``FORMATS`` registers NIfTI images and TopSpin 1D profile exports with
:mod:`operando.formats` (ParaVision folders are registered with the other Bruker folders
in :mod:`operando.nmr.io`).
"""

from __future__ import annotations

from typing import Any

from operando.formats import Format
from operando.mri.io._formats import describe_nifti, describe_topspin_profile, sniff_nifti, sniff_topspin_profile


def _read(name: str) -> Any:
    def read(path: Any, **options: Any) -> Any:
        from operando.mri.io import _read as readers

        return getattr(readers, name)(path, **options)

    return read


FORMATS = (
    Format("nifti", "mri", "NIfTI-1/2 image (.nii, .nii.gz)", sniff_nifti, _read("read_nifti"), describe_nifti),
    Format("topspin-profile", "mri", "TopSpin totxt export of a 1D profile", sniff_topspin_profile,
           _read("read_topspin_profile"), describe_topspin_profile),
)  # fmt: skip
"""MRI formats, in detection order (before the echem text formats)."""
