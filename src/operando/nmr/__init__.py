"""NMR of Li-metal cells: Bruker/Varian spectra, integrals, Knight shift, 6Li abundance, tracer exchange; cw-EPR.

Readers (:func:`read_bruker`, :func:`read_varian`, :func:`read_fid`, :func:`read_bruker_processed`,
:func:`read_bes3t`) return arrays and typed
metadata; kernels (``ppm_axis``, ``process_fid``, ``integrate``, ...) are pure
array-in/array-out functions; :func:`process` ties the two into an ``xarray.Dataset``;
the workflows over files are in :mod:`operando.pipelines.nmr`.

Names are imported on first use: ``import operando.nmr`` loads neither SciPy nor nmrglue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from operando._lazy import lazy_exports

if TYPE_CHECKING:
    from operando.nmr._abundance import (
        LineIntegral,
        isotope_integral,
        isotopes_dataset,
        line_integral,
        robust_noise,
    )
    from operando.nmr._epr_lines import (
        DysonianFit,
        PeakToPeak,
        absorption,
        double_integral,
        fit_dysonian,
        g_factor,
        peak_to_peak,
        resonance_field_mT,
    )
    from operando.nmr._isotopes import (
        LI6_NATURAL,
        SENSITIVITY_7LI_6LI,
        li6_fraction,
        sensitivity_factor,
    )
    from operando.nmr._lineshape import SHAPES, fit_lines
    from operando.nmr._process import (
        WINDOWS,
        autophase,
        baseline_polynomial,
        exponential_window,
        fid_baseline,
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
        window_function,
        window_mask,
    )
    from operando.nmr._quant import (
        flip_angle_deg,
        hz_matched_window,
        saturation_factor,
        sideband_windows,
        signal_factor,
        windows_mask,
    )
    from operando.nmr._sidebands import LineShape, fit_centre_shape, sideband_area
    from operando.nmr._spectrum import (
        process,
    )
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
    from operando.nmr.io._dsp import DSP_GROUP_DELAY, digital_filter_delay
    from operando.nmr.io._epr import (
        EPRMeta,
        EPRSpectrum,
        bes3t_pair,
        read_bes3t,
        read_epr,
        read_winepr,
        winepr_pair,
    )
    from operando.nmr.io._readfid import (
        nmr_vendor,
        read_fid,
    )
    from operando.nmr.io._varian import (
        nucleus_name,
        read_varian,
    )

# public name -> the module that defines it; imported on first use, so that
# ``import`` of this package stays cheap (no scipy, no vendor libraries)
_SOURCES: dict[str, str] = {
    "DysonianFit": "operando.nmr._epr_lines",
    "fit_dysonian": "operando.nmr._epr_lines",
    "SHAPES": "operando.nmr._lineshape",
    "fit_lines": "operando.nmr._lineshape",
    "LineShape": "operando.nmr._sidebands",
    "fit_centre_shape": "operando.nmr._sidebands",
    "sideband_area": "operando.nmr._sidebands",
    "robust_noise": "operando.nmr._abundance",
    "LineIntegral": "operando.nmr._abundance",
    "line_integral": "operando.nmr._abundance",
    "flip_angle_deg": "operando.nmr._quant",
    "hz_matched_window": "operando.nmr._quant",
    "saturation_factor": "operando.nmr._quant",
    "sideband_windows": "operando.nmr._quant",
    "signal_factor": "operando.nmr._quant",
    "windows_mask": "operando.nmr._quant",
    "fid_baseline": "operando.nmr._process",
    "window_function": "operando.nmr._process",
    "WINDOWS": "operando.nmr._process",
    "isotope_integral": "operando.nmr._abundance",
    "isotopes_dataset": "operando.nmr._abundance",
    "PeakToPeak": "operando.nmr._epr_lines",
    "absorption": "operando.nmr._epr_lines",
    "double_integral": "operando.nmr._epr_lines",
    "g_factor": "operando.nmr._epr_lines",
    "peak_to_peak": "operando.nmr._epr_lines",
    "resonance_field_mT": "operando.nmr._epr_lines",
    "LI6_NATURAL": "operando.nmr._isotopes",
    "SENSITIVITY_7LI_6LI": "operando.nmr._isotopes",
    "li6_fraction": "operando.nmr._isotopes",
    "sensitivity_factor": "operando.nmr._isotopes",
    "autophase": "operando.nmr._process",
    "baseline_polynomial": "operando.nmr._process",
    "exponential_window": "operando.nmr._process",
    "fourier_transform": "operando.nmr._process",
    "fwhm": "operando.nmr._process",
    "group_delay_shift": "operando.nmr._process",
    "integral_uncertainty": "operando.nmr._process",
    "integrate": "operando.nmr._process",
    "noise_std": "operando.nmr._process",
    "peak_position": "operando.nmr._process",
    "phase": "operando.nmr._process",
    "pick_peaks": "operando.nmr._process",
    "ppm_axis": "operando.nmr._process",
    "ppm_axis_processed": "operando.nmr._process",
    "process_fid": "operando.nmr._process",
    "window_mask": "operando.nmr._process",
    "process": "operando.nmr._spectrum",
    "ExchangeFit": "operando.nmr._tracer",
    "classify_dendrite": "operando.nmr._tracer",
    "electrolyte_abundance": "operando.nmr._tracer",
    "fit_exchange": "operando.nmr._tracer",
    "mechanism2_share": "operando.nmr._tracer",
    "tracer_exchange": "operando.nmr._tracer",
    "NMRFID": "operando.nmr.io._bruker",
    "BrukerFID": "operando.nmr.io._bruker",
    "BrukerMeta": "operando.nmr.io._bruker",
    "BrukerProcessed": "operando.nmr.io._bruker",
    "NMRMeta": "operando.nmr.io._bruker",
    "read_bruker": "operando.nmr.io._bruker",
    "read_bruker_processed": "operando.nmr.io._bruker",
    "DSP_GROUP_DELAY": "operando.nmr.io._dsp",
    "digital_filter_delay": "operando.nmr.io._dsp",
    "EPRMeta": "operando.nmr.io._epr",
    "EPRSpectrum": "operando.nmr.io._epr",
    "bes3t_pair": "operando.nmr.io._epr",
    "read_bes3t": "operando.nmr.io._epr",
    "read_epr": "operando.nmr.io._epr",
    "read_winepr": "operando.nmr.io._epr",
    "winepr_pair": "operando.nmr.io._epr",
    "nmr_vendor": "operando.nmr.io._readfid",
    "read_fid": "operando.nmr.io._readfid",
    "nucleus_name": "operando.nmr.io._varian",
    "read_varian": "operando.nmr.io._varian",
}

__all__ = [
    "DSP_GROUP_DELAY",
    "LI6_NATURAL",
    "NMRFID",
    "SENSITIVITY_7LI_6LI",
    "SHAPES",
    "WINDOWS",
    "BrukerFID",
    "BrukerMeta",
    "BrukerProcessed",
    "DysonianFit",
    "EPRMeta",
    "EPRSpectrum",
    "ExchangeFit",
    "LineIntegral",
    "LineShape",
    "NMRMeta",
    "PeakToPeak",
    "absorption",
    "autophase",
    "baseline_polynomial",
    "bes3t_pair",
    "classify_dendrite",
    "digital_filter_delay",
    "double_integral",
    "electrolyte_abundance",
    "exponential_window",
    "fid_baseline",
    "fit_centre_shape",
    "fit_dysonian",
    "fit_exchange",
    "fit_lines",
    "flip_angle_deg",
    "fourier_transform",
    "fwhm",
    "g_factor",
    "group_delay_shift",
    "hz_matched_window",
    "integral_uncertainty",
    "integrate",
    "isotope_integral",
    "isotopes_dataset",
    "li6_fraction",
    "line_integral",
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
    "robust_noise",
    "saturation_factor",
    "sensitivity_factor",
    "sideband_area",
    "sideband_windows",
    "signal_factor",
    "tracer_exchange",
    "window_function",
    "window_mask",
    "windows_mask",
    "winepr_pair",
]


__getattr__, __dir__ = lazy_exports(__name__, _SOURCES, __all__)
