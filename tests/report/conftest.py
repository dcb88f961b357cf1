"""Tiny hand-built result stores in the schema of each kind, on one synthetic echem record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from operando import echem
from operando.store import write_results
from operando.synthetic import simulate_gcpl, simulate_symmetric_cell, write_eclab_mpt
from operando.timeline import STATE_VARIABLES, align

N_FRAMES = 4


def _state(timeline: xr.Dataset, frames: list[int]) -> dict[str, xr.DataArray]:
    """The ``echem_*`` variables of the chosen measurements, as attach_state + concat would give."""
    rows = timeline.isel(frame=frames).drop_vars("t_mid_s")
    return {f"echem_{name}": rows[name].assign_coords(frame=np.arange(len(frames))) for name in STATE_VARIABLES}


def timeline_for(record: echem.EchemRecord, n: int = 12) -> xr.Dataset:
    end = float(record.time_s[-1])
    start = np.linspace(0.05 * end, 0.9 * end, n)
    return align(record, start, start + 0.02 * end)


def sxdm_maps(timeline: xr.Dataset, frames: list[int]) -> xr.Dataset:
    """(frame, y, x) maps with a known mean d-spacing per frame and a tilt field."""
    rng = np.random.default_rng(0)
    n, ny, nx = len(frames), 6, 7
    d_mean = 2.04 - 0.01 * np.arange(n)
    d = d_mean[:, None, None] + 1e-4 * rng.standard_normal((n, ny, nx))
    d[:, 0, 0] = np.nan  # a masked point
    alt = np.abs(0.02 * rng.standard_normal((n, ny, nx)))
    az = rng.uniform(0, 360, (n, ny, nx))
    strain = d / np.nanmean(d, axis=(1, 2), keepdims=True) - 1
    ds = xr.Dataset(
        {
            "d_spacing": (("frame", "y", "x"), d, {"units": "angstrom"}),
            "strain": (("frame", "y", "x"), strain, {"units": "1"}),
            "tilt_altitude": (("frame", "y", "x"), alt, {"units": "deg"}),
            "tilt_azimuth": (("frame", "y", "x"), az, {"units": "deg"}),
            "microstrain": ("frame", np.nanstd(strain, axis=(1, 2)), {"units": "1"}),
            **_state(timeline, frames),
        },
        coords={
            "frame": np.arange(n),
            "y": ("y", 20 + 0.1 * np.arange(ny), {"units": "um"}),
            "x": ("x", 10 + 0.1 * np.arange(nx), {"units": "um"}),
        },
        attrs={"modality": "sxdm", "operando_kind": "sxdm-maps"},
    )
    return ds


def tomo_series(timeline: xr.Dataset, frames: list[int]) -> xr.Dataset:
    n, ni, ny, nx = len(frames), 2, 20, 24
    yy, xx = np.mgrid[:ny, :nx]
    contact = np.stack(
        [np.stack([(xx - 12) ** 2 + (yy - 10) ** 2 < (8 - k - i) ** 2 for i in range(ni)]) for k in range(n)]
    )
    area = contact.sum(axis=(2, 3)) * (5e-3) ** 2  # 5 µm pixels -> mm²
    return xr.Dataset(
        {
            "contact": (("frame", "interface", "y", "x"), contact),
            "contact_area_mm2": (("frame", "interface"), area, {"units": "mm2"}),
            "li_volume_mm3": ("frame", 0.50 - 0.02 * np.arange(n), {"units": "mm3"}),
            "void_volume_mm3": ("frame", 0.001 * np.arange(n), {"units": "mm3"}),
            "interphase_volume_mm3": ("frame", 0.002 + 0.0005 * np.arange(n), {"units": "mm3"}),
            "interphase_thickness_um": ("frame", 1.0 + 0.2 * np.arange(n), {"units": "um"}),
            "stack_thickness_um": ("frame", 300 - np.arange(n, dtype=float), {"units": "um"}),
            "stripping_fraction": ("frame", np.linspace(0, 0.3, n), {"units": "1"}),
            **_state(timeline, frames),
        },
        coords={
            "frame": np.arange(n),
            "interface": ["top", "bottom"],
            "y": ("y", 5.0 * np.arange(ny), {"units": "um"}),
            "x": ("x", 5.0 * np.arange(nx), {"units": "um"}),
        },
        attrs={"operando_kind": "tomo-series"},
    )


MRI_STAGES = np.array([1, 1, 2, 3])


def mri_layers(timeline: xr.Dataset, frames: list[int]) -> xr.Dataset:
    n, nl, nd = len(frames), 3, 32
    amount = np.cumsum(np.ones((n, nl)) * np.array([1.0, 0.5, 0.2]), axis=0)
    depth = np.linspace(0, 1.6, nd)
    profile = np.exp(-(((depth[None, :] - 0.4 - 0.1 * np.arange(n)[:, None]) / 0.2) ** 2))
    return xr.Dataset(
        {
            "amount": (("frame", "layer"), amount, {"units": "umol"}),
            "amount_err": (("frame", "layer"), 0.05 * amount, {"units": "umol"}),
            "growth_rate": (("frame", "layer"), np.gradient(amount, axis=0), {"units": "umol/h"}),
            "growth_rate_err": (("frame", "layer"), 0.1 * np.ones((n, nl)), {"units": "umol/h"}),
            "stage": ("frame", MRI_STAGES[:n]),
            "profile": (("frame", "depth"), profile, {"units": "a.u."}),
            **_state(timeline, frames),
        },
        coords={"frame": np.arange(n), "layer": [0, 1, 2], "depth": ("depth", depth, {"units": "mm"})},
        attrs={"operando_kind": "mri-layers"},
    )


def nmr_isotopes() -> xr.Dataset:
    q = np.linspace(0, 10, 41)
    return xr.Dataset(
        {
            "li6_fraction": ("sample", [0.95, 0.50, 0.12], {"units": "1"}),
            "li6_fraction_err": ("sample", [0.01, 0.02, 0.01], {"units": "1"}),
            "charge_mAh": ("sample", [0.0, 4.0, 9.0], {"units": "mA h"}),
            "model_li6_fraction": ("model_charge_mAh", 0.08 + 0.87 * np.exp(-q / 3)),
        },
        coords={
            "sample": ["electrode", "dendrite", "electrolyte"],
            "model_charge_mAh": ("model_charge_mAh", q, {"units": "mA h"}),
        },
        attrs={"operando_kind": "nmr-isotopes"},
    )


@dataclass
class Experiment:
    """Paths of one small synthetic experiment: the record and a store of every kind."""

    mpt: Path
    record: echem.EchemRecord
    timeline: Path
    sxdm: Path
    tomo: Path
    mri: Path
    nmr: Path
    incomplete: Path
    interrupted: Path

    def stores(self) -> list[Path]:
        return [self.timeline, self.sxdm, self.tomo, self.mri, self.nmr, self.incomplete, self.interrupted]


def make_experiment(root: Path) -> Experiment:
    cell = simulate_gcpl(active_mass_g=0.004, c_rate=2.0, cycles=1, dt_s=20.0)
    mpt = write_eclab_mpt(cell, root / "raw" / "cell.mpt")
    record = echem.read(mpt)
    tl = timeline_for(record)
    res = root / "results"
    timeline = write_results(tl.assign_attrs(operando_kind="echem-timeline"), res / "timeline.zarr")
    sxdm = write_results(sxdm_maps(tl, [1, 4, 8]), res / "sxdm_maps.zarr")
    tomo = write_results(tomo_series(tl, [2, 5, 7, 10]), res / "tomo_series.zarr")
    mri = write_results(mri_layers(tl, [0, 3, 6, 9]), res / "mri_layers.zarr")
    nmr = write_results(nmr_isotopes(), res / "nmr_isotopes.zarr")
    # an interrupted write: the store is there but its manifest never was
    incomplete = write_results(tomo_series(tl, [0, 1]), res / "tomo_broken.zarr")
    for f in (incomplete / "operando_manifest").iterdir():
        f.unlink()
    (incomplete / "operando_manifest").rmdir()
    # an interrupted series: only the .partial folder with 1 of 3 measurements planned
    interrupted = res / "mri_interrupted.zarr"
    partial = interrupted.with_name(interrupted.name + ".partial")
    (partial / "frames").mkdir(parents=True)
    (partial / "series.json").write_text(json.dumps({"keys": [1, 2, 3], "parameters": "{}", "created": "x"}))
    return Experiment(mpt, record, timeline, sxdm, tomo, mri, nmr, incomplete, interrupted)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory) -> Experiment:
    return make_experiment(tmp_path_factory.mktemp("experiment"))


def aligned_to(ds: xr.Dataset, record: echem.EchemRecord) -> xr.Dataset:
    """The attributes :func:`operando.timeline.attach_state` leaves: which record a store sits on."""
    return ds.assign_attrs(echem_source=record.meta.source, echem_sha256=record.meta.sha256)


@dataclass
class TwoCells:
    """An experiment of two cells: an LMNO half cell (SXDM) and a Li|Li symmetric cell (MRI).

    ``tomo`` was aligned to a third cell's record (``other_csv``) that the tests do not give
    to the report.
    """

    mpt: Path
    csv: Path
    other_csv: Path
    half_cell: echem.EchemRecord
    symmetric: echem.EchemRecord
    timeline: Path
    sxdm: Path
    mri: Path
    tomo: Path
    nmr: Path

    def stores(self) -> list[Path]:
        return [self.timeline, self.sxdm, self.mri, self.tomo, self.nmr]


def symmetric_record(path: Path, *, seed: int, short_at_s: float | None = None) -> echem.EchemRecord:
    """A Li|Li cell record written as canonical CSV and read back (so that it has a file and a checksum)."""
    rec = simulate_symmetric_cell(half_cycle_s=600.0, half_cycles=6, dt_s=20.0, short_at_s=short_at_s, seed=seed)
    return echem.read(echem.write_csv(rec, path))


def make_two_cells(root: Path) -> TwoCells:
    cell = simulate_gcpl(active_mass_g=0.004, c_rate=2.0, cycles=1, dt_s=20.0)
    mpt = write_eclab_mpt(cell, root / "raw" / "LMNO_halfcell.mpt")
    half = echem.read(mpt)
    sym = symmetric_record(root / "raw" / "LiLi_symmetric.csv", seed=1, short_at_s=3000.0)
    third = symmetric_record(root / "raw" / "LiSELi_tomo_cell.csv", seed=2)
    res = root / "results"
    tl_half, tl_sym, tl_third = timeline_for(half), timeline_for(sym), timeline_for(third)
    timeline = write_results(tl_half.assign_attrs(operando_kind="echem-timeline"), res / "timeline.zarr")
    sxdm = write_results(aligned_to(sxdm_maps(tl_half, [1, 4, 8]), half), res / "sxdm_maps.zarr")
    mri = write_results(aligned_to(mri_layers(tl_sym, [0, 3, 6, 9]), sym), res / "mri_layers.zarr")
    tomo = write_results(aligned_to(tomo_series(tl_third, [2, 5, 7]), third), res / "tomo_series.zarr")
    nmr = write_results(nmr_isotopes(), res / "nmr_isotopes.zarr")
    return TwoCells(mpt, Path(sym.meta.source), Path(third.meta.source), half, sym, timeline, sxdm, mri, tomo, nmr)


@pytest.fixture(scope="module")
def two_cells(tmp_path_factory) -> TwoCells:
    return make_two_cells(tmp_path_factory.mktemp("two_cells"))
