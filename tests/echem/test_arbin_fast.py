"""Arbin's data table read from its pages with NumPy equals access-parser's row-by-row decoding."""

from __future__ import annotations

import numpy as np
import pytest

from operando.echem import read_arbin_res
from tests.echem._cycler_data import real_file


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("rel", "rows"),
    [("echem/arbin/cellpy/20160805_test001_45_cc_01.res", 10261), ("echem/arbin/navani/arbin_example.res", 2150)],
)
def test_data_table_equals_access_parser(rel: str, rows: int) -> None:
    from access_parser import AccessParser

    path = real_file(rel)
    ref = AccessParser(str(path)).parse_table("Channel_Normal_Table")
    order = np.argsort(np.asarray(ref["Data_Point"]), kind="stable")
    rec = read_arbin_res(path)
    assert len(rec) == rows
    np.testing.assert_array_equal(rec.time_s, np.asarray(ref["Test_Time"], dtype=np.float64)[order])
    np.testing.assert_array_equal(rec.voltage_V, np.asarray(ref["Voltage"], dtype=np.float64)[order])
    np.testing.assert_allclose(rec.current_mA, np.asarray(ref["Current"], dtype=np.float64)[order] * 1e3)
    for name in ("Data_Point", "Step_Time", "DateTime", "Is_FC_Data", "Charge_Capacity", "dV/dt", "AC_Impedance"):
        if name in rec.data:
            np.testing.assert_array_equal(
                rec.data[name].to_numpy(np.float64), np.asarray(ref[name], dtype=np.float64)[order], err_msg=name
            )
