"""Quantitation that survives the spectrometer: gain and scans, MAS sidebands, Hz-matched windows, XWIN-NMR phasing."""

from __future__ import annotations

import itertools
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from operando.errors import CorruptFileError, ParameterError, UnsupportedFormatError
from operando.nmr import (
    hz_matched_window,
    process,
    read_bruker,
    read_bruker_processed,
    saturation_factor,
    sideband_windows,
    signal_factor,
)
from operando.pipelines.nmr import Acquisition, isotope_fraction
from operando.synthetic import Excitation, li_isotope_pair

from ..conftest import real_files

X6 = 0.0759
PAIR = {"snr_7li": 3000.0, "ns_6li": 256, "ns_7li": 16, "rg_6li": 512.0, "rg_7li": 16.0}


def _x6(tmp: Path, name: str, *, match: str = "hz", use_sidebands: bool = True, **kw) -> float:
    li7, li6 = li_isotope_pair(tmp / name, **{"x6_metal": X6, **PAIR, **kw})
    r = isotope_fraction(li6, li7, window_ppm=(240, 290), noise_ppm=None, factor=28.45, match=match,
                         sidebands=use_sidebands)  # fmt: skip
    return 100 * r.x6


def test_fraction_independent_of_receiver_gain_and_scans(tmp_path):
    base = _x6(tmp_path, "base", seed=1)
    # the same noise realisation at 4x the 7Li gain and at 1/8 of the 6Li gain: identical
    assert _x6(tmp_path, "rg7", seed=1, rg_7li=64.0) == pytest.approx(base, abs=1e-9)
    assert _x6(tmp_path, "rg6", seed=1, rg_6li=64.0) == pytest.approx(base, abs=1e-9)
    # other scan counts (and so other noise): within 0.2 at.%
    for kw in ({"ns_7li": 64}, {"ns_6li": 64}, {"ns_7li": 4, "rg_7li": 128.0}):
        assert abs(_x6(tmp_path, f"ns{kw}", seed=2, **kw) - base) < 0.2, kw


def test_fraction_with_40_percent_sidebands(tmp_path):
    # 7Li sidebands hold 2 x (0.12 + 0.06 + 0.02) = 40 % of each line's area, 6Li 6 %
    bands = {"sidebands": (0.12, 0.06, 0.02), "sidebands_6li": (0.03,)}
    for seed in (0, 1):
        assert abs(_x6(tmp_path, f"hz{seed}", seed=seed, line_widths="hz", **bands) - 100 * X6) < 0.5
        assert abs(_x6(tmp_path, f"ppm{seed}", seed=seed, line_widths="ppm", match="ppm", **bands) - 100 * X6) < 0.5
    # the centre band alone is far off: the test can fail
    assert _x6(tmp_path, "cb", seed=0, line_widths="hz", use_sidebands=False, **bands) - 100 * X6 > 3.0
    # one ppm window on lines of one width in Hz truncates the 6Li wings more; the wings beyond
    # the window now come from the centre band's fitted shape (the plain sums read 7.13 here)
    assert abs(_x6(tmp_path, "ppmw", seed=0, line_widths="hz", match="ppm", **bands) - 100 * X6) < 0.5


def test_pulse_recycle_delay_and_dwell_corrected(tmp_path):
    # 6Li: a 30-degree pulse and D1 = 10 s against T1 = 20 s; 7Li at another dwell and TD, D1 = 2 s, T1 = 0.5 s
    e6 = Excitation(p1_us=1.0, p90_us=3.0, d1_s=10.0, t1_s=20.0)
    e7 = Excitation(p1_us=2.0, p90_us=2.0, d1_s=2.0, t1_s=0.5, sw_Hz=50000.0, n_points=2048)
    li7, li6 = li_isotope_pair(tmp_path / "exc", **{"x6_metal": X6, **PAIR, "seed": 1, "line_widths": "hz"},
                               excitation_6li=e6, excitation_7li=e7)  # fmt: skip
    common = {"window_ppm": (240, 290), "noise_ppm": None, "factor": 28.45}
    raw = isotope_fraction(li6, li7, **common)
    assert 100 * raw.x6 < 4.0  # uncorrected: the 6Li signal is 41 % of a relaxed 90-degree one
    with pytest.warns(UserWarning, match="5 x T1"):
        fixed = isotope_fraction(li6, li7, acquisition_6li=Acquisition(p90_us=3.0, t1_s=20.0),
                                 acquisition_7li=Acquisition(p90_us=2.0, t1_s=0.5), **common)  # fmt: skip
    assert abs(100 * fixed.x6 - 100 * X6) < 0.2
    assert fixed.details["signal_factor_6Li"] == pytest.approx(e6.signal_fraction(4096 / 100000.0), rel=1e-9)
    with pytest.raises(ParameterError, match="P1"):
        from operando.nmr import line_integral, read_fid

        fid = read_fid(li6)
        meta = fid.meta.__class__(**{**vars(fid.meta), "pulse_us": None})
        line_integral(fid.__class__(fid.data, meta, fid.acqus), window_ppm=(240, 290), noise_ppm=None, p90_us=3.0)


def test_sideband_window_on_a_strong_neighbours_tail_is_fitted_away(tmp_path):
    from operando.nmr import line_integral, read_fid

    # a 95 % 6Li electrode: its weak 7Li metal line's second sideband sits 33 ppm from the
    # strong 7Li electrolyte line, whose tail there is worth 20 % of the metal's 7Li signal;
    # the sideband is fitted with the centre band's shape over a quadratic baseline
    li7, li6 = li_isotope_pair(tmp_path / "e", x6_metal=0.95, seed=10)
    r7 = line_integral(read_fid(li7), window_ppm=(240, 290), noise_ppm=(-130, -50))
    assert -2 not in [o for o, _, _ in r7.windows]  # the generator writes order 1 only; -2 was the electrolyte's wing
    r6 = line_integral(read_fid(li6), window_ppm=(240, 290), noise_ppm=(-130, -50))
    x6 = r6.value * 28.45 / (r6.value * 28.45 + r7.value)
    assert abs(x6 - 0.95) < 0.001  # with the tainted window summed: 0.942


def test_sideband_windows_and_hz_matching():
    wins = sideband_windows(250, 280, spin_rate_Hz=13000.0, sf_MHz=322.57, ppm_limits=(-400, 600))
    step = 13000.0 / 322.57
    assert wins[0] == (0, 250.0, 280.0)
    assert {o for o, _, _ in wins} == set(range(-16, 9))  # every order that touches -400..600 ppm
    assert all(lo == pytest.approx(250 + o * step) for o, lo, _ in wins)
    assert sideband_windows(1, 2, spin_rate_Hz=None, sf_MHz=1.0, ppm_limits=(-5, 5)) == [(0, 1.0, 2.0)]
    lo, hi = hz_matched_window(250.0, 280.0, from_MHz=322.57, to_MHz=122.14)
    assert ((hi - lo) * 122.14) == pytest.approx(30.0 * 322.57)
    assert (lo + hi) / 2 == pytest.approx(265.0)


def _bloch_steady_state(tr: float, t1: float, flip_deg: float) -> float:
    """Transverse signal after many pulses, stepping the longitudinal magnetisation (independent of the formula)."""
    mz, theta = 1.0, np.deg2rad(flip_deg)
    for _ in range(2000):
        signal = mz * np.sin(theta)
        mz = 1.0 - (1.0 - mz * np.cos(theta)) * np.exp(-tr / t1)
    return float(signal)


@pytest.mark.parametrize(("tr", "t1", "flip"), [(1.0, 1.0, 90.0), (2.0, 10.0, 30.0), (10.0, 2.0, 45.0)])
def test_signal_factor_matches_bloch_iteration(tr, t1, flip):
    got = signal_factor(pulse_us=flip / 90.0 * 2.0, p90_us=2.0, repetition_s=tr, t1_s=t1)
    assert got == pytest.approx(_bloch_steady_state(tr, t1, flip), rel=1e-9)
    assert saturation_factor(tr, t1, flip_deg=flip) * np.sin(np.deg2rad(flip)) == pytest.approx(got)


# -- the spectrometer's own processing ------------------------------------------------------

SETS_1R = [rel.removesuffix("/pdata/1/1r") for rel in real_files("nmr/bruker_nmr/*1r")]


@pytest.mark.realdata
@pytest.mark.parametrize("rel", SETS_1R)
def test_default_processing_matches_the_spectrometers_1r(real_file, rel):
    folder = real_file(f"{rel}/acqus").parent
    real_file(f"{rel}/pdata/1/1r")
    fid, ref = read_bruker(folder), read_bruker_processed(folder)
    region = ref.full_slice()  # the stored region (STSR/STSI) of a 1r that holds one
    ours = process(fid)["intensity"].values[region]
    assert np.corrcoef(ours, ref.data[0])[0, 1] >= 0.99, (rel, fid.meta.dspfvs, fid.meta.phase_offset_deg)
    auto = process(fid, phase_mode="auto")["intensity"].values[region]
    assert np.corrcoef(auto, ref.data[0])[0, 1] >= 0.99


def test_all_pinned_1r_sets_are_tested():
    assert len(SETS_1R) >= 2  # the TopSpin 3.2 and the XWIN-NMR 3.5 set


def _copy(tmp: Path, name: str) -> Path:
    li7, _ = li_isotope_pair(tmp / "src", x6_metal=0.3, n_points=256)
    return Path(shutil.copytree(li7, tmp / name))


@pytest.mark.parametrize("value", ["NaN", "abc", "inf", "100.5"])
def test_damaged_td_is_one_error(tmp_path, value):
    folder = _copy(tmp_path, f"td{value}")
    acqus = folder / "acqus"
    acqus.write_text("\n".join(f"##$TD= {value}" if ln.startswith("##$TD=") else ln
                               for ln in acqus.read_text().splitlines()))  # fmt: skip
    with pytest.raises(CorruptFileError, match="TD"):
        read_bruker(folder)


def test_true_2d_refused_pseudo_2d_kept(tmp_path):
    folder = _copy(tmp_path, "hsqc")
    (folder / "fid").rename(folder / "ser")
    text = (folder / "acqus").read_text().replace("<zg>", "<hsqcetgp>")
    (folder / "acqus").write_text(text)
    (folder / "acqu2s").write_text("##TITLE= Parameter file\n##$TD= 1\n##$FnMODE= 6\n##$SFO1= 39.1\n##END=\n")
    with pytest.raises(UnsupportedFormatError, match="true 2D"):
        read_bruker(folder)
    (folder / "vdlist").write_text("0.1\n")  # a list file marks a pseudo-2D series
    assert read_bruker(folder).data.shape[0] == 1
    # FnMODE 1 (QF) with the indirect SFO1 of another nucleus, as the real 29Si pseudo-2D here: kept
    (folder / "vdlist").unlink()
    (folder / "acqus").write_text(text.replace("<hsqcetgp>", "<cp3lev>"))
    (folder / "acqu2s").write_text("##TITLE= Parameter file\n##$TD= 1\n##$FnMODE= 1\n##$SFO1= 799.56\n##END=\n")
    assert read_bruker(folder).data.shape[0] == 1
    # XWIN-NMR: no FnMODE, the indirect mode as MC2 (3 = States) in proc2s, one nucleus
    (folder / "acqus").write_text(text.replace("<hsqcetgp>", "<zg2d>"))
    (folder / "acqu2s").write_text(f"##TITLE= Parameter file\n##$TD= 1\n##$SFO1= {155.4512}\n##END=\n")
    assert read_bruker(folder).data.shape[0] == 1  # nothing says 2D yet
    (folder / "pdata" / "1").mkdir(parents=True)
    (folder / "pdata" / "1" / "proc2s").write_text("##TITLE= Parameter file\n##$MC2= 3\n##END=\n")
    with pytest.raises(UnsupportedFormatError, match="true 2D"):
        read_bruker(folder)
    (folder / "pdata" / "1" / "proc2s").write_text("##TITLE= Parameter file\n##$MC2= 0\n##END=\n")
    (folder / "acqus").write_text(text.replace("<hsqcetgp>", "<noesygpph>"))
    with pytest.raises(UnsupportedFormatError, match="noesygpph"):
        read_bruker(folder)


@pytest.mark.realdata
def test_acquisition_parameters_read_from_real_files(real_file):
    from operando.nmr import read_fid

    relax = real_file("nmr/bruker_nmr/spectrochempy_data/relax/100/acqus").parent
    real_file("nmr/bruker_nmr/spectrochempy_data/relax/100/ser")
    m = read_fid(relax).meta  # TopSpin 3.2, 29Si CP at 5 kHz MAS
    assert (m.ns, m.rg, m.spin_rate_Hz, m.pulse_us, m.recycle_s, m.p90_us) == (128, 90.5, 5000.0, 3.0, 0.5, None)
    fam = real_file("nmr/varian/nmrML/FAM013_AHTM.PROTON_04.fid/procpar").parent
    real_file("nmr/varian/nmrML/FAM013_AHTM.PROTON_04.fid/fid")
    m = read_fid(fam).meta  # VnmrJ: gain 6 dB, ct 160, pw 3.625 of pw90 7.25 us, d1 22.27 s, srate 25 Hz (liquid)
    assert m.rg == pytest.approx(10 ** (6 / 20)) and m.ns == 160
    assert (m.pulse_us, m.p90_us, m.recycle_s, m.spin_rate_Hz) == (3.625, 7.25, pytest.approx(22.2737024), None)


def test_procs_magnitude_mode_and_window_followed(tmp_path):
    folder = _copy(tmp_path, "mc")
    (folder / "pdata" / "1").mkdir(parents=True)
    procs = "##TITLE= Parameter file\n##$SI= 1024\n##$PH_mod= {}\n##$WDW= 3\n##$SSB= 2\n##$PHC0= 30\n##END=\n"
    (folder / "pdata" / "1" / "procs").write_text(procs.format(2))
    fid = read_bruker(folder)
    mag = process(fid)
    assert mag.attrs["spectrum_mode"] == "magnitude" and mag.attrs["window"] == "SINE"
    assert float(mag["intensity"].min()) >= 0.0
    phased = process(fid, p0_deg=30.0, p1_deg=0.0)  # phases given: the phased real part
    assert phased.attrs["spectrum_mode"] == "phased" and float(phased["intensity"].min()) < 0.0
    np.testing.assert_allclose(np.abs(mag["intensity"].values), mag["intensity"].values)
    assert np.all(mag["intensity"].values + 1e-9 >= np.abs(phased["intensity"].values))  # |z| >= |Re z|


def test_sideband_overlapping_another_species_is_replaced_by_its_mirror(tmp_path):
    from operando.nmr import line_integral, read_fid

    li7, _ = li_isotope_pair(tmp_path / "m", x6_metal=0.3, snr_7li=20000.0, seed=2, sidebands=(0.1,))
    fid = read_fid(li7)
    assert {0, 1, -1} <= {o for o, _, _ in line_integral(fid, window_ppm=(240, 290), noise_ppm=None).windows}
    plain = line_integral(fid, window_ppm=(240, 290), noise_ppm=None, sideband_orders=1)  # 160.8 ppm apart
    # pretend another species sits at 100..110 ppm, inside the -1 sideband window (79..129 ppm)
    with pytest.warns(UserWarning, match=r"order -1\) overlaps another species' window: estimated by its mirror"):
        swapped = line_integral(fid, window_ppm=(240, 290), noise_ppm=None, other_windows_ppm=[(100.0, 110.0)],
                                sideband_orders=1)  # fmt: skip
    assert -1 not in {o for o, _, _ in swapped.windows} and 1 in {o for o, _, _ in swapped.windows}
    assert swapped.value == pytest.approx(plain.value, rel=0.01)  # symmetric sidebands: the mirror is as large
    only_centre = line_integral(fid, window_ppm=(240, 290), noise_ppm=None, sideband_orders=0)
    assert only_centre.value == pytest.approx(0.8 * plain.value, rel=0.01)  # the sidebands hold 20 %


def test_noise_window_inside_a_sideband_window_falls_back_with_a_warning(tmp_path):
    from operando.nmr import line_integral, read_fid

    li7, _ = li_isotope_pair(tmp_path / "n", x6_metal=0.3, snr_7li=5000.0, seed=4)
    fid = read_fid(li7)
    ref = line_integral(fid, window_ppm=(240, 290), noise_ppm=(-180, -170), sideband_orders=1)
    with pytest.warns(UserWarning, match="lies in the species' .*robust_noise"):
        r = line_integral(fid, window_ppm=(240, 290), noise_ppm=(95, 110), sideband_orders=1)  # in the -1 window
    assert r.value == pytest.approx(ref.value, rel=1e-9) and r.sigma == pytest.approx(ref.sigma, rel=0.3)
    # a window wider than the sideband spacing: the sideband windows are narrowed, none overlaps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # such a window also sits on the electrolyte's tails
        wide = line_integral(fid, window_ppm=(160, 370), noise_ppm=None)
    spans = sorted((a, b) for _, a, b in wide.windows)
    assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(spans))
