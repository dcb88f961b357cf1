"""Figures and the HTML report."""

from operando.report._timeline import plot_timeline, save_figure

__all__ = ["plot_timeline", "save_figure"]
