"""Neware .nda/.ndax reader: against BTSDA vendor exports, bad input and mutated files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operando.echem import read_neware
from operando.errors import CorruptFileError, OperandoError, UnsupportedFormatError
from tests.echem._cycler_data import flip_bytes, real_file, sniffer

sniff_neware = sniffer("neware")


pl = pytest.importorskip("polars")

# file stem -> (suffix, BTSDA rows)
BTSDA = {
    "21_10_7_85": (".ndax", 141),
    "46_1_5_60_bts16": (".ndax", 84),
    "TESTCELL0001-Test_Data_Collection_Ndc17": (".ndax", 80),
    "interp-test": (".ndax", 333),
    "nda_v8": (".nda.zip", 21),
    "nda_v22": (".nda.zip", 1380),
    "new_nda_file": (".nda.zip", 439),
    "TestFile": (".nda.zip", 6670),
    "nw4-120-1-6-53": (".ndax", 18700),
}


@pytest.mark.realdata
@pytest.mark.parametrize("stem", sorted(BTSDA))
def test_matches_btsda_export(stem: str) -> None:
    suffix, rows = BTSDA[stem]
    rec = read_neware(real_file("echem", "neware", "fastnda", stem + suffix))
    ref = pl.read_parquet(real_file("echem", "neware", "fastnda", stem + ".parquet"))
    assert len(rec) == rows == ref.height
    np.testing.assert_allclose(rec.time_s, ref["Total Time"].to_numpy(), rtol=0, atol=1e-3)
    # BTSDA writes 0.1 mV and 1 uA resolution (float32): compare within half a digit
    v_mV = ref["Voltage(mV)"].to_numpy().astype(np.float64)
    np.testing.assert_allclose(rec.voltage_V * 1e3, v_mV, rtol=1e-6, atol=0.05 + 1e-6 * np.abs(v_mV).max())
    i_uA = ref["Current(uA)"].to_numpy().astype(np.float64)
    np.testing.assert_allclose(rec.current_mA * 1e3, i_uA, rtol=1e-6, atol=0.5 + 1e-6 * np.abs(i_uA).max())
    assert rec.meta.format in ("neware-ndax", "neware-nda")
    assert len(rec.meta.sha256) == 64
    assert rec.units["capacity_mAh"] == "mA h"


@pytest.mark.realdata
def test_sign_convention_and_cumulative_charge() -> None:
    rec = read_neware(real_file("echem", "neware", "fastnda", "TestFile.nda.zip"))
    kind = rec.data["step_type"].astype(str)
    assert (rec.current_mA[kind.str.endswith("_Chg").to_numpy()] >= 0).all()
    assert (rec.current_mA[kind.str.endswith("_DChg").to_numpy()] <= 0).all()
    # the per-step capacity restarts, the canonical charge keeps counting
    step_end = np.flatnonzero(np.diff(rec.data["step_count"].to_numpy().astype(int)) != 0)
    assert np.allclose(
        rec.charge_mAh[step_end + 1] - rec.data["capacity_mAh"].to_numpy()[step_end + 1],
        rec.charge_mAh[step_end],
        atol=1e-6,
    )
    assert rec.meta.techniques == ("Rest", "CC_DChg", "CC_Chg", "CV_Chg")
    assert rec.meta.extra["neware.zip_member"] == "TestFile.nda"
    assert str(rec.meta.start_time).startswith("2024-05-27 08:02:53")


@pytest.mark.realdata
def test_ndax_metadata_and_timezone_option() -> None:
    path = real_file("echem", "neware", "navani", "test.ndax")
    rec = read_neware(path)
    assert len(rec) == 1464
    assert rec.meta.channel == "16-1-7"
    assert rec.meta.software == "BTS Client"
    assert rec.meta.software_version.startswith("8.0.0.513")
    shifted = read_neware(path, timezone="Europe/Berlin")
    delta = rec.data["timestamp"].iloc[0] - shifted.data["timestamp"].iloc[0]
    assert delta.total_seconds() == 3600.0  # February: CET = UTC+1
    assert "Europe/Berlin" in shifted.meta.extra["timestamp_assumption"]


@pytest.mark.realdata
def test_plain_nda_and_time_jump_warning_recorded() -> None:
    rec = read_neware(real_file("echem", "neware", "navani", "test.nda"))
    assert len(rec) == 439
    assert rec.meta.format == "neware-nda"
    assert rec.meta.active_mass_g == pytest.approx(1e-3)
    big = read_neware(real_file("echem", "neware", "cellpy", "20260302_IFE_BTS85_2_9_8_1.ndax"))
    assert len(big) == 252_951
    assert "negative jumps" in big.meta.extra["reader_warnings"]
    assert "aux1_temperature_degC" in big.data or any(c.startswith("aux") for c in big.data.columns)


def test_bad_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.ndax"
    empty.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="empty"):
        read_neware(empty)
    noise = tmp_path / "noise.nda"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(UnsupportedFormatError, match="not a Neware file"):
        read_neware(noise)
    fake = tmp_path / "fake.nda"
    fake.write_bytes(b"NEWARE" + bytes(200))
    with pytest.raises(OperandoError, match=r"fake\.nda"):
        read_neware(fake)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(UnsupportedFormatError, match="no Neware data"):
        read_neware(other_zip)
    assert not sniff_neware(b"hello", other_zip)
    assert sniff_neware(b"NEWARE\x00", tmp_path / "x.bin")


@pytest.mark.realdata
def test_sniff_real_files() -> None:
    for parts in (("fastnda", "46_1_5_60_bts16.ndax"), ("fastnda", "TestFile.nda.zip"), ("navani", "test.nda")):
        path = real_file("echem", "neware", *parts)
        assert sniff_neware(path.read_bytes()[:64], path)
    gamry = real_file("echem", "gamry", "impedance.py", "exampleDataGamry.DTA")
    assert not sniff_neware(gamry.read_bytes()[:64], gamry)


def _truncated_ndax_raises(tmp_path: Path) -> None:
    data = real_file("echem", "neware", "fastnda", "46_1_5_60_bts16.ndax").read_bytes()
    cut = tmp_path / "cut.ndax"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError):
        read_neware(cut)


@pytest.mark.realdata
def test_truncated_ndax(tmp_path: Path) -> None:
    _truncated_ndax_raises(tmp_path)


def _mutate_and_read(tmp_path: Path, name: str, data: bytes) -> None:
    target = tmp_path / name
    target.write_bytes(data)
    try:
        rec = read_neware(target)
    except OperandoError:
        return
    assert len(rec) > 0


_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.realdata
@_SETTINGS
@given(frac=st.floats(0.0, 1.0), flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6))
def test_mutated_ndax_reads_or_raises(tmp_path: Path, frac: float, flips: list[tuple[int, int]]) -> None:
    data = real_file("echem", "neware", "fastnda", "46_1_5_60_bts16.ndax").read_bytes()
    data = data[: max(1, int(len(data) * frac))]
    data = flip_bytes(data, [p for p, _ in flips], [v for _, v in flips])
    _mutate_and_read(tmp_path, "m.ndax", data)


@pytest.mark.realdata
@_SETTINGS
@given(frac=st.floats(0.0, 1.0), flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6))
def test_mutated_nda_reads_or_raises(tmp_path: Path, frac: float, flips: list[tuple[int, int]]) -> None:
    with zipfile.ZipFile(real_file("echem", "neware", "fastnda", "new_nda_file.nda.zip")) as zf:
        data = zf.read(zf.namelist()[0])
    data = data[: max(1, int(len(data) * frac))]
    data = flip_bytes(data, [p for p, _ in flips], [v for _, v in flips])
    _mutate_and_read(tmp_path, "m.nda", data)


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["new_nda_file.nda.zip", "TestFile.nda.zip", "nda_v22.nda.zip"])
def test_truncated_nda_is_not_silently_short(tmp_path: Path, name: str) -> None:
    with zipfile.ZipFile(real_file("echem", "neware", "fastnda", name)) as zf:
        data = zf.read(zf.namelist()[0])
    cut = tmp_path / "cut.nda"
    cut.write_bytes(data[: int(len(data) * 0.9)])
    with pytest.raises(CorruptFileError, match="truncated"):
        read_neware(cut)
