"""The public surface of ``operando.tomo``: lazy imports, and classifier files that cannot run code."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import operando.tomo
from operando.cli import tomo_app as app
from operando.errors import CorruptFileError
from operando.tomo import load_classifier, save_classifier, train_interphase_classifier


def test_import_loads_no_heavy_dependency():
    heavy = ("h5py", "scipy", "skimage", "sklearn", "finufft", "dask.array")
    code = f"import sys, operando.tomo; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_public_name_resolves_and_is_listed():
    for name in operando.tomo.__all__:
        assert getattr(operando.tomo, name) is not None
    assert set(operando.tomo.__all__) <= set(dir(operando.tomo))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        operando.tomo.nope  # noqa: B018


class _Payload:
    """Unpickling this runs ``print`` (any callable would do)."""

    def __reduce__(self):
        return (print, ("code ran",))


def _tiny_classifier():
    rng = np.random.default_rng(0)
    vol = rng.normal(size=(6, 8, 8)).astype(np.float32)
    return vol, train_interphase_classifier(vol, rng.integers(0, 5, vol.shape), n_estimators=2)


def test_classifier_file_round_trip_and_refusals(tmp_path, capsys):
    vol, clf = _tiny_classifier()
    saved = save_classifier(clf, tmp_path / "rf.npz")
    assert saved.read_bytes()[:2] == b"PK"  # a zip of .npy arrays: numbers only
    again = load_classifier(saved)
    assert np.array_equal(again.predict(vol), clf.predict(vol))
    assert (again.sigma_min, again.sigma_max) == (clf.sigma_min, clf.sigma_max)
    assert np.array_equal(
        load_classifier(save_classifier(again, tmp_path / "again.npz")).predict(vol), clf.predict(vol)
    )
    # any pickle is refused unless trusted, and even then only a random forest's classes resolve
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"format": "operando-interphase-classifier/2", "model": _Payload()}))
    with pytest.raises(CorruptFileError, match="--trust-pickle"):
        load_classifier(evil)
    with pytest.raises(CorruptFileError, match=r"builtins\.print"):
        load_classifier(evil, trust_pickle=True)
    assert "code ran" not in capsys.readouterr().out
    old = tmp_path / "old.pkl"
    old.write_bytes(pickle.dumps({"format": "operando-interphase-classifier/2", "sigma_min": 1.0, "sigma_max": 4.0,
                                  "model": clf.model}))  # fmt: skip
    assert np.array_equal(load_classifier(old, trust_pickle=True).predict(vol), clf.predict(vol))
    # a damaged array file: one line, no traceback
    broken = tmp_path / "broken.npz"
    broken.write_bytes(saved.read_bytes()[:200])
    with pytest.raises(CorruptFileError):
        load_classifier(broken)
    # the right classes but not our format, or not a forest
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"format": "something else", "model": None}))
    with pytest.raises(CorruptFileError, match="not an operando interphase classifier"):
        load_classifier(other, trust_pickle=True)
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(pickle.dumps({"format": "operando-interphase-classifier/2", "model": 3}))
    with pytest.raises(CorruptFileError, match="no random forest"):
        load_classifier(empty, trust_pickle=True)
    # what joblib.dump wrote in earlier versions: named, with what to do
    import joblib  # a dependency of scikit-learn

    legacy = tmp_path / "old.joblib"
    joblib.dump({"format": "operando-interphase-classifier/1", "model": clf.model}, legacy)
    with pytest.raises(CorruptFileError, match="train again"):
        load_classifier(legacy)
    with pytest.raises(CorruptFileError, match="train it again"):
        load_classifier(legacy, trust_pickle=True)


@pytest.mark.parametrize("command", ["recon", "segment", "interface", "series"])
def test_commands_take_the_engine_options(command):
    res = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert res.exit_code == 0, res.output
    for option in ("--scheduler", "--workers", "--quiet"):
        assert option in res.output


def test_cli_reads_a_pickle_only_when_trusted(tmp_path):
    res = CliRunner().invoke(app, ["segment", "--help"], terminal_width=200)
    assert "--trust-pickle" in res.output and "can run code" in res.output
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"format": "operando-interphase-classifier/2", "model": _Payload()}))
    vol = tmp_path / "v.zarr"
    from operando.store import write_results

    rng = np.random.default_rng(0)
    write_results(xr.Dataset({"attenuation": (("z", "y", "x"), rng.normal(size=(16, 16, 16)).astype(np.float32))},
                             attrs={"voxel_size_um": 1.0}), vol)  # fmt: skip
    res = CliRunner().invoke(app, ["segment", str(vol), "-o", str(tmp_path / "s.zarr"), "--classifier", str(evil)])
    assert isinstance(res.exception, CorruptFileError) and "--trust-pickle" in str(res.exception)
