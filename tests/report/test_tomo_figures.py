"""Tomography figures of one scan against the phantom's ground truth: interface planes where
the true Li edges are, a line profile that steps where the materials do, and orthoslices
with overlays and contact maps that draw from the phantom's arrays."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from operando.report import interface_planes, interface_profile_figure, line_profile, orthoslice_figure
from operando.synthetic import LABELS, simulate_cell

ELECTRODE = [LABELS["lithium"], LABELS["void"]]
ELECTROLYTE = [LABELS["electrolyte"], LABELS["interphase"], LABELS["pore"]]


@pytest.fixture(scope="module")
def cell():
    return simulate_cell((48, 40, 40), noise_sigma=0.8, blur_sigma_px=0.7, roughness_px=0.0, seed=4)


def test_interface_planes_are_the_true_li_edges(cell):
    planes = interface_planes(cell.labels, electrode=ELECTRODE, electrolyte=ELECTROLYTE)
    assert len(planes) == 2
    # the phantom's Li edge (first voxel neither Li nor void, walking from each collector),
    # averaged over the footprint; the boundary lies half a voxel on the lithium side of it
    bottom, top = (float(np.median(edge[cell.footprint])) for edge in cell.li_edge)
    np.testing.assert_allclose(planes, [bottom - 0.5, top + 0.5], atol=1.0)


def test_line_profile_steps_from_lithium_to_electrolyte(cell):
    mean, std = line_profile(cell.volume, mask=cell.footprint)
    m = cell.materials
    planes = interface_planes(cell.labels, electrode=ELECTRODE, electrolyte=ELECTROLYTE)
    lo, hi = int(planes[0]), int(planes[1])
    centre = mean[(lo + hi) // 2]
    assert centre == pytest.approx(m.electrolyte, rel=0.1)
    assert mean[lo - 4] < 0.6 * centre  # lithium side is darker (attenuation 3 vs 12 /cm)
    assert np.all(std >= 0)


def test_figures_draw_with_overlay_and_contact_maps(cell):
    fig = orthoslice_figure(
        cell.volume, voxel_um=cell.voxel_size_um, labels=cell.labels, codes=LABELS, contact=cell.contact, title="scan 0"
    )
    assert len(fig.axes) == 5  # three slices and two contact maps
    titles = [ax.get_title() for ax in fig.axes]
    assert any(t.startswith("contact, interface 0") for t in titles)
    # the contact share printed is the map's
    assert f"{100 * cell.contact[0].mean():.1f} %" in titles[3]
    legend_names = {t.get_text() for t in fig.legends[0].get_texts()}
    assert {"lithium", "void"} <= legend_names
    plt.close(fig)
    fig = interface_profile_figure(cell.volume, voxel_um=cell.voxel_size_um, planes_vox=[10.5, 30.5])
    lines = [line for line in fig.axes[0].get_lines() if line.get_linestyle() == "--"]
    assert [line.get_xdata()[0] for line in lines] == pytest.approx([52.5, 152.5])
    plt.close(fig)


def test_labels_need_their_codes():
    with pytest.raises(ValueError, match="codes"):
        orthoslice_figure(np.zeros((4, 4, 4)), voxel_um=1.0, labels=np.zeros((4, 4, 4), int))


def test_the_demo_report_shows_each_scan_with_its_slices_and_profile(demo_run):
    from pathlib import Path

    from operando.report import make_section
    from operando.store import open_results

    out, _ = demo_run
    store = Path(out) / "results" / "tomo_series.zarr"
    ds = open_results(store)
    assert ds["volume"].ndim == 4 and ds["labels"].ndim == 4  # the series keeps every scan's volume
    section = make_section(ds, store)
    assert section.frame_figures is not None
    specs = section.frame_figures(1)
    titles = [s.title for s in specs[:2]]
    assert titles == ["orthoslices, segmentation and contact", "line profile across the interfaces"]
    fig = specs[0].draw()
    assert len(fig.axes) == 5 and fig.legends  # three slices with the labels' legend, two contact maps
    plt.close(fig)
    fig = specs[1].draw()
    planes = [line for line in fig.axes[0].get_lines() if line.get_linestyle() == "--"]
    assert len(planes) == 2  # both Li | electrolyte interfaces found in the scan's own labels
    plt.close(fig)
    page = (Path(out) / "report.html").read_text()
    assert page.count("orthoslices, segmentation and contact") >= ds.sizes["frame"]
