"""Our own vectorised reader of Neware BTS 8/9 ``.ndax`` archives (``.ndc`` versions 14, 16, 17).

An ``.ndax`` is a zip of XML settings and binary ``.ndc`` members. Every ``.ndc`` is a
sequence of 4096-byte pages: page 0 is the header; each later page holds a validity bitmap
at bytes 4.. (one bit per row slot, least significant bit first) and fixed-size rows from
byte 132 up to the last byte (kept empty). Byte 0 of a member is its type (1 main data,
5 auxiliary channel, 7 steps, 18 "runInfo": times, capacities, energies), byte 2 its
version. Members and layouts as fastnda (Empa) documents them; the values here equal
fastnda 1.3's ``read(path)`` value for value on every real file of these versions
(tests/echem/test_ndax.py), in one NumPy pass per member with no per-row Python:

* main rows (voltage, current) are numbered by their slot (1-based, empty slots
  counted); runInfo rows carry the slot number they belong to;
* a main row without runInfo takes the last runInfo row's values, its step time and Unix
  time advanced by the runInfo's ``dt`` per row, its capacity and energy by
  ``dt * I / 3600`` and ``dt * V * I / 3600`` summed from that row on (the sum runs
  left to right, as fastnda's does, so the rounding is the same);
* ``total_time_s`` adds the longest step time of every earlier step; ``cycle_count``
  increments at every charge step that follows a discharge (``cycle_mode="chg"``) or the
  reverse (``"dchg"``), or is the file's own (``"raw"``).

A file this module does not read (another ``.ndc`` version, a damaged layout, main rows
before the first runInfo row) makes :func:`read_ndax_columns` return ``None`` with the
reason, and the caller falls back to fastnda.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import zipfile
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple
from xml.etree import ElementTree

import numpy as np
import numpy.typing as npt

from operando.errors import CorruptFileError

__all__ = ["NDAX_VERSIONS", "NdaxColumns", "ndax_metadata", "read_ndax_columns"]

PAGE = 4096
_ROWS_START = 132  # first row byte inside a page
_BITMAP_START = 4  # first validity-bitmap byte inside a page
_END_PAD = 1  # last byte of a page never holds row data

#: ``.ndc`` versions read here (every member type of them: 1, 5, 7, 18).
NDAX_VERSIONS = frozenset({14, 16, 17})

_MAIN = np.dtype([("voltage_V", "<f4"), ("current_mA", "<f4")])
_RUNINFO_14 = np.dtype(
    {
        "names": [
            "step_time",
            "charge",
            "discharge",
            "charge_e",
            "discharge_e",
            "dt",
            "unix",
            "step_count",
            "index",
            "uts_ms",
        ],
        "formats": ["<u4", "<f4", "<f4", "<f4", "<f4", "<i4", "<u4", "<u4", "<u4", "<i2"],
        "offsets": [0, 5, 9, 13, 17, 29, 33, 37, 41, 45],
        "itemsize": 55,
    }
)
_RUNINFO_16 = np.dtype(
    {
        "names": [
            "step_time",
            "charge",
            "discharge",
            "charge_e",
            "discharge_e",
            "dt",
            "unix",
            "step_count",
            "index",
            "uts_ms",
        ],
        "formats": ["<u4", "<f4", "<f4", "<f4", "<f4", "<i4", "<u4", "<u4", "<u4", "<u2"],
        "offsets": [0, 5, 9, 13, 17, 29, 33, 37, 41, 45],
        "itemsize": 100,
    }
)
_STEP_6 = np.dtype(
    {
        "names": ["cycle", "step_index", "step_type"],
        "formats": ["<u4", "<u4", "u1"],
        "offsets": [0, 4, 24],
        "itemsize": 37,
    }
)
_STEP_16 = np.dtype(
    {
        "names": ["cycle", "step_index", "step_type"],
        "formats": ["<u4", "<u4", "u1"],
        "offsets": [0, 4, 24],
        "itemsize": 100,
    }
)
_AUX_6 = np.dtype([("value", "<f4")])
_AUX_16 = np.dtype(
    {"names": ["voltage_V", "temperature_degC"], "formats": ["<f4", "<i2"], "offsets": [1, 5], "itemsize": 7}
)

#: Neware step-type codes (fastnda's STEP_TYPE_MAP).
STEP_TYPES: Mapping[int, str] = {
    0: "Undefined", 1: "CC_Chg", 2: "CC_DChg", 3: "CV_Chg", 4: "Rest", 5: "Cycle", 6: "End", 7: "CCCV_Chg",
    8: "CP_DChg", 9: "CP_Chg", 10: "CR_DChg", 11: "CR_Chg", 12: "IR", 13: "Pause", 16: "Pulse", 17: "SIM",
    18: "PCCCV_Chg", 19: "CV_DChg", 20: "CCCV_DChg", 21: "Control", 22: "OCV", 23: "SubStep", 24: "Follow",
    25: "Ramp", 26: "CPCV_DChg", 27: "CPCV_Chg", 28: "CRCV_DChg", 29: "CRCV_Chg", 30: "CyclicVoltammetry",
}  # fmt: skip
#: Step type -> 1 charge, 0 discharge (others: neither).
_CHARGE_OR_DISCHARGE = {
    1: 1,
    2: 0,
    3: 1,
    7: 1,
    8: 0,
    9: 1,
    10: 0,
    11: 1,
    18: 1,
    19: 0,
    20: 0,
    26: 0,
    27: 1,
    28: 0,
    29: 1,
}
#: Auxiliary channel type -> column name, and the scale of its value.
_AUX_CHANNELS = {
    102: "voltage_V", 103: "temperature_degC", 104: "current_mA", 105: "voltage_V", 106: "temperature_degC",
    107: "current_mA", 108: "clamp_temperature_degC", 109: "clamp_weight_kg", 110: "clamp_air_pressure_kPa",
    111: "leader_temperature_degC", 112: "red_temperature_degC", 113: "humidity", 114: "thickness_mm",
    115: "flow", 116: "voc", 117: "pressure_bar", 118: "force_N", 335: "temperature_setpoint_degC", 345: "humidity_%",
}  # fmt: skip
_AUX_SCALE = {104: 1000, 107: 1000}

_STEP_LUT = np.full(256, -1, dtype=np.int8)
for _code, _kind in _CHARGE_OR_DISCHARGE.items():
    _STEP_LUT[_code] = _kind
# Divisions by a constant are multiplications by its reciprocal, as polars (and so fastnda)
# computes them: x / 1000 and x * (1 / 1000) differ in the last bit for 14 % of values.
_PER_1000 = 1 / 1000
_PER_3600 = 1 / 3600
_PER_3600_F4 = np.float32(1 / 3600)
_PER_10000_F4 = np.float32(1 / 10000)
_LABELS = np.array([STEP_TYPES.get(code) for code in range(256)], dtype=object)


_isal: Any
try:  # ISA-L's inflate (a fastnda dependency), used directly: zlib itself is left alone
    from isal import isal_zlib as _isal
except ImportError:  # pragma: no cover - zipfile's zlib then
    _isal = None

_CAPACITIES = ("charge", "discharge", "charge_e", "discharge_e")
_MAIN_MEMBERS = ("data.ndc", "data_runInfo.ndc", "data_step.ndc")


class _NotOurs(Exception):  # noqa: N818 - a reason to hand the file to fastnda, not an error
    """This layout is not read here (the message says why)."""


def ndc_rows(
    buf: bytes, dtype: np.dtype[Any], name: str, source: str
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """The valid rows of an ``.ndc`` member and their 1-based slot numbers.

    Parameters
    ----------
    buf : bytes
        The member (a whole number of 4096-byte pages, the first a header).
    dtype : numpy.dtype
        Layout of one row.
    name, source : str
        Member and file, for error messages.

    Returns
    -------
    rows : (N,) structured ndarray
        The rows whose validity bit is set, in file order (a copy).
    slots : (N,) ndarray of int64
        Their slot numbers counted over all pages from 1, empty slots included.

    Raises
    ------
    CorruptFileError
        When the member is not a whole number of pages.

    Examples
    --------
    >>> page = bytearray(PAGE); page[4] = 0b101; page[132:140] = np.array([1.0, 2.0], "<f4").tobytes()
    >>> page[148:156] = np.array([3.0, 4.0], "<f4").tobytes()
    >>> rows, slots = ndc_rows(bytes(PAGE) + bytes(page), _MAIN, "data.ndc", "x.ndax")
    >>> rows["voltage_V"].tolist(), slots.tolist()
    ([1.0, 3.0], [1, 3])
    """
    if len(buf) % PAGE or len(buf) < PAGE:
        raise CorruptFileError(
            f"member {name} is {len(buf)} bytes, not a whole number of {PAGE}-byte pages", path=source
        )
    pages = np.frombuffer(buf, dtype=np.uint8, offset=PAGE).reshape(-1, PAGE)
    per_page = (PAGE - _ROWS_START - _END_PAD) // dtype.itemsize
    bitmap = pages[:, _BITMAP_START : _BITMAP_START + (per_page + 7) // 8]
    valid = np.unpackbits(bitmap, axis=1, bitorder="little")[:, :per_page].ravel().astype(bool)
    block = np.ascontiguousarray(pages[:, _ROWS_START : _ROWS_START + per_page * dtype.itemsize])
    rows = block.view(dtype).reshape(-1)
    slots = np.flatnonzero(valid)
    return rows[slots], slots + 1


def ndc_fields(
    buf: bytes, dtype: np.dtype[Any], name: str, source: str
) -> tuple[dict[str, npt.NDArray[Any]], npt.NDArray[np.int64]]:
    """:func:`ndc_rows` as one contiguous array per field (named fields only)."""
    pages, valid, per_page = _pages(buf, dtype, name, source)
    block = pages[:, _ROWS_START : _ROWS_START + per_page * dtype.itemsize]
    records = block.view(dtype)  # (pages, rows per page): each field copied once, below
    count = int(np.count_nonzero(valid))
    if valid[:count].all():  # the usual layout: every slot used up to the last row, no gather
        fields = {field: records[field].reshape(-1)[:count] for field in dtype.names or ()}
        return fields, np.arange(1, count + 1)
    slots = np.flatnonzero(valid)
    return {field: records[field].reshape(-1)[slots] for field in dtype.names or ()}, slots + 1


def _pages(
    buf: bytes, dtype: np.dtype[Any], name: str, source: str
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_], int]:
    """The data pages of a member, the validity of every row slot and the slots per page."""
    if len(buf) % PAGE or len(buf) < PAGE:
        raise CorruptFileError(
            f"member {name} is {len(buf)} bytes, not a whole number of {PAGE}-byte pages", path=source
        )
    pages = np.frombuffer(buf, dtype=np.uint8, offset=PAGE).reshape(-1, PAGE)
    per_page = (PAGE - _ROWS_START - _END_PAD) // dtype.itemsize
    bitmap = pages[:, _BITMAP_START : _BITMAP_START + (per_page + 7) // 8]
    valid = np.unpackbits(bitmap, axis=1, bitorder="little")[:, :per_page].ravel().astype(bool)
    return pages, valid, per_page


def _segment_cumsum(values: npt.NDArray[np.float64], starts: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.float64]:
    """Cumulative sum restarting at each of ``starts``, added left to right.

    A sequential scan (fastnda's polars ``cum_sum().over(group)``) rounds differently from
    a global cumsum minus the segment start, so the sums are made one position at a time
    for all segments together: step ``k`` adds the ``k``-th row of every segment longer
    than ``k`` to the row before it (as many NumPy steps as the longest segment, about 60
    in real files). Segments longer than 256 rows are summed by one ``np.cumsum`` each.

    Parameters
    ----------
    values : (N,) ndarray of float64
    starts : (S,) ndarray of int
        First row of every segment, increasing, ``starts[0] == 0``.
    n : int
        Rows.

    Returns
    -------
    (N,) ndarray of float64

    Examples
    --------
    >>> _segment_cumsum(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([0, 2]), 5).tolist()
    [1.0, 3.0, 3.0, 7.0, 12.0]
    """
    out = np.array(values, dtype=np.float64)
    if n == 0:
        return out
    lengths = np.diff(np.append(starts, n))
    long = lengths > 256
    for s0, m in zip(starts[long].tolist(), lengths[long].tolist(), strict=True):
        np.cumsum(out[s0 : s0 + m], out=out[s0 : s0 + m])
    order = np.argsort(-lengths[~long], kind="stable")
    first, size = starts[~long][order], lengths[~long][order]  # longest first
    if size.shape[0]:
        # segments longer than k: a prefix of the sorted list
        active = np.searchsorted(-size, -np.arange(int(size[0])), side="left")
        for k in range(1, int(size[0])):
            rows = first[: active[k]] + k
            out[rows] += out[rows - 1]
    return out


def _repeated_sums(step: npt.NDArray[np.float64], lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """For runs of ``lengths`` rows, ``0, step, step + step, ...`` one addition at a time (as a scan adds).

    Parameters
    ----------
    step : (R,) ndarray of float64
        The value added along each run.
    lengths : (R,) ndarray of int, >= 1
        Rows of each run.

    Returns
    -------
    (sum(lengths),) ndarray of float64

    Examples
    --------
    >>> _repeated_sums(np.array([0.1, 2.0]), np.array([4, 2])).tolist()
    [0.0, 0.1, 0.2, 0.30000000000000004, 0.0, 2.0]
    >>> steps = np.arange(1.0, 301.0) / 7  # 300 distinct steps, one long run: summed as segments
    >>> out = _repeated_sums(steps, np.r_[np.ones(299, int), 70000])
    >>> bool(out[-1] == np.cumsum(np.full(69999, steps[-1]))[-1])
    True
    """
    if step.shape[0] == 0:
        return np.zeros(0)
    distinct, which = np.unique(step, return_inverse=True)
    width = int(lengths.max())
    n = int(lengths.sum())
    if distinct.shape[0] * width > 4 * n + 65536:
        # many distinct steps and long runs (sparse runInfo): the table would outgrow the
        # data, so the runs are summed as segments (0 first, then step added row by row)
        starts = np.cumsum(lengths) - lengths
        values = np.repeat(step, lengths)
        values[starts] = 0.0
        return _segment_cumsum(values, starts, n)
    table = np.zeros((distinct.shape[0], width))
    for k in range(1, width):  # one column per row of the longest run: about 60 in real files
        table[:, k] = table[:, k - 1] + distinct
    since = np.arange(n) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return table.ravel()[np.repeat(which.reshape(-1) * width, lengths) + since]


def _count_changes(values: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """1 for the first row, +1 wherever the value changes (fastnda's step counter)."""
    if values.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    return np.cumsum(np.concatenate([[True], values[1:] != values[:-1]])).astype(np.int64)


def _member(zf: zipfile.ZipFile, name: str, source: str) -> bytes:
    """One member's bytes; a member that does not extract (bad CRC, zlib error) is one error.

    A deflated member of an archive held in memory is inflated by ISA-L when python-isal
    is installed (fastnda's dependency; 2-3x zlib's speed: 2 MB of data.ndc is half of a
    read), its length and CRC-32 checked as zipfile checks them; otherwise by zipfile.
    """
    try:
        info = zf.getinfo(name)
        if _isal is not None and info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 0x1:
            fp = zf.fp
            if isinstance(fp, io.BytesIO):
                with fp.getbuffer() as raw:
                    start = info.header_offset
                    if bytes(raw[start : start + 4]) != b"PK\x03\x04":
                        raise zipfile.BadZipFile(f"no local header at offset {start}")
                    name_len, extra_len = struct.unpack_from("<HH", raw, start + 26)
                    begin = start + 30 + name_len + extra_len
                    out = bytes(
                        _isal.decompress(
                            raw[begin : begin + info.compress_size], wbits=-15, bufsize=info.file_size or 1
                        )
                    )
                if len(out) != info.file_size or _isal.crc32(out) != info.CRC:
                    raise zipfile.BadZipFile(f"Bad CRC-32 or length for file {name!r}")
                return out
        return zf.read(name)
    except Exception as exc:  # BadZipFile, zlib.error, OSError, EOFError...: all damage
        raise CorruptFileError(f"member {name} cannot be extracted ({type(exc).__name__}: {exc})", path=source) from exc


def _version_of(buf: bytes, name: str, kind: int) -> int:
    if len(buf) < 3 or buf[0] != kind:
        raise _NotOurs(f"{name} is not of member type {kind}")
    return int(buf[2])


# Damaged bytes can make a float32 product overflow: it gives inf as fastnda's does (no
# warning), and echem.read refuses the record naming the row (check_finite).
@np.errstate(over="ignore", invalid="ignore")
def _runinfo(buf: bytes, version: int, source: str) -> dict[str, npt.NDArray[Any]]:
    """runInfo rows: first row of each slot number, converted as fastnda does."""
    dtype = _RUNINFO_14 if version == 14 else _RUNINFO_16
    rows, _ = ndc_rows(buf, dtype, "data_runInfo.ndc", source)
    if version == 16:
        caps = [(rows[k] * _PER_3600_F4).astype(np.float32) for k in ("charge", "discharge", "charge_e", "discharge_e")]
    else:
        caps = [
            (rows[k] * np.float32(1000)).astype(np.float32) for k in ("charge", "discharge", "charge_e", "discharge_e")
        ]
    out: dict[str, npt.NDArray[Any]] = {
        "step_time_s": rows["step_time"].astype(np.float64) * _PER_1000,
        "dt": rows["dt"].astype(np.float64) * _PER_1000,
        "unix_time_s": rows["unix"].astype(np.float64) + rows["uts_ms"].astype(np.float64) * _PER_1000,
        "step_count": _count_changes(rows["step_count"]),
        "charge": caps[0],
        "discharge": caps[1],
        "charge_e": caps[2],
        "discharge_e": caps[3],
    }
    index = rows["index"].astype(np.int64)
    _, first = np.unique(index, return_index=True)  # the first row of each slot number
    firsts = {k: v[first] for k, v in out.items()}
    firsts["index"] = index[first]
    return firsts


def _aux_members(zf: zipfile.ZipFile, names: list[str], source: str) -> list[tuple[str, dict[str, Any]]]:
    """Auxiliary members in file-number order with their TestInfo.xml channel entries."""
    found: list[tuple[str, list[int]]] = []
    for name in names:
        m = re.search(r"data_AUX_(\d+)_(\d+)_(\d+)\.ndc", name)
        if m:
            found.append((name, [int(g) for g in m.groups()]))
            continue
        m = re.search(r".*_(\d+)\.ndc", name)
        if m:
            found.append((name, [int(m.group(1)), 0, 0]))
    if not found:
        return []
    found.sort(key=lambda item: item[1])
    try:
        root = ElementTree.fromstring(_member(zf, "TestInfo.xml", source).decode("gb2312"))
    except (ElementTree.ParseError, UnicodeDecodeError, KeyError, CorruptFileError) as exc:
        raise _NotOurs(f"auxiliary channels but TestInfo.xml unreadable ({exc})") from exc
    info = root.find("config/TestInfo")
    channels = [
        {k: int(v) if v.isdigit() else v for k, v in child.attrib.items()}
        for child in (info if info is not None else [])
        if "aux" in child.tag.lower()
    ]
    if len(channels) != len(found):
        raise _NotOurs(f"{len(found)} auxiliary members but {len(channels)} channels in TestInfo.xml")
    return [(name, ch) for (name, _), ch in zip(found, channels, strict=True)]


# Damaged bytes can make a float32 product overflow: it gives inf as fastnda's does (no
# warning), and echem.read refuses the record naming the row (check_finite).
@np.errstate(over="ignore", invalid="ignore")
def _aux_columns(
    buf: bytes, name: str, number: int, channel: Mapping[str, Any], version: int, source: str
) -> tuple[dict[str, npt.NDArray[np.float32]], npt.NDArray[np.int64]]:
    """Columns of one auxiliary member, named as fastnda names them, and their row numbers."""
    aux_id = channel.get("AuxID", -number)
    if version == 16:
        if buf[PAGE + _ROWS_START : PAGE + _ROWS_START + 1] != b"\x65":
            raise _NotOurs(f"{name}: unknown auxiliary layout")
        rows, _ = ndc_fields(buf, _AUX_16, name, source)
        cols = {
            "voltage_V": (rows["voltage_V"] * _PER_10000_F4).astype(np.float32),
            "temperature_degC": rows["temperature_degC"].astype(np.float32) * np.float32(0.1),
        }
        cols = {k: v for k, v in cols.items() if np.any(v != 0)}  # fastnda drops an all-zero column
        count = rows["voltage_V"].shape[0]
    else:
        rows, _ = ndc_fields(buf, _AUX_6, name, source)
        count = rows["value"].shape[0]
        kind = channel.get("ChlType")
        if kind in _AUX_CHANNELS:
            scale = _AUX_SCALE.get(kind, 1)
            value = rows["value"] * np.float32(scale) if scale != 1 else rows["value"]
            return {f"aux{aux_id}_{_AUX_CHANNELS[kind]}": value}, np.arange(1, count + 1)
        cols = {"?": rows["value"]}
    return {f"aux{aux_id}_{k}": v for k, v in cols.items()}, np.arange(1, count + 1)


class NdaxColumns(NamedTuple):
    """What :func:`read_ndax_columns` read.

    Attributes
    ----------
    columns : dict of str to (N,) ndarray or a function returning one
        ``index, voltage_V, current_mA, unix_time_s, step_time_s, total_time_s,
        cycle_count, step_count, step_index, step_type`` (object labels),
        ``capacity_mAh, energy_mWh`` and the auxiliary columns, as fastnda names and
        types them; all but ``voltage_V, current_mA, unix_time_s, total_time_s`` are
        functions (made on first use, once).
    notes : list of str
        Warnings about the data (negative Unix-time jumps, pulse steps), as fastnda words them.
    step_types : list of str
        Step types in order of first appearance.
    version : int
        The ``.ndc`` version.
    """

    columns: dict[str, Any]
    notes: list[str]
    step_types: list[str]
    version: int


def read_ndax_columns(zf: zipfile.ZipFile, source: str, cycle_mode: str = "chg") -> tuple[NdaxColumns | None, str]:
    """Read an ``.ndax``, or say why this reader does not take it.

    Parameters
    ----------
    zf : zipfile.ZipFile
        The open archive.
    source : str
        The file, for error messages.
    cycle_mode : {"chg", "dchg", "auto", "raw"}
        How ``cycle_count`` is counted (see the module docstring).

    Returns
    -------
    read : NdaxColumns or None
        None when this reader does not take the file.
    reason : str
        Why not ("" when it did).

    Raises
    ------
    CorruptFileError
        A member that cannot be extracted or is not whole pages.
    """
    try:
        return _read(zf, source, cycle_mode), ""
    except _NotOurs as exc:
        return None, str(exc)


def _read(zf: zipfile.ZipFile, source: str, cycle_mode: str) -> NdaxColumns:
    names = zf.namelist()
    for needed in ("data.ndc", "data_runInfo.ndc", "data_step.ndc"):
        if needed not in names:
            raise _NotOurs(f"no {needed}")
    aux = _aux_members(zf, names, source)
    # zlib and NumPy's copies release the GIL: the members decompress side by side (2 MB of
    # data.ndc is half the read) and the auxiliary channels are read while the main data
    # are worked on, as fastnda does it
    pool = ThreadPoolExecutor(max_workers=min(4, 3 + len(aux)))
    try:
        main = {
            name: pool.submit(_member, zf, name, source) for name in ("data.ndc", "data_runInfo.ndc", "data_step.ndc")
        }
        side = [
            pool.submit(_aux_member, zf, name, number, channel, source) for number, (name, channel) in enumerate(aux)
        ]
        return _assemble(main, side, source, cycle_mode)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _aux_member(
    zf: zipfile.ZipFile, name: str, number: int, channel: Mapping[str, Any], source: str
) -> tuple[int, dict[str, npt.NDArray[np.float32]], npt.NDArray[np.int64]]:
    """One auxiliary member read: its ndc version, its columns and their row numbers."""
    buf = _member(zf, name, source)
    version = _version_of(buf, name, 5)
    if version not in NDAX_VERSIONS:
        raise _NotOurs(f"{name} of ndc version {version}")
    return (version, *_aux_columns(buf, name, number, channel, version, source))


# Damaged bytes can make a float32 product overflow: it gives inf as fastnda's does (no
# warning), and echem.read refuses the record naming the row (check_finite).
@np.errstate(over="ignore", invalid="ignore")
def _assemble(
    main: Mapping[str, Future[bytes]],
    side: list[Future[tuple[int, dict[str, npt.NDArray[np.float32]], npt.NDArray[np.int64]]]],
    source: str,
    cycle_mode: str,
) -> NdaxColumns:
    """The columns from the main, runInfo and step members and the auxiliary channels."""
    main_buf = main["data.ndc"].result()
    version = _version_of(main_buf, "data.ndc", 1)
    if version not in NDAX_VERSIONS:
        raise _NotOurs(f"ndc version {version}")
    run_buf, step_buf = main["data_runInfo.ndc"].result(), main["data_step.ndc"].result()
    if _version_of(run_buf, "data_runInfo.ndc", 18) != version or _version_of(step_buf, "data_step.ndc", 7) != version:
        raise _NotOurs("members of different ndc versions")

    fields, index = ndc_fields(main_buf, _MAIN, "data.ndc", source)
    voltage, current = fields["voltage_V"], fields["current_mA"]
    if version == 16:
        voltage = voltage * _PER_10000_F4
    else:
        current = current * np.float32(1000)
    n = index.shape[0]
    if n == 0:
        raise _NotOurs("no main rows")

    run = _runinfo(run_buf, version, source)
    m = run["index"].shape[0]
    where = np.searchsorted(run["index"], index)
    has = (where < m) & (run["index"][np.minimum(where, max(m - 1, 0))] == index) if m else np.zeros(n, bool)
    if not has[0]:
        raise _NotOurs("main rows before the first runInfo row")
    # forward fill: each row takes the runInfo of the last row that has one; the rows
    # from one runInfo row to the next are a run (np.repeat, not a gather)
    starts = np.flatnonzero(has)
    lengths = np.diff(np.append(starts, n))
    source_rows = where[starts]
    ff = {k: np.repeat(run[k][source_rows], lengths) for k in ("step_time_s", "unix_time_s", "dt")}
    # capacities: |value| as float64 per run, then repeated (one pass over the rows, not three)
    held = {k: np.repeat(np.abs(run[k][source_rows]).astype(np.float64), lengths) for k in _CAPACITIES}
    gap = (~has).astype(np.float64)
    dt = ff["dt"]
    i64 = current.astype(np.float64)
    # a runInfo row closes the run before it (fastnda's groups): the sums restart after it
    # (row 0 has one, so the segments are row 0 alone, then each run after a runInfo row up to
    # and including the next runInfo row)
    group_starts = np.concatenate([[0], starts + 1])
    group_starts = group_starts[group_starts < n]
    # dt is the last runInfo row's: its sum over the rows after it is dt added k times
    cdt = _repeated_sums(run["dt"][source_rows], lengths)
    inc_q = _segment_cumsum(dt * i64 * _PER_3600, group_starts, n) * gap
    inc_e = _segment_cumsum(dt * voltage.astype(np.float64) * i64 * _PER_3600, group_starts, n) * gap
    step_time = ff["step_time_s"] + cdt
    unix = ff["unix_time_s"] + cdt
    # (np.maximum/np.minimum: the clip of fastnda, without np.clip's overhead)
    charge = held["charge"] + np.maximum(inc_q, 0.0)
    discharge = held["discharge"] - np.minimum(inc_q, 0.0)
    charge_e = held["charge_e"] + np.maximum(inc_e, 0.0)
    discharge_e = held["discharge_e"] - np.minimum(inc_e, 0.0)
    notes = []
    if np.any(unix[1:] < unix[:-1]):
        notes.append(
            "IMPORTANT: This ndax has negative jumps in the 'unix_time_s' column! "
            "Use the 'total_time_s' column for analysis."
        )

    steps, _ = ndc_fields(step_buf, _STEP_6 if version == 14 else _STEP_16, "data_step.ndc", source)
    n_steps = steps["step_type"].shape[0]
    # the step counter changes only at runInfo rows: the rows of one counter value are a
    # run of runInfo runs, and the step columns are made per run and repeated
    counter = run["step_count"][source_rows]
    change = np.flatnonzero(np.concatenate([[True], counter[1:] != counter[:-1]]))
    run_starts = starts[change]
    run_lengths = np.diff(np.append(run_starts, n))
    at = counter[change] - 1
    if n_steps == 0 or at.min() < 0 or at.max() >= n_steps:
        raise _NotOurs("step counter outside the step table")
    run_type = steps["step_type"][at].astype(np.int64)
    if np.isin(run_type, (16, 17, 25)).any():
        notes.append(
            "Data contains Pulse, SIM, or Ramp steps. This might give unexpected cycle numbers with 'chg' "
            "'dchg' or 'auto' mode. Consider using 'raw' cycle mode instead."
        )
    run_cycle = _cycles(run_type, steps["cycle"][at].astype(np.int64) + 1, cycle_mode)

    # total time: step time plus the longest step time of every earlier step
    if np.all(counter[1:] >= counter[:-1]):
        longest = np.maximum.reduceat(step_time, run_starts)
        inverse = np.repeat(np.arange(run_starts.shape[0]), run_lengths)
    else:
        _, inverse = np.unique(np.repeat(counter, lengths), return_inverse=True)
        longest = np.full(int(inverse.max()) + 1, -np.inf)
        np.maximum.at(longest, inverse, step_time)
    before = np.cumsum(np.concatenate([[0.0], longest[:-1]]))
    total = step_time + before[inverse]

    cols: dict[str, Any] = {
        # columns nothing in the record is built from: made on first use
        "index": functools.partial(np.asarray, index, dtype=np.uint32),
        "voltage_V": voltage,
        "current_mA": current,
        "unix_time_s": np.round(unix, 6),
        "step_time_s": functools.partial(np.round, step_time, 6),
        "total_time_s": np.round(total, 6),
        "cycle_count": functools.cache(functools.partial(np.repeat, run_cycle.astype(np.uint32), run_lengths)),
        "step_count": functools.cache(functools.partial(np.repeat, counter.astype(np.uint32), lengths)),
        "step_index": functools.cache(
            functools.partial(np.repeat, steps["step_index"][at].astype(np.uint32), run_lengths)
        ),
        "step_type": functools.partial(np.repeat, _LABELS[run_type], run_lengths),
        "capacity_mAh": functools.cache(functools.partial(_float32_difference, charge, discharge)),
        "energy_mWh": functools.partial(_float32_difference, charge_e, discharge_e),
    }
    for future in side:
        aux_version, values, numbers = future.result()
        if aux_version != version:
            raise _NotOurs("auxiliary members of another ndc version")
        for key, column in values.items():
            if numbers.shape[0] == n:  # same length: side by side, as fastnda joins them
                cols[key] = column
            else:
                pos = np.searchsorted(numbers, index)
                ok = (pos < numbers.shape[0]) & (numbers[np.minimum(pos, numbers.shape[0] - 1)] == index)
                joined = np.full(n, np.nan, dtype=np.float32)
                joined[ok] = column[pos[ok]]
                cols[key] = joined
    seen = list(dict.fromkeys(label for label in _LABELS[run_type].tolist() if label is not None))
    return NdaxColumns(cols, notes, seen, version)


def _float32_difference(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """``a - b`` as float32 (fastnda's capacity and energy)."""
    return (a - b).astype(np.float32)


def _cycles(step_type: npt.NDArray[np.int64], raw: npt.NDArray[np.int64], mode: str) -> npt.NDArray[np.int64]:
    """Cycle numbers from 1: a new cycle at each charge after a discharge (``chg``) or the reverse."""
    if mode == "raw":
        return raw
    kind = _STEP_LUT[step_type].astype(np.int64)
    if mode == "auto":
        flowing = kind[kind >= 0]
        mode = "chg" if flowing.size and flowing[0] == 1 else "dchg"
    known = kind >= 0
    last = np.maximum.accumulate(np.where(known, np.arange(kind.shape[0]), -1))
    filled = np.where(last >= 0, kind[np.maximum(last, 0)], -1)
    target = 1 if mode == "chg" else -1
    both = (filled[1:] >= 0) & (filled[:-1] >= 0)
    step = np.concatenate([[False], both & (np.diff(filled) == target)])
    return np.cumsum(step) + 1


#: XML members the record's metadata comes from (Step.xml and EditStep.xml, the protocol,
#: are 10-100x larger and nothing of them is kept).
_METADATA_MEMBERS = frozenset({"VersionInfo.xml", "TestInfo.xml"})


def ndax_metadata(zf: zipfile.ZipFile) -> dict[str, Any]:
    """VersionInfo.xml and TestInfo.xml as nested dicts (attributes and child elements), as fastnda gives them.

    Parameters
    ----------
    zf : zipfile.ZipFile

    Returns
    -------
    dict
        ``{member stem: {child tag: {attribute: value, ...}, ...}}`` from each member's
        ``config`` element; a member that does not parse is left out.
    """
    out: dict[str, Any] = {}
    for name in zf.namelist():
        if name.split("/")[-1] not in _METADATA_MEMBERS:
            continue
        try:
            root = ElementTree.fromstring(zf.read(name).decode(errors="ignore"))
        except Exception:
            continue
        config = root.find("config")
        if config is not None:
            out[name.split("/")[-1].split(".")[0]] = _element(config)
    return out


def _element(node: ElementTree.Element) -> Any:
    """An element as xmltodict writes it (attributes without prefix, text under ``#text``)."""
    value: dict[str, Any] = dict(node.attrib)
    for child in node:
        item = _element(child)
        if child.tag in value:
            if not isinstance(value[child.tag], list):
                value[child.tag] = [value[child.tag]]
            value[child.tag].append(item)
        else:
            value[child.tag] = item
    text = (node.text or "").strip()
    if text:
        if not value:
            return text
        value["#text"] = text
    return value or None
