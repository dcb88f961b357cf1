"""Forward models that write realistic raw files with known ground truth.

They build the built-in sample experiment (``operando demo``) and the test phantoms.
"""

from operando.synthetic._echem import SyntheticCell, lmno_ocv, simulate_gcpl, write_eclab_mpt
from operando.synthetic._symmetric import simulate_symmetric_cell

__all__ = ["SyntheticCell", "lmno_ocv", "simulate_gcpl", "simulate_symmetric_cell", "write_eclab_mpt"]
