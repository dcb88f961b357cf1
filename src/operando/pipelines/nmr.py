"""NMR and cw-EPR workflows over files: read, process, integrate, write.

What the ``operando nmr`` commands run: :func:`process_spectrum` (one Bruker or Varian
dataset to a phased, referenced spectrum with window integrals) and
:func:`write_spectrum`; :func:`isotope_fractions` (6Li atomic fractions of several samples
from their 6Li/7Li spectrum pairs, one measurement task per sample through
:func:`operando.parallel.map_measurements`), :func:`reference_factor` and
:func:`write_isotopes`; :func:`tracer_table` (the tracer-exchange model to CSV);
:func:`epr_lines` (cw-EPR line widths, g factors and double integrals).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from operando.errors import ParameterError
from operando.nmr import (
    NMRFID,
    classify_dendrite,
    double_integral,
    fit_dysonian,
    fit_lines,
    g_factor,
    hz_matched_window,
    integrate,
    isotopes_dataset,
    li6_fraction,
    line_integral,
    mechanism2_share,
    noise_std,
    peak_to_peak,
    process,
    read_epr,
    read_fid,
    robust_noise,
    sensitivity_factor,
    tracer_exchange,
    window_mask,
)
from operando.parallel import map_measurements

__all__ = [
    "Acquisition",
    "IsotopeFraction",
    "LineFit",
    "Mechanism",
    "ProcessedSpectrum",
    "Replicates",
    "detection_limit",
    "epr_lines",
    "fit_spectrum",
    "isotope_fraction",
    "isotope_fractions",
    "isotope_spectra",
    "lines_dataset",
    "mechanism",
    "normalised_integral",
    "nucleus_name",
    "pair_integrals",
    "process_spectrum",
    "reference_factor",
    "replicate_statistics",
    "sample_name",
    "sample_names",
    "tracer_table",
    "write_isotopes",
    "write_lines",
    "write_spectrum",
    "write_table",
]

Window = tuple[float, float]


def _mode(phase: str) -> Literal["manual", "auto"]:
    return "auto" if phase == "auto" else "manual"


def write_table(frame: pd.DataFrame, out: str | PathLike[str], **kwargs: Any) -> Path:
    """Write ``frame`` as CSV without its index, atomically (a temporary file renamed over ``out``).

    ``kwargs`` go to :meth:`pandas.DataFrame.to_csv` (e.g. ``float_format="%.17g"``).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_table(pd.DataFrame({"a": [1.5]}), folder / "t.csv").read_text().split()
    ['a', '1.5']
    """
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    frame.to_csv(tmp, index=False, **kwargs)
    tmp.replace(target)
    return target


# -- tracer exchange ----------------------------------------------------------------------


def tracer_table(
    out: str | PathLike[str],
    *,
    m1: float,
    x1: float,
    m2: float,
    x2: float,
    n: float,
    steps: int,
    charge_per_step_mAh: float | None = None,
) -> pd.DataFrame:
    """Iterate the tracer-exchange model (:func:`operando.nmr.tracer_exchange`) and write it as CSV.

    Parameters
    ----------
    out : path
        CSV file (full precision, ``%.17g``).
    m1, x1, m2, x2, n, steps, charge_per_step_mAh
        See :func:`operando.nmr.tracer_exchange`.

    Returns
    -------
    pandas.DataFrame
        ``steps + 1`` rows: ``step, x_electrode, x_electrolyte[, charge_mAh]``.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "t.csv"
    >>> len(tracer_table(out, m1=100, x1=0.95, m2=300, x2=0.07, n=0.1, steps=10)), out.is_file()
    (11, True)
    """
    table = tracer_exchange(m1=m1, x1=x1, m2=m2, x2=x2, n=n, steps=steps, charge_per_step_mAh=charge_per_step_mAh)
    write_table(table, out, float_format="%.17g")
    return table


# -- one spectrum -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessedSpectrum:
    """A processed dataset: the spectrum, its window integrals and where it came from.

    Attributes
    ----------
    dataset : xarray.Dataset
        From :func:`operando.nmr.process`; with windows also ``integral`` (window, row)
        and the coordinates ``window_lo_ppm``/``window_hi_ppm``.
    rows : (R, P) ndarray
        The spectrum row by row (R = 1 for a 1D experiment).
    ppm : (P,) ndarray
        Chemical shift, ppm.
    integrals : (W, R) ndarray
        Sum over the points of each window, per row.
    windows_ppm : list of (float, float)
    phase : {"manual", "auto"}
        The phase correction used.
    fid : NMRFID
        What was read.
    """

    dataset: xr.Dataset
    rows: npt.NDArray[Any]
    ppm: npt.NDArray[np.float64]
    integrals: npt.NDArray[Any]
    windows_ppm: list[Window]
    phase: Literal["manual", "auto"]
    fid: NMRFID

    @property
    def nucleus(self) -> str:
        """The observed nucleus, e.g. ``"7Li"``."""
        return str(self.fid.meta.nucleus)

    @property
    def folder(self) -> Path:
        """The experiment folder read."""
        return Path(self.fid.meta.path)


def process_spectrum(
    dataset: str | PathLike[str],
    *,
    lb_Hz: float | None = None,
    size: int | None = None,
    phase: Literal["manual", "auto"] | None = None,
    windows_ppm: Sequence[Window] = (),
    reference_shift_ppm: float = 0.0,
) -> ProcessedSpectrum:
    """Read a Bruker or Varian dataset, FT, phase and reference it, and integrate windows.

    Parameters
    ----------
    dataset : path
        Bruker experiment folder (``acqus`` + ``fid``/``ser``) or Varian ``.fid`` folder
        (``procpar`` + ``fid``), found by content (:func:`operando.nmr.read_fid`).
    lb_Hz : float, optional
        Exponential line broadening, Hz (default: the dataset's ``LB``).
    size : int, optional
        Spectrum size after zero filling (default: the dataset's ``SI``).
    phase : {"manual", "auto"}, optional
        ``manual``: the stored ``PHC0``/``PHC1``; ``auto``: :func:`operando.nmr.autophase`.
        Default manual for Bruker, auto for Varian (VnmrJ's ``rp``/``lp`` follow another
        convention and are not translated).
    windows_ppm : sequence of (float, float)
        Integration windows, ppm (on the referenced axis).
    reference_shift_ppm : float, default 0
        Added to the ppm axis (``--reference OBSERVED=TRUE``: ``TRUE - OBSERVED``).

    Returns
    -------
    ProcessedSpectrum

    Raises
    ------
    ParameterError
        ``phase`` other than manual or auto.

    Examples
    --------
    >>> import tempfile
    >>> from operando.synthetic import li_isotope_pair
    >>> li7, _ = li_isotope_pair(Path(tempfile.mkdtemp()), x6_metal=0.5, n_points=1024)
    >>> spec = process_spectrum(li7, size=4096, windows_ppm=[(240.0, 290.0)])
    >>> spec.nucleus, spec.rows.shape, spec.integrals.shape
    ('7Li', (1, 4096), (1, 1))
    """
    if phase not in (None, "manual", "auto"):
        raise ParameterError(f"--phase must be manual or auto, got {phase!r}")
    wins = [(float(lo), float(hi)) for lo, hi in windows_ppm]
    fid = read_fid(dataset)  # Bruker or Varian, by the folder's content
    if phase is None:  # VnmrJ's rp/lp are not translated (another convention): phase Varian data automatically
        phase = "auto" if fid.meta.vendor == "Varian" else "manual"
    mode = _mode(phase)
    ds = process(fid, lb_Hz=lb_Hz, size=size, phase_mode=mode, reference_shift_ppm=reference_shift_ppm)
    spec, ppm = ds["intensity"].values, ds["ppm"].values
    rows = np.atleast_2d(spec)
    ints = np.array([integrate(rows, ppm, lo=lo, hi=hi) for lo, hi in wins]).reshape(len(wins), rows.shape[0])
    if wins:
        ds["integral"] = xr.DataArray(ints, dims=("window", "row"), attrs={"units": "sum over points"})
        ds = ds.assign_coords(
            window_lo_ppm=("window", [w[0] for w in wins]), window_hi_ppm=("window", [w[1] for w in wins])
        )
    return ProcessedSpectrum(ds, rows, ppm, ints, wins, mode, fid)


def write_spectrum(spectrum: ProcessedSpectrum, out: str | PathLike[str], *, overwrite: bool = False) -> Path:
    """Write a processed spectrum: ``OUT.zarr`` (spectrum, integrals, provenance) or ``OUT.csv``.

    The CSV has ``ppm`` and one ``intensity_<row>`` column per row; the Zarr store records
    the resolved processing parameters and the dataset's files as inputs.

    Raises
    ------
    ParameterError
        ``out`` ends in neither ``.zarr`` nor ``.csv``.
    """
    target = Path(out)
    ds, rows, ppm = spectrum.dataset, spectrum.rows, spectrum.ppm
    if target.suffix == ".csv":
        frame = pd.DataFrame({"ppm": ppm, **{f"intensity_{i}": r for i, r in enumerate(rows)}})
        return write_table(frame, target, float_format="%.10g")
    if target.suffix == ".zarr":
        from operando.store import write_results

        params = {"lb_Hz": ds.attrs["lb_Hz"], "size": ds.attrs["size"], "phase": spectrum.phase,
                  "p0_deg": ds.attrs["p0_deg"], "p1_deg": ds.attrs["p1_deg"],
                  "windows_ppm": spectrum.windows_ppm}  # fmt: skip
        inputs = [p for p in sorted(spectrum.folder.iterdir()) if p.is_file()]
        return write_results(ds, target, parameters=params, inputs=inputs, overwrite=overwrite)
    raise ParameterError(f"output must end in .zarr or .csv, got {target.name}")


# -- 6Li abundance ------------------------------------------------------------------------


def normalised_integral(
    dataset: str | PathLike[str] | NMRFID,
    *,
    window_ppm: Window,
    noise_ppm: Window | None,
    lb_Hz: float = 0.0,
    phase: str = "manual",
    **options: Any,
) -> tuple[float, float]:
    """Window integral per scan at unit receiver gain (FID-amplitude units) and its noise uncertainty.

    Reads ``dataset`` (unless it is already an :class:`~operando.nmr.NMRFID`) and applies
    :func:`operando.nmr.line_integral` (``options``: ``spin_rate_Hz``, ``sidebands``,
    ``p90_us``, ``t1_s``, ``reference_shift_ppm``).

    Returns
    -------
    (float, float)
        The integral and its 1-sigma uncertainty.
    """
    fid = dataset if isinstance(dataset, NMRFID) else read_fid(dataset)
    r = line_integral(fid, window_ppm=window_ppm, noise_ppm=noise_ppm, lb_Hz=lb_Hz, phase_mode=_mode(phase), **options)
    return r.value, r.sigma


@dataclass(frozen=True)
class Acquisition:
    """How to read one nucleus' spectrum quantitatively (beyond what ``acqus`` records).

    Attributes
    ----------
    p90_us : float or None
        90-degree pulse, microseconds (the flip angle then follows from ``P1``).
    t1_s : float or None
        Longest T1 of the species, s (the saturation then follows from ``D1``).
    """

    p90_us: float | None = None
    t1_s: float | None = None


def pair_integrals(
    li6: str | PathLike[str] | NMRFID,
    li7: str | PathLike[str] | NMRFID,
    *,
    window_ppm: Window,
    noise_ppm: Window | None,
    lb_Hz: float = 0.0,
    phase: str = "manual",
    match: str = "hz",
    spin_rate_Hz: float | None = None,
    sidebands: bool = True,
    acquisition_6li: Acquisition = Acquisition(),
    acquisition_7li: Acquisition = Acquisition(),
    reference_shift_ppm: Window = (0.0, 0.0),
    other_windows_ppm: Sequence[Window] = (),
) -> tuple[tuple[float, float], tuple[float, float], dict[str, Any]]:
    """Normalised integrals of one species in its 6Li and 7Li spectra, over windows matched across the nuclei.

    Parameters
    ----------
    li6, li7 : path or NMRFID
    window_ppm : (float, float)
        The species' centre-band window as drawn on the 7Li spectrum.
    noise_ppm : (float, float)
        Signal-free window (both spectra).
    match : {"hz", "ppm"}, default "hz"
        ``hz``: the 6Li window has the 7Li window's width in Hz (wider in ppm by
        ``SF(7Li) / SF(6Li)``, about its centre), so that a line of one width in Hz loses the
        same tails in both; ``ppm``: the same ppm window in both.
    spin_rate_Hz : float, optional
        MAS rate for the sideband windows (default: each dataset's recorded rate).
    sidebands : bool, default True
    acquisition_6li, acquisition_7li : Acquisition
        90-degree pulses and T1 of each nucleus, when known.
    reference_shift_ppm : (float, float)
        Added to the 6Li and the 7Li ppm axis.
    other_windows_ppm : sequence of (float, float)
        The other species' windows (on the 7Li spectrum, carried to 6Li as ``window_ppm``):
        this species' sideband windows that overlap them or their sidebands are replaced by
        their mirror order (:func:`operando.nmr.line_integral`).

    Returns
    -------
    (i6, sigma6), (i7, sigma7), details
        ``details``: the windows used per nucleus and the factors divided out.
    """
    if match not in ("hz", "ppm"):
        raise ParameterError(f"--match must be hz or ppm, got {match!r}")
    fid6 = _one_spectrum(li6 if isinstance(li6, NMRFID) else read_fid(li6), "an isotope fraction")
    fid7 = _one_spectrum(li7 if isinstance(li7, NMRFID) else read_fid(li7), "an isotope fraction")
    _check_nucleus(fid6, "6Li", "--li6")
    _check_nucleus(fid7, "7Li", "--li7")

    def to_6li(w: Window) -> Window:
        if match == "ppm":
            return w
        return hz_matched_window(*w, from_MHz=fid7.meta.reference_MHz, to_MHz=fid6.meta.reference_MHz)

    if sidebands and spin_rate_Hz is None:
        for fid, win, shift in ((fid7, window_ppm, reference_shift_ppm[1]),
                                (fid6, to_6li(window_ppm), reference_shift_ppm[0])):  # fmt: skip
            _warn_unrecorded_spinning(fid, win, shift)
    results = {}
    orders: int | None = None
    # 7Li first: the orders its (stronger) sidebands reach are summed in the 6Li spectrum too,
    # so that weak 6Li sidebands under the noise are not left out (a low 6Li bias)
    for name, fid, win, others, acq, shift in (
        ("7Li", fid7, window_ppm, list(other_windows_ppm), acquisition_7li, reference_shift_ppm[1]),
        ("6Li", fid6, to_6li(window_ppm), [to_6li(w) for w in other_windows_ppm], acquisition_6li,
         reference_shift_ppm[0]),
    ):  # fmt: skip
        results[name] = line_integral(
            fid, window_ppm=win, noise_ppm=noise_ppm, lb_Hz=lb_Hz, phase_mode=_mode(phase), spin_rate_Hz=spin_rate_Hz,
            sidebands=sidebands, p90_us=acq.p90_us, t1_s=acq.t1_s, reference_shift_ppm=shift,
            other_windows_ppm=others, sideband_orders=orders,
        )  # fmt: skip
        orders = max((abs(o) for o, _, _ in results[name].windows), default=0)
    r6, r7 = results["6Li"], results["7Li"]
    details = {
        f"{k}_{name}": v
        for name, r in results.items()
        for k, v in (("windows", [list(w) for w in r.windows]), ("ns", r.ns), ("rg", r.rg),
                     ("signal_factor", r.signal_factor), ("spin_rate_Hz", r.spin_rate_Hz))
    }  # fmt: skip
    return (r6.value, r6.sigma), (r7.value, r7.sigma), details


def nucleus_name(text: str) -> str | None:
    """A nucleus as ``<mass><symbol>`` (``"Li7"``, ``"7LI"``, ``"<7Li>"`` -> ``"7Li"``); None when none is named.

    Examples
    --------
    >>> nucleus_name("Li7"), nucleus_name("<7LI>"), nucleus_name("6Li"), nucleus_name("off"), nucleus_name("")
    ('7Li', '7Li', '6Li', None, None)
    """
    import re

    t = text.strip().strip("<>").strip()
    m = re.fullmatch(r"(\d+)([A-Za-z]{1,2})|([A-Za-z]{1,2})(\d+)", t)
    if m is None:
        return None
    mass, symbol = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
    return f"{int(mass)}{symbol.capitalize()}"


def _check_nucleus(fid: NMRFID, expected: str, option: str) -> None:
    """Refuse a spectrum whose recorded nucleus is another one (a 7Li folder given as --li6 read 99.97 at.%)."""
    found = nucleus_name(fid.meta.nucleus)
    if found is not None and found != expected:
        raise ParameterError(
            f"{option} wants a {expected} spectrum, but this one records nucleus {found} (NUC1/tn): are --li6 and "
            "--li7 swapped?",
            path=fid.meta.path,
        )


def _one_spectrum(fid: NMRFID, purpose: str) -> NMRFID:
    """``fid`` when it holds one FID; a pseudo-2D series (several rows) is refused naming its rows.

    The quantitation reads one spectrum: taking the first row of a relaxation or nutation
    series would read its shortest delay (a saturated, smaller line) without a word.
    """
    from operando.errors import UnsupportedFormatError

    rows = fid.data.shape[0]
    if rows > 1:
        raise UnsupportedFormatError(
            f"a pseudo-2D series of {rows} rows ({fid.meta.pulse_program or 'ser'}): {purpose} needs one 1D "
            "spectrum; process the series with 'operando nmr process' or give a 1D experiment",
            path=fid.meta.path,
        )
    return fid


def _warn_unrecorded_spinning(fid: NMRFID, window_ppm: Window, shift_ppm: float) -> None:
    """Warn when ``fid`` records no MAS rate but its spectrum shows sidebands about the window's line.

    Without a rate only the centre band is summed; a spinning sample's sidebands would then
    be left out without a word (7Li sidebands of 38 % moved a 20 at.% fraction to 28 at.%).
    """
    import warnings

    from operando.nmr import MIN_MAS_HZ, ppm_axis, process_fid, sideband_spacing_ppm

    meta = fid.meta
    if meta.spin_rate_Hz is not None or fid.data.size == 0:
        return
    n = fid.data.shape[-1]
    spec = process_fid(fid.data[0], sw_Hz=meta.sw_Hz, size=2 * n, group_delay=meta.group_delay)
    ppm = ppm_axis(2 * n, sfo1_MHz=meta.sfo1_MHz, sw_Hz=meta.sw_Hz, reference_MHz=meta.reference_MHz) + shift_ppm
    spacing = sideband_spacing_ppm(np.abs(spec), ppm, lo=min(window_ppm), hi=max(window_ppm))
    rate = 0.0 if spacing is None else spacing * meta.reference_MHz
    if rate >= MIN_MAS_HZ:  # slower "sidebands" are multiplets or a liquid spinner's, not MAS
        warnings.warn(
            f"{meta.path}: no MAS rate recorded (MASR, CNST31), but lines {rate:.0f} Hz on either side of the "
            f"{window_ppm[0]:g}..{window_ppm[1]:g} ppm line look like spinning sidebands: only the centre band is "
            f"summed; give --spin-rate {rate:.0f} (or --no-sidebands to keep it so)",
            stacklevel=3,
        )


def reference_factor(
    ref_li6: str | PathLike[str],
    ref_li7: str | PathLike[str],
    *,
    window_ppm: Window,
    noise_ppm: Window | None,
    x6: float = 0.0759,
    lb_Hz: float = 0.0,
    phase: str = "manual",
    **options: Any,
) -> tuple[float, float]:
    """Per-nucleus 7Li:6Li sensitivity factor measured on a reference of known 6Li fraction.

    Parameters
    ----------
    ref_li6, ref_li7 : path
        6Li and 7Li spectra of the reference (e.g. natural-abundance LiCl).
    window_ppm, noise_ppm : (float, float)
        The reference line's window (on the 7Li spectrum) and a signal-free window, ppm.
    x6 : float, default 0.0759
        6Li atomic fraction of the reference (natural abundance).
    lb_Hz, phase
        Processing, see :func:`normalised_integral`.
    options
        See :func:`pair_integrals` (``match``, ``spin_rate_Hz``, ``sidebands``...).

    Returns
    -------
    (float, float)
        The factor and its 1-sigma uncertainty (:func:`operando.nmr.sensitivity_factor`).
    """
    (r6, t6), (r7, t7), _ = pair_integrals(
        ref_li6, ref_li7, window_ppm=window_ppm, noise_ppm=noise_ppm, lb_Hz=lb_Hz, phase=phase, **options
    )
    factor, sigma = sensitivity_factor(r6, r7, x6=x6, sigma_i6=t6, sigma_i7=t7)
    return float(factor), float(sigma)


@dataclass(frozen=True)
class IsotopeFraction:
    """6Li atomic fraction of one sample, with the integrals it came from.

    Attributes
    ----------
    sample : str
    li6, li7 : Path
        The 6Li and 7Li datasets.
    x6, x6_err : float
        6Li atomic fraction (0..1) and its 1-sigma uncertainty.
    i6, i6_err, i7, i7_err : float
        Window integrals per scan (FID-amplitude units) and their noise uncertainties.
    factor, factor_err : float
        The 7Li:6Li sensitivity factor used.
    details : dict
        Windows (per nucleus, sidebands included), scans, gains and signal factors divided out.
    """

    sample: str
    li6: Path
    li7: Path
    x6: float
    x6_err: float
    i6: float
    i6_err: float
    i7: float
    i7_err: float
    factor: float
    factor_err: float
    details: dict[str, Any] = field(default_factory=dict)


def sample_name(li6: str | PathLike[str]) -> str:
    """Default sample name of a 6Li dataset: ``study/expno`` for a numbered Bruker folder, else its name.

    Examples
    --------
    >>> sample_name("cell3/12"), sample_name("cell3_6Li.fid")
    ('cell3/12', 'cell3_6Li.fid')
    """
    p = Path(li6)
    return f"{p.parent.name}/{p.name}" if p.name.isdigit() else p.name


def sample_names(paths: Sequence[str | PathLike[str]]) -> list[str]:
    """Default names of several datasets, unique: :func:`sample_name`, lengthened leftwards where two agree.

    Replicates are usually laid out as ``cellA/6Li/1``, ``cellB/6Li/1``: their
    :func:`sample_name` (``6Li/1``) is the same, so each colliding name takes parent folders
    until the names differ (the full path when nothing else tells them apart).

    Examples
    --------
    >>> sample_names(["cellA/6Li/1", "cellB/6Li/1", "cellC/6Li/2"])
    ['cellA/6Li/1', 'cellB/6Li/1', '6Li/2']
    """
    names = [sample_name(p) for p in paths]
    parts = [Path(p).parts for p in paths]
    for _ in range(max((len(q) for q in parts), default=0)):
        clash = {n for n in names if names.count(n) > 1}
        if not clash:
            break
        for i, name in enumerate(names):
            if name in clash:
                depth = len(Path(name).parts) + 1
                names[i] = str(Path(*parts[i][-depth:])) if depth <= len(parts[i]) else str(Path(paths[i]))
    return names


def isotope_fraction(
    li6: str | PathLike[str],
    li7: str | PathLike[str],
    *,
    window_ppm: Window,
    noise_ppm: Window | None,
    factor: float,
    factor_err: float = 0.0,
    lb_Hz: float = 0.0,
    phase: str = "manual",
    sample: str | None = None,
    **options: Any,
) -> IsotopeFraction:
    """6Li atomic fraction of one species from its 6Li and 7Li integrals, with uncertainty.

    Parameters
    ----------
    li6, li7 : path
        Bruker or Varian folders of the sample's 6Li and 7Li spectra.
    window_ppm : (float, float)
        The species' line, ppm.
    noise_ppm : (float, float)
        A signal-free window, ppm, for the noise.
    factor, factor_err : float
        Per-nucleus 7Li:6Li signal ratio and its uncertainty (:func:`reference_factor`).
    lb_Hz : float, default 0
        Exponential line broadening, Hz.
    phase : {"manual", "auto"}, default "manual"
    sample : str, optional
        Name (default :func:`sample_name` of ``li6``).
    options
        See :func:`pair_integrals`: ``match`` (default ``"hz"``), ``spin_rate_Hz``,
        ``sidebands``, ``acquisition_6li``/``acquisition_7li``, ``reference_shift_ppm``.

    Returns
    -------
    IsotopeFraction

    Examples
    --------
    >>> import tempfile
    >>> from operando.synthetic import li_isotope_pair
    >>> li7, li6 = li_isotope_pair(Path(tempfile.mkdtemp()), x6_metal=0.3, snr_7li=5000.0, seed=3)
    >>> r = isotope_fraction(li6, li7, window_ppm=(240, 290), noise_ppm=(-130, -50), factor=28.45, match="ppm")
    >>> round(100 * r.x6)
    30
    """
    (i6, s6), (i7, s7), details = pair_integrals(
        li6, li7, window_ppm=window_ppm, noise_ppm=noise_ppm, lb_Hz=lb_Hz, phase=phase, **options
    )
    x, sx = li6_fraction(i6, i7, factor=factor, sigma_i6=s6, sigma_i7=s7, sigma_factor=factor_err)
    return IsotopeFraction(
        sample=sample or sample_name(li6),
        li6=Path(li6),
        li7=Path(li7),
        x6=float(x),
        x6_err=float(sx),
        i6=float(i6),
        i6_err=float(s6),
        i7=float(i7),
        i7_err=float(s7),
        factor=float(factor),
        factor_err=float(factor_err),
        details=details,
    )


def _fraction_of_pair(job: tuple[Path, Path, str | None], **options: Any) -> IsotopeFraction:
    li6, li7, sample = job
    return isotope_fraction(li6, li7, sample=sample, **options)


def isotope_fractions(
    pairs: Sequence[tuple[str | PathLike[str], str | PathLike[str]]],
    *,
    window_ppm: Window,
    noise_ppm: Window | None,
    factor: float,
    factor_err: float = 0.0,
    lb_Hz: float = 0.0,
    phase: str = "manual",
    samples: Sequence[str] | None = None,
    on_done: Callable[[int, Any], None] | None = None,
    **options: Any,
) -> list[IsotopeFraction]:
    """:func:`isotope_fraction` of several samples, one measurement task each.

    Runs through :func:`operando.parallel.map_measurements`: one after another on local
    threads, all submitted together on a ``dask.distributed`` cluster (enter
    :func:`operando.parallel.engine` around the call to choose).

    Parameters
    ----------
    pairs : sequence of (path, path)
        ``(li6, li7)`` folders of each sample.
    samples : sequence of str, optional
        One name per pair (default :func:`sample_names` of the 6Li folders: unique).
    on_done : callable, optional
        ``on_done(index, result)`` as each sample finishes.
    window_ppm, noise_ppm, factor, factor_err, lb_Hz, phase, options
        See :func:`isotope_fraction`.

    Returns
    -------
    list of IsotopeFraction
        In the order of ``pairs``.

    Raises
    ------
    ParameterError
        ``samples`` of another length than ``pairs``.

    Examples
    --------
    >>> import tempfile
    >>> from operando.synthetic import li_isotope_pair
    >>> root = Path(tempfile.mkdtemp())
    >>> pairs = [li_isotope_pair(root / f"s{x}", x6_metal=x, snr_7li=5000.0, seed=3)[::-1] for x in (0.2, 0.4)]
    >>> rows = isotope_fractions(pairs, window_ppm=(240, 290), noise_ppm=(-130, -50), factor=28.45, match="ppm")
    >>> [round(100 * r.x6) for r in rows]
    [20, 40]
    """
    if samples is not None and len(samples) != len(pairs):
        raise ParameterError(f"{len(samples)} sample names for {len(pairs)} 6Li/7Li pairs")
    names = list(samples) if samples is not None else sample_names([a for a, _ in pairs])
    jobs = [(Path(a), Path(b), name) for (a, b), name in zip(pairs, names, strict=True)]
    work = functools.partial(
        _fraction_of_pair,
        window_ppm=window_ppm,
        noise_ppm=noise_ppm,
        factor=factor,
        factor_err=factor_err,
        lb_Hz=lb_Hz,
        phase=phase,
        **options,
    )
    return map_measurements(work, jobs, on_done=on_done)


def detection_limit(result: IsotopeFraction, *, k: float = 3.0) -> float | None:
    """The 6Li fraction ``k`` noise sigmas of the 6Li integral would give, when the 6Li line is not seen.

    Returns None when the 6Li integral exceeds ``k x`` its uncertainty (detected).

    Examples
    --------
    >>> r = IsotopeFraction("s", Path("a"), Path("b"), 0.0, 0.001, 0.01, 0.02, 100.0, 1.0, 28.45, 0.0)
    >>> round(100 * detection_limit(r), 2)
    1.68
    """
    if result.i6 > k * result.i6_err:
        return None
    x, _ = li6_fraction(k * result.i6_err, result.i7, factor=result.factor)
    return float(x)


@dataclass(frozen=True)
class Replicates:
    """Statistics of the 6Li fraction over replicate cells of one group.

    Attributes
    ----------
    group : str
    n : int
        Cells.
    mean, std : float
        Mean and sample standard deviation (``ddof=1``; NaN for one cell) of the fractions.
    propagated : float
        Uncertainty of the mean from the cells' own uncertainties, ``sqrt(sum s_i**2) / n``.
    """

    group: str
    n: int
    mean: float
    std: float
    propagated: float


def replicate_statistics(results: Sequence[IsotopeFraction], groups: Sequence[str] | None = None) -> list[Replicates]:
    """Mean +- std and propagated uncertainty of the fractions per group of replicate cells.

    Parameters
    ----------
    results : sequence of IsotopeFraction
    groups : sequence of str, optional
        One label per result (cells measured at one state of charge share a label);
        default: all results one group ``"all"``.

    Returns
    -------
    list of Replicates
        In the order the groups first appear.

    Examples
    --------
    >>> mk = lambda x, s: IsotopeFraction("c", Path("a"), Path("b"), x, s, 0, 0, 1, 0, 28.45, 0)
    >>> st = replicate_statistics([mk(0.05, 0.003), mk(0.06, 0.004), mk(0.07, 0.0)])[0]
    >>> round(st.mean, 4), round(st.std, 4), round(st.propagated, 4)
    (0.06, 0.01, 0.0017)
    """
    labels = list(groups) if groups is not None else ["all"] * len(results)
    if len(labels) != len(results):
        raise ParameterError(f"{len(labels)} group labels for {len(results)} samples")
    out = []
    for g in dict.fromkeys(labels):
        x = np.array([r.x6 for r, lab in zip(results, labels, strict=True) if lab == g])
        s = np.array([r.x6_err for r, lab in zip(results, labels, strict=True) if lab == g])
        std = float(np.std(x, ddof=1)) if x.size > 1 else float("nan")
        out.append(Replicates(str(g), int(x.size), float(x.mean()), std, float(np.sqrt(np.sum(s**2)) / x.size)))
    return out


@dataclass(frozen=True)
class Mechanism:
    """Growth mechanism of a dendrite sample and its two-source mixing share.

    Attributes
    ----------
    label : str
        :func:`operando.nmr.classify_dendrite`.
    share, share_err : float
        Mechanism-2 share (:func:`operando.nmr.mechanism2_share`) and its standard
        uncertainty; NaN without a grain-boundary (Mechanism-2) end member.
    """

    label: str
    share: float
    share_err: float


def mechanism(
    x6: float,
    x6_err: float,
    *,
    electrolyte: tuple[float, float],
    electrode: tuple[float, float],
    grain_boundary: tuple[float, float] | None = None,
) -> Mechanism:
    """Classify a dendrite's 6Li fraction and, with a Mechanism-2 end member, its Mechanism-2 share.

    Parameters
    ----------
    x6, x6_err : float
        The dendrite's fraction and uncertainty.
    electrolyte, electrode : (float, float)
        6Li fraction and uncertainty of the electrolyte (also the Mechanism-1 end member: the
        Li it carries to the interface) and of the electrode.
    grain_boundary : (float, float), optional
        The Mechanism-2 end member (Li of the electrolyte's grain boundaries).

    Examples
    --------
    >>> m = mechanism(0.06, 0.002, electrolyte=(0.07, 0.0), electrode=(0.9, 0.01), grain_boundary=(0.05, 0.0))
    >>> m.label, round(m.share, 3), round(m.share_err, 3)
    ('mechanism 2', 0.5, 0.1)
    """
    label = str(classify_dendrite(x6, x_electrolyte=electrolyte[0], x_electrode=electrode[0], sigma=x6_err))
    share, share_err = float("nan"), float("nan")
    if grain_boundary is not None:
        f, sf = mechanism2_share(x6, x_mech1=electrolyte[0], x_mech2=grain_boundary[0], sigma_dendrite=x6_err,
                                 sigma_mech1=electrolyte[1], sigma_mech2=grain_boundary[1])  # fmt: skip
        share, share_err = float(f), float(sf)
    return Mechanism(label, share, share_err)


def write_isotopes(
    results: Sequence[IsotopeFraction],
    out: str | PathLike[str],
    *,
    parameters: dict[str, Any],
    charge_mAh: Sequence[float] | None = None,
    references: Sequence[str | PathLike[str]] = (),
    overwrite: bool = False,
    groups: Sequence[str] | None = None,
    mechanisms: Sequence[Mechanism | None] | None = None,
) -> Path:
    """Write the ``nmr-isotopes`` store of several samples (:func:`operando.nmr.isotopes_dataset`).

    Parameters
    ----------
    results : sequence of IsotopeFraction
        One per sample, sharing one sensitivity factor.
    out : path
        ``OUT.zarr``.
    parameters : dict
        The resolved parameters to record.
    charge_mAh : sequence of float, optional
        Charge passed before each measurement.
    references : sequence of path
        Reference datasets whose files are inputs too.
    overwrite : bool, default False

    Raises
    ------
    ParameterError
        ``out`` not ending in ``.zarr``.
    """
    from operando.store import write_results

    target = Path(out)
    if target.suffix != ".zarr":
        raise ParameterError(f"--out must end in .zarr, got {target.name}")
    ds = isotopes_dataset(
        [r.sample for r in results],
        [r.x6 for r in results],
        [r.x6_err for r in results],
        charge_mAh=None if charge_mAh is None else list(charge_mAh),
        integral_6li=[r.i6 for r in results],
        integral_7li=[r.i7 for r in results],
        factor=results[0].factor,
        factor_err=results[0].factor_err,
        mechanism=None if mechanisms is None else [m.label if m else "" for m in mechanisms],
    )
    nan = float("nan")
    lod = [detection_limit(r) for r in results]
    ds["li6_detected"] = ("sample", np.array([v is None for v in lod]), {"units": ""})
    ds["li6_fraction_lod"] = ("sample", np.array([nan if v is None else v for v in lod]),
                              {"units": "1", "long_name": "3-sigma detection limit where 6Li is not seen"})  # fmt: skip
    if mechanisms is not None:
        for name, values in (("mechanism2_share", [m.share if m else nan for m in mechanisms]),
                             ("mechanism2_share_err", [m.share_err if m else nan for m in mechanisms])):  # fmt: skip
            ds[name] = ("sample", np.array(values, dtype=np.float64), {"units": "1"})
    stats = replicate_statistics(results, groups)
    ds = ds.assign_coords(group=("group", [g.group for g in stats]))
    ds["group_n"] = ("group", np.array([g.n for g in stats]), {"units": ""})
    for name, attr in (("group_mean", "mean"), ("group_std", "std"), ("group_propagated_err", "propagated")):
        ds[name] = ("group", np.array([getattr(g, attr) for g in stats]), {"units": "1"})
    if groups is not None:
        ds["sample_group"] = ("sample", np.array([str(g) for g in groups]), {"units": ""})
    paths = [p for r in results for p in (r.li6, r.li7)] + [Path(p) for p in references]
    folders = [p if p.is_dir() else p.parent for p in paths]
    inputs = [f for folder in folders for f in sorted(folder.iterdir()) if f.is_file()]
    return write_results(ds, target, parameters=parameters, inputs=inputs, overwrite=overwrite)


def isotope_spectra(
    li6: str | PathLike[str], li7: str | PathLike[str], *, lb_Hz: float = 0.0, phase: str = "manual"
) -> list[tuple[str, npt.NDArray[np.float64], npt.NDArray[Any]]]:
    """The 6Li and 7Li spectra of a sample as ``(label, ppm, intensity)``, for :func:`operando.report.plot_spectra`."""
    spectra = []
    for nucleus, folder in (("6Li", Path(li6)), ("7Li", Path(li7))):
        ds = process(read_fid(folder), lb_Hz=lb_Hz, phase_mode=_mode(phase))
        spectra.append((f"{nucleus}: {folder.name}", ds["ppm"].values, ds["intensity"].values))
    return spectra


# -- line fits ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LineFit:
    """Fitted lines of one spectrum.

    Attributes
    ----------
    sample : str
    lines : pandas.DataFrame
        :func:`operando.nmr.fit_lines`' table (areas per scan and unit gain, FID-amplitude
        units) plus ``fwhm_Hz``, ``fwhm_Hz_err``.
    chi2_reduced : float
    noise : float
        Noise standard deviation per point of the normalised spectrum.
    ppm, spectrum, model : ndarray
        The normalised spectrum fitted and its axis, for figures.
    nucleus : str
    sf_MHz : float
    """

    sample: str
    lines: pd.DataFrame
    chi2_reduced: float
    noise: float
    ppm: npt.NDArray[np.float64]
    spectrum: npt.NDArray[np.float64]
    nucleus: str
    sf_MHz: float
    folder: Path


def fit_spectrum(
    dataset: str | PathLike[str],
    *,
    centres_ppm: Sequence[float],
    window_ppm: Window,
    shape: str = "lorentzian",
    noise_ppm: Window | None = None,
    lb_Hz: float = 0.0,
    phase: str | None = None,
    size: int | None = None,
    baseline: int = 1,
    reference_shift_ppm: float = 0.0,
    fwhm_guess_ppm: float | None = None,
    sample: str | None = None,
) -> LineFit:
    """Read, process and fit overlapping lines of one dataset (:func:`operando.nmr.fit_lines`).

    The spectrum is processed without zero filling by default (``size`` = the FID's
    complex points: independent noise per point, so that the fit's uncertainties hold),
    with ``first_point=0.5`` (no offset) and divided by ``size / 2 x NS x RG``: areas are then
    in the units of :func:`operando.nmr.line_integral` (FID amplitude per scan at unit gain).

    Parameters
    ----------
    dataset : path
    centres_ppm : sequence of float
        Starting line positions.
    window_ppm : (float, float)
        Fitted region.
    shape : {"lorentzian", "gaussian", "voigt"}
    noise_ppm : (float, float), optional
        Signal-free window for the noise; default :func:`operando.nmr.robust_noise` of the
        points outside ``window_ppm``.
    lb_Hz : float, default 0
    phase : {"manual", "auto"}, optional
        Default manual for Bruker, auto for Varian.
    size : int, optional
    baseline : int, default 1
        Baseline polynomial degree (-1 none).
    reference_shift_ppm : float, default 0
    fwhm_guess_ppm : float, optional
    sample : str, optional
        Name (default :func:`sample_name` of the folder).

    Returns
    -------
    LineFit
    """
    fid = _one_spectrum(read_fid(dataset), "a line fit")
    meta = fid.meta
    if phase is None:
        phase = "auto" if meta.vendor == "Varian" else "manual"
    if meta.ns < 1 or not meta.rg > 0:
        raise ParameterError(f"{meta.path}: NS = {meta.ns} and RG = {meta.rg}: no intensity per scan and unit gain")
    n = size or fid.data.shape[-1]
    ds = process(fid, lb_Hz=lb_Hz, size=n, phase_mode=_mode(phase), first_point=0.5,
                 reference_shift_ppm=reference_shift_ppm)  # fmt: skip
    spec = np.atleast_2d(ds["intensity"].values)[0] / (n / 2.0 * meta.ns * meta.rg)  # area = FID amplitude
    ppm = ds["ppm"].values
    if noise_ppm is None:
        noise = robust_noise(spec[~window_mask(ppm, *window_ppm)])
    else:
        noise = float(noise_std(spec, ppm, lo=noise_ppm[0], hi=noise_ppm[1]))
    table, chi2 = fit_lines(spec, ppm, centres_ppm=centres_ppm, window_ppm=window_ppm, noise=noise, shape=shape,
                            baseline=baseline, fwhm_guess_ppm=fwhm_guess_ppm)  # fmt: skip
    table["fwhm_Hz"] = table["fwhm_ppm"] * meta.reference_MHz
    table["fwhm_Hz_err"] = table["fwhm_ppm_err"] * meta.reference_MHz
    return LineFit(sample or sample_name(dataset), table, chi2, noise, ppm, spec, meta.nucleus,
                   meta.reference_MHz, Path(meta.path))  # fmt: skip


def lines_dataset(fits: Sequence[LineFit], *, charge_mAh: Sequence[float] | None = None) -> xr.Dataset:
    """The ``"nmr-lines"`` dataset: dims ``(sample, line)``, shift/FWHM/area and their errors.

    Examples
    --------
    >>> t = pd.DataFrame({c: [1.0] for c in ("shift_ppm", "shift_ppm_err", "fwhm_ppm", "fwhm_ppm_err", "area",
    ...                   "area_err", "height", "fwhm_Hz", "fwhm_Hz_err")})
    >>> f = LineFit("a", t, 1.0, 0.1, np.zeros(1), np.zeros(1), "7Li", 155.0, Path("a"))
    >>> lines_dataset([f])["shift_ppm"].dims
    ('sample', 'line')
    """
    if not fits:
        raise ParameterError("no fitted spectra")
    names = [f.sample for f in fits]
    if len(set(names)) != len(names):
        raise ParameterError(f"sample names must be unique, got {names}")
    n_lines = {len(f.lines) for f in fits}
    if len(n_lines) != 1:
        raise ParameterError(f"every spectrum needs the same number of lines, got {sorted(n_lines)}")
    units = {"shift_ppm": "ppm", "fwhm_ppm": "ppm", "fwhm_Hz": "Hz", "area": "FID amplitude per scan",
             "height": "FID amplitude per scan"}  # fmt: skip
    data: dict[str, Any] = {}
    for col in fits[0].lines.columns:
        base = col.removesuffix("_err")
        values = np.stack([f.lines[col].to_numpy(dtype=np.float64) for f in fits])
        long = f"standard uncertainty of {base}" if col.endswith("_err") else base.replace("_", " ")
        data[col] = (("sample", "line"), values, {"units": units.get(base, ""), "long_name": long})
    data["chi2_reduced"] = ("sample", np.array([f.chi2_reduced for f in fits]), {"units": ""})
    data["noise"] = ("sample", np.array([f.noise for f in fits]), {"units": "FID amplitude per scan"})
    coords: dict[str, Any] = {"sample": names, "line": np.arange(next(iter(n_lines)))}
    if charge_mAh is not None:
        if len(charge_mAh) != len(fits):
            raise ParameterError(f"{len(charge_mAh)} charges for {len(fits)} spectra")
        data["charge_mAh"] = ("sample", np.asarray(charge_mAh, dtype=np.float64), {"units": "mA h"})
    attrs = {"operando_kind": "nmr-lines", "nucleus": ",".join(dict.fromkeys(f.nucleus for f in fits))}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def write_lines(
    fits: Sequence[LineFit],
    out: str | PathLike[str],
    *,
    parameters: dict[str, Any],
    charge_mAh: Sequence[float] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write fitted lines: ``OUT.zarr`` (``nmr-lines``, provenance) or ``OUT.csv`` (one row per sample and line)."""
    target = Path(out)
    ds = lines_dataset(fits, charge_mAh=charge_mAh)
    if target.suffix == ".csv":
        frame = ds.drop_vars(["chi2_reduced", "noise", *(["charge_mAh"] if "charge_mAh" in ds else [])])
        table = frame.to_dataframe().reset_index()
        return write_table(table, target, float_format="%.10g")
    if target.suffix != ".zarr":
        raise ParameterError(f"output must end in .zarr or .csv, got {target.name}")
    from operando.store import write_results

    inputs = [p for f in fits for p in sorted(f.folder.iterdir()) if p.is_file()]
    return write_results(ds, target, parameters=parameters, inputs=inputs, overwrite=overwrite)


# -- cw-EPR -------------------------------------------------------------------------------


def _warn_no_epr_line(
    row: npt.NDArray[np.float64],
    field: npt.NDArray[np.float64],
    amplitude: float,
    window: tuple[float | None, float | None],
    path: str,
) -> None:
    """Warn when the peak-to-peak amplitude is not well above the range of the noise alone (noise from point
    differences): the extrema found are then the noise's."""
    import warnings

    lo, hi = window
    keep = np.ones(field.size, dtype=bool)
    if lo is not None and hi is not None:
        keep = (field >= min(lo, hi)) & (field <= max(lo, hi))
    diffs = np.diff(row[keep])
    if diffs.size < 8:
        return
    sigma = float(np.median(np.abs(diffs - np.median(diffs)))) / 0.954  # MAD of a difference of two points
    # the range of n noise points alone is about 2 sqrt(2 ln n) sigmas (7 for 500 points)
    if sigma > 0 and abs(amplitude) < (2.0 * np.sqrt(2.0 * np.log(diffs.size + 1)) + 4.0) * sigma:
        warnings.warn(
            f"{path}: the peak-to-peak amplitude is {abs(amplitude) / sigma:.1f} noise sigmas: no line stands out of "
            "the noise there; the width, centre and g are the noise's",
            stacklevel=3,
        )


def epr_lines(
    path: str | PathLike[str], *, window_mT: Window | None = None, points: int = 3, dysonian: bool = False
) -> dict[str, Any]:
    """Peak-to-peak width, g factor and double integral of a cw-EPR first-derivative spectrum.

    Parameters
    ----------
    path : path
        Bruker BES3T ``.DSC``/``.DTA`` or WinEPR ``.par``/``.spc`` (:func:`operando.nmr.read_epr`).
    window_mT : (float, float), optional
        Field window holding one line (default: the whole sweep).
    points : int, default 3
        Points of the parabola fitted at each extremum.
    dysonian : bool, default False
        Also fit a derivative Dysonian (:func:`operando.nmr.fit_dysonian`; metallic Li):
        each line then has ``dysonian`` with centre, HWHM, phase, A/B ratio and errors.

    Returns
    -------
    dict
        ``path, title, field_mT`` (first, last), ``points``, ``mw_frequency_GHz``,
        ``mw_power_mW``, ``modulation_amplitude_mT``, ``scans``, ``window_mT`` and
        ``lines``: one dict per spectrum row with ``width_pp_mT``, ``centre_mT``, ``g``
        (None without a microwave frequency), ``amplitude_pp``, ``double_integral``
        (whole sweep). Plain Python values (JSON-ready).
    """
    lo, hi = window_mT if window_mT is not None else (None, None)
    spec = read_epr(path)
    meta = spec.meta
    field = spec.field_mT
    rows = []
    for row in np.atleast_2d(spec.data).real:
        pp = peak_to_peak(row, field, lo_mT=lo, hi_mT=hi, points=points)
        _warn_no_epr_line(row, field, pp.amplitude, (lo, hi), meta.path)
        g = None if meta.mw_frequency_Hz is None else float(g_factor(pp.centre_mT, meta.mw_frequency_Hz))
        line: dict[str, Any] = {"width_pp_mT": pp.width_mT, "centre_mT": pp.centre_mT, "g": g,
                                "amplitude_pp": pp.amplitude,
                                "double_integral": double_integral(row, field)}  # fmt: skip
        if dysonian:
            fit = fit_dysonian(row, field, lo_mT=lo, hi_mT=hi)
            d: dict[str, float | None] = {k: float(v) for k, v in vars(fit).items()}
            d["g"] = None if meta.mw_frequency_Hz is None else float(g_factor(fit.centre_mT, meta.mw_frequency_Hz))
            line["dysonian"] = d
        rows.append(line)
    return {
        "path": meta.path,
        "title": meta.title,
        "field_mT": [float(field[0]), float(field[-1])],
        "points": int(field.size),
        "mw_frequency_GHz": None if meta.mw_frequency_Hz is None else meta.mw_frequency_Hz / 1e9,
        "mw_power_mW": meta.mw_power_mW,
        "modulation_amplitude_mT": meta.modulation_amplitude_mT,
        "scans": meta.scans,
        "window_mT": None if lo is None else [lo, hi],
        "lines": rows,
    }
