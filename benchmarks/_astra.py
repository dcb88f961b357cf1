"""astra-toolbox's CPU FBP of one sinogram, the rival both tomography benchmarks time."""

from __future__ import annotations

import numpy as np


def astra_fbp(sino: np.ndarray, angles_deg: np.ndarray, filter_type: str = "hann") -> np.ndarray:
    """astra CPU FBP (linear projector) of ``sino`` (angles, cols), float32; its rotation axis
    is the detector's middle, ``(cols - 1) / 2``. ``filter_type``: astra's name (``hann``,
    ``ram-lak``, ...)."""
    import astra

    n = sino.shape[1]
    pg = astra.create_proj_geom("parallel", 1.0, n, np.deg2rad(angles_deg))
    vg = astra.create_vol_geom(n, n)
    pid = astra.create_projector("linear", pg, vg)
    sid = astra.data2d.create("-sino", pg, np.asarray(sino, np.float32))
    rid = astra.data2d.create("-vol", vg, 0)
    cfg = astra.astra_dict("FBP")
    cfg.update(ProjectorId=pid, ProjectionDataId=sid, ReconstructionDataId=rid, FilterType=filter_type)
    alg = astra.algorithm.create(cfg)
    try:
        astra.algorithm.run(alg)
        return np.asarray(astra.data2d.get(rid))
    finally:
        astra.algorithm.delete(alg)
        astra.data2d.delete([sid, rid])
        astra.projector.delete(pid)
