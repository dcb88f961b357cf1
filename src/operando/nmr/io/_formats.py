"""How the format registry recognises NMR, EPR and ParaVision inputs (folders and file pairs).

The summaries themselves are in :mod:`operando.nmr.io._summary` (parameter files only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "describe_bes3t_file",
    "describe_folder",
    "describe_winepr_file",
    "sniff_bes3t",
    "sniff_bruker_nmr",
    "sniff_bruker_study",
    "sniff_paravision",
    "sniff_varian",
    "sniff_winepr",
]


def _is_pv_scan(folder: Path) -> bool:
    return (folder / "acqp").is_file() and ((folder / "method").is_file() or (folder / "fid").is_file())


def sniff_paravision(head: bytes, path: Path) -> bool:
    """A ParaVision scan (``acqp`` + ``method``/``fid``) or reconstruction (``2dseq`` + ``visu_pars``)."""
    return _is_pv_scan(path) or ((path / "2dseq").is_file() and (path / "visu_pars").is_file())


def sniff_bruker_nmr(head: bytes, path: Path) -> bool:
    """A TopSpin / XWIN-NMR experiment folder (``acqus`` + ``fid`` or ``ser``)."""
    return (path / "acqus").is_file() and ((path / "fid").is_file() or (path / "ser").is_file())


def sniff_varian(head: bytes, path: Path) -> bool:
    """A VnmrJ ``.fid`` folder (``procpar`` + ``fid``)."""
    return (path / "procpar").is_file() and (path / "fid").is_file()


def sniff_bruker_study(head: bytes, path: Path) -> bool:
    """A folder of numbered Bruker experiments (NMR or ParaVision)."""
    return any(p.is_dir() and p.name.isdigit() and (_is_pv_scan(p) or (p / "acqus").is_file()) for p in path.iterdir())


def describe_folder(path: Path) -> dict[str, Any]:
    """Summary of a Bruker NMR, ParaVision, VnmrJ folder or a study of them (parameter files only)."""
    from operando.nmr.io._summary import describe_nmr_folder

    found = describe_nmr_folder(path)
    return found if found is not None else {"kind": "folder"}


def sniff_bes3t(head: bytes, path: Path) -> bool:
    """Either file of a Bruker BES3T pair (``.DSC`` starting with ``#DESC`` beside a ``.DTA``)."""
    from operando.nmr.io._epr import bes3t_pair

    return bes3t_pair(path) is not None


def sniff_winepr(head: bytes, path: Path) -> bool:
    """Either file of a WinEPR/ESP ``.par``/``.spc`` pair."""
    from operando.nmr.io._epr import winepr_pair

    return winepr_pair(path) is not None


def describe_bes3t_file(path: Path) -> dict[str, Any]:
    """Summary of a BES3T pair from its descriptor."""
    from operando.nmr.io._epr import bes3t_pair
    from operando.nmr.io._summary import describe_bes3t

    pair = bes3t_pair(path)
    assert pair is not None  # only called for files the sniffer took
    return describe_bes3t(*pair)


def describe_winepr_file(path: Path) -> dict[str, Any]:
    """Summary of a WinEPR/ESP pair from its ``.par`` file."""
    from operando.nmr.io._summary import describe_winepr

    return describe_winepr(path)
