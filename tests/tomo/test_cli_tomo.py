"""``operando tomo recon`` on the real APS tooth scan."""

import pytest
from typer.testing import CliRunner

from operando.cli._tomo import app
from operando.errors import MissingMetadataError
from operando.store import open_results


@pytest.mark.realdata
def test_recon_tooth(real_file, tmp_path):
    tooth = real_file("tomo/tomopy/tooth.h5")
    res = CliRunner().invoke(app, ["recon", str(tooth), "-o", str(tmp_path / "v.zarr")])
    assert isinstance(res.exception, MissingMetadataError)
    assert "give --voxel-size-um" in str(res.exception)
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
