"""Long commands print Dask task progress on stderr, and nothing there with --quiet.

Run through the installed ``operando`` command as a user runs it (stderr is a pipe here:
rich prints the finished bar once; on a terminal it is redrawn as the tasks finish).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from operando.synthetic import simulate_cell, simulate_kmap, write_bliss_kmap, write_cell_dxchange


def _run(*args: object) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("operando") or str(Path(sys.executable).with_name("operando"))
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, check=False, timeout=600)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("progress")
    model = simulate_kmap(map_shape=(5, 5), n_angles=6, detector_shape=(32, 32), seed=0, eta_step_deg=0.04)
    master = write_bliss_kmap(model, tmp / "map", name="lmno_0000")
    cell = simulate_cell((56, 32, 32), voxel_size_um=10.0, n_voids=(1, 2), seed=0)
    scan = write_cell_dxchange(tmp / "cell.h5", cell, n_angles=60, flat_counts=6e4, seed=0)
    return tmp, master, scan


@pytest.mark.parametrize(
    "command",
    [
        lambda tmp, master, scan, out: ["sxdm", "process", master, "-o", out],
        lambda tmp, master, scan, out: ["tomo", "recon", scan, "--center", "16", "--voxel-size-um", "10", "-o", out],
    ],
    ids=["sxdm-process", "tomo-recon"],
)
def test_progress_on_stderr_and_quiet_silences_it(inputs, command):
    tmp, master, scan = inputs
    loud = _run(*command(tmp, master, scan, tmp / f"loud{id(command)}.zarr"))
    assert loud.returncode == 0, loud.stderr
    assert "(Dask tasks)" in loud.stderr and "/" in loud.stderr
    quiet = _run(*command(tmp, master, scan, tmp / f"quiet{id(command)}.zarr"), "--quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
