"""``operando.echem.read`` on every pinned real file: the format is found by content."""

import numpy as np
import pytest

from operando import echem
from operando.errors import CorruptFileError
from tests.conftest import real_files

NOT_DATA = (".json", ".md", ".parquet", "sha256.txt", "sample_info.txt", ".mpl", "_Metadata.csv", "_metadata.csv")
FILES = [rel for rel in real_files("echem/*") if not rel.endswith(NOT_DATA)]

# Files that are refused by default, with the reason; each reads with the option named.
REFUSED = {
    # hand-edited by gamry-parser's authors: the CURVE table declares 5258 rows and holds 10
    "echem/gamry/gamry-parser/chronoa_data.dta": ("declares 5258 rows, holds 10", {"strict": False}),
    # the last line is cut after 9 of 28 fields
    "echem/maccor/cellpy/maccor_two.txt": ("the file is truncated", {"drop_incomplete_last_row": True}),
    # impedance.py keeps 21 of the 56 announced points of this sweep
    "echem/other/impedance.py/exampleDataZPlot.z": ("announces 56 data points, the file holds 21", {"strict": False}),
    # derived by beep: pandas turned EC-Lab's time/s into date strings, so say what it is
    "echem/biologic/beep/test_loopsnewoutput_MB_CE1_short10k.csv": (
        "'time/s': '05/05/2021 15:36:22.757' is not a number",
        {"columns": {"timestamp": "time/s", "voltage_V": "Ecell/V", "current_mA": "I/mA"}},
    ),
}


@pytest.mark.realdata
@pytest.mark.parametrize("rel", FILES)
def test_every_real_file_reads_or_is_refused_for_a_stated_reason(rel, real_file):
    path = real_file(rel)
    if rel in REFUSED:
        message, option = REFUSED[rel]
        with pytest.raises(CorruptFileError, match=message):
            echem.read(path)
        if option is not None:
            assert len(echem.read(path, **option)) > 0
        return
    record = echem.read(path)
    assert record.meta.format
    assert record.meta.sha256 and record.meta.source == str(path)
    assert list(record.data.columns[:8]) == list(echem.CANONICAL_COLUMNS)
    if len(record):
        assert np.isfinite(record.time_s).all()


@pytest.mark.realdata
def test_btsda_csv_equals_the_ndax_it_was_exported_from(real_file):
    csv = echem.read(real_file("echem/neware/fastnda/interp-test.csv"))
    ndax = echem.read(real_file("echem/neware/fastnda/interp-test.ndax"))
    assert csv.meta.format == "neware-btsda-csv"
    assert len(csv) == len(ndax) == 333
    np.testing.assert_allclose(csv.time_s, ndax.time_s, atol=1e-3)
    np.testing.assert_allclose(csv.voltage_V, ndax.voltage_V, atol=5e-5)  # BTSDA prints 0.1 mV
    np.testing.assert_allclose(csv.current_mA, ndax.current_mA, atol=5e-4)  # and 1 uA


@pytest.mark.realdata
def test_versastudio_impedance(real_file):
    rec = echem.read(real_file("echem/other/impedance.py/exampleDataVersaStudio.par"))
    assert (rec.meta.format, rec.meta.software, len(rec)) == ("versastudio-par", "VersaStudio", 61)
    row = rec.data.iloc[0]
    assert (row["freq/Hz"], row["Re(Z)/Ohm"], row["-Im(Z)/Ohm"]) == (100000.0, 55.31571, -4.575431)
    assert rec.units["Re(Z)/Ohm"] == "Ohm"


@pytest.mark.realdata
def test_zplot_impedance(real_file):
    rec = echem.read(real_file("echem/other/impedance.py/exampleDataZPlot.z"), strict=False)
    assert rec.meta.extra["points_declared"] == "56"
    np.testing.assert_allclose(rec.data["freq/Hz"].to_numpy()[[0, -1]], [3e5, 3e3])
    np.testing.assert_allclose(rec.data["-Im(Z)/Ohm"].to_numpy()[[0, -1]], [11.335, 137.13])


def test_our_export_reads_back_without_a_mapping(tmp_path):
    from operando.synthetic import simulate_gcpl, write_eclab_mpt

    rec = echem.read(write_eclab_mpt(simulate_gcpl(dt_s=60.0), tmp_path / "c.mpt"))
    out = tmp_path / "c.csv"
    rec.data.to_csv(out, index=False)
    back = echem.read(out)
    np.testing.assert_allclose(back.voltage_V, rec.voltage_V)
    np.testing.assert_array_equal(back.half_cycle, rec.half_cycle)
