# Two commands set everything up on a machine with only Python 3.11:
#   make repro   - create .venv, install pinned requirements, run `dvc repro`
#   make test    - create/update .venv with dev requirements, lint, run pytest
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Stage commands call `python`; put the venv first so DVC runs them with it.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install install-dev repro test test-slow lint format bench clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

repro: install
	$(BIN)/dvc repro

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: install-dev
	$(BIN)/python -m pytest -m slow -q

bench: install
	$(BIN)/python benchmarks/gaf_throughput.py

clean-venv:
	rm -rf $(VENV)
