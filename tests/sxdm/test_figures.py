"""SXDM figures on a small synthetic series: they render, decode, and carry their scales."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from operando.pipelines.sxdm import process_kmap
from operando.report import (
    frame_labels,
    misorientation_rgb,
    plot_dspacing_histograms,
    plot_dspacing_maps,
    plot_misorientation,
    plot_pole_figure,
    save_figure,
)
from operando.synthetic import simulate_kmap, write_bliss_kmap

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    maps = []
    for k, lattice in enumerate((8.17, 8.12, 8.08)):
        model = simulate_kmap(
            map_shape=(6, 7), n_angles=8, detector_shape=(40, 40), seed=k, eta_step_deg=0.04, lattice_A=lattice
        )
        master = write_bliss_kmap(model, tmp_path_factory.mktemp(f"map{k}"))
        m, _ = process_kmap(master)
        maps.append(m)
    ds = xr.concat(maps, dim="frame")
    return ds.assign(
        echem_voltage_V=("frame", [4.0, 4.7, 4.75], {"units": "V"}),
        echem_x_li=("frame", [1.0, 0.5, 0.1], {"units": ""}),
    )


def _check_files(fig, tmp_path, name):
    paths = save_figure(fig, tmp_path / name)
    assert [p.suffix for p in paths] == [".png", ".svg"]
    png = paths[0].read_bytes()
    assert png[:8] == PNG_MAGIC and len(png) > 10_000
    assert paths[1].read_text().lstrip().startswith("<?xml") and "<svg" in paths[1].read_text()[:2000]


def _images(fig):
    return [im for ax in fig.axes for im in ax.images]


def test_shared_scale_maps(series, tmp_path):
    fig = plot_dspacing_maps(series)
    images = _images(fig)
    assert len(images) == 3
    assert len({im.get_clim() for im in images}) == 1  # one scale for every map
    assert all(im.norm is images[0].norm for im in images)  # changing one scale changes all
    assert images[0].colorbar is not None
    assert len(fig.axes) == 4  # three maps, one colour bar
    assert images[0].colorbar.ax.get_ylabel() == "d spacing (Å)"
    map_axes = [ax for ax in fig.axes if ax.images]
    assert map_axes[0].get_xlabel() == "x (µm)" and map_axes[0].get_ylabel() == "y (µm)"
    # the paper's mean d above each map, under its electrochemical state
    means = [float(np.nanmean(series["d_spacing"].values[k])) for k in range(3)]
    want = [f"{label}\n⟨d⟩ = {m:.5f} Å" for label, m in zip(frame_labels(series), means, strict=True)]
    assert [ax.get_title() for ax in map_axes] == want
    assert map_axes[1].get_title().startswith("4.700 V, x(Li) = 0.50\n⟨d⟩ = 2.0")
    _check_files(fig, tmp_path, "d_shared")


def test_relative_scale_maps(series, tmp_path):
    fig = plot_dspacing_maps(series, relative=True)
    images = _images(fig)
    assert len(images) == 3
    bars = [im.colorbar for im in images]
    assert all(b is not None for b in bars) and len({id(b) for b in bars}) == 3
    for im in images:
        lo, hi = im.get_clim()
        assert lo == -hi > -np.inf
        data = np.ma.masked_invalid(im.get_array())
        assert abs(float(data.mean())) < 1e-9  # d - mean(d), per map
    _check_files(fig, tmp_path, "d_relative")


def test_single_map_is_a_series_of_one(series):
    fig = plot_dspacing_maps(series.isel(frame=0).drop_vars(["echem_voltage_V", "echem_x_li"]))
    assert [ax.get_title().split("\n")[0] for ax in fig.axes if ax.images] == ["map 0"]


def test_misorientation_colour_wheel(series, tmp_path):
    fig = plot_misorientation(series, max_tilt_deg=0.03)
    wheel = [ax for ax in fig.axes if ax.get_label() == "colour wheel"]
    assert len(wheel) == 1 and wheel[0].name == "polar" and wheel[0].collections
    images = _images(fig)
    assert len(images) == 3
    rgb = images[0].get_array()
    masked = ~series["mask"].values[0]
    np.testing.assert_allclose(np.asarray(rgb)[masked], 0.85)
    _check_files(fig, tmp_path, "misorientation")


def test_misorientation_rgb_encoding():
    rgb = misorientation_rgb(np.array([0.0, 1.0, 2.0, np.nan]), np.array([0.0, 0.0, 120.0, 0.0]), 1.0)
    np.testing.assert_allclose(rgb[0], [1, 1, 1])  # no tilt: white
    np.testing.assert_allclose(rgb[1], [1, 0, 0])  # full tilt at azimuth 0: red
    np.testing.assert_allclose(rgb[2], [0, 1, 0])  # clipped to full, azimuth 120: green
    np.testing.assert_allclose(rgb[3], [0.85, 0.85, 0.85])


def test_pole_figure(series, tmp_path):
    fig = plot_pole_figure(series)
    polar = [ax for ax in fig.axes if ax.name == "polar"]
    assert len(polar) == 3
    assert all(ax.collections[0].norm is polar[0].collections[0].norm for ax in polar)
    n_points = sum(len(ax.collections[0].get_offsets()) for ax in polar)
    assert n_points == int(series["mask"].sum())
    assert polar[-1].collections[0].colorbar is not None and len(fig.axes) == 4
    _check_files(fig, tmp_path, "pole")


def test_stacked_histograms(series, tmp_path):
    fig = plot_dspacing_histograms(series, bins=20)
    (ax,) = fig.axes
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == frame_labels(series)[::-1]
    assert ax.get_xlabel() == "d spacing (Å)"
    tops = [line.get_ydata().max() for line in ax.get_lines()]
    np.testing.assert_allclose(tops, [1.0, 2.1, 3.2])
    _check_files(fig, tmp_path, "histograms")
