"""Scanning X-ray diffraction microscopy (SXDM, "K-maps"): from raw ID01 scans to maps.

Readers of ESRF Bliss files and of the older SPEC + EDF K-maps, geometry (pixel -> Q),
drift correction between rocking angles, a median filter over scan points, the
per-scan-point reduction (3D centre of mass of Q without a q-space cube) and the maps
(d-spacing, strain, tilt).
"""

from operando.sxdm._drift import Drift, estimate_drift, intensity_maps, register_maps, shift_frames
from operando.sxdm._filters import median_filter_points, parse_window
from operando.sxdm._geometry import DetectorGeometry, Offsets, d_spacing, pixel_q, rotation_matrix
from operando.sxdm._maps import strain_tilt_maps
from operando.sxdm._qspace import (
    gridded_qspace,
    qspace_bins,
    qspace_centre_of_mass,
    read_xsocs_qspace,
    write_xsocs_qspace,
)
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
from operando.sxdm._widths import PeakWidths, peak_widths, q_covariance, rocking_direction
from operando.sxdm.io._bliss import BlissScan, KMapMetadata, SXDMLayoutError, open_bliss_kmap, read_bliss_metadata
from operando.sxdm.io._open import open_kmap, read_kmap_metadata
from operando.sxdm.io._spec import is_spec_file, open_spec_kmap, read_spec_metadata
from operando.sxdm.io._xsocs import is_xsocs_master, open_xsocs_kmap, read_xsocs_metadata

__all__ = [
    "ROI",
    "BlissScan",
    "CentreOfMass",
    "DetectorGeometry",
    "Drift",
    "KMapMetadata",
    "Offsets",
    "PeakWidths",
    "SXDMLayoutError",
    "centre_of_mass",
    "d_spacing",
    "estimate_drift",
    "find_hot_pixels",
    "find_roi",
    "frame_background",
    "global_background",
    "gridded_qspace",
    "intensity_maps",
    "is_spec_file",
    "is_xsocs_master",
    "median_filter_points",
    "open_bliss_kmap",
    "open_kmap",
    "open_spec_kmap",
    "open_xsocs_kmap",
    "parse_window",
    "peak_widths",
    "pixel_q",
    "q_covariance",
    "qspace_bins",
    "qspace_centre_of_mass",
    "read_bliss_metadata",
    "read_kmap_metadata",
    "read_spec_metadata",
    "read_xsocs_metadata",
    "read_xsocs_qspace",
    "reduce_kmap",
    "register_maps",
    "rocking_direction",
    "rotation_matrix",
    "shift_frames",
    "strain_tilt_maps",
    "write_xsocs_qspace",
]
