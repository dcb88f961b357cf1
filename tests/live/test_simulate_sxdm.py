"""The live beamtime simulator's K-maps follow the demo's plateau lattice, not a straight line in x(Li).

On the Ni2+/3+ and Ni3+/4+ plateaus the simulated crystal holds two phases of fixed d400 in
domains (the lever rule sets their shares); above the plateaus one phase contracts. The maps
it writes are processed as a beamtime's would be, and the two-phase survey must find the
plateau's two lattices at the paper's d400.
"""

from __future__ import annotations

import numpy as np
import pytest

from operando.demo import SXDM_GEOMETRY
from operando.live import lmno_kmap, simulate_beamtime
from operando.pipelines.sxdm import process_kmap
from operando.synthetic import (
    LMNO_D400_A,
    LMNO_D400_LI1_A,
    LMNO_PLATEAUS_X,
    TwoPhaseKMap,
    lmno_lattice,
    plateau_fraction_field,
    simulate_kmap,
)

START, MIDDLE, END = LMNO_PLATEAUS_X


@pytest.mark.parametrize("x_li", [0.75, 0.3, 0.97])
def test_each_map_is_the_demos_plateau_lattice(x_li):
    lattice = lmno_lattice(x_li)
    crystal = simulate_kmap(**SXDM_GEOMETRY).truth.mask
    model = lmno_kmap(x_li, seed=4, crystal=crystal)
    inside = model.truth.mask
    assert np.array_equal(inside, crystal)  # the demo's crystal
    if lattice.two_phase:
        assert isinstance(model, TwoPhaseKMap) and model.second is not None and model.fraction is not None
        d1 = float(np.mean(model.truth.d_spacing_A[inside]))
        d2 = float(np.mean(model.second.d_spacing_A[inside]))
        np.testing.assert_allclose((d1, d2), lattice.d400_A, atol=2e-4)  # each phase at its fixed lattice
        assert float(np.mean(model.fraction[inside])) == pytest.approx(lattice.fraction, abs=1e-9)
        # the demo's domains for the same frame index
        want = plateau_fraction_field(SXDM_GEOMETRY["map_shape"], lattice.fraction, seed=4, within=crystal)
        np.testing.assert_allclose(model.fraction[inside], want[inside])
    else:
        assert not isinstance(model, TwoPhaseKMap)
        assert float(np.mean(model.truth.d_spacing_A[inside])) == pytest.approx(lattice.d400_A[0], abs=2e-4)


def test_the_simulated_beamtime_shows_the_plateau_phases(tmp_path):
    """Two maps, processed as a beamtime's: the first on the Ni2+/3+ plateau (two phases at
    2.0332 / 2.0184 Å, where the old straight line gave one d between them), the last back in
    the solid solution after the discharge."""
    masters = simulate_beamtime(tmp_path, n_maps=2, interval_s=0.2, tick_s=0.02)
    assert len(masters) == 2
    found = []
    for master in masters:
        maps, _ = process_kmap(master)
        found.append(([float(d) for d in maps.attrs["phases_survey_d_A"]], bool(maps["phases_decomposed"])))
    (d_first, two_first), (d_last, two_last) = found
    assert two_first, found
    np.testing.assert_allclose(d_first, LMNO_D400_A, atol=5e-4)
    # the last map, back above the plateaus after the discharge: one phase of the solid solution
    assert not two_last and len(d_last) == 1, found
    assert LMNO_D400_A[0] - 5e-4 < d_last[0] < LMNO_D400_LI1_A + 5e-4, d_last
