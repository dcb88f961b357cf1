"""Synthetic Li | solid electrolyte | Li cell for operando tomography, with exact ground truth.

The forward model
-----------------
A cylindrical cell stacked along ``z`` (the rotation axis) inside a volume ``(z, y, x)``:
a current collector at each end, a lithium electrode on each, an electrolyte slab with
a few closed pores in between, an interphase layer on the electrolyte side of each
Li/electrolyte interface, and interfacial voids (random axis-aligned-in-z, randomly
rotated in-plane ellipsoids) in the lithium, tangent to the Li edge. The Li/electrolyte
interfaces are rough (smooth random height fields). Outside the cylinder is air.

Label codes (``operando_kind = "tomo-segmentation"``): 0 electrolyte, 1 lithium, 2 void,
3 pore, 4 interphase, 5 current collector or background.

Definitions the truth uses (the same as :mod:`operando.tomo._interface`)
-------------------------------------------------------------------------
* The **Li edge** of interface ``k`` in column ``(y, x)``: walking along ``z`` from the
  collector of electrode ``k`` (``k = 0`` at ``z = 0``, ``k = 1`` at the top), the index
  of the first voxel that is neither lithium nor void.
* A column is **in contact** unless a void voxel lies within ``void_distance_px``
  (default 5) voxels before the Li edge.

Attenuation
-----------
Effective linear attenuation coefficients in 1/cm (:class:`CellMaterials`). The defaults
keep the order and the contrast ratios of the seed paper's reconstructions (voids and air
~0 < Li < interphase < electrolyte (Li6PS5Cl) < collector). Pure absorption at ~25 keV
would give Li ~0.1/cm against ~10/cm for Li6PS5Cl; the visible Li/void contrast of real
scans comes from propagation phase contrast, which a default of 3/cm stands in for.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from os import PathLike
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from operando.errors import ParameterError

__all__ = [
    "LABELS",
    "CellMaterials",
    "CellPhantom",
    "project_cell",
    "simulate_bare_cell",
    "simulate_cell",
    "simulate_cell_series",
    "write_cell_dxchange",
]

LABELS: dict[str, int] = {
    "electrolyte": 0,
    "lithium": 1,
    "void": 2,
    "pore": 3,
    "interphase": 4,
    "background": 5,
}
"""Label codes of a tomography segmentation (collector and air share code 5)."""

_LI_DENSITY_G_CM3 = 0.534
_LI_MOLAR_MASS_G_MOL = 6.941
_FARADAY_C_MOL = 96485.33212


@dataclass(frozen=True)
class CellMaterials:
    """Effective linear attenuation coefficients, 1/cm (see the module notes)."""

    air: float = 0.0
    lithium: float = 3.0
    interphase: float = 6.5
    electrolyte: float = 12.0
    collector: float = 24.0


@dataclass(frozen=True)
class CellPhantom:
    """One synthetic scan of the cell and its exact ground truth.

    Attributes
    ----------
    attenuation : (nz, ny, nx) ndarray of float32
        Noise-free effective attenuation, 1/cm.
    volume : (nz, ny, nx) ndarray of float32
        ``attenuation`` with blur and Gaussian noise as asked, 1/cm.
    labels : (nz, ny, nx) ndarray of uint8
        True label of every voxel (codes in :data:`LABELS`).
    void_ids : (nz, ny, nx) ndarray of int32
        0 outside voids, ``i + 1`` inside void ``i`` (voids never touch one another).
    void_interface : (n_voids,) ndarray of int
        Interface (0 bottom, 1 top) of each void.
    void_semi_axes_px : (n_voids, 3) ndarray
        Semi-axes ``(rz, ry, rx)`` of each void, voxels.
    footprint : (ny, nx) ndarray of bool
        Columns inside the cell.
    li_edge : (2, ny, nx) ndarray of int
        Li edge (module notes) of each interface, z index; -1 outside the footprint.
    contact : (2, ny, nx) ndarray of bool
        True contact map of each interface (``void_distance_px`` of the phantom).
    voxel_size_um : float
        Edge of a voxel, µm.
    void_distance_px : int
        Distance used for ``contact``.
    time_s : float
        Time of the scan (series), s.
    charge_mAh : float
        Charge passed since the first scan (series), mA h.
    """

    attenuation: NDArray[np.float32]
    volume: NDArray[np.float32]
    labels: NDArray[np.uint8]
    void_ids: NDArray[np.int32]
    void_interface: NDArray[np.int64]
    void_semi_axes_px: NDArray[np.float64]
    footprint: NDArray[np.bool_]
    li_edge: NDArray[np.int64]
    contact: NDArray[np.bool_]
    voxel_size_um: float
    void_distance_px: int = 5
    time_s: float = 0.0
    charge_mAh: float = 0.0
    materials: CellMaterials = field(default_factory=CellMaterials)

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel, mm^3."""
        return float((self.voxel_size_um * 1e-3) ** 3)

    @property
    def contact_area_mm2(self) -> NDArray[np.float64]:
        """(2,) true contact area of each interface, mm^2."""
        return self.contact.sum(axis=(1, 2)) * (self.voxel_size_um * 1e-3) ** 2

    def _per_electrode(self, code: int) -> NDArray[np.float64]:
        nz = self.labels.shape[0]
        lower = np.arange(nz)[:, None, None] < _midplane(self.li_edge, self.footprint, nz)
        hit = self.labels == code
        counts = np.array([np.count_nonzero(hit & lower), np.count_nonzero(hit & ~lower)])
        return counts * self.voxel_volume_mm3

    @property
    def li_volume_mm3(self) -> NDArray[np.float64]:
        """(2,) lithium volume of the bottom and the top electrode (voids excluded), mm^3."""
        return self._per_electrode(LABELS["lithium"])

    @property
    def interphase_volume_mm3(self) -> NDArray[np.float64]:
        """(2,) interphase volume at the bottom and the top interface, mm^3."""
        return self._per_electrode(LABELS["interphase"])

    @property
    def void_volume_mm3(self) -> NDArray[np.float64]:
        """(2,) interfacial void volume at the bottom and the top interface, mm^3."""
        return self._per_electrode(LABELS["void"])


def _midplane(li_edge: NDArray[np.int64], footprint: NDArray[np.bool_], nz: int) -> int:
    """A z index between the two interfaces (splits the volume into bottom and top halves)."""
    if not footprint.any():
        return nz // 2
    return round(0.5 * (li_edge[0][footprint].mean() + li_edge[1][footprint].mean()))


def li_edges_from_labels(labels: NDArray[np.integer], footprint: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Li edge of both interfaces from a label volume (module notes), -1 outside the footprint.

    Parameters
    ----------
    labels : (nz, ny, nx) ndarray of int
        Label codes.
    footprint : (ny, nx) ndarray of bool
        Columns of the cell.

    Returns
    -------
    (2, ny, nx) ndarray of int64
        Bottom edge counted from ``z = 0``; top edge as a z index too (the first voxel
        below the top Li that is neither Li nor void, walking down).
    """
    nz = labels.shape[0]
    out = np.full((2, *labels.shape[1:]), -1, dtype=np.int64)
    for k, lab in enumerate((labels, labels[::-1])):
        started = np.cumsum(lab != LABELS["background"], axis=0) > 0
        stop = started & ~np.isin(lab, (LABELS["lithium"], LABELS["void"]))
        edge = np.where(stop.any(axis=0), stop.argmax(axis=0), nz)
        out[k] = edge if k == 0 else nz - 1 - edge
    out[:, ~footprint] = -1
    return out


def contact_from_labels(
    labels: NDArray[np.integer], li_edge: NDArray[np.int64], footprint: NDArray[np.bool_], void_distance_px: int
) -> NDArray[np.bool_]:
    """Contact map of both interfaces: no void within ``void_distance_px`` voxels before the Li edge.

    Returns
    -------
    (2, ny, nx) ndarray of bool
    """
    nz = labels.shape[0]
    z = np.arange(nz)[:, None, None]
    void = labels == LABELS["void"]
    near0 = (z < li_edge[0]) & (z >= li_edge[0] - void_distance_px)
    near1 = (z > li_edge[1]) & (z <= li_edge[1] + void_distance_px)
    lost = np.stack([(void & near0).any(axis=0), (void & near1).any(axis=0)])
    return footprint[None] & ~lost


# -- geometry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Void:
    interface: int
    cy: float
    cx: float
    r: tuple[float, float, float]  # rz, ry, rx
    phi: float


@dataclass(frozen=True)
class _Layout:
    radius_px: float
    collector_px: int
    li_px: tuple[int, int]
    electrolyte_px: int
    interphase_px: float
    rough0: NDArray[np.float64]
    rough1: NDArray[np.float64]
    voids: tuple[_Void, ...]
    pores: tuple[tuple[float, float, float, float], ...]  # cz, cy, cx, r
    top_shift_px: int = 0
    interphase_growth_px: float = 0.0


def _rough_field(shape: tuple[int, int], rng: np.random.Generator, amplitude_px: float) -> NDArray[np.float64]:
    field_ = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=max(shape) / 8, mode="wrap")
    field_ /= max(np.abs(field_).max(), 1e-12)
    return amplitude_px * field_


def _sample_voids(
    rng: np.random.Generator,
    n_voids: tuple[int, int],
    ny: int,
    nx: int,
    radius_px: float,
    radius_range_px: tuple[float, float],
    max_rz: float,
) -> tuple[_Void, ...]:
    yy, xx = np.mgrid[0:ny, 0:nx]
    cy0, cx0 = ny // 2, nx // 2
    voids: list[_Void] = []
    for interface, n in enumerate(n_voids):
        taken = np.zeros((ny, nx), bool)
        tries = 0
        while sum(v.interface == interface for v in voids) < n and tries < 200 * max(n, 1):
            tries += 1
            lo, hi = radius_range_px
            ry, rx = rng.uniform(lo, hi, 2)
            rz = rng.uniform(lo, max(lo, min(hi, max_rz)))
            if not any(v.interface == interface for v in voids):
                ry = rx = rz = lo  # the smallest void of each interface: 3 x 3 x 3 voxels at 1.5 px
            phi = rng.uniform(0, np.pi)
            reach = max(ry, rx) + 1
            rho = rng.uniform(0, max(radius_px - reach - 1, 0))
            ang = rng.uniform(0, 2 * np.pi)
            cy, cx = round(cy0 + rho * np.sin(ang)), round(cx0 + rho * np.cos(ang))
            foot = _ellipse(yy - cy, xx - cx, ry, rx, phi, 1.0)
            grown = ndimage.binary_dilation(foot, iterations=2)
            if (grown & taken).any():
                continue
            taken |= grown
            voids.append(_Void(interface, float(cy), float(cx), (float(rz), float(ry), float(rx)), float(phi)))
    return tuple(voids)


def _ellipse(dy: NDArray, dx: NDArray, ry: float, rx: float, phi: float, scale: float) -> NDArray[np.bool_]:
    u = dy * np.cos(phi) + dx * np.sin(phi)
    v = -dy * np.sin(phi) + dx * np.cos(phi)
    return (u / ry) ** 2 + (v / rx) ** 2 <= scale


def _render(
    shape: tuple[int, int, int], lay: _Layout, void_scale: NDArray[np.float64], materials: CellMaterials
) -> tuple[NDArray[np.uint8], NDArray[np.int32], NDArray[np.float32], NDArray[np.bool_]]:
    nz, ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    foot = (yy - ny // 2) ** 2 + (xx - nx // 2) ** 2 <= lay.radius_px**2
    c0 = lay.collector_px  # first bottom Li voxel
    e0 = np.rint(c0 + lay.li_px[0] + lay.rough0).astype(int)  # bottom Li edge (first non-Li voxel)
    gap = 2 * lay.interphase_px + lay.electrolyte_px
    top_li0 = np.rint(c0 + lay.li_px[0] + gap + lay.rough1).astype(int)  # first top Li voxel
    t = lay.interphase_px + lay.interphase_growth_px
    i0 = np.rint(e0 + t).astype(int)  # first electrolyte voxel
    e1 = np.rint(top_li0 - t).astype(int)  # first top interphase voxel
    c1 = round(float(np.mean(top_li0[foot]))) + lay.li_px[1] - lay.top_shift_px  # first top collector voxel
    if c1 >= nz or c0 < 1 or (top_li0[foot] >= c1 - 1).any() or (i0 >= e1).any():
        raise ParameterError(f"the cell does not fit in {nz} slices; use fewer/thinner layers or a taller volume")
    z = np.arange(nz)[:, None, None]
    lab = np.full(shape, LABELS["background"], np.uint8)
    inside = foot[None]
    lab[inside & (z >= c0) & (z < e0)] = LABELS["lithium"]
    lab[inside & (z >= e0) & (z < i0)] = LABELS["interphase"]
    lab[inside & (z >= i0) & (z < e1)] = LABELS["electrolyte"]
    lab[inside & (z >= e1) & (z < top_li0)] = LABELS["interphase"]
    lab[inside & (z >= top_li0) & (z < c1)] = LABELS["lithium"]
    for cz, cy, cx, r in lay.pores:
        ball = (z - cz) ** 2 + (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
        lab[ball & (lab == LABELS["electrolyte"])] = LABELS["pore"]
    ids = np.zeros(shape, np.int32)
    for i, v in enumerate(lay.voids):
        rz, ry, rx = (a * void_scale[i] for a in v.r)
        iy, ix = round(v.cy), round(v.cx)
        cz = e0[iy, ix] - 0.5 - rz if v.interface == 0 else top_li0[iy, ix] - 0.5 + rz
        u = (yy - v.cy) * np.cos(v.phi) + (xx - v.cx) * np.sin(v.phi)
        w = -(yy - v.cy) * np.sin(v.phi) + (xx - v.cx) * np.cos(v.phi)
        body = ((z - cz) / rz) ** 2 + (u / ry) ** 2 + (w / rx) ** 2 <= 1.0
        body &= lab == LABELS["lithium"]
        body &= (z < e0) if v.interface == 0 else (z >= top_li0)
        lab[body] = LABELS["void"]
        ids[body] = i + 1
    mu = np.array(
        [
            materials.electrolyte,
            materials.lithium,
            materials.air,
            materials.air,
            materials.interphase,
            materials.collector,
        ],
        np.float32,
    )
    att = mu[lab]
    att[:, ~foot] = materials.air
    lab[:, ~foot] = LABELS["background"]
    return lab, ids, att, foot


def _finish(
    lab: NDArray[np.uint8],
    ids: NDArray[np.int32],
    att: NDArray[np.float32],
    foot: NDArray[np.bool_],
    lay: _Layout,
    void_scale: NDArray[np.float64],
    *,
    voxel_size_um: float,
    noise_sigma: float,
    blur_sigma_px: float,
    rng: np.random.Generator,
    void_distance_px: int,
    materials: CellMaterials,
    time_s: float = 0.0,
    charge_mAh: float = 0.0,
) -> CellPhantom:
    vol = ndimage.gaussian_filter(att, blur_sigma_px) if blur_sigma_px > 0 else att.copy()
    if noise_sigma > 0:
        vol = vol + rng.normal(0.0, noise_sigma, vol.shape).astype(np.float32)
    edges = li_edges_from_labels(lab, foot)
    contact = contact_from_labels(lab, edges, foot, void_distance_px)
    present = np.array([np.any(ids == i + 1) for i in range(len(lay.voids))], bool)
    keep = np.flatnonzero(present)
    remap = np.zeros(len(lay.voids) + 1, np.int32)
    remap[keep + 1] = np.arange(1, keep.size + 1)
    return CellPhantom(
        attenuation=att,
        volume=vol.astype(np.float32),
        labels=lab,
        void_ids=remap[ids],
        void_interface=np.array([lay.voids[i].interface for i in keep], dtype=np.int64),
        void_semi_axes_px=np.array([[a * void_scale[i] for a in lay.voids[i].r] for i in keep]).reshape(-1, 3),
        footprint=foot,
        li_edge=edges,
        contact=contact,
        voxel_size_um=float(voxel_size_um),
        void_distance_px=int(void_distance_px),
        time_s=float(time_s),
        charge_mAh=float(charge_mAh),
        materials=materials,
    )


def _layout(
    shape: tuple[int, int, int],
    rng: np.random.Generator,
    *,
    n_voids: tuple[int, int],
    void_radius_px: tuple[float, float],
    interphase_px: float,
    roughness_px: float,
    n_pores: int,
    pore_radius_px: tuple[float, float] = (1.2, 2.5),
) -> _Layout:
    nz, ny, nx = shape
    if min(void_radius_px) < 1.5:
        raise ParameterError(f"void_radius_px {void_radius_px}: the smallest void is 1.5 px (3 x 3 x 3 voxels)")
    radius = 0.42 * min(ny, nx)
    collector = max(2, nz // 16)
    li = (round(nz * rng.uniform(0.2, 0.26)), round(nz * rng.uniform(0.2, 0.26)))
    free = nz - 2 * collector - sum(li) - 2 * int(np.ceil(interphase_px)) - 2 * int(np.ceil(roughness_px)) - 2
    if free < 6:
        raise ParameterError(f"the cell does not fit in {nz} slices")
    electrolyte = int(free)
    rough0 = _rough_field((ny, nx), rng, roughness_px)
    rough1 = _rough_field((ny, nx), rng, roughness_px)
    max_rz = 0.45 * min(li) - 1
    voids = _sample_voids(rng, n_voids, ny, nx, radius, void_radius_px, max_rz)
    mid = collector + li[0] + interphase_px + electrolyte / 2
    pores = tuple(
        (
            float(mid + rng.uniform(-0.25, 0.25) * electrolyte),
            float(ny // 2 + rng.uniform(-0.5, 0.5) * radius),
            float(nx // 2 + rng.uniform(-0.5, 0.5) * radius),
            float(rng.uniform(*pore_radius_px)),
        )
        for _ in range(n_pores)
    )
    return _Layout(
        radius_px=radius,
        collector_px=collector,
        li_px=li,
        electrolyte_px=electrolyte,
        interphase_px=interphase_px,
        rough0=rough0,
        rough1=rough1,
        voids=voids,
        pores=pores,
    )


def simulate_cell(
    shape: tuple[int, int, int] = (64, 64, 64),
    *,
    voxel_size_um: float = 5.0,
    n_voids: tuple[int, int] = (8, 8),
    void_radius_px: tuple[float, float] = (1.5, 6.0),
    interphase_px: float = 4.0,
    roughness_px: float = 1.5,
    n_pores: int = 3,
    noise_sigma: float = 0.0,
    blur_sigma_px: float = 0.0,
    void_distance_px: int = 5,
    materials: CellMaterials | None = None,
    seed: int = 0,
    pore_radius_px: tuple[float, float] = (1.2, 2.5),
) -> CellPhantom:
    """One scan of a Li | electrolyte | Li cell with interfacial voids, and its ground truth.

    Parameters
    ----------
    shape : (nz, ny, nx) tuple of int
        Volume shape; the cell stack runs along ``z``, the cell is a cylinder of radius
        ``0.42 min(ny, nx)`` about the volume's axis.
    voxel_size_um : float
        Voxel edge, µm.
    n_voids : (int, int)
        Number of interfacial voids at the bottom and the top interface (fewer when they
        do not fit without touching).
    void_radius_px : (float, float)
        Range of the voids' semi-axes, voxels; 1.5 is a 3 x 3 x 3 void.
    interphase_px : float
        Interphase thickness, voxels.
    roughness_px : float
        Amplitude of the interfaces' height fields, voxels.
    n_pores : int
        Closed pores in the electrolyte.
    noise_sigma : float
        Standard deviation of the Gaussian noise added to ``volume``, 1/cm.
    blur_sigma_px : float
        Gaussian blur (instrument resolution) applied before the noise, voxels.
    void_distance_px : int
        Distance of the contact definition, voxels.
    materials : CellMaterials, optional
        Attenuation coefficients.
    seed : int
        Seed of every random choice.
    pore_radius_px : (float, float), default (1.2, 2.5)
        Range of the pores' radii, voxels.

    Returns
    -------
    CellPhantom

    Examples
    --------
    >>> cell = simulate_cell((60, 40, 40), n_voids=(3, 3), seed=1)
    >>> cell.labels.shape, bool(cell.contact_area_mm2[0] < cell.footprint.sum() * 0.005**2)
    ((60, 40, 40), True)
    """
    mats = materials or CellMaterials()
    rng = np.random.default_rng(seed)
    lay = _layout(
        shape,
        rng,
        n_voids=n_voids,
        void_radius_px=void_radius_px,
        interphase_px=interphase_px,
        roughness_px=roughness_px,
        n_pores=n_pores,
        pore_radius_px=pore_radius_px,
    )
    scale = np.ones(len(lay.voids))
    lab, ids, att, foot = _render(shape, lay, scale, mats)
    return _finish(
        lab,
        ids,
        att,
        foot,
        lay,
        scale,
        voxel_size_um=voxel_size_um,
        noise_sigma=noise_sigma,
        blur_sigma_px=blur_sigma_px,
        rng=rng,
        void_distance_px=void_distance_px,
        materials=mats,
    )


def simulate_bare_cell(
    shape: tuple[int, int, int] = (64, 128, 128),
    *,
    voxel_size_um: float = 5.0,
    n_voids: tuple[int, int] = (6, 6),
    n_pores: int = 8,
    seed: int = 0,
) -> CellPhantom:
    """A cell whose Li meets the electrolyte directly (no interphase), with small pores and voids.

    The phantom on which the default preprocessing is chosen and checked
    (``tests/tomo/test_defaults_bias.py``): bare Li/electrolyte interfaces (the contrast
    a ring filter can darken), voids of 1.5-5 voxel semi-axes at both interfaces, and
    ``n_pores`` closed pores of 1.5-3 voxel radius in the electrolyte (the ones a 3 x 3 x 3
    median erases). Project it with :func:`write_cell_dxchange` (e.g. ``ring_amplitude=0.05``
    for bad detector pixels, ``zinger_fraction=2e-4``) to get raw counts.

    Parameters
    ----------
    shape : (nz, ny, nx) tuple of int
    voxel_size_um : float
    n_voids : (int, int)
    n_pores : int
    seed : int
        See :func:`simulate_cell`.

    Returns
    -------
    CellPhantom

    Examples
    --------
    >>> cell = simulate_bare_cell((48, 40, 40), n_voids=(2, 2), n_pores=2, seed=1)
    >>> int((cell.labels == 4).sum()), bool((cell.labels == 3).any())
    (0, True)
    """
    return simulate_cell(
        shape,
        voxel_size_um=voxel_size_um,
        n_voids=n_voids,
        void_radius_px=(1.5, 5.0),
        interphase_px=0.0,
        n_pores=n_pores,
        pore_radius_px=(1.5, 3.0),
        seed=seed,
    )


def simulate_cell_series(
    n_frames: int = 4,
    shape: tuple[int, int, int] = (64, 64, 64),
    *,
    voxel_size_um: float = 5.0,
    recede_px_per_frame: int = 1,
    void_growth_per_frame: float = 0.15,
    interphase_growth_px_per_frame: float = 0.5,
    stripping_fraction: float = 0.8,
    scan_interval_s: float = 3600.0,
    n_voids: tuple[int, int] = (6, 8),
    void_radius_px: tuple[float, float] = (1.5, 4.0),
    interphase_px: float = 3.0,
    roughness_px: float = 1.0,
    noise_sigma: float = 0.0,
    blur_sigma_px: float = 0.0,
    void_distance_px: int = 5,
    materials: CellMaterials | None = None,
    seed: int = 0,
    electrolyte_texture: float = 0.0,
    electrolyte_shift_px_per_frame: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> list[CellPhantom]:
    """A series of scans while the top electrode is stripped.

    Between scans the top electrode recedes (its collector moves down by
    ``recede_px_per_frame``), its interfacial voids grow (semi-axes ``× (1 + g k)``) and
    both interphases thicken. The charge passed is set so that Li-metal stripping (the Li
    lost by the top electrode, voids counted as lost) carries ``stripping_fraction`` of it.

    Parameters
    ----------
    n_frames : int
        Number of scans.
    recede_px_per_frame, void_growth_per_frame, interphase_growth_px_per_frame : float
        Change per scan (voxels, relative, voxels).
    stripping_fraction : float
        True fraction of the charge carried by Li-metal stripping.
    scan_interval_s : float
        Time between scans, s (``time_s`` of each frame).
    shape, voxel_size_um, n_voids, void_radius_px, interphase_px, roughness_px, noise_sigma, blur_sigma_px
        See :func:`simulate_cell`.
    void_distance_px, materials, seed
        See :func:`simulate_cell`.
    electrolyte_texture : float, default 0
        Standard deviation (1/cm) of a smooth random attenuation texture added inside the
        electrolyte (Gaussian noise smoothed over 1.5 voxels, drawn from its own generator so
        that the default series is unchanged): the grain contrast that digital volume
        correlation follows.
    electrolyte_shift_px_per_frame : (float, float, float), default (0, 0, 0)
        Rigid displacement ``(dz, dy, dx)`` (voxels) of that texture per scan: the material at
        ``X`` in frame 0 is at ``X + k * shift`` in frame ``k`` (the layer boundaries stay put;
        the texture is resampled with cubic splines, periodic at the volume faces).

    Returns
    -------
    list of CellPhantom
        ``charge_mAh`` of each frame is the charge passed since frame 0.
    """
    if not 0 < stripping_fraction <= 1:
        raise ParameterError(f"stripping_fraction {stripping_fraction} must be in (0, 1]")
    mats = materials or CellMaterials()
    rng = np.random.default_rng(seed)
    base = _layout(
        shape,
        rng,
        n_voids=n_voids,
        void_radius_px=void_radius_px,
        interphase_px=interphase_px,
        roughness_px=roughness_px,
        n_pores=2,
    )
    texture = None
    if electrolyte_texture > 0:
        noise = np.random.default_rng([seed, 0x7E]).standard_normal(shape)
        texture = ndimage.gaussian_filter(noise, 1.5, mode="wrap")
        texture *= electrolyte_texture / texture.std()
    shift = np.asarray(electrolyte_shift_px_per_frame, dtype=np.float64)
    if shift.shape != (3,):
        raise ParameterError(f"electrolyte_shift_px_per_frame must be (dz, dy, dx), got {shift.shape}")
    frames: list[CellPhantom] = []
    li0 = 0.0
    for k in range(n_frames):
        growth = interphase_growth_px_per_frame * k
        lay = replace(
            base,
            top_shift_px=recede_px_per_frame * k,
            interphase_growth_px=growth,
        )
        scale = np.array([1.0 + void_growth_per_frame * k if v.interface == 1 else 1.0 for v in lay.voids])
        lab, ids, att, foot = _render(shape, lay, scale, mats)
        if texture is not None:
            moved = ndimage.shift(texture, k * shift, order=3, mode="grid-wrap") if k else texture
            electrolyte = lab == LABELS["electrolyte"]
            att[electrolyte] += moved[electrolyte].astype(np.float32)
        nz = shape[0]
        top = np.arange(nz)[:, None, None] >= nz // 2
        li_top = np.count_nonzero((lab == LABELS["lithium"]) & top) * (voxel_size_um * 1e-4) ** 3  # cm^3
        if k == 0:
            li0 = li_top
        lost_mol = (li0 - li_top) * _LI_DENSITY_G_CM3 / _LI_MOLAR_MASS_G_MOL
        charge_mAh = lost_mol * _FARADAY_C_MOL / 3.6 / stripping_fraction
        frames.append(
            _finish(
                lab,
                ids,
                att,
                foot,
                lay,
                scale,
                voxel_size_um=voxel_size_um,
                noise_sigma=noise_sigma,
                blur_sigma_px=blur_sigma_px,
                rng=rng,
                void_distance_px=void_distance_px,
                materials=mats,
                time_s=k * scan_interval_s,
                charge_mAh=charge_mAh,
            )
        )
    return frames


# -- projection and files --------------------------------------------------------------------


def project_cell(
    attenuation: NDArray[np.floating],
    *,
    voxel_size_um: float,
    n_angles: int = 180,
    flat_counts: float = 2.0e4,
    dark_counts: float = 100.0,
    n_flats: int = 10,
    n_darks: int = 5,
    gain_spread: float = 0.05,
    ring_fraction: float = 0.03,
    ring_amplitude: float = 0.005,
    seed: int = 0,
    zinger_fraction: float = 0.0,
    zinger_counts: float = 3.0,
) -> tuple[NDArray[np.uint16], NDArray[np.uint16], NDArray[np.uint16], NDArray[np.float64]]:
    """Raw counts of a parallel-beam scan of a volume, with Poisson noise and rings.

    Each ``z`` slice is projected with :func:`skimage.transform.radon` (rotation axis at
    column ``nx // 2``, the convention of :func:`operando.tomo.reconstruct`). The
    detector has a per-pixel gain (``1 ± gain_spread``, corrected by the flats) and, on
    ``ring_fraction`` of its pixels, an extra gain error of ``± ring_amplitude`` that the
    flats do not see (it appears as rings). The default 0.5 % is a typical residual after
    flat-field correction; a few per cent make rings that are as dark as voids in lithium.

    Parameters
    ----------
    attenuation : (nz, n, n) ndarray
        Linear attenuation, 1/cm; zero outside the inscribed cylinder.
    voxel_size_um : float
        Voxel edge, µm (line integrals are ``sum(mu) * voxel``).
    n_angles : int
        Projections over [0, 180) degrees.
    flat_counts, dark_counts : float
        Mean open-beam and dark counts per pixel.
    n_flats, n_darks : int
        Number of flat and dark frames.
    gain_spread, ring_fraction, ring_amplitude : float
        Detector gain model (see above).
    seed : int
        Seed of the noise and the gain map.
    zinger_fraction : float, default 0
        Share of the pixels of every frame (projections and flats) hit by a zinger (a gamma
        ray or scattered photon): one pixel, or with probability 1/4 a 2-pixel pair, raised
        by ``zinger_counts`` x ``flat_counts`` x U(0.5, 1.5) (clipped at the 16-bit range);
        drawn after everything else, so the other values do not depend on it.
    zinger_counts : float, default 3
        Typical zinger height in units of ``flat_counts``.

    Returns
    -------
    projections : (n_angles, nz, n) ndarray of uint16
    flats : (n_flats, nz, n) ndarray of uint16
    darks : (n_darks, nz, n) ndarray of uint16
    theta_deg : (n_angles,) ndarray of float64
    """
    from skimage.transform import radon

    att = np.asarray(attenuation, dtype=np.float64)
    if att.ndim != 3 or att.shape[1] != att.shape[2]:
        raise ParameterError(f"attenuation must be (nz, n, n), got shape {att.shape}")
    nz, n, _ = att.shape
    rng = np.random.default_rng(seed)
    theta = np.arange(n_angles) * 180.0 / n_angles
    line = np.empty((n_angles, nz, n))
    for iz in range(nz):
        line[:, iz, :] = radon(att[iz], theta=theta, circle=True).T * (voxel_size_um * 1e-4)
    gain = 1.0 + gain_spread * rng.uniform(-1, 1, (nz, n))
    ring = np.ones((nz, n))
    bad = np.asarray(rng.random(n) < ring_fraction)
    ring[:, bad] += ring_amplitude * rng.choice([-1.0, 1.0], int(np.count_nonzero(bad)))[None, :]
    expected = flat_counts * gain * ring * np.exp(-line) + dark_counts
    projections = rng.poisson(expected)
    flats = rng.poisson(np.broadcast_to(flat_counts * gain + dark_counts, (n_flats, nz, n)))
    darks = rng.poisson(np.full((n_darks, nz, n), dark_counts))
    if zinger_fraction > 0:
        zrng = np.random.default_rng([seed, 0x21])
        for frames in (projections, flats):
            hit = zrng.random(frames.shape) < zinger_fraction
            pair = hit & (zrng.random(frames.shape) < 0.25)
            hit[:, :, 1:] |= pair[:, :, :-1]
            height = zinger_counts * flat_counts * zrng.uniform(0.5, 1.5, frames.shape)
            frames += np.where(hit, height, 0).astype(frames.dtype)
    clip = np.iinfo(np.uint16).max
    return (
        np.clip(projections, 0, clip).astype(np.uint16),
        np.clip(flats, 0, clip).astype(np.uint16),
        np.clip(darks, 0, clip).astype(np.uint16),
        theta,
    )


def write_cell_dxchange(
    path: str | PathLike[str],
    phantom: CellPhantom,
    *,
    record_pixel_size: bool = True,
    start_time: datetime | None = None,
    scan_duration_s: float = 600.0,
    **projection_options: float,
) -> Path:
    """Project a phantom (:func:`project_cell`) and write an APS Data Exchange HDF5 file.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.h5`` file to create.
    phantom : CellPhantom
        Its noise-free ``attenuation`` is projected.
    record_pixel_size : bool
        Write ``/measurement/instrument/detection_system/objective/resolution`` (µm).
    start_time : datetime, optional
        Scan start (timezone-aware): written as ``/process/acquisition/start_date`` and,
        ``scan_duration_s`` later, ``end_date`` (ISO 8601), as DXchange records them.
    scan_duration_s : float
        Duration of the scan, s.
    **projection_options
        Passed to :func:`project_cell`.

    Returns
    -------
    pathlib.Path
    """
    import h5py

    proj, flats, darks, theta = project_cell(
        phantom.attenuation,
        voxel_size_um=phantom.voxel_size_um,
        **projection_options,  # type: ignore[arg-type]
    )
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(p, "w") as fh:
        fh["implements"] = "exchange:measurement"
        ex = fh.create_group("exchange")
        for name, arr in (("data", proj), ("data_white", flats), ("data_dark", darks)):
            ds = ex.create_dataset(name, data=arr, chunks=(1, *arr.shape[1:]))
            ds.attrs["axes"] = "theta:y:x"
            ds.attrs["units"] = "counts"
        th = ex.create_dataset("theta", data=theta)
        th.attrs["units"] = "degrees"
        fh["measurement/sample/name"] = "synthetic Li|Li6PS5Cl|Li cell"
        if record_pixel_size:
            res = fh.create_dataset(
                "measurement/instrument/detection_system/objective/resolution", data=phantom.voxel_size_um
            )
            res.attrs["units"] = "um"
        if start_time is not None:
            end = start_time + timedelta(seconds=scan_duration_s)
            fh["process/acquisition/start_date"] = start_time.isoformat()
            fh["process/acquisition/end_date"] = end.isoformat()
    return p
