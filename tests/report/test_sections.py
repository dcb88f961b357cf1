"""Report sections: the registry picks a builder by kind, and every figure carries its units."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure

from operando.errors import ParameterError
from operando.report import downsample, frame_state, generic_specs, infer_kind, make_section, sxdm_strain_figure

from .conftest import MRI_STAGES, mri_layers, nmr_isotopes, sxdm_maps, timeline_for, tomo_series


@pytest.fixture(scope="module")
def timeline(experiment):
    return timeline_for(experiment.record)


def _draw(spec) -> Figure:
    fig = spec.draw()
    assert isinstance(fig, Figure), spec.name
    return fig


def _check_labels(fig: Figure, name: str) -> None:
    """Every Cartesian axes has x and y labels with a unit in brackets; colour bars too."""
    for ax in fig.axes:
        if ax.name == "polar":
            continue
        if ax.get_label() == "<colorbar>":
            assert "(" in ax.get_ylabel() + ax.get_xlabel(), f"{name}: colour bar without unit"
            continue
        assert "(" in ax.get_xlabel(), f"{name}: x axis {ax.get_xlabel()!r} without unit"
        if not ax.get_images() and (ax.get_lines() or ax.collections):  # plots (maps label y on the first only)
            assert "(" in ax.get_ylabel(), f"{name}: y axis {ax.get_ylabel()!r} without unit"


def _all_specs(section):
    specs = list(section.summary)
    if section.frame_figures is not None:
        for k in range(section.n_frames):
            specs += section.frame_figures(k)
    return specs


@pytest.mark.parametrize(
    ("build", "kind", "frames"),
    [
        (sxdm_maps, "sxdm-maps", [1, 4, 8]),
        (tomo_series, "tomo-series", [2, 5, 7]),
        (mri_layers, "mri-layers", [0, 3, 6, 9]),
    ],
)
def test_dedicated_sections_draw_every_figure_with_units(timeline, build, kind, frames):
    ds = build(timeline, frames)
    section = make_section(ds, Path(f"/x/{kind}.zarr"))
    assert section.kind == kind
    assert section.title.split(":")[0] != kind  # a dedicated title, not the generic one
    assert section.n_frames == len(frames)
    assert section.frame_figures is not None
    per_frame = section.frame_figures(0)
    assert per_frame, "each measurement has figures"
    for spec in _all_specs(section):
        fig = _draw(spec)
        _check_labels(fig, spec.name)
        plt.close(fig)
    # the measurements sit where the timeline put them
    expected = 0.5 * (timeline.t_start_s.values[frames] + timeline.t_end_s.values[frames])
    np.testing.assert_allclose(section.state.t_mid_s, expected)
    np.testing.assert_allclose(section.state.voltage_V, timeline.voltage_V.values[frames])


def test_sxdm_summary_plots_the_map_means(timeline):
    frames = [1, 4, 8]
    ds = sxdm_maps(timeline, frames)
    fig = sxdm_strain_figure(ds, frame_state(ds))
    ax_d, ax_s = fig.axes

    def data(ax):  # every segment (charge, discharge) in time order, joined back
        xy = [c.lines[0].get_data() for c in ax.containers]
        return np.concatenate([x for x, _ in xy]), np.concatenate([y for _, y in xy])

    x, y = data(ax_d)
    truth = np.nanmean(ds.d_spacing.values.reshape(3, -1), axis=1)
    np.testing.assert_allclose(x, timeline.specific_capacity_mAh_g.values[frames])
    np.testing.assert_allclose(y, truth)
    _, micro = data(ax_s)
    np.testing.assert_allclose(micro, ds.microstrain.values * 1e3)
    assert "capacity" in ax_d.get_xlabel()
    plt.close(fig)


def test_mri_stages_are_shaded_in_runs(timeline):
    section = make_section(mri_layers(timeline, [0, 3, 6, 9]), Path("m.zarr"))
    fig = section.summary[0].draw()
    ax = fig.axes[0]
    spans = [p for p in ax.patches if p.get_label().startswith("stage") or p.get_label() == ""]
    labels = sorted({p.get_label() for p in ax.patches if p.get_label().startswith("stage")})
    runs = 1 + int(np.count_nonzero(np.diff(MRI_STAGES)))
    assert len(spans) >= runs
    assert labels == [f"stage {s}" for s in sorted(set(MRI_STAGES.tolist()))]
    assert "stage" not in " ".join(s.title for s in section.summary[1:])  # stage is shading, not a curve
    plt.close(fig)


def test_nmr_isotopes_section_plots_fraction_against_charge():
    ds = nmr_isotopes()
    section = make_section(ds, Path("n.zarr"))
    assert section.kind == "nmr-isotopes"
    assert section.frame_figures is None
    fig = _draw(section.summary[0])
    _check_labels(fig, "nmr")
    ax = fig.axes[0]
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(x, ds.charge_mAh.values)
    np.testing.assert_allclose(y, ds.li6_fraction.values)
    assert any("model" in t.get_text() for t in ax.get_legend().get_texts())
    plt.close(fig)


def test_nmr_isotopes_store_of_the_cli_is_what_the_section_draws(tmp_path):
    """``operando nmr isotopes -o`` and the report agree on the nmr-isotopes schema."""
    from typer.testing import CliRunner

    from operando.cli import nmr_app as app
    from operando.store import open_results
    from operando.synthetic import li_isotope_pair

    li7, li6 = li_isotope_pair(tmp_path / "cell", x6_metal=0.3, snr_7li=5000.0, seed=3, n_points=1024)
    store = tmp_path / "iso.zarr"
    # the synthetic lines have one width in ppm in both spectra: the same ppm window in both
    args = ["isotopes", "--li6", str(li6), "--li7", str(li7), "--window", "240,290", "--noise", "-130,-50",
            "--match", "ppm"]  # fmt: skip
    r = CliRunner().invoke(app, [*args, "--sample", "dendrite A", "--charge-mAh", "2.5", "-o", str(store)])
    assert r.exit_code == 0, r.output
    ds = open_results(store)
    section = make_section(ds, store)
    assert section.kind == "nmr-isotopes" and "generic" not in " ".join(section.notes)
    line = next(n for n in section.notes if n.startswith("dendrite A: 6Li "))
    assert float(line.split()[3]) == pytest.approx(30.0, abs=0.5) and "after 2.5 mA h" in line
    fig = _draw(section.summary[0])
    x, y = fig.axes[0].lines[0].get_data()
    assert x.tolist() == [2.5]
    assert y[0] == pytest.approx(0.30, abs=0.005)
    plt.close(fig)


def test_nmr_isotopes_species_model_and_mechanism():
    from operando.nmr import isotopes_dataset

    q = np.linspace(0, 2, 5)
    ds = isotopes_dataset(
        ["electrode", "electrolyte", "dendrite"],
        [0.95, 0.07, 0.055],
        [0.001, 0.001, 0.003],
        charge_mAh=[0.0, 0.0, 1.0],
        species=["electrode", "electrolyte", "dendrite"],
        mechanism=["", "", "mechanism 2"],
        model_charge_mAh=q,
        model_li6_fraction=0.07 + 0.01 * q,
        model_label="electrolyte, tracer-exchange model",
        factor=28.45,
        factor_err=0.1,
    )
    section = make_section(ds, Path("iso.zarr"))
    assert any("(mechanism 2)" in n for n in section.notes)
    assert any("28.45 ± 0.1" in n for n in section.notes)
    fig = _draw(section.summary[0])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert {"electrode", "electrolyte", "dendrite", "electrolyte, tracer-exchange model"} <= set(legend)
    plt.close(fig)
    with pytest.raises(ParameterError):
        isotopes_dataset(["a", "a"], [0.1, 0.2], [0.0, 0.0], factor=28.45)
    with pytest.raises(ParameterError):
        isotopes_dataset(["a"], [0.1], [0.0], model_charge_mAh=q, factor=28.45)


def test_unknown_kind_gets_the_generic_view(timeline):
    """A future store (here: a tomo-like series of another kind) displays before it has a section."""
    ds = tomo_series(timeline, [1, 2, 3]).assign_attrs(operando_kind="tomo-something-new")
    ds["profile"] = (("frame", "depth"), np.ones((3, 20)), {"units": "mm"})
    section = make_section(ds, Path("t.zarr"))
    assert section.kind == "tomo-something-new"
    assert any("generic" in n for n in section.notes)
    names = [s.name for s in section.summary]
    assert names == ["series", "profile_all"]
    per_frame = [s.name for s in section.frame_figures(1)]
    assert per_frame == ["contact_frame001", "profile_frame001"]
    fig = section.summary[0].draw()
    # one row per 1D / few-series variable, one column for time and one for capacity
    n_series = 7  # contact_area (frame, interface) + 6 one-dimensional
    assert len(fig.axes) == 2 * n_series
    _check_labels(fig, "generic")
    plt.close(fig)


def test_generic_downsamples_large_maps_and_says_so():
    n, h, w = 2, 600, 300
    ds = xr.Dataset(
        {"attenuation": (("frame", "y", "x"), np.random.default_rng(0).random((n, h, w)), {"units": "1/cm"})},
        coords={"frame": np.arange(n), "time_s": ("frame", [0.0, 60.0], {"units": "s"})},
    )
    parts = generic_specs(ds, ["attenuation"], frame_state(ds))
    assert any("block-averaged 3×3" in n for n in parts.notes)
    fig = parts.per_frame(1)[0].draw()
    img = fig.axes[0].get_images()[0].get_array()
    assert img.shape == (200, 100)
    np.testing.assert_allclose(img[0, 0], ds.attenuation.values[1, :3, :3].mean())
    assert "1/cm" in fig.axes[-1].get_ylabel()
    plt.close(fig)


def test_downsample_ignores_nan_in_a_block():
    a = np.arange(36.0).reshape(6, 6)
    a[0, 0] = np.nan
    out, step = downsample(a, 2)
    assert step == 3
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out[0, 0], np.nanmean(a[:3, :3]))
    np.testing.assert_allclose(out[1, 1], a[3:, 3:].mean())
    same, one = downsample(a, 6)
    assert one == 1
    assert same is a


def test_infer_kind_for_stores_without_the_attribute(timeline):
    assert infer_kind(timeline) == "echem-timeline"
    legacy = sxdm_maps(timeline, [1, 2])
    del legacy.attrs["operando_kind"]
    assert infer_kind(legacy) == "sxdm-maps"
    section = make_section(timeline, Path("timeline.zarr"))
    assert not section.interactive
    assert section.n_frames == timeline.sizes["frame"]


def test_generic_view_of_a_volume_without_frames():
    """A tomo-volume store (z, y, x) shows evenly spaced slices, with units from the attributes."""
    vol = np.random.default_rng(1).random((9, 40, 30)).astype(np.float32)
    ds = xr.Dataset(
        {"attenuation": (("z", "y", "x"), vol, {"units": "1/cm"}), "spectrum": ("ppm", np.ones(5), {"units": "a.u."})},
        coords={"z": ("z", np.arange(9.0), {"units": "um"}), "ppm": ("ppm", np.linspace(10, -10, 5), {"units": "ppm"})},
        attrs={"operando_kind": "tomo-volume"},
    )
    section = make_section(ds, Path("v.zarr"))
    assert section.frame_figures is None and section.state is None
    names = [s.name for s in section.summary]
    assert names == ["attenuation", "spectrum"]
    fig = section.summary[0].draw()
    images = [ax.get_images()[0] for ax in fig.axes if ax.get_images()]
    assert [ax.get_title() for ax in fig.axes if ax.get_images()] == ["z 0.0", "z 3.0", "z 5.0", "z 8.0"]
    np.testing.assert_allclose(images[1].get_array(), vol[3])
    _check_labels(fig, "volume")
    plt.close(fig)
    fig = section.summary[1].draw()
    assert fig.axes[0].get_xlabel() == "ppm (ppm)"
    assert fig.axes[0].xaxis_inverted()
    plt.close(fig)


# -- axes that never zoom into noise; charge and discharge marked ---------------------------------
def test_a_nearly_constant_series_is_drawn_flat_not_as_a_trend():
    import matplotlib.pyplot as plt

    from operando.report import honest_ylim

    micro = 0.19880 + 3e-5 * np.array([0.0, 0.5, 1.0, 0.7])  # a 0.015 % wobble around 0.1988
    fig, ax = plt.subplots()
    ax.plot(np.arange(4), micro)
    honest_ylim(ax, micro)
    lo, hi = ax.get_ylim()
    assert hi - lo >= 0.02 * micro.max()  # the wobble fills < 1 % of the axis
    assert lo < micro.min() and hi > micro.max()
    assert not ax.yaxis.get_major_formatter().get_useOffset()
    plt.close(fig)
    fig, ax = plt.subplots()  # a real trend keeps matplotlib's own range
    trend = np.array([0.1, 0.2, 0.3, 0.4])
    ax.plot(np.arange(4), trend)
    before = ax.get_ylim()
    honest_ylim(ax, trend, np.full(4, 0.001))
    assert ax.get_ylim() == before
    plt.close(fig)


def test_frame_labels_keep_significant_digits_and_say_the_direction():
    from operando.report import frame_state

    ds = xr.Dataset(
        {
            "echem_charge_mAh": ("frame", [0.025, 0.5, 0.25]),
            "echem_voltage_V": ("frame", [3.9, 4.7, 4.2]),
            "echem_current_mean_mA": ("frame", [0.1, -0.1, -0.1]),
        }
    )
    state = frame_state(ds)
    assert state is not None
    assert state.labels[0] == "#0, 3.900 V, 0.025 mA h, charge"
    assert state.labels[1].endswith("discharge")


def test_charge_and_discharge_are_separate_marked_lines():
    import matplotlib.pyplot as plt

    from operando.report import FrameState, sxdm_strain_figure

    n, ny, nx = 6, 4, 5
    rng = np.random.default_rng(1)
    d = 2.04 + 1e-4 * rng.standard_normal((n, ny, nx))
    maps = xr.Dataset({"d_spacing": (("frame", "y", "x"), d)})
    cap = np.array([0.0, 0.1, 0.2, 0.2, 0.1, 0.0])
    state = FrameState(
        np.arange(n) * 600.0, np.full(n, 4.0), cap, "charge (mA h)", [""] * n, np.array([1, 1, 1, -1, -1, -1.0])
    )
    fig = sxdm_strain_figure(maps, state)
    ax_d = fig.axes[0]
    assert sorted(ax_d.get_legend_handles_labels()[1]) == ["charge", "discharge"]
    assert len(ax_d.containers) == 2  # two error-bar lines, never one line through both directions
    plt.close(fig)
