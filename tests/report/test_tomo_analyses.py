"""The paper's tomography analyses in the report (issue 15): density as a sentence, positions,
roughness against voids, phase volumes, contact lost/gained with the charge between scans, and per
scan the thickness and contact-change maps.

Fast tests draw the figures from a hand-built store with known values and read the values back
from the drawn artists; the slow one runs ``tomo series --analyses`` on the synthetic series and
checks the report built from its store.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from operando.report import make_section, readable_ticks, tick_label_problems
from operando.store import write_results

from .conftest import timeline_for, tomo_series

N = 3


def _with_analyses(ds: xr.Dataset) -> xr.Dataset:
    """The variables ``tomo series --analyses`` adds, with chosen values."""
    rng = np.random.default_rng(3)
    ny, nx = ds.sizes["y"], ds.sizes["x"]
    cubes = np.array([[0.960, 0.970, 0.975, 0.967], [0.95, 0.96, np.nan, np.nan], [np.nan] * 4])
    lost = np.array([[np.nan, np.nan], [0.0012, 0.0030], [0.0007, 0.0013]])
    gained = np.array([[np.nan, np.nan], [0.0010, 0.0009], [0.0006, 0.0007]])
    maps = np.zeros((N, 2, ny, nx), bool)
    maps[1, 1, 5:8, 5:9] = True
    thick = np.where(rng.random((N, 2, ny, nx)) < 0.8, 10.0 + rng.random((N, 2, ny, nx)), np.nan)
    u, one, mm3 = {"units": "um"}, {"units": "1"}, {"units": "mm**3"}
    return ds.assign(
        electrolyte_density=(
            "frame",
            [0.968, 0.955, np.nan],
            {
                **one,
                "long_name": "electrolyte density (1 - "
                "porosity), mean of 4 random 340 um cubes wholly in the electrolyte",
            },
        ),
        electrolyte_density_sd=("frame", [0.0091, 0.0071, np.nan], one),
        electrolyte_density_cube=(("frame", "density_cube"), cubes, one),
        collector_position_um=(("frame", "interface"), [[20.0, 400.0], [20.0, 390.0], [20.0, 380.0]], u),
        collector_position_sd_um=(("frame", "interface"), np.full((N, 2), 1.0), u),
        li_interface_position_um=(("frame", "interface"), [[150.0, 280.0], [150.0, 281.0], [151.0, 282.0]], u),
        li_interface_position_sd_um=(("frame", "interface"), np.full((N, 2), 3.0), u),
        roughness_rms_um=(("frame", "interface"), [[2.0, 3.0], [2.5, 4.0], [3.0, 5.0]], u),
        interface_void_fraction=(("frame", "interface"), [[0.02, 0.03], [0.03, 0.06], [0.04, 0.09]], one),
        roughness_tile_rms_um=(("frame", "interface", "tile_y", "tile_x"), rng.random((N, 2, 2, 2)) * 5, u),
        roughness_tile_void_fraction=(("frame", "interface", "tile_y", "tile_x"), rng.random((N, 2, 2, 2)) * 0.2, one),
        roughness_void_spearman=(("frame", "interface"), [[0.1, 0.2], [0.3, 0.4], [0.55, 0.61]], one),
        roughness_void_p_value=(("frame", "interface"), np.full((N, 2), 0.04), one),
        interphase_local_thickness_map_um=(("frame", "interface", "y", "x"), thick, u),
        li_volume_electrode_mm3=(("frame", "interface"), [[0.03, 0.03], [0.03, 0.028], [0.03, 0.026]], mm3),
        void_volume_interface_mm3=(("frame", "interface"), [[1e-4, 2e-4], [1e-4, 4e-4], [1e-4, 6e-4]], mm3),
        interphase_volume_interface_mm3=(("frame", "interface"), np.full((N, 2), 0.004), mm3),
        contact_lost_area_mm2=(("frame", "interface"), lost, {"units": "mm**2"}),
        contact_gained_area_mm2=(("frame", "interface"), gained, {"units": "mm**2"}),
        contact_lost=(("frame", "interface", "y", "x"), maps),
        contact_gained=(("frame", "interface", "y", "x"), np.roll(maps, 6, axis=-1)),  # never where lost
        capacity_between_mAh=("frame", [np.nan, 0.00478, 0.00481], {"units": "mA*h"}),
        registration_shift_um=(("frame", "axis"), [[np.nan] * 3, [0.0, 1.2, -0.4], [0.1, -2.5, 0.3]], u),
    )


@pytest.fixture(scope="module")
def store(experiment, tmp_path_factory):
    tl = timeline_for(experiment.record)
    ds = _with_analyses(tomo_series(tl, [2, 5, 8]))
    return write_results(ds, tmp_path_factory.mktemp("analyses") / "tomo_series.zarr")


@pytest.fixture(scope="module")
def section(store):
    from operando.store import open_results

    return make_section(open_results(store), store)


def _draw(section, name):
    spec = next(s for s in section.summary if s.name == name)
    fig = spec.draw()
    assert readable_ticks(fig) == [] and tick_label_problems(fig) == []
    return fig


def test_density_is_a_sentence_with_n_and_the_paper_precision(section):
    sentence = next(n for n in section.notes if n.startswith("Electrolyte density"))
    assert "scan 0 96.8 ± 0.9 % (N = 4)" in sentence
    assert "scan 1 95.5 ± 0.7 % (N = 2)" in sentence
    assert "scan 2 not measured" in sentence
    assert "4 random 340 µm cubes" in sentence


def test_section_draws_the_analyses_and_leaves_them_out_of_the_generic_figures(section):
    names = [s.name for s in section.summary]
    for name in ("tomo_density", "tomo_positions", "tomo_roughness_voids", "tomo_phase_volumes", "tomo_contact_change"):
        assert name in names
    generic = " ".join([*names, *section.notes])
    for var in ("electrolyte_density_cube", "roughness_tile_rms_um", "contact_lost_area_mm2"):
        assert var not in generic  # shown by their own figures, not dumped again
    per_scan = [s.name for s in section.frame_figures(1)]
    assert "tomo_maps_frame001" in per_scan


def test_contact_change_bars_are_the_stored_areas_with_the_charge_between(section):
    fig = _draw(section, "tomo_contact_change")
    ax = fig.axes[0]
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    expected = sorted([0.0010, 0.0009, 0.0006, 0.0007, -0.0012, -0.0030, -0.0007, -0.0013])
    np.testing.assert_allclose(heights, expected, atol=1e-9)
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["0→1\n0.00478 mA h", "1→2\n0.00481 mA h"]
    assert "2.5 µm" in ax.get_title()  # the largest registration shift
    plt.close(fig)


def test_density_and_positions_plot_the_stored_values(section):
    fig = _draw(section, "tomo_density")
    bars = fig.axes[0].containers[0]  # errorbar: mean ± s.d. in %
    np.testing.assert_allclose(bars.lines[0].get_ydata()[:2], [96.8, 95.5])
    plt.close(fig)
    fig = _draw(section, "tomo_positions")
    ys = [line.get_ydata() for line in fig.axes[1].get_lines() if len(line.get_ydata()) == N]
    assert any(np.allclose(y, [400.0, 390.0, 380.0]) for y in ys)
    assert any(np.allclose(y, [280.0, 281.0, 282.0]) for y in ys)
    plt.close(fig)


def test_roughness_volumes_and_scan_maps_draw(section):
    fig = _draw(section, "tomo_roughness_voids")
    assert "ρ = 0.55" in fig.axes[0].get_title() and "ρ = 0.61" in fig.axes[0].get_title()
    plt.close(fig)
    fig = _draw(section, "tomo_phase_volumes")
    assert [ax.get_title() for ax in fig.axes] == ["lithium volume", "void volume", "interphase volume"]
    plt.close(fig)
    fig = section.frame_figures(1)[0].draw()
    image = fig.axes[3].get_images()[0].get_array()  # interface 1, contact change: 2 = lost
    assert int((np.asarray(image) == 2).sum()) == 12
    assert readable_ticks(fig) == [] and tick_label_problems(fig) == []
    plt.close(fig)


# -- end to end: the synthetic series through tomo series --analyses ------------------------------
@pytest.mark.slow
def test_report_of_a_series_with_analyses(tmp_path):
    from operando.pipelines.tomo import SeriesOptions, process_series
    from operando.report import build_report
    from operando.store import open_results
    from operando.synthetic import simulate_cell_series, write_cell_dxchange

    frames = simulate_cell_series(2, (48, 40, 40), voxel_size_um=10.0, n_voids=(2, 3), recede_px_per_frame=2, seed=5)
    paths = [
        write_cell_dxchange(tmp_path / f"s{k}.h5", f, n_angles=90, flat_counts=6e4, seed=k)
        for k, f in enumerate(frames)
    ]
    opts = SeriesOptions(center_px=20.0, analyses=True, density_edge_um=50.0)
    store = process_series(paths, tmp_path / "series.zarr", options=opts, progress=False)
    ds = open_results(store)
    report = build_report([store], out=tmp_path / "report.html")
    text = report.path.read_text(encoding="utf-8")
    mean, sd = float(ds["electrolyte_density"][0]), float(ds["electrolyte_density_sd"][0])
    assert np.isfinite(mean) and sd >= 0
    n = int(np.isfinite(ds["electrolyte_density_cube"].values[0]).sum())
    found = re.search(r"scan 0 (\d+(?:\.\d+)?) ± (\d+(?:\.\d+)?) % \(N = (\d+)\)", text)
    assert found, "no density sentence on the page"
    decimals = len(found.group(1).partition(".")[2])
    assert abs(float(found.group(1)) - 100 * mean) <= 0.5 * 10.0**-decimals + 1e-9
    assert abs(float(found.group(2)) - 100 * sd) <= 0.5 * 10.0**-decimals + 1e-9
    assert int(found.group(3)) == n
    for caption in (
        "electrolyte density from random subvolumes",
        "interface and collector positions",
        "roughness against void fraction",
        "Li, void and interphase volumes",
        "contact lost and gained between scans",
        "interphase thickness and contact change",
    ):
        assert caption in text, caption
