"""One entry point for raw NMR data: Bruker or Varian, told apart by the folder's content."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from operando.errors import OperandoError, UnsupportedFormatError
from operando.nmr.io._bruker import NMRFID, read_bruker
from operando.nmr.io._formats import refused_format
from operando.nmr.io._varian import read_varian

__all__ = ["nmr_vendor", "read_fid"]


def nmr_vendor(path: str | PathLike[str]) -> str | None:
    """``"Bruker"`` (``acqus``), ``"Varian"`` (``procpar``) or None for a folder's content."""
    folder = Path(path)
    if not folder.is_dir():
        return None
    if (folder / "acqus").is_file() and ((folder / "fid").is_file() or (folder / "ser").is_file()):
        return "Bruker"
    if (folder / "procpar").is_file() and (folder / "fid").is_file():
        return "Varian"
    return None


def read_fid(path: str | PathLike[str]) -> NMRFID:
    """Read a Bruker (``acqus`` + ``fid``/``ser``) or Varian (``procpar`` + ``fid``) experiment.

    Parameters
    ----------
    path : str or os.PathLike
        The experiment folder, or the ``fid``/``ser`` file inside it.

    Returns
    -------
    NMRFID
        As :func:`read_bruker` or :func:`read_varian` return it.
    """
    p = Path(path)
    if p.is_file() and p.name in ("fid", "ser"):
        p = p.parent
    if not p.exists():
        raise OperandoError("no such file or folder", path=p)
    refused = refused_format(p)
    if refused is not None:
        raise UnsupportedFormatError(
            f"a {refused} dataset: not read by operando; export the FID as a Bruker or JCAMP-DX file", path=p
        )
    vendor = nmr_vendor(p)
    if vendor == "Bruker":
        return read_bruker(p)
    if vendor == "Varian":
        return read_varian(p)
    if p.is_dir() and (p / "acqus").is_file():
        return read_bruker(p)  # its error says what is missing
    if p.is_dir() and (p / "procpar").is_file():
        return read_varian(p)
    raise UnsupportedFormatError(
        "not an NMR experiment: expected a Bruker folder (acqus + fid/ser) or a Varian folder (procpar + fid)", path=p
    )
