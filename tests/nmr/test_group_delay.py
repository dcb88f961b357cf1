"""Bruker digital-filter group delay: our DSPFVS/DECIM table against nmrglue's, and every
combination phased as the spectrometer does; AQ_mod and stored-region (STSR/STSI) handling."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from operando.errors import UnsupportedFormatError
from operando.nmr import DSP_GROUP_DELAY, digital_filter_delay, process, read_bruker, read_bruker_processed
from operando.synthetic import NMRLine, digital_filter, simulate_fid, write_bruker_fid

COMBOS = [(v, d) for v, table in sorted(DSP_GROUP_DELAY.items()) for d in sorted(table)]


def test_table_equals_nmrglue_entry_by_entry():
    """Two independent copies of Westler & Abildgaard's table: ours and nmrglue's."""
    import nmrglue as ng

    theirs = ng.bruker.bruker_dsp_table
    assert set(DSP_GROUP_DELAY) == set(theirs)
    for version, table in theirs.items():
        assert set(DSP_GROUP_DELAY[version]) == set(table), version
        for decim, delay in table.items():
            assert DSP_GROUP_DELAY[version][decim] == pytest.approx(delay, abs=1e-9), (version, decim)
    assert len(COMBOS) == 21 * 3 + 12


def test_which_parameter_decides():
    assert digital_filter_delay(dspfvs=21, decim=80, grpdly=76) == (76.0, "GRPDLY")
    assert digital_filter_delay(dspfvs=20, decim=16, grpdly=0) == (0.0, "GRPDLY")  # recorded: no delay
    assert digital_filter_delay(dspfvs=12, decim=12, grpdly=-1) == (69.5, "table")
    assert digital_filter_delay(dspfvs=12, decim=12, grpdly=67.0) == (67.0, "GRPDLY")  # positive GRPDLY wins
    assert digital_filter_delay(dspfvs=10, decim=4, grpdly=None, digmod=0) == (0.0, "analog")
    assert digital_filter_delay(dspfvs=12, decim=1, grpdly=None) == (0.0, "no decimation")
    assert digital_filter_delay(dspfvs=12, decim=5, grpdly=None)[1] == "unknown"
    assert digital_filter_delay(dspfvs=0, decim=2, grpdly=-1)[1] == "unknown"
    assert digital_filter_delay(dspfvs=21, decim=8, grpdly=None)[1] == "unknown"


SW, SFO1, N = 50_000.0, 116.6, 2048
LINES = [NMRLine(ppm=ppm, area=a, lw_Hz=150.0) for ppm, a in ((150.0, 1.0), (-140.0, 0.6), (20.0, 0.3))]


def _reference() -> np.ndarray:
    """The true absorption spectrum: the undelayed FID, no phase correction."""
    fid = simulate_fid(LINES, sfo1_MHz=SFO1, carrier_ppm=0.0, sw_Hz=SW, n_points=N)
    spec = np.fft.fftshift(np.fft.fft(fid * np.r_[0.5, np.ones(N - 1)], 2 * N))[::-1]
    return spec.real


def _xwin_set(folder: Path, delay: float, acqus: dict) -> Path:
    rng = np.random.default_rng(7)
    fid = simulate_fid(LINES, sfo1_MHz=SFO1, carrier_ppm=0.0, sw_Hz=SW, n_points=N + 200)
    noisy = digital_filter(fid[:N], delay, extra=fid[N:]) + 2e-4 * (
        rng.standard_normal(N) + 1j * rng.standard_normal(N)
    )
    # XWIN-NMR pivots the delay's phase ramp on the first point: its stored PHC0 of a
    # correctly phased spectrum is 180 x delay off ours
    procs = {"SI": 2 * N, "PHC0": f"{(-180.0 * delay) % 360.0:.6f}", "PHC1": 0, "WDW": 0, "LB": 0}
    return write_bruker_fid(folder, noisy, nucleus="7Li", sfo1_MHz=SFO1, carrier_ppm=0.0, sw_Hz=SW,
                            acqus=acqus, procs=procs)  # fmt: skip


@pytest.mark.parametrize(("dspfvs", "decim"), COMBOS)
def test_every_table_entry_is_phased_as_the_spectrometer_does(tmp_path, dspfvs, decim):
    delay = DSP_GROUP_DELAY[dspfvs][decim]
    acqus = {"DSPFVS": dspfvs, "DECIM": decim, "GRPDLY": None, "DIGMOD": 1}
    fid = read_bruker(_xwin_set(tmp_path / "x", delay, acqus))
    assert fid.meta.group_delay == delay
    ref = _reference()
    ours = process(fid)["intensity"].values
    assert np.corrcoef(ours, ref)[0, 1] >= 0.99
    # --phase auto too (measured lowest: 0.989 for DSPFVS 13, whose 3-point pre-echo it fits as phase)
    assert np.corrcoef(process(fid, phase_mode="auto")["intensity"].values, ref)[0, 1] >= 0.985


def test_a_wrong_delay_is_visible(tmp_path):
    """The check can fail: the set read with another firmware's entry (DSPFVS 10 vs 12 at DECIM 16)."""
    delay = DSP_GROUP_DELAY[12][16]
    fid = read_bruker(_xwin_set(tmp_path / "x", delay, {"DSPFVS": 10, "DECIM": 16, "GRPDLY": None}))
    assert fid.meta.group_delay == DSP_GROUP_DELAY[10][16] != delay
    assert np.corrcoef(process(fid)["intensity"].values, _reference())[0, 1] < 0.9


def test_topspin_grpdly_and_an_unknown_pair(tmp_path):
    fid = read_bruker(_xwin_set(tmp_path / "ts", 67.98, {"DSPFVS": 20, "DECIM": 128, "GRPDLY": 67.98}))
    assert fid.meta.group_delay == 67.98 and fid.meta.phase_offset_deg == 0.0
    folder = _xwin_set(tmp_path / "u", 60.0, {"DSPFVS": 9, "DECIM": 16, "GRPDLY": None})
    with pytest.warns(UserWarning, match=r"no digital-filter group delay for DSPFVS=9 DECIM=16"):
        assert read_bruker(folder).meta.group_delay == 0.0
    plain = simulate_fid(LINES, sfo1_MHz=SFO1, carrier_ppm=0.0, sw_Hz=SW, n_points=N)  # no pre-echo: no warning
    folder = write_bruker_fid(tmp_path / "p", plain, nucleus="7Li", sfo1_MHz=SFO1, carrier_ppm=0.0, sw_Hz=SW,
                              acqus={"DSPFVS": 0, "DECIM": 2, "GRPDLY": -1})  # fmt: skip
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_bruker(folder).meta.group_delay == 0.0


@pytest.mark.parametrize(("aq_mod", "name"), [(0, "qf"), (7, "is not an acquisition mode")])
def test_single_channel_and_unknown_modes_are_refused_by_name(tmp_path, aq_mod, name):
    # qseq (AQ_mod 2) is read: tests/nmr/test_qseq.py
    folder = _xwin_set(tmp_path / "q", 0.0, {"AQ_mod": aq_mod})
    with pytest.raises(UnsupportedFormatError, match=rf"acqus: AQ_mod={aq_mod},? {name}"):
        read_bruker(folder)


@pytest.mark.realdata
def test_stored_region_of_a_real_1r(real_file, tmp_path):
    """STSR/STSI: a 1r holding points 5000..7999 of the TopSpin set reads as that slice."""
    src = real_file("nmr/bruker_nmr/spectrochempy_data/topspin_1d/1/acqus").parent
    folder = Path(shutil.copytree(src, tmp_path / "1"))
    full = read_bruker_processed(folder)
    pdata = folder / "pdata" / "1"
    raw = np.fromfile(pdata / "1r", dtype="<i4")
    start, size = 5000, 3000
    raw[start : start + size].tofile(pdata / "1r")
    procs = (pdata / "procs").read_text()
    for key, value in (("STSR", start), ("STSI", size), ("OFFSET", float(full.ppm[start]))):
        procs = re.sub(rf"##\${key}= \S+", f"##${key}= {value}", procs)
    (pdata / "procs").write_text(procs)
    region = read_bruker_processed(folder)
    assert region.region == (start, size) and region.data.shape == (1, size)
    assert np.array_equal(region.data[0], full.data[0, region.full_slice()])
    assert np.allclose(region.ppm, full.ppm[start : start + size])
    ours = process(read_bruker(folder))["intensity"].values  # SI points: compared on the stored region
    assert np.corrcoef(ours[region.full_slice()], region.data[0])[0, 1] >= 0.99
