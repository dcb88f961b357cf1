"""Result stores: ``xarray.Dataset`` in Zarr, atomic, with provenance, resumable.

Guarantees
----------
* **Atomic, one writer.** A store is written under a hidden temporary name beside its
  target and renamed into place only when complete, so a crash never leaves a store at the
  target path. A lock file (``.NAME.lock``, created exclusively) lets one process write a
  target at a time: a second writer is refused with the first one's pid and host, and a
  lock left by a killed process on this host is taken over. Temporary stores left by a
  crash are removed by the next writer of the same target. The last thing written before
  the rename is the manifest (the Zarr group ``operando_manifest``): the size and SHA-256
  of every file of the store, and the SHA-256 of the manifest itself.
* **Verified by content.** :func:`open_results` refuses a store without its manifest
  (not written by us, or interrupted), with a file missing, added, resized, or a metadata
  file (every ``zarr.json``) that does not match its SHA-256; the chunks are checked
  against their SHA-256 as they are read (``verify="lazy"``, the default: the cost is that
  of hashing what is read, about 1.4 ms per MB on one core), or all at once with
  ``verify="sha256"`` (what ``operando info`` and ``operando report`` do). A damaged
  chunk read later is an :class:`~operando.errors.IncompleteStoreError` naming the store
  and the file.
* **Fits the ecosystem.** Units are written pint-parseable
  (:func:`operando.kinds.normalize_units`), text as fixed-width Unicode (``.astype(str)``
  works), with consolidated metadata (``xarray.open_zarr`` opens it without a warning).
* **Provenance.** Every store's attributes record the package version, the resolved
  parameters (JSON), the input files' names and SHA-256, and the creation time (UTC).
* **Resumable series.** :func:`run_series` computes one dataset per measurement into
  ``<target>.partial/frames/NNNNNN.zarr`` (each one atomic), skips those already there on
  a rerun, and assembles the target only when all are done; the assembled store equals
  that of an uninterrupted run (the creation time is that of the first attempt).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr
from zarr.storage import LocalStore

from operando import __version__
from operando._hashing import DataFile, sampled_sha256, sha256_file
from operando.errors import IncompleteStoreError, OperandoError, ParameterError
from operando.kinds import check_result, kind_of, normalize_units

__all__ = [
    "MANIFEST_NAME",
    "StoreStatus",
    "atomic_store",
    "concat_frames",
    "open_results",
    "open_store",
    "output_lock",
    "provenance",
    "run_series",
    "store_status",
    "write_frame",
    "write_results",
]

# The manifest is a Zarr group node (``operando_manifest/zarr.json``, manifest in its
# attributes): Zarr readers warn about any file at the root that is not a Zarr node.
MANIFEST_NAME = "operando_manifest"
_MANIFEST_FORMAT = "operando-store/2"  # /2: compact canonical JSON with its own SHA-256 ("digest")
_LEGACY_FORMAT = "operando-store/1"  # sizes and SHA-256 of the files, indented JSON, no digest
Verify = Literal["size", "lazy", "sha256"]


def _json(value: Any) -> str:
    """Canonical JSON (sorted keys) of parameters; paths and numpy scalars become plain values."""

    def default(obj: Any) -> Any:
        if isinstance(obj, PathLike):
            return os.fspath(obj)
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, datetime):
            return obj.isoformat()
        raise TypeError(f"parameter of type {type(obj).__name__} cannot be recorded")

    return json.dumps(value, sort_keys=True, default=default)


def provenance(
    *,
    parameters: Mapping[str, Any] | None = None,
    inputs: Sequence[str | PathLike[str]] = (),
    created: str | None = None,
) -> dict[str, str]:
    """Attributes that say how a result was made.

    Parameters
    ----------
    parameters : mapping, optional
        The resolved parameters (after defaults were applied), JSON-serialisable.
    inputs : sequence of path
        Input files; each is hashed (SHA-256). Items that are
        :class:`operando._hashing.DataFile` (files whose bytes an input's datasets read:
        Lima frame files, virtual-dataset sources, external raw storage, EDF frames) are
        recorded with the input that reaches them (:func:`_data_file_entry`).
    created : str, optional
        ISO-8601 creation time; default now (UTC).

    Returns
    -------
    dict of str to str
        ``operando_version``, ``operando_parameters``, ``operando_inputs`` (JSON list of
        ``{"name", "sha256", "bytes"}`` per input, then one entry per data file) and
        ``operando_created``.
    """
    plain = [Path(item) for item in inputs if not isinstance(item, DataFile)]
    linked: dict[Path, DataFile] = {}
    skip = {p.resolve() for p in plain}
    for item in inputs:
        if isinstance(item, DataFile) and item.path.resolve() not in skip:
            linked.setdefault(item.path.resolve(), item)
    with ThreadPoolExecutor(_hash_workers()) as pool:  # hashlib releases the GIL: files hashed side by side
        plain_digests = list(pool.map(sha256_file, plain))
        linked_entries = list(pool.map(_data_file_entry, linked.values()))
    files: list[dict[str, Any]] = [
        {"name": p.name, "sha256": digest, "bytes": p.stat().st_size}
        for p, digest in zip(plain, plain_digests, strict=True)
    ]
    files += linked_entries
    return {
        "operando_version": __version__,
        "operando_parameters": _json(dict(parameters or {})),
        "operando_inputs": _json(files),
        "operando_created": created or datetime.now(UTC).isoformat(timespec="seconds"),
    }


FULL_HASH_MAX_BYTES = 16 << 20
"""Data files up to this size get a full SHA-256 in the provenance; larger ones a sampled one.

A full SHA-256 costs 2.2 s per GB on this project's 2-core machine when idle (1 GiB in four
files, two threads; 5.3 s while other jobs run): one more read of every frame, tens of GB
per map at a beamline. Lima files of real maps (1000 frames each) are tens to hundreds of
MB; they get :func:`operando._hashing.sampled_sha256` (~3 ms per file) with size and mtime.
"""


def _data_file_entry(item: DataFile) -> dict[str, Any]:
    """The provenance entry of a file reached through an input's datasets.

    ``name`` is its path relative to the folder of the input that reaches it (absolute
    when outside it), ``via`` that input's name and how, ``bytes`` its size; then either
    ``sha256`` (every byte, files up to :data:`FULL_HASH_MAX_BYTES`) or ``hash``
    (``"sampled-sha256:16x64KiB:..."``, never a full hash) with ``mtime`` (UTC, ns precision
    as the file system gives it).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "scan0001").mkdir()
    ...     lima = Path(d) / "scan0001" / "mpx1x4_0000.h5"
    ...     _ = lima.write_bytes(b"frames")
    ...     e = _data_file_entry(DataFile(lima.resolve(), Path(d) / "sample.h5", "external link /1.1"))
    >>> e["name"], e["via"], e["bytes"], len(e["sha256"])
    ('scan0001/mpx1x4_0000.h5', 'sample.h5: external link /1.1', 6, 64)
    """
    path = item.path
    stat = path.stat()
    folder = item.master.resolve().parent
    name = path.relative_to(folder).as_posix() if folder in path.parents else str(path)
    entry: dict[str, Any] = {"name": name, "via": f"{item.master.name}: {item.via}", "bytes": stat.st_size}
    if stat.st_size <= FULL_HASH_MAX_BYTES:
        entry["sha256"] = sha256_file(path)
    else:
        entry["hash"] = sampled_sha256(path)
        entry["mtime"] = datetime.fromtimestamp(stat.st_mtime_ns / 1e9, UTC).isoformat(timespec="microseconds")
        entry["mtime_ns"] = stat.st_mtime_ns
    return entry


def _hash_workers() -> int:
    # hashlib releases the GIL on large buffers: threads hash files in parallel
    return max(1, min(8, os.cpu_count() or 1))


def _store_files(root: Path) -> list[str]:
    """Every file of a store (relative POSIX paths, sorted), the manifest's own node aside."""
    out = []
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            rel = (Path(dirpath) / name).relative_to(root)
            if rel.parts[0] != MANIFEST_NAME:
                out.append(rel.as_posix())
    return sorted(out)


def _manifest_digest(fmt: str, files: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps({"files": files, "format": fmt}, sort_keys=True).encode()).hexdigest()


def _manifest(root: Path) -> dict[str, Any]:
    rels = _store_files(root)
    with ThreadPoolExecutor(_hash_workers()) as pool:
        digests = list(pool.map(lambda rel: sha256_file(root / rel), rels))
    files = {rel: [(root / rel).stat().st_size, digest] for rel, digest in zip(rels, digests, strict=True)}
    return {"format": _MANIFEST_FORMAT, "files": files, "digest": _manifest_digest(_MANIFEST_FORMAT, files)}


def _manifest_bytes(node: Mapping[str, Any], fmt: str) -> bytes:
    if fmt == _LEGACY_FORMAT:
        return json.dumps(node, indent=1, sort_keys=True).encode()
    return json.dumps(node, sort_keys=True, separators=(",", ":")).encode()


def _write_manifest(tmp: Path) -> None:
    node = {"zarr_format": 3, "node_type": "group", "attributes": {"operando_manifest": _manifest(tmp)}}
    (tmp / MANIFEST_NAME).mkdir()
    (tmp / MANIFEST_NAME / "zarr.json").write_bytes(_manifest_bytes(node, _MANIFEST_FORMAT))


def _read_manifest(target: Path) -> dict[str, list[Any]] | str:
    """The manifest's ``files`` (relative path -> [size, sha256]), or why it cannot be trusted."""
    manifest_file = target / MANIFEST_NAME / "zarr.json"
    if not manifest_file.is_file():
        return f"no {MANIFEST_NAME}: the write was interrupted or it was not written by operando"
    raw = manifest_file.read_bytes()
    try:
        node = json.loads(raw)
        manifest = node["attributes"]["operando_manifest"]
        fmt, files = manifest["format"], manifest["files"]
        if fmt not in (_MANIFEST_FORMAT, _LEGACY_FORMAT):
            return f"{MANIFEST_NAME} has an unknown format {fmt!r}"
        if not isinstance(files, dict) or not all(
            isinstance(v, list) and len(v) == 2 and isinstance(v[0], int) and isinstance(v[1], str)
            for v in files.values()
        ):
            return f"{MANIFEST_NAME} is damaged (its file list is malformed)"
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return f"{MANIFEST_NAME} is damaged (not the JSON operando writes)"
    # any changed byte either breaks the canonical form or the manifest's own SHA-256
    if raw != _manifest_bytes(node, fmt) or set(node) != {"zarr_format", "node_type", "attributes"}:
        return f"{MANIFEST_NAME} is damaged (altered after writing)"
    if fmt == _MANIFEST_FORMAT and manifest.get("digest") != _manifest_digest(fmt, files):
        return f"{MANIFEST_NAME} is damaged (does not match its own SHA-256)"
    if node["zarr_format"] != 3 or node["node_type"] != "group" or set(node["attributes"]) != {"operando_manifest"}:
        return f"{MANIFEST_NAME} is damaged (altered after writing)"
    return dict(files)


def _is_metadata(rel: str) -> bool:
    return rel.rsplit("/", 1)[-1] in ("zarr.json", ".zattrs", ".zarray", ".zgroup", ".zmetadata")


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_HELD: dict[Path, int] = {}  # locks this process holds -> the thread holding it
_HELD_GUARD = threading.Lock()


def _lock_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.lock")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _take_lock(lock: Path, target: Path) -> None:
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": datetime.now(UTC).isoformat(timespec="seconds")}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                other = json.loads(lock.read_text())
                pid, host, since = int(other["pid"]), str(other["host"]), str(other["since"])
            except (OSError, ValueError, KeyError, TypeError):
                pid, host, since = -1, socket.gethostname(), "an unknown time"
            if host == socket.gethostname() and not _pid_alive(pid):
                # left by a process that was killed: nobody writes here any more
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()
                continue
            raise OperandoError(
                f"another operando process (pid {pid} on {host}, since {since}) is writing this output; "
                f"wait for it to finish, or delete {lock.name} if that process is gone",
                path=target,
            ) from None
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(me))
        return
    raise OperandoError(f"cannot take the lock {lock.name}; another writer keeps taking it", path=target)


@contextlib.contextmanager
def output_lock(path: str | PathLike[str]) -> Iterator[Path]:
    """Hold the one-writer lock of an output (``.NAME.lock`` beside it) for the block.

    Re-entrant in the thread that holds it (a series holds its target's lock while it
    writes the assembled store); another thread or process is refused.

    Raises
    ------
    OperandoError
        When another process (or thread) holds the lock; the message names its pid and host.
    """
    target = Path(path)
    key = target.resolve()
    me = threading.get_ident()
    with _HELD_GUARD:
        holder = _HELD.get(key)
        if holder == me:
            nested = True
        elif holder is not None:
            raise OperandoError("another thread of this process is writing this output", path=target)
        else:
            nested = False
            target.parent.mkdir(parents=True, exist_ok=True)
            _take_lock(_lock_path(target), target)
            _HELD[key] = me
    try:
        yield target
    finally:
        if not nested:
            with _HELD_GUARD:
                _HELD.pop(key, None)
            with contextlib.suppress(FileNotFoundError):
                _lock_path(target).unlink()


def _remove_leftovers(target: Path) -> None:
    """Temporary stores a crashed writer left beside ``target`` (called with the lock held)."""
    for pattern in (f".{target.name}.tmp-*", f".{target.name}.old-*"):
        for stale in target.parent.glob(pattern):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    stale.unlink()


@contextlib.contextmanager
def atomic_store(path: str | PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Write a directory store under a temporary name, then move it into place.

    Yields the temporary path to write into. The target's lock (:func:`output_lock`) is
    held throughout, so two writers of one target cannot both succeed. On a clean exit the
    manifest is written and the directory renamed to ``path`` (replacing an existing one
    only with ``overwrite=True``); on an exception the temporary directory is removed and
    ``path`` is untouched.

    Raises
    ------
    OperandoError
        When ``path`` exists and ``overwrite`` is False, or another writer holds the lock.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise OperandoError("output exists; choose another path or pass overwrite", path=target)
    with output_lock(target):
        _remove_leftovers(target)
        tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:12]}")
        try:
            tmp.mkdir()
            yield tmp
            _write_manifest(tmp)
            old = None
            if target.exists():
                if not overwrite:  # appeared while we wrote (not through operando: it takes the lock)
                    raise OperandoError("output appeared while it was written; nothing replaced", path=target)
                old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:12]}")
                target.rename(old)
            tmp.rename(target)
            _fsync_dir(target.parent)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def _plain_text(values: np.ndarray) -> np.ndarray | None:
    """Text as fixed-width Unicode (``<U``, at least one character), or None when not all text."""
    if values.dtype.kind == "U":
        return values if values.dtype.itemsize else values.astype("<U1")
    if values.dtype.kind == "T" or (values.dtype == object and all(isinstance(v, str) for v in values.flat)):
        width = max((len(str(v)) for v in values.flat), default=1)
        return values.astype(f"<U{max(width, 1)}")
    return None


_UNIT_SUFFIX = re.compile(r"_(mm[23]?|um|nm|m|s|h|V|mV|mA|uA|mAh|mAh_g|px|deg|A|keV|eV|ppm|Hz|MHz|K|G|mT)$")


def long_name(name: str) -> str:
    """A CF-style ``long_name`` from a variable's name: its words, without the unit suffix.

    Examples
    --------
    >>> long_name("contact_area_mm2"), long_name("echem_voltage_V"), long_name("d_spacing")
    ('contact area', 'echem voltage', 'd spacing')
    """
    return _UNIT_SUFFIX.sub("", name).replace("_", " ").strip() or name


def _dimensionless_by_name(name: str, dtype: np.dtype[Any]) -> bool:
    """Masks, counts and fractions (by this package's naming) are dimensionless."""
    if dtype.kind == "b":
        return True
    if dtype.kind not in "iuf":
        return False
    return name.startswith("n_") or name.endswith(("_fraction", "_share", "_ratio"))


def _zarr_ready(ds: xr.Dataset) -> xr.Dataset:
    """Pint-parseable units and plain (fixed-width) text on every variable and coordinate."""
    out = ds.copy()
    for name, var in list(out.variables.items()):
        attrs = dict(var.attrs)
        if "units" in attrs:
            written = str(attrs["units"]).strip()
            attrs["units"] = normalize_units(written)
            if (attrs["units"] == "1" and written.lower() not in ("", "1", "dimensionless")) or "a.u" in written:
                attrs.setdefault("units_as_written", written)  # a description or an arbitrary scale: kept
        elif name in ds.data_vars and _dimensionless_by_name(str(name), var.dtype):
            attrs["units"] = "1"
        if name in ds.data_vars:
            attrs.setdefault("long_name", long_name(str(name)))
        text = None
        if var.dtype.kind in "UT" or var.dtype == object:
            text = _plain_text(np.asarray(var.values))
        if text is not None:
            # the bare Variable: a DataArray would bring its coordinates back with it
            new = xr.Variable(var.dims, text, attrs, encoding={})
            out[name] = new
        else:
            out.variables[name].attrs = attrs
        if var.dtype.kind == "M":
            out.variables[name].encoding.update(_TIME_ENCODING)
    return out


# Absolute times (``time_utc``) as CF integer nanoseconds since the epoch: exact, and no xarray
# guess of a coarser unit that it then cannot fill with integers (a warning on every write).
_TIME_ENCODING = {"units": "nanoseconds since 1970-01-01", "calendar": "proleptic_gregorian", "dtype": "int64"}


def _to_zarr(ds: xr.Dataset, path: Path) -> None:
    with warnings.catch_warnings():
        # consolidated metadata and fixed-width text are zarr-python extensions of the v3 spec;
        # every reader we target (zarr-python 3, xarray) reads them
        warnings.filterwarnings("ignore", message=".*Consolidated metadata.*")
        warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
        ds.to_zarr(path, mode="w", consolidated=True, zarr_format=3)


def write_results(
    ds: xr.Dataset,
    path: str | PathLike[str],
    *,
    parameters: Mapping[str, Any] | None = None,
    inputs: Sequence[str | PathLike[str]] = (),
    overwrite: bool = False,
    created: str | None = None,
) -> Path:
    """Write a result dataset to a Zarr store, atomically and with provenance.

    Parameters
    ----------
    ds : xarray.Dataset
        NumPy- or Dask-backed; Dask arrays are computed chunk by chunk as they are written.
    path : str or os.PathLike
        Target directory, conventionally ``*.zarr``.
    parameters, inputs, created
        See :func:`provenance`.
    overwrite : bool, default False
        Replace an existing store (the old one stays until the new one is complete).

    Returns
    -------
    pathlib.Path
        The target path.
    """
    target = Path(path)
    check_result(ds)  # a result that names its kind has what that kind needs, before anything is written
    out = _zarr_ready(ds)
    out.attrs.update(provenance(parameters=parameters, inputs=inputs, created=created))
    with atomic_store(target, overwrite=overwrite) as tmp:
        _to_zarr(out, tmp)
    return target


@dataclass(frozen=True)
class StoreStatus:
    """Whether a store is complete, and if not, why and how far a series got."""

    complete: bool
    reason: str = ""
    frames_done: int | None = None
    frames_total: int | None = None


def _partial_dir(target: Path) -> Path:
    return target.with_name(target.name + ".partial")


def store_status(path: str | PathLike[str], *, verify: Verify = "lazy") -> StoreStatus:
    """Check a store against its manifest without opening the data.

    Parameters
    ----------
    path : str or os.PathLike
        The store's target path.
    verify : {"lazy", "sha256", "size"}, default "lazy"
        Every level checks the manifest itself (its own SHA-256), that no file is missing
        or added and that every size matches. ``"lazy"`` also checks the SHA-256 of every
        metadata file (``zarr.json``: kilobytes), leaving the chunks to be checked as they
        are read (:func:`open_results`); ``"sha256"`` checks every file (about 0.7 s per GB
        and core, files hashed in parallel threads); ``"size"`` hashes nothing.

    Returns
    -------
    StoreStatus
    """
    target = Path(path)
    partial = _partial_dir(target)
    if not target.exists():
        if partial.exists():
            done, total = _series_progress(partial)
            return StoreStatus(False, f"series interrupted: {done} of {total} measurements done", done, total)
        return StoreStatus(False, "does not exist")
    if not target.is_dir():
        return StoreStatus(False, "not a folder: a result store is a Zarr folder")
    files = _read_manifest(target)
    if isinstance(files, str):
        return StoreStatus(False, files)
    try:
        present = _store_files(target)
    except OSError as exc:
        return StoreStatus(False, f"cannot be listed: {exc.strerror or exc}")
    extra = sorted(set(present) - set(files))
    if extra:
        return StoreStatus(False, f"file {extra[0]} is not in the manifest (added after writing)")
    for rel, (size, _digest) in files.items():
        f = target / rel
        if not f.is_file():
            return StoreStatus(False, f"file {rel} is missing")
        if f.stat().st_size != size:
            return StoreStatus(False, f"file {rel} has {f.stat().st_size} bytes, manifest says {size}")
    if verify == "size":
        return StoreStatus(True)
    check = [rel for rel in files if verify == "sha256" or _is_metadata(rel)]
    with ThreadPoolExecutor(_hash_workers()) as pool:
        digests = list(pool.map(lambda rel: sha256_file(target / rel), check))
    for rel, digest in zip(check, digests, strict=True):
        if digest != files[rel][1]:
            return StoreStatus(False, f"file {rel} does not match its SHA-256 (changed after writing)")
    return StoreStatus(True)


def _sha256_hex(data: Any) -> str:
    return hashlib.sha256(memoryview(data)).hexdigest()


class _VerifiedStore(LocalStore):
    """A read-only Zarr store that checks every file it reads against the manifest's SHA-256.

    Reads of whole files (every chunk read of an unsharded array) are hashed as read; a
    partial read hashes the whole file once. A file the manifest lists that has gone is
    an error too (Zarr would silently read it as fill values).
    """

    def __init__(
        self,
        root: Path | str,
        *,
        read_only: bool = True,
        expected: Mapping[str, Sequence[Any]] | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__(root, read_only=read_only)
        self.expected = dict(expected or {})
        self.label = label or str(root)
        self._checked: set[str] = set()

    def with_read_only(self, read_only: bool = False) -> _VerifiedStore:
        return type(self)(self.root, read_only=read_only, expected=self.expected, label=self.label)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_checked"] = set()
        return state

    def _refuse(self, key: str, what: str) -> IncompleteStoreError:
        return IncompleteStoreError(f"not a complete result store: file {key} {what}", path=self.label)

    async def get(self, key: str, prototype: Any = None, byte_range: Any = None) -> Any:
        buf = await super().get(key, prototype, byte_range)
        want = self.expected.get(key)
        if want is None:
            return buf
        if buf is None:
            raise self._refuse(key, "is missing (deleted after it was opened)")
        if byte_range is None:
            # hashed off the event loop: zarr reads many chunks at once, hashlib releases the GIL
            digest = await asyncio.to_thread(_sha256_hex, buf.as_numpy_array())
            if digest != want[1]:
                raise self._refuse(key, "does not match its SHA-256 (changed after writing)")
        elif key not in self._checked:
            if sha256_file(self.root / key) != want[1]:
                raise self._refuse(key, "does not match its SHA-256 (changed after writing)")
            self._checked.add(key)
        return buf


def _consolidated(target: Path) -> bool:
    try:
        return "consolidated_metadata" in json.loads((target / "zarr.json").read_bytes())
    except (OSError, ValueError, TypeError):
        return False


def open_results(path: str | PathLike[str], *, verify: Verify = "lazy") -> xr.Dataset:
    """Open a complete result store (lazily, Dask-backed), verified against its manifest.

    Parameters
    ----------
    path : str or os.PathLike
        The store.
    verify : {"lazy", "sha256", "size"}, default "lazy"
        See :func:`store_status`. With ``"lazy"`` the chunks are checked against their
        SHA-256 as they are read: a damaged one raises :class:`IncompleteStoreError`
        (naming the store and the file) when its values are computed.

    Raises
    ------
    IncompleteStoreError
        When the store is missing, unfinished or does not match its manifest.
    """
    target = Path(path)
    status = store_status(target, verify=verify)
    if not status.complete:
        raise IncompleteStoreError(f"not a complete result store: {status.reason}", path=path)
    consolidated = _consolidated(target)
    try:
        if verify == "lazy":
            files = _read_manifest(target)
            assert not isinstance(files, str)  # checked by store_status just now
            store = _VerifiedStore(target, expected=files, label=str(path))
            return xr.open_zarr(store, consolidated=consolidated, zarr_format=3)
        return xr.open_zarr(target, consolidated=consolidated, zarr_format=3)
    except OperandoError:
        raise
    except (ValueError, KeyError, TypeError, OSError) as exc:  # metadata that verified yet does not parse
        raise IncompleteStoreError(f"not a readable result store: {type(exc).__name__}: {exc}", path=path) from exc


def open_store(path: str | PathLike[str], *, kind: str | None = None, verify: Verify = "lazy") -> xr.Dataset:
    """Open any operando result store, with its kind checked.

    Exported as :func:`operando.open`.

    Parameters
    ----------
    path : str or os.PathLike
        A store written by any operando command.
    kind : str, optional
        The kind expected (a name in :data:`operando.kinds.KINDS`, e.g. ``"sxdm-maps"``).
    verify : {"lazy", "sha256", "size"}, default "lazy"
        See :func:`open_results`.

    Returns
    -------
    xarray.Dataset
        Lazy (Dask-backed); ``attrs["operando_kind"]`` names what it holds.

    Raises
    ------
    IncompleteStoreError
        Missing, unfinished or damaged store.
    ParameterError
        A store of another kind than ``kind``, or one lacking what its kind requires.
    """
    ds = open_results(path, verify=verify)
    try:
        check_result(ds)
    except ParameterError as exc:
        raise ParameterError(exc.problem, path=path) from None
    found = kind_of(ds)
    if kind is not None and found != kind:
        raise ParameterError(f"holds a {found} result, not {kind}", path=path)
    if found != "unknown":
        ds.attrs.setdefault("operando_kind", found)  # stores written before the attribute: the guess
    return ds


# -- resumable series -------------------------------------------------------------------
def _fingerprint(inputs: Sequence[str | PathLike[str]]) -> list[list[Any]]:
    """Name, size and modification time (ns) of each input: cheap, and changes when a file is rewritten."""
    out = []
    for item in inputs:
        st = Path(item).stat()
        out.append([os.fspath(item), st.st_size, st.st_mtime_ns])
    return out


def _series_progress(partial: Path) -> tuple[int, int]:
    try:
        plan = json.loads((partial / "series.json").read_text())
    except (OSError, ValueError):
        return 0, 0
    total = len(plan.get("keys", []))
    done = sum(store_status(partial / "frames" / f"{i:06d}.zarr").complete for i in range(total))
    return done, total


@dataclass(frozen=True)
class _FrameWriter:
    """One measurement of a series: compute it and write its frame store (atomic).

    A picklable callable, so that a cluster's worker can run it: the frame is written
    where the worker runs, on the file system the series lives on.
    """

    compute_frame: Callable[[Any], xr.Dataset]
    paths: Sequence[Path]

    def __call__(self, item: tuple[int, Any]) -> None:
        i, key = item
        write_frame(self.compute_frame(key), self.paths[i])


def write_frame(ds: xr.Dataset, path: str | PathLike[str]) -> Path:
    """Compute one measurement of a series and write it as its own store, atomically.

    Parameters
    ----------
    ds : xarray.Dataset
        One measurement (no ``frame`` dimension); lazy data are computed.
    path : str or os.PathLike
        The frame store; an earlier one there is replaced.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ParameterError
        The dataset has a ``frame`` dimension.
    """
    target = Path(path)
    if target.exists():
        shutil.rmtree(target)
    ds = ds.compute()
    if "frame" in ds.dims:
        raise ParameterError("a series frame must be one measurement (no 'frame' dimension)", path=target)
    with atomic_store(target) as tmp:
        _to_zarr(_zarr_ready(ds), tmp)
    return target


def concat_frames(frames: Sequence[xr.Dataset], keys: Sequence[Any]) -> xr.Dataset:
    """Measurements along ``frame`` with a ``key`` coordinate, as a series store holds them.

    Parameters
    ----------
    frames : sequence of xarray.Dataset
        One per measurement, the same variables and dimensions; the first one's
        attributes become the series'.
    keys : sequence
        One key per frame (e.g. the file it came from).

    Returns
    -------
    xarray.Dataset
    """
    series = xr.concat(list(frames), dim="frame", data_vars="all", coords="different", compat="equals", join="exact")
    series = series.assign_coords(frame=np.arange(len(frames)), key=("frame", np.asarray(list(keys))))
    series.attrs = dict(frames[0].attrs) if frames else {}
    return series


def run_series(
    keys: Sequence[Any],
    compute_frame: Callable[[Any], xr.Dataset],
    path: str | PathLike[str],
    *,
    parameters: Mapping[str, Any] | None = None,
    inputs: Sequence[str | PathLike[str]] = (),
    overwrite: bool = False,
    progress: bool = True,
    description: str = "measurements",
) -> Path:
    """Compute one dataset per measurement and store them as one series, resumably.

    Parameters
    ----------
    keys : sequence
        One JSON-serialisable key per measurement (e.g. scan numbers), in series order.
    compute_frame : callable
        ``compute_frame(key) -> xarray.Dataset`` without a ``frame`` dimension; lazy
        (Dask) results are computed with the active scheduler. On a ``distributed``
        cluster every measurement is one task (all submitted together), so
        ``compute_frame`` must be picklable and ``path`` on a file system the workers share.
    path : str or os.PathLike
        Target store. Progress lives in ``<path>.partial`` until all frames are done.
    parameters, inputs
        Provenance; a rerun with different parameters or keys is refused (pass
        ``overwrite=True`` to start again).
    overwrite : bool, default False
        Replace an existing target and discard earlier progress.
    progress : bool, default True
        Show a progress bar on stderr.
    description : str
        What the progress bar counts.

    Returns
    -------
    pathlib.Path
        The target, holding the frames concatenated along ``frame`` with a ``key`` coordinate.
    """
    target = Path(path)
    partial = _partial_dir(target)
    if target.exists() and not overwrite:
        raise OperandoError("output exists; choose another path or pass overwrite", path=target)
    with output_lock(target):  # one writer of this series (and of its progress) at a time
        plan = {"keys": list(keys), "parameters": _json(dict(parameters or {})), "inputs": _fingerprint(inputs)}
        plan_file = partial / "series.json"
        if partial.exists() and overwrite:
            shutil.rmtree(partial)
        if partial.exists():
            try:
                earlier = json.loads(plan_file.read_text())
            except (OSError, ValueError) as exc:
                raise IncompleteStoreError(
                    "earlier progress is unreadable; rerun with overwrite", path=partial
                ) from exc
            if (
                earlier.get("keys") != json.loads(_json(plan["keys"]))
                or earlier.get("parameters") != plan["parameters"]
                or earlier.get("inputs", plan["inputs"]) != plan["inputs"]
            ):
                raise ParameterError(
                    "an interrupted run with other measurements or parameters (or input files changed since) is in "
                    "progress here; rerun with the same ones to resume, or pass overwrite to start again",
                    path=partial,
                )
            created = earlier["created"]
        else:
            (partial / "frames").mkdir(parents=True)
            created = datetime.now(UTC).isoformat(timespec="seconds")
            tmp_plan = plan_file.with_suffix(".tmp")
            tmp_plan.write_text(_json({**plan, "created": created}))
            tmp_plan.rename(plan_file)
        frame_paths = [partial / "frames" / f"{i:06d}.zarr" for i in range(len(plan["keys"]))]
        for stale in (partial / "frames").glob(".*.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        todo = [i for i, fp in enumerate(frame_paths) if not store_status(fp).complete]

        from operando._progress import progress_bar  # local: rich is only needed here
        from operando.parallel import map_measurements

        keys_todo = [plan["keys"][i] for i in todo]
        work = _FrameWriter(compute_frame, [frame_paths[i] for i in todo])
        with progress_bar(total=len(frame_paths), description=description, enabled=progress) as advance:
            advance(len(frame_paths) - len(todo))
            # on a cluster every measurement is one task, all submitted together; locally one after another
            map_measurements(work, list(enumerate(keys_todo)), on_done=lambda i, _: advance(1))
        frames = [open_results(fp) for fp in frame_paths]
        series = concat_frames(frames, json.loads(_json(plan["keys"])))
        write_results(series, target, parameters=parameters, inputs=inputs, overwrite=overwrite, created=created)
        shutil.rmtree(partial, ignore_errors=True)
    return target
