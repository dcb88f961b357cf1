"""Bruker BES3T EPR files (Xenon / Xepr): the ``.DSC`` descriptor and the ``.DTA`` binary data.

A compact reader written here from the BES3T specification (Bruker, "BES3T file format",
version 1.2) rather than a dependency: the PyPI readers either come inside an analysis
framework (``cwepr`` needs the ASpecD dataset framework; DeerLab's ``deerload`` brings its
fitting stack) for what is one key/value text file plus one flat array. What is read:

* ``#DESC`` layer: ``BSEQ`` (``BIG``/``LIT`` byte order), ``IKKF`` (``REAL``/``CPLX``),
  ``IRFMT``/``IIFMT`` (``C`` int8, ``S`` int16, ``I`` int32, ``F`` float32, ``D`` float64),
  ``XTYP``/``YTYP``/``ZTYP`` (``IDX`` linear axis from ``?MIN``/``?WID``, ``IGD`` axis values
  in the ``.XGF``/``.YGF``/``.ZGF`` companion file, ``NODATA``), ``XPTS``/``YPTS``/``ZPTS``,
  ``XUNI``/``YUNI``, ``TITL``; complex points are stored real, imaginary interleaved,
  ``x`` running fastest.
* ``#SPL`` layer: ``MWFQ`` (Hz), ``MWPW`` (W), ``B0MA`` (modulation amplitude, T), ``B0MF``
  (Hz), ``AVGS``; everything else is kept as text in :attr:`EPRMeta.descriptor`.

Text exports of other vendors: see :func:`read_epr_text`.

Field axes are returned in mT (``G`` x 0.1, ``T`` x 1000); other units are left as written.

The older WinEPR/ESP pair (``.par`` text + ``.spc`` binary) is read too
(:func:`read_winepr`): ``.par`` lines are ``KEY value`` (``ANZ``/``RES`` points, ``GST``
start field, ``GSI`` sweep width, ``JUN`` unit, ``MF`` GHz, ``MP`` mW, ``RMA`` G, ``JSD``
scans); a ``DOS Format`` header means little-endian float32 data (WinEPR), otherwise
big-endian int32 (ESP), and the ``MIN``/``MAX`` it records are checked against the data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from operando._files import require_file
from operando.errors import CorruptFileError, MissingMetadataError, UnsupportedFormatError

__all__ = [
    "EPRMeta",
    "EPRSpectrum",
    "bes3t_pair",
    "parse_dsc",
    "parse_epr_text",
    "parse_par",
    "read_bes3t",
    "read_epr",
    "read_epr_text",
    "read_winepr",
    "sniff_epr_text",
    "winepr_pair",
]

_FORMATS = {"C": "i1", "S": "i2", "I": "i4", "F": "f4", "D": "f8"}
_FIELD_UNITS = {"G": 0.1, "mT": 1.0, "T": 1000.0, "kG": 100.0}


@dataclass(frozen=True)
class EPRMeta:
    """What a BES3T descriptor says about the measurement.

    Attributes
    ----------
    path : str
        The ``.DSC`` file.
    title : str
        ``TITL``.
    mw_frequency_Hz : float or None
        ``MWFQ``, microwave frequency, Hz.
    mw_power_mW : float or None
        ``MWPW`` (W) in mW.
    modulation_amplitude_mT : float or None
        ``B0MA`` (T) in mT.
    modulation_frequency_Hz : float or None
        ``B0MF``, Hz.
    scans : int or None
        ``AVGS``, scans averaged.
    byte_order : str
        ``">"`` (``BSEQ BIG``) or ``"<"`` (``LIT``).
    dtype : str
        NumPy type of the stored real (and imaginary) parts, e.g. ``">f8"``.
    complex : bool
        ``IKKF CPLX``.
    x_name, x_unit : str
        ``XNAM`` and the unit of :attr:`EPRSpectrum.x` (``"mT"`` for a field axis, else ``XUNI``).
    y_name, y_unit : str
        The same for the second axis (empty for 1D data).
    descriptor : dict of str to str
        Every key of the ``#DESC`` and ``#SPL`` layers and of the device layer, as text.
    """

    path: str
    title: str
    mw_frequency_Hz: float | None
    mw_power_mW: float | None
    modulation_amplitude_mT: float | None
    modulation_frequency_Hz: float | None
    scans: int | None
    byte_order: str
    dtype: str
    complex: bool
    x_name: str
    x_unit: str
    y_name: str = ""
    y_unit: str = ""
    descriptor: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class EPRSpectrum:
    """One BES3T data set.

    Attributes
    ----------
    data : (N,) or (M, N) ndarray of float64 or complex128
        Signal; ``N = XPTS``, ``M = YPTS * ZPTS`` for 2D/3D sets (one row per slice).
    x : (N,) ndarray of float64
        Abscissa, in mT when it is a magnetic field (see ``meta.x_unit``).
    y : (M,) ndarray of float64 or None
        Second axis (``None`` for 1D data).
    meta : EPRMeta
    """

    data: npt.NDArray[Any]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64] | None
    meta: EPRMeta

    @property
    def field_mT(self) -> npt.NDArray[np.float64]:
        """The field axis, mT; an error when the first axis is not a magnetic field."""
        if self.meta.x_unit != "mT":
            raise UnsupportedFormatError(
                f"the first axis is {self.meta.x_name!r} in {self.meta.x_unit!r}, not a magnetic field",
                path=self.meta.path,
            )
        return self.x


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    return text


def parse_dsc(text: str) -> dict[str, str]:
    """Key/value pairs of a BES3T descriptor (all layers), values as text, quotes removed.

    Comment lines (``*``), layer headers (``#DESC``...) and device headers (``.DVC``) are
    skipped; a trailing backslash continues a value on the next line.

    Examples
    --------
    >>> parse_dsc("#DESC 1.2\\n*\\nXPTS\\t3000\\nXUNI\\t'G'\\n")
    {'XPTS': '3000', 'XUNI': 'G'}
    """
    out: dict[str, str] = {}
    pending: tuple[str, str] | None = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if pending is not None:
            key, value = pending
            value += "\n" + line.rstrip("\\")
            pending = (key, value) if line.endswith("\\") else None
            if pending is None:
                out[key] = _unquote(value)
            continue
        if not line.strip() or line.lstrip().startswith(("*", "#", ".DVC")):
            continue
        parts = line.split(None, 1)
        key, value = parts[0], parts[1] if len(parts) > 1 else ""
        if value.endswith("\\"):
            pending = (key, value.rstrip("\\"))
            continue
        out.setdefault(key, _unquote(value))  # #DESC/#SPL keys come first; device keys never override them
    return out


def bes3t_pair(path: str | PathLike[str]) -> tuple[Path, Path] | None:
    """``(dsc, dta)`` when ``path`` is either file of a BES3T pair (found by content), else None.

    The descriptor must start with ``#DESC``; the data file sits beside it with the
    suffix ``.DTA`` (any case). Only the descriptor's first bytes are read.
    """
    p = Path(path)
    candidates = [p] if p.suffix.lower() == ".dsc" else [p.with_suffix(s) for s in (".DSC", ".dsc", ".Dsc")]
    for dsc in candidates:
        if dsc.is_file():
            with dsc.open("rb") as fh:
                if fh.read(64).lstrip().startswith(b"#DESC"):
                    dta = next((dsc.with_suffix(s) for s in (".DTA", ".dta", ".Dta") if dsc.with_suffix(s).exists()),
                               dsc.with_suffix(".DTA"))  # fmt: skip
                    return dsc, dta
    return None


def _float(desc: dict[str, str], key: str, path: Path | None = None) -> float | None:
    """The number of header key ``key``: None when absent or not a number; refused when not finite.

    A header number that reads as NaN or infinity (a damaged file) is refused with one line
    naming ``path`` and the key, whatever the key is used for later.

    Examples
    --------
    >>> _float({"MWFQ": "9.4e9"}, "MWFQ")
    9400000000.0
    >>> _float({"AVGS": "NaN"}, "AVGS", Path("x.DSC"))
    Traceback (most recent call last):
    ...
    operando.errors.CorruptFileError: x.DSC: AVGS = 'NaN' is not a finite number
    """
    try:
        value = float(desc[key].split()[0])
    except (KeyError, ValueError, IndexError):
        return None
    if not np.isfinite(value):
        raise CorruptFileError(f"{key} = {desc[key]!r} is not a finite number", path=path)
    return value


def _count_or_none(desc: dict[str, str], key: str, path: Path) -> int | None:
    """A count (``AVGS``, ``JSD``, ``ANZ``): None when absent, else a whole number >= 1 or refused.

    Examples
    --------
    >>> _count_or_none({"AVGS": "4"}, "AVGS", Path("x.DSC"))
    4
    """
    value = _float(desc, key, path)
    if value is None:
        return None
    if value != int(value) or value < 1:
        raise CorruptFileError(f"{key} = {desc[key]!r} is not a whole number >= 1", path=path)
    return int(value)


def _need_int(desc: dict[str, str], key: str, path: Path) -> int:
    if key not in desc:
        raise MissingMetadataError(f"descriptor key {key} is missing", path=path)
    try:
        value = int(desc[key])
    except ValueError:
        raise CorruptFileError(f"{key} = {desc[key]!r} is not a whole number >= 1", path=path) from None
    if value < 1:
        raise CorruptFileError(f"{key} = {desc[key]!r} is not a whole number >= 1", path=path)
    return value


def _axis(
    desc: dict[str, str], axis: str, n: int, dsc: Path, byte_order: Literal["<", ">"]
) -> tuple[npt.NDArray[np.float64], str]:
    """Values of axis ``X``/``Y``/``Z`` and their unit (field axes converted to mT)."""
    kind = desc.get(f"{axis}TYP", "IDX")
    if kind == "IDX":
        lo, width = _float(desc, f"{axis}MIN", dsc), _float(desc, f"{axis}WID", dsc)
        if lo is None or width is None:
            raise MissingMetadataError(f"{axis}MIN/{axis}WID are missing for a linear {axis} axis", path=dsc)
        values = lo + width * np.arange(n, dtype=np.float64) / max(n - 1, 1)
    elif kind == "IGD":
        companion = dsc.with_suffix(f".{axis}GF")
        fmt = _FORMATS.get(desc.get(f"{axis}FMT", "D"))
        if fmt is None:
            raise UnsupportedFormatError(f"{axis}FMT={desc.get(f'{axis}FMT')!r} is not a BES3T number format", path=dsc)
        if not companion.is_file():
            raise MissingMetadataError(f"{axis}TYP IGD needs the axis file {companion.name} beside it", path=dsc)
        values = np.fromfile(companion, dtype=np.dtype(fmt).newbyteorder(byte_order))[:n].astype(np.float64)
        if values.size < n:
            raise CorruptFileError(f"truncated: {values.size} of {axis}PTS={n} axis values", path=companion)
    else:
        raise UnsupportedFormatError(f"{axis}TYP={kind!r} is not supported (IDX or IGD)", path=dsc)
    unit = desc.get(f"{axis}UNI", "")
    if unit in _FIELD_UNITS:
        return values * _FIELD_UNITS[unit], "mT"
    return values, unit


def read_bes3t(path: str | PathLike[str]) -> EPRSpectrum:
    """Read a Bruker BES3T EPR data set (``.DSC`` + ``.DTA``; either path may be given).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.DSC`` descriptor or the ``.DTA`` data file beside it.

    Returns
    -------
    EPRSpectrum

    Raises
    ------
    UnsupportedFormatError
        No BES3T descriptor (``#DESC``) for this path; several components (``IKKF``
        lists), ASCII data, or an axis type other than ``IDX``/``IGD``.
    MissingMetadataError
        A descriptor key the data need (``XPTS``, ``IRFMT``, ...) is absent.
    CorruptFileError
        The ``.DTA`` is missing, or its size disagrees with ``XPTS * YPTS * ZPTS`` points
        of the declared type, or it holds non-finite numbers.
    """
    p = require_file(path, expected="a Bruker BES3T .DSC or .DTA file")
    pair = bes3t_pair(p)
    if pair is None:
        raise UnsupportedFormatError("not a Bruker BES3T file: no .DSC descriptor starting with #DESC", path=p)
    dsc, dta = pair
    desc = parse_dsc(dsc.read_bytes().decode("latin-1"))
    orders: dict[str, Literal["<", ">"]] = {"BIG": ">", "LIT": "<"}
    order = orders.get(desc.get("BSEQ", ""))
    if order is None:
        raise MissingMetadataError(f"BSEQ must be BIG or LIT, got {desc.get('BSEQ')!r}", path=dsc)
    ikkf = desc.get("IKKF", "REAL")
    if "," in ikkf:
        raise UnsupportedFormatError(f"IKKF={ikkf!r}: data sets of several components are not supported", path=dsc)
    if ikkf not in ("REAL", "CPLX"):
        raise UnsupportedFormatError(f"IKKF={ikkf!r} is not REAL or CPLX", path=dsc)
    is_complex = ikkf == "CPLX"
    if "IRFMT" not in desc:
        raise MissingMetadataError("descriptor key IRFMT (data type) is missing", path=dsc)
    code = desc["IRFMT"]
    if is_complex and desc.get("IIFMT", code) != code:
        raise UnsupportedFormatError(f"IRFMT={code} and IIFMT={desc['IIFMT']} differ", path=dsc)
    if code not in _FORMATS:
        raise UnsupportedFormatError(f"IRFMT={code!r} is not a binary BES3T number format (C, S, I, F, D)", path=dsc)
    dtype = np.dtype(_FORMATS[code]).newbyteorder(order)
    nx = _need_int(desc, "XPTS", dsc)
    ny = _need_int(desc, "YPTS", dsc) if desc.get("YTYP", "NODATA") != "NODATA" else 1
    nz = _need_int(desc, "ZPTS", dsc) if desc.get("ZTYP", "NODATA") != "NODATA" else 1
    n_values = nx * ny * nz * (2 if is_complex else 1)
    expected = n_values * dtype.itemsize
    if not dta.is_file():
        raise CorruptFileError(f"the data file is missing (descriptor {dsc.name} promises {expected} bytes)", path=dta)
    size = dta.stat().st_size
    if size != expected:
        what = "truncated" if size < expected else "too long"
        shape = f"XPTS={nx}" + (f" x YPTS={ny}" if ny > 1 else "") + (f" x ZPTS={nz}" if nz > 1 else "")
        raise CorruptFileError(
            f"{what}: {size} bytes, but {shape} {'complex ' if is_complex else ''}points of IRFMT {code} "
            f"({dtype.itemsize} bytes each) need {expected}",
            path=dta,
        )
    raw = np.fromfile(dta, dtype=dtype).astype(np.float64)
    if not np.all(np.isfinite(raw)):
        raise CorruptFileError("non-finite values: byte order (BSEQ) or IRFMT does not match the data", path=dta)
    data: npt.NDArray[Any] = raw[0::2] + 1j * raw[1::2] if is_complex else raw
    data = data.reshape(ny * nz, nx) if ny * nz > 1 else data
    x, x_unit = _axis(desc, "X", nx, dsc, order)
    y: npt.NDArray[np.float64] | None = None
    y_unit = ""
    if ny > 1:
        y, y_unit = _axis(desc, "Y", ny, dsc, order)
        if nz > 1:
            y = np.tile(y, nz)
    power = _float(desc, "MWPW", dsc)
    mod = _float(desc, "B0MA", dsc)
    scans = _count_or_none(desc, "AVGS", dsc)
    meta = EPRMeta(
        path=str(dsc),
        title=desc.get("TITL", ""),
        mw_frequency_Hz=_float(desc, "MWFQ", dsc),
        mw_power_mW=None if power is None else power * 1e3,
        modulation_amplitude_mT=None if mod is None else mod * 1e3,
        modulation_frequency_Hz=_float(desc, "B0MF", dsc),
        scans=scans,
        byte_order=order,
        dtype=dtype.str,
        complex=is_complex,
        x_name=desc.get("XNAM", ""),
        x_unit=x_unit,
        y_name=desc.get("YNAM", "") if ny > 1 else "",
        y_unit=y_unit,
        descriptor=desc,
    )
    return EPRSpectrum(data=data, x=x, y=y, meta=meta)


def winepr_pair(path: str | PathLike[str]) -> tuple[Path, Path] | None:
    """``(par, spc)`` when ``path`` is either file of a WinEPR/ESP pair (``.par`` with ``GST``), else None."""
    p = Path(path)
    if p.suffix.lower() not in (".par", ".spc"):
        return None
    par = next((p.with_suffix(s) for s in (".par", ".PAR") if p.with_suffix(s).is_file()), None)
    if par is None:
        return None
    with par.open("rb") as fh:
        head = fh.read(4096)
    keys = set(parse_par(head.decode("latin-1")))
    spc = next((p.with_suffix(s) for s in (".spc", ".SPC") if p.with_suffix(s).exists()), p.with_suffix(".spc"))
    if not (keys & {"GST", "HCF"}) or not (keys & {"GSI", "HSW"}):
        return None
    if not keys & {"ANZ", "RES"} and not (spc.is_file() and spc.stat().st_size and spc.stat().st_size % 4 == 0):
        return None  # an ESP file without a point count needs its .spc to count the points
    return par, spc


def parse_par(text: str) -> dict[str, str]:
    """``KEY value`` lines of a WinEPR/ESP ``.par`` file (any line ending).

    Examples
    --------
    >>> parse_par("DOS  Format\\rANZ 1024\\rGST 3505.0\\r")
    {'DOS': 'Format', 'ANZ': '1024', 'GST': '3505.0'}
    """
    out: dict[str, str] = {}
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        parts = line.strip().split(None, 1)
        if parts:
            out.setdefault(parts[0], parts[1].strip() if len(parts) > 1 else "")
    return out


def read_winepr(path: str | PathLike[str]) -> EPRSpectrum:
    """Read a Bruker WinEPR/ESP 1D spectrum (``.par`` + ``.spc``; either path may be given).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    EPRSpectrum
        One field-swept spectrum; ``meta.descriptor`` holds the ``.par`` keys.

    Raises
    ------
    UnsupportedFormatError
        No ``.par`` with ``GST`` and ``ANZ``/``RES`` beside the path.
    MissingMetadataError
        No point count, start field or sweep width.
    CorruptFileError
        The ``.spc`` is missing, its size disagrees with the point count, or its values
        disagree with the ``MIN``/``MAX`` the ``.par`` records (wrong number format).
    """
    p = require_file(path, expected="a Bruker WinEPR .par or .spc file")
    pair = winepr_pair(p)
    if pair is None:
        raise UnsupportedFormatError("not a WinEPR/ESP file: no .par beside it with GST and ANZ/RES", path=p)
    par, spc = pair
    desc = parse_par(par.read_bytes().decode("latin-1"))
    dos = "DOS" in desc
    dtype = np.dtype("<f4" if dos else ">i4")
    n: int | None = _count_or_none(desc, "ANZ", par) or _count_or_none(desc, "RES", par)
    if n is None and spc.is_file():
        # ESP-era files (before WinEPR) record no point count: the .spc holds only the points
        n = spc.stat().st_size // dtype.itemsize
    start, width = _float(desc, "GST", par), _float(desc, "GSI", par)
    if start is None or width is None:
        centre, sweep = _float(desc, "HCF", par), _float(desc, "HSW", par)
        if centre is not None and sweep is not None:
            start, width = centre - sweep / 2.0, sweep
    if n is None or start is None or width is None:
        raise MissingMetadataError(
            "the point count (ANZ/RES or the .spc size), the start field and sweep width (GST/GSI or HCF/HSW) are "
            "needed",
            path=par,
        )
    expected = int(n) * dtype.itemsize
    if not spc.is_file():
        raise CorruptFileError(f"the data file is missing ({par.name} promises {expected} bytes)", path=spc)
    if spc.stat().st_size != expected:
        raise CorruptFileError(
            f"{spc.stat().st_size} bytes, but ANZ={int(n)} {dtype.name} points need {expected}", path=spc
        )
    data = np.fromfile(spc, dtype=dtype).astype(np.float64)
    lo, hi = _float(desc, "MIN", par), _float(desc, "MAX", par)
    if not np.all(np.isfinite(data)) or (
        lo is not None
        and hi is not None
        and not np.allclose([data.min(), data.max()], [lo, hi], rtol=1e-4, atol=1e-6 * (hi - lo))
    ):
        raise CorruptFileError(
            f"values disagree with MIN/MAX of {par.name}: the number format ({dtype.str}) is not the stored one",
            path=spc,
        )
    unit = desc.get("JUN", "G")
    scale = _FIELD_UNITS.get(unit, 1.0)
    field_axis = np.linspace(start, start + width, int(n)) * scale
    mf, mp, rma = _float(desc, "MF", par), _float(desc, "MP", par), _float(desc, "RMA", par)
    jsd = _count_or_none(desc, "JSD", par)
    meta = EPRMeta(
        path=str(par),
        title=desc.get("JCO", desc.get("JEX", "")),
        mw_frequency_Hz=None if mf is None else mf * 1e9,
        mw_power_mW=mp,
        modulation_amplitude_mT=None if rma is None else rma * 0.1,
        modulation_frequency_Hz=None,
        scans=jsd,
        byte_order=dtype.str[0],
        dtype=dtype.str,
        complex=False,
        x_name="Field",
        x_unit="mT" if unit in _FIELD_UNITS else unit,
        descriptor=desc,
    )
    return EPRSpectrum(data=data, x=field_axis, y=None, meta=meta)


# --- cw-EPR text exports ------------------------------------------------------------
# cw-EPR spectra exported as text (Magnettech ESR5000/MiniScope, Adani, JEOL, Xenon ASCII export).
#
# Benchtop and non-Bruker spectrometers export a field sweep as delimited text: optional
# ``key: value`` header lines, one line of column names in which the field column carries its
# unit (``B [mT]``, ``Field (G)``, ``Field, mT``, ``B0/T``), then one row per point. The
# intensity is the column named like one (``Intensity``, ``Signal``, ``MW_Absorption``,
# ``dX''/dB``...) or, with two columns, the other one. Decimal commas are read where the
# delimiter is not a comma. The microwave frequency, when a header line gives it
# (``MW Frequency: 9.4312 GHz``, ``Frequency [GHz] = 9.43``), gives the g factor.
#
# A file without such a header (bare numbers) is not taken: which column is the field, and in
# which unit, would be a guess.

_FIELD_NAME = re.compile(r"^(?:magnetic\s*)?(?:field|b0?|h|bfield|b_field|magnetic field)\b", re.IGNORECASE)
_UNIT = re.compile(r"(?:\[|\(|,|/|\s|_|^)\s*(mT|G|Gauss|T|kG)\s*(?:\]|\)|$)")
_UNITS = {"mt": 1.0, "g": 0.1, "gauss": 0.1, "t": 1000.0, "kg": 100.0}
_INTENSITY = re.compile(r"intens|signal|absorp|epr|deriv|ampl|d[xy]|mw_|spectrum|^y\b|counts", re.IGNORECASE)
_FREQ = re.compile(
    r"(?:mw|microwave)?[\s_]*freq\w*\s*(?:\[(GHz|MHz|Hz)\]|\((GHz|MHz|Hz)\))?\s*[:=\t,;]?\s*([0-9]+(?:[.,][0-9]+)?)"
    r"\s*(GHz|MHz|Hz)?",
    re.IGNORECASE,
)
_SCALE_HZ = {"ghz": 1e9, "mhz": 1e6, "hz": 1.0}


def _split(line: str) -> tuple[list[str], str]:
    for delim in ("\t", ";", ","):
        if delim in line:
            return [c.strip().strip('"') for c in line.split(delim)], delim
    return line.split(), " "


def _number(text: str, delim: str) -> float:
    return float(text.replace(",", ".") if delim != "," else text)


def _field_unit(name: str) -> float | None:
    """mT per unit of a field column's name (``B [mT]`` -> 1.0, ``Field (G)`` -> 0.1), else None."""
    if not _FIELD_NAME.match(name.strip()):
        return None
    m = _UNIT.search(name.strip()[1:]) or _UNIT.search(name)
    return _UNITS[m.group(1).lower()] if m else None


def parse_epr_text(text: str) -> tuple[dict[str, str], list[str], list[list[str]], str] | None:
    """Split an EPR text export into header lines, column names, data rows and the delimiter.

    Returns None when no line of column names with a field column (and unit) precedes the
    numeric rows.

    Examples
    --------
    >>> head, names, rows, delim = parse_epr_text("MW Frequency: 9.43 GHz\\nB [mT];Intensity\\n335,1;0,5\\n")
    >>> names, rows, delim
    (['B [mT]', 'Intensity'], [['335,1', '0,5']], ';')
    """
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    header: dict[str, str] = {}
    names: list[str] | None = None
    delim = " "
    rows: list[list[str]] = []
    for line in lines:
        if not line:
            continue
        if names is None:
            cells, d = _split(line.lstrip("#%;/").strip())
            if len(cells) >= 2 and any(_field_unit(c) is not None for c in cells):
                names, delim = cells, d
            else:
                header[line] = line
            continue
        rows.append([c.strip().strip('"') for c in line.split(delim)] if delim != " " else line.split())
    if names is None:
        return None
    return header, names, rows, delim


def sniff_epr_text(head: bytes, path: Path) -> bool:
    """A text export with a field column (and unit) and at least one numeric row in its first bytes."""
    if not head or b"\0" in head[:4096]:
        return False
    parsed = parse_epr_text(head.decode("latin-1"))
    if parsed is None or not parsed[2]:
        return False
    _, names, rows, delim = parsed
    try:
        [_number(c, delim) for c in rows[0][: len(names)]]
    except ValueError:
        return False
    return True


def read_epr_text(path: str | PathLike[str]) -> EPRSpectrum:
    """Read a cw-EPR text export (see the module notes) as an :class:`~operando.nmr.io._epr.EPRSpectrum`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    EPRSpectrum
        One row; the field in mT (ascending as written).

    Raises
    ------
    UnsupportedFormatError
        No column names with a field column and its unit, or no intensity column to choose.
    CorruptFileError
        A row that is not numbers or has fewer cells than the names, or fewer than 8 points.
    """
    p = require_file(path, expected="an EPR text export")
    parsed = parse_epr_text(p.read_bytes().decode("latin-1"))
    if parsed is None:
        raise UnsupportedFormatError(
            "not an EPR text export: no line of column names with a field column and its unit (e.g. 'B [mT]')",
            path=p,
        )
    header, names, rows, delim = parsed
    fcol = next(i for i, n in enumerate(names) if _field_unit(n) is not None)
    others = [i for i in range(len(names)) if i != fcol]
    named = [i for i in others if _INTENSITY.search(names[i])]
    if len(named) >= 1:
        icol = named[0]
    elif len(others) == 1:
        icol = others[0]
    else:
        raise UnsupportedFormatError(f"which column is the intensity? none of {names} is named like one", path=p)
    values = []
    for k, cells in enumerate(rows):
        try:
            values.append((_number(cells[fcol], delim), _number(cells[icol], delim)))
        except (ValueError, IndexError):
            raise CorruptFileError(
                f"data row {k + 1} ({delim.join(cells)[:60]!r}) does not hold numbers in columns "
                f"{names[fcol]!r} and {names[icol]!r}",
                path=p,
            ) from None
    if len(values) < 8:
        raise CorruptFileError(f"{len(values)} data rows: too few for a spectrum", path=p)
    data = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(data)):
        raise CorruptFileError("non-finite values in the field or intensity column", path=p)
    field = data[:, 0] * (_field_unit(names[fcol]) or 1.0)
    if np.any(np.diff(field) == 0) or not (np.all(np.diff(field) > 0) or np.all(np.diff(field) < 0)):
        raise CorruptFileError(f"the field column {names[fcol]!r} does not rise (or fall) steadily", path=p)
    order = np.argsort(field)
    frequency = None
    for line in header:
        m = _FREQ.search(line)
        if m and re.search(r"freq", line, re.IGNORECASE) and not re.search(r"modul", line, re.IGNORECASE):
            unit = (m.group(1) or m.group(2) or m.group(4) or "GHz").lower()
            frequency = float(m.group(3).replace(",", ".")) * _SCALE_HZ[unit]
            break
    meta = EPRMeta(
        path=str(p), title=p.stem, mw_frequency_Hz=frequency, mw_power_mW=None, modulation_amplitude_mT=None,
        modulation_frequency_Hz=None, scans=None, byte_order="", dtype="text", complex=False, x_name="Field",
        x_unit="mT", y_name=names[icol], descriptor={k: v for k, v in header.items()},
    )  # fmt: skip
    return EPRSpectrum(data=data[order, 1], x=field[order], y=None, meta=meta)


def read_epr(path: str | PathLike[str]) -> EPRSpectrum:
    """Read a cw-EPR spectrum by content: Bruker BES3T (``.DSC``/``.DTA``), WinEPR/ESP (``.par``/``.spc``), or a
    text export with a field column (Magnettech, Adani, JEOL: :func:`read_epr_text`).

    Raises
    ------
    UnsupportedFormatError
        Neither a BES3T descriptor nor a WinEPR parameter file belongs to ``path``.
    """
    p = require_file(path, expected="a Bruker EPR file (.DSC/.DTA or .par/.spc)")
    if bes3t_pair(p) is not None:
        return read_bes3t(p)
    if winepr_pair(p) is not None:
        return read_winepr(p)
    with p.open("rb") as fh:
        head = fh.read(65536)
    if sniff_epr_text(head, p):
        return read_epr_text(p)
    raise UnsupportedFormatError(
        "not a Bruker EPR file (no BES3T descriptor .DSC starting with #DESC, no WinEPR .par beside it) nor a "
        "cw-EPR text export with a field column and its unit (e.g. 'B [mT]')",
        path=p,
    )
