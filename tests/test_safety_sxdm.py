"""Issue 18, small things: an sxdm error raised deep in the reduction names the map, and
``sxdm process`` without ``--echem`` says what its store is (``operando_kind``)."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from typer.testing import CliRunner

from operando.cli import sxdm_app
from operando.errors import ParameterError
from operando.pipelines.sxdm import process_kmap
from operando.synthetic import simulate_kmap, write_bliss_kmap


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    model = simulate_kmap(map_shape=(5, 5), n_angles=10, detector_shape=(40, 40), seed=4, eta_step_deg=0.03)
    return write_bliss_kmap(model, tmp_path_factory.mktemp("k") / "raw")


def test_a_reduction_error_names_the_map(master):
    with pytest.raises(ParameterError) as err:
        process_kmap(master, scans=[1])  # one rocking angle: raised by the kernels without a file
    assert err.value.path == str(master) and str(err.value).startswith(f"{master}: ")


def test_an_error_naming_its_own_file_keeps_it(master, tmp_path):
    np.save(tmp_path / "mask.npy", np.zeros((7, 7), np.uint8))  # not the detector's 40 x 40
    with pytest.raises(ParameterError) as err:
        process_kmap(master, mask_file=tmp_path / "mask.npy")
    assert err.value.path == str(tmp_path / "mask.npy") and str(master) not in str(err.value)


def test_process_without_echem_records_its_kind(master, tmp_path):
    out = tmp_path / "m.zarr"
    res = CliRunner().invoke(sxdm_app, ["process", str(master), "-o", str(out), "--phases", "off"])
    assert res.exit_code == 0, res.output
    # read as stored, not through operando's kind_of (which would guess a missing one)
    assert zarr.open_group(str(out), mode="r").attrs["operando_kind"] == "sxdm-maps"
