"""Displacement of the electrolyte between consecutive scans of a series (DVC in process_series / --dvc).

Ground truth: a stripping series whose electrolyte carries a random texture moved rigidly by a
known shift per scan (``simulate_cell_series(electrolyte_shift_px_per_frame=...)``), projected
with noise and rings, read back, reconstructed and segmented by the real pipeline.
"""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from operando.cli import tomo_app as app
from operando.errors import ParameterError
from operando.pipelines.tomo import SeriesOptions, process_series
from operando.store import open_results
from operando.synthetic import simulate_cell_series, write_cell_dxchange
from operando.tomo import correlate_volumes

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
SHIFT = (0.6, -0.4, 0.3)  # voxels per scan (z, y, x)
DVC = {"dvc": True, "dvc_subvolume_vox": 16, "dvc_step_vox": 8}


def _series(**kw):
    params = {
        "voxel_size_um": 10.0,
        "n_voids": (3, 3),
        "recede_px_per_frame": 1,
        "seed": 3,
        "electrolyte_texture": 1.5,
        "electrolyte_shift_px_per_frame": SHIFT,
    }
    params.update(kw)
    return simulate_cell_series(2, (88, 56, 56), **params)


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dvc_scans")
    frames = _series()
    paths = [
        write_cell_dxchange(
            tmp / f"scan{k}.h5", f, n_angles=180, flat_counts=6e4, start_time=T0 + timedelta(hours=k), seed=k
        )
        for k, f in enumerate(frames)
    ]
    return frames, paths


def test_phantom_texture_off_by_default_and_moves_by_the_shift():
    plain = simulate_cell_series(2, (88, 56, 56), voxel_size_um=10.0, n_voids=(3, 3), seed=3)
    textured = _series(electrolyte_shift_px_per_frame=(1.0, 0.0, 0.0))
    el = plain[0].labels == 0
    assert np.ptp(plain[0].attenuation[el]) == 0  # off: uniform electrolyte, the series as before
    assert np.array_equal(plain[1].labels, _series(electrolyte_texture=0.0)[1].labels)
    a0, a1 = textured[0].attenuation, textured[1].attenuation
    both = (textured[0].labels[:-1] == 0) & (textured[1].labels[1:] == 0)
    # an integer shift of one voxel along z: frame 1 at z + 1 is frame 0 at z
    np.testing.assert_allclose(a1[1:][both], a0[:-1][both], atol=1e-4)
    assert a0[textured[0].labels == 0].std() > 1.0


def test_truth_volumes_give_the_shift():
    """The correlation itself on the noise-free phantom (the pipeline test below adds projection and recon)."""
    frames = _series()
    el = [f.labels == 0 for f in frames]
    flat = [np.where(m, f.attenuation, f.attenuation[m].mean()) for f, m in zip(frames, el, strict=True)]
    ds = correlate_volumes(*flat, voxel_size_um=10.0, subvolume_vox=16, step_vox=8, mask=el[0])
    for name, truth in zip(("uz", "uy", "ux"), SHIFT, strict=True):
        assert abs(float(np.nanmedian(ds[name])) - truth) < 0.05


@pytest.mark.slow
def test_series_measures_the_electrolyte_displacement(scans, tmp_path):
    _, paths = scans
    out = process_series(paths, tmp_path / "series.zarr", options=SeriesOptions(center_px=28.0, **DVC), progress=False)
    ds = open_results(out)
    assert ds.attrs["operando_kind"] == "tomo-series"
    assert ds["dvc_uz"].dims == ("pair", "gz", "gy", "gx")
    assert ds.sizes["pair"] == 1
    assert (int(ds["pair_from"][0]), int(ds["pair_to"][0])) == (0, 1)
    n = int(np.isfinite(ds["dvc_uz"].values).sum())
    assert n >= 20
    for name, truth in zip(("dvc_uz", "dvc_uy", "dvc_ux"), SHIFT, strict=True):
        med = float(np.nanmedian(ds[name].values))
        assert abs(med - truth) < 0.2, (name, med, truth)
    # per-frame summaries in µm; the first frame has no predecessor
    assert np.isnan(ds["dvc_mean_uz_um"].values[0])
    assert ds["dvc_mean_uz_um"].values[1] == pytest.approx(SHIFT[0] * 10.0, abs=2.0)
    norm = float(np.linalg.norm(SHIFT)) * 10.0
    assert ds["dvc_mean_displacement_um"].values[1] == pytest.approx(norm, abs=2.0)
    assert ds["dvc_max_displacement_um"].values[1] >= ds["dvc_mean_displacement_um"].values[1]
    assert int(ds["dvc_n_points"].values[1]) == n
    assert ds["interface_position_um"].dims == ("frame", "interface")
    # the kept volumes are removed once the store is written
    assert not (tmp_path / ".series.zarr.volumes").exists()


@pytest.mark.slow
def test_cli_series_dvc(scans, tmp_path):
    _, paths = scans
    out = tmp_path / "cli.zarr"
    args = ["series", *map(str, paths), "-o", str(out), "--center", "28", "--dvc", "--dvc-subvolume", "16"]
    res = CliRunner().invoke(app, [*args, "--dvc-step", "8"])
    assert res.exit_code == 0, res.output
    assert "electrolyte moved" in res.output
    ds = open_results(out)
    assert ds.attrs["dvc_subvolume_vox"] == 16
    assert abs(float(np.nanmedian(ds["dvc_uz"].values)) - SHIFT[0]) < 0.2


def test_dvc_needs_two_scans(scans, tmp_path):
    _, paths = scans
    with pytest.raises(ParameterError, match="two scans"):
        process_series(paths[:1], tmp_path / "one.zarr", options=SeriesOptions(**DVC), progress=False)
