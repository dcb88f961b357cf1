"""MRI layer figures: what they draw, and what they refuse."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from operando.errors import ParameterError
from operando.pipelines.mri import quantify_layers
from operando.report import plot_layer_amounts, plot_layer_rates, plot_profiles
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


def test_figures_refuse_other_datasets():
    with pytest.raises(ParameterError, match="mri-layers"):
        plot_layer_amounts(xr.Dataset(attrs={"operando_kind": "tomo-series"}))
