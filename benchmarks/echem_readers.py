"""Our electrochemistry readers against the fastest public reader of each format, side by side.

Usage::

    python benchmarks/echem_readers.py [DATA_ROOT] [--repeat 5] [--formats mpr,ndax,...]

For every format the largest real file under ``DATA_ROOT/echem`` (default: ``$OPERANDO_TEST_DATA``
or ``<repo>/../shared/data``) is read by ``operando.echem.read`` (the full canonical record:
canonical columns, every other column, metadata, SHA-256 of the file) and by each public
reader of that format importable here:

========  =============================================================================
format    rivals
========  =============================================================================
mpr       galvani ``MPRfile(path).data``; yadg ``extract("eclab.mpr")``
mpt       galvani ``MPTfile(path)``; yadg ``extract("eclab.mpt")``
neware    fastnda ``read(path)`` (our reader calls it: the ratio is our overhead)
arbin     access-parser ``parse_table("Channel_Normal_Table")``; ``mdb-export`` when on PATH
gamry     gamry-parser ``GamryParser(path).load()``
========  =============================================================================

Each time is the best of ``--repeat`` runs in this process; the ratio is
``fastest rival / ours`` (>= 1: ours is as fast or faster). Peak memory is tracemalloc's
peak of Python and NumPy allocations during one read (allocations inside Rust/C libraries
such as polars are not seen by it). The row count of every rival is checked against ours.
Readers that are not installed are listed as such; ``pip install galvani fastnda
access-parser gamry-parser yadg`` installs them all.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
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
    out = subprocess.run(
        ["mdb-export", str(path), "Channel_Normal_Table"], capture_output=True, check=True, text=True
    ).stdout
    return max(out.count("\n") - 1, 0)


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


# -- timing -------------------------------------------------------------------------------


def best_time(reader: Reader, path: Path, repeat: int) -> tuple[float, int]:
    """Best wall time of ``repeat`` reads (library warnings silenced) and the rows read."""
    best, rows = float("inf"), -1
    for _ in range(repeat):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            rows = reader(path)
            best = min(best, time.perf_counter() - start)
    return best, rows


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
    """Ours and every available rival on one file."""
    rows: list[dict[str, Any]] = []
    _, rivals = FORMATS[fmt]
    ours(path)  # warm: imports and caches are not what is compared
    t, n = best_time(ours, path, repeat)
    rows.append({"reader": "operando", "time_s": t, "rows": n, "peak_MiB": peak_mib(ours, path), "note": ""})
    for name, (module, reader) in rivals.items():
        if not available(module):
            rows.append({"reader": name, "time_s": None, "rows": None, "peak_MiB": None, "note": "not installed"})
            continue
        try:
            reader(path)
            t_r, n_r = best_time(reader, path, repeat)
            note = "" if n_r == n else f"rows differ: {n_r} vs ours {n}"
            rows.append({"reader": name, "time_s": t_r, "rows": n_r, "peak_MiB": peak_mib(reader, path), "note": note})
        except Exception as exc:  # the benchmark reports every failure
            rows.append(
                {"reader": name, "time_s": None, "rows": None, "peak_MiB": None, "note": f"failed: {exc!r}"[:70]}
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", type=Path, default=default_root(), help="real-data root (has echem/)")
    parser.add_argument("--repeat", type=int, default=5, help="best of N timings per reader (default 5)")
    parser.add_argument("--formats", default=",".join(FORMATS), help=f"comma separated subset of {list(FORMATS)}")
    args = parser.parse_args(argv)
    if not (args.root / "echem").is_dir():
        print(f"no real data under {args.root}/echem: give DATA_ROOT or set OPERANDO_TEST_DATA")
        return 2
    summary = []
    for fmt in [f.strip() for f in args.formats.split(",") if f.strip()]:
        path = largest(args.root, fmt)
        if path is None:
            print(f"{fmt}: no real file")
            continue
        print(f"\n{fmt}: {path.relative_to(args.root)} ({path.stat().st_size / 2**20:.2f} MiB)")
        rows = bench(fmt, path, args.repeat)
        for r in rows:
            t = "-" if r["time_s"] is None else f"{r['time_s'] * 1e3:10.2f} ms"
            m = "-" if r["peak_MiB"] is None else f"{r['peak_MiB']:7.1f} MiB"
            n = "-" if r["rows"] is None else str(r["rows"])
            print(f"  {r['reader']:14s} {t:>14s}  peak {m:>11s}  rows {n:>8s}  {r['note']}")
        timed = [r for r in rows[1:] if r["time_s"] is not None and not r["note"]]
        if timed:
            fastest = min(timed, key=lambda r: r["time_s"])
            ratio = fastest["time_s"] / rows[0]["time_s"]
            summary.append((fmt, fastest["reader"], ratio))
            verdict = "ours faster or equal" if ratio >= 1 else "ours slower"
            print(f"  ratio {fastest['reader']}/operando = {ratio:.2f} ({verdict})")
    print("\nformat   fastest rival    ratio (>= 1: ours as fast or faster)")
    for fmt, name, ratio in summary:
        print(f"{fmt:8s} {name:16s} {ratio:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
