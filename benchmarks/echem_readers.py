"""Compare operando's BioLogic ``.mpr`` reader with yadg and galvani on the same files.

Usage::

    python benchmarks/echem_readers.py [FOLDER] [--repeat 3] [--large-rows 30000] [--no-large]

For every ``.mpr`` under FOLDER (default: the shared BioLogic test folder) the three
readers run in this process; the table shows rows, each reader's status (read, failed:
reason, or mismatch vs ours) and its best read time. Then the time ratio yadg/ours on
the largest file. Unless ``--no-large``, a ~30 000-row file is built (when no real file
is that large) by repeating the data records of the largest real GCPL file, and all
readers are timed on it with their peak Python memory (tracemalloc).
"""

from __future__ import annotations

import argparse
import logging
import os
import struct
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from operando.echem.io._biologic_mpr import (
    _column_ids,
    _module_bytes,
    _resolve_columns,
    _split_modules,
    _technique,
    read_mpr,
)
from operando.errors import OperandoError


def default_folder() -> Path:
    """The shared BioLogic folder: ``$OPERANDO_TEST_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get("OPERANDO_TEST_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return root / "echem" / "biologic"


# -- the three readers, each returning (time_s, n_rows) -----------------------------------


def run_ours(path: Path) -> tuple[np.ndarray, int]:
    record = read_mpr(path)
    return record.time_s, len(record)


def run_yadg(path: Path) -> tuple[np.ndarray, int]:
    from yadg.extractors import extract

    tree = extract(filetype="eclab.mpr", path=path, timezone="UTC")
    ds = tree.to_dataset()
    t = ds["time"].to_numpy() if "time" in ds else np.zeros(0)
    return np.asarray(t, dtype=np.float64), int(ds.sizes.get("uts", 0))


def run_galvani(path: Path) -> tuple[np.ndarray, int]:
    from galvani.BioLogic import MPRfile

    data = MPRfile(str(path)).data
    return np.asarray(data["time/s"], dtype=np.float64), len(data)


READERS: dict[str, Callable[[Path], tuple[np.ndarray, int]]] = {
    "ours": run_ours,
    "yadg": run_yadg,
    "galvani": run_galvani,
}


def timed(func: Callable[[Path], Any], path: Path, repeat: int) -> tuple[Any, float]:
    """Best wall time of ``repeat`` calls (the libraries' warnings and logs silenced)."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            result = func(path)
            best = min(best, time.perf_counter() - start)
    return result, best


def status_of(name: str, path: Path, ours: tuple[np.ndarray, int] | None, repeat: int) -> tuple[str, float | None]:
    """Run one reader: 'read', 'failed: reason' or 'mismatch: ...' vs ours, and its time."""
    try:
        (t, n), seconds = timed(READERS[name], path, repeat)
    except Exception as exc:  # the benchmark reports every failure
        reason = f"{type(exc).__name__}: {exc}".replace(str(path), "<file>")
        return f"failed: {reason[:70]}", None
    if name == "ours" or ours is None:
        return "read", seconds
    t_ours, n_ours = ours
    if n != n_ours:
        return f"mismatch: {n} rows vs {n_ours}", seconds
    if not np.allclose(t, t_ours, rtol=0, atol=1e-3):
        return "mismatch: time/s differs", seconds
    return "read", seconds


def bench_file(path: Path, repeat: int) -> dict[str, Any]:
    """Run the three readers on one file."""
    row: dict[str, Any] = {"file": path, "rows": None}
    ours: tuple[np.ndarray, int] | None = None
    try:
        ours, _ = timed(run_ours, path, 1)
        row["rows"] = ours[1]
    except OperandoError:
        pass
    for name in READERS:
        row[name] = status_of(name, path, ours, repeat)
    return row


# -- a large GCPL file from a real one ----------------------------------------------------


def gcpl_rows(path: Path) -> int:
    """Data rows of a file if it is a GCPL record, else -1."""
    try:
        record = read_mpr(path)
    except OperandoError:
        return -1
    return len(record) if record.meta.techniques == ("GCPL",) else -1


def build_large_gcpl(source: Path, target: Path, min_rows: int) -> int:
    """Repeat the data records of ``source`` until there are at least ``min_rows``.

    The row count in the data module and the module length in its header are updated;
    ``time/s`` is shifted by the span of the source in each copy so it keeps increasing.

    Returns
    -------
    int
        Rows in the new file.
    """
    buf = source.read_bytes()
    modules = _split_modules(buf, str(source))
    data_module = next(m for m in modules if m.name == "VMP data")
    settings = next(m for m in modules if m.name == "VMP Set")
    data = _module_bytes(buf, data_module)
    n_rows, ids, record_start = _column_ids(data, data_module, str(source))
    columns, _ = _resolve_columns(ids, _technique(_module_bytes(buf, settings), settings, str(source)), 0, str(source))
    dtype = np.dtype([(c.name, c.dtype) for c in columns])
    records = np.frombuffer(data, dtype=dtype, count=n_rows, offset=record_start)
    copies = -(-min_rows // n_rows)
    big = np.concatenate([records] * copies)
    span = float(records["time/s"][-1] - records["time/s"][0]) + 1.0
    big["time/s"] += np.repeat(np.arange(copies) * span, n_rows)
    new_data = bytearray(bytes(data[:record_start]))
    struct.pack_into("<I", new_data, 0, len(big))
    new_data += big.tobytes()
    # The module length field: after the tag, 10 + 25 bytes of names, then max_length
    # (new layout, 0xFFFFFFFF) and length, or directly length (old layout).
    header = bytearray(buf[data_module.header_offset : data_module.offset])
    (first,) = struct.unpack_from("<I", header, 6 + 35)
    struct.pack_into("<I", header, 6 + 39 if first == 0xFFFFFFFF else 6 + 35, len(new_data))
    tail = buf[data_module.offset + data_module.length :]
    target.write_bytes(buf[: data_module.header_offset] + bytes(header) + bytes(new_data) + tail)
    return len(big)


def peak_memory(func: Callable[[Path], Any], path: Path) -> float | None:
    """Peak traced Python memory (MiB) of one call, or None if it fails."""
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            func(path)
    except Exception:  # a failing reader has no peak to report
        return None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak / 2**20


# -- report -----------------------------------------------------------------------------


def fmt_time(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:8.1f} ms"


def print_table(rows: list[dict[str, Any]], root: Path) -> None:
    head = f"{'file':42s} {'rows':>6s}  " + "  ".join(f"{n + ' status':34s} {n + ' time':>11s}" for n in READERS)
    print(head)
    print("-" * len(head))
    for row in rows:
        name = str(row["file"].relative_to(root)) if row["file"].is_relative_to(root) else row["file"].name
        rows_text = "-" if row["rows"] is None else str(row["rows"])
        cells = "  ".join(f"{row[n][0][:34]:34s} {fmt_time(row[n][1]):>11s}" for n in READERS)
        print(f"{name[:42]:42s} {rows_text:>6s}  {cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=default_folder())
    parser.add_argument("--repeat", type=int, default=3, help="best of N timings per reader (default 3)")
    parser.add_argument("--large-rows", type=int, default=30_000, help="rows of the built GCPL file")
    parser.add_argument("--no-large", action="store_true", help="skip the large-file timing")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # yadg logs a warning per file without a LOG module

    files = sorted(args.folder.rglob("*.mpr"))
    if not files:
        print(f"no .mpr files under {args.folder}")
        return 1
    rows = [bench_file(path, args.repeat) for path in files]
    print_table(rows, args.folder)
    failed = {n: sum(r[n][0].startswith("failed") for r in rows) for n in READERS}
    mismatched = {n: sum(r[n][0].startswith("mismatch") for r in rows) for n in READERS}
    print(f"\n{len(rows)} files; failed: {failed}; mismatch vs ours: {mismatched}")

    largest = max(rows, key=lambda r: r["rows"] or 0)
    if largest["ours"][1] and largest["yadg"][1]:
        print(
            f"largest file {largest['file'].name} ({largest['rows']} rows): "
            f"yadg/ours time ratio = {largest['yadg'][1] / largest['ours'][1]:.1f}"
        )

    if args.no_large:
        return 0
    big_enough = [r for r in rows if (r["rows"] or 0) >= args.large_rows]
    with tempfile.TemporaryDirectory() as tmp:
        if big_enough:
            target = big_enough[0]["file"]
            print(f"\nreal file with >= {args.large_rows} rows: {target}")
        else:
            gcpl = max(files, key=gcpl_rows)
            target = Path(tmp) / f"large_{gcpl.stem}.mpr"
            n = build_large_gcpl(gcpl, target, args.large_rows)
            print(f"\nbuilt {target.name}: {n} rows ({target.stat().st_size / 2**20:.1f} MiB) from {gcpl.name}")
        big = bench_file(target, args.repeat)
        for name in READERS:
            status, seconds = big[name]
            mem = peak_memory(READERS[name], target)
            mem_text = "-" if mem is None else f"{mem:7.1f} MiB"
            print(f"  {name:8s} {status[:60]:60s} {fmt_time(seconds):>11s}  peak {mem_text}")
        if big["ours"][1] and big["yadg"][1]:
            print(f"  yadg/ours time ratio = {big['yadg'][1] / big['ours'][1]:.1f}")
        if big["ours"][1] and big["galvani"][1]:
            print(f"  galvani/ours time ratio = {big['galvani'][1] / big['ours'][1]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
