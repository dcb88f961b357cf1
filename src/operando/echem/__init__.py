"""Electrochemistry records: every potentiostat and cycler file in one canonical form."""

from operando.echem._record import CANONICAL_COLUMNS, CANONICAL_UNITS, EchemMetadata, EchemRecord

__all__ = ["CANONICAL_COLUMNS", "CANONICAL_UNITS", "EchemMetadata", "EchemRecord"]
