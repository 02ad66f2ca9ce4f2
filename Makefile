# The two commands: `make demo` builds a warehouse from realistic data; `make test` verifies it.
# Every target creates .venv from the lock file when it is missing or out of date.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WAREHOUSE := $(BIN)/warehouse
# Exports the libpq variables of the warehouse database (embedded unless PGHOST is set).
WITH_DB := eval "$$($(WAREHOUSE) env)" &&

.DEFAULT_GOAL := help
.PHONY: help install lock db-up db-down db-status demo test lint lint-python lint-sql pytest \
	format manifest dagster dagster-home dashboard api test-pg15 bench bench-foundation bench-dashboard bench-api clean

help:
	@echo "make demo      generate realistic data, load it, dbt build, print a summary"
	@echo "make test      ruff, sqlfluff and pytest (real PostgreSQL, real dbt, real Dagster)"
	@echo "make dagster   the Dagster UI (lineage, checks, schedules, alerts) at http://127.0.0.1:3000"
	@echo "make dagster-home   DAGSTER_HOME's dagster.yaml (for plain \`dagster dev\`)"
	@echo "make api       the reporting API (OpenAPI docs at http://127.0.0.1:8000/docs)"
	@echo "make dashboard the dashboard (savings, task log, providers, teams, ROI) at http://127.0.0.1:8501"
	@echo "make install   create .venv from requirements.lock"
	@echo "make db-up | db-down | db-status   the embedded PostgreSQL (unless PGHOST is set)"
	@echo "make lint      ruff + sqlfluff;  make format   ruff format + sqlfluff fix"
	@echo "make test-pg15 run the test suite against Debian's PostgreSQL 15"
	@echo "make bench     the specification's scale: BENCH_TASKS (default 10000000) tasks generated in"
	@echo "               the database, then load, dbt, dashboard queries and storage timed"
	@echo "               (docs/benchmarks.md); make bench-foundation: demo-sized data"
	@echo "make lock      re-resolve pyproject.toml into requirements.lock"

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	{ echo "# Locked dependency set. Regenerate with \`make lock\` after changing pyproject.toml."; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable; } > requirements.lock
	rm -rf .lock-venv

db-up: $(STAMP)
	@$(WAREHOUSE) db up

db-down: $(STAMP)
	@$(WAREHOUSE) db down

db-status: $(STAMP)
	@$(WAREHOUSE) db status

demo: $(STAMP)
	@$(WAREHOUSE) demo

# target/manifest.json, which the Dagster code location reads outside `dagster dev` (which
# prepares it itself): `dagster definitions validate`, a deployment, the tests.
manifest: db-up
	@$(WITH_DB) $(BIN)/dbt parse --quiet

DAGSTER_PORT ?= 3000
dagster: $(STAMP)
	@$(WAREHOUSE) dagster --port $(DAGSTER_PORT)

DASHBOARD_PORT ?= 8501
dashboard: db-up
	@$(WITH_DB) $(BIN)/streamlit run warehouse/dashboard/app.py --server.headless true \
		--server.address 127.0.0.1 --server.port $(DASHBOARD_PORT) --browser.gatherUsageStats false

API_PORT ?= 8000
api: db-up
	@$(WAREHOUSE) api --port $(API_PORT)

# $DAGSTER_HOME/dagster.yaml (and schema dagster with WAREHOUSE_DAGSTER_STORAGE=postgres).
dagster-home: db-up
	@$(WITH_DB) $(BIN)/python -m warehouse.dagster_home

lint: lint-python lint-sql

lint-python: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lint-sql: db-up
	@$(WITH_DB) $(BIN)/sqlfluff lint models tests/dbt --disable-progress-bar --processes 2

format: db-up
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	@$(WITH_DB) $(BIN)/sqlfluff fix models --disable-progress-bar

# Tests run in PYTEST_WORKERS processes (pytest-xdist; default one per core, at most 4): each
# test has its own database, so they share nothing but the server. PYTEST_WORKERS=0: one process.
# Whole modules go to a worker (loadscope), so that a module's built warehouse is made once;
# the longest modules first (tests/conftest.py, LONGEST_MODULES), not reordered by xdist.
PYTEST_WORKERS ?= auto
pytest: db-up
	$(BIN)/pytest -n $(PYTEST_WORKERS) --maxprocesses 4 --dist loadscope --no-loadscope-reorder

test: lint pytest

# Never part of `make test`. BENCH_TASKS, BENCH_DAYS, BENCH_RUNS, BENCH_PHASE_TIMEOUT,
# BENCH_LOAD_ROWS, BENCH_PGBENCH_SECONDS, BENCH_MICRO_BATCH_TASKS, BENCH_LIVE_TASKS_PER_SECOND,
# BENCH_API_REQUESTS, BENCH_DATABASE: see benchmarks/bench_scale.py.
bench: db-up
	$(BIN)/python -m benchmarks.bench_scale

bench-foundation: db-up
	$(BIN)/python benchmarks/bench_foundation.py

# The reporting API's endpoints on the demo warehouse (make demo first), or the one PGDATABASE
# names (a 10 M one: benchmarks/bench_scale.py --build-only): 8 and 32 clients.
BENCH_API_WORKERS ?= 1
bench-api: db-up
	@$(WITH_DB) $(BIN)/python -m benchmarks.bench_api --workers $(BENCH_API_WORKERS)

# The dashboard's pages on the demo warehouse (make demo first): server reads and browser times.
bench-dashboard: db-up
	@$(WITH_DB) $(BIN)/python -m benchmarks.bench_dashboard

test-pg15: $(STAMP)
	@scripts/with-debian-postgres.sh $(MAKE) pytest

clean:
	rm -rf target logs dbt_packages .pytest_cache .ruff_cache
