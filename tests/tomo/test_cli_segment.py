"""``operando tomo segment`` and ``interface`` on phantom volumes, and after ``recon`` of a phantom scan."""

import json

import numpy as np
import pytest
import tifffile
import xarray as xr
from typer.testing import CliRunner

from operando.cli import tomo_app as app
from operando.errors import MissingMetadataError, ParameterError
from operando.store import open_results, write_results
from operando.synthetic import simulate_cell, write_cell_dxchange

from ._cells import random_cell


def _volume_store(path, cell, *, voxel=True):
    ds = xr.Dataset(
        {"attenuation": (("z", "y", "x"), cell.volume, {"units": "1/cm"})},
        attrs={"voxel_size_um": cell.voxel_size_um} if voxel else {},
    )
    return write_results(ds, path)


def _run(*args):
    res = CliRunner().invoke(app, [str(a) for a in args])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert res.exit_code == 0, res.output
    return res.output


def test_segment_and_interface_match_truth(tmp_path):
    cell = random_cell(21, noise_sigma=0.6)
    vol = _volume_store(tmp_path / "vol.zarr", cell)
    out = _run("segment", vol, "-o", tmp_path / "seg.zarr")
    assert "Li " in out and "thresholds" in out
    seg = open_results(tmp_path / "seg.zarr")
    assert seg.attrs["operando_kind"] == "tomo-segmentation"
    assert json.loads(seg.attrs["label_codes"])["void"] == 2
    assert json.loads(seg.attrs["operando_parameters"])["thresholds"]["void"] > 0
    out = _run("interface", tmp_path / "seg.zarr", "-o", tmp_path / "if.zarr", "--small-region-mm2", "0.001")
    assert out.count("interface 0: contact") == out.count("interface 1: contact") == 1
    res = open_results(tmp_path / "if.zarr")
    assert res.attrs["operando_kind"] == "tomo-interface"
    assert res["contact"].dims == ("interface", "y", "x")
    np.testing.assert_allclose(res["contact_area_mm2"].values, cell.contact_area_mm2, rtol=0.02)
    np.testing.assert_allclose(res["li_volume_electrode_mm3"].values, cell.li_volume_mm3, rtol=0.03)
    assert json.loads(res.attrs["operando_parameters"])["small_region_mm2"] == 0.001


def test_segment_options_and_errors(tmp_path):
    cell = random_cell(22, noise_sigma=0.6)
    vol = _volume_store(tmp_path / "vol.zarr", cell, voxel=False)
    with pytest.raises(MissingMetadataError, match="--voxel-size-um"):
        _run("segment", vol, "-o", tmp_path / "seg.zarr")
    # every threshold given: used as they are
    _run(
        "segment", vol, "-o", tmp_path / "seg.zarr", "--voxel-size-um", cell.voxel_size_um,
        "--void-threshold", 1.5, "--li-threshold", 4.75, "--electrolyte-threshold", 9.25, "--collector-threshold", 18,
    )  # fmt: skip
    seg = open_results(tmp_path / "seg.zarr")
    assert json.loads(seg.attrs["thresholds"])["lithium"] == 4.75
    assert (seg["labels"].values == cell.labels).mean() > 0.99
    with pytest.raises(ParameterError, match="increase"):
        _run("segment", vol, "-o", tmp_path / "s2.zarr", "--voxel-size-um", 5, "--li-threshold", 0.1)
    with pytest.raises(ParameterError, match="no variable"):
        _run("segment", vol, "-o", tmp_path / "s3.zarr", "--voxel-size-um", 5, "--variable", "nope")


def test_train_save_and_reuse_classifier(tmp_path):
    cell = random_cell(23, noise_sigma=1.0)
    vol = _volume_store(tmp_path / "vol.zarr", cell)
    sparse = np.full(cell.labels.shape, 255, np.uint8)
    for y in (20, 30, 40):
        sparse[:, y, :] = cell.labels[:, y, :]
    tifffile.imwrite(tmp_path / "labels.tif", sparse)
    model = tmp_path / "rf.joblib"
    _run("segment", vol, "-o", tmp_path / "a.zarr", "--train", tmp_path / "labels.tif", "--save-classifier", model)
    other = random_cell(24, noise_sigma=1.0)
    vol2 = _volume_store(tmp_path / "vol2.zarr", other)
    _run("segment", vol2, "-o", tmp_path / "b.zarr", "--classifier", model)
    seg = open_results(tmp_path / "b.zarr")["labels"].values
    ip = np.count_nonzero(seg == 4) / np.count_nonzero(other.labels == 4) - 1
    assert abs(ip) < 0.03
    inputs = json.loads(open_results(tmp_path / "b.zarr").attrs["operando_inputs"])
    assert inputs[0]["name"] == "rf.joblib"
    bad = tmp_path / "bad.tif"
    tifffile.imwrite(bad, sparse[:, :10])
    with pytest.raises(ParameterError, match="shape"):
        _run("segment", vol, "-o", tmp_path / "c.zarr", "--train", bad)


def test_recon_segment_interface_chain(tmp_path):
    cell = simulate_cell((56, 48, 48), n_voids=(4, 4), void_radius_px=(1.5, 4.0), voxel_size_um=10.0, seed=3)
    scan = write_cell_dxchange(tmp_path / "cell.h5", cell, n_angles=180, flat_counts=6e4)
    _run("recon", scan, "-o", tmp_path / "vol.zarr", "--center", 24, "--no-stripes")
    _run("segment", tmp_path / "vol.zarr", "-o", tmp_path / "seg.zarr")
    _run("interface", tmp_path / "seg.zarr", "-o", tmp_path / "if.zarr")
    res = open_results(tmp_path / "if.zarr")
    assert res.attrs["voxel_size_um"] == 10.0
    np.testing.assert_allclose(res["contact_area_mm2"].values, cell.contact_area_mm2, rtol=0.05)
    np.testing.assert_allclose(res["li_volume_electrode_mm3"].values, cell.li_volume_mm3, rtol=0.05)
