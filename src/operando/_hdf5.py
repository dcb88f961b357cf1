"""HDF5 containers: recognised by signature, walked link by link, summarised without loading data.

Every HDF5 format of the registry (DXchange, NXtomo, Bliss, XSOCS) is summarised through
:func:`describe_container`, which adds what is broken in the container (dangling external
links, virtual datasets whose source files are absent) to the format's own section. An
HDF5 file of no known layout is the generic format here, last in the registry.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from operando._hashing import DataFile
from operando.errors import CorruptFileError, LinkOutsideFolderError
from operando.formats import Format

__all__ = [
    "FORMATS",
    "HDF5_MAGIC",
    "DataFile",
    "LinkOutsideFolderError",
    "data_files",
    "describe_container",
    "hdf5_sniffer",
    "is_hdf5",
    "scalar",
    "shape_text",
    "walk",
]

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


_PRINTF = re.compile(r"%(b|%)")


def _printf_files(folder: Path, pattern: str) -> list[Path]:
    """Files that a printf-style virtual-dataset source name matches (HDF5: ``%b`` is the block
    number, ``%%`` a literal ``%``), relative to ``folder`` unless absolute.

    Examples
    --------
    >>> _printf_files(Path("/nonexistent"), "lima_%b.h5")
    []
    """
    import glob as globmod

    text = pattern if Path(pattern).is_absolute() else str(folder / pattern)
    glob_text, regex = "", ""
    # split keeps the captured "b" / "%" between the literal pieces
    for k, piece in enumerate(_PRINTF.split(text)):
        if k % 2 == 0:
            glob_text += globmod.escape(piece)
            regex += re.escape(piece)
        elif piece == "b":
            glob_text += "*"
            regex += r"\d+"
        else:
            glob_text += "%"
            regex += "%"
    return [Path(f) for f in sorted(globmod.glob(glob_text)) if re.fullmatch(regex, f) and Path(f).is_file()]


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` (resolved) lies in ``folder`` (resolved) or below it."""
    resolved = path.resolve()
    return resolved == folder or folder in resolved.parents


class _Collector:
    """Collects the files that datasets read from, refusing those outside the master's folder."""

    def __init__(self, master: Path, follow: bool) -> None:
        self.master = master.resolve()
        self.folder = self.master.parent
        self.follow = follow
        self.found: dict[Path, str] = {}
        self.seen: set[tuple[str, str]] = set()
        self.resolved: dict[str, Path] = {}

    def admit(self, path: Path, via: str) -> None:
        key = str(path)
        resolved = self.resolved.get(key)
        if resolved is None:  # realpath costs ~0.2 ms; a path component is met once per dataset
            resolved = self.resolved[key] = path.resolve()
        if resolved == self.master or resolved in self.found:
            return
        if not self.follow and not (resolved == self.folder or self.folder in resolved.parents):
            raise LinkOutsideFolderError(
                f"{via} reads {resolved}, outside the file's folder {self.folder} (a master file can point "
                "anywhere on disk): refused; give --follow-external-links to read it",
                path=self.master,
            )
        if resolved.is_file():
            self.found[resolved] = via

    def opened(self, obj: Any, via: str) -> None:
        """The file HDF5 actually opened for ``obj`` (external links may fall back to other folders)."""
        filename = getattr(getattr(obj, "file", None), "filename", None)
        if filename:
            self.admit(Path(filename), via)

    def open_path(self, fh: Any, name: str) -> Any:
        """The dataset or group at ``name`` in ``fh``, each external link on the way admitted before
        it is followed; None when absent or dangling (the reader reports those)."""
        import h5py

        group = fh["/"]
        obj: Any = group
        for part in [p for p in name.split("/") if p]:
            if not isinstance(group, h5py.Group):
                return None
            try:
                link = group.get(part, getlink=True)
            except (KeyError, OSError, RuntimeError, ValueError):
                return None
            if link is None:
                return None
            via = f"{group.name.rstrip('/')}/{part}"
            if isinstance(link, h5py.ExternalLink):
                via = f"external link {via} -> {link.filename}:{link.path}"
                target = Path(link.filename)
                self.admit(target if target.is_absolute() else Path(group.file.filename).parent / target, via)
            try:
                obj = group[part]
            except (KeyError, OSError, RuntimeError, ValueError):
                return None
            self.opened(obj, f"link {via}" if not via.startswith("external") else via)
            group = obj
        return obj if isinstance(obj, h5py.Dataset | h5py.Group) else None

    def group(self, fh: Any, group: Any) -> None:
        """Admit the targets of every external link below ``group`` (each before it is opened)."""
        import h5py

        names: list[str] = []

        def visit(name: bytes, info: Any) -> None:
            if info.type == h5py.h5l.TYPE_EXTERNAL:
                names.append(f"{group.name.rstrip('/')}/{name.decode('utf-8', 'surrogateescape')}")

        # H5Lvisit without h5py's per-link object layer: visititems_links took 0.2 ms a link
        # (0.5 s for the 2 100 links of a 60-scan Bliss master), this ~2 us
        group.id.links.visit(visit, info=True)
        for name in names:
            obj = self.open_path(fh, name)
            if isinstance(obj, h5py.Dataset):
                self.dataset(obj, name)

    def dataset(self, ds: Any, where: str, depth: int = 0) -> None:
        """Admit the files ``ds`` takes its bytes from: virtual-dataset sources (recursively) and
        external raw storage."""
        import h5py

        holder = Path(ds.file.filename)
        key = (str(holder), ds.name or where)
        if key in self.seen or depth > 8:
            return
        self.seen.add(key)
        external = ds.external
        for name, _offset, _size in external or ():
            text = os.fsdecode(name)
            # HDF5 resolves relative external raw storage against the working directory (no
            # HDF5_EXTFILE_PREFIX set): the file it will read is that one
            self.admit(
                Path(text) if Path(text).is_absolute() else Path.cwd() / text,
                f"external raw storage of {where}: {text}",
            )
        if not ds.is_virtual:
            return
        for vs in ds.virtual_sources():
            name = vs.file_name
            via = f"virtual dataset source of {where}: {name}"
            if name == ".":
                candidates = [holder]
            elif _PRINTF.search(name):
                candidates = _printf_files(holder.parent, name)
            else:
                candidates = [Path(name) if Path(name).is_absolute() else holder.parent / name]
            for cand in candidates:
                self.admit(cand, via)
                if cand.is_file() and _reads_elsewhere(cand, vs.dset_name):
                    with h5py.File(cand, "r") as src:
                        self.dataset(src[vs.dset_name], f"{cand.name}:/{vs.dset_name.lstrip('/')}", depth + 1)


def _reads_elsewhere(path: Path, dataset: str) -> bool:
    """Whether ``dataset`` of the HDF5 file ``path`` is virtual or has external raw storage
    (False when it cannot be opened: the reader reports that when it reads it).

    Low-level calls: a Lima file is opened once per map for this, and ``h5py.File`` plus
    ``Dataset`` took ~3x longer (0.7 s of 1.5 s for the 240 Lima files of a 60-scan map).
    """
    import h5py

    try:
        fid = h5py.h5f.open(os.fsencode(path), h5py.h5f.ACC_RDONLY)
    except (OSError, RuntimeError, ValueError):
        return False
    try:
        dcpl = h5py.h5d.open(fid, dataset.encode()).get_create_plist()
        return bool(dcpl.get_layout() == h5py.h5d.VIRTUAL or dcpl.get_external_count())
    except (OSError, KeyError, RuntimeError, ValueError):
        return False
    finally:
        fid.close()


def data_files(
    path: str | os.PathLike[str], datasets: Iterable[str], *, follow: bool = False, fh: Any = None
) -> list[DataFile]:
    """The files whose bytes the named datasets of an HDF5 file read, besides the file itself.

    Follows, for each dataset path: HDF5 external links on the way (each admitted before it
    is opened), the file HDF5 actually opened, virtual-dataset sources (``"."`` is the file
    itself; printf-style ``%b`` names match every block file on disk; sources that are
    virtual again are followed), and external raw storage (``dataset.external``, resolved
    against the working directory as HDF5 does). A file that is absent is not listed (the
    reader reports it), nor is a dataset that is absent or dangles.

    Parameters
    ----------
    path : str or os.PathLike
        The HDF5 file given as input (the master).
    datasets : iterable of str
        Absolute paths in it of the datasets a reader reads; a group stands for every
        external link below it (its virtual datasets are not opened: name those).
    follow : bool
        False (default): a file outside the master's folder tree (after resolving symbolic
        links and ``..``) raises :class:`LinkOutsideFolderError`, before it is opened.
    fh : h5py.File, optional
        The master, already open.

    Returns
    -------
    list of DataFile
        Sorted by path; the master itself is never listed.

    Raises
    ------
    LinkOutsideFolderError
        A file outside the master's folder, unless ``follow``.
    CorruptFileError
        The master cannot be opened, or its links or data sources cannot be read.

    Examples
    --------
    >>> import h5py, tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with h5py.File(os.path.join(d, "frames.h5"), "w") as f:
    ...         f["data"] = np.zeros((2, 3))
    ...     with h5py.File(os.path.join(d, "master.h5"), "w") as f:
    ...         f["frames"] = h5py.ExternalLink("frames.h5", "/data")
    ...     [f.path.name for f in data_files(os.path.join(d, "master.h5"), ["/frames"])]
    ['frames.h5']
    """
    import h5py

    master = Path(path)
    collector = _Collector(master, follow)
    if fh is None:
        try:
            fh = h5py.File(master, "r")
        except OSError as exc:
            raise CorruptFileError(f"cannot be opened as HDF5: {exc}", path=master) from exc
        close = True
    else:
        close = False
    try:
        for name in ("/" + n.lstrip("/") for n in datasets):
            obj = collector.open_path(fh, name)
            if isinstance(obj, h5py.Dataset):
                collector.dataset(obj, name)
            elif isinstance(obj, h5py.Group):
                collector.group(fh, obj)
    except (OSError, RuntimeError, KeyError, ValueError) as exc:  # a damaged link table or dataset layout
        raise CorruptFileError(
            f"its links and data sources cannot be listed (damaged file): {exc}", path=master
        ) from exc
    finally:
        if close:
            fh.close()
    return [DataFile(p, master, via) for p, via in sorted(collector.found.items())]


def _vds_sources(ds: Any, base: Path) -> tuple[list[str], list[str]]:
    """Source files of a virtual dataset and external raw storage of a dataset: those not on
    disk, and those outside the file's folder (printf-style ``%b`` names: missing when no
    block file matches)."""
    missing, outside = [], []
    for name, *_ in ds.external or ():
        text = os.fsdecode(name)
        where = Path(text) if Path(text).is_absolute() else Path.cwd() / text  # as HDF5 resolves it
        if not where.exists():
            missing.append(f"external storage {text}")
        if not _inside(where, base.resolve().parent):
            outside.append(f"external storage {text}")
    if not ds.is_virtual:
        return sorted(set(missing)), sorted(set(outside))
    for source in ds.virtual_sources():
        name = source.file_name
        if name == ".":
            continue
        if _PRINTF.search(name):
            if not _printf_files(base.parent, name):
                missing.append(name)
        else:
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
        away_all = outside + [
            name if name.startswith("external storage") else f"virtual dataset source {name}"
            for name in sorted(outside_vds)
        ]
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
