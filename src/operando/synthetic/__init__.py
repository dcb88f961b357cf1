"""Forward models that write realistic raw files with known ground truth.

They build the built-in sample experiment (``operando demo``) and the test phantoms.
"""

from operando.synthetic._echem import SyntheticCell, lmno_ocv, simulate_gcpl, write_eclab_mpt
from operando.synthetic._mri import DendriteTruth, SyntheticDendriteMRI, csi_phantom, simulate_dendrite_mri
from operando.synthetic._nmr import (
    LICL_PPM,
    NMRLine,
    li_isotope_pair,
    licl_reference_pair,
    simulate_fid,
    write_bruker_fid,
)
from operando.synthetic._sxdm import KMapTruth, SyntheticKMap, simulate_kmap, write_bliss_kmap
from operando.synthetic._symmetric import simulate_symmetric_cell

__all__ = [
    "LICL_PPM",
    "DendriteTruth",
    "KMapTruth",
    "NMRLine",
    "SyntheticCell",
    "SyntheticDendriteMRI",
    "SyntheticKMap",
    "csi_phantom",
    "li_isotope_pair",
    "licl_reference_pair",
    "lmno_ocv",
    "simulate_dendrite_mri",
    "simulate_fid",
    "simulate_gcpl",
    "simulate_kmap",
    "simulate_symmetric_cell",
    "write_bliss_kmap",
    "write_bruker_fid",
    "write_eclab_mpt",
]
