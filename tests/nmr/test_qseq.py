"""Bruker sequential quadrature (AQ_mod 2, qseq): a forward model of what the spectrometer
stores (one real point per DW, receiver phase advancing 90 degrees per point, detector
noise, the DSP group delay where the firmware has one) read back and processed with
defaults: lines at the right ppm, in absorption, with the right relative areas; and the
same spectrum as an independent transform (NMRPipe's ``FT -bruk``: alternate signs, real
FT, keep one half)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from operando.errors import UnsupportedFormatError
from operando.nmr import integrate, peak_position, process, read_bruker
from operando.synthetic import NMRLine, digital_filter, qseq_points, simulate_fid, write_bruker_fid, write_bruker_qseq

SW, SFO1, TD = 100_000.0, 155.4512, 8192  # 7Li, SW_h 100 kHz (+-321 ppm), TD real points
LINES = [NMRLine(264.5, 1.0, 400.0), NMRLine(0.0, 0.6, 150.0), NMRLine(-120.0, 0.3, 250.0)]
WINDOWS = [(330.0, 200.0), (40.0, -40.0), (-60.0, -180.0)]


def _fine(n: int) -> np.ndarray:
    """The signal every DW = 1 / (2 SW_h), from time zero."""
    return simulate_fid(LINES, sfo1_MHz=SFO1, carrier_ppm=0.0, sw_Hz=2 * SW, n_points=n)


def _twice_as_fine(g: np.ndarray) -> np.ndarray:
    """A band-limited complex FID at twice the rate (FFT zero padding): the DSP's output as the
    real-point sampler sees it."""
    n = g.size
    spec = np.fft.fft(g)
    wide = np.zeros(2 * n, np.complex128)
    wide[: n // 2] = spec[: n // 2]
    wide[-(n // 2) :] = spec[-(n // 2) :]
    return np.fft.ifft(wide) * 2


def _dsp_signal(delay: float) -> np.ndarray:
    """The signal after a DSP filter of the qseq band (+-SW_h/2) and `delay` complex points,
    every DW; padded so that the FFT up-sampling does not wrap the truncated end onto the start."""
    n = TD // 2
    full = simulate_fid(LINES, sfo1_MHz=SFO1, carrier_ppm=0.0, sw_Hz=SW, n_points=n + 200)
    g = digital_filter(full[:n], delay, extra=full[n:])
    return _twice_as_fine(np.concatenate([g, np.zeros(n)]))[:TD]


def _qseq_set(folder: Path, *, delay: float = 0.0, acqus: dict | None = None, mirror: bool = False) -> Path:
    stored = _dsp_signal(delay) if delay else _fine(TD)  # no delay: AMX analog filters, the analytic signal
    if mirror:  # the other receiver-phase direction: the spectrum mirrored about the carrier
        stored = np.conj(stored)
    rng = np.random.default_rng(3)
    points = qseq_points(stored) + 2e-3 * rng.standard_normal(TD)  # detector noise per real point
    procs = {"SI": TD, "PHC0": 0, "PHC1": 0, "WDW": 0, "LB": 0, "FT_mod": 2}
    return write_bruker_qseq(folder, points, nucleus="7Li", sfo1_MHz=SFO1, carrier_ppm=0.0, sw_Hz=SW,
                             acqus=acqus, procs=procs)  # fmt: skip


def _dqd_set(folder: Path, delay: float = 0.0, acqus: dict | None = None) -> Path:
    """The same signal recorded with simultaneous (DQD) sampling."""
    rng = np.random.default_rng(3)
    n = TD // 2
    signal = _dsp_signal(delay)[0::2] if delay else _fine(TD)[0::2]
    fid = signal + 2e-3 * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    return write_bruker_fid(folder, fid, nucleus="7Li", sfo1_MHz=SFO1, carrier_ppm=0.0, sw_Hz=SW, acqus=acqus,
                            procs={"SI": TD, "PHC0": 0, "PHC1": 0, "WDW": 0})  # fmt: skip


def _nmrpipe_bruk(points: np.ndarray, size: int) -> np.ndarray:
    """NMRPipe ``FT -bruk`` (= ``-real -alt``): sign-alternated real sequence, positive-exponent
    FT of 2*size points, the half with the non-mirrored lines; TopSpin's order (point 0 the
    highest frequency). Written independently of the reader's conversion."""
    alt = points * (-1.0) ** np.arange(points.size)
    return (np.fft.ifft(alt, n=2 * size) * 2 * size)[:size]


@pytest.mark.parametrize(
    ("delay", "acqus"),
    [(0.0, {"DIGMOD": 0, "DSPFVS": 0, "DECIM": 1, "GRPDLY": -1}),  # AMX: analog filters
     (67.98, {"DSPFVS": 20, "DECIM": 128, "GRPDLY": 67.98})],  # digital filter, delay recorded
)  # fmt: skip
def test_qseq_lines_at_their_ppm_in_absorption_with_their_areas(tmp_path, delay, acqus):
    fid = read_bruker(_qseq_set(tmp_path / "q", delay=delay, acqus=acqus))
    assert fid.meta.aq_mod == 2 and fid.data.shape == (1, TD // 2)
    assert fid.meta.group_delay == delay
    ds = process(fid, first_point=0.5)
    s, ppm = ds["intensity"].values, ds["ppm"].values
    for line, (hi, lo) in zip(LINES, WINDOWS, strict=True):
        pos, height = peak_position(s, ppm, lo=lo, hi=hi)
        assert pos == pytest.approx(line.ppm, abs=0.05), line
        assert height > 0  # absorption, not dispersion or inverted
    areas = np.array([float(integrate(s, ppm, lo=lo, hi=hi)) for hi, lo in WINDOWS])
    # relative areas: against the truth without a filter; with one, against the same signal
    # recorded with DQD (a fractional delay leaves the first point inexact in both)
    ds_dqd = process(read_bruker(_dqd_set(tmp_path / "d", delay, acqus)), first_point=0.5)
    dqd = np.array([float(integrate(ds_dqd["intensity"].values, ppm, lo=lo, hi=hi)) for hi, lo in WINDOWS])
    truth = np.array([x.area for x in LINES]) if delay == 0 else dqd
    np.testing.assert_allclose(areas / areas[0], truth / truth[0], rtol=0.01 if delay == 0 else 0.02)
    # nothing at the mirror image of the first line that the DQD recording does not have
    image = (ppm > -330) & (ppm < -200)
    excess = np.abs(s[image] - ds_dqd["intensity"].values[image])
    assert excess.max() < 0.01 * peak_position(s, ppm, lo=200, hi=330)[1]


def test_qseq_equals_the_same_signal_recorded_with_dqd(tmp_path):
    """Same spectrum (shape and absolute scale) as a DQD recording of the signal."""
    qseq = process(read_bruker(_qseq_set(tmp_path / "q")))["intensity"].values
    dqd = process(read_bruker(_dqd_set(tmp_path / "d")))["intensity"].values
    assert np.corrcoef(qseq, dqd)[0, 1] >= 0.999
    assert qseq.max() / dqd.max() == pytest.approx(1.0, abs=0.01)


def test_qseq_equals_nmrpipe_real_transform(tmp_path):
    """Our conversion + complex FT against the independent real transform of the stored points."""
    folder = _qseq_set(tmp_path / "q")
    ours = process(read_bruker(folder))["intensity"].values
    points = np.fromfile(folder / "fid", dtype="<i4").astype(np.float64)
    ref = _nmrpipe_bruk(points, TD).real
    assert np.corrcoef(ours, ref)[0, 1] >= 0.9999


def test_the_other_phase_direction_would_be_visible(tmp_path):
    """The check can fail: points stored with the receiver phase turning the other way put
    the 264.5 ppm line at -264.5 ppm."""
    ds = process(read_bruker(_qseq_set(tmp_path / "m", mirror=True)), first_point=0.5)
    s, ppm = ds["intensity"].values, ds["ppm"].values
    assert float(integrate(s, ppm, lo=200, hi=330)) < 0.05 * float(integrate(s, ppm, lo=-330, hi=-200))


def test_odd_td_and_qf_refused_by_name(tmp_path):
    folder = _qseq_set(tmp_path / "q")
    text = (folder / "acqus").read_text().replace(f"##$TD= {TD}", f"##$TD= {TD - 1}")
    (folder / "acqus").write_text(text)
    fid = read_bruker(folder)  # the odd last point is dropped
    assert fid.data.shape == (1, TD // 2 - 1)
    pos, _ = peak_position(process(fid)["intensity"].values, process(fid)["ppm"].values, lo=200, hi=330)
    assert pos == pytest.approx(264.5, abs=0.1)
    text = (folder / "acqus").read_text().replace("##$AQ_mod= 2", "##$AQ_mod= 0")
    (folder / "acqus").write_text(text)
    with pytest.raises(UnsupportedFormatError, match=r"acqus: AQ_mod=0, qf"):
        read_bruker(folder)


def test_qseq_pseudo_2d_series_rows(tmp_path):
    """A qseq ser (a vdlist series of 3 rows at 1, 1/2, 1/4 of the signal): one spectrum per row."""
    folder = _qseq_set(tmp_path / "s")
    row = np.fromfile(folder / "fid", dtype="<i4")
    np.concatenate([row, row // 2, row // 4]).astype("<i4").tofile(folder / "ser")
    (folder / "fid").unlink()
    (folder / "acqu2s").write_text("##TITLE= series\n##$TD= 3\n##$FnMODE= 0\n##END=\n")
    (folder / "vdlist").write_text("0.1\n0.2\n0.3\n")
    fid = read_bruker(folder)
    assert fid.data.shape == (3, TD // 2)
    s = process(fid)["intensity"].values
    np.testing.assert_allclose(s.max(axis=1) / s[0].max(), [1.0, 0.5, 0.25], rtol=1e-3)
    pos, _ = peak_position(s[2], process(fid)["ppm"].values, lo=200, hi=330)
    assert pos == pytest.approx(264.5, abs=0.05)
