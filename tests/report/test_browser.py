"""The report in a real browser (headless Chromium through Playwright).

Skips with one line when Playwright or Chromium is missing. The first screen is saved to
``test-artifacts/report-first-screen.png`` in the repository root.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from operando.report import build_report

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "test-artifacts" / "report-first-screen.png"


def _chromium() -> str | None:
    for candidate in (os.environ.get("OPERANDO_CHROMIUM"), "chromium", "chromium-browser", "/usr/bin/chromium"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    pytest.skip("browser tests skipped: playwright is not installed (pip install playwright)", allow_module_level=True)
CHROMIUM = _chromium()
if CHROMIUM is None:  # pragma: no cover - depends on the machine
    pytest.skip("browser tests skipped: chromium not found (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def report_file(experiment, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "report.html"
    return build_report(experiment.stores(), echem=experiment.mpt, out=out).path


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, report_file):
    """The report opened in a fresh page; ``page.problems`` collects console and page errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.on("requestfailed", lambda req: problems.append(f"request failed: {req.url}"))
    pg.goto(report_file.as_uri(), wait_until="load")
    pg.problems = problems  # type: ignore[attr-defined]
    yield pg
    context.close()


def _shown_frame(pg, section: str) -> list[int]:
    return pg.eval_on_selector_all(
        f"#{section} .frame", "fs => fs.filter(f => !f.hidden && f.offsetParent !== null).map(f => +f.dataset.frame)"
    )


def _series_sections(pg) -> list[str]:
    return pg.eval_on_selector_all("section[data-frames]", "ss => ss.map(s => s.id)")


def test_loads_without_errors_and_every_image_decodes(page):
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    bad = page.eval_on_selector_all("img", "imgs => imgs.filter(i => !(i.naturalWidth > 0)).map(i => i.alt)")
    n = page.eval_on_selector_all("img", "imgs => imgs.length")
    assert n > 10
    assert not bad, f"images not decoded: {bad}"
    assert not page.problems, page.problems
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    print(f"\nfirst screen of the report: {SCREENSHOT}")
    assert SCREENSHOT.stat().st_size > 10_000


def test_clicking_a_marker_shows_that_measurement(page):
    sections = _series_sections(page)
    assert len(sections) == 3
    for sid in sections:
        assert _shown_frame(page, sid) == [0]
    sid = sections[1]
    marker = page.locator(f'.marker[data-section="{sid}"][data-frame="2"]').first
    marker.click()
    assert _shown_frame(page, sid) == [2]
    assert page.locator(f"#{sid} input.slider").input_value() == "2"
    assert "current" in (marker.get_attribute("class") or "")
    label = page.locator(f"#{sid} .frame-label").inner_text()
    assert label.startswith("#2")
    # the other series did not move
    assert _shown_frame(page, sections[0]) == [0]
    assert not page.problems, page.problems


def test_slider_and_step_buttons_change_the_frame(page):
    sid = _series_sections(page)[0]
    slider = page.locator(f"#{sid} input.slider")
    slider.fill("1")  # sets the value and fires input
    assert _shown_frame(page, sid) == [1]
    current = page.eval_on_selector_all(f'.marker.current[data-section="{sid}"]', "ms => ms.map(m => +m.dataset.frame)")
    assert current == [1, 1]  # on the time panel and the capacity panel
    slider.focus()
    page.keyboard.press("ArrowRight")
    assert _shown_frame(page, sid) == [2]
    page.locator(f'#{sid} button.step[data-step="-1"]').click()
    assert _shown_frame(page, sid) == [1]
    assert not page.problems, page.problems


def test_incomplete_store_warning_is_visible(page):
    boxes = page.locator("section.incomplete .warning")
    assert boxes.count() == 2
    for i in range(2):
        box = boxes.nth(i)
        box.scroll_into_view_if_needed()
        assert box.is_visible()
        assert "Incomplete result store" in box.inner_text()
    assert page.locator("#problems").is_visible()  # the summary at the top of the page


@pytest.fixture(scope="module")
def two_cell_file(two_cells, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser2") / "report.html"
    return build_report(two_cells.stores(), echem=[two_cells.mpt, two_cells.csv], out=out).path


@pytest.fixture
def two_cell_page(browser, two_cell_file):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.goto(two_cell_file.as_uri(), wait_until="load")
    pg.problems = problems  # type: ignore[attr-defined]
    yield pg
    context.close()


def test_two_cells_a_marker_of_the_second_chart_drives_its_own_section(two_cell_page):
    page = two_cell_page
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    bad = page.eval_on_selector_all("img", "imgs => imgs.filter(i => !(i.naturalWidth > 0)).map(i => i.alt)")
    assert not bad, f"images not decoded: {bad}"
    charts = page.eval_on_selector_all("section.timeline", "ss => ss.map(s => s.id)")
    assert charts == ["timeline-0", "timeline-1", "timeline-unaligned"]
    mri = page.eval_on_selector("section[data-kind='mri-layers']", "s => s.id")
    sxdm = page.eval_on_selector("section[data-kind='sxdm-maps']", "s => s.id")
    tomo = page.eval_on_selector("section[data-kind='tomo-series']", "s => s.id")
    marker = page.locator(f'#timeline-1 .marker[data-section="{mri}"][data-frame="3"]').first
    marker.click()
    assert _shown_frame(page, mri) == [3]
    assert page.locator(f"#{mri} input.slider").input_value() == "3"
    assert page.locator(f"#{mri} .frame-label").inner_text().startswith("#3")
    assert _shown_frame(page, sxdm) == [0] and _shown_frame(page, tomo) == [0]
    # the store left at its own values: its markers work the same way, on their own chart
    page.locator(f'#timeline-unaligned .marker[data-section="{tomo}"][data-frame="2"]').first.click()
    assert _shown_frame(page, tomo) == [2] and _shown_frame(page, mri) == [3]
    note = page.locator(f"#{tomo} .notes li").first
    assert note.is_visible() and "not among the records given" in note.inner_text()
    # the slider of the MRI section moves the markers of the second chart only
    page.locator(f"#{mri} input.slider").fill("1")
    current = page.eval_on_selector_all(
        ".marker.current", "ms => ms.map(m => m.closest('section').id + ':' + m.dataset.frame)"
    )
    assert sorted(current) == sorted(["timeline-0:0"] * 2 + ["timeline-1:1"] * 2 + ["timeline-unaligned:2"] * 2)
    assert not page.problems, page.problems


# Every page figure carries its tick label boxes (pixels of that image) in a zTXt chunk; the page
# reads them back from its own images and checks that no two overlap and none leaves the image.
_TICK_CHECK = """
async () => {
  const key = 'operando:tick-labels';
  const out = {images: 0, checked: 0, labels: 0, problems: []};
  function overlap(a, b) {
    for (const poly of [a, b]) {
      for (let i = 0; i < 4; i++) {
        const [x0, y0] = poly[i], [x1, y1] = poly[(i + 1) % 4];
        const nx = y0 - y1, ny = x1 - x0, norm = Math.hypot(nx, ny);
        if (!norm) continue;
        const pa = a.map(([x, y]) => (x * nx + y * ny) / norm), pb = b.map(([x, y]) => (x * nx + y * ny) / norm);
        const shared = Math.min(Math.max(...pa), Math.max(...pb)) - Math.max(Math.min(...pa), Math.min(...pb));
        if (shared <= 0.5) return false;
      }
    }
    return true;
  }
  for (const img of Array.from(document.images)) {
    if (!img.src.startsWith('data:image/png')) continue;
    out.images++;
    const buf = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
    const dv = new DataView(buf.buffer);
    const width = dv.getUint32(16), height = dv.getUint32(20);
    let text = null;
    for (let p = 8; p < buf.length; ) {
      const len = dv.getUint32(p), type = String.fromCharCode(...buf.slice(p + 4, p + 8));
      if (type === 'zTXt') {
        const data = buf.slice(p + 8, p + 8 + len), nul = data.indexOf(0);
        if (new TextDecoder().decode(data.slice(0, nul)) === key) {
          const stream = new Blob([data.slice(nul + 2)]).stream().pipeThrough(new DecompressionStream('deflate'));
          text = await new Response(stream).text();
        }
      }
      if (type === 'IEND') break;
      p += 12 + len;
    }
    const name = (img.closest('figure') && img.closest('figure').innerText) || img.alt || '?';
    if (text === null) { out.problems.push(name + ': no tick label boxes'); continue; }
    out.checked++;
    const boxes = JSON.parse(text).map(b => [[b[0], b[1]], [b[2], b[3]], [b[4], b[5]], [b[6], b[7]]]);
    out.labels += boxes.length;
    boxes.forEach((b, i) => {
      if (b.some(([x, y]) => x < -1 || y < -1 || x > width + 1 || y > height + 1))
        out.problems.push(name + ': tick label ' + i + ' is cut off');
      for (let j = i + 1; j < boxes.length; j++)
        if (overlap(b, boxes[j])) out.problems.push(name + ': tick labels ' + i + ' and ' + j + ' overlap');
    });
  }
  return out;
}
"""


def test_no_two_tick_labels_overlap_on_any_figure_of_the_page(page):
    result = page.evaluate(_TICK_CHECK)
    assert result["images"] > 10 and result["checked"] == result["images"], result
    assert result["labels"] > 10 * result["images"], result  # the boxes are there, not an empty list
    assert not result["problems"], result["problems"]
    assert not page.problems, page.problems


def test_the_page_check_finds_overlapping_and_cut_off_labels(browser, tmp_path):
    """The same check on a page whose one figure says two of its labels overlap and one leaves it."""
    import base64
    import io
    import json

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    boxes = [[10, 10, 40, 10, 40, 20, 10, 20], [35, 12, 60, 12, 60, 22, 35, 22], [90, 5, 110, 5, 110, 15, 90, 15]]
    info.add_text("operando:tick-labels", json.dumps(boxes), zip=True)
    buf = io.BytesIO()
    Image.new("RGB", (100, 50), "white").save(buf, format="PNG", pnginfo=info)
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    html = tmp_path / "page.html"
    html.write_text(f'<figure><img src="{uri}" alt="x"><figcaption>crafted</figcaption></figure>')
    context = browser.new_context(offline=True)
    pg = context.new_page()
    pg.goto(html.as_uri(), wait_until="load")
    result = pg.evaluate(_TICK_CHECK)
    context.close()
    assert result["checked"] == 1 and result["labels"] == 3
    assert result["problems"] == ["crafted: tick labels 0 and 1 overlap", "crafted: tick label 2 is cut off"]
