"""Bliss K-map reader: the real ID01 master file (metadata only) and synthetic files."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import h5py
import numpy as np
import pytest

from operando.errors import OperandoError, UnsupportedFormatError
from operando.parallel import single_threaded_blas
from operando.pipelines.sxdm import process_kmap, region_q
from operando.sxdm import (
    ROI,
    BlissSource,
    FrameSource,
    SXDMLayoutError,
    bliss_frames,
    bliss_point_sums,
    bliss_region_sums,
    cached_chunk_indexes,
    clear_chunk_indexes,
    index_frame_sources,
    open_bliss_kmap,
    open_kmap,
    pixel_q,
    plain_region_sums,
    plain_survey,
    read_bliss_metadata,
    reduce_kmap,
)
from operando.synthetic import simulate_kmap, write_bliss_kmap

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
        got = {k: lazy[k].compute() for k in ("intensity", "qx", "qy", "qz")}
    # the counts are the same numbers: their sums agree to float64 rounding
    np.testing.assert_allclose(got["intensity"], ref["intensity"], rtol=1e-12, equal_nan=True)
    # the q sums are float32 matrix products (frames @ q - q0), which the two paths make in
    # blocks of other shapes; the BLAS kernel's summation order follows the block's shape and
    # the CPU (bit-equal on earlier sessions' machines, up to 3e-8 1/A apart on an AMD EPYC): a
    # d-spacing difference of ~1e-8 A, a thousandth of the accuracy floor (2.5e-5 A)
    for k in ("qx", "qy", "qz"):
        np.testing.assert_allclose(got[k], ref[k], rtol=0, atol=2e-7, equal_nan=True)


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


@dataclass
class _BoxSource:
    """A frame source whose second pass reads only the region's box (its angles and detector
    window, bliss_frames), reduced by the plain region sums; or, ``fused``, the Bliss reader's
    region sums in blocks of ``points`` points."""

    frames: Any
    meta: Any
    angles_per_chunk: int = 1
    fused: bool = False
    points: int = 16
    calls: list = field(default_factory=list)

    def survey(self, rows, *, scheduler=None):
        return plain_survey(self.frames, rows, scheduler=scheduler)

    def region_sums(self, roi, angle_sums, *, n_sums):
        self.calls.append(roi)
        if self.fused:
            return bliss_region_sums(self.meta, roi, angle_sums, n_sums=n_sums, points_per_chunk=self.points)
        box = bliss_frames(
            self.meta,
            points_per_chunk=self.points,
            window=(roi.det_y, roi.det_x),
            angles=roi.angles,
            angles_per_chunk=self.angles_per_chunk,
        )
        whole = ROI((0, box.shape[0]), (0, box.shape[3]), (0, box.shape[4]))
        return plain_region_sums(box, whole, angle_sums, n_sums=n_sums)


def test_region_reader_gives_the_same_moments(small_kmap):
    """The second pass from frames read as the region's box equals the crop of full frames, bit for bit."""
    _, master = small_kmap
    frames, meta = open_bliss_kmap(master, points_per_chunk=16)
    q = pixel_q(
        meta.eta_deg, meta.phi_deg, meta.nu_deg, meta.delta_deg, detector=meta.detector, wavelength_A=meta.wavelength_A
    )
    source = _BoxSource(frames, meta)
    assert isinstance(source, FrameSource)
    roi = ROI((1, 7), (6, 31), (4, 25))  # rows starting and ending inside compressed blocks
    plain, s1 = reduce_kmap(frames, q, eta_deg=meta.eta_deg, pixel_mask=meta.pixel_mask, roi=roi)
    boxed, s2 = reduce_kmap(source, q, eta_deg=meta.eta_deg, pixel_mask=meta.pixel_mask, roi=roi)
    assert source.calls == [roi] and s1 == s2
    with dask.config.set(scheduler="synchronous"), single_threaded_blas():
        for name in plain:
            np.testing.assert_array_equal(boxed[name].compute(), plain[name].compute())


def test_a_source_giving_the_wrong_shapes_is_one_clear_error(small_kmap):
    _, master = small_kmap
    frames, meta = open_bliss_kmap(master, points_per_chunk=16)
    q = pixel_q(
        meta.eta_deg, meta.phi_deg, meta.nu_deg, meta.delta_deg, detector=meta.detector, wavelength_A=meta.wavelength_A
    )

    class Short(_BoxSource):
        def region_sums(self, roi, angle_sums, *, n_sums):
            return super().region_sums(roi, angle_sums, n_sums=n_sums)[:2]

    class Cropped(_BoxSource):
        def survey(self, rows, *, scheduler=None):
            return super().survey(rows, scheduler=scheduler)[:, :3]

    kw = {"eta_deg": meta.eta_deg, "pixel_mask": meta.pixel_mask}
    with pytest.raises(OperandoError, match="region_sums gave sums of shape"):
        reduce_kmap(Short(frames, meta), q, **kw)
    with pytest.raises(OperandoError, match="survey gave sums of shape"):
        reduce_kmap(Cropped(frames, meta), q, **kw)


def test_open_kmap_gives_the_bliss_source(small_kmap):
    """A Bliss file's source: its survey sums while reading, equal to the plain sum of its frames."""
    model, master = small_kmap
    source = open_kmap(master, points_per_chunk=16)
    assert isinstance(source, BlissSource) and isinstance(source, FrameSource)
    assert source.frames.chunks[1] == (2, 2, 2)
    rows = np.array([1, 2, 5])
    want = plain_survey(model.frames(0, 48).reshape(9, 6, 8, 40, 36), rows)
    np.testing.assert_array_equal(source.survey(rows, scheduler="synchronous"), want)


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


@pytest.mark.parametrize("scheduler", ["synchronous", "local threads"])
def test_point_sums_equal_the_summed_frames(small_kmap, scheduler):
    """The survey summed while reading equals the sum of the read frames, exactly (integer counts),
    also on local threads (each angle summed into one shared result) and with a monitor's factors."""
    import dask.threaded

    model, master = small_kmap
    _, meta = open_bliss_kmap(master, points_per_chunk=16)
    rows = np.array([0, 1, 4])
    run = dask.threaded.get if scheduler == "local threads" else "synchronous"  # what local_scheduler() gives
    got = bliss_point_sums(meta, rows, scheduler=run)
    frames = model.frames(0, 48).reshape(9, 6, 8, 40, 36)[:, rows]
    want = frames.sum(axis=(1, 2), dtype=np.float64)
    assert got.shape == (9, 40, 36)
    np.testing.assert_array_equal(got, want)
    factors = np.random.default_rng(0).uniform(0.9, 1.1, (9, 6, 8)).astype(np.float32)
    scaled = bliss_point_sums(meta, rows, scheduler=run, factors=factors)
    want = (frames.astype(np.float32) * factors[:, rows, :, None, None]).sum(axis=(1, 2), dtype=np.float64)
    np.testing.assert_allclose(scaled, want, rtol=1e-6)
    np.testing.assert_array_equal(scaled, bliss_point_sums(meta, rows, scheduler="synchronous", factors=factors))


def test_every_lima_file_is_indexed_up_front(small_kmap):
    """index_frame_sources leaves one cached chunk index per Lima file; reads then use it."""
    model, master = small_kmap
    _, meta = open_bliss_kmap(master, points_per_chunk=16)
    files = {(master.parent / f).resolve() for s in meta.scans for f, *_ in s.sources}
    clear_chunk_indexes()
    index_frame_sources(meta)
    cached = {Path(f).resolve() for f in cached_chunk_indexes()}
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
    np.testing.assert_allclose(region_q(meta)(roi), full[2:7, 5:31, 0:17], rtol=1e-13, atol=1e-13)


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
    # points whose signal crosses the region are reduced again in their own (the plain reduction flags them)
    held = ref["roi_edge_sides"] == 0
    assert params["roi_recut_points"] == int((~held).sum()) and params["roi_cut_points"] == 0
    for name in ("qx", "qy", "qz", "intensity"):
        scale = np.nanmax(np.abs(ref[name]))
        np.testing.assert_allclose(
            maps[name].values[held], ref[name][held], rtol=1e-6, atol=1e-6 * scale, equal_nan=True
        )


def test_region_sums_reduced_while_read_equal_the_region_frames(small_kmap):
    """The second pass reduced as it reads (bliss_region_sums, a reused buffer per thread) gives the
    moments of the region frames read as Dask chunks, bit for bit (same point blocks)."""
    _, master = small_kmap
    frames, meta = open_bliss_kmap(master, points_per_chunk=16)
    q = pixel_q(
        meta.eta_deg, meta.phi_deg, meta.nu_deg, meta.delta_deg, detector=meta.detector, wavelength_A=meta.wavelength_A
    )
    roi = ROI((1, 7), (6, 31), (4, 25))
    kw = {"eta_deg": meta.eta_deg, "pixel_mask": meta.pixel_mask, "roi": roi}
    chunked, s1 = reduce_kmap(_BoxSource(frames, meta, angles_per_chunk=6), q, **kw)
    fused, s2 = reduce_kmap(_BoxSource(frames, meta, fused=True), q, **kw)
    assert s1 == s2
    with dask.config.set(scheduler="synchronous"), single_threaded_blas():
        for name in chunked:
            np.testing.assert_array_equal(fused[name].compute(), chunked[name].compute())


def test_point_frames_are_the_points_frames(small_kmap):
    """BlissSource.point_frames reads one point's frames at every angle, equal to the lazy array's
    (across Lima file boundaries: 20 frames per file); a point outside the map is refused."""
    from operando.sxdm import open_kmap

    _, master = small_kmap
    source = open_kmap(master)
    for y, x in [(0, 0), (2, 3), (5, 7)]:  # points 0, 19/20 (a file boundary) and the last
        whole = np.asarray(source.frames[:, y, x])
        np.testing.assert_array_equal(source.point_frames(y, x), whole)
        # a band of detector rows (the recut's first read), clipped to the detector
        np.testing.assert_array_equal(source.point_frames(y, x, rows=(7, 19)), whole[:, 7:19])
        np.testing.assert_array_equal(source.point_frames(y, x, rows=(-3, 5)), whole[:, :5])
        # and a range of rocking angles (the recut's check of the box's sides), clipped
        np.testing.assert_array_equal(source.point_frames(y, x, rows=(7, 19), angles=(1, 3)), whole[1:3, 7:19])
        np.testing.assert_array_equal(source.point_frames(y, x, angles=(-2, 99)), whole)
    with pytest.raises(ValueError, match="hold no row"):
        source.point_frames(0, 0, rows=(9, 9))
    with pytest.raises(ValueError, match="outside the 6 x 8 map"):
        source.point_frames(6, 0)


def test_the_map_is_surveyed_once(small_kmap, monkeypatch):
    """The reduction and the two-phase survey ask for the same rows: their frames are summed once
    (the source keeps the sums), returned read-only so that no caller can change them for the others."""
    from operando.sxdm import bliss_point_sums

    _, master = small_kmap
    calls = []
    original = bliss_point_sums

    def counted(meta, rows, **kw):
        calls.append(tuple(rows))
        return original(meta, rows, **kw)

    monkeypatch.setattr("operando.sxdm.io._bliss.bliss_point_sums", counted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the small map's radial peaks near its |Q| range
        maps, _ = process_kmap(master, phases="on")
    assert len(calls) == 1 and bool(maps["phases_decomposed"])
    from operando.sxdm import open_kmap

    source = open_kmap(master)
    rows = np.array([1, 2])
    first = source.survey(rows)
    with pytest.raises(ValueError, match="read-only"):  # shared by every caller: frozen, not copied
        first[:] = -1.0
    again = source.survey(rows)
    assert again is first and (again >= 0).all() and len(calls) == 2


def test_monitor_keeps_the_fast_reads_and_their_result(tmp_path):
    """A map with a beam monitor: its frames scaled while they are read (survey, region sums,
    point frames) give the moments of the plain reduction of the scaled frames, to float32
    rounding."""
    from operando.pipelines.sxdm import monitor_counts
    from operando.sxdm import ArraySource, BlissSource, monitor_factors, open_kmap

    model = simulate_kmap(map_shape=(6, 8), n_angles=9, detector_shape=(40, 36), seed=4, eta_step_deg=0.03)
    master = write_bliss_kmap(model, tmp_path / "m", monitor_counts=2e3, frames_per_file=20)
    maps, params = process_kmap(master, phases="off")
    assert params["monitor"] == "mon1"
    source = open_kmap(master)
    assert isinstance(source, BlissSource)
    factors, _ = monitor_factors(monitor_counts(source.meta)[1])
    assert np.ptp(factors) > 0.02  # the monitor's noise: frames really are scaled
    scaled = source.frames * factors.astype(np.float32)[..., None, None]
    ref, s = reduce_kmap(
        ArraySource(scaled, source.meta),
        region_q(source.meta),
        eta_deg=source.meta.eta_deg,
        pixel_mask=source.meta.pixel_mask,
        survey_points=64,
    )
    with single_threaded_blas():
        ref = {k: np.asarray(v) for k, v in zip(ref, dask.compute(*ref.values()), strict=True)}
    for key in ("roi_angles", "roi_det_y", "roi_det_x", "hot_pixels"):
        assert params[key] == s[key], key
    np.testing.assert_allclose(params["background_counts_per_pixel"], s["background_counts_per_pixel"], rtol=1e-6)
    held = ref["roi_edge_sides"] == 0
    top = np.nanmax(ref["intensity"])
    np.testing.assert_allclose(maps["intensity"].values[held], ref["intensity"][held], rtol=1e-6, atol=1e-7 * top)
    used = held & maps["mask"].values  # the points the maps keep (the others are background noise)
    q = np.stack([maps[k].values for k in ("qx", "qy", "qz")], -1)[used]
    q_ref = np.stack([ref[k] for k in ("qx", "qy", "qz")], -1)[used]
    assert used.sum() > 10 and np.abs(q - q_ref).max() < 1e-7 * np.linalg.norm(q_ref, axis=-1).min()
    point = source.scaled(scaled, factors).point_frames(2, 3)
    np.testing.assert_allclose(point, np.asarray(scaled[:, 2, 3]), rtol=1e-6)
