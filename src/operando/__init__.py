"""operando: raw operando battery data to physics on the charging curve.

Subpackages, one per modality: :mod:`operando.echem` (potentiostat records),
:mod:`operando.sxdm`, :mod:`operando.tomo`, :mod:`operando.nmr`, :mod:`operando.mri`;
shared infrastructure: :mod:`operando.timeline`, :mod:`operando.store`,
:mod:`operando.parallel`, :mod:`operando.synthetic`, :mod:`operando.report`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
