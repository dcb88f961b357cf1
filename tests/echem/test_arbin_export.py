"""Arbin CSV (MITS SQL export) and MITS Excel export readers."""

from __future__ import annotations

import contextlib
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operando.echem import read_arbin_csv, read_arbin_xlsx
from operando.errors import CorruptFileError, OperandoError, UnsupportedFormatError
from tests.echem._cycler_data import flip_bytes, real_file, sniffer

sniff_arbin_csv = sniffer("arbin-csv")
sniff_arbin_xlsx = sniffer("arbin-xlsx")


XLSX = ("echem", "arbin", "navani", "bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx")
# stem -> (rows, channel, first/last voltage V, first/last test time s)
CSV = {
    "2017-05-09_test-TC-contact_CH33": (287, "33", (3.298668384552002, 3.4119858741760254), (0.0, 1022.8913)),
    "FastCharge_000025_CH8": (248, "8", (3.3011441, 3.3009677), (10.0024, 1800.0104)),
}


@pytest.mark.realdata
@pytest.mark.parametrize("stem", sorted(CSV))
def test_beep_csv(stem: str) -> None:
    rows, channel, volts, times = CSV[stem]
    real_file("echem", "arbin", "beep", stem + "_Metadata.csv")
    path = real_file("echem", "arbin", "beep", stem + ".csv")
    assert sniff_arbin_csv(path.read_bytes()[:4096], path)
    rec = read_arbin_csv(path)
    assert len(rec) == rows
    assert rec.meta.channel == channel  # IV_Ch_ID + 1, as in the file names
    assert rec.meta.format == "arbin-csv"
    np.testing.assert_allclose(rec.voltage_V[[0, -1]], volts)
    np.testing.assert_allclose(rec.time_s[[0, -1]], times)
    unix = rec.data["DateTime"].to_numpy(dtype=float)
    assert rec.data["timestamp"].iloc[0].timestamp() == pytest.approx(unix[0], abs=1e-3)
    assert rec.meta.extra["metadata_file"] == stem + "_Metadata.csv"


@pytest.mark.realdata
def test_charge_from_capacities() -> None:
    rec = read_arbin_csv(real_file("echem", "arbin", "beep", "2017-05-09_test-TC-contact_CH33.csv"))
    chg = rec.data["Charge_Capacity"].to_numpy(dtype=float) - rec.data["Discharge_Capacity"].to_numpy(dtype=float)
    np.testing.assert_allclose(rec.charge_mAh, (chg - chg[0]) * 1e3, atol=1e-9)
    assert str(rec.meta.start_time) == "2017-05-10 00:47:33+00:00"
    assert "cycle" in rec.meta.derived  # Cycle_Index is empty in this export


@pytest.mark.realdata
def test_csv_without_metadata_file(tmp_path: Path) -> None:
    alone = tmp_path / "FastCharge_000025_CH8.csv"
    alone.write_bytes(real_file("echem", "arbin", "beep", "FastCharge_000025_CH8.csv").read_bytes())
    rec = read_arbin_csv(alone)
    assert len(rec) == 248
    assert rec.meta.channel is None
    assert str(rec.meta.start_time) == "2017-05-13 03:13:53.469100+00:00"


@pytest.mark.realdata
def test_navani_xlsx() -> None:
    path = real_file(*XLSX)
    assert sniff_arbin_xlsx(path.read_bytes()[:64], path)
    rec = read_arbin_xlsx(path)
    assert len(rec) == 4526  # navani: shape (4526, 22)
    assert rec.meta.channel == "11"
    assert rec.meta.software_version == "PV7.0 Build: 180508USB"
    assert str(rec.meta.start_time) == "2020-10-19 11:33:31+00:00"
    np.testing.assert_allclose(rec.time_s[[0, -1]], [1.001, 1204815.81068])
    np.testing.assert_allclose(rec.voltage_V[[0, -1]], [2.637298583984375, 0.07228660583496094])
    # navani's "Current -0.00001827" is a mean over its per-cycle summary, not over these rows
    assert rec.current_mA.mean() / 1e3 == pytest.approx(-1.8234e-05, rel=1e-3)
    net = rec.data["Charge_Capacity(Ah)"].iloc[-1] - rec.data["Discharge_Capacity(Ah)"].iloc[-1]
    assert rec.charge_mAh[-1] == pytest.approx(net * 1e3)
    berlin = read_arbin_xlsx(path, timezone="Europe/Berlin")
    assert (rec.data["timestamp"].iloc[0] - berlin.data["timestamp"].iloc[0]).total_seconds() == 7200.0


def test_bad_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="empty"):
        read_arbin_csv(empty)
    other = tmp_path / "o.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(UnsupportedFormatError, match="not an Arbin CSV"):
        read_arbin_csv(other)
    cut = tmp_path / "c.csv"
    cut.write_text("Data_Point,Test_Time,DateTime,Current,Voltage\n0,0.0,1494377253.1,1.0,3.3\n1,1.0,14943")
    with pytest.raises(CorruptFileError, match="truncated"):
        read_arbin_csv(cut)
    assert not sniff_arbin_xlsx(b"PK\x03\x04", other)
    z = tmp_path / "z.xlsx"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("xl/workbook.xml", '<workbook><sheets><sheet name="Sheet1"/></sheets></workbook>')
    with pytest.raises(UnsupportedFormatError, match="Global_Info"):
        read_arbin_xlsx(z)
    with pytest.raises(UnsupportedFormatError, match="not a zip"):
        read_arbin_xlsx(other)
    noise = tmp_path / "n.xlsx"
    noise.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    with pytest.raises(CorruptFileError, match=r"n\.xlsx"):
        read_arbin_xlsx(noise)


_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_FLIPS = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6)


@pytest.mark.realdata
@_SETTINGS
@given(frac=st.floats(0.0, 1.0), flips=_FLIPS)
def test_mutated_csv_reads_or_raises(tmp_path: Path, frac: float, flips: list[tuple[int, int]]) -> None:
    data = real_file("echem", "arbin", "beep", "FastCharge_000025_CH8.csv").read_bytes()
    data = flip_bytes(data[: max(1, int(len(data) * frac))], [p for p, _ in flips], [v for _, v in flips])
    target = tmp_path / "m.csv"
    target.write_bytes(data)
    with contextlib.suppress(OperandoError):
        assert len(read_arbin_csv(target)) > 0


@pytest.mark.realdata
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frac=st.floats(0.0, 1.0), flips=_FLIPS)
def test_mutated_xlsx_reads_or_raises(tmp_path: Path, frac: float, flips: list[tuple[int, int]]) -> None:
    data = real_file(*XLSX).read_bytes()
    data = flip_bytes(data[: max(1, int(len(data) * frac))], [p for p, _ in flips], [v for _, v in flips])
    target = tmp_path / "m.xlsx"
    target.write_bytes(data)
    with contextlib.suppress(OperandoError):
        assert len(read_arbin_xlsx(target)) > 0
