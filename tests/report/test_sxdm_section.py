"""The report's SXDM section draws the normalised intensity and phase fraction along the charge
from the store's maps and echem state (values checked, charge and discharge apart)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from operando import echem
from operando.report import charge_curves, make_section
from operando.store import open_results, write_results
from operando.synthetic import simulate_gcpl, write_eclab_mpt

from .conftest import sxdm_maps, timeline_for


@pytest.fixture(scope="module")
def timeline(tmp_path_factory):
    # one full cycle, so that the chosen maps fall on the charge and on the discharge
    cell = simulate_gcpl(active_mass_g=0.004, c_rate=2.0, cycles=1, dt_s=20.0)
    return timeline_for(echem.read(write_eclab_mpt(cell, tmp_path_factory.mktemp("cell") / "c.mpt")))


FRAMES = [1, 4, 8, 10]


def _with_intensity_and_phases(timeline):
    ds = sxdm_maps(timeline, FRAMES)
    n, ny, nx = ds.sizes["frame"], ds.sizes["y"], ds.sizes["x"]
    rng = np.random.default_rng(1)
    scale = np.array([1.0, 0.8, 0.55, 0.7])  # diffracting volume along the cycle
    intensity = scale[:, None, None] * rng.uniform(800.0, 1200.0, (n, ny, nx))
    intensity[:, 0, 0] = np.nan  # masked point
    fraction = np.clip(np.array([0.9, 0.5, 0.1, 0.4])[:, None, None] + 0.05 * rng.standard_normal((n, ny, nx)), 0, 1)
    fraction[:, :, 0] = np.nan  # not decomposed there
    return ds.assign(
        intensity=(("frame", "y", "x"), intensity, {"units": "counts"}),
        phase_fraction=(("frame", "y", "x"), fraction, {"units": "1"}),
    )


def _lines(ax):
    xy = [c.lines[0].get_data() for c in ax.containers]
    return [np.asarray(x, dtype=float) for x, _ in xy], [np.asarray(y, dtype=float) for _, y in xy]


def test_section_draws_intensity_and_phase_fraction_along_the_charge(timeline, tmp_path):
    ds = _with_intensity_and_phases(timeline)
    store = write_results(ds, tmp_path / "sxdm_maps.zarr")
    section = make_section(open_results(store), store)
    spec = next(s for s in section.summary if s.name == "intensity_phase_vs_capacity")
    fig = spec.draw()
    axes = {}
    for ax in fig.axes:
        axes.setdefault(ax.get_label(), []).append(ax)
    cap_ax, xli_ax = axes["intensity"]
    xs, ys = _lines(cap_ax)
    # by hand: totals over the finite points, relative to the first map
    total = np.nansum(ds.intensity.values.reshape(len(FRAMES), -1), axis=1)
    np.testing.assert_allclose(np.concatenate(ys), total / total[0])
    np.testing.assert_allclose(np.concatenate(xs), timeline.specific_capacity_mAh_g.values[FRAMES])
    # the cycle's charge then discharge: two segments, never joined
    current = timeline.current_mean_mA.values[FRAMES]
    assert (current[0] > 0) and (current[-1] < 0)
    assert len(xs) == 2 and sorted(cap_ax.get_legend_handles_labels()[1]) == ["charge", "discharge"]
    _, xli = _lines(xli_ax)
    np.testing.assert_allclose(np.concatenate(_lines(xli_ax)[0]), timeline.x_li.values[FRAMES])
    np.testing.assert_allclose(np.concatenate(xli), total / total[0])
    _, frac = _lines(axes["phase fraction"][0])
    f, w = ds.phase_fraction.values, ds.intensity.values
    ok = np.isfinite(f) & np.isfinite(w)
    by_hand = [(f[k][ok[k]] * w[k][ok[k]]).sum() / w[k][ok[k]].sum() for k in range(len(FRAMES))]
    np.testing.assert_allclose(np.concatenate(frac), by_hand)
    np.testing.assert_allclose(charge_curves(ds)["phase_fraction"].values, by_hand)
    plt.close(fig)


def test_section_without_intensity_keeps_its_figures(timeline):
    section = make_section(sxdm_maps(timeline, FRAMES), Path("s.zarr"))
    assert "intensity_phase_vs_capacity" not in [s.name for s in section.summary]
