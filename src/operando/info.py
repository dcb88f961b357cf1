"""``operando info FILE``: what a file is (found from its content) and what is inside.

The format registry (:mod:`operando.formats`) recognises raw instrument files and folders
and each format summarises itself without loading bulk data: shapes, dtypes, times, the
metadata that matters, and what is broken (dangling external links, virtual datasets
whose source files are absent). Result stores written by operando are summarised here.
"""

from __future__ import annotations

import json
import time
from os import PathLike
from pathlib import Path
from typing import Any

from operando._hashing import DataFile, sampled_sha256
from operando._hdf5 import data_files
from operando.errors import IncompleteStoreError
from operando.formats import describe_file
from operando.kinds import describe_kind, kind_of

# the files behind a file (HDF5 links, their checksums) are part of what a file is: public here
__all__ = ["DataFile", "data_files", "describe", "format_summary", "sampled_sha256"]


def _describe_store(path: Path) -> dict[str, Any]:
    from operando.store import open_results, store_status

    t0 = time.perf_counter()
    status = store_status(path, verify="sha256")
    seconds = time.perf_counter() - t0
    out: dict[str, Any] = {"kind": "operando result store (Zarr)", "complete": status.complete}
    if not status.complete:
        if status.frames_total is None:  # there is a store, and it is damaged or unfinished: refused
            raise IncompleteStoreError(f"not a complete result store: {status.reason}", path=path)
        out["problem"] = status.reason  # an interrupted series: how far it got
        return out
    files = [f for f in path.rglob("*") if f.is_file()]
    size = sum(f.stat().st_size for f in files)
    out["verified"] = f"SHA-256 of {len(files)} files ({size / 1e6:.3g} MB) in {seconds:.2g} s"
    ds = open_results(path, verify="size")  # verified just now
    kind = kind_of(ds)
    out["result_kind"] = f"{kind}: {describe_kind(kind)}"
    out["dimensions"] = dict(ds.sizes)
    out["variables"] = {
        name: f"{tuple(v.dims)} {v.dtype} [{v.attrs.get('units', '')}]" for name, v in ds.data_vars.items()
    }
    for key in ("operando_version", "operando_created"):
        if key in ds.attrs:
            out[key.removeprefix("operando_")] = ds.attrs[key]
    if "operando_inputs" in ds.attrs:
        try:
            inputs = json.loads(ds.attrs["operando_inputs"])
            out["inputs"] = [_input_line(i) for i in inputs]
        except (ValueError, KeyError, TypeError) as exc:
            raise IncompleteStoreError("its provenance (operando_inputs) is not readable", path=path) from exc
    return out


def _input_line(entry: dict[str, Any]) -> str:
    """One provenance input as ``info`` shows it: name, checksum (full or sampled, said), and
    the input that reached it.

    Examples
    --------
    >>> _input_line({"name": "s.h5", "sha256": "ab" * 32, "bytes": 9})
    's.h5 sha256=abababababab…'
    >>> _input_line({"name": "scan1/l.h5", "hash": "sampled-sha256:16x64KiB:" + "cd" * 32, "via": "s.h5: vds"})
    'scan1/l.h5 sampled-sha256:16x64KiB:cdcdcdcdcdcd… (via s.h5: vds)'
    """
    if "sha256" in entry:
        text = f"{entry['name']} sha256={entry['sha256'][:12]}…"
    else:
        kind, _, digest = str(entry["hash"]).rpartition(":")
        text = f"{entry['name']} {kind}:{digest[:12]}…"
    return text + (f" (via {entry['via']})" if "via" in entry else "")


def describe(path: str | PathLike[str]) -> dict[str, Any]:
    """Recognise a file by its content and summarise it.

    Parameters
    ----------
    path : str or os.PathLike
        A raw instrument file, a folder, or an operando result store.

    Returns
    -------
    dict
        ``path``, then ``kind`` and ``format``, then format-specific facts (shapes, times,
        metadata, problems found). Bulk data are never loaded.

    Raises
    ------
    CorruptFileError
        Empty, truncated or damaged files.
    IncompleteStoreError
        A result store that is unfinished, or whose files do not match its manifest
        (every file's SHA-256 is checked; an interrupted series is summarised instead).
    UnsupportedFormatError
        Content no reader recognises.
    """
    p = Path(path)
    if p.is_dir() and (
        (p / "zarr.json").is_file() or p.name.endswith(".zarr") or p.with_name(p.name + ".partial").exists()
    ):
        return {"path": str(p), **_describe_store(p)}
    return describe_file(p)


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
