"""The reading path's shortcuts give the results of the plain computation.

The hot pixels of a frozen survey are computed once (the reduction, the recut and the
two-phase survey ask for them on the same array), and only for an array nobody can change.
"""

from __future__ import annotations

import numpy as np
import pytest

from operando.sxdm import find_hot_pixels


def _survey(seed: int = 0) -> np.ndarray:
    """Summed frames ``(angle, det_y, det_x)`` with a Bragg peak at two angles and two hot pixels."""
    rng = np.random.default_rng(seed)
    s = rng.poisson(40.0, (9, 48, 40)).astype(np.float64)
    s[3:5, 20:24, 15:19] += 5000.0  # a peak: bright at two angles only
    s[:, 7, 9] += 900.0  # hot at every angle
    s[:, 30, 33] += 900.0
    return s


def test_frozen_survey_hot_pixels_are_the_computed_ones_and_the_callers_own():
    """A read-only array owning its data is memoised: the second call gives the same pixels
    as a fresh computation on a writeable copy, as a copy the caller may change; another
    threshold and another survey give their own results."""
    s = _survey()
    s.flags.writeable = False
    first = find_hot_pixels(s)
    assert np.flatnonzero(first).tolist() == [7 * 40 + 9, 30 * 40 + 33]
    first[:] = True  # the caller's own copy: the memo is untouched
    again = find_hot_pixels(s)
    assert np.array_equal(again, find_hot_pixels(s.copy()))
    assert np.array_equal(find_hot_pixels(s, threshold=4.0), find_hot_pixels(s.copy(), threshold=4.0))
    other = _survey(1)
    other.flags.writeable = False
    assert np.array_equal(find_hot_pixels(other), find_hot_pixels(other.copy()))


@pytest.mark.parametrize("kind", ["writeable", "read-only view"])
def test_changeable_arrays_are_computed_every_time(kind):
    """A writeable array, or a read-only view of one (its base can change), is never taken from
    the memo: changed between calls, the second result follows the change."""
    base = _survey()
    s = base if kind == "writeable" else base.view()
    if kind != "writeable":
        s.flags.writeable = False
    assert find_hot_pixels(s).sum() == 2
    base[:, 7, 9] -= 900.0  # no longer hot
    assert find_hot_pixels(s).sum() == 1
