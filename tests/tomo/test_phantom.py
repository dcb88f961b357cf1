"""The synthetic cell phantom: its truth checked by brute force, its series and its DXchange file."""

import numpy as np
import pytest
from scipy import ndimage

from operando.errors import ParameterError
from operando.synthetic import LABELS, CellMaterials, simulate_cell, simulate_cell_series, write_cell_dxchange
from operando.tomo import contact_maps, li_edges, minus_log, normalize, read_dxchange, stripping_fraction

from ._cells import random_cell


def _brute_contact(labels, footprint, d):
    """Per-column loops, written from the issue's definition."""
    _, ny, nx = labels.shape
    out = np.zeros((2, ny, nx), bool)
    for y in range(ny):
        for x in range(nx):
            if not footprint[y, x]:
                continue
            for k, col in enumerate((labels[:, y, x], labels[::-1, y, x])):
                z = 0
                while col[z] == 5:
                    z += 1
                while col[z] in (1, 2):
                    z += 1
                out[k, y, x] = not any(col[max(z - d, 0) : z] == 2)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_truth_contact_and_edges_by_brute_force(seed):
    cell = random_cell(seed)
    assert np.array_equal(_brute_contact(cell.labels, cell.footprint, 5), cell.contact)
    # operando.tomo's own implementation agrees with the phantom's
    assert np.array_equal(np.asarray(contact_maps(cell.labels)), cell.contact)
    assert np.array_equal(np.asarray(li_edges(cell.labels)), cell.li_edge)
    assert 0.5 < cell.contact.sum() / (2 * cell.footprint.sum()) < 1.0  # voids take some contact


@pytest.mark.parametrize("seed", [3, 4])
def test_truth_voids(seed):
    cell = random_cell(seed)
    n = int(cell.void_ids.max())
    assert n == len(cell.void_interface) >= 6
    assert ndimage.label(cell.labels == LABELS["void"])[1] == n  # voids never touch
    assert np.array_equal(cell.void_ids > 0, cell.labels == LABELS["void"])
    smallest = []
    for i in range(1, n + 1):
        zz, yy, xx = np.nonzero(cell.void_ids == i)
        extent = (np.ptp(zz) + 1, np.ptp(yy) + 1, np.ptp(xx) + 1)
        assert min(extent) >= 3
        smallest.append(extent)
        # tangent to the Li edge of its interface
        k = cell.void_interface[i - 1]
        edge = cell.li_edge[k, yy, xx]
        assert np.any(zz == edge - 1) if k == 0 else np.any(zz == edge + 1)
    assert (3, 3, 3) in smallest
    mats = CellMaterials()
    assert np.all(cell.attenuation[cell.labels == LABELS["lithium"]] == np.float32(mats.lithium))
    assert np.all(cell.attenuation[cell.labels == LABELS["void"]] == 0)


def test_truth_volumes_are_label_counts():
    cell = random_cell(5)
    v = cell.voxel_volume_mm3
    assert cell.li_volume_mm3.sum() == pytest.approx(np.count_nonzero(cell.labels == 1) * v)
    assert cell.interphase_volume_mm3.sum() == pytest.approx(np.count_nonzero(cell.labels == 4) * v)
    assert cell.void_volume_mm3.sum() == pytest.approx(np.count_nonzero(cell.labels == 2) * v)
    px = (cell.voxel_size_um * 1e-3) ** 2
    assert np.allclose(cell.contact_area_mm2, cell.contact.sum(axis=(1, 2)) * px)


def test_series_strips_the_top_electrode():
    frames = simulate_cell_series(4, stripping_fraction=0.7, seed=3)
    li = np.array([f.li_volume_mm3 for f in frames])
    void = np.array([f.void_volume_mm3 for f in frames])
    ip = np.array([f.interphase_volume_mm3.sum() for f in frames])
    assert np.all(np.diff(li[:, 1]) < 0) and np.allclose(li[:, 0], li[0, 0])
    assert np.all(np.diff(void[:, 1]) > 0)
    assert ip[-1] > ip[0]
    assert np.all(np.diff([f.contact_area_mm2[1] for f in frames]) <= 0)
    charge = np.array([f.charge_mAh for f in frames])
    assert charge[0] == 0 and np.all(np.diff(charge) > 0)
    np.testing.assert_allclose(stripping_fraction(li, charge)[1:], 0.7, rtol=1e-9)


def test_bad_parameters():
    with pytest.raises(ParameterError, match="3 x 3 x 3"):
        simulate_cell(void_radius_px=(1.0, 3.0))
    with pytest.raises(ParameterError, match="does not fit"):
        simulate_cell((24, 32, 32))
    with pytest.raises(ParameterError, match="stripping_fraction"):
        simulate_cell_series(2, stripping_fraction=1.5)


def test_dxchange_file_reads_back_as_line_integrals(tmp_path):
    cell = simulate_cell((60, 48, 48), n_voids=(2, 2), seed=7)
    path = write_cell_dxchange(tmp_path / "cell.h5", cell, n_angles=90, ring_fraction=0.0, seed=1)
    scan = read_dxchange(path)
    assert scan.projections.shape == (90, 60, 48)
    assert scan.flats.shape[1:] == scan.darks.shape[1:] == (60, 48)
    assert scan.pixel_size_um == pytest.approx(cell.voxel_size_um)
    assert scan.angles_deg[1] == pytest.approx(2.0)
    line = np.asarray(minus_log(normalize(scan.projections, scan.flats, scan.darks)))
    # angle 0 projects along y: the line integral is the sum over y of mu * voxel
    expected = cell.attenuation.sum(axis=1) * cell.voxel_size_um * 1e-4
    # Poisson noise of ~2e4 counts is ~0.008 per pixel; averaged over the 60 rows it is ~0.001
    assert np.abs(line[0].mean(axis=0) - expected.mean(axis=0)).max() < 0.005
    assert np.corrcoef(line[0].ravel(), expected.ravel())[0, 1] > 0.99
    no_px = write_cell_dxchange(tmp_path / "nopx.h5", cell, n_angles=10, record_pixel_size=False)
    assert read_dxchange(no_px).pixel_size_um is None
