"""One exception hierarchy for every reader, kernel and store.

Every message names the file (when there is one) and the problem, so that the CLI
can print it as a single line and exit with status 2.
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "CorruptFileError",
    "IncompleteStoreError",
    "LinkOutsideFolderError",
    "MissingMetadataError",
    "OperandoError",
    "ParameterError",
    "SXDMLayoutError",
    "TomoFileError",
    "UnsupportedFormatError",
]


class OperandoError(Exception):
    """Base class of all errors raised for bad input or bad parameters.

    Parameters
    ----------
    message : str
        What is wrong, in one sentence.
    path : str or os.PathLike, optional
        The file the problem was found in; it is put in front of the message.
    """

    def __init__(self, message: str, *, path: str | PathLike[str] | None = None) -> None:
        self.path = None if path is None else str(path)
        self.problem = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class UnsupportedFormatError(OperandoError):
    """The file is readable but is not a format this reader (or any reader) knows."""


class CorruptFileError(OperandoError):
    """The file claims a known format but is truncated, damaged or inconsistent."""


class MissingMetadataError(OperandoError):
    """A quantity the computation needs is absent from the file and was not given."""


class IncompleteStoreError(OperandoError):
    """A result store is unfinished (interrupted write) or damaged after writing."""


class ParameterError(OperandoError):
    """A parameter given by the caller is out of range or inconsistent."""


class SXDMLayoutError(CorruptFileError):
    """A Bliss K-map is incomplete or inconsistent: missing Lima files, or scans that
    disagree on map shape, detector calibration or fixed angles."""


class TomoFileError(CorruptFileError):
    """A tomography file lacks what the data need (dangling link, mismatched shapes, NaN angles)."""


class LinkOutsideFolderError(ParameterError):
    """An HDF5 file takes data (external link, virtual-dataset source, external storage) from a
    file outside its own folder, and ``--follow-external-links`` was not given."""
