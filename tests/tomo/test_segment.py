"""Segmentation against the phantom's truth: contact area, volumes, voids; dask; classifier; end to end."""

import dask
import dask.array as da
import numpy as np
import pytest

from operando.errors import CorruptFileError, ParameterError
from operando.tomo import (
    Thresholds,
    analyse_interfaces,
    auto_thresholds,
    cell_quantities,
    load_classifier,
    save_classifier,
    segment_cell,
    train_interphase_classifier,
)

from ._cells import random_cell, void_matches

NOISE = 0.6  # 1/cm: 5 % of the electrolyte's attenuation, Li/void contrast-to-noise 5


def _errors(cell, labels):
    """Relative errors of contact area (2,), Li volume (2,), interphase volume (2,)."""
    seg = analyse_interfaces(labels, voxel_size_um=cell.voxel_size_um)
    q = cell_quantities(labels, voxel_size_um=cell.voxel_size_um)
    contact = seg["contact_area_mm2"].values / cell.contact_area_mm2 - 1
    li = q["li_volume_electrode_mm3"].values / cell.li_volume_mm3 - 1
    ip = q["interphase_volume_interface_mm3"].values / cell.interphase_volume_mm3 - 1
    return contact, li, ip


@pytest.mark.parametrize("seed", range(6))
def test_thresholds_and_traversal_on_noisy_phantoms(seed):
    cell = random_cell(seed, noise_sigma=NOISE)
    labels = segment_cell(cell.volume)
    contact, li, ip = _errors(cell, labels)
    assert np.all(np.abs(contact) < 0.02), contact
    assert np.all(np.abs(li) < 0.03), li
    assert np.all(np.abs(ip) < 0.03), ip
    ious, false = void_matches(cell.void_ids, labels)
    assert np.all(ious >= 0.5), ious  # every void, down to 3 x 3 x 3 voxels, found
    assert len(false) <= 2
    assert np.array_equal((labels != 5).any(axis=0), cell.footprint)


@pytest.fixture(scope="module")
def classifier():
    """Trained on three y slices of a phantom of another seed, at CNR 3."""
    train = random_cell(100, noise_sigma=1.0)
    sparse = np.full(train.labels.shape, 255, np.uint8)
    for frac in (0.3, 0.5, 0.7):
        y = int(frac * train.labels.shape[1])
        sparse[:, y, :] = train.labels[:, y, :]
    return train_interphase_classifier(train.volume, sparse, n_estimators=30)


@pytest.mark.parametrize("seed", [11])
def test_classifier_at_higher_noise(classifier, seed, tmp_path):
    cell = random_cell(seed, noise_sigma=1.0)
    labels = segment_cell(cell.volume, classifier=classifier)
    contact, li, ip = _errors(cell, labels)
    assert np.all(np.abs(contact) < 0.02), contact
    assert np.all(np.abs(li) < 0.03), li
    assert np.all(np.abs(ip) < 0.03), ip
    ious, _ = void_matches(cell.void_ids, labels)
    assert np.all(ious >= 0.4), ious
    # the saved classifier gives the same labels
    again = load_classifier(save_classifier(classifier, tmp_path / "rf.pkl"))
    assert np.array_equal(segment_cell(cell.volume, classifier=again), labels)


def test_classifier_errors(tmp_path):
    vol = np.zeros((8, 8, 8), np.float32)
    with pytest.raises(ParameterError, match="no interphase"):
        train_interphase_classifier(vol, np.zeros((8, 8, 8), np.uint8))
    with pytest.raises(ParameterError, match="same"):
        train_interphase_classifier(vol, np.zeros((8, 8, 7), np.uint8))
    bad = tmp_path / "bad.joblib"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(CorruptFileError, match=r"bad\.joblib"):
        load_classifier(bad)


def test_auto_thresholds_near_the_material_midpoints():
    cell = random_cell(2, noise_sigma=NOISE)
    t = auto_thresholds(cell.volume)
    m = cell.materials
    assert t.void == pytest.approx(0.5 * (m.air + m.lithium), abs=0.3)
    assert t.lithium == pytest.approx(0.5 * (m.lithium + m.interphase), abs=0.3)
    assert t.electrolyte == pytest.approx(0.5 * (m.interphase + m.electrolyte), abs=0.3)
    assert t.collector == pytest.approx(0.5 * (m.electrolyte + m.collector), abs=0.5)
    assert t.electrolyte_level == pytest.approx(m.electrolyte, abs=0.3)


def test_dask_is_lazy_and_equals_numpy():
    cell = random_cell(4, noise_sigma=NOISE)
    t = auto_thresholds(cell.volume)
    computes = []
    with dask.config.set(scheduler=lambda dsk, keys, **kw: computes.append(1) or dask.get(dsk, keys, **kw)):
        lazy = segment_cell(da.from_array(cell.volume, chunks=(-1, 17, 23)), thresholds=t)
        assert isinstance(lazy, da.Array) and not computes
        out = lazy.compute()
    assert np.array_equal(out, segment_cell(cell.volume, thresholds=t))
    assert out.dtype == np.uint8


def test_bad_input():
    with pytest.raises(ParameterError, match="increase"):
        Thresholds(void=2.0, lithium=1.0, electrolyte=3.0)
    with pytest.raises(ParameterError, match=r"\(z, y, x\)"):
        segment_cell(np.zeros((4, 4)))
    with pytest.raises(ParameterError, match="distinct"):
        auto_thresholds(np.zeros((4, 4, 4)))


def test_classifier_blocks_equal_the_whole_volume():
    """Column blocks overlap enough that the features (and labels) match the whole-volume ones."""
    train = random_cell(101, noise_sigma=1.0)
    sparse = np.full(train.labels.shape, 255, np.uint8)
    sparse[:, 30, :] = train.labels[:, 30, :]
    clf = train_interphase_classifier(train.volume, sparse, n_estimators=10, sigma_max=2.0)
    cell = random_cell(3, noise_sigma=1.0)
    t = auto_thresholds(cell.volume)
    whole = segment_cell(cell.volume, thresholds=t, classifier=clf)
    blocks = segment_cell(da.from_array(cell.volume, chunks=(-1, 20, 20)), thresholds=t, classifier=clf)
    assert np.array_equal(blocks.compute(), whole)
