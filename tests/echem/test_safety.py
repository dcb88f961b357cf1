"""Nothing lost, nothing silently wrong (issue 18, echem part): NaN/inf rows refused by row or
flagged, and ``echem export``/``plot`` never replace their input or an existing file."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from operando import echem
from operando.echem import EchemMetadata, EchemRecord
from operando.errors import CorruptFileError
from operando.synthetic import simulate_gcpl, write_eclab_mpt


def _cli(*args: object) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("operando") or str(Path(sys.executable).with_name("operando"))
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def mpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cell = simulate_gcpl(dt_s=60.0, c_rate=1.0, noise_V=1e-4)
    return write_eclab_mpt(cell, tmp_path_factory.mktemp("mpt") / "gcpl.mpt")


def _with_bad_cell(src: Path, dst: Path, row: int, column: str, value: str) -> Path:
    """The export with one cell replaced (as a damaged copy or a vendor's overflow marker)."""
    lines = src.read_bytes().decode("cp1252").split("\r\n")
    n_header = int(lines[1].split(":")[1])
    names = lines[n_header - 1].split("\t")
    cells = lines[n_header + row].split("\t")
    cells[names.index(column)] = value
    lines[n_header + row] = "\t".join(cells)
    dst.write_bytes("\r\n".join(lines).encode("cp1252"))
    return dst


@pytest.mark.parametrize(("column", "value"), [("Ewe/V", "NaN"), ("Ewe/V", "-inf"), ("I/mA", "inf")])
def test_nonfinite_value_refused_naming_file_and_row(mpt: Path, tmp_path: Path, column: str, value: str) -> None:
    bad = _with_bad_cell(mpt, tmp_path / "bad.mpt", 7, column, value)
    with pytest.raises(CorruptFileError, match=r"bad\.mpt: data row 8 \(1-based\) has (voltage_V|current_mA)="):
        echem.read(bad)
    rec = echem.read(bad, nonfinite="flag")
    assert rec.data["nonfinite"].tolist() == [k == 7 for k in range(len(rec))]
    assert "first data row 8" in rec.meta.extra["nonfinite_rows"]
    good = echem.read(mpt)
    assert "nonfinite" not in good.data
    np.testing.assert_array_equal(rec.time_s, good.time_s)


def test_nonfinite_time_is_refused_with_its_row() -> None:
    with pytest.raises(CorruptFileError, match="x.csv: time is not finite at row 2"):
        EchemRecord.from_columns(
            time_s=[0.0, 1.0, np.nan], voltage_V=[1, 1, 1], current_mA=[0, 0, 0], meta=EchemMetadata(source="x.csv")
        )


def test_derived_columns_are_not_checked() -> None:
    """An impedance export without DC current: the reader's zeros are not data to refuse."""
    meta = EchemMetadata(source="eis", derived=("current_mA",))
    rec = EchemRecord.from_columns(time_s=[0, 1], voltage_V=[3.7, 3.7], current_mA=[np.nan, np.nan], meta=meta)
    assert echem.check_finite(rec) is rec


def test_cli_nonfinite(mpt: Path, tmp_path: Path) -> None:
    bad = _with_bad_cell(mpt, tmp_path / "bad.mpt", 3, "Ewe/V", "NaN")
    r = _cli("echem", "info", bad)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert f"{bad}: data row 4 (1-based) has voltage_V=nan" in r.stderr
    r = _cli("echem", "export", bad, "-o", tmp_path / "out.csv", "--nonfinite", "flag")
    assert r.returncode == 0, r.stderr
    assert "warning:" in r.stderr and "first data row 4" in r.stderr
    assert "nonfinite" in (tmp_path / "out.csv").read_text()
    r = _cli("echem", "info", bad, "--nonfinite", "maybe")
    assert r.returncode == 2 and "nonfinite must be one of" in r.stderr


def test_export_never_replaces_its_input(mpt: Path, tmp_path: Path) -> None:
    src = tmp_path / "x.mpt"
    src.write_bytes(mpt.read_bytes())
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    for target in (src, tmp_path / "." / "x.mpt"):
        r = _cli("echem", "export", src, "-o", target)
        assert r.returncode == 2, r.stdout
        assert r.stderr.count("\n") == 1 and "is the input file" in r.stderr
    link = tmp_path / "link.mpt"
    link.symlink_to(src)
    r = _cli("echem", "export", link, "-o", src, "--overwrite")
    assert r.returncode == 2 and "is the input file" in r.stderr
    assert hashlib.sha256(src.read_bytes()).hexdigest() == digest


def test_export_asks_before_replacing(mpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("keep me")
    r = _cli("echem", "export", mpt, "-o", out)
    assert r.returncode == 2 and "exists; pass --overwrite" in r.stderr
    assert out.read_text() == "keep me"
    r = _cli("echem", "export", mpt, "-o", out, "--overwrite")
    assert r.returncode == 0, r.stderr
    assert "time_s" in out.read_text()
    png = tmp_path / "v.png"
    png.write_bytes(b"old")
    r = _cli("echem", "plot", mpt, "-o", png)
    assert r.returncode == 2 and "exists; pass --overwrite" in r.stderr
    assert png.read_bytes() == b"old"
