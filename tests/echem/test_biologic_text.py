"""EC-Lab/BT-Lab text exports against the values EC-Lab's own export holds."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operando import echem
from operando.echem import read_mpt
from operando.errors import CorruptFileError, OperandoError, UnsupportedFormatError
from operando.synthetic import simulate_gcpl, write_eclab_mpt
from tests.conftest import real_files

EXPORTS = [
    rel
    for rel in real_files("echem/biologic/*")
    if rel.endswith((".mpt", ".txt")) and not rel.endswith(("sample_info.txt", "galvani_lfs_sha256.txt"))
]
# export column -> canonical column it becomes
CANONICAL = {
    "time/s": "time_s",
    "Ewe/V": "voltage_V",
    "<Ewe>/V": "voltage_V",
    "<Ewe/V>": "voltage_V",
    "Ecell/V": "voltage_V",
    "I/mA": "current_mA",
    "<I>/mA": "current_mA",
    "(Q-Qo)/mA.h": "charge_mAh",
    "cycle number": "cycle",
    "half cycle": "half_cycle",
    "Ns": "step",
}


@pytest.mark.realdata
@pytest.mark.parametrize("rel", EXPORTS)
def test_every_real_export_reads_with_reference_values(rel, real_file):
    path = real_file(rel)
    reference = json.loads(real_file("echem/biologic/REFERENCE_biologic.json").read_text())
    record = echem.read(path)
    assert record.meta.format == "biologic-mpt"
    assert record.meta.sha256 and record.meta.source == str(path)
    ref = reference.get(rel.removeprefix("echem/biologic/"), {})
    if "mpt_rows" in ref:
        assert len(record) == ref["mpt_rows"]
    checked = 0
    for key, (first, last) in ((k, v) for k, v in ref.items() if k.startswith("mpt_first_last[")):
        column = key[len("mpt_first_last[") : -1]
        values = record.data[CANONICAL.get(column, column)].to_numpy(dtype=float)
        np.testing.assert_allclose(values[[0, -1]], [first, last], rtol=1e-6, atol=1e-12, err_msg=column)
        checked += 1
    if ref.get("mpt_rows"):
        assert checked >= 1, f"{rel}: reference has no first/last values"
    if "device" in ref:
        assert ref["device"].startswith(record.meta.instrument)


@pytest.mark.realdata
def test_german_and_english_exports_agree(real_file):
    en = echem.read(real_file("echem/biologic/yadg/mb.issue_95.mpt"))
    de = echem.read(real_file("echem/biologic/yadg/mb.issue_95.de.mpt"))
    assert len(en) == len(de) == 33
    for column in ("time_s", "voltage_V", "current_mA", "charge_mAh", "half_cycle"):
        np.testing.assert_array_equal(en.data[column], de.data[column])


@pytest.mark.realdata
def test_metadata_of_a_vmp3_gcpl_export(real_file):
    record = echem.read(real_file("echem/biologic/yadg/gcpl.issue_211.mpt"), timezone="Europe/Berlin")
    m = record.meta
    assert (m.instrument, m.serial_number, m.software, m.software_version) == ("VMP3", "0858", "EC-Lab", "11.61")
    assert m.techniques == ("Galvanostatic Cycling with Potential Limitation",)
    assert m.active_mass_g == pytest.approx(0.790e-3)
    # "05/28/2025 14:23:16.145" Berlin summer time is 12:23:16.145 UTC
    assert m.start_time.isoformat() == "2025-05-28T12:23:16.145000+00:00"
    assert m.extra["timezone_assumed"] == "Europe/Berlin"


def test_synthetic_export_round_trip(tmp_path):
    cell = simulate_gcpl(cycles=2, dt_s=20.0)
    record = read_mpt(write_eclab_mpt(cell, tmp_path / "cell.mpt"))
    np.testing.assert_allclose(record.time_s, cell.time_s, atol=1e-9)
    np.testing.assert_allclose(record.voltage_V, cell.voltage_V, rtol=1e-7)
    np.testing.assert_allclose(record.current_mA, cell.current_mA, rtol=1e-12)
    np.testing.assert_allclose(record.charge_mAh, cell.charge_mAh, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(record.half_cycle, cell.half_cycle)
    assert record.meta.active_mass_g == pytest.approx(cell.active_mass_g)
    assert record.meta.start_time == cell.start_time
    assert "charge_mAh" not in record.meta.derived


@pytest.fixture
def export_bytes(tmp_path):
    cell = simulate_gcpl(dt_s=60.0)
    return write_eclab_mpt(cell, tmp_path / "cell.mpt").read_bytes()


def test_truncated_row_is_an_error_not_a_shorter_record(tmp_path, export_bytes):
    cut = tmp_path / "cut.mpt"
    cut.write_bytes(export_bytes[: len(export_bytes) - 40])
    with pytest.raises(CorruptFileError, match=r"cut.mpt: line \d+: row is incomplete"):
        read_mpt(cut)


def test_bad_number_names_line_and_column(tmp_path, export_bytes):
    lines = export_bytes.split(b"\r\n")
    n = int(lines[1].split(b":")[1])
    fields = lines[n + 2].split(b"\t")
    fields[9] = b"4.1x"
    lines[n + 2] = b"\t".join(fields)
    bad = tmp_path / "bad.mpt"
    bad.write_bytes(b"\r\n".join(lines))
    with pytest.raises(CorruptFileError, match=rf"line {n + 3}, column 'Ewe/V': '4.1x' is not a number"):
        read_mpt(bad)


def test_wrong_header_count(tmp_path, export_bytes):
    bad = tmp_path / "bad.mpt"
    count = export_bytes.split(b"\r\n")[1]
    bad.write_bytes(export_bytes.replace(count, b"Nb header lines : 99999", 1))
    with pytest.raises(CorruptFileError, match="header claims 99999 lines"):
        read_mpt(bad)


def test_not_an_export(tmp_path):
    other = tmp_path / "x.mpt"
    other.write_text("time,voltage\n0,1\n")
    with pytest.raises(UnsupportedFormatError, match="not an EC-Lab/BT-Lab text export"):
        read_mpt(other)
    # the extension's owner explains what is wrong rather than a generic "unknown format"
    with pytest.raises(UnsupportedFormatError, match="x.mpt: not an EC-Lab/BT-Lab text export"):
        echem.read(other)
    unknown = tmp_path / "x.dat"
    unknown.write_bytes(b"\x00\x01binary")
    with pytest.raises(UnsupportedFormatError, match="x.dat: not a recognised electrochemistry file"):
        echem.read(unknown)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_exports_read_or_fail_cleanly(tmp_path, export_bytes, data):
    blob = bytearray(export_bytes)
    cut = data.draw(st.integers(1, len(blob)), label="cut")
    blob = blob[:cut]
    for _ in range(data.draw(st.integers(0, 4), label="flips")):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    path = tmp_path / "mutated.mpt"
    path.write_bytes(bytes(blob))
    try:
        record = echem.read(path)
    except OperandoError as exc:
        assert str(path) in str(exc)
    else:
        assert len(record) <= 1 + export_bytes.count(b"\r\n")


def test_row_with_an_extra_cell_is_one_error_naming_the_line(tmp_path, export_bytes):
    lines = export_bytes.split(b"\r\n")
    n_header = int(lines[1].split(b":")[1])
    lines[n_header + 3] += b"\t1.0\t2.0"  # a damaged row: two cells more than the header names
    path = tmp_path / "extra.mpt"
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(CorruptFileError, match=rf"extra.mpt: line {n_header + 4}: rows with different numbers"):
        echem.read(path)
