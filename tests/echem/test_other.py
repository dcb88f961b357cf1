"""Novonix HPC and PEC CSV exports."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operando.echem import read_novonix, read_pec
from operando.errors import CorruptFileError, OperandoError, UnsupportedFormatError
from tests.echem._cycler_data import flip_bytes, real_file, sniffer

sniff_novonix = sniffer("novonix-csv")
sniff_pec = sniffer("pec-csv")


NOVONIX = ("echem", "other", "beep", "test_Nova_Form-CH01-01_short.csv")
PEC = ("echem", "other", "cellpy", "pec.csv")


@pytest.mark.realdata
def test_novonix() -> None:
    path = real_file(*NOVONIX)
    head = path.read_bytes()[:4096]
    assert sniff_novonix(head, path) and not sniff_pec(head, path)
    rec = read_novonix(path)
    assert len(rec) == 3942  # 4000 lines - 58 header lines
    np.testing.assert_allclose(rec.voltage_V[[0, -1]], [0.13736417, 3.42744146])
    np.testing.assert_allclose(rec.time_s[[0, -1]], [0.0, 17.4345750 * 3600])
    assert rec.meta.active_mass_g == 1.0 and rec.meta.channel == "01" and rec.meta.software_version == "2.2.1.6"
    assert str(rec.meta.start_time) == "2022-04-11 10:58:07+00:00"
    assert rec.charge_mAh[-1] == pytest.approx(29.4679161)


@pytest.mark.realdata
def test_pec_golden() -> None:
    path = real_file(*PEC)
    head = path.read_bytes()[:4096]
    assert sniff_pec(head, path) and not sniff_novonix(head, path)
    rec = read_pec(path)
    assert len(rec) == 16255  # cellpy golden n_rows
    np.testing.assert_allclose(rec.voltage_V[[0, -1]], [3.272632, 3.7875572])
    np.testing.assert_allclose(rec.time_s[[0, -1]], [1.0, 323010.183])
    assert str(rec.meta.start_time) == "2019-02-22 16:21:35+00:00"
    assert (rec.current_mA < 0).any() and (rec.current_mA > 0).any()


def test_bad_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    for reader in (read_novonix, read_pec):
        with pytest.raises(CorruptFileError, match="empty"):
            reader(empty)
    other = tmp_path / "o.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(UnsupportedFormatError, match="Novonix"):
        read_novonix(other)
    with pytest.raises(UnsupportedFormatError, match="PEC"):
        read_pec(other)


_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_FLIPS = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6)


@pytest.mark.realdata
@_SETTINGS
@given(frac=st.floats(0.0, 1.0), flips=_FLIPS)
def test_mutated_novonix_reads_or_raises(tmp_path: Path, frac: float, flips: list[tuple[int, int]]) -> None:
    data = real_file(*NOVONIX).read_bytes()
    data = flip_bytes(data[: max(1, int(len(data) * frac))], [p for p, _ in flips], [v for _, v in flips])
    target = tmp_path / "m.csv"
    target.write_bytes(data)
    with contextlib.suppress(OperandoError):
        assert len(read_novonix(target)) > 0
