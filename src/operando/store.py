"""Result stores: ``xarray.Dataset`` in Zarr, atomic, with provenance, resumable.

Guarantees
----------
* **Atomic.** A store is written under a hidden temporary name beside its target and
  renamed into place only when complete, so a crash never leaves a store at the target
  path. The last thing written before the rename is the manifest (the Zarr group
  ``operando_manifest``): the size and SHA-256 of every file of the store.
* **Never mistaken for complete.** :func:`open_results` refuses a store without its
  manifest (not written by us, or interrupted) and one whose files do not match it
  (deleted, truncated or, with ``verify="sha256"``, altered chunks).
* **Provenance.** Every store's attributes record the package version, the resolved
  parameters (JSON), the input files' names and SHA-256, and the creation time (UTC).
* **Resumable series.** :func:`run_series` computes one dataset per measurement into
  ``<target>.partial/frames/NNNNNN.zarr`` (each one atomic), skips those already there on
  a rerun, and assembles the target only when all are done; the assembled store equals
  that of an uninterrupted run (the creation time is that of the first attempt).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from operando import __version__
from operando._hashing import sha256_file
from operando.errors import IncompleteStoreError, OperandoError, ParameterError
from operando.kinds import check_result

__all__ = [
    "MANIFEST_NAME",
    "StoreStatus",
    "atomic_store",
    "open_results",
    "provenance",
    "run_series",
    "store_status",
    "write_results",
]

# The manifest is a Zarr group node (``operando_manifest/zarr.json``, manifest in its
# attributes): Zarr readers warn about any file at the root that is not a Zarr node.
MANIFEST_NAME = "operando_manifest"
_MANIFEST_FORMAT = "operando-store/1"


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
        Input files; each is hashed (SHA-256).
    created : str, optional
        ISO-8601 creation time; default now (UTC).

    Returns
    -------
    dict of str to str
        ``operando_version``, ``operando_parameters``, ``operando_inputs`` (JSON list of
        ``{"name", "sha256", "bytes"}``) and ``operando_created``.
    """
    files = []
    for item in inputs:
        p = Path(item)
        files.append({"name": p.name, "sha256": sha256_file(p), "bytes": p.stat().st_size})
    return {
        "operando_version": __version__,
        "operando_parameters": _json(dict(parameters or {})),
        "operando_inputs": _json(files),
        "operando_created": created or datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _manifest(root: Path) -> dict[str, Any]:
    files = {}
    for f in sorted(root.rglob("*")):
        if f.is_file() and f.relative_to(root).parts[0] != MANIFEST_NAME:
            files[f.relative_to(root).as_posix()] = [f.stat().st_size, sha256_file(f)]
    return {"format": _MANIFEST_FORMAT, "files": files}


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_store(path: str | PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Write a directory store under a temporary name, then move it into place.

    Yields the temporary path to write into. On a clean exit the manifest is written and
    the directory renamed to ``path`` (replacing an existing one only with
    ``overwrite=True``); on an exception the temporary directory is removed and
    ``path`` is untouched.

    Raises
    ------
    OperandoError
        When ``path`` exists and ``overwrite`` is False.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise OperandoError("output exists; choose another path or pass overwrite", path=target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        tmp.mkdir()
        yield tmp
        node = {"zarr_format": 3, "node_type": "group", "attributes": {"operando_manifest": _manifest(tmp)}}
        (tmp / MANIFEST_NAME).mkdir()
        (tmp / MANIFEST_NAME / "zarr.json").write_text(json.dumps(node, indent=1, sort_keys=True))
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:12]}")
            target.rename(old)
        tmp.rename(target)
        _fsync_dir(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _zarr_ready(ds: xr.Dataset) -> xr.Dataset:
    """Fixed-width unicode has no Zarr v3 spec; store text as variable-length strings."""
    out = ds.copy()
    for name, var in out.variables.items():
        if var.dtype.kind == "U":
            # the bare Variable: a DataArray would bring its own (fixed-width) coordinates back with it
            out[name] = var.astype(object)
    return out


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
        out.to_zarr(tmp, mode="w", consolidated=False, zarr_format=3)
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


def store_status(path: str | PathLike[str], *, verify: Literal["size", "sha256"] = "size") -> StoreStatus:
    """Check a store against its manifest without opening the data.

    Parameters
    ----------
    path : str or os.PathLike
        The store's target path.
    verify : {"size", "sha256"}, default "size"
        Compare file sizes only (fast) or also recompute every SHA-256.

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
    manifest_file = target / MANIFEST_NAME / "zarr.json"
    if not manifest_file.is_file():
        return StoreStatus(False, f"no {MANIFEST_NAME}: the write was interrupted or it was not written by operando")
    try:
        manifest = json.loads(manifest_file.read_text())["attributes"]["operando_manifest"]
        files = manifest["files"]
        if manifest.get("format") != _MANIFEST_FORMAT:
            return StoreStatus(False, f"unknown manifest format {manifest.get('format')!r}")
    except (ValueError, KeyError, TypeError):
        return StoreStatus(False, f"{MANIFEST_NAME} is damaged")
    for rel, (size, digest) in files.items():
        f = target / rel
        if not f.is_file():
            return StoreStatus(False, f"file {rel} is missing")
        if f.stat().st_size != size:
            return StoreStatus(False, f"file {rel} has {f.stat().st_size} bytes, manifest says {size}")
        if verify == "sha256" and sha256_file(f) != digest:
            return StoreStatus(False, f"file {rel} does not match its SHA-256")
    return StoreStatus(True)


def open_results(path: str | PathLike[str], *, verify: Literal["size", "sha256"] = "size") -> xr.Dataset:
    """Open a complete result store (lazily, Dask-backed).

    Raises
    ------
    IncompleteStoreError
        When the store is missing, unfinished or does not match its manifest.
    """
    status = store_status(path, verify=verify)
    if not status.complete:
        raise IncompleteStoreError(f"not a complete result store: {status.reason}", path=path)
    return xr.open_zarr(Path(path), consolidated=False, zarr_format=3)


# -- resumable series -------------------------------------------------------------------
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
        path = self.paths[i]
        if path.exists():
            shutil.rmtree(path)
        ds = self.compute_frame(key).compute()
        if "frame" in ds.dims:
            raise ParameterError("compute_frame must return one measurement (no 'frame' dimension)")
        with atomic_store(path) as tmp:
            _zarr_ready(ds).to_zarr(tmp, mode="w", consolidated=False, zarr_format=3)


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
    plan = {"keys": list(keys), "parameters": _json(dict(parameters or {}))}
    plan_file = partial / "series.json"
    if partial.exists() and overwrite:
        shutil.rmtree(partial)
    if partial.exists():
        try:
            earlier = json.loads(plan_file.read_text())
        except (OSError, ValueError) as exc:
            raise IncompleteStoreError("earlier progress is unreadable; rerun with overwrite", path=partial) from exc
        if earlier.get("keys") != json.loads(_json(plan["keys"])) or earlier.get("parameters") != plan["parameters"]:
            raise ParameterError(
                "an interrupted run with other measurements or parameters is in progress here; "
                "rerun with the same ones to resume, or pass overwrite to start again",
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
    frames = [xr.open_zarr(fp, consolidated=False, zarr_format=3) for fp in frame_paths]
    keys_coord = np.asarray(json.loads(_json(plan["keys"])))
    series = xr.concat(frames, dim="frame", data_vars="all", coords="different", compat="equals", join="exact")
    series = series.assign_coords(frame=np.arange(len(frames)), key=("frame", keys_coord))
    series.attrs = dict(frames[0].attrs) if frames else {}
    write_results(series, target, parameters=parameters, inputs=inputs, overwrite=overwrite, created=created)
    shutil.rmtree(partial, ignore_errors=True)
    return target
