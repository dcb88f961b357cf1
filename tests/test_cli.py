"""The installed ``operando`` command, run as a user runs it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from operando import __version__


def run(*args, cwd=None):
    exe = shutil.which("operando") or str(Path(sys.executable).with_name("operando"))
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, cwd=cwd, check=False)


def test_version():
    r = run("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"operando {__version__}"


def test_modality_groups_are_listed():
    r = run("--help")
    assert r.returncode == 0
    for group in ("info", "demo", "echem"):
        assert group in r.stdout


@pytest.mark.parametrize("content", [b"", bytes(range(256))])
def test_bad_input_is_one_line_and_exit_2(tmp_path, content):
    bad = tmp_path / "bad.dat"
    bad.write_bytes(content)
    r = run("info", bad)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"operando: error: {bad}: ")
    assert "Traceback" not in r.stderr


def test_debug_shows_the_traceback(tmp_path):
    bad = tmp_path / "bad.dat"
    bad.write_bytes(b"")
    r = run("--debug", "info", bad)
    assert r.returncode != 0
    assert "Traceback" in r.stderr and "CorruptFileError" in r.stderr


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("rel", "expect"),
    [
        ("tomo/tomopy/tooth.h5", "DXchange"),
        ("echem/biologic/yadg/cv.mpt", "Cyclic Voltammetry"),
        ("echem/biologic/yadg/gcpl.issue_211.mpr", "rows: 2767"),
        ("echem/neware/fastnda/46_1_5_60_bts16.ndax", "rows: 84"),
        ("echem/gamry/impedance.py/exampleDataGamry.DTA", "rows: 72"),
    ],
)
def test_info_on_real_files(real_file, rel, expect):
    r = run("info", real_file(rel))
    assert r.returncode == 0, r.stderr
    assert expect in r.stdout


@pytest.mark.slow
def test_demo_then_echem_commands(tmp_path, demo_run):
    demo, stdout = demo_run
    assert "timeline.zarr" in stdout and "timeline.png" in stdout
    mpt = next((demo / "raw" / "echem").glob("*.mpt"))
    # the K-maps follow the LMNO plateaus the demo gave each Li content: two phases of fixed d400
    from operando.store import open_results
    from operando.synthetic import lmno_lattice

    maps = open_results(demo / "results" / "sxdm_maps.zarr").load()
    assert maps.sizes["frame"] == 3
    for k, x in enumerate(maps["echem_x_li"].values):
        lattice = lmno_lattice(float(x))
        if lattice.fraction >= 0.1:  # each phase where it holds at least 10 % of the crystal
            assert abs(float(maps["d_phase1"][k].median()) - lattice.d400_A[0]) < 3e-4
        if lattice.fraction <= 0.9:
            assert abs(float(maps["d_phase2"][k].median()) - lattice.d400_A[1]) < 3e-4
    assert maps["echem_label"].values.tolist() == ["charge", "charge", "discharge"]
    assert (demo / "figures" / "timeline.svg").stat().st_size > 10_000
    r = run("info", demo / "results" / "timeline.zarr")
    assert r.returncode == 0 and "complete: True" in r.stdout
    r = run("echem", "export", mpt, "-o", tmp_path / "out.csv")
    assert r.returncode == 0, r.stderr
    header = (tmp_path / "out.csv").read_text().splitlines()[0].split(",")
    assert header[:8] == ["time_s", "timestamp", "voltage_V", "current_mA", "charge_mAh", "cycle", "half_cycle", "step"]
    r = run("echem", "plot", mpt, "-o", tmp_path / "v.png", "--markers", "600,3600")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "v.png").read_bytes()[:4] == b"\x89PNG"
    r = run("echem", "plot", mpt, "-o", tmp_path / "v.png", "--markers", "six")
    assert r.returncode == 2 and "--markers must be numbers" in r.stderr


@pytest.mark.realdata
def test_bruker_epr_dta_is_told_apart(real_file):
    r = run("echem", "info", real_file("nmr/epr/cwepr/BDPA-1DFieldSweep.DTA"))
    assert r.returncode == 2
    assert "Bruker EPR" in r.stderr


def test_symmetric_cell_short_is_reported(tmp_path):
    from operando.synthetic import simulate_symmetric_cell

    rec = simulate_symmetric_cell(short_at_s=7800.0)
    csv = tmp_path / "li_li.csv"
    rec.data[["time_s", "voltage_V", "current_mA"]].to_csv(csv, index=False)
    r = run(
        "echem",
        "info",
        csv,
        "--symmetric",
        "--map",
        "time_s=time_s",
        "--map",
        "voltage_V=voltage_V",
        "--map",
        "current_mA=current_mA",
    )
    assert r.returncode == 0, r.stderr
    assert "short_circuit at 7800.0 s" in r.stdout
