"""Format detection by content and summaries of real files."""

import pytest

from operando.errors import CorruptFileError, UnsupportedFormatError
from operando.info import describe, format_summary


@pytest.mark.realdata
def test_dxchange_tooth(real_file):
    s = describe(real_file("tomo/tomopy/tooth.h5"))
    assert s["kind"] == "tomography projections"
    assert s["format"].startswith("DXchange")
    assert s["data"].startswith("(181, 2, 640) float32")
    assert s["theta_range"] == "0 .. 179 degrees, 181 angles"
    assert s["sample"] == "Tooth"


@pytest.mark.realdata
def test_nexus_with_dangling_links(real_file):
    real_file("tomo/httomo_k11_diad/k11-18014/k11-18014-imaging.h5")
    real_file("tomo/httomo_k11_diad/k11-18014/k11-18014-pcompPanda.h5")
    s = describe(real_file("tomo/httomo_k11_diad/k11-18014.nxs"))
    assert s["frames"] == "3001 projections, 100 flats, 100 darks"
    assert "(3201, 22, 26) uint16" in s["data"]
    assert any("k11-18014-detectorPanda.h5" in d for d in s["dangling_links"])


@pytest.mark.realdata
def test_bliss_master_with_absent_lima_files(real_file):
    s = describe(real_file("sxdm/id01-sxdm-utils/bliss_PTO_STO_SL/PTO_STO_SL_0001.h5"))
    assert s["kind"] == "Bliss scan file (ESRF)"
    assert s["detector"] == "mpx1x4 (51, 516, 516) int32"
    assert s["missing_virtual_sources"] == ["scan0020/mpx1x4_0000.h5"]
    assert s["wavelength_m"] == pytest.approx(1.2398e-10, rel=1e-3)


@pytest.mark.realdata
def test_tiff_sinogram(real_file):
    s = describe(real_file("tomo/sarepy/sinogram_360_neutron_image.tif"))
    assert s["shape"] == "(459, 503) uint16"


@pytest.mark.realdata
def test_echem_export(real_file):
    s = describe(real_file("echem/biologic/yadg/gcpl.issue_211.mpt"))
    assert s["kind"] == "electrochemistry record"
    assert s["rows"] == 2767
    assert s["instrument"] == "VMP3"
    assert "time_s" in format_summary(s)


@pytest.mark.realdata
def test_truncated_hdf5_is_corrupt(real_file, tmp_path):
    blob = real_file("tomo/tomopy/tooth.h5").read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(blob[:5000])
    with pytest.raises(CorruptFileError, match="cut.h5: has an HDF5 signature but cannot be opened"):
        describe(cut)


def test_empty_and_random_files(tmp_path):
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="empty.h5: file is empty"):
        describe(empty)
    noise = tmp_path / "noise.bin"
    noise.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UnsupportedFormatError, match="noise.bin: content not recognised"):
        describe(noise)


def test_a_folder_that_is_no_store(tmp_path):
    with pytest.raises(UnsupportedFormatError, match="not an operando result store"):
        describe(tmp_path)
