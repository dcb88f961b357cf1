"""``operando nmr``: tracer-exchange model, Bruker/Varian spectra processing, 6Li abundance, cw-EPR lines."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

app = typer.Typer(
    help="NMR of Li-metal cells (Bruker TopSpin and Varian data, tracer exchange) and cw-EPR (Bruker BES3T).",
    no_args_is_help=True,
)


def _window(text: str, option: str) -> tuple[float, float]:
    from operando.errors import ParameterError

    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise ParameterError(f"{option} must be two ppm values LO,HI, got {text!r}") from exc
    return lo, hi


def _write_csv_atomic(frame: object, out: Path, **kwargs: object) -> None:
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    frame.to_csv(tmp, index=False, **kwargs)  # type: ignore[call-overload]
    tmp.replace(out)


@app.command("tracer")
def tracer(
    m1: Annotated[float, typer.Option("--m1", help="Li amount in the electrode (any unit common to m2, n).")],
    x1: Annotated[float, typer.Option("--x1", help="Initial 6Li fraction of the electrode (0..1).")],
    m2: Annotated[float, typer.Option("--m2", help="Li amount in the electrolyte.")],
    x2: Annotated[float, typer.Option("--x2", help="Initial 6Li fraction of the electrolyte (0..1).")],
    n: Annotated[float, typer.Option("--n", help="Li amount exchanged per step.")],
    steps: Annotated[int, typer.Option("--steps", help="Last row index; rows 0..STEPS, row k after k+1 steps.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")],
    charge_per_step: Annotated[
        float | None, typer.Option("--charge-per-step", help="Charge per exchange step, mA h (adds charge_mAh).")
    ] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also draw both abundances (.png, .svg, .pdf).")] = None,
) -> None:
    """Iterate the tracer-exchange model and write the table (full precision CSV)."""
    from operando.nmr import tracer_exchange

    table = tracer_exchange(m1=m1, x1=x1, m2=m2, x2=x2, n=n, steps=steps, charge_per_step_mAh=charge_per_step)
    _write_csv_atomic(table, out, float_format="%.17g")
    typer.echo(f"{len(table)} rows -> {out}; final electrode {table['x_electrode'].iat[-1]:.4f}, "
               f"electrolyte {table['x_electrolyte'].iat[-1]:.4f}")  # fmt: skip
    if plot is not None:
        from operando.report import save_figure

        save_figure(_tracer_figure(table), plot.with_suffix(""), formats=(plot.suffix.lstrip(".") or "png",))
        typer.echo(f"-> {plot}")


def _tracer_figure(table: pd.DataFrame) -> Figure:
    from matplotlib.figure import Figure

    x = table["charge_mAh"] if "charge_mAh" in table else table["step"]
    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    ax.plot(x, table["x_electrode"], label="electrode")
    ax.plot(x, table["x_electrolyte"], label="electrolyte")
    ax.set_xlabel("charge (mA h)" if "charge_mAh" in table else "exchange step")
    ax.set_ylabel("6Li atomic fraction")
    ax.legend()
    fig.tight_layout()
    return fig


@app.command("process")
def process_command(
    dataset: Annotated[
        Path, typer.Argument(help="Bruker experiment folder (acqus + fid/ser) or Varian .fid folder (procpar + fid).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="OUT.zarr (spectrum + integrals) or OUT.csv (spectrum).")],
    lb: Annotated[
        float | None, typer.Option("--lb", help="Exponential line broadening, Hz (default: procs LB).")
    ] = None,
    zf: Annotated[
        int | None, typer.Option("--zf", help="Spectrum size after zero filling (default: procs SI).")
    ] = None,
    phase: Annotated[
        str | None, typer.Option("--phase", help="manual (procs PHC0/PHC1) or auto (default: manual; Varian: auto).")
    ] = None,
    windows: Annotated[
        list[str] | None, typer.Option("--window", help="Integration window LO,HI in ppm; repeatable.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also draw the spectrum with its windows (.png, .svg, .pdf).")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
) -> None:
    """FT, phase and reference a Bruker or Varian dataset; integrate windows; write Zarr or CSV."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    from operando.errors import ParameterError
    from operando.nmr import integrate, process, read_fid

    if phase not in (None, "manual", "auto"):
        raise ParameterError(f"--phase must be manual or auto, got {phase!r}")
    wins = [_window(w, "--window") for w in windows or []]
    fid = read_fid(dataset)  # Bruker or Varian, by the folder's content
    if phase is None:  # VnmrJ's rp/lp are not translated (another convention): phase Varian data automatically
        phase = "auto" if fid.meta.vendor == "Varian" else "manual"
    mode: Literal["manual", "auto"] = "auto" if phase == "auto" else "manual"
    ds = process(fid, lb_Hz=lb, size=zf, phase_mode=mode)
    spec, ppm = ds["intensity"].values, ds["ppm"].values
    rows = np.atleast_2d(spec)
    ints = np.array([integrate(rows, ppm, lo=lo, hi=hi) for lo, hi in wins]).reshape(len(wins), rows.shape[0])
    if out.suffix == ".csv":
        frame = pd.DataFrame({"ppm": ppm, **{f"intensity_{i}": r for i, r in enumerate(rows)}})
        _write_csv_atomic(frame, out, float_format="%.10g")
    elif out.suffix == ".zarr":
        from operando.store import write_results

        if wins:
            ds["integral"] = xr.DataArray(ints, dims=("window", "row"), attrs={"units": "sum over points"})
            ds = ds.assign_coords(
                window_lo_ppm=("window", [w[0] for w in wins]), window_hi_ppm=("window", [w[1] for w in wins])
            )
        params = {"lb_Hz": ds.attrs["lb_Hz"], "size": ds.attrs["size"], "phase": mode,
                  "p0_deg": ds.attrs["p0_deg"], "p1_deg": ds.attrs["p1_deg"], "windows_ppm": wins}  # fmt: skip
        inputs = [p for p in sorted(Path(fid.meta.path).iterdir()) if p.is_file()]
        write_results(ds, out, parameters=params, inputs=inputs, overwrite=overwrite)
    else:
        raise ParameterError(f"output must end in .zarr or .csv, got {out.name}")
    typer.echo(f"{fid.meta.nucleus} {rows.shape[0]} x {ppm.size} points, {ppm[0]:.3f} .. {ppm[-1]:.3f} ppm -> {out}")
    for (lo, hi), vals in zip(wins, ints, strict=True):
        typer.echo(f"integral {lo:g}..{hi:g} ppm: " + ", ".join(f"{v:.6g}" for v in vals))
    if plot is not None:
        label = f"{fid.meta.nucleus}: {Path(fid.meta.path).name}"
        _save_plot([(label, ppm, rows)], wins, plot)


def _save_plot(spectra: list[tuple[str, Any, Any]], windows: list[tuple[float, float]], plot: Path) -> None:
    """Draw spectra with their windows into ``plot`` (its suffix gives the format, PNG by default)."""
    from operando.report import plot_spectra, save_figure

    fig = plot_spectra(spectra, windows_ppm=windows)
    save_figure(fig, plot.with_suffix(""), formats=(plot.suffix.lstrip(".") or "png",))
    typer.echo(f"-> {plot}")


@app.command("isotopes")
def isotopes(
    li6: Annotated[Path, typer.Option("--li6", help="Bruker or Varian folder of the 6Li spectrum.")],
    li7: Annotated[Path, typer.Option("--li7", help="Bruker or Varian folder of the 7Li spectrum.")],
    window: Annotated[str, typer.Option("--window", help="Integration window LO,HI in ppm.")],
    noise: Annotated[str, typer.Option("--noise", help="Signal-free window LO,HI in ppm for the noise.")] = "-150,-100",
    factor: Annotated[float, typer.Option("--factor", help="Per-nucleus 7Li:6Li signal ratio.")] = 28.45,
    ref_li6: Annotated[
        Path | None, typer.Option("--ref-li6", help="6Li spectrum of a reference (e.g. natural LiCl): sets the factor.")
    ] = None,
    ref_li7: Annotated[Path | None, typer.Option("--ref-li7", help="7Li spectrum of the same reference.")] = None,
    ref_window: Annotated[
        str | None, typer.Option("--ref-window", help="Reference line window LO,HI in ppm (default: --window).")
    ] = None,
    ref_x6: Annotated[
        float, typer.Option("--ref-x6", help="6Li fraction of the reference (default: natural, 0.0759).")
    ] = 0.0759,
    lb: Annotated[float, typer.Option("--lb", help="Exponential line broadening, Hz.")] = 0.0,
    phase: Annotated[str, typer.Option("--phase", help="manual (procs PHC0/PHC1) or auto.")] = "manual",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Also write OUT.zarr (operando_kind nmr-isotopes).")
    ] = None,
    sample: Annotated[
        str | None, typer.Option("--sample", help="Sample name in the store (default: from the 6Li folder).")
    ] = None,
    charge_mAh: Annotated[
        float | None, typer.Option("--charge-mAh", help="Charge passed through the cell before the measurement.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also draw both spectra with the window (.png, .svg, .pdf).")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
) -> None:
    """6Li atomic fraction of one species from its 6Li and 7Li integrals, with uncertainty.

    With ``--ref-li6/--ref-li7`` the sensitivity factor is measured on a reference of known
    composition (natural-abundance LiCl by default) instead of taken from ``--factor``.
    """
    from operando.errors import ParameterError
    from operando.nmr import li6_fraction, read_fid, sensitivity_factor

    lo, hi = _window(window, "--window")
    nlo, nhi = _window(noise, "--noise")
    if (ref_li6 is None) != (ref_li7 is None):
        raise ParameterError("--ref-li6 and --ref-li7 go together")
    sigma_factor = 0.0
    if ref_li6 is not None and ref_li7 is not None:
        rlo, rhi = _window(ref_window, "--ref-window") if ref_window else (lo, hi)
        (r6, t6), (r7, t7) = (
            _normalised_integral(read_fid(p), rlo, rhi, nlo, nhi, lb, phase) for p in (ref_li6, ref_li7)
        )
        factor, sigma_factor = sensitivity_factor(r6, r7, x6=ref_x6, sigma_i6=t6, sigma_i7=t7)
        typer.echo(f"factor from the reference (x6 = {ref_x6:g}): {factor:.4g} ± {sigma_factor:.2g}")
    (i6, s6), (i7, s7) = (_normalised_integral(read_fid(p), lo, hi, nlo, nhi, lb, phase) for p in (li6, li7))
    x, sx = li6_fraction(i6, i7, factor=factor, sigma_i6=s6, sigma_i7=s7, sigma_factor=sigma_factor)
    typer.echo(f"I6 = {i6:.6g} ± {s6:.2g}, I7 = {i7:.6g} ± {s7:.2g} (per scan, window {lo:g}..{hi:g} ppm)")
    typer.echo(f"6Li fraction: {100 * float(x):.2f} ± {100 * float(sx):.2f} at.% (factor {factor:.4g})")
    if out is not None:
        from operando.nmr import isotopes_dataset
        from operando.store import write_results

        if out.suffix != ".zarr":
            raise ParameterError(f"--out must end in .zarr, got {out.name}")
        name = sample or (f"{li6.parent.name}/{li6.name}" if li6.name.isdigit() else li6.name)
        ds = isotopes_dataset(
            [name],
            [float(x)],
            [float(sx)],
            charge_mAh=None if charge_mAh is None else [charge_mAh],
            integral_6li=[i6],
            integral_7li=[i7],
            factor=factor,
            factor_err=sigma_factor,
        )
        params = {"window_ppm": [lo, hi], "noise_ppm": [nlo, nhi], "factor": factor, "factor_err": sigma_factor,
                  "reference_x6": ref_x6 if ref_li6 is not None else None, "lb_Hz": lb, "phase": phase}  # fmt: skip
        folders = [p if p.is_dir() else p.parent for p in (li6, li7, ref_li6, ref_li7) if p is not None]
        inputs = [f for folder in folders for f in sorted(folder.iterdir()) if f.is_file()]
        write_results(ds, out, parameters=params, inputs=inputs, overwrite=overwrite)
        typer.echo(f"-> {out}")
    if plot is not None:
        from operando.nmr import process

        mode: Literal["manual", "auto"] = "auto" if phase == "auto" else "manual"
        spectra = []
        for nucleus, folder in (("6Li", li6), ("7Li", li7)):
            ds_n = process(read_fid(folder), lb_Hz=lb, phase_mode=mode)
            spectra.append((f"{nucleus}: {folder.name}", ds_n["ppm"].values, ds_n["intensity"].values))
        _save_plot(spectra, [(lo, hi)], plot)


def _normalised_integral(
    fid: object, lo: float, hi: float, nlo: float, nhi: float, lb: float, phase: str
) -> tuple[float, float]:
    """Window integral per scan in FID-amplitude units and its noise uncertainty (:func:`isotope_integral`)."""
    from operando.nmr import NMRFID, isotope_integral

    assert isinstance(fid, NMRFID)
    mode: Literal["manual", "auto"] = "auto" if phase == "auto" else "manual"
    return isotope_integral(fid, window_ppm=(lo, hi), noise_ppm=(nlo, nhi), lb_Hz=lb, phase_mode=mode)


@app.command("epr")
def epr_command(
    path: Annotated[
        Path, typer.Argument(help="Bruker EPR file: BES3T .DSC/.DTA or WinEPR .par/.spc (the other beside it).")
    ],
    window: Annotated[
        str | None, typer.Option("--window", help="Field window LO,HI in mT holding one line (default: all).")
    ] = None,
    points: Annotated[int, typer.Option("--points", help="Points of the parabola fitted at each extremum.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")] = False,
) -> None:
    """Peak-to-peak width, g factor and double integral of a cw-EPR first-derivative spectrum."""
    import json

    import numpy as np

    from operando.nmr import double_integral, g_factor, peak_to_peak, read_epr

    lo, hi = _window(window, "--window") if window else (None, None)
    spec = read_epr(path)
    meta = spec.meta
    field = spec.field_mT
    rows = []
    for row in np.atleast_2d(spec.data).real:
        pp = peak_to_peak(row, field, lo_mT=lo, hi_mT=hi, points=points)
        g = None if meta.mw_frequency_Hz is None else float(g_factor(pp.centre_mT, meta.mw_frequency_Hz))
        rows.append({"width_pp_mT": pp.width_mT, "centre_mT": pp.centre_mT, "g": g,
                     "amplitude_pp": pp.amplitude, "double_integral": double_integral(row, field)})  # fmt: skip
    summary = {
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
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(f"{meta.title or Path(meta.path).name}: {field[0]:.4f} .. {field[-1]:.4f} mT, {field.size} points, "
               f"MWFQ {'?' if meta.mw_frequency_Hz is None else f'{meta.mw_frequency_Hz / 1e9:.6f}'} GHz")  # fmt: skip
    for i, r in enumerate(rows):
        g_text = "g unknown (no MWFQ)" if r["g"] is None else f"g = {r['g']:.5f}"
        prefix = f"row {i}: " if len(rows) > 1 else ""
        typer.echo(f"{prefix}dB_pp = {r['width_pp_mT']:.5f} mT at {r['centre_mT']:.4f} mT, {g_text}, "
                   f"double integral (whole sweep) {r['double_integral']:.6g}")  # fmt: skip
