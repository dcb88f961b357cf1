"""``operando nmr``: tracer-exchange model, Bruker/Varian spectra processing, 6Li abundance, cw-EPR lines."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from operando.cli._options import QuietOption, SchedulerOption, WorkersOption, check_output, run_on

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

app: typer.Typer = typer.Typer(
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
    if plot is not None:
        check_output(plot, [out], overwrite=True, option="--plot")
    from operando.pipelines.nmr import tracer_table

    table = tracer_table(out, m1=m1, x1=x1, m2=m2, x2=x2, n=n, steps=steps, charge_per_step_mAh=charge_per_step)
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
    reference: Annotated[
        str | None, typer.Option("--reference", help="PPM_OBSERVED=PPM_TRUE, e.g. LiCl seen at -0.8: -0.8=-1.1.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also draw the spectrum with its windows (.png, .svg, .pdf).")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
) -> None:
    """FT, phase and reference a Bruker or Varian dataset; integrate windows; write Zarr or CSV.

    Defaults follow the dataset's ``procs`` (SI, window, PHC0/PHC1; pre-TopSpin XWIN-NMR
    data phased as XWIN-NMR did), so the spectrum matches the spectrometer's own ``1r``.
    """
    check_output(out, [dataset], overwrite=overwrite)
    if plot is not None:
        check_output(plot, [dataset, out], overwrite=True, option="--plot")
    from operando.errors import ParameterError
    from operando.pipelines.nmr import process_spectrum, write_spectrum

    if phase not in (None, "manual", "auto"):
        raise ParameterError(f"--phase must be manual or auto, got {phase!r}")
    wins = [_window(w, "--window") for w in windows or []]
    spec = process_spectrum(dataset, lb_Hz=lb, size=zf, phase=phase, windows_ppm=wins,  # type: ignore[arg-type]
                            reference_shift_ppm=_reference(reference))  # fmt: skip
    write_spectrum(spec, out, overwrite=overwrite)
    rows, ppm = spec.rows, spec.ppm
    typer.echo(f"{spec.nucleus} {rows.shape[0]} x {ppm.size} points, {ppm[0]:.3f} .. {ppm[-1]:.3f} ppm -> {out}")
    for (lo, hi), vals in zip(wins, spec.integrals, strict=True):
        typer.echo(f"integral {lo:g}..{hi:g} ppm: " + ", ".join(f"{v:.6g}" for v in vals))
    if plot is not None:
        label = f"{spec.nucleus}: {spec.folder.name}"
        _save_plot([(label, ppm, rows)], wins, plot)


def _save_plot(spectra: list[tuple[str, Any, Any]], windows: list[tuple[float, float]], plot: Path) -> None:
    """Draw spectra with their windows into ``plot`` (its suffix gives the format, PNG by default)."""
    from operando.report import plot_spectra, save_figure

    fig = plot_spectra(spectra, windows_ppm=windows)
    save_figure(fig, plot.with_suffix(""), formats=(plot.suffix.lstrip(".") or "png",))
    typer.echo(f"-> {plot}")


def _value_err(text: str | None, option: str) -> tuple[float, float] | None:
    """``X`` or ``X,S`` (a 6Li fraction 0..1 and its uncertainty)."""
    from operando.errors import ParameterError

    if text is None:
        return None
    try:
        parts = [float(v) for v in text.replace("±", ",").split(",")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2):
        raise ParameterError(f"{option} must be X or X,SIGMA (6Li fractions 0..1), got {text!r}")
    return parts[0], parts[1] if len(parts) == 2 else 0.0


def _reference(text: str | None) -> float:
    """``--reference OBSERVED=TRUE`` (ppm) as the shift added to the axis."""
    from operando.errors import ParameterError

    if not text:
        return 0.0
    try:
        observed, true = (float(v) for v in text.split("="))
    except ValueError as exc:
        raise ParameterError(f"--reference must be PPM_OBSERVED=PPM_TRUE, e.g. -0.8=-1.1, got {text!r}") from exc
    return true - observed


def _pairs_from_table(
    table: Path,
) -> tuple[list[Path], list[Path], list[str] | None, list[str] | None, list[float] | None]:
    """Columns ``li6``, ``li7`` and optionally ``sample``, ``group``, ``charge_mAh``; paths relative to the table."""
    import pandas as pd

    from operando.errors import CorruptFileError

    try:
        frame = pd.read_csv(table, sep=None, engine="python", comment="#")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise CorruptFileError(f"cannot read the table ({exc})", path=table) from exc
    missing = {"li6", "li7"} - set(frame.columns)
    if missing or frame.empty:
        raise CorruptFileError(f"the table needs columns li6 and li7 and one row per cell (missing {sorted(missing)})",
                               path=table)  # fmt: skip
    # an empty cell reads as NaN: it would become a path "nan", a group "nan" or a NaN charge
    for name in ("li6", "li7", "sample", "group", "charge_mAh"):
        if name in frame:
            empty = [i for i, v in enumerate(frame[name]) if pd.isna(v) or not str(v).strip()]
            if empty:
                rows = ", ".join(str(i + 2) for i in empty)  # line numbers: the header is line 1
                raise CorruptFileError(f"column {name} is empty on line(s) {rows}: fill every cell of a column "
                                       "(or drop the column)", path=table)  # fmt: skip
    base = table.parent
    li6 = [base / str(v).strip() for v in frame["li6"]]
    li7 = [base / str(v).strip() for v in frame["li7"]]
    col = lambda name: [str(v).strip() for v in frame[name]] if name in frame else None  # noqa: E731
    charge = None
    if "charge_mAh" in frame:
        try:
            charge = [float(v) for v in frame["charge_mAh"]]
        except ValueError as exc:
            raise CorruptFileError(
                f"column charge_mAh holds a value that is not a number ({exc})", path=table
            ) from None
    return li6, li7, col("sample"), col("group"), charge


def _windows_text(details: dict[str, Any]) -> str:
    """What was summed per nucleus: the centre-band window, the sideband orders, NS and RG divided out."""
    parts = []
    for nucleus in ("6Li", "7Li"):
        wins = details.get(f"windows_{nucleus}", [])
        if not wins:
            continue
        lo, hi = next((a, b) for o, a, b in wins if o == 0)
        orders = sorted({abs(int(o)) for o, _, _ in wins if o != 0})
        rate = details.get(f"spin_rate_Hz_{nucleus}")
        bands = f", sidebands to order {max(orders)} at {rate:g} Hz" if orders and rate else ", centre band only"
        parts.append(f"{nucleus} {lo:.1f}..{hi:.1f} ppm{bands} (NS {details[f'ns_{nucleus}']:g}, "
                     f"RG {details[f'rg_{nucleus}']:g})")  # fmt: skip
    return "; ".join(parts)


@app.command("isotopes")
def isotopes(
    window: Annotated[str, typer.Option("--window", help="The species' window LO,HI in ppm (on the 7Li spectrum).")],
    li6: Annotated[
        list[Path] | None, typer.Option("--li6", help="Bruker or Varian folder of the 6Li spectrum; repeat per cell.")
    ] = None,
    li7: Annotated[
        list[Path] | None, typer.Option("--li7", help="Bruker or Varian folder of the 7Li spectrum; one per --li6.")
    ] = None,
    table: Annotated[
        Path | None,
        typer.Option("--table", help="CSV of cells instead of --li6/--li7: li6, li7[, sample, group, charge_mAh]."),
    ] = None,
    noise: Annotated[
        str, typer.Option("--noise", help="Signal-free window LO,HI in ppm, or 'auto' (all points off the windows).")
    ] = "-150,-100",
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
    match: Annotated[
        str, typer.Option("--match", help="hz: the 6Li window has the 7Li window's width in Hz; ppm: the same ppm.")
    ] = "hz",
    spin_rate: Annotated[
        float | None, typer.Option("--spin-rate", help="MAS rate, Hz, for the sideband windows (default: MASR/CNST31).")
    ] = None,
    sidebands: Annotated[
        bool, typer.Option("--sidebands/--no-sidebands", help="Also sum the spinning-sideband windows.")
    ] = True,
    other: Annotated[
        list[str] | None,
        typer.Option(
            "--other",
            help="Another species' window LO,HI (ppm, 7Li): sidebands overlapping it are "
            "replaced by their mirror order; repeatable.",
        ),
    ] = None,
    p90_li6: Annotated[float | None, typer.Option("--p90-li6", help="6Li 90-degree pulse, us (flip from P1).")] = None,
    p90_li7: Annotated[float | None, typer.Option("--p90-li7", help="7Li 90-degree pulse, us (flip from P1).")] = None,
    t1_li6: Annotated[float | None, typer.Option("--t1-li6", help="Longest 6Li T1, s (saturation from D1).")] = None,
    t1_li7: Annotated[float | None, typer.Option("--t1-li7", help="Longest 7Li T1, s (saturation from D1).")] = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="PPM_OBSERVED=PPM_TRUE, e.g. LiCl seen at -0.8: -0.8=-1.1.")
    ] = None,
    lb: Annotated[float, typer.Option("--lb", help="Exponential line broadening, Hz.")] = 0.0,
    phase: Annotated[str, typer.Option("--phase", help="manual (procs PHC0/PHC1) or auto.")] = "manual",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Also write OUT.zarr (operando_kind nmr-isotopes).")
    ] = None,
    sample: Annotated[
        list[str] | None,
        typer.Option("--sample", help="Sample name in the store, one per --li6 (default: from the 6Li folder)."),
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", help="Replicate group of each cell (one per --li6): mean +- std per group."),
    ] = None,
    charge_mAh: Annotated[
        list[float] | None,
        typer.Option("--charge-mAh", help="Charge passed through the cell before the measurement, one per --li6."),
    ] = None,
    electrolyte_x6: Annotated[
        str | None, typer.Option("--electrolyte-x6", help="X[,SIGMA]: electrolyte 6Li fraction (classify dendrites).")
    ] = None,
    electrode_x6: Annotated[
        str | None, typer.Option("--electrode-x6", help="X[,SIGMA]: electrode 6Li fraction (classify dendrites).")
    ] = None,
    grain_boundary_x6: Annotated[
        str | None,
        typer.Option("--grain-boundary-x6", help="X[,SIGMA]: Mechanism-2 end member (gives the Mechanism-2 share)."),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also draw both spectra with the window (.png, .svg, .pdf).")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """6Li atomic fraction of one species from its 6Li and 7Li integrals, with uncertainty.

    Intensities are divided by each spectrum's scans (NS) and receiver gain (RG), and with
    --p90-*/--t1-* by the flip-angle and saturation factors; the species' window includes
    its spinning sidebands and is matched in Hz across the nuclei (--match). Several cells:
    repeat ``--li6``/``--li7`` (in pairs) or give --table; --group labels replicates (mean
    +- std and propagated uncertainty per group). With --electrolyte-x6/--electrode-x6 each
    sample is classified (Mechanism 1 or 2), and with --grain-boundary-x6 its Mechanism-2
    share is given. Where no 6Li is seen the 3-sigma detection limit is printed.
    """
    read = [*(li6 or []), *(li7 or []), table, ref_li6, ref_li7]
    if out is not None:
        check_output(out, read, overwrite=overwrite)
    if plot is not None:
        check_output(plot, [*read, out], overwrite=True, option="--plot")
    from operando._progress import progress_bar
    from operando.errors import ParameterError
    from operando.pipelines.nmr import (
        Acquisition,
        detection_limit,
        isotope_fractions,
        isotope_spectra,
        mechanism,
        reference_factor,
        replicate_statistics,
        write_isotopes,
    )

    lo, hi = _window(window, "--window")
    noise_ppm = None if noise == "auto" else _window(noise, "--noise")
    if (ref_li6 is None) != (ref_li7 is None):
        raise ParameterError("--ref-li6 and --ref-li7 go together")
    if table is not None:
        if li6 or li7:
            raise ParameterError("give either --table or --li6/--li7, not both")
        li6, li7, t_sample, t_group, t_charge = _pairs_from_table(table)
        sample, group, charge_mAh = sample or t_sample, group or t_group, charge_mAh or t_charge
    li6, li7 = li6 or [], li7 or []
    if not li6:
        raise ParameterError("give --li6/--li7 pairs or --table")
    if len(li6) != len(li7):
        raise ParameterError(f"give one --li7 per --li6, got {len(li6)} and {len(li7)}")
    for option, values in (("--sample", sample), ("--charge-mAh", charge_mAh), ("--group", group)):
        if values and len(values) != len(li6):
            raise ParameterError(f"give {option} once per --li6 ({len(li6)}), got {len(values)}")
    electrolyte = _value_err(electrolyte_x6, "--electrolyte-x6")
    electrode = _value_err(electrode_x6, "--electrode-x6")
    grain = _value_err(grain_boundary_x6, "--grain-boundary-x6")
    if (electrolyte is None) != (electrode is None) or (grain is not None and electrolyte is None):
        raise ParameterError("--electrolyte-x6 and --electrode-x6 go together (and --grain-boundary-x6 needs both)")
    shift = _reference(reference)
    options: dict[str, Any] = {
        "match": match, "spin_rate_Hz": spin_rate, "sidebands": sidebands, "reference_shift_ppm": (shift, shift),
        "other_windows_ppm": [_window(w, "--other") for w in other or []],
        "acquisition_6li": Acquisition(p90_li6, t1_li6), "acquisition_7li": Acquisition(p90_li7, t1_li7),
    }  # fmt: skip
    sigma_factor = 0.0
    with run_on(scheduler, workers, quiet=quiet, description="nmr isotopes"):
        if ref_li6 is not None and ref_li7 is not None:
            rlo, rhi = _window(ref_window, "--ref-window") if ref_window else (lo, hi)
            factor, sigma_factor = reference_factor(
                ref_li6, ref_li7, window_ppm=(rlo, rhi), noise_ppm=noise_ppm, x6=ref_x6, lb_Hz=lb, phase=phase,
                **options,
            )  # fmt: skip
            typer.echo(f"factor from the reference (x6 = {ref_x6:g}): {factor:.4g} ± {sigma_factor:.2g}")
        with progress_bar(total=len(li6), description="samples", enabled=not quiet and len(li6) > 1) as advance:
            results = isotope_fractions(
                list(zip(li6, li7, strict=True)),
                window_ppm=(lo, hi),
                noise_ppm=noise_ppm,
                factor=factor,
                factor_err=sigma_factor,
                samples=sample or None,
                on_done=lambda i, r: advance(1),
                lb_Hz=lb,
                phase=phase,
                **options,
            )
    mechanisms = None
    if electrolyte is not None and electrode is not None:
        mechanisms = [mechanism(r.x6, r.x6_err, electrolyte=electrolyte, electrode=electrode, grain_boundary=grain)
                      for r in results]  # fmt: skip
    for k, r in enumerate(results):
        prefix = f"{r.sample}: " if len(results) > 1 else ""
        typer.echo(f"{prefix}I6 = {r.i6:.6g} ± {r.i6_err:.2g}, I7 = {r.i7:.6g} ± {r.i7_err:.2g} "
                   f"(per scan and unit gain, window {lo:g}..{hi:g} ppm)")  # fmt: skip
        typer.echo(f"{prefix}6Li fraction: {100 * r.x6:.2f} ± {100 * r.x6_err:.2f} at.% (factor {factor:.4g})")
        typer.echo(f"{prefix}windows: " + _windows_text(r.details))
        lod = detection_limit(r)
        if lod is not None:
            typer.echo(f"{prefix}6Li not detected (I6 < 3 sigma): 6Li fraction < {100 * lod:.2f} at.% (3 sigma)")
        if mechanisms is not None:
            m = mechanisms[k]
            text = f"{prefix}{m.label}"
            if grain is not None:
                text += f", Mechanism-2 share {100 * m.share:.1f} ± {100 * m.share_err:.1f} %"
                if m.share + 2 * m.share_err < 0 or m.share - 2 * m.share_err > 1:
                    # the two-source mixing does not hold: the fraction is beyond both end members
                    text += (
                        " (outside 0-100 % by more than 2 sigma: not a mix of the electrolyte and grain-boundary Li)"
                    )
            typer.echo(text)
    stats = replicate_statistics(results, group or None)
    if len(results) > 1:
        for st in stats:
            if st.n > 1:
                typer.echo(f"group {st.group} ({st.n} cells): 6Li fraction {100 * st.mean:.2f} ± {100 * st.std:.2f} "
                           f"at.% (mean ± std; propagated ± {100 * st.propagated:.2f})")  # fmt: skip
    if out is not None:
        params = {"window_ppm": [lo, hi], "noise_ppm": None if noise_ppm is None else list(noise_ppm),
                  "factor": factor, "factor_err": sigma_factor, "match": match, "spin_rate_Hz": spin_rate,
                  "sidebands": sidebands, "other_windows_ppm": [list(_window(w, "--other")) for w in other or []],
                  "p90_us": [p90_li6, p90_li7], "t1_s": [t1_li6, t1_li7],
                  "reference_shift_ppm": shift, "electrolyte_x6": electrolyte, "electrode_x6": electrode,
                  "grain_boundary_x6": grain,
                  "reference_x6": ref_x6 if ref_li6 is not None else None, "lb_Hz": lb, "phase": phase}  # fmt: skip
        references = [p for p in (ref_li6, ref_li7) if p is not None]
        write_isotopes(
            results, out, parameters=params, charge_mAh=charge_mAh or None, references=references,
            overwrite=overwrite, groups=group or None, mechanisms=mechanisms,
        )  # fmt: skip
        typer.echo(f"-> {out}")
    if plot is not None:
        spectra = [s for a, b in zip(li6, li7, strict=True) for s in isotope_spectra(a, b, lb_Hz=lb, phase=phase)]
        _save_plot(spectra, [(lo, hi)], plot)


@app.command("fit")
def fit_command(
    datasets: Annotated[
        list[Path], typer.Argument(help="Bruker or Varian experiment folder(s); each is fitted with the same lines.")
    ],
    line: Annotated[list[float], typer.Option("--line", help="Starting position of a line, ppm; repeat per line.")],
    window: Annotated[str, typer.Option("--window", help="Fitted region LO,HI in ppm.")],
    shape: Annotated[str, typer.Option("--shape", help="lorentzian, gaussian or voigt.")] = "lorentzian",
    noise: Annotated[
        str, typer.Option("--noise", help="Signal-free window LO,HI in ppm, or 'auto' (all points off --window).")
    ] = "auto",
    baseline: Annotated[int, typer.Option("--baseline", help="Baseline polynomial degree (-1: none).")] = 1,
    fwhm: Annotated[float | None, typer.Option("--fwhm", help="Starting FWHM, ppm.")] = None,
    lb: Annotated[float, typer.Option("--lb", help="Exponential line broadening, Hz.")] = 0.0,
    zf: Annotated[
        int | None, typer.Option("--zf", help="Spectrum size (default: no zero filling, so the errors hold).")
    ] = None,
    phase: Annotated[
        str | None, typer.Option("--phase", help="manual (procs PHC0/PHC1) or auto (default: manual; Varian: auto).")
    ] = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="PPM_OBSERVED=PPM_TRUE, e.g. LiCl seen at -0.8: -0.8=-1.1.")
    ] = None,
    sample: Annotated[list[str] | None, typer.Option("--sample", help="Name per dataset (default: folder).")] = None,
    charge_mAh: Annotated[
        list[float] | None, typer.Option("--charge-mAh", help="Charge passed before each measurement, mA h.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="OUT.zarr (operando_kind nmr-lines) or OUT.csv.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Draw spectra with the fitted positions (.png, .svg, .pdf).")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
) -> None:
    """Fit overlapping Lorentzian/Gaussian/Voigt lines: shift (Knight shift), FWHM and area with 1-sigma errors.

    Areas are per scan and unit receiver gain (comparable across spectra and with
    ``nmr isotopes``); several datasets give the trends of shift and width across samples.
    """
    if out is not None:
        check_output(out, [*datasets], overwrite=overwrite)
    if plot is not None:
        check_output(plot, [*datasets, out], overwrite=True, option="--plot")
    from operando.errors import ParameterError
    from operando.nmr import SHAPES
    from operando.pipelines.nmr import fit_spectrum, sample_names, write_lines

    if shape not in SHAPES:
        raise ParameterError(f"--shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    if phase not in (None, "manual", "auto"):
        raise ParameterError(f"--phase must be manual or auto, got {phase!r}")
    if fwhm is not None and not (math.isfinite(fwhm) and fwhm > 0):
        raise ParameterError(f"--fwhm must be a positive width in ppm, got {fwhm:g}")
    for option, values in (("--sample", sample), ("--charge-mAh", charge_mAh)):
        if values and len(values) != len(datasets):
            raise ParameterError(f"give {option} once per dataset ({len(datasets)}), got {len(values)}")
    lo, hi = _window(window, "--window")
    noise_ppm = None if noise == "auto" else _window(noise, "--noise")
    shift = _reference(reference)
    names = list(sample) if sample else sample_names(datasets)  # cellA/7Li/1, cellB/7Li/1: not both "7Li/1"
    fits = [
        fit_spectrum(d, centres_ppm=line, window_ppm=(lo, hi), shape=shape, noise_ppm=noise_ppm, lb_Hz=lb,
                     phase=phase, size=zf, baseline=baseline, reference_shift_ppm=shift, fwhm_guess_ppm=fwhm,
                     sample=name)
        for d, name in zip(datasets, names, strict=True)
    ]  # fmt: skip
    for f in fits:
        typer.echo(f"{f.sample} ({f.nucleus}): {len(f.lines)} {shape} line(s), reduced chi2 {f.chi2_reduced:.3g}")
        for k, r in f.lines.iterrows():
            typer.echo(f"  line {k}: shift {r.shift_ppm:.3f} ± {r.shift_ppm_err:.3f} ppm, FWHM {r.fwhm_ppm:.3f} ± "
                       f"{r.fwhm_ppm_err:.3f} ppm ({r.fwhm_Hz:.4g} ± {r.fwhm_Hz_err:.2g} Hz), area {r.area:.6g} ± "
                       f"{r.area_err:.2g}")  # fmt: skip
    if out is not None:
        params = {"lines_ppm": list(line), "window_ppm": [lo, hi], "shape": shape, "baseline": baseline,
                  "noise_ppm": None if noise_ppm is None else list(noise_ppm), "lb_Hz": lb, "size": zf,
                  "phase": phase, "reference_shift_ppm": shift}  # fmt: skip
        write_lines(fits, out, parameters=params, charge_mAh=charge_mAh or None, overwrite=overwrite)
        typer.echo(f"-> {out}")
    if plot is not None:
        from operando.report import plot_line_fits, save_figure

        panels = [(f"{f.sample} ({f.nucleus})", f.ppm, f.spectrum, f.lines["shift_ppm"].tolist()) for f in fits]
        save_figure(plot_line_fits(panels, window_ppm=(lo, hi)), plot.with_suffix(""),
                    formats=(plot.suffix.lstrip(".") or "png",))  # fmt: skip
        typer.echo(f"-> {plot}")


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
    dysonian: Annotated[
        bool, typer.Option("--dysonian", help="Also fit a derivative Dysonian (metallic Li): HWHM, phase, A/B.")
    ] = False,
) -> None:
    """Peak-to-peak width, g factor and double integral of a cw-EPR first-derivative spectrum."""
    import json

    from operando.pipelines.nmr import epr_lines

    summary = epr_lines(
        path, window_mT=_window(window, "--window") if window else None, points=points, dysonian=dysonian
    )
    if as_json:
        typer.echo(json.dumps(summary))
        return
    (first, last), ghz, rows = summary["field_mT"], summary["mw_frequency_GHz"], summary["lines"]
    typer.echo(f"{summary['title'] or Path(summary['path']).name}: {first:.4f} .. {last:.4f} mT, "
               f"{summary['points']} points, MWFQ {'?' if ghz is None else f'{ghz:.6f}'} GHz")  # fmt: skip
    for i, r in enumerate(rows):
        g_text = "g unknown (no MWFQ)" if r["g"] is None else f"g = {r['g']:.5f}"
        prefix = f"row {i}: " if len(rows) > 1 else ""
        typer.echo(f"{prefix}dB_pp = {r['width_pp_mT']:.5f} mT at {r['centre_mT']:.4f} mT, {g_text}, "
                   f"double integral (whole sweep) {r['double_integral']:.6g}")  # fmt: skip
        if "dysonian" in r:
            d = r["dysonian"]
            g_dys = "" if d["g"] is None else f", g = {d['g']:.5f}"
            typer.echo(f"{prefix}Dysonian: B0 = {d['centre_mT']:.4f} ± {d['centre_err_mT']:.2g} mT{g_dys}, "
                       f"HWHM {d['hwhm_mT']:.5f} ± {d['hwhm_err_mT']:.2g} mT, phase {d['phase_deg']:.1f} ± "
                       f"{d['phase_err_deg']:.1f} deg, A/B {d['ab_ratio']:.3f}")  # fmt: skip
