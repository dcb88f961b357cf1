"""MRI layer figures: what they draw, and what they refuse."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from operando.errors import ParameterError
from operando.pipelines.mri import quantify_layers
from operando.report import (
    plot_layer_amounts,
    plot_layer_rates,
    plot_profiles,
    plot_volume_histogram,
    plot_volume_views,
    save_csi_figures,
    stage_sentence,
)
from operando.synthetic import simulate_dendrite_mri


@pytest.fixture(scope="module")
def layers():
    sim = simulate_dendrite_mri(seed=11)
    electrolyte = sim.electrolyte.values[:3].sum(axis=2).mean(axis=0)
    return quantify_layers(
        sim.metal, electrode_profile=electrolyte, displacement_px=sim.displacement_px, record=sim.record
    )


def test_amount_figure_has_error_bars_stages_and_voltage(layers):
    fig = plot_layer_amounts(layers)
    try:
        ax, axv = fig.axes
        assert len(ax.containers) == layers.sizes["layer"]  # one errorbar container per layer
        y = ax.containers[0].lines[0].get_ydata()
        assert np.allclose(y, layers["amount"].values[:, 0])
        assert [t.get_text() for t in ax.texts] == ["I", "II", "III", "IV"]
        assert np.allclose(axv.lines[0].get_ydata(), layers["echem_voltage_mean_V"].values)
    finally:
        plt.close(fig)


def test_rate_and_profile_figures(layers):
    for make in (plot_layer_rates, plot_profiles):
        fig = make(layers)
        try:
            assert fig.axes[0].lines
        finally:
            plt.close(fig)
    fig = plot_layer_rates(layers)
    try:  # one 1-sigma band per layer, as wide as the stated error
        bands = [c for c in fig.axes[0].collections if c.get_paths() and len(c.get_paths()[0].vertices) > 4]
        assert len(bands) >= layers.sizes["layer"]
        ys = bands[0].get_paths()[0].vertices[:, 1]
        err = layers["growth_rate_err"].values[:, 0] * 3600.0
        assert np.ptp(ys) >= 2 * err.min()
    finally:
        plt.close(fig)


def test_stage_sentence_reads_the_stages_and_the_short(layers):
    text = stage_sentence(layers)
    short = layers.attrs["short_circuit_frame"]
    b = layers.attrs["stage_boundaries"]
    assert text.startswith(f"Stage I spans frames 0-{b[0] - 1} (0.00-")
    assert f"stage II frames {b[0]}-{b[1] - 1}" in text and f"stage IV frames {b[2]}-{short - 1}" in text
    assert text.endswith(
        f"short circuit follows at frame {short} ({short * 300 / 3600:.2f} h), after which no growth stage is assigned."
    )
    assert "#" not in text and text.count("+/-") == 4  # a rate with its error per stage, no frame dump
    rates = [float(x.split(" +/- ")[0]) for x in text.split(", growth ")[1:]]
    assert rates[1] < rates[0] and rates[1] < rates[2] and rates[3] < rates[2]  # fast, stalled, fast, slowing
    quiet = layers.copy()
    quiet.attrs["short_circuit_frame"] = -1
    assert stage_sentence(quiet).endswith("no short circuit was seen.")


def test_cross_sections_and_histograms_of_a_3d_map(tmp_path):
    rng = np.random.default_rng(0)
    vol = rng.normal(0.0, 0.1, (10, 8, 6))
    vol[7, 2, 4] = 5.0  # a dendrite spot
    image = xr.DataArray(
        vol,
        dims=("x", "y", "z"),
        coords={d: (d, np.arange(n) * 0.1) for d, n in zip("xyz", vol.shape, strict=True)},
        attrs={"units": "a.u."},
    )
    fig = plot_volume_views(image)
    try:
        images = [ax.images[0] for ax in fig.axes if ax.images]
        assert len(images) == 6
        assert np.array_equal(images[0].get_array(), vol[7])  # the plane through the brightest voxel
        assert np.array_equal(images[3].get_array(), vol.max(axis=0))  # and the projection along x
    finally:
        plt.close(fig)
    fig = plot_volume_histogram(image, threshold=1.0)
    try:
        counts = [p.get_height() for p in fig.axes[0].patches]
        assert sum(counts) == vol.size
        assert "0.21 % above" in fig.axes[0].get_legend().get_texts()[0].get_text()  # 1 voxel of 480
    finally:
        plt.close(fig)
    ds = xr.Dataset({"metal": image, "electrolyte": image * 0 + 1.0, "noise_sigma": 0.1})
    written = save_csi_figures(ds, tmp_path / "csi")
    assert sorted(p.name for p in written) == [
        "csi_electrolyte_histogram.png",
        "csi_electrolyte_views.png",
        "csi_metal_histogram.png",
        "csi_metal_views.png",
    ]
    with pytest.raises(ParameterError, match="3D"):
        plot_volume_views(image.isel(z=0))


def test_figures_refuse_other_datasets():
    with pytest.raises(ParameterError, match="mri-layers"):
        plot_layer_amounts(xr.Dataset(attrs={"operando_kind": "tomo-series"}))


def test_report_section_words_the_stages(layers, tmp_path):
    from operando.report import make_section

    section = make_section(layers, tmp_path / "layers.zarr")
    sentence = stage_sentence(layers)
    assert sentence in section.notes
    assert not any(note.startswith("stages: #") for note in section.notes)  # no frame-by-frame dump
