"""The paper's figures drawn from the stores: intensity with a crystal outline, width maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from operando.cli import sxdm_app
from operando.report import save_sxdm_figures
from operando.store import open_results
from operando.synthetic import simulate_kmap, write_bliss_kmap


def test_width_and_intensity_figures(tmp_path):
    model = simulate_kmap(map_shape=(8, 8), n_angles=8, detector_shape=(40, 40), eta_step_deg=0.04, seed=5)
    master = write_bliss_kmap(model, tmp_path / "m")
    store = tmp_path / "w.zarr"
    res = CliRunner().invoke(sxdm_app, ["process", str(master), "-o", str(store), "--widths"])
    assert res.exit_code == 0, res.output
    maps = open_results(store).load()
    written = save_sxdm_figures(maps, tmp_path / "figs")
    assert {"intensity", "width_radial"} <= set(written)
    for paths in written.values():
        assert all(Path(p).stat().st_size > 0 for p in paths)
    # what the width map draws: sigma|Q| / |Q|, here the forward model's peak width
    q = np.sqrt(maps.qx**2 + maps.qy**2 + maps.qz**2).values
    rel = (maps.width_radial.values / q)[maps.mask.values]
    assert abs(np.median(rel) / (model.peak_sigma_q / np.median(q[maps.mask.values])) - 1) < 0.3
