"""Where the real cycler test files live, and the mutation helpers the property tests share.

Data: ``$OPERANDO_TEST_DATA`` or ``<repo>/../shared/data``; tests that need it skip with one
line when it is absent.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from operando import echem
from tests.conftest import _checked

REPO = Path(__file__).resolve().parents[2]


def data_root() -> Path | None:
    """Root of the shared real-data corpus, or None."""
    env = os.environ.get("OPERANDO_TEST_DATA")
    root = Path(env) if env else REPO.parent / "shared" / "data"
    return root if root.is_dir() else None


def real_file(*parts: str) -> Path:
    """Path of a real test file, checked against its pinned SHA-256; skips when the data are absent."""
    root = data_root()
    if root is None:
        pytest.skip("real data absent: set OPERANDO_TEST_DATA or provide ../shared/data")
    return _checked("/".join(parts))


def flip_bytes(data: bytes, positions: list[int], values: list[int]) -> bytes:
    """``data`` with the byte at each position (mod length) replaced by a value."""
    buf = bytearray(data)
    for pos, val in zip(positions, values, strict=False):
        buf[pos % len(buf)] = val
    return bytes(buf)


def sniffer(name: str) -> Callable[[bytes, Path], bool]:
    """The content sniffer of one format of :data:`operando.echem.READERS` (``sniff(head, path)``)."""
    return next(fmt.sniff for fmt in echem.READERS if fmt.name == name)
