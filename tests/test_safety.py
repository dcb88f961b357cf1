"""Nothing lost, nothing silently wrong: stores verified by content, outputs that never
touch inputs, one writer per output, leftovers removed.

The stores here are written by a real pipeline (``operando sxdm process`` on a synthetic
Bliss K-map with detector noise), not built by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from operando.cli import app, check_output
from operando.errors import IncompleteStoreError, OperandoError, ParameterError
from operando.store import MANIFEST_NAME, open_results, open_store, store_status, write_results
from operando.synthetic import simulate_kmap, write_bliss_kmap


@pytest.fixture(scope="module")
def kmap_store(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("safety")
    model = simulate_kmap(map_shape=(5, 6), n_angles=6, detector_shape=(32, 32), seed=3, eta_step_deg=0.04)
    master = write_bliss_kmap(model, tmp / "raw", name="lmno_0001")
    out = tmp / "maps.zarr"
    r = CliRunner().invoke(app, ["sxdm", "process", str(master), "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    return out


def _files(store: Path) -> list[str]:
    return sorted(f.relative_to(store).as_posix() for f in store.rglob("*") if f.is_file())


def _flip(path: Path, where: int) -> None:
    data = bytearray(path.read_bytes())
    data[where % len(data)] ^= 0x04
    path.write_bytes(bytes(data))


def _refused_on_open_or_read(store: Path) -> str:
    """The message of the refusal, at open (metadata) or when the values are read (chunks)."""
    try:
        ds = open_results(store)
        ds.load()
    except IncompleteStoreError as exc:
        return str(exc)
    raise AssertionError(f"{store}: a changed byte was accepted")


def test_every_file_of_a_pipeline_store_is_verified(kmap_store, tmp_path):
    rels = _files(kmap_store)
    assert MANIFEST_NAME + "/zarr.json" in rels and len(rels) > 20
    assert store_status(kmap_store, verify="sha256").complete
    rng = np.random.default_rng(18)
    for k, rel in enumerate(rels):
        store = tmp_path / f"s{k}.zarr"
        shutil.copytree(kmap_store, store)
        size = (store / rel).stat().st_size
        _flip(store / rel, int(rng.integers(size)))
        msg = _refused_on_open_or_read(store)
        assert msg.startswith(f"{store}: not a ") and "\n" not in msg, msg
        assert rel in msg or MANIFEST_NAME in msg or "zarr.json" in msg, msg
        r = CliRunner().invoke(app, ["info", str(store)])  # every SHA-256 (verify="sha256")
        assert isinstance(r.exception, IncompleteStoreError), r.output
        assert str(r.exception).startswith(f"{store}: not a complete result store: ")
        shutil.rmtree(store)


def test_report_refuses_a_flipped_byte_and_writes_nothing(kmap_store, tmp_path):
    rels = _files(kmap_store)
    rng = np.random.default_rng(19)
    for rel in [rels[0], rels[len(rels) // 2], rels[-1], MANIFEST_NAME + "/zarr.json", "zarr.json"]:
        store = tmp_path / "s.zarr"
        shutil.copytree(kmap_store, store)
        _flip(store / rel, int(rng.integers((store / rel).stat().st_size)))
        out = tmp_path / "r.html"
        r = CliRunner().invoke(app, ["report", str(store), "-o", str(out), "-q"])
        assert isinstance(r.exception, IncompleteStoreError), (rel, r.output)
        assert str(r.exception).startswith(f"{store}: not a complete result store: ")
        assert not out.exists() and not list(tmp_path.glob(".r.html*"))
        shutil.rmtree(store)


def test_every_byte_of_the_manifest_is_covered(kmap_store, tmp_path):
    store = tmp_path / "s.zarr"
    shutil.copytree(kmap_store, store)
    manifest = store / MANIFEST_NAME / "zarr.json"
    clean = manifest.read_bytes()
    positions = np.random.default_rng(20).choice(len(clean), size=min(400, len(clean)), replace=False)
    for pos in [0, len(clean) - 1, *positions]:
        for bit in (0x01, 0x20):
            data = bytearray(clean)
            data[pos] ^= bit
            manifest.write_bytes(bytes(data))
            status = store_status(store, verify="size")
            assert not status.complete, (pos, bit)
            assert MANIFEST_NAME in status.reason or "file " in status.reason, status.reason
    manifest.write_bytes(clean)
    assert store_status(store).complete


@pytest.mark.parametrize("damage", ["added", "deleted-after-open", "replaced-chunk"])
def test_files_added_or_removed_are_refused(kmap_store, tmp_path, damage):
    store = tmp_path / "s.zarr"
    shutil.copytree(kmap_store, store)
    chunk = next(store / rel for rel in _files(store) if rel.startswith("d_spacing/c/"))
    if damage == "added":  # a chunk zarr would read where it wrote none (fill value)
        (chunk.parent / "99").write_bytes(chunk.read_bytes())
        with pytest.raises(IncompleteStoreError, match="not in the manifest"):
            open_results(store)
    elif damage == "deleted-after-open":  # zarr would read the fill value silently
        ds = open_results(store)
        chunk.unlink()
        with pytest.raises(IncompleteStoreError, match="missing"):
            ds["d_spacing"].load()
    else:  # same size, other content, changed while the store is open
        ds = open_results(store)
        other = bytearray(chunk.read_bytes())
        other[-1] ^= 0xFF
        chunk.write_bytes(bytes(other))
        with pytest.raises(IncompleteStoreError, match="SHA-256"):
            ds["d_spacing"].load()


def test_clean_store_reads_identically_through_the_verifying_store(kmap_store):
    plain = xr.open_zarr(kmap_store, zarr_format=3)  # consolidated: no warning (filterwarnings=error)
    verified = open_results(kmap_store).load()
    xr.testing.assert_identical(plain.load(), verified)
    assert open_store(kmap_store, kind="sxdm-maps").attrs["operando_kind"] == "sxdm-maps"
    with pytest.raises(IncompleteStoreError, match="does not exist"):
        open_store(kmap_store.with_name("elsewhere.zarr"))
    with pytest.raises(ParameterError, match="holds a sxdm-maps result, not mri-layers"):
        open_store(kmap_store, kind="mri-layers")


# -- outputs never touch inputs ---------------------------------------------------------------
def test_check_output_refuses_what_would_destroy_an_input(kmap_store, tmp_path):
    raw = tmp_path / "cell.mpt"
    raw.write_text("EC-Lab ASCII FILE\n")
    link = tmp_path / "link.mpt"
    link.symlink_to(raw)
    hard = tmp_path / "hard.mpt"
    os.link(raw, hard)
    cases = {
        raw: "is an input",
        link: "is an input",
        hard: "is an input",
        kmap_store / "zarr.json": "inside the input",
        kmap_store / "new.html": "inside the input",
        kmap_store.parent: "holds the input",
    }
    for out, why in cases.items():
        with pytest.raises(ParameterError, match=why) as info:
            check_output(out, [raw, kmap_store], overwrite=True)
        assert str(info.value).startswith(f"{out}: -o ")
    with pytest.raises(ParameterError, match="pass --overwrite"):
        check_output(kmap_store, [raw], overwrite=False, option="--out")
    assert check_output(tmp_path / "new.zarr", [raw, None, kmap_store], overwrite=False) == tmp_path / "new.zarr"


def test_report_into_its_own_store_is_refused_and_the_store_survives(kmap_store, tmp_path):
    store = tmp_path / "s.zarr"
    shutil.copytree(kmap_store, store)
    for target in (store / "zarr.json", store / MANIFEST_NAME / "zarr.json", store):
        r = CliRunner().invoke(app, ["report", str(store), "-o", str(target), "--overwrite", "-q"])
        assert isinstance(r.exception, ParameterError), r.output
    assert store_status(store, verify="sha256").complete


# -- one writer per output --------------------------------------------------------------------
def _small() -> xr.Dataset:
    return xr.Dataset({"v": ("x", np.arange(4.0), {"units": "V"})})


def test_a_second_writer_is_refused_while_the_first_writes(tmp_path):
    target = tmp_path / "out.zarr"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from operando.store import output_lock\n"
            f"with output_lock({str(target)!r}):\n    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(OperandoError, match=rf"another operando process \(pid {holder.pid} ") as info:
            write_results(_small(), target)
        assert str(info.value).startswith(f"{target}: ")
        with pytest.raises(OperandoError, match="another operando process"):
            write_results(_small(), target, overwrite=True)
        assert not target.exists()
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    # the killed writer's lock is stale: taken over
    assert (tmp_path / ".out.zarr.lock").exists()
    write_results(_small(), target)
    assert open_results(target, verify="sha256")["v"].values.tolist() == [0, 1, 2, 3]
    assert not (tmp_path / ".out.zarr.lock").exists()


def test_two_threads_writing_one_output_cannot_both_succeed(tmp_path):
    target = tmp_path / "out.zarr"
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def write(value: float) -> None:
        barrier.wait()
        try:
            write_results(_small() + value, target, overwrite=True)
            outcomes.append("ok")
        except OperandoError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=write, args=(v,)) for v in (0.0, 10.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") >= 1
    assert all(o == "ok" or "writing this output" in o for o in outcomes)
    assert store_status(target, verify="sha256").complete


def test_leftovers_of_a_crashed_writer_are_removed_by_the_next(tmp_path):
    target = tmp_path / "out.zarr"
    stale = tmp_path / ".out.zarr.tmp-deadbeef0000"
    (stale / "v").mkdir(parents=True)
    (stale / "v" / "zarr.json").write_text("{}")
    (tmp_path / ".out.zarr.lock").write_text(json.dumps({"pid": 2**22 + 7, "host": os.uname().nodename, "since": "x"}))
    write_results(_small(), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]


def test_verification_cost_is_measured(tmp_path):
    """The full check (every SHA-256) and the metadata-only check on a ~64 MB store."""
    ds = xr.Dataset({"a": (("t", "y", "x"), np.random.default_rng(0).random((32, 512, 512)))}).chunk({"t": 4})
    target = write_results(ds, tmp_path / "big.zarr")
    t0 = time.perf_counter()
    assert store_status(target, verify="lazy").complete
    lazy = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert store_status(target, verify="sha256").complete
    full = time.perf_counter() - t0
    assert lazy < full
    assert lazy < 0.5  # metadata only: independent of the data's size
