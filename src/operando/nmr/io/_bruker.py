"""Bruker TopSpin / XWIN-NMR readers (through nmrglue): raw ``fid``/``ser`` and processed ``pdata``.

Readers only read: they check that the folder holds what ``acqus`` promises (size, byte
order, data type) and return arrays plus a typed metadata record; they never process.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from operando.errors import CorruptFileError, MissingMetadataError, UnsupportedFormatError

__all__ = [
    "MIN_MAS_HZ",
    "NMRFID",
    "BrukerFID",
    "BrukerMeta",
    "BrukerProcessed",
    "NMRMeta",
    "p1_factor",
    "read_bruker",
    "read_bruker_processed",
]

#: Slowest spinning taken for MAS (sideband windows); liquid spinners turn at about 20 Hz.
MIN_MAS_HZ = 1000.0

_DTYPES: dict[int, tuple[np.dtype[Any], str]] = {0: (np.dtype("i4"), "int32"), 2: (np.dtype("f8"), "float64")}


@dataclass(frozen=True)
class NMRMeta:
    """Acquisition parameters that processing needs (Bruker ``acqus``; Varian ``procpar``, see
    :func:`operando.nmr.read_varian` for the mapping). Named after TopSpin's parameters.

    Attributes
    ----------
    path : str
        The experiment folder.
    nucleus : str
        ``NUC1``, e.g. ``"7Li"``.
    sfo1_MHz, bf1_MHz : float
        Transmitter and basic frequency, MHz.
    o1_Hz : float
        Transmitter offset from ``BF1``, Hz.
    sw_Hz : float
        Spectral width ``SW_h``, Hz (the complex sampling rate).
    td : int
        ``TD``: number of stored real points per FID (complex points = ``td // 2``).
    group_delay : float
        Digital-filter delay in complex points: ``GRPDLY``, or for pre-TopSpin data
        (``DSPFVS`` < 20, no ``GRPDLY``) the DECIM/DSPFVS table value nmrglue knows.
    nc : int
        ``NC``: the FID's intensity is ``stored * 2**NC``.
    ns : int
        Number of scans.
    title : str
        Software line of ``acqus`` (``##TITLE``).
    pulse_program : str
        ``PULPROG``.
    reference_MHz : float
        ``SF`` from ``pdata/1/procs`` when present (the referenced 0 ppm), else ``BF1``.
    processing : dict
        Processing parameters (``procs``; for Varian ``SI``/``LB``/``WDW`` from ``fn``/``lb``).
    vendor : str
        ``"Bruker"`` or ``"Varian"``.
    rg : float
        Receiver gain as a linear factor on the FID (Bruker ``RG``; Varian ``10**(gain/20)``).
    pulse_us : float or None
        Excitation pulse length, microseconds: Bruker ``P1`` times the factor the pulse
        program puts on it (0.33 for ``zg30`` and the other 30-degree programs,
        :func:`p1_factor`), Varian ``pw``.
    recycle_s : float or None
        Recycle delay (Bruker ``D1``, Varian ``d1``), s.
    spin_rate_Hz : float or None
        MAS rate: ``MASR``, else ``CNST31`` (the usual MAS constant of solid-state pulse
        programs); Varian ``srate``. None when not recorded or below 1 kHz (a liquid
        sample's spinner, about 20 Hz, makes no sidebands worth a window).
    dspfvs : int or None
        Bruker ``DSPFVS``: below 20 the data are pre-TopSpin (XWIN-NMR era).
    phase_offset_deg : float
        Zero-order phase the spectrometer's own processing adds to ``PHC0``: for pre-TopSpin
        digitally filtered data (``DSPFVS`` < 20), XWIN-NMR removes the filter's delay as a
        phase ramp pivoted on the first point, i.e. ``180 * group_delay`` degrees more than a
        shift in time pivoted on the carrier; 0 otherwise.
    p90_us : float or None
        The 90-degree pulse when the file records it (Varian ``pw90``); Bruker ``acqus``
        does not.
    aq_mod : int or None
        Bruker ``AQ_mod`` (1 qsim, 2 qseq, 3 DQD); qseq data are converted on reading to
        complex points at ``1 / SW_h`` (:func:`operando.nmr.io._qseq.qseq_to_complex`).
    """

    path: str
    nucleus: str
    sfo1_MHz: float
    bf1_MHz: float
    o1_Hz: float
    sw_Hz: float
    td: int
    group_delay: float
    nc: int
    ns: int
    title: str
    pulse_program: str
    reference_MHz: float
    processing: dict[str, Any] = field(default_factory=dict, repr=False)
    vendor: str = "Bruker"
    rg: float = 1.0
    pulse_us: float | None = None
    recycle_s: float | None = None
    spin_rate_Hz: float | None = None
    dspfvs: int | None = None
    phase_offset_deg: float = 0.0
    p90_us: float | None = None
    aq_mod: int | None = None

    @property
    def dwell_s(self) -> float:
        """Time between two complex points, ``1 / SW_h``, s."""
        return 1.0 / self.sw_Hz

    @property
    def acquisition_s(self) -> float:
        """Acquisition time ``AQ = TD / 2 / SW_h``, s."""
        return (self.td // 2) / self.sw_Hz


@dataclass(frozen=True)
class NMRFID:
    """Raw time-domain data of one experiment.

    Attributes
    ----------
    data : (M, N) ndarray of complex128
        ``M`` FIDs (1 for a 1D experiment; rows of a pseudo-2D ``ser`` or arrayed Varian
        ``fid``) of ``N = TD // 2`` complex points in stored units (multiply by
        ``2**meta.nc`` for the intensity), in TopSpin's sign convention (a line above
        the carrier rotates as ``exp(+2i pi f t)``).
    meta : NMRMeta
    acqus : dict
        All acquisition parameters as nmrglue reads them: Bruker ``acqus``, or Varian
        ``procpar`` reduced to ``name -> first value`` (text).
    """

    data: npt.NDArray[np.complex128]
    meta: NMRMeta
    acqus: dict[str, Any]


#: Names kept for existing callers (the classes hold Varian data too).
BrukerMeta = NMRMeta
BrukerFID = NMRFID


@dataclass(frozen=True)
class BrukerProcessed:
    """TopSpin's processed real spectrum (``1r`` or ``2rr``).

    Attributes
    ----------
    data : (M, K) ndarray of float64
        Intensity ``stored * 2**NC_proc`` (``M`` = 1 for ``1r``).
    ppm : (K,) ndarray of float64
        Chemical shift of each point, ppm, decreasing (``OFFSET - i * SW_p / SF / SI``).
    procs : dict
        All ``procs`` parameters.
    path : str
        The ``pdata/N`` folder.
    region : (int, int) or None
        ``(STSR, STSI)`` when the file holds only a stored region of the ``SI``-point
        spectrum (``K = STSI``): compare it with points ``STSR .. STSR + STSI - 1`` of a
        full spectrum (:meth:`full_slice`); None for the whole spectrum.
    """

    data: npt.NDArray[np.float64]
    ppm: npt.NDArray[np.float64]
    procs: dict[str, Any]
    path: str
    region: tuple[int, int] | None = None

    def full_slice(self) -> slice:
        """The points of the full ``SI``-point spectrum this file holds.

        Examples
        --------
        >>> BrukerProcessed(np.zeros((1, 4)), np.zeros(4), {}, "", region=(10, 4)).full_slice()
        slice(10, 14, None)
        """
        if self.region is None:
            return slice(0, self.data.shape[-1])
        return slice(self.region[0], self.region[0] + self.region[1])


def _read_jcamp(path: Path) -> dict[str, Any]:
    import nmrglue as ng

    # nmrglue's parser never returns on a file cut inside a value or padded with NUL bytes
    # (a disk-full copy, a zeroed block): such a file ends without its ##END= line
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorruptFileError(f"cannot read the JCAMP-DX parameters ({exc.strerror})", path=path) from exc
    if b"\0" in raw:
        raise CorruptFileError("the JCAMP-DX parameters hold NUL bytes (a damaged or zeroed block)", path=path)
    if b"##END=" not in raw:
        raise CorruptFileError("the JCAMP-DX parameters end without ##END= (the file is cut short)", path=path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # nmrglue warns on unknown JCAMP lines
            params: dict[str, Any] = ng.bruker.read_jcamp(str(path))
    except (OSError, UnicodeDecodeError, ValueError, IndexError) as exc:
        raise CorruptFileError(f"cannot parse the JCAMP-DX parameters ({exc})", path=path) from exc
    return params


def _need(params: dict[str, Any], key: str, path: Path) -> Any:
    if key not in params:
        raise MissingMetadataError(f"parameter {key} is missing", path=path)
    return params[key]


def _num(params: dict[str, Any], key: str, path: Path, default: float | None = None) -> float:
    """A finite number from a JCAMP parameter (``default`` when absent); a damaged value is one error."""
    if key not in params:
        if default is None:
            raise MissingMetadataError(f"parameter {key} is missing", path=path)
        return default
    value = params[key]
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CorruptFileError(f"parameter {key} = {value!r} is not a number", path=path) from None
    if not np.isfinite(number):
        raise CorruptFileError(f"parameter {key} = {value!r} is not a finite number", path=path)
    return number


def _list_value(params: dict[str, Any], key: str, index: int) -> float | None:
    """Element ``index`` of an array parameter (``P``, ``D``, ``CNST``), None when absent or not numeric."""
    values = params.get(key)
    if not isinstance(values, list) or len(values) <= index:
        return None
    try:
        number = float(values[index])
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def read_bruker(path: str | PathLike[str]) -> NMRFID:
    """Read the raw FID (``fid``) or serial file (``ser``) of a Bruker experiment folder.

    Parameters
    ----------
    path : str or os.PathLike
        Experiment folder (``.../<name>/<expno>``) holding ``acqus`` and ``fid`` or ``ser``.

    Returns
    -------
    NMRFID

    Notes
    -----
    Sequential-quadrature data (``AQ_mod`` 2, qseq: ``TD`` real points one ``1 / (2 SW_h)``
    apart, the two channels alternately) are returned as ``TD // 2`` complex points at
    ``1 / SW_h`` (:mod:`operando.nmr.io._qseq`), so that they process like DQD data.

    Raises
    ------
    UnsupportedFormatError
        Not a folder, or an empty one, or a folder with neither ``acqus`` nor ``fid``/``ser``;
        single-channel data (``AQ_mod`` 0, qf) or an unknown ``AQ_mod``.
    MissingMetadataError
        ``acqus`` lacks a parameter needed to read the data.
    CorruptFileError
        The data file is shorter than ``TD`` promises, does not hold whole points of the
        data type ``DTYPA`` names, or its byte order disagrees with ``BYTORDA``.
    """
    import nmrglue as ng

    folder = Path(path)
    if not folder.is_dir():
        raise UnsupportedFormatError("not a Bruker experiment folder (expected a directory)", path=folder)
    if not any(folder.iterdir()):
        raise UnsupportedFormatError("empty folder: no acqus and no fid/ser", path=folder)
    acqus_path = folder / "acqus"
    if not acqus_path.is_file():
        raise MissingMetadataError("no acqus file: acquisition parameters are missing", path=acqus_path)
    data_path = folder / "fid" if (folder / "fid").is_file() else folder / "ser"
    if not data_path.is_file():
        raise UnsupportedFormatError("no fid or ser file beside acqus", path=folder / "fid")
    acqus = _read_jcamp(acqus_path)
    td_value = _num(acqus, "TD", acqus_path)
    if td_value != int(td_value):
        raise CorruptFileError(f"parameter TD = {acqus['TD']!r} is not a whole number of points", path=acqus_path)
    td = int(td_value)
    _refuse_2d(folder, acqus)
    aq_mod = int(_num(acqus, "AQ_mod", acqus_path, 1.0))
    if aq_mod == 0:
        # qf: one channel, real points at twice the rate; where TopSpin puts the carrier
        # (which edge of the window) is not documented here, so it is not guessed
        raise UnsupportedFormatError(
            "AQ_mod=0, qf (single channel): single-channel real data are not read (only AQ_mod 1 qsim, "
            "2 qseq and 3 DQD)",
            path=acqus_path,
        )
    if aq_mod not in (1, 2, 3):
        raise UnsupportedFormatError(f"AQ_mod={aq_mod} is not an acquisition mode (0 qf .. 3 DQD)", path=acqus_path)
    dtypa = int(_num(acqus, "DTYPA", acqus_path, 0.0))
    if dtypa not in _DTYPES:
        raise UnsupportedFormatError(f"data type DTYPA={dtypa} is not int32 (0) or float64 (2)", path=acqus_path)
    dtype, dname = _DTYPES[dtypa]
    big = int(_num(acqus, "BYTORDA", acqus_path, 0.0)) == 1
    size = data_path.stat().st_size
    if td < 2 or size < td * dtype.itemsize:
        raise CorruptFileError(
            f"truncated: {size} bytes hold fewer than TD={td} {dname} points ({td * dtype.itemsize} bytes)",
            path=data_path,
        )
    if size % dtype.itemsize:
        raise CorruptFileError(f"{size} bytes are not whole {dname} points (DTYPA={dtypa})", path=data_path)
    _check_byte_order(data_path, dtype, big, dtypa)

    dic = {"acqus": acqus}
    rows = 1
    if data_path.name == "ser":
        acqu2s = folder / "acqu2s"
        if acqu2s.is_file():
            dic["acqu2s"] = _read_jcamp(acqu2s)
            rows = int(dic["acqu2s"].get("TD", 1))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            _, raw = ng.bruker.read(str(folder), read_pulseprogram=False)
    except (OSError, ValueError, IndexError) as exc:
        raise CorruptFileError(f"nmrglue cannot read the data ({exc})", path=data_path) from exc
    if aq_mod == 2:  # qseq: TD real points, the two channels one DW apart (see _qseq)
        from operando.nmr.io._qseq import qseq_to_complex

        real = np.asarray(raw).real.astype(np.float64).reshape(-1, raw.shape[-1])[:, :td]
        if real.shape[-1] < td:
            raise CorruptFileError(f"truncated: {real.shape[-1]} of TD={td} points present", path=data_path)
        data = qseq_to_complex(real)
    else:
        data = np.asarray(raw, dtype=np.complex128).reshape(-1, raw.shape[-1])[:, : td // 2]
    if data.shape[0] < rows:
        raise CorruptFileError(f"truncated: {data.shape[0]} of {rows} FIDs present", path=data_path)
    if not np.all(np.isfinite(data)):
        raise CorruptFileError("non-finite values: data type or byte order does not match acqus", path=data_path)

    sfo1 = _num(acqus, "SFO1", acqus_path)
    sw = _num(acqus, "SW_h", acqus_path)
    if not (sfo1 > 0 and sw > 0):
        raise CorruptFileError(f"SFO1 = {sfo1} MHz and SW_h = {sw} Hz must be positive", path=acqus_path)
    bf1 = _num(acqus, "BF1", acqus_path, sfo1)
    reference = bf1
    procs: dict[str, Any] = {}
    procs_path = folder / "pdata" / "1" / "procs"
    if procs_path.is_file():
        procs = _read_jcamp(procs_path)
        reference = _num(procs, "SF", procs_path, reference)
    ns = int(_num(acqus, "NS", acqus_path, 1.0))
    rg = _num(acqus, "RG", acqus_path, 1.0)
    group_delay = _group_delay(acqus, acqus_path, data)
    dspfvs = int(_num(acqus, "DSPFVS", acqus_path, 0.0)) if "DSPFVS" in acqus else None
    pre_topspin = dspfvs is not None and dspfvs < 20 and int(_num(acqus, "DIGMOD", acqus_path, 1.0)) != 0
    masr = _num(acqus, "MASR", acqus_path, 0.0)
    spin = masr if masr > 0 else _list_value(acqus, "CNST", 31)
    meta = NMRMeta(
        path=str(folder),
        nucleus=str(acqus.get("NUC1", "")).strip("<>"),
        sfo1_MHz=sfo1,
        bf1_MHz=bf1,
        o1_Hz=_num(acqus, "O1", acqus_path, 0.0),
        sw_Hz=sw,
        td=td,
        group_delay=group_delay,
        nc=int(_num(acqus, "NC", acqus_path, 0.0)),
        ns=ns,
        title=_title(acqus_path),
        pulse_program=str(acqus.get("PULPROG", "")).strip("<>"),
        reference_MHz=reference,
        processing=procs,
        rg=rg,
        pulse_us=_excitation_pulse(acqus, folder),
        recycle_s=_list_value(acqus, "D", 1),
        spin_rate_Hz=spin if spin is not None and spin >= MIN_MAS_HZ else None,
        dspfvs=dspfvs,
        phase_offset_deg=(180.0 * group_delay) % 360.0 if pre_topspin and group_delay > 0 else 0.0,
        aq_mod=aq_mod,
    )
    return NMRFID(data=data, meta=meta, acqus=acqus)


#: Pulse programs of pseudo-2D series (one 1D spectrum per row): relaxation, diffusion, nutation.
_PSEUDO_2D = ("satrec", "invrec", "t1", "t2", "cpmg", "ledbp", "stebp", "dstebp", "diff", "dosy", "nut", "vd", "vc")
#: Pulse programs of true 2D experiments (both dimensions frequencies).
_TRUE_2D = ("cosy", "noesy", "roesy", "tocsy", "hsqc", "hmqc", "hmbc", "hetcor", "inadequate", "exsy", "mqmas",
            "stmas", "dqsq", "pdsd", "darr", "rfdr", "radar", "jres")  # fmt: skip
#: Files that list the varied parameter of a pseudo-2D series.
_LISTS = ("vdlist", "vclist", "vplist", "vtlist", "difflist", "fq1list", "valist", "vdlist.txt")


def _refuse_2d(folder: Path, acqus: dict[str, Any]) -> None:
    """Refuse a true 2D experiment (a pseudo-2D series of 1D spectra passes).

    A ``ser`` with ``acqu2s`` is a true 2D when its indirect dimension is frequency-encoded:
    ``FnMODE`` (TopSpin) 2..6 (QSEQ, TPPI, States, States-TPPI, Echo-Antiecho) or XWIN-NMR's
    ``MC2`` 1..5 in ``proc2s``, or a 2D pulse program (cosy, noesy, hsqc, mqmas, ...), and
    no list file or pulse program marks a series (vdlist, satrec, ...).
    """
    acqu2s = folder / "acqu2s"
    if not ((folder / "ser").is_file() and not (folder / "fid").is_file() and acqu2s.is_file()):
        return
    if any((folder / name).is_file() for name in _LISTS):
        return
    pulprog = str(acqus.get("PULPROG", "")).strip("<>").lower()
    if any(key in pulprog for key in _PSEUDO_2D):
        return
    f1 = _read_jcamp(acqu2s)
    try:
        fnmode = int(float(f1.get("FnMODE", 0)))
    except (TypeError, ValueError):
        return
    if fnmode == 0 and (folder / "pdata" / "1" / "proc2s").is_file():
        # XWIN-NMR records the indirect acquisition mode only as MC2 (0 QF, 1 QSEQ, 2 TPPI, 3 States, ...)
        try:
            fnmode = int(float(_read_jcamp(folder / "pdata" / "1" / "proc2s").get("MC2", -1))) + 1
        except (TypeError, ValueError):
            fnmode = 0
    # (acqu2s SFO1 tells nothing: a 29Si pseudo-2D here records the 1H frequency there)
    named = any(key in pulprog for key in _TRUE_2D)
    if fnmode in (2, 3, 4, 5, 6) or named:
        raise UnsupportedFormatError(
            f"a true 2D experiment ({pulprog or 'unknown pulse program'}, FnMODE={fnmode}): "
            "only 1D spectra and pseudo-2D series are processed",
            path=folder / "ser",
        )


def _check_byte_order(path: Path, dtype: np.dtype[Any], big: bool, dtypa: int) -> None:
    """Refuse data whose magnitudes say the byte order in acqus is the wrong one."""
    n = min(path.stat().st_size // dtype.itemsize, 65536)
    raw = np.fromfile(path, dtype=dtype.newbyteorder(">" if big else "<"), count=n)
    swapped = raw.byteswap()  # same dtype, bytes reversed: the other byte order's values
    if dtypa == 0:
        a, b = np.abs(raw.astype(np.float64)), np.abs(swapped.astype(np.float64))
        nz = (a > 0) & (b > 0)
        if nz.sum() < 8:
            return
        # a wrong order puts the noisy low-order byte on top: typical values need ~30 bits
        bits_a, bits_b = np.median(np.log2(a[nz])), np.median(np.log2(b[nz]))
        if bits_a > 24 and bits_a > bits_b + 4:
            order = "big" if big else "little"
            raise CorruptFileError(f"byte order does not match BYTORDA ({order}-endian in acqus)", path=path)
    else:
        with np.errstate(all="ignore"):
            bad = ~np.isfinite(raw) | (np.abs(raw) > 1e100) | ((raw != 0) & (np.abs(raw) < 1e-100))
        if bad.mean() > 0.01:
            raise CorruptFileError(
                "float64 values are implausible: byte order or data type does not match acqus", path=path
            )


#: A pulse statement of ``p1`` times a factor in a pulse program (``p1*0.33 ph1``, ``(p1*0.33 ph1):f1``).
_P1_SCALED = re.compile(r"^\s*\(?\s*p1\s*\*\s*([0-9]*\.?[0-9]+)\s*(?::\w+\s*)?ph\d", re.IGNORECASE)
#: A pulse statement of ``p1`` itself (``p1 ph1``, ``(p1 ph1):f1``).
_P1_PLAIN = re.compile(r"^\s*\(?\s*p1\s*(?::\w+\s*)?ph\d", re.IGNORECASE)


def p1_factor(pulse_program_text: str | None, pulprog: str) -> float:
    """The factor on ``P1`` of the excitation pulse a pulse program applies.

    Bruker's 30-degree programs (``zg30``, ``zgpg30``, ``zgig30``, ...) pulse ``p1*0.33``
    with ``P1`` the 90-degree pulse; ``zg`` and solid-state ``onepulse``/``hpdec`` pulse
    ``p1``. The program TopSpin copies beside the data (``pulseprogram``) decides when it
    holds one ``p1*F`` pulse statement and no plain ``p1`` one; without that file, the name
    does (``zg...30`` gives 0.33); else 1.

    Parameters
    ----------
    pulse_program_text : str or None
        The ``pulseprogram`` file's text (``;`` starts a comment).
    pulprog : str
        ``PULPROG``.

    Returns
    -------
    float

    Examples
    --------
    >>> p1_factor("1 ze\\n2 d1\\n  p1*0.33 ph1   ; 30 degrees\\n  go=2 ph31", "zg30")
    0.33
    >>> p1_factor(None, "zgpg30"), p1_factor(None, "zg"), p1_factor("  (p1 ph1):f1", "myprog30")
    (0.33, 1.0, 1.0)
    """
    if pulse_program_text is not None:
        code = [line.split(";", 1)[0] for line in pulse_program_text.splitlines()]
        factors = {float(m.group(1)) for line in code if (m := _P1_SCALED.match(line))}
        plain = any(_P1_PLAIN.match(line) for line in code)
        if len(factors) == 1 and not plain:
            return factors.pop()
        if factors or plain:
            return 1.0
    return 0.33 if re.fullmatch(r"zg\w*30", pulprog.strip().lower()) else 1.0


def _excitation_pulse(acqus: dict[str, Any], folder: Path) -> float | None:
    """The excitation pulse, us: ``P1`` times :func:`p1_factor` of the pulse program; None without ``P1``."""
    p1 = _list_value(acqus, "P", 1)
    if p1 is None:
        return None
    text = None
    program = folder / "pulseprogram"
    if program.is_file():
        try:
            text = program.read_bytes().decode("latin-1")
        except OSError:
            text = None
    return p1 * p1_factor(text, str(acqus.get("PULPROG", "")).strip("<>"))


def _title(path: Path) -> str:
    with path.open("rb") as fh:
        first = fh.readline().decode("latin-1").strip()
    return first.removeprefix("##TITLE=").strip()


def _group_delay(acqus: dict[str, Any], path: Path, fid: npt.NDArray[np.complex128]) -> float:
    """The digital-filter delay (complex points) ``acqus`` gives; warns when no table knows it.

    For a pair no table knows (``DSPFVS`` 0 with a ``DECIM``, as simulation programs and
    pre-DMX consoles write) the FID itself decides whether there is a filter: a filtered
    FID rises over its first tens of points (the pre-echo), an unfiltered one starts at
    its largest point.
    """
    from operando.nmr.io._dsp import digital_filter_delay

    def opt(key: str) -> float | None:
        return _num(acqus, key, path) if key in acqus else None  # NaN/inf refused naming the key

    dspfvs, decim = opt("DSPFVS"), opt("DECIM")
    delay, source = digital_filter_delay(dspfvs=dspfvs, decim=decim, grpdly=opt("GRPDLY"), digmod=opt("DIGMOD"))
    if source == "unknown" and fid.size and int(np.argmax(np.abs(fid[0]))) > 2:
        warnings.warn(
            f"{path}: no digital-filter group delay for DSPFVS={acqus.get('DSPFVS')} DECIM={acqus.get('DECIM')} "
            "(no GRPDLY, not in the DSPFVS 10-13 table): the spectrum keeps a first-order phase error; "
            "use --phase auto or give PHC1",
            stacklevel=3,
        )
    return delay


def read_bruker_processed(path: str | PathLike[str], procno: int = 1) -> BrukerProcessed:
    """Read TopSpin's processed real spectrum ``pdata/<procno>/1r`` (or ``2rr``) and its ppm axis.

    Parameters
    ----------
    path : str or os.PathLike
        Experiment folder, or the ``pdata/<procno>`` folder itself.
    procno : int, default 1
        Processing number when ``path`` is the experiment folder.

    Returns
    -------
    BrukerProcessed
    """
    import nmrglue as ng

    folder = Path(path)
    if folder.parent.name != "pdata":
        folder = folder / "pdata" / str(procno)
    procs_path = folder / "procs"
    if not procs_path.is_file():
        raise MissingMetadataError("no procs file: processing parameters are missing", path=procs_path)
    procs = _read_jcamp(procs_path)
    names = ["1r"] if (folder / "1r").is_file() else ["2rr"] if (folder / "2rr").is_file() else []
    if not names:
        raise UnsupportedFormatError("no processed real data (1r or 2rr) in this folder", path=folder)
    si = int(_need(procs, "SI", procs_path))
    # STSR/STSI: TopSpin may store only a region of the spectrum, STSI points from point
    # STSR of the SI-point spectrum (0 or SI for the whole); OFFSET is then the ppm of the
    # region's first point, the point spacing stays SW_p / SI
    stsr, stsi = int(_num(procs, "STSR", procs_path, 0.0)), int(_num(procs, "STSI", procs_path, 0.0))
    region = (stsr, stsi) if 0 < stsi < si else None
    if region is not None and not (stsr >= 0 and stsr + stsi <= si):
        raise CorruptFileError(f"stored region STSR={stsr}, STSI={stsi} lies outside SI={si}", path=procs_path)
    points = stsi if region is not None else si
    expected = points * 4  # at least one row of int32
    size = (folder / names[0]).stat().st_size
    if size < expected:
        what = f"STSI={stsi}" if region is not None else f"SI={si}"
        raise CorruptFileError(f"truncated: {size} bytes, {what} needs {expected}", path=folder / names[0])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            _, raw = ng.bruker.read_pdata(str(folder), bin_files=names, scale_data=True, all_components=False)
    except (OSError, ValueError, IndexError) as exc:
        raise CorruptFileError(f"nmrglue cannot read the processed data ({exc})", path=folder / names[0]) from exc
    raw = np.asarray(raw, dtype=np.float64)
    if raw.size % points:
        raise CorruptFileError(f"{raw.size} values are not whole rows of {points} points", path=folder / names[0])
    data = raw.reshape(-1, points)
    sw = float(_need(procs, "SW_p", procs_path))
    sf = float(_need(procs, "SF", procs_path))
    offset = float(_need(procs, "OFFSET", procs_path))
    from operando.nmr._process import ppm_axis_processed

    ppm = ppm_axis_processed(si, offset_ppm=offset, sw_Hz=sw, sf_MHz=sf)[:points]
    return BrukerProcessed(data=data, ppm=ppm, procs=procs, path=str(folder), region=region)
