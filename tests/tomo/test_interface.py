"""Contact maps, contact regions, contact change and cell quantities against the phantom's truth."""

import dask.array as da
import numpy as np
import pytest

from operando.errors import ParameterError
from operando.synthetic import simulate_cell_series
from operando.tomo import (
    analyse_interfaces,
    cell_quantities,
    contact_change,
    contact_maps,
    contact_regions,
    li_charge_mAh,
    li_edges,
    stripping_fraction,
)

from ._cells import random_cell


def test_edges_and_contact_of_hand_made_columns():
    cols = np.array(
        [
            [5, 1, 1, 1, 1, 1, 2, 4, 0, 0, 4, 1, 1, 1, 1, 5],  # void right at the bottom edge
            [5, 2, 1, 1, 1, 1, 1, 4, 0, 0, 4, 1, 1, 1, 2, 5],  # voids 6 and 3 voxels from the edges
            [5, 4, 0, 0, 0, 3, 0, 0, 0, 0, 0, 4, 1, 1, 1, 5],  # bottom Li fully stripped
            [5] * 16,  # outside the cell
        ]
    ).T[:, None, :]
    edges = np.asarray(li_edges(cols))[:, 0]
    assert edges.tolist() == [[7, 7, 1, -1], [10, 10, 11, -1]]
    contact = np.asarray(contact_maps(cols))[:, 0]
    assert contact.tolist() == [[False, True, True, False], [True, False, True, False]]
    assert np.asarray(contact_maps(cols, void_distance_px=6))[0, 0].tolist() == [False, False, True, False]
    with pytest.raises(ParameterError):
        contact_maps(cols, void_distance_px=0)


def test_contact_regions_and_small_share():
    c = np.zeros((10, 10), bool)
    c[:5, :5] = True  # 25 px
    c[7:, 7:] = True  # 9 px
    c[0, 9] = True  # 1 px, touching the big one only diagonally? no: far away
    regions, areas, share = contact_regions(c, pixel_area_mm2=0.001, small_region_mm2=0.01)
    assert regions.max() == 3
    assert sorted(areas.round(6).tolist()) == [0.001, 0.009, 0.025]
    assert share == pytest.approx(10 / 35)
    d = np.zeros((3, 3), bool)
    d[0, 0] = d[1, 1] = True
    assert contact_regions(d, pixel_area_mm2=1.0, connectivity=1)[0].max() == 2
    assert contact_regions(d, pixel_area_mm2=1.0, connectivity=2)[0].max() == 1
    assert np.isnan(contact_regions(np.zeros((3, 3), bool), pixel_area_mm2=1.0)[2])


@pytest.mark.parametrize("seed", [0, 1])
def test_analyse_interfaces_on_truth_labels(seed):
    cell = random_cell(seed)
    ds = analyse_interfaces(cell.labels, voxel_size_um=cell.voxel_size_um)
    assert ds.attrs["operando_kind"] == "tomo-interface"
    assert np.array_equal(ds["contact"].values, cell.contact)
    np.testing.assert_allclose(ds["contact_area_mm2"].values, cell.contact_area_mm2)
    px = (cell.voxel_size_um * 1e-3) ** 2
    np.testing.assert_allclose(ds["cell_area_mm2"].values, cell.footprint.sum() * px)
    table = ds["region_area_mm2"].values
    np.testing.assert_allclose(np.nansum(table, axis=1), cell.contact_area_mm2)
    assert np.all(np.diff(table[0][np.isfinite(table[0])]) <= 0)  # largest first
    lazy = analyse_interfaces(da.from_array(cell.labels, chunks=(-1, 20, 25)), voxel_size_um=cell.voxel_size_um)
    assert lazy.equals(ds)


def test_quantities_on_truth_labels():
    cell = random_cell(3)
    q = cell_quantities(cell.labels, voxel_size_um=cell.voxel_size_um)
    np.testing.assert_allclose(q["li_volume_electrode_mm3"].values, cell.li_volume_mm3)
    np.testing.assert_allclose(q["interphase_volume_interface_mm3"].values, cell.interphase_volume_mm3)
    np.testing.assert_allclose(q["void_volume_interface_mm3"].values, cell.void_volume_mm3)
    area_mm2 = cell.footprint.sum() * (cell.voxel_size_um * 1e-3) ** 2
    np.testing.assert_allclose(
        q["interphase_thickness_interface_um"].values, cell.interphase_volume_mm3 / area_mm2 * 1e3
    )
    # stack: collector to collector; the phantom's interface heights are known through its Li edges
    inner = (cell.labels != 5).sum(axis=0)[cell.footprint]
    assert float(q["stack_thickness_um"]) == pytest.approx(inner.mean() * cell.voxel_size_um)
    for k in (0, 1):
        want = cell.li_edge[k][cell.footprint].mean() * cell.voxel_size_um
        assert float(q["interface_position_um"][k]) == pytest.approx(want)
    lazy = cell_quantities(da.from_array(cell.labels, chunks=(-1, 16, 31)), voxel_size_um=cell.voxel_size_um)
    for name in q.data_vars:
        np.testing.assert_allclose(lazy[name].values, q[name].values, err_msg=name)


def test_contact_change_and_stripping_fraction_over_a_series():
    frames = simulate_cell_series(3, stripping_fraction=0.85, seed=5)
    px = (frames[0].voxel_size_um * 1e-3) ** 2
    ch = contact_change(frames[0].contact, frames[2].contact, pixel_area_mm2=px)
    lost = (frames[0].contact & ~frames[2].contact).sum(axis=(1, 2)) * px
    np.testing.assert_allclose(ch["lost_area_mm2"].values, lost)
    assert ch["lost_area_mm2"].values[1] > 0 and ch["lost_area_mm2"].values[0] == 0
    np.testing.assert_allclose(
        ch["lost_area_mm2"] - ch["gained_area_mm2"], frames[0].contact_area_mm2 - frames[2].contact_area_mm2
    )
    vols = [cell_quantities(f.labels, voxel_size_um=f.voxel_size_um)["li_volume_electrode_mm3"].values for f in frames]
    frac = stripping_fraction(np.array(vols), [f.charge_mAh for f in frames])
    assert np.isnan(frac[0])
    np.testing.assert_allclose(frac[1:], 0.85, rtol=1e-9)
    with pytest.raises(ParameterError):
        contact_change(frames[0].contact, frames[0].contact[:, 1:], pixel_area_mm2=px)
    with pytest.raises(ParameterError):
        stripping_fraction(np.ones((3, 3)), np.ones(3))


def test_li_charge():
    # 1 cm^3 of Li: 0.534 g / 6.941 g/mol * 96485 C/mol / 3.6 C/mAh = 2062 mAh (Li's 3861 mAh/g x 0.534 g)
    assert float(li_charge_mAh(1000.0)) == pytest.approx(3861.0 * 0.534, rel=1e-3)
