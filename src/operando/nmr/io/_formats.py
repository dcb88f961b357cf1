"""How the format registry recognises NMR, EPR and ParaVision inputs (folders and file pairs).

The summaries are in :mod:`operando.nmr.io._summary` (parameter files only), which uses
these same tests.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "is_experiment",
    "sniff_bes3t",
    "sniff_bruker_nmr",
    "sniff_bruker_study",
    "sniff_paravision",
    "sniff_varian",
    "sniff_winepr",
]


def _is_pv_scan(folder: Path) -> bool:
    return (folder / "acqp").is_file() and ((folder / "method").is_file() or (folder / "fid").is_file())


def is_experiment(folder: Path) -> bool:
    """A numbered experiment of a Bruker study: ``<study>/<n>/`` holding a ParaVision scan or ``acqus``."""
    return folder.is_dir() and folder.name.isdigit() and (_is_pv_scan(folder) or (folder / "acqus").is_file())


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
    return any(is_experiment(p) for p in path.iterdir())


def sniff_bes3t(head: bytes, path: Path) -> bool:
    """Either file of a Bruker BES3T pair (``.DSC`` starting with ``#DESC`` beside a ``.DTA``)."""
    from operando.nmr.io._epr import bes3t_pair

    return bes3t_pair(path) is not None


def sniff_winepr(head: bytes, path: Path) -> bool:
    """Either file of a WinEPR/ESP ``.par``/``.spc`` pair."""
    from operando.nmr.io._epr import winepr_pair

    return winepr_pair(path) is not None
