"""Atomic, verifiable, resumable result stores."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr

from operando import __version__
from operando.errors import IncompleteStoreError, OperandoError, ParameterError
from operando.store import MANIFEST_NAME, atomic_store, open_results, run_series, store_status, write_results


def _dataset(seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    return xr.Dataset(
        {
            "d_spacing": (("y", "x"), rng.normal(2.04, 1e-3, (8, 6)).astype(np.float32), {"units": "Å"}),
            "label": ((), "charge"),
        },
        coords={"y": np.arange(8) * 0.1, "x": np.arange(6) * 0.1},
    )


def _frame(key: int) -> xr.Dataset:
    return _dataset(seed=key)


def test_round_trip_with_provenance(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("raw")
    path = write_results(
        _dataset(), tmp_path / "r.zarr", parameters={"reflection": "400", "roi": [1, 2]}, inputs=[source]
    )
    ds = open_results(path)
    expected = _dataset()
    expected["d_spacing"].attrs["long_name"] = "d spacing"  # CF long_name added where none was given
    expected["label"].attrs["long_name"] = "label"
    xr.testing.assert_identical(ds.drop_attrs(deep=False).load(), expected)
    assert ds.attrs["operando_version"] == __version__
    assert json.loads(ds.attrs["operando_parameters"]) == {"reflection": "400", "roi": [1, 2]}
    inputs = json.loads(ds.attrs["operando_inputs"])
    assert inputs == [{"name": "in.txt", "sha256": hashlib.sha256(b"raw").hexdigest(), "bytes": 3}]
    assert ds.attrs["operando_created"].endswith("+00:00")
    assert store_status(path, verify="sha256").complete


def test_existing_output_is_not_overwritten_silently(tmp_path):
    path = write_results(_dataset(), tmp_path / "r.zarr")
    with pytest.raises(OperandoError, match="output exists"):
        write_results(_dataset(1), path)
    write_results(_dataset(1), path, overwrite=True)
    np.testing.assert_array_equal(open_results(path)["d_spacing"], _dataset(1)["d_spacing"])


def test_crash_inside_write_leaves_nothing(tmp_path):
    target = tmp_path / "r.zarr"
    with pytest.raises(RuntimeError), atomic_store(target) as tmp:
        _dataset().drop_vars("label").to_zarr(tmp, mode="w", consolidated=False, zarr_format=3)
        raise RuntimeError("killed half way")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage", ["no-manifest", "deleted-chunk", "truncated-chunk", "altered-chunk", "bad-manifest"])
def test_damaged_store_is_never_taken_for_complete(tmp_path, damage):
    path = write_results(_dataset(), tmp_path / "r.zarr")
    chunk = next(p for p in sorted((path / "d_spacing").rglob("*")) if p.is_file() and p.name != "zarr.json")
    if damage == "no-manifest":
        (path / MANIFEST_NAME / "zarr.json").unlink()
    elif damage == "deleted-chunk":
        chunk.unlink()
    elif damage == "truncated-chunk":
        chunk.write_bytes(chunk.read_bytes()[:-3])
    elif damage == "altered-chunk":
        data = bytearray(chunk.read_bytes())
        data[-1] ^= 0xFF
        chunk.write_bytes(bytes(data))
    else:
        (path / MANIFEST_NAME / "zarr.json").write_text("{not json")
    verify = "sha256" if damage == "altered-chunk" else "size"
    with pytest.raises(IncompleteStoreError, match="not a complete result store"):
        open_results(path, verify=verify)


def test_plain_zarr_without_manifest_is_refused(tmp_path):
    _dataset().drop_vars("label").to_zarr(tmp_path / "foreign.zarr", consolidated=False, zarr_format=3)
    with pytest.raises(IncompleteStoreError, match="interrupted or it was not written by operando"):
        open_results(tmp_path / "foreign.zarr")


def _files(path):
    manifest = json.loads((path / MANIFEST_NAME / "zarr.json").read_text())["attributes"]["operando_manifest"]["files"]
    manifest.pop("zarr.json")  # root attributes hold the creation time
    return manifest


def test_interrupted_series_resumes_to_an_identical_store(tmp_path):
    keys = [11, 12, 13, 14, 15]
    whole = run_series(keys, _frame, tmp_path / "whole.zarr", parameters={"p": 1}, progress=False)

    calls = []

    def flaky(key):
        calls.append(key)
        if key == 14 and calls.count(14) == 1:
            raise KeyboardInterrupt
        return _frame(key)

    target = tmp_path / "resumed.zarr"
    with pytest.raises(KeyboardInterrupt):
        run_series(keys, flaky, target, parameters={"p": 1}, progress=False)
    assert not target.exists()
    status = store_status(target)
    assert (status.complete, status.frames_done, status.frames_total) == (False, 3, 5)
    with pytest.raises(ParameterError, match="other measurements or parameters"):
        run_series(keys, flaky, target, parameters={"p": 2}, progress=False)
    run_series(keys, flaky, target, parameters={"p": 1}, progress=False)
    assert calls == [11, 12, 13, 14, 14, 15]  # the finished ones were not recomputed
    a, b = open_results(whole).load(), open_results(target).load()
    xr.testing.assert_identical(a.drop_attrs(deep=False), b.drop_attrs(deep=False))
    assert {k: v for k, v in a.attrs.items() if k != "operando_created"} == {
        k: v for k, v in b.attrs.items() if k != "operando_created"
    }
    assert _files(whole) == _files(target)  # every chunk byte for byte
    assert a["key"].values.tolist() == keys
    assert not (tmp_path / "resumed.zarr.partial").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_series_killed_by_the_os_resumes(tmp_path):
    script = textwrap.dedent(
        f"""
        import os, signal, numpy as np, xarray as xr
        from operando.store import run_series
        def frame(k):
            if k == 3 and os.environ.get("KILL"):
                os.kill(os.getpid(), signal.SIGKILL)
            return xr.Dataset({{"v": ("x", np.arange(4.0) * k)}})
        run_series([1, 2, 3, 4], frame, {str(tmp_path / "s.zarr")!r}, progress=False)
        """
    )
    env = {**os.environ, "KILL": "1"}
    killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "s.zarr").exists()
    assert store_status(tmp_path / "s.zarr").frames_done == 2
    env.pop("KILL")
    subprocess.run([sys.executable, "-c", script], env=env, check=True)
    np.testing.assert_array_equal(open_results(tmp_path / "s.zarr")["v"].values[:, 1], [1, 2, 3, 4])


def test_text_coordinates_are_stored_as_variable_length_strings(tmp_path):
    """A non-index text coordinate round-trips without Zarr's warning about fixed-width unicode."""
    ds = xr.Dataset(
        {"x6": ("sample", [0.95, 0.07])},
        coords={"sample": ["electrode", "electrolyte"], "species": ("sample", ["metal", "ceramic"])},
    )
    back = open_results(write_results(ds, tmp_path / "t.zarr")).load()  # filterwarnings=error catches the warning
    assert back["species"].values.tolist() == ["metal", "ceramic"]
    assert back["sample"].values.tolist() == ["electrode", "electrolyte"]
