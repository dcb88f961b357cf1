"""``operando.echem.read``: find the format of a potentiostat/cycler file by content."""

from __future__ import annotations

import functools
import inspect
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from operando._files import HEAD_BYTES, read_head
from operando.echem._record import EchemRecord, check_finite
from operando.echem.io._arbin import read_arbin_res, sniff_arbin_res
from operando.echem.io._arbin_export import read_arbin_csv, read_arbin_xlsx, sniff_arbin_csv, sniff_arbin_xlsx
from operando.echem.io._biologic_mpr import read_mpr, sniff_mpr
from operando.echem.io._biologic_text import read_mpt, sniff_mpt
from operando.echem.io._btsda import read_btsda, sniff_btsda
from operando.echem.io._csv import read_csv, sniff_csv
from operando.echem.io._eis_text import read_versastudio, read_zplot, sniff_versastudio, sniff_zplot
from operando.echem.io._gamry import read_gamry, sniff_gamry
from operando.echem.io._maccor import read_maccor, read_maccor_eis, sniff_maccor, sniff_maccor_eis
from operando.echem.io._neware import read_neware, sniff_neware
from operando.echem.io._other import read_novonix, read_pec, sniff_novonix, sniff_pec
from operando.echem.io._zahner import read_zahner_log, sniff_zahner_log
from operando.errors import ParameterError, UnsupportedFormatError

__all__ = ["READERS", "EchemFormat", "detect", "owner_by_suffix", "read"]


@dataclass(frozen=True)
class EchemFormat:
    """One supported file format: how to recognise it and how to read it."""

    name: str
    description: str
    sniff: Callable[[bytes, Path], bool]
    read: Callable[..., EchemRecord]
    suffixes: tuple[str, ...] = ()
    """Extensions this format owns: a file with one that no sniffer recognises is handed to
    this reader anyway, so that its error says what is wrong (e.g. a Bruker EPR ``.DTA``)."""


# Order matters only where signatures overlap: generic delimited text comes last.
READERS: tuple[EchemFormat, ...] = (
    EchemFormat("biologic-mpr", "BioLogic EC-Lab/BT-Lab binary (.mpr)", lambda h, p: sniff_mpr(h), read_mpr, (".mpr",)),
    EchemFormat(
        "biologic-mpt", "BioLogic EC-Lab/BT-Lab text export (.mpt/.txt)", lambda h, p: sniff_mpt(h), read_mpt, (".mpt",)
    ),
    EchemFormat("gamry-dta", "Gamry Framework (.DTA)", sniff_gamry, read_gamry, (".dta",)),
    EchemFormat("neware", "Neware BTS (.nda/.ndax)", sniff_neware, read_neware, (".nda", ".ndax")),
    EchemFormat("arbin-res", "Arbin MITS results database (.res)", sniff_arbin_res, read_arbin_res, (".res",)),
    EchemFormat("arbin-xlsx", "Arbin MITS Excel export (.xlsx)", sniff_arbin_xlsx, read_arbin_xlsx),
    EchemFormat("maccor-eis", "Maccor AC-impedance export (.EDA0001.NNN)", sniff_maccor_eis, read_maccor_eis),
    EchemFormat("maccor-txt", "Maccor tab-separated data export (.NNN/.txt)", sniff_maccor, read_maccor),
    EchemFormat("arbin-csv", "Arbin CSV export from MITS SQL", sniff_arbin_csv, read_arbin_csv),
    EchemFormat("novonix-csv", "Novonix HPC CSV export ([Summary] header)", sniff_novonix, read_novonix),
    EchemFormat("pec-csv", "PEC tester CSV export", sniff_pec, read_pec),
    EchemFormat("neware-btsda-csv", "Neware BTSDA CSV export", sniff_btsda, read_btsda),
    EchemFormat("versastudio-par", "VersaStudio (.par)", sniff_versastudio, read_versastudio, (".par",)),
    EchemFormat("zplot-z", "ZPlot ASCII (.z)", sniff_zplot, read_zplot, (".z",)),
    # no header at all: only lines of three numbers (time in h, V, mA), before generic delimited text
    EchemFormat("zahner-pol", "Zahner Zennium polarisation log (POL.txt: h, V, mA)", sniff_zahner_log, read_zahner_log),
    EchemFormat("csv", "delimited text with a column mapping (.csv/.tsv/.txt)", sniff_csv, read_csv),
)


@functools.cache
def _parameters(reader: Callable[..., EchemRecord]) -> Mapping[str, inspect.Parameter]:
    """A reader's keyword parameters (inspected once per reader, not per file)."""
    return inspect.signature(reader).parameters


def detect(path: str | PathLike[str]) -> EchemFormat | None:
    """Return the format whose signature the file's content matches, or None."""
    p, head = read_head(path)
    return _detect_head(head, p)


def _detect_head(head: bytes, p: Path) -> EchemFormat | None:
    for fmt in READERS:
        if fmt.sniff(head, p):
            return fmt
    return None


def _read_binary(path: str | PathLike[str]) -> tuple[Path, bytes, bytes | None]:
    """``(path, head, whole content or None)`` with one open of the file.

    The whole content is kept only for an ``.mpr`` (a binary file its reader takes whole):
    detecting the format and reading the file then cost one open, stat and read instead of
    two (about 15 of the 70 us a 230 kB ``.mpr`` takes through :func:`read`, measured with
    ``benchmarks/echem_readers.py --formats mpr``). Anything unusual (not a regular
    non-empty file, an error) goes the ordinary way, so its message is unchanged.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return (*read_head(path), None)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            return (*read_head(path), None)
        head = os.read(fd, HEAD_BYTES)
        if not sniff_mpr(head):
            return Path(path), head, None
        data = os.pread(fd, st.st_size, 0)  # one read of the whole file, head included
        return Path(path), head, data if len(data) == st.st_size else None
    except OSError:
        return (*read_head(path), None)
    finally:
        os.close(fd)


def owner_by_suffix(path: str | PathLike[str]) -> EchemFormat | None:
    """The format that owns the file's extension (used only when no signature matched)."""
    suffix = Path(path).suffix.lower()
    return next((fmt for fmt in READERS if suffix in fmt.suffixes), None)


#: ``meta.extra`` keys where readers note rows they read although the file's own count
#: disagrees (or a cut last row they dropped).
ROW_NOTE_KEYS = ("row_count_notes", "row_notes", "points_declared")
_NONFINITE = ("refuse", "flag")


def read(path: str | PathLike[str], *, lenient: bool = False, nonfinite: str = "refuse", **options: Any) -> EchemRecord:
    """Read any supported potentiostat or cycler file into an :class:`EchemRecord`.

    The format is found from the file's content, not its extension.

    Parameters
    ----------
    path : str or os.PathLike
        The file as the instrument software wrote it.
    lenient : bool, default False
        Read a file whose row count differs from the count it declares (Gamry, ZPlot)
        or whose last row was cut (text exports) with the rows it holds, instead of
        refusing it. What differs is recorded in ``meta.extra["lenient"]``.
    nonfinite : {"refuse", "flag"}, default "refuse"
        NaN or infinite time, voltage or current: refuse the file naming the first bad
        row, or keep the rows and add a boolean ``nonfinite`` column.
    **options
        Passed to the format's reader (e.g. ``timezone="Europe/Berlin"``).

    Returns
    -------
    EchemRecord

    Raises
    ------
    UnsupportedFormatError
        When no reader recognises the content.
    CorruptFileError
        When the file is empty, truncated or damaged, or holds NaN/inf values.
    """
    if nonfinite not in _NONFINITE:
        raise ParameterError(f"nonfinite must be one of {list(_NONFINITE)}, got {nonfinite!r}")
    p, head, data = _read_binary(path)
    fmt = _detect_head(head, p) or owner_by_suffix(p)
    if fmt is None:
        known = ", ".join(f.description for f in READERS)
        raise UnsupportedFormatError(f"not a recognised electrochemistry file (supported: {known})", path=path)
    accepted = _parameters(fmt.read)
    if lenient:
        if "lenient" in accepted:
            options["lenient"] = True
        elif "drop_incomplete_last_row" in accepted:
            options["drop_incomplete_last_row"] = True
    if not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise ParameterError(f"option(s) {unknown} do not apply to {fmt.description} files", path=path)
    if data is not None and fmt.read is read_mpr and "data" not in options:
        options["data"] = data
    record = fmt.read(path, **options)
    if lenient:
        notes = [record.meta.extra[k] for k in ROW_NOTE_KEYS if k in record.meta.extra]
        if notes:
            declared = record.meta.extra.get("points_declared")
            text = "; ".join(f"declares {n} points, holds {len(record)}" if n == declared else str(n) for n in notes)
            record.meta = record.meta.replace(extra={**record.meta.extra, "lenient": text})
    return check_finite(record, flag=nonfinite == "flag")
