"""Impedance exports of two more potentiostat programs: Princeton Applied Research
VersaStudio (``.par``) and Scribner ZPlot (``.z``).

Neither has a maintained Python reader that returns metadata and checks the table, so
the parse is ours. Both become records with time, DC potential and current plus the
impedance columns ``freq/Hz``, ``Re(Z)/Ohm`` and ``-Im(Z)/Ohm`` (EC-Lab's names, so
spectra from every vendor line up).
"""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path

import numpy as np

from operando.echem._record import EchemMetadata, EchemRecord
from operando.echem.io._readerutil import file_identity, read_nonempty_bytes
from operando.errors import CorruptFileError

__all__ = ["read_versastudio", "read_zplot", "sniff_versastudio", "sniff_zplot"]

_IMPEDANCE_UNITS = {"freq/Hz": "Hz", "Re(Z)/Ohm": "Ohm", "-Im(Z)/Ohm": "Ohm"}


def sniff_versastudio(head: bytes, path: Path) -> bool:
    """True for a VersaStudio ``.par`` file (``<Application>`` block naming VersaStudio)."""
    del path
    return head.lstrip(b"\xef\xbb\xbf\r\n ").startswith(b"<Application>") and b"Name=VersaStudio" in head


def sniff_zplot(head: bytes, path: Path) -> bool:
    """True for a ZPlot ASCII file (first line ``ZPLOT2 ASCII``)."""
    del path
    return head.lstrip(b"\xef\xbb\xbf\r\n ").startswith(b"ZPLOT2 ASCII")


def _numbers(lines: list[str], first_line: int, n_columns: int, sep: str | None, path: Path) -> np.ndarray:
    """Parse rows of numbers, naming the first bad line."""
    rows = []
    for k, line in enumerate(lines):
        fields = [f for f in (line.split(sep) if sep else line.split()) if f.strip() != ""]
        if len(fields) < n_columns:
            raise CorruptFileError(
                f"line {first_line + k}: {len(fields)} fields, the header names {n_columns} (truncated?)", path=path
            )
        try:
            rows.append([float(f) for f in fields[:n_columns]])
        except ValueError as exc:
            raise CorruptFileError(f"line {first_line + k}: not a number ({exc})", path=path) from exc
    return np.array(rows, dtype=np.float64).reshape(-1, n_columns)


def read_versastudio(path: str | PathLike[str]) -> EchemRecord:
    """Read the first data segment of a VersaStudio ``.par`` file.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    EchemRecord
        ``time_s`` = ``Elapsed Time(s)``, ``voltage_V`` = ``E(V)``, ``current_mA`` =
        1000 ``I(A)``; impedance as ``freq/Hz``, ``Re(Z)/Ohm``, ``-Im(Z)/Ohm`` (sign flipped
        from VersaStudio's ``Z Imag``), every other column kept under its own name.

    Raises
    ------
    CorruptFileError
        No ``<Segment1>`` block, no ``Definition=`` line, or a damaged row.
    """
    src = Path(path)
    text = read_nonempty_bytes(src, "VersaStudio .par").decode("utf-8", errors="replace")
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "<Segment1>")
    except StopIteration:
        raise CorruptFileError("no <Segment1> data block", path=src) from None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip() == "</Segment1>"), None)
    if end is None:
        raise CorruptFileError("the <Segment1> block is not closed (file truncated?)", path=src)
    block = lines[start + 1 : end]
    definition = next((k for k, line in enumerate(block) if line.startswith("Definition=")), None)
    if definition is None:
        raise CorruptFileError("no 'Definition=' column line in <Segment1>", path=src)
    names = [n.strip() for n in block[definition].split("=", 1)[1].split(",")]
    while names and names[-1] in ("", "0"):  # the list ends with a placeholder
        names.pop()
    body = [line for line in block[definition + 1 :] if line.strip()]
    table = _numbers(body, start + definition + 3, len(names), ",", src)
    col = {n: table[:, k] for k, n in enumerate(names)}
    for needed in ("Elapsed Time(s)", "E(V)", "I(A)"):
        if needed not in col:
            raise CorruptFileError(f"segment lacks column {needed!r} (has {names})", path=src)
    extra = {
        n: v
        for n, v in col.items()
        if n not in ("Elapsed Time(s)", "E(V)", "I(A)", "Frequency(Hz)", "Z Real", "Z Imag")
    }
    units = {}
    if {"Frequency(Hz)", "Z Real", "Z Imag"} <= col.keys():
        extra.update({"freq/Hz": col["Frequency(Hz)"], "Re(Z)/Ohm": col["Z Real"], "-Im(Z)/Ohm": -col["Z Imag"]})
        units.update(_IMPEDANCE_UNITS)
    header = dict(line.split("=", 1) for line in lines[:start] if "=" in line and not line.startswith("<"))
    meta = EchemMetadata(
        **file_identity(src),
        format="versastudio-par",
        software="VersaStudio",
        software_version=header.get("Version"),
        techniques=("EIS",) if "freq/Hz" in extra else (),
        electrode_area_cm2=_positive(header.get("Working Electrode Area (cm2)")),
        active_mass_g=_positive(header.get("Mass (g)")),
    )
    return EchemRecord.from_columns(
        time_s=col["Elapsed Time(s)"],
        voltage_V=col["E(V)"],
        current_mA=col["I(A)"] * 1e3,
        meta=meta,
        extra=extra,
        extra_units=units,
    )


def _positive(value: str | None) -> float | None:
    """A header number that means something only when positive (VersaStudio writes 0 for unset)."""
    try:
        number = float(value) if value is not None else 0.0
    except ValueError:
        return None
    return number if number > 0 else None


def read_zplot(path: str | PathLike[str], *, strict: bool = True, lenient: bool = False) -> EchemRecord:
    """Read a ZPlot ASCII impedance file.

    Parameters
    ----------
    path : str or os.PathLike
    strict : bool, default True
        ZPlot's header announces ``Data Points``; with ``strict`` a file holding fewer
        rows is refused (truncated or aborted). ``strict=False`` reads what is there and
        records ``points_declared`` in ``meta.extra``.
    lenient : bool, default False
        The same as ``strict=False`` (the name every reader and ``--lenient`` share).

    Returns
    -------
    EchemRecord
        ``time_s`` = ``Time(Sec)``, ``voltage_V`` = DC ``Bias``, zero current (ZPlot's
        table has none); ``freq/Hz``, ``Re(Z)/Ohm``, ``-Im(Z)/Ohm`` (from ``Z''(b)``).

    Raises
    ------
    CorruptFileError
        No ``Data Points`` line, a damaged row, or (strict) fewer rows than announced.
    """
    src = Path(path)
    lines = read_nonempty_bytes(src, "ZPlot .z").decode("latin-1").splitlines()
    at = next((i for i, line in enumerate(lines) if line.strip().startswith("Data Points:")), None)
    if at is None or at + 1 >= len(lines):
        raise CorruptFileError("no 'Data Points:' line followed by the column header", path=src)
    declared = int(re.sub(r"\D", "", lines[at].split(":", 1)[1]) or 0)
    names = [n.strip() for n in lines[at + 1].split("\t") if n.strip()]
    first = at + 2
    if first < len(lines) and lines[first].strip() == "End Comments":  # closes the comment block
        first += 1
    body = [line for line in lines[first:] if line.strip()]
    if strict and not lenient and len(body) != declared:
        raise CorruptFileError(
            f"header announces {declared} data points, the file holds {len(body)} (truncated or aborted sweep); "
            "the lenient option (--lenient) reads the rows it holds",
            path=src,
        )
    table = _numbers(body, first + 1, len(names), "\t", src)
    col = {n: table[:, k] for k, n in enumerate(names)}
    for needed in ("Freq(Hz)", "Time(Sec)", "Bias", "Z'(a)", "Z''(b)"):
        if needed not in col:
            raise CorruptFileError(f"table lacks column {needed!r} (has {names})", path=src)
    header = {}
    for line in lines[:at]:
        key, sep, value = line.partition(":")
        if sep:
            header[key.strip()] = value.strip()
    extra = {n: v for n, v in col.items() if n not in ("Time(Sec)", "Bias", "Freq(Hz)", "Z'(a)", "Z''(b)")}
    extra.update({"freq/Hz": col["Freq(Hz)"], "Re(Z)/Ohm": col["Z'(a)"], "-Im(Z)/Ohm": -col["Z''(b)"]})
    version = header.get("Measured Data, ZPlot")
    meta = EchemMetadata(
        **file_identity(src),
        format="zplot-z",
        software="ZPlot",
        software_version=version,
        techniques=(header.get("Experiment Type", "EIS"),),
        derived=("current_mA",),
        extra={"points_declared": str(declared)} if len(body) != declared else {},
    )
    return EchemRecord.from_columns(
        time_s=col["Time(Sec)"],
        voltage_V=col["Bias"],
        current_mA=np.zeros(len(body)),
        meta=meta,
        extra=extra,
        extra_units=_IMPEDANCE_UNITS,
    )
