"""Our own ``.ndax`` reader (ndc versions 14, 16, 17) against fastnda, value for value.

fastnda (Empa) is the anchor: every column our reader makes for every real ``.ndax`` of
these versions, in every cycle mode, equals fastnda's column bit for bit (dtype too), on
the files as they are and on copies with their auxiliary rows thinned (the join path).
Files of other versions go to fastnda, and the record says which reader read it.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operando import echem
from operando.echem import check_finite, read_neware
from operando.errors import CorruptFileError, OperandoError, UnsupportedFormatError
from tests.echem._cycler_data import real_file

fastnda = pytest.importorskip("fastnda")

#: real files read by our reader: (folder, file, ndc version)
OURS = [
    ("cellpy", "20260302_IFE_BTS85_2_9_8_1.ndax", 17),  # 252 951 rows, three auxiliary channels
    ("fastnda", "TESTCELL0001-Test_Data_Collection_Ndc17.ndax", 17),
    ("fastnda", "46_1_5_60_bts16.ndax", 16),
    ("fastnda", "21_10_7_85.ndax", 14),
    ("fastnda", "interp-test.ndax", 14),  # runInfo rows far apart: interpolated rows
    ("fastnda", "nw4-120-1-6-53.ndax", 14),
]


def _fastnda_columns(path: Path, cycle_mode: str) -> dict[str, np.ndarray]:
    import polars as pl

    frame = fastnda.read(path, cycle_mode=cycle_mode)
    out = {}
    for name in frame.columns:
        series = frame[name]
        if series.dtype == pl.Categorical:
            out[name] = np.asarray(series.cast(pl.String).to_list(), dtype=object)
        else:
            out[name] = series.to_numpy()
    return out


def _assert_same_columns(record: echem.EchemRecord, expected: dict[str, np.ndarray]) -> None:
    data = record.data
    # the canonical columns are fastnda's, converted
    np.testing.assert_array_equal(record.time_s, expected["total_time_s"].astype(np.float64))
    np.testing.assert_array_equal(record.voltage_V, expected["voltage_V"].astype(np.float64))
    np.testing.assert_array_equal(record.current_mA, expected["current_mA"].astype(np.float64))
    np.testing.assert_array_equal(data["cycle"], expected["cycle_count"].astype(np.int64))
    np.testing.assert_array_equal(data["step"], expected["step_index"].astype(np.int64))
    np.testing.assert_array_equal(
        data["timestamp"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64),
        np.round(expected["unix_time_s"] * 1e9).astype(np.int64),
    )
    for name, values in expected.items():
        if name in ("total_time_s", "voltage_V", "current_mA"):
            continue
        got = data[name].to_numpy()
        assert got.dtype == values.dtype, name
        if values.dtype.kind == "f":
            assert np.array_equal(got, values, equal_nan=True), name
        else:
            assert (got == values).all(), name
    extra = [c for c in data.columns[8:] if c not in ("total_time_s", "voltage_V", "current_mA")]
    assert sorted(extra) == sorted(k for k in expected if k not in ("total_time_s", "voltage_V", "current_mA"))


@pytest.mark.realdata
@pytest.mark.parametrize(("folder", "name", "version"), OURS, ids=[n for _, n, _ in OURS])
def test_equals_fastnda_value_for_value(folder: str, name: str, version: int) -> None:
    path = real_file("echem", "neware", folder, name)
    modes = ("chg", "dchg", "auto", "raw") if version != 17 or folder != "cellpy" else ("chg", "raw")
    for mode in modes:
        record = read_neware(path, cycle_mode=mode)  # type: ignore[arg-type]
        assert record.meta.extra["neware.reader"] == f"operando (ndc version {version})"
        _assert_same_columns(record, _fastnda_columns(path, mode))


@pytest.mark.realdata
@pytest.mark.parametrize(("folder", "name", "version"), OURS[1:3] + OURS[4:5], ids=["v17", "v16", "v14"])
def test_metadata_equals_fastnda(folder: str, name: str, version: int) -> None:
    path = real_file("echem", "neware", folder, name)
    ours = read_neware(path).meta
    expected = fastnda.read_metadata(path)
    client = expected["VersionInfo"]["ZwjVersion"]["CurrClientVer"]
    assert ours.software_version and ours.software_version in client
    info = expected["TestInfo"]["TestInfo"]
    assert ours.channel == "-".join(str(info[k]) for k in ("DevID", "UnitID", "ChlID"))
    assert ours.extra["neware.TestInfo.TestInfo.StartTime"] == info["StartTime"]
    assert ours.techniques and ours.start_time is not None


def _thin_aux(src: Path, dst: Path, keep_every: int) -> None:
    """A copy whose auxiliary members keep only every ``keep_every``-th row (validity bits cleared)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if "AUX" in item.filename or item.filename == "data_1.ndc":
                buf = bytearray(data)
                for page in range(1, len(buf) // 4096):
                    bits = np.unpackbits(np.frombuffer(buf, np.uint8, 124, page * 4096 + 4), bitorder="little")
                    bits[np.arange(bits.size) % keep_every != 0] = 0
                    buf[page * 4096 + 4 : page * 4096 + 128] = np.packbits(bits, bitorder="little").tobytes()
                data = bytes(buf)
            zout.writestr(item, data)


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["TESTCELL0001-Test_Data_Collection_Ndc17.ndax", "46_1_5_60_bts16.ndax"])
def test_auxiliary_rows_joined_by_row_number(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    _thin_aux(real_file("echem", "neware", "fastnda", name), path, keep_every=3)
    record = read_neware(path)
    assert record.meta.extra["neware.reader"].startswith("operando")
    expected = _fastnda_columns(path, "chg")
    aux = [k for k in expected if k.startswith("aux")]
    assert aux and np.isnan(record.data[aux[0]].to_numpy()).any()  # rows without an aux value
    _assert_same_columns(record, expected)


@pytest.mark.realdata
def test_other_versions_go_to_fastnda_and_say_so() -> None:
    record = read_neware(real_file("echem", "neware", "navani", "test.ndax"))  # ndc version 5
    assert record.meta.extra["neware.reader"].startswith("fastnda")
    assert "operando's own reader: no data_runInfo.ndc" in record.meta.extra["neware.reader"]
    assert len(record) == 1464


@pytest.mark.realdata
def test_without_fastnda_our_versions_read_others_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fastnda", None)  # import fastnda raises ImportError
    record = read_neware(real_file("echem", "neware", "fastnda", "21_10_7_85.ndax"))
    assert len(record) == 141
    with pytest.raises(UnsupportedFormatError, match=r"not one operando reads itself \(no data_runInfo.ndc\)"):
        read_neware(real_file("echem", "neware", "navani", "test.ndax"))


@pytest.mark.realdata
def test_member_cut_mid_page_is_one_error(tmp_path: Path) -> None:
    src = real_file("echem", "neware", "fastnda", "21_10_7_85.ndax")
    path = tmp_path / "cut.ndax"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            zout.writestr(item, data[:6000] if item.filename == "data.ndc" else data)
    with pytest.raises(CorruptFileError, match=r"member data.ndc is 6000 bytes, not a whole number of 4096-byte pages"):
        read_neware(path)


def _mutated(src: Path, dst: Path, member: str, flips: list[tuple[int, int]]) -> None:
    """A copy with bytes of one member changed (the zip itself stays valid)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = bytearray(zin.read(item.filename))
            if item.filename == member:
                for pos, value in flips:
                    data[pos % len(data)] = value
            zout.writestr(item, bytes(data))


@pytest.mark.realdata
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(["TESTCELL0001-Test_Data_Collection_Ndc17.ndax", "21_10_7_85.ndax", "46_1_5_60_bts16.ndax"]),
    member=st.sampled_from(["data.ndc", "data_runInfo.ndc", "data_step.ndc", "TestInfo.xml"]),
    flips=st.lists(st.tuples(st.integers(0, 20000), st.integers(0, 255)), min_size=1, max_size=12),
)
def test_damaged_members_read_or_refused_in_one_line(
    tmp_path: Path, name: str, member: str, flips: list[tuple[int, int]]
) -> None:
    path = tmp_path / name
    _mutated(real_file("echem", "neware", "fastnda", name), path, member, flips)
    try:
        record = read_neware(path)
    except OperandoError as exc:
        assert "\n" not in str(exc)
        return
    assert len(record) > 0 and np.isfinite(record.time_s).all()
    record.data  # noqa: B018 - every lazy column can be made
    try:  # what echem.read does next: a damaged value that overflowed to inf is refused by row
        check_finite(record)
    except OperandoError as exc:
        assert "\n" not in str(exc)
