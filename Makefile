# Two entry points (see README, Quick start):
#   make demo   install and walk real cases through a scratch workspace
#   make test   install test tools; lint, type-check, check the layers, run every test
#   make test-fast   the pure-core tests only (seconds), for the inner loop
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-fast lint typecheck layers pytest bench wheel clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@ $(VENV)/.run-installed

demo: $(VENV)/.run-installed
	bash scripts/demo.sh

test: $(VENV)/.test-installed lint typecheck layers pytest

lint: $(VENV)/.test-installed
	$(BIN)/ruff check complaintctl tests benchmarks
	$(BIN)/ruff format --check complaintctl tests benchmarks

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

layers: $(VENV)/.test-installed
	$(BIN)/lint-imports

test-fast: $(VENV)/.test-installed
	$(BIN)/pytest -m "not slow"

pytest: $(VENV)/.test-installed
	$(BIN)/pytest

# A release: the sdist, and the wheel built from it, in dist/ (see docs/ci.md).
wheel: $(VENV)/.test-installed
	$(BIN)/python -m build --no-isolation --outdir dist .

bench: $(VENV)/.run-installed
	$(BIN)/python benchmarks/bench_scale.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
