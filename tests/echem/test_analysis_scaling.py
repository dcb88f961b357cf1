"""Segments, dQ/dV and plateaus: the vectorised kernels against a per-half-cycle reference,
and their cost on a cycler-sized record (700 000 rows, 36 000 steps)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy.signal import find_peaks, savgol_filter

from operando import echem
from operando.echem import EchemMetadata, EchemRecord
from operando.synthetic import simulate_gcpl, simulate_gitt


def _record(g: object, **meta: object) -> EchemRecord:
    return EchemRecord.from_columns(
        time_s=g.time_s,  # type: ignore[attr-defined]
        voltage_V=g.voltage_V,  # type: ignore[attr-defined]
        current_mA=g.current_mA,  # type: ignore[attr-defined]
        step=getattr(g, "step", None),
        meta=EchemMetadata(source="synthetic", **meta),  # type: ignore[arg-type]
    )


def _reference_dqdv(rec: EchemRecord, step: float, smooth: int, trim: bool = False) -> pd.DataFrame:
    """The textbook loop: one np.histogram and one scipy savgol_filter per half cycle."""
    sign = echem.direction(rec.current_mA)
    v, q, hc = rec.voltage_V, rec.charge_mAh, rec.half_cycle
    dq = np.concatenate([np.diff(q), [0.0]])
    frames = []
    for half in np.unique(hc):
        sel = (hc == half) & (sign != 0) & np.isfinite(v)
        if sel.sum() < 3:
            continue
        lo = np.floor(v[sel].min() / step) * step
        hi = np.ceil(v[sel].max() / step) * step
        edges = lo + step * np.arange(round((hi - lo) / step) + 2)
        counts, _ = np.histogram(v[sel], bins=edges, weights=np.abs(dq[sel]))
        y, centres = counts / step, 0.5 * (edges[1:] + edges[:-1])
        if trim:  # plateaus: without the partly filled first/top bins and the empty last one
            top = int(np.floor(v[sel].max() / step) - np.floor(v[sel].min() / step))
            y, centres = y[1:top], centres[1:top]
        if smooth > 2 and y.size > smooth:
            y = np.clip(savgol_filter(y, smooth, 2), 0.0, None)
        frames.append(
            pd.DataFrame(
                {
                    "half_cycle": half,
                    "direction": int(np.sign(dq[sel].sum())),
                    "voltage_V": centres,
                    "dqdv_mAh_V": y,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def small_gitt() -> EchemRecord:
    return _record(simulate_gitt(rows=30_000, steps=1_200, half_cycles=6, seed=3))


@pytest.mark.parametrize("smooth", [1, 5, 9])
def test_dqdv_equals_the_per_half_cycle_reference(small_gitt: EchemRecord, smooth: int) -> None:
    ours = echem.dqdv(small_gitt, voltage_step_V=0.004, smooth_points=smooth)
    ref = _reference_dqdv(small_gitt, 0.004, smooth)
    assert len(ours) == len(ref)
    np.testing.assert_array_equal(ours["half_cycle"], ref["half_cycle"])
    np.testing.assert_array_equal(ours["direction"], ref["direction"])
    np.testing.assert_allclose(ours["voltage_V"], ref["voltage_V"], atol=1e-9)
    np.testing.assert_allclose(ours["dqdv_mAh_V"], ref["dqdv_mAh_V"], rtol=1e-9, atol=1e-9 * ref["dqdv_mAh_V"].max())


def test_plateaus_equal_find_peaks_per_half_cycle(small_gitt: EchemRecord) -> None:
    ours = echem.plateaus(small_gitt, voltage_step_V=0.004, min_share=0.1)
    ref = _reference_dqdv(small_gitt, 0.004, 5, trim=True)
    rows = []
    for (half, d), group in ref.groupby(["half_cycle", "direction"], sort=True):
        y = group["dqdv_mAh_V"].to_numpy()
        peaks, props = find_peaks(y, height=0.1 * y.max(), prominence=0.1 * y.max(), width=0)
        for k, p in enumerate(peaks):
            rows.append((half, d, group["voltage_V"].to_numpy()[p], y[p], props["widths"][k] * 0.004))
    ref_peaks = pd.DataFrame(rows, columns=ours.columns)
    assert len(ours) == len(ref_peaks) > 6
    for col in ours.columns:
        np.testing.assert_allclose(ours[col].to_numpy(float), ref_peaks[col].to_numpy(float), rtol=1e-7, atol=1e-9)


def test_plateaus_only_where_the_current_is_constant() -> None:
    """A cyclic voltammogram (current follows the voltage) has no galvanostatic plateau."""
    t = np.arange(20_000.0)
    v = 3.0 + 1.5 * np.abs(((t / 5000.0) % 2) - 1)
    i = 0.4 * np.gradient(v) / np.gradient(v).max() + 0.1 * np.exp(-(((v - 4.0) / 0.05) ** 2)) * np.sign(np.gradient(v))
    cv = EchemRecord.from_columns(time_s=t, voltage_V=v, current_mA=i, meta=EchemMetadata(techniques=("CV",)))
    assert len(echem.plateaus(cv)) == 0
    assert echem.plateau_summary(cv) == {}
    # the same data without a technique name: the constant-current runs beside the redox peaks
    # sweep at constant dV/dt, so their dQ/dV is flat and gives no plateau either
    unnamed = EchemRecord.from_columns(time_s=t, voltage_V=v, current_mA=i, meta=EchemMetadata())
    assert len(echem.plateaus(unnamed)) == 0
    # a CC-CV charge: the CV tail (current decaying at 4.9 V) gives no plateau at 4.9 V
    cell = simulate_gcpl(dt_s=5.0, c_rate=0.5, noise_V=1e-4, resistance_ohm=0.0)
    n = 2000
    tail_t = cell.time_s[-1] + 5.0 * np.arange(1, n + 1)
    rec = EchemRecord.from_columns(
        time_s=np.concatenate([cell.time_s, tail_t]),
        voltage_V=np.concatenate([cell.voltage_V, np.full(n, 4.9)]),
        current_mA=np.concatenate([cell.current_mA, -cell.current_mA.min() * np.exp(-np.arange(n) / 300.0)]),
        meta=EchemMetadata(),
    )
    peaks = echem.plateaus(rec)
    assert len(peaks) and not np.any(np.abs(peaks["voltage_V"] - 4.9) < 0.01)


def test_info_analysis_is_linear_on_a_cycler_sized_record() -> None:
    """700 000 rows, 36 000 steps (the 286 s case of issue 17): segments, plateau summary and
    summary in well under the 5 s target (10 s allowed on a shared 2-core machine)."""
    g = simulate_gitt(rows=700_000, steps=36_000, half_cycles=20)
    rec = _record(g)
    start = time.perf_counter()
    seg = echem.segments(rec)
    summary = {**rec.summary(), **echem.plateau_summary(rec)}
    elapsed = time.perf_counter() - start
    assert elapsed < 10.0, f"{elapsed:.1f} s"
    assert len(seg) == 36_000
    assert (seg["kind"] == "rest").sum() == 18_000
    # pulses and rests alternate: every pulse segment is one protocol step
    np.testing.assert_array_equal(rec.data["step"].to_numpy()[seg["first_row"]], np.arange(36_000))
    # LMNO's two Ni plateaus (4.70/4.75 V region) are found in every half cycle, summarised not listed
    assert summary["plateaus"].endswith("in 20 galvanostatic half cycles")
    assert len(summary["plateau_voltages_V"]) < 200
    peaks = echem.plateaus(rec)
    charge = peaks[peaks["direction"] == 1]
    assert {4.65 < v < 4.72 for v in charge["voltage_V"]} == {True, False}
    assert len(charge) == 20  # two per charge half cycle, 10 charges


def test_info_analysis_is_linear_in_half_cycles() -> None:
    """700 000 rows, 36 000 steps alternating charge and discharge: 18 000 half cycles
    (the per-half-cycle search of the first vectorised version took 276 s here)."""
    g = simulate_gitt(rows=700_000, steps=36_000, half_cycles=18_000, seed=2)
    rec = _record(g)
    start = time.perf_counter()
    seg = echem.segments(rec)
    summary = {**rec.summary(), **echem.plateau_summary(rec)}
    elapsed = time.perf_counter() - start
    assert elapsed < 10.0, f"{elapsed:.1f} s"
    assert len(seg) == 36_000 and summary["half_cycles"] == 18_000
    assert summary["plateaus"].endswith("in 18000 galvanostatic half cycles")
    assert len(summary["plateau_voltages_V"]) < 200


def _reference_failures(rec: EchemRecord, window: int = 10) -> list[tuple[str, int]]:
    """The sample-by-sample loop: two medians per sample."""
    flowing = np.flatnonzero(echem.direction(rec.current_mA) != 0)
    mag = np.abs(rec.voltage_V[flowing])
    out, k, shorted = [], window, False
    while k + window <= mag.size:
        before, after = float(np.median(mag[k - window : k])), float(np.median(mag[k : k + window]))
        kind = None
        if not shorted and after < 0.2 * before and after < 0.01:
            kind, shorted = "short_circuit", True
        elif after > 2.0 * before and after - before > 0.01:
            kind, shorted = "sudden_polarisation", False
        if kind is None:
            k += 1
            continue
        seg, level = mag[k : k + window], 0.5 * (before + after)
        first = int(np.argmax(seg < level)) if kind == "short_circuit" else int(np.argmax(seg > level))
        out.append((kind, int(flowing[k + first])))
        k += first + window
    return out


@pytest.mark.parametrize(
    "kwargs",
    [
        {"short_at_s": 4 * 1800 + 600},
        {"polarisation_at_s": 3 * 1800 + 300, "polarisation_factor": 3.0},
        {"growth_per_h": 0.05},
    ],
)
def test_failures_equal_the_sample_by_sample_loop(kwargs: dict[str, float]) -> None:
    from operando.synthetic import simulate_symmetric_cell

    rec = simulate_symmetric_cell(**kwargs)
    # a noisy copy with spikes, so that windows disagree often
    rng = np.random.default_rng(5)
    v = rec.voltage_V * (1 + 0.3 * (rng.random(len(rec)) < 0.02)) + 2e-3 * rng.standard_normal(len(rec))
    noisy = EchemRecord.from_columns(time_s=rec.time_s, voltage_V=v, current_mA=rec.current_mA, meta=EchemMetadata())
    for r in (rec, noisy):
        assert [(e.kind, e.row) for e in echem.detect_failures(r)] == _reference_failures(r)


def test_failures_many_events_equal_the_loop() -> None:
    rng = np.random.default_rng(8)
    levels = rng.choice([0.001, 0.004, 0.05, 0.12, 0.3], size=60)
    v = np.repeat(levels, rng.integers(15, 60, size=60))
    v = v * (1 + 0.05 * rng.standard_normal(v.size))
    i = np.where(rng.random(v.size) < 0.05, 0.0, 1.0)  # some rest samples in between
    rec = EchemRecord.from_columns(
        time_s=np.arange(v.size, dtype=float), voltage_V=v, current_mA=i, meta=EchemMetadata()
    )
    events = echem.detect_failures(rec)
    assert len(events) > 10
    assert [(e.kind, e.row) for e in events] == _reference_failures(rec)
    # and it is linear: a cycler-sized record in well under a second or two
    big = EchemRecord.from_columns(
        time_s=np.arange(700_000.0),
        voltage_V=np.tile(v, 700_000 // v.size + 1)[:700_000],
        current_mA=np.ones(700_000),
        meta=EchemMetadata(),
    )
    start = time.perf_counter()
    echem.detect_failures(big)
    assert time.perf_counter() - start < 10.0
