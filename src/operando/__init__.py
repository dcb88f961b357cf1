"""operando: raw operando battery data to physics on the charging curve.

Subpackages, one per modality: :mod:`operando.echem` (potentiostat records),
:mod:`operando.sxdm`, :mod:`operando.tomo`, :mod:`operando.nmr`, :mod:`operando.mri`;
shared infrastructure: :mod:`operando.timeline`, :mod:`operando.store`,
:mod:`operando.parallel`, :mod:`operando.synthetic`, :mod:`operando.report`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from os import PathLike

    import xarray as xr

__version__ = "0.1.0"

__all__ = ["__version__", "open"]


def open(
    path: str | PathLike[str], *, kind: str | None = None, verify: Literal["size", "lazy", "sha256"] = "lazy"
) -> xr.Dataset:
    """Open any operando result store (lazily), verified and with its kind checked.

    The same as :func:`operando.store.open_store`; see there for the parameters.
    ``operando.open("maps.zarr", kind="sxdm-maps")``.
    """
    from operando.store import open_store  # xarray and zarr only when a store is opened

    return open_store(path, kind=kind, verify=verify)
