"""MRI of lithium in battery cells: readers, chemical-shift separation, depth layers, stages, CSI.

Readers (:func:`read_paravision`, :func:`read_nifti`, :func:`read_profile_series`, and the
raw k-space of chemical-shift imaging: :func:`read_paravision_csi`,
:func:`read_topspin_csi`) return arrays with axes in mm plus typed metadata (the Zahner
potentiostat log is an electrochemistry format: :func:`operando.echem.read`); kernels
(``layer_amounts``, ``growth_rate``, ``detect_stages``, ``separate_by_shift``,
``reconstruct_csi``, ...) are pure array functions;
:func:`operando.pipelines.mri.quantify_layers` ties them into an ``"mri-layers"`` dataset
and :func:`operando.pipelines.mri.csi_from_scan` into metal/electrolyte maps.

Names are imported on first use: ``import operando.mri`` loads neither SciPy nor nibabel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from operando._lazy import lazy_exports

if TYPE_CHECKING:
    from operando.mri._csi import csi_ppm_axis, fid_truncation, reconstruct_csi
    from operando.mri._layers import (
        collapse_lateral,
        find_electrodes,
        growth_rate,
        layer_amounts,
        layer_edges,
        layer_weights,
        noise_from_differences,
        noise_sigma,
        normalise,
    )
    from operando.mri._shift import (
        KNIGHT_SHIFT_LI_PPM,
        correct_displacement,
        separate_by_shift,
        shift_displacement_px,
        shift_window_mask,
    )
    from operando.mri._stages import (
        AFTER_SHORT,
        STAGE_NAMES,
        detect_stages,
        frame_of_time,
        stages_from_boundaries,
    )
    from operando.mri.io._read import (
        CSIScan,
        MRIMeta,
        TopSpinProfile,
        acquisition_order,
        is_topspin_profile,
        read_image,
        read_image_series,
        read_nifti,
        read_paravision,
        read_paravision_csi,
        read_profile_series,
        read_topspin_csi,
        read_topspin_profile,
    )

# public name -> the module that defines it; imported on first use, so that
# ``import`` of this package stays cheap (no scipy, no vendor libraries)
_SOURCES: dict[str, str] = {
    "acquisition_order": "operando.mri.io._read",
    "csi_ppm_axis": "operando.mri._csi",
    "reconstruct_csi": "operando.mri._csi",
    "fid_truncation": "operando.mri._csi",
    "collapse_lateral": "operando.mri._layers",
    "find_electrodes": "operando.mri._layers",
    "growth_rate": "operando.mri._layers",
    "layer_amounts": "operando.mri._layers",
    "layer_edges": "operando.mri._layers",
    "layer_weights": "operando.mri._layers",
    "noise_from_differences": "operando.mri._layers",
    "noise_sigma": "operando.mri._layers",
    "normalise": "operando.mri._layers",
    "KNIGHT_SHIFT_LI_PPM": "operando.mri._shift",
    "correct_displacement": "operando.mri._shift",
    "separate_by_shift": "operando.mri._shift",
    "shift_displacement_px": "operando.mri._shift",
    "shift_window_mask": "operando.mri._shift",
    "AFTER_SHORT": "operando.mri._stages",
    "STAGE_NAMES": "operando.mri._stages",
    "detect_stages": "operando.mri._stages",
    "frame_of_time": "operando.mri._stages",
    "stages_from_boundaries": "operando.mri._stages",
    "CSIScan": "operando.mri.io._read",
    "MRIMeta": "operando.mri.io._read",
    "TopSpinProfile": "operando.mri.io._read",
    "is_topspin_profile": "operando.mri.io._read",
    "read_image": "operando.mri.io._read",
    "read_image_series": "operando.mri.io._read",
    "read_nifti": "operando.mri.io._read",
    "read_paravision": "operando.mri.io._read",
    "read_paravision_csi": "operando.mri.io._read",
    "read_profile_series": "operando.mri.io._read",
    "read_topspin_csi": "operando.mri.io._read",
    "read_topspin_profile": "operando.mri.io._read",
}

__all__ = [
    "AFTER_SHORT",
    "KNIGHT_SHIFT_LI_PPM",
    "STAGE_NAMES",
    "CSIScan",
    "MRIMeta",
    "TopSpinProfile",
    "acquisition_order",
    "collapse_lateral",
    "correct_displacement",
    "csi_ppm_axis",
    "detect_stages",
    "fid_truncation",
    "find_electrodes",
    "frame_of_time",
    "growth_rate",
    "is_topspin_profile",
    "layer_amounts",
    "layer_edges",
    "layer_weights",
    "noise_from_differences",
    "noise_sigma",
    "normalise",
    "read_image",
    "read_image_series",
    "read_nifti",
    "read_paravision",
    "read_paravision_csi",
    "read_profile_series",
    "read_topspin_csi",
    "read_topspin_profile",
    "reconstruct_csi",
    "separate_by_shift",
    "shift_displacement_px",
    "shift_window_mask",
    "stages_from_boundaries",
]


__getattr__, __dir__ = lazy_exports(__name__, _SOURCES, __all__)
