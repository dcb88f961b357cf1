"""Linear prediction (TopSpin's ME_mod): first points corrupted by receiver ringing restored by
backward LP, a truncated FID extended by forward LP, each against the true spectrum; our
kernel against nmrglue's independent implementation; procs parameters read."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from operando.errors import ParameterError
from operando.nmr import LPSettings, lp_backward, lp_forward, lp_from_procs, process_fid, read_bruker
from operando.synthetic import NMRLine, digital_filter, simulate_fid, write_bruker_fid

SW, SFO1, N = 50_000.0, 116.6, 4096
LINES = [NMRLine(150.0, 1.0, 150.0), NMRLine(-140.0, 0.6, 300.0), NMRLine(20.0, 0.3, 100.0)]


def _truth_and_noise(seed: int = 1, n: int = N) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = simulate_fid(LINES, sfo1_MHz=SFO1, carrier_ppm=0.0, sw_Hz=SW, n_points=n)
    return true, 2e-3 * (rng.standard_normal(n) + 1j * rng.standard_normal(n))


def _ringing(k: int, seed: int = 2) -> np.ndarray:
    """Receiver dead-time / probe ringing: large, fast-decaying junk on the first k points."""
    rng = np.random.default_rng(seed)
    return (3.0 * np.exp(-np.arange(k) / 2.0)) * np.exp(1j * rng.uniform(0, 2 * np.pi, k))


def _spectrum(fid: np.ndarray, **kw) -> np.ndarray:
    return process_fid(fid, sw_Hz=SW, size=2 * N, first_point=0.5, **kw).real


@pytest.mark.parametrize("k", [2, 4, 8])
def test_backward_lp_restores_corrupted_first_points(k):
    true, noise = _truth_and_noise()
    bad = true + noise
    bad[:k] += _ringing(k)
    ref = _spectrum(true + noise)
    plain = np.corrcoef(_spectrum(bad), ref)[0, 1]
    restored = np.corrcoef(_spectrum(bad, linear_prediction=LPSettings("backward", k, 32, 4)), ref)[0, 1]
    assert restored >= 0.999 and restored > plain, (plain, restored)
    assert plain < 0.99  # the corruption is visible without LP


def _backward_lp_set(tmp_path, fid):
    """A 7Li set whose first 4 points ring (a receiver's dead time), with procs asking TopSpin's
    backward LP over them (ME_mod 4, NCOEF 32, TDoff 4)."""
    bad = fid.copy()
    bad[:4] += _ringing(4)
    procs = {"SI": 2 * N, "WDW": 0, "ME_mod": 4, "NCOEF": 32, "TDoff": 4, "LPBIN": 0}
    return write_bruker_fid(tmp_path / "lp", bad, nucleus="7Li", sfo1_MHz=SFO1, carrier_ppm=0.0, sw_Hz=SW,
                            procs=procs)  # fmt: skip


def test_backward_lp_after_the_digital_filter_delay():
    """On a DSP FID the points replaced are those after the group-delay shift (signal time zero)."""
    delay, k = 69.5, 4
    true, noise = _truth_and_noise(n=N + 300)
    stored = digital_filter(true[:N], delay, extra=true[N:]) + noise[:N]
    rung = true.copy()
    rung[:k] += _ringing(k)  # the ringing is in the analog signal: it passes the filter too
    bad = digital_filter(rung[:N], delay, extra=rung[N:]) + noise[:N]
    ref = process_fid(stored, sw_Hz=SW, size=2 * N, group_delay=delay).real
    lp = LPSettings("backward", k, 32, 4)
    plain = np.corrcoef(process_fid(bad, sw_Hz=SW, size=2 * N, group_delay=delay).real, ref)[0, 1]
    restored = process_fid(bad, sw_Hz=SW, size=2 * N, group_delay=delay, linear_prediction=lp).real
    assert np.corrcoef(restored, ref)[0, 1] >= 0.999 > plain


def test_forward_lp_extends_a_truncated_fid():
    true, noise = _truth_and_noise()
    full = _spectrum(true + noise)
    short = (true + noise)[:256]  # acquisition stopped at 5 ms: truncation wiggles
    zero_filled = np.corrcoef(_spectrum(short), full)[0, 1]
    extended = np.corrcoef(_spectrum(short, linear_prediction=LPSettings("forward", N, 16, 2)), full)[0, 1]
    assert extended >= 0.999 and extended > zero_filled, (zero_filled, extended)


def test_against_nmrglue_lp():
    """nmrglue's LP (SVD least squares, roots moved onto the unit circle) as the independent implementation."""
    from nmrglue.process.proc_lp import lp

    true, noise = _truth_and_noise()
    data = true + noise
    data[:4] += _ringing(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nmrglue builds numpy.matrix (PendingDeprecationWarning)
        back = lp(data[4:], pred=4, slice=slice(0, 256), order=32, mode="b", append="before")
        fwd = lp(data[:256], pred=1024 - 256, slice=slice(0, 256), order=16, mode="f", append="after")
    np.testing.assert_allclose(lp_backward(data, 4, order=32)[:4], back[:4], atol=1e-8)
    np.testing.assert_allclose(lp_forward(data[:256], 1024, order=16), fwd, atol=1e-8)


def test_procs_parameters_and_a_set_through_the_reader(tmp_path):
    assert lp_from_procs({"ME_mod": 0}, 100) is None
    assert lp_from_procs({"ME_mod": 4, "TDoff": 0}, 100) is None  # nothing to replace
    assert lp_from_procs({"ME_mod": 3, "NCOEF": 8, "TDoff": 2}, 100) == LPSettings("backward", 2, 8, 3)
    assert lp_from_procs({"ME_mod": 1, "LPBIN": 8192}, 1024) == LPSettings("forward", 4096, 32, 1)
    with pytest.raises(ParameterError, match="ME_mod=7"):
        lp_from_procs({"ME_mod": 7}, 100)
    with pytest.raises(ParameterError, match="needs >= 65 points"):
        lp_backward(np.ones(40, complex), 4, order=32)

    true, noise = _truth_and_noise()
    folder = _backward_lp_set(tmp_path, true + noise)
    fid = read_bruker(folder)
    lp = lp_from_procs(fid.meta.processing, fid.data.shape[-1])
    assert lp == LPSettings("backward", 4, 32, 4)
    ours = process_fid(fid.data, sw_Hz=SW, size=2 * N, first_point=0.5, linear_prediction=lp, scale=2.0**fid.meta.nc)
    assert np.corrcoef(ours[0].real, _spectrum(true + noise))[0, 1] >= 0.999


def test_process_applies_the_prediction_procs_asks_for(tmp_path):
    from operando.nmr import process

    true, noise = _truth_and_noise()
    folder = _backward_lp_set(tmp_path, true + noise)
    ds = process(read_bruker(folder), first_point=0.5)
    assert ds.attrs["linear_prediction"].startswith("backward 4 points")
    assert np.corrcoef(ds["intensity"].values, _spectrum(true + noise))[0, 1] >= 0.999
