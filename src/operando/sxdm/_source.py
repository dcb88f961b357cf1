"""Where the frames of a K-map come from: the one object :func:`operando.sxdm.reduce_kmap` reads.

A frame source gives the lazy frames ``(angle, y, x, det_y, det_x)``, the metadata, and
the two passes of the reduction: the survey (frames of whole map rows summed) and the
region sums (each point's frames in the region of interest reduced to a few numbers).
A reader with a faster way to do either (the Bliss reader sums and reduces while it
decompresses, never holding a frame block) implements them itself; any other frames
(SPEC, XSOCS, drift-corrected or median-filtered ones) get the plain implementation of
:class:`ArraySource`, computed from the Dask frames.

No scheduling policy here: a computation runs on the ``scheduler`` its caller passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from operando.sxdm._reduce import ROI
    from operando.sxdm.io._bliss import KMapMetadata

__all__ = ["AngleSums", "ArraySource", "FrameSource", "plain_region_sums", "plain_survey"]

AngleSums = Callable[[int, NDArray[Any]], NDArray[np.float64]]
"""``angle_sums(a, frames)``: the frames ``(points, roi det_y, roi det_x)`` of the region's
angle ``a`` (0 = its first) -> ``(points, n_sums)`` float64."""


@runtime_checkable
class FrameSource(Protocol):
    """The frames of one K-map and the two passes over them.

    Attributes
    ----------
    frames : (angle, y, x, det_y, det_x) dask.array or ndarray
        Counts, lazy as the reader gives them (chunks along angle and points are kept).
    meta : KMapMetadata
        Geometry, angles, scan grid and pixel mask.
    """

    @property
    def frames(self) -> Any: ...

    @property
    def meta(self) -> KMapMetadata: ...

    def survey(self, rows: NDArray[np.intp], *, scheduler: Any = None) -> NDArray[np.float64]:
        """The frames of map ``rows`` summed over their points: ``(angle, det_y, det_x)`` float64,
        computed (on ``scheduler``, passed to :func:`dask.compute`)."""
        ...

    def region_sums(self, roi: ROI, angle_sums: AngleSums, *, n_sums: int) -> Any:
        """Lazy ``(y, x, n_sums)`` float64: for every point, ``angle_sums(a, frames)`` of the
        region's frames at each of its angles ``a``, added over the angles."""
        ...


def plain_survey(frames: Any, rows: NDArray[np.intp], *, scheduler: Any = None) -> NDArray[np.float64]:
    """Frames ``(angle, y, x, det_y, det_x)`` of map ``rows`` summed over their points.

    Parameters
    ----------
    frames : (angle, y, x, det_y, det_x) ndarray or dask.array
        Counts.
    rows : (n,) array_like of int
        Sorted map rows.
    scheduler : optional
        Passed to ``compute`` for lazy frames.

    Returns
    -------
    (angle, det_y, det_x) ndarray of float64

    Examples
    --------
    >>> f = np.arange(2 * 3 * 2 * 1 * 1).reshape(2, 3, 2, 1, 1)
    >>> plain_survey(f, np.array([0, 2]))[:, 0, 0].tolist()
    [10.0, 34.0]
    """
    import dask.array as da

    r = np.asarray(rows, dtype=np.intp)
    if len(r) == frames.shape[1]:
        surveyed = frames
    elif isinstance(frames, da.Array):  # runs of rows as slices: an index array costs Dask ~0.3 s more on 5000 frames
        cuts = np.flatnonzero(np.diff(r) != 1) + 1
        runs = [(int(g[0]), int(g[-1]) + 1) for g in np.split(r, cuts)]
        surveyed = da.concatenate([frames[:, a:b] for a, b in runs], axis=1)
    else:
        surveyed = np.asarray(frames)[:, r]
    summed = surveyed.sum(axis=(1, 2), dtype=np.float64)
    if isinstance(summed, da.Array):
        summed = summed.compute(scheduler=scheduler)
    return np.asarray(summed, dtype=np.float64)


def _chunk_region_sums(
    frames: NDArray[Any],
    angles: NDArray[np.intp],
    *,
    angle_sums: AngleSums,
    crop: tuple[slice, slice],
) -> NDArray[np.float64]:
    """One chunk of full frames ``(angle, y, x, det_y, det_x)`` -> per-angle sums ``(angle, y, x, n)``
    (``angles``: the region's index of each of its angles)."""
    n_a, by, bx, dy, dx = frames.shape
    parts = []
    for i in range(n_a):
        box = frames[i].reshape(by * bx, dy, dx)[:, crop[0], crop[1]]
        parts.append(angle_sums(int(angles[i]), box).reshape(by, bx, -1))
    return np.stack(parts)


def plain_region_sums(frames: Any, roi: ROI, angle_sums: AngleSums, *, n_sums: int) -> Any:
    """Region sums of any frames: ``angle_sums`` of each chunk's region crop, per angle, then
    summed over the angles (one task per chunk of the frames).

    Parameters
    ----------
    frames : (angle, y, x, det_y, det_x) dask.array or ndarray
        Counts.
    roi : ROI
        Region of interest.
    angle_sums : callable
        See :data:`AngleSums`.
    n_sums : int
        Numbers per point that ``angle_sums`` gives.

    Returns
    -------
    (y, x, n_sums) dask.array of float64

    Examples
    --------
    >>> from operando.sxdm import ROI
    >>> f = np.ones((3, 2, 2, 4, 4), dtype=np.int32)
    >>> out = plain_region_sums(f, ROI((1, 3), (0, 2), (0, 4)), lambda a, x: x.sum((1, 2))[:, None] + a, n_sums=1)
    >>> out.compute()[..., 0].tolist()
    [[17.0, 17.0], [17.0, 17.0]]
    """
    import dask.array as da

    fr = frames if isinstance(frames, da.Array) else da.from_array(np.asarray(frames), chunks=(1, 1, -1, -1, -1))
    sa, sy, sx = roi.slices
    sub = fr.rechunk({3: -1, 4: -1})[sa]
    angles = da.arange(sub.shape[0], chunks=(sub.chunks[0],))
    parts = da.blockwise(
        partial(_chunk_region_sums, angle_sums=angle_sums, crop=(sy, sx)),
        "ayxc",
        sub,
        "ayxij",
        angles,
        "a",
        new_axes={"c": n_sums},
        concatenate=True,
        dtype=np.float64,
        meta=np.empty((0, 0, 0, 0)),
    )
    return parts.sum(axis=0)


@dataclass(frozen=True)
class ArraySource:
    """A :class:`FrameSource` over frames in hand, with the plain survey and region sums.

    For SPEC and XSOCS K-maps, and for frames computed from others (drift-corrected,
    median-filtered).

    Attributes
    ----------
    frames : (angle, y, x, det_y, det_x) dask.array or ndarray
        Counts.
    meta : KMapMetadata
        The K-map's metadata.
    """

    frames: Any
    meta: KMapMetadata

    def survey(self, rows: NDArray[np.intp], *, scheduler: Any = None) -> NDArray[np.float64]:
        """See :func:`plain_survey`."""
        return plain_survey(self.frames, rows, scheduler=scheduler)

    def region_sums(self, roi: ROI, angle_sums: AngleSums, *, n_sums: int) -> Any:
        """See :func:`plain_region_sums`."""
        return plain_region_sums(self.frames, roi, angle_sums, n_sums=n_sums)
