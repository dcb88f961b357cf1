"""Gridded q-space cubes against XSOCS's QSpaceConverter on the same input, and the XSOCS file layout."""

from __future__ import annotations

import numpy as np
import pytest

from operando.errors import ParameterError, UnsupportedFormatError
from operando.sxdm import (
    centre_of_mass,
    gridded_qspace,
    qspace_bins,
    qspace_centre_of_mass,
    read_xsocs_qspace,
    write_xsocs_qspace,
)
from operando.synthetic import simulate_kmap

SHAPE = (16, 24, 24)
REAL_QSPACE = "sxdm/id01-sxdm-utils/xsocs_layout_InGaN/qspace_shift.h5"


@pytest.fixture(scope="module")
def kmap():
    model = simulate_kmap(map_shape=(5, 4), n_angles=12, detector_shape=(40, 40), seed=5, peak_counts=5e4)
    ny, nx = model.map_shape
    f = model.frames(0, ny * nx)
    return model, f.reshape(f.shape[0], ny, nx, *f.shape[2:])


def _xsocs_input(model, frames, folder):
    """The XSOCS merged layout (master + one entry file per angle) written with xsocs's own writers."""
    from xsocs.io.XsocsH5 import XsocsH5MasterWriter, XsocsH5Writer

    det = model.detector
    n_a, ny, nx = frames.shape[:3]
    # xrayutilities' init_area(chpdeg=...) puts one channel at 2 tan(0.5 deg) / chpdeg rad
    cpd = 2.0 * det.distance_m * np.tan(np.radians(0.5)) / det.pixel_size_x_m
    master = folder / "synth_master.h5"
    with XsocsH5MasterWriter(str(master), "w"):
        pass
    pix = np.tile(model.pix_um, ny)
    piy = np.repeat(model.piy_um, nx)
    for a in range(n_a):
        entry = f"{a + 1}.1"
        fn = folder / f"synth_{entry}.h5"
        with XsocsH5Writer(str(fn), "w") as w:
            w.create_entry(entry)
            w.set_scan_params(entry, "pix", pix[0], pix[-1], nx, "piy", piy[0], piy[-1], ny, 0.01)
            w.set_beam_energy(model.energy_eV, entry)
            w.set_chan_per_deg([cpd, cpd], entry)
            w.set_direct_beam([det.beam_center_y_px, det.beam_center_x_px], entry)
            for name, value in (("eta", model.eta_deg[a]), ("phi", model.phi_deg), ("nu", model.nu_deg)):
                w._set_scalar_data(f"{entry}/instrument/positioners/{name}", float(value))
            w._set_scalar_data(f"{entry}/instrument/positioners/del", float(model.delta_deg))
            for name, value in (("adcY", pix), ("adcX", piy), ("adcZ", np.full(pix.size, 5.0))):
                w._set_array_data(f"{entry}/measurement/{name}", value)
            w._set_array_data(f"{entry}/measurement/imgnr", np.arange(pix.size))
            data = frames[a].reshape(ny * nx, *frames.shape[3:])
            with w.image_dset_ctx(entry, create=True, shape=data.shape, dtype=data.dtype) as dset:
                dset[...] = data
        with XsocsH5MasterWriter(str(master), "a") as m:
            m.add_entry_file(entry, fn.name)
    return master


def test_cube_matches_xsocs_qspace_converter(kmap, tmp_path):
    pytest.importorskip("xsocs")
    from xsocs import config
    from xsocs.io.QSpaceH5 import QSpaceH5
    from xsocs.process.qspace import QSpaceConverter

    model, frames = kmap
    master = _xsocs_input(model, frames, tmp_path)
    config.DEFAULT_PROCESS_NUMBER = 1
    out = tmp_path / "qspace_xsocs.h5"
    conv = QSpaceConverter(str(master), qspace_dims=SHAPE, output_f=str(out))
    conv.n_proc = 1
    conv.mask = model.pixel_mask
    conv.convert()
    assert conv.status == conv.DONE, conv.status_msg
    ours = gridded_qspace(
        frames, model.pixel_q(), shape=SHAPE, pixel_mask=model.pixel_mask, x_um=model.pix_um, y_um=model.piy_um
    )
    ref = QSpaceH5(str(out))
    for ax, values in zip(("qx", "qy", "qz"), ref.qspace_dimension_values, strict=True):
        np.testing.assert_allclose(ours[ax].values, values, rtol=0, atol=1e-7)
    theirs = ref.qspace
    # same bins, same hits, same cubes (float32 sums of the same counts)
    np.testing.assert_array_equal(ours.histo.values, ref.histo)
    np.testing.assert_allclose(ours.qspace.values, theirs, rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(ours.qspace_sum.values, ref.qspace_sum, rtol=1e-6)
    for k in range(theirs.shape[0]):
        assert np.unravel_index(ours.qspace.values[k].argmax(), SHAPE) == np.unravel_index(theirs[k].argmax(), SHAPE)
    np.testing.assert_allclose(ours.sample_x.values, ref.sample_x)
    np.testing.assert_allclose(ours.sample_y.values, ref.sample_y)


def test_cube_centre_of_mass_equals_the_direct_one(kmap):
    model, frames = kmap
    q = model.pixel_q()
    valid = model.pixel_mask == 0
    cube = gridded_qspace(frames, q, shape=(40, 60, 60), pixel_mask=model.pixel_mask, points=(slice(1, 4), slice(1, 3)))
    assert cube.sizes["point"] == 6 and cube.iy.values.tolist() == [1, 1, 2, 2, 3, 3]
    com_cube = qspace_centre_of_mass(cube)
    direct = centre_of_mass(
        frames[:, 1:4, 1:3].reshape(frames.shape[0], 6, *frames.shape[3:]), q, eta_deg=model.eta_deg, valid=valid
    )
    steps = np.array([float(cube[a][1] - cube[a][0]) for a in ("qx", "qy", "qz")])
    assert np.all(np.abs(com_cube - direct.q) < 0.5 * steps)
    np.testing.assert_allclose(cube.qspace_sum.values, direct.intensity, rtol=1e-6)
    # intensity per voxel: the summed cube divided by the hits
    h = cube.histo.values
    np.testing.assert_allclose(cube.intensity.values[:, h > 0], cube.qspace.values[:, h > 0] / h[h > 0], rtol=1e-6)


def test_xsocs_file_round_trip(kmap, tmp_path):
    model, frames = kmap
    cube = gridded_qspace(
        frames, model.pixel_q(), shape=(8, 10, 12), pixel_mask=model.pixel_mask, x_um=model.pix_um, y_um=model.piy_um
    )
    path = write_xsocs_qspace(cube, tmp_path / "q.h5", entries=["1.1", "2.1"], beam_energy_eV=model.energy_eV)
    back = read_xsocs_qspace(path, points_per_chunk=3)
    np.testing.assert_array_equal(back.qspace.values, cube.qspace.values)
    np.testing.assert_array_equal(back.histo.values, cube.histo.values)
    np.testing.assert_array_equal(back.sample_x.values, cube.sample_x.values)
    with pytest.raises(ParameterError, match="exists"):
        write_xsocs_qspace(cube, path)
    xsocs_qspace = pytest.importorskip("xsocs.io.QSpaceH5")
    q = xsocs_qspace.QSpaceH5(str(path))  # XSOCS reads our file
    assert q.qspace_dimension_names == ("qx", "qy", "qz") and q.qspace_dimensions == (8, 10, 12)
    np.testing.assert_array_equal(q.qspace_slice(3), cube.qspace.values[3])
    assert q.selected_entries == ["1.1", "2.1"] and q.beam_energy == pytest.approx(model.energy_eV)


def test_bins_and_bad_input(kmap, tmp_path):
    model, frames = kmap
    _qx, qy, _qz = qspace_bins(model.pixel_q(), shape=(5, 5, 5), q_range=[(0, 1), (0, 2), (1, 2)])
    np.testing.assert_allclose(qy, [0, 0.5, 1, 1.5, 2])
    with pytest.raises(ParameterError, match="three bin counts"):
        qspace_bins(model.pixel_q(), shape=(1, 5, 5))
    with pytest.raises(ParameterError, match="no scan point"):
        gridded_qspace(frames, model.pixel_q(), shape=(4, 4, 4), points=(slice(9, 10), slice(None)))
    junk = tmp_path / "x.h5"
    junk.write_bytes(b"nope")
    with pytest.raises(UnsupportedFormatError, match="not an HDF5"):
        read_xsocs_qspace(junk)


@pytest.mark.realdata
def test_reads_a_real_xsocs_qspace_file(real_file):
    ds = read_xsocs_qspace(real_file(REAL_QSPACE))
    assert ds.qspace.shape == (3600, 10, 10, 10)
    assert ds.qx.values[0] == pytest.approx(3.59, abs=0.01) and ds.qz.values[-1] == pytest.approx(6.18, abs=0.01)
    assert ds.sample_x.size == 3600
    assert float(ds.qspace[:10].sum()) == 0.0  # the file was made without frames


def test_cli_qspace_command(tmp_path):
    from typer.testing import CliRunner

    from operando.cli import sxdm_app
    from operando.synthetic import write_bliss_kmap

    model = simulate_kmap(map_shape=(5, 4), n_angles=10, detector_shape=(32, 32), seed=8)
    master = write_bliss_kmap(model, tmp_path / "k")
    out = tmp_path / "qspace.h5"
    res = CliRunner().invoke(
        sxdm_app, ["qspace", str(master), "-o", str(out), "--bins", "8x10x12", "--points", "1:3,:2"]
    )
    assert res.exit_code == 0, res.output
    back = read_xsocs_qspace(out)
    assert back.qspace.shape == (4, 8, 10, 12) and "summed peak at" in res.output
    np.testing.assert_allclose(back.sample_x.values, np.tile(model.pix_um[:2], 2))
    res = CliRunner().invoke(sxdm_app, ["qspace", str(master), "-o", str(out), "--bins", "8x10"])
    assert isinstance(res.exception, ParameterError)


def test_qspace_cube_refuses_an_existing_file_before_reading(tmp_path):
    from operando.pipelines.sxdm import qspace_cube

    out = tmp_path / "qspace.h5"
    out.write_bytes(b"")
    with pytest.raises(ParameterError, match="exists"):
        qspace_cube(tmp_path / "no-such-master.h5", out)
