"""What ``operando info`` says about NMR, MRI and EPR inputs, read from their parameter files only.

Recognised by content: a Bruker TopSpin experiment (``acqus`` + ``fid``/``ser``), a
ParaVision scan (``acqp`` + ``method``) or its reconstruction (``2dseq`` + ``visu_pars``),
a VnmrJ folder (``procpar`` + ``fid``), a folder of numbered Bruker experiments, and a
BES3T EPR pair (``.DSC`` starting with ``#DESC`` + ``.DTA``). Bulk data are never read:
sizes are compared with what the parameters promise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from operando.errors import CorruptFileError
from operando.nmr.io._formats import is_experiment, sniff_bruker_nmr, sniff_paravision, sniff_varian

__all__ = ["describe_bes3t", "describe_nmr_folder", "describe_refused", "describe_winepr"]


def _jcamp(path: Path) -> dict[str, Any]:
    from operando.nmr.io._bruker import _read_jcamp  # the guarded parser (damaged files: one error)

    return _read_jcamp(path)


def _pv_params(path: Path, keys: tuple[str, ...]) -> dict[str, Any]:
    """ParaVision parameters (arrays, strings in ``<>``) through brukerapi's JCAMP-DX parser."""
    from brukerapi.jcampdx import JCAMPDX

    try:
        jcamp = JCAMPDX(path)
    except Exception as exc:  # brukerapi's own exception classes (JcampdxFileError, ...)
        if not type(exc).__module__.startswith("brukerapi"):
            raise
        raise CorruptFileError(f"cannot parse the ParaVision parameters ({type(exc).__name__})", path=path) from None
    out: dict[str, Any] = {}
    for key in keys:
        try:
            value = jcamp.get_value(key)
        except (KeyError, ValueError, IndexError):
            continue
        except Exception as exc:  # brukerapi parses a value only when asked: InvalidJcampdxFile, ...
            if not type(exc).__module__.startswith("brukerapi"):
                raise
            why = " ".join(str(exc).split())[:120]
            raise CorruptFileError(f"{key} cannot be parsed ({type(exc).__name__}: {why})", path=path) from None
        if value is not None:
            out[key] = value.tolist() if isinstance(value, np.ndarray) else value
    return out


def _title(path: Path) -> str:
    with path.open("rb") as fh:
        return " ".join(fh.readline().decode("latin-1").removeprefix("##TITLE=").split())


def _number(params: dict[str, Any], key: str, default: float) -> float:
    """A finite number, else NaN (a damaged value is reported, not raised)."""
    try:
        value = float(params.get(key, default))
    except (TypeError, ValueError):
        return float("nan")
    return value


def _bruker_nmr(folder: Path) -> dict[str, Any]:
    acqus = _jcamp(folder / "acqus")
    data = folder / "fid" if (folder / "fid").is_file() else folder / "ser"
    td_value = _number(acqus, "TD", 0)
    if not np.isfinite(td_value) or td_value != int(td_value):
        return {"kind": "NMR experiment", "format": "Bruker TopSpin/XWIN-NMR (acqus + fid/ser)",
                "software": _title(folder / "acqus"),
                "problem": f"acqus: TD = {acqus.get('TD')!r} is not a whole number of points"}  # fmt: skip
    td = int(td_value)
    itemsize = 8 if _number(acqus, "DTYPA", 0) == 2 else 4
    # a ser holds TD(acqu2s) x TD(acqu3s) x ... FIDs (a 3D set, a CSI with two phase axes)
    counts: list[int] = []
    if data.name == "ser":
        for name in ("acqu2s", "acqu3s", "acqu4s"):
            if not (folder / name).is_file():
                break
            value = _number(_jcamp(folder / name), "TD", 1)
            counts.append(int(value) if np.isfinite(value) and value >= 1 else 1)
    rows = int(np.prod(counts)) if counts else 1
    shape = " x ".join(str(c) for c in counts) if counts else "1"
    sw_hz, sfo1 = _number(acqus, "SW_h", 0.0), _number(acqus, "SFO1", 0.0)
    out: dict[str, Any] = {
        "kind": "NMR experiment",
        "format": "Bruker TopSpin/XWIN-NMR (acqus + fid/ser)",
        "software": _title(folder / "acqus"),
        "nucleus": str(acqus.get("NUC1", "")).strip("<>"),
        "experiment": str(acqus.get("PULPROG", "")).strip("<>"),
        "SFO1_MHz": sfo1,
        "SW_Hz": sw_hz,
        "SW_ppm": round(sw_hz / sfo1, 4) if sfo1 else None,
        "TD": td,
        "NS": _number(acqus, "NS", 0) if "NS" in acqus else "not recorded",
        "data": f"{data.name}: {shape} x {td // 2} complex points, {data.stat().st_size} bytes",
    }
    if rows * td * itemsize > data.stat().st_size:
        out["problem"] = f"{data.name} holds fewer bytes than {rows} x TD={td} points need ({rows * td * itemsize})"
    processed = sorted(p.parent.name for p in folder.glob("pdata/*/procs"))
    if processed:
        out["processed"] = [
            f"pdata/{n}: "
            + (", ".join(b for b in ("1r", "1i", "2rr", "2ii") if (folder / "pdata" / n / b).is_file()) or "procs only")
            for n in processed
        ]
    return out


_PV_ACQP = ("ACQ_sw_version", "ACQ_scan_name", "ACQ_method", "NUCLEUS", "BF1")
_PV_METHOD = ("Method", "PVM_Nucleus1", "PVM_Matrix", "PVM_Fov", "PVM_SPackArrNSlices", "PVM_SliceThick",
              "PVM_RepetitionTime", "EchoTime", "PVM_EchoTime", "PVM_NAverages", "PVM_NRepetitions")  # fmt: skip
_PV_VISU = ("VisuCoreSize", "VisuCoreFrameCount", "VisuCoreWordType", "VisuCoreExtent")


def _paravision(folder: Path) -> dict[str, Any]:
    scan = folder if (folder / "acqp").is_file() else folder.parent.parent
    out: dict[str, Any] = {"kind": "MRI scan", "format": "Bruker ParaVision"}
    if (scan / "acqp").is_file():
        acqp = _pv_params(scan / "acqp", _PV_ACQP)
        out |= {"software": acqp.get("ACQ_sw_version"), "scan": acqp.get("ACQ_scan_name"),
                "nucleus": acqp.get("NUCLEUS"), "BF1_MHz": acqp.get("BF1")}  # fmt: skip
    if (scan / "method").is_file():
        method = _pv_params(scan / "method", _PV_METHOD)
        echo = method.get("EchoTime", method.get("PVM_EchoTime"))
        out |= {"experiment": method.get("Method"), "matrix": method.get("PVM_Matrix"),
                "fov_mm": method.get("PVM_Fov"), "slices": method.get("PVM_SPackArrNSlices"),
                "slice_thickness_mm": method.get("PVM_SliceThick"), "TR_ms": method.get("PVM_RepetitionTime"),
                "TE_ms": echo, "averages": method.get("PVM_NAverages"),
                "repetitions": method.get("PVM_NRepetitions")}  # fmt: skip
    raw = [name for name in ("fid", "rawdata.job0") if (scan / name).is_file()]
    out["raw_data"] = ", ".join(f"{n} ({(scan / n).stat().st_size} bytes)" for n in raw) or "none"
    recos = sorted(p.parent for p in scan.glob("pdata/*/visu_pars"))
    if recos:
        out["reconstructions"] = []
        for reco in recos:
            visu = _pv_params(reco / "visu_pars", _PV_VISU)
            seq = reco / "2dseq"
            state = f"2dseq {seq.stat().st_size} bytes" if seq.is_file() else "no 2dseq"
            size = visu.get("VisuCoreSize")
            frames = visu.get("VisuCoreFrameCount")
            out["reconstructions"].append(
                f"pdata/{reco.name}: {size} x {frames} frames {visu.get('VisuCoreWordType', '')}, {state}"
            )
    return {k: v for k, v in out.items() if v is not None}


def _varian(folder: Path) -> dict[str, Any]:
    import struct

    import nmrglue as ng

    try:
        procpar = ng.varian.read_procpar(str(folder / "procpar"))
    except (OSError, ValueError, IndexError, UnicodeDecodeError) as exc:  # a damaged procpar
        raise CorruptFileError(f"cannot parse procpar ({type(exc).__name__})", path=folder / "procpar") from None

    def value(key: str) -> str | None:
        entry = procpar.get(key)
        return str(entry["values"][0]) if entry and entry.get("values") else None

    from operando.nmr.io._varian import nucleus_name

    with (folder / "fid").open("rb") as fh:
        nblocks, ntraces, n, *_ = struct.unpack(">6lhhl", fh.read(32))
    sfrq, sw = float(value("sfrq") or 0), float(value("sw") or 0)
    out: dict[str, Any] = {
        "kind": "NMR experiment",
        "format": "Varian/Agilent VnmrJ (procpar + fid)",
        "nucleus": nucleus_name(value("tn") or ""),
        "experiment": value("seqfil"),
        "sfrq_MHz": sfrq,
        "SW_Hz": sw,
        "SW_ppm": round(sw / sfrq, 4) if sfrq else None,
        "np": int(float(value("np") or 0)),
        "nt": int(float(value("nt") or 0)),
        "data": f"fid: {nblocks} blocks x {ntraces} traces x {n // 2} complex points",
    }
    if value("array"):
        out["arrayed"] = f"{value('array')} ({value('arraydim')} values)"
    return out


def describe_nmr_folder(path: Path) -> dict[str, Any] | None:
    """Summary of a Bruker NMR, ParaVision or VnmrJ folder (recognised by its files), else None."""
    if sniff_paravision(b"", path):
        return _paravision(path)
    if sniff_bruker_nmr(b"", path):
        return _bruker_nmr(path)
    if sniff_varian(b"", path):
        return _varian(path)
    experiments = sorted((p for p in path.iterdir() if is_experiment(p)), key=lambda p: int(p.name))
    if experiments:
        listed = []
        for exp in experiments:
            sub = describe_nmr_folder(exp) or {}
            listed.append(f"{exp.name}: {sub.get('format', '?')}, {sub.get('experiment', '')} {sub.get('nucleus', '')}")
        return {"kind": "Bruker study (numbered experiments)", "experiments": listed}
    return None


def describe_bes3t(dsc: Path, dta: Path) -> dict[str, Any]:
    """Summary of a BES3T EPR pair from its descriptor; the data file's size is checked, not read."""
    from operando.nmr.io._epr import _FIELD_UNITS, _FORMATS, _count_or_none, _float, parse_dsc

    desc = parse_dsc(dsc.read_bytes().decode("latin-1"))

    def number(key: str) -> float | None:
        return _float(desc, key, dsc)  # a NaN/inf header number is refused naming the key

    nx = _count_or_none(desc, "XPTS", dsc) or 0
    ny = (_count_or_none(desc, "YPTS", dsc) or 1) if desc.get("YTYP", "NODATA") != "NODATA" else 1
    out: dict[str, Any] = {
        "kind": "cw-EPR spectrum" if ny == 1 else "EPR data set",
        "format": "Bruker BES3T (.DSC + .DTA)",
        "title": desc.get("TITL", ""),
        "experiment": desc.get("EXPT", ""),
        "points": f"{nx}" + (f" x {ny}" if ny > 1 else ""),
    }
    lo, width, unit = number("XMIN"), number("XWID"), desc.get("XUNI", "")
    if lo is not None and width is not None:
        scale = _FIELD_UNITS.get(unit)
        out["x_axis"] = (f"{desc.get('XNAM', 'x')} {lo * scale:.4f} .. {(lo + width) * scale:.4f} mT" if scale
                         else f"{desc.get('XNAM', 'x')} {lo:g} .. {lo + width:g} {unit}")  # fmt: skip
    if (mwfq := number("MWFQ")) is not None:
        out["mw_frequency_GHz"] = mwfq / 1e9
    if (power := number("MWPW")) is not None:
        out["mw_power_mW"] = round(power * 1e3, 6)
    if (mod := number("B0MA")) is not None:
        out["modulation_amplitude_mT"] = round(mod * 1e3, 6)
    if (scans := _count_or_none(desc, "AVGS", dsc)) is not None:
        out["scans"] = scans
    out["byte_order"] = desc.get("BSEQ", "?")
    code = desc.get("IRFMT", "?")
    complex_ = desc.get("IKKF", "REAL") == "CPLX"
    out["data_type"] = f"IRFMT {code}" + (" complex" if complex_ else "")
    if code in _FORMATS:
        expected = nx * ny * np.dtype(_FORMATS[code]).itemsize * (2 if complex_ else 1)
        if not dta.is_file():
            out["problem"] = f"data file {dta.name} is missing"
        elif dta.stat().st_size != expected:
            out["problem"] = f"{dta.name} has {dta.stat().st_size} bytes, the descriptor promises {expected}"
    return out


def describe_winepr(path: Path) -> dict[str, Any]:
    """Summary of a WinEPR/ESP pair; the spectrum is small (one row) and read in full to check it."""
    from operando.errors import OperandoError
    from operando.nmr.io._epr import read_winepr

    out: dict[str, Any] = {"kind": "cw-EPR spectrum", "format": "Bruker WinEPR/ESP (.par + .spc)"}
    try:
        spec = read_winepr(path)
    except OperandoError as exc:
        out["problem"] = exc.problem
        return out
    meta = spec.meta
    out |= {"experiment": meta.title, "points": str(spec.x.size),
            "x_axis": f"Field {spec.x[0]:.4f} .. {spec.x[-1]:.4f} {meta.x_unit}",
            "mw_frequency_GHz": None if meta.mw_frequency_Hz is None else meta.mw_frequency_Hz / 1e9,
            "mw_power_mW": meta.mw_power_mW, "scans": meta.scans, "data_type": meta.dtype}  # fmt: skip
    return {k: v for k, v in out.items() if v is not None}


def describe_epr_text(path: Path) -> dict[str, Any]:
    """Summary of a cw-EPR text export; the spectrum is small and read in full to check it."""
    from operando.errors import OperandoError
    from operando.nmr.io._epr import read_epr_text

    out: dict[str, Any] = {"kind": "cw-EPR spectrum", "format": "cw-EPR text export (field, intensity)"}
    try:
        spec = read_epr_text(path)
    except OperandoError as exc:
        out["problem"] = exc.problem
        return out
    freq = spec.meta.mw_frequency_Hz
    out |= {"points": str(spec.x.size), "x_axis": f"Field {spec.x[0]:.4f} .. {spec.x[-1]:.4f} mT",
            "intensity": spec.meta.y_name,
            "mw_frequency_GHz": "not given (no g factor)" if freq is None else freq / 1e9}  # fmt: skip
    return out


def describe_bruker_part(path: Path) -> dict[str, Any]:
    """Summary of the Bruker experiment a file of it (or its ``pdata/N`` folder) belongs to."""
    from operando.nmr.io._formats import bruker_experiment_of

    folder = bruker_experiment_of(path)
    assert folder is not None  # only called for paths the sniffer took
    return {"experiment_folder": str(folder), **describe_folder(folder)}


def describe_paravision_part(path: Path) -> dict[str, Any]:
    """Summary of the ParaVision scan a file of it belongs to."""
    from operando.nmr.io._formats import paravision_scan_of

    folder = paravision_scan_of(path)
    assert folder is not None  # only called for paths the sniffer took
    return {"scan_folder": str(folder), **describe_folder(folder)}


def describe_folder(path: Path) -> dict[str, Any]:
    """Summary of a Bruker NMR, ParaVision, VnmrJ folder or a study of them (parameter files only)."""
    found = describe_nmr_folder(path)
    return found if found is not None else {"kind": "folder"}


def describe_bes3t_file(path: Path) -> dict[str, Any]:
    """Summary of a BES3T pair from its descriptor."""
    from operando.nmr.io._epr import bes3t_pair

    pair = bes3t_pair(path)
    assert pair is not None  # only called for files the sniffer took
    return describe_bes3t(*pair)


def describe_refused(path: Path) -> dict[str, Any]:
    """What ``info`` says about an NMR format that is recognised but not read (Spinsolve, JEOL)."""
    from operando.nmr.io._formats import refused_format

    name = refused_format(path)
    return {"kind": "NMR experiment", "format": name or "unknown",
            "problem": "recognised but not read by operando: export the FID to Bruker or JCAMP-DX"}  # fmt: skip
