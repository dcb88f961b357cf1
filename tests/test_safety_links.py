"""Issue 18: every file whose bytes enter a result is in its provenance, and HDF5 links that
leave the master's folder are refused unless ``--follow-external-links``.

The maps are synthetic Bliss K-maps (master + Lima files written as ID01 writes them: the
frames a virtual dataset onto ``scanNNNN/<det>_MMMM.h5``, bitshuffle-lz4, Poisson counts).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from operando.cli import sxdm_app
from operando.errors import LinkOutsideFolderError
from operando.info import DataFile, data_files, sampled_sha256
from operando.store import open_results, provenance
from operando.synthetic import simulate_kmap, write_bliss_kmap

EXE = str(Path(sys.executable).with_name("operando"))

# ---------------------------------------------------------------- the generic helper


def _sha256(path: Path) -> str:
    """An independent full SHA-256 (hashlib over the whole file at once)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _frames_file(path: Path, values: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f["data"] = values


@pytest.fixture
def linked(tmp_path):
    """A master in ``run/`` linking, every way HDF5 can, to files inside and outside its folder."""
    run, away = tmp_path / "run", tmp_path / "away"
    run.mkdir()
    _frames_file(run / "scan0001" / "lima_0000.h5", np.arange(12).reshape(3, 4))
    _frames_file(run / "scan0001" / "lima_0001.h5", np.arange(12).reshape(3, 4) + 12)
    _frames_file(away / "other.h5", np.full((3, 4), 7))
    np.arange(12, dtype="<i4").tofile(run / "raw.bin")
    master = run / "master.h5"
    with h5py.File(master, "w") as f:
        f["inside/link"] = h5py.ExternalLink("scan0001/lima_0000.h5", "/data")
        f["outside/updir"] = h5py.ExternalLink("../away/other.h5", "/data")
        f["outside/absolute"] = h5py.ExternalLink(str(away / "other.h5"), "/data")
        layout = h5py.VirtualLayout((6, 4), "i8")
        layout[0:3] = h5py.VirtualSource("scan0001/lima_0000.h5", "data", (3, 4))
        layout[3:6] = h5py.VirtualSource("scan0001/lima_0001.h5", "data", (3, 4))
        f.create_virtual_dataset("inside/vds", layout)
        layout = h5py.VirtualLayout((3, 4), "i8")
        layout[:] = h5py.VirtualSource("../away/other.h5", "data", (3, 4))
        f.create_virtual_dataset("outside/vds", layout)
        f.create_dataset("inside/external", (12,), "<i4", external=[("raw.bin", 0, 48)])
        f.create_dataset("outside/external", (12,), "<i4", external=[(str(away / "raw.bin"), 0, 48)])
    np.arange(12, dtype="<i4").tofile(away / "raw.bin")
    return master


def test_data_files_inside_the_folder(linked, monkeypatch):
    monkeypatch.chdir(linked.parent)  # HDF5 reads relative external storage from the working directory
    found = data_files(linked, ["/inside/link", "/inside/vds", "/inside/external"])
    names = sorted(f.path.relative_to(linked.parent.resolve()).as_posix() for f in found)
    assert names == ["raw.bin", "scan0001/lima_0000.h5", "scan0001/lima_0001.h5"]
    assert all(f.master == linked for f in found)
    # the same dataset read through h5py: these are the bytes it returns
    with h5py.File(linked) as f:
        np.testing.assert_array_equal(f["inside/vds"][3:], np.arange(12).reshape(3, 4) + 12)


@pytest.mark.parametrize("name", ["/outside/updir", "/outside/absolute", "/outside/vds", "/outside/external", "/"])
def test_data_files_refuse_outside_the_folder(linked, name):
    with pytest.raises(LinkOutsideFolderError) as err:
        data_files(linked, [name])
    text = str(err.value)
    assert str(linked) in text and "away" in text and "--follow-external-links" in text and "\n" not in text
    followed = data_files(linked, [name], follow=True)
    assert any(f.path.parent.name == "away" for f in followed)


def test_symlink_out_of_the_folder_is_outside(tmp_path):
    """A link inside the folder whose target is a symbolic link leading out: resolved, refused."""
    run = tmp_path / "run"
    run.mkdir()
    _frames_file(tmp_path / "elsewhere" / "f.h5", np.zeros((2, 2)))
    os.symlink(tmp_path / "elsewhere", run / "looks_inside")
    with h5py.File(run / "m.h5", "w") as f:
        f["d"] = h5py.ExternalLink("looks_inside/f.h5", "/data")
    with pytest.raises(LinkOutsideFolderError):
        data_files(run / "m.h5", ["/d"])


def _vds_file(path: Path, source: str, shape: tuple[int, int]) -> None:
    layout = h5py.VirtualLayout(shape, "i8")
    layout[:] = h5py.VirtualSource(source, "data", shape)
    with h5py.File(path, "w") as f:
        f.create_virtual_dataset("data", layout)


def test_virtual_sources_that_are_virtual_again(tmp_path):
    """master -> mid.h5 (virtual) -> deep/leaf.h5: both listed; a leaf out of the folder refused."""
    run = tmp_path / "run"
    _frames_file(run / "deep" / "leaf.h5", np.arange(6).reshape(2, 3))
    _vds_file(run / "mid.h5", "deep/leaf.h5", (2, 3))
    _vds_file(run / "m.h5", "mid.h5", (2, 3))
    with h5py.File(run / "m.h5") as f:  # HDF5 reads through both levels
        np.testing.assert_array_equal(f["data"][()], np.arange(6).reshape(2, 3))
    assert [f.path.name for f in data_files(run / "m.h5", ["/data"])] == ["leaf.h5", "mid.h5"]
    _frames_file(tmp_path / "leaf.h5", np.zeros((2, 3)))
    _vds_file(run / "mid.h5", "../leaf.h5", (2, 3))
    with pytest.raises(LinkOutsideFolderError, match="mid.h5:/data"):
        data_files(run / "m.h5", ["/data"])


def test_printf_virtual_sources(tmp_path):
    """A ``%b`` source name (HDF5's printf-style mapping of unlimited VDS) lists every block file."""
    for b in range(3):
        _frames_file(tmp_path / f"blk_{b}.h5", np.full((2, 4), b))
    (tmp_path / "blk_x.h5").write_bytes(b"not a block")  # matches a glob, not %b
    unlimited = h5py.h5s.UNLIMITED
    with h5py.File(tmp_path / "m.h5", "w", libver="latest") as f:
        vspace = h5py.h5s.create_simple((6, 4), (unlimited, 4))
        vspace.select_hyperslab(start=(0, 0), count=(unlimited, 1), stride=(2, 1), block=(2, 4))
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_virtual(vspace, b"blk_%b.h5", b"data", h5py.h5s.create_simple((2, 4)))
        h5py.h5d.create(f.id, b"frames", h5py.h5t.NATIVE_INT64, vspace, dcpl=dcpl)
    with h5py.File(tmp_path / "m.h5") as f:  # HDF5 itself reads the three blocks through the pattern
        np.testing.assert_array_equal(f["frames"][:, 0], [0, 0, 1, 1, 2, 2])
        assert f["frames"].virtual_sources()[0].file_name == "blk_%b.h5"
    names = [f.path.name for f in data_files(tmp_path / "m.h5", ["/frames"])]
    assert names == ["blk_0.h5", "blk_1.h5", "blk_2.h5"]


def test_info_reports_links_outside_and_never_follows(linked, monkeypatch):
    from operando.info import describe

    monkeypatch.chdir(linked.parent)
    out = describe(linked)
    away = " ".join(out["links_outside_folder"])
    assert "/outside/updir -> ../away/other.h5" in away and "/outside/absolute" in away
    assert "virtual dataset source ../away/other.h5" in away
    assert f"external storage {linked.parent.parent / 'away' / 'raw.bin'}" in away
    assert "inside" not in away and "missing_virtual_sources" not in out


def test_info_printf_sources_found_or_missing(tmp_path):
    from operando.info import describe

    unlimited = h5py.h5s.UNLIMITED
    with h5py.File(tmp_path / "m.h5", "w", libver="latest") as f:
        vspace = h5py.h5s.create_simple((4, 4), (unlimited, 4))
        vspace.select_hyperslab(start=(0, 0), count=(unlimited, 1), stride=(2, 1), block=(2, 4))
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_virtual(vspace, b"blk_%b.h5", b"data", h5py.h5s.create_simple((2, 4)))
        h5py.h5d.create(f.id, b"frames", h5py.h5t.NATIVE_INT64, vspace, dcpl=dcpl)
    assert describe(tmp_path / "m.h5")["missing_virtual_sources"] == ["blk_%b.h5"]
    _frames_file(tmp_path / "blk_0.h5", np.zeros((2, 4)))
    assert "missing_virtual_sources" not in describe(tmp_path / "m.h5")


# ---------------------------------------------------------------- hashing


def test_sampled_hash_is_labelled_and_sees_changes(tmp_path):
    p = tmp_path / "big.bin"
    data = np.random.default_rng(0).integers(0, 255, 2_000_003, dtype=np.uint8)
    p.write_bytes(data.tobytes())
    h = sampled_sha256(p)
    assert h.startswith("sampled-sha256:16x64KiB:") and len(h.rsplit(":", 1)[1]) == 64
    assert h.rsplit(":", 1)[1] != _sha256(p)  # never a full hash under that name
    # a byte in the last block, a cut file: changed
    changed = data.copy()
    changed[-1] ^= 1
    p.write_bytes(changed.tobytes())
    assert sampled_sha256(p) != h
    p.write_bytes(data[:-1].tobytes())
    assert sampled_sha256(p) != h
    small = tmp_path / "small.bin"
    small.write_bytes(b"abc")
    assert sampled_sha256(small) == "sha256:" + _sha256(small)


def test_provenance_large_data_file_sampled_with_mtime(tmp_path, monkeypatch):
    import operando.store as store

    monkeypatch.setattr(store, "FULL_HASH_MAX_BYTES", 1 << 20)
    big = tmp_path / "scan0001" / "lima_0000.h5"
    big.parent.mkdir()
    big.write_bytes(bytes(3 << 20))
    master = tmp_path / "m.h5"
    master.write_bytes(b"master")
    entries = json.loads(provenance(inputs=[master, DataFile(big.resolve(), master, "vds")])["operando_inputs"])
    assert entries[0] == {"name": "m.h5", "sha256": _sha256(master), "bytes": 6}
    e = entries[1]
    assert e["name"] == "scan0001/lima_0000.h5" and e["via"] == "m.h5: vds" and e["bytes"] == 3 << 20
    assert e["hash"] == sampled_sha256(big) and "sha256" not in e and e["mtime_ns"] == big.stat().st_mtime_ns


# ---------------------------------------------------------------- sxdm through the CLI


@pytest.fixture(scope="module")
def kmap(tmp_path_factory):
    """A 6 x 6 map, 12 rocking angles, 3 Lima files per scan (frames_per_file=16)."""
    model = simulate_kmap(map_shape=(6, 6), n_angles=12, detector_shape=(48, 48), seed=2, eta_step_deg=0.03)
    return write_bliss_kmap(model, tmp_path_factory.mktemp("kmap") / "raw", frames_per_file=16)


def _lima_files(master: Path) -> list[str]:
    return sorted(p.relative_to(master.parent).as_posix() for p in master.parent.glob("scan*/*.h5"))


def _process(master: Path, out: Path, *extra: str) -> object:
    return CliRunner().invoke(sxdm_app, ["process", str(master), "-o", str(out), "--phases", "off", *extra])


def test_process_provenance_lists_every_lima_file(kmap, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(kmap.parent, raw)
    master = raw / kmap.name
    lima = _lima_files(master)
    assert len(lima) == 12 * 3
    res = _process(master, tmp_path / "a.zarr")
    assert res.exit_code == 0, res.output
    inputs = json.loads(open_results(tmp_path / "a.zarr").attrs["operando_inputs"])
    by_name = {e["name"]: e for e in inputs}
    assert sorted(n for n in by_name if n.startswith("scan")) == lima
    for name in lima:
        assert by_name[name]["sha256"] == _sha256(raw / name)
        assert by_name[name]["bytes"] == (raw / name).stat().st_size
        assert by_name[name]["via"].startswith(f"{master.name}: virtual dataset source of /")
    # one Lima file changed (one frame's counts): its entry and only its entry changes
    victim = raw / lima[7]
    with h5py.File(victim, "r+") as f:
        ds = f[next(k for k in _datasets(f) if f[k].ndim == 3)]
        ds[0] = ds[0] + 1
    res = _process(master, tmp_path / "b.zarr")
    assert res.exit_code == 0, res.output
    again = {e["name"]: e for e in json.loads(open_results(tmp_path / "b.zarr").attrs["operando_inputs"])}
    changed = [n for n in by_name if by_name[n] != again[n]]
    assert changed == [lima[7]]


def _datasets(f: h5py.File) -> list[str]:
    names: list[str] = []
    f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return names


def _relink(master: Path, target_dir: str, lima_dir: Path) -> None:
    """Point every virtual-dataset source of the master at ``target_dir/scanNNNN/...``."""
    with h5py.File(master, "r+") as f:
        for scan in [k for k in f if k.endswith(".1")]:
            meas = f[f"{scan}/measurement"]
            name = next(k for k in meas if isinstance(meas[k], h5py.Dataset) and meas[k].ndim == 3)
            ds = meas[name]
            sources = ds.virtual_sources()
            layout = h5py.VirtualLayout(ds.shape, ds.dtype)
            for vs in sources:
                (v0, *_), (v1, *_) = vs.vspace.get_select_bounds()
                with h5py.File(lima_dir / vs.file_name) as src:
                    shape = src[vs.dset_name].shape
                new_name = (
                    f"{target_dir}/{vs.file_name}"
                    if not Path(target_dir).is_absolute()
                    else str(Path(target_dir) / vs.file_name)
                )
                layout[v0 : v1 + 1] = h5py.VirtualSource(new_name, vs.dset_name, shape=shape)
            del meas[name]
            meas.create_virtual_dataset(name, layout)


@pytest.mark.parametrize("how", ["updir", "absolute"])
def test_process_refuses_links_leaving_the_folder(kmap, tmp_path, how):
    """Lima files one folder up (``../``) or named by an absolute path: refused in one line
    naming the master and the target; read with ``--follow-external-links``, same maps."""
    shutil.copytree(kmap.parent, tmp_path / "lima")
    run = tmp_path / "run"
    run.mkdir()
    master = run / kmap.name
    shutil.copy(kmap, master)
    _relink(master, "../lima" if how == "updir" else str(tmp_path / "lima"), tmp_path / "lima")
    res = _process(master, tmp_path / "no.zarr")
    assert res.exit_code != 0
    assert isinstance(res.exception, LinkOutsideFolderError)
    text = str(res.exception)
    assert str(master) in text and str(tmp_path / "lima") in text and "\n" not in text
    assert not (tmp_path / "no.zarr").exists()
    res = _process(master, tmp_path / "yes.zarr", "--follow-external-links")
    assert res.exit_code == 0, res.output
    ref = tmp_path / "ref.zarr"
    assert _process(kmap, ref).exit_code == 0
    a, b = open_results(tmp_path / "yes.zarr"), open_results(ref)
    np.testing.assert_array_equal(a["d_spacing"].values, b["d_spacing"].values)
    names = [e["name"] for e in json.loads(a.attrs["operando_inputs"])]
    assert sum(str(tmp_path / "lima") in n for n in names) == 12 * 3
    assert json.loads(a.attrs["operando_parameters"])["follow_external_links"] is True


# ---------------------------------------------------------------- tomography through the CLI


@pytest.fixture(scope="module")
def cell_scan(tmp_path_factory):
    """A small synthetic cell (Poisson counts, flats, darks) as DXchange, reconstructed once."""
    from operando.synthetic import simulate_cell, write_cell_dxchange

    cell = simulate_cell((56, 40, 40), voxel_size_um=10.0, n_voids=(2, 3), seed=5)
    return write_cell_dxchange(tmp_path_factory.mktemp("cell") / "cell.h5", cell, n_angles=90, flat_counts=6e4)


def _split_projections(scan: Path, master: Path, frames: Path, link_name: str) -> None:
    """``master``: ``scan`` with ``/exchange/data`` moved to ``frames`` behind an external link."""
    frames.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(scan, master)
    with h5py.File(master, "r+") as f:
        data = f["exchange/data"][()]
        del f["exchange/data"]
        f["exchange/data"] = h5py.ExternalLink(link_name, "/data")
    with h5py.File(frames, "w") as f:
        f["data"] = data


def _tomo(*args: object) -> object:
    from operando.cli import app

    return CliRunner().invoke(app, ["tomo", *(str(a) for a in args)])


def test_tomo_recon_links_inside_outside(cell_scan, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    _split_projections(cell_scan, run / "in.h5", run / "frames" / "proj.h5", "frames/proj.h5")
    _split_projections(cell_scan, run / "up.h5", tmp_path / "away" / "proj.h5", "../away/proj.h5")
    common = ("--center", 20, "--rings", "none", "--quiet")
    res = _tomo("recon", run / "in.h5", "-o", tmp_path / "in.zarr", *common)
    assert res.exit_code == 0, res.output
    inputs = json.loads(open_results(tmp_path / "in.zarr").attrs["operando_inputs"])
    assert [e["name"] for e in inputs] == ["in.h5", "frames/proj.h5"]
    assert inputs[1]["sha256"] == _sha256(run / "frames" / "proj.h5")
    assert inputs[1]["via"] == "in.h5: external link /exchange/data -> frames/proj.h5:/data"
    # ../ out of the folder: exit 2, one line naming the file and the target, nothing written
    done = subprocess.run(
        [EXE, "tomo", "recon", str(run / "up.h5"), "-o", str(tmp_path / "up.zarr"), *map(str, common)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in line and not done.stdout
    assert str(run / "up.h5") in line and str(tmp_path / "away" / "proj.h5") in line
    assert "--follow-external-links" in line and not (tmp_path / "up.zarr").exists()
    res = _tomo("recon", run / "up.h5", "-o", tmp_path / "up.zarr", *common, "--follow-external-links")
    assert res.exit_code == 0, res.output
    a, b = open_results(tmp_path / "in.zarr"), open_results(tmp_path / "up.zarr")
    np.testing.assert_array_equal(a["attenuation"].values, b["attenuation"].values)
    names = [e["name"] for e in json.loads(b.attrs["operando_inputs"])]
    assert names == ["up.h5", str(tmp_path / "away" / "proj.h5")]
    # tomo series: refused before any scan is computed, nothing left behind
    res = _tomo("series", run / "in.h5", run / "up.h5", "-o", tmp_path / "s.zarr", "--center", 20, "--quiet")
    assert isinstance(res.exception, LinkOutsideFolderError), res.output
    assert str(run / "up.h5") in str(res.exception)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["away", "in.zarr", "run", "up.zarr"]


def test_series_provenance_lists_the_lima_files_of_every_map(tmp_path):
    from operando.pipelines.sxdm import process_series

    masters = []
    for k in range(2):
        model = simulate_kmap(map_shape=(5, 5), n_angles=10, detector_shape=(40, 40), seed=6 + k, eta_step_deg=0.03)
        masters.append(write_bliss_kmap(model, tmp_path / f"map{k}", name=f"lmno_{k:04d}", frames_per_file=16))
    out = process_series(masters, tmp_path / "s.zarr", progress=False, phases="off")
    inputs = json.loads(open_results(out).attrs["operando_inputs"])
    for master in masters:
        lima = _lima_files(master)
        assert len(lima) == 10 * 2
        mine = {e["name"]: e for e in inputs if e.get("via", "").startswith(f"{master.name}: ")}
        assert sorted(mine) == lima
        assert all(mine[n]["sha256"] == _sha256(master.parent / n) for n in lima)


def test_spec_provenance_lists_its_edf_files(tmp_path):
    """A SPEC K-map's frames are multi-frame EDF files beside it: each one hashed into the provenance."""
    from operando.synthetic import write_spec_kmap

    model = simulate_kmap(map_shape=(5, 5), n_angles=10, detector_shape=(40, 40), seed=8, eta_step_deg=0.03)
    spec = write_spec_kmap(model, tmp_path / "spec")
    edf = sorted(p for p in spec.parent.rglob("*") if p.is_file() and ".edf" in p.name)
    assert len(edf) == 10
    res = _process(spec, tmp_path / "m.zarr")
    assert res.exit_code == 0, res.output
    inputs = json.loads(open_results(tmp_path / "m.zarr").attrs["operando_inputs"])
    listed = {e["name"]: e for e in inputs[1:]}
    assert sorted(listed) == sorted(p.relative_to(spec.parent).as_posix() for p in edf)
    for p in edf:
        entry = listed[p.relative_to(spec.parent).as_posix()]
        assert entry["sha256"] == _sha256(p) and entry["via"].startswith(f"{spec.name}: EDF frames of scan ")
