"""``operando info`` on NMR, MRI and EPR inputs: recognised by content, summarised from parameters."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from operando import echem
from operando.errors import UnsupportedFormatError
from operando.info import describe, format_summary
from operando.synthetic import (
    NMRLine,
    derivative_gaussian,
    simulate_fid,
    write_bes3t,
    write_bruker_fid,
    write_varian_fid,
)

RELAX = "nmr/bruker_nmr/spectrochempy_data/relax/100"
TOPSPIN_1D = "nmr/bruker_nmr/spectrochempy_data/topspin_1d/1"
BANANA = "nmr/paravision/pvconv/BadBanana_01/18"
PV360 = "nmr/paravision/PV360_StdData/T1_FLASH"


def _pinned(real_file, rel, names):
    for name in names:
        real_file(f"{rel}/{name}")
    return real_file(f"{rel}/{names[0]}").parent


@pytest.mark.realdata
def test_bruker_nmr_folders(real_file):
    relax = describe(_pinned(real_file, RELAX, ("acqus", "acqu2s", "ser", "pdata/1/procs")))
    assert relax["format"].startswith("Bruker TopSpin")
    assert (relax["nucleus"], relax["experiment"]) == ("29Si", "cp3lev_satrec.aarz")
    assert (relax["TD"], relax["NS"]) == (4096, 128)
    assert relax["SW_Hz"] == 156250.0 and relax["software"].endswith("TOPSPIN Version 3.2")
    assert relax["data"] == "ser: 9 x 2048 complex points, 147456 bytes" and "problem" not in relax
    one_d = describe(_pinned(real_file, TOPSPIN_1D, ("acqus", "fid", "pdata/1/procs", "pdata/1/1r", "pdata/1/1i")))
    assert (one_d["nucleus"], one_d["TD"], one_d["SW_Hz"]) == ("1H", 24974, 250000.0)
    assert one_d["processed"] == ["pdata/1: 1r, 1i"]


@pytest.mark.realdata
def test_paravision_scan_reconstruction_and_study(real_file):
    names = ("acqp", "method", "fid", "pdata/1/visu_pars", "pdata/1/2dseq")
    scan = _pinned(real_file, BANANA, names)
    summary = describe(scan)
    # README: PV 5.1, EPI-SE-FOVsat, 1H 300.34 MHz, TR 2000 ms, TE 16.5 ms, matrix 80x64, FOV 44x44 mm, 5 slices
    assert (summary["format"], summary["software"], summary["experiment"]) == ("Bruker ParaVision", "PV 5.1", "EPI")
    assert (summary["matrix"], summary["fov_mm"], summary["slices"]) == ([80, 64], [44, 44], 5)
    assert (summary["TR_ms"], summary["TE_ms"], summary["nucleus"]) == (2000, 16.5, "1H")
    assert summary["BF1_MHz"] == pytest.approx(300.34, abs=0.01)
    assert summary["reconstructions"] == ["pdata/1: [80, 64] x 5 frames _16BIT_SGN_INT, 2dseq 51200 bytes"]
    assert describe(scan / "pdata" / "1")["scan"] == "EPI-SE-FOVsat"  # the reconstruction folder finds its scan
    study = describe(scan.parent)
    assert study["experiments"] == ["18: Bruker ParaVision, EPI 1H"]
    pv360 = describe(_pinned(real_file, PV360, ("acqp", "method", "visu_pars", "reco")))
    assert (pv360["software"], pv360["matrix"], pv360["slices"], pv360["TE_ms"]) == ("PV-360.3.6", [384, 384], 9, 4)
    assert pv360["raw_data"] == "none"  # headers only in the test set
    assert "MRI scan" in format_summary(pv360)


@pytest.mark.realdata
def test_varian_folder(real_file):
    summary = describe(_pinned(real_file, "nmr/varian/ssnake/satrec2D.fid", ("procpar", "fid")))
    # README: 87Rb saturation recovery, sfrq 196.3444528 MHz, np 3846, sw 192307.69 Hz, nt 4, 12 tau values
    assert (summary["nucleus"], summary["experiment"], summary["np"], summary["nt"]) == ("87Rb", "relax", 3846, 4)
    assert (summary["sfrq_MHz"], summary["SW_Hz"]) == (196.3444528, pytest.approx(192307.69, abs=0.01))
    assert summary["data"] == "fid: 12 blocks x 1 traces x 1923 complex points"
    assert summary["arrayed"] == "tau_recovery (12 values)"


def test_synthetic_bruker_and_varian_folders(tmp_path):
    fid = simulate_fid([NMRLine(264.5, 1.0)], sfo1_MHz=155.4512, carrier_ppm=130.0, sw_Hz=1e5, n_points=512)
    kw = {"nucleus": "7Li", "sfo1_MHz": 155.4512, "carrier_ppm": 130.0, "sw_Hz": 1e5}
    bruker = describe(write_bruker_fid(tmp_path / "b" / "1", fid, **kw))
    assert (bruker["nucleus"], bruker["TD"], bruker["SW_ppm"]) == ("7Li", 1024, round(1e5 / 155.4512, 4))
    varian = describe(write_varian_fid(tmp_path / "v.fid", np.stack([fid] * 3), nt=16, **kw))
    assert (varian["nucleus"], varian["np"], varian["nt"]) == ("7Li", 1024, 16)
    assert varian["data"] == "fid: 3 blocks x 1 traces x 512 complex points"
    (tmp_path / "b" / "1" / "fid").write_bytes(b"\0" * 100)
    assert "fewer bytes" in describe(tmp_path / "b" / "1")["problem"]
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "procpar").write_text("")  # procpar without fid: not an experiment
    with pytest.raises(UnsupportedFormatError, match="plain: a folder that is not an operando result store nor a"):
        describe(tmp_path / "plain")


@pytest.mark.realdata
def test_bes3t_from_either_file(real_file):
    dsc, dta = real_file("nmr/epr/cwepr/BDPA-1DFieldSweep.DSC"), real_file("nmr/epr/cwepr/BDPA-1DFieldSweep.DTA")
    for path in (dsc, dta):
        summary = describe(path)
        assert summary["format"] == "Bruker BES3T (.DSC + .DTA)"
        assert summary["x_axis"] == "Field 350.1000 .. 353.1000 mT"
        assert (summary["points"], summary["mw_frequency_GHz"], summary["byte_order"]) == ("3000", 9.852145, "BIG")
        assert "problem" not in summary
    # the echem reader still refuses the same .DTA with the message that names EPR
    with pytest.raises(UnsupportedFormatError, match="Bruker EPR BES3T"):
        echem.read(dta)


def test_bes3t_size_problem_and_gamry_dta_untouched(tmp_path):
    b = np.linspace(330, 340, 100)
    dsc, dta = write_bes3t(tmp_path / "s", derivative_gaussian(b, centre_mT=335, sigma_mT=1), x_min=330, x_width=10,
                           x_unit="mT")  # fmt: skip
    dta.write_bytes(dta.read_bytes()[:80])
    assert describe(dsc)["problem"] == "s.DTA has 80 bytes, the descriptor promises 800"
    lonely = tmp_path / "lonely.DTA"
    shutil.copy(dta, lonely)  # binary .DTA without a descriptor: left to the Gamry reader, which says why
    with pytest.raises(UnsupportedFormatError, match="lonely.DTA: not a Gamry .DTA file"):
        describe(lonely)


@pytest.mark.realdata
def test_winepr_pair(real_file):
    real_file("nmr/epr/cwepr/EMX-winEPR.par")
    summary = describe(real_file("nmr/epr/cwepr/EMX-winEPR.spc"))
    assert summary["format"] == "Bruker WinEPR/ESP (.par + .spc)"
    assert (summary["points"], summary["x_axis"], summary["mw_frequency_GHz"]) == (
        "1024",
        "Field 350.5000 .. 351.5000 mT",
        9.775,
    )
