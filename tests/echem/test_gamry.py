"""Gamry .DTA reader: impedance.py / pyimpspec / gamry-parser expectations, EPR rejection, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operando.echem import read_gamry
from operando.errors import CorruptFileError, MissingMetadataError, OperandoError, UnsupportedFormatError
from tests.echem._cycler_data import flip_bytes, real_file, sniffer

sniff_gamry = sniffer("gamry-dta")


MINI = (
    "EXPLAIN\r\nTAG\tCHRONOA\r\nTITLE\tLABEL\tChrono\tTest &Identifier\r\nDATE\tLABEL\t23.04.2018\tDate\r\n"
    "TIME\tLABEL\t16:43:15\tTime\r\nNOTES\tNOTES\t2\t&Notes...\r\n\tline one\r\n\r\n"
    "PSTAT\tPSTAT\tREF600-12345\tPotentiostat\r\nAREA\tQUANT\t2,00000E+000\t&Area (cm^2)\r\n"
    "FRAMEWORKVERSION\tLABEL\t7,9,0\tFramework Version\r\n"
    "CURVE\tTABLE\t3\r\n\tPt\tT\tVf\tIm\tOver\r\n\t#\ts\tV vs. Ref.\tA\tbits\r\n"
    "\t0\t0,5\t1,5E-001\t2,0E-003\t....\r\n\t1\t1,0\t1,6E-001\t-2,0E-003\t....\r\n"
    "\t2\t1,5\t1,7E-001\t-1,0E-003\t...a\r\n"
)


def _write(tmp_path: Path, text: str | bytes, name: str = "x.DTA") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("cp1252") if isinstance(text, str) else text)
    return path


def test_minimal_decimal_comma_file(tmp_path: Path) -> None:
    rec = read_gamry(_write(tmp_path, MINI), timezone="Europe/Berlin")
    assert len(rec) == 3
    np.testing.assert_allclose(rec.time_s, [0.5, 1.0, 1.5])
    np.testing.assert_allclose(rec.voltage_V, [0.15, 0.16, 0.17])
    np.testing.assert_allclose(rec.current_mA, [2.0, -2.0, -1.0])
    assert rec.meta.instrument == "REF600"
    assert rec.meta.serial_number == "12345"
    assert rec.meta.electrode_area_cm2 == 2.0
    assert rec.meta.techniques == ("CHRONOA",)
    assert str(rec.meta.start_time) == "2018-04-23 14:43:15+00:00"
    assert rec.meta.extra["gamry.NOTES"] == "NOTES\tline one"
    assert rec.data["Over"].tolist() == ["....", "....", "...a"]
    assert rec.units["Vf" if "Vf" in rec.units else "voltage_V"] == "V"


def test_truncated_last_row(tmp_path: Path) -> None:
    with pytest.raises(CorruptFileError, match=r"line 17: table CURVE row has 4 cells, expected 5"):
        read_gamry(_write(tmp_path, MINI[: MINI.rindex("E-003")]))


def test_declared_rows_missing(tmp_path: Path) -> None:
    short = MINI[: MINI.rindex("\t2\t1,5")]
    path = _write(tmp_path, short)
    with pytest.raises(CorruptFileError, match="declares 3 rows, holds 2"):
        read_gamry(path)
    rec = read_gamry(path, strict=False)
    assert len(rec) == 2
    assert "declares 3 rows" in rec.meta.extra["row_count_notes"]


def test_text_in_number_column(tmp_path: Path) -> None:
    with pytest.raises(CorruptFileError, match=r"line 17: table CURVE column 'Vf' holds 'abc'"):
        read_gamry(_write(tmp_path, MINI.replace("1,7E-001", "abc")))


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(CorruptFileError, match="empty"):
        read_gamry(_write(tmp_path, b""))
    rng = np.random.default_rng(1)
    with pytest.raises(UnsupportedFormatError, match="binary data"):
        read_gamry(_write(tmp_path, b"\x00" + rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()))
    with pytest.raises(UnsupportedFormatError, match="expected 'EXPLAIN'"):
        read_gamry(_write(tmp_path, "time,voltage\n1,2\n"))
    with pytest.raises(CorruptFileError, match="no data table"):
        read_gamry(_write(tmp_path, "EXPLAIN\nTAG\tCV\n"))
    with pytest.raises(MissingMetadataError, match="OCVCURVE"):
        read_gamry(_write(tmp_path, MINI), curves=("OCVCURVE",))


def test_bes3t_lookalike_rejected(tmp_path: Path) -> None:
    dta = _write(tmp_path, np.arange(100, dtype=">f8").tobytes(), "spectrum.DTA")
    (tmp_path / "spectrum.DSC").write_text("#DESC\t1.2 * DESCRIPTOR INFORMATION\nBSEQ\tBIG\n")
    with pytest.raises(UnsupportedFormatError, match="Bruker EPR BES3T"):
        read_gamry(dta)
    assert not sniff_gamry(dta.read_bytes()[:64], dta)


@pytest.mark.realdata
@pytest.mark.parametrize("parts", [("cwepr", "BDPA-1DFieldSweep.DTA"), ("EPRpy", "tempo.DTA")])
def test_real_epr_dta_rejected(parts: tuple[str, str]) -> None:
    path = real_file("nmr", "epr", *parts)
    assert not sniff_gamry(path.read_bytes()[:64], path)
    with pytest.raises(UnsupportedFormatError, match="Bruker EPR"):
        read_gamry(path)


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["exampleDataGamry.DTA", "exampleDataGamryABORT.DTA"])
def test_impedance_py_expectations(name: str) -> None:
    rec = read_gamry(real_file("echem", "gamry", "impedance.py", name))
    d = rec.data
    assert len(rec) == 72
    assert d["freq_Hz"].iloc[0] == 200015.6
    assert d["freq_Hz"].iloc[-1] == 0.0158898
    z = d["Zreal_ohm"].to_numpy() + 1j * d["Zimag_ohm"].to_numpy()
    assert z[0] == 825.8584 - 1367.239j
    assert z[-1] == 17007.49 - 6635.557j
    assert rec.units["freq_Hz"] == "Hz"
    assert rec.units["Zreal_ohm"] == "ohm"
    assert rec.meta.format == "gamry-dta"
    assert rec.meta.techniques == ("EISPOT",)
    np.testing.assert_allclose(rec.current_mA[0], -5.89286e-6 * 1e3)
    np.testing.assert_allclose(rec.voltage_V[0], -0.3413299)
    if "ABORT" in name:
        assert rec.meta.extra["aborted"] == "true"
        assert "FRACURVE(128)" in rec.meta.extra["tables"]
        assert rec.meta.instrument == "REF600P"
    else:
        assert rec.meta.instrument == "REF3000"
        assert rec.meta.software_version == "7.05"


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "rows", "f0", "f1"),
    [("data.dta", 29, 1e4, 1.0), ("drift-corrected-data.dta", 55, 100078.1, 0.1001603)],
)
def test_pyimpspec_decimal_comma(name: str, rows: int, f0: float, f1: float) -> None:
    rec = read_gamry(real_file("echem", "gamry", "pyimpspec", name))
    assert len(rec) == rows
    assert rec.data["freq_Hz"].iloc[0] == f0
    assert rec.data["freq_Hz"].iloc[-1] == f1


@pytest.mark.realdata
def test_gamry_parser_files() -> None:
    cv = read_gamry(real_file("echem", "gamry", "gamry-parser", "cv_data.dta"))
    assert sorted(set(cv.data["curve"])) == [f"CURVE{i}" for i in range(1, 6)]
    assert cv.voltage_V[-1] == 0.889001
    assert cv.current_mA[-1] == pytest.approx(2.622720e-07 * 1e3, rel=1e-12)
    assert cv.data["cycle"].tolist()[-1] == 4
    ocv_file = real_file("echem", "gamry", "gamry-parser", "ocvcurve_data.dta")
    ocv = read_gamry(ocv_file, curves=("OCVCURVE",))
    assert len(ocv) == 40
    assert "current_mA" in ocv.meta.derived
    assert read_gamry(ocv_file).meta.extra["gamry.EOC"].split("\t")[1] == "0.2834373"
    chrono = real_file("echem", "gamry", "gamry-parser", "chronoa_data.dta")
    with pytest.raises(CorruptFileError, match="declares 5258 rows, holds 10"):
        read_gamry(chrono)  # hand-edited test file: header count kept, rows cut
    assert len(read_gamry(chrono, strict=False)) == 10


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frac=st.floats(0.0, 1.0), flips=st.lists(st.tuples(st.integers(0, 10**5), st.integers(0, 255)), max_size=6))
@pytest.mark.realdata
def test_mutated_gamry_reads_or_raises(tmp_path: Path, frac: float, flips: list[tuple[int, int]]) -> None:
    data = real_file("echem", "gamry", "impedance.py", "exampleDataGamryABORT.DTA").read_bytes()
    data = flip_bytes(data[: max(1, int(len(data) * frac))], [p for p, _ in flips], [v for _, v in flips])
    path = _write(tmp_path, data)
    try:
        rec = read_gamry(path)
    except OperandoError:
        return
    assert len(rec) > 0
