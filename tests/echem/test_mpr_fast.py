"""The fast ``.mpr`` path keeps every check: cached column layouts, checks by min/max, and
metadata decoded on first use give what the eager path gave, and broken files are still
refused at read time (not later, when a lazy column or the metadata is first used)."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from operando import echem
from operando.echem import EchemMetadata, EchemRecord, read_mpr
from operando.errors import CorruptFileError, ParameterError, UnsupportedFormatError
from tests.echem._cycler_data import real_file
from tests.echem.test_biologic_mpr import make_mpr

# ID 4 time/s (f8), 6 Ewe/V (f4), 8 I/mA (f4)
_IDS = [4, 6, 8]


def _write(tmp_path: Path, name: str, raw: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(raw)
    return path


def _tvi(n: int) -> np.ndarray:
    rows = np.zeros(n, dtype=np.dtype([("t", "<f8"), ("E", "<f4"), ("I", "<f4")]))
    rows["t"] = np.arange(n) * 2.0
    rows["E"] = 3.0 + 0.001 * np.arange(n)
    rows["I"] = np.where(np.arange(n) % 20 < 10, 1.5, -1.5)
    return rows


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 3e9])
def test_damaged_time_refused_after_the_layout_is_cached(tmp_path: Path, bad: float) -> None:
    good = _tvi(50)
    first = read_mpr(_write(tmp_path, "good.mpr", make_mpr(_IDS, good)))  # caches the layout
    np.testing.assert_array_equal(first.time_s, good["t"])
    broken = good.copy()
    broken["t"][17] = bad
    with pytest.raises(CorruptFileError, match=r"column 'time/s': value .* at row 17 is not a time"):
        read_mpr(_write(tmp_path, "bad.mpr", make_mpr(_IDS, broken)))


def test_nan_voltage_refused_by_read_after_the_layout_is_cached(tmp_path: Path) -> None:
    good = _tvi(30)
    echem.read(_write(tmp_path, "good.mpr", make_mpr(_IDS, good)))
    broken = good.copy()
    broken["E"][4] = np.nan
    with pytest.raises(CorruptFileError, match=r"data row 5 \(1-based\) has voltage_V=nan"):
        echem.read(_write(tmp_path, "bad.mpr", make_mpr(_IDS, broken)))


def test_index_columns_checked_at_read_converted_on_use(tmp_path: Path) -> None:
    ids = [4, 6, 8, 24, 131]  # 24: cycle number (f8), 131: Ns (u2)
    dtype = np.dtype([("t", "<f8"), ("E", "<f4"), ("I", "<f4"), ("c", "<f8"), ("Ns", "<u2")])
    rows = np.zeros(12, dtype=dtype)
    rows["t"], rows["E"], rows["I"] = np.arange(12.0), 3.0, 1.0
    rows["c"], rows["Ns"] = np.arange(12) // 6 + 1e-7, np.arange(12) // 4
    record = read_mpr(_write(tmp_path, "ns.mpr", make_mpr(ids, rows)))
    assert record.data["step"].tolist() == (np.arange(12) // 4).tolist()
    assert record.data["cycle"].tolist() == (np.arange(12) // 6).tolist()  # rounded to the nearest
    assert not {"step", "cycle"} & set(record.meta.derived)
    for row, bad in ((2, np.nan), (7, np.inf), (11, 1e30)):
        broken = rows.copy()
        broken["c"][row] = bad
        with pytest.raises(CorruptFileError, match=rf"column 'cycle number': value .* at row {row} is not an index"):
            read_mpr(_write(tmp_path, f"c{row}.mpr", make_mpr(ids, broken)))


def test_many_files_with_one_column_layout(tmp_path: Path) -> None:
    # the second and later reads use the cached layout: values and errors stay per file
    for n in (1, 5, 9, 0):
        rows = _tvi(n)
        record = read_mpr(_write(tmp_path, f"n{n}.mpr", make_mpr(_IDS, rows)))
        np.testing.assert_array_equal(record.time_s, rows["t"])
        np.testing.assert_array_equal(record.voltage_V, rows["E"].astype(np.float64))
    for name in ("d.mpr", "e.mpr"):  # errors are not cached: each names its own file
        with pytest.raises(UnsupportedFormatError, match=r"unknown data column ID 250") as info:
            read_mpr(_write(tmp_path, name, make_mpr([4, 6, 250], _tvi(3))))
        assert name in str(info.value)


def _log_data_offset(buf: bytes) -> int:
    """File offset of the LOG module's data (both module header layouts)."""
    tag = buf.index(b"MODULEVMP LOG")
    (max_length,) = struct.unpack_from("<I", buf, tag + 6 + 35)
    return tag + 6 + (59 if max_length == 0xFFFFFFFF else 51)


@pytest.mark.realdata
def test_metadata_on_first_use() -> None:
    path = real_file("echem", "biologic", "yadg", "gcpl.issue_211.mpr")
    record = read_mpr(path, timezone="Europe/Berlin")
    assert record._complete_meta is not None  # nothing decoded yet
    assert len(record.data) == len(record) and record._complete_meta is not None  # the table does not decode it
    meta = record.meta
    assert record._complete_meta is None
    assert meta.start_time is not None and meta.start_time.tzinfo is not None
    assert meta.instrument and meta.software == "EC-Lab" and meta.software_version
    assert meta.active_mass_g is not None and meta.electrode_area_cm2 is not None
    assert {"technique_id", "column_ids", "modules", "column_map", "device_code"} <= set(meta.extra)
    assert len(meta.sha256) == 64
    # a pickled record carries the completed metadata; the start time is known before
    again = pickle.loads(pickle.dumps(read_mpr(path, timezone="Europe/Berlin")))
    assert again.meta == meta
    assert read_mpr(path, timezone="Europe/Berlin")._meta.start_time == meta.start_time


@pytest.mark.realdata
def test_damaged_start_time_and_unknown_zone_refused_at_read(tmp_path: Path) -> None:
    path = real_file("echem", "biologic", "yadg", "gcpl.issue_211.mpr")
    buf = bytearray(path.read_bytes())
    struct.pack_into("<d", buf, _log_data_offset(bytes(buf)) + 0x0249, float("nan"))  # the OLE start date
    broken = _write(tmp_path, "ole.mpr", bytes(buf))
    with pytest.raises(CorruptFileError, match="is not an OLE date"):
        read_mpr(broken)
    with pytest.raises(ParameterError, match="unknown time zone"):
        read_mpr(path, timezone="Mars/Olympus")


def test_lazy_current_must_be_declared_derived() -> None:
    t = np.arange(5.0)

    def current() -> np.ndarray:
        return np.ones(5)

    with pytest.raises(ValueError, match="meta.derived"):
        EchemRecord.from_columns(time_s=t, voltage_V=t, current_mA=current, meta=EchemMetadata())
    record = EchemRecord.from_columns(
        time_s=t, voltage_V=t, current_mA=current, meta=EchemMetadata(derived=("current_mA",))
    )
    eager = EchemRecord.from_columns(time_s=t, voltage_V=t, current_mA=np.ones(5), meta=EchemMetadata())
    np.testing.assert_array_equal(record.charge_mAh, eager.charge_mAh)
    np.testing.assert_array_equal(record.half_cycle, eager.half_cycle)


def test_time_edited_in_the_built_table_is_checked_again() -> None:
    t = np.arange(4.0)
    record = EchemRecord.from_columns(time_s=t, voltage_V=t + 3, current_mA=np.ones(4), meta=EchemMetadata())
    assert echem.check_finite(record) is record
    record.data.loc[2, "time_s"] = np.nan  # the table is built now: its time is looked at again
    with pytest.raises(CorruptFileError, match="data row 3"):
        echem.check_finite(record)


def test_directory_named_mpr_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "run.mpr"
    folder.mkdir()
    with pytest.raises(CorruptFileError, match="is a directory, expected an .mpr file"):
        echem.read(folder)
    with pytest.raises(FileNotFoundError):
        read_mpr(tmp_path / "missing.mpr")
