"""Measured against predicted voltage of a symmetric cell (the Butler–Volmer model figure)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; never ask for a display
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from operando.errors import ParameterError
from operando.report._sections import FigureSpec, Section, register_section

__all__ = ["cellmodel_section", "plot_cell_model", "plot_scenarios", "scenario_sentence"]

_NEEDED = ("measured_voltage_V", "predicted_voltage_V", "contact_area_mm2", "time_s")
_TERMS = {
    "charge_transfer_1_V": "charge transfer, interface 1",
    "charge_transfer_2_V": "charge transfer, interface 2",
    "electrolyte_ohmic_V": "electrolyte (ohmic)",
    "interphase_ohmic_V": "interphase (ohmic)",
}


def plot_cell_model(
    comparison: xr.Dataset, *, title: str | None = None, fit_window_s: tuple[float, float] | None = None
) -> Figure:
    """Voltage measured and predicted over time, the model's voltage terms and the contact areas.

    Parameters
    ----------
    comparison : xarray.Dataset
        From :func:`operando.echem.compare_cell_model`.
    title : str, optional
        Figure title; by default the fitted parameters.
    fit_window_s : (float, float), optional
        Time range used for the fit, shaded (the rest is prediction).

    Returns
    -------
    matplotlib.figure.Figure
        Three panels sharing the time axis (h): voltage (mV), voltage terms (mV), contact area (mm²)
        with the interphase thickness (µm) on a second axis.
    """
    missing = [k for k in _NEEDED if k not in comparison.variables]
    if missing:
        raise ParameterError(f"comparison dataset lacks {missing}; make it with operando.echem.compare_cell_model")
    t_h = comparison["time_s"].to_numpy() / 3600.0
    fig, (ax_v, ax_terms, ax_a) = plt.subplots(
        3, 1, figsize=(8, 8), sharex=True, constrained_layout=True, height_ratios=(2, 1.3, 1.3)
    )
    ax_v.plot(t_h, comparison["measured_voltage_V"].to_numpy() * 1e3, color="0.25", lw=1.0, label="measured")
    ax_v.plot(t_h, comparison["predicted_voltage_V"].to_numpy() * 1e3, color="#c0392b", lw=1.2, ls="--", label="model")
    ax_v.set_ylabel("cell voltage (mV)")
    rms_mV = (
        float(np.sqrt(np.nanmean(comparison["residual_V"].to_numpy() ** 2))) * 1e3
        if "residual_V" in comparison
        else np.nan
    )
    ax_v.text(0.01, 0.97, f"RMS residual {rms_mV:.2f} mV", transform=ax_v.transAxes, va="top", fontsize=8)
    for name, label in _TERMS.items():
        if name in comparison:
            ax_terms.plot(t_h, comparison[name].to_numpy() * 1e3, lw=1.0, label=label)
    ax_terms.set_ylabel("voltage term (mV)")
    ax_terms.legend(fontsize=7, frameon=False, ncols=2)
    areas = comparison["contact_area_mm2"].transpose(..., "interface").to_numpy()
    for k in range(areas.shape[-1]):
        ax_a.plot(t_h, areas[:, k], lw=1.2, label=f"contact area, interface {k + 1}")
    ax_a.set_ylabel("contact area (mm$^2$)")
    ax_a.set_xlabel("time (h)")
    if "interphase_thickness_um" in comparison:
        thick = comparison["interphase_thickness_um"].to_numpy().reshape(t_h.size, -1).mean(axis=1)
        ax_l = ax_a.twinx()
        ax_l.plot(t_h, thick, color="0.4", ls=":", lw=1.2, label="interphase thickness")
        ax_l.set_ylabel("interphase thickness (µm)")
        ax_l.legend(loc="lower right", fontsize=7, frameon=False)
    ax_a.legend(loc="lower left", fontsize=7, frameon=False)
    if fit_window_s is not None:
        for ax in (ax_v, ax_terms, ax_a):
            ax.axvspan(fit_window_s[0] / 3600.0, fit_window_s[1] / 3600.0, color="#2471a3", alpha=0.08, lw=0)
        ax_v.plot([], [], color="#2471a3", alpha=0.3, lw=6, label="fitted range")
    ax_v.legend(loc="lower right", fontsize=8, frameon=False)
    attrs = comparison.attrs
    if title is None and "j0_mA_cm2" in attrs:
        title = (
            f"Butler–Volmer symmetric cell: $j_0$ = {attrs['j0_mA_cm2']:.3g} mA cm$^{{-2}}$, "
            f"$\\kappa_{{int}}$ = {attrs['interphase_conductivity_S_cm']:.3g} S cm$^{{-1}}$"
        )
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


# -- the report's section of a tomo-cellmodel store (tomo model [--scenarios]) -------------------------
_SCENARIO_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")


def _mV(volts: float) -> str:
    """A voltage in mV with three significant digits, in V past 1000 mV.

    >>> _mV(0.000213), _mV(0.4012), _mV(3.1)
    ('0.213 mV', '401 mV', '3.1 V')
    """
    if abs(volts) >= 1.0:
        return f"{volts:.3g} V"
    return f"{volts * 1e3:.3g} mV"


def _scenario_name(name: str) -> str:
    return "dynamic (measured contact)" if name == "dynamic" else f"{name} contact"


def scenario_sentence(ds: xr.Dataset) -> str | None:
    """The contact scenarios' RMS against the measured voltage, as one sentence.

    Parameters
    ----------
    ds : xarray.Dataset
        A ``tomo-cellmodel`` store with ``scenario_rms_V`` over ``scenario``.

    Returns
    -------
    str or None

    Examples
    --------
    >>> ds = xr.Dataset({"scenario_rms_V": ("scenario", [0.0066, 0.401, 0.0002])},
    ...                 coords={"scenario": ["100%", "25%", "dynamic"]})
    >>> scenario_sentence(ds).split(": ", 1)[1]
    '100% contact 6.6 mV, 25% contact 401 mV, dynamic (measured contact) 0.2 mV.'
    """
    if "scenario_rms_V" not in ds or "scenario" not in ds.coords:
        return None
    rms = np.asarray(ds["scenario_rms_V"].values, dtype=float)
    parts = [
        f"{_scenario_name(str(name))} {_mV(float(r)) if np.isfinite(r) else 'not predicted'}"
        for name, r in zip(ds["scenario"].values.tolist(), rms, strict=True)
    ]
    return (
        "Contact scenarios predicted by the fitted model, RMS against the measured voltage: " + ", ".join(parts) + "."
    )


def plot_scenarios(ds: xr.Dataset) -> Figure:
    """The paper's contact scenarios (Fig. 4b): voltage of each against the measured one, and their areas.

    Parameters
    ----------
    ds : xarray.Dataset
        ``tomo-cellmodel`` with ``scenario_voltage_V`` (scenario, time), ``measured_voltage_V``
        (time), ``time_s`` and optionally ``scenario_contact_area_mm2`` (scenario, time, interface).

    Returns
    -------
    matplotlib.figure.Figure
        Voltage magnitude (mV, log scale: 1 % contact is hundreds of times the measured
        overpotential) and total contact area (mm²) over time (h), prediction samples only.
    """
    t_h = np.asarray(ds["time_s"].values, dtype=float) / 3600.0
    volts = np.asarray(ds["scenario_voltage_V"].transpose("scenario", ...).values, dtype=float)
    shown = np.isfinite(volts).any(axis=0)
    has_area = "scenario_contact_area_mm2" in ds
    fig, axes = plt.subplots(
        2 if has_area else 1, 1, figsize=(8, 6 if has_area else 3.6), sharex=True, layout="constrained", squeeze=False
    )
    ax_v = axes[0, 0]
    measured = np.asarray(ds["measured_voltage_V"].values, dtype=float) * 1e3
    ax_v.plot(t_h[shown], np.abs(measured[shown]), color="0.2", lw=1.4, label="measured")
    names = [str(n) for n in ds["scenario"].values.tolist()]
    rms = (
        np.asarray(ds["scenario_rms_V"].values, dtype=float) if "scenario_rms_V" in ds else np.full(len(names), np.nan)
    )
    for k, name in enumerate(names):
        colour = _SCENARIO_COLOURS[k % len(_SCENARIO_COLOURS)]
        label = f"{_scenario_name(name)} (RMS {_mV(float(rms[k]))})" if np.isfinite(rms[k]) else _scenario_name(name)
        ax_v.plot(t_h[shown], np.abs(volts[k, shown]) * 1e3, lw=1.1, ls="--", color=colour, label=label)
    ax_v.set_yscale("log")
    ax_v.set_ylabel("|cell voltage| (mV)")
    fig.legend(*ax_v.get_legend_handles_labels(), fontsize=7, frameon=False, loc="outside right upper")
    ax_v.set_title("contact scenarios predicted by the fitted Butler–Volmer model", fontsize=10)
    if has_area:
        ax_a = axes[1, 0]
        area = ds["scenario_contact_area_mm2"].transpose("scenario", "time", ...).values
        total = np.asarray(area, dtype=float).reshape(len(names), t_h.size, -1).sum(axis=2)
        for k, name in enumerate(names):
            ax_a.plot(
                t_h[shown],
                total[k, shown],
                color=_SCENARIO_COLOURS[k % len(_SCENARIO_COLOURS)],
                lw=1.2,
                label=_scenario_name(name),
            )
        ax_a.set_yscale("log")
        ax_a.set_ylabel("contact area, both interfaces (mm²)")
    axes[-1, 0].set_xlabel("time (h)")
    return fig


def cellmodel_notes(ds: xr.Dataset) -> list[str]:
    """The fitted parameters and the scenarios as sentences (what the CLI prints, on the page)."""
    a = ds.attrs
    notes = []
    if "j0_mA_cm2" in a:
        j0 = f"j0 = {a['j0_mA_cm2']:.4g}"
        if np.isfinite(a.get("j0_err_mA_cm2", np.nan)):
            j0 += f" ± {a['j0_err_mA_cm2']:.2g}"
        fit = f"Fitted: {j0} mA cm⁻²"
        if "interphase_conductivity_S_cm" in a:
            fit += f", interphase conductivity {a['interphase_conductivity_S_cm']:.3g} S cm⁻¹"
        rms = [
            f"{w} RMS {_mV(float(a[k]))}"
            for w, k in (("fit", "fit_rms_V"), ("prediction", "predict_rms_V"))
            if k in a and np.isfinite(a[k])
        ]
        notes.append(fit + ("; " + ", ".join(rms) if rms else "") + ".")
    sentence = scenario_sentence(ds)
    if sentence:
        notes.append(sentence)
    return notes


@register_section("tomo-cellmodel")
def cellmodel_section(ds: xr.Dataset, source: Path) -> Section:
    """``tomo model`` results: measured against predicted voltage, terms, areas; the contact scenarios."""
    window = ds.attrs.get("fit_window_s")
    fit_window = (float(window[0]), float(window[1])) if window is not None and len(window) == 2 else None
    summary = [
        FigureSpec("cell_model", "measured and predicted voltage", lambda: plot_cell_model(ds, fit_window_s=fit_window))
    ]
    if "scenario_voltage_V" in ds and "scenario" in ds.coords:
        summary.append(FigureSpec("cell_model_scenarios", "contact scenarios", lambda: plot_scenarios(ds)))
    return Section(
        kind="tomo-cellmodel",
        title=f"Cell model on the tomography: {source.name}",
        source=source,
        summary=summary,
        notes=cellmodel_notes(ds),
    )
