# Two commands a user needs on a fresh machine with only Python, pip and make:
#   make demo   set up .venv and run the built-in sample experiment
#   make test   set up .venv (with the test extra) and run lint, types and the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.operando-installed
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck pytest venv clean browser

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[all,test]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/operando demo --out demo-output

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest exits 5 when it collects nothing (e.g. a filtered run); that is not a failure here.
pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS) || test $$? -eq 5

test: lint typecheck pytest

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache .hypothesis
