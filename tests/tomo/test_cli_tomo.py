"""``operando tomo recon`` on the real APS tooth scan."""

import pytest
from typer.testing import CliRunner

from operando.cli import tomo_app as app
from operando.errors import MissingMetadataError, ParameterError
from operando.store import open_results


@pytest.mark.realdata
def test_recon_tooth(real_file, tmp_path):
    tooth = real_file("tomo/tomopy/tooth.h5")
    res = CliRunner().invoke(app, ["recon", str(tooth), "-o", str(tmp_path / "v.zarr")])
    assert isinstance(res.exception, MissingMetadataError)
    assert "give --voxel-size-um" in str(res.exception)
    res = CliRunner().invoke(app, ["recon", str(tooth), "--angle-range-deg", "0,180", "-o", str(tmp_path / "v.zarr")])
    assert isinstance(res.exception, ParameterError) and "records its own (dxchange)" in str(res.exception)
    res = CliRunner().invoke(app, ["recon", str(tooth), "--voxel-size-um", "1.7", "-o", str(tmp_path / "v.zarr")])
    assert res.exit_code == 0, res.output
    ds = open_results(tmp_path / "v.zarr")
    assert ds["attenuation"].shape == (2, 640, 640)
    assert 294.5 <= ds.attrs["center_px"] <= 296.0  # Vo's method gives 295.0 on the raw sinogram
    assert ds.attrs["voxel_size_um"] == 1.7
    assert ds["x"].attrs["units"] == "um"
    # the tooth absorbs: its inside is clearly above the empty background
    a = ds["attenuation"].isel(z=0).values
    assert a[300:340, 300:340].mean() > 5 * abs(a[5:40, 5:40].mean())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recon_finds_the_centre_of_a_small_cell_with_stripe_removal_on(tmp_path, seed):
    """The centre is found before stripe removal: on a 48-px detector the stripe filter shifted it by ~2.5 px."""
    from operando.synthetic import simulate_cell, write_cell_dxchange

    cell = simulate_cell((56, 48, 48), voxel_size_um=10.0, n_voids=(3, 4), seed=seed)
    scan = write_cell_dxchange(tmp_path / "cell.h5", cell, n_angles=180, flat_counts=6e4, seed=seed)
    res = CliRunner().invoke(app, ["recon", str(scan), "-o", str(tmp_path / "v.zarr")])  # stripes on (default)
    assert res.exit_code == 0, res.output
    assert abs(open_results(tmp_path / "v.zarr").attrs["center_px"] - 24.0) <= 0.5  # the phantom's axis: 48 // 2


def test_recon_of_a_tiff_sinogram_asks_for_its_angles(tmp_path):
    """A TIFF records no angles (nor energy): the CLI asks for --angle-range-deg, then reconstructs
    an off-centre disc where it lies and records the energy given."""
    import numpy as np
    import tifffile
    from skimage.transform import radon

    n = 64
    yy, xx = np.mgrid[:n, :n] - n // 2
    image = ((yy - 6) ** 2 + (xx + 10) ** 2 <= 8**2).astype(np.float64)
    theta = np.arange(180) * 1.0
    sino = radon(image, theta=theta, circle=True).T.astype(np.float32)  # (angle, column)
    tifffile.imwrite(tmp_path / "sino.tif", sino)
    args = ["recon", str(tmp_path / "sino.tif"), "--voxel-size-um", "2", "--no-stripes", "--center", str(n // 2)]
    res = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "v.zarr")])
    assert isinstance(res.exception, MissingMetadataError)
    assert "--angle-range-deg START,STOP" in str(res.exception)
    res = CliRunner().invoke(
        app, [*args, "--angle-range-deg", "0,180", "--energy-kev", "30", "-o", str(tmp_path / "v.zarr")]
    )
    assert res.exit_code == 0, res.output
    ds = open_results(tmp_path / "v.zarr")
    assert ds.attrs["energy_kev"] == 30.0
    bad = CliRunner().invoke(app, [*args, "--angle-range-deg", "0;180", "-o", str(tmp_path / "w.zarr")])
    assert isinstance(bad.exception, ParameterError) and "START,STOP" in str(bad.exception)
    assert not (tmp_path / "w.zarr").exists()
    a = ds["attenuation"].isel(z=0).values
    assert a.shape == (n, n)
    cy, cx = np.average(np.mgrid[:n, :n].reshape(2, -1), axis=1, weights=np.clip(a, 0, None).ravel())
    assert abs(cy - (n // 2 + 6)) < 1.0 and abs(cx - (n // 2 - 10)) < 1.0
