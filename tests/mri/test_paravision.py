"""ParaVision scans with repetitions: every repetition (cycle, movie frame) is one frame of the series.

The scans are written by :func:`operando.synthetic.write_paravision_scan` (int16 2dseq with a
slope and offset per frame, visu_pars with the frame groups, acqp/method with NR), read back
through brukerapi, and quantified end to end.
"""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from operando.cli import app, error_line, mri_app
from operando.errors import CorruptFileError, ParameterError
from operando.mri import read_image_series, read_paravision
from operando.store import open_results
from operando.synthetic import simulate_dendrite_mri, write_paravision_scan


def _indexed(shape, seed=0):
    """Images whose every frame carries its own index in one voxel (to follow the order)."""
    rng = np.random.default_rng(seed)
    img = 100.0 + rng.normal(0, 1, shape)
    frames = img.reshape(*shape[:2], -1, order="F")
    frames[0, 0, :] = 1000.0 + np.arange(frames.shape[-1])
    return frames.reshape(shape, order="F")


def test_single_slice_repetitions_are_frames(tmp_path):
    img = _indexed((32, 20, 9))
    scan = write_paravision_scan(tmp_path / "7", img, extent_mm=(6.4, 4.0), frame_groups=[("FG_CYCLE", 9)])
    image, meta = read_paravision(scan)
    assert image.dims == ("x", "y", "cycle") and image.shape == (32, 20, 9)  # no length-1 "frame" axis
    assert np.allclose(image.values, img, rtol=1e-4, atol=1e-2)  # int16 with a slope per frame
    assert meta.frame_time_s == pytest.approx(300.0)
    assert meta.extra["NR"] == "9"
    series = read_image_series([scan], depth_axis="x")  # the frame time from the header
    assert series.dims == ("frame", "depth", "y") and series.sizes["frame"] == 9
    assert series["time_s"].values.tolist() == [300.0 * k for k in range(9)]
    assert np.round(series.values[:, 0, 0]).tolist() == [1000.0 + k for k in range(9)]


def test_slices_stay_image_axes_and_nested_time_groups_keep_acquisition_order(tmp_path):
    img = _indexed((24, 16, 3, 4, 5))  # slices (innermost), movie frames, repetitions (outermost)
    groups = [("FG_SLICE", 3), ("FG_MOVIE", 4), ("FG_CYCLE", 5)]
    scan = write_paravision_scan(tmp_path / "8", img, extent_mm=(4.8, 3.2), frame_groups=groups, scan_time_s=60.0)
    image, _ = read_paravision(scan)
    assert image.dims == ("x", "y", "slice", "movie", "cycle")
    series = read_image_series([scan], depth_axis="x", seconds_per_frame=15.0)
    assert series.dims == ("frame", "depth", "y", "slice") and series.sizes["frame"] == 20
    # frame k = movie m of repetition r with k = 4 r + m; the index sits in slice 0 at frame index 3 (r*4+m)*3
    marks = np.round(series.values[:, 0, 0, 0]).astype(int) - 1000
    assert marks.tolist() == [3 * k for k in range(20)]


def test_frames_without_a_frame_group_description(tmp_path):
    """Older exports describe the frames only by their count; acqp's NR names them repetitions."""
    img = _indexed((32, 20, 6))
    scan = write_paravision_scan(
        tmp_path / "9", img, extent_mm=(6.4, 4.0), frame_groups=[("FG_CYCLE", 6)], describe_groups=False
    )
    image, meta = read_paravision(scan)
    assert image.dims == ("x", "y", "repetition") and meta.frame_time_s == pytest.approx(300.0)
    assert np.allclose(image.values, img, rtol=1e-4, atol=1e-2)
    seq = scan / "pdata" / "1" / "2dseq"
    seq.write_bytes(seq.read_bytes()[:-100])
    with pytest.raises(CorruptFileError, match="VisuCoreSize"):
        read_paravision(scan)


def test_layers_from_a_paravision_scan_with_repetitions(tmp_path):
    """The issue's case: the repetitions of one scan were summed into one frame and the
    temporal noise estimate then failed; now 60 repetitions give 60 frames."""
    sim = simulate_dendrite_mri(seed=31)
    metal = np.transpose(sim.metal.values, (1, 2, 0))  # x = depth, y = lateral, cycle = time
    scan = write_paravision_scan(
        tmp_path / "study" / "5", metal, extent_mm=(160 * 0.02, 24 * 0.02), frame_groups=[("FG_CYCLE", 60)]
    )
    csv = tmp_path / "cell.csv"
    rec = sim.record
    csv.write_text(
        "time/s,Ewe/V,I/mA\n"
        + "\n".join(f"{t},{v},{i}" for t, v, i in zip(rec.time_s, rec.voltage_V, rec.current_mA, strict=True))
    )
    out = tmp_path / "pv.zarr"
    result = CliRunner().invoke(
        mri_app,
        [
            "layers",
            str(scan),
            "--echem",
            str(csv),
            "--electrodes",
            "0.48,2.08",  # depth from the edge of the field of view
            "--real",
            "--normalise",
            "none",
            "--displacement-px",
            str(sim.displacement_px),
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    ds = open_results(out)
    assert ds.sizes["frame"] == 60
    assert ds["time_s"].values[1] == pytest.approx(300.0)  # from the scan's own header
    assert np.abs(ds["amount"].values - sim.truth.amount).max() < 0.03 * sim.truth.amount.max()
    assert ds.attrs["short_circuit_frame"] == sim.truth.short_frame
    assert np.abs(np.array(ds.attrs["stage_boundaries"]) - sim.truth.stage_boundaries).max() <= 1


@pytest.mark.realdata
def test_real_scan_without_repetitions(real_file):
    """BadBanana (PV 5.1, NR = 1, 5 slices): one frame, the slices an image axis, and no frame
    time to take from it (2 s scan time, but no repetitions) unless given."""
    seq = real_file("nmr/paravision/pvconv/BadBanana_01/18/pdata/1/2dseq")
    real_file("nmr/paravision/pvconv/BadBanana_01/18/pdata/1/visu_pars")
    image, meta = read_paravision(seq)
    assert image.dims == ("x", "y", "slice") and meta.extra["NR"] == "1" and meta.frame_time_s is None
    assert meta.acquired_at.isoformat() == "2011-11-30T12:20:46" and meta.scan_time_s == 2.0
    series = read_image_series([seq], depth_axis="y")  # its own clock: one frame of its 2 s scan time
    assert series.sizes["frame"] == 1 and series.dims == ("frame", "depth", "x", "slice")
    assert series["time_end_s"].values.tolist() == [2.0] and series.attrs["timing"].startswith("acquisition")
    with pytest.raises(ParameterError, match="seconds-per-frame"):
        read_image_series([seq, seq], depth_axis="y")  # the same scan twice: no increasing clock
    series = read_image_series([seq, seq], depth_axis="y", seconds_per_frame=60.0)
    assert series["time_s"].values.tolist() == [0.0, 60.0]


def test_series_of_scans_on_their_own_clock(tmp_path):
    """One scan per time point (the usual operando series): frame times from each scan's
    acquisition date, gaps included; a scan with repetitions adds its frame time per repetition."""
    from datetime import datetime, timedelta, timezone

    start = datetime(2024, 7, 25, 9, 15, 9, 381000, tzinfo=timezone(timedelta(hours=2)))
    offsets = [0.0, 600.0, 1500.0]  # uneven: the operator paused between the second and third scan
    scans = [
        write_paravision_scan(
            tmp_path / str(10 + k),
            _indexed((16, 8, 1), seed=k)[..., 0],
            extent_mm=(3.2, 1.6),
            scan_time_s=240.0,
            acquired_at=start + timedelta(seconds=dt),
        )
        for k, dt in enumerate(offsets)
    ]
    reps = write_paravision_scan(
        tmp_path / "13",
        _indexed((16, 8, 3)),
        extent_mm=(3.2, 1.6),
        frame_groups=[("FG_CYCLE", 3)],
        scan_time_s=100.0,
        acquired_at=start + timedelta(seconds=2000.0),
    )
    series = read_image_series([*scans, reps], depth_axis="x", t0_s=50.0)
    assert series["time_s"].values.tolist() == [50.0, 650.0, 1550.0, 2050.0, 2150.0, 2250.0]
    assert series["time_end_s"].values.tolist() == [290.0, 890.0, 1790.0, 2150.0, 2250.0, 2350.0]
    # PV 5/6 dates (no zone) read too
    old = write_paravision_scan(
        tmp_path / "14",
        _indexed((16, 8, 1))[..., 0],
        extent_mm=(3.2, 1.6),
        acquired_at=datetime(2011, 11, 30, 12, 20, 46),
    )
    assert read_paravision(old)[1].acquired_at == datetime(2011, 11, 30, 12, 20, 46)


_DAMAGED_PARAMETERS = [
    # (file under the scan, text replaced, replacement, what the one line must name)
    ("pdata/1/visu_pars", "##$VisuCoreSize=( 2 )", "##$VisuCoreSize=( NaN )", r"visu_pars: VisuCoreSize"),
    ("pdata/1/visu_pars", "##$VisuCoreSize=( 2 )", "##$VisuCoreSize=( 0 )", r"visu_pars: VisuCoreSize"),
    ("pdata/1/visu_pars", "##$VisuCoreFrameCount=3", "##$VisuCoreFrameCount=1e309", r"visu_pars: VisuCoreFrameCount"),
    ("pdata/1/visu_pars", "3.2 2.4", "nan 2.4", r"visu_pars: VisuCoreExtent"),
    ("pdata/1/visu_pars", "3.2 2.4", "-3.2 2.4", r"visu_pars: VisuCoreExtent"),
    ("pdata/1/visu_pars", "##$VisuCoreDataSlope=( 3 )", "##$VisuCoreDataSlope=( inf )", r"VisuCoreDataSlope"),
]


@pytest.mark.parametrize(("rel", "old", "new", "named"), _DAMAGED_PARAMETERS)
def test_damaged_parameter_values_are_one_line_naming_file_and_key(tmp_path, rel, old, new, named):
    """brukerapi parses a value only when asked (its JcampdxError/InvalidJcampdxFile escaped, issue 18 fuzz)."""
    scan = write_paravision_scan(tmp_path / "5", _indexed((16, 12, 3)), extent_mm=(3.2, 2.4),
                                 frame_groups=[("FG_CYCLE", 3)])  # fmt: skip
    victim = scan / rel
    text = victim.read_text()
    assert old in text
    victim.write_text(text.replace(old, new, 1))
    before = {p: p.read_bytes() for p in scan.rglob("*") if p.is_file()}
    with pytest.raises(CorruptFileError, match=named) as info:
        read_paravision(scan)
    assert "\n" not in str(info.value) and str(victim.parent) in str(info.value)
    assert {p: p.read_bytes() for p in scan.rglob("*") if p.is_file()} == before  # inputs never modified
    args = ["mri", "layers", str(scan), "-o", str(tmp_path / "out.zarr")]
    r = CliRunner().invoke(app, args)
    code, line = error_line(r.exception, args)  # what the console script prints
    assert code == 2 and "\n" not in line and str(victim.parent) in line, line


def test_damaged_acqp_only_loses_the_frame_naming_hint(tmp_path):
    """acqp is a hint (the axis name of frames without VisuFGOrderDesc): warned, not fatal."""
    scan = write_paravision_scan(tmp_path / "5", _indexed((16, 12, 3)), extent_mm=(3.2, 2.4),
                                 frame_groups=[("FG_CYCLE", 3)])  # fmt: skip
    acqp = scan / "acqp"
    acqp.write_text(acqp.read_text().replace("##$NR=3", "##$NR=NaN"))
    with pytest.warns(UserWarning, match=r"acqp: NR .* without acqp's counts"):
        image, _ = read_paravision(scan)
    assert image.shape == (16, 12, 3)


def test_info_names_a_method_value_brukerapi_cannot_parse(tmp_path):
    """``PVM_Matrix=( NaN )`` raised brukerapi's InvalidJcampdxFile from inside ``info``."""
    scan = write_paravision_scan(tmp_path / "5", _indexed((16, 12, 3)), extent_mm=(3.2, 2.4),
                                 frame_groups=[("FG_CYCLE", 3)])  # fmt: skip
    method = scan / "method"
    method.write_text(method.read_text().replace("##$PVM_Matrix=( 2 )", "##$PVM_Matrix=( NaN )"))
    r = CliRunner().invoke(app, ["info", str(scan)])
    code, line = error_line(r.exception, ["info", str(scan)])
    assert code == 2 and "\n" not in line and f"{method}: PVM_Matrix cannot be parsed" in line, line
