"""Median filter of K-map frames over neighbouring scan points."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from operando.errors import ParameterError

__all__ = ["median_filter_points", "parse_window"]


def parse_window(text: str) -> tuple[int, int]:
    """``"2x2"`` or ``"3"`` -> (rows, columns) of scan points.

    Examples
    --------
    >>> parse_window("2x3"), parse_window("3")
    ((2, 3), (3, 3))
    """
    parts = text.lower().replace("*", "x").split("x")
    try:
        size = tuple(int(p) for p in parts)
    except ValueError:
        raise ParameterError(f"median window must be like 2x2 or 3, got {text!r}") from None
    if len(size) == 1:
        size = (size[0], size[0])
    if len(size) != 2 or min(size) < 1:
        raise ParameterError(f"median window must be two positive integers like 2x2, got {text!r}")
    return size[0], size[1]


def _median_block(block: Any, size: tuple[int, int]) -> Any:
    return ndimage.median_filter(block.astype(np.float32, copy=False), size=(1, *size, 1, 1), mode="nearest")


def median_filter_points(frames: Any, *, size: tuple[int, int] = (2, 2)) -> Any:
    """Median of each detector pixel over a window of neighbouring scan points, per angle.

    Parameters
    ----------
    frames : (angle, y, x, det_y, det_x) ndarray or dask array
        Counts.
    size : (int, int)
        Window (rows, columns) of scan points. The median is the rank ``n // 2`` element
        of the ``n`` window values (:func:`scipy.ndimage.median_filter`, so the upper
        median for an even window); the window of an even size reaches one point further
        back than forward; map edges repeat the nearest point.

    Returns
    -------
    (angle, y, x, det_y, det_x) float32 ndarray or lazy dask array

    Examples
    --------
    >>> f = np.zeros((1, 3, 3, 1, 1)); f[0, 1, 1] = 100.0  # one outlier point
    >>> float(median_filter_points(f, size=(3, 3)).max())
    0.0
    """
    import dask.array as da

    if frames.ndim != 5:
        raise ParameterError(f"frames must be (angle, y, x, det_y, det_x), got shape {frames.shape}")
    sy, sx = (int(s) for s in size)
    if sy < 1 or sx < 1:
        raise ParameterError(f"median window must be positive, got {size}")
    if (sy, sx) == (1, 1):
        return frames.astype(np.float32)
    if isinstance(frames, da.Array):
        depth = {0: 0, 1: sy // 2, 2: sx // 2, 3: 0, 4: 0}
        return frames.map_overlap(
            _median_block,
            depth=depth,
            boundary="nearest",
            size=(sy, sx),
            dtype=np.float32,
            meta=np.empty((0,) * 5, np.float32),
        )
    return _median_block(np.asarray(frames), (sy, sx))
