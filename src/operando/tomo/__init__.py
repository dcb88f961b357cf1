"""Tomography: readers (DXchange, NeXus, TIFF, Zeiss/Xradia), preprocessing, reconstruction, segmentation of
Li cells, contact maps, quantities, displacement fields by digital volume correlation.

Centre convention: rotation centres are in pixels from the centre of detector pixel 0.
"""

from operando.tomo._dvc import correlate_volumes
from operando.tomo._interface import analyse_interfaces, contact_change, contact_maps, contact_regions, li_edges
from operando.tomo._prep import find_center, minus_log, normalize, remove_stripes
from operando.tomo._quantities import cell_quantities, li_charge_mAh, stripping_fraction
from operando.tomo._recon import ramp_filter, reconstruct, reconstruct_slice
from operando.tomo._scan import TomoFileError, TomoScan
from operando.tomo._segment import (
    InterphaseClassifier,
    Thresholds,
    auto_thresholds,
    load_classifier,
    median_filter3d,
    segment_cell,
    train_interphase_classifier,
)
from operando.tomo.io._readers import read_dxchange, read_nxtomo, read_tiff, read_tomo
from operando.tomo.io._xradia import read_xradia

__all__ = [
    "InterphaseClassifier",
    "Thresholds",
    "TomoFileError",
    "TomoScan",
    "analyse_interfaces",
    "auto_thresholds",
    "cell_quantities",
    "contact_change",
    "contact_maps",
    "contact_regions",
    "correlate_volumes",
    "find_center",
    "li_charge_mAh",
    "li_edges",
    "load_classifier",
    "median_filter3d",
    "minus_log",
    "normalize",
    "ramp_filter",
    "read_dxchange",
    "read_nxtomo",
    "read_tiff",
    "read_tomo",
    "read_xradia",
    "reconstruct",
    "reconstruct_slice",
    "remove_stripes",
    "segment_cell",
    "stripping_fraction",
    "train_interphase_classifier",
]
