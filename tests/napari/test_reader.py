"""The napari reader: every kind of store opens in napari's headless viewer model with its
physical scale, units and label layers, through the installed npe2 manifest."""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

with warnings.catch_warnings():
    # napari's and npe2's pydantic models still use v1-style config (their warnings, not ours)
    warnings.simplefilter("ignore", DeprecationWarning)
    napari = pytest.importorskip("napari", reason="napari is not installed (extra `napari`, part of `test`)")
    from napari.components import ViewerModel

from operando.errors import OperandoError
from operando.napari import get_reader, store_layers
from operando.store import write_results

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _segmentation(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=(6, 8, 10)).astype(np.uint8)
    vol = rng.normal(size=labels.shape).astype(np.float32)
    voxel = 2.5
    coords = {d: (d, np.arange(n) * voxel, {"units": "um"}) for d, n in zip("zyx", labels.shape, strict=True)}
    ds = xr.Dataset(
        {
            "labels": (("z", "y", "x"), labels, {"flag_values": [0, 1, 2, 3, 4], "flag_meanings": "a b c d e"}),
            "attenuation": (("z", "y", "x"), vol, {"units": "1/cm"}),
        },
        coords=coords,
        attrs={"operando_kind": "tomo-segmentation", "voxel_size_um": voxel},
    )
    return write_results(ds, tmp_path / "seg.zarr", parameters={}, inputs=[])


def _open(path: Path) -> ViewerModel:
    viewer = ViewerModel()
    viewer.open(str(path), plugin="operando")
    return viewer


def test_manifest_is_installed_as_an_entry_point():
    names = [ep.name for ep in entry_points(group="napari.manifest")]
    assert "operando" in names
    from npe2 import PluginManager

    pm = PluginManager.instance()
    pm.discover()
    assert "operando" in {m.name for m in pm.iter_manifests()}


def test_tomography_volume_and_labels_open_with_voxel_scale(tmp_path):
    store = _segmentation(tmp_path)
    viewer = _open(store)
    layers = {layer.metadata["variable"]: layer for layer in viewer.layers}
    assert set(layers) == {"labels", "attenuation"}
    lab, vol = layers["labels"], layers["attenuation"]
    assert type(lab).__name__ == "Labels" and type(vol).__name__ == "Image"
    np.testing.assert_allclose(lab.scale, [2.5, 2.5, 2.5])
    assert [str(u) for u in vol.units] == ["micrometer"] * 3
    assert lab.axis_labels == ("z", "y", "x")
    # the data are the store's, lazily
    with xr.open_zarr(store, consolidated=False) as ds:
        np.testing.assert_array_equal(np.asarray(lab.data), ds["labels"].values)
    assert lab.visible  # the kind's own variable starts visible, the rest hidden
    assert not vol.visible


def test_every_demo_store_with_pictures_opens(demo_run):
    out, _ = demo_run
    results = Path(out) / "results"
    seen = {}
    for store in sorted(results.glob("*.zarr")):
        layers = store_layers(store)
        if not layers:
            continue
        viewer = _open(store)
        assert len(viewer.layers) == len(layers)
        assert any(layer.visible for layer in viewer.layers)
        seen[store.name] = {layer.metadata["variable"]: layer for layer in viewer.layers}
    sxdm = seen["sxdm_maps.zarr"]
    d = sxdm["d_spacing"]
    assert d.ndim == 3 and d.axis_labels == ("frame", "y", "x") and d.visible
    with xr.open_zarr(results / "sxdm_maps.zarr", consolidated=False) as ds:
        step = float(np.diff(ds["x"].values).mean())
    assert d.scale[2] == pytest.approx(step) and str(d.units[2]) == "micrometer"
    contact = seen["tomo_series.zarr"]["contact"]
    assert type(contact).__name__ == "Labels" and contact.axis_labels == ("frame", "interface", "y", "x")
    profile = seen["mri_layers.zarr"]["profile"]
    assert str(profile.units[-1]) == "millimeter"


def test_other_paths_are_left_to_other_readers(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    assert get_reader(str(tmp_path / "a.txt")) is None
    assert get_reader(str(tmp_path)) is None  # a folder that is no store


def test_a_damaged_store_is_refused_with_its_reason(tmp_path):
    store = _segmentation(tmp_path)
    chunk = next(p for p in (store / "labels").rglob("*") if p.is_file() and p.name != "zarr.json")
    chunk.write_bytes(chunk.read_bytes()[:-1])
    with pytest.raises(OperandoError, match="seg.zarr"):
        store_layers(store)
