# Two commands for a newcomer: `make run` and `make test`.
# Both create the virtual environment in .venv and install the project into it first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench clean help

help:  ## List the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Towline needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,postgres,dev]'
	touch $(STAMP)

run: $(STAMP)  ## Quote an example mission (the main job, for now)
	$(BIN)/towline-field quote examples/contracts/assist-a.json examples/missions/a-saturday-accident-winching.json

lint: $(STAMP)  ## Ruff, mypy (strict on the core) and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint  ## Every check and every test
	$(BIN)/pytest

bench: $(STAMP)  ## Print the speed figures
	$(BIN)/python bench/valuation.py

clean:  ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
