"""``tomo model --scenarios`` results in the report (issue 15): the fitted model against the measured
voltage, the paper's contact scenarios (100 / 25 / 1 % and dynamic) with their RMS as a sentence and
a figure. The model store is made by the real command on a Butler–Volmer symmetric cell whose
truth is known (``simulate_bv_symmetric_cell``, 0.2 mV noise) and a series of its contact areas."""

from __future__ import annotations

from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from operando.cli import tomo_app
from operando.report import build_report, make_section, readable_ticks, tick_label_problems
from operando.store import open_results, write_results
from operando.synthetic import SyntheticCell, simulate_bv_symmetric_cell, write_eclab_mpt


@pytest.fixture(scope="module")
def model_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("cellmodel")
    record, truth = simulate_bv_symmetric_cell(noise_V=2e-4, seed=4)
    t = record.time_s
    charge = np.concatenate([[0.0], np.cumsum(0.5 * (record.current_mA[1:] + record.current_mA[:-1]) * np.diff(t))])
    cell = SyntheticCell(
        time_s=t,
        voltage_V=record.voltage_V,
        current_mA=record.current_mA,
        charge_mAh=charge / 3600.0,
        x_li=np.zeros(t.size),
        half_cycle=np.asarray(record.half_cycle),
        active_mass_g=1e-3,
        theoretical_capacity_mAh_g=1.0,
        start_time=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )
    mpt = write_eclab_mpt(cell, root / "cell.mpt")
    mid = np.append(np.arange(0.0, t[-1], 300.0), t[-1])
    at = truth.isel(time=np.searchsorted(truth["time_s"].values, mid))
    series = xr.Dataset(
        {
            "contact_area_mm2": (("frame", "interface"), at["contact_area_mm2"].values, {"units": "mm**2"}),
            "interphase_thickness_um": ("frame", at["interphase_thickness_um"].values, {"units": "um"}),
            "cell_area_mm2": ("frame", np.full(mid.size, truth.attrs["electrolyte_area_mm2"]), {"units": "mm**2"}),
            "echem_t_start_s": ("frame", mid - 60.0, {"units": "s"}),
            "echem_t_end_s": ("frame", mid + 60.0, {"units": "s"}),
            # not used by the model; every tomo-series store has them
            "li_volume_electrode_mm3": (("frame", "interface"), np.full((mid.size, 2), np.nan), {"units": "mm**3"}),
            "stripping_fraction": ("frame", np.full(mid.size, np.nan), {"units": "1"}),
        },
        coords={"frame": np.arange(mid.size), "interface": [0, 1], "time_s": ("frame", mid - 60.0)},
        attrs={"operando_kind": "tomo-series"},
    )
    store = write_results(series, root / "series.zarr")
    out = root / "model.zarr"
    args = [
        "model", str(store), "--echem", str(mpt), "--fit", "600,3600", "--predict", "3600,7200",
        "--electrolyte-thickness-um", str(truth.attrs["electrolyte_thickness_um"]),
        "--electrolyte-conductivity-S-cm", str(truth.attrs["electrolyte_conductivity_S_cm"]),
        "--scenarios", "100,25,1,dynamic", "-o", str(out),
    ]  # fmt: skip
    res = CliRunner().invoke(tomo_app, args)
    assert res.exit_code == 0, res.output
    return out, mpt, res.output


def test_scenarios_sentence_is_what_the_store_and_the_command_say(model_store):
    out, _, printed = model_store
    ds = open_results(out)
    section = make_section(ds, out)
    sentence = next(n for n in section.notes if n.startswith("Contact scenarios"))
    rms = dict(zip(ds["scenario"].values.tolist(), ds["scenario_rms_V"].values.tolist(), strict=True))
    assert list(rms) == ["100%", "25%", "1%", "dynamic"]
    for name, value in rms.items():
        shown = f"{value * 1e3:.3g} mV" if value < 1 else f"{value:.3g} V"
        label = "dynamic (measured contact)" if name == "dynamic" else f"{name} contact"
        assert f"{label} {shown}" in sentence
        assert f"scenario {name}: RMS vs measured {value * 1e3:.3g} mV" in printed  # the CLI's line, same value
    # the measured contact predicts best, less contact ever worse (the paper's conclusion on its cell)
    assert rms["dynamic"] < rms["100%"] < rms["25%"] < rms["1%"]
    fit = next(n for n in section.notes if n.startswith("Fitted"))
    assert f"j0 = {ds.attrs['j0_mA_cm2']:.4g}" in fit


def test_scenario_figure_draws_the_stored_voltages(model_store):
    out, _, _ = model_store
    ds = open_results(out)
    section = make_section(ds, out)
    assert [s.name for s in section.summary] == ["cell_model", "cell_model_scenarios"]
    fig = section.summary[1].draw()
    assert readable_ticks(fig) == [] and tick_label_problems(fig) == []
    ax = fig.axes[0]
    lines = {line.get_label().split(" (RMS")[0]: line for line in ax.get_lines()}
    volts = ds["scenario_voltage_V"].transpose("scenario", "time").values
    predicted = np.isfinite(volts).any(axis=0)
    for k, name in enumerate(ds["scenario"].values.tolist()):
        label = "dynamic (measured contact)" if name == "dynamic" else f"{name} contact"
        np.testing.assert_allclose(lines[label].get_ydata(), np.abs(volts[k, predicted]) * 1e3)
    assert ax.get_yscale() == "log"
    plt.close(fig)


def test_report_shows_the_model_store(model_store, tmp_path):
    out, mpt, _ = model_store
    report = build_report([out], echem=[mpt], out=tmp_path / "report.html")
    text = report.path.read_text(encoding="utf-8")
    assert 'data-kind="tomo-cellmodel"' in text
    assert "contact scenarios" in text and "Contact scenarios predicted by the fitted model" in text
    assert report.problems == []
