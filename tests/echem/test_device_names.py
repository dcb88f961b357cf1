"""``.mpr`` device codes give the model names EC-Lab's own text export prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from operando.echem import read_mpr, read_mpt
from tests.echem._cycler_data import data_root

PAIRS = [
    "ca.mpr",
    "cp.issue_149.mpr",
    "cv.mpr",
    "cva.issue_202.mpr",
    "gcpl.issue_211.mpr",
    "lsv.issue_195.mpr",
    "mb.issue_223.mpr",
    "mb.issue_95.mpr",
    "vsp_ocv_wo.mpr",
    "bcd.issue_241.mpr",
    "peis.mpr",
]


def _folder() -> Path:
    root = data_root()
    if root is None:
        pytest.skip("real data absent: set OPERANDO_TEST_DATA or provide ../shared/data")
    return root / "echem" / "biologic" / "yadg"


@pytest.mark.realdata
@pytest.mark.parametrize("name", PAIRS)
def test_mpr_device_equals_the_export_header(name: str) -> None:
    folder = _folder()
    mpr, mpt = read_mpr(folder / name), read_mpt(folder / name.replace(".mpr", ".mpt"))
    assert mpr.meta.serial_number == mpt.meta.serial_number
    if mpt.meta.instrument.startswith("BCS-8"):  # code 26 is the BCS-8xx family: 805/810/815 not told
        assert mpr.meta.instrument == "BCS-8xx"
    else:
        assert mpr.meta.instrument == mpt.meta.instrument


@pytest.mark.realdata
@pytest.mark.parametrize(("code", "name"), [(12, "VMP-300"), (20, "VSP-300"), (33, "VMP-3e"), (36, "SP-150e")])
def test_other_device_codes(tmp_path: Path, code: int, name: str) -> None:
    src = _folder() / "gcpl.issue_211.mpr"
    data = bytearray(src.read_bytes())
    # the LOG module stores the device code in the byte before the serial's Pascal string
    at = data.index(b"\x05\x040858")
    assert data.count(b"\x05\x040858") == 1  # VMP3 (code 5), SN 0858, once in this file
    data[at] = code
    path = tmp_path / "x.mpr"
    path.write_bytes(bytes(data))
    rec = read_mpr(path)
    assert rec.meta.instrument == name
    assert rec.meta.extra["device_code"] == str(code)
