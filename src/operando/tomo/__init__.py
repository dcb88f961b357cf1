"""Tomography: readers (DXchange, NeXus, TIFF, Zeiss/Xradia), preprocessing, reconstruction, segmentation of
Li cells, contact maps, quantities, displacement fields by digital volume correlation.

Centre convention: rotation centres are in pixels from the centre of detector pixel 0.

The names below are imported on first use (``import operando.tomo`` loads neither HDF5,
SciPy, scikit-image, scikit-learn nor Dask arrays).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from operando._lazy import lazy_exports

if TYPE_CHECKING:
    from operando.tomo._analysis import (
        PHASE_CODES,
        RoughnessTiles,
        StackPositions,
        SubvolumeDensity,
        ThicknessMaps,
        box_slices,
        contact_change_registered,
        drop_rim,
        interphase_thickness_maps,
        local_thickness,
        phase_volumes,
        register_volumes,
        roughness_rms,
        roughness_vs_voids,
        stack_positions,
        subvolume_density,
    )
    from operando.tomo._dvc import correlate_volumes
    from operando.tomo._interface import analyse_interfaces, contact_change, contact_maps, contact_regions, li_edges
    from operando.tomo._prep import (
        RING_METHODS,
        bin_frames,
        find_center,
        handle_rings,
        minus_log,
        normalize,
        paganin_filter,
        remove_rings,
        remove_stripes,
        remove_zingers,
    )
    from operando.tomo._quantities import cell_quantities, li_charge_mAh, stripping_fraction
    from operando.tomo._recon import ramp_filter, reconstruct, reconstruct_slice
    from operando.tomo._scan import TomoFileError, TomoScan
    from operando.tomo._segment import (
        ELECTROLYTE,
        INTERPHASE,
        LITHIUM,
        OUTSIDE,
        PORE,
        UNLABELLED,
        VOID,
        InterphaseClassifier,
        Thresholds,
        auto_thresholds,
        median_filter3d,
        segment_cell,
        train_interphase_classifier,
    )
    from operando.tomo.io._classifier import load_classifier, save_classifier
    from operando.tomo.io._readers import read_dxchange, read_nxtomo, read_tiff, read_tomo
    from operando.tomo.io._xradia import is_xradia, read_xradia

# public name -> the module that defines it
_SOURCES = {
    "PHASE_CODES": "operando.tomo._analysis",
    "RoughnessTiles": "operando.tomo._analysis",
    "StackPositions": "operando.tomo._analysis",
    "SubvolumeDensity": "operando.tomo._analysis",
    "ThicknessMaps": "operando.tomo._analysis",
    "box_slices": "operando.tomo._analysis",
    "contact_change_registered": "operando.tomo._analysis",
    "drop_rim": "operando.tomo._analysis",
    "interphase_thickness_maps": "operando.tomo._analysis",
    "local_thickness": "operando.tomo._analysis",
    "phase_volumes": "operando.tomo._analysis",
    "register_volumes": "operando.tomo._analysis",
    "roughness_rms": "operando.tomo._analysis",
    "roughness_vs_voids": "operando.tomo._analysis",
    "stack_positions": "operando.tomo._analysis",
    "subvolume_density": "operando.tomo._analysis",
    "correlate_volumes": "operando.tomo._dvc",
    "analyse_interfaces": "operando.tomo._interface",
    "contact_change": "operando.tomo._interface",
    "contact_maps": "operando.tomo._interface",
    "contact_regions": "operando.tomo._interface",
    "li_edges": "operando.tomo._interface",
    "find_center": "operando.tomo._prep",
    "RING_METHODS": "operando.tomo._prep",
    "bin_frames": "operando.tomo._prep",
    "handle_rings": "operando.tomo._prep",
    "paganin_filter": "operando.tomo._prep",
    "remove_rings": "operando.tomo._prep",
    "remove_zingers": "operando.tomo._prep",
    "minus_log": "operando.tomo._prep",
    "normalize": "operando.tomo._prep",
    "remove_stripes": "operando.tomo._prep",
    "cell_quantities": "operando.tomo._quantities",
    "li_charge_mAh": "operando.tomo._quantities",
    "stripping_fraction": "operando.tomo._quantities",
    "ramp_filter": "operando.tomo._recon",
    "reconstruct": "operando.tomo._recon",
    "reconstruct_slice": "operando.tomo._recon",
    "TomoFileError": "operando.tomo._scan",
    "TomoScan": "operando.tomo._scan",
    "ELECTROLYTE": "operando.tomo._segment",
    "INTERPHASE": "operando.tomo._segment",
    "LITHIUM": "operando.tomo._segment",
    "OUTSIDE": "operando.tomo._segment",
    "PORE": "operando.tomo._segment",
    "UNLABELLED": "operando.tomo._segment",
    "VOID": "operando.tomo._segment",
    "InterphaseClassifier": "operando.tomo._segment",
    "Thresholds": "operando.tomo._segment",
    "auto_thresholds": "operando.tomo._segment",
    "median_filter3d": "operando.tomo._segment",
    "segment_cell": "operando.tomo._segment",
    "train_interphase_classifier": "operando.tomo._segment",
    "load_classifier": "operando.tomo.io._classifier",
    "save_classifier": "operando.tomo.io._classifier",
    "read_dxchange": "operando.tomo.io._readers",
    "read_nxtomo": "operando.tomo.io._readers",
    "read_tiff": "operando.tomo.io._readers",
    "read_tomo": "operando.tomo.io._readers",
    "is_xradia": "operando.tomo.io._xradia",
    "read_xradia": "operando.tomo.io._xradia",
}

__all__ = [
    "ELECTROLYTE",
    "INTERPHASE",
    "LITHIUM",
    "OUTSIDE",
    "PHASE_CODES",
    "PORE",
    "RING_METHODS",
    "UNLABELLED",
    "VOID",
    "InterphaseClassifier",
    "RoughnessTiles",
    "StackPositions",
    "SubvolumeDensity",
    "ThicknessMaps",
    "Thresholds",
    "TomoFileError",
    "TomoScan",
    "analyse_interfaces",
    "auto_thresholds",
    "box_slices",
    "cell_quantities",
    "contact_change",
    "contact_change_registered",
    "contact_maps",
    "contact_regions",
    "correlate_volumes",
    "drop_rim",
    "find_center",
    "interphase_thickness_maps",
    "is_xradia",
    "li_charge_mAh",
    "li_edges",
    "load_classifier",
    "local_thickness",
    "median_filter3d",
    "minus_log",
    "normalize",
    "phase_volumes",
    "ramp_filter",
    "read_dxchange",
    "read_nxtomo",
    "read_tiff",
    "read_tomo",
    "read_xradia",
    "reconstruct",
    "reconstruct_slice",
    "register_volumes",
    "remove_stripes",
    "roughness_rms",
    "roughness_vs_voids",
    "save_classifier",
    "segment_cell",
    "stack_positions",
    "stripping_fraction",
    "subvolume_density",
    "train_interphase_classifier",
]


__getattr__, __dir__ = lazy_exports(__name__, _SOURCES, __all__)
