"""The Zahner ``POL.txt`` log (no header: time h, V, mA) is an echem format found by content."""

from __future__ import annotations

import numpy as np
import pytest

from operando import echem


def _pol(path, rows):
    path.write_text("".join(f"{t:.4f}\t{v:.4f}\t{i:.3f}\n" for t, v, i in rows))
    return path


def test_headerless_three_columns_are_a_zahner_log(tmp_path):
    rows = [(0.0056 * k, 0.0012 + 0.01 * k, 0.1) for k in range(20)]
    f = _pol(tmp_path / "POL.txt", rows)
    assert echem.detect(f).name == "zahner-pol"
    record = echem.read(f)
    assert record.meta.format == "zahner-pol"
    assert len(record) == 20
    np.testing.assert_allclose(record.time_s, [3600 * r[0] for r in rows], rtol=1e-12)
    np.testing.assert_allclose(record.voltage_V, [r[1] for r in rows])
    np.testing.assert_allclose(record.current_mA, 0.1)
    # found by content, whatever the name
    assert echem.detect(_pol(tmp_path / "log.dat", rows)).name == "zahner-pol"


def test_a_headed_csv_is_not_taken_for_a_zahner_log(tmp_path):
    f = tmp_path / "cell.csv"
    f.write_text("time/s,Ewe/V,I/mA\n" + "".join(f"{10 * k},{3.0 + 0.01 * k},0.5\n" for k in range(20)))
    assert echem.detect(f).name == "csv"
    assert echem.read(f).meta.format != "zahner-pol"
    # three whitespace-separated numbers a line, but under a header line
    g = tmp_path / "three.txt"
    g.write_text("t V I\n" + "".join(f"{k} 3.0 0.5\n" for k in range(20)))
    fmt = echem.detect(g)
    assert fmt is None or fmt.name != "zahner-pol"


@pytest.mark.parametrize("text", ["0.0 1.0 2.0\n0.1 1.0\n", "0.5 1.0 2.0\n0.1 1.0 2.0\n", "0.0 1.0 2.0\n"])
def test_near_misses_are_not_zahner_logs(tmp_path, text):
    """A row of two numbers, a time that runs backwards, a single row: not recognised as one."""
    f = tmp_path / "POL.txt"
    f.write_text(text)
    fmt = echem.detect(f)
    assert fmt is None or fmt.name != "zahner-pol"
