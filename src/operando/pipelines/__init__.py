"""Pipelines: the only layer that reads files, runs kernels, places results on the
electrochemistry timeline and writes result stores.

One module per modality (:mod:`operando.pipelines.sxdm`, :mod:`operando.pipelines.tomo`,
:mod:`operando.pipelines.mri`, ...). The CLI and the demo call these; kernels never do.
"""

from operando._lazy import lazy_exports

# public name -> the module that defines it (imported on first use)
_SOURCES = {
    "between_scans": "operando.pipelines._tomo_analysis",
    "between_scans_placeholder": "operando.pipelines._tomo_analysis",
    "register_scans": "operando.pipelines._tomo_analysis",
    "scan_analyses": "operando.pipelines._tomo_analysis",
    "TOMO_OPTION_NAMES": "operando.pipelines._tomo_plan",
    "assemble_tomo_scans": "operando.pipelines._tomo_plan",
    "measure_tomo_scan": "operando.pipelines._tomo_plan",
    "tomo_scan_window": "operando.pipelines._tomo_plan",
    "tomo_series_options": "operando.pipelines._tomo_plan",
    "NMR_OPTION_NAMES": "operando.pipelines._nmr_plan",
    "assemble_nmr_spectra": "operando.pipelines._nmr_plan",
    "measure_nmr_experiment": "operando.pipelines._nmr_plan",
    "nmr_acquisition_window": "operando.pipelines._nmr_plan",
    "nmr_process_options": "operando.pipelines._nmr_plan",
}

__all__ = ["between_scans", "between_scans_placeholder", "register_scans", "scan_analyses"]
__all__ += ["TOMO_OPTION_NAMES", "assemble_tomo_scans", "measure_tomo_scan", "tomo_scan_window", "tomo_series_options"]
__all__ += [
    "NMR_OPTION_NAMES",
    "assemble_nmr_spectra",
    "measure_nmr_experiment",
    "nmr_acquisition_window",
    "nmr_process_options",
]

__getattr__, __dir__ = lazy_exports(__name__, _SOURCES, __all__)
