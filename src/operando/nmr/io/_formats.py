"""How the format registry recognises NMR, EPR and ParaVision inputs (folders and file pairs).

The summaries are in :mod:`operando.nmr.io._summary` (parameter files only), which uses
these same tests.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "bruker_experiment_of",
    "is_experiment",
    "paravision_scan_of",
    "refused_format",
    "sniff_bes3t",
    "sniff_bruker_nmr",
    "sniff_bruker_part",
    "sniff_bruker_study",
    "sniff_jeol",
    "sniff_paravision",
    "sniff_paravision_part",
    "sniff_spinsolve",
    "sniff_spinsolve_file",
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


#: Files of a Bruker experiment folder that stand for the experiment (``info`` on a file of it).
_BRUKER_FILES = ("fid", "ser", "acqus", "acqu", "acqu2s", "acqu2", "acqu3s", "pulseprogram", "uxnmr.par", "audita.txt")
#: Files of a ``pdata/N`` folder.
_PDATA_FILES = ("1r", "1i", "2rr", "2ri", "2ir", "2ii", "procs", "proc", "proc2s", "proc2", "title", "outd")


def bruker_experiment_of(path: Path) -> Path | None:
    """The Bruker experiment folder a file of it, its ``pdata/N`` folder or a file there belongs to, else None.

    Examples
    --------
    >>> bruker_experiment_of(Path("/nonexistent/1/fid")) is None
    True
    """
    p = Path(path)
    candidates = []
    if p.is_file() and p.name in _BRUKER_FILES:
        candidates.append(p.parent)
    if p.is_dir() and p.parent.name == "pdata":
        candidates.append(p.parent.parent)
    if p.is_file() and p.name in _PDATA_FILES and p.parent.parent.name == "pdata":
        candidates.append(p.parent.parent.parent)
    return next((c for c in candidates if sniff_bruker_nmr(b"", c) and not _is_pv_scan(c)), None)


#: Files of a ParaVision scan folder and of its ``pdata/N`` reconstruction.
_PV_FILES = ("fid", "acqp", "method", "rawdata.job0", "pulseprogram", "2dseq", "visu_pars", "reco", "d3proc", "procs")


def paravision_scan_of(path: Path) -> Path | None:
    """The ParaVision scan folder a file of it (``fid``, ``method``, ``pdata/1/2dseq``...) belongs to, else None.

    Examples
    --------
    >>> paravision_scan_of(Path("/nonexistent/5/method")) is None
    True
    """
    p = Path(path)
    if not (p.is_file() and p.name in _PV_FILES):
        return None
    for folder in (p.parent, p.parent.parent.parent if p.parent.parent.name == "pdata" else None):
        if folder is not None and _is_pv_scan(folder):
            return folder
    return None


def sniff_paravision_part(head: bytes, path: Path) -> bool:
    """A file of a ParaVision scan (``fid``, ``acqp``, ``method``, ``pdata/1/2dseq``, ``visu_pars``...)."""
    return paravision_scan_of(path) is not None


def sniff_bruker_part(head: bytes, path: Path) -> bool:
    """A file of a TopSpin / XWIN-NMR experiment (``fid``, ``acqus``, ``pdata/1/1r``...) or its ``pdata/N`` folder."""
    return bruker_experiment_of(path) is not None


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


#: Files of a Magritek Spinsolve experiment folder (``acqu.par`` and one of its data files).
_SPINSOLVE_DATA = ("data.1d", "spectrum.1d", "nmr_fid.dt1", "data.csv", "spectrum_processed.1d")


def sniff_spinsolve(head: bytes, path: Path) -> bool:
    """A Magritek Spinsolve experiment folder (``acqu.par`` + ``data.1d``/``spectrum.1d``/...)."""
    return path.is_dir() and (path / "acqu.par").is_file() and any((path / n).is_file() for n in _SPINSOLVE_DATA)


def sniff_spinsolve_file(head: bytes, path: Path) -> bool:
    """A file of a Magritek Spinsolve folder (``acqu.par`` or one of its data files)."""
    p = Path(path)
    return p.is_file() and p.name in (*_SPINSOLVE_DATA, "acqu.par") and sniff_spinsolve(head, p.parent)


def sniff_jeol(head: bytes, path: Path) -> bool:
    """A JEOL Delta ``.jdf`` file (it starts with ``JEOL.NMR``)."""
    return head.startswith(b"JEOL.NMR")


def refused_format(path: Path) -> str | None:
    """The name of an NMR format recognised but not read (Spinsolve folder or file in it, JEOL JDF), else None.

    Examples
    --------
    >>> refused_format(Path("/nonexistent")) is None
    True
    """
    p = Path(path)
    for folder in (p, p.parent):
        if sniff_spinsolve(b"", folder):
            return "Magritek Spinsolve (acqu.par + data.1d)"
    if p.is_file():
        with p.open("rb") as fh:
            if sniff_jeol(fh.read(8), p):
                return "JEOL Delta JDF"
    return None
