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
    "live": ("operando.cli", "distributed"),  # the watch rewrites the report; a layer above the demo
    "info.py": ("operando.cli", "matplotlib", "operando.report", "distributed"),
}
DEFAULT_FORBIDDEN = ("operando.cli", "matplotlib", "operando.report", "distributed", "typer", "rich")
ALLOWED_ANYWHERE = {"_progress.py": ("rich", "distributed")}  # task progress from a cluster's scheduler


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


# -- no module reaches into another package's private modules (src, tests and benchmarks) ------
ROOT = SRC.parents[1]
PACKAGES = sorted(p.name for p in SRC.iterdir() if (p / "__init__.py").is_file())


def _private_targets(path: Path) -> list[str]:
    """``operando.X...._y`` modules that ``path`` imports, with X a subpackage of operando."""
    out = []
    for name in _imports(path) | _from_names(path):
        parts = name.split(".")
        if parts[0] != "operando" or len(parts) < 2:
            continue
        if any(p.startswith("_") and not p.startswith("__") for p in parts[1:]):
            out.append(name)
    return out


def _from_names(path: Path) -> set[str]:
    """``from operando.sxdm import _lima`` imports the module ``operando.sxdm._lima``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")}
    return names


def _owner(module: str) -> str:
    """The package a private module belongs to: ``operando`` for the ground modules
    (``operando._files``), else the subpackage it lies in (``operando.sxdm`` for
    ``operando.sxdm.io._bliss``): a modality's modules may use each other's internals."""
    parts = module.split(".")
    return "operando" if parts[1].startswith("_") else ".".join(parts[:2])


# benchmarks are left out on purpose: they time internals (e.g. one step of the .mpr reader)
FILES = sorted([*SRC.rglob("*.py"), *(ROOT / "tests").rglob("*.py")])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_private_module_of_another_package(path):
    here = path.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".").removeprefix("src.")
    bad = []
    for target in _private_targets(path):
        owner = _owner(target)
        if not (here == owner or here.startswith(owner + ".")):
            bad.append(target)
    assert not bad, f"{path.relative_to(ROOT)} imports private modules of other packages: {sorted(bad)}"


# every module of a modality that is neither a reader (io/) nor its __init__ is a kernel: the
# import-linter contract in pyproject.toml must list it, so a new kernel cannot escape the check
def test_every_kernel_is_under_the_kernel_contract():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    listed = set(next(c for c in config if c["name"].startswith("Kernels are pure"))["source_modules"])
    kernels = {
        f"operando.{p.parent.name}.{p.stem}"
        for modality in ("echem", "sxdm", "tomo", "nmr", "mri")
        for p in (SRC / modality).glob("_*.py")
        if p.stem != "__init__"
    }
    assert kernels <= listed, f"kernel modules missing from the import-linter contract: {sorted(kernels - listed)}"
