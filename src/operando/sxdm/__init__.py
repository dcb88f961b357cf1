"""Scanning X-ray diffraction microscopy (SXDM, "K-maps"): from raw ID01 scans to maps.

Geometry (pixel -> Q), readers of ESRF Bliss files, the per-scan-point reduction (3D
centre of mass of Q without a q-space cube) and the maps (d-spacing, strain, tilt).
"""

from operando.sxdm._geometry import DetectorGeometry, Offsets, d_spacing, pixel_q, rotation_matrix

__all__ = [
    "DetectorGeometry",
    "Offsets",
    "d_spacing",
    "pixel_q",
    "rotation_matrix",
]
