"""``operando demo``: three cells' worth of raw files, processed, ending with the HTML report of it all."""

from __future__ import annotations

import re

import numpy as np
import pytest

from operando import demo
from operando.nmr import electrolyte_abundance
from operando.store import open_results

pytestmark = pytest.mark.slow


def test_demo_writes_and_prints_the_report(demo_run):
    out, output = demo_run
    report = out / "report.html"
    assert re.search(rf"^\s+report\s+{re.escape(str(report))}$", output, re.MULTILINE), output
    text = report.read_text(encoding="utf-8")
    for kind in ("sxdm-maps", "echem-timeline", "mri-layers", "nmr-isotopes", "tomo-series"):
        assert f'data-kind="{kind}"' in text
    charts = dict(re.findall(r'<section class="timeline" id="([^"]+)" data-record="([^"]*)"', text))
    assert charts == {
        "timeline-0": "LMNO_halfcell_GCPL_C01.mpt",
        "timeline-1": "LiLLZOLi_symmetric_plating.csv",
        "timeline-2": "LiSELi_stripping.csv",
    }
    # three K-maps, the MRI frames and the tomography scans, each on both panels of its own cell's chart
    for cid, n in (("timeline-0", 3), ("timeline-1", demo.MRI_FRAMES), ("timeline-2", demo.TOMO_SCANS)):
        html = re.search(rf'<section class="timeline" id="{cid}".*?</section>', text, re.S).group(0)
        assert html.count('class="marker"') == 2 * n, cid
    assert "Incomplete" not in text and "not among the records given" not in text
    size = report.stat().st_size
    assert 100_000 < size < 1_500_000
    figures = out / "figures" / "report"
    assert (figures / "timeline_LMNO_halfcell_GCPL_C01.png").is_file()
    assert (figures / "timeline_LiLLZOLi_symmetric_plating.svg").is_file()
    assert len(list((figures / "sxdm_maps" / "frames").glob("*.png"))) == 2 * 3
    assert len(list((figures / "mri_layers" / "frames").glob("*.png"))) == demo.MRI_FRAMES
    print(f"\ndemo report: {report} ({size / 1024:.0f} kB)")


def test_demo_raw_files_are_real_formats(demo_run):
    out, _ = demo_run
    import nibabel as nib

    from operando import echem

    nii = out / "raw" / "mri" / "LiLLZOLi_7Li_metal.nii"
    img = nib.load(str(nii))
    assert img.shape == (160, 24, 1, demo.MRI_FRAMES)
    assert img.header.get_xyzt_units() == ("mm", "sec")
    assert img.header.get_zooms()[3] == demo.MRI_SECONDS_PER_FRAME
    record = echem.read(out / "raw" / "echem" / "LiLLZOLi_symmetric_plating.csv")
    assert record.meta.format == "csv" and len(record) > 100
    # each series names the record it was aligned to, by checksum (how the report finds its chart)
    lmno = echem.read(out / "raw" / "echem" / "LMNO_halfcell_GCPL_C01.mpt")
    assert open_results(out / "results" / "sxdm_maps.zarr").attrs["echem_sha256"] == lmno.meta.sha256
    assert open_results(out / "results" / "mri_layers.zarr").attrs["echem_sha256"] == record.meta.sha256
    for nucleus in ("6Li", "7Li"):
        assert (out / "raw" / "nmr" / "LiLLZOLi_plated" / nucleus / "1" / "acqus").read_text().startswith("##TITLE")


def test_demo_mri_recovers_the_simulated_growth(demo_run):
    from operando.mri import shift_displacement_px
    from operando.synthetic import simulate_dendrite_mri

    out, _ = demo_run
    ds = open_results(out / "results" / "mri_layers.zarr").load()
    sim = simulate_dendrite_mri(  # the demo's simulation again (fixed seed): its truth
        n_frames=demo.MRI_FRAMES,
        stage_boundaries=demo.MRI_STAGE_BOUNDARIES,
        short_frame=demo.MRI_SHORT_FRAME,
        seconds_per_frame=demo.MRI_SECONDS_PER_FRAME,
        displacement_px=shift_displacement_px(
            260.0, frequency_MHz=demo.MRI_FREQUENCY_MHZ, bandwidth_Hz_per_px=demo.MRI_BANDWIDTH_HZ_PER_PX
        ),
        seed=0,
    )
    full = sim.truth.amount.max(axis=0)
    assert np.abs(ds["amount"].values - sim.truth.amount).max() / full.max() < 0.03
    assert np.abs(np.array(ds.attrs["stage_boundaries"]) - demo.MRI_STAGE_BOUNDARIES).max() <= 1
    assert ds.attrs["echem_source"].endswith("LiLLZOLi_symmetric_plating.csv")
    v = ds["echem_voltage_V"].values
    short = demo.MRI_SHORT_FRAME
    assert np.all(v[: short - 1] > 0.05) and np.all(np.abs(v[short + 1 :]) < 0.01)  # shorted after stage IV
    assert ds.attrs["short_circuit_frame"] == short and max(ds.attrs["stage_boundaries"]) < short


def test_demo_nmr_recovers_the_written_fractions(demo_run):
    out, _ = demo_run
    ds = open_results(out / "results" / "nmr_isotopes.zarr").load()
    assert ds.attrs["operando_kind"] == "nmr-isotopes"
    x = dict(zip(ds["sample"].values.tolist(), ds["li6_fraction"].values, strict=True))
    err = dict(zip(ds["sample"].values.tolist(), ds["li6_fraction_err"].values, strict=True))
    charge = float(ds["charge_mAh"].values[-1])
    model = {**demo.TRACER_MODEL, "charge_per_step_mAh": demo.TRACER_CHARGE_PER_STEP_MAH}
    truth = {
        "electrode (pristine)": demo.NMR_X6_ELECTRODE,
        "electrolyte (pristine)": demo.NMR_X6_ELECTROLYTE,
        "dendrite (plated)": demo.NMR_X6_DENDRITE,
        "electrolyte (plated)": float(electrolyte_abundance([charge], **model)[0]),
    }
    for name, value in truth.items():
        assert abs(x[name] - value) < max(3 * err[name], 0.002), (name, x[name], value)
    assert x["dendrite (plated)"] < x["electrolyte (pristine)"] < x["electrolyte (plated)"]
    assert ds["mechanism"].values.tolist()[2] == "mechanism 2"
    assert float(ds.attrs["factor"]) == pytest.approx(28.45, rel=0.01)
    # the model curve passes through the plated cell's electrolyte
    q = ds["model_charge_mAh"].values
    assert np.interp(charge, q, ds["model_li6_fraction"].values) == pytest.approx(
        truth["electrolyte (plated)"], abs=1e-3
    )
    # the plated cell's charge is the charge the MRI cell's record passed
    from operando import echem

    record = echem.read(out / "raw" / "echem" / "LiLLZOLi_symmetric_plating.csv")
    assert charge == pytest.approx(float(np.nanmax(np.abs(record.charge_mAh))), rel=1e-6)


def test_demo_tomography_recovers_the_phantom(demo_run):
    """The tomography part: contact areas and Li volumes of the four scans against the phantom's truth."""
    from operando import echem
    from operando.synthetic import simulate_cell_series

    out, _ = demo_run
    series = open_results(out / "results" / "tomo_series.zarr")
    assert series.attrs["operando_kind"] == "tomo-series" and series.sizes["frame"] == demo.TOMO_SCANS
    truth = simulate_cell_series(demo.TOMO_SCANS, **demo.TOMO_PHANTOM)  # the demo's phantom again: its truth
    area = np.array([f.contact_area_mm2 for f in truth])
    np.testing.assert_allclose(series["contact_area_mm2"].values, area, rtol=0.02)
    li = np.array([f.li_volume_mm3 for f in truth])
    # the demo's cell is tiny (48 px across, 180 angles): the 3 % floor is tested on larger phantoms in tests/tomo
    np.testing.assert_allclose(series["li_volume_electrode_mm3"].values, li, rtol=0.05)
    record = echem.read(out / "raw" / "echem" / "LiSELi_stripping.csv")
    assert record.start_timestamp is not None
    assert series.attrs["echem_sha256"] == record.meta.sha256
    assert np.all(np.diff(series["echem_charge_mAh"].values) > 0)  # constant stripping current


def test_demo_ends_with_the_report_path(demo_run):
    out, output = demo_run
    last = output.strip().splitlines()[-1]
    assert last.startswith(f"report: {out / 'report.html'} ("), last


@pytest.mark.browser
def test_demo_report_in_a_browser(demo_run):
    """The demo's own report in headless Chromium: no errors, every image decodes, a marker of each
    chart shows its measurement; its first screen goes to test-artifacts/demo-report-first-screen.png."""
    from tests.report.test_browser import CHROMIUM, REPO, _series_sections, _shown_frame, sync_playwright

    out, _ = demo_run
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.goto((out / "report.html").as_uri(), wait_until="load")
        page.wait_for_function("Array.from(document.images).every(i => i.complete)")
        bad = page.eval_on_selector_all("img", "imgs => imgs.filter(i => !(i.naturalWidth > 0)).map(i => i.alt)")
        assert not bad, bad
        shot = REPO / "test-artifacts" / "demo-report-first-screen.png"
        shot.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(shot))
        sections = _series_sections(page)
        kinds = {page.eval_on_selector(f"#{sid}", "s => s.dataset.kind") for sid in sections}
        assert {"sxdm-maps", "mri-layers", "tomo-series"} <= kinds, kinds  # the series with one frame per marker
        for sid in sections:
            frames = page.eval_on_selector_all(f'.marker[data-section="{sid}"]', "ms => ms.map(m => +m.dataset.frame)")
            if max(frames, default=0) < 1:
                continue
            page.locator(f'.marker[data-section="{sid}"][data-frame="1"]').first.click()
            assert _shown_frame(page, sid) == [1], sid
        browser.close()
    assert not problems, problems
