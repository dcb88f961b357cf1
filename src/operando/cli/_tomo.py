"""``operando tomo``: projections to volumes (the later steps follow)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Operando tomography: reconstruction (segment, interface, series to come).", no_args_is_help=True
)


@app.callback()
def _group() -> None:
    """Operando tomography."""


@app.command("recon")
def recon(
    path: Annotated[Path, typer.Argument(help="DXchange HDF5, NeXus (image_key) or TIFF scan.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Zarr store of the volume.")],
    center: Annotated[
        float | None, typer.Option("--center", help="Rotation centre, px from the centre of pixel 0 (default: found).")
    ] = None,
    voxel_size_um: Annotated[
        float | None, typer.Option("--voxel-size-um", help="Voxel size in µm when the file does not record it.")
    ] = None,
    stripes: Annotated[bool, typer.Option("--stripes/--no-stripes", help="Remove stripes (ring artefacts).")] = True,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
) -> None:
    """Flat/dark normalise, -log, remove stripes, find the centre and reconstruct every row."""
    import numpy as np
    import xarray as xr

    from operando.errors import MissingMetadataError
    from operando.store import write_results
    from operando.tomo import find_center, minus_log, normalize, read_tomo, reconstruct, remove_stripes

    scan = read_tomo(path)
    voxel = voxel_size_um if voxel_size_um is not None else scan.pixel_size_um
    if voxel is None:
        raise MissingMetadataError("the file records no pixel size; give --voxel-size-um", path=path)
    if scan.flats is not None:
        sino = minus_log(normalize(scan.projections, scan.flats, scan.darks))
    else:
        sino = scan.projections.astype(np.float32)  # already line integrals (e.g. a corrected sinogram TIFF)
    if stripes:
        sino = remove_stripes(sino)
    if center is None:
        middle = sino.shape[1] // 2
        center = find_center(np.asarray(sino[:, middle, :]))
    volume = reconstruct(sino, scan.angles_deg, center=center)
    n = volume.shape[1]
    axis = (np.arange(n) - n // 2) * voxel
    ds = xr.Dataset(
        {
            "attenuation": (
                ("z", "y", "x"),
                volume,
                {"units": "1/voxel", "long_name": "linear attenuation x voxel size"},
            )
        },
        coords={
            "z": ("z", np.arange(volume.shape[0]) * voxel, {"units": "um"}),
            "y": ("y", axis, {"units": "um"}),
            "x": ("x", axis, {"units": "um"}),
        },
        attrs={"voxel_size_um": float(voxel), "center_px": float(center), "modality": "tomography"},
    )
    parameters = {"center_px": float(center), "voxel_size_um": float(voxel), "stripes": stripes, "layout": scan.layout}
    target = write_results(ds, out, parameters=parameters, inputs=[path], overwrite=overwrite)
    typer.echo(f"{target}: {volume.shape[0]} slices of {n} x {n} voxels ({voxel} µm), centre {center:.2f} px")
