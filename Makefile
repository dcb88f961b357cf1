# Two commands a user needs on a fresh machine with only Python, pip and make:
#   make demo   set up .venv and run the built-in sample experiment
#   make test   set up .venv (with the test extra) and run lint, types and the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.operando-installed
# the demo needs only the user extras; the tests add the anchors and the checkers
DEMO_STAMP = $(VENV)/.operando-demo-installed
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck pytest venv clean browser

venv: $(STAMP)

$(DEMO_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[all]"
	@touch $(DEMO_STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[all,test]"
	@touch $(STAMP) $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/operando demo --out demo-output

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# Headless Chromium for the tests marked `browser` (Playwright drives the system browser; no
# `playwright install` download). As root with apt-get it is installed when missing; otherwise
# one line says why those tests are skipped, and the rest of the suite still runs. When the
# browser is there, a failing browser test fails `make test` like any other test.
browser: $(STAMP)
	@if ! $(BIN)/python -c "import playwright" >/dev/null 2>&1; then \
	  echo "browser tests skipped: playwright is not installed in $(VENV)"; \
	elif command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
	  :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium for the browser tests (apt-get)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
	    || echo "browser tests skipped: apt-get could not install chromium"; \
	else \
	  echo "browser tests skipped: chromium is not on PATH and installing it needs root and apt-get"; \
	fi

# pytest exits 5 when it collects nothing (e.g. a filtered run); that is not a failure here.
pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS) || test $$? -eq 5

test: lint typecheck browser pytest

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache .hypothesis

# A user's first install, alone: a new venv from the tracked files, `operando tomo recon` without
# extras (one line naming operando[tomo], exit 2), then with .[tomo] (exit 0). `make test` runs it
# too; leave it out there with PYTEST_ARGS='-m "not fresh_venv"'.
.PHONY: fresh-venv
fresh-venv: $(STAMP)
	$(BIN)/pytest -q -m fresh_venv tests/test_fresh_venv.py
