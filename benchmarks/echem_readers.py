"""Our electrochemistry readers against the fastest public reader of each format, side by side.

Usage::

    python benchmarks/echem_readers.py [DATA_ROOT] [--repeat 5] [--formats mpr,ndax,...]

For every format the largest real file under ``DATA_ROOT/echem`` (default: ``$OPERANDO_TEST_DATA``
or ``<repo>/../shared/data``) is read by our reader of that format (``read_mpr``,
``read_neware``, ...: the canonical record, its other columns, metadata and the file's
SHA-256 on first use), by ``operando.echem.read`` (the same after finding the format from
the content, plus the NaN/inf check of time, voltage and current), and by each public
reader of that format importable here:

========  =============================================================================
format    rivals
========  =============================================================================
mpr       galvani ``MPRfile(path).data``; yadg ``extract("eclab.mpr")``
mpt       galvani ``MPTfile(path)``; yadg ``extract("eclab.mpt")``
neware    fastnda ``read(path)`` (ours reads ndc versions 14, 16 and 17 itself, others with fastnda)
arbin     access-parser ``parse_table("Channel_Normal_Table")``; mdbtools ``mdb-export`` (a
          subprocess, its CSV parsed by pandas) when on PATH (``apt-get install mdbtools``)
gamry     gamry-parser ``GamryParser(path).load()``
========  =============================================================================

The readers are interleaved: each of ``--repeat`` rounds times every reader in turn (each
round starting with the next reader), one read at a time, as many reads as fill about 10 ms
(1 to 200, at least 3 for a reader under 0.5 s); the best single read over all rounds counts
(the mean of a batch would time the allocator: 230 kB freed and mapped again per read, 50 us
becoming 200-300 us for galvani and ours alike). The ratio is ``fastest rival / ours`` (>=
1: ours is as fast or faster), given for our format reader (the like of a rival, which is
told the format) and for ``echem.read``, and as the ratio of the best CPU times of the
format reader (this process's threads and its subprocesses: steadier than wall time when
other work shares the machine). The machine may be shared: run it twice. Peak memory is
tracemalloc's peak of Python and NumPy allocations during one read (allocations inside
Rust/C libraries such as polars are not seen by it). The row count of every rival is checked
against ours.
Readers that are not installed are listed as such; ``pip install galvani fastnda
access-parser gamry-parser yadg`` installs them all.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

Reader = Callable[[Path], int]  # returns the number of data rows read


def default_root() -> Path:
    """``$OPERANDO_TEST_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get("OPERANDO_TEST_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


# -- readers ------------------------------------------------------------------------------


def ours(path: Path) -> int:
    from operando import echem

    return len(echem.read(path))


def ours_reader(fmt: str) -> Reader:
    """Our reader of one format, told the format as a rival is."""

    def read(path: Path) -> int:
        from operando import echem

        return len(getattr(echem, _OUR_READER[fmt])(path))

    return read


def galvani_mpr(path: Path) -> int:
    from galvani.BioLogic import MPRfile

    return len(MPRfile(str(path)).data)


def galvani_mpt(path: Path) -> int:
    from galvani.BioLogic import MPTfile

    records, _comments = MPTfile(str(path))
    return len(records)


def yadg_reader(filetype: str) -> Reader:
    def read(path: Path) -> int:
        from yadg.extractors import extract

        ds = extract(filetype=filetype, path=path, timezone="UTC").to_dataset()
        return int(ds.sizes.get("uts", 0))

    return read


def fastnda_read(path: Path) -> int:
    import fastnda

    return int(fastnda.read(path).height)


def access_parser_res(path: Path) -> int:
    from access_parser import AccessParser

    table = AccessParser(str(path)).parse_table("Channel_Normal_Table")
    return len(next(iter(table.values())))


def mdbtools_res(path: Path) -> int:
    """mdbtools' ``mdb-export`` of the data table (a subprocess), its CSV parsed by pandas."""
    import io

    import pandas as pd

    out = subprocess.run(
        ["mdb-export", str(path), "Channel_Normal_Table"], capture_output=True, check=True, text=True
    ).stdout
    return len(pd.read_csv(io.StringIO(out)))


def gamry_parser_dta(path: Path) -> int:
    import gamry_parser

    parser = gamry_parser.GamryParser(str(path))
    parser.load()
    return sum(len(parser.get_curve_data(k)) for k in range(parser.get_curve_count()))


#: format -> (files it covers, {rival name: (importable module or tool, reader)})
FORMATS: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, Reader]]]] = {
    "mpr": (("*.mpr",), {"galvani": ("galvani", galvani_mpr), "yadg": ("yadg", yadg_reader("eclab.mpr"))}),
    "mpt": (("*.mpt",), {"galvani": ("galvani", galvani_mpt), "yadg": ("yadg", yadg_reader("eclab.mpt"))}),
    "neware": (("*.ndax", "*.nda"), {"fastnda": ("fastnda", fastnda_read)}),
    "arbin": (
        ("*.res",),
        {"access-parser": ("access_parser", access_parser_res), "mdbtools": ("mdb-export", mdbtools_res)},
    ),
    "gamry": (("*.DTA", "*.dta"), {"gamry-parser": ("gamry_parser", gamry_parser_dta)}),
}
_FOLDER = {"mpr": "biologic", "mpt": "biologic", "neware": "neware", "arbin": "arbin", "gamry": "gamry"}
_OUR_READER = {
    "mpr": "read_mpr",
    "mpt": "read_mpt",
    "neware": "read_neware",
    "arbin": "read_arbin_res",
    "gamry": "read_gamry",
}


def available(module: str) -> bool:
    """Whether a rival can run here (a Python module, or a tool on PATH)."""
    if module == "mdb-export":
        return shutil.which(module) is not None
    import importlib.util

    return importlib.util.find_spec(module) is not None


def largest(root: Path, fmt: str) -> Path | None:
    """The largest real file of a format (by bytes)."""
    patterns, _ = FORMATS[fmt]
    folder = root / "echem" / _FOLDER[fmt]
    files = {p for pattern in patterns for p in folder.rglob(pattern) if p.is_file()}
    if fmt == "gamry":  # Bruker EPR .DTA live elsewhere; keep Gamry text files only
        files = {p for p in files if p.read_bytes()[:16].lstrip(b"\xef\xbb\xbf").startswith((b"EXPLAIN", b"VFP600"))}
    return max(files, key=lambda p: p.stat().st_size) if files else None


def tiled_mpr(path: Path, rows: int, folder: Path) -> Path:
    """A copy of a real ``.mpr`` whose data records are repeated to at least ``rows`` rows
    (time shifted to keep increasing; header, settings and other modules as they are)."""
    import struct

    import numpy as np

    from operando.echem.io import _biologic_mpr as mpr

    buf = path.read_bytes()
    modules = mpr._split_modules(buf, str(path))
    data_module = next(m for m in modules if m.name == "VMP data")
    technique = mpr._technique(memoryview(buf)[modules[0].offset :], modules[0], str(path))
    data = buf[data_module.offset : data_module.offset + data_module.length]
    n, ids, start = mpr._data_header(memoryview(data), data_module, str(path))
    layout = mpr._layout(ids, data_module.version, technique, 0, str(path))
    records = np.frombuffer(data, dtype=layout.dtype, count=n, offset=start)
    copies = -(-rows // n)
    tiled = np.concatenate([records] * copies)
    span = float(records["time/s"][-1] - records["time/s"][0]) + 1.0
    tiled["time/s"] += np.repeat(np.arange(copies) * span, n)
    new = bytearray(data[:start]) + tiled.tobytes()
    struct.pack_into("<I", new, 0, tiled.shape[0])
    out = bytearray(buf[: data_module.offset]) + new + buf[data_module.offset + data_module.length :]
    tag = data_module.header_offset + 6
    (max_length,) = struct.unpack_from("<I", out, tag + 35)
    struct.pack_into("<I", out, tag + (39 if max_length == 0xFFFFFFFF else 35), len(new))
    target = folder / f"{path.stem}.x{tiled.shape[0]}.mpr"
    target.write_bytes(bytes(out))
    return target


# -- timing -------------------------------------------------------------------------------


def batch_size(reader: Reader, path: Path, target_s: float = 0.01) -> int:
    """Reads per round so that one round of a reader lasts about ``target_s`` (1 to 200; at
    least 3 for a reader under 0.5 s)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader(path)  # the first read imports and fills caches: not what is timed
        start = time.perf_counter()
        reader(path)
        once = time.perf_counter() - start
    fewest = 3 if once < 0.5 else 1  # a reader under 0.5 s is timed at least 3 times a round
    return int(min(max(target_s / max(once, 1e-7), fewest), 200))


def cpu_s() -> float:
    """CPU seconds of this process (all threads, nanosecond clock) and its finished children
    (subprocesses such as mdb-export, microseconds)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def best_of_batch(reader: Reader, path: Path, k: int) -> tuple[float, float, int]:
    """Best wall and best CPU time of ``k`` single reads in a row (library warnings
    silenced) and the rows read."""
    best, best_cpu, rows = float("inf"), float("inf"), -1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(k):
            start, start_cpu = time.perf_counter(), cpu_s()
            rows = reader(path)
            best = min(best, time.perf_counter() - start)
            best_cpu = min(best_cpu, cpu_s() - start_cpu)
    return best, best_cpu, rows


def peak_mib(reader: Reader, path: Path) -> float:
    """tracemalloc peak (MiB) of one read."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tracemalloc.start()
        try:
            reader(path)
            return tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()


def bench(fmt: str, path: Path, repeat: int) -> list[dict[str, Any]]:
    """Ours and every available rival on one file, interleaved round by round."""
    _, rivals = FORMATS[fmt]
    readers: dict[str, Reader] = {"operando reader": ours_reader(fmt), "operando read()": ours}
    rows: dict[str, dict[str, Any]] = {}
    for name, (module, reader) in rivals.items():
        if not available(module):
            rows[name] = {"reader": name, "time_s": None, "rows": None, "peak_MiB": None, "note": "not installed"}
        else:
            readers[name] = reader
    batches: dict[str, int] = {}
    for name, reader in list(readers.items()):  # warm: imports and caches are not what is compared
        try:
            batches[name] = batch_size(reader, path)
        except Exception as exc:  # the benchmark reports every failure
            if name.startswith("operando"):
                raise
            rows[name] = {
                "reader": name,
                "time_s": None,
                "rows": None,
                "peak_MiB": None,
                "note": f"failed: {exc!r}"[:70],
            }
            del readers[name]
    best: dict[str, float] = dict.fromkeys(readers, float("inf"))
    best_cpu: dict[str, float] = dict.fromkeys(readers, float("inf"))
    counts: dict[str, int] = {}
    order = list(readers.items())
    for r in range(repeat):  # each round starts with the next reader: none always follows the slowest
        for name, reader in order[r % len(order) :] + order[: r % len(order)]:
            t, c, counts[name] = best_of_batch(reader, path, batches[name])
            best[name], best_cpu[name] = min(best[name], t), min(best_cpu[name], c)
    n = counts["operando reader"]
    for name, reader in readers.items():
        note = "" if counts[name] == n else f"rows differ: {counts[name]} vs ours {n}"
        rows[name] = {
            "reader": name,
            "time_s": best[name],
            "cpu_s": best_cpu[name],
            "rows": counts[name],
            "peak_MiB": peak_mib(reader, path),
            "note": note,
        }
    order = [*readers, *(k for k in rows if k not in readers)]
    return [rows[k] for k in order]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", type=Path, default=default_root(), help="real-data root (has echem/)")
    parser.add_argument("--repeat", type=int, default=5, help="best of N timings per reader (default 5)")
    parser.add_argument("--formats", default=",".join(FORMATS), help=f"comma separated subset of {list(FORMATS)}")
    parser.add_argument(
        "--mpr-rows",
        type=int,
        default=30000,
        help="also time the largest real .mpr with its records repeated to at least this many rows (0: not)",
    )
    args = parser.parse_args(argv)
    if not (args.root / "echem").is_dir():
        print(f"no real data under {args.root}/echem: give DATA_ROOT or set OPERANDO_TEST_DATA")
        return 2
    summary = []
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    tmp = tempfile.TemporaryDirectory(prefix="echem-bench-")
    jobs: list[tuple[str, Path | None, str]] = []
    for fmt in formats:
        path = largest(args.root, fmt)
        jobs.append((fmt, path, fmt))
        if fmt == "mpr" and path is not None and args.mpr_rows > 0:
            jobs.append(("mpr", tiled_mpr(path, args.mpr_rows, Path(tmp.name)), f"mpr x{args.mpr_rows}"))
    for fmt, path, label in jobs:
        if path is None:
            print(f"{fmt}: no real file")
            continue
        shown = (
            path.relative_to(args.root)
            if path.is_relative_to(args.root)
            else f"{path.name}, records of the largest repeated"
        )
        print(f"\n{label}: {shown} ({path.stat().st_size / 2**20:.2f} MiB)")
        rows = bench(fmt, path, args.repeat)
        for r in rows:
            t = "-" if r["time_s"] is None else f"{r['time_s'] * 1e3:10.2f} ms"
            c = "-" if r.get("cpu_s") is None else f"{r['cpu_s'] * 1e3:.1f} ms"
            m = "-" if r["peak_MiB"] is None else f"{r['peak_MiB']:7.1f} MiB"
            n = "-" if r["rows"] is None else str(r["rows"])
            print(f"  {r['reader']:14s} {t:>14s}  cpu {c:>8s}  peak {m:>11s}  rows {n:>8s}  {r['note']}")
        timed = [r for r in rows[2:] if r["time_s"] is not None and not r["note"]]
        if timed:
            fastest = min(timed, key=lambda r: r["time_s"])
            ratios = (
                fastest["time_s"] / rows[0]["time_s"],
                fastest["time_s"] / rows[1]["time_s"],
                fastest["cpu_s"] / max(rows[0]["cpu_s"], 1e-9),
            )
            summary.append((label, fastest["reader"], rows[0]["time_s"], fastest["time_s"], *ratios))
            for what, ratio in zip(("reader", "read()", "reader CPU"), ratios, strict=True):
                verdict = "ours faster or equal" if ratio >= 1 else "ours slower"
                print(f"  ratio {fastest['reader']}/operando {what} = {ratio:.2f} ({verdict})")
    print("\nratio >= 1: ours as fast or faster")
    print("format       fastest rival    ours (reader)     rival   ratio reader  ratio read()  ratio CPU")
    for fmt, name, t_ours, t_rival, r_reader, r_read, r_cpu in summary:
        print(
            f"{fmt:12s} {name:16s} {t_ours * 1e3:10.3f} ms {t_rival * 1e3:10.3f} ms "
            f"{r_reader:8.2f} {r_read:12.2f} {r_cpu:10.2f}"
        )
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
