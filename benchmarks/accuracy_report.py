"""Re-measure the accuracy numbers quoted in the issue notes, in one run.

Run from the repository root with the real data beside it (``../shared/data``)::

    .venv/bin/python benchmarks/accuracy_report.py

Prints: the SXDM reduction's errors against the synthetic truth (the issue's test map,
24 x 24 points x 30 angles x 96^2 pixels) and its time per point; the 29Si integrals
against TopSpin's t1ints.txt; the tooth.h5 centre and our slice against scikit-image's
iradon and astra-toolbox's CPU FBP.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def sxdm() -> None:
    from tests.sxdm.test_reduce import _errors, _frames

    from operando.sxdm import reduce_kmap, strain_tilt_maps
    from operando.synthetic import simulate_kmap

    model = simulate_kmap(seed=0)
    frames = _frames(model)
    start = time.perf_counter()
    moments, _ = reduce_kmap(frames, model.pixel_q(), eta_deg=model.eta_deg, pixel_mask=model.pixel_mask)
    maps = strain_tilt_maps(moments)
    per_point_ms = (time.perf_counter() - start) / (maps.sizes["y"] * maps.sizes["x"]) * 1e3
    d_err, tilt_err = _errors(maps, model.truth)
    m = model.truth.mask & maps.mask.values
    corr = np.corrcoef(maps.d_spacing.values[m], model.truth.d_spacing_A[m])[0, 1]
    print(
        f"SXDM: d RMS {np.sqrt(np.mean(d_err**2)):.2e} A, tilt RMS {np.sqrt(np.mean(tilt_err**2)):.5f} deg, "
        f"tilt max {tilt_err.max():.5f} deg, correlation {corr:.5f}, {per_point_ms:.2f} ms/point (reduce + maps)"
    )


def nmr() -> None:
    from tests.nmr.test_bruker import RELAX, T1INTS

    from operando.nmr import integrate, process, read_bruker

    fid = read_bruker(DATA / RELAX)
    ds = process(fid)
    ints = integrate(ds["intensity"].values, ds["ppm"].values, lo=-51.359, hi=-135.767)
    deviation = ints * 2.0 ** -fid.meta.processing["NC_proc"] / np.array(T1INTS) - 1
    print(f"29Si integrals vs TopSpin t1ints.txt: {100 * deviation.min():.3f} .. {100 * deviation.max():.3f} %")


def tomo() -> None:
    from scipy.ndimage import gaussian_filter, shift
    from skimage.transform import iradon
    from tests.tomo.test_recon import _circle, _nrms

    from operando.tomo import find_center, minus_log, normalize, read_tomo, reconstruct_slice

    scan = read_tomo(DATA / "tomo/tomopy/tooth.h5")
    sino = np.asarray(minus_log(normalize(scan.projections, scan.flats, scan.darks))[:, 0].compute())
    center = find_center(sino)
    n = sino.shape[1]
    rec = reconstruct_slice(sino, scan.angles_deg, center=center, window="ramp")
    shifted = shift(sino.astype(np.float64), (0, n // 2 - center), order=1, mode="nearest")
    mask = _circle(n, margin=4)
    cubic = iradon(shifted.T, theta=scan.angles_deg, filter_name="ramp", circle=True, interpolation="cubic")
    linear = iradon(shifted.T, theta=scan.angles_deg, filter_name="ramp", circle=True)
    blurred = _nrms(gaussian_filter(rec, 1.0), gaussian_filter(linear, 1.0), mask)
    print(
        f"tooth.h5: centre {center:.2f} px; NRMS vs iradon cubic {_nrms(rec, cubic, mask):.3f}, "
        f"linear {_nrms(rec, linear, mask):.3f}, both blurred by 1 px {blurred:.3f}"
    )
    import importlib.util

    if importlib.util.find_spec("astra") is None:
        print("tooth.h5 vs astra-toolbox: astra not installed")
        return
    from tests.tomo.test_recon_astra import _astra_fbp, _pad_to_middle

    padded, c = _pad_to_middle(sino.astype(np.float64), center)
    m = _circle(padded.shape[1], margin=4)
    parts = []
    for window in ("hann", "shepp-logan", "ramp"):
        ours = reconstruct_slice(padded, scan.angles_deg, center=c, window=window)
        parts.append(f"{window} {_nrms(ours, _astra_fbp(padded, scan.angles_deg, window), m):.3f}")
    print("tooth.h5: NRMS ||ours - astra|| / ||astra|| (CPU FBP, linear projector, same filter): " + ", ".join(parts))


if __name__ == "__main__":
    sxdm()
    nmr()
    tomo()
