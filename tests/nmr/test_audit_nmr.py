"""Issue-16 audit: `operando nmr` on files laid out and written the way users and TopSpin write them.

Each test failed before its fix: a replicate table with an empty cell, replicate folders
named alike (``cellA/6Li/1``, ``cellB/6Li/1``), a 30-degree pulse program (``zg30``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from operando.cli import nmr_app as app
from operando.errors import CorruptFileError, UnsupportedFormatError
from operando.nmr import p1_factor
from operando.synthetic import Excitation, li_isotope_pair

runner = CliRunner()
COMMON = ["--window", "240,290", "--noise", "auto", "--match", "ppm", "-q"]


def _fraction(output: str, prefix: str = "") -> float:
    line = next(ln for ln in output.splitlines() if ln.startswith(f"{prefix}6Li fraction:"))
    return float(line.split("6Li fraction:")[1].split()[0])


def _pairs(root: Path, n: int) -> list[tuple[Path, Path]]:
    """``root/cell<k>/6Li/1`` and ``7Li/1``: every cell's folders end alike, as replicates are laid out."""
    out = []
    for k in range(n):
        li7, li6 = li_isotope_pair(root / f"cell{k}", x6_metal=0.2 + 0.05 * k, snr_7li=3000.0, seed=k, n_points=1024)
        out.append((li6, li7))
    return out


@pytest.mark.parametrize(
    ("rows", "column", "line"),
    [
        ("cell0/6Li/1,cell0/7Li/1,A,g\n,cell1/7Li/1,B,g\n", "li6", "3"),  # a missing spectrum
        ("cell0/6Li/1,cell0/7Li/1,A,g\ncell1/6Li/1,cell1/7Li/1,B,\n", "group", "3"),  # read as group "nan"
        ("cell0/6Li/1,cell0/7Li/1,,g\ncell1/6Li/1,cell1/7Li/1,B,g\n", "sample", "2"),
    ],
)
def test_table_with_an_empty_cell_is_one_line_naming_column_and_line(tmp_path, rows, column, line):
    _pairs(tmp_path, 2)
    table = tmp_path / "cells.csv"
    table.write_text("li6,li7,sample,group\n" + rows)
    r = runner.invoke(app, ["isotopes", "--table", str(table), *COMMON])
    assert isinstance(r.exception, CorruptFileError), r.output
    text = str(r.exception)
    assert "cells.csv" in text and f"column {column} is empty on line(s) {line}" in text


def test_table_with_a_charge_that_is_not_a_number_is_one_line(tmp_path):
    _pairs(tmp_path, 1)
    table = tmp_path / "cells.csv"
    table.write_text("li6,li7,charge_mAh\ncell0/6Li/1,cell0/7Li/1,1.5 mAh\n")
    r = runner.invoke(app, ["isotopes", "--table", str(table), *COMMON])
    assert isinstance(r.exception, CorruptFileError) and "charge_mAh" in str(r.exception)


def test_replicates_in_alike_folders_get_distinct_names_and_a_store(tmp_path):
    from operando.store import open_results

    pairs = _pairs(tmp_path, 3)
    table = tmp_path / "cells.csv"
    table.write_text("li6,li7\n" + "".join(f"cell{k}/6Li/1,cell{k}/7Li/1\n" for k in range(3)))
    store = tmp_path / "iso.zarr"
    r = runner.invoke(app, ["isotopes", "--table", str(table), *COMMON, "-o", str(store)])
    assert r.exit_code == 0, r.output  # was: "need ... unique names, got ['6Li/1', '6Li/1', '6Li/1']"
    for k in range(3):
        assert abs(_fraction(r.output, f"cell{k}/6Li/1: ") - 100 * (0.2 + 0.05 * k)) < 1.5
    ds = open_results(store)
    assert sorted(map(str, ds["sample"].values)) == [f"cell{k}/6Li/1" for k in range(3)]
    # nmr fit of several alike folders names each one too
    fit = runner.invoke(app, ["fit", *(str(li7) for _, li7 in pairs[:2]), "--line", "264.5", "--window", "240,290",
                              "-o", str(tmp_path / "lines.zarr")])  # fmt: skip
    assert fit.exit_code == 0, fit.output
    assert "cell0/7Li/1 (7Li)" in fit.output and "cell1/7Li/1 (7Li)" in fit.output


def _zg30_pair(tmp_path: Path, pulprog: str) -> tuple[Path, Path]:
    """7Li recorded with a 30-degree pulse (0.33 x the 4 us 90-degree pulse) and ``P1`` = 4 us, as zg30 records it."""
    li7, li6 = li_isotope_pair(tmp_path / pulprog, x6_metal=0.2, seed=4, sidebands=(), n_points=1024,
                               excitation_7li=Excitation(p1_us=0.33 * 4.0, p90_us=4.0))  # fmt: skip
    lines = (li7 / "acqus").read_text().replace("<zg>", f"<{pulprog}>").split("\n")
    k = lines.index("##$P= (0..63)")
    values = lines[k + 1].split()
    values[1] = "4"
    lines[k + 1] = " ".join(values)
    (li7 / "acqus").write_text("\n".join(lines))
    return li6, li7


def test_zg30_excitation_is_p1_times_0_33(tmp_path):
    li6, li7 = _zg30_pair(tmp_path, "zg30")
    args = ["isotopes", "--li6", str(li6), "--li7", str(li7), *COMMON, "--p90-li7", "4", "--p90-li6", "2"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert abs(_fraction(r.output) - 20.0) < 1.0  # was 33.4 at.%: a 30-degree 7Li pulse taken as 90 degrees


def test_pulseprogram_file_decides_the_p1_factor(tmp_path):
    li6, li7 = _zg30_pair(tmp_path, "my_onepulse")
    (li7 / "pulseprogram").write_text(
        ";my_onepulse\n#include <Avance.incl>\n1 ze\n2 30m\n  d1\n  (p1*0.33 ph1):f1  ; 30 deg\n  go=2 ph31\nexit\n"
    )
    args = ["isotopes", "--li6", str(li6), "--li7", str(li7), *COMMON, "--p90-li7", "4", "--p90-li6", "2"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert abs(_fraction(r.output) - 20.0) < 1.0


def test_p1_factor_of_real_pulse_programs():
    # TopSpin's zg.lcs (real set): "(p1 ph1):f1 ; conventional single pulse" and p1*cnst1/90 in definitions
    text = '  "p90_X = p1*cnst1/90"\n"acqt0=-p1*2/3.1416"\n  (p1 ph1):f1       ; conventional single pulse\n'
    assert p1_factor(text, "zg.lcs") == 1.0
    assert p1_factor("  p1 ph1\n  p1 ph2\n  p1 ph3\n", "noesypr1d") == 1.0
    assert p1_factor(None, "zgig30") == 0.33 and p1_factor(None, "hpdec") == 1.0


def _unrecorded_rate(folder: Path) -> None:
    """Drop the MAS rate from ``acqus`` (MASR 0, CNST31 1), as a console without a MAS controller writes it."""
    acqus = folder / "acqus"
    lines = acqus.read_text().split("\n")
    lines = ["##$MASR= 0" if ln.startswith("##$MASR=") else ln for ln in lines]
    k = lines.index("##$CNST= (0..63)")
    values = lines[k + 1].split()
    values[31] = "1"
    lines[k + 1] = " ".join(values)
    acqus.write_text("\n".join(lines))


def test_unrecorded_mas_rate_with_visible_sidebands_is_warned(tmp_path):
    li7, li6 = li_isotope_pair(tmp_path / "c", x6_metal=0.2, seed=3, n_points=2048, sidebands=(0.15, 0.04),
                               sidebands_6li=(0.02,))  # fmt: skip
    for folder in (li6, li7):
        _unrecorded_rate(folder)
    pair = ["isotopes", "--li6", str(li6), "--li7", str(li7), *COMMON]
    with pytest.warns(UserWarning, match=r"7Li/1: no MAS rate recorded .* give --spin-rate (2[45]\d\d\d)") as rec:
        r = runner.invoke(app, pair)
    assert r.exit_code == 0, r.output
    assert _fraction(r.output) > 25.0  # centre bands only: 7Li's 38 % of sidebands left out (true 20 at.%)
    rate = next(w for w in rec if "no MAS rate" in str(w.message)).message.args[0].split("--spin-rate ")[1].split()[0]
    assert abs(float(rate) - 25000.0) < 100.0
    fixed = runner.invoke(app, [*pair, "--spin-rate", rate])
    assert abs(_fraction(fixed.output) - 20.0) < 1.0


def test_no_spinning_warning_for_a_static_or_recorded_spectrum(tmp_path, recwarn):
    li7, li6 = li_isotope_pair(tmp_path / "s", x6_metal=0.2, seed=3, n_points=2048, sidebands=())
    for folder in (li6, li7):
        _unrecorded_rate(folder)
    r = runner.invoke(app, ["isotopes", "--li6", str(li6), "--li7", str(li7), *COMMON])
    assert r.exit_code == 0, r.output
    li7, li6 = li_isotope_pair(tmp_path / "m", x6_metal=0.2, seed=3, n_points=2048, sidebands=(0.15, 0.04))
    r = runner.invoke(app, ["isotopes", "--li6", str(li6), "--li7", str(li7), *COMMON])
    assert r.exit_code == 0, r.output
    assert not [w for w in recwarn if "no MAS rate" in str(w.message)]


def _as_series(folder: Path, rows: int) -> None:
    """Turn a 1D folder into a saturation-recovery pseudo-2D: ``ser`` of ``rows`` FIDs (growing), acqu2s, vdlist."""
    import numpy as np

    one = np.fromfile(folder / "fid", dtype="<i4")
    scales = np.linspace(0.2, 1.0, rows) if rows > 1 else np.ones(1)
    np.concatenate([np.round(one * s).astype("<i4") for s in scales]).tofile(folder / "ser")
    (folder / "fid").unlink()
    (folder / "acqu2s").write_text(f"##TITLE= Parameter file\n##JCAMPDX= 5.0\n##$TD= {rows}\n##$FnMODE= 0\n##END=\n")
    (folder / "vdlist").write_text("\n".join(f"{t:g}" for t in np.geomspace(0.01, 10, rows)) + "\n")
    acqus = folder / "acqus"
    acqus.write_text(acqus.read_text().replace("<zg>", "<satrec>"))


def test_pseudo_2d_series_is_refused_by_isotopes_and_fit(tmp_path):
    li7, li6 = li_isotope_pair(tmp_path / "c", x6_metal=0.2, seed=3, n_points=1024)
    _as_series(li7, 3)
    r = runner.invoke(app, ["isotopes", "--li6", str(li6), "--li7", str(li7), *COMMON])
    # was: the first row (20 % of the line) read without a word, 55 at.% for a true 20
    assert isinstance(r.exception, UnsupportedFormatError), r.output
    assert "pseudo-2D series of 3 rows (satrec)" in str(r.exception) and str(li7) in str(r.exception)
    r = runner.invoke(app, ["fit", str(li7), "--line", "264.5", "--window", "240,290"])
    assert isinstance(r.exception, UnsupportedFormatError) and "3 rows" in str(r.exception)
    # a series of one row is one spectrum
    li7b, li6b = li_isotope_pair(tmp_path / "d", x6_metal=0.2, seed=3, n_points=1024)
    _as_series(li7b, 1)
    r = runner.invoke(app, ["isotopes", "--li6", str(li6b), "--li7", str(li7b), *COMMON])
    assert r.exit_code == 0, r.output
    assert abs(_fraction(r.output) - 20.0) < 1.5


def test_swapped_li6_li7_folders_are_refused(tmp_path):
    from operando.errors import ParameterError

    li7, li6 = li_isotope_pair(tmp_path / "c", x6_metal=0.2, seed=3, n_points=1024)
    r = runner.invoke(app, ["isotopes", "--li6", str(li7), "--li7", str(li6), *COMMON])
    # was: 99.97 at.% without a word
    assert isinstance(r.exception, ParameterError), r.output
    assert "--li6 wants a 6Li spectrum" in str(r.exception) and str(li7) in str(r.exception)


def test_fit_with_a_negative_starting_width_is_one_line(tmp_path):
    from operando.errors import ParameterError

    li7, _ = li_isotope_pair(tmp_path / "c", x6_metal=0.2, seed=3, n_points=1024)
    r = runner.invoke(app, ["fit", str(li7), "--line", "264.5", "--window", "240,290", "--fwhm", "-1"])
    # was: "the fit ... did not converge (Tolerance seems to be too small ...)"
    assert isinstance(r.exception, ParameterError) and "--fwhm must be a positive width" in str(r.exception)


def test_grpdly_minus_one_is_no_recorded_delay(tmp_path):
    """TopSpin writes GRPDLY = -1 where it recorded no delay: it was read as a delay of none, silently (a filtered
    FID then keeps a first-order phase of 360 deg x 68 points); now it is 'unknown' and the filtered FID is warned."""
    import numpy as np

    from operando.nmr import digital_filter_delay
    from operando.synthetic import NMRLine, digital_filter, simulate_fid, write_bruker_fid

    assert digital_filter_delay(dspfvs=20, decim=16, grpdly=-1) == (0.0, "unknown")
    assert digital_filter_delay(dspfvs=20, decim=16, grpdly=0) == (0.0, "GRPDLY")
    fid = simulate_fid([NMRLine(264.5, 1.0, lw_Hz=600.0)], sfo1_MHz=155.45, carrier_ppm=130.0, sw_Hz=1e5,
                       n_points=2048, noise_std=1e-4, rng=np.random.default_rng(0))  # fmt: skip
    folder = write_bruker_fid(tmp_path / "f" / "1", digital_filter(fid, 67.98), nucleus="7Li", sfo1_MHz=155.45,
                              carrier_ppm=130.0, sw_Hz=1e5, acqus={"GRPDLY": -1, "DECIM": 16})  # fmt: skip
    with pytest.warns(UserWarning, match="no digital-filter group delay"):
        r = runner.invoke(app, ["process", str(folder), "-o", str(tmp_path / "s.csv")])
    assert r.exit_code == 0, r.output


def test_mechanism_2_share_outside_the_mixing_range_is_flagged(tmp_path):
    li7, li6 = li_isotope_pair(tmp_path / "c", x6_metal=0.2, seed=3, n_points=1024)
    args = ["isotopes", "--li6", str(li6), "--li7", str(li7), *COMMON, "--electrolyte-x6", "0.0759,0.001",
            "--electrode-x6", "0.95", "--grain-boundary-x6", "0.05"]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    # 20 at.% lies above both end members (7.59, 5 at.%): the share, -480 %, was printed without a word
    assert "Mechanism-2 share -4" in r.output and "not a mix of the electrolyte and grain-boundary Li" in r.output
    li7, li6 = li_isotope_pair(tmp_path / "d", x6_metal=0.063, seed=3, n_points=1024, snr_7li=20000.0)
    r = runner.invoke(app, ["isotopes", "--li6", str(li6), "--li7", str(li7), *COMMON, *args[-6:]])
    assert r.exit_code == 0, r.output
    assert "Mechanism-2 share" in r.output and "not a mix" not in r.output


def test_procs_value_that_is_not_a_number_is_warned_not_silently_defaulted(tmp_path):
    # XWIN-NMR on Windows writes non-numbers as -1.#IND / 1.#INF; the default is used, said
    import numpy as np

    from operando.nmr import process, read_bruker
    from operando.synthetic import NMRLine, simulate_fid, write_bruker_fid

    fid = simulate_fid([NMRLine(10.0, 1.0, lw_Hz=50.0)], sfo1_MHz=155.5, carrier_ppm=0.0, sw_Hz=20000.0, n_points=2048)
    folder = write_bruker_fid(tmp_path / "ind", fid, nucleus="7Li", sfo1_MHz=155.5, carrier_ppm=0.0, sw_Hz=20000.0,
                              procs={"SI": 4096, "WDW": 1, "LB": "1.#INF", "PHC0": "-1.#IND"})  # fmt: skip
    with pytest.warns(UserWarning, match="is not a number") as said:
        spectrum = process(read_bruker(folder))
    texts = [str(w.message) for w in said]
    assert any("LB = '1.#INF' is not a number: 0.0 used" in t for t in texts), texts
    assert any("PHC0 = '-1.#IND' is not a number" in t for t in texts), texts
    assert np.isfinite(spectrum["intensity"].values).all()
