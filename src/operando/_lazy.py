"""Lazy public APIs: a package lists what a user calls, and imports each name on first use.

``import operando.echem`` must not pull in SciPy, nmrglue or every vendor reader: each
modality's ``__init__`` maps its public names to the modules that define them and gets
its module ``__getattr__`` and ``__dir__`` from :func:`lazy_exports` (PEP 562).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, sources: Mapping[str, str], public: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: each name imported from ``sources[name]``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    sources : mapping of str to str
        Public name -> the module that defines it.
    public : sequence of str
        The package's ``__all__`` (listed by ``dir()`` before anything is imported).

    Examples
    --------
    >>> getattr_, dir_ = lazy_exports("operando", {"sqrt_of": "math"}, ["sqrt_of"])
    >>> "sqrt_of" in dir_()
    True
    """

    def get_attribute(name: str) -> Any:
        try:
            module = sources[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip __getattr__
        return value

    def list_names() -> list[str]:
        return sorted({*vars(sys.modules[package]), *public})

    return get_attribute, list_names
