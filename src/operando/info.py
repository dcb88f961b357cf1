"""``operando info FILE``: what a file is (found from its content) and what is inside.

Each modality's readers do the real parsing; this module only recognises the container
(HDF5, TIFF, Xradia OLE2, Zarr result store, potentiostat files, ...) and summarises it without
loading bulk data: shapes, dtypes, times, the metadata that matters, and what is broken
(dangling external links, virtual datasets whose source files are absent).
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from operando._files import read_head
from operando.errors import CorruptFileError, UnsupportedFormatError

__all__ = ["describe", "format_summary"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _is_hdf5(head: bytes, path: Path) -> bool:
    """HDF5's superblock sits at offset 0, 512, 1024, 2048, ... (user block)."""
    if head.startswith(_HDF5_MAGIC):
        return True
    with path.open("rb") as fh:
        offset = 512
        while offset < 1 << 20:
            fh.seek(offset)
            if fh.read(8) == _HDF5_MAGIC:
                return True
            offset *= 2
    return False


def _scalar(value: Any) -> Any:
    """Decode HDF5 scalars (bytes, 0-d arrays) to plain Python values."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _links(group: Any, prefix: str = "") -> tuple[list[str], list[str]]:
    """All dataset paths below ``group`` and the external links that dangle.

    Walks link by link so that a dangling external link is reported, not raised.
    """
    import h5py

    datasets: list[str] = []
    dangling: list[str] = []
    for name in group:
        path = f"{prefix}/{name}"
        link = group.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            try:
                obj = group[name]
            except (KeyError, OSError):
                dangling.append(f"{path} -> {link.filename}:{link.path}")
                continue
        else:
            try:
                obj = group[name]
            except (KeyError, OSError):
                dangling.append(f"{path} (unresolvable link)")
                continue
        if isinstance(obj, h5py.Group):
            sub, bad = _links(obj, path)
            datasets += sub
            dangling += bad
        elif isinstance(obj, h5py.Dataset):
            datasets.append(path)
    return datasets, dangling


def _missing_vds_sources(ds: Any, base: Path) -> list[str]:
    """Source files of a virtual dataset that are not on disk."""
    if not ds.is_virtual:
        return []
    missing = []
    for source in ds.virtual_sources():
        name = source.file_name
        if name == ".":
            continue
        candidate = Path(name) if Path(name).is_absolute() else base.parent / name
        if not candidate.exists():
            missing.append(name)
    return sorted(set(missing))


def _describe_hdf5(path: Path) -> dict[str, Any]:
    import h5py

    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise CorruptFileError(
            f"has an HDF5 signature but cannot be opened (truncated or damaged): {exc}", path=path
        ) from exc
    with fh:
        datasets, dangling = _links(fh)
        out: dict[str, Any] = {"container": "HDF5"}
        if "exchange/data" in fh:
            out.update(_describe_dxchange(fh))
        elif any(p.endswith("/image_key") for p in datasets):
            out.update(_describe_nxtomo(fh, datasets))
        elif bliss := [k for k in fh if k.split(".")[-1].isdigit() and "instrument" in fh[k]]:
            out.update(_describe_bliss(fh, bliss, path))
        else:
            out["kind"] = "HDF5 file"
            out["datasets"] = {p: f"{fh[p].shape} {fh[p].dtype}" for p in datasets[:40]}
            if len(datasets) > 40:
                out["datasets_not_shown"] = len(datasets) - 40
            definition = [p for p in datasets if p.endswith("/definition")]
            if definition:
                out["nexus_definition"] = _scalar(fh[definition[0]][()])
        missing_vds = sorted({m for p in datasets for m in _missing_vds_sources(fh[p], path)})
        if missing_vds:
            out["missing_virtual_sources"] = missing_vds[:10] + (
                [f"... {len(missing_vds) - 10} more"] if len(missing_vds) > 10 else []
            )
        if dangling:
            out["dangling_links"] = dangling[:10] + ([f"... {len(dangling) - 10} more"] if len(dangling) > 10 else [])
    return out


def _shape(ds: Any) -> str:
    return f"{tuple(ds.shape)} {ds.dtype}"


def _describe_dxchange(fh: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "tomography projections", "format": "DXchange (APS Data Exchange)"}
    for name in ("data", "data_white", "data_dark", "theta"):
        if f"exchange/{name}" in fh:
            ds = fh[f"exchange/{name}"]
            axes = _scalar(ds.attrs.get("axes", ""))
            out[name] = _shape(ds) + (f" axes={axes}" if axes else "")
    if "exchange/theta" in fh:
        theta = fh["exchange/theta"][()]
        units = _scalar(fh["exchange/theta"].attrs.get("units", "degrees"))
        out["theta_range"] = f"{float(theta.min()):.4g} .. {float(theta.max()):.4g} {units}, {theta.size} angles"
    if "measurement/sample/name" in fh:
        out["sample"] = _scalar(fh["measurement/sample/name"][()])
    if "measurement/instrument/detector/pixel_size_x" not in fh:
        out["pixel_size"] = "not recorded (give it as an option)"
    return out


def _describe_nxtomo(fh: Any, datasets: list[str]) -> dict[str, Any]:
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
        out["data"] = f"{frames[0]}: {_shape(fh[frames[0]])}"
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


def _describe_bliss(fh: Any, scans: list[str], path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "Bliss scan file (ESRF)", "scans": len(scans)}
    first = fh[scans[0]]
    for key in ("title", "start_time", "end_time"):
        if key in first:
            out[f"first_scan_{key}"] = _scalar(first[key][()])
    import h5py

    instrument = first.get("instrument", {})
    detectors = [k for k in instrument if isinstance(instrument[k], h5py.Group) and "image" in instrument[k]]
    if detectors:
        image = first["instrument"][detectors[0]]["image"]
        out["detector"] = f"{detectors[0]} {_shape(image)}"
    if "instrument/monochromator/WaveLength" in first:
        out["wavelength_m"] = float(np.asarray(first["instrument/monochromator/WaveLength"][()]))
    return out


def _describe_tiff(path: Path) -> dict[str, Any]:
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


def _describe_xradia(path: Path) -> dict[str, Any]:
    from operando.tomo import read_xradia

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


def _describe_store(path: Path) -> dict[str, Any]:
    from operando.store import open_results, store_status

    status = store_status(path)
    out: dict[str, Any] = {"kind": "operando result store (Zarr)", "complete": status.complete}
    if not status.complete:
        out["problem"] = status.reason
        return out
    ds = open_results(path)
    out["dimensions"] = dict(ds.sizes)
    out["variables"] = {
        name: f"{tuple(v.dims)} {v.dtype} [{v.attrs.get('units', '')}]" for name, v in ds.data_vars.items()
    }
    for key in ("operando_version", "operando_created"):
        if key in ds.attrs:
            out[key.removeprefix("operando_")] = ds.attrs[key]
    if "operando_inputs" in ds.attrs:
        out["inputs"] = [f"{i['name']} sha256={i['sha256'][:12]}…" for i in json.loads(ds.attrs["operando_inputs"])]
    return out


def describe(path: str | PathLike[str]) -> dict[str, Any]:
    """Recognise a file by its content and summarise it.

    Parameters
    ----------
    path : str or os.PathLike
        A raw instrument file, a folder, or an operando result store.

    Returns
    -------
    dict
        ``kind`` and ``format`` first, then format-specific facts (shapes, times,
        metadata, problems found). Bulk data are never loaded.

    Raises
    ------
    CorruptFileError
        Empty, truncated or damaged files.
    UnsupportedFormatError
        Content no reader recognises.
    """
    p, head = read_head(path)
    if p.is_dir():
        if (p / "zarr.json").is_file() or p.name.endswith(".zarr") or p.with_name(p.name + ".partial").exists():
            return {"path": str(p), **_describe_store(p)}
        from operando.nmr.io._summary import describe_nmr_folder

        if (nmr := describe_nmr_folder(p)) is not None:  # Bruker NMR, ParaVision, VnmrJ (by their files)
            return {"path": str(p), **nmr}
        raise UnsupportedFormatError(
            "a folder that is not an operando result store nor a Bruker/ParaVision/VnmrJ experiment", path=p
        )
    if _is_hdf5(head, p):
        return {"path": str(p), **_describe_hdf5(p)}
    if head.startswith(_TIFF_MAGICS):
        return {"path": str(p), **_describe_tiff(p)}
    from operando.nmr.io._epr import bes3t_pair, winepr_pair

    if (pair := bes3t_pair(p)) is not None:  # Bruker EPR .DSC/.DTA (a .DTA as Gamry's, told apart by its .DSC)
        from operando.nmr.io._summary import describe_bes3t

        return {"path": str(p), **describe_bes3t(*pair)}
    if winepr_pair(p) is not None:  # older Bruker WinEPR/ESP .par/.spc
        from operando.nmr.io._summary import describe_winepr

        return {"path": str(p), **describe_winepr(p)}

    from operando.tomo.io._xradia import is_xradia

    if is_xradia(p):
        return {"path": str(p), **_describe_xradia(p)}
    from operando import echem

    fmt = echem.detect(p)
    if fmt is not None or echem.owner_by_suffix(p) is not None:  # the owner's reader says what is wrong
        return {"path": str(p), **echem.read(p).summary()}
    printable = head[:16].hex(" ")
    raise UnsupportedFormatError(f"content not recognised as any supported format (first bytes: {printable})", path=p)


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable lines of a :func:`describe` result."""
    lines = []
    for key, value in summary.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines += [f"  {k}: {v}" for k, v in value.items()]
        elif isinstance(value, list | tuple) and value and not all(isinstance(v, int | float) for v in value):
            if all(len(str(v)) < 24 for v in value):
                lines.append(f"{key}: " + ", ".join(str(v) for v in value))
            else:
                lines.append(f"{key}:")
                lines += [f"  {v}" for v in value]
        else:
            lines.append(f"{key}: {value}")
    return "\n".join(lines)
