"""`operando nmr isotopes` over replicate cells: per-cell values, mean +- std, mechanism, share, detection limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from operando.cli import nmr_app as app
from operando.errors import CorruptFileError, ParameterError
from operando.synthetic import li_isotope_pair

runner = CliRunner()
COMMON = ["--window", "240,290", "--noise", "auto", "--match", "ppm"]
X_CELLS = (0.058, 0.060, 0.062)


def _cells(tmp_path, xs=X_CELLS):
    pairs = [li_isotope_pair(tmp_path / f"cell{k}", x6_metal=x, snr_7li=4000.0, seed=k, ns_6li=64, rg_6li=256.0)
             for k, x in enumerate(xs)]  # fmt: skip
    return [(li6, li7) for li7, li6 in pairs]


def test_three_cells_mean_std_mechanism_and_share_in_cli_and_store(tmp_path):
    from operando.store import open_results

    cells = _cells(tmp_path)
    table = tmp_path / "cells.csv"
    rows = [f"{li6.relative_to(tmp_path)},{li7.relative_to(tmp_path)},cell {k},61C" for k, (li6, li7) in
            enumerate(cells)]  # fmt: skip
    table.write_text("li6,li7,sample,group\n" + "\n".join(rows) + "\n")
    store = tmp_path / "iso.zarr"
    args = ["isotopes", "--table", str(table), *COMMON, "--electrolyte-x6", "0.0759,0.001",
            "--electrode-x6", "0.95", "--grain-boundary-x6", "0.05,0.002", "-o", str(store)]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert r.output.count("mechanism 2, Mechanism-2 share") == 3
    line = next(ln for ln in r.output.splitlines() if ln.startswith("group 61C (3 cells)"))
    mean, std = float(line.split("fraction ")[1].split()[0]), float(line.split("± ")[1].split()[0])
    assert mean == pytest.approx(100 * np.mean(X_CELLS), abs=0.15)
    assert 0.05 < std < 0.5  # the spread of 5.8, 6.0, 6.2 at.% (0.2) plus noise
    ds = open_results(store).load()
    assert ds["mechanism"].values.tolist() == ["mechanism 2"] * 3
    share = ds["mechanism2_share"].values
    truth = (0.0759 - np.array(X_CELLS)) / (0.0759 - 0.05)
    assert np.all(np.abs(share - truth) < 3 * ds["mechanism2_share_err"].values + 0.02)
    assert float(ds["group_mean"][0]) == pytest.approx(float(ds["li6_fraction"].mean()))
    assert float(ds["group_std"][0]) == pytest.approx(float(ds["li6_fraction"].std(ddof=1)))
    assert 0 < float(ds["group_propagated_err"][0]) < float(ds["li6_fraction_err"].max())
    assert bool(ds["li6_detected"].all())
    from operando.report import make_section

    notes = make_section(ds, store).notes
    assert any(n.startswith("group 61C: 6Li ") and "mean ± std of 3 cells" in n for n in notes), notes
    assert sum("Mechanism-2 share" in n and "(mechanism 2)" in n for n in notes) == 3, notes
    # the 3-cell statistics as a figure, drawn values checked against the store
    import matplotlib.pyplot as plt

    specs = {spec.name: spec for spec in make_section(ds, store).summary}
    fig = specs["li6_replicates"].draw()
    try:
        ax = fig.axes[0]
        cells = ax.containers[0].lines[0]
        assert np.allclose(cells.get_ydata(), 100 * ds["li6_fraction"].values)
        (mean_line,) = [c for c in ax.collections if c.get_label() == "mean"]
        assert np.allclose(mean_line.get_segments()[0][:, 1], 100 * float(ds["group_mean"][0]))
        std_bar = ax.containers[1].lines[2][0].get_segments()[0][:, 1]
        assert np.ptp(std_bar) == pytest.approx(2 * 100 * float(ds["group_std"][0]))
        prop_bar = ax.containers[2].lines[2][0].get_segments()[0][:, 1]
        assert np.ptp(prop_bar) == pytest.approx(2 * 100 * float(ds["group_propagated_err"][0]))
        assert [t.get_text() for t in ax.get_xticklabels()] == ["61C\n(n = 3)"]
    finally:
        plt.close(fig)


def test_no_replicate_figure_for_single_cells():
    import xarray as xr

    from operando.report import make_section

    variables = {"li6_fraction": ("sample", [0.05, 0.3]), "group_n": ("group", [1, 1]),
                 "group_mean": ("group", [0.05, 0.3]), "group_std": ("group", [np.nan, np.nan]),
                 "group_propagated_err": ("group", [0.001, 0.002])}  # fmt: skip
    coords = {"sample": ["a", "b"], "group": ["a", "b"]}
    ds = xr.Dataset(variables, coords=coords, attrs={"operando_kind": "nmr-isotopes"})
    assert [spec.name for spec in make_section(ds, Path("x.zarr")).summary] == ["li6_fraction"]


def test_repeated_pairs_give_the_same_values_as_the_table(tmp_path):
    cells = _cells(tmp_path, xs=(0.3, 0.31))
    args = ["isotopes", *COMMON]
    for li6, li7 in cells:
        args += ["--li6", str(li6), "--li7", str(li7)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "group all (2 cells)" in r.output


def test_detection_limit_where_no_6li_is_seen(tmp_path):
    li7, li6 = li_isotope_pair(tmp_path / "mid", x6_metal=0.0, snr_7li=3000.0, seed=5)
    r = runner.invoke(app, ["isotopes", "--li6", str(li6), "--li7", str(li7), *COMMON])
    assert r.exit_code == 0, r.output
    limit = float(r.output.split("6Li fraction < ")[1].split()[0])
    assert 0 < limit < 2.0  # at.%, 3 sigma
    assert "6Li not detected" in r.output


def test_reference_option_shifts_the_axis(tmp_path):
    li7, li6 = li_isotope_pair(tmp_path / "ref", x6_metal=0.3, snr_7li=5000.0, seed=3)
    pair = ["--li6", str(li6), "--li7", str(li7)]
    value = lambda r: float(r.output.split("6Li fraction:")[1].split()[0])  # noqa: E731
    base = runner.invoke(app, ["isotopes", *pair, *COMMON])
    # referenced 30 ppm up, the line sits at 294.5 ppm: a window 30 ppm higher reads the same
    moved = ["--window", "270,320", "--noise", "auto", "--match", "ppm", "--no-sidebands"]
    ref = runner.invoke(app, ["isotopes", *pair, *moved, "--reference", "0=30"])
    plain = runner.invoke(app, ["isotopes", *pair, *COMMON, "--no-sidebands"])
    assert ref.exit_code == 0, ref.output
    i7 = lambda r: float(r.output.split("I7 = ")[1].split()[0])  # noqa: E731
    assert value(ref) == pytest.approx(value(plain), abs=0.05)
    assert i7(ref) == pytest.approx(i7(plain), rel=1e-3)
    unref = runner.invoke(app, ["isotopes", *pair, *moved])
    assert i7(unref) < 0.6 * i7(plain)  # unreferenced, that window holds half the line
    assert value(base) == pytest.approx(30.0, abs=0.5)
    bad = runner.invoke(app, ["isotopes", *pair, *COMMON, "--reference", "1.1"])
    assert isinstance(bad.exception, ParameterError)


def test_bad_table_and_damaged_acqus_are_one_line(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2\n")
    r = runner.invoke(app, ["isotopes", "--table", str(table), *COMMON])
    assert isinstance(r.exception, CorruptFileError) and "li6 and li7" in str(r.exception)
    li7, _ = li_isotope_pair(tmp_path / "d", x6_metal=0.3, n_points=256)
    acqus = li7 / "acqus"
    acqus.write_text(acqus.read_text().replace("##$TD= 512", "##$TD= NaN"))
    r = runner.invoke(app, ["process", str(li7), "-o", str(tmp_path / "x.csv")])
    assert isinstance(r.exception, CorruptFileError) and "TD" in str(r.exception)


def test_report_flags_a_mechanism2_share_beyond_both_end_members(tmp_path):
    """The report says what the CLI says: a share outside 0-100 % by more than 2 sigma is
    not a mix of the two sources."""
    from operando.report import make_section
    from operando.store import open_results

    cells = _cells(tmp_path)
    store = tmp_path / "iso.zarr"
    args = ["isotopes", "--li6", str(cells[0][0]), "--li7", str(cells[0][1]), *COMMON,
            "--electrolyte-x6", "0.0759,0.001", "--electrode-x6", "0.95", "--grain-boundary-x6", "0.07,0.0005",
            "-o", str(store)]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "outside 0-100 % by more than 2 sigma" in r.output  # x6 5.8 at.% is below both 7.59 and 7.0
    ds = open_results(store).load()
    notes = make_section(ds, store).notes
    assert sum("outside 0-100 % by more than 2 sigma" in n for n in notes) == 1, notes
