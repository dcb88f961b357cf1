"""SPEC + EDF K-maps: synthetic files in the real layout, and the real ID01 SPEC file's metadata."""

from __future__ import annotations

import numpy as np
import pytest

from operando.errors import MissingMetadataError, ParameterError, UnsupportedFormatError
from operando.pipelines.sxdm import process_kmap
from operando.sxdm import (
    ArraySource,
    FrameSource,
    SXDMLayoutError,
    is_spec_file,
    open_kmap,
    open_spec_kmap,
    read_kmap_metadata,
    read_spec_metadata,
)
from operando.synthetic import simulate_kmap, write_bliss_kmap, write_spec_kmap

REAL = "sxdm/id01-sxdm-utils/spec_fastmap/ALIGNMENT_2021_03_14_140646_fast_00004.spec"


@pytest.fixture(scope="module")
def small():
    return simulate_kmap(map_shape=(6, 5), n_angles=5, detector_shape=(32, 32), seed=1)


@pytest.fixture(scope="module")
def spec(small, tmp_path_factory):
    return write_spec_kmap(small, tmp_path_factory.mktemp("spec"))


def test_metadata_matches_the_model(small, spec):
    meta = read_spec_metadata(spec)
    assert meta.map_shape == small.map_shape
    np.testing.assert_allclose(meta.eta_deg, small.eta_deg, atol=1e-8)
    np.testing.assert_allclose(meta.delta_deg, small.delta_deg, atol=1e-8)
    assert meta.wavelength_A == pytest.approx(small.wavelength_A, rel=1e-9)
    det = meta.detector
    assert det.shape == small.detector.shape
    assert (det.beam_center_y_px, det.beam_center_x_px) == pytest.approx(
        (small.detector.beam_center_y_px, small.detector.beam_center_x_px)
    )
    # pixel / distance from channels per degree, the xrayutilities convention
    assert det.pixel_size_x_m / det.distance_m == pytest.approx(
        small.detector.pixel_size_x_m / small.detector.distance_m, rel=1e-8
    )
    np.testing.assert_allclose(meta.x_um, small.pix_um)
    np.testing.assert_allclose(meta.y_um, small.piy_um)
    assert [s.name for s in meta.scans] == ["1.1", "2.1", "3.1", "4.1", "5.1"]
    assert meta.scans[0].motors == ("piy", "pix")
    assert meta.scans[1].start_time == "2021-03-14T16:28:33"
    assert is_spec_file(spec) and read_kmap_metadata(spec, scans=[2, 3]).eta_deg.size == 2
    # SPEC records local time; the ESRF clock's zone can be attached (CET in March)
    assert read_spec_metadata(spec, timezone="Europe/Paris").scans[0].start_time == "2021-03-14T16:27:33+01:00"
    with pytest.raises(ParameterError, match="time zone"):
        read_spec_metadata(spec, timezone="Mars/Olympus")


def test_frames_are_lazy_blocks_and_exact(small, spec):
    frames, _ = open_spec_kmap(spec, points_per_chunk=4)
    assert frames.chunks[1:3] == ((1,) * 6, (4, 1))
    ny, nx = small.map_shape
    expected = small.frames(0, ny * nx).reshape(5, ny, nx, 32, 32)
    np.testing.assert_array_equal(frames[:, 2:4].compute(), expected[:, 2:4])
    source = open_kmap(spec)
    assert isinstance(source, ArraySource) and isinstance(source, FrameSource)
    np.testing.assert_array_equal(source.frames.compute(), expected)
    rows = np.array([1, 3])
    np.testing.assert_array_equal(source.survey(rows), expected[:, rows].sum(axis=(1, 2), dtype=np.float64))


@pytest.mark.slow
def test_spec_and_bliss_give_the_same_maps(tmp_path):
    model = simulate_kmap(map_shape=(8, 8), n_angles=12, detector_shape=(48, 48), seed=3, peak_counts=1e5)
    spec = write_spec_kmap(model, tmp_path / "spec")
    master = write_bliss_kmap(model, tmp_path / "bliss")
    a, _ = process_kmap(spec)
    b, _ = process_kmap(master)
    # same frames; SPEC has no pixel mask (the dead pixels count as zeros in the background)
    np.testing.assert_array_equal(a.mask.values, b.mask.values)
    m = a.mask.values & model.truth.mask
    assert np.abs(a.d_spacing.values - b.d_spacing.values)[m].max() < 1e-5
    for maps in (a, b):
        assert np.sqrt(np.mean((maps.d_spacing.values - model.truth.d_spacing_A)[m] ** 2)) < 2.5e-5


def test_missing_edf_files_are_all_named(small, tmp_path):
    spec = write_spec_kmap(small, tmp_path)
    for nr in (4, 6):
        (tmp_path / f"data_mpx4_{nr:05d}.edf.gz").unlink()
    with pytest.raises(
        SXDMLayoutError, match=r"2 EDF frame file\(s\) missing.*data_mpx4_00004.edf.gz, data_mpx4_00006"
    ):
        open_spec_kmap(spec)
    assert read_spec_metadata(spec).missing == ("data_mpx4_00004.edf.gz", "data_mpx4_00006.edf.gz")


def test_bad_spec_files(small, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(UnsupportedFormatError, match="not a SPEC file"):
        read_spec_metadata(text)
    spec = write_spec_kmap(small, tmp_path / "k")
    lines = [ln for ln in spec.read_text().splitlines() if not ln.startswith("#UDETCALIB")]
    spec.write_text("\n".join(lines) + "\n")
    with pytest.raises(MissingMetadataError, match="cen_pix_x"):
        read_spec_metadata(spec)


@pytest.mark.realdata
def test_real_id01_spec_file_metadata(real_file):
    path = real_file(REAL)
    meta = read_spec_metadata(path, scans=[0, 1, 2])
    assert meta.map_shape == (100, 50)  # _pscando pix 1 99 50 piz 1 99 100: pix fast
    assert meta.scans[0].motors == ("piz", "pix")
    assert meta.detector.shape == (516, 516)  # '#Ulima mpx4int 0 0 515 0 515'
    assert meta.detector.beam_center_x_px == pytest.approx(302.080)
    assert meta.detector.beam_center_y_px == pytest.approx(227.592)
    assert meta.detector.distance_m == pytest.approx(0.575)
    # 182.536 channels per degree at 0.575 m: a 55 µm Maxipix pixel
    assert meta.detector.pixel_size_x_m == pytest.approx(55e-6, rel=1e-3)
    assert meta.energy_eV == pytest.approx(8990.0)
    assert meta.scans[0].start_time == "2021-03-14T16:27:33"
    # piezo read-back (mean over rows): pix is adcY (1 .. 99 µm, the sawtooth lags), piz is adcZ
    assert np.all(np.diff(meta.x_um) > 0) and np.all(np.diff(meta.y_um) > 0)
    assert meta.x_um[0] == pytest.approx(1.0, abs=1.0) and meta.x_um[-1] == pytest.approx(99.0, abs=3.0)
    assert meta.y_um[0] == pytest.approx(1.0, abs=1.0) and meta.y_um[-1] == pytest.approx(99.0, abs=3.0)
    assert np.median(np.diff(meta.x_um)) == pytest.approx(2.0, abs=0.1)
    assert meta.missing == ("data00003.edf.gz", "data00004.edf.gz", "data00005.edf.gz")
    with pytest.raises(SXDMLayoutError, match="3 EDF frame file"):
        open_spec_kmap(path, scans=[0, 1, 2])
    with pytest.raises(SXDMLayoutError, match=r"scan 3\.1 maps \(100, 100\)"):
        read_spec_metadata(path)
