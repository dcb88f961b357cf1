"""Every command that writes refuses an output that is one of its inputs (exit 2, one line
naming it) before doing any work, and leaves the input as it was."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXE = shutil.which("operando") or str(Path(sys.executable).with_name("operando"))


def _digest(path: Path) -> str:
    if path.is_dir():
        return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file())).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def raw(demo_run):
    out, _ = demo_run
    return Path(out) / "raw"


CASES = {
    "sxdm process": lambda r: ["sxdm", "process", str(k := next((r / "sxdm").rglob("*.h5"))), "-o", str(k)],
    "sxdm series": lambda r: ["sxdm", "series", str(k := next((r / "sxdm").rglob("*.h5"))), "-o", str(k)],
    "tomo recon": lambda r: ["tomo", "recon", str(k := next((r / "tomo").glob("*.h5"))), "-o", str(k)],
    "tomo series": lambda r: ["tomo", "series", str(k := next((r / "tomo").glob("*.h5"))), "-o", str(k)],
    "mri layers": lambda r: ["mri", "layers", str(k := next((r / "mri").glob("*.nii"))), "-o", str(k)],
    "echem export": lambda r: ["echem", "export", str(k := next((r / "echem").glob("*.mpt"))), "-o", str(k)],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_output_that_is_an_input_is_refused(raw, name):
    args = CASES[name](raw)
    target = Path(args[args.index("-o") + 1])
    before = _digest(target)
    result = subprocess.run([EXE, *args], capture_output=True, text=True, check=False)
    assert result.returncode == 2, result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and target.name in lines[0] and "input" in lines[0], lines
    assert _digest(target) == before
