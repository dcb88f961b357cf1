"""6Li abundance of samples from their spectra, and the ``"nmr-isotopes"`` result dataset.

:func:`isotope_integral` turns one processed spectrum into the per-scan integral of one
line with its noise uncertainty (what :func:`operando.nmr.li6_fraction` needs);
:func:`isotopes_dataset` assembles the fractions of several samples, and optionally the
tracer-exchange model curve they are compared with, into the dataset that
``operando nmr isotopes -o`` writes and the HTML report's ``nmr-isotopes`` section
draws (the schema is defined here, in one place).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import xarray as xr

from operando.errors import ParameterError
from operando.nmr._process import integral_uncertainty, window_mask
from operando.nmr._quant import sideband_windows, signal_factor, windows_mask
from operando.nmr._sidebands import LineShape, fit_centre_shape, joint_train_areas, sideband_area
from operando.nmr._spectrum import process

if TYPE_CHECKING:  # the type only: kernels import no reader
    from operando.nmr.io._bruker import NMRFID

__all__ = ["LineIntegral", "coinciding_trains", "isotope_integral", "isotopes_dataset", "line_integral", "robust_noise"]


@dataclass(frozen=True)
class LineIntegral:
    """One species' integral in one spectrum, normalised to what the spectrometer did.

    Attributes
    ----------
    value, sigma : float
        Integral per scan at unit receiver gain, relative to a fully relaxed 90-degree
        acquisition, in FID-amplitude units; and its noise standard uncertainty.
    windows : list of (int, float, float)
        ``(sideband order, lo, hi)`` ppm windows summed (order 0: the centre band).
    n_points : int
        Spectral points summed.
    ns, rg : float
        Scans and receiver gain divided out.
    signal_factor : float
        Flip-angle x saturation factor divided out (1 when not given).
    spin_rate_Hz : float or None
        MAS rate the sideband windows used.
    sigma_noise, sigma_systematic : float
        The parts of ``sigma`` (added in quadrature): the noise's, and the line model's
        (the spread of the fitted centre band over baseline models; 0 for plain window sums).
    """

    value: float
    sigma: float
    windows: list[tuple[int, float, float]]
    n_points: int
    ns: float
    rg: float
    signal_factor: float
    spin_rate_Hz: float | None
    sigma_noise: float = 0.0
    sigma_systematic: float = 0.0


def line_integral(
    fid: NMRFID,
    *,
    window_ppm: tuple[float, float],
    noise_ppm: tuple[float, float] | None,
    lb_Hz: float = 0.0,
    phase_mode: Literal["manual", "auto"] = "manual",
    spin_rate_Hz: float | None = None,
    sidebands: bool = True,
    p90_us: float | None = None,
    t1_s: float | None = None,
    reference_shift_ppm: float = 0.0,
    other_windows_ppm: Sequence[tuple[float, float]] = (),
    sideband_orders: int | None = None,
) -> LineIntegral:
    """Integral of one species (centre band and spinning sidebands) per scan and unit gain, with its uncertainty.

    The spectrum is processed with ``first_point=0.5`` (no integral offset) and divided by
    half the spectrum size (the real part of a line holds half of ``sum(FT) = size x
    fid[0]``), the number of scans ``NS`` and the receiver gain ``RG``, so that a
    line of FID amplitude ``A`` per scan at unit gain integrates to ``A`` whatever the size,
    scans and gain; with ``p90_us`` (and the recorded pulse ``P1``) and ``t1_s`` (and the
    recorded recycle delay ``D1``) also by :func:`operando.nmr.signal_factor`. Integrals of
    the 6Li and 7Li spectra of one sample are then comparable.

    Under MAS, when the centre band stands 10 sigma above the noise, it is the window sum
    plus its own wings beyond the window, and each sideband is the amplitude of the centre
    band's fitted shape over a quadratic baseline in its window
    (:func:`operando.nmr.sideband_area`; the windows cut to the midpoint between this
    species' sideband train and the other species'): a strong neighbour's wings and
    sidebands are not counted. A weaker centre band falls back to plain window sums (with
    the tainted-window checks).

    Parameters
    ----------
    fid : NMRFID
        From :func:`operando.nmr.read_fid`.
    window_ppm : (float, float)
        The species' centre-band window.
    noise_ppm : (float, float) or None
        Signal-free window for the noise standard deviation (its points inside a sideband
        window are left out); None: :func:`robust_noise` of every point outside the
        species' windows.
    lb_Hz : float, default 0
        Exponential line broadening.
    phase_mode : {"manual", "auto"}, default "manual"
    spin_rate_Hz : float, optional
        MAS rate for the sideband windows; default the recorded one (``MASR``/``CNST31``);
        0 for none.
    sidebands : bool, default True
        Sum the sideband windows too (:func:`operando.nmr.sideband_windows`).
    p90_us : float, optional
        90-degree pulse of this nucleus, microseconds (the flip angle from ``P1``); default
        the recorded one (Varian ``pw90``), else no flip-angle correction.
    t1_s : float, optional
        Longest T1 of the species, s (the saturation from ``D1`` + acquisition time).
    reference_shift_ppm : float, default 0
        Added to the ppm axis before the windows apply.
    other_windows_ppm : sequence of (float, float)
        Windows of other species (centre bands, and those of their sidebands that matter): a
        sideband window of this species that overlaps one is left out, and estimated by the
        sum over its mirror order (``-k`` for ``+k``) when that one is clean (warned;
        without a clean mirror, left out and warned).
    sideband_orders : int, optional
        Highest sideband order summed; default the highest whose ``+k`` and ``-k`` windows
        (fitted areas, or window sums) hold more than 3 sigma together
        (:func:`sideband_windows` lists them all).

    Returns
    -------
    LineIntegral

    Raises
    ------
    ParameterError
        ``p90_us`` or ``t1_s`` given but the dataset records no pulse length or recycle delay.
    """
    meta = fid.meta
    if meta.ns < 1 or not meta.rg > 0:
        raise ParameterError(f"{meta.path}: NS = {meta.ns} and RG = {meta.rg}: no intensity per scan and unit gain")
    ds = process(fid, lb_Hz=lb_Hz, phase_mode=phase_mode, first_point=0.5, reference_shift_ppm=reference_shift_ppm)
    norm = ds.attrs["size"] / 2.0 * meta.ns * meta.rg  # the real part of a line holds half of sum(FT) = n x fid[0]
    spec, ppm = np.atleast_2d(ds["intensity"].values)[0] / norm, ds["ppm"].values
    rate = meta.spin_rate_Hz if spin_rate_Hz is None else spin_rate_Hz
    lo, hi = window_ppm
    limits = (float(ppm.min()), float(ppm.max()))
    wins = sideband_windows(lo, hi, spin_rate_Hz=rate if sidebands else None, sf_MHz=meta.reference_MHz,
                            ppm_limits=limits)  # fmt: skip
    step = rate / meta.reference_MHz if rate and sidebands else None
    wins, half = _clear_of_foreign_trains(wins, (lo + hi) / 2.0, other_windows_ppm, step)
    wins, mirrored = _drop_overlapping(wins, other_windows_ppm, meta.path)
    all_mask = windows_mask(ppm, [(a, b) for _, a, b in wins] + [(a, b) for _, a, b in mirrored])
    if not windows_mask(ppm, [(lo, hi)]).any():
        raise ParameterError(f"{meta.path}: window {lo}..{hi} ppm holds no point of {limits[1]:.1f}..{limits[0]:.1f}")
    if noise_ppm is None:
        noise = robust_noise(spec[~all_mask])
    else:
        noise_mask = window_mask(ppm, *noise_ppm) & ~all_mask
        if noise_mask.sum() >= 8:
            noise = _detrended_std(spec[noise_mask])
        elif (~all_mask).sum() >= 64:
            warnings.warn(
                f"{meta.path}: the noise window {noise_ppm[0]}..{noise_ppm[1]} ppm lies in the species' (sideband) "
                "windows: the noise is estimated from every other point instead (robust_noise)",
                stacklevel=2,
            )
            noise = robust_noise(spec[~all_mask])
        else:
            raise ParameterError(
                f"{meta.path}: noise window {noise_ppm[0]}..{noise_ppm[1]} ppm holds {int(noise_mask.sum())} points "
                "outside the species' windows (and sidebands); need >= 8"
            )
    centre = window_mask(ppm, lo, hi)
    shape = fit_centre_shape(spec, ppm, (lo, hi), noise)
    joint = coinciding_trains(spec, ppm, shape, (lo, hi), other_windows_ppm, step, noise, rate, meta.path)
    if joint is not None and shape is not None:  # another species' train on this one's: both fitted together
        value, sigma, systematic = joint
        wins = sideband_windows(lo, hi, spin_rate_Hz=rate, sf_MHz=meta.reference_MHz, ppm_limits=limits)
        n_points = int(windows_mask(ppm, [(a, b) for _, a, b in wins]).sum())
        return _finish(meta, value, sigma, wins, n_points, rate, p90_us, t1_s, systematic)
    if shape is not None:  # the centre band and its sidebands fitted with its shape over the neighbours' wings
        value, sigma, systematic, wins = _fitted_sidebands(
            spec, ppm, shape, (lo, hi), wins, mirrored, step or 0.0, noise, sideband_orders, _filtered(fid), meta.path
        )
        n_points = int(windows_mask(ppm, [(a, b) for _, a, b in wins]).sum())
        return _finish(meta, value, sigma, wins, n_points, rate, p90_us, t1_s, systematic)
    top = _significant_orders(spec, ppm, wins, mirrored, noise) if sideband_orders is None else sideband_orders
    wins = [w for w in wins if abs(w[0]) <= top]
    mirrored = [w for w in mirrored if abs(w[0]) <= top]
    wins, mirrored = _replace_tainted(spec, ppm, wins, mirrored, meta.path)
    mask = windows_mask(ppm, [(a, b) for _, a, b in wins])
    captured = 1.0 if half is None else _captured_fraction(spec, ppm, (lo + hi) / 2.0, half, centre, noise)
    sideband_part = windows_mask(ppm, [(a, b) for o, a, b in wins if o != 0]) & ~centre
    value = float(spec[mask & ~sideband_part].sum()) + float(spec[sideband_part].sum()) / captured
    n_mirrored = 0
    for _, a, b in mirrored:  # a dropped sideband estimated by its mirror order (-k for +k)
        m = window_mask(ppm, a, b)
        value += float(spec[m].sum()) / captured
        n_mirrored += int(m.sum())
    sigma = float(integral_uncertainty(noise, int(mask.sum()) + n_mirrored)) / min(captured, 1.0)
    return _finish(meta, value, sigma, wins, int(mask.sum()), rate, p90_us, t1_s)


def _finish(
    meta: Any,
    value: float,
    sigma: float,
    wins: list[tuple[int, float, float]],
    n_points: int,
    rate: float | None,
    p90_us: float | None,
    t1_s: float | None,
    systematic: float = 0.0,
) -> LineIntegral:
    """The integral divided by the flip-angle and saturation factor (warned when TR < 5 T1); noise (+) systematic."""
    if p90_us is None:
        p90_us = meta.p90_us  # recorded (Varian pw90): the flip angle is known
    if p90_us is not None and meta.pulse_us is None:
        raise ParameterError(f"{meta.path}: --p90 given but the dataset records no pulse length (P1)")
    if t1_s is not None and meta.recycle_s is None:
        raise ParameterError(f"{meta.path}: a T1 given but the dataset records no recycle delay (D1)")
    repetition = None if meta.recycle_s is None else meta.recycle_s + meta.acquisition_s
    factor = signal_factor(pulse_us=meta.pulse_us if p90_us is not None else None, p90_us=p90_us,
                           repetition_s=repetition if t1_s is not None else None, t1_s=t1_s)  # fmt: skip
    if t1_s is not None and repetition is not None and repetition < 5.0 * t1_s:
        warnings.warn(
            f"{meta.path}: recycle delay + acquisition {repetition:.3g} s < 5 x T1 ({t1_s:g} s): "
            f"the signal is divided by {factor:.4f} (flip angle x saturation)",
            stacklevel=3,
        )
    total = float(np.hypot(sigma, systematic))
    return LineIntegral(value=value / factor, sigma=total / abs(factor), windows=wins, n_points=n_points,
                        ns=float(meta.ns), rg=float(meta.rg), signal_factor=factor, spin_rate_Hz=rate,
                        sigma_noise=sigma / abs(factor), sigma_systematic=systematic / abs(factor))  # fmt: skip


def _fitted_sidebands(
    spec: npt.NDArray[np.float64],
    ppm: npt.NDArray[np.float64],
    shape: LineShape,
    window: tuple[float, float],
    wins: list[tuple[int, float, float]],
    mirrored: list[tuple[int, float, float]],
    step: float,
    noise: float,
    sideband_orders: int | None,
    filtered: bool = False,
    path: str = "",
) -> tuple[float, float, float, list[tuple[int, float, float]]]:
    """The centre band's fitted area over its baseline plus the fitted sideband areas; noise and systematic sigma.

    The centre band is the amplitude of its fitted shape over a linear baseline (the
    window sum would also count a strong neighbour's wings: +0.8 % of a 95 % 6Li
    electrode's weak 7Li line, +1.7 % of the electrolyte's 6Li line beside it), its wings
    beyond the window included. The systematic uncertainty is the spread of that area
    over the baseline models (:func:`_centre_band_area`), as a share of the centre band
    applied to the whole integral (the sidebands share its shape).
    A window that overlapped another species' is stood in for by its mirror order's area.
    Orders are kept up to the highest whose ``+k`` and ``-k`` areas together exceed 3 sigma.

    Returns
    -------
    value, sigma_noise, sigma_systematic, windows
    """
    areas: dict[int, tuple[float, float, float]] = {}  # order -> area, noise sigma, systematic sigma
    reach = 6.0 * shape.fwhm_ppm  # fitted points near the sideband: a local baseline follows a wing better
    for order, a, b in wins:
        if order != 0:
            mid = shape.centre_ppm + order * step
            part = (max(a, mid - reach), min(b, mid + reach))
            a2, s2 = sideband_area(spec, ppm, shape, order * step, part, noise)
            # a neighbour's wing that the local quadratic baseline does not follow: a cubic one, or
            # the whole window's quadratic, moves the area beyond the noise (Hausman: the
            # difference of the variances)
            sys2 = 0.0
            for alt, deg in ((part, 3), ((a, b), 2)):
                a3, s3 = sideband_area(spec, ppm, shape, order * step, alt, noise, degree=deg)
                sys2 = max(sys2, (a3 - a2) ** 2 - abs(s3**2 - s2**2))
            # a sideband turned by another phase than the centre band (a first-order phase
            # error): its magnitude with a quadrature part fitted, beyond that part's noise
            magnitude, quadrature_sigma = _turned_sideband(spec, ppm, shape, order * step, part, noise)
            sys2 = max(sys2, (magnitude - a2) ** 2 - quadrature_sigma**2)
            areas[order] = (a2, s2, float(np.sqrt(sys2)))
    mid, flat = 0.5 * (float(ppm.min()) + float(ppm.max())), 0.45 * float(np.ptp(ppm))
    where = {o: (a, b) for o, a, b in wins}

    def in_flat_band(order: int) -> bool:
        a, b = where[order]
        return abs(0.5 * (a + b) - mid) + 0.5 * (b - a) <= flat

    # the sidebands' measured asymmetry (pairs fitted on both sides in the flat band; 10 %
    # without one) is the systematic of an order that takes its mirror's area
    both = [k for k in {abs(o) for o in areas} if all(o in areas and o in where and in_flat_band(o) for o in (k, -k))]
    pairs = [(areas[k], areas[-k]) for k in both]
    pairs = [(p, q) for p, q in pairs if p[0] + q[0] > 3.0 * np.hypot(p[1], q[1])]
    asymmetry = max(
        (float(np.sqrt(max((p[0] - q[0]) ** 2 - p[1] ** 2 - q[1] ** 2, 0.0))) / (p[0] + q[0]) for p, q in pairs),
        default=0.1,
    )  # beyond the pair's noise
    for order, _a, _b in mirrored:  # the dropped order takes its mirror's area
        if -order in areas:
            a_m, s_m, t_m = areas[-order]
            areas[order] = (a_m, s_m, float(np.hypot(t_m, asymmetry * a_m)))
    # a digital receiver's filter rolls off the outer tenth of each side of the spectral
    # width: a sideband there that reads below its mirror (in the flat band) beyond their
    # sigmas is attenuated, and takes its mirror's area (a 3 % loss of the +1 sideband of a
    # 7Li metal line at 25 kHz MAS, 9.4 T, in a 100 kHz spectrum)
    for order in where:
        if order == 0 or order not in areas or -order not in areas or -order not in where:
            continue
        (a_k, s_k, t_k), (a_m, s_m, t_m) = areas[order], areas[-order]
        attenuated = a_m - a_k > 3.0 * float(np.sqrt(s_k**2 + s_m**2 + t_k**2 + t_m**2))
        if not in_flat_band(order) and in_flat_band(-order) and attenuated:
            areas[order] = (a_m, s_m, float(np.hypot(t_m, asymmetry * a_m)))
    if filtered:  # nothing beyond the spectral width folds back: an order whose mirror is inside is its mirror
        for order in [o for o in areas if -o not in areas and -o not in where]:
            a_m, s_m, t_m = areas[order]
            areas[-order] = (a_m, s_m, float(np.hypot(t_m, asymmetry * a_m)))
    areas = {o: v for o, v in areas.items() if np.isfinite(v[0]) and np.isfinite(v[2])}
    top = 0
    if sideband_orders is not None:
        top = sideband_orders
    else:
        for k in sorted({abs(o) for o in areas}):
            pair = [areas[o] for o in (k, -k) if o in areas]
            if abs(sum(a for a, _, _ in pair)) > 3.0 * float(np.sqrt(sum(s * s + t * t for _, s, t in pair))):
                top = k
    kept = {o: v for o, v in areas.items() if abs(o) <= top}
    centre_area, centre_sigma, systematic = _centre_band_area(spec, ppm, shape, window, noise)
    sidebands = sum(a for a, _, _ in kept.values())
    value = centre_area + sidebands
    tail = 0.0
    if filtered and top > 0 and (top + 1) not in where and -(top + 1) not in where:
        # the spectrum ends before the train may: the next pair, decaying as the last two
        # did, is counted as uncertainty (not added)
        last = float(sum(kept[o][0] for o in (top, -top) if o in kept))
        before = centre_area if top == 1 else float(sum(kept[o][0] for o in (top - 1, 1 - top) if o in kept))
        tail = abs(last) * min(abs(last) / max(abs(before), 1e-300), 0.8)
        if tail > 0.002 * abs(value):
            warnings.warn(f"{path}: the sidebands reach order {top} on both ends of the spectral width: orders "
                          f"beyond are not counted (about {100 * tail / abs(value):.1f} % of the integral, taken as "
                          "its uncertainty); a wider spectral width holds them", stacklevel=3)  # fmt: skip
    var = centre_sigma**2 + sum(s * s for _, s, _ in kept.values())
    relative = systematic / centre_area if centre_area > 0 else 0.0
    # a line turned by a phase (Dysonian asymmetry, a phase error) integrates to cos(phase) of
    # its nuclei; the fitted areas are magnitudes. A tenth of the difference is counted as
    # systematic (an asymmetry that is no phase; sidebands turned by other phases): on the
    # held-out pairs (15-25 degrees, first-order phase errors) the magnitudes were within
    # 0.1 % of the truth where the absorption integrals lost 3 %
    turned = 1.0 - float(np.cos(np.deg2rad(shape.phase_deg)))
    sys_var = (relative * value) ** 2 + sum(t * t for _, _, t in kept.values()) + (0.1 * turned * value) ** 2 + tail**2
    used = [w for w in wins if w[0] == 0 or w[0] in kept]
    return value, float(np.sqrt(var)), float(np.sqrt(sys_var)), used


def _turned_sideband(
    spec: npt.NDArray[np.float64],
    ppm: npt.NDArray[np.float64],
    shape: LineShape,
    shift: float,
    window: tuple[float, float],
    noise: float,
) -> tuple[float, float]:
    """A sideband's magnitude from its in-phase and quadrature (90 degrees on) shapes; the quadrature's sigma."""
    lo, hi = min(window), max(window)
    m = window_mask(ppm, lo, hi)
    if m.sum() < 8:
        return float("nan"), float("nan")
    xs = ppm[m]
    u = (xs - 0.5 * (lo + hi)) / max(0.5 * (hi - lo), 1e-12)
    quadrature = replace(shape, phase_deg=shape.phase_deg + 90.0)
    design = np.column_stack([shape.line(xs, shift), quadrature.line(xs, shift), np.ones_like(u), u, u * u])
    coef, *_ = np.linalg.lstsq(design, spec[m], rcond=None)
    cov = np.linalg.pinv(design.T @ design) * noise**2
    return float(np.hypot(coef[0], coef[1])), float(np.sqrt(max(float(cov[1, 1]), 0.0)))


def _filtered(fid: NMRFID) -> bool:
    """Whether a digital receiver filtered the FID (Bruker ``DECIM`` > 1): nothing beyond the band folds in."""
    try:
        return float(getattr(fid, "acqus", {}).get("DECIM", 1)) > 1
    except (TypeError, ValueError):
        return False


def coinciding_trains(
    spec: npt.NDArray[np.float64],
    ppm: npt.NDArray[np.float64],
    shape: LineShape | None,
    window: tuple[float, float],
    others: Sequence[tuple[float, float]],
    step: float | None,
    noise: float,
    rate: float | None,
    path: str,
) -> tuple[float, float, float] | None:
    """This species' area when another species' sideband train coincides with its own (warned); else None.

    Two species whose shifts differ by a whole number of spinning periods (within two line
    widths), and whose widths differ by 5 % or more, put every band of one train on a band
    of the other: a window, or a sideband fit over a local baseline, then counts the
    other's band as this one's (the electrolyte's second 7Li sideband on a 95 % 6Li
    electrode's metal line at 30 kHz and 14.1 T read x6 = 71 %). Both trains are then
    fitted together (:func:`~operando.nmr._sidebands.joint_train_areas`), each shape refitted on the
    spectrum less the other trains, three times. The systematic sigma is the change of the
    last refit or, when larger, how far the split moves with either shape 3 % wider or 3 %
    more Gaussian: where the bands beyond the overlap do not pin the areas down (a
    spectrum too narrow for the trains' ends) only the shapes separate the species, and
    the sigma says so. Identical widths (this species' own sideband inside the other's
    window) are left to the mirror orders.

    Returns
    -------
    (value, sigma, systematic) or None
    """
    if shape is None or not step or not others:
        return None
    other_shapes = []
    for a, b in others:
        folded = ((0.5 * (a + b) - shape.centre_ppm) / step + 0.5) % 1.0 - 0.5  # in spinning periods
        if abs(folded) * step > 0.5 * abs(b - a) + 2.0 * shape.fwhm_ppm:
            continue  # no line inside that window can sit on this train
        other = fit_centre_shape(spec, ppm, (a, b), noise)
        if other is None:
            continue
        k = (other.centre_ppm - shape.centre_ppm) / step
        # a line of this one's width there may be this species' own sideband: only the
        # widths tell the trains apart, so another width is needed (else the mirror rules)
        alike = abs(other.fwhm_ppm / shape.fwhm_ppm - 1.0) < 0.05
        if round(k) != 0 and abs(k - round(k)) * step < 2.0 * max(shape.fwhm_ppm, other.fwhm_ppm) and not alike:
            other_shapes.append((other, (a, b), round(k)))
    if not other_shapes:
        return None
    shapes = [shape] + [o for o, _, _ in other_shapes]
    windows = [window] + [w for _, w, _ in other_shapes]
    previous = None
    for _ in range(3):
        areas, _sigmas, models = joint_train_areas(spec, ppm, shapes, step, noise)
        if previous is not None and not np.isfinite(areas).all():
            areas = previous
            break
        refits = []
        for i, (old, w) in enumerate(zip(shapes, windows, strict=True)):
            rest = spec - models.sum(axis=0) + models[i]
            new = fit_centre_shape(rest, ppm, w, noise)
            refits.append(old if new is None else new)
        shapes, previous = refits, areas
    final, final_sigma, _ = joint_train_areas(spec, ppm, shapes, step, noise)
    sys2 = float(final[0] - areas[0]) ** 2
    # how much the split leans on the shapes: each species' shape 3 % wider, and 3 % more Gaussian
    for i in range(len(shapes)):
        for change in ({"gamma_ppm": 1.03 * shapes[i].gamma_ppm, "sigma_ppm": 1.03 * shapes[i].sigma_ppm},
                       {"sigma_ppm": shapes[i].sigma_ppm + 0.03 * shapes[i].fwhm_ppm}):  # fmt: skip
            trial = [replace(sh, **change) if j == i else sh for j, sh in enumerate(shapes)]
            moved, _, _ = joint_train_areas(spec, ppm, trial, step, noise)
            sys2 = max(sys2, float(moved[0] - final[0]) ** 2)
    systematic = float(np.sqrt(sys2))
    names = ", ".join(f"{(a + b) / 2:.1f} ppm (its order {k:+d} on the centre band)" for _, (a, b), k in other_shapes)
    warnings.warn(
        f"{path}: at {rate:g} Hz MAS the sideband trains of the line at {shape.centre_ppm:.1f} ppm and of {names} "
        "coincide: both trains fitted together with symmetric sidebands (another spinning rate avoids this)",
        stacklevel=3,
    )
    return float(final[0]), float(final_sigma[0]), systematic


def _centre_band_area(
    spec: npt.NDArray[np.float64],
    ppm: npt.NDArray[np.float64],
    shape: LineShape,
    window: tuple[float, float],
    noise: float,
) -> tuple[float, float, float]:
    """Area of the centre band over a linear baseline, its noise sigma and its baseline-model systematic sigma.

    The alternatives: the fixed shape's amplitude over a constant and a quadratic baseline
    (linear solves), and the shape refitted over a quadratic baseline (where a neighbour's
    curved wing trades off against the line's Gaussian part: -0.3 % on a 95 % 6Li
    electrode's 7Li line beside the electrolyte's sideband). Each is nested in or nests
    the linear-baseline fit, so the noise part of a difference has the difference of the
    two variances (Hausman); only what exceeds it counts.
    """
    lo, hi = min(window), max(window)
    fixed = {d: sideband_area(spec, ppm, shape, 0.0, (lo, hi), noise, degree=d) for d in (0, 1, 2)}
    area = shape.area
    sigma = shape.area_err if np.isfinite(shape.area_err) else fixed[1][1]
    sys2 = 0.0
    a1, s1 = fixed[1]
    for d in (0, 2):
        ad, sd = fixed[d]
        sys2 = max(sys2, (ad - a1) ** 2 - abs(sd**2 - s1**2))
    refit = fit_centre_shape(spec, ppm, (lo, hi), noise, degree=2)
    if refit is not None and np.isfinite(refit.area_err):
        sys2 = max(sys2, (refit.area - area) ** 2 - abs(refit.area_err**2 - sigma**2))
    return float(area), float(sigma), float(np.sqrt(max(sys2, 0.0)))


def _clear_of_foreign_trains(
    wins: list[tuple[int, float, float]],
    centre: float,
    others: Sequence[tuple[float, float]],
    step: float | None,
) -> tuple[list[tuple[int, float, float]], float | None]:
    """Sideband windows narrowed to stay clear of the other species' sidebands; the half-width used.

    Under MAS every species has its own sideband train at the same spacing, so the other
    species' sidebands lie at the same distance from each of this species' sidebands: the
    centres folded into one spinning period. A strong neighbour (LLZO beside a weak
    dendrite line) puts its sidebands inside wide sideband windows of the weak line and
    inflates its integral (paper conditions, 6Li at 14 kHz and 19.6 T: +19 % with the
    electrolyte's first sideband in the dendrite's order -1 window). Each sideband window
    is therefore cut to half the folded distance to the nearest foreign centre (the
    midpoint between the two trains), and what the cut loses of the line's own wings is
    restored by :func:`_captured_fraction` measured on the centre band.

    Returns
    -------
    windows, half
        ``half`` is None when no window was narrowed.
    """
    if not step or not others or len(wins) < 2:
        return wins, None
    distances = []
    for a, b in others:
        r = ((a + b) / 2.0 - centre) % step
        distances.append(min(r, step - r))
    half = min(distances) / 2.0
    widest = max((b - a) / 2.0 for o, a, b in wins if o != 0)
    if half >= widest or half < 0.25 * widest:
        # a foreign train (folded) on top of this one cannot be cut away: the windows that
        # overlap the other species' are then mirrored or left out (_drop_overlapping)
        return wins, None
    out = [wins[0]]
    for order, a, b in wins[1:]:
        mid = (a + b) / 2.0
        h = min((b - a) / 2.0, half)
        out.append((order, mid - h, mid + h))
    return out, half


def _captured_fraction(
    spec: npt.NDArray[np.float64],
    ppm: npt.NDArray[np.float64],
    centre: float,
    half: float,
    centre_mask: npt.NDArray[np.bool_],
    noise: float,
) -> float:
    """Share of the centre band's integral within ``centre +- half`` ppm (sidebands share its shape).

    1 when the centre band is too weak to measure it (below 10 noise sigmas) or the
    window is narrower than ``half`` anyway; never below 0.5 (a cut that loses half of a
    line is no estimate).
    """
    total = float(spec[centre_mask].sum())
    if total <= 10.0 * noise * np.sqrt(max(int(centre_mask.sum()), 1)):
        return 1.0
    inner = float(spec[centre_mask & window_mask(ppm, centre - half, centre + half)].sum())
    return float(np.clip(inner / total, 0.5, 1.0))


def _significant_orders(
    spec: npt.NDArray[np.float64],
    ppm: npt.NDArray[np.float64],
    wins: list[tuple[int, float, float]],
    mirrored: list[tuple[int, float, float]],
    noise: float,
) -> int:
    """The highest sideband order whose +k and -k windows together hold more than 3 noise sigmas.

    Summing every order the spectrum holds adds their noise (and other lines' tails) for
    nothing once the sidebands have died out: 28 windows for a 6Li line at 14 kHz MAS.
    """
    top = 0
    for k in sorted({abs(o) for o, _, _ in wins + mirrored if o != 0}):
        parts = [(a, b) for o, a, b in wins + mirrored if abs(o) == k]
        m = windows_mask(ppm, parts)
        if m.any() and abs(float(spec[m].sum())) > 3.0 * noise * np.sqrt(m.sum()):
            top = k
    return top


def _drop_overlapping(
    wins: list[tuple[int, float, float]], others: Sequence[tuple[float, float]], path: str
) -> tuple[list[tuple[int, float, float]], list[tuple[int, float, float]]]:
    """Sideband windows free of the other species' windows, and the mirror windows standing in for the others
    (``(dropped order, lo, hi)`` of its mirror)."""
    if not others:
        return wins, []
    # the windows as given: a train of the other species' sidebands would always also cover
    # the mirror order (both lie 2k spinning periods apart), so those are listed when they matter
    foreign = [(min(lo, hi), max(lo, hi)) for lo, hi in others]

    def clash(a: float, b: float) -> bool:
        return any(a <= fb and fa <= b for fa, fb in foreign)

    kept = [w for w in wins if w[0] == 0 or not clash(w[1], w[2])]
    orders = {w[0]: w for w in kept}
    mirrored = []
    for order, a, b in wins:
        if order == 0 or (order, a, b) in kept:
            continue
        mirror = orders.get(-order)
        if mirror is not None:
            mirrored.append((order, mirror[1], mirror[2]))
            note = f"estimated by its mirror order {-order:+d}"
        else:
            note = "left out (its mirror order is not clean either)"
        warnings.warn(f"{path}: the sideband window {a:.1f}..{b:.1f} ppm (order {order:+d}) overlaps another "
                      f"species' window: {note}", stacklevel=4)  # fmt: skip
    return kept, mirrored


def _tainted_orders(
    spec: npt.NDArray[np.float64],
    ppm: npt.NDArray[np.float64],
    wins: list[tuple[int, float, float]],
    mask: Any,
) -> dict[int, float]:
    """Sideband windows that sit on a sloping or raised baseline (another line's tail): order -> its share.

    A straight line through the flanks of each sideband window (a quarter window wide on
    each side, outside every window) estimates what the window sums besides its sideband.
    Subtracting it is not reliable (a Lorentzian tail is curved: on the demo's 95 % 6Li
    electrode it over-corrected by as much as leaving it), so a window whose baseline
    exceeds 4 sigma of its own uncertainty and 5 % of the species' integral is reported
    (the demo's electrode: +20 % under the second 7Li sideband; a typical 30 % 6Li pair:
    +1.7 %, kept).
    """
    total = float(spec[mask].sum())
    out: dict[int, float] = {}
    for order, lo, hi in wins:
        if order == 0:
            continue
        width = hi - lo
        flank = (window_mask(ppm, lo - width / 4, lo) | window_mask(ppm, hi, hi + width / 4)) & ~mask
        inside = window_mask(ppm, lo, hi)
        if flank.sum() < 8 or not inside.any():
            continue
        coef, cov = np.polyfit(ppm[flank], spec[flank], 1, cov=True)
        v = np.array([ppm[inside].sum(), inside.sum()], dtype=np.float64)
        under = float(v @ coef)  # the line's sum over the window's points
        sigma = float(np.sqrt(max(v @ cov @ v, 0.0)))  # its uncertainty from the flanks' scatter
        if abs(under) > max(4.0 * sigma, 0.05 * abs(total)):
            out[order] = under / total if total else float("inf")
    return out


def _replace_tainted(
    spec: npt.NDArray[np.float64],
    ppm: npt.NDArray[np.float64],
    wins: list[tuple[int, float, float]],
    mirrored: list[tuple[int, float, float]],
    path: str,
) -> tuple[list[tuple[int, float, float]], list[tuple[int, float, float]]]:
    """Tainted sideband windows replaced by their clean mirror order, or left out; warned."""
    mask = windows_mask(ppm, [(a, b) for _, a, b in wins])
    tainted = _tainted_orders(spec, ppm, wins, mask)
    if not tainted:
        return wins, mirrored
    clean = {o: (a, b) for o, a, b in wins if o not in tainted}
    notes = []
    for order, share in sorted(tainted.items()):
        mirror = clean.get(-order)
        if mirror is not None:
            mirrored = [*mirrored, (order, *mirror)]
        notes.append(f"order {order:+d} ({100 * share:+.1f} %): " + ("its mirror order used" if mirror else "left out"))
    warnings.warn(
        f"{path}: sideband windows on another line's tail (flank baseline as a share of the species' integral), "
        + "; ".join(notes) + ": check the spectrum, narrow the window or give the other species' windows",
        stacklevel=3,
    )  # fmt: skip
    return [w for w in wins if w[0] not in tainted], mirrored


def robust_noise(values: npt.ArrayLike) -> float:
    """Noise standard deviation of a spectrum with lines: ``1.4826 x MAD`` of its first differences ``/ sqrt(2)``.

    Lines and a slow baseline change the differences of few points only, so the median
    sees the white noise.

    Parameters
    ----------
    values : (K,) array_like of float
        Spectrum points (the species' windows left out).

    Returns
    -------
    float

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(0.0, 2.0, 20000) + np.linspace(0, 50, 20000)
    >>> round(robust_noise(x), 1)
    2.0
    """
    d = np.diff(np.asarray(values, dtype=np.float64))
    if d.size < 8:
        raise ParameterError(f"{d.size + 1} points outside the windows: too few for a noise estimate")
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def _detrended_std(values: npt.NDArray[np.float64]) -> float:
    t = np.linspace(-1.0, 1.0, values.size)
    coef = np.polyfit(t, values, 1)
    return float(np.std(values - np.polyval(coef, t), ddof=2))


def isotope_integral(
    fid: NMRFID,
    *,
    window_ppm: tuple[float, float],
    noise_ppm: tuple[float, float],
    lb_Hz: float = 0.0,
    phase_mode: Literal["manual", "auto"] = "manual",
    **options: Any,
) -> tuple[float, float]:
    """:func:`line_integral` as ``(value, sigma)``: the per-scan, unit-gain integral of one species.

    ``options`` go to :func:`line_integral` (``spin_rate_Hz``, ``sidebands``, ``p90_us``,
    ``t1_s``, ``reference_shift_ppm``). Unlike :func:`line_integral` the centre band alone
    is counted unless ``sidebands=True`` (kept for existing callers: the centre band alone
    is right only when the sidebands hold the same share in both nuclei). ``operando nmr
    isotopes`` and the demo take both nuclei together with sidebands and Hz-matched windows
    (:func:`operando.pipelines.nmr.pair_integrals`).

    Returns
    -------
    value, sigma : float
        Integral (sum over the windows' points) and its standard uncertainty.
    """
    options.setdefault("sidebands", False)
    r = line_integral(fid, window_ppm=window_ppm, noise_ppm=noise_ppm, lb_Hz=lb_Hz, phase_mode=phase_mode, **options)
    return r.value, r.sigma


def _column(values: npt.ArrayLike | None, n: int, name: str) -> npt.NDArray[np.float64] | None:
    if values is None:
        return None
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size != n:
        raise ParameterError(f"{name} has {arr.size} values for {n} samples")
    return arr


def isotopes_dataset(
    samples: Sequence[str],
    li6_fraction: npt.ArrayLike,
    li6_fraction_err: npt.ArrayLike,
    *,
    charge_mAh: npt.ArrayLike | None = None,
    species: Sequence[str] | None = None,
    integral_6li: npt.ArrayLike | None = None,
    integral_7li: npt.ArrayLike | None = None,
    mechanism: Sequence[str] | None = None,
    model_charge_mAh: npt.ArrayLike | None = None,
    model_li6_fraction: npt.ArrayLike | None = None,
    model_label: str = "tracer-exchange model",
    factor: float,
    factor_err: float = 0.0,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """The ``"nmr-isotopes"`` dataset: 6Li fraction per sample, optionally a model curve.

    Parameters
    ----------
    samples : (N,) sequence of str
        Sample names (unique): the ``sample`` coordinate.
    li6_fraction, li6_fraction_err : (N,) array_like
        6Li atomic fraction (0..1) and its standard uncertainty.
    charge_mAh : (N,) array_like, optional
        Charge passed through the sample's cell before it was measured (mA h; NaN when
        not applicable, e.g. a reference).
    species : (N,) sequence of str, optional
        What each sample is (``"electrode"``, ``"electrolyte"``, ``"dendrite"``...): a
        ``species`` coordinate.
    integral_6li, integral_7li : (N,) array_like, optional
        The integrals the fractions come from (FID amplitude per scan).
    mechanism : (N,) sequence of str, optional
        Growth mechanism of dendrite samples (:func:`operando.nmr.classify_dendrite`;
        ``""`` for the others).
    model_charge_mAh, model_li6_fraction : (M,) array_like, optional
        A model curve (e.g. :func:`operando.nmr.electrolyte_abundance`): variable
        ``model_li6_fraction`` over the dimension coordinate ``model_charge_mAh``.
    model_label : str
        The curve's ``long_name``.
    factor, factor_err : float
        The 7Li:6Li sensitivity factor used, and its standard uncertainty.
    attrs : mapping, optional
        More attributes (parameters of the model, the reference...).

    Returns
    -------
    xarray.Dataset
        ``attrs["operando_kind"] = "nmr-isotopes"``; dimension ``sample``; variables
        ``li6_fraction``, ``li6_fraction_err`` (units ``"1"``) and those given.

    Examples
    --------
    >>> ds = isotopes_dataset(["electrode"], [0.95], [0.002], factor=28.45)
    >>> ds.attrs["operando_kind"], ds["li6_fraction"].dims
    ('nmr-isotopes', ('sample',))
    """
    names = [str(s) for s in samples]
    n = len(names)
    if n == 0 or len(set(names)) != n:
        raise ParameterError(f"need at least one sample and unique names, got {names}")
    x = np.asarray(_column(li6_fraction, n, "li6_fraction"))
    sx = np.asarray(_column(li6_fraction_err, n, "li6_fraction_err"))
    data: dict[str, Any] = {
        "li6_fraction": ("sample", x, {"units": "1", "long_name": "6Li atomic fraction"}),
        "li6_fraction_err": ("sample", sx, {"units": "1", "long_name": "standard uncertainty of li6_fraction"}),
    }
    coords: dict[str, Any] = {"sample": names}
    for name, values, unit, long in (
        ("charge_mAh", charge_mAh, "mA h", "charge passed before the measurement"),
        ("integral_6li", integral_6li, "FID amplitude per scan", "6Li line integral"),
        ("integral_7li", integral_7li, "FID amplitude per scan", "7Li line integral"),
    ):
        col = _column(values, n, name)
        if col is not None:
            data[name] = ("sample", col, {"units": unit, "long_name": long})
    for name, labels in (("species", species), ("mechanism", mechanism)):
        if labels is not None:
            if len(labels) != n:
                raise ParameterError(f"{name} has {len(labels)} values for {n} samples")
            target = coords if name == "species" else data
            target[name] = ("sample", np.array([str(v) for v in labels]), {"units": ""})
    if (model_charge_mAh is None) != (model_li6_fraction is None):
        raise ParameterError("model_charge_mAh and model_li6_fraction go together")
    if model_charge_mAh is not None and model_li6_fraction is not None:
        q = np.asarray(model_charge_mAh, dtype=np.float64).reshape(-1)
        m = np.asarray(model_li6_fraction, dtype=np.float64).reshape(-1)
        if q.shape != m.shape:
            raise ParameterError(f"model curve: {q.size} charges but {m.size} fractions")
        coords["model_charge_mAh"] = ("model_charge_mAh", q, {"units": "mA h", "long_name": "charge passed"})
        data["model_li6_fraction"] = ("model_charge_mAh", m, {"units": "1", "long_name": model_label})
    out_attrs = {"operando_kind": "nmr-isotopes", "factor": float(factor), "factor_err": float(factor_err)}
    out_attrs.update(dict(attrs or {}))
    return xr.Dataset(data, coords=coords, attrs=out_attrs)
