"""The XSOCS q-space HDF5 file (``xsocs.io.QSpaceH5``): write a cube of
:func:`operando.sxdm.gridded_qspace`, read one back lazily.

XSOCS file layout (``xsocs.io.QSpaceH5``)::

    Data/qspace       (points, n0, n1, n2) float32     Data/histo  (n0, n1, n2) int32
    Data/qx, qy, qz   bin centres (1/Å)                Data/qspace_sum (points,) float32
    Data/sample_x, sample_y  (points,) µm (fast, slow motor)
    Params/{beam_energy, direct_beam, channels_per_degree, medfilt_dims, sample_roi, ...}
    params/entries/{selected, discarded, has_shift, has_grid_shift}
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr
from numpy.typing import NDArray

from operando.errors import CorruptFileError, MissingMetadataError, ParameterError, UnsupportedFormatError

__all__ = ["read_xsocs_qspace", "write_xsocs_qspace"]

_AXES = ("qx", "qy", "qz")


def write_xsocs_qspace(
    cube: xr.Dataset,
    path: str | PathLike[str],
    *,
    entries: Sequence[str] = (),
    beam_energy_eV: float | None = None,
    direct_beam: tuple[float, float] | None = None,
    channels_per_degree: tuple[float, float] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a cube from :func:`operando.sxdm.gridded_qspace` in the XSOCS q-space file layout.

    The file opens in XSOCS (``xsocs.io.QSpaceH5.QSpaceH5``) for its fits and viewers.

    Parameters
    ----------
    cube : xarray.Dataset
        From :func:`operando.sxdm.gridded_qspace`.
    path : str or PathLike
        Target HDF5 file.
    entries : sequence of str
        Scans used (``params/entries/selected``).
    beam_energy_eV, direct_beam, channels_per_degree
        Acquisition parameters XSOCS records (``Params/*``), when known.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path
    """
    p = Path(path)
    if p.exists() and not overwrite:
        raise ParameterError(f"{p} exists (pass overwrite=True to replace it)", path=p)
    shape = tuple(cube.sizes[a] for a in _AXES)
    n = cube.sizes["point"]
    tmp = p.with_name(p.name + ".partial")
    with h5py.File(tmp, "w") as h:
        data = h.create_group("Data")
        data.attrs["NX_class"] = "NXdata"
        data.attrs["signal"] = "qspace"
        data.attrs["axes"] = [".", *_AXES]
        chunks = (1, *(max(s // 4, 1) for s in shape))
        data.create_dataset("qspace", data=cube["qspace"].values.astype(np.float32), chunks=chunks, compression="gzip")
        data.create_dataset("histo", data=cube["histo"].values.astype(np.int32))
        for ax in _AXES:
            data.create_dataset(ax, data=cube[ax].values.astype(np.float64))
        data.create_dataset("sample_x", data=cube["sample_x"].values.astype(np.float64))
        data.create_dataset("sample_y", data=cube["sample_y"].values.astype(np.float64))
        data.create_dataset("qspace_sum", data=cube["qspace_sum"].values.astype(np.float32))
        params = h.create_group("Params")
        params["medfilt_dims"] = np.array([1, 1], dtype=np.int32)
        xs, ys = cube["sample_x"].values, cube["sample_y"].values
        params["sample_roi"] = np.array([xs.min(), xs.max(), ys.min(), ys.max()]) if n else np.full(4, np.nan)
        params["maxipix_correction"] = 0
        if beam_energy_eV is not None:
            params["beam_energy"] = float(beam_energy_eV)
        if direct_beam is not None:
            params["direct_beam"] = np.asarray(direct_beam, dtype=np.float64)
        if channels_per_degree is not None:
            params["channels_per_degree"] = np.asarray(channels_per_degree, dtype=np.float64)
        ent = h.create_group("params/entries")
        ent.create_dataset("selected", data=[e.encode() for e in entries], dtype=h5py.string_dtype())
        ent.create_dataset("discarded", data=np.array([], dtype=object), dtype=h5py.string_dtype())
        ent["has_shift"] = False
        ent["has_grid_shift"] = False
    tmp.replace(p)
    return p


def read_xsocs_qspace(path: str | PathLike[str], *, points_per_chunk: int = 16) -> xr.Dataset:
    """Read an XSOCS q-space file; the cubes stay on disk (lazy dask, blocks of points).

    Parameters
    ----------
    path : str or PathLike
        XSOCS ``qspace.h5`` (``Data/qspace`` and its axes).
    points_per_chunk : int
        Points per HDF5 read.

    Returns
    -------
    xarray.Dataset
        ``qspace`` (point, ax0, ax1, ax2) lazy float32, ``histo``, ``qspace_sum``; axes
        named as the file names them (``qx, qy, qz``, or ``pitch, roll, radial``).
    """
    import dask
    import dask.array as da

    p = Path(path)
    if not h5py.is_hdf5(p):
        raise UnsupportedFormatError("not an HDF5 file", path=p)
    with h5py.File(p, "r") as h:
        if "Data/qspace" not in h:
            raise UnsupportedFormatError("no Data/qspace: not an XSOCS q-space file", path=p)
        axes = [a.decode() if isinstance(a, bytes) else str(a) for a in h["Data"].attrs.get("axes", [".", *_AXES])][1:]
        missing = [f"Data/{k}" for k in (*axes, "histo", "sample_x", "sample_y") if f"Data/{k}" not in h]
        if missing:
            raise MissingMetadataError("missing " + ", ".join(missing), path=p)
        dset = h["Data/qspace"]
        if dset.ndim != 4:
            raise CorruptFileError(f"Data/qspace has shape {dset.shape}, expected (points, n0, n1, n2)", path=p)
        n, shape, dtype = dset.shape[0], dset.shape[1:], dset.dtype
        coords = {a: (a, h[f"Data/{a}"][()]) for a in axes}
        histo = h["Data/histo"][()]
        sx, sy = h["Data/sample_x"][()], h["Data/sample_y"][()]
        qsum = h["Data/qspace_sum"][()] if "Data/qspace_sum" in h else None
    if tuple(len(coords[a][1]) for a in axes) != shape or histo.shape != shape:
        raise CorruptFileError(f"axes / histo do not match the cube shape {shape}", path=p)

    def read(start: int, stop: int) -> NDArray[Any]:
        with h5py.File(p, "r") as f:
            return np.asarray(f["Data/qspace"][start:stop])

    blocks = [
        da.from_delayed(
            dask.delayed(read, pure=True)(s, min(s + points_per_chunk, n)),
            (min(points_per_chunk, n - s), *shape),
            dtype=dtype,
        )
        for s in range(0, n, points_per_chunk)
    ]
    cube = da.concatenate(blocks, axis=0) if blocks else da.zeros((0, *shape), dtype=dtype)
    data: dict[str, Any] = {
        "qspace": (("point", *axes), cube, {"units": "counts"}),
        "histo": (tuple(axes), histo, {"units": "1"}),
    }
    if qsum is not None:
        data["qspace_sum"] = (("point",), qsum, {"units": "counts"})
    return xr.Dataset(
        data,
        coords={**coords, "sample_x": ("point", sx, {"units": "um"}), "sample_y": ("point", sy, {"units": "um"})},
        attrs={"source": str(p)},
    )
