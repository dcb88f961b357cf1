"""`operando nmr fit`: overlapping lines recovered within their stated uncertainties, over many noise draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from operando.cli import nmr_app as app
from operando.errors import ParameterError
from operando.nmr import fit_lines
from operando.pipelines.nmr import fit_spectrum
from operando.synthetic import NMRLine, acquire, write_bruker_fid

SF = 155.4512  # 7Li at 9.4 T, MHz
# (shift ppm, Lorentzian FWHM ppm, area per scan and unit gain): a Knight-shifted metal line
# and a broader, overlapping one 2.5 ppm away (the overlap is 1.6 FWHM)
TRUTH = [(264.5, 0.6, 1.5), (262.0, 1.0, 1.0)]
runner = CliRunner()


def _write(folder: Path, seed: int, *, ns: int = 16, rg: float = 32.0, noise: float = 0.4) -> Path:
    rng = np.random.default_rng(seed)
    lines = [NMRLine(p, a, lw_Hz=w * SF) for p, w, a in TRUTH]
    fid = acquire(lines, ns=ns, rg=rg, noise_per_scan=noise, rng=rng, sfo1_MHz=SF, carrier_ppm=130.0,
                  sw_Hz=100000.0, n_points=8192)  # fmt: skip
    return write_bruker_fid(folder, fid, nucleus="7Li", sfo1_MHz=SF, carrier_ppm=130.0, sw_Hz=100000.0, ns=ns, rg=rg)


def test_two_overlapping_lines_within_their_uncertainties_over_seeds(tmp_path):
    z = []
    for seed in range(12):
        fit = fit_spectrum(_write(tmp_path / f"s{seed}", seed), centres_ppm=[265, 261], window_ppm=(245, 285))
        t = fit.lines
        assert np.all(t[["shift_ppm_err", "fwhm_ppm_err", "area_err"]].to_numpy() > 0)
        z.append([(t[c][k] - v) / t[f"{c}_err"][k] for k, line in enumerate(TRUTH)
                  for c, v in zip(("shift_ppm", "fwhm_ppm", "area"), line, strict=True)])  # fmt: skip
    z = np.abs(np.array(z))  # (seeds, 6): shift, width, area of both lines, in their own sigmas
    assert 0.45 <= (z < 1).mean() <= 0.9, z.round(2)  # 68 % expected
    assert (z < 2).mean() >= 0.85, z.round(2)  # 95 % expected
    assert np.all((z < 2).mean(axis=0) >= 0.7), z.round(2)  # every parameter, not only on average
    assert z.max() < 4.5


def test_areas_are_per_scan_and_unit_gain(tmp_path):
    a = fit_spectrum(_write(tmp_path / "a", 3, ns=16, rg=32.0, noise=0.05), centres_ppm=[265, 261],
                     window_ppm=(245, 285))  # fmt: skip
    b = fit_spectrum(_write(tmp_path / "b", 3, ns=4, rg=512.0, noise=0.05), centres_ppm=[265, 261],
                     window_ppm=(245, 285))  # fmt: skip
    np.testing.assert_allclose(a.lines["area"], [1.5, 1.0], rtol=0.02)
    np.testing.assert_allclose(b.lines["area"], [1.5, 1.0], rtol=0.02)


def test_voigt_and_gaussian_kernel_against_scipy_profiles():
    from scipy.special import voigt_profile

    x = np.linspace(20, -20, 4001)
    step = abs(x[1] - x[0])
    rng = np.random.default_rng(0)
    y = 3.0 * voigt_profile(x - 1.0, 0.4, 0.3) / step + rng.normal(0, 0.05, x.size)
    lines, chi2 = fit_lines(y, x, centres_ppm=[0.5], window_ppm=(-15, 15), noise=0.05, shape="voigt", baseline=0)
    assert lines["shift_ppm"][0] == pytest.approx(1.0, abs=4 * lines["shift_ppm_err"][0])
    assert lines["area"][0] == pytest.approx(3.0 / step**2, abs=4 * lines["area_err"][0])  # sum over points
    assert 0.8 < chi2 < 1.2
    g = 2.0 * np.exp(-0.5 * ((x + 2.0) / 0.5) ** 2) + rng.normal(0, 0.01, x.size)
    lines, _ = fit_lines(g, x, centres_ppm=[-1.8], window_ppm=(-10, 5), noise=0.01, shape="gaussian")
    assert lines["fwhm_ppm"][0] == pytest.approx(0.5 * 2.35482, abs=4 * lines["fwhm_ppm_err"][0])
    with pytest.raises(ParameterError, match="outside the window"):
        fit_lines(g, x, centres_ppm=[30.0], window_ppm=(-10, 5), noise=0.01)


def test_fit_command_store_and_csv(tmp_path):
    from operando.store import open_results

    folders = [_write(tmp_path / f"c{k}", k) for k in range(2)]
    store, csv, png = tmp_path / "lines.zarr", tmp_path / "lines.csv", tmp_path / "fit.png"
    args = ["fit", *map(str, folders), "--line", "265", "--line", "261", "--window", "245,285",
            "--charge-mAh", "1", "--charge-mAh", "2", "-o", str(store), "--plot", str(png)]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "line 0: shift 264.5" in r.output and png.is_file()
    ds = open_results(store)
    assert ds.attrs["operando_kind"] == "nmr-lines" and ds["shift_ppm"].dims == ("sample", "line")
    assert float(ds["shift_ppm"][0, 0]) == pytest.approx(264.5, abs=0.05)
    r = runner.invoke(app, ["fit", str(folders[0]), "--line", "265", "--window", "245,285", "-o", str(csv)])
    assert r.exit_code == 0, r.output
    assert "fwhm_Hz" in csv.read_text().splitlines()[0]
    r = runner.invoke(app, ["fit", str(folders[0]), "--line", "265", "--window", "245,285", "--shape", "sinc"])
    assert r.exit_code != 0 and isinstance(r.exception, ParameterError)


def test_nmr_lines_report_section(tmp_path):
    from operando.report import make_section

    fits = [fit_spectrum(_write(tmp_path / f"r{k}", k), centres_ppm=[265, 261], window_ppm=(245, 285))
            for k in range(2)]  # fmt: skip
    from operando.pipelines.nmr import lines_dataset

    section = make_section(lines_dataset(fits, charge_mAh=[1.0, 2.0]), tmp_path / "x.zarr")
    assert section.kind == "nmr-lines" and any("FWHM" in n for n in section.notes)
    fig = section.summary[0].draw()
    assert len(fig.axes) == 2
    assert [round(v, 1) for v in fig.axes[0].lines[0].get_ydata()] == [264.5, 264.5]
