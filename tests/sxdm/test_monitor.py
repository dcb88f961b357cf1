"""Normalisation by the Bliss scan's monitor: intensities comparable across a series."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from operando.cli import sxdm_app
from operando.errors import MissingMetadataError, ParameterError
from operando.pipelines.sxdm import monitor_counts, process_kmap
from operando.store import open_results
from operando.sxdm import monitor_factors, read_bliss_metadata
from operando.synthetic import simulate_kmap, write_bliss_kmap

KW = {"map_shape": (8, 8), "n_angles": 8, "detector_shape": (40, 40), "eta_step_deg": 0.04, "seed": 2}


def test_series_intensities_compare_after_normalisation(tmp_path):
    # one crystal, the second map taken at 60 % of the flux (the ring current decayed)
    masters = [
        write_bliss_kmap(simulate_kmap(flux=f, **KW), tmp_path / f"m{k}", monitor_counts=1e5)
        for k, f in enumerate([1.0, 0.6])
    ]
    meta = read_bliss_metadata(masters[1])
    name, counts = monitor_counts(meta)
    assert name == "mon1" and counts.shape == (8, 8, 8) and abs(counts.mean() / 6e4 - 1) < 0.01
    out, raw = tmp_path / "n.zarr", tmp_path / "r.zarr"
    for target, extra in ((out, []), (raw, ["--monitor", "none"])):
        res = CliRunner().invoke(sxdm_app, ["series", *map(str, masters), "-o", str(target), "--quiet", *extra])
        assert res.exit_code == 0, res.output
    n, r = open_results(out), open_results(raw)
    sel = n["mask"].values[0] & n["mask"].values[1]
    ratio_n = np.nansum(n["intensity"].values[1][sel]) / np.nansum(n["intensity"].values[0][sel])
    ratio_r = np.nansum(r["intensity"].values[1][sel]) / np.nansum(r["intensity"].values[0][sel])
    assert abs(ratio_r - 0.6) < 0.02 and abs(ratio_n - 1.0) < 0.02
    assert n.attrs["monitor"] == "mon1" and r.attrs["monitor"] == "none"
    params = json.loads(n.attrs["operando_parameters"])
    assert params["monitor"] == "mon1" and params["monitor_reference"] == pytest.approx(1e5, rel=0.01)
    # the d-spacing does not depend on it
    np.testing.assert_allclose(n["d_spacing"].values, r["d_spacing"].values, atol=2e-6, equal_nan=True)


def test_monitor_choice_and_refusals(tmp_path):
    master = write_bliss_kmap(simulate_kmap(**KW), tmp_path / "m", monitor_counts=5e4)
    meta = read_bliss_metadata(master)
    name, current = monitor_counts(meta, "current")
    assert name == "current" and np.allclose(current, 200.0)
    assert monitor_counts(meta, "none") is None
    with pytest.raises(MissingMetadataError, match="no monitor 'mon2'"):
        monitor_counts(meta, "mon2")
    plain = write_bliss_kmap(simulate_kmap(**KW), tmp_path / "p")
    assert monitor_counts(read_bliss_metadata(plain)) is None  # auto: nothing recorded, nothing applied
    _, params = process_kmap(plain)
    assert params["monitor"] is None
    with pytest.raises(ParameterError, match="not positive in 1 of 4"):
        monitor_factors([1.0, 2.0, 0.0, 3.0])
    f, ref = monitor_factors(np.array([2.0, 4.0]), reference=8.0)
    assert f.tolist() == [4.0, 2.0] and ref == 8.0
