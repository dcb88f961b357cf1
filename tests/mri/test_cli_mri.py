"""``operando mri layers`` through typer's CliRunner on the module's own app."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from operando.cli import mri_app
from operando.errors import OperandoError, ParameterError
from operando.store import open_results
from operando.synthetic import simulate_dendrite_mri

from ..conftest import real_files

DIR = "nmr/mri_profiles/thienenkamp_Li_PEO_Li"


def _invoke(args):
    result = CliRunner().invoke(mri_app, args)
    return result


def _write_topspin(path, values, expno):
    header = (
        "# File created = synthetic\n"
        f"# Data set = SYN  {expno}  1  /tmp\n"
        "# Spectral Region:\n"
        "# LEFT = 100.0 ppm. RIGHT = -100.0 ppm.\n#\n"
        f"# SIZE = {values.size} ( = number of points)\n#\n"
    )
    path.write_text(header + "\n".join(f"{v:.6f}" for v in values) + "\n")


def test_layers_on_synthetic_profiles_with_voltage(tmp_path):
    sim = simulate_dendrite_mri(seed=3)
    profiles = sim.metal.sum("lateral").values  # the metal resonance, displaced by the Knight shift
    files = []
    for k, p in enumerate(profiles):
        f = tmp_path / f"p{k:03d}.txt"
        _write_topspin(f, p, expno=10 + k)
        files.append(str(f))
    # the echem record as a CSV the echem readers know
    rec = sim.record
    csv = tmp_path / "cell.csv"
    csv.write_text(
        "time/s,Ewe/V,I/mA\n"
        + "\n".join(f"{t},{v},{i}" for t, v, i in zip(rec.time_s, rec.voltage_V, rec.current_mA, strict=True))
    )
    out = tmp_path / "layers.zarr"
    figs = tmp_path / "figs"
    result = _invoke(
        [
            "layers",
            *files,
            "--echem",
            str(csv),
            "--fov-mm",
            str(160 * 0.02),
            "--seconds-per-frame",
            "300",
            "--electrodes",
            "0.48,2.08",
            "--layers",
            "5",
            "--real",
            "--displacement-px",
            str(sim.displacement_px),
            "--normalise",
            "none",
            "-o",
            str(out),
            "--figures",
            str(figs),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "5 layers between 0.480 and 2.080 mm" in result.output
    assert "short circuit at frame 47" in result.output
    ds = open_results(out)
    assert ds.attrs["operando_kind"] == "mri-layers"
    assert ds["amount"].dims == ("frame", "layer")
    assert ds["profile"].dims == ("frame", "depth")
    for name in ("amount_err", "growth_rate", "growth_rate_err", "stage", "echem_voltage_V", "echem_t_start_s"):
        assert name in ds, name
    assert np.abs(ds["amount"].values - sim.truth.amount).max() < 0.03 * sim.truth.amount.max()
    assert np.abs(np.array(ds.attrs["stage_boundaries"]) - sim.truth.stage_boundaries).max() <= 1
    assert sorted(p.name for p in figs.iterdir()) == [
        "mri_growth_rates.png",
        "mri_layer_amounts.png",
        "mri_profiles.png",
    ]


def test_layers_bad_options(tmp_path):
    f = tmp_path / "p.txt"
    _write_topspin(f, np.r_[np.zeros(10), np.ones(20), np.zeros(10)], 1)
    result = _invoke(["layers", str(f), "--electrodes", "1.0", "-o", str(tmp_path / "x.zarr")])
    assert isinstance(result.exception, ParameterError)
    assert "A,B" in str(result.exception)
    result = _invoke(["layers", str(f), "--normalise", "max", "-o", str(tmp_path / "x.zarr")])
    assert isinstance(result.exception, ParameterError)
    # out of range: refused naming the option (and, through the console script, in one line)
    for args, name in (
        (["--layers", "100000"], "--layers 100000"),
        (["--layers", "0"], "--layers 0"),
        (["--window", "2"], "--window 2"),
        (["--stages", "-1"], "--stages -1"),
        (["--stages", "5"], "--stages 5"),  # 12 frames hold 4 stages of 3 frames
        (["--fov-mm", "-4"], "--fov-mm -4"),
        (["--seconds-per-frame", "0"], "--seconds-per-frame 0"),
        (["--electrodes", "1,9"], "--electrodes 1,9"),
        (["--displacement-px", "500"], "--displacement-px 500"),
        (["--short-frame", "40"], "--short-frame 40"),
        (["--electrodes", "1,1"], "--electrodes 1,1"),
    ):
        result = _invoke(["layers", *[str(f)] * 12, *args, "-o", str(tmp_path / "x.zarr")])
        assert isinstance(result.exception, ParameterError), (args, result.output)
        assert str(result.exception).startswith(name), str(result.exception)
    assert not (tmp_path / "x.zarr").exists()
    result = _invoke(["layers", str(f), "-o", str(tmp_path / "x.zarr")])  # one profile: no frame differences
    assert isinstance(result.exception, ParameterError) and "--noise temporal needs at least 2 frames" in str(
        result.exception
    )
    exe = shutil.which("operando") or str(Path(sys.executable).with_name("operando"))
    run = subprocess.run(
        [exe, "mri", "layers", *[str(f)] * 12, "--layers", "100000", "-o", str(tmp_path / "y.zarr")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("operando: error: --layers 100000: needs 1 to ")
    bad = tmp_path / "image.png"
    bad.write_bytes(b"\x89PNG....")
    result = _invoke(["layers", str(bad), "-o", str(tmp_path / "x.zarr")])
    assert isinstance(result.exception, OperandoError)
    assert "image.png" in str(result.exception)


@pytest.mark.realdata
def test_layers_on_the_real_profiles(real_file, tmp_path):
    files = [str(real_file(rel)) for rel in real_files(f"{DIR}/MRI10mm_Li_PEO_Li7(*).txt")]
    pol = real_file(f"{DIR}/POL.txt")
    out = tmp_path / "real.zarr"
    result = _invoke(
        ["layers", *files, "--voltage", str(pol), "--stages", "3", "--stage-signal", "gradient", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "94 frames, 5 layers" in result.output
    ds = open_results(out)
    assert ds.sizes["frame"] == 94
    assert np.isfinite(ds["echem_voltage_V"].values).sum() == 45


def test_layers_on_a_4d_nifti_series(tmp_path):
    import nibabel as nib

    sim = simulate_dendrite_mri(seed=12)
    volume = np.transpose(sim.metal.values, (1, 2, 0))[:, :, None, :].astype(np.float32)  # x=depth, y, z, t
    img = nib.Nifti1Image(volume, np.diag([0.02, 0.02, 0.02, 1.0]))
    img.header.set_xyzt_units("mm", "sec")
    path = tmp_path / "metal.nii.gz"
    nib.save(img, path)
    out = tmp_path / "nifti.zarr"
    result = _invoke(
        [
            "layers",
            str(path),
            "--depth-axis",
            "x",
            "--seconds-per-frame",
            "300",
            "--electrodes",
            "0.48,2.08",
            "--real",
            "--normalise",
            "none",
            "--displacement-px",
            str(sim.displacement_px),
            "--short-frame",
            str(sim.truth.short_frame),
            "-o",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    ds = open_results(out)
    assert ds.sizes["frame"] == 60
    assert ds.attrs["short_circuit_frame"] == sim.truth.short_frame
    assert ds["time_s"].values[1] == 300.0  # the NIfTI's own 4th zoom
    result = _invoke(["layers", str(path), "--depth-axis", "q", "-o", str(tmp_path / "q.zarr")])
    assert isinstance(result.exception, ParameterError) and "no depth axis 'q' (--depth-axis)" in str(result.exception)
    assert np.abs(ds["amount"].values - sim.truth.amount).max() < 0.03 * sim.truth.amount.max()
    assert np.abs(np.array(ds.attrs["stage_boundaries"]) - sim.truth.stage_boundaries).max() <= 1
