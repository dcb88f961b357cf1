"""What ``operando info`` says about tomography files, and how the registry recognises them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from operando._hdf5 import describe_container, hdf5_sniffer, scalar, shape_text, walk
from operando.errors import CorruptFileError

__all__ = [
    "describe_dxchange",
    "describe_nxtomo",
    "describe_tiff",
    "describe_xradia",
    "sniff_dxchange",
    "sniff_nxtomo",
    "sniff_tiff",
    "sniff_xradia",
]

_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _has_image_key(fh: Any) -> bool:
    return any(p.endswith("/image_key") for p in walk(fh)[0])


sniff_dxchange = hdf5_sniffer(lambda fh: "exchange/data" in fh)
sniff_nxtomo = hdf5_sniffer(_has_image_key)


def sniff_tiff(head: bytes, path: Path) -> bool:
    """TIFF or BigTIFF signature."""
    return head.startswith(_TIFF_MAGICS)


def sniff_xradia(head: bytes, path: Path) -> bool:
    """An OLE2 compound document (Zeiss/Xradia ``.txrm``/``.xrm``) holding image streams."""
    if not head.startswith(_OLE2_MAGIC):
        return False
    from operando.tomo.io._xradia import is_xradia

    return is_xradia(path)


def _dxchange(fh: Any, datasets: list[str], path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "tomography projections", "format": "DXchange (APS Data Exchange)"}
    for name in ("data", "data_white", "data_dark", "theta"):
        if f"exchange/{name}" in fh:
            ds = fh[f"exchange/{name}"]
            axes = scalar(ds.attrs.get("axes", ""))
            out[name] = shape_text(ds) + (f" axes={axes}" if axes else "")
    if "exchange/theta" in fh:
        theta = fh["exchange/theta"][()]
        units = scalar(fh["exchange/theta"].attrs.get("units", "degrees"))
        out["theta_range"] = f"{float(theta.min()):.4g} .. {float(theta.max()):.4g} {units}, {theta.size} angles"
    if "measurement/sample/name" in fh:
        out["sample"] = scalar(fh["measurement/sample/name"][()])
    if "measurement/instrument/detector/pixel_size_x" not in fh:
        out["pixel_size"] = "not recorded (give it as an option)"
    return out


def _nxtomo(fh: Any, datasets: list[str], path: Path) -> dict[str, Any]:
    key_path = next(p for p in datasets if p.endswith("/image_key"))
    keys = np.asarray(fh[key_path][()])
    out: dict[str, Any] = {
        "kind": "tomography projections",
        "format": "NeXus (image_key)",
        "image_key": key_path,
        "frames": (
            f"{int((keys == 0).sum())} projections, {int((keys == 1).sum())} flats, {int((keys == 2).sum())} darks"
        ),
    }
    frames = [p for p in datasets if fh[p].ndim == 3 and fh[p].shape[0] == keys.size]
    if frames:
        out["data"] = f"{frames[0]}: {shape_text(fh[frames[0]])}"
    angles = [
        p
        for p in datasets
        if fh[p].ndim == 1 and fh[p].shape[0] == keys.size and ("theta" in p.lower() or "rotation_angle" in p)
    ]
    if angles:
        values = np.asarray(fh[angles[0]][()], dtype=np.float64)[keys == 0]
        if values.size:
            out["angles"] = f"{angles[0]}: {values.min():.4g} .. {values.max():.4g}"
    return out


def describe_dxchange(path: Path) -> dict[str, Any]:
    """Summary of a DXchange file (shapes, angles, sample), no bulk data read."""
    return describe_container(path, _dxchange)


def describe_nxtomo(path: Path) -> dict[str, Any]:
    """Summary of a NeXus ``image_key`` scan (frame counts, angle range)."""
    return describe_container(path, _nxtomo)


def describe_tiff(path: Path) -> dict[str, Any]:
    """Summary of a TIFF stack (pages, shape, description).

    Raises
    ------
    CorruptFileError
        When the TIFF cannot be parsed.
    """
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            page = tif.pages.first
            out: dict[str, Any] = {
                "kind": "TIFF image",
                "pages": len(tif.pages),
                "shape": f"{tuple(series.shape)} {series.dtype}",
            }
            description = getattr(page, "description", "")
            if description:
                out["description"] = description.strip().replace("\n", "; ")[:200]
            return out
    except (tifffile.TiffFileError, ValueError, IndexError, OSError) as exc:
        raise CorruptFileError(f"has a TIFF signature but cannot be read: {exc}", path=path) from exc


def describe_xradia(path: Path) -> dict[str, Any]:
    """Summary of a Zeiss/Xradia ``.txrm``/``.xrm`` file (projections, angles, pixel size, energy)."""
    from operando.tomo.io._xradia import read_xradia

    scan = read_xradia(path)
    proj = scan.projections
    n = proj.shape[0]
    out: dict[str, Any] = {
        "kind": "tomography projections" if n > 1 else "X-ray microscope image",
        "format": "Zeiss/Xradia TXRM/XRM (OLE2)",
        "projections": f"{tuple(proj.shape)} {proj.dtype}",
        "angles": f"{scan.angles_deg.min():.4g} .. {scan.angles_deg.max():.4g} degrees, {n} angles",
        "reference (flat)": "none" if scan.flats is None else f"{tuple(scan.flats.shape)} {scan.flats.dtype}",
    }
    out["pixel_size"] = "not recorded" if scan.pixel_size_um is None else f"{scan.pixel_size_um:.5g} um"
    out["energy"] = "not recorded" if scan.energy_kev is None else f"{scan.energy_kev:.5g} keV"
    return out
