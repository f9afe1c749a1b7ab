# Two entry points a fresh machine needs (README): `make serve` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup serve keys test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Start the API on the embedded SQLite default (./tally.db), creating a first project and
# printing its keys when the database has none yet.
serve: $(STAMP)
	@$(BIN)/tally migrate >/dev/null
	@if [ -z "$$($(BIN)/tally projects list)" ]; then $(BIN)/tally projects create default; fi
	$(BIN)/tally serve --host 127.0.0.1 --port 8000

keys: $(STAMP)
	$(BIN)/tally projects create $${NAME:-default}

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -q -n 2

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
