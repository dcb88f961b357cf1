"""The 94 in situ 19F profiles of a Li|PEO|Li cell (Thienenkamp et al.) with their Zahner log.

Timing convention (documented in the reader and the report): profile k spans
[k * 513 s, (k + 1) * 513 s] (the authors' 513 s per profile) on the potentiostat clock,
whose exported log starts at 2.557 h. The physics the data must show: the profiles are
magnitude data, the anion signal between the electrodes is
conserved while the current builds a concentration gradient across the cell, the cell
does not move, and the voltage reaches the 1.5 V potentiostatic limit. The outer voxels are
not signal-free noise (a static structure), so the noise comes from frame differences.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from scipy.stats import spearmanr

from operando.echem import read_zahner_log
from operando.mri import find_electrodes, noise_from_differences, read_profile_series
from operando.pipelines.mri import quantify_layers, stage_table

from ..conftest import real_files

DIR = "nmr/mri_profiles/thienenkamp_Li_PEO_Li"
PROFILES = real_files(f"{DIR}/MRI10mm_Li_PEO_Li7(*).txt")


@cache
def _analyse(paths: tuple[str, ...], pol: str):
    series = read_profile_series(paths, fov_mm=4.0, seconds_per_profile=513.0)
    record = read_zahner_log(pol)
    ds = quantify_layers(
        series,
        n_layers=5,
        magnitude=True,
        noise="temporal",
        reference="first",
        record=record,
        n_stages=3,
        stage_signal="gradient",
    )
    return series, record, ds


@pytest.fixture
def layers(real_file):
    return _analyse(tuple(str(real_file(rel)) for rel in PROFILES), str(real_file(f"{DIR}/POL.txt")))


@pytest.mark.realdata
def test_94_frames_on_the_voltage_clock(layers):
    series, record, ds = layers
    assert len(PROFILES) == 94
    assert ds.sizes == {"frame": 94, "layer": 5, "depth": 256}
    assert np.all(np.diff(ds["time_s"].values) == 513.0)
    assert ds["time_s"].values[17] < record.time_s[0] <= ds["time_s"].values[18]
    assert series["expno"].values[:3].tolist() == [5, 7, 8]  # expno 6 is not in the series
    inside = ds["echem_in_record"].values
    v = ds["echem_voltage_V"].values
    # the log covers 9205..32758 s: frames 18..62 lie wholly inside it
    assert np.flatnonzero(inside).tolist() == list(range(18, 63))
    assert np.all(np.isnan(v[~inside]))
    assert np.all((v[inside] > 0.15) & (v[inside] < 1.52))
    assert set(ds["echem_label"].values[inside]) == {"charge"}
    assert np.all(np.diff(ds["echem_charge_mAh"].values[inside]) > 0)


@pytest.mark.realdata
def test_amounts_finite_with_positive_errors(layers):
    _, _, ds = layers
    for name in ("amount", "amount_err", "growth_rate", "growth_rate_err"):
        assert np.all(np.isfinite(ds[name].values)), name
    assert np.all(ds["amount_err"].values[1:] > 0)
    assert np.all(ds["growth_rate_err"].values > 0)
    # ~15 voxels of SNR ~50 per layer (noise correlated over ~2 voxels): about 1 % per layer
    assert 0.003 < float(ds["amount_err"].values[1:].mean()) < 0.03


@pytest.mark.realdata
def test_noise_estimate_and_error_bars_match_the_data(layers):
    series, _, ds = layers
    sigma = float(ds["noise_sigma"].values[0])
    # the outer voxels hold a static structure (mean rises from ~10k to ~36k across the FOV),
    # so the noise comes from frame differences; the plateau's own frame differences agree
    plateau_sigma, _ = noise_from_differences(series.values[:, 115:165])
    assert sigma == pytest.approx(plateau_sigma, rel=0.3)
    rho = ds.attrs["noise_autocorr"]
    assert rho[0] == 1.0 and rho[1] > 0.3  # apodised profiles: neighbouring voxels correlate
    # predicted layer errors vs the frame-to-frame scatter of the layers in the slowly
    # changing late frames (which also holds any real change, so it may be larger)
    scatter = np.diff(ds["amount"].values[70:], axis=0).std(axis=0) / np.sqrt(2)
    predicted = ds["amount_err"].values[70:].mean(axis=0)
    assert np.all((scatter / predicted > 0.6) & (scatter / predicted < 2.0))


@pytest.mark.realdata
def test_cell_does_not_move_and_gap_is_resolved(layers):
    series, _, ds = layers
    a, b = ds.attrs["electrodes_mm"]
    step = 4.0 / 256
    assert 0.5 < a < b < 3.5 and (b - a) / step > 40
    late = find_electrodes(series.values[-3:].mean(axis=0), series["depth"].values)
    # the half-height crossings move by less than 3 voxels (the right one follows the anion
    # depletion next to that electrode, which lowers the plateau there)
    assert late == pytest.approx((a, b), abs=3 * step)


@pytest.mark.realdata
def test_anions_conserved_while_a_gradient_builds(layers):
    _, _, ds = layers
    total = ds["total"].values
    assert np.all(np.abs(total - 1.0) < 0.06)  # measured: 0.960 .. 1.005
    gradient = ds["amount"].values[:, 0] - ds["amount"].values[:, -1]
    gradient_err = np.hypot(ds["amount_err"].values[:, 0], ds["amount_err"].values[:, -1])
    current = slice(0, 63)  # current flows from the start of the series to the end of the log
    rho = spearmanr(np.arange(63), gradient[current]).statistic
    assert rho > 0.5
    assert gradient[18:63].mean() > 5 * gradient_err[18:63].mean()
    # the two end layers move in opposite directions by much more than their errors
    end = ds["amount"].values[40:63].mean(axis=0)
    assert end[0] - 1 > 0.05 and 1 - end[-1] > 0.1


@pytest.mark.realdata
def test_stages_against_the_voltage(layers):
    _, _, ds = layers
    rows = stage_table(ds)
    assert [r["stage"] for r in rows] == ["I", "II", "III"]
    assert ds.attrs["short_circuit_frame"] == -1  # a polarisation to 1.5 V, no short in the log
    v = [r["mean_voltage_V"] for r in rows]
    assert v[0] < v[1] < v[2]
    assert v[2] == pytest.approx(1.5, abs=0.01)  # the last stage is the potentiostatic hold
    # the gradient builds fastest in stage I and levels off afterwards
    g = ds["amount"].values[:, 0] - ds["amount"].values[:, -1]
    b1, b2 = ds.attrs["stage_boundaries"]
    slope = [np.polyfit(np.arange(lo, hi), g[lo:hi], 1)[0] for lo, hi in ((0, b1), (b1, b2), (b2, 94))]
    assert slope[0] > slope[1] > slope[2]
