"""MRI readers on the real files (expectations from data/README.md) and on damaged copies."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from operando.echem import read_zahner_log
from operando.errors import (
    CorruptFileError,
    MissingMetadataError,
    OperandoError,
    ParameterError,
    UnsupportedFormatError,
)
from operando.mri import (
    read_image_series,
    read_nifti,
    read_paravision,
    read_profile_series,
    read_topspin_profile,
)
from operando.timeline import align

PROFILES = "nmr/mri_profiles/thienenkamp_Li_PEO_Li"


@pytest.mark.realdata
def test_paravision_banana_matches_brukerapi_reference(real_file):
    seq = real_file("nmr/paravision/pvconv/BadBanana_01/18/pdata/1/2dseq")
    real_file("nmr/paravision/pvconv/BadBanana_01/18/pdata/1/visu_pars")
    image, meta = read_paravision(seq.parent.parent.parent)  # the scan folder: pdata/1 is used
    assert image.dims == ("x", "y", "slice")
    assert image.shape == (80, 64, 5)
    # README: after VisuCoreDataSlope 11.027..., |min| 99.243, max 361311.30, mean 36557.76
    assert float(np.abs(image).min()) == pytest.approx(99.243, abs=1e-3)
    assert float(image.max()) == pytest.approx(361311.30, abs=0.01)
    assert float(image.mean()) == pytest.approx(36557.76, abs=0.01)
    assert meta.voxel_size_mm == pytest.approx((44 / 80, 44 / 64))
    assert meta.extent_mm == pytest.approx((44.0, 44.0))
    assert meta.frequency_MHz == pytest.approx(300.34, abs=0.01)
    assert meta.echo_time_ms == pytest.approx(16.5)
    step = np.diff(image["x"].values)
    assert np.allclose(step, 0.55)
    assert image["x"].values.mean() == pytest.approx(0.0)  # centred on the field of view


@pytest.mark.realdata
def test_paravision_headers_only_is_a_clear_error(real_file):
    folder = real_file("nmr/paravision/PV360_StdData/T1_FLASH/visu_pars").parent
    with pytest.raises(MissingMetadataError, match="no 2dseq"):
        read_paravision(folder)


@pytest.mark.realdata
def test_paravision_truncated_2dseq(real_file, tmp_path):
    src = real_file("nmr/paravision/pvconv/BadBanana_01/18/pdata/1/2dseq").parent
    real_file("nmr/paravision/pvconv/BadBanana_01/18/pdata/1/visu_pars")
    dst = tmp_path / "1"
    dst.mkdir()
    shutil.copy(src / "visu_pars", dst / "visu_pars")
    (dst / "2dseq").write_bytes((src / "2dseq").read_bytes()[:1000])
    with pytest.raises(CorruptFileError, match="2dseq"):
        read_paravision(dst)
    (dst / "visu_pars").unlink()
    with pytest.raises(MissingMetadataError, match="visu_pars"):
        read_paravision(dst / "2dseq")


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "shape", "zooms"),
    [
        ("example4d.nii.gz", (128, 96, 24, 2), (2.0, 2.0, 2.2)),
        ("anatomical.nii", (33, 41, 25), (2.0, 2.0, 2.0)),
        ("functional.nii", (17, 21, 3, 20), (4.0, 4.0, 8.0)),
    ],
)
def test_nifti_shapes_and_voxel_sizes(real_file, name, shape, zooms):
    image, meta = read_nifti(real_file(f"nmr/nifti/nibabel/{name}"))
    assert image.shape == shape
    assert meta.voxel_size_mm == pytest.approx(zooms, rel=1e-5)
    assert np.allclose(np.diff(image["x"].values), zooms[0])
    columns = np.linalg.norm(np.asarray(meta.affine)[:3, :3], axis=0)  # voxel size along each (oblique) axis
    assert columns == pytest.approx(zooms, rel=1e-4)


@pytest.mark.realdata
def test_nifti_4d_as_image_series(real_file):
    series = read_image_series([real_file("nmr/nifti/nibabel/functional.nii")], depth_axis="y", seconds_per_frame=2.0)
    assert series.dims == ("frame", "depth", "x", "z")
    assert series.shape == (20, 21, 17, 3)
    assert np.allclose(np.diff(series["time_s"].values), 2.0)
    assert np.allclose(np.diff(series["depth"].values), 4.0)


def test_nifti_rejects_other_files(tmp_path):
    bad = tmp_path / "x.nii"
    bad.write_bytes(b"not a nifti header" * 30)
    with pytest.raises(OperandoError, match=r"x\.nii"):
        read_nifti(bad)


@pytest.mark.realdata
def test_topspin_profile_header(real_file):
    pr = read_topspin_profile(real_file(f"{PROFILES}/MRI10mm_Li_PEO_Li7(005).txt"))
    assert pr.values.shape == (256,)
    assert pr.left_ppm == pytest.approx(187.76339721679688)
    assert pr.right_ppm == pytest.approx(-343.2189798116477)
    assert (pr.name, pr.expno, pr.procno) == ("MRI10mm_Li_PEO_Li7", 5, 1)
    assert pr.values[0] == pytest.approx(13824.080078125)
    assert pr.ppm[0] == pytest.approx(pr.left_ppm)
    assert pr.ppm[-1] == pytest.approx(pr.right_ppm)


def test_topspin_profile_damaged(tmp_path):
    good = "# LEFT = 10.0 ppm. RIGHT = -10.0 ppm.\n#\n# SIZE = 3 ( = number of points)\n1.0\n2.0\n3.0\n"
    f = tmp_path / "p.txt"
    f.write_text(good.replace("3.0\n", ""))
    with pytest.raises(CorruptFileError, match="SIZE = 3 but 2"):
        read_topspin_profile(f)
    f.write_text(good.replace("2.0", "two"))
    with pytest.raises(CorruptFileError, match="not a number"):
        read_topspin_profile(f)
    f.write_text("1.0\n2.0\n")
    with pytest.raises(UnsupportedFormatError, match="TopSpin"):
        read_topspin_profile(f)


@pytest.mark.realdata
def test_profile_series_needs_timing(real_file):
    files = [real_file(f"{PROFILES}/MRI10mm_Li_PEO_Li7({n:03d}).txt") for n in (9, 5, 7)]
    with pytest.raises(ParameterError, match="seconds_per_profile"):
        read_profile_series(files, fov_mm=4.0)
    series = read_profile_series(files, fov_mm=4.0, seconds_per_profile=513.0)
    assert series["expno"].values.tolist() == [5, 7, 9]  # sorted by experiment number
    assert series["time_s"].values.tolist() == [0.0, 513.0, 1026.0]
    assert series["depth"].values[1] - series["depth"].values[0] == pytest.approx(4.0 / 256)


@pytest.mark.realdata
def test_zahner_log_is_an_echem_record(real_file):
    record = read_zahner_log(real_file(f"{PROFILES}/POL.txt"))
    t = record.time_s
    assert t.size == 1022  # README says 1021 rows: `wc -l`, the last line has no newline
    assert t[0] == pytest.approx(2.55705 * 3600)
    assert np.median(np.diff(t)) == pytest.approx(20.18, abs=0.03)  # README: 20.18 s per voltage point
    assert record.voltage_V[0] == pytest.approx(0.16491)
    assert np.median(record.voltage_V[-100:]) == pytest.approx(1.5, abs=0.001)  # the potentiostatic limit
    assert record.current_mA[0] == pytest.approx(0.09984)
    # charge: 0.1 mA galvanostatic then a decaying current at 1.5 V; positive and below I_max * duration
    assert 0 < record.charge_mAh[-1] < 0.09984 * (t[-1] - t[0]) / 3600
    timeline = align(record, [t[0] + 100.0], [t[0] + 613.0])
    assert timeline["label"].values[0] == "charge"


def test_zahner_log_rejects_text(tmp_path):
    f = tmp_path / "POL.txt"
    f.write_text("time\tvoltage\tcurrent\n1\t2\t3\n")
    with pytest.raises(UnsupportedFormatError, match="line 1"):
        read_zahner_log(f)
    f.write_text("1\t2\n")
    with pytest.raises(UnsupportedFormatError, match="2 columns"):
        read_zahner_log(f)
    f.write_text("2\t1\t1\n1\t1\t1\n")
    with pytest.raises(CorruptFileError, match="time decreases at line 2"):
        read_zahner_log(f)
    with pytest.raises(OperandoError, match="no such file"):
        read_zahner_log(Path(tmp_path / "missing.txt"))


@pytest.mark.realdata
def test_paravision_as_image_series(real_file):
    seq = real_file("nmr/paravision/pvconv/BadBanana_01/18/pdata/1/2dseq")
    real_file("nmr/paravision/pvconv/BadBanana_01/18/pdata/1/visu_pars")
    series = read_image_series([seq, seq], depth_axis="y", seconds_per_frame=60.0)
    assert series.dims == ("frame", "depth", "x", "slice")
    assert series.shape == (2, 64, 80, 5)
    assert series["depth"].values[0] == pytest.approx(0.6875 / 2)
    assert series["time_end_s"].values.tolist() == [60.0, 120.0]
    with pytest.raises(ParameterError, match="no depth axis"):
        read_image_series([seq], depth_axis="z", seconds_per_frame=60.0)


@pytest.mark.realdata
def test_nifti_is_lazy_and_truncation_is_caught(real_file, tmp_path):
    src = real_file("nmr/nifti/nibabel/functional.nii")
    image, _ = read_nifti(src)
    assert image.chunks is not None and image.data.chunksize == (17, 21, 3, 1)  # one volume per chunk
    eager, _ = read_nifti(src, lazy=False)
    assert np.array_equal(image.values, eager.values)
    cut = tmp_path / "functional.nii"
    cut.write_bytes(src.read_bytes()[:20_000])
    with pytest.raises(CorruptFileError, match="truncated"):
        read_nifti(cut)
