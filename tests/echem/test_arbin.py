"""Arbin .res reader (access-parser) against the README's mdbtools values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operando.echem import read_arbin_res
from operando.errors import CorruptFileError, OperandoError, UnsupportedFormatError
from tests.echem._cycler_data import flip_bytes, real_file, sniffer

sniff_arbin_res = sniffer("arbin-res")


@pytest.mark.realdata
def test_cellpy_res_matches_mdbtools_values() -> None:
    path = real_file("echem", "arbin", "cellpy", "20160805_test001_45_cc_01.res")
    rec = read_arbin_res(path)
    assert len(rec) == 10261
    assert rec.time_s[0] == 300.0104819316021
    assert rec.time_s[-1] == 859077.2406335169
    assert rec.voltage_V[0] == pytest.approx(3.0976174, abs=5e-8)
    assert rec.voltage_V[-1] == pytest.approx(0.2940689, abs=5e-8)
    assert rec.data["cycle"].iloc[0] == 1
    assert rec.data["cycle"].iloc[-1] == 18
    assert rec.meta.channel == "3"
    assert rec.meta.extra["arbin.Specific_Capacity"].startswith("3.57")
    assert rec.meta.extra["arbin.results_file_version"] == "Results File 5.26"
    assert str(rec.meta.start_time) == "2016-08-05 16:16:23+00:00"  # OLE 42587.67804398148
    assert rec.meta.format == "arbin-res"
    assert rec.units["Charge_Capacity"] == "A h"
    assert (np.diff(rec.data["Data_Point"].to_numpy()) == 1).all()
    assert sniff_arbin_res(path.read_bytes()[:64], path)
    # sign convention: charge capacity grows while current is positive
    i = rec.current_mA[1:]
    dq = np.diff(rec.data["Charge_Capacity"].to_numpy())
    assert (dq[i > 1e-3] >= 0).mean() > 0.99


@pytest.mark.realdata
def test_navani_res() -> None:
    rec = read_arbin_res(real_file("echem", "arbin", "navani", "arbin_example.res"))
    assert len(rec) == 2150
    assert rec.time_s[0] == pytest.approx(0.07259541979508601, rel=1e-12)
    assert rec.time_s[-1] == pytest.approx(345733.3894574374, rel=1e-12)
    assert rec.voltage_V[0] == pytest.approx(3.8591957, abs=5e-8)
    assert rec.voltage_V[-1] == pytest.approx(3.872108, abs=5e-8)
    assert rec.meta.extra["arbin.results_file_version"] == "Results File 5.23"
    assert "SSB1" in rec.meta.extra["arbin.Test_Name"]


def test_bad_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "e.res"
    empty.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="empty"):
        read_arbin_res(empty)
    noise = tmp_path / "n.res"
    noise.write_bytes(np.random.default_rng(2).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(UnsupportedFormatError, match="MS Access"):
        read_arbin_res(noise)
    fake = tmp_path / "f.res"
    fake.write_bytes(b"\x00\x01\x00\x00Standard Jet DB\x00" + bytes(300))
    with pytest.raises(OperandoError, match=r"f\.res"):
        read_arbin_res(fake)
    assert not sniff_arbin_res(b"EXPLAIN", fake)


@pytest.mark.realdata
def test_truncated_res(tmp_path: Path) -> None:
    data = real_file("echem", "arbin", "navani", "arbin_example.res").read_bytes()
    cut = tmp_path / "cut.res"
    cut.write_bytes(data[: int(len(data) * 0.3)])
    with pytest.raises(CorruptFileError):
        read_arbin_res(cut)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frac=st.floats(0.0, 1.0), flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6))
@pytest.mark.realdata
def test_mutated_res_reads_or_raises(tmp_path: Path, frac: float, flips: list[tuple[int, int]]) -> None:
    data = real_file("echem", "arbin", "navani", "arbin_example.res").read_bytes()
    data = flip_bytes(data[: max(1, int(len(data) * frac))], [p for p, _ in flips], [v for _, v in flips])
    path = tmp_path / "m.res"
    path.write_bytes(data)
    try:
        rec = read_arbin_res(path)
    except OperandoError:
        return
    assert len(rec) > 0
