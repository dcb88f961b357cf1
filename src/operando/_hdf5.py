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


def _outside(name: str, base: Path) -> bool:
    """True when a link's target file lies outside the folder of the file holding the link."""
    target = Path(name)
    folder = base.resolve().parent
    resolved = (target if target.is_absolute() else folder / target).resolve()
    return folder not in resolved.parents


def walk(
    group: Any, prefix: str = "", *, base: Path | None = None, outside: list[str] | None = None
) -> tuple[list[str], list[str]]:
    """All dataset paths below ``group`` and the links that dangle.

    Walks link by link so that a dangling external link is reported, not raised; each
    group is visited once (soft or hard links that make a cycle are not followed again).
    With ``base`` (the file's path), external links to files outside its folder are not
    followed: they are appended to ``outside`` as ``"/path -> file:/object"``.
    """
    visited: set[Any] = set()
    datasets: list[str] = []
    dangling: list[str] = []
    _walk(group, prefix, visited, datasets, dangling, base, outside)
    return datasets, dangling


def _walk(
    group: Any,
    prefix: str,
    visited: set[Any],
    datasets: list[str],
    dangling: list[str],
    base: Path | None,
    outside: list[str] | None,
) -> None:
    import h5py

    visited.add(hash(group))
    for name in group:
        path = f"{prefix}/{name}"
        try:
            link = group.get(name, getlink=True)
        except (KeyError, OSError, RuntimeError, ValueError):
            dangling.append(f"{path} (unreadable link)")
            continue
        if isinstance(link, h5py.ExternalLink) and base is not None and _outside(link.filename, base):
            if outside is not None:
                outside.append(f"{path} -> {link.filename}:{link.path}")
            continue
        try:
            obj = group[name]
        except (KeyError, OSError, RuntimeError, ValueError):
            if isinstance(link, h5py.ExternalLink):
                dangling.append(f"{path} -> {link.filename}:{link.path}")
            else:
                dangling.append(f"{path} (unresolvable link)")
            continue
        if isinstance(obj, h5py.Group):
            if hash(obj) not in visited:
                _walk(obj, path, visited, datasets, dangling, base, outside)
        elif isinstance(obj, h5py.Dataset):
            datasets.append(path)


def _vds_sources(ds: Any, base: Path) -> tuple[list[str], list[str]]:
    """Source files of a virtual dataset: those not on disk, and those outside the file's folder."""
    if not ds.is_virtual:
        return [], []
    missing, outside = [], []
    for source in ds.virtual_sources():
        name = source.file_name
        if name == ".":
            continue
        candidate = Path(name) if Path(name).is_absolute() else base.parent / name
        if not candidate.exists():
            missing.append(name)
        if _outside(name, base):
            outside.append(name)
    return sorted(set(missing)), sorted(set(outside))


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
    outside: list[str] = []
    with fh:
        datasets, dangling = walk(fh, base=path, outside=outside)
        out: dict[str, Any] = {"container": "HDF5", **section(fh, datasets, path)}
        missing_vds: set[str] = set()
        outside_vds: set[str] = set()
        for p in datasets:
            try:
                missing, away = _vds_sources(fh[p], path)
            except (KeyError, OSError, RuntimeError, ValueError):
                dangling.append(f"{p} (unreadable virtual dataset)")
                continue
            missing_vds.update(missing)
            outside_vds.update(away)
        if missing_vds:
            out["missing_virtual_sources"] = _first(sorted(missing_vds))
        if dangling:
            out["dangling_links"] = _first(dangling)
        away_all = outside + [f"virtual dataset source {name}" for name in sorted(outside_vds)]
        if away_all:
            # data read from elsewhere on disk: shown, never followed by info
            out["links_outside_folder"] = _first(away_all)
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
