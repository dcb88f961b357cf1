"""A stripping series: DXchange scans with dates -> process_series / 'operando tomo series' -> tomo-series store."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from operando.cli import tomo_app as app
from operando.echem import EchemMetadata, EchemRecord
from operando.errors import MissingMetadataError
from operando.pipelines.tomo import SeriesOptions, process_series
from operando.store import open_results
from operando.synthetic import simulate_cell_series, simulate_gcpl, write_cell_dxchange, write_eclab_mpt
from operando.tomo import stripping_fraction

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


def _scans(tmp_path, n, *, dates=True):
    frames = simulate_cell_series(
        n, (56, 48, 48), voxel_size_um=10.0, n_voids=(3, 4), recede_px_per_frame=2, scan_interval_s=1200.0, seed=2
    )
    paths = [
        write_cell_dxchange(
            tmp_path / f"scan{k}.h5",
            f,
            n_angles=180,
            flat_counts=6e4,
            start_time=T0 + timedelta(seconds=600 + f.time_s) if dates else None,
            scan_duration_s=300.0,
            seed=k,
        )
        for k, f in enumerate(frames)
    ]
    return frames, paths


@pytest.mark.slow
def test_process_series_on_the_echem_record(tmp_path):
    frames, paths = _scans(tmp_path, 3)
    t = np.arange(0.0, 4 * 3600.0, 10.0)
    record = EchemRecord.from_columns(
        time_s=t, voltage_V=np.full(t.size, 0.05), current_mA=np.full(t.size, 0.02),
        meta=EchemMetadata(source="", format="synthetic", start_time=T0),
    )  # fmt: skip
    out = process_series(paths, tmp_path / "series.zarr", options=SeriesOptions(center_px=24.0), record=record)
    ds = open_results(out)
    assert ds.attrs["operando_kind"] == "tomo-series"
    assert ds["contact"].dims == ("frame", "interface", "y", "x")
    np.testing.assert_allclose(ds["time_s"].values, [600.0, 1800.0, 3000.0])
    np.testing.assert_allclose(ds["echem_t_start_s"].values, [600.0, 1800.0, 3000.0])
    truth_contact = np.array([f.contact_area_mm2 for f in frames])
    np.testing.assert_allclose(ds["contact_area_mm2"].values, truth_contact, rtol=0.05)
    li = np.array([f.li_volume_mm3 for f in frames])
    np.testing.assert_allclose(ds["li_volume_electrode_mm3"].values, li, rtol=0.05)
    charge = np.abs(ds["echem_charge_mAh"].values - ds["echem_charge_mAh"].values[0])
    truth = stripping_fraction(li, charge)
    assert np.isnan(ds["stripping_fraction"].values[0])
    assert 0.6 < truth[1] < 1.0
    # Li lost is a small difference of two segmented volumes: 15 % after one scan interval
    np.testing.assert_allclose(ds["stripping_fraction"].values[1:], truth[1:], rtol=0.15)
    assert not (tmp_path / ".series.zarr.frames.zarr").exists()


@pytest.mark.slow
def test_cli_series_with_and_without_echem(tmp_path):
    _, paths = _scans(tmp_path, 2)
    mpt = write_eclab_mpt(simulate_gcpl(start_time=T0), tmp_path / "cell.mpt")
    args = ["series", *map(str, paths), "--center", "24", "-o", str(tmp_path / "s.zarr")]
    res = CliRunner().invoke(app, [*args, "--echem", str(mpt)])
    assert res.exit_code == 0, res.output
    assert "stripping" in res.output
    ds = open_results(tmp_path / "s.zarr")
    assert "echem_voltage_V" in ds and ds.sizes["frame"] == 2
    res = CliRunner().invoke(
        app, ["series", *map(str, paths), "--center", "24", "--quiet", "-o", str(tmp_path / "n.zarr")]
    )
    assert res.exit_code == 0, res.output
    assert res.stderr == ""  # no progress bars
    plain = open_results(tmp_path / "n.zarr")
    np.testing.assert_allclose(plain["time_s"].values, [0.0, 1200.0])
    assert np.isnan(plain["stripping_fraction"].values).all()
    np.testing.assert_array_equal(plain["contact"].values, ds["contact"].values)


def test_series_needs_dates_for_the_echem_record(tmp_path):
    _, paths = _scans(tmp_path, 1, dates=False)
    mpt = write_eclab_mpt(simulate_gcpl(start_time=T0), tmp_path / "cell.mpt")
    res = CliRunner().invoke(app, ["series", str(paths[0]), "--echem", str(mpt), "-o", str(tmp_path / "s.zarr")])
    assert isinstance(res.exception, MissingMetadataError)
    assert "start date" in str(res.exception)
    with pytest.raises(MissingMetadataError, match="voxel size"):
        no_px = write_cell_dxchange(tmp_path / "nopx.h5", simulate_cell_series(1, (56, 32, 32))[0], n_angles=20,
                                    record_pixel_size=False)  # fmt: skip
        process_series([no_px], tmp_path / "x.zarr", options=SeriesOptions(center_px=16.0), progress=False)
