"""Gamry table rows split in C-level passes: the same rows, values and refusals as row by row,
with Gamry's tab rows, hand-edited space rows after them and a damaged row anywhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from operando.echem import read_gamry
from operando.errors import CorruptFileError

_HEAD = (
    "EXPLAIN\r\nTAG\tCHRONOA\r\nTITLE\tLABEL\tChrono\tTest &Identifier\r\nDATE\tLABEL\t4/23/2018\tDate\r\n"
    "TIME\tLABEL\t16:43:15\tTime\r\nPSTAT\tPSTAT\tREF600-12345\tPotentiostat\r\n"
)
_FIRST_ROW_LINE = 10  # 1-based line of the first table row


def _file(tmp_path: Path, rows: list[str], declared: int | None = None) -> Path:
    text = (
        _HEAD
        + f"CURVE\tTABLE\t{len(rows) if declared is None else declared}\r\n\tPt\tT\tVf\tIm\r\n\t#\ts\tV vs. Ref.\tA\r\n"
        + "".join(r + "\r\n" for r in rows)
        + "EXPERIMENTABORTED\tTOGGLE\tF\tExperiment Aborted\r\n"
    )
    path = tmp_path / "rows.DTA"
    path.write_bytes(text.encode("cp1252"))
    return path


def _row(k: int, indent: str = "\t", sep: str = "\t") -> str:
    return indent + sep.join([str(k), f"{0.5 * k:.3f}", f"{0.1 + 1e-4 * k:.6E}", f"{(-1) ** k * 1e-3:.3E}"])


def test_tab_rows_then_hand_edited_rows(tmp_path: Path) -> None:
    rows = [_row(k) for k in range(300)] + [_row(300, indent="    "), _row(301, indent="  ", sep="   ")]
    record = read_gamry(_file(tmp_path, rows))
    assert len(record) == 302
    k = np.arange(302)
    np.testing.assert_allclose(record.time_s, 0.5 * k)
    np.testing.assert_allclose(record.voltage_V, 0.1 + 1e-4 * k, rtol=1e-6)
    np.testing.assert_allclose(record.current_mA, (-1.0) ** k, rtol=1e-6)


@pytest.mark.parametrize("bad", [0, 150, 299])
def test_row_with_an_extra_cell_is_refused_with_its_line(tmp_path: Path, bad: int) -> None:
    rows = [_row(k) for k in range(300)]
    rows[bad] += "\t9.9"
    with pytest.raises(
        CorruptFileError, match=rf"line {_FIRST_ROW_LINE + bad}: table CURVE row has 5 cells, expected 4"
    ):
        read_gamry(_file(tmp_path, rows))


def test_blank_line_ends_the_table(tmp_path: Path) -> None:
    rows = [_row(k) for k in range(10)] + ["\t  "] + [_row(k) for k in range(10, 12)]
    with pytest.raises(CorruptFileError, match=r"line 21: unexpected indented line outside a table"):
        read_gamry(_file(tmp_path, rows, declared=12))
