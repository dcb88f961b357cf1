"""Readers of tomography scans: synthetic files for every failure, the real files for the layouts."""

import shutil

import h5py
import numpy as np
import pytest
import tifffile

from operando.errors import MissingMetadataError, UnsupportedFormatError
from operando.tomo import TomoFileError, read_dxchange, read_nxtomo, read_tiff, read_tomo


def _dxchange(path, *, n=12, theta=None, units="radians", white_shape=(3, 4, 8)):
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as fh:
        fh["exchange/data"] = rng.random((n, 4, 8), dtype=np.float32)
        fh["exchange/data_white"] = np.ones(white_shape, np.float32)
        fh["exchange/data_dark"] = np.zeros((2, 4, 8), np.float32)
        t = np.linspace(0, np.pi, n, endpoint=False) if theta is None else theta
        fh["exchange/theta"] = t
        fh["exchange/theta"].attrs["units"] = units
        fh["measurement/instrument/detection_system/objective/resolution"] = 0.65
        fh["measurement/instrument/detection_system/objective/resolution"].attrs["units"] = "um"
    return path


def test_dxchange_synthetic_radians_and_pixel(tmp_path):
    scan = read_tomo(_dxchange(tmp_path / "s.h5"))
    assert scan.layout == "dxchange"
    np.testing.assert_allclose(scan.angles_deg, np.arange(12) * 15.0)
    assert scan.pixel_size_um == pytest.approx(0.65)
    assert scan.energy_kev is None
    assert scan.projections.chunks[0] == (12,)  # whole sinograms per chunk
    assert scan.flats.shape == (3, 4, 8)


def test_dxchange_nan_angles(tmp_path):
    theta = np.linspace(0, 180, 12)
    theta[5] = np.nan
    with pytest.raises(TomoFileError, match=r"s\.h5.*NaN.*index 5"):
        read_dxchange(_dxchange(tmp_path / "s.h5", theta=theta, units="degrees"))


def test_dxchange_shape_mismatch(tmp_path):
    with pytest.raises(TomoFileError, match="flats.*frame sizes differ"):
        read_dxchange(_dxchange(tmp_path / "s.h5", white_shape=(3, 4, 9)))
    with pytest.raises(TomoFileError, match="11 angles but /exchange/data 12"):
        read_dxchange(_dxchange(tmp_path / "t.h5", theta=np.arange(11.0), units="degrees"))


def test_file_is_never_opened_for_writing(tmp_path):
    path = _dxchange(tmp_path / "s.h5")
    path.chmod(0o444)
    scan = read_tomo(path)
    assert float(scan.projections.sum().compute()) > 0


def _nxtomo(path, *, angles_file=None):
    keys = np.array([2, 2, 1, 1, *([0] * 10), 1], np.int32)
    with h5py.File(path, "w") as fh:
        e = fh.create_group("entry")
        e.attrs["NX_class"] = "NXentry"
        d = e.create_group("data")
        d.attrs["NX_class"] = "NXdata"
        d["data"] = np.arange(15 * 3 * 5, dtype=np.uint16).reshape(15, 3, 5)
        e["instrument/detector/image_key"] = keys
        e["instrument/detector/x_pixel_size"] = 6.5e-6
        e["instrument/detector/x_pixel_size"].attrs["units"] = "m"
        e["beam/incident_energy"] = 25.0
        e["beam/incident_energy"].attrs["units"] = "keV"
        if angles_file is None:
            e["sample/rotation_angle"] = np.linspace(0, 180, 15)
            e["sample/rotation_angle"].attrs["units"] = "deg"
        else:
            e["sample/rotation_angle"] = h5py.ExternalLink(angles_file, "/angles")
    return path


def test_nxtomo_image_key_and_metadata(tmp_path):
    scan = read_nxtomo(_nxtomo(tmp_path / "s.nxs"))
    assert scan.projections.shape == (10, 3, 5)
    assert scan.flats.shape == (3, 3, 5)
    assert scan.darks.shape == (2, 3, 5)
    np.testing.assert_allclose(scan.angles_deg, np.linspace(0, 180, 15)[4:14])
    np.testing.assert_array_equal(scan.projections[0].compute().ravel(), np.arange(15, dtype=np.uint16) + 4 * 15)
    assert scan.pixel_size_um == pytest.approx(6.5)
    assert scan.energy_kev == pytest.approx(25.0)


def test_nxtomo_dangling_angles_link(tmp_path):
    with pytest.raises(TomoFileError, match=r"s\.nxs: angles .*external link to angles\.h5:/angles"):
        read_nxtomo(_nxtomo(tmp_path / "s.nxs", angles_file="angles.h5"))
    with h5py.File(tmp_path / "angles.h5", "w") as fh:
        fh["angles"] = np.linspace(0, 180, 15)
    assert read_nxtomo(tmp_path / "s.nxs").angles_deg.shape == (10,)


def test_tiff_sinogram_and_stack(tmp_path):
    tifffile.imwrite(tmp_path / "sino.tif", np.arange(40 * 7, dtype=np.uint16).reshape(40, 7))
    with pytest.raises(MissingMetadataError, match="angles_deg"):
        read_tomo(tmp_path / "sino.tif")
    scan = read_tiff(tmp_path / "sino.tif", angle_range_deg=(0, 180))
    assert scan.projections.shape == (40, 1, 7)
    assert scan.angles_deg[1] == pytest.approx(4.5)
    tifffile.imwrite(tmp_path / "stack.tif", np.ones((5, 3, 4), np.float32), photometric="minisblack")
    scan = read_tiff(tmp_path / "stack.tif", angles_deg=np.arange(5.0))
    assert scan.projections.shape == (5, 3, 4)
    with pytest.raises(TomoFileError, match="4 angles given for 5"):
        read_tiff(tmp_path / "stack.tif", angles_deg=np.arange(4.0))


def test_unsupported(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"hello world")
    with pytest.raises(UnsupportedFormatError):
        read_tomo(tmp_path / "x.bin")


@pytest.mark.realdata
def test_tooth_dxchange(real_file):
    scan = read_tomo(real_file("tomo/tomopy/tooth.h5"))
    assert scan.projections.shape == (181, 2, 640)
    assert scan.angles_deg[-1] == pytest.approx(179.0055, abs=1e-3)
    assert scan.flats.shape == (10, 2, 640)
    assert scan.pixel_size_um is None


@pytest.mark.realdata
def test_diad_nexus_external_links(real_file, tmp_path):
    real_file("tomo/httomo_k11_diad/k11-18014/k11-18014-imaging.h5")
    real_file("tomo/httomo_k11_diad/k11-18014/k11-18014-pcompPanda.h5")
    master = real_file("tomo/httomo_k11_diad/k11-18014.nxs")
    scan = read_tomo(master)
    assert scan.layout == "nxtomo"
    assert scan.projections.shape == (3001, 22, 26)
    assert (scan.flats.shape[0], scan.darks.shape[0]) == (100, 100)
    assert scan.angles_deg[0] == pytest.approx(89.995, abs=1e-2)
    assert scan.angles_deg[-1] == pytest.approx(269.995, abs=1e-2)
    assert int(scan.projections[:, 0, 0].max().compute()) > 0
    # without its link targets beside it, the master names the missing frames file
    shutil.copy(master, tmp_path / "k11-18014.nxs")
    with pytest.raises(TomoFileError, match="k11-18014-imaging.h5"):
        read_tomo(tmp_path / "k11-18014.nxs")


@pytest.mark.realdata
def test_neutron_sinogram_tiff(real_file):
    scan = read_tomo(real_file("tomo/sarepy/sinogram_360_neutron_image.tif"), angle_range_deg=(0, 360))
    assert scan.projections.shape == (459, 1, 503)
    assert int(scan.projections.max().compute()) == 53711
