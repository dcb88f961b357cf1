"""The one format registry: every modality's formats, found by content, in a stable order."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from operando import formats
from operando.errors import UnsupportedFormatError


def test_every_modality_registers_and_names_are_unique():
    names = [f.name for f in formats.formats()]
    assert len(names) == len(set(names))
    assert {f.kind for f in formats.formats()} >= {"sxdm", "tomo", "nmr", "epr", "mri", "echem", "hdf5"}
    assert names[-1] == "hdf5"  # the generic container is the last resort


def _foreign_files(tmp_path: Path) -> list[Path]:
    files = {
        "a.txt": b"hello world\n",
        "b.csv": b"time/s,Ewe/V,I/mA\n0,3.0,1\n1,3.1,1\n",
        "c.bin": bytes(range(256)) * 4,
        "d.DTA": b"not gamry\n",
        "e.h5": b"\x89HDF\r\n\x1a\n" + bytes(64),  # an HDF5 signature on a cut file
    }
    out = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        out.append(tmp_path / name)
    return out


def test_sniffers_never_raise_on_foreign_files(tmp_path):
    for path in _foreign_files(tmp_path):
        head = path.read_bytes()[:4096]
        for fmt in formats.formats():
            if not fmt.folder:
                assert fmt.sniff(head, path) in (True, False), fmt.name


def test_content_not_extension_decides(tmp_path):
    h5 = tmp_path / "scan.dat"  # a DXchange file under a foreign extension
    with h5py.File(h5, "w") as fh:
        fh["exchange/data"] = np.zeros((2, 3, 4), dtype=np.uint16)
        fh["exchange/theta"] = np.array([0.0, 90.0])
    assert formats.detect(h5).name == "dxchange"
    plain = tmp_path / "other.h5"
    with h5py.File(plain, "w") as fh:
        fh["x"] = np.arange(3)
    assert formats.detect(plain).name == "hdf5"
    assert formats.detect(plain, kind="tomo") is None


def test_headerless_three_columns_is_a_zahner_log(tmp_path):
    pol = tmp_path / "POL.txt"
    pol.write_text("0.0000\t0.0012\t0.100\n0.0056\t0.0150\t0.100\n0.0112\t0.0160\t0.100\n")
    assert formats.detect(pol).name == "zahner-pol"
    record = formats.open_file(pol, kind="echem")
    assert record.time_s[1] == pytest.approx(0.0056 * 3600)


def test_nifti_is_recognised_and_described(tmp_path):
    nibabel = pytest.importorskip("nibabel")
    img = nibabel.Nifti1Image(np.zeros((4, 5, 6), dtype=np.float32), np.diag([0.1, 0.1, 0.2, 1.0]))
    img.header.set_xyzt_units("mm", "sec")
    path = tmp_path / "cell.nii.gz"
    nibabel.save(img, path)
    assert formats.detect(path).name == "nifti"
    summary = formats.describe_file(path)
    assert summary["kind"] == "MRI image" and "(4, 5, 6)" in summary["shape"] and "mm" in summary["voxel_size"]


def test_unknown_content_is_one_error_naming_the_file(tmp_path):
    path = tmp_path / "mystery.xyz"
    path.write_bytes(b"\x00\x01\x02 nothing known")
    with pytest.raises(UnsupportedFormatError, match="mystery.xyz"):
        formats.describe_file(path)
    with pytest.raises(UnsupportedFormatError, match="mystery.xyz"):
        formats.open_file(path)
