# make run   - install into .venv (if needed) and run the whole pipeline on data/AirPassengers.csv
# make test  - install with dev dependencies and run the test suite
# make lint  - ruff (lint and format check) and the import-linter contracts (pyproject.toml)
# make ui    - start the Prefect (4200) and MLflow (5000) servers on 127.0.0.1
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: install install-dev run test test-e2e lint ui clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt -e . 2>&1 | { grep -v "is ignored: it is neither" || true; }
	$(BIN)/python -c "import torch, prefect, mlflow, flows.cli"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -q -c constraints.txt -e ".[dev]" 2>&1 | { grep -v "is ignored: it is neither" || true; }
	$(BIN)/python -c "import pytest"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/lstm-forecast run --input data/AirPassengers.csv --storage storage

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: install-dev
	$(BIN)/python -m pytest -q

test-e2e: install-dev
	$(BIN)/python -m pytest -q -m e2e

ui: install
	$(BIN)/lstm-forecast ui --storage storage

clean:
	rm -rf storage tests/artifacts .pytest_cache
