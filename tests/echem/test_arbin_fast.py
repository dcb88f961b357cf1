"""The NumPy reader of Arbin's data table equals access-parser's row-by-row decoding."""

from __future__ import annotations

import numpy as np
import pytest

from operando.echem.io._arbin import _fixed_length_table
from tests.echem._cycler_data import real_file


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("rel", "rows"),
    [("echem/arbin/cellpy/20160805_test001_45_cc_01.res", 10261), ("echem/arbin/navani/arbin_example.res", 2150)],
)
def test_fixed_length_table_equals_access_parser(rel: str, rows: int) -> None:
    from access_parser import AccessParser

    db = AccessParser(str(real_file(rel)))
    fast = _fixed_length_table(db, "Channel_Normal_Table")
    assert fast is not None
    ref = db.parse_table("Channel_Normal_Table")
    assert set(fast) == set(ref)
    for name, values in ref.items():
        expected = np.asarray(values, dtype=np.float64)
        assert expected.size == rows
        np.testing.assert_array_equal(np.asarray(fast[name], dtype=np.float64), expected, err_msg=name)


@pytest.mark.realdata
def test_tables_it_does_not_cover_go_back_to_access_parser() -> None:
    """Text columns (Global_Table) are variable length: None, and the library reads them."""
    from access_parser import AccessParser

    db = AccessParser(str(real_file("echem/arbin/navani/arbin_example.res")))
    assert _fixed_length_table(db, "Global_Table") is None
