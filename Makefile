# Two entry points a fresh machine needs (README): `make serve` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup compiled pure serve keys test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The modules of mypyc-modules.txt compiled to C extension modules beside their sources (see
# README, "Compiled modules"), again whenever one of them or the list changes; the record of
# their sources' hashes lets `import tally` refuse a stale build. TALLY_PURE_PYTHON=1: none
# compiled, and any earlier build removed.
COMPILE_LIST := mypyc-modules.txt
COMPILE_MODS := $(shell sed -e 's/\#.*//' $(COMPILE_LIST))
COMPILED     := $(VENV)/.compiled
RECORD       := src/tally/compiled-sources.sha256

ifeq ($(TALLY_PURE_PYTHON),1)
BUILD := pure
else
BUILD := $(COMPILED)
endif

$(COMPILED): $(STAMP) $(COMPILE_LIST) $(addprefix src/,$(COMPILE_MODS))
	@$(MAKE) --no-print-directory pure
	@echo "compiling $(words $(COMPILE_MODS)) modules with mypyc (about a minute)"
	@cd src && ../$(BIN)/mypyc --config-file ../pyproject.toml $(COMPILE_MODS) \
		>../$(VENV)/mypyc.log 2>&1 || { tail -n 40 ../$(VENV)/mypyc.log; exit 1; }
	@cd src && sha256sum $(COMPILE_MODS) > ../$(RECORD)
	@touch $@

compiled: $(COMPILED)

pure:
	@find src -name '*.so' -delete
	@rm -rf src/build $(RECORD) $(COMPILED)

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache src/build $(RECORD)
	find src -name '*.so' -delete
