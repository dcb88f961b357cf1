"""A user's first install, in a brand-new virtual environment (issue 19).

``pip install .`` with no extras, then ``operando tomo recon``: one line naming
``operando[tomo]`` and exit 2, nothing written. ``pip install ".[tomo]"``, then the same
command on a small synthetic scan: exit 0 and a store that opens verified and holds the
phantom. The package is built from a copy of the repository's tracked files only
(``git ls-files``), so untracked files in the working tree never enter the wheel.

``uv`` (test extra) makes the venv and installs from its cache in seconds; without it the
test falls back to ``python -m venv`` and pip (minutes). Deselect with ``-m "not fresh_venv"``;
skipped with one line when PyPI cannot be reached or this is not a git checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
INDEX = os.environ.get("UV_INDEX_URL") or os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple/"
TIMEOUT_S = 420  # one install with a cold cache; a warm one takes ~10 s

pytestmark = [pytest.mark.fresh_venv, pytest.mark.timeout(900)]


def _uv() -> str | None:
    try:
        import uv  # the test extra installs uv's binary into the venv

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _index_reachable() -> str | None:
    """None when the package index answers, else why not."""
    try:
        with urllib.request.urlopen(INDEX, timeout=10) as r:
            return None if r.status < 400 else f"HTTP {r.status}"
    except OSError as exc:
        return str(getattr(exc, "reason", exc))


def _tracked_copy(dest: Path) -> Path:
    """Copy the working tree's tracked files (git ls-files) to ``dest``."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip(f"{ROOT} is not a git checkout: the fresh-venv install test builds from tracked files only")
    names = subprocess.run([git, "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60).stdout.split(
        b"\0"
    )
    copied = 0
    for raw in filter(None, names):
        rel = os.fsdecode(raw)
        src = ROOT / rel
        if not src.is_file():  # tracked but deleted in the working tree
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        copied += 1
    assert (dest / "pyproject.toml").is_file() and copied > 50
    return dest


class FreshVenv:
    """A new virtual environment and the installer that fills it."""

    def __init__(self, where: Path):
        self.where = where
        self.uv = _uv()
        if self.uv:
            self._run([self.uv, "venv", "--quiet", "--python", sys.executable, str(where)])
        else:
            self._run([sys.executable, "-m", "venv", str(where)])
        self.python = where / "bin" / "python"
        self.operando = where / "bin" / "operando"

    @staticmethod
    def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=TIMEOUT_S, **kw)
        assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        return r

    def install(self, requirement: str) -> None:
        if self.uv:
            self._run([self.uv, "pip", "install", "--quiet", "--python", str(self.python), requirement])
        else:
            self._run([str(self.python), "-m", "pip", "install", "--quiet", requirement])

    def has(self, module: str) -> bool:
        code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
        return subprocess.run([str(self.python), "-c", code], check=False, timeout=120).returncode == 0


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> tuple[FreshVenv, Path]:
    why = _index_reachable()
    if why is not None:
        pytest.skip(f"package index {INDEX} unreachable ({why}): fresh-venv install test skipped")
    base = tmp_path_factory.mktemp("fresh")
    source = _tracked_copy(base / "operando-src")
    return FreshVenv(base / "venv"), source


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    """A small Li | electrolyte | Li scan with detector noise, written from this test's own venv."""
    from operando.synthetic import simulate_bare_cell, write_cell_dxchange

    cell = simulate_bare_cell((32, 40, 40), n_voids=(2, 2), n_pores=2, seed=3)
    path = write_cell_dxchange(
        tmp_path_factory.mktemp("scan") / "cell.h5", cell, seed=3, n_angles=60, flat_counts=2e4, zinger_fraction=2e-4
    )
    return cell, path


def test_fresh_venv_names_the_extra_then_reconstructs_with_it(fresh, scan, tmp_path):
    venv, source = fresh
    cell, path = scan
    before = path.read_bytes()

    # 1. no extras: the core installs, the command names the extra in one line, exit 2, writes nothing
    venv.install(str(source))
    assert venv.has("operando") and not venv.has("algotom") and not venv.has("finufft")
    out = tmp_path / "out.zarr"
    r = subprocess.run(
        [str(venv.operando), "tomo", "recon", str(path), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT_S,
        cwd=tmp_path,
    )
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert "operando[tomo]" in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert not out.exists(), "a failed command left a store behind"

    # 2. with the tomo extra: the same command reconstructs, and the store opens verified
    venv.install(f"{source}[tomo]")
    assert venv.has("algotom") and venv.has("finufft")
    r = subprocess.run(
        [str(venv.operando), "tomo", "recon", str(path), "-o", str(out), "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT_S,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr == "" and str(out.name) in r.stdout, (r.stdout, r.stderr)
    check = (
        "import sys, numpy as np, operando\n"
        f"ds = operando.open({str(out)!r}, verify='sha256')\n"
        "a = ds['attenuation']\n"
        "assert a.dims == ('z', 'y', 'x'), a.dims\n"
        "np.save(sys.argv[1], a.values)\n"
    )
    volume = tmp_path / "volume.npy"
    r = subprocess.run(
        [str(venv.python), "-c", check, str(volume)], capture_output=True, text=True, check=False, timeout=300
    )
    assert r.returncode == 0, r.stderr
    assert path.read_bytes() == before, "the input scan was modified"

    # the reconstruction is the phantom (not just a file): correlation with the true attenuation
    rec = np.load(volume)
    assert rec.shape == cell.attenuation.shape
    inner = (slice(None), slice(6, -6), slice(6, -6))  # away from the reconstruction circle's edge
    corr = np.corrcoef(rec[inner].ravel(), cell.attenuation[inner].ravel())[0, 1]
    assert corr > 0.9, corr
