"""Readers of NMR and EPR files: raw instrument files in, data and metadata out (no kernels, no store).

``FORMATS`` registers them with :mod:`operando.formats`: Bruker TopSpin/XWIN-NMR and Varian
VnmrJ experiment folders, ParaVision scans (MRI, recognised by the same Bruker parameter
files), Bruker BES3T and WinEPR/ESP EPR pairs; Magritek Spinsolve folders and JEOL JDF files
are recognised so that they are refused by name.
"""

from __future__ import annotations

from typing import Any

from operando.formats import Format
from operando.nmr.io._epr import sniff_epr_text
from operando.nmr.io._formats import (
    sniff_bes3t,
    sniff_bruker_nmr,
    sniff_bruker_part,
    sniff_bruker_study,
    sniff_jeol,
    sniff_paravision,
    sniff_paravision_part,
    sniff_spinsolve,
    sniff_spinsolve_file,
    sniff_varian,
    sniff_winepr,
)
from operando.nmr.io._summary import (
    describe_bes3t_file,
    describe_bruker_part,
    describe_epr_text,
    describe_folder,
    describe_paravision_part,
    describe_refused,
    describe_winepr,
)


def _read_fid(path: Any, **options: Any) -> Any:
    from operando.nmr.io._readfid import read_fid

    return read_fid(path, **options)


def _read_paravision_part(path: Any, **options: Any) -> Any:
    from operando.mri import read_paravision
    from operando.nmr.io._formats import paravision_scan_of

    return read_paravision(paravision_scan_of(path) or path, **options)


def _read_bruker_part(path: Any, **options: Any) -> Any:
    from operando.nmr.io._formats import bruker_experiment_of
    from operando.nmr.io._readfid import read_fid

    return read_fid(bruker_experiment_of(path) or path, **options)


def _read_epr(path: Any, **options: Any) -> Any:
    from operando.nmr.io._epr import read_epr

    return read_epr(path, **options)


def _refuse(path: Any, **options: Any) -> Any:
    from operando.nmr.io._readfid import read_fid

    return read_fid(path, **options)  # raises UnsupportedFormatError naming the format


def _read_paravision(path: Any, **options: Any) -> Any:
    from operando.mri import read_paravision

    return read_paravision(path, **options)


FORMATS = (
    # ParaVision first: a ParaVision scan also holds an ``acqp`` and a ``fid``
    Format("paravision", "mri", "Bruker ParaVision scan (2dseq/visu_pars, acqp)", sniff_paravision,
           _read_paravision, describe_folder, folder=True),
    Format("bruker-nmr", "nmr", "Bruker TopSpin/XWIN-NMR experiment (acqus + fid/ser)", sniff_bruker_nmr,
           _read_fid, describe_folder, folder=True),
    # a file of an experiment (fid, acqus, pdata/1/1r) or its pdata/N folder: the experiment is described
    Format("paravision-file", "mri", "a file of a Bruker ParaVision scan", sniff_paravision_part,
           _read_paravision_part, describe_paravision_part),
    Format("bruker-nmr-file", "nmr", "a file of a Bruker TopSpin/XWIN-NMR experiment", sniff_bruker_part,
           _read_bruker_part, describe_bruker_part),
    Format("bruker-nmr-pdata", "nmr", "a pdata folder of a Bruker TopSpin/XWIN-NMR experiment", sniff_bruker_part,
           _read_bruker_part, describe_bruker_part, folder=True),
    Format("varian-nmr", "nmr", "Varian/Agilent VnmrJ experiment (procpar + fid)", sniff_varian, _read_fid,
           describe_folder, folder=True),
    Format("bruker-study", "nmr", "Bruker study (numbered experiments)", sniff_bruker_study, None,
           describe_folder, folder=True),
    # before echem: a BES3T .DTA shares its suffix with Gamry's
    Format("bes3t", "epr", "Bruker BES3T EPR (.DSC + .DTA)", sniff_bes3t, _read_epr, describe_bes3t_file),
    Format("winepr", "epr", "Bruker WinEPR/ESP EPR (.par + .spc)", sniff_winepr, _read_epr, describe_winepr,
           suffixes=(".spc",)),
    # before the echem text formats: a field column with its unit (B [mT], Field (G)) marks it
    Format("epr-text", "epr", "cw-EPR text export (Magnettech, Adani, JEOL: field + intensity)", sniff_epr_text,
           _read_epr, describe_epr_text),
    # recognised so that they are refused by name (not read)
    Format("spinsolve", "nmr", "Magritek Spinsolve experiment (acqu.par + data.1d), not read", sniff_spinsolve,
           _refuse, describe_refused, folder=True),
    Format("spinsolve-file", "nmr", "Magritek Spinsolve data file (acqu.par, data.1d, ...), not read",
           sniff_spinsolve_file, _refuse, describe_refused),
    Format("jeol-jdf", "nmr", "JEOL Delta JDF, not read", sniff_jeol, _refuse, describe_refused, suffixes=(".jdf",)),
)  # fmt: skip
"""NMR, EPR and ParaVision formats, in detection order."""
