"""Scanning X-ray diffraction microscopy (SXDM, "K-maps"): from raw ID01 scans to maps.

Readers of ESRF Bliss files and of the older SPEC + EDF K-maps, geometry (pixel -> Q),
drift correction between rocking angles, a median filter over scan points, the
per-scan-point reduction (3D centre of mass of Q without a q-space cube) and the maps
(d-spacing, strain, tilt).

Names are imported when first used (``import operando.sxdm`` loads neither h5py, SciPy
nor ``dask.array``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from operando._lazy import lazy_exports

if TYPE_CHECKING:
    from operando.sxdm._drift import (
        MOMENTS,
        Drift,
        detector_moments,
        drift_consistency,
        estimate_drift,
        intensity_maps,
        register_maps,
        register_spot_maps,
        shift_frames,
    )
    from operando.sxdm._filters import (
        filtered_mask,
        median_filter_frames,
        median_filter_points,
        monitor_factors,
        parse_window,
        spread_wide_pixels,
        xsocs_window,
    )
    from operando.sxdm._geometry import DetectorGeometry, Offsets, d_spacing, pixel_q, rotation_matrix
    from operando.sxdm._maps import strain_tilt_maps
    from operando.sxdm._misorientation import MaxMisorientation, max_misorientation
    from operando.sxdm._phases import (
        PhaseSurvey,
        RadialBins,
        decompose_phases,
        fit_radial_peaks,
        phase_region,
        radial_bins,
        radial_profiles,
        region_background,
        survey_phases,
    )
    from operando.sxdm._qspace import gridded_qspace, qspace_bins, qspace_centre_of_mass
    from operando.sxdm._reduce import (
        ROI,
        BackgroundMode,
        CentreOfMass,
        centre_of_mass,
        find_hot_pixels,
        find_roi,
        frame_background,
        global_background,
        reduce_kmap,
        side_widths,
        signal_beyond,
        survey_rows,
    )
    from operando.sxdm._register import MapShift, common_grid, register_intensity, sample_map
    from operando.sxdm._source import AngleSums, ArraySource, FrameSource, plain_region_sums, plain_survey
    from operando.sxdm._widths import PeakWidths, peak_widths, q_covariance, rocking_direction
    from operando.sxdm.io._bliss import (
        MONITORS,
        BlissScan,
        BlissSource,
        KMapMetadata,
        SXDMLayoutError,
        bliss_frames,
        bliss_point_sums,
        bliss_region_sums,
        find_image_dataset,
        index_frame_sources,
        nominal_grid,
        open_bliss_kmap,
        read_bliss_metadata,
    )
    from operando.sxdm.io._lima import (
        cached_chunk_indexes,
        chunk_index,
        clear_chunk_indexes,
        read_bitshuffle_frames,
        read_indexed_frames,
    )
    from operando.sxdm.io._mask import read_mask_file
    from operando.sxdm.io._open import open_kmap, read_kmap_metadata
    from operando.sxdm.io._qspace_h5 import read_xsocs_qspace, write_xsocs_qspace
    from operando.sxdm.io._spec import is_spec_file, open_spec_kmap, read_spec_metadata
    from operando.sxdm.io._xsocs import is_xsocs_master, open_xsocs_kmap, read_xsocs_metadata

_MODULES = {
    "operando.sxdm._drift": (
        "MOMENTS",
        "Drift",
        "detector_moments",
        "drift_consistency",
        "estimate_drift",
        "intensity_maps",
        "register_maps",
        "register_spot_maps",
        "shift_frames",
    ),
    "operando.sxdm._filters": (
        "filtered_mask",
        "median_filter_frames",
        "median_filter_points",
        "monitor_factors",
        "parse_window",
        "spread_wide_pixels",
        "xsocs_window",
    ),
    "operando.sxdm._geometry": ("DetectorGeometry", "Offsets", "d_spacing", "pixel_q", "rotation_matrix"),
    "operando.sxdm._maps": ("strain_tilt_maps",),
    "operando.sxdm._misorientation": ("MaxMisorientation", "max_misorientation"),
    "operando.sxdm._qspace": ("gridded_qspace", "qspace_bins", "qspace_centre_of_mass"),
    "operando.sxdm._reduce": (
        "ROI",
        "BackgroundMode",
        "CentreOfMass",
        "centre_of_mass",
        "find_hot_pixels",
        "find_roi",
        "frame_background",
        "global_background",
        "reduce_kmap",
        "side_widths",
        "signal_beyond",
        "survey_rows",
    ),
    "operando.sxdm._register": ("MapShift", "common_grid", "register_intensity", "sample_map"),
    "operando.sxdm._source": ("AngleSums", "ArraySource", "FrameSource", "plain_region_sums", "plain_survey"),
    "operando.sxdm._phases": (
        "PhaseSurvey",
        "RadialBins",
        "decompose_phases",
        "fit_radial_peaks",
        "phase_region",
        "radial_bins",
        "radial_profiles",
        "region_background",
        "survey_phases",
    ),
    "operando.sxdm._widths": ("PeakWidths", "peak_widths", "q_covariance", "rocking_direction"),
    "operando.sxdm.io._bliss": (
        "MONITORS",
        "BlissScan",
        "BlissSource",
        "KMapMetadata",
        "SXDMLayoutError",
        "bliss_frames",
        "bliss_point_sums",
        "bliss_region_sums",
        "find_image_dataset",
        "index_frame_sources",
        "nominal_grid",
        "open_bliss_kmap",
        "read_bliss_metadata",
    ),
    "operando.sxdm.io._lima": (
        "cached_chunk_indexes",
        "chunk_index",
        "clear_chunk_indexes",
        "read_bitshuffle_frames",
        "read_indexed_frames",
    ),
    "operando.sxdm.io._mask": ("read_mask_file",),
    "operando.sxdm.io._open": ("open_kmap", "read_kmap_metadata"),
    "operando.sxdm.io._qspace_h5": ("read_xsocs_qspace", "write_xsocs_qspace"),
    "operando.sxdm.io._spec": ("is_spec_file", "open_spec_kmap", "read_spec_metadata"),
    "operando.sxdm.io._xsocs": ("is_xsocs_master", "open_xsocs_kmap", "read_xsocs_metadata"),
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "MOMENTS",
    "MONITORS",
    "ROI",
    "AngleSums",
    "ArraySource",
    "BackgroundMode",
    "BlissScan",
    "BlissSource",
    "CentreOfMass",
    "DetectorGeometry",
    "Drift",
    "FrameSource",
    "KMapMetadata",
    "MapShift",
    "MaxMisorientation",
    "Offsets",
    "PeakWidths",
    "PhaseSurvey",
    "RadialBins",
    "SXDMLayoutError",
    "bliss_frames",
    "bliss_point_sums",
    "bliss_region_sums",
    "cached_chunk_indexes",
    "centre_of_mass",
    "chunk_index",
    "clear_chunk_indexes",
    "common_grid",
    "d_spacing",
    "decompose_phases",
    "detector_moments",
    "drift_consistency",
    "estimate_drift",
    "filtered_mask",
    "find_hot_pixels",
    "find_image_dataset",
    "find_roi",
    "fit_radial_peaks",
    "frame_background",
    "global_background",
    "gridded_qspace",
    "index_frame_sources",
    "intensity_maps",
    "is_spec_file",
    "is_xsocs_master",
    "max_misorientation",
    "median_filter_frames",
    "median_filter_points",
    "monitor_factors",
    "nominal_grid",
    "open_bliss_kmap",
    "open_kmap",
    "open_spec_kmap",
    "open_xsocs_kmap",
    "parse_window",
    "peak_widths",
    "phase_region",
    "pixel_q",
    "plain_region_sums",
    "plain_survey",
    "q_covariance",
    "qspace_bins",
    "qspace_centre_of_mass",
    "radial_bins",
    "radial_profiles",
    "read_bitshuffle_frames",
    "read_bliss_metadata",
    "read_indexed_frames",
    "read_kmap_metadata",
    "read_mask_file",
    "read_spec_metadata",
    "read_xsocs_metadata",
    "read_xsocs_qspace",
    "reduce_kmap",
    "region_background",
    "register_intensity",
    "register_maps",
    "register_spot_maps",
    "rocking_direction",
    "rotation_matrix",
    "sample_map",
    "shift_frames",
    "side_widths",
    "signal_beyond",
    "spread_wide_pixels",
    "strain_tilt_maps",
    "survey_phases",
    "survey_rows",
    "write_xsocs_qspace",
    "xsocs_window",
]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
