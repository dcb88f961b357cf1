"""NMR of Li-metal cells: Bruker/Varian spectra, integrals, Knight shift, 6Li abundance, tracer exchange; cw-EPR.

Readers (:func:`read_bruker`, :func:`read_varian`, :func:`read_fid`, :func:`read_bruker_processed`,
:func:`read_bes3t`) return arrays and typed
metadata; kernels (``ppm_axis``, ``process_fid``, ``integrate``, ...) are pure
array-in/array-out functions; :func:`process` ties the two into an ``xarray.Dataset``.
"""

from operando.nmr._abundance import isotope_integral, isotopes_dataset
from operando.nmr._epr_lines import (
    PeakToPeak,
    absorption,
    double_integral,
    g_factor,
    peak_to_peak,
    resonance_field_mT,
)
from operando.nmr._isotopes import LI6_NATURAL, SENSITIVITY_7LI_6LI, li6_fraction, sensitivity_factor
from operando.nmr._process import (
    autophase,
    baseline_polynomial,
    exponential_window,
    fourier_transform,
    fwhm,
    group_delay_shift,
    integral_uncertainty,
    integrate,
    noise_std,
    peak_position,
    phase,
    pick_peaks,
    ppm_axis,
    ppm_axis_processed,
    process_fid,
    window_mask,
)
from operando.nmr._spectrum import process
from operando.nmr._tracer import (
    ExchangeFit,
    classify_dendrite,
    electrolyte_abundance,
    fit_exchange,
    mechanism2_share,
    tracer_exchange,
)
from operando.nmr.io._bruker import (
    NMRFID,
    BrukerFID,
    BrukerMeta,
    BrukerProcessed,
    NMRMeta,
    read_bruker,
    read_bruker_processed,
)
from operando.nmr.io._epr import EPRMeta, EPRSpectrum, bes3t_pair, read_bes3t, read_epr, read_winepr
from operando.nmr.io._readfid import nmr_vendor, read_fid
from operando.nmr.io._varian import nucleus_name, read_varian

__all__ = [
    "LI6_NATURAL",
    "NMRFID",
    "SENSITIVITY_7LI_6LI",
    "BrukerFID",
    "BrukerMeta",
    "BrukerProcessed",
    "EPRMeta",
    "EPRSpectrum",
    "ExchangeFit",
    "NMRMeta",
    "PeakToPeak",
    "absorption",
    "autophase",
    "baseline_polynomial",
    "bes3t_pair",
    "classify_dendrite",
    "double_integral",
    "electrolyte_abundance",
    "exponential_window",
    "fit_exchange",
    "fourier_transform",
    "fwhm",
    "g_factor",
    "group_delay_shift",
    "integral_uncertainty",
    "integrate",
    "isotope_integral",
    "isotopes_dataset",
    "li6_fraction",
    "mechanism2_share",
    "nmr_vendor",
    "noise_std",
    "nucleus_name",
    "peak_position",
    "peak_to_peak",
    "phase",
    "pick_peaks",
    "ppm_axis",
    "ppm_axis_processed",
    "process",
    "process_fid",
    "read_bes3t",
    "read_bruker",
    "read_bruker_processed",
    "read_epr",
    "read_fid",
    "read_varian",
    "read_winepr",
    "resonance_field_mT",
    "sensitivity_factor",
    "tracer_exchange",
    "window_mask",
]
