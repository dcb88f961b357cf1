"""`--phase auto` on single- and multi-line MAS spectra with sidebands and first-order phase errors."""

from __future__ import annotations

import numpy as np
import pytest

from operando.errors import ParameterError
from operando.nmr import autophase, phase, process_fid
from operando.synthetic import NMRLine, simulate_fid


def _spectrum(rng: np.random.Generator) -> np.ndarray:
    lines = [
        NMRLine(float(rng.uniform(-150, 400)), float(rng.uniform(0.2, 2)), lw_Hz=float(rng.uniform(100, 2000)),
                sidebands=(0.05,) if rng.random() < 0.5 else ())
        for _ in range(int(rng.integers(1, 5)))
    ]  # fmt: skip
    fid = simulate_fid(lines, sfo1_MHz=155.45, carrier_ppm=130.0, sw_Hz=100000.0, n_points=2048,
                       spin_rate_Hz=25000.0, noise_std=float(rng.uniform(0.0002, 0.005)), rng=rng)  # fmt: skip
    return process_fid(fid, sw_Hz=100000.0, size=4096, first_point=0.5)


@pytest.mark.parametrize("seed", range(3))
def test_autophase_recovers_random_single_and_multi_line_spectra(seed):
    rng = np.random.default_rng(100 + seed)
    for _ in range(6):
        true = _spectrum(rng)
        p0, p1 = float(rng.uniform(0, 360)), float(rng.uniform(-60, 60))
        wrong = phase(true, p0_deg=-p0, p1_deg=-p1)
        a0, a1 = autophase(wrong)
        fixed = phase(wrong, p0_deg=a0, p1_deg=a1).real
        assert np.corrcoef(fixed, true.real)[0, 1] >= 0.99, (p0, p1, a0, a1)
        # without the right phase the spectrum is far off: the check can fail
        assert np.corrcoef(wrong.real, true.real)[0, 1] < 0.99 or abs(((p0 + 180) % 360) - 180) < 10


def test_autophase_p0_only_and_bad_input():
    rng = np.random.default_rng(7)
    true = _spectrum(rng)
    a0, a1 = autophase(true * np.exp(1j * np.deg2rad(123.0)), p1=False)
    assert a1 == 0.0 and a0 == pytest.approx(123.0, abs=1.0)
    assert autophase(true * np.exp(1j * np.deg2rad(123.0)), p1=False, method="acme")[0] == pytest.approx(123.0, abs=3)
    with pytest.raises(ParameterError):
        autophase(np.zeros(16, dtype=complex))
    with pytest.raises(ParameterError, match="method"):
        autophase(true, method="magic")
