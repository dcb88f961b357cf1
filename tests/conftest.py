"""Shared fixtures: where the real instrument files are, checked by SHA-256 before use."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from hypothesis import settings

# The default run explores the same examples every time (make test and CI must not pass or
# fail by chance); OPERANDO_HYPOTHESIS_RANDOM=1 explores new ones, as a search for defects.
settings.register_profile("operando-default", derandomize=True)
settings.register_profile("operando-random", derandomize=False)
settings.load_profile("operando-random" if os.environ.get("OPERANDO_HYPOTHESIS_RANDOM") else "operando-default")

REPO = Path(__file__).resolve().parents[1]
PINS = Path(__file__).with_name("realdata_sha256.txt")


def data_root() -> Path:
    """``$OPERANDO_TEST_DATA`` or ``../shared/data`` beside the repository."""
    env = os.environ.get("OPERANDO_TEST_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@cache
def _pins() -> dict[str, str]:
    pins = {}
    for line in PINS.read_text().splitlines():
        digest, rel = line.split(maxsplit=1)
        pins[rel] = digest
    return pins


@cache
def _checked(rel: str) -> Path:
    root = data_root()
    path = root / rel
    if not path.is_file():
        pytest.fail(f"pinned real-data file missing: {path}")
    expected = _pins().get(rel)
    if expected is None:
        pytest.fail(f"{rel} is not pinned in {PINS.name}; add its SHA-256 there")
    with path.open("rb") as fh:
        actual = hashlib.file_digest(fh, "sha256").hexdigest()
    if actual != expected:
        pytest.fail(f"{path}: SHA-256 {actual[:16]}… differs from the pinned {expected[:16]}…")
    return path


@pytest.fixture
def real_file() -> Callable[[str], Path]:
    """``real_file("tomo/tomopy/tooth.h5")`` -> checked path; skips when the data folder is absent."""
    root = data_root()
    if not root.is_dir():
        pytest.skip(f"real data folder {root} not found (set OPERANDO_TEST_DATA to run the realdata tests)")
    return _checked


def real_files(pattern: str) -> list[str]:
    """Pinned relative paths matching a glob pattern (for parametrising tests)."""
    import fnmatch

    return sorted(rel for rel in _pins() if fnmatch.fnmatch(rel, pattern))


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> tuple[Path, str]:
    """``operando demo --quiet`` run once per test session through the installed command.

    Every test that needs the demo's output shares this run (the demo takes about a minute
    on two cores): returns the output folder and what the command printed.
    """
    import shutil
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("demo") / "demo"
    exe = shutil.which("operando") or str(Path(sys.executable).with_name("operando"))
    r = subprocess.run([exe, "demo", "--out", str(out), "--quiet"], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    return out, r.stdout
