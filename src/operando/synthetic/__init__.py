"""Forward models that write realistic raw files with known ground truth.

They build the built-in sample experiment (``operando demo``) and the test phantoms.
"""

from operando.synthetic._echem import SyntheticCell, lmno_ocv, simulate_gcpl, simulate_gitt, write_eclab_mpt
from operando.synthetic._epr import (
    derivative_dysonian,
    derivative_gaussian,
    derivative_lorentzian,
    write_bes3t,
    write_winepr,
)
from operando.synthetic._mri import (
    DendriteTruth,
    SyntheticDendriteMRI,
    csi_phantom,
    simulate_dendrite_mri,
    write_paravision_csi,
    write_paravision_scan,
    write_topspin_csi,
)
from operando.synthetic._nmr import (
    LICL_PPM,
    Excitation,
    NMRLine,
    acquire,
    li_isotope_pair,
    licl_reference_pair,
    simulate_fid,
    write_bruker_fid,
    write_varian_fid,
)
from operando.synthetic._sxdm import DETECTORS as SXDM_DETECTORS
from operando.synthetic._sxdm import KMapTruth, SyntheticKMap, simulate_kmap, write_bliss_kmap, write_spec_kmap
from operando.synthetic._sxdm_phases import (
    TwoPhaseKMap,
    front_fraction_field,
    random_fraction_field,
    simulate_two_phase_kmap,
)
from operando.synthetic._symmetric import DEFAULT_BV_CELL, simulate_bv_symmetric_cell, simulate_symmetric_cell
from operando.synthetic._tomo import (
    LABELS,
    CellMaterials,
    CellPhantom,
    project_cell,
    simulate_bare_cell,
    simulate_cell,
    simulate_cell_series,
    write_cell_dxchange,
)

__all__ = [
    "DEFAULT_BV_CELL",
    "LABELS",
    "LICL_PPM",
    "SXDM_DETECTORS",
    "CellMaterials",
    "CellPhantom",
    "DendriteTruth",
    "Excitation",
    "KMapTruth",
    "NMRLine",
    "SyntheticCell",
    "SyntheticDendriteMRI",
    "SyntheticKMap",
    "TwoPhaseKMap",
    "acquire",
    "csi_phantom",
    "derivative_dysonian",
    "derivative_gaussian",
    "derivative_lorentzian",
    "front_fraction_field",
    "li_isotope_pair",
    "licl_reference_pair",
    "lmno_ocv",
    "project_cell",
    "random_fraction_field",
    "simulate_bare_cell",
    "simulate_bv_symmetric_cell",
    "simulate_cell",
    "simulate_cell_series",
    "simulate_dendrite_mri",
    "simulate_fid",
    "simulate_gcpl",
    "simulate_gitt",
    "simulate_kmap",
    "simulate_symmetric_cell",
    "simulate_two_phase_kmap",
    "write_bes3t",
    "write_bliss_kmap",
    "write_bruker_fid",
    "write_cell_dxchange",
    "write_eclab_mpt",
    "write_paravision_csi",
    "write_paravision_scan",
    "write_spec_kmap",
    "write_topspin_csi",
    "write_varian_fid",
    "write_winepr",
]
