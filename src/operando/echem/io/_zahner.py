"""Zahner Zennium polarisation logs (``POL.txt``): three columns, no header.

Time (h by default), cell voltage (V) and current (mA), whitespace separated, as the
Zahner Thales software exports a polarisation run (the Li | PEO | Li MRI experiments record
their cell this way).
"""

from __future__ import annotations

import itertools
from os import PathLike
from pathlib import Path

import numpy as np

from operando._files import require_file
from operando._hashing import sha256_file
from operando.echem._record import EchemMetadata, EchemRecord
from operando.errors import CorruptFileError, ParameterError, UnsupportedFormatError

__all__ = ["read_zahner_log", "sniff_zahner_log"]


def sniff_zahner_log(head: bytes, path: Path) -> bool:
    r"""Whether ``head`` looks like a Zahner log: only lines of exactly three numbers, time not decreasing.

    Examples
    --------
    >>> sniff_zahner_log(b"0.0000\t0.0012\t0.000\n0.0056\t0.0150\t0.100\n", Path("POL.txt"))
    True
    >>> sniff_zahner_log(b"time,voltage\n0,1\n", Path("x.csv"))
    False
    """
    lines = head.decode("latin-1").splitlines()
    if len(lines) > 1 and not head.endswith(b"\n"):
        lines = lines[:-1]  # the head may cut the last line
    times: list[float] = []
    for line in lines:
        if not line.strip():
            continue
        parts = line.replace(",", ".").split()
        if len(parts) != 3:
            return False
        try:
            times.append(float(parts[0]))
            float(parts[1]), float(parts[2])
        except ValueError:
            return False
    return len(times) >= 2 and all(b >= a for a, b in itertools.pairwise(times))


def read_zahner_log(path: str | PathLike[str], *, time_unit: str = "h") -> EchemRecord:
    """Read a Zahner Zennium polarisation export (``POL.txt``) as an echem record.

    The file has no header: three whitespace-separated columns, time, cell voltage (V)
    and current (mA). The time column is in hours in the Thienenkamp exports (one point
    every 20.18 s = 0.0056 h); ``record.time_s`` keeps the file's origin (its first
    sample need not be at 0), so measurement times on the same clock align directly.

    Parameters
    ----------
    path : str or os.PathLike
    time_unit : {"h", "min", "s"}, default "h"

    Returns
    -------
    EchemRecord
        Canonical columns; ``charge_mAh`` integrated from the current.

    Raises
    ------
    UnsupportedFormatError
        When a line does not hold exactly three numbers.
    CorruptFileError
        When the time column decreases.
    """
    factors = {"h": 3600.0, "min": 60.0, "s": 1.0}
    if time_unit not in factors:
        raise ParameterError(f"time_unit must be one of {sorted(factors)}, got {time_unit!r}")
    p = require_file(path, expected="a Zahner POL.txt export")
    rows: list[list[float]] = []
    for number, line in enumerate(p.read_text(encoding="latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.replace(",", ".").split()
        try:
            values = [float(v) for v in parts]
        except ValueError:
            raise UnsupportedFormatError(
                f"line {number} is not numeric ({line.strip()[:40]!r}): not a Zahner time/voltage/current export",
                path=p,
            ) from None
        if len(values) != 3:
            raise UnsupportedFormatError(f"line {number} has {len(values)} columns, expected time, V, mA", path=p)
        rows.append(values)
    if not rows:
        raise CorruptFileError("no data rows", path=p)
    table = np.asarray(rows, dtype=np.float64)
    t = table[:, 0] * factors[time_unit]
    if np.any(np.diff(t) < 0):
        row = int(np.flatnonzero(np.diff(t) < 0)[0]) + 2
        raise CorruptFileError(f"time decreases at line {row}", path=p)
    meta = EchemMetadata(
        source=str(path),
        sha256=sha256_file(p),
        format="zahner-pol",
        instrument="Zahner Zennium",
        software="Zahner Thales",
        techniques=("polarisation",),
        extra={"time_unit": time_unit},
    )
    return EchemRecord.from_columns(time_s=t, voltage_V=table[:, 1], current_mA=table[:, 2], meta=meta)
