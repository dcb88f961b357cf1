"""build_report and ``operando report``: one self-contained page, incomplete stores flagged."""

from __future__ import annotations

import base64
import io
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from operando.cli import report_command
from operando.errors import OperandoError
from operando.report import build_report


class _Page(HTMLParser):
    """Collects the tags the tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict[str, str]] = []
        self.markers: list[dict[str, str]] = []
        self.external: list[str] = []
        self.sections: list[dict[str, str]] = []
        self.frames: list[dict[str, str]] = []
        self.sliders: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.imgs.append(a)
        if tag == "button" and "marker" in a.get("class", ""):
            self.markers.append(a)
        if tag == "section":
            self.sections.append(a)
        if tag == "div" and a.get("class") == "frame":
            self.frames.append(a)
        if tag == "input" and "slider" in a.get("class", ""):
            self.sliders.append(a)
        for key in ("src", "href"):
            if key in a and not a[key].startswith(("data:", "#")):
                self.external.append(f"{tag} {key}={a[key]}")
        if tag in ("link", "iframe", "object", "embed"):
            self.external.append(tag)


@pytest.fixture(scope="module")
def report(experiment, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    result = build_report(experiment.stores(), echem=experiment.mpt, out=out / "report.html")
    page = _Page()
    text = result.path.read_text(encoding="utf-8")
    page.feed(text)
    return result, page, text


def test_page_is_self_contained(report):
    result, page, text = report
    assert not page.external, page.external
    assert not re.search(r"https?://", text), "no network address anywhere in the page"
    assert page.imgs and all(i["src"].startswith("data:image/png;base64,") for i in page.imgs)
    assert len(page.imgs) == result.n_images
    for img in page.imgs:  # every embedded PNG decodes and has the size the tag announces
        with Image.open(io.BytesIO(base64.b64decode(img["src"].split(",", 1)[1]))) as png:
            assert png.size == (int(img["width"]), int(img["height"]))
    assert result.size_bytes == result.path.stat().st_size
    assert result.size_bytes < 3_000_000
    assert f"{result.size_bytes / 1024:.0f} kB" in text  # the page states its size
    assert not list(result.path.parent.glob(".*tmp*")), "the temporary file was renamed away"


def test_one_marker_per_measurement_on_each_panel(report, experiment):
    _, page, _ = report
    by_section: dict[str, list[int]] = {}
    for m in page.markers:
        if "passive" not in m["class"]:
            by_section.setdefault(m["data-section"], []).append(int(m["data-frame"]))
    # sxdm (3), tomo (4), mri (4); each measurement on the time and on the capacity panel
    assert sorted(len(v) for v in by_section.values()) == [6, 8, 8]
    for frames in by_section.values():
        assert sorted(frames) == sorted(list(range(len(frames) // 2)) * 2)
    passive = [m for m in page.markers if "passive" in m["class"]]
    assert len(passive) == 2 * 12  # the timeline store's schedule, not clickable


def _marker_xy(m: dict[str, str], w: int, h: int) -> tuple[float, float, np.ndarray]:
    style = dict(kv.split(":", 1) for kv in m["style"].split(";"))
    colour = np.array([int(style["--c"][i : i + 2], 16) for i in (1, 3, 5)])
    return float(style["left"].rstrip("%")) / 100 * w, float(style["top"].rstrip("%")) / 100 * h, colour


def test_markers_sit_on_the_drawn_points(report):
    """Each clickable marker lies over a dot of its own colour in the chart image (or one drawn over it)."""
    _, page, _ = report
    chart = page.imgs[0]
    with Image.open(io.BytesIO(base64.b64decode(chart["src"].split(",", 1)[1]))) as im:
        png = np.asarray(im.convert("RGB")).astype(int)
    h, w, _ = png.shape
    active = [m for m in page.markers if "passive" not in m["class"]]
    where = [_marker_xy(m, w, h) for m in active]
    checked = 0
    for m, (x, y, colour) in zip(active, where, strict=True):
        occluded = any(
            o["data-section"] != m["data-section"] and np.hypot(ox - x, oy - y) < 8
            for o, (ox, oy, _) in zip(active, where, strict=True)
        )
        if occluded:
            continue
        patch = png[int(y) - 2 : int(y) + 3, int(x) - 2 : int(x) + 3].reshape(-1, 3)
        assert np.abs(patch - colour).sum(axis=1).min() < 40, (m["title"], patch.mean(axis=0), colour)
        checked += 1
    assert checked > len(active) // 2


def test_frames_and_sliders(report):
    _, page, _ = report
    viewers = {s["id"]: int(s["data-frames"]) for s in page.sections if "data-frames" in s}
    assert sorted(viewers.values()) == [3, 4, 4]
    assert {s["data-section"]: int(s["max"]) + 1 for s in page.sliders} == viewers
    shown = [f for f in page.frames if "hidden" not in f]
    assert len(shown) == len(viewers)  # the first measurement of each series is shown


def test_incomplete_stores_are_flagged_not_opened(report, experiment):
    result, page, text = report
    flagged = [s for s in page.sections if "incomplete" in s.get("class", "")]
    assert len(flagged) == 2
    assert "Incomplete result store" in text
    assert "series interrupted: 0 of 3 measurements done" in text
    assert "no operando_manifest" in text
    assert len(result.problems) == 2
    assert all(
        str(p).split(":")[0] in {str(experiment.incomplete), str(experiment.interrupted)} for p in result.problems
    )


def test_print_figures_are_300_dpi_png_and_svg(experiment, tmp_path):
    result = build_report(
        [experiment.mri], echem=experiment.mpt, out=tmp_path / "r.html", figures_dir=tmp_path / "figs"
    )
    pngs = [p for p in result.figures if p.suffix == ".png"]
    svgs = [p for p in result.figures if p.suffix == ".svg"]
    assert len(pngs) == len(svgs) == result.n_images
    assert (result.path.parent / "figs" / "timeline.png") in pngs
    assert any(p.parent.name == "frames" for p in pngs)
    with Image.open(pngs[0]) as im:
        dpi = im.info["dpi"]
    assert min(dpi) == pytest.approx(300, abs=1)
    assert svgs[0].read_text().lstrip().startswith("<?xml")


def test_absent_modality_and_no_record(experiment, tmp_path):
    """Only the given stores appear; without a record the chart shows the stores' own points."""
    result = build_report([experiment.nmr, experiment.mri], out=tmp_path / "r.html")
    text = result.path.read_text()
    assert 'data-kind="mri-layers"' in text and 'data-kind="nmr-isotopes"' in text
    assert "sxdm" not in text and "tomo" not in text
    assert "measurement points only" not in text or "Charging curve" in text
    page = _Page()
    page.feed(text)
    assert len([m for m in page.markers if m["data-section"] == "s1"]) == 2 * 4
    assert not result.problems


def test_report_is_replaced_atomically(experiment, tmp_path):
    out = tmp_path / "r.html"
    out.write_text("old")
    build_report([experiment.nmr], out=out)
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_interrupted_write_leaves_the_old_report(experiment, tmp_path, monkeypatch):
    """A write that fails half-way (the disk fills before the data reach it) leaves the previous
    report as it was and no temporary file: never a partial page looking complete."""
    out = tmp_path / "r.html"
    out.write_text("old")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        build_report([experiment.nmr], out=out)
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def _cli():
    app = typer.Typer()
    app.command("report")(report_command)

    @app.command("other")  # a second command, so that "report" must be named, as on the root app
    def _other() -> None: ...

    return app


def test_cli_report(experiment, tmp_path):
    out = tmp_path / "cli.html"
    args = ["report", str(experiment.nmr), "--echem", str(experiment.mpt), "-o", str(out), "--figures"]
    r = CliRunner().invoke(_cli(), [*args, str(tmp_path / "f")])
    assert r.exit_code == 0, r.output
    assert f"report: {out}" in r.output
    assert out.stat().st_size > 10_000
    assert (tmp_path / "f" / "timeline.svg").is_file()
    # an existing report (and figure folder) is never replaced without --overwrite
    first = out.read_bytes()
    r = CliRunner().invoke(_cli(), [*args, str(tmp_path / "f2")])
    assert isinstance(r.exception, OperandoError) and "--overwrite" in str(r.exception)
    assert out.read_bytes() == first and not (tmp_path / "f2").exists()
    r = CliRunner().invoke(_cli(), [*args, str(tmp_path / "f"), "--overwrite"])
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("which", ["interrupted", "missing", "damaged"])
def test_cli_report_refuses_a_store_it_cannot_show_and_writes_nothing(experiment, tmp_path, which):
    if which == "interrupted":
        bad = experiment.interrupted
    elif which == "missing":
        bad = tmp_path / "missing.zarr"
    else:
        bad = tmp_path / "damaged.zarr"
        shutil.copytree(experiment.nmr, bad)
        chunk = next(f for f in sorted(bad.rglob("*")) if f.is_file() and "/c/" in f.as_posix())
        data = bytearray(chunk.read_bytes())
        data[len(data) // 2] ^= 0x10
        chunk.write_bytes(bytes(data))
    out = tmp_path / "r.html"
    r = CliRunner().invoke(
        _cli(), ["report", str(experiment.nmr), str(bad), "-o", str(out), "--figures", str(tmp_path / "f")]
    )
    assert isinstance(r.exception, OperandoError), r.output
    assert str(r.exception).startswith(f"{bad}: not a complete result store: ")
    assert "\n" not in str(r.exception)
    assert not out.exists() and not (tmp_path / "f").exists()
    assert not list(tmp_path.glob(".r.html*"))


@pytest.mark.parametrize("rel", ["zarr.json", "operando_manifest/zarr.json", "."])
def test_cli_report_never_writes_into_or_over_an_input(experiment, tmp_path, rel):
    store = tmp_path / "s.zarr"
    shutil.copytree(experiment.nmr, store)
    before = {f: f.read_bytes() for f in store.rglob("*") if f.is_file()}
    target = store / rel
    r = CliRunner().invoke(_cli(), ["report", str(store), "-o", str(target), "--overwrite"])
    assert isinstance(r.exception, OperandoError) and "-o" in str(r.exception), r.output
    assert {f: f.read_bytes() for f in store.rglob("*") if f.is_file()} == before


def test_cli_bad_echem_is_an_operando_error(experiment, tmp_path):
    bad = tmp_path / "bad.mpt"
    bad.write_text("not a potentiostat file\n")
    r = CliRunner().invoke(_cli(), ["report", str(experiment.nmr), "--echem", str(bad), "-o", str(tmp_path / "x.html")])
    assert isinstance(r.exception, OperandoError)
    assert not (tmp_path / "x.html").exists()


def test_no_folder_of_this_machine_on_the_page(experiment, tmp_path):
    out = tmp_path / "deep" / "report.html"
    result = build_report(
        [experiment.nmr, experiment.interrupted, tmp_path / "missing.zarr"], echem=experiment.mpt, out=out
    )
    page = out.read_text()
    text = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "", page)
    for folder in {experiment.nmr.parent, tmp_path, Path.cwd(), Path.home()}:
        assert str(folder) + "/" not in text, folder
    assert experiment.nmr.name in text and "missing.zarr" in text  # file names stay
    assert any(str(tmp_path) in p for p in result.problems)  # the terminal still gets full paths
