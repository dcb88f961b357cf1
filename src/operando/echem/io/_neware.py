"""Neware BTS ``.nda`` / ``.ndax`` files: ``.ndax`` of ndc versions 14, 16 and 17 by our own
reader (:mod:`._ndax`, equal to fastnda value for value), everything else with :mod:`fastnda`.

* Which reader read a file is in ``meta.extra["neware.reader"]`` (with the reason when
  ours handed an ``.ndax`` to fastnda); without fastnda installed, such a file is refused
  in one line that says so.

* ``.nda`` (BTS 7 and the BTS 9 "129/130" flavour) is a binary file starting with
  ``NEWARE``; ``.ndax`` (BTS 8+) is a zip archive of XML metadata and ``data*.ndc``
  binary blocks. Test files sometimes arrive zipped (``.nda.zip``): a zip holding exactly
  one ``.nda``/``.ndax`` member is read directly.
* Sign convention: Neware stores current positive while charging and negative while
  discharging (BTSDA "Current(uA)" is signed; steps typed ``*_Chg`` carry ``I >= 0``), which
  is already the canonical convention; no sign change is applied.
* Neware's capacity column restarts at zero in every step (``capacity_mAh`` = charge -
  discharge capacity of the step). The canonical ``charge_mAh`` is the running sum over
  steps, so it equals the file's own counting (not a re-integration of the current).
* Time: ``time_s`` is fastnda's ``total_time_s`` (test time, s). Absolute times come
  from fastnda's ``unix_time_s``. For ``.ndax`` and BTS 8+ ``.nda`` this is a true Unix
  time; older ``.nda`` versions store the wall-clock time of the tester PC, which fastnda
  reads as if it were UTC. Pass ``timezone="Europe/Berlin"`` (the tester's zone) to
  re-interpret ``unix_time_s`` as local wall-clock time; the choice is recorded in
  ``meta.extra["timestamp_assumption"]``.
"""

from __future__ import annotations

import functools
import io
import re
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from datetime import UTC
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from operando.echem._record import EchemMetadata, EchemRecord
from operando.echem.io._ndax import ndax_metadata, read_ndax_columns
from operando.echem.io._readerutil import (
    capture_library_noise,
    first_seen,
    require_file,
    resolve_timezone,
)
from operando.errors import CorruptFileError, OperandoError, UnsupportedFormatError

__all__ = ["read_neware", "sniff_neware"]

_ZIP_MAGIC = b"PK\x03\x04"
_NDA_MAGIC = b"NEWARE"
#: Members every ndax written by BTS 8 holds.
_NDAX_MEMBERS = ("data.ndc", "TestInfo.xml", "Step.xml")
#: Largest member extracted from a ``.nda.zip`` (guards against zip bombs), bytes.
_MAX_MEMBER_BYTES = 4 << 30
_UNIT_SUFFIXES = {
    "_V": "V",
    "_mA": "mA",
    "_s": "s",
    "_mAh": "mA h",
    "_mWh": "mW h",
    "_degC": "degC",
}


def _unit_of(column: str) -> str:
    """Unit of a fastnda column from its name suffix (``voltage_V`` -> ``V``)."""
    for suffix, unit in _UNIT_SUFFIXES.items():
        if column.endswith(suffix):
            return unit
    return ""


def _zip_names(path: Path) -> list[str] | None:
    """Member names of a zip file, or None when it is not a readable zip."""
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None


def _is_ndax_listing(names: list[str]) -> bool:
    return all(m in names for m in _NDAX_MEMBERS)


def _inner_neware_member(names: list[str]) -> str | None:
    """The single ``.nda``/``.ndax`` member of a wrapping zip, else None."""
    inner = [n for n in names if n.lower().endswith((".nda", ".ndax")) and not n.endswith("/")]
    return inner[0] if len(inner) == 1 else None


def sniff_neware(head: bytes, path: Path) -> bool:
    """Tell whether a file is a Neware ``.nda``, ``.ndax`` or zipped ``.nda(x)``.

    Parameters
    ----------
    head : bytes
        The first bytes of the file (at least 16 for ``.nda``).
    path : pathlib.Path
        The file; a zip is opened to look at its member names.

    Returns
    -------
    bool
    """
    if head.startswith(_NDA_MAGIC):
        return True
    if not head.startswith(_ZIP_MAGIC):
        return False
    names = _zip_names(path) if path.is_file() else None
    if names is None:
        # unreadable zip (truncated?): decide by the extension only
        return path.name.lower().endswith((".ndax", ".nda.zip", ".ndax.zip"))
    return _is_ndax_listing(names) or _inner_neware_member(names) is not None


def _polars_to_numpy(frame: Any) -> dict[str, npt.NDArray[Any]]:
    """Columns of a polars DataFrame as numpy arrays (no pyarrow needed)."""
    import polars as pl

    out: dict[str, npt.NDArray[Any]] = {}
    for name in frame.columns:
        series = frame[name]
        if series.dtype in (pl.Categorical, pl.Enum) and series.null_count() == 0:
            # codes -> labels by one fancy index (a per-row to_list() cost 0.3 s on 250 000 rows)
            codes = series.to_physical().to_numpy().astype(np.int64)
            distinct = series.unique()
            lut = np.empty(int(codes.max(initial=0)) + 1, dtype=object)
            lut[distinct.to_physical().to_numpy().astype(np.int64)] = distinct.cast(pl.String).to_list()
            out[name] = lut[codes]
        elif series.dtype in (pl.Categorical, pl.Enum, pl.String):
            out[name] = np.asarray(series.cast(pl.String).to_list(), dtype=object)
        else:
            out[name] = series.to_numpy()
    return out


def _distinct_in_order(frame: Any, name: str, values: npt.NDArray[Any]) -> list[Any]:
    """Distinct values of a column in order of first appearance (polars hashes the codes)."""
    try:
        return list(frame[name].unique(maintain_order=True).cast(str).to_list())
    except Exception:  # not a polars frame, or a dtype polars cannot cast: pandas does it
        return list(pd.unique(values))


def _made(values: Any) -> npt.NDArray[Any]:
    """A column, made now when the reader left it as a function (made on first use)."""
    return values() if callable(values) else values


def _int64(values: Any) -> Any:
    """An index column as int64, now, or on first use when the reader made it lazy."""
    if callable(values):
        return lambda: values().astype(np.int64)
    return values.astype(np.int64)


def _utc_times(unix_s: npt.NDArray[np.float64]) -> pd.Series:
    """Unix seconds as a UTC datetime64[ns] Series, by whole nanoseconds in NumPy
    (``pd.to_datetime(unit="s")`` cost 0.26 s on 250 000 rows)."""
    return pd.Series(pd.DatetimeIndex(np.round(unix_s * 1e9).astype(np.int64).view("datetime64[ns]"), tz="UTC"))


def _cumulative_charge(capacity_mAh: npt.NDArray[np.float64], step_count: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """Running charge over the record from a capacity that restarts in every step.

    Parameters
    ----------
    capacity_mAh : (N,) ndarray
        Signed capacity within the current step (charge positive), mA h.
    step_count : (N,) ndarray
        Step sequence counter; a new step starts where it changes.

    Returns
    -------
    (N,) ndarray of float64
        Cumulative signed charge since the first row, mA h.

    Examples
    --------
    >>> _cumulative_charge(np.array([0.0, 1.0, 2.0, -0.5, -1.0]), np.array([1, 1, 1, 2, 2])).tolist()
    [0.0, 1.0, 2.0, 1.5, 1.0]

    Every step restarts the capacity; a new step adds to the charge reached so far:

    >>> cap = np.array([0.0, 2.0, 4.0, -1.0, -3.0, 0.0])
    >>> _cumulative_charge(cap, np.array([1, 1, 1, 2, 2, 3])).tolist()
    [0.0, 2.0, 4.0, 3.0, 1.0, 1.0]
    """
    n = capacity_mAh.shape[0]
    if n == 0:
        return np.zeros(0)
    cap = np.nan_to_num(capacity_mAh.astype(np.float64))
    starts = np.flatnonzero(np.diff(step_count.astype(np.int64)) != 0) + 1
    ends = np.concatenate([starts - 1, [n - 1]])
    offsets = np.concatenate([[0.0], np.cumsum(cap[ends])[:-1]])
    run = np.zeros(n, dtype=np.int64)
    run[starts] = 1
    return cap + offsets[np.cumsum(run)]


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = str(value)


def _meta_fields(meta: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """Instrument, software, channel, mass and start time from fastnda's metadata."""
    flat: dict[str, str] = {}
    _flatten("", meta, flat)
    fields: dict[str, Any] = {"instrument": "Neware BTS"}
    client = flat.get("VersionInfo.ZwjVersion.CurrClientVer") or flat.get("client_version") or flat.get("bts_version")
    if client:
        m = re.match(r"\s*(.*?)\s*([0-9][0-9.]+.*)$", client)
        fields["software"], fields["software_version"] = (m.group(1) or "BTS", m.group(2)) if m else ("BTS", client)
    dev, unit, chl = (flat.get(f"TestInfo.TestInfo.{k}") for k in ("DevID", "UnitID", "ChlID"))
    if chl:
        fields["channel"] = "-".join(x for x in (dev, unit, chl) if x)
    mass_mg = flat.get("active_mass_mg")
    try:
        if mass_mg is not None and float(mass_mg) > 0:
            fields["active_mass_g"] = float(mass_mg) / 1000.0
    except ValueError:
        pass
    serial = flat.get("VersionInfo.ZwjSn.Sn")
    if serial:
        fields["serial_number"] = serial
    keep = (
        "TestInfo.TestInfo.StartTime",
        "TestInfo.TestInfo.StepName",
        "TestInfo.TestInfo.Barcode",
        "TestInfo.TestInfo.SN",
        "start_time",
        "nda_version",
        "bts_version",
        "server_version",
        "creator",
        "remarks",
        "barcode",
        "test_name",
        "step_name",
        "sn",
        "num_datapoints",
    )
    fields["extra"] = {f"neware.{k}": flat[k] for k in keep if k in flat and flat[k] not in ("", "None")}
    return fields


def _read_with_fastnda(path: Path, source: Path, cycle_mode: str) -> tuple[Any, dict[str, Any], list[str]]:
    """Run fastnda on an ``.nda``/``.ndax`` file; wrap its exceptions."""
    import fastnda

    try:
        with capture_library_noise(
            ("fastnda", "fastnda.ndax", "fastnda.nda", "fastnda.main", "fastnda.utils")
        ) as noise:
            frame = fastnda.read(path, cycle_mode=cycle_mode)
            try:
                meta = dict(fastnda.read_metadata(path))
            except Exception as exc:  # metadata is optional: keep the data, note the problem
                meta = {"metadata_error": f"{type(exc).__name__}: {exc}"}
    except NotImplementedError as exc:
        raise UnsupportedFormatError(f"Neware file version not supported by fastnda ({exc})", path=source) from exc
    except OperandoError:
        raise
    except Exception as exc:  # any library failure on bad bytes: struct, zip, polars, ValueError...
        raise CorruptFileError(
            f"cannot read as Neware {path.suffix} file (fastnda: {type(exc).__name__}: {exc})", path=source
        ) from exc
    return frame, meta, list(noise)


def _record_from_frame(
    frame: Any, meta: Mapping[str, Any], noise: list[str], source: Path, fmt: str, timezone: str | None
) -> EchemRecord:
    cols = _polars_to_numpy(frame)
    step_types = cols.get("step_type")
    techniques = first_seen(_distinct_in_order(frame, "step_type", step_types)) if step_types is not None else ()
    extra = {"neware.reader": f"fastnda {_fastnda_version()}"}
    return _record_from_columns(cols, techniques, meta, noise, source, fmt, timezone, source.read_bytes(), extra)


def _fastnda_version() -> str:
    try:
        from importlib.metadata import version

        return version("fastnda")
    except Exception:  # not installed as a distribution: the module is there, its version unknown
        return "?"


def _record_from_columns(
    cols: dict[str, npt.NDArray[Any]],
    techniques: tuple[str, ...],
    meta: Mapping[str, Any],
    noise: list[str],
    source: Path,
    fmt: str,
    timezone: str | None,
    raw: bytes,
    reader_note: Mapping[str, str],
) -> EchemRecord:
    """The record from fastnda-named columns (ours or fastnda's), its metadata and warnings."""
    required = ("voltage_V", "current_mA", "total_time_s")
    missing = [c for c in required if c not in cols]
    if missing:
        raise CorruptFileError(f"Neware data lacks columns {missing} (fastnda gave {sorted(cols)})", path=source)
    n = cols["total_time_s"].shape[0]
    if n == 0:
        raise CorruptFileError("Neware file holds no data records", path=source)
    fields = _meta_fields(meta, source)
    extra_meta: dict[str, str] = dict(fields.pop("extra"))
    extra_meta.update(reader_note)
    declared = extra_meta.get("neware.num_datapoints")
    if declared is not None and declared.isdigit() and int(declared) > n:
        raise CorruptFileError(f"header declares {declared} data points but only {n} could be read", path=source)
    time_s = np.asarray(cols["total_time_s"], dtype=np.float64)
    # min/max propagate NaN and inf: two reductions, no mask, on a good file
    if not (np.isfinite(np.minimum.reduce(time_s)) and np.isfinite(np.maximum.reduce(time_s))):
        raise CorruptFileError("non-finite test time in data records", path=source)
    timestamp: pd.Series | Callable[[], pd.Series] | None = None
    unix: pd.DatetimeIndex | None = None
    if "unix_time_s" in cols:
        unix_s = np.asarray(cols["unix_time_s"], dtype=np.float64)
        # 1970..2262 is what datetime64[ns] holds; anything else is a damaged record
        if not (np.minimum.reduce(unix_s) >= 0 and np.maximum.reduce(unix_s) <= 9.2e9):
            bad = ~np.isfinite(unix_s) | (unix_s < 0) | (unix_s > 9.2e9)
            row = int(np.flatnonzero(bad)[0])
            raise CorruptFileError(f"record {row}: Unix time {unix_s[row]!r} s is out of range", path=source)
        if timezone is None:
            # built on first use (5 ms of 250 000 rows); the start time from the first row
            timestamp = functools.partial(_utc_times, unix_s)
            extra_meta["timestamp_assumption"] = (
                "fastnda unix_time_s taken as UTC (true for ndax/BTS 8+; BTS 7 nda store tester wall-clock time)"
            )
            t0 = pd.Timestamp(int(np.round(unix_s[0] * 1e9)), tz="UTC")
            fields["start_time"] = (
                (t0 - pd.to_timedelta(float(time_s[0]), unit="s")).round("us").to_pydatetime().astimezone(UTC)
            )
        else:
            unix = pd.DatetimeIndex(_utc_times(unix_s))
    if unix is not None and timezone is not None:
        zone = resolve_timezone(timezone)
        unix = unix.tz_localize(None).tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward").tz_convert("UTC")
        extra_meta["timestamp_assumption"] = f"fastnda unix_time_s read as wall-clock time in {timezone}"
        timestamp = pd.Series(unix)
        t0 = timestamp.iloc[0]
        if not pd.isna(t0):
            fields["start_time"] = (
                (t0 - pd.to_timedelta(float(time_s[0]), unit="s")).round("us").to_pydatetime().astimezone(UTC)
            )
    for name in ("cycle_count", "step_index", "step_count"):
        values = cols.get(name)
        if values is not None and not callable(values) and values.dtype.kind == "f" and not np.isfinite(values).all():
            # fastnda leaves rows it cannot place in a step empty (a damaged runInfo or step member)
            row = int(np.flatnonzero(~np.isfinite(values))[0])
            raise CorruptFileError(f"record {row}: no {name} (the step records do not cover it)", path=source)
    step_index = cols.get("step_index")
    step_count = cols.get("step_count", step_index)
    charge = None
    if "capacity_mAh" in cols and step_count is not None:
        capacity, counts = cols["capacity_mAh"], step_count
        charge = lambda: _cumulative_charge(_made(capacity), _made(counts))  # noqa: E731 - computed when first used
        extra_meta["charge_mAh"] = "running sum of Neware's per-step capacity (charge - discharge)"
    if noise:
        extra_meta["reader_warnings"] = " | ".join(dict.fromkeys(noise))
    canonical_sources = {"total_time_s", "voltage_V", "current_mA"}
    extra = {name: values for name, values in cols.items() if name not in canonical_sources}
    units = {name: _unit_of(name) for name in extra}
    if "unix_time_s" in units:
        units["unix_time_s"] = "s (Unix)"
    md = EchemMetadata(
        source=str(source),
        sha256="",  # of the bytes below, computed when first asked for
        format=fmt,
        techniques=techniques,
        extra=extra_meta,
        **fields,
    )
    return EchemRecord.from_columns(
        time_s=time_s,
        voltage_V=cols["voltage_V"].astype(np.float64),
        current_mA=cols["current_mA"].astype(np.float64),
        charge_mAh=charge,
        timestamp=timestamp,
        sha256_of=raw,
        cycle=_int64(cols["cycle_count"]) if "cycle_count" in cols else None,
        step=_int64(step_index) if step_index is not None else None,
        meta=md,
        extra=extra,
        extra_units=units,
    )


def read_neware(
    path: str | PathLike[str],
    *,
    timezone: str | None = None,
    cycle_mode: Literal["chg", "dchg", "auto", "raw"] = "chg",
) -> EchemRecord:
    """Read a Neware ``.nda``, ``.ndax`` or zipped ``.nda(x)`` file.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    timezone : str, optional
        IANA zone of the tester PC. When given, fastnda's ``unix_time_s`` is read as
        wall-clock time in that zone (right for BTS 7 ``.nda`` files); by default it is
        taken as UTC.
    cycle_mode : {"chg", "dchg", "auto", "raw"}
        How cycles are counted (fastnda's modes, see :func:`fastnda.read`): a new cycle
        at each charge after a discharge (``"chg"``), the reverse (``"dchg"``), whichever
        comes first (``"auto"``); ``"raw"`` keeps the file's.

    Returns
    -------
    EchemRecord
        Canonical columns plus every fastnda column (``step_type``, ``step_time_s``,
        ``capacity_mAh`` (per step), ``energy_mWh``, ``aux*``...), units in ``record.units``.

    Raises
    ------
    CorruptFileError
        Empty, truncated or damaged file.
    UnsupportedFormatError
        Not a Neware file, a Neware version fastnda cannot read, or an ``.ndax`` our
        reader does not take while fastnda is not installed.
    """
    src = require_file(path, "Neware nda/ndax")
    with src.open("rb") as fh:
        head = fh.read(64)
    if head.startswith(_NDA_MAGIC):
        return _read_plain(src, src, "neware-nda", timezone, cycle_mode)
    if not head.startswith(_ZIP_MAGIC):
        raise UnsupportedFormatError(
            "not a Neware file (expected 'NEWARE' magic for .nda or a zip for .ndax)", path=src
        )
    names = _zip_names(src)
    if names is None:
        raise CorruptFileError("zip container is damaged or truncated (expected a Neware .ndax or .nda.zip)", path=src)
    if _is_ndax_listing(names):
        return _read_plain(src, src, "neware-ndax", timezone, cycle_mode)
    member = _inner_neware_member(names)
    if member is None:
        raise UnsupportedFormatError(f"zip holds no Neware data (members: {names[:8]})", path=src)
    return _read_zipped(src, member, timezone, cycle_mode)


def _check_nda_length(data_path: Path, source: Path) -> None:
    """Raise when an ``.nda`` header points past the end of the file (truncated copy).

    fastnda reads whole records up to the end of the file, so a truncated ``.nda`` gives a
    silently shortened record; the header's {begin, length} pointer to the main data
    block (u32 at byte 64 for BTS 7 versions, u64 at byte 82 for BTS 9 versions >= 129)
    tells. Versions that leave the length at 0 cannot be checked.
    """
    size = data_path.stat().st_size
    with data_path.open("rb") as fh:
        head = fh.read(98)
    if len(head) < 98:
        raise CorruptFileError(f"file is {size} bytes, shorter than a Neware .nda header (98 bytes)", path=source)
    version = head[14]
    if version >= 129:
        begin, length = int.from_bytes(head[82:90], "little"), int.from_bytes(head[90:98], "little")
    else:
        begin, length = int.from_bytes(head[64:68], "little"), int.from_bytes(head[68:72], "little")
    if begin > 0 and length > 0 and begin + length > size:
        raise CorruptFileError(
            f"truncated: header (nda version {version}) puts the data block at bytes {begin}-{begin + length}, "
            f"the file has {size} bytes",
            path=source,
        )


def _read_ndax(data_path: Path, source: Path, timezone: str | None, cycle_mode: str) -> EchemRecord:
    """An ``.ndax`` by our reader (:mod:`._ndax`), or by fastnda where ours does not take it."""
    raw = data_path.read_bytes()
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CorruptFileError(f"zip container is damaged ({type(exc).__name__}: {exc})", path=source) from exc
    with zf:
        got, reason = read_ndax_columns(zf, str(source), cycle_mode)
        meta = ndax_metadata(zf) if got is not None else {}
    if got is not None:
        note = {"neware.reader": f"operando (ndc version {got.version})"}
        techniques = first_seen(got.step_types)
        return _record_from_columns(
            got.columns, techniques, meta, got.notes, source, "neware-ndax", timezone, raw, note
        )
    try:
        import fastnda  # noqa: F401 - the fallback needs it
    except ImportError as exc:
        raise UnsupportedFormatError(
            f"this .ndax is not one operando reads itself ({reason}); fastnda reads it: pip install fastnda",
            path=source,
        ) from exc
    record = _read_plain(data_path, source, "neware-ndax", timezone, cycle_mode, fallback=True)
    extra = dict(record.meta.extra)
    extra["neware.reader"] = f"{extra.get('neware.reader', 'fastnda')} (operando's own reader: {reason})"
    record.meta = record.meta.replace(extra=extra)
    return record


def _read_plain(
    data_path: Path, source: Path, fmt: str, timezone: str | None, cycle_mode: str, *, fallback: bool = False
) -> EchemRecord:
    if fmt == "neware-ndax" and not fallback:
        return _read_ndax(data_path, source, timezone, cycle_mode)
    if fmt == "neware-nda":
        _check_nda_length(data_path, source)
    if fmt == "neware-ndax" and data_path.suffix.lower() != ".ndax":
        # fastnda dispatches on the suffix: give it a correctly named link-free copy
        with tempfile.TemporaryDirectory(prefix="operando-ndax-") as tmp:
            copy = Path(tmp) / "data.ndax"
            copy.write_bytes(data_path.read_bytes())
            frame, meta, noise = _read_with_fastnda(copy, source, cycle_mode)
    elif fmt == "neware-nda" and data_path.suffix.lower() != ".nda":
        with tempfile.TemporaryDirectory(prefix="operando-nda-") as tmp:
            copy = Path(tmp) / "data.nda"
            copy.write_bytes(data_path.read_bytes())
            frame, meta, noise = _read_with_fastnda(copy, source, cycle_mode)
    else:
        frame, meta, noise = _read_with_fastnda(data_path, source, cycle_mode)
    return _record_from_frame(frame, meta, noise, source, fmt, timezone)


def _read_zipped(src: Path, member: str, timezone: str | None, cycle_mode: str) -> EchemRecord:
    """Extract the single Neware member of ``src`` to a temporary folder and read it."""
    suffix = ".ndax" if member.lower().endswith(".ndax") else ".nda"
    fmt = "neware-ndax" if suffix == ".ndax" else "neware-nda"
    with tempfile.TemporaryDirectory(prefix="operando-neware-") as tmp:
        target = Path(tmp) / f"data{suffix}"
        try:
            with zipfile.ZipFile(src) as zf:
                info = zf.getinfo(member)
                if info.file_size > _MAX_MEMBER_BYTES:
                    raise CorruptFileError(f"zip member {member!r} claims {info.file_size} bytes", path=src)
                with zf.open(info) as fin, target.open("wb") as fout:
                    while block := fin.read(1 << 20):
                        fout.write(block)
        except OperandoError:
            raise
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
            raise CorruptFileError(
                f"cannot extract {member!r} from zip ({type(exc).__name__}: {exc})", path=src
            ) from exc
        if target.stat().st_size == 0:
            raise CorruptFileError(f"zip member {member!r} is empty", path=src)
        with target.open("rb") as fh:
            head = fh.read(8)
        if suffix == ".nda" and not head.startswith(_NDA_MAGIC):
            raise CorruptFileError(f"zip member {member!r} is not a Neware .nda (no 'NEWARE' magic)", path=src)
        record = _read_plain(target, src, fmt, timezone, cycle_mode)
    extra = dict(record.meta.extra)
    extra["neware.zip_member"] = member
    record.meta = record.meta.replace(extra=extra)
    return record
