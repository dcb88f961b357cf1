"""Figures and the HTML report."""

from operando.report._cellmodel import plot_cell_model
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

__all__ = [
    "frame_labels",
    "misorientation_rgb",
    "plot_cell_model",
    "plot_dspacing_histograms",
    "plot_dspacing_maps",
    "plot_misorientation",
    "plot_pole_figure",
    "plot_timeline",
    "save_figure",
    "save_sxdm_figures",
]
