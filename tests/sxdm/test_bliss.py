"""Bliss K-map reader: the real ID01 master file (metadata only) and synthetic files."""

from __future__ import annotations

from pathlib import Path

import dask
import h5py
import numpy as np
import pytest

from operando.errors import OperandoError, UnsupportedFormatError
from operando.parallel import single_threaded_blas
from operando.pipelines.sxdm import _region_q, process_kmap
from operando.sxdm import ROI, SXDMLayoutError, open_bliss_kmap, pixel_q, read_bliss_metadata, reduce_kmap
from operando.sxdm.io import _lima
from operando.sxdm.io._bliss import (
    _exact_sum_dtype,
    bliss_frames,
    bliss_point_sums,
    bliss_region_sums,
    index_frame_sources,
)
from operando.synthetic._sxdm import simulate_kmap, write_bliss_kmap

REAL = "sxdm/id01-sxdm-utils/bliss_PTO_STO_SL/PTO_STO_SL_0001.h5"


@pytest.mark.realdata
def test_real_master_metadata(real_file):
    meta = read_bliss_metadata(real_file(REAL))
    assert [s.name for s in meta.scans] == ["20.1"]
    assert meta.scans[0].title == "ascan eta 15.24 19.24 50 1"
    assert meta.map_shape == (1, 51)
    det = meta.detector
    assert det.shape == (516, 516)
    assert det.beam_center_x_px == pytest.approx(172.91090689366675)
    assert det.beam_center_y_px == pytest.approx(185.6041574101653)
    assert det.distance_m == pytest.approx(0.566851030861492)
    assert det.pixel_size_x_m == det.pixel_size_y_m == pytest.approx(55e-6)
    assert meta.wavelength_A == pytest.approx(1.2398422303064806)
    assert meta.energy_eV == pytest.approx(9999.998, abs=0.01)
    assert meta.delta_deg[0] == pytest.approx(37.046)
    assert meta.nu_deg[0] == 0.0
    assert np.isnan(meta.eta_deg[0])  # eta is the scanned motor of this rocking scan
    eta = meta.scans[0].positioners["eta"]
    assert np.shape(eta) == (51,)
    assert meta.pixel_mask.shape == (516, 516)
    assert meta.missing == ("scan0020/mpx1x4_0000.h5",)


@pytest.mark.realdata
def test_real_master_without_frames_gives_one_clear_error(real_file):
    path = real_file(REAL)
    with pytest.raises(SXDMLayoutError, match=r"missing beside the master file: scan0020/mpx1x4_0000\.h5") as err:
        open_bliss_kmap(path)
    assert isinstance(err.value, OperandoError)
    assert str(path) in str(err.value)


@pytest.fixture(scope="module")
def small_kmap(tmp_path_factory):
    model = simulate_kmap(map_shape=(6, 8), n_angles=9, detector_shape=(40, 36), seed=4, eta_step_deg=0.03)
    folder = tmp_path_factory.mktemp("bliss")
    master = write_bliss_kmap(model, folder, frames_per_file=20, first_scan=3)
    return model, master


def test_synthetic_round_trip(small_kmap):
    model, master = small_kmap
    frames, meta = open_bliss_kmap(master, points_per_chunk=16)
    assert frames.shape == (9, 6, 8, 40, 36)
    assert frames.dtype == np.int32
    assert frames.chunks[1] == (2, 2, 2) and frames.chunks[2] == (8,)
    assert [s.name for s in meta.scans] == [f"{n}.1" for n in range(3, 12)]
    assert meta.scans[0].sources[1][0] == "scan0003/mpx1x4_0001.h5"
    np.testing.assert_allclose(meta.eta_deg, model.eta_deg)
    assert meta.detector == model.detector
    np.testing.assert_allclose(meta.wavelength_A, model.wavelength_A, rtol=1e-12)
    np.testing.assert_allclose(meta.x_um, model.pix_um)
    np.testing.assert_allclose(meta.y_um, model.piy_um)
    np.testing.assert_array_equal(meta.pixel_mask, model.pixel_mask)
    with dask.config.set(scheduler="synchronous"):
        got = frames.compute()
    want = model.frames(0, 48).reshape(9, 6, 8, 40, 36)
    np.testing.assert_array_equal(got, want)
    # the virtual dataset in the master reads the same frames
    with h5py.File(master, "r") as h:
        np.testing.assert_array_equal(h["5.1/measurement/mpx1x4"][:], want[2].reshape(48, 40, 36))


def test_reduce_from_bliss_equals_in_memory(small_kmap):
    model, master = small_kmap
    frames, meta = open_bliss_kmap(master, scans=range(3, 12))
    q = pixel_q(
        meta.eta_deg[:, None, None],
        meta.phi_deg[0],
        meta.nu_deg[0],
        meta.delta_deg[0],
        detector=meta.detector,
        wavelength_A=meta.wavelength_A,
    )[:, 0, 0]
    np.testing.assert_allclose(q, model.pixel_q(), rtol=1e-12)
    lazy, _ = reduce_kmap(frames, q, eta_deg=meta.eta_deg, pixel_mask=meta.pixel_mask)
    ref, _ = reduce_kmap(
        model.frames(0, 48).reshape(9, 6, 8, 40, 36),
        model.pixel_q(),
        eta_deg=model.eta_deg,
        pixel_mask=model.pixel_mask,
    )
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_allclose(lazy["qz"].compute(), ref["qz"], rtol=1e-12, equal_nan=True)


def test_frames_window_and_indexing(small_kmap):
    """Frames of a detector box (only its rows decompressed) and every index form equal the
    written frames; chunks spanning two Lima files included."""
    model, master = small_kmap
    want = model.frames(0, 48).reshape(9, 6, 8, 40, 36)
    meta = read_bliss_metadata(master)
    box = bliss_frames(meta, points_per_chunk=16, window=((7, 29), (3, 20)))
    assert box.shape == (9, 6, 8, 22, 17)
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_array_equal(box.compute(), want[..., 7:29, 3:20])
        np.testing.assert_array_equal(box[2:5, 1:4, 3:7, 2:9].compute(), want[2:5, 1:4, 3:7, 9:16, 3:20])
    source = box.dask[next(k for k in box.dask if str(k).startswith("original-"))]  # the array-like behind it
    source = getattr(source, "value", source)
    np.testing.assert_array_equal(source[3], want[3, ..., 7:29, 3:20])
    np.testing.assert_array_equal(source[1:8:3, 4, ::2, 5:9], want[1:8:3, 4, ::2, 12:16, 3:20])
    np.testing.assert_array_equal(source[[0, 4], :, [1, 2]], want[[0, 4], :, [1, 2]][..., 7:29, 3:20])
    np.testing.assert_array_equal(source[..., 0], want[..., 7:29, 3])


def test_region_reader_gives_the_same_moments(small_kmap):
    """The second pass from frames read as the region's box equals the crop of full frames, bit for bit."""
    _, master = small_kmap
    frames, meta = open_bliss_kmap(master, points_per_chunk=16)
    q = pixel_q(
        meta.eta_deg, meta.phi_deg, meta.nu_deg, meta.delta_deg, detector=meta.detector, wavelength_A=meta.wavelength_A
    )
    calls = []

    def read_region(roi):
        calls.append(roi)
        return bliss_frames(meta, points_per_chunk=16, window=(roi.det_y, roi.det_x), angles=roi.angles)

    roi = ROI((1, 7), (6, 31), (4, 25))  # rows starting and ending inside compressed blocks
    plain, s1 = reduce_kmap(frames, q, eta_deg=meta.eta_deg, pixel_mask=meta.pixel_mask, roi=roi)
    boxed, s2 = reduce_kmap(
        frames, q, eta_deg=meta.eta_deg, pixel_mask=meta.pixel_mask, roi=roi, read_region=read_region
    )
    assert calls == [roi] and s1 == s2
    with dask.config.set(scheduler="synchronous"), single_threaded_blas():
        for name in plain:
            np.testing.assert_array_equal(boxed[name].compute(), plain[name].compute())
    with pytest.raises(OperandoError, match="read_region gave frames of shape"):
        reduce_kmap(
            frames, q, eta_deg=meta.eta_deg, pixel_mask=meta.pixel_mask, read_region=lambda roi: frames[:, :, :, :1]
        )


def _copy(master, tmp_path):
    import shutil

    out = tmp_path / "kmap"
    shutil.copytree(master.parent, out)
    return out / master.name


def test_missing_lima_files_are_all_named(small_kmap, tmp_path):
    _, master = small_kmap
    copy = _copy(master, tmp_path)
    (copy.parent / "scan0004" / "mpx1x4_0001.h5").unlink()
    (copy.parent / "scan0009" / "mpx1x4_0000.h5").unlink()
    with pytest.raises(SXDMLayoutError, match="2 Lima frame file") as err:
        open_bliss_kmap(copy)
    assert "scan0004/mpx1x4_0001.h5" in str(err.value) and "scan0009/mpx1x4_0000.h5" in str(err.value)
    # selecting only complete scans works
    frames, _ = open_bliss_kmap(copy, scans=[3, 5, 6])
    assert frames.shape[0] == 3


def test_inconsistent_scans(small_kmap, tmp_path):
    _, master = small_kmap
    copy = _copy(master, tmp_path)
    with h5py.File(copy, "r+") as h:
        del h["6.1/title"]
        h["6.1/title"] = "asxdm( pix, 0, 1, 4, piy, 0, 1, 12, 0.01 )"
        h["7.1/instrument/mpx1x4/distance"][()] = 1.2
        h["8.1/instrument/positioners/delta"][()] = 40.0
    with pytest.raises(SXDMLayoutError, match="inconsistent scans") as err:
        read_bliss_metadata(copy)
    msg = str(err.value)
    assert "scan 6.1 maps (12, 4)" in msg and "scan 7.1 has distance" in msg and "scan 8.1 has delta" in msg
    with pytest.raises(SXDMLayoutError, match=r"scans \[99\] are not in the file"):
        read_bliss_metadata(master, scans=[3, 99])


def test_not_bliss(tmp_path):
    bad = tmp_path / "x.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(UnsupportedFormatError, match="not an HDF5 file"):
        read_bliss_metadata(bad)
    with h5py.File(bad, "w") as h:
        h["data"] = 1
    with pytest.raises(UnsupportedFormatError, match="no Bliss scan entries"):
        read_bliss_metadata(bad)


def test_point_sums_equal_the_summed_frames(small_kmap):
    """The survey summed while reading equals the sum of the read frames, exactly (integer counts)."""
    model, master = small_kmap
    _, meta = open_bliss_kmap(master, points_per_chunk=16)
    rows = np.array([0, 1, 4])
    got = bliss_point_sums(meta, rows, scheduler="synchronous")
    want = model.frames(0, 48).reshape(9, 6, 8, 40, 36)[:, rows].sum(axis=(1, 2), dtype=np.float64)
    assert got.shape == (9, 40, 36)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("dtype", "values", "expected"),
    [
        (np.uint32, [3, 7, 11], np.uint32),
        (np.uint32, [2**32 - 1, 5, 9], np.float64),  # a dead pixel at the counter's maximum
        (np.uint32, [2**31, 2**31, 0], np.float64),  # each fits, their sum does not
        (np.int32, [-(2**30), 2**30, 1], np.float64),  # 3 * 2**30 >= 2**31
        (np.int32, [5, 4, 1000], np.int32),
        (np.int32, [-1, 4, 1000], np.float64),  # a negative flag: bounded through the unsigned view
        (np.uint16, [65535, 65535, 65535], np.uint32),
        (np.int16, [-32768, 32767, -1], np.int32),
        (np.uint8, [255, 255, 255], np.uint32),
        (np.float32, [1.0, 2.0, 3.0], np.float64),
        (np.uint64, [1, 2, 3], np.float64),
    ],
)
def test_survey_sums_in_32_bits_only_when_no_sum_can_overflow(dtype, values, expected):
    frames = np.zeros((3, 4, 5), dtype=dtype)
    frames[:, 1, 2] = values
    acc = _exact_sum_dtype(frames)
    assert acc == np.dtype(expected)
    got = np.sum(frames, axis=0, dtype=acc).astype(np.float64)
    assert got[1, 2] == sum(float(v) for v in values)  # exact, whatever the accumulator


def test_every_lima_file_is_indexed_up_front(small_kmap):
    """index_frame_sources leaves one cached chunk index per Lima file; reads then use it."""
    model, master = small_kmap
    _, meta = open_bliss_kmap(master, points_per_chunk=16)
    files = {(master.parent / f).resolve() for s in meta.scans for f, *_ in s.sources}
    _lima._INDEX.clear()
    index_frame_sources(meta)
    cached = {Path(k[0]).resolve() for k, v in _lima._INDEX.items() if v is not None}
    assert cached == files and len(files) > 1
    rows = np.array([2, 3])
    want = model.frames(0, 48).reshape(9, 6, 8, 40, 36)[:, rows].sum(axis=(1, 2), dtype=np.float64)
    np.testing.assert_array_equal(bliss_point_sums(meta, rows, scheduler="synchronous"), want)


def test_region_q_equals_the_crop_of_the_full_q(small_kmap):
    _, master = small_kmap
    _, meta = open_bliss_kmap(master)
    full = pixel_q(
        meta.eta_deg, meta.phi_deg, meta.nu_deg, meta.delta_deg, detector=meta.detector, wavelength_A=meta.wavelength_A
    )
    roi = ROI((2, 7), (5, 31), (0, 17))
    np.testing.assert_allclose(_region_q(meta)(roi), full[2:7, 5:31, 0:17], rtol=1e-13, atol=1e-13)


def test_process_kmap_fast_path_equals_full_frames(small_kmap):
    """process_kmap (survey summed while read, the region's frames read as a box in large chunks)
    gives the moments of the plain reduction of full in-memory frames, to float32 rounding."""
    model, master = small_kmap
    maps, params = process_kmap(master)
    ref, s = reduce_kmap(
        model.frames(0, 48).reshape(9, 6, 8, 40, 36),
        model.pixel_q(),
        eta_deg=model.eta_deg,
        pixel_mask=model.pixel_mask,
    )
    for key in ("roi_angles", "roi_det_y", "roi_det_x", "hot_pixels", "background_counts_per_pixel"):
        assert params[key] == s[key], key
    for name in ("qx", "qy", "qz", "intensity"):
        scale = np.nanmax(np.abs(ref[name]))
        np.testing.assert_allclose(maps[name].values, ref[name], rtol=1e-6, atol=1e-6 * scale, equal_nan=True)


def test_region_sums_reduced_while_read_equal_the_region_frames(small_kmap):
    """The second pass reduced as it reads (bliss_region_sums, a reused buffer per thread) gives the
    moments of the region frames read as Dask chunks, bit for bit (same point blocks)."""
    _, master = small_kmap
    frames, meta = open_bliss_kmap(master, points_per_chunk=16)
    q = pixel_q(
        meta.eta_deg, meta.phi_deg, meta.nu_deg, meta.delta_deg, detector=meta.detector, wavelength_A=meta.wavelength_A
    )
    roi = ROI((1, 7), (6, 31), (4, 25))

    def read_region(r):
        return bliss_frames(meta, points_per_chunk=16, window=(r.det_y, r.det_x), angles=r.angles, angles_per_chunk=6)

    def region_sums(r, angle_sums):
        return bliss_region_sums(meta, r, angle_sums, n_sums=6, points_per_chunk=16)

    kw = {"eta_deg": meta.eta_deg, "pixel_mask": meta.pixel_mask, "roi": roi}
    chunked, s1 = reduce_kmap(frames, q, read_region=read_region, **kw)
    fused, s2 = reduce_kmap(frames, q, region_sums=region_sums, **kw)
    assert s1 == s2
    with dask.config.set(scheduler="synchronous"), single_threaded_blas():
        for name in chunked:
            np.testing.assert_array_equal(fused[name].compute(), chunked[name].compute())
    with pytest.raises(OperandoError, match="region_sums gave sums of shape"):
        reduce_kmap(frames, q, region_sums=lambda r, f: region_sums(r, f)[:2], **kw)
