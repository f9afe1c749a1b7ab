# Two entry points a fresh machine needs (README): `make serve` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := setup
.PHONY: setup compiled pure serve keys test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The modules of mypyc-modules.txt compiled to C extension modules beside their sources (see
# README, "Compiled modules"). The record holds the SHA-256 of what a build depends on, taken
# before it: every source of the package (a compiled module also relies on the types of the
# modules it calls), the list, and pyproject.toml (mypy's settings, the pinned versions).
# `import tally` refuses a build whose record no longer matches (tally.compiled).
# TALLY_PURE_PYTHON=1: nothing compiled, and any earlier build removed.
COMPILE_LIST := mypyc-modules.txt
COMPILE_MODS := $(shell sed -e 's/\#.*//' $(COMPILE_LIST))
SOURCES      := $(shell find src/tally -name '*.py')
RECORD       := src/tally/compiled-sources.sha256
HASH_INPUTS  := { find tally -name '*.py'; echo ../$(COMPILE_LIST); echo ../pyproject.toml; }

ifeq ($(TALLY_PURE_PYTHON),1)
BUILD := pure
else
BUILD := compiled
endif

$(RECORD): $(STAMP) $(COMPILE_LIST) $(SOURCES)
	@$(MAKE) --no-print-directory pure
	@echo "compiling $(words $(COMPILE_MODS)) modules with mypyc (a minute or two)"
	@cd src && $(HASH_INPUTS) | LC_ALL=C sort | xargs sha256sum > ../$(RECORD).next
	@cd src && ../$(BIN)/mypyc --config-file ../pyproject.toml $(COMPILE_MODS) \
		>../$(VENV)/mypyc.log 2>&1 || { tail -n 40 ../$(VENV)/mypyc.log; exit 1; }
	@mv $(RECORD).next $(RECORD)

# Compiled from what is there now, compared by content: a record that still matches is
# renewed (a checkout that rewrote files unchanged compiles nothing), one that does not is
# dropped (a file put back with an old time compiles all the same).
compiled: $(STAMP)
	@if [ -f $(RECORD) ]; then \
		if (cd src && sha256sum --quiet --strict -c ../$(RECORD)) >/dev/null 2>&1 && \
			[ "$$(cd src && $(HASH_INPUTS) | wc -l)" = "$$(wc -l < $(RECORD))" ]; \
		then touch $(RECORD); else rm -f $(RECORD); fi; \
	fi
	@$(MAKE) --no-print-directory -s $(RECORD)

pure:
	@find src -name '*.so' -delete
	@rm -rf src/build $(RECORD) $(RECORD).next

setup: $(STAMP) $(BUILD)

# Start the API on the embedded SQLite default (./tally.db), creating a first project and
# printing its keys when the database has none yet.
serve: setup
	@$(BIN)/tally migrate >/dev/null
	@if [ -z "$$($(BIN)/tally projects list)" ]; then $(BIN)/tally projects create default; fi
	$(BIN)/tally serve --host 127.0.0.1 --port 8000

keys: setup
	$(BIN)/tally projects create $${NAME:-default}

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: setup lint typecheck
	$(BIN)/pytest -q -n 2

bench: setup
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache src/.mypy_cache src/build $(RECORD)
	find src -name '*.so' -delete
