"""Varian/Agilent VnmrJ experiments (``<name>.fid`` folders: ``fid`` + ``procpar``) through nmrglue.

Returns the same :class:`~operando.nmr.NMRFID` as :func:`~operando.nmr.read_bruker`, so that
:func:`~operando.nmr.process` handles both. Mapping from ``procpar``:

======================  ===========================================================
NMRMeta                 procpar
======================  ===========================================================
``sfo1_MHz``            ``sfrq`` (observe frequency, the carrier)
``sw_Hz``               ``sw``
``td``                  ``np`` (real points per FID)
``ns``                  ``ct`` (completed transients), else ``nt``
``rg``                  ``10 ** (gain / 20)`` (``gain`` in dB)
``pulse_us``            ``pw``
``p90_us``              ``pw90`` (when > 0)
``recycle_s``           ``d1``
``spin_rate_Hz``        ``srate`` (>= 1 kHz)
``reference_MHz``       ``reffrq`` (frequency of 0 ppm); without it from ``rfl``/``rfp``:
                        ``sfrq - (rfp - rfl + sw/2) * 1e-6`` (``rfl``: Hz of the
                        reference line from the right edge, ``rfp``: its shift in Hz);
                        without both, ``sfrq`` (carrier at 0 ppm)
``bf1_MHz``, ``o1_Hz``  ``reference_MHz`` and the carrier offset from it
``nucleus``             ``tn`` (``H1`` -> ``1H``)
``pulse_program``       ``seqfil``
``processing``          ``SI = fn / 2``, ``LB = lb`` with ``WDW = 1`` when ``lb`` is active
======================  ===========================================================

VnmrJ stores the FID with the opposite quadrature sign to TopSpin; the data are
conjugated on reading (checked on the CD3OD spectrum in ``tests/nmr/test_varian.py``:
HDO at 4.87 ppm and CHD2OD at 3.31 ppm). No digital-filter delay is applied (VnmrJ's
DSP delivers the FID corrected); VnmrJ's phases ``rp``/``lp`` use another convention
and are not translated: phase automatically.
"""

from __future__ import annotations

import re
import struct
import warnings
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from operando.errors import CorruptFileError, MissingMetadataError, UnsupportedFormatError
from operando.nmr.io._bruker import MIN_MAS_HZ, NMRFID, NMRMeta

__all__ = ["nucleus_name", "read_varian"]


def nucleus_name(tn: str) -> str:
    """VnmrJ's ``tn`` (``H1``, ``Li7``, ``Rb87``) as ``1H``, ``7Li``, ``87Rb``.

    Examples
    --------
    >>> nucleus_name("Li7"), nucleus_name("H1"), nucleus_name("7Li")
    ('7Li', '1H', '7Li')
    """
    m = re.fullmatch(r"([A-Za-z]+)(\d+)", tn.strip())
    return f"{m.group(2)}{m.group(1)}" if m else tn.strip()


def _value(procpar: dict[str, Any], key: str) -> str | None:
    entry = procpar.get(key)
    if not entry or not entry.get("values"):
        return None
    return str(entry["values"][0])


def _number(procpar: dict[str, Any], key: str, path: Path, *, required: bool = True) -> float | None:
    text = _value(procpar, key)
    if text is None:
        if required:
            raise MissingMetadataError(f"procpar parameter {key} is missing", path=path)
        return None
    try:
        return float(text)
    except ValueError as exc:
        raise CorruptFileError(f"procpar parameter {key} is not a number: {text!r}", path=path) from exc


def _check_fid_file(path: Path) -> tuple[int, int, int]:
    """``(nblocks, ntraces, np)`` from the 32-byte file header, after checking the file size."""
    size = path.stat().st_size
    if size < 32:
        raise CorruptFileError(f"truncated: {size} bytes, shorter than the 32-byte file header", path=path)
    with path.open("rb") as fh:
        nblocks, ntraces, n, ebytes, tbytes, bbytes, _, status, nbheaders = struct.unpack(">6lhhl", fh.read(32))
    if not (status & 0x1) or ebytes not in (2, 4) or tbytes != n * ebytes or nblocks < 1 or n < 2:
        raise CorruptFileError(
            f"not a VnmrJ FID header (status {status:#x}, np {n}, ebytes {ebytes}, tbytes {tbytes})", path=path
        )
    expected = 32 + nblocks * bbytes
    if bbytes != ntraces * tbytes + nbheaders * 28 or size < expected:
        raise CorruptFileError(
            f"truncated: {size} bytes, but the header promises {nblocks} blocks of {bbytes} bytes ({expected})",
            path=path,
        )
    return nblocks, ntraces, n


def _positive(procpar: dict[str, Any], key: str, path: Path) -> float | None:
    value = _number(procpar, key, path, required=False)
    return value if value is not None and value > 0 else None


def _spin(procpar: dict[str, Any], path: Path) -> float | None:
    value = _number(procpar, "srate", path, required=False)
    return value if value is not None and value >= MIN_MAS_HZ else None


def read_varian(path: str | PathLike[str]) -> NMRFID:
    """Read a VnmrJ experiment folder (``fid`` + ``procpar``) into the common FID record.

    Parameters
    ----------
    path : str or os.PathLike
        The ``<name>.fid`` folder.

    Returns
    -------
    NMRFID
        ``data`` has one row per block (the elements of an arrayed experiment), conjugated
        to TopSpin's sign convention; ``meta.vendor == "Varian"``.

    Raises
    ------
    UnsupportedFormatError
        Not a folder with ``procpar`` and ``fid``.
    MissingMetadataError
        ``procpar`` lacks ``sfrq``, ``sw`` or ``np``.
    CorruptFileError
        The ``fid`` file is shorter than its header promises or disagrees with ``np``.
    """
    import nmrglue as ng

    folder = Path(path)
    if not folder.is_dir():
        raise UnsupportedFormatError("not a VnmrJ experiment folder (expected a <name>.fid directory)", path=folder)
    procpar_path, fid_path = folder / "procpar", folder / "fid"
    if not procpar_path.is_file():
        raise MissingMetadataError("no procpar file: acquisition parameters are missing", path=procpar_path)
    if not fid_path.is_file():
        raise UnsupportedFormatError("no fid file beside procpar", path=fid_path)
    try:
        procpar = ng.varian.read_procpar(str(procpar_path))
    except (OSError, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"cannot parse procpar ({exc})", path=procpar_path) from exc
    sfrq = _number(procpar, "sfrq", procpar_path)
    sw = _number(procpar, "sw", procpar_path)
    n_real = _number(procpar, "np", procpar_path)
    assert sfrq is not None
    assert sw is not None
    assert n_real is not None
    nblocks, ntraces, n = _check_fid_file(fid_path)
    if n != int(n_real):
        raise CorruptFileError(
            f"the fid header holds np={n} points per trace, procpar says np={int(n_real)}", path=fid_path
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            _, raw = ng.varian.read_fid(str(fid_path), as_2d=True)
    except (OSError, ValueError, IndexError, struct.error) as exc:
        raise CorruptFileError(f"nmrglue cannot read the FID ({exc})", path=fid_path) from exc
    data = np.conj(np.asarray(raw, dtype=np.complex128)).reshape(nblocks * ntraces, n // 2)
    if not np.all(np.isfinite(data)):
        raise CorruptFileError("non-finite values in the FID", path=fid_path)

    reference = _number(procpar, "reffrq", procpar_path, required=False)
    if not reference:
        rfl = _number(procpar, "rfl", procpar_path, required=False)
        rfp = _number(procpar, "rfp", procpar_path, required=False)
        reference = sfrq - (rfp - rfl + sw / 2) * 1e-6 if rfl is not None and rfp is not None else sfrq
    fn = _number(procpar, "fn", procpar_path, required=False)
    lb = _number(procpar, "lb", procpar_path, required=False)
    processing: dict[str, Any] = {}
    if fn:
        processing["SI"] = int(fn) // 2
    if lb is not None and str(procpar["lb"].get("active", "1")) != "0":
        processing.update({"LB": lb, "WDW": 1})
    text = folder / "text"
    title = text.read_text(errors="replace").strip().splitlines()[0] if text.is_file() and text.stat().st_size else ""
    meta = NMRMeta(
        path=str(folder),
        nucleus=nucleus_name(_value(procpar, "tn") or ""),
        sfo1_MHz=sfrq,
        bf1_MHz=reference,
        o1_Hz=(sfrq - reference) * 1e6,
        sw_Hz=sw,
        td=n,
        group_delay=0.0,
        nc=0,
        ns=int(
            _number(procpar, "ct", procpar_path, required=False)
            or _number(procpar, "nt", procpar_path, required=False)
            or 1
        ),
        title=title,
        pulse_program=_value(procpar, "seqfil") or "",
        reference_MHz=reference,
        processing=processing,
        vendor="Varian",
        rg=10.0 ** ((_number(procpar, "gain", procpar_path, required=False) or 0.0) / 20.0),
        pulse_us=_positive(procpar, "pw", procpar_path),
        recycle_s=_number(procpar, "d1", procpar_path, required=False),
        spin_rate_Hz=_spin(procpar, procpar_path),
        p90_us=_positive(procpar, "pw90", procpar_path),
    )
    params = {k: (v["values"][0] if v.get("values") else None) for k, v in procpar.items()}
    return NMRFID(data=data, meta=meta, acqus=params)
