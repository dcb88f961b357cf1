"""Scanning X-ray diffraction microscopy (SXDM, "K-maps"): from raw ID01 scans to maps.

Readers of ESRF Bliss files, geometry (pixel -> Q), the per-scan-point reduction (3D centre of mass of Q without a
q-space cube) and the maps (d-spacing, strain, tilt).
"""

from operando.sxdm._bliss import BlissScan, KMapMetadata, SXDMLayoutError, open_bliss_kmap, read_bliss_metadata
from operando.sxdm._geometry import DetectorGeometry, Offsets, d_spacing, pixel_q, rotation_matrix
from operando.sxdm._maps import strain_tilt_maps
from operando.sxdm._process import parse_reflection, place_on_record, process_kmap, process_series
from operando.sxdm._reduce import (
    ROI,
    CentreOfMass,
    centre_of_mass,
    find_hot_pixels,
    find_roi,
    frame_background,
    global_background,
    reduce_kmap,
)

__all__ = [
    "ROI",
    "BlissScan",
    "CentreOfMass",
    "DetectorGeometry",
    "KMapMetadata",
    "Offsets",
    "SXDMLayoutError",
    "centre_of_mass",
    "d_spacing",
    "find_hot_pixels",
    "find_roi",
    "frame_background",
    "global_background",
    "open_bliss_kmap",
    "parse_reflection",
    "pixel_q",
    "place_on_record",
    "process_kmap",
    "process_series",
    "read_bliss_metadata",
    "reduce_kmap",
    "rotation_matrix",
    "strain_tilt_maps",
]
