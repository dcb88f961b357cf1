"""Dedicated report sections, one per ``operando_kind`` (schemas in the result-store conventions).

* ``sxdm-maps``: mean d-spacing (± spread) and microstrain against capacity, the
  d-spacing histograms, and per K-map the d-spacing map (one colour scale for the series)
  and the misorientation map (one colour wheel for the series).
* ``tomo-series``: contact area and Li / void / interphase volumes against time and
  capacity, and per volume the contact map of each interface; other variables generic.
* ``mri-layers``: amount (± ``amount_err``) and growth rate per layer against time and
  capacity with the growth stages shaded, and per measurement the depth profile.
* ``nmr-isotopes``: 6Li atomic fraction (± uncertainty) per sample, against the charge
  passed when the samples carry it, with the tracer-exchange model curve when present
  and natural abundance as a reference line. Schema (built by
  :func:`operando.nmr.isotopes_dataset`, which ``operando nmr isotopes -o`` uses):
  dimension ``sample``; variables ``li6_fraction`` and ``li6_fraction_err``
  (``(sample,)``, units ``"1"``); optional ``charge_mAh`` ``(sample,)``, ``species``
  coordinate, ``mechanism``; optional model curve ``model_li6_fraction`` over a
  dimension ``model_charge_mAh`` (coordinate, mA h).
* ``echem-timeline``: no figures; its measurements are drawn on the charging curve.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; never ask for a display
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from operando.nmr import LI6_NATURAL
from operando.report._mri import stage_sentence
from operando.report._sections import (
    FigureSpec,
    FrameState,
    Section,
    _floats,
    _summary_figure,
    frame_state,
    generic_specs,
    honest_ylim,
    infer_kind,
    plot_by_direction,
    register_section,
    units_label,
    x_axes,
)
from operando.report._spectra import replicate_specs
from operando.report._sxdm import (
    plot_charge_curves,
    plot_dspacing_histograms,
    plot_dspacing_maps,
    plot_misorientation,
)
from operando.report._tomo import analysis_specs, interface_planes, interface_profile_figure, orthoslice_figure

__all__ = ["echem_timeline_section", "mri_section", "nmr_isotopes_section", "sxdm_section", "tomo_series_section"]


def _capacity_axis(state: FrameState | None, n: int) -> tuple[np.ndarray, str]:
    """Capacity when known, else time, else the index."""
    return x_axes(state, n)[-1]


# -- SXDM ---------------------------------------------------------------------------------
def sxdm_strain_figure(maps: xr.Dataset, state: FrameState | None) -> Figure:
    """Mean d-spacing (error bar: spread over the map) and microstrain against capacity.

    Parameters
    ----------
    maps : xarray.Dataset
        Dims ``(frame, y, x)`` with ``d_spacing`` (Å); ``microstrain`` ``(frame,)`` when
        present, else the standard deviation of ``strain`` (or of ``d / mean(d)``) per map.
    state : FrameState, optional
        x axis: capacity, else time, else the index.
    """
    n = maps.sizes["frame"]
    d = _floats(maps["d_spacing"]).reshape(n, -1)
    with warnings.catch_warnings():  # an all-NaN (fully masked) map gives NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(d, axis=1)
        spread = np.nanstd(d, axis=1)
        if "microstrain" in maps and maps["microstrain"].dims == ("frame",):
            micro = _floats(maps["microstrain"])
        else:
            micro = np.nanstd(d / mean[:, None], axis=1)
    xv, xlabel = _capacity_axis(state, n)
    direction = state.direction if state is not None else None
    fig, (ax_d, ax_s) = plt.subplots(1, 2, figsize=(9.5, 3.4), layout="constrained")
    # in time order, one line per charge / discharge segment: the two directions are never joined
    plot_by_direction(ax_d, xv, mean, direction, err=spread, marker="o", ms=4, capsize=3, lw=1.2)
    ax_d.set_ylabel("mean d-spacing (Å)\n(bars: std over the map)")
    plot_by_direction(ax_s, xv, micro * 1e3, direction, marker="s", ms=4, lw=1.2, color="#c0392b")
    ax_s.set_ylabel("microstrain, std of strain ($10^{-3}$)")
    honest_ylim(ax_d, mean, spread)
    honest_ylim(ax_s, micro * 1e3, rel_floor=0.05)
    for ax in (ax_d, ax_s):
        ax.set_xlabel(xlabel)
        if ax.get_legend_handles_labels()[1]:
            ax.legend(fontsize=7, frameon=False)
    fig.suptitle("SXDM: lattice spacing and microstrain along the charge")
    return fig


_SXDM_SHOWN = {"d_spacing", "tilt_altitude", "tilt_azimuth", "microstrain"}


@register_section("sxdm-maps")
def sxdm_section(ds: xr.Dataset, source: Path) -> Section:
    """SXDM map series (dims ``frame, y, x``)."""
    maps = ds.load()
    state = frame_state(maps)
    n = maps.sizes["frame"]
    finite = _floats(maps["d_spacing"])
    finite = finite[np.isfinite(finite)]
    limits = (float(np.percentile(finite, 1.0)), float(np.percentile(finite, 99.0))) if finite.size else None
    has_tilt = "tilt_altitude" in maps and "tilt_azimuth" in maps
    max_tilt = None
    if has_tilt:
        alt = _floats(maps["tilt_altitude"])
        alt = alt[np.isfinite(alt)]
        top = float(np.percentile(alt, 99.0)) if alt.size else 0.0
        max_tilt = top if top > 0 else 1.0
    summary = [
        FigureSpec("d_spacing_vs_capacity", "d-spacing and microstrain", lambda: sxdm_strain_figure(maps, state)),
        FigureSpec("d_spacing_histograms", "d-spacing distributions", lambda: plot_dspacing_histograms(maps)),
    ]
    if "intensity" in maps:  # the paper's Supp. Fig. 10, and the phase fraction where the maps were decomposed
        summary.append(
            FigureSpec(
                "intensity_phase_vs_capacity",
                "diffracted intensity and phase fraction along the charge",
                lambda: plot_charge_curves(maps),
            )
        )

    def per_frame(k: int) -> list[FigureSpec]:
        one = maps.isel(frame=[k])
        specs = [
            FigureSpec(
                f"d_spacing_frame{k:03d}",
                "d-spacing map",
                lambda: plot_dspacing_maps(one, limits=limits, title="d-spacing (scale shared by the series)"),
            )
        ]
        if has_tilt:
            specs.append(
                FigureSpec(
                    f"misorientation_frame{k:03d}",
                    "misorientation map",
                    lambda: plot_misorientation(one, max_tilt_deg=max_tilt),
                )
            )
        return specs

    others = sorted(str(v) for v in maps.data_vars if v not in _SXDM_SHOWN and not str(v).startswith("echem_"))
    return Section(
        kind="sxdm-maps",
        title=f"SXDM K-map series: {source.name}",
        source=source,
        summary=summary,
        frame_figures=per_frame,
        n_frames=n,
        state=state,
        notes=[f"{n} K-maps of {maps.sizes['y']} × {maps.sizes['x']} points", "also stored: " + ", ".join(others)],
    )


# -- tomography -----------------------------------------------------------------------------
_TOMO_SUMMARY = ("contact_area_mm2", "li_volume_mm3", "void_volume_mm3", "interphase_volume_mm3")


def _voxel_um(ds: xr.Dataset) -> float:
    if "voxel_size_um" in ds.attrs:
        return float(ds.attrs["voxel_size_um"])
    if "z" in ds.coords and ds.sizes.get("z", 0) > 1:
        return float(np.diff(ds["z"].values[:2])[0])
    return 1.0


def _with_scan_figures(
    ds: xr.Dataset, others: Callable[[int], list[FigureSpec]] | None
) -> Callable[[int], list[FigureSpec]]:
    """Per scan: orthoslices with the segmentation over them and the contact maps beside
    them, and the grey-value profile across both interfaces, before the other figures."""
    meanings = str(ds["labels"].attrs.get("flag_meanings", "")).split()
    values = list(ds["labels"].attrs.get("flag_values", range(len(meanings))))
    codes = {name: int(v) for name, v in zip(meanings, values, strict=False)}
    voxel = _voxel_um(ds)
    electrode = [codes[n] for n in ("lithium", "void") if n in codes]
    electrolyte = [codes[n] for n in ("electrolyte", "interphase", "pore") if n in codes]

    def draw_slices(k: int) -> Figure:
        vol = np.asarray(ds["volume"].isel(frame=k).values)
        lab = np.asarray(ds["labels"].isel(frame=k).values)
        contact = ds["contact"].isel(frame=k).values if "contact" in ds else None
        return orthoslice_figure(vol, voxel_um=voxel, labels=lab, codes=codes, contact=contact, title=f"scan {k}")

    def draw_profile(k: int) -> Figure:
        vol = np.asarray(ds["volume"].isel(frame=k).values)
        lab = np.asarray(ds["labels"].isel(frame=k).values)
        planes = interface_planes(lab, electrode=electrode, electrolyte=electrolyte) if electrode else []
        inside = np.isin(lab, [*electrode, *electrolyte]).any(axis=0)
        return interface_profile_figure(
            vol, voxel_um=voxel, planes_vox=planes, mask=inside, title=f"scan {k}: grey value across the interfaces"
        )

    def per_frame(k: int) -> list[FigureSpec]:
        own = [
            FigureSpec(f"tomo_slices_frame{k:03d}", "orthoslices, segmentation and contact", lambda: draw_slices(k)),
            FigureSpec(f"tomo_profile_frame{k:03d}", "line profile across the interfaces", lambda: draw_profile(k)),
        ]
        return own + (others(k) if others is not None else [])

    return per_frame


@register_section("tomo-series")
def tomo_series_section(ds: xr.Dataset, source: Path) -> Section:
    """Operando tomography series: contact, volumes, contact maps per volume."""
    state = frame_state(ds)
    shown = [v for v in _TOMO_SUMMARY if v in ds]
    summary: list[FigureSpec] = []
    if shown:
        summary.append(
            FigureSpec(
                "contact_and_volumes",
                "contact area and volumes",
                lambda: _summary_figure(ds, shown, state, "contact area and volumes along the experiment", stages=None),
            )
        )
    kept = "volume" in ds and "labels" in ds and ds["volume"].ndim == 4
    # the paper's analyses (tomo series --analyses) as its figures, not in the generic tables
    analyses, analysis_maps, analysis_notes, analysed = analysis_specs(ds, state)
    rest = [
        str(v)
        for v in ds.data_vars
        if v not in shown and v not in analysed and not (kept and v in ("volume", "labels"))
    ]
    parts = generic_specs(ds, rest, state, prefix="tomo_", title="other tomography quantities")
    frame_figures = parts.per_frame
    if analysis_maps is not None:
        generic_frames, maps = parts.per_frame, analysis_maps
        frame_figures = lambda k: maps(k) + (generic_frames(k) if generic_frames is not None else [])  # noqa: E731
    if kept:
        frame_figures = _with_scan_figures(ds, frame_figures)
    return Section(
        kind="tomo-series",
        title=f"Tomography series: {source.name}",
        source=source,
        summary=summary + analyses + parts.summary,
        frame_figures=frame_figures,
        n_frames=ds.sizes.get("frame", 0),
        state=state,
        notes=analysis_notes + parts.notes,
    )


# -- MRI ------------------------------------------------------------------------------------
@register_section("mri-layers")
def mri_section(ds: xr.Dataset, source: Path) -> Section:
    """MRI layer quantification: amount and growth rate per layer, stages shaded, profiles."""
    state = frame_state(ds)
    stages = _floats(ds["stage"]) if "stage" in ds else None
    if stages is not None:
        stages = np.where(stages == 0, np.nan, stages)  # 0: after the short circuit, no growth stage
    shown = [v for v in ("amount", "growth_rate") if v in ds]
    summary: list[FigureSpec] = []
    if shown:
        summary.append(
            FigureSpec(
                "amount_per_layer",
                "amount and growth rate per layer",
                lambda: _summary_figure(ds, shown, state, "Li amount per layer (stages shaded)", stages=stages),
            )
        )
    rest = [str(v) for v in ds.data_vars if v not in {*shown, "stage"}]
    parts = generic_specs(ds, rest, state, prefix="mri_", title="other MRI quantities")
    notes = list(parts.notes)
    if stages is not None and np.isfinite(stages).any():
        notes.append(stage_sentence(ds))
    return Section(
        kind="mri-layers",
        title=f"MRI layers: {source.name}",
        source=source,
        summary=summary + parts.summary,
        frame_figures=parts.per_frame,
        n_frames=ds.sizes.get("frame", 0),
        state=state,
        notes=notes,
    )


# -- NMR isotopes ---------------------------------------------------------------------------
_SPECIES_MARKERS = {"electrode": "s", "electrolyte": "o", "dendrite": "D", "reference": "^"}


def nmr_isotopes_figure(ds: xr.Dataset) -> Figure:
    """6Li fraction per sample (error bars), against charge when known, with the model curve.

    Samples are grouped by their ``species`` coordinate when there is one (one marker and
    legend entry per species); the model curve is labelled by its ``long_name``.
    """
    frac = ds["li6_fraction"]
    y = _floats(frac)
    err = _floats(ds["li6_fraction_err"]) if "li6_fraction_err" in ds else np.zeros_like(y)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    names = [str(s) for s in ds["sample"].values] if "sample" in ds.coords else [str(i) for i in range(y.size)]
    species = [str(s) for s in ds["species"].values] if "species" in ds.coords else ["measured"] * y.size
    by_charge = (
        "charge_mAh" in ds and ds["charge_mAh"].dims == frac.dims and bool(np.isfinite(_floats(ds["charge_mAh"])).any())
    )
    xv = _floats(ds["charge_mAh"]) if by_charge else np.arange(y.size, dtype=np.float64)
    for kind in dict.fromkeys(species):
        sel = np.array([s == kind for s in species])
        ax.errorbar(xv[sel], y[sel], yerr=err[sel], fmt=_SPECIES_MARKERS.get(kind, "o"), ms=5, capsize=3, label=kind)
    if by_charge:
        for xi, yi, name in zip(xv, y, names, strict=True):
            if np.isfinite(xi):
                ax.annotate(name, (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_xlabel(units_label(ds["charge_mAh"], "charge passed"))
    else:
        ax.set_xticks(xv, names, rotation=30, ha="right", fontsize=8)
        ax.set_xlabel("sample (name)")
    if "model_li6_fraction" in ds:
        model = ds["model_li6_fraction"]
        dim = str(model.dims[0])
        label = str(model.attrs.get("long_name", "tracer-exchange model"))
        ax.plot(_floats(model[dim]), _floats(model), color="#c0392b", lw=1.2, label=label)
    ax.axhline(LI6_NATURAL, color="0.5", ls="--", lw=0.8, label=f"natural abundance ({LI6_NATURAL})")
    ax.set_ylabel("6Li atomic fraction (1)")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("6Li atomic fraction per sample", fontsize=10)
    return fig


def _isotope_notes(ds: xr.Dataset) -> list[str]:
    """One line per sample (fraction ± uncertainty, charge, mechanism) and the factor used."""
    y, err = _floats(ds["li6_fraction"]), _floats(ds["li6_fraction_err"]) if "li6_fraction_err" in ds else None
    names = [str(s) for s in ds["sample"].values] if "sample" in ds.coords else [f"#{i}" for i in range(y.size)]
    notes = []
    for i, name in enumerate(names):
        line = f"{name}: 6Li {100 * y[i]:.2f}" + (f" ± {100 * err[i]:.2f}" if err is not None else "") + " at.%"
        if "charge_mAh" in ds and np.isfinite(float(ds["charge_mAh"].values[i])):
            line += f" after {float(ds['charge_mAh'].values[i]):.3g} mA h"
        if "mechanism" in ds and str(ds["mechanism"].values[i]):
            line += f" ({ds['mechanism'].values[i]})"
        line += _isotope_extras(ds, i)
        notes.append(line)
    notes += _group_notes(ds)
    if "factor" in ds.attrs:
        factor_err = float(ds.attrs.get("factor_err", 0.0))
        notes.append(
            f"7Li:6Li sensitivity factor {float(ds.attrs['factor']):.4g}"
            + (f" ± {factor_err:.2g} (from the reference)" if factor_err > 0 else "")
        )
    return notes


def _isotope_extras(ds: xr.Dataset, i: int) -> str:
    """Mechanism-2 share and the detection limit of sample ``i``, when the store has them."""
    out = ""
    if "mechanism2_share" in ds and np.isfinite(float(ds["mechanism2_share"].values[i])):
        share, err = float(ds["mechanism2_share"].values[i]), float(ds["mechanism2_share_err"].values[i])
        out += f", Mechanism-2 share {100 * share:.1f} ± {100 * err:.1f} %"
        if share + 2 * err < 0 or share - 2 * err > 1:  # as the CLI says it: beyond both end members
            out += " (outside 0-100 % by more than 2 sigma: not a mix of the electrolyte and grain-boundary Li)"
    if "li6_fraction_lod" in ds and np.isfinite(float(ds["li6_fraction_lod"].values[i])):
        out += f", 6Li not detected (< {100 * float(ds['li6_fraction_lod'].values[i]):.2f} at.%, 3 sigma)"
    return out


def _group_notes(ds: xr.Dataset) -> list[str]:
    """Replicate cells: mean ± std and propagated uncertainty per group of two or more cells."""
    if "group_mean" not in ds:
        return []
    return [
        f"group {g}: 6Li {100 * float(m):.2f} ± {100 * float(s):.2f} at.% (mean ± std of {int(n)} cells; "
        f"propagated ± {100 * float(p):.2f})"
        for g, n, m, s, p in zip(ds["group"].values, ds["group_n"].values, ds["group_mean"].values,
                                 ds["group_std"].values, ds["group_propagated_err"].values, strict=True)
        if int(n) > 1
    ]  # fmt: skip


@register_section("nmr-isotopes")
def nmr_isotopes_section(ds: xr.Dataset, source: Path) -> Section:
    """6Li fractions per sample (no measurements to step through)."""
    ds = ds.load()
    if "li6_fraction" not in ds:
        parts = generic_specs(ds, [str(v) for v in ds.data_vars], None)
        notes = ["no li6_fraction variable: generic view", *parts.notes]
        return Section("nmr-isotopes", f"NMR isotopes: {source.name}", source, parts.summary, notes=notes)
    return Section(
        kind="nmr-isotopes",
        title=f"NMR isotope abundance: {source.name}",
        source=source,
        summary=[
            FigureSpec("li6_fraction", "6Li fraction per sample", lambda: nmr_isotopes_figure(ds)),
            *replicate_specs(ds),
        ],
        notes=[
            f"{ds['li6_fraction'].size} sample(s), measured ex situ (no place on a charging curve)",
            *_isotope_notes(ds),
        ],
    )


# -- the timeline store ----------------------------------------------------------------------
@register_section("echem-timeline")
def echem_timeline_section(ds: xr.Dataset, source: Path) -> Section:
    """The measurement schedule: markers on the charging curve, nothing to step through."""
    ds = ds.load()
    state = frame_state(ds)
    n = ds.sizes.get("frame", 0)
    outside = int((~ds["in_record"].values.astype(bool)).sum()) if "in_record" in ds else 0
    return Section(
        kind=infer_kind(ds),
        title=f"Measurement timeline: {source.name}",
        source=source,
        n_frames=n,
        state=state,
        notes=[f"{n} measurements, {outside} outside the echem record"],
        interactive=False,
    )
