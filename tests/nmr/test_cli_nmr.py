"""The ``operando nmr`` group through typer's CliRunner on its own app."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from operando.cli import nmr_app as app
from operando.errors import CorruptFileError, ParameterError
from operando.store import open_results
from operando.synthetic import li_isotope_pair

runner = CliRunner()


def test_tracer_csv_and_plot(tmp_path):
    out, png = tmp_path / "t.csv", tmp_path / "t.png"
    args = ["tracer", "--m1", "100", "--x1", "0.95", "--m2", "300", "--x2", "0.07", "--n", "0.1", "--steps", "10"]
    result = runner.invoke(app, [*args, "--charge-per-step", "0.02", "-o", str(out), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert list(table.columns) == ["step", "x_electrode", "x_electrolyte", "charge_mAh"]
    assert len(table) == 11
    assert png.stat().st_size > 1000


def test_process_zarr_with_integrals_and_csv(tmp_path):
    li7, _ = li_isotope_pair(tmp_path / "pair", x6_metal=0.5, n_points=1024)
    store = tmp_path / "s.zarr"
    result = runner.invoke(app, ["process", str(li7), "--zf", "4096", "--window", "240,290", "-o", str(store)])
    assert result.exit_code == 0, result.output
    assert "integral 240..290 ppm" in result.output
    ds = open_results(store)
    assert ds["intensity"].dims == ("ppm",)
    assert ds.sizes["ppm"] == 4096
    assert ds["integral"].shape == (1, 1)
    csv = tmp_path / "s.csv"
    result = runner.invoke(app, ["process", str(li7), "--phase", "auto", "--lb", "50", "-o", str(csv)])
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(csv).columns) == ["ppm", "intensity_0"]


def test_isotopes_command(tmp_path):
    li7, li6 = li_isotope_pair(tmp_path, x6_metal=0.3, snr_7li=5000.0, seed=3)
    args = [
        "isotopes",
        "--li6",
        str(li6),
        "--li7",
        str(li7),
        "--window",
        "240,290",
        "--noise",
        "-130,-50",
        "--match",
        "ppm",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    value = float(result.output.split("6Li fraction:")[1].split()[0])
    assert value == pytest.approx(30.0, abs=0.5)


def test_bad_input_raises_operando_errors(tmp_path):
    li7, _ = li_isotope_pair(tmp_path / "pair", x6_metal=0.5, n_points=256)
    (li7 / "fid").write_bytes((li7 / "fid").read_bytes()[:100])
    result = runner.invoke(app, ["process", str(li7), "-o", str(tmp_path / "x.csv")])
    assert isinstance(result.exception, CorruptFileError)
    assert "fid: truncated" in str(result.exception)
    result = runner.invoke(app, ["isotopes", "--li6", "a", "--li7", "b", "--window", "nonsense"])
    assert isinstance(result.exception, ParameterError)


def test_process_and_isotopes_draw_their_spectra(tmp_path):
    """``--plot``: the spectrum (or both isotopes' spectra) on a decreasing ppm axis, windows shaded."""
    import matplotlib.image as mpimg

    from operando.report import plot_spectra

    li7, li6 = li_isotope_pair(tmp_path, x6_metal=0.3, n_points=1024, seed=1)
    png = tmp_path / "spec.png"
    result = runner.invoke(
        app, ["process", str(li7), "--window", "240,290", "-o", str(tmp_path / "s.csv"), "--plot", str(png)]
    )
    assert result.exit_code == 0, result.output
    image = mpimg.imread(png)
    assert image.shape[0] > 500 and image.shape[1] > 1000  # 300 dpi
    svg = tmp_path / "iso.svg"
    args = [
        "isotopes",
        "--li6",
        str(li6),
        "--li7",
        str(li7),
        "--window",
        "240,290",
        "--noise",
        "-130,-50",
        "--match",
        "ppm",
    ]
    result = runner.invoke(app, [*args, "--plot", str(svg)])
    assert result.exit_code == 0, result.output
    text = svg.read_text()
    assert "6Li" in text and "7Li" in text and "chemical shift (ppm)" in text
    ppm = [300.0, 200.0, 100.0, 0.0]
    fig = plot_spectra([("a", ppm, [0, 1, 2, 1]), ("b", ppm, [[0, 1, 0, 0], [1, 0, 0, 0]])], windows_ppm=[(50, 150)])
    top, bottom = fig.axes
    assert top.get_xlim() == (300.0, 0.0)  # shift decreases to the right
    assert len(bottom.lines) == 2 and len(top.patches) == 1
    assert bottom.get_ylabel() == "intensity (a.u.)"


def test_isotopes_over_several_samples_in_one_store(tmp_path):
    """Repeated ``--li6/--li7`` pairs: one line pair per sample, one store, same numbers as one by one."""
    from operando.pipelines.nmr import isotope_fraction

    pairs = [li_isotope_pair(tmp_path / f"s{i}", x6_metal=x, snr_7li=5000.0, seed=i) for i, x in enumerate((0.2, 0.5))]
    args = ["isotopes", "--window", "240,290", "--noise", "-130,-50", "--quiet", "-o", str(tmp_path / "iso.zarr")]
    for li7, li6 in pairs:
        args += ["--li6", str(li6), "--li7", str(li7)]
    result = runner.invoke(app, [*args, "--sample", "a", "--sample", "b", "--charge-mAh", "0", "--charge-mAh", "1.5"])
    assert result.exit_code == 0, result.output
    assert "a: 6Li fraction:" in result.output and "b: 6Li fraction:" in result.output
    ds = open_results(tmp_path / "iso.zarr")
    assert ds.sizes["sample"] == 2
    for k, (li7, li6) in enumerate(pairs):
        one = isotope_fraction(li6, li7, window_ppm=(240, 290), noise_ppm=(-130, -50), factor=28.45)
        assert float(ds["li6_fraction"][k]) == one.x6
    assert ds["li6_fraction"].values == pytest.approx([0.2, 0.5], abs=0.01)
    result = runner.invoke(app, [*args, "--sample", "only-one", "--overwrite"])
    assert isinstance(result.exception, ParameterError)
    result = runner.invoke(app, ["isotopes", "--li6", "a", "--li6", "b", "--li7", "c", "--window", "1,2"])
    assert isinstance(result.exception, ParameterError)
