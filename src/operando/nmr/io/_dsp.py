"""The digital-filter group delay of Bruker DMX/AVANCE data, as the acquisition parameters give it.

A digitally filtered (oversampled, decimated) Bruker FID starts with the filter's delay:
about 60-70 points of pre-echo before the signal's time zero. TopSpin (``DSPFVS`` >= 20)
records that delay itself in ``GRPDLY``; XWIN-NMR and older firmware (``DSPFVS`` 10 to 13)
record only the firmware version ``DSPFVS`` and the decimation ``DECIM``, and the delay is
a property of that pair. The values below are the published table of W. M. Westler and
F. Abildgaard, "DMX digital filters and non-Bruker offline processing III" (NMRFAM,
Madison, 1996), in complex points. They are written out here, not taken from nmrglue at run
time, so that the test compares two independent copies (ours and nmrglue's
``bruker_dsp_table``) entry by entry.
"""

from __future__ import annotations

import math

__all__ = ["DSP_GROUP_DELAY", "digital_filter_delay"]

_DECIMS = (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048)

DSP_GROUP_DELAY: dict[int, dict[int, float]] = {
    10: dict(
        zip(
            _DECIMS,
            (44.75, 33.5, 66.625, 59.083333333333333, 68.5625, 60.375, 69.53125, 61.020833333333333, 70.015625,
             61.34375, 70.2578125, 61.505208333333333, 70.37890625, 61.5859375, 70.439453125, 61.626302083333333,
             70.4697265625, 61.646484375, 70.48486328125, 61.656575520833333, 70.492431640625),
            strict=True,
        )
    ),
    11: dict(
        zip(
            _DECIMS,
            (46.0, 36.5, 48.0, 50.166666666666667, 53.25, 69.5, 72.25, 70.166666666666667, 72.75, 70.5, 73.0,
             70.666666666666667, 72.5, 71.333333333333333, 72.25, 71.666666666666667, 72.125, 71.833333333333333,
             72.0625, 71.916666666666667, 72.03125),
            strict=True,
        )
    ),
    12: dict(
        zip(
            _DECIMS,
            (46.0, 36.5, 48.0, 50.166666666666667, 53.25, 69.5, 71.625, 70.166666666666667, 72.125, 70.5, 72.375,
             70.666666666666667, 72.5, 71.333333333333333, 72.25, 71.666666666666667, 72.125, 71.833333333333333,
             72.0625, 71.916666666666667, 72.03125),
            strict=True,
        )
    ),
    13: dict(
        zip(
            _DECIMS[:12],
            (2.75, 2.8333333333333333, 2.875, 2.9166666666666667, 2.9375, 2.9583333333333333, 2.96875,
             2.9791666666666667, 2.984375, 2.9895833333333333, 2.9921875, 2.9947916666666667),
            strict=True,
        )
    ),
}  # fmt: skip
"""Group delay in complex points by ``DSPFVS`` (10-13), then ``DECIM`` (Westler & Abildgaard 1996)."""


def digital_filter_delay(
    *, dspfvs: float | None, decim: float | None, grpdly: float | None, digmod: float | None = 1
) -> tuple[float, str]:
    """The digital-filter delay of a Bruker FID (complex points) and where it came from.

    Parameters
    ----------
    dspfvs, decim, grpdly, digmod : float or None
        ``DSPFVS``, ``DECIM``, ``GRPDLY`` and ``DIGMOD`` of ``acqus`` (None when absent).

    Returns
    -------
    delay : float
        Points (of the complex FID) before the signal's time zero; 0 without a digital filter.
    source : str
        ``"GRPDLY"``, ``"table"``, ``"analog"`` (``DIGMOD`` 0), ``"no decimation"``, or
        ``"unknown"`` when the pair is in no table (the caller warns: phase it by eye or
        with ``--phase auto``).

    Notes
    -----
    ``GRPDLY`` is used when it is positive, and its 0 for ``DSPFVS`` >= 20 (a recorded delay
    of none); a negative ``GRPDLY`` (TopSpin's -1, not recorded) is no delay. Otherwise
    ``DSPFVS`` 10-13 look the delay up by ``DECIM``.

    Examples
    --------
    >>> digital_filter_delay(dspfvs=12, decim=12, grpdly=None)
    (69.5, 'table')
    >>> digital_filter_delay(dspfvs=21, decim=80, grpdly=76)
    (76.0, 'GRPDLY')
    >>> digital_filter_delay(dspfvs=10, decim=4, grpdly=None, digmod=0)
    (0.0, 'analog')
    >>> digital_filter_delay(dspfvs=20, decim=16, grpdly=-1)
    (0.0, 'unknown')
    """
    # TopSpin writes GRPDLY = -1 where it did not record the delay: not a delay of none
    if grpdly is not None and math.isfinite(grpdly) and (grpdly > 0 or (grpdly == 0 and (dspfvs or 0) >= 20)):
        return float(grpdly), "GRPDLY"
    if digmod is not None and digmod == 0:
        return 0.0, "analog"
    if decim is None or decim <= 1:
        return 0.0, "no decimation"
    if dspfvs is None or decim != int(decim):
        return 0.0, "unknown"
    table = DSP_GROUP_DELAY.get(int(dspfvs))
    if table is None or int(decim) not in table:
        return 0.0, "unknown"
    return table[int(decim)], "table"
