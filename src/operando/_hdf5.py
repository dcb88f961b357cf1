"""HDF5 containers: recognised by signature, walked link by link, summarised without loading data.

Every HDF5 format of the registry (DXchange, NXtomo, Bliss, XSOCS) is summarised through
:func:`describe_container`, which adds what is broken in the container (dangling external
links, virtual datasets whose source files are absent) to the format's own section. An
HDF5 file of no known layout is the generic format here, last in the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from operando.errors import CorruptFileError
from operando.formats import Format

__all__ = ["FORMATS", "HDF5_MAGIC", "describe_container", "hdf5_sniffer", "is_hdf5", "scalar", "shape_text", "walk"]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def is_hdf5(head: bytes, path: Path) -> bool:
    """HDF5's superblock sits at offset 0, 512, 1024, 2048, ... (user block)."""
    if head.startswith(HDF5_MAGIC):
        return True
    if not path.is_file():
        return False
    with path.open("rb") as fh:
        offset = 512
        while offset < 1 << 20:
            fh.seek(offset)
            if fh.read(8) == HDF5_MAGIC:
                return True
            offset *= 2
    return False


def scalar(value: Any) -> Any:
    """Decode HDF5 scalars (bytes, 0-d arrays) to plain Python values.

    Examples
    --------
    >>> scalar(np.array(b"theta")), scalar(np.float32(2.5))
    ('theta', 2.5)
    """
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def shape_text(ds: Any) -> str:
    """``"(3, 4) uint16"`` for a dataset."""
    return f"{tuple(ds.shape)} {ds.dtype}"


def walk(group: Any, prefix: str = "") -> tuple[list[str], list[str]]:
    """All dataset paths below ``group`` and the external links that dangle.

    Walks link by link so that a dangling external link is reported, not raised.
    """
    import h5py

    datasets: list[str] = []
    dangling: list[str] = []
    for name in group:
        path = f"{prefix}/{name}"
        link = group.get(name, getlink=True)
        try:
            obj = group[name]
        except (KeyError, OSError):
            if isinstance(link, h5py.ExternalLink):
                dangling.append(f"{path} -> {link.filename}:{link.path}")
            else:
                dangling.append(f"{path} (unresolvable link)")
            continue
        if isinstance(obj, h5py.Group):
            sub, bad = walk(obj, path)
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


def _first(items: list[str], n: int = 10) -> list[str]:
    return items[:n] + ([f"... {len(items) - n} more"] if len(items) > n else [])


def describe_container(path: Path, section: Callable[[Any, list[str], Path], dict[str, Any]]) -> dict[str, Any]:
    """``{"container": "HDF5", **section(fh, datasets, path)}`` plus what is broken in the file.

    Raises
    ------
    CorruptFileError
        When the file has the HDF5 signature but cannot be opened.
    """
    import h5py

    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise CorruptFileError(
            f"has an HDF5 signature but cannot be opened (truncated or damaged): {exc}", path=path
        ) from exc
    with fh:
        datasets, dangling = walk(fh)
        out: dict[str, Any] = {"container": "HDF5", **section(fh, datasets, path)}
        missing_vds = sorted({m for p in datasets for m in _missing_vds_sources(fh[p], path)})
        if missing_vds:
            out["missing_virtual_sources"] = _first(missing_vds)
        if dangling:
            out["dangling_links"] = _first(dangling)
    return out


def hdf5_sniffer(test: Callable[[Any], bool]) -> Callable[[bytes, Path], bool]:
    """A sniffer: HDF5 signature, the file opens, and ``test(h5py.File)`` holds."""

    def sniff(head: bytes, path: Path) -> bool:
        if not is_hdf5(head, path):
            return False
        import h5py

        try:
            with h5py.File(path, "r") as fh:
                return bool(test(fh))
        except (OSError, KeyError, ValueError):
            return False

    return sniff


def _generic_section(fh: Any, datasets: list[str], path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "HDF5 file"}
    out["datasets"] = {p: shape_text(fh[p]) for p in datasets[:40]}
    if len(datasets) > 40:
        out["datasets_not_shown"] = len(datasets) - 40
    definition = [p for p in datasets if p.endswith("/definition")]
    if definition:
        out["nexus_definition"] = scalar(fh[definition[0]][()])
    return out


def _describe_generic(path: Path) -> dict[str, Any]:
    return describe_container(path, _generic_section)


FORMATS = (Format("hdf5", "hdf5", "HDF5 file of another layout", is_hdf5, None, _describe_generic),)
"""Last in the registry: an HDF5 file that no modality's layout claims."""
