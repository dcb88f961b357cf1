"""The cell-model figure renders measured and predicted voltage with units."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from operando import echem
from operando.errors import ParameterError
from operando.report import plot_cell_model, save_figure
from operando.synthetic import DEFAULT_BV_CELL, simulate_bv_symmetric_cell


def test_plot_cell_model(tmp_path):
    record, truth = simulate_bv_symmetric_cell(half_cycles=2, half_cycle_s=1800.0, dt_s=30.0)
    first = truth.time_s.values < 1800.0
    fit = echem.fit_cell_model(
        truth.current_mA.values[first],
        record.voltage_V[first],
        truth.contact_area_mm2.values[first],
        truth.interphase_thickness_um.values[first],
        model=replace(DEFAULT_BV_CELL, j0_mA_cm2=1.0),
    )
    ds = echem.compare_cell_model(
        fit.model,
        record.time_s,
        record.current_mA,
        record.voltage_V,
        truth.contact_area_mm2.values,
        truth.interphase_thickness_um.values,
    )
    fig = plot_cell_model(ds, fit_window_s=(0.0, 1800.0))
    ax_v, ax_terms, ax_a = fig.axes[:3]
    assert len(ax_terms.lines) == 4  # the four voltage terms
    assert ax_v.get_ylabel() == "cell voltage (mV)" and ax_a.get_xlabel() == "time (h)"
    assert "mm$^2$" in ax_a.get_ylabel() and "µm" in fig.axes[3].get_ylabel()
    measured, predicted = ax_v.lines[:2]
    np.testing.assert_allclose(measured.get_ydata(), record.voltage_V * 1e3)
    np.testing.assert_allclose(predicted.get_ydata(), ds.predicted_voltage_V.values * 1e3)
    assert "j_0" in fig._suptitle.get_text()
    (png,) = save_figure(fig, tmp_path / "cellmodel", formats=("png",), dpi=60)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ParameterError, match="compare_cell_model"):
        plot_cell_model(ds.drop_vars("predicted_voltage_V"))
