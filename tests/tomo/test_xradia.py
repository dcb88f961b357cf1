"""Zeiss/Xradia .txrm/.xrm reader: the real TomoPy/DXchange fixture files, and damaged copies."""

import shutil
import struct

import numpy as np
import pytest

from operando.errors import CorruptFileError, UnsupportedFormatError
from operando.info import describe
from operando.tomo import minus_log, normalize, read_tomo, read_xradia

TXRM = "tomo/xradia/txrm_test_chip_tomo.txrm"
XRM = "tomo/xradia/test_chip00.xrm"


@pytest.mark.realdata
def test_txrm_tilt_series(real_file):
    scan = read_tomo(real_file(TXRM))  # dispatched by the OLE2 content, not the suffix
    assert scan.layout == "xradia"
    assert scan.projections.shape == (7, 256, 256)
    assert scan.projections.dtype == np.uint16
    # values documented for this file by TomoPy/DXchange (data README): -45.02 .. +44.99 in 15 degree steps
    np.testing.assert_allclose(scan.angles_deg[[0, -1]], [-45.018, 44.986], atol=1e-3)
    np.testing.assert_allclose(np.diff(scan.angles_deg), 15.0, atol=0.01)
    assert scan.pixel_size_um == pytest.approx(0.1558, abs=1e-4)
    assert scan.energy_kev == pytest.approx(9.2, abs=1e-3)
    assert scan.flats is None and scan.darks is None
    frames = scan.projections.compute()
    # seven distinct, non-empty frames (no stream read twice, none all zero)
    assert all(frames[i].max() > 0 for i in range(7))
    assert len({frames[i].tobytes() for i in range(7)}) == 7
    # a row chunk agrees with the same rows of the whole frames
    np.testing.assert_array_equal(scan.projections[:, 100:110, 7:200].compute(), frames[:, 100:110, 7:200])


@pytest.mark.realdata
def test_xrm_image_with_reference(real_file):
    scan = read_xradia(real_file(XRM))
    assert scan.projections.shape == (1, 512, 512)
    assert scan.angles_deg == pytest.approx([-0.06], abs=1e-4)
    assert scan.pixel_size_um == pytest.approx(0.0779, abs=1e-4)
    assert scan.flats is not None and scan.flats.shape == (1, 512, 512)
    # the reference is the open beam taken with the same optics: the sample transmits less
    # than it on average, and the attenuation is finite wherever both are positive
    ratio = np.asarray(normalize(scan.projections, scan.flats).compute())
    assert 0.0 < np.median(ratio) < 1.0
    att = np.asarray(minus_log(normalize(scan.projections, scan.flats)).compute())
    assert np.isfinite(att).all()


@pytest.mark.realdata
def test_info_recognises_xradia(real_file):
    s = describe(real_file(TXRM))
    assert s["kind"] == "tomography projections"
    assert s["projections"] == "(7, 256, 256) uint16"
    assert s["energy"] == "9.2 keV"
    s = describe(real_file(XRM))
    assert s["reference (flat)"] == "(1, 512, 512) uint16"


def _set_stream(path, name, data):
    import olefile

    with olefile.OleFileIO(str(path), write_mode=True) as ole:
        ole.write_stream(name, data)


@pytest.mark.realdata
def test_unknown_data_type(real_file, tmp_path):
    bad = tmp_path / "bad.txrm"
    shutil.copy(real_file(TXRM), bad)
    _set_stream(bad, "ImageInfo/DataType", struct.pack("<I", 7))
    with pytest.raises(CorruptFileError, match=r"bad\.txrm: ImageInfo/DataType 7"):
        read_tomo(bad)


@pytest.mark.realdata
def test_more_images_than_streams(real_file, tmp_path):
    bad = tmp_path / "bad.txrm"
    shutil.copy(real_file(TXRM), bad)
    _set_stream(bad, "ImageInfo/NoOfImages", struct.pack("<I", 9))
    with pytest.raises(CorruptFileError, match="Angles holds 28 bytes|image streams are missing"):
        read_xradia(bad)


@pytest.mark.realdata
def test_truncated_file(real_file, tmp_path):
    bad = tmp_path / "cut.txrm"
    bad.write_bytes(real_file(TXRM).read_bytes()[:300_000])
    with pytest.raises(CorruptFileError, match="cut.txrm"):
        read_xradia(bad).projections.compute()


def test_garbage_with_ole_signature(tmp_path):
    bad = tmp_path / "x.xrm"
    bad.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(CorruptFileError, match="x.xrm: not a readable OLE2"):
        read_tomo(bad)


def test_not_ole(tmp_path):
    bad = tmp_path / "x.txrm"
    bad.write_bytes(b"hello world, not an OLE file")
    with pytest.raises(UnsupportedFormatError, match="x.txrm"):
        read_xradia(bad)
