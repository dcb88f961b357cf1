"""Measured against predicted voltage of a symmetric cell (the Butler–Volmer model figure)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # figures are files; never ask for a display
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from operando.errors import ParameterError

__all__ = ["plot_cell_model"]

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
