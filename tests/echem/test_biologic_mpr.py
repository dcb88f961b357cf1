"""Tests of the BioLogic EC-Lab / BT-Lab ``.mpr`` reader.

Real files come from ``$OPERANDO_TEST_DATA/echem/biologic`` (or ``<repo>/../shared/data``).
Where EC-Lab's own text export (``.mpt``/``.txt``) sits beside an ``.mpr``, it is the
independent expectation; it is parsed here with a small pandas reader, not with ours.
"""

from __future__ import annotations

import io
import re
import struct
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operando.echem import read_mpr
from operando.errors import CorruptFileError, OperandoError, ParameterError, UnsupportedFormatError
from tests.conftest import _checked, data_root, real_files
from tests.echem._cycler_data import sniffer

BIOLOGIC = data_root() / "echem" / "biologic"
# the pinned files (tests/realdata_sha256.txt), each checked by SHA-256 before use below
MPR_FILES = [data_root() / rel for rel in real_files("echem/biologic/*.mpr")] if BIOLOGIC.is_dir() else []


@pytest.fixture(autouse=True, scope="module")
def _pinned_files_unchanged() -> None:
    if BIOLOGIC.is_dir():
        for rel in real_files("echem/biologic/*"):
            _checked(rel)


NO_DATA = pytest.mark.skip(reason=f"real BioLogic files not found in {BIOLOGIC} (set OPERANDO_TEST_DATA)")
EXPORT_SUFFIXES = (".mpt", ".txt", ".de.mpt", ".old.mpt")


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(BIOLOGIC)) for p in paths]


def _mpr_params() -> list[object]:
    if not MPR_FILES:
        return [pytest.param(None, marks=NO_DATA, id="no-data")]
    return [pytest.param(p, id=i) for p, i in zip(MPR_FILES, _ids(MPR_FILES), strict=True)]


def _export_params() -> list[object]:
    pairs = [(m, m.parent / (m.name[: -len(".mpr")] + s)) for m in MPR_FILES for s in EXPORT_SUFFIXES]
    pairs = [(m, e) for m, e in pairs if e.is_file()]
    if not pairs:
        return [pytest.param(None, None, marks=NO_DATA, id="no-data")]
    return [pytest.param(m, e, id=str(e.relative_to(BIOLOGIC))) for m, e in pairs]


# -- an independent reader for EC-Lab text exports ----------------------------------------


def read_export(path: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """Parse an EC-Lab text export: header key/values and the data table.

    Line 2 says "Nb header lines : N"; line N holds the tab-separated column names, data
    follows. de_DE exports use a decimal comma. Encoding windows-1252.
    """
    lines = path.read_bytes().decode("windows-1252").splitlines()
    match = re.match(r"Nb header lines\s*:\s*(\d+)", lines[1])
    assert match, f"{path}: line 2 is not 'Nb header lines : N'"
    n_header = int(match.group(1))
    body = lines[n_header - 1 :]
    decimal = "," if len(body) > 1 and re.search(r"\d,\d+E[+-]\d", body[1]) else "."
    frame = pd.read_csv(io.StringIO("\n".join(body)), sep="\t", decimal=decimal)
    frame = frame.loc[:, [c for c in frame.columns if not c.startswith("Unnamed")]]
    if frame.empty:  # e.g. wait.mpt: a header line and no rows
        frame = frame.astype(np.float64)
    header: dict[str, str] = {}
    for line in lines[: n_header - 1]:
        if " : " in line:
            key, value = line.split(" : ", 1)
            header.setdefault(key.strip(), value.strip())
    return frame, header


# EIS harmonic-analysis columns: EC-Lab's export writes -1 / 0 placeholders in the first
# rows where the .mpr stores the measured values.
_EIS_PLACEHOLDER = re.compile(r"^(THD|NSD|NSR) |^\|(Ewe|I) h\d\|")


# -- real files --------------------------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.parametrize("path", _mpr_params())
def test_every_real_mpr_reads(path: Path) -> None:
    record = read_mpr(path)
    assert record.meta.format == "biologic-mpr"
    assert len(record.meta.sha256) == 64
    assert len(record.meta.techniques) == 1
    assert record.meta.techniques[0]
    assert list(record.data.columns[:8]) == [
        "time_s", "timestamp", "voltage_V", "current_mA", "charge_mAh", "cycle", "half_cycle", "step",
    ]  # fmt: skip
    assert record.data["time_s"].is_monotonic_increasing
    assert all(name in record.units for name in record.data.columns)
    if "VMP LOG" in record.meta.extra["modules"]:
        assert record.meta.start_time is not None
        assert record.meta.software in {"EC-Lab", "BT-Lab"}
        assert record.data["timestamp"].notna().all()


@pytest.mark.realdata
@pytest.mark.parametrize(("mpr", "export"), _export_params())
def test_canonical_columns_equal_ec_lab_export(mpr: Path, export: Path) -> None:
    record = read_mpr(mpr)
    frame, _ = read_export(export)
    assert len(record) == len(frame)
    data = record.data
    np.testing.assert_allclose(data["time_s"], frame["time/s"], rtol=0, atol=1e-3)
    v_name = next(c for c in ("Ewe/V", "<Ewe>/V", "<Ewe/V>", "Ecell/V") if c in frame.columns)
    np.testing.assert_allclose(data["voltage_V"], frame[v_name], rtol=1e-6, atol=1e-12)
    i_name = next((c for c in ("I/mA", "<I>/mA") if c in frame.columns), None)
    if i_name is None:  # OCV: no current in the export either
        assert "current_mA" in record.meta.derived
        assert (data["current_mA"] == 0).all()
    else:
        np.testing.assert_allclose(data["current_mA"], frame[i_name], rtol=1e-6, atol=1e-12)
    if "(Q-Qo)/mA.h" in frame.columns:
        np.testing.assert_allclose(data["charge_mAh"], frame["(Q-Qo)/mA.h"], rtol=1e-6, atol=1e-12)
    elif "(Q-Qo)/C" in frame.columns:
        np.testing.assert_allclose(data["charge_mAh"], frame["(Q-Qo)/C"] / 3.6, rtol=1e-6, atol=1e-12)
    for canonical, name in (("cycle", "cycle number"), ("half_cycle", "half cycle"), ("step", "Ns")):
        if name in frame.columns and canonical not in record.meta.derived:
            np.testing.assert_array_equal(data[canonical], frame[name].astype(np.int64), err_msg=canonical)
    for name in data.columns[8:]:
        if name not in frame.columns:
            continue  # EC-Lab renamed a few columns between versions (e.g. "Energy charge")
        ours = data[name].to_numpy(dtype=np.float64)
        theirs = frame[name].to_numpy(dtype=np.float64)
        if _EIS_PLACEHOLDER.search(name):
            keep = ~np.isin(theirs, (-1.0, 0.0))
            ours, theirs = ours[keep], theirs[keep]
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.realdata
@pytest.mark.parametrize(("mpr", "export"), _export_params())
def test_metadata_equals_ec_lab_export_header(mpr: Path, export: Path) -> None:
    record = read_mpr(mpr, timezone="UTC")
    _, header = read_export(export)
    meta = record.meta
    if "Acquisition started on" in header:
        text = header["Acquisition started on"]
        fmt = "%m/%d/%Y %H:%M:%S.%f" if "." in text else "%m/%d/%Y %H:%M:%S"
        expected = datetime.strptime(text, fmt).replace(tzinfo=UTC)
        assert meta.start_time is not None
        assert abs((meta.start_time - expected).total_seconds()) < 1e-3
    if "Device" in header:
        model, serial = re.match(r"(.+) \(SN (.+)\)", header["Device"]).groups()  # type: ignore[union-attr]
        assert meta.serial_number == serial
        assert meta.instrument is not None
        assert meta.instrument == model or (meta.instrument == "BCS-8xx" and model.startswith("BCS-8"))
    if "Mass of active material" in header:
        value, unit = header["Mass of active material"].replace(",", ".").split()
        assert unit == "mg"
        assert meta.active_mass_g == pytest.approx(float(value) / 1000, rel=1e-3)
    if "Electrode surface area" in header:
        value, unit = header["Electrode surface area"].replace(",", ".").split()
        if float(value) > 0:
            factor = {"cm²": 1.0, "mm²": 0.01}[unit]
            assert meta.electrode_area_cm2 == pytest.approx(float(value) * factor, rel=1e-3)


@pytest.mark.realdata
def test_wait_file_is_empty_like_the_ec_lab_export() -> None:
    # yadg 7.0.1 returns one row for wait.mpr; EC-Lab's export (and galvani) have none.
    path = BIOLOGIC / "yadg" / "wait.mpr"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    record = read_mpr(path)
    assert len(record) == 0
    assert record.meta.techniques == ("WAIT",)


@pytest.mark.realdata
def test_bt_lab_file_and_timezone() -> None:
    path = BIOLOGIC / "yadg" / "bcd.issue_241.mpr"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    utc = read_mpr(path)
    berlin = read_mpr(path, timezone="Europe/Berlin")
    assert (utc.meta.software, utc.meta.software_version) == ("BT-Lab", "1.79")
    assert "Ecell/V" not in utc.data.columns  # Ecell became voltage_V
    assert utc.meta.start_time is not None
    assert berlin.meta.start_time is not None
    assert (utc.meta.start_time - berlin.meta.start_time).total_seconds() == pytest.approx(3600.0)  # CET in November
    with pytest.raises(ParameterError, match="time zone"):
        read_mpr(path, timezone="Mars/Olympus")


_FUZZ_NAMES = ("zir.mpr", "mb.issue_95.mpr", "ocv.issue_149.mpr", "gcpl.issue_226.I.mpr")
_FUZZ_FILES = [BIOLOGIC / "yadg" / n for n in _FUZZ_NAMES if (BIOLOGIC / "yadg" / n).is_file()]


def _read_or_operando_error(path: Path) -> None:
    error: OperandoError | None = None
    try:
        read_mpr(path)
    except OperandoError as exc:
        error = exc
    if error is not None:
        assert str(path) in str(error)


@pytest.mark.realdata
@pytest.mark.skipif(not _FUZZ_FILES, reason=f"real BioLogic files not found in {BIOLOGIC}")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 3), where=st.floats(0.0, 1.0, exclude_max=True))
def test_truncated_real_files_raise_operando_errors(tmp_path: Path, which: int, where: float) -> None:
    raw = _FUZZ_FILES[which % len(_FUZZ_FILES)].read_bytes()
    target = tmp_path / "cut.mpr"
    target.write_bytes(raw[: int(where * len(raw))])
    with pytest.raises(OperandoError):
        read_mpr(target)


@pytest.mark.realdata
@pytest.mark.skipif(not _FUZZ_FILES, reason=f"real BioLogic files not found in {BIOLOGIC}")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.integers(0, 3),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=20),
)
def test_bit_flipped_real_files_read_or_raise_operando_errors(
    tmp_path: Path, which: int, flips: list[tuple[float, int]]
) -> None:
    raw = bytearray(_FUZZ_FILES[which % len(_FUZZ_FILES)].read_bytes())
    for where, mask in flips:
        raw[int(where * len(raw))] ^= mask
    target = tmp_path / "flipped.mpr"
    target.write_bytes(bytes(raw))
    _read_or_operando_error(target)


# -- synthetic files ------------------------------------------------------------------


def _module(name: bytes, payload: bytes, version: int, length: int | None = None) -> bytes:
    """An old-layout module (EC-Lab < 11.50): tag, names, length, version, date."""
    size = len(payload) if length is None else length
    return b"MODULE" + struct.pack("<10s25sII8s", name, name, size, version, b"01/02/24") + payload


def make_mpr(
    column_ids: list[int],
    rows: np.ndarray,
    *,
    technique: int = 11,
    version: int = 3,
    declared_rows: int | None = None,
    cut: int = 0,
) -> bytes:
    """A minimal ``.mpr``: file header, settings module, data module (no LOG)."""
    header = b"BIO-LOGIC MODULAR FILE\x1a" + b" " * 25 + b"\x00" * 4
    settings_data = bytearray(0x300)
    settings_data[0] = technique
    n = len(rows) if declared_rows is None else declared_rows
    data = bytearray(0x196 if version == 3 else 0x3EF)
    struct.pack_into("<IB", data, 0, n, len(column_ids))
    struct.pack_into(f"<{len(column_ids)}H", data, 5, *column_ids)
    payload = bytes(data) + rows.tobytes()
    payload = payload[: len(payload) - cut]
    return header + _module(b"VMP Set", bytes(settings_data), 0) + _module(b"VMP data", payload, version)


_TVI = np.dtype([("t", "<f8"), ("E", "<f4"), ("I", "<f4")])


def _tvi_rows(n: int) -> np.ndarray:
    rows = np.zeros(n, dtype=_TVI)
    rows["t"] = np.arange(n) * 10.0
    rows["E"] = 3.0 + 0.01 * np.arange(n)
    rows["I"] = np.where(np.arange(n) < n // 2, 1.0, -1.0)
    return rows


def _write(tmp_path: Path, raw: bytes, name: str = "synthetic.mpr") -> Path:
    path = tmp_path / name
    path.write_bytes(raw)
    return path


def test_sniff() -> None:
    sniff_mpr = sniffer("biologic-mpr")
    assert sniff_mpr(b"BIO-LOGIC MODULAR FILE\x1a", Path("a.mpr"))
    assert not sniff_mpr(b"EC-Lab ASCII FILE\r\n", Path("a.mpr"))
    assert not sniff_mpr(b"", Path("a.mpr"))


def test_synthetic_file_reads(tmp_path: Path) -> None:
    record = read_mpr(_write(tmp_path, make_mpr([4, 6, 8], _tvi_rows(10))))
    np.testing.assert_allclose(record.time_s, np.arange(10) * 10.0)
    np.testing.assert_allclose(record.voltage_V, 3.0 + 0.01 * np.arange(10), rtol=1e-6)
    assert record.half_cycle.tolist() == [0] * 5 + [1] * 5
    assert record.meta.techniques == ("OCV",)
    assert record.meta.start_time is None
    assert record.data["timestamp"].isna().all()
    assert {"charge_mAh", "cycle", "half_cycle", "step"} <= set(record.meta.derived)


def test_charge_in_coulomb_is_converted(tmp_path: Path) -> None:
    dtype = np.dtype([("t", "<f8"), ("E", "<f4"), ("I", "<f4"), ("Q", "<f4")])
    rows = np.zeros(3, dtype=dtype)
    rows["t"], rows["Q"] = [0.0, 1.0, 2.0], [0.0, 3.6, 7.2]
    record = read_mpr(_write(tmp_path, make_mpr([4, 6, 8, 178], rows)))
    np.testing.assert_allclose(record.charge_mAh, [0.0, 1.0, 2.0], rtol=1e-6)
    assert "charge_mAh" not in record.meta.derived
    assert "(Q-Qo)/C" not in record.data.columns


def test_current_derived_from_dq_when_absent(tmp_path: Path) -> None:
    dtype = np.dtype([("t", "<f8"), ("E", "<f4"), ("dq", "<f8")])
    rows = np.zeros(3, dtype=dtype)
    rows["t"], rows["dq"] = [0.0, 36.0, 72.0], [0.0, 0.01, -0.02]
    record = read_mpr(_write(tmp_path, make_mpr([4, 6, 7], rows)))
    np.testing.assert_allclose(record.current_mA, [0.0, 1.0, -2.0])
    assert "current_mA" in record.meta.derived
    assert record.units["dq/mA.h"] == "mA.h"


def test_high_byte_variant_and_override(tmp_path: Path) -> None:
    # 468 is "half cycle" (212 + 256); 326 is "P/W" (yadg would say "Pwe").
    dtype = np.dtype([("t", "<f8"), ("E", "<f4"), ("hc", "<u4"), ("P", "<f4")])
    rows = np.zeros(2, dtype=dtype)
    rows["t"], rows["hc"], rows["P"] = [0.0, 1.0], [0, 1], [0.5, 0.25]
    record = read_mpr(_write(tmp_path, make_mpr([4, 6, 468, 326], rows)))
    assert record.half_cycle.tolist() == [0, 1]
    assert record.data["P/W"].tolist() == [0.5, 0.25]
    assert record.units["P/W"] == "W"


def test_empty_file(tmp_path: Path) -> None:
    path = _write(tmp_path, b"")
    with pytest.raises(UnsupportedFormatError, match=r"empty \(0 bytes\)") as info:
        read_mpr(path)
    assert str(path) in str(info.value)


def test_random_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path, np.random.default_rng(0).bytes(4096))
    with pytest.raises(UnsupportedFormatError, match="offset 0 holds"):
        read_mpr(path)


def test_magic_only(tmp_path: Path) -> None:
    with pytest.raises(CorruptFileError, match="shorter than the 52-byte file header"):
        read_mpr(_write(tmp_path, b"BIO-LOGIC MODULAR FILE"))


def test_unknown_column_id_names_offset_and_id(tmp_path: Path) -> None:
    path = _write(tmp_path, make_mpr([4, 6, 255], np.zeros(2, dtype=[("t", "<f8"), ("E", "<f4"), ("x", "<f4")])))
    expected = r"offset \d+: unknown data column ID 255 \(column 3, after 'Ewe/V'\)"
    with pytest.raises(UnsupportedFormatError, match=expected):
        read_mpr(path)


def test_truncated_data_module(tmp_path: Path) -> None:
    raw = make_mpr([4, 6, 8], _tvi_rows(10), declared_rows=11)
    with pytest.raises(CorruptFileError, match=r"data module truncated: header says 11 rows of 16 bytes"):
        read_mpr(_write(tmp_path, raw))


def test_file_cut_inside_a_module(tmp_path: Path) -> None:
    raw = make_mpr([4, 6, 8], _tvi_rows(10))
    with pytest.raises(CorruptFileError, match=r"module 'VMP data' declares \d+ bytes of data but only \d+ remain"):
        read_mpr(_write(tmp_path, raw[:-5]))


def test_unknown_data_module_version(tmp_path: Path) -> None:
    raw = make_mpr([4, 6, 8], _tvi_rows(2), version=7)
    with pytest.raises(UnsupportedFormatError, match=r"data module version 7 is not supported"):
        read_mpr(_write(tmp_path, raw))


def test_unknown_technique(tmp_path: Path) -> None:
    raw = make_mpr([4, 6, 8], _tvi_rows(2), technique=200)
    with pytest.raises(UnsupportedFormatError, match=r"unknown technique ID 200"):
        read_mpr(_write(tmp_path, raw))


def test_nan_time_is_corrupt(tmp_path: Path) -> None:
    rows = _tvi_rows(3)
    rows["t"][1] = np.nan
    with pytest.raises(CorruptFileError, match=r"'time/s': value nan at row 1"):
        read_mpr(_write(tmp_path, make_mpr([4, 6, 8], rows)))


def test_garbage_after_last_module(tmp_path: Path) -> None:
    raw = make_mpr([4, 6, 8], _tvi_rows(2)) + b"junk"
    with pytest.raises(CorruptFileError, match=r"expected a module tag"):
        read_mpr(_write(tmp_path, raw))
