"""Layouts real vendor software writes that were once refused or read short (issue 17).

Each fixture reproduces what the vendor writes, byte for byte where it matters: CRLF line
ends and Windows-1252 for EC-Lab, the Gamry tab-indented table layout, Maccor's tab
separated export. No line that is not data is skipped: it is parsed or refused with its
line number.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from operando import echem
from operando.echem import read_gamry, read_maccor, read_mpt
from operando.errors import CorruptFileError
from tests.echem._cycler_data import real_file

# -- EC-Lab: header names without data ---------------------------------------------------------

_MPT_HEAD = [
    "EC-Lab ASCII FILE",
    "Nb header lines : 8",
    "",
    "Galvanostatic Cycling with Potential Limitation",
    "",
    "Run on channel : 3 (SN 0858)",
    "Device : VMP3 (SN 0858)",
]
# EC-Lab 11.61 wrote two tabs before "I Range" (an empty name) and named Ewe-Ece/V, whose
# data it did not write (no counter-electrode potential recorded)
_MPT_NAMES = [
    "mode",
    "ox/red",
    "error",
    "control changes",
    "Ns changes",
    "counter inc.",
    "Ns",
    "time/s",
    "dq/mA.h",
    "(Q-Qo)/mA.h",
    "control/V/mA",
    "Ewe/V",
    "",
    "I Range",
    "Q charge/discharge/mA.h",
    "half cycle",
    "<I>/mA",
    "cycle number",
    "Ewe-Ece/V",
    "Pwe/W",
]


def _mpt_rows(n: int) -> list[str]:
    rows = []
    for k in range(n):
        t = 88246.517 + 10.0 * k
        i = 0.5 if k < n // 2 else -0.5
        cells = [
            1,
            1,
            0,
            0,
            0,
            0,
            1,
            f"{t:.15E}",
            f"{i * 10 / 3600:.15E}",
            f"{i * 10 * k / 3600:.15E}",
            f"{i:.7E}",
            f"{3.7 + 0.001 * k:.7E}",
            13,
            f"{0.0:.15E}",
            0 if i > 0 else 1,
            f"{i:.7E}",
            f"{0.0:.15E}",
            f"{(3.7 + 0.001 * k) * i / 1000:.7E}",
        ]
        rows.append("\t".join(str(c) for c in cells))
    return rows


def _write_mpt(tmp_path: Path, names: list[str], rows: list[str]) -> Path:
    path = tmp_path / "gcpl.mpt"
    text = "\r\n".join([*_MPT_HEAD, "\t".join(names) + "\t", *(r + "\t" for r in rows)]) + "\r\n"
    path.write_bytes(text.encode("cp1252"))
    return path


def test_mpt_with_an_empty_name_and_a_dataless_ewe_ece_header(tmp_path: Path) -> None:
    rows = _mpt_rows(12)
    assert len(rows[0].split("\t")) == len(_MPT_NAMES) - 2  # the vendor's layout: 2 names too many
    rec = read_mpt(_write_mpt(tmp_path, _MPT_NAMES, rows))
    assert len(rec) == 12
    np.testing.assert_allclose(rec.time_s, 88246.517 + 10.0 * np.arange(12))
    np.testing.assert_allclose(rec.voltage_V, 3.7 + 0.001 * np.arange(12), rtol=1e-7)
    assert rec.data["I Range"].tolist() == [13.0] * 12  # the column after the empty name is aligned
    np.testing.assert_allclose(rec.data["Pwe/W"], (3.7 + 0.001 * np.arange(12)) * rec.current_mA / 1000, rtol=1e-6)
    assert "Ewe-Ece/V" not in rec.data
    assert "['', 'Ewe-Ece/V']" in rec.meta.extra["header_notes"]
    assert rec.meta.instrument == "VMP3"


def test_mpt_other_surplus_names_are_still_refused(tmp_path: Path) -> None:
    names = [*_MPT_NAMES[:12], "Ece/V", *_MPT_NAMES[13:18], "Pwe/W"]  # a real name with no data
    rows = [r.rsplit("\t", 1)[0] for r in _mpt_rows(4)]
    with pytest.raises(CorruptFileError, match=r"line 9: 17 data columns, header names 19"):
        read_mpt(_write_mpt(tmp_path, names, rows))


@pytest.mark.realdata
def test_mpt_real_export_with_the_vendor_surplus(tmp_path: Path) -> None:
    """The real GCPL export of EC-Lab 11.61 rewritten as the refused files were: same values."""
    src = real_file("echem/biologic/yadg/gcpl.issue_211.mpt")
    lines = src.read_bytes().decode("cp1252").splitlines()
    names = lines[79].split("\t")
    k = names.index("Ewe-Ece/V")
    out = [*lines[:79], "\t".join([*names[:14], "", *names[14:]])]
    for line in lines[80:]:
        cells = line.split("\t")
        out.append("\t".join(cells[:k] + cells[k + 1 :]) if line else line)
    path = tmp_path / "gcpl.mpt"
    path.write_bytes("\n".join(out).encode("cp1252"))
    ours, ref = read_mpt(path), read_mpt(src)
    assert len(ours) == len(ref) == 2767
    for col in ref.data.columns.drop("Ewe-Ece/V"):
        assert ours.data[col].equals(ref.data[col]), col


# -- Maccor: Test (Min) ------------------------------------------------------------------------


def _maccor(unit: str, n: int = 30) -> str:
    head = (
        "Today's Date 03/14/2021  Date of Test:\t03/01/2021\t Filename:\tC:\\Data\\cell_7.017 "
        "Procedure: CC_cycle.000\tComment/Barcode: A7\r\n"
    )
    cols = [
        "Rec#",
        "Cyc#",
        "Step",
        f"Test ({unit})",
        f"Step ({unit})",
        "Amp-hr",
        "Watt-hr",
        "Amps",
        "Volts",
        "State",
        "ES",
        "DPt Time",
    ]
    per = {"Min": 60.0, "Hr": 3600.0, "Sec": 1.0}[unit]
    rows = []
    for k in range(n):
        t_s = 30.0 * k
        state, amps = ("C", 0.002) if k < n // 2 else ("D", 0.002)
        stamp = f"03/01/2021 {10 + t_s // 3600:02.0f}:{(t_s % 3600) // 60:02.0f}:{t_s % 60:02.0f}"
        rows.append(
            "\t".join(
                [
                    str(k + 1),
                    "1",
                    "2" if state == "C" else "4",
                    f"{t_s / per:.6f}",
                    f"{t_s / per:.6f}",
                    f"{amps * t_s / 3600:.10f}",
                    "0.0",
                    f"{amps:.10f}",
                    f"{3.5 + 0.01 * k:.8f}",
                    state,
                    "0",
                    stamp,
                ]
            )
        )
    return head + "\t".join(cols) + "\r\n" + "\r\n".join(rows) + "\r\n"


@pytest.mark.parametrize("unit", ["Min", "Hr"])
def test_maccor_minutes_and_hours_become_seconds(tmp_path: Path, unit: str) -> None:
    path = tmp_path / "cell_7.017"
    path.write_text(_maccor(unit), encoding="cp1252", newline="")
    rec = read_maccor(path)
    assert len(rec) == 30
    np.testing.assert_allclose(
        rec.time_s, 30.0 * np.arange(30), atol=2e-3 if unit == "Hr" else 1e-4
    )  # 6 decimals of h = 3.6 ms
    np.testing.assert_allclose(rec.voltage_V, 3.5 + 0.01 * np.arange(30))
    np.testing.assert_allclose(rec.current_mA[:15], 2.0)
    np.testing.assert_allclose(rec.current_mA[15:], -2.0)
    assert f"Test ({unit})" in rec.meta.extra["time_unit"]
    # the wall clock agrees with the converted test time
    span = (rec.data["timestamp"].iloc[-1] - rec.data["timestamp"].iloc[0]).total_seconds()
    assert span == pytest.approx(rec.time_s[-1] - rec.time_s[0], abs=1.0)


def test_maccor_without_voltage_names_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "cell_7.017"
    path.write_text(_maccor("Min").replace("\tVolts\t", "\tVoltz\t"), encoding="cp1252", newline="")
    with pytest.raises(Exception, match="no voltage column"):
        read_maccor(path)


# -- Gamry: square wave, VFP600, open-ended OCP, space-indented rows -----------------------------

_GAMRY_HEAD = (
    "EXPLAIN\r\nTAG\t{tag}\r\nTITLE\tLABEL\tx\tTest &Identifier\r\nDATE\tLABEL\t12/31/2021\tDate\r\n"
    "TIME\tLABEL\t12:00:00\tTime\r\nPSTAT\tPSTAT\tREF600-10000\tPotentiostat\r\nNOTES\tNOTES\t1\t&Notes...\r\n\t\r\n"
)


def _swv(n: int, with_time: bool) -> str:
    names = [
        "Pt",
        *(["T"] if with_time else []),
        "Vfwd",
        "Vrev",
        "Vstep",
        "Ifwd",
        "Irev",
        "Idif",
        "Sig",
        "Ach",
        "IERange",
        "Over",
    ]
    units = ["#", *(["s"] if with_time else []), "V", "V", "V", "A", "A", "A", "V", "V", "#", "bits"]
    text = _GAMRY_HEAD.format(tag="SQUARE_WAVE")
    text += "FREQUENCY\tQUANT\t1.00000E+002\t&Frequency (Hz)\r\nPULSESIZE\tQUANT\t2.50000E+001\tPulse Size (mV)\r\n"
    text += f"CURVE\tTABLE\t{n}\r\n\t" + "\t".join(names) + "\r\n\t" + "\t".join(units) + "\r\n"
    for k in range(n):
        vstep = -0.002 * k
        vf, vr = vstep - 0.025, vstep + 0.025
        i_f, i_r = 1e-6 * np.exp(-k / 5), -1e-6 * np.exp(-k / 7)
        cells = [
            str(k),
            *([f"{(k + 1) * 0.01:g}"] if with_time else []),
            f"{vf:.5E}",
            f"{vr:.5E}",
            f"{vstep:.5E}",
            f"{i_f:.5E}",
            f"{i_r:.5E}",
            f"{i_f - i_r:.5E}",
            "2.5E-002",
            "8.4E-007",
            "7",
            "...........",
        ]
        text += "\t" + "\t".join(cells) + "\r\n"
    return text + "EXPERIMENTABORTED\tTOGGLE\tF\tExperiment Aborted\r\n"


@pytest.mark.parametrize("with_time", [False, True])
def test_gamry_square_wave(tmp_path: Path, with_time: bool) -> None:
    path = tmp_path / "SWV.DTA"
    path.write_bytes(_swv(25, with_time).encode("cp1252"))
    rec = echem.read(path)
    assert len(rec) == 25
    np.testing.assert_allclose(rec.time_s, 0.01 * np.arange(1, 26))  # (Pt + 1) / FREQUENCY, as Gamry's T
    np.testing.assert_allclose(rec.voltage_V, -0.002 * np.arange(25), atol=1e-9)
    k = np.arange(25)
    np.testing.assert_allclose(rec.current_mA, 1e-3 * (np.exp(-k / 5) + np.exp(-k / 7)), rtol=1e-5)
    assert set(rec.data.columns) >= {"Vfwd", "Vrev", "Ifwd", "Irev"}
    assert rec.meta.techniques == ("SQUARE_WAVE",)
    assert ("time_source" in rec.meta.extra) is not with_time


def test_gamry_square_wave_without_any_period_is_refused(tmp_path: Path) -> None:
    text = _swv(5, False).replace("FREQUENCY\tQUANT\t1.00000E+002\t&Frequency (Hz)\r\n", "")
    path = tmp_path / "SWV.DTA"
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(Exception, match="lack a time"):
        echem.read(path)


_VFP600 = (
    "VFP600\r\nTAG\tVFP600\r\nCTRLMODE\tIQUANT\t1\tControl Mode\r\nFREQ\tQUANT\t1.50000E+1\t"
    "Acquisition Frequency (Hz)\r\nVFPCURVE\tTABLE\r\n\tVoltage\tCurrent\r\n\tV\tA\r\n"
)


def test_gamry_vfp600_front_panel_file(tmp_path: Path) -> None:
    volts = 0.03 * np.sin(np.arange(40) / 3.0)
    amps = 5e-10 + 1e-11 * np.arange(40)
    body = "".join(f"\t{v:.6f}\t{a:.6E}\r\n" for v, a in zip(volts, amps, strict=True))
    path = tmp_path / "vfp.dta"
    path.write_bytes((_VFP600 + body).encode("cp1252"))
    assert echem.detect(path).name == "gamry-dta"
    rec = echem.read(path)
    assert len(rec) == 40
    np.testing.assert_allclose(rec.time_s, np.arange(40) / 15.0)  # sample k at k / FREQ
    np.testing.assert_allclose(rec.voltage_V, np.round(volts, 6))
    np.testing.assert_allclose(rec.current_mA, amps * 1e3, rtol=1e-6)
    assert rec.meta.techniques == ("VFP600",)


def _ocp(declared: int, held: int) -> str:
    text = _GAMRY_HEAD.format(tag="CORPOT")
    text += "TIMEOUT\tQUANT\t1.80000E+005\tTotal &Time (s)\r\nSAMPLETIME\tQUANT\t5.00000E+000\tSa&mple Period (s)\r\n"
    text += f"CURVE\tTABLE\t{declared}\r\n\tPt\tT\tVf\tVm\tAch\tOver\tTemp\r\n\t#\ts\tV vs. Ref.\tV\tV\tbits\tdeg C\r\n"
    for k in range(held):
        cells = [str(k), f"{5.00833 * (k + 1):.6g}", f"{0.0205 - 1e-5 * k:.5E}", f"{0.0205:.5E}", "1.67E-003"]
        text += "\t" + "\t".join([*cells, "..........a", "-327.62"]) + "\r\n"
    return text


def test_gamry_open_ended_ocp_reads_the_rows_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "OCP.DTA"
    path.write_bytes(_ocp(99999, 21).encode("cp1252"))
    rec = echem.read(path)
    assert len(rec) == 21
    assert "99999" in rec.meta.extra["row_count_notes"] and "open-ended" in rec.meta.extra["row_count_notes"]


def test_gamry_short_table_message_names_the_cli_option(tmp_path: Path) -> None:
    path = tmp_path / "OCP.DTA"
    path.write_bytes(_ocp(30, 21).encode("cp1252"))
    with pytest.raises(CorruptFileError, match="declares 30 rows, holds 21") as info:
        echem.read(path)
    assert "strict=False" not in str(info.value) and "--lenient" in str(info.value)
    rec = echem.read(path, lenient=True)
    assert len(rec) == 21
    assert "declares 30 rows, holds 21" in rec.meta.extra["lenient"]


_EIS = (
    "ZCURVE\tTABLE\t10\r\n\tPt\tTime\tFreq\tZreal\tZimag\tZsig\tZmod\tZphz\tIdc\tVdc\tIERange\r\n"
    "\t#\ts\tHz\tohm\tohm\tV\tohm\t\u00b0\tA\tV\t#\r\n"
)


def _eis_rows(indent: list[str]) -> str:
    out = ""
    for k, pad in enumerate(indent):
        f = 1e5 / 10**k
        cells = [
            str(k),
            f"{2 + k}",
            f"{f:.6E}",
            f"{100 + 10 * k:.4f}",
            f"{-50 - k:.4f}",
            "1",
            "120",
            "-20",
            "1E-007",
            "3.7",
            "9",
        ]
        out += pad + "\t".join(cells) + "\r\n"
    return out


def test_gamry_space_indented_rows_are_data_not_header(tmp_path: Path) -> None:
    """Hand-edited: rows 6-9 indented with spaces instead of a tab; all 10 rows are read."""
    text = _GAMRY_HEAD.format(tag="EISPOT") + _EIS + _eis_rows(["\t"] * 6 + ["    "] * 4)
    path = tmp_path / "EIS.DTA"
    path.write_bytes(text.encode("cp1252"))
    rec = read_gamry(path)
    assert len(rec) == 10
    np.testing.assert_allclose(rec.data["freq_Hz"], 1e5 / 10.0 ** np.arange(10))
    np.testing.assert_allclose(rec.data["Zreal_ohm"], 100 + 10 * np.arange(10))


def test_gamry_space_separated_rows_are_read(tmp_path: Path) -> None:
    rows = _eis_rows(["\t"] * 8 + ["  "] * 2).splitlines(keepends=True)
    rows[-2:] = ["  " + r.strip().replace("\t", "   ") + "\r\n" for r in rows[-2:]]
    path = tmp_path / "EIS.DTA"
    path.write_bytes((_GAMRY_HEAD.format(tag="EISPOT") + _EIS + "".join(rows)).encode("cp1252"))
    assert len(read_gamry(path)) == 10


def test_gamry_indented_line_after_a_blank_is_refused_with_its_line(tmp_path: Path) -> None:
    rows = _eis_rows(["\t"] * 10).splitlines(keepends=True)
    rows.insert(6, "\r\n")  # a blank line inside the table: the rows after it are not header
    path = tmp_path / "EIS.DTA"
    path.write_bytes((_GAMRY_HEAD.format(tag="EISPOT") + _EIS + "".join(rows)).encode("cp1252"))
    with pytest.raises(CorruptFileError, match=r"line 19: unexpected indented line outside a table"):
        read_gamry(path)


def test_gamry_stray_header_text_in_a_table_is_refused(tmp_path: Path) -> None:
    rows = _eis_rows(["\t"] * 10).splitlines(keepends=True)
    rows[4] = "\tnot\ta\trow\r\n"
    path = tmp_path / "EIS.DTA"
    path.write_bytes((_GAMRY_HEAD.format(tag="EISPOT") + _EIS + "".join(rows)).encode("cp1252"))
    with pytest.raises(CorruptFileError, match=r"line 16: table ZCURVE row has 3 cells, expected 11"):
        read_gamry(path)


# -- the command line: --lenient, printed and recorded ---------------------------------------------


def _cli(*args: object) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("operando") or str(Path(sys.executable).with_name("operando"))
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, check=False)


def test_cli_lenient(tmp_path: Path) -> None:
    path = tmp_path / "OCP.DTA"
    path.write_bytes(_ocp(30, 21).encode("cp1252"))
    r = _cli("echem", "info", path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "--lenient" in r.stderr and "strict" not in r.stderr
    r = _cli("echem", "info", path, "--lenient")
    assert r.returncode == 0, r.stderr
    assert "rows: 21" in r.stdout
    assert "declares 30 rows, holds 21" in r.stdout  # in the summary
    assert "warning:" in r.stderr and "declares 30 rows, holds 21" in r.stderr


def _ece_export(tmp_path: Path, names: list[str], n: int, drop: str | None) -> tuple[Path, np.ndarray, np.ndarray]:
    """An export with Ewe/V, Ece/V and Ewe-Ece/V (as EC-Lab computes it), minus the data of ``drop``."""
    rng = np.random.default_rng(1)
    ewe = 3.7 + 0.01 * rng.standard_normal(n)
    ece = 0.1 + 0.001 * rng.standard_normal(n)
    cols = {
        "time/s": 10.0 * np.arange(n),
        "Ewe/V": ewe,
        "": 7.0 + np.zeros(n),
        "Ece/V": ece,
        "I/mA": np.full(n, 0.5),
        "Ewe-Ece/V": ewe - ece,
    }
    rows = []
    for k in range(n):
        rows.append("\t".join(f"{cols[c][k]:.7E}" for c in names if c != drop))
    head = ["EC-Lab ASCII FILE", "Nb header lines : 4", "", "Chronopotentiometry"]
    path = tmp_path / "cp.mpt"
    path.write_bytes("\r\n".join([*head[:3], "\t".join(names), *rows]).encode("cp1252") + b"\r\n")
    return path, ewe, ece


@pytest.mark.parametrize(
    ("names", "drop"),
    [
        (["time/s", "Ewe/V", "", "Ece/V", "I/mA", "Ewe-Ece/V"], ""),  # Ece recorded: Ewe-Ece has data
        (["time/s", "Ewe/V", "", "I/mA", "Ewe-Ece/V"], "Ewe-Ece/V"),  # no Ece: Ewe-Ece cannot have data
    ],
)
def test_mpt_one_surplus_name_is_placed_by_the_data(tmp_path: Path, names: list[str], drop: str) -> None:
    """One name too many: which one has no data follows from what EC-Lab can compute and is
    checked on the values (Ewe-Ece/V = Ewe/V - Ece/V), never guessed into a misaligned table."""
    path, ewe, ece = _ece_export(tmp_path, names, 20, drop)
    rec = read_mpt(path)
    assert len(rec) == 20
    np.testing.assert_allclose(rec.voltage_V, ewe, rtol=1e-6)
    if "Ece/V" in names:
        np.testing.assert_allclose(rec.data["Ece/V"], ece, rtol=1e-6)
    np.testing.assert_allclose(rec.current_mA, 0.5)
    if drop != "":  # the empty name has data: kept as "column 3"
        assert rec.data["column 3"].tolist() == [7.0] * 20
    assert f"['{drop}']" in rec.meta.extra["header_notes"]


def test_mpt_a_reading_the_data_contradict_is_refused(tmp_path: Path) -> None:
    """Ece recorded, Ewe-Ece named without data: no reading keeps the columns in line."""
    names = ["time/s", "Ewe/V", "", "Ece/V", "I/mA", "Ewe-Ece/V"]
    path, _, _ = _ece_export(tmp_path, names, 20, "Ewe-Ece/V")
    with pytest.raises(CorruptFileError, match="misaligned"):
        read_mpt(path)


def test_mpt_surplus_names_that_fit_no_reading_are_refused(tmp_path: Path) -> None:
    names = ["time/s", "Ewe/V", "", "Ece/V", "I/mA", "Ewe-Ece/V"]
    path, _, _ = _ece_export(tmp_path, names, 20, "Ece/V")  # a real column's data missing
    with pytest.raises(CorruptFileError, match="line 4: the header names 6 columns, the rows hold 5"):
        read_mpt(path)


def test_gamry_rows_without_indent_are_data(tmp_path: Path) -> None:
    """Hand-edited: the last rows lost their leading tab; still rows of the table."""
    rows = _eis_rows(["\t"] * 7 + [""] * 3)
    path = tmp_path / "EIS.DTA"
    path.write_bytes((_GAMRY_HEAD.format(tag="EISPOT") + _EIS + rows).encode("cp1252"))
    rec = read_gamry(path)
    assert len(rec) == 10
    np.testing.assert_allclose(rec.data["Zreal_ohm"], 100 + 10 * np.arange(10))


def test_gamry_stray_line_in_the_header_is_refused_with_its_line(tmp_path: Path) -> None:
    text = _GAMRY_HEAD.format(tag="EISPOT").replace("PSTAT\t", "3.7\t0.1\r\nPSTAT\t", 1) + _EIS + _eis_rows(["\t"] * 10)
    path = tmp_path / "EIS.DTA"
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(CorruptFileError, match=r"line 6: '3\.7\\t0\.1' is neither a header entry nor a table row"):
        read_gamry(path)
