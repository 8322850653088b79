# The developer interface. Every target installs what it needs first: a fresh clone runs
# `make preview STACK=stg` or `make test` with nothing else done.
PYTHON ?= python3
VENV   := venv
BIN    := $(VENV)/bin
STACK  ?= stg
STAMP  := $(VENV)/.installed

.PHONY: setup preview test lint fmt typecheck bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

## Offline preview of one stack: the real program on Pulumi's mock runtime (no cloud, no CLI).
preview: $(STAMP)
	$(BIN)/python -m tools.preview --stack $(STACK) $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

typecheck: $(STAMP)
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/offline_preview.py

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .hypothesis
