"""A series of NMR experiments built one at a time, each processed as ``operando nmr process`` does.

There is no batch ``nmr series`` command: an operando NMR experiment is a run of TopSpin
experiment folders (one spectrum each) taken while the cell cycles. A caller that gets
them as they land (``operando watch``) processes each with :func:`measure_nmr_experiment`
(:func:`operando.pipelines.nmr.process_spectrum` with ``nmr process``'s options: the
frame is exactly what ``nmr process FOLDER -o OUT.zarr`` stores) and makes the series with
:func:`assemble_nmr_spectra`: the spectra along ``frame`` in acquisition order, each placed
on the potentiostat record over its acquisition window (:func:`nmr_acquisition_window`).

The window of a TopSpin experiment: its end is ``acqus`` ``DATE`` (seconds since 1970,
written when the acquisition ends; the audit trail's time when ``DATE`` is missing), its
start the audit trail's "started at" (``audita.txt``, TopSpin 3 and later). Without that
line (XWIN-NMR's audit trail has none) the start is estimated as ``end - (NS + DS) x (D1 +
AQ)`` with ``AQ = TD / 2 / SW_h``, and the store says so (``acquisition_window``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from operando.errors import CorruptFileError, MissingMetadataError, ParameterError

__all__ = [
    "NMR_OPTION_NAMES",
    "assemble_nmr_spectra",
    "measure_nmr_experiment",
    "nmr_acquisition_window",
    "nmr_process_options",
]

NMR_OPTION_NAMES = frozenset({"lb", "zf", "phase", "windows", "reference"})
"""The keys an ``[nmr]`` table may hold for processing: ``nmr process``'s options (``windows``: a list of [LO, HI])."""


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
        raise ParameterError(f"[nmr] {key} = {value!r}: give a finite number")
    return float(value)


def nmr_process_options(table: Mapping[str, Any]) -> dict[str, Any]:
    """``nmr process``'s options as :func:`operando.pipelines.nmr.process_spectrum` keywords.

    Parameters
    ----------
    table : mapping
        ``lb`` (Hz), ``zf`` (spectrum size), ``phase`` (``manual`` or ``auto``),
        ``windows`` (``[[LO, HI], ...]`` ppm, or ``"LO,HI"`` strings), ``reference``
        (``"PPM_OBSERVED=PPM_TRUE"``).

    Returns
    -------
    dict
        ``lb_Hz``, ``size``, ``phase``, ``windows_ppm``, ``reference_shift_ppm``.

    Raises
    ------
    ParameterError
        An unknown key or a value ``nmr process`` would refuse.

    Examples
    --------
    >>> o = nmr_process_options({"lb": 5, "windows": [[240, 290], "-5,5"], "reference": "-0.8=-1.1"})
    >>> o["lb_Hz"], o["windows_ppm"], round(o["reference_shift_ppm"], 3)
    (5.0, [(240.0, 290.0), (-5.0, 5.0)], -0.3)
    """
    unknown = sorted(set(table) - NMR_OPTION_NAMES)
    if unknown:
        raise ParameterError(f"[nmr]: unknown options {unknown} (known: {sorted(NMR_OPTION_NAMES)})")
    out: dict[str, Any] = {"lb_Hz": None, "size": None, "phase": None, "windows_ppm": [], "reference_shift_ppm": 0.0}
    if table.get("lb") is not None:
        out["lb_Hz"] = _number("lb", table["lb"])
    if table.get("zf") is not None:
        zf = _number("zf", table["zf"])
        if zf != int(zf) or zf < 1:
            raise ParameterError(f"[nmr] zf = {table['zf']!r}: give a whole number of points >= 1")
        out["size"] = int(zf)
    if table.get("phase") is not None:
        if table["phase"] not in ("manual", "auto"):
            raise ParameterError(f"[nmr] phase = {table['phase']!r}: use manual or auto")
        out["phase"] = table["phase"]
    for w in table.get("windows") or []:
        parts = w.split(",") if isinstance(w, str) else w
        try:
            lo, hi = (float(v) for v in parts)
        except (TypeError, ValueError):
            raise ParameterError(f"[nmr] windows: {w!r} is not LO,HI in ppm") from None
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo == hi:
            raise ParameterError(f"[nmr] windows: {w!r} needs two different finite shifts")
        out["windows_ppm"].append((lo, hi))
    ref = table.get("reference")
    if ref:
        try:
            observed, true = (float(v) for v in str(ref).split("="))
        except ValueError:
            raise ParameterError(f"[nmr] reference = {ref!r}: give PPM_OBSERVED=PPM_TRUE, e.g. '-0.8=-1.1'") from None
        out["reference_shift_ppm"] = true - observed
    return out


def measure_nmr_experiment(folder: str | PathLike[str], options: Mapping[str, Any]) -> xr.Dataset:
    """One experiment processed as ``nmr process FOLDER -o OUT.zarr`` processes it.

    Parameters
    ----------
    folder : path
        A Bruker experiment folder (``acqus`` + ``fid``/``ser``) or Varian ``.fid`` folder.
    options : mapping
        An ``[nmr]`` table (:func:`nmr_process_options`).

    Returns
    -------
    xarray.Dataset
        ``intensity`` over ``ppm`` (and ``row`` for a pseudo-2D ``ser``), ``integral``
        (window, row) when windows are given; ``operando_kind`` ``nmr-spectrum``.
    """
    from operando.pipelines.nmr import process_spectrum

    return process_spectrum(folder, **nmr_process_options(options)).dataset


_STARTED = re.compile(r"started at\s+(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?)\s*([+-]\d{1,4})?")
_WHEN = re.compile(r"\(\s*\d+\s*,\s*<(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?)\s*([+-]\d{1,4})?>")


def _stamp(text: str, tz: str | None) -> datetime:
    """``2015-12-03 10:12:34.119`` with ``+0100`` (or XWIN-NMR's ``+100``) as an aware time."""
    when = datetime.fromisoformat(text.replace(" ", "T"))
    offset = timedelta(0)
    if tz:
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].rjust(4, "0")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return when.replace(tzinfo=timezone(offset))


def _first(params: Mapping[str, Any], key: str, index: int | None = None) -> float | None:
    value = params.get(key)
    if value is None:
        return None
    try:
        return float(value[index] if index is not None else value)
    except (TypeError, ValueError, IndexError):
        return None


def nmr_acquisition_window(folder: str | PathLike[str]) -> tuple[str, str, str]:
    """When a TopSpin experiment was acquired: start and end (ISO 8601, UTC) and how they are known.

    Parameters
    ----------
    folder : path
        The experiment folder (``acqus``; ``audita.txt`` when TopSpin wrote one).

    Returns
    -------
    (str, str, str)
        Start, end, and a few words on where they come from.

    Raises
    ------
    MissingMetadataError
        Neither ``acqus`` ``DATE`` nor an audit trail dates the experiment.
    """
    import nmrglue as ng

    root = Path(folder)
    try:
        params = ng.bruker.read_jcamp(str(root / "acqus"))
    except (OSError, ValueError, IndexError) as exc:
        raise CorruptFileError(f"acqus cannot be read ({type(exc).__name__})", path=root / "acqus") from None
    audit = ""
    if (root / "audita.txt").is_file():
        audit = (root / "audita.txt").read_text(encoding="latin-1", errors="replace")
    end: datetime | None = None
    how_end = "acqus DATE"
    date = _first(params, "DATE")
    if date is not None and date > 0:
        end = datetime.fromtimestamp(date, tz=UTC)
    elif (m := _WHEN.search(audit)) is not None:
        end, how_end = _stamp(m.group(1), m.group(2)), "audita.txt time"
    if end is None:
        raise MissingMetadataError("the experiment records no date (acqus DATE, audita.txt)", path=root)
    if (m := _STARTED.search(audit)) is not None:
        start, how_start = _stamp(m.group(1), m.group(2)), "audita.txt 'started at'"
    else:
        td, sw = _first(params, "TD"), _first(params, "SW_h")
        ns, ds = _first(params, "NS") or 1.0, _first(params, "DS") or 0.0
        d1 = _first(params, "D", 1) or 0.0
        aq = td / 2.0 / sw if td and sw else 0.0
        start = end - timedelta(seconds=(ns + ds) * (d1 + aq))
        how_start = "estimated as (NS + DS) x (D1 + AQ) before the end"
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    if start_utc > end_utc:
        start_utc = end_utc
    return start_utc.isoformat(), end_utc.isoformat(), f"start: {how_start}; end: {how_end}"


def assemble_nmr_spectra(
    frames: Sequence[xr.Dataset],
    keys: Sequence[str],
    windows: Sequence[tuple[str, str, str]],
    record: Any,
) -> xr.Dataset:
    """The experiments so far as one store: spectra along ``frame``, placed on the record.

    Parameters
    ----------
    frames : sequence of xarray.Dataset
        :func:`measure_nmr_experiment` of each experiment, in acquisition order, on one
        ppm axis (the same spectral width, size and reference).
    keys : sequence of str
        Each experiment's folder (the ``key`` coordinate).
    windows : sequence of (str, str, str)
        :func:`nmr_acquisition_window` of each.
    record : operando.echem.EchemRecord, optional
        The potentiostat record so far (:func:`operando.timeline.place_on_record`).

    Returns
    -------
    xarray.Dataset
        ``operando_kind`` ``nmr-spectrum`` with ``intensity`` (frame, ppm); each frame's
        variables equal what ``nmr process`` stores for its folder. Coordinates along
        ``frame``: ``key``, ``acquisition_start``/``acquisition_end`` (ISO, UTC),
        ``time_s`` (start on the record's axis, s; from the first start without a record),
        and every attribute that differs between experiments (``source``, ``ns``, ...).

    Raises
    ------
    ParameterError
        The spectra lie on different ppm axes (another spectral width, size or reference).
    """
    import pandas as pd

    from operando.store import concat_frames
    from operando.timeline import place_on_record, to_record_seconds

    if not frames:
        raise ParameterError("no experiment to assemble")
    axes = {(f.sizes.get("ppm"), float(f["ppm"].values[0]), float(f["ppm"].values[-1])) for f in frames}
    if len(axes) != 1:
        raise ParameterError(
            f"the experiments lie on different ppm axes {sorted(axes)}; a series needs one spectral width, size "
            "and reference"
        )
    varying = sorted(
        {k for f in frames for k in f.attrs if any(str(g.attrs.get(k)) != str(f.attrs.get(k)) for g in frames)}
    )
    placed = []
    for f, (start, end, _) in zip(frames, windows, strict=True):
        bare = f.copy()
        bare.attrs = {k: v for k, v in f.attrs.items() if k not in varying}
        placed.append(place_on_record(bare, record, start, end) if record is not None else bare)
    series = concat_frames(placed, list(keys))
    starts = [w[0] for w in windows]
    if record is not None:
        time_s = to_record_seconds(record, starts)
    else:
        stamps = pd.to_datetime(starts, utc=True)
        time_s = np.asarray((stamps - stamps[0]).total_seconds(), dtype=np.float64)
    coords: dict[str, Any] = {
        "acquisition_start": ("frame", np.asarray(starts)),
        "acquisition_end": ("frame", np.asarray([w[1] for w in windows])),
        "time_s": ("frame", time_s, {"units": "s"}),
    }
    taken = set(series.dims) | set(series.variables) | set(coords)
    for name in varying:
        values = [f.attrs.get(name) for f in frames]
        numeric = all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in values)
        label = name if name not in taken else f"experiment_{name}"
        coords[label] = ("frame", np.asarray(values if numeric else [str(v) for v in values]))
    series = series.assign_coords(coords)
    series.attrs["operando_kind"] = "nmr-spectrum"
    series.attrs["acquisition_window"] = "; ".join(sorted({w[2] for w in windows}))
    return series
