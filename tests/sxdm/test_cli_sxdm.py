"""``operando sxdm process`` through typer's runner on the sub-app."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from operando.cli._sxdm import app
from operando.errors import ParameterError
from operando.store import open_results
from operando.synthetic._sxdm import simulate_kmap, write_bliss_kmap


def test_process_writes_maps_with_provenance(tmp_path):
    model = simulate_kmap(map_shape=(8, 8), n_angles=12, detector_shape=(48, 48), seed=2, eta_step_deg=0.03)
    master = write_bliss_kmap(model, tmp_path / "raw")
    out = tmp_path / "maps.zarr"
    res = CliRunner().invoke(app, ["process", str(master), "--scans", "1-12", "--reflection", "400", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "points" in res.output
    ds = open_results(out)
    m = model.truth.mask & ds["mask"].values
    d_err = ds["d_spacing"].values[m] - model.truth.d_spacing_A[m]
    assert np.sqrt(np.mean(d_err**2)) < 1e-4
    np.testing.assert_allclose(ds["lattice_parameter"].values[m], 4 * ds["d_spacing"].values[m])
    assert ds["d_spacing"].attrs["units"] == "angstrom"
    assert '"reflection": [4, 0, 0]' in ds.attrs["operando_parameters"]
    assert "sample_0001.h5" in ds.attrs["operando_inputs"]


def test_bad_scan_range(tmp_path):
    res = CliRunner().invoke(app, ["process", str(tmp_path / "x.h5"), "--scans", "a-b", "-o", str(tmp_path / "o.zarr")])
    assert isinstance(res.exception, ParameterError)
    assert "--scans must be like 1-30" in str(res.exception)
