from operando.errors import CorruptFileError, OperandoError, UnsupportedFormatError


def test_message_names_file_and_problem():
    err = CorruptFileError("line 12: row is incomplete", path="/data/cell.mpt")
    assert str(err) == "/data/cell.mpt: line 12: row is incomplete"
    assert err.path == "/data/cell.mpt"
    assert err.problem == "line 12: row is incomplete"
    assert isinstance(err, OperandoError)


def test_message_without_file():
    assert str(UnsupportedFormatError("no reader")) == "no reader"
