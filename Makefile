# Two commands: `make run` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= $(if $(wildcard config.toml),config.toml,config.example.toml)

.PHONY: run test lint typecheck unit bench clean dist

$(BIN)/helpdesk: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/helpdesk
	$(BIN)/helpdesk -c $(CONFIG) run

lint: $(BIN)/helpdesk
	$(BIN)/ruff check gateway parsers rules tests bench
	$(BIN)/lint-imports

typecheck: $(BIN)/helpdesk
	$(BIN)/mypy --strict gateway parsers rules

test: lint typecheck
	$(BIN)/pytest -q

dist: $(BIN)/helpdesk
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir dist .

bench: $(BIN)/helpdesk
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/rules.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
