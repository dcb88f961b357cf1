"""``operando demo`` ends with the HTML report of everything it made, and prints where it is."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from operando.cli._app import app


@pytest.mark.slow
def test_demo_writes_and_prints_the_report(tmp_path):
    out = tmp_path / "demo"
    r = CliRunner().invoke(app, ["demo", "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    report = out / "report.html"
    assert re.search(rf"^\s+report\s+{re.escape(str(report))}$", r.output, re.MULTILINE), r.output
    text = report.read_text(encoding="utf-8")
    assert 'data-kind="sxdm-maps"' in text and 'data-kind="echem-timeline"' in text
    assert text.count('class="marker"') == 2 * 3  # three K-maps, on the time and the capacity panel
    assert "Incomplete" not in text
    size = report.stat().st_size
    assert 100_000 < size < 1_500_000
    figures = out / "figures" / "report"
    assert (figures / "timeline.png").is_file() and (figures / "timeline.svg").is_file()
    assert len(list((figures / "sxdm_maps" / "frames").glob("*.png"))) == 2 * 3
    print(f"\ndemo report: {report} ({size / 1024:.0f} kB)")
