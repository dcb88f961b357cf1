"""Neware BTSDA CSV exports (the vendor software's "export to CSV" of an .nda/.ndax).

The header row names the columns with units in parentheses, e.g. ``Current(µA)``,
``Voltage(mV)``, ``Total Time`` / ``Cumulative Time`` as ``HH:MM:SS``; BTSDA has written
both UTF-8 and the Windows code page. The table itself is parsed by
:func:`operando.echem.io._csv.read_csv`; this module only recognises the layout and maps it.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from operando.echem._record import EchemRecord
from operando.echem.io._csv import read_csv
from operando.echem.io._readerutil import read_nonempty_bytes
from operando.errors import MissingMetadataError

__all__ = ["read_btsda", "sniff_btsda"]


def _header(head: bytes) -> list[str]:
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    for encoding in ("utf-8", "latin-1"):
        try:
            return [c.strip() for c in first.decode(encoding).split(",")]
        except UnicodeDecodeError:
            continue
    return []


def sniff_btsda(head: bytes, path: Path) -> bool:
    """True for a BTSDA CSV: ``DataPoint,Cycle Index,Step Index,Step Type,...`` with Voltage(..)."""
    del path
    names = _header(head)
    return names[:4] == ["DataPoint", "Cycle Index", "Step Index", "Step Type"] and any(
        n.startswith("Voltage(") for n in names
    )


def read_btsda(path: str | PathLike[str], *, timezone: str = "UTC") -> EchemRecord:
    """Read a Neware BTSDA CSV export.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file.
    timezone : str, default "UTC"
        Zone of the ``Date`` column's wall-clock times.

    Returns
    -------
    EchemRecord
        ``time_s`` from ``Total Time`` (or ``Cumulative Time``), voltage and current
        converted from the units in the header, ``cycle`` and ``step`` as written;
        ``charge_mAh`` integrated from the current (BTSDA's capacity restarts every step).
    """
    src = Path(path)
    data = read_nonempty_bytes(src, "Neware BTSDA CSV")
    names = _header(data[:4096])
    encoding = "utf-8"
    try:
        data[:65536].decode("utf-8")
    except UnicodeDecodeError:
        encoding = "latin-1"

    def pick(prefixes: tuple[str, ...]) -> str:
        for prefix in prefixes:
            found = [n for n in names if n == prefix or n.startswith(prefix + "(")]
            if found:
                return found[0]
        raise MissingMetadataError(f"BTSDA export without a {prefixes[0]!r} column (has {names})", path=src)

    columns = {
        "time_s": pick(("Total Time", "Cumulative Time")),
        "voltage_V": pick(("Voltage",)),
        "current_mA": pick(("Current",)),
        "cycle": pick(("Cycle Index",)),
        "step": pick(("Step Index",)),
    }
    if "Date" in names:
        columns["timestamp"] = "Date"
    record = read_csv(src, columns=columns, encoding=encoding, timezone=timezone)
    return EchemRecord(record.data, record.units, record.meta.replace(format="neware-btsda-csv", software="BTSDA"))
