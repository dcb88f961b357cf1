"""Figures and the HTML report."""

from operando.report._cellmodel import plot_cell_model
from operando.report._html import HTML_DPI, RecordMatch, ReportResult, build_report, match_record
from operando.report._kinds import sxdm_strain_figure
from operando.report._mri import (
    plot_layer_amounts,
    plot_layer_rates,
    plot_profiles,
    plot_volume_histogram,
    plot_volume_views,
    save_csi_figures,
    save_mri_figures,
    stage_sentence,
)
from operando.report._sections import (
    FigureSpec,
    FrameState,
    Section,
    downsample,
    frame_state,
    generic_specs,
    honest_ylim,
    infer_kind,
    make_section,
    plot_by_direction,
    register_section,
    significant,
)
from operando.report._spectra import nmr_lines_figure, plot_line_fits, plot_spectra
from operando.report._sxdm import (
    frame_labels,
    misorientation_rgb,
    plot_dspacing_histograms,
    plot_dspacing_maps,
    plot_misorientation,
    plot_pole_figure,
    save_sxdm_figures,
)
from operando.report._timeline import plot_timeline, save_figure
from operando.report._tomo import interface_planes, interface_profile_figure, line_profile, orthoslice_figure

__all__ = [
    "HTML_DPI",
    "FigureSpec",
    "FrameState",
    "RecordMatch",
    "ReportResult",
    "Section",
    "build_report",
    "downsample",
    "frame_labels",
    "frame_state",
    "generic_specs",
    "honest_ylim",
    "infer_kind",
    "interface_planes",
    "interface_profile_figure",
    "line_profile",
    "make_section",
    "match_record",
    "misorientation_rgb",
    "nmr_lines_figure",
    "orthoslice_figure",
    "plot_by_direction",
    "plot_cell_model",
    "plot_dspacing_histograms",
    "plot_dspacing_maps",
    "plot_layer_amounts",
    "plot_layer_rates",
    "plot_line_fits",
    "plot_misorientation",
    "plot_pole_figure",
    "plot_profiles",
    "plot_spectra",
    "plot_timeline",
    "plot_volume_histogram",
    "plot_volume_views",
    "register_section",
    "save_csi_figures",
    "save_figure",
    "save_mri_figures",
    "save_sxdm_figures",
    "significant",
    "stage_sentence",
    "sxdm_strain_figure",
]
