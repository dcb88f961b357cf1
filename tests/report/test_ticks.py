"""Tick labels are readable: none overlaps another, none is cut off by the figure (issue 19).

The check measures matplotlib's drawn tick label extents; ``readable_ticks`` fixes what it finds
before any report figure is saved. Checked on adversarial axes and on every figure of the demo's
report (built again in-process from the demo's stores, each figure measured as it is saved).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from operando.report import build_report, readable_ticks, tick_label_problems


def _visible(axis) -> list[str]:
    lo, hi = sorted(axis.get_view_interval())
    return [
        t.label1.get_text()
        for t, loc in zip(axis.get_major_ticks(), axis.get_majorticklocs(), strict=False)
        if lo <= loc <= hi and t.label1.get_visible() and t.label1.get_text()
    ]


def _fixed(fig: Figure) -> list[str]:
    left = readable_ticks(fig)
    assert left == []
    return tick_label_problems(fig)


def test_the_check_sees_overlapping_and_cut_off_labels():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_xticks(range(12), [f"{0.025 * k:.4f} mA h (charge)" for k in range(12)])
    problems = tick_label_problems(fig)
    assert any("overlaps" in p for p in problems)
    assert any("cut off" in p for p in problems)  # the last label runs past the right edge
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(3, 2), layout="constrained")
    ax.plot([0, 1], [0, 1])
    assert tick_label_problems(fig) == []  # a plain figure has no problem
    plt.close(fig)


def test_many_frames_with_long_charge_labels():
    fig, ax = plt.subplots(figsize=(6, 2.5), layout="constrained")
    n = 60
    q = 0.025 * np.arange(n)
    ax.plot(np.arange(n), q, "o")
    labels = [f"{v:.4f} mA h ({'charge' if k < n // 2 else 'discharge'})" for k, v in enumerate(q)]
    ax.set_xticks(np.arange(n), labels)
    assert tick_label_problems(fig)
    assert _fixed(fig) == []
    shown = _visible(ax.xaxis)
    assert 2 <= len(shown) < n
    assert set(shown) <= set(labels)  # labels kept are the labels given, at their own ticks
    plt.close(fig)


def test_crowded_automatic_axes_tiny_range_log_and_colour_bar():
    fig, axes = plt.subplots(1, 3, figsize=(6, 2), layout="constrained")
    axes[0].plot(np.linspace(0.19877e-3, 0.19883e-3, 7), np.linspace(0, 1, 7))  # long offset-free labels
    axes[0].xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=20))
    axes[0].tick_params(labelsize=14)
    axes[1].loglog([1e-3, 1e9], [1, 2])
    axes[1].xaxis.set_major_locator(matplotlib.ticker.LogLocator(numticks=30))
    axes[1].tick_params(labelsize=13)
    im = axes[2].imshow(np.random.default_rng(0).random((8, 8)) * 1e-4)
    cb = fig.colorbar(im, ax=axes[2])
    cb.ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=40))
    assert tick_label_problems(fig)
    assert _fixed(fig) == []
    for ax in (axes[0], axes[1]):
        assert len(_visible(ax.xaxis)) >= 2
    plt.close(fig)


def test_rotated_labels_are_measured_as_drawn():
    """Labels at 30 degrees whose upright extents overlap but whose text does not: left alone."""
    fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
    names = ["Li metal", "SEI", "electrolyte", "dendrite", "LiCl"]
    ax.bar(range(5), [1, 2, 3, 2, 1])
    ax.set_xticks(range(5), names, rotation=30, ha="right")
    assert _fixed(fig) == []
    assert _visible(ax.xaxis) == names
    plt.close(fig)


def test_labels_cut_off_at_the_edge_are_brought_inside():
    fig = plt.figure(figsize=(3, 2))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))  # no room for labels at all
    ax.plot([0, 1000], [0, 1])
    assert any("cut off" in p for p in tick_label_problems(fig))
    assert _fixed(fig) == []
    assert len(_visible(ax.xaxis)) >= 2 and len(_visible(ax.yaxis)) >= 2
    plt.close(fig)


# -- every figure of the demo's report ------------------------------------------------------------
@pytest.mark.slow
def test_every_figure_of_the_demo_report_has_readable_ticks(demo_run, tmp_path, monkeypatch):
    out, _ = demo_run
    measured: list[tuple[str, list[str]]] = []
    save = Figure.savefig

    def measuring_savefig(self, *args, **kwargs):
        name = self.get_suptitle() or next((ax.get_title() for ax in self.axes if ax.get_title()), "?")
        measured.append((name, tick_label_problems(self)))
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", measuring_savefig)
    stores = sorted((out / "results").glob("*.zarr"))
    records = sorted((out / "raw" / "echem").iterdir())
    result = build_report(stores, echem=records, out=tmp_path / "report.html")
    assert result.n_images >= 40 and len(measured) == result.n_images
    bad = [f"{name}: {p}" for name, problems in measured for p in problems]
    assert not bad, "\n".join(bad)
