"""Maccor text and EIS exports: against beep's and cellpy's expectations, bad input and mutated files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operando.echem import read_maccor, read_maccor_eis
from operando.errors import CorruptFileError, OperandoError, UnsupportedFormatError
from tests.echem._cycler_data import flip_bytes, real_file, sniffer

sniff_maccor = sniffer("maccor-txt")
sniff_maccor_eis = sniffer("maccor-eis")


# file -> (rows, channel, first/last voltage V, first/last test time s)
BEEP = {
    "PredictionDiagnostics_000151_test.052": (333, "52", (3.86823835, 3.86251621), (769267.24, 769270.57)),
    "PredictionDiagnostics_000109_tztest.010": (2165, "10", (4.10009918, 3.85381857), (1804441.3, 1837417.86)),
    "xTESLADIAG_000019_CH70.070": (11669, "70", (3.45845731, 3.10696574), (0.0, 136344.95)),
    "maccor_test_file_4267-66-6519.041": (74, "41", (3.90806439, 3.91172656), (0.0, 10.0)),
}


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(BEEP))
def test_beep_exports(name: str) -> None:
    rows, channel, volts, times = BEEP[name]
    path = real_file("echem", "maccor", "beep", name)
    assert sniff_maccor(path.read_bytes()[:4096], path)
    rec = read_maccor(path)
    assert len(rec) == rows
    assert rec.meta.channel == channel
    assert rec.meta.format == "maccor-txt"
    assert len(rec.meta.sha256) == 64
    np.testing.assert_allclose(rec.voltage_V[[0, -1]], volts)
    np.testing.assert_allclose(rec.time_s[[0, -1]], times)
    state = rec.data["State"].to_numpy()
    assert (rec.current_mA[state == "C"] >= 0).all()
    assert (rec.current_mA[state == "D"] <= 0).all()
    assert rec.meta.extra["timestamp_assumption"].endswith("in UTC")


@pytest.mark.realdata
def test_cellpy_golden_and_unsigned_discharge() -> None:
    rec = read_maccor(real_file("echem", "maccor", "cellpy", "maccor_001.txt"))
    assert len(rec) == 6704  # cellpy golden n_rows
    np.testing.assert_allclose(rec.voltage_V[[0, -1]], [3.4625, 3.55131])
    np.testing.assert_allclose(rec.time_s[[0, -1]], [0.0, 183171.57], atol=1e-6)
    assert rec.meta.channel == "1"
    assert str(rec.meta.start_time) == "2020-12-11 12:22:12+00:00"
    amps = rec.data["Amps"].to_numpy()
    discharge = rec.data["State"].to_numpy() == "D"
    assert (amps[discharge] > 0).any()  # written unsigned ...
    assert (rec.current_mA[discharge] < 0).all()  # ... signed here
    assert rec.units["Aux #1"] == "" and (rec.data["Aux #1 units"] == "C").all()
    berlin = read_maccor(real_file("echem", "maccor", "cellpy", "maccor_001.txt"), timezone="Europe/Berlin")
    assert (rec.data["timestamp"].iloc[0] - berlin.data["timestamp"].iloc[0]).total_seconds() == 3600.0


@pytest.mark.realdata
def test_cut_kit_export_needs_consent() -> None:
    path = real_file("echem", "maccor", "cellpy", "maccor_two.txt")
    with pytest.raises(CorruptFileError, match=r"maccor_two\.txt.*line 229.*truncated"):
        read_maccor(path)
    rec = read_maccor(path, drop_incomplete_last_row=True)
    assert len(rec) == 213
    assert "line 229" in rec.meta.extra["row_notes"]
    assert rec.meta.channel == "81"
    assert rec.meta.instrument == "Maccor (Maccor #4)"
    np.testing.assert_allclose(rec.time_s[[0, 1, -1]], [0.0, 60.0, 212 * 60.0])  # TestTime in minutes
    np.testing.assert_allclose(rec.voltage_V[[0, -1]], [0.1377, 0.1490])  # decimal commas
    assert "min" in rec.meta.extra["time_unit"]


@pytest.mark.realdata
def test_eis_export() -> None:
    path = real_file("echem", "maccor", "beep", "maccor_test_file_4267-66-6519.EDA0001.041")
    assert sniff_maccor_eis(path.read_bytes()[:256], path)
    assert not sniff_maccor(path.read_bytes()[:4096], path)
    rec = read_maccor_eis(path)
    assert len(rec) == 60
    assert rec.data["freq_Hz"].iloc[0] == 999999.0
    assert rec.data["Zreal_ohm"].iloc[0] == pytest.approx(0.773446)
    assert rec.data["Zimag_ohm"].iloc[0] == pytest.approx(-0.849201)
    assert rec.voltage_V[0] == pytest.approx(3.909893)
    assert rec.meta.channel == "41"
    assert str(rec.meta.start_time) == "2016-11-02 15:58:00+00:00"


@pytest.mark.realdata
def test_sniffers_leave_other_formats_alone() -> None:
    others = [
        real_file("echem", "gamry", "impedance.py", "exampleDataGamry.DTA"),
        real_file("echem", "biologic", "impedance.py", "exampleDataBioLogic.mpt"),
        real_file("echem", "arbin", "beep", "FastCharge_000025_CH8.csv"),
    ]
    for p in others:
        head = p.read_bytes()[:4096]
        assert not sniff_maccor(head, p) and not sniff_maccor_eis(head, p)


def test_bad_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "e.txt"
    empty.write_bytes(b"")
    with pytest.raises(CorruptFileError, match=r"e\.txt.*empty"):
        read_maccor(empty)
    noise = tmp_path / "n.052"
    noise.write_bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    with pytest.raises(UnsupportedFormatError, match="not a Maccor"):
        read_maccor(noise)
    with pytest.raises(UnsupportedFormatError, match="not a Maccor"):
        read_maccor_eis(noise)
    head_only = tmp_path / "h.052"
    head_only.write_text("Today's Date 10/10/2019  Date of Test:\t10/10/2019\n")
    with pytest.raises(CorruptFileError, match="Rec#"):
        read_maccor(head_only)
    text_in_numbers = tmp_path / "t.052"
    text_in_numbers.write_text(
        "Today's Date 1/1/2020  Date of Test:\t1/1/2020\nRec#\tCyc#\tStep\tTest (Sec)\tAmps\tVolts\tState\n"
        "1\t0\t1\t0.0\t0.0\t3.1\tR\n2\t0\t1\t1.0\t0.0\tx3.1\tR\n"
    )
    with pytest.raises(CorruptFileError, match=r"line 4, column 'Volts'"):
        read_maccor(text_in_numbers)


_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_FLIPS = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6)


def _read_or_raise(reader: object, path: Path) -> None:
    try:
        rec = reader(path)  # type: ignore[operator]
    except OperandoError:
        return
    assert len(rec) > 0


@pytest.mark.realdata
@_SETTINGS
@given(frac=st.floats(0.0, 1.0), flips=_FLIPS)
def test_mutated_export_reads_or_raises(tmp_path: Path, frac: float, flips: list[tuple[int, int]]) -> None:
    data = real_file("echem", "maccor", "beep", "PredictionDiagnostics_000151_test.052").read_bytes()
    data = flip_bytes(data[: max(1, int(len(data) * frac))], [p for p, _ in flips], [v for _, v in flips])
    target = tmp_path / "m.052"
    target.write_bytes(data)
    _read_or_raise(read_maccor, target)


@pytest.mark.realdata
@_SETTINGS
@given(frac=st.floats(0.0, 1.0), flips=_FLIPS)
def test_mutated_eis_reads_or_raises(tmp_path: Path, frac: float, flips: list[tuple[int, int]]) -> None:
    data = real_file("echem", "maccor", "beep", "maccor_test_file_4267-66-6519.EDA0001.041").read_bytes()
    data = flip_bytes(data[: max(1, int(len(data) * frac))], [p for p, _ in flips], [v for _, v in flips])
    target = tmp_path / "m.041"
    target.write_bytes(data)
    _read_or_raise(read_maccor_eis, target)
