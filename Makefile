# Switchyard developer commands. Needs only Python 3.11+; everything else goes into .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstalls only when pyproject.toml changes.
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench resilience soak clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Switchyard needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

demo: $(STAMP)  ## run the gateway with a development IdP and sample data
	$(BIN)/gateway demo

test: $(STAMP)  ## the whole suite: PostgreSQL + Redis, then SQLite + embedded store (+ browser)
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/test

lint: $(STAMP)  ## ruff and mypy, when installed (pip install -e '.[dev]')
	@if test -x $(BIN)/ruff; then $(BIN)/ruff check gateway tests; \
		else echo "ruff not installed: $(BIN)/pip install -e '.[dev]'"; fi
	@if test -x $(BIN)/mypy; then $(BIN)/mypy; \
		else echo "mypy not installed: $(BIN)/pip install -e '.[dev]'"; fi

bench: $(STAMP)  ## benchmarks against their floors (PostgreSQL db `bench`, Redis db 9; installs wrk)
	PYTHONPATH=$(CURDIR) $(BIN)/python -m bench.run $(BENCH_ARGS)

# Fault scenarios on real processes (docs/resilience.md): own PostgreSQL (initdb) and
# Redis, two gateway instances, nginx for the rolling restart. SOAK=1 adds the soak.
# Each scenario's logs and samples.jsonl stay in $TMPDIR/switchyard-resilience until
# the next run.
SOAK ?= 0
SOAK_SECONDS ?= 1800
RESILIENCE_RUN = PATH="$(CURDIR)/$(BIN):$$PATH" RESILIENCE_FULL=1 \
	RESILIENCE_SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python -m pytest -q -p no:cacheprovider -m resilience \
	--basetemp="$${TMPDIR:-/tmp}/switchyard-resilience"

resilience: $(STAMP)  ## every fault scenario, then the table (also bench/results/resilience.md)
	RESILIENCE_SOAK=$(SOAK) RESILIENCE_TABLE=$(CURDIR)/bench/results/resilience.md \
		$(RESILIENCE_RUN) tests/resilience $(RESILIENCE_ARGS)

soak: $(STAMP)  ## mixed traffic at half capacity for SOAK_SECONDS (30 min): 5xx, memory, connections
	RESILIENCE_SOAK=1 RESILIENCE_TABLE=$(CURDIR)/bench/results/soak.md \
		$(RESILIENCE_RUN) tests/resilience/test_soak.py $(RESILIENCE_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
