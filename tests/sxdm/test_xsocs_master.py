"""XSOCS merged K-maps (master + entry files): synthetic ones written by xsocs, and the real InGaN set."""

from __future__ import annotations

import numpy as np
import pytest

from operando.errors import UnsupportedFormatError
from operando.sxdm import SXDMLayoutError, open_kmap, open_xsocs_kmap, pixel_q, read_xsocs_metadata
from operando.synthetic import simulate_kmap

pytest.importorskip("xsocs")

from tests.sxdm.test_qspace import _xsocs_input

MASTER = "sxdm/id01-sxdm-utils/xsocs_layout_InGaN/sample_0001_master.h5"


@pytest.fixture(scope="module")
def merged(tmp_path_factory):
    model = simulate_kmap(map_shape=(5, 4), n_angles=6, detector_shape=(32, 32), seed=6)
    f = model.frames(0, 20)
    frames = f.reshape(f.shape[0], 5, 4, *f.shape[2:])
    return model, frames, _xsocs_input(model, frames, tmp_path_factory.mktemp("xsocs"))


def test_metadata_frames_and_q_match_the_model(merged):
    model, frames, master = merged
    meta = read_xsocs_metadata(master)
    assert meta.map_shape == (5, 4) and [s.name for s in meta.scans] == [f"{k}.1" for k in range(1, 7)]
    np.testing.assert_allclose(meta.eta_deg, model.eta_deg)
    np.testing.assert_allclose(meta.x_um, model.pix_um)
    np.testing.assert_allclose(meta.y_um, model.piy_um)
    assert meta.energy_eV == pytest.approx(model.energy_eV)
    # the detector at 1 m with XSOCS's channels per degree gives the model's Q
    q = pixel_q(
        meta.eta_deg, meta.phi_deg, meta.nu_deg, meta.delta_deg, detector=meta.detector, wavelength_A=meta.wavelength_A
    )
    np.testing.assert_allclose(q, model.pixel_q(), rtol=0, atol=1e-9)
    source = open_kmap(master, points_per_chunk=3)
    np.testing.assert_array_equal(source.frames.compute(), frames)


def test_missing_entry_file(merged, tmp_path):
    _, _, master = merged
    import shutil

    for f in master.parent.glob("synth_*"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "synth_3.1.h5").unlink()
    with pytest.raises(SXDMLayoutError, match=r"1 entry file\(s\) missing: synth_3\.1\.h5"):
        read_xsocs_metadata(tmp_path / "synth_master.h5")


def _copy(master, into):
    import shutil

    for f in master.parent.glob("synth_*"):
        shutil.copy(f, into / f.name)
    return into / "synth_master.h5"


def test_every_entry_file_missing_is_one_line(merged, tmp_path):
    """With every entry file gone the master is still known as XSOCS's (its dangling links):
    one line naming the master and the files, exit 2, no HDF5 text."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    master = _copy(merged[2], tmp_path)
    for f in tmp_path.glob("synth_*.1.h5"):
        f.unlink()
    with pytest.raises(SXDMLayoutError, match=r"6 entry file\(s\) missing \(every one\): synth_1\.1\.h5, synth_2"):
        open_kmap(master)
    exe = shutil.which("operando") or str(Path(sys.executable).with_name("operando"))
    out = tmp_path / "out.zarr"
    r = subprocess.run([exe, "sxdm", "process", str(master), "-o", str(out), "--quiet"], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and str(master) in r.stderr and "synth_6.1.h5" in r.stderr, r.stderr
    assert "HDF5" not in r.stderr and "Traceback" not in r.stderr and not out.exists()


def test_an_unreadable_or_wrong_entry_file(merged, tmp_path):
    import h5py

    master = _copy(merged[2], tmp_path)
    (tmp_path / "synth_2.1.h5").write_bytes(b"not hdf5")
    with pytest.raises(SXDMLayoutError, match=r"entry 2\.1: its file synth_2\.1\.h5 is not a readable HDF5 file"):
        read_xsocs_metadata(master)
    with h5py.File(tmp_path / "synth_2.1.h5", "w") as h:
        h.create_group("9.1")
    with pytest.raises(SXDMLayoutError, match=r"entry 2\.1: its file synth_2\.1\.h5 holds no 2\.1"):
        read_xsocs_metadata(master)


@pytest.mark.realdata
def test_real_xsocs_master_metadata(real_file):
    path = real_file(MASTER)
    for k in range(1, 6):
        real_file(f"sxdm/id01-sxdm-utils/xsocs_layout_InGaN/sample_0001_{k}.1.h5")
    meta = read_xsocs_metadata(path)
    assert meta.map_shape == (60, 60) and len(meta.scans) == 5
    assert meta.energy_eV == pytest.approx(9000.0, abs=0.1)
    assert meta.detector.beam_center_y_px == pytest.approx(256.169022)
    assert meta.detector.beam_center_x_px == pytest.approx(138.844795)
    assert meta.detector.shape == (516, 516)
    assert meta.scans[0].motors == ("piy", "pix")
    # piezo read-back (Bliss pix_position via the XSOCS links), mean over rows: 16 µm in 60 points;
    # the first column reads ~52 µm in every row but the first (the fly-back has not settled)
    assert np.median(np.diff(meta.x_um)) == pytest.approx(16 / 60, rel=0.05)
    assert meta.x_um[-1] == pytest.approx(64.0, abs=0.5) and meta.x_um[0] == pytest.approx(52.18, abs=0.05)
    assert meta.scans[0].start_time.startswith("2022-07-13T16:21:55")
    assert len(meta.missing) == 5 and "sample_0001.h5" in meta.missing[0]
    with pytest.raises(SXDMLayoutError, match="5 frame dataset"):
        open_xsocs_kmap(path)


def test_not_a_master(tmp_path):
    import h5py

    with h5py.File(tmp_path / "x.h5", "w") as h:
        h["a"] = 1
    with pytest.raises(UnsupportedFormatError, match="not an XSOCS master"):
        read_xsocs_metadata(tmp_path / "x.h5")
