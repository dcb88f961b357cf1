"""Filters as the paper means them: the 2 x 2 median of each detector frame (XSOCS), the
spatial median under its own name, a user mask file and the Maxipix wide pixels."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from typer.testing import CliRunner

from operando.cli import sxdm_app
from operando.errors import ParameterError, UnsupportedFormatError
from operando.pipelines.sxdm import process_kmap
from operando.store import open_results
from operando.sxdm import (
    filtered_mask,
    median_filter_frames,
    read_mask_file,
    spread_wide_pixels,
)
from operando.synthetic import simulate_kmap, write_bliss_kmap


def _errors(maps, model):
    t = model.truth
    sel = t.mask & maps.mask.values
    q = np.stack([maps[k].values for k in ("qx", "qy", "qz")], -1)
    cos = (q * t.q).sum(-1) / np.linalg.norm(q, axis=-1) / np.linalg.norm(t.q, axis=-1)
    tilt = np.degrees(np.arccos(np.clip(cos, -1, 1)))[sel]
    return np.sqrt(np.mean((maps.d_spacing.values - t.d_spacing_A)[sel] ** 2)), np.sqrt(np.mean(tilt**2))


@pytest.fixture(scope="module")
def mosaic(tmp_path_factory):
    """A drift-free mosaic crystal (domains tilted by up to 0.03 deg, as LMNO)."""
    model = simulate_kmap(
        map_shape=(12, 12), n_angles=20, detector_shape=(64, 64), seed=0, max_tilt_deg=0.03, n_domains=6
    )
    return model, write_bliss_kmap(model, tmp_path_factory.mktemp("mosaic"))


def test_frame_median_never_much_worse_than_unfiltered(mosaic, tmp_path):
    model, master = mosaic
    raw, _ = process_kmap(master)
    out = tmp_path / "m.zarr"
    res = CliRunner().invoke(sxdm_app, ["process", str(master), "-o", str(out), "--median", "2x2"])
    assert res.exit_code == 0, res.output
    filtered = open_results(out)
    d0, t0 = _errors(raw, model)
    d1, t1 = _errors(filtered, model)
    assert d0 < 1.5e-5
    assert d1 < 1.5 * d0 and t1 < 1.5 * t0, (d0, d1, t0, t1)
    params = __import__("json").loads(filtered.attrs["operando_parameters"])
    assert params["median_filter"] == [2, 2] and params["median_points"] is None
    # XSOCS's window is centred (an even size loses a pixel): the beam centre stays
    assert params["detector"]["beam_center_x_px"] == pytest.approx(model.detector.beam_center_x_px)
    assert params["detector"]["beam_center_y_px"] == pytest.approx(model.detector.beam_center_y_px)


def test_median_filter_frames_against_numpy():
    rng = np.random.default_rng(3)
    f = rng.poisson(2.0, size=(2, 3, 9, 11)).astype(np.int32)
    f[1, 2, 4, 5] = 50_000  # a zinger
    # XSOCS's 2 x 2 spans one pixel: the frames come back unchanged, zinger and all
    np.testing.assert_array_equal(median_filter_frames(f, size=(2, 2)), f.astype(np.float32))
    out = median_filter_frames(f, size=(3, 3))
    # each output pixel: the median of rows i-1..i+1, columns j-1..j+1, zeros beyond the edges
    p = np.pad(f.astype(np.float64), [(0, 0), (0, 0), (1, 1), (1, 1)])
    want = np.median(np.stack([p[..., i : i + 9, j : j + 11] for i in range(3) for j in range(3)]), axis=0)
    np.testing.assert_allclose(out, want)
    assert out.max() < 100
    lazy = median_filter_frames(da.from_array(f, chunks=(1, 2, 9, 11)), size=(3, 3))
    np.testing.assert_allclose(lazy.compute(), want)
    np.testing.assert_allclose(median_filter_frames(f, size=(4, 4)), want)  # 4 acts as 3
    m = np.zeros((5, 5), np.uint8)
    m[2, 2] = 1
    assert filtered_mask(m, (2, 2)).sum() == 1 and filtered_mask(m, (3, 3)).sum() == 9


def test_spatial_median_keeps_its_own_name(mosaic, tmp_path):
    _, master = mosaic
    out = tmp_path / "p.zarr"
    res = CliRunner().invoke(sxdm_app, ["process", str(master), "-o", str(out), "--median-points", "2x2"])
    assert res.exit_code == 0, res.output
    params = __import__("json").loads(open_results(out).attrs["operando_parameters"])
    assert params["median_points"] == [2, 2] and params["median_filter"] is None


@pytest.mark.parametrize("kind", ["npy", "edf", "tiff"])
def test_user_mask_file_is_added(mosaic, tmp_path, kind):
    import fabio.edfimage
    import tifffile

    model, master = mosaic
    user = np.zeros(model.detector.shape, dtype=np.uint8)
    user[40:44, 10:30] = 1  # a shadow far from the peak
    user[5, 5] = 1
    path = tmp_path / f"mask.{kind}"
    if kind == "npy":
        np.save(path, user)
    elif kind == "edf":
        fabio.edfimage.EdfImage(data=user).write(str(path))
    else:
        tifffile.imwrite(path, user)
    np.testing.assert_array_equal(read_mask_file(path, model.detector.shape), user)
    maps, params = process_kmap(master, mask_file=path)
    assert params["mask_file_pixels"] == int(np.count_nonzero(user & (model.pixel_mask == 0)))
    d, _ = _errors(maps, model)
    assert d < 2e-5
    with pytest.raises(ParameterError, match="mask of 3 x 4 pixels"):
        np.save(tmp_path / "small.npy", np.zeros((3, 4)))
        read_mask_file(tmp_path / "small.npy", model.detector.shape)
    (tmp_path / "junk.txt").write_text("0 1 0\n")
    with pytest.raises(UnsupportedFormatError, match="junk.txt"):
        read_mask_file(tmp_path / "junk.txt")


def test_wide_pixels_share_their_counts_over_the_gap():
    rng = np.random.default_rng(5)
    f = rng.poisson(3.0, size=(2, 516, 516)).astype(np.int32)
    f[:, 256:260, :] = 0  # Lima RAW: the gap is empty
    f[:, :, 256:260] = 0
    mask = np.zeros((516, 516), np.uint8)
    mask[256:260, :] = 1
    mask[:, 256:260] = 1
    mask[100, 255] = 1  # a bad wide pixel
    out, new_mask = spread_wide_pixels(f, mask)
    assert out.sum() == pytest.approx(f.sum(), rel=1e-6)  # counts conserved
    np.testing.assert_allclose(out[:, 10, 255:258], np.repeat(f[:, 10, 255:256] / 3.0, 3, axis=1), rtol=1e-6)
    np.testing.assert_allclose(out[:, 10, 258:261], np.repeat(f[:, 10, 260:261] / 3.0, 3, axis=1), rtol=1e-6)
    np.testing.assert_array_equal(out[:, 10, :255], f[:, 10, :255])
    assert new_mask[10, 256:260].sum() == 0 and new_mask[100, 255:258].all() and not new_mask[100, 258]
    with pytest.raises(ParameterError, match="516 x 516"):
        spread_wide_pixels(np.zeros((1, 64, 64)), np.zeros((64, 64)))
