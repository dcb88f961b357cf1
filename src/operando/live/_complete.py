"""When is a measurement finished? Signs that instruments write, checked without locking.

An instrument writes a measurement over minutes: a Bliss master file is created when the
K-map starts, each rocking angle is one scan whose ``end_time`` appears when it ends, and
the frames land in Lima files beside it (virtual datasets in the master point at them). A
DXchange scan grows until its writer closes it. A TopSpin experiment folder gets its
``acqus`` when the acquisition starts, its ``fid`` (TD points) and, when it ends, its audit
trail ``audita.txt``. A potentiostat file grows for the whole experiment and is never
"finished". A measurement is taken when

* its own end markers say so (every scan of a Bliss master has ``end_time``; every virtual
  source file exists), and
* nothing under it changed for ``settle_s`` seconds (sizes and modification times of the
  master and the files it names), so a file still being flushed is never read half-way.

Files are opened read-only without HDF5 file locking (a Bliss writer holds the master
open in SWMR mode); any error while the writer is busy means "not yet".
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Completion", "bliss_complete", "file_signature", "hdf5_complete", "projections_written", "topspin_complete"]


@dataclass(frozen=True)
class Completion:
    """What a completion check found.

    Attributes
    ----------
    done : bool
        The instrument has finished writing the measurement (its end markers are there).
    reason : str
        Why not, in a few words ("scan 3.1 has no end_time"); empty when done.
    files : tuple of pathlib.Path
        Every file whose bytes the measurement is made of (the master first), for the
        settle check and the provenance.
    """

    done: bool
    reason: str = ""
    files: tuple[Path, ...] = ()


def file_signature(paths: tuple[Path, ...]) -> tuple[tuple[str, int, int], ...]:
    """(path, size, mtime_ns) of each file; a missing file has size -1.

    Examples
    --------
    >>> file_signature((Path("/no/such/file"),))
    (('/no/such/file', -1, 0),)
    """
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((str(p), st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((str(p), -1, 0))
    return tuple(out)


def _open(path: Path) -> Any:
    import h5py

    return h5py.File(path, "r", locking=False)


def bliss_complete(master: Path) -> Completion:
    """Whether every scan of a Bliss master file has ended and its frame files exist.

    Parameters
    ----------
    master : pathlib.Path
        The master HDF5 file of a K-map (one scan per rocking angle).

    Returns
    -------
    Completion
        ``files``: the master and every Lima file its virtual datasets name.
    """
    try:
        with _open(master) as f:
            scans = [k for k in f if isinstance(k, str) and "." in k]
            if not scans:
                return Completion(False, "no scan yet", (master,))
            sources: set[Path] = set()
            for name in scans:
                g = f[name]
                if "end_time" not in g:
                    return Completion(False, f"scan {name} has no end_time yet", (master,))
                meas = g.get("measurement")
                if meas is None:
                    return Completion(False, f"scan {name} has no measurement group yet", (master,))
                for key in meas:
                    ds = meas.get(key)
                    if ds is not None and getattr(ds, "is_virtual", False):
                        for vs in ds.virtual_sources():
                            src = Path(vs.file_name)
                            sources.add(src if src.is_absolute() else master.parent / src)
    except (OSError, KeyError, RuntimeError, ValueError) as exc:
        return Completion(False, f"not readable yet ({type(exc).__name__})", (master,))
    missing = sorted(str(s) for s in sources if not s.is_file())
    if missing:
        return Completion(False, f"frame file {missing[0]} not written yet", (master,))
    return Completion(True, "", (master, *sorted(sources)))


def hdf5_complete(path: Path) -> Completion:
    """Whether an HDF5 file (DXchange, NeXus) opens and reads: its writer has closed it.

    Parameters
    ----------
    path : pathlib.Path

    Returns
    -------
    Completion
    """
    try:
        with _open(path) as f:
            list(f.keys())
    except (OSError, KeyError, RuntimeError, ValueError) as exc:
        return Completion(False, f"not readable yet ({type(exc).__name__})", (path,))
    return Completion(True, "", (path,))


_TD = re.compile(rb"^##\$TD=\s*(\d+)", re.MULTILINE)
_DTYPA = re.compile(rb"^##\$DTYPA=\s*(\d+)", re.MULTILINE)
_AUDIT_ENTRY = re.compile(rb"\(\s*\d+\s*,\s*<\d{4}-\d\d-\d\d")


def _jcamp_int(pattern: re.Pattern[bytes], text: bytes) -> int | None:
    m = pattern.search(text)
    return int(m.group(1)) if m else None


def topspin_complete(folder: Path, *, require_audit: bool = False) -> Completion:
    """Whether a TopSpin/XWIN-NMR experiment folder holds a finished acquisition.

    Done when ``acqus`` is whole (ends with ``##END=``) and gives ``TD``; the ``fid`` (or
    ``ser``, with ``acqu2s`` ``TD`` rows of 1024-byte blocks) holds at least ``TD`` points
    of its data type (``DTYPA``: 4-byte integers, or 8-byte doubles); and the audit trail
    ``audita.txt``, which TopSpin writes when the acquisition ends, records it (an entry
    and ``##END=``). A folder without ``audita.txt`` (older or copied data) is taken on the
    first two alone, with the watch's settle time, unless ``require_audit``.

    Parameters
    ----------
    folder : pathlib.Path
        The experiment folder.
    require_audit : bool
        Wait for ``audita.txt`` (spectrometers that write the fid during the acquisition).

    Returns
    -------
    Completion
        ``files``: ``acqus``, the data file, ``audita.txt`` when there, every other file of
        the folder, and ``pdata/1/procs`` (its defaults change the spectrum).

    Examples
    --------
    >>> import tempfile
    >>> exp = Path(tempfile.mkdtemp())
    >>> _ = (exp / "acqus").write_text("##TITLE= Parameter file, TOPSPIN\\n##$TD= 8\\n##$DTYPA= 0\\n##END=\\n")
    >>> _ = (exp / "fid").write_bytes(bytes(16))  # 4 of the 8 int32 points
    >>> topspin_complete(exp).reason
    'fid holds 16 of 32 bytes'
    >>> _ = (exp / "fid").write_bytes(bytes(1024))  # TD points, padded to a 1024-byte block
    >>> topspin_complete(exp).done, topspin_complete(exp, require_audit=True).reason
    (True, 'no audita.txt yet (the acquisition has not ended)')
    """
    acqus = folder / "acqus"
    try:
        text = acqus.read_bytes()
    except OSError:
        return Completion(False, "no acqus yet", (acqus,))
    if b"##END=" not in text:
        return Completion(False, "acqus is still being written", (acqus,))
    td = _jcamp_int(_TD, text)
    if not td:
        return Completion(False, "acqus gives no TD", (acqus,))
    width = 8 if _jcamp_int(_DTYPA, text) == 2 else 4
    data, need = folder / "fid", td * width
    if not data.is_file() and (folder / "ser").is_file():
        data = folder / "ser"
        try:
            rows = _jcamp_int(_TD, (folder / "acqu2s").read_bytes()) or 1
        except OSError:
            rows = 1
        need = rows * (-(-td * width // 1024) * 1024)  # each row padded to 1024 bytes
    try:
        size = data.stat().st_size
    except OSError:
        return Completion(False, "no fid yet", (acqus,))
    if size < need:
        return Completion(False, f"{data.name} holds {size} of {need} bytes", (acqus, data))
    audit = folder / "audita.txt"
    if audit.is_file():
        trail = audit.read_bytes()
        if b"##END=" not in trail or _AUDIT_ENTRY.search(trail) is None:
            return Completion(False, "audita.txt does not record the acquisition yet", (acqus, data, audit))
    elif require_audit:
        return Completion(False, "no audita.txt yet (the acquisition has not ended)", (acqus, data))
    others = sorted(p for p in folder.iterdir() if p.is_file() and p not in (acqus, data, audit))
    procs = folder / "pdata" / "1" / "procs"
    files = (acqus, data, *((audit,) if audit.is_file() else ()), *others, *((procs,) if procs.is_file() else ()))
    return Completion(True, "", files)


def _unwritten(ds: Any) -> str | None:
    """Why a chunked image stack is not all written yet (chunks HDF5 has not allocated), or None."""
    import math

    if ds.chunks is None or getattr(ds, "is_virtual", False) or ds.ndim < 3 or ds.size == 0:
        return None
    need = math.prod(math.ceil(n / c) for n, c in zip(ds.shape, ds.chunks, strict=True))
    have = ds.id.get_num_chunks()
    return f"{ds.name}: {have} of {need} chunks written" if have < need else None


def projections_written(path: Path) -> Completion:
    """Whether every image stack of a tomography file is written, and the file opens cleanly.

    A tomography writer often creates its projection dataset at full size first and fills
    it frame by frame: a file that opens is not yet a finished scan. Every chunked stack of
    three or more dimensions (projections, flats, darks) must have all its chunks
    allocated (HDF5's own count, no data read); contiguous and virtual datasets are taken
    as they are. "Stopped growing" is the watch's settle check on top of this.

    Parameters
    ----------
    path : pathlib.Path
        A DXchange or NeXus file.

    Returns
    -------
    Completion

    Examples
    --------
    >>> import tempfile, h5py
    >>> p = Path(tempfile.mkdtemp()) / "scan.h5"
    >>> with h5py.File(p, "w") as f:
    ...     data = f.create_dataset("exchange/data", shape=(4, 2, 2), dtype="u2", chunks=(1, 2, 2))
    ...     data[:3] = 7
    >>> projections_written(p).reason
    '/exchange/data: 3 of 4 chunks written'
    """
    import h5py

    opened = hdf5_complete(path)
    if not opened.done:
        return opened
    found: list[str] = []

    def visit(_name: str, obj: Any) -> None:
        if not found and isinstance(obj, h5py.Dataset):
            why = _unwritten(obj)
            if why:
                found.append(why)

    try:
        with _open(path) as f:
            f.visititems(visit)
    except (OSError, KeyError, RuntimeError, ValueError) as exc:
        return Completion(False, f"not readable yet ({type(exc).__name__})", (path,))
    if found:
        return Completion(False, found[0], (path,))
    return Completion(True, "", (path,))
