"""MRI of lithium in battery cells: readers, chemical-shift separation, depth layers, stages.

Readers (:func:`read_paravision`, :func:`read_nifti`, :func:`read_profile_series`) return
arrays with axes in mm plus typed metadata (the Zahner potentiostat log is an
electrochemistry format: :func:`operando.echem.read`); kernels (``layer_amounts``,
``growth_rate``, ``detect_stages``, ``separate_by_shift``, ...) are pure array functions;
:func:`operando.pipelines.mri.quantify_layers` ties them into an ``"mri-layers"`` dataset.
"""

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
from operando.mri._stages import STAGE_NAMES, detect_stages, frame_of_time, stages_from_boundaries
from operando.mri.io._read import (
    MRIMeta,
    TopSpinProfile,
    is_topspin_profile,
    read_image,
    read_image_series,
    read_nifti,
    read_paravision,
    read_profile_series,
    read_topspin_profile,
)

__all__ = [
    "KNIGHT_SHIFT_LI_PPM",
    "STAGE_NAMES",
    "MRIMeta",
    "TopSpinProfile",
    "collapse_lateral",
    "correct_displacement",
    "detect_stages",
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
    "read_profile_series",
    "read_topspin_profile",
    "separate_by_shift",
    "shift_displacement_px",
    "shift_window_mask",
    "stages_from_boundaries",
]
