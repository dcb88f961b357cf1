"""Several cells, several records: each store's markers go on the record it was aligned to."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from operando.cli import report_command
from operando.echem import EchemMetadata, EchemRecord
from operando.report import FrameState, build_report, match_record


def _record(source: str, sha: str, volts: tuple[float, float] = (3.0, 4.0)) -> EchemRecord:
    meta = EchemMetadata(source=source, sha256=sha)
    return EchemRecord.from_columns(time_s=[0.0, 100.0], voltage_V=list(volts), current_mA=[1.0, 1.0], meta=meta)


def _state(t: list[float], v: list[float]) -> FrameState:
    n = len(t)
    return FrameState(np.array(t), np.array(v), np.full(n, np.nan), "charge (mA h)", [f"#{k}" for k in range(n)])


A = _record("/data/cell_A.mpr", "a" * 64)
B = _record("/data/cell_B.csv", "b" * 64, volts=(0.1, 0.1))


def test_match_by_checksum_whatever_the_order():
    attrs = {"echem_sha256": "b" * 64, "echem_source": "/elsewhere/renamed.csv"}
    assert match_record(attrs, [A, B]).index == 1
    assert match_record(attrs, [B, A]).index == 0
    assert match_record(attrs, [A, B]).how == "echem_sha256"
    assert match_record(attrs, [A, B]).note == ""


def test_match_by_provenance_input_checksum():
    """A store that lost its echem attributes still lists the record file among its inputs."""
    inputs = json.dumps([{"name": "map.h5", "sha256": "f" * 64, "bytes": 1}, {"name": "x", "sha256": "a" * 64}])
    match = match_record({"operando_inputs": inputs}, [B, A])
    assert (match.index, match.how) == (1, "input checksum")


def test_match_by_file_name_only_when_the_voltages_agree():
    """The record file changed since (an EC-Lab .mpr rewritten when opened): same name, another checksum."""
    attrs = {"echem_sha256": "c" * 64, "echem_source": "/old/place/cell_A.mpr"}
    on_a = _state([10.0, 50.0], [3.1, 3.5])  # A's voltage at those times
    match = match_record(attrs, [B, A], on_a)
    assert (match.index, match.how) == (1, "file name")
    assert "by file name only" in match.note and "cccccccccccc" in match.note
    elsewhere = _state([10.0, 50.0], [0.1, 0.1])  # not A's curve: the name is a coincidence
    assert match_record(attrs, [B, A], elsewhere).index is None


def test_store_without_provenance():
    """Legacy stores name no record: the only record given, when their own voltages lie on it."""
    on_a, off_a = _state([10.0, 50.0], [3.1, 3.5]), _state([10.0, 50.0], [3.9, 3.2])
    match = match_record({}, [A], on_a)
    assert (match.index, match.how) == (0, "only record")
    assert "voltages agree" in match.note
    off = match_record({}, [A], off_a)
    assert off.index is None and "do not lie on the record given" in off.note
    outside = _state([500.0, 600.0], [3.1, 3.5])  # after the record ends: not this record
    assert match_record({}, [A], outside).index is None
    assert match_record({}, [A], _state([10.0], [np.nan])).how == "only record"  # nothing to check against
    assert match_record({}, [A, B], on_a).index is None  # two cells: no guessing


def test_unknown_record_says_which_one():
    match = match_record({"echem_sha256": "d" * 64, "echem_source": "/x/tomo_cell.csv"}, [A, B])
    assert match.index is None and match.how == "none"
    assert "tomo_cell.csv" in match.note and "own stored voltage" in match.note


# -- the page ------------------------------------------------------------------------------------
def _charts(text: str) -> dict[str, str]:
    """HTML of each chart section, by id."""
    return dict(re.findall(r'<section class="timeline" id="([^"]+)"[^>]*>(.*?)</section>', text, re.S))


def _markers(html: str) -> list[dict[str, str]]:
    return [dict(re.findall(r'([\w-]+)="([^"]*)"', m)) for m in re.findall(r"<button [^>]*marker[^>]*>", html)]


def _section_ids(text: str) -> dict[str, str]:
    """Store section id by store file name."""
    return {
        name: sid
        for sid, name in re.findall(
            r'<section class="store" id="(s\d+)"[^>]*>.*?<p class="meta">(?:[^<]*/)?([^/<]+?) —', text, re.S
        )
    }


@pytest.fixture(scope="module")
def two_cell_report(two_cells, tmp_path_factory):
    out = tmp_path_factory.mktemp("cells") / "report.html"
    result = build_report(two_cells.stores(), echem=[two_cells.mpt, two_cells.csv], out=out)
    return result, result.path.read_text(encoding="utf-8")


def test_one_chart_per_record_with_its_own_stores(two_cell_report, two_cells):
    result, text = two_cell_report
    charts = _charts(text)
    assert list(charts) == ["timeline-0", "timeline-1", "timeline-unaligned"]
    sid = _section_ids(text)
    on = {cid: {m["data-section"] for m in _markers(html)} for cid, html in charts.items()}
    assert on["timeline-0"] == {sid["timeline.zarr"], sid["sxdm_maps.zarr"]}
    assert on["timeline-1"] == {sid["mri_layers.zarr"]}
    assert on["timeline-unaligned"] == {sid["tomo_series.zarr"]}
    assert "LMNO_halfcell.mpt" in charts["timeline-0"] and "LiLi_symmetric.csv" in charts["timeline-1"]
    assert result.placement[two_cells.mri] == str(two_cells.csv)
    assert result.placement[two_cells.sxdm] == str(two_cells.mpt)
    assert result.placement[two_cells.tomo] is None
    assert two_cells.nmr not in result.placement  # ex situ samples: no place on a curve
    assert not result.problems


def test_unaligned_store_keeps_its_own_values_and_says_so(two_cell_report, two_cells):
    result, text = two_cell_report
    tomo = re.search(r'<section class="store"[^>]*data-kind="tomo-series".*?</section>', text, re.S)
    assert tomo is not None
    assert "LiSELi_tomo_cell.csv" in tomo.group(0) and "not among the records given" in tomo.group(0)
    assert any("LiSELi_tomo_cell.csv" in n for n in result.notes)
    # its markers: one per measurement on each panel, labelled with its own stored voltage
    markers = _markers(_charts(text)["timeline-unaligned"])
    assert len(markers) == 2 * 3
    volts = sorted({float(re.search(r"([-\d.]+) V", m["title"]).group(1)) for m in markers})
    assert len(volts) == 3 and all(abs(v) < 1.0 for v in volts)  # a Li|Li cell's overpotential, not ~4 V


def test_markers_sit_on_their_charts_dots(two_cell_report):
    """In every chart image, each marker lies over a dot of its own colour."""
    _, text = two_cell_report
    for cid, html in _charts(text).items():
        src = re.search(r'<img src="data:image/png;base64,([^"]+)"', html).group(1)
        with Image.open(io.BytesIO(base64.b64decode(src))) as im:
            png = np.asarray(im.convert("RGB")).astype(int)
        h, w, _ = png.shape
        active = [m for m in _markers(html) if "passive" not in m["class"]]
        assert active, cid
        for m in active:
            style = dict(kv.split(":", 1) for kv in m["style"].split(";"))
            colour = np.array([int(style["--c"][i : i + 2], 16) for i in (1, 3, 5)])
            x, y = float(style["left"].rstrip("%")) / 100 * w, float(style["top"].rstrip("%")) / 100 * h
            patch = png[int(y) - 2 : int(y) + 3, int(x) - 2 : int(x) + 3].reshape(-1, 3)
            assert np.abs(patch - colour).sum(axis=1).min() < 40, (cid, m["title"])


def test_one_record_no_longer_takes_every_store(two_cells, tmp_path):
    """With only the half cell's record, the MRI store is not interpolated on it (the old behaviour)."""
    result = build_report(two_cells.stores(), echem=two_cells.mpt, out=tmp_path / "r.html")
    text = result.path.read_text()
    charts = _charts(text)
    sid = _section_ids(text)
    assert {m["data-section"] for m in _markers(charts["timeline-0"])} == {sid["timeline.zarr"], sid["sxdm_maps.zarr"]}
    unaligned = {m["data-section"] for m in _markers(charts["timeline-unaligned"])}
    assert unaligned == {sid["mri_layers.zarr"], sid["tomo_series.zarr"]}
    assert result.placement[two_cells.mri] is None
    assert "LiLi_symmetric.csv" in text and "not among the records given" in text


def test_same_file_twice_is_one_chart(two_cells, tmp_path):
    result = build_report([two_cells.sxdm], echem=[two_cells.mpt, two_cells.mpt], out=tmp_path / "r.html")
    assert list(_charts(result.path.read_text())) == ["timeline-0"]


def test_print_files_name_each_chart(two_cells, tmp_path):
    result = build_report(
        [two_cells.mri], echem=[two_cells.mpt, two_cells.csv], out=tmp_path / "r.html", figures_dir=tmp_path / "figs"
    )
    names = {p.name for p in result.figures}
    assert {"timeline_LMNO_halfcell.png", "timeline_LiLi_symmetric.svg"} <= names


def test_cli_takes_several_records(two_cells, tmp_path):
    app = typer.Typer()
    app.command("report")(report_command)

    @app.command("other")
    def _other() -> None: ...

    out = tmp_path / "cli.html"
    args = ["report", *map(str, two_cells.stores()), "--echem", str(two_cells.mpt), "--echem", str(two_cells.csv)]
    r = CliRunner().invoke(app, [*args, "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert f"report: {out}" in r.output
    assert "note:" in r.output and "LiSELi_tomo_cell.csv" in r.output  # the one store left at its own values
    assert list(_charts(out.read_text())) == ["timeline-0", "timeline-1", "timeline-unaligned"]


def test_match_by_file_name_without_a_checksum():
    match = match_record({"echem_source": "cell_B.csv"}, [A, B], _state([20.0], [0.1]))
    assert (match.index, match.how) == (1, "file name")
    assert "records no checksum" in match.note
