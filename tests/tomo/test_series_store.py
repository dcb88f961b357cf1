"""The series store keeps every scan's volume and labels; scratch stores carry a fingerprint and are removed."""

import json

import numpy as np
import pytest

import operando.store
from operando.pipelines.tomo import SeriesOptions, process_series, reconstruct_scan
from operando.store import open_results
from operando.synthetic import simulate_cell_series, write_cell_dxchange


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    d = tmp_path_factory.mktemp("scans")
    frames = simulate_cell_series(2, (48, 40, 40), voxel_size_um=10.0, n_voids=(2, 3), recede_px_per_frame=2,
                                  interphase_px=2.0, seed=3)  # fmt: skip
    return [write_cell_dxchange(d / f"s{k}.h5", f, n_angles=90, flat_counts=6e4, seed=k) for k, f in enumerate(frames)]


def _killed_at_the_end(real):
    """write_results that dies when the series store itself is written (after every scan is done)."""

    def write(ds, path, *args, **kwargs):
        if not str(path).endswith(".frames.zarr"):
            raise KeyboardInterrupt
        return real(ds, path, *args, **kwargs)

    return write


def _leftovers(folder, name):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}"))


def test_volumes_and_labels_are_kept_float32_and_uint16(scans, tmp_path):
    out = process_series(scans, tmp_path / "s.zarr", options=SeriesOptions(center_px=20.0), progress=False)
    ds = open_results(out)
    assert ds["volume"].dims == ("frame", "z", "y", "x") and ds["volume"].shape == (2, 48, 40, 40)
    assert ds["volume"].dtype == np.float32 and ds["labels"].dtype == np.uint8
    assert ds["volume"].encoding.get("chunks") is not None  # chunked on disk
    assert _leftovers(tmp_path, "s.zarr") == []  # no scratch store left
    # the kept volume is the one `tomo recon` writes with the same options
    alone = open_results(reconstruct_scan(scans[1], tmp_path / "v.zarr", center_px=20.0))["attenuation"].values
    np.testing.assert_allclose(ds["volume"].values[1], alone, rtol=1e-5, atol=1e-6 * np.abs(alone).max())
    assert set(np.unique(ds["labels"].values)) <= {0, 1, 2, 3, 4, 5}
    small = process_series(scans, tmp_path / "u.zarr", options=SeriesOptions(center_px=20.0, volume_dtype="uint16"),
                           progress=False)  # fmt: skip
    u = open_results(small)
    got = u["volume"].values  # decoded through scale_factor / add_offset
    assert got.dtype.kind == "f"
    step, lo = u["volume"].encoding["scale_factor"], u["volume"].encoding["add_offset"]
    assert u["volume"].encoding["dtype"] == np.uint16
    inside = (alone > lo) & (alone < lo + 65535 * step)  # the first scan's 0.01-99.99 % range; the rest clipped
    assert inside.mean() > 0.99
    assert np.abs(got[1][inside] - alone[inside]).max() <= 0.51 * step + 1e-6 * abs(lo)
    np.testing.assert_array_equal(u["labels"].values, ds["labels"].values)


def test_a_stale_complete_scratch_store_is_discarded_when_the_parameters_differ(scans, tmp_path, monkeypatch):
    monkeypatch.setattr(operando.store, "write_results", _killed_at_the_end(operando.store.write_results))
    with pytest.raises(KeyboardInterrupt):
        process_series(scans, tmp_path / "s.zarr", options=SeriesOptions(center_px=20.0), progress=False)
    assert ".s.zarr.frames.zarr" in _leftovers(tmp_path, "s.zarr")
    monkeypatch.undo()
    with pytest.warns(UserWarning, match="discarded, it was computed from other scans or parameters"):
        out = process_series(scans, tmp_path / "s.zarr", options=SeriesOptions(center_px=18.0), progress=False)
    ds = open_results(out)
    # every frame reconstructed at the new centre: the kept volumes are those of centre 18
    alone = open_results(reconstruct_scan(scans[0], tmp_path / "v18.zarr", center_px=18.0))["attenuation"].values
    np.testing.assert_allclose(ds["volume"].values[0], alone, rtol=1e-5, atol=1e-6 * np.abs(alone).max())
    assert _leftovers(tmp_path, "s.zarr") == []


def test_a_resumed_run_reuses_its_own_scratch_store_and_removes_it(scans, tmp_path, monkeypatch):
    monkeypatch.setattr(operando.store, "write_results", _killed_at_the_end(operando.store.write_results))
    with pytest.raises(KeyboardInterrupt):
        process_series(scans, tmp_path / "s.zarr", options=SeriesOptions(center_px=20.0), progress=False)
    # a killed scan's own scratch folder is left too
    (tmp_path / ".s.zarr.scan-dead").mkdir()
    monkeypatch.undo()
    import operando.pipelines.tomo as pt

    calls = []
    monkeypatch.setattr(pt, "process_scan", lambda *a, **k: calls.append(a) or pytest.fail("recomputed a scan"))
    out = process_series(scans, tmp_path / "s.zarr", options=SeriesOptions(center_px=20.0), progress=False)
    assert calls == [] and open_results(out).sizes["frame"] == 2
    assert _leftovers(tmp_path, "s.zarr") == []


def test_cli_says_in_one_line_that_it_discarded_a_stale_scratch_store(scans, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from operando.cli import tomo_app as app

    monkeypatch.setattr(operando.store, "write_results", _killed_at_the_end(operando.store.write_results))
    args = ["series", *map(str, scans), "-o", str(tmp_path / "s.zarr"), "--quiet", "--no-keep-volumes"]
    res = CliRunner().invoke(app, [*args, "--center", "20"])
    assert res.exit_code == 130  # interrupted
    monkeypatch.undo()
    res = CliRunner().invoke(app, [*args, "--center", "18"])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("warning:")]
    assert len(lines) == 1 and "discarded" in lines[0] and ".s.zarr.frames.zarr" in lines[0]
    ds = open_results(tmp_path / "s.zarr")
    assert "volume" not in ds
    assert json.loads(ds.attrs["operando_parameters"])["center_px"] == 18.0
