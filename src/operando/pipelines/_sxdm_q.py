"""Q of a region of a K-map: the reduction's and the phase decomposition's one geometry."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from operando.sxdm import ROI, pixel_q

__all__ = ["region_q"]


def region_q(meta: Any) -> Any:
    """``q(roi)``: Q of the region's angles and detector box only (the detector cropped =
    its beam centre moved), for :func:`operando.sxdm.reduce_kmap`."""

    def q(roi: ROI) -> Any:
        (a0, a1), (y0, y1), (x0, x1) = roi.angles, roi.det_y, roi.det_x
        det = replace(
            meta.detector,
            shape=(y1 - y0, x1 - x0),
            beam_center_y_px=meta.detector.beam_center_y_px - y0,
            beam_center_x_px=meta.detector.beam_center_x_px - x0,
        )
        pick = [
            np.broadcast_to(np.asarray(v, dtype=np.float64), (len(meta.eta_deg),))[a0:a1]
            for v in (meta.eta_deg, meta.phi_deg, meta.nu_deg, meta.delta_deg)
        ]
        return pixel_q(*pick, detector=det, wavelength_A=meta.wavelength_A)

    return q
