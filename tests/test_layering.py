"""The layering DESIGN.md asks for, checked on the source: kernels and readers import no
CLI, no plotting and no dask.distributed; only operando.parallel talks to a cluster."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "operando"

# module (relative to src/operando) prefixes -> imports they must not make
RULES = {
    "cli": (),
    "report": ("operando.cli", "distributed"),
    "parallel.py": ("operando.cli", "matplotlib", "operando.report"),
    "demo.py": ("operando.cli", "distributed"),
    "info.py": ("operando.cli", "matplotlib", "operando.report", "distributed"),
}
DEFAULT_FORBIDDEN = ("operando.cli", "matplotlib", "operando.report", "distributed", "typer", "rich")
ALLOWED_ANYWHERE = {"_progress.py": ("rich",)}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


MODULES = sorted(p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_layering(module):
    forbidden = next((rule for prefix, rule in RULES.items() if module.startswith(prefix)), DEFAULT_FORBIDDEN)
    forbidden = tuple(f for f in forbidden if f not in ALLOWED_ANYWHERE.get(module, ()))
    bad = sorted(name for name in _imports(SRC / module) if name.startswith(forbidden))
    assert not bad, f"{module} imports {bad}"
