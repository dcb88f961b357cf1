"""The paper's SXDM figures drawn from the right data: intensity and phase fraction against
charge, one point's reciprocal space, the largest misorientation over a population of
crystals, and the tilt maps of chosen frames on one colour wheel.

Every map comes from the forward model (Poisson counts at detector level, background,
hot and dead pixels, random strain fields and mosaic tilt domains) through the pipeline;
the drawn values are checked against the model's truth and an independent computation.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import ndimage
from typer.testing import CliRunner

from operando.cli import sxdm_app as app
from operando.errors import ParameterError
from operando.pipelines.sxdm import process_kmap, qspace_cube
from operando.report import (
    charge_curves,
    misorientation_population,
    misorientation_rgb,
    plot_charge_curves,
    plot_misorientation,
    plot_point_qspace,
    save_figure,
    select_frames,
)
from operando.store import open_results, write_results
from operando.sxdm import max_misorientation
from operando.synthetic import simulate_kmap, simulate_two_phase_kmap, write_bliss_kmap

# both LMNO peaks (d400 2.0332 and 2.0184 Å) on the detector, as tests/sxdm/test_phases.py
TWO_PHASE = {"seed": 5, "n_angles": 24, "eta_step_deg": 0.018, "detector_shape": (128, 36), "distance_m": 0.8}
FRACTIONS = (0.8, 0.5, 0.2)  # the larger-d (Li-rich) phase shrinks along the charge
FLUX = (1.0, 0.7, 0.4)  # diffracting volume lost (the paper's Supp. Fig. 10)


@pytest.fixture(scope="module")
def charged(tmp_path_factory):
    """Three two-phase K-maps along a charge and back, placed on a (hand-made) record."""
    maps, models = [], []
    for k, (f, flux) in enumerate(zip(FRACTIONS, FLUX, strict=True)):
        model = simulate_two_phase_kmap(np.full((8, 8), f), flux=flux, **TWO_PHASE)
        m, _ = process_kmap(write_bliss_kmap(model, tmp_path_factory.mktemp(f"map{k}")), phases="on")
        maps.append(m)
        models.append(model)
    ds = xr.concat(maps, dim="frame")
    ds = ds.assign(
        echem_specific_capacity_mAh_g=("frame", [20.0, 70.0, 50.0], {"units": "mA h/g"}),
        echem_x_li=("frame", [0.86, 0.52, 0.66], {"units": "1"}),
        echem_current_mean_mA=("frame", [0.1, 0.1, -0.1], {"units": "mA"}),
        echem_voltage_V=("frame", [4.70, 4.72, 4.69], {"units": "V"}),
    )
    return ds, models


def test_charge_curves_values(charged):
    ds, models = charged
    curves = charge_curves(ds)
    # the Bragg counts the model put in each map (its flux included), relative to the first
    truth = np.array([float(np.nansum(m.truth.counts[m.truth.mask])) for m in models])
    np.testing.assert_allclose(truth / truth[0], FLUX, rtol=0.02)
    np.testing.assert_allclose(curves["intensity_norm"].values, truth / truth[0], rtol=0.02)
    np.testing.assert_allclose(curves["phase_fraction"].values, FRACTIONS, atol=0.03)
    # the definition, computed here independently: intensity-weighted over the decomposed points
    f, w = ds["phase_fraction"].values, ds["intensity"].values
    ok = np.isfinite(f) & (w > 0)
    by_hand = [(f[k][ok[k]] * w[k][ok[k]]).sum() / w[k][ok[k]].sum() for k in range(3)]
    np.testing.assert_allclose(curves["phase_fraction"].values, by_hand, rtol=1e-12)
    assert curves["direction"].values.tolist() == [1.0, 1.0, -1.0]
    np.testing.assert_array_equal(curves["capacity"].values, [20.0, 70.0, 50.0])


def _line_data(ax):
    return [(ln.get_xdata(), ln.get_ydata()) for ln in ax.lines if len(ln.get_xdata())]


def test_charge_curves_figure_draws_them_by_direction(charged, tmp_path):
    ds, _ = charged
    curves = charge_curves(ds)
    fig = plot_charge_curves(ds)
    by_label: dict[str, list] = {}
    for ax in fig.axes:
        by_label.setdefault(ax.get_label(), []).append(ax)
    assert len(by_label["intensity"]) == 2 and len(by_label["phase fraction"]) == 2  # vs capacity and vs x(Li)
    cap_ax, x_ax = by_label["intensity"]
    lines = _line_data(cap_ax)
    # charge (frames 0, 1) and discharge (frame 2): two lines, never joined
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0][0], [20.0, 70.0])
    np.testing.assert_allclose(lines[0][1], curves["intensity_norm"].values[:2])
    np.testing.assert_allclose(lines[1][1], curves["intensity_norm"].values[2:])
    assert sorted(cap_ax.get_legend_handles_labels()[1]) == ["charge", "discharge"]
    assert x_ax.xaxis_inverted()  # Li leaves to the right
    np.testing.assert_allclose(_line_data(x_ax)[0][0], [0.86, 0.52])
    frac = _line_data(by_label["phase fraction"][0])
    np.testing.assert_allclose(np.concatenate([y for _, y in frac]), curves["phase_fraction"].values)
    assert save_figure(fig, tmp_path / "charge")[0].stat().st_size > 10_000


def test_charge_curves_without_decomposition_or_record(charged):
    ds, _ = charged
    bare = ds.drop_vars([v for v in ds.data_vars if str(v).startswith(("echem_", "phase_fraction"))])
    curves = charge_curves(bare)
    assert np.isnan(curves["phase_fraction"].values).all() and np.isnan(curves["capacity"].values).all()
    fig = plot_charge_curves(bare)
    frac_ax = next(ax for ax in fig.axes if ax.get_label() == "phase fraction")
    assert not _line_data(frac_ax) and "no two-phase decomposition" in frac_ax.texts[0].get_text()
    assert len(fig.axes) == 2  # no x(Li) row
    assert "index" in fig.axes[0].get_xlabel()


# -- one point's reciprocal space -----------------------------------------------------------
@pytest.fixture(scope="module")
def one_map(tmp_path_factory):
    root = tmp_path_factory.mktemp("one")
    model = simulate_kmap(map_shape=(10, 10), n_angles=16, detector_shape=(48, 48), seed=3, eta_step_deg=0.03)
    master = write_bliss_kmap(model, root / "raw")
    maps, params = process_kmap(master)
    store = write_results(maps, root / "maps.zarr", parameters=params, inputs=[master])
    return model, master, maps, store


def _peak_position(ax):
    """Centroid of the projection's peak: a 3 x 3 median takes out the one-bin lines that hot
    pixels draw through q-space, then the bins above 30 % of the maximum are weighted."""
    image = ax.images[0]
    a = ndimage.median_filter(np.nan_to_num(np.ma.filled(image.get_array(), np.nan)), 3)
    a = np.where(a > 0.3 * a.max(), a, 0.0)
    x0, x1, y0, y1 = image.get_extent()
    xs = x0 + (np.arange(a.shape[1]) + 0.5) * (x1 - x0) / a.shape[1]
    ys = y0 + (np.arange(a.shape[0]) + 0.5) * (y1 - y0) / a.shape[0]
    return (
        (a.sum(0) * xs).sum() / a.sum(),
        (a.sum(1) * ys).sum() / a.sum(),
        (x1 - x0) / a.shape[1],
        (y1 - y0) / a.shape[0],
    )


def test_point_projections_peak_where_the_point_diffracts(one_map, tmp_path):
    model, master, maps, _ = one_map
    y, x = 5, 4
    _, cube = qspace_cube(master, tmp_path / "q.h5", points=(slice(y, y + 1), slice(x, x + 1)))
    fitted = tuple(float(maps[c].values[y, x]) for c in ("qx", "qy", "qz"))
    fig = plot_point_qspace(cube, maps, point=(y, x), fitted_q=fitted)
    axes = {ax.get_label(): ax for ax in fig.axes}
    truth = dict(zip(("qx", "qy", "qz"), model.truth.q[y, x], strict=True))
    for name in ("qx-qy", "qx-qz", "qy-qz"):
        a, b = name.split("-")
        pa, pb, step_a, step_b = _peak_position(axes[name])
        assert abs(pa - truth[a]) < 2 * step_a and abs(pb - truth[b]) < 2 * step_b, (name, pa, pb, truth)
        marker = axes[name].lines[-1]  # the fitted centre of mass, red
        assert (marker.get_xdata()[0], marker.get_ydata()[0]) == (fitted["xyz".index(a[1])], fitted["xyz".index(b[1])])
    # the map panel marks the chosen point
    map_ax = fig.axes[0]
    assert (map_ax.lines[0].get_xdata()[0], map_ax.lines[0].get_ydata()[0]) == (x, y)


def test_point_figure_from_the_cli(one_map, tmp_path):
    *_, store = one_map
    out = tmp_path / "figs"
    res = CliRunner().invoke(app, ["figures", str(store), "-o", str(out), "--point", "5,4", "--frames", "0"])
    assert res.exit_code == 0, res.output
    assert (out / "misorientation_frames.png").stat().st_size > 10_000
    assert not (out / "charge_curves.png").exists()  # one map: no curve along the charge
    assert (out / "qspace_point_y5_x4_frame0.png").stat().st_size > 10_000
    from operando.sxdm import read_xsocs_qspace

    cube = read_xsocs_qspace(out / "point_y5_x4_frame0_qspace.h5")  # XSOCS can open the point's cube
    assert cube["qspace"].shape[0] == 1
    res = CliRunner().invoke(app, ["figures", str(store), "-o", str(out), "--point", "50,4"])
    assert isinstance(res.exception, ParameterError) and "outside the 10 x 10 maps" in str(res.exception)
    res = CliRunner().invoke(app, ["figures", str(store), "-o", str(out), "--point", "5"])
    assert isinstance(res.exception, ParameterError) and "--point must be" in str(res.exception)
    fresh = tmp_path / "none"
    res = CliRunner().invoke(app, ["figures", str(store), "-o", str(fresh), "--point", "5,4", "--kmap", "gone.h5"])
    assert isinstance(res.exception, ParameterError) and "is not found (gone.h5)" in str(res.exception)
    res = CliRunner().invoke(app, ["figures", str(store), "-o", str(fresh), "--point", "5,4", "--point-frame", "2"])
    assert isinstance(res.exception, ParameterError) and "not among the 1 maps" in str(res.exception)
    assert not fresh.exists()  # refused before any figure was drawn


# -- largest misorientation over a population ------------------------------------------------
TILTS = (0.01, 0.03, 0.08)  # mosaic-domain tilts of three crystals (deg): pristine to heavily cycled


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    out = []
    for k, tilt in enumerate(TILTS):
        root = tmp_path_factory.mktemp(f"crystal{k}")
        model = simulate_kmap(
            map_shape=(12, 12), n_angles=16, detector_shape=(48, 48), seed=20 + k, eta_step_deg=0.03, max_tilt_deg=tilt
        )
        maps, params = process_kmap(write_bliss_kmap(model, root / "raw"))
        out.append((model, maps, write_results(maps, root / "maps.zarr", parameters=params)))
    return out


def _brute_force(q, valid, keep):
    """The definition, all pairs: an independent implementation of max_misorientation."""
    u = q[valid] / np.linalg.norm(q[valid], axis=-1)[:, None]
    ref = np.median(u, axis=0)
    ref /= np.linalg.norm(ref)
    off = np.degrees(np.arccos(np.clip(u @ ref, -1, 1)))
    u = u[off <= np.percentile(off, keep)] if keep < 100 else u
    return float(np.degrees(np.arccos(np.clip(u @ u.T, -1, 1))).max())


def test_max_misorientation_is_the_definition():
    rng = np.random.default_rng(3)
    tilt = np.radians(rng.normal(0.0, 0.05, (2, 30, 30)))
    q = 3.09 * np.stack([np.sin(tilt[0]), np.sin(tilt[1]), np.cos(tilt[0]) * np.cos(tilt[1])], axis=-1)
    valid = rng.random((30, 30)) > 0.3
    for keep in (100.0, 99.0, 90.0):
        found = max_misorientation(q[..., 0], q[..., 1], q[..., 2], valid=valid, keep=keep)
        assert found.angle_deg == pytest.approx(_brute_force(q, valid, keep), rel=1e-9)
        (a, b) = found.pair
        ua, ub = q[a] / np.linalg.norm(q[a]), q[b] / np.linalg.norm(q[b])
        assert np.degrees(np.arccos(ua @ ub)) == pytest.approx(found.angle_deg, rel=1e-9)
    assert found.n_valid == valid.sum() and found.n_kept < found.n_valid


def test_max_misorientation_robust_to_outliers():
    rng = np.random.default_rng(4)
    tilt = np.radians(rng.normal(0.0, 0.02, (2, 20, 20)))
    q = 3.09 * np.stack([np.sin(tilt[0]), np.sin(tilt[1]), np.cos(tilt[0]) * np.cos(tilt[1])], axis=-1)
    clean = max_misorientation(*q.transpose(2, 0, 1), keep=99.0).angle_deg
    bad = q.copy()
    bad[0, 0] = 3.09 * np.array([np.sin(np.radians(1.5)), 0.0, np.cos(np.radians(1.5))])  # a failed fit at the edge
    bad[7, 3] = 3.09 * np.array([0.0, -np.sin(np.radians(2.0)), np.cos(np.radians(2.0))])
    assert max_misorientation(*bad.transpose(2, 0, 1), keep=100.0).angle_deg > 1.5  # plain maximum: the outlier
    assert max_misorientation(*bad.transpose(2, 0, 1), keep=99.0).angle_deg == pytest.approx(clean, rel=0.1)
    with pytest.raises(ParameterError, match="keep must be"):
        max_misorientation(*q.transpose(2, 0, 1), keep=0.0)
    assert np.isnan(max_misorientation(*q[:1, :1].transpose(2, 0, 1)).angle_deg)


def test_population_against_the_known_tilt_fields(population):
    pop = misorientation_population([(f"{t} deg", maps) for t, (_, maps, _) in zip(TILTS, population, strict=True)])
    assert pop.sizes["map"] == 3 and pop.attrs["keep_percentile"] == 99.0
    for k, (model, maps, _) in enumerate(population):
        valid = maps["mask"].values & model.truth.mask
        truth = max_misorientation(*model.truth.q.transpose(2, 0, 1), valid=valid).angle_deg
        measured = float(pop["max_misorientation_deg"][k])
        assert measured == pytest.approx(truth, rel=0.1, abs=0.002), (TILTS[k], measured, truth)
    angles = pop["max_misorientation_deg"].values
    assert np.all(np.diff(angles) > 0)  # more mosaicity, larger misorientation
    assert angles[0] < 0.05 < angles[2]


def test_population_from_the_cli(population, tmp_path):
    stores = [str(store) for *_, store in population]
    out = tmp_path / "pop"
    res = CliRunner().invoke(app, ["figures", *stores, "-o", str(out), "--labels", "pristine,60,275"])
    assert res.exit_code == 0, res.output
    rows = [ln.split(",") for ln in (out / "misorientation_population.csv").read_text().splitlines()[2:]]
    expected = misorientation_population([(n, open_results(s).load()) for n, s in zip("abc", stores, strict=True)])
    assert [r[0] for r in rows] == ["pristine", "60", "275"]
    np.testing.assert_allclose([float(r[3]) for r in rows], expected["max_misorientation_deg"].values, atol=1e-5)
    assert (out / "misorientation_population.png").stat().st_size > 10_000
    assert "pristine: 1 maps, largest misorientation median" in res.output
    res = CliRunner().invoke(app, ["figures", *stores, "-o", str(out), "--labels", "a,b"])
    assert isinstance(res.exception, ParameterError) and "3 stores" in str(res.exception)


# -- tilt maps of chosen frames on one colour wheel --------------------------------------------
def test_frames_on_one_colour_wheel(population, tmp_path):
    series = xr.concat([maps for _, maps, _ in population], dim="frame")
    chosen = select_frames(series, [2, 0])
    alt = chosen["tilt_altitude"].values
    top = float(np.percentile(alt[np.isfinite(alt)], 99.0))
    fig = plot_misorientation(chosen)
    images = [im.get_array() for ax in fig.axes for im in ax.images]
    assert len(images) == 2
    for k, frame in enumerate((2, 0)):
        one = series.isel(frame=frame)
        expected = misorientation_rgb(one["tilt_altitude"].values, one["tilt_azimuth"].values, top)
        np.testing.assert_allclose(images[k], expected)
    with pytest.raises(ParameterError, match=r"frames \[5\] are not among the 3 maps"):
        select_frames(series, [0, 5])
    _, _, store = population[0]
    res = CliRunner().invoke(app, ["figures", str(store), "-o", str(tmp_path / "f"), "--frames", "0,x"])
    assert isinstance(res.exception, ParameterError) and "--frames must be" in str(res.exception)
    res = CliRunner().invoke(app, ["figures", str(store), "-o", str(tmp_path / "f"), "--frames", "3"])
    assert isinstance(res.exception, ParameterError) and "not among the 1 maps" in str(res.exception)
    assert not (tmp_path / "f").exists()  # refused before anything was drawn


def test_point_of_a_registered_series_is_read_where_the_crystal_was(tmp_path):
    """The crystal moved by (2, -1) points between the maps: point p of the registered series
    is raw point p - shift of the second map's file, which the projections must come from."""
    from operando.pipelines.sxdm import process_series

    geometry = {"map_shape": (12, 12), "n_angles": 16, "detector_shape": (48, 48), "seed": 4, "eta_step_deg": 0.03}
    models = [simulate_kmap(**geometry, max_tilt_deg=0.1, offset_points=off) for off in ((0.0, 0.0), (2.0, -1.0))]
    q, inside = models[0].truth.q, models[0].truth.mask
    # the point whose crystal differs most from the one an unregistered reading would take
    jump = np.linalg.norm(q - np.roll(q, (-2, 1), axis=(0, 1)), axis=-1)
    jump[~(inside & np.roll(inside, (-2, 1), axis=(0, 1)))] = 0.0
    jump[:2], jump[:, -1:] = 0.0, 0.0  # p - (2, -1) on the raw grid
    y, x = (int(v) for v in np.unravel_index(np.argmax(jump), jump.shape))
    masters = [write_bliss_kmap(m, tmp_path / f"raw{k}") for k, m in enumerate(models)]
    store = process_series(masters, tmp_path / "series.zarr", progress=False)
    series = open_results(store).load()
    np.testing.assert_allclose(
        [float(series.shift_y[1]), float(series.shift_x[1])], [2.0, -1.0], atol=0.3
    )  # rounds to the move
    out = tmp_path / "figs"
    res = CliRunner().invoke(app, ["figures", str(store), "-o", str(out), "--point", f"{y},{x}", "--point-frame", "1"])
    assert res.exit_code == 0, res.output
    cube = __import__("operando.sxdm", fromlist=["read_xsocs_qspace"]).read_xsocs_qspace(
        out / f"point_y{y}_x{x}_frame1_qspace.h5"
    )
    # the cube was gridded at raw point p - (2, -1) of the second map, which probes crystal
    # point p: what the reference shows there (the model's truth is indexed by crystal point);
    # read unregistered, raw point p would show crystal point p + (2, -1)
    truth, wrong = q[y, x], q[y + 2, x - 1]
    axes = {ax.get_label(): ax for ax in plot_point_qspace(cube).axes}
    qx, qy, step_x, step_y = _peak_position(axes["qx-qy"])
    _, qz, _, step_z = _peak_position(axes["qx-qz"])
    com, steps = [qx, qy, qz], [step_x, step_y, step_z]
    for got, want, step in zip(com, truth, steps, strict=True):
        assert abs(got - want) < 3 * step, (com, truth)
    assert np.linalg.norm(np.subtract(com, truth)) < 0.5 * np.linalg.norm(np.subtract(com, wrong))
