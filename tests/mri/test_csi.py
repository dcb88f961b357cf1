"""3D chemical-shift imaging from raw k-space: a ParaVision CSI fid written by an explicit
phase-encoding forward model (no FFT), read back and reconstructed into metal and electrolyte maps."""

from __future__ import annotations

import numpy as np
import pytest

from operando.errors import CorruptFileError, MissingMetadataError, ParameterError, UnsupportedFormatError
from operando.mri import read_paravision_csi, reconstruct_csi
from operando.pipelines.mri import csi_from_scan
from operando.synthetic import write_paravision_csi

WINDOWS = {"metal_ppm": (135.0, 385.0), "electrolyte_ppm": (-128.0, 130.0)}


def _phantom():
    """A pellet of electrolyte with two dendrite spots off-centre (asymmetric: a flip or a
    one-voxel shift of any axis would move them)."""
    metal = np.zeros((8, 6, 4))
    metal[1, 4, 2] = 3.0
    metal[6, 1, 1] = 1.0
    electrolyte = np.zeros((8, 6, 4))
    electrolyte[2:6, 1:5, :] = 2.0
    return metal, electrolyte


def test_3d_csi_maps_match_the_phantom(tmp_path):
    metal, electrolyte = _phantom()
    scan, counts = write_paravision_csi(
        tmp_path / "21", metal, electrolyte, extent_mm=(4.0, 3.0, 2.0), n_spec=1024, t2_s=1e-3, sigma=0.05
    )
    ds = csi_from_scan(scan, **WINDOWS)
    assert ds["metal"].dims == ("x", "y", "z") and ds["metal"].shape == (8, 6, 4)
    assert ds["x"].values[4] == pytest.approx(0.0) and np.diff(ds["y"].values) == pytest.approx(0.5)
    m, e, sigma = ds["metal"].values / counts, ds["electrolyte"].values / counts, float(ds["noise_sigma"]) / counts
    assert np.unravel_index(np.argmax(m), m.shape) == (1, 4, 2)
    # Lorentzian tails outside the windows and the finite acquisition cost < 2 % of a line
    assert np.abs(m - metal).max() < 0.02 * 3.0 + 5 * sigma
    assert np.abs(e - electrolyte).max() < 0.02 * 2.0 + 5 * sigma
    empty = (metal == 0) & (electrolyte == 0)
    z = m[empty] / sigma
    assert 0.7 < z.std() < 1.3  # the stated noise of a window's area is the scatter of empty voxels


def test_spectra_put_each_line_at_its_shift_and_keep_the_area(tmp_path):
    metal, electrolyte = _phantom()
    scan, counts = write_paravision_csi(tmp_path / "22", metal, electrolyte, extent_mm=(4.0, 3.0, 2.0), t2_s=3e-4)
    k = read_paravision_csi(scan)
    assert k.kspace.shape == (8, 6, 4, 256) and (k.sw_hz, k.bf_MHz, k.o1_hz) == (100_000.0, 194.4, 25_000.0)
    spectra, ppm = reconstruct_csi(k.kspace, phase_axes=[0, 1, 2], sw_hz=k.sw_hz, bf_MHz=k.bf_MHz, o1_hz=k.o1_hz)
    step = abs(ppm[1] - ppm[0])
    assert ppm[np.argmax(spectra[1, 4, 2].real)] == pytest.approx(264.5, abs=step)
    assert ppm[np.argmax(spectra[3, 3, 0].real)] == pytest.approx(1.2, abs=step)
    # the whole spectrum's area is the FID's first point: both species, exactly
    total = spectra.real.sum(axis=-1) * step / counts
    assert total == pytest.approx(metal + electrolyte, abs=1e-6)
    # the spectral axis may sit anywhere
    moved, _ = reconstruct_csi(
        np.moveaxis(k.kspace, -1, 0), phase_axes=[1, 2, 3], spectral_axis=0, sw_hz=k.sw_hz, bf_MHz=k.bf_MHz
    )
    assert np.allclose(np.moveaxis(moved, 0, -1), spectra)
    with pytest.raises(ParameterError, match="complex"):
        reconstruct_csi(k.kspace.real, phase_axes=[0], sw_hz=1.0, bf_MHz=1.0)
    with pytest.raises(ParameterError, match="phase axes"):
        reconstruct_csi(k.kspace, phase_axes=[3], sw_hz=1.0, bf_MHz=1.0)


def test_csi_reader_refuses_what_it_cannot_read(tmp_path):
    metal, electrolyte = _phantom()
    scan, _ = write_paravision_csi(tmp_path / "23", metal[:, :, 0], electrolyte[:, :, 0], extent_mm=(4.0, 3.0))
    assert read_paravision_csi(scan / "fid").kspace.shape == (8, 6, 256)  # 2D CSI, the fid itself
    fid = scan / "fid"
    fid.write_bytes(fid.read_bytes()[:-1024])
    with pytest.raises(CorruptFileError, match="ACQ_size"):
        read_paravision_csi(scan)
    acqp = scan / "acqp"
    acqp.write_text(acqp.read_text().replace("Spectroscopic Spatial Spatial", "Spatial Spatial Spatial"))
    with pytest.raises(UnsupportedFormatError, match="not a CSI"):
        read_paravision_csi(scan)
    acqp.unlink()
    with pytest.raises(MissingMetadataError, match="acqp"):
        read_paravision_csi(scan)


def test_csi_command_prints_totals_and_writes_figures(tmp_path):
    from typer.testing import CliRunner

    from operando.cli import mri_app

    metal, electrolyte = _phantom()
    scan, counts = write_paravision_csi(
        tmp_path / "24", metal, electrolyte, extent_mm=(4.0, 3.0, 2.0), n_spec=1024, t2_s=1e-3, sigma=0.02
    )
    figs = tmp_path / "figs"
    args = ["csi", str(scan), "--metal-ppm", "135,385", "--electrolyte-ppm", "-128,130", "--figures", str(figs)]
    result = CliRunner().invoke(mri_app, args)
    assert result.exit_code == 0, result.output
    assert "8 x 6 x 4 voxels, 7Li at 194.4 MHz" in result.output
    metal_total = float(result.output.split("metal ")[1].split(" +/- ")[0])
    # + the electrolyte's Lorentzian tails past 130 ppm (0.3 % of its 128 units)
    assert metal_total / counts == pytest.approx(metal.sum(), abs=0.6)
    assert "2 voxels hold metal above 5 sigma" in result.output
    assert len(list(figs.glob("csi_*.png"))) == 4
    result = CliRunner().invoke(mri_app, ["csi", str(scan), "--metal-ppm", "260"])
    assert isinstance(result.exception, ParameterError) and "--metal-ppm" in str(result.exception)
    result = CliRunner().invoke(mri_app, ["csi", str(scan), "--lb-hz", "-5"])
    assert isinstance(result.exception, ParameterError) and str(result.exception).startswith("--lb-hz -5")


def test_fid_layout_agrees_with_brukerapi(tmp_path):
    """brukerapi's CSI scheme (two phase-encoded axes) reads the same k-space from the fid
    (padded 1 KiB blocks, interleaved int32); the 3D case is read by the same code."""
    import warnings

    from brukerapi.dataset import Dataset

    rng = np.random.default_rng(2)
    scan, _ = write_paravision_csi(
        tmp_path / "25", rng.random((8, 6)), rng.random((8, 6)), extent_mm=(4.0, 3.0), n_spec=100, sigma=0.01
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = np.asarray(Dataset(str(scan / "fid")).data)
    ours = read_paravision_csi(scan).kspace
    assert theirs.shape == (100, 8, 6)
    assert np.array_equal(np.moveaxis(ours, -1, 0), theirs)


@pytest.mark.parametrize("grpdly", [0.0, 67.98])
def test_topspin_ser_csi_with_the_digital_filter_delay(tmp_path, grpdly):
    """A CSI recorded from TopSpin: the indirect dimensions of a ser are the k axes, and DSP
    data start GRPDLY points late (a fractional delay: the filter must be undone exactly, or
    every spectrum carries a first-order phase and the real-part areas are wrong)."""
    from typer.testing import CliRunner

    from operando.cli import mri_app
    from operando.mri import read_topspin_csi
    from operando.synthetic import write_topspin_csi

    metal, electrolyte = _phantom()
    metal, electrolyte = metal[:, :, 2], electrolyte[:, :, 2]
    folder, counts = write_topspin_csi(tmp_path / "3", metal, electrolyte, grpdly=grpdly, sigma=0.02)
    scan = read_topspin_csi(folder, extent_mm=(4.0, 3.0))
    assert scan.kspace.shape[:2] == (8, 6) and scan.nucleus == "7Li"
    ds = csi_from_scan(folder, extent_mm=(4.0, 3.0), **WINDOWS)
    m, e, sigma = ds["metal"].values / counts, ds["electrolyte"].values / counts, float(ds["noise_sigma"]) / counts
    assert np.unravel_index(np.argmax(m), m.shape) == (1, 4)
    assert np.abs(m - metal).max() < 0.02 * 3.0 + 5 * sigma
    assert np.abs(e - electrolyte).max() < 0.02 * 2.0 + 5 * sigma
    with pytest.raises(ParameterError, match="--fov-mm"):
        csi_from_scan(folder)
    result = CliRunner().invoke(mri_app, ["csi", str(folder), "--fov-mm", "4,3,2"])
    assert isinstance(result.exception, ParameterError) and "--fov-mm: give 2 positive lengths" in str(result.exception)
    windows = ["--metal-ppm", "135,385", "--electrolyte-ppm", "-128,130"]
    result = CliRunner().invoke(mri_app, ["csi", str(folder), "--fov-mm", "4,3", *windows])
    assert result.exit_code == 0, result.output
    assert "8 x 6 voxels, 7Li" in result.output


def test_csi_store_and_its_report_section(tmp_path):
    """``operando mri csi ... -o X.zarr`` writes the 'mri-csi' kind; the report draws its views and histogram."""
    from typer.testing import CliRunner

    from operando.cli import app, error_line
    from operando.kinds import KINDS
    from operando.report import build_report
    from operando.store import open_results, store_status

    metal, electrolyte = _phantom()
    scan, counts = write_paravision_csi(
        tmp_path / "25", metal, electrolyte, extent_mm=(4.0, 3.0, 2.0), n_spec=1024, t2_s=1e-3, sigma=0.02
    )
    out = tmp_path / "csi.zarr"
    args = ["mri", "csi", str(scan), "--metal-ppm", "135,385", "--electrolyte-ppm", "-128,130", "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert store_status(out, verify="sha256").complete
    ds = open_results(out)
    assert ds.attrs["operando_kind"] == "mri-csi" and set(KINDS["mri-csi"].required) <= set(ds.data_vars)
    assert np.array_equal(ds["metal"].values, csi_from_scan(scan, **WINDOWS)["metal"].values)
    assert np.unravel_index(int(np.argmax(ds["metal"].values)), (8, 6, 4)) == (1, 4, 2)
    assert float(ds["metal"].values.sum()) / counts == pytest.approx(metal.sum(), abs=0.6)  # the phantom's 4 units
    assert ds["x"].attrs["units"] == "mm"
    # written again: refused without --overwrite, the store untouched
    again = CliRunner().invoke(app, args)
    code, line = error_line(again.exception, args)
    assert code == 2 and str(out) in line
    report = build_report([out], out=tmp_path / "r.html", strict=True)
    html = report.path.read_text()
    assert "MRI chemical-shift imaging" in html and "metal: total" in html and not report.problems
    assert report.n_images == 3  # the two species' views and the metal histogram (no record: no timeline)
    total = float(html.split("metal: total ")[1].split(" ")[0])
    assert total == pytest.approx(float(ds["metal"].values.sum()), rel=1e-3)
