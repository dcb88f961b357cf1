"""The charging curve with a marker at every measurement (the timeline figure)."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; never ask for a display
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from operando.echem import EchemRecord

__all__ = ["plot_timeline", "save_figure"]

_LABEL_COLOURS = {"charge": "#c0392b", "discharge": "#2471a3", "rest": "#7f8c8d", "outside": "#000000"}


def plot_timeline(record: EchemRecord, timeline: xr.Dataset | None = None, *, title: str | None = None) -> Figure:
    """Voltage against time and against capacity, with a marker per measurement.

    Parameters
    ----------
    record : EchemRecord
        The potentiostat record.
    timeline : xarray.Dataset, optional
        From :func:`operando.timeline.align`; each measurement is drawn as a shaded
        acquisition window and a marker at its mid-time, coloured by charge/discharge/rest.
    title : str, optional
        Figure title; default the record's file name.

    Returns
    -------
    matplotlib.figure.Figure
    """
    t_h = record.time_s / 3600.0
    mass = record.meta.active_mass_g
    if timeline is not None and np.isfinite(timeline.attrs.get("active_mass_g", np.nan)):
        mass = float(timeline.attrs["active_mass_g"])
    fig, (ax_t, ax_q) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    ax_t.plot(t_h, record.voltage_V, color="0.2", lw=1.0)
    ax_t.set_xlabel("time (h)")
    ax_t.set_ylabel("voltage (V)")
    if mass:
        capacity = record.charge_mAh / mass
        ax_q.set_xlabel("specific capacity (mA h g$^{-1}$)")
    else:
        capacity = record.charge_mAh
        ax_q.set_xlabel("charge (mA h)")
    for hc in np.unique(record.half_cycle):
        sel = record.half_cycle == hc
        ax_q.plot(capacity[sel], record.voltage_V[sel], lw=1.0, color="0.2" if hc % 2 == 0 else "0.5")
    ax_q.set_ylabel("voltage (V)")
    if timeline is not None and timeline.sizes.get("frame", 0):
        inside = timeline["in_record"].to_numpy()
        labels = timeline["label"].to_numpy().astype(str)
        for k in np.flatnonzero(inside):
            colour = _LABEL_COLOURS.get(labels[k], "k")
            ax_t.axvspan(
                timeline["t_start_s"].values[k] / 3600.0,
                timeline["t_end_s"].values[k] / 3600.0,
                color=colour,
                alpha=0.12,
                lw=0,
            )
        mid_h = timeline["t_mid_s"].to_numpy() / 3600.0
        v_mid = timeline["voltage_V"].to_numpy()
        q_mid = timeline["specific_capacity_mAh_g"].to_numpy() if mass else timeline["charge_mAh"].to_numpy()
        for label, colour in _LABEL_COLOURS.items():
            sel = inside & (labels == label)
            if sel.any():
                ax_t.plot(mid_h[sel], v_mid[sel], "o", ms=5, color=colour, label=f"measurement ({label})")
                ax_q.plot(q_mid[sel], v_mid[sel], "o", ms=5, color=colour)
        for k in np.flatnonzero(inside):
            ax_t.annotate(
                str(k), (mid_h[k], v_mid[k]), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7
            )
        ax_t.legend(loc="best", fontsize=8, frameon=False)
        outside = int((~inside).sum())
        if outside:
            ax_t.text(
                0.01,
                0.98,
                f"{outside} measurement(s) outside the record",
                transform=ax_t.transAxes,
                va="top",
                fontsize=8,
            )
    fig.suptitle(title or Path(record.meta.source).name or "electrochemistry record")
    return fig


def save_figure(
    fig: Figure, stem: str | PathLike[str], *, formats: Sequence[str] = ("png", "svg"), dpi: int = 300
) -> list[Path]:
    """Save a figure in several formats at print resolution, each file written atomically.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    stem : str or os.PathLike
        Output path without suffix.
    formats : sequence of str
        File suffixes understood by matplotlib.
    dpi : int, default 300
        Resolution of raster formats.

    Returns
    -------
    list of pathlib.Path
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        final = stem.with_suffix(f".{fmt}")
        tmp = final.with_name(f".{final.name}.tmp")
        fig.savefig(tmp, format=fmt, dpi=dpi)
        tmp.replace(final)
        written.append(final)
    plt.close(fig)
    return written
