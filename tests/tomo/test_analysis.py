"""The paper's subvolume and between-scan analyses (operando.tomo._analysis) against phantoms with known values.

Every phantom is generated here: random pores of known digital volume in an electrolyte slab,
interfaces of known height fields, interphase layers of known thickness, textured volumes
shifted by known sub-voxel amounts with noise, contact maps with known losses and gains.
"""

import itertools

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage

from operando.errors import ParameterError
from operando.tomo import (
    ELECTROLYTE,
    INTERPHASE,
    LITHIUM,
    OUTSIDE,
    PORE,
    VOID,
    contact_change_registered,
    contact_maps,
    interphase_thickness_maps,
    local_thickness,
    phase_volumes,
    register_volumes,
    roughness_rms,
    roughness_vs_voids,
    stack_positions,
    subvolume_density,
)


def _ball(r):
    g = np.arange(-int(np.ceil(r)), int(np.ceil(r)) + 1)
    zz, yy, xx = np.meshgrid(g, g, g, indexing="ij")
    return zz**2 + yy**2 + xx**2 <= r * r


def _stack(shape, bottom, top, *, collector=4):
    """Labels: collector | Li | electrolyte (z from ``bottom`` to ``top`` per column) | Li | collector."""
    nz = shape[0]
    z = np.broadcast_to(np.arange(nz)[:, None, None], shape)
    lab = np.full(shape, ELECTROLYTE, np.uint8)
    lab[z < bottom[None]] = LITHIUM
    lab[z > top[None]] = LITHIUM
    lab[(z < collector) | (z >= nz - collector)] = OUTSIDE
    return lab


# ------------------------------------------------------------------ density


def _porous_slab(seed, porosity, shape=(120, 90, 90), slab=(20, 100)):
    """Electrolyte slab with random non-overlapping pores; returns labels and the true pore fraction of the slab."""
    rng = np.random.default_rng(seed)
    lab = np.full(shape, OUTSIDE, np.uint8)
    lab[slab[0] : slab[1]] = ELECTROLYTE
    lab[: slab[0]] = LITHIUM
    lab[slab[1] :] = LITHIUM
    n_slab = (slab[1] - slab[0]) * shape[1] * shape[2]
    placed = 0
    while placed < porosity * n_slab:
        r = rng.uniform(1.5, 3.5)
        b = _ball(r)
        k = b.shape[0]
        c = rng.integers([slab[0], 0, 0], [slab[1] - k, shape[1] - k, shape[2] - k])
        sub = lab[c[0] : c[0] + k, c[1] : c[1] + k, c[2] : c[2] + k]
        if (sub[b] != ELECTROLYTE).any():
            continue
        sub[b] = PORE
        placed += int(b.sum())
    return lab, placed / n_slab


@pytest.mark.parametrize("seed", [0, 1])
def test_density_from_random_cubes_matches_the_pellet(seed):
    lab, phi = _porous_slab(seed, 0.032)
    res = subvolume_density(lab, voxel_size_um=1.7, edge_um=34.0, n=10, seed=seed)
    e = res.edge_vox
    assert e == 20 and res.density.shape == (10,)
    # every cube wholly in the pellet, none overlapping, density counted independently
    brute = []
    for i, c in enumerate(res.corners_vox):
        cube = lab[c[0] : c[0] + e, c[1] : c[1] + e, c[2] : c[2] + e]
        assert set(np.unique(cube)) <= {ELECTROLYTE, PORE}
        brute.append((cube == ELECTROLYTE).sum() / e**3)
        for o in res.corners_vox[i + 1 :]:
            assert (np.abs(c - o) >= e).any()
    assert res.density == pytest.approx(np.array(brute), abs=1e-12)
    assert res.std == pytest.approx(np.std(brute, ddof=1), rel=1e-9)
    # ten 8000-voxel cubes of a random pore field: the mean within 1 % of the pellet's density
    assert res.mean == pytest.approx(1 - phi, abs=0.01)
    assert 0 < res.std < 0.03
    # the same cubes from Dask labels; another seed draws other cubes
    lazy = subvolume_density(da.from_array(lab, chunks=(40, 45, 45)), voxel_size_um=1.7, edge_um=34.0, seed=seed)
    assert np.array_equal(lazy.corners_vox, res.corners_vox) and np.allclose(lazy.density, res.density)
    other = subvolume_density(lab, voxel_size_um=1.7, edge_um=34.0, seed=seed + 10)
    assert not np.array_equal(other.corners_vox, res.corners_vox)


def test_density_sd_follows_a_porosity_gradient():
    """Half the pellet at 1 % porosity, half at 8 %: cubes on either side, s.d. near the half difference."""
    lo, _ = _porous_slab(3, 0.01)
    hi, _ = _porous_slab(4, 0.08)
    lab = lo.copy()
    lab[:, 45:] = hi[:, 45:]
    res = subvolume_density(lab, voxel_size_um=1.0, edge_um=20, n=12, seed=2)
    sides = res.corners_vox[:, 1] >= 45
    assert 0 < sides.sum() < 12  # both halves drawn
    assert res.density[~sides].mean() - res.density[sides].mean() == pytest.approx(0.07, abs=0.02)
    assert res.std > 0.02


def test_density_refuses_what_does_not_fit():
    lab, _ = _porous_slab(0, 0.02)
    with pytest.raises(ParameterError, match="non-overlapping cubes"):
        subvolume_density(lab, voxel_size_um=1.0, edge_um=60, n=10)
    with pytest.raises(ParameterError, match="under two voxels"):
        subvolume_density(lab, voxel_size_um=1.0, edge_um=1.0)
    with pytest.raises(ParameterError, match=r"\(z, y, x\)"):
        subvolume_density(lab[0], voxel_size_um=1.0, edge_um=10)


# ------------------------------------------------------------------ positions and roughness


def _height_field(ny, nx, *, amp, period, tilt, base):
    y, x = np.mgrid[:ny, :nx]
    return base + tilt[0] * y + tilt[1] * x + amp * np.cos(2 * np.pi * x / period) * np.cos(2 * np.pi * y / period)


def test_positions_are_the_faces_of_known_layers():
    rng = np.random.default_rng(5)
    shape = (80, 30, 40)
    bottom = rng.integers(12, 25, shape[1:])
    top = rng.integers(50, 66, shape[1:])
    lab = _stack(shape, bottom, top)
    lab[:, :3, :] = OUTSIDE  # three rows of columns outside the cell
    lab[10, 5, 5] = VOID  # a void in the bottom electrode does not move its edge
    pos = stack_positions(lab, voxel_size_um=2.5)
    cell = np.ones(shape[1:], bool)
    cell[:3] = False
    assert np.isnan(pos.collector_um[:, ~cell]).all() and np.isnan(pos.interface_um[:, ~cell]).all()
    assert np.allclose(pos.collector_um[0][cell], (4 - 0.5) * 2.5)
    assert np.allclose(pos.collector_um[1][cell], (shape[0] - 4 - 0.5) * 2.5)
    assert np.allclose(pos.interface_um[0][cell], (bottom[cell] - 0.5) * 2.5)
    assert np.allclose(pos.interface_um[1][cell], (top[cell] + 0.5) * 2.5)
    lazy = stack_positions(da.from_array(lab, chunks=(40, 16, 16)), voxel_size_um=2.5)
    assert np.allclose(lazy.interface_um, pos.interface_um, equal_nan=True)


@pytest.mark.parametrize(("amp", "tilt"), [(6.0, (0.05, -0.1)), (3.0, (0.0, 0.2)), (0.0, (0.1, 0.1))])
def test_roughness_of_a_known_height_field(amp, tilt):
    """A cos x cos y field (RMS A / 2) on a tilted plane, discretised to voxel faces (+1/12 voxel^2)."""
    ny = nx = 60
    voxel = 1.7
    h = _height_field(ny, nx, amp=amp, period=20, tilt=tilt, base=30.0)
    bottom = np.ceil(h).astype(int)  # Li where z < h: the edge is the first voxel at or above h
    lab = _stack((100, ny, nx), bottom, np.full((ny, nx), 80))
    pos = stack_positions(lab, voxel_size_um=voxel)
    expected = np.sqrt(amp**2 / 4 + 1 / 12) * voxel
    assert roughness_rms(pos.interface_um[0]) == pytest.approx(expected, rel=0.05, abs=0.05 * voxel)
    # without removing the plane the tilt counts as roughness
    if any(tilt):
        y, x = np.mgrid[:ny, :nx]
        tilt_var = np.var(tilt[0] * y + tilt[1] * x) * voxel**2
        with_tilt = roughness_rms(pos.interface_um[0], detrend="mean")
        assert with_tilt == pytest.approx(np.sqrt(expected**2 + tilt_var), rel=0.05)
    assert roughness_rms(pos.interface_um[1]) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ParameterError, match="detrend"):
        roughness_rms(h, detrend="quadric")


def test_roughness_against_void_fraction():
    """Tiles of growing amplitude: voids that follow the amplitude correlate, random voids do not."""
    rng = np.random.default_rng(7)
    ny, nx, tile = 80, 80, 10
    y, x = np.mgrid[:ny, :nx]
    amp = 0.5 + 4.0 * (x // tile) / (nx // tile) + 2.0 * (y // tile) / (ny // tile)
    h = amp * rng.normal(size=(ny, nx))
    follow = rng.random((ny, nx)) < amp / amp.max() * 0.6
    res = roughness_vs_voids(h, follow, tile_px=tile)
    assert res.rms_um.size == 64
    # local RMS of white noise of s.d. amp: the tile's amplitude within 30 %
    tiles_amp = amp[res.tile_yx[:, 0], res.tile_yx[:, 1]]
    assert res.rms_um == pytest.approx(tiles_amp, rel=0.3)
    assert res.spearman_rho > 0.8 and res.p_value < 1e-6
    independent = rng.random((ny, nx)) < 0.3
    free = roughness_vs_voids(h, independent, tile_px=tile)
    assert abs(free.spearman_rho) < 0.35
    # columns outside the cell (NaN) drop their tiles
    h2 = h.copy()
    h2[:20] = np.nan
    assert roughness_vs_voids(h2, follow, tile_px=tile).rms_um.size == 48
    flat = roughness_vs_voids(np.zeros((30, 30)), follow[:30, :30], tile_px=10)
    assert np.isnan(flat.spearman_rho)


# ------------------------------------------------------------------ thickness


def _brute_local_thickness(mask):
    """The definition, voxel by voxel: the largest 2 edt(c) - 1 over centres c nearer than edt(c)."""
    edt = ndimage.distance_transform_edt(mask)
    pts = np.argwhere(mask)
    radii = edt[mask]
    out = np.zeros(mask.shape)
    for p in pts:
        d = np.sqrt(((pts - p) ** 2).sum(axis=1))
        out[tuple(p)] = (2 * radii[d < radii] - 1).max()
    return out


def test_local_thickness_of_balls_slabs_and_random_blobs():
    m = np.zeros((31, 31, 31), bool)
    for r in (3.5, 5.5, 7.3):
        m[:] = False
        b = _ball(r)
        m[5 : 5 + b.shape[0], 5 : 5 + b.shape[0], 5 : 5 + b.shape[0]] = b
        t = local_thickness(m)
        # a ball of radius R sampled on the grid: its diameter within one voxel
        assert np.all((t[m] > 2 * r - 1) & (t[m] <= 2 * r + 1)) and np.all(t[~m] == 0)
    for t_px in (3, 4, 7, 8):
        slab = np.zeros((20, 15, 15), bool)
        slab[4 : 4 + t_px] = True
        t = local_thickness(slab)
        expected = t_px if t_px % 2 else t_px - 1  # balls centred on voxel centres
        assert np.all(t[slab] == expected)
    rng = np.random.default_rng(11)
    blob = ndimage.gaussian_filter(rng.normal(size=(18, 18, 18)), 2.0) > 0.05
    blob = np.pad(blob, 1)
    assert np.allclose(local_thickness(blob), _brute_local_thickness(blob))
    with pytest.raises(ParameterError, match="fills"):
        local_thickness(np.ones((4, 4, 4), bool))


def test_interphase_thickness_maps_of_known_layers():
    shape = (60, 24, 30)
    lab = _stack(shape, np.full(shape[1:], 15), np.full(shape[1:], 44))
    lab[15:18] = INTERPHASE  # 3 voxels at interface 0
    lab[37:45, :, :15] = INTERPHASE  # 8 voxels at interface 1 on half the columns ...
    lab[39:45, :, 15:] = INTERPHASE  # ... 6 voxels on the other half
    res = interphase_thickness_maps(lab, voxel_size_um=2.0)
    assert np.allclose(res.map_um[0], 6.0)
    # away from the step, the even layers measure one voxel less (balls centred on voxels)
    assert np.allclose(res.map_um[1][:, :12], 14.0) and np.allclose(res.map_um[1][:, 18:], 10.0)
    assert res.mean_um[0] == pytest.approx(6.0) and res.std_um[0] == pytest.approx(0.0)
    assert 10.0 < res.mean_um[1] < 14.0 and res.std_um[1] == pytest.approx(2.0, abs=0.3)
    lazy = interphase_thickness_maps(da.from_array(lab, chunks=(20, 12, 15)), voxel_size_um=2.0)
    assert np.array_equal(lazy.map_um, res.map_um, equal_nan=True)
    no = lab.copy()
    no[no == INTERPHASE] = ELECTROLYTE
    empty = interphase_thickness_maps(no, voxel_size_um=2.0)
    assert np.isnan(empty.map_um).all() and np.isnan(empty.mean_um).all()


# ------------------------------------------------------------------ volumes in a box


def test_phase_volumes_in_a_box():
    v = 1.7
    shape = (60, 40, 40)
    lab = _stack(shape, np.full(shape[1:], 20), np.full(shape[1:], 40))
    lab[20:24] = INTERPHASE
    lab[10:14, 10:20, 10:20] = VOID  # 400 voxels of void in the bottom Li
    # the box z 8..30, y 5..35, x 5..35 voxels, given in um at voxel centres
    box_um = ((8 * v, 30 * v), (5 * v, 35 * v), (5 * v, 35 * v))
    got = phase_volumes(lab, box_um, voxel_size_um=v)
    vox = (v * 1e-3) ** 3
    assert got["void"] == pytest.approx(400 * vox)
    assert got["lithium"] == pytest.approx((12 * 900 - 400) * vox)
    assert got["interphase"] == pytest.approx(4 * 900 * vox)
    assert got["electrolyte"] == pytest.approx(6 * 900 * vox)
    assert got["box"] == pytest.approx(22 * 900 * vox)
    same = phase_volumes(da.from_array(lab, chunks=20), ((8, 30), (5, 35), (5, 35)), voxel_size_um=v, units="vox")
    assert same == pytest.approx(got)
    with pytest.raises(ParameterError, match="outside the volume"):
        phase_volumes(lab, ((0, 70), (0, 10), (0, 10)), voxel_size_um=1.0, units="vox")
    with pytest.raises(ParameterError, match="units"):
        phase_volumes(lab, ((0, 7), (0, 10), (0, 10)), voxel_size_um=1.0, units="mm")


# ------------------------------------------------------------------ between scans


def _textured_cell(rng, n=48):
    """A layered volume with texture (pores, grains) and a cylinder outline, attenuation-like values."""
    big = n + 16
    vol = 1.0 + 1.2 * ndimage.gaussian_filter(rng.normal(size=(big,) * 3), 1.5)
    vol[: big // 3] -= 0.6  # Li below
    vol[-big // 4 :] -= 0.6  # Li above
    yy, xx = np.mgrid[:big, :big] - big / 2
    vol[:, (yy**2 + xx**2) > (0.45 * big) ** 2] = 0.05
    return vol


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_registration_recovers_a_sub_voxel_shift_under_noise(seed):
    rng = np.random.default_rng(seed)
    vol = _textured_cell(rng)
    true = rng.uniform(-3, 3, 3)
    moved = ndimage.shift(vol, true, order=3, mode="nearest")
    crop = (slice(8, -8),) * 3
    sigma = 0.2  # noise on the reconstruction at twice the texture's s.d. (0.1)
    a = vol[crop] + rng.normal(0, sigma, vol[crop].shape)
    b = moved[crop] + rng.normal(0, sigma, vol[crop].shape)
    shift, _ = register_volumes(a, b)
    assert shift == pytest.approx(-true, abs=0.1)
    with pytest.raises(ParameterError, match="same"):
        register_volumes(a, b[:-1])


def test_contact_change_after_registration_counts_only_the_real_change():
    """Scan 2 is scan 1 moved by (2.4, -1.6) columns, with one contact disc lost and one gained."""
    rng = np.random.default_rng(3)
    ny = nx = 80
    yy, xx = np.mgrid[:ny, :nx]
    base = ndimage.gaussian_filter(rng.normal(size=(ny, nx)), 4) > -0.2
    base &= (yy - 40) ** 2 + (xx - 40) ** 2 < 33**2
    lost_disc = ((yy - 30) ** 2 + (xx - 30) ** 2 < 6**2) & base
    gained_disc = ((yy - 50) ** 2 + (xx - 52) ** 2 < 5**2) & ~base
    after_true = (base & ~lost_disc) | gained_disc
    shift = np.array([2.4, -1.6])
    after = ndimage.shift(after_true.astype(float), shift, order=1) >= 0.5
    before = np.stack([base, base])
    after2 = np.stack([after, ndimage.shift(base.astype(float), shift, order=1) >= 0.5])
    pix = (1.7e-3) ** 2
    res = contact_change_registered(before, after2, pixel_area_mm2=pix, shift_yx=-shift)
    assert res["lost_area_mm2"][0] == pytest.approx(lost_disc.sum() * pix, rel=0.15)
    assert res["gained_area_mm2"][0] == pytest.approx(gained_disc.sum() * pix, rel=0.15)
    # the interface that did not change: only the rounding of two interpolations at its outline
    assert res["lost_fraction"][1] < 0.03 and res["gained_fraction"][1] < 0.03
    assert res["change_fraction"][0] == pytest.approx((gained_disc.sum() - lost_disc.sum()) / base.sum(), abs=0.03)
    # without registration the move itself reads as lost and gained contact
    raw = contact_change_registered(before, after2, pixel_area_mm2=pix)
    assert raw["lost_fraction"][1] > 5 * max(res["lost_fraction"][1], 0.005)
    with pytest.raises(ParameterError, match="shapes"):
        contact_change_registered(before, after2[:, :-1], pixel_area_mm2=pix)


def test_registered_contact_maps_of_two_segmented_scans():
    """End to end on labels: the second scan is the first moved by whole columns, contact maps then compared."""
    shape = (50, 40, 40)
    lab = _stack(shape, np.full(shape[1:], 15), np.full(shape[1:], 35))
    lab[12:15, 10:16, 10:16] = VOID  # a void on interface 0: 36 columns out of contact
    moved = np.roll(lab, (3, -2), axis=(1, 2))
    c0, c1 = np.asarray(contact_maps(lab)), np.asarray(contact_maps(moved))
    vol0 = np.where(lab == ELECTROLYTE, 1.0, 0.3) + ndimage.gaussian_filter(
        np.random.default_rng(1).normal(size=shape), 1
    )
    vol1 = np.roll(vol0, (3, -2), axis=(1, 2))
    shift, _ = register_volumes(vol0, vol1)
    assert shift == pytest.approx([0, -3, 2], abs=0.1)
    res = contact_change_registered(c0, c1, pixel_area_mm2=1.0, shift_yx=shift[1:])
    assert res["lost_area_mm2"].tolist() == [0.0, 0.0] and res["gained_area_mm2"].tolist() == [0.0, 0.0]
    assert res["area_before_mm2"][0] == res["compared"][0].sum() - 36


# ------------------------------------------------------------------ glue: per scan and between scans


def _units_parse(variables):
    import pint

    ureg = pint.UnitRegistry()
    for name, v in variables.items():
        assert v.attrs.get("long_name"), name
        if v.dtype != bool:
            ureg.parse_units(v.attrs["units"]) if v.attrs["units"] != "1" else ureg("1")


def test_scan_analyses_on_a_phantom_cell():
    from operando.pipelines import scan_analyses
    from operando.synthetic import simulate_cell

    cell = simulate_cell((64, 48, 48), voxel_size_um=5.0, n_voids=(4, 4), n_pores=3, seed=4)
    v = cell.voxel_size_um
    boxes = {"bottom": ((0, 120), (40, 200), (40, 200)), "top": ((200, 320), (40, 200), (40, 200))}
    with pytest.warns(UserWarning, match="density not measured"):
        out = scan_analyses(cell.volume, cell.labels, voxel_size_um=v, boxes=boxes, roughness_tile_um=60)
    _units_parse(out)
    assert np.isnan(float(out["electrolyte_density"]))
    fp = cell.footprint
    faces = np.where(fp, cell.li_edge[0] - 0.5, np.nan) * v
    assert float(out["li_interface_position_um"][0]) == pytest.approx(np.nanmean(faces))
    assert np.allclose(out["interface_height_um"].values[0], faces, equal_nan=True)
    assert float(out["interface_void_fraction"][0]) == pytest.approx(1 - cell.contact[0][fp].mean())
    for name, box in boxes.items():
        sl = tuple(slice(int(np.ceil(lo / v)), int(np.ceil(hi / v))) for lo, hi in box)
        li = (cell.labels[sl] == LITHIUM).sum() * (v * 1e-3) ** 3
        assert float(out["subvolume_lithium_mm3"].sel(subvolume=name)) == pytest.approx(li)
    assert out["interphase_local_thickness_map_um"].dims == ("interface", "y", "x")
    # the phantom's interphase is ~4 voxels thick: its local thickness, within a voxel or two
    assert 2 * v <= float(out["interphase_local_thickness_mean_um"][0]) <= 6 * v
    # the map in a central square only (the paper's 680 um subvolumes), NaN around it
    part = scan_analyses(
        None, cell.labels, voxel_size_um=v, density_edge_um=40.0, n_density_cubes=2, thickness_square_um=100.0
    )
    m = part["interphase_local_thickness_map_um"].values
    assert np.isnan(m[:, :14]).all() and np.isnan(m[:, :, 34:]).all()
    whole = out["interphase_local_thickness_map_um"].values
    # inside it, the same as the whole map away from the square's edge (balls cut by the crop)
    np.testing.assert_array_equal(m[:, 20:28, 20:28], whole[:, 20:28, 20:28])
    small = scan_analyses(None, cell.labels, voxel_size_um=v, density_edge_um=40.0, n_density_cubes=4, thickness=False)
    assert 0.5 < float(small["electrolyte_density"]) <= 1.0
    assert small["density_cube_corner_um"].sizes == {"density_cube": 4, "axis": 3}


def test_between_scans_registers_before_comparing_contact():
    from operando.pipelines import between_scans, register_scans
    from operando.synthetic import simulate_cell

    cell = simulate_cell((64, 56, 56), voxel_size_um=2.0, n_voids=(5, 5), noise_sigma=0.5, seed=2)
    move = (2, 3, -2)
    vol1 = np.roll(cell.volume, move, axis=(0, 1, 2))
    contact1 = np.roll(cell.contact, move[1:], axis=(1, 2))
    out = between_scans(
        cell.volume, vol1, cell.contact, contact1, voxel_size_um=2.0, charge_mAh=(0.10, 0.35), cell_area_mm2=3.14
    )
    _units_parse(out)
    assert out["registration_shift_um"].values == pytest.approx(-2.0 * np.array(move), abs=0.2)
    assert out["contact_lost_area_mm2"].values.tolist() == [0.0, 0.0]
    assert float(out["capacity_between_mAh"]) == pytest.approx(0.25)
    assert float(out["areal_capacity_between_mAh_cm2"]) == pytest.approx(0.25 / 0.0314)
    raw = between_scans(cell.volume, vol1, cell.contact, contact1, voxel_size_um=2.0, register=False)
    assert (raw["contact_lost_area_mm2"].values > 0).all() and np.isnan(float(raw["capacity_between_mAh"]))
    # binned first (a volume over max_voxels), then refined at full resolution
    shift, _ = register_scans(cell.volume, vol1, max_voxels=20_000, crop_vox=40)
    assert shift == pytest.approx(-np.array(move), abs=0.15)


def test_between_scans_of_a_stripping_series_matches_the_true_contact_change():
    """A phantom series (top electrode stripped, its voids growing, noise on the volumes): with no
    rigid motion of the cell, registration finds none in-plane and the contact lost/gained and the
    capacity equal the truth's."""
    from operando.pipelines import between_scans
    from operando.synthetic import simulate_cell_series

    frames = simulate_cell_series(
        3, (64, 48, 48), voxel_size_um=4.0, noise_sigma=0.3, void_growth_per_frame=0.4, seed=3
    )
    pix = (4.0e-3) ** 2
    for f0, f1 in itertools.pairwise(frames):
        out = between_scans(
            f0.volume, f1.volume, f0.contact, f1.contact, voxel_size_um=4.0, charge_mAh=(f0.charge_mAh, f1.charge_mAh)
        )
        assert np.abs(out["registration_shift_um"].values[1:]).max() < 0.1 * 4.0
        lost = (f0.contact & ~f1.contact).sum(axis=(1, 2)) * pix
        gained = (f1.contact & ~f0.contact).sum(axis=(1, 2)) * pix
        np.testing.assert_allclose(out["contact_lost_area_mm2"].values, lost)
        np.testing.assert_allclose(out["contact_gained_area_mm2"].values, gained)
        assert lost[1] > 0  # the stripped (top) interface lost contact
        assert float(out["capacity_between_mAh"]) == pytest.approx(abs(f1.charge_mAh - f0.charge_mAh))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roughness_of_a_segmented_noisy_scan_matches_the_truth(seed):
    """Noise and blur at reconstruction level, segmented by operando.tomo.segment_cell: with the rim
    columns left out (drop_rim), the RMS roughness of both interfaces within 10 % of the truth's.
    No pores: a pore against the interphase is walked into as part of the electrode by the
    segmentation (seed 1 with pores: 10 columns 9-11 voxels off, RMS 2.55 against 1.94 um), a
    segmentation matter that the roughness kernel cannot tell from a real bump."""
    from operando.synthetic import simulate_cell
    from operando.tomo import auto_thresholds, drop_rim, segment_cell

    cell = simulate_cell(
        (72, 56, 56),
        voxel_size_um=2.0,
        n_voids=(4, 4),
        n_pores=0,
        roughness_px=3.0,
        noise_sigma=1.0,
        blur_sigma_px=0.7,
        seed=seed,
    )
    labels = segment_cell(cell.volume, thresholds=auto_thresholds(cell.volume))
    truth = np.where(cell.footprint, cell.li_edge + np.array([-0.5, 0.5])[:, None, None], np.nan) * 2.0
    got = stack_positions(labels, voxel_size_um=2.0).interface_um
    for k in range(2):
        true_rms = roughness_rms(drop_rim(truth[k]))
        assert true_rms > 1.0  # a rough interface (3 voxels of amplitude)
        assert roughness_rms(drop_rim(got[k])) == pytest.approx(true_rms, rel=0.1)


def test_scan_analyses_same_from_dask_and_the_first_frame_placeholder():
    from operando.pipelines import between_scans_placeholder, scan_analyses
    from operando.synthetic import simulate_cell

    cell = simulate_cell((60, 40, 40), voxel_size_um=5.0, n_voids=(3, 3), seed=6)
    kw = {"voxel_size_um": 5.0, "density_edge_um": 40.0, "n_density_cubes": 3}
    eager = scan_analyses(cell.volume, cell.labels, **kw)
    lazy = scan_analyses(da.from_array(cell.volume, chunks=20), da.from_array(cell.labels, chunks=20), **kw)
    assert sorted(eager) == sorted(lazy)
    for name, v in eager.items():
        np.testing.assert_array_equal(np.asarray(lazy[name].values), v.values, err_msg=name)
    first = between_scans_placeholder((40, 40))
    assert first["contact_lost"].shape == (2, 40, 40) and not first["contact_lost"].values.any()
    assert np.isnan(first["contact_lost_area_mm2"].values).all() and np.isnan(float(first["capacity_between_mAh"]))
    assert first["registration_shift_um"].coords["axis"].values.tolist() == ["z", "y", "x"]
