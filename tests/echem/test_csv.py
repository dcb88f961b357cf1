"""Plain CSV/TSV reader with a column mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operando.echem import read_csv
from operando.errors import CorruptFileError, MissingMetadataError, OperandoError, ParameterError
from tests.echem._cycler_data import flip_bytes, real_file, sniffer

sniff_csv = sniffer("csv")


TEXT = (
    "t_h;U;I_uA;when\n0,0;3,50;100;2021-06-05 11:23:46\n"
    "0,5;3,60;100;2021-06-05 11:53:46\n1,0;3,55;-50;2021-06-05 12:23:46\n"
)


def _write(tmp_path: Path, text: str | bytes, name: str = "x.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_units_decimal_comma_and_timezone(tmp_path: Path) -> None:
    rec = read_csv(
        _write(tmp_path, TEXT),
        columns={"time_s": "t_h", "voltage_V": "U", "current_mA": "I_uA", "timestamp": "when"},
        units={"time_s": "h", "current_mA": "uA"},
        decimal=",",
        timezone="Europe/Berlin",
    )
    np.testing.assert_allclose(rec.time_s, [0.0, 1800.0, 3600.0])
    np.testing.assert_allclose(rec.current_mA, [0.1, 0.1, -0.05])
    np.testing.assert_allclose(rec.voltage_V, [3.5, 3.6, 3.55])
    assert str(rec.data["timestamp"].iloc[0]) == "2021-06-05 09:23:46+00:00"
    assert "Europe/Berlin" in rec.meta.extra["timestamp_assumption"]
    assert rec.meta.format == "csv"
    assert rec.charge_mAh[-1] == pytest.approx(0.1 * 0.5 + 0.025 * 0.5)
    assert rec.half_cycle.tolist() == [0, 0, 1]


def test_units_from_column_names_and_durations(tmp_path: Path) -> None:
    text = (
        "Time,Voltage(mV),Current(A),Capacity(Ah),Cycle,Note\n00:00:00,3500,0.001,0,1,a\n00:01:00,3600,0.001,1e-5,1,b\n"
    )
    rec = read_csv(
        _write(tmp_path, text),
        columns={
            "time_s": "Time",
            "voltage_V": "Voltage(mV)",
            "current_mA": "Current(A)",
            "charge_mAh": "Capacity(Ah)",
            "cycle": "Cycle",
        },
        invert_current=True,
    )
    np.testing.assert_allclose(rec.time_s, [0.0, 60.0])
    np.testing.assert_allclose(rec.voltage_V, [3.5, 3.6])
    np.testing.assert_allclose(rec.current_mA, [-1.0, -1.0])
    np.testing.assert_allclose(rec.charge_mAh, [0.0, -0.01])
    assert rec.data["Note"].tolist() == ["a", "b"]
    assert rec.data["cycle"].tolist() == [1, 1]


def test_missing_mapping_lists_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, TEXT)
    with pytest.raises(MissingMetadataError, match=r"current_mA.*the file has \['t_h', 'U', 'I_uA', 'when'\]"):
        read_csv(path, columns={"time_s": "t_h", "voltage_V": "U"})
    with pytest.raises(MissingMetadataError, match=r"'Amps'.*not in the file"):
        read_csv(path, columns={"time_s": "t_h", "voltage_V": "U", "current_mA": "Amps"})
    with pytest.raises(ParameterError, match="cannot be converted"):
        read_csv(
            path,
            columns={"time_s": "t_h", "voltage_V": "U", "current_mA": "I_uA"},
            units={"current_mA": "furlong"},
            decimal=",",
        )


def test_bad_cells_and_bad_files(tmp_path: Path) -> None:
    mapping = {"time_s": "t", "voltage_V": "v", "current_mA": "i"}
    with pytest.raises(CorruptFileError, match=r"line 3, column 'v': 'x' is not a number"):
        read_csv(_write(tmp_path, "t,v,i\n0,1,2\n1,x,2\n"), columns=mapping)
    with pytest.raises(CorruptFileError, match="empty"):
        read_csv(_write(tmp_path, b""), columns=mapping)
    with pytest.raises(CorruptFileError, match="NUL"):
        read_csv(_write(tmp_path, b"t,v,i\n\x00\x01"), columns=mapping)
    with pytest.raises(CorruptFileError, match="no data rows"):
        read_csv(_write(tmp_path, "t,v,i\n"), columns=mapping)
    with pytest.raises(CorruptFileError, match="decode"):
        read_csv(_write(tmp_path, b"t,v,i\n0,\xff\xfe,1\n"), columns=mapping)


def test_sniff(tmp_path: Path) -> None:
    assert sniff_csv(TEXT.encode(), tmp_path / "a.dat")
    assert not sniff_csv(b"\x00\x01\x02", tmp_path / "a.csv")
    assert not sniff_csv(b"EXPLAIN\nTAG\tEISPOT\nTITLE\tLABEL\tPotentiostatic EIS\tTest\n", tmp_path / "a.DTA")


@pytest.mark.realdata
def test_btsda_csv_matches_ndax() -> None:
    from operando.echem import read_neware

    rec = read_csv(
        real_file("echem", "neware", "fastnda", "interp-test.csv"),
        columns={
            "time_s": "Total Time",
            "timestamp": "Date",
            "voltage_V": "Voltage(mV)",
            "current_mA": "Current(\xb5A)",
            "step": "Step Index",
        },
        encoding="latin-1",
    )
    ref = read_neware(real_file("echem", "neware", "fastnda", "interp-test.ndax"))
    assert len(rec) == len(ref) == 333
    np.testing.assert_allclose(rec.voltage_V, ref.voltage_V, atol=5e-5)
    np.testing.assert_allclose(rec.time_s, ref.time_s, atol=1e-3)


@pytest.mark.realdata
def test_neware_uio_csv_rows() -> None:
    rec = read_csv(
        real_file("echem", "neware", "cellpy", "neware_uio.csv"),
        columns={"time_s": "Cumulative Time", "voltage_V": "Voltage(V)", "current_mA": "Current(A)"},
    )
    assert len(rec) == 9065  # cellpy golden
    assert rec.voltage_V[0] == 2.917
    assert rec.voltage_V[-1] == pytest.approx(0.4251)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frac=st.floats(0.0, 1.0), flips=st.lists(st.tuples(st.integers(0, 10**5), st.integers(0, 255)), max_size=6))
@pytest.mark.realdata
def test_mutated_csv_reads_or_raises(tmp_path: Path, frac: float, flips: list[tuple[int, int]]) -> None:
    data = real_file("echem", "arbin", "beep", "FastCharge_000025_CH8.csv").read_bytes()
    data = flip_bytes(data[: max(1, int(len(data) * frac))], [p for p, _ in flips], [v for _, v in flips])
    path = _write(tmp_path, data)
    try:
        rec = read_csv(path, columns={"time_s": "Test_Time", "voltage_V": "Voltage", "current_mA": "Current"})
    except OperandoError:
        return
    assert len(rec) > 0


def test_write_csv_reads_back_as_written(tmp_path):
    """write_csv + read: the same record (canonical columns, units, half cycles), with a file checksum."""
    from operando.echem import read, write_csv
    from operando.synthetic import simulate_symmetric_cell

    rec = simulate_symmetric_cell(half_cycle_s=600.0, half_cycles=4, dt_s=20.0, short_at_s=2000.0, seed=3)
    path = write_csv(rec, tmp_path / "cell.csv")
    back = read(path)
    assert back.meta.format == "csv" and back.meta.sha256 and back.meta.source == str(path)
    assert len(back) == len(rec)
    np.testing.assert_allclose(back.time_s, rec.time_s, rtol=1e-9)
    np.testing.assert_allclose(back.voltage_V, rec.voltage_V, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(back.charge_mAh, rec.charge_mAh, rtol=1e-9, atol=1e-12)
    assert (back.half_cycle == rec.half_cycle).all()
    assert not list(tmp_path.glob(".*tmp"))


def test_write_csv_keeps_the_dates(tmp_path):
    """A dated record comes back dated (scans are placed on it by absolute time); an undated one stays undated."""
    import pandas as pd

    from operando.echem import EchemMetadata, EchemRecord, read, write_csv

    t = np.arange(0.0, 100.0, 10.0)
    start = pd.Timestamp("2026-03-02 09:00:00", tz="UTC")
    dated = EchemRecord.from_columns(
        time_s=t, voltage_V=np.full(t.size, 0.1), current_mA=np.full(t.size, 0.5),
        timestamp=start + pd.to_timedelta(t, unit="s"), meta=EchemMetadata(source="", format="synthetic"),
    )  # fmt: skip
    back = read(write_csv(dated, tmp_path / "dated.csv"))
    assert back.start_timestamp == start
    assert (back.data["timestamp"] == dated.data["timestamp"]).all()
    undated = EchemRecord.from_columns(
        time_s=t, voltage_V=np.full(t.size, 0.1), current_mA=np.full(t.size, 0.5),
        meta=EchemMetadata(source="", format="synthetic"),
    )  # fmt: skip
    assert read(write_csv(undated, tmp_path / "undated.csv")).start_timestamp is None
