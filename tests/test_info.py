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


# -- links: dangling, cyclic, leaving the file's folder --------------------------------------
@pytest.fixture
def linked_h5(tmp_path):
    import h5py
    import numpy as np

    folder = tmp_path / "scan"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with h5py.File(folder / "frames.h5", "w") as f:
        f["data"] = np.arange(10)
    with h5py.File(elsewhere / "secret.h5", "w") as f:
        f["data"] = np.arange(10)
    master = folder / "master.h5"
    with h5py.File(master, "w") as f:
        f["entry/x"] = np.arange(3)
        f["entry/dangling"] = h5py.SoftLink("/nowhere")
        f["entry/beside"] = h5py.ExternalLink("frames.h5", "/data")
        f["entry/up"] = h5py.ExternalLink("../elsewhere/secret.h5", "/data")
        f["entry/absolute"] = h5py.ExternalLink(str(elsewhere / "secret.h5"), "/data")
        f["entry/gone"] = h5py.ExternalLink("gone.h5", "/data")
        f["entry/loop"] = h5py.SoftLink("/entry")
        f["entry/sub"] = f["entry"]  # a hard-link cycle
        layout = h5py.VirtualLayout(shape=(10,), dtype="i8")
        layout[:] = h5py.VirtualSource(str(elsewhere / "secret.h5"), "data", shape=(10,))
        f.create_virtual_dataset("entry/vds", layout)
    return master


def test_links_are_reported_not_followed_out_of_the_folder(linked_h5):
    s = describe(linked_h5)
    assert set(s["datasets"]) == {"/entry/x", "/entry/beside", "/entry/vds"}
    assert "/entry/dangling (unresolvable link)" in s["dangling_links"]
    assert "/entry/gone -> gone.h5:/data" in s["dangling_links"]
    away = s["links_outside_folder"]
    assert "/entry/up -> ../elsewhere/secret.h5:/data" in away
    assert any(a.startswith("/entry/absolute -> ") for a in away)
    assert any(a.startswith("virtual dataset source ") and a.endswith("secret.h5") for a in away)
    assert "links_outside_folder:" in format_summary(s)


def test_raw_hdf5_errors_name_the_file(tmp_path):
    import h5py
    import numpy as np

    from operando.cli import error_line

    path = tmp_path / "a.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    with h5py.File(path, "r") as fh:
        try:
            fh["entry/missing"]
        except KeyError as exc:
            code, line = error_line(exc)
    assert code == 2
    assert line.startswith(f"operando: error: {path}: HDF5 error: ") and "\n" not in line
