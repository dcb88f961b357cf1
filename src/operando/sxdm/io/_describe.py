"""What ``operando info`` says about K-map files, and how the registry recognises them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from operando._hdf5 import describe_container, hdf5_sniffer, scalar, shape_text

__all__ = ["describe_bliss", "describe_spec", "describe_xsocs", "sniff_bliss", "sniff_spec", "sniff_xsocs"]


def _bliss_scans(fh: Any) -> list[str]:
    """Top-level ``N.M`` entries with an ``instrument`` group (Bliss scans)."""
    found = []
    for key in fh:
        try:
            if key.split(".")[-1].isdigit() and "instrument" in fh[key]:
                found.append(key)
        except (KeyError, OSError):  # a dangling external link: reported by the container walk
            continue
    return found


sniff_bliss = hdf5_sniffer(lambda fh: bool(_bliss_scans(fh)))


def sniff_xsocs(head: bytes, path: Path) -> bool:
    """An XSOCS merged master file (entries with ``chan_per_deg_dim0``)."""
    from operando._hdf5 import is_hdf5

    if not is_hdf5(head, path):
        return False
    from operando.sxdm.io._xsocs import is_xsocs_master

    return is_xsocs_master(path)


def sniff_spec(head: bytes, path: Path) -> bool:
    """A SPEC data file: its first non-empty line is a ``#F``, ``#S`` or ``#E`` header.

    Examples
    --------
    >>> sniff_spec(b"#F /data/id01/kmap.spec\\n#E 1500000000\\n", Path("kmap.spec"))
    True
    >>> sniff_spec(b"time/s,Ewe/V\\n", Path("x.csv"))
    False
    """
    lines = [ln.strip() for ln in head.splitlines() if ln.strip()]
    return bool(lines) and lines[0].startswith((b"#F ", b"#S ", b"#E "))


def _bliss(fh: Any, datasets: list[str], path: Path) -> dict[str, Any]:
    import h5py

    scans = _bliss_scans(fh)
    out: dict[str, Any] = {"kind": "Bliss scan file (ESRF)", "scans": len(scans)}
    first = fh[scans[0]]
    for key in ("title", "start_time", "end_time"):
        if key in first:
            out[f"first_scan_{key}"] = scalar(first[key][()])
    instrument = first.get("instrument", {})
    detectors = [k for k in instrument if isinstance(instrument[k], h5py.Group) and "image" in instrument[k]]
    if detectors:
        image = first["instrument"][detectors[0]]["image"]
        out["detector"] = f"{detectors[0]} {shape_text(image)}"
    if "instrument/monochromator/WaveLength" in first:
        out["wavelength_m"] = float(np.asarray(first["instrument/monochromator/WaveLength"][()]))
    return out


def _xsocs(fh: Any, datasets: list[str], path: Path) -> dict[str, Any]:
    entries = sorted(k for k in fh if k.split(".")[-1].isdigit())
    return {"kind": "XSOCS merged K-map (master file)", "format": "XSOCS", "entries": len(entries)}


def describe_bliss(path: Path) -> dict[str, Any]:
    """Summary of a Bliss file: scans, first scan's title and times, detector, wavelength."""
    return describe_container(path, _bliss)


def describe_xsocs(path: Path) -> dict[str, Any]:
    """Summary of an XSOCS master file: its entries (one per rocking angle)."""
    return describe_container(path, _xsocs)


def describe_spec(path: Path) -> dict[str, Any]:
    """Summary of a SPEC file: number of scans and the first scan's command line."""
    scans = []
    with path.open("rb") as fh:
        for line in fh:
            if line.startswith(b"#S "):
                scans.append(line[3:].decode("latin-1").strip())
    out: dict[str, Any] = {"kind": "SPEC file (ID01 scans before Bliss)", "scans": len(scans)}
    if scans:
        out["first_scan"] = scans[0][:120]
    return out
