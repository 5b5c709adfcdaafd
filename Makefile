# Two commands: `make run` (set everything up, run today's snapshot on the embedded Postgres)
# and `make test` (lint, types, definitions, tests).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck validate pytest browser redis bench ui clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/symphony run

ui: install
	$(BIN)/symphony ui

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy symphony_assets

# Validation needs no instance: an empty DAGSTER_HOME keeps it off our Postgres-backed dagster.yaml.
validate: install
	@home=$$(mktemp -d) && DAGSTER_HOME=$$home $(BIN)/dagster definitions validate; rc=$$?; rm -rf $$home; exit $$rc

# Debian's chromium for the UI test (root and apt only; elsewhere install it yourself).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } || \
	  echo "chromium not installed: the UI test will fail"

# Debian's redis-server for the Celery test (root and apt only; the test starts its own on 127.0.0.1).
redis:
	@command -v redis-server >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) ; } || \
	  echo "redis-server not installed: the Celery test will fail"
	@# Debian's package starts a system-wide server on 6379; the tests start their own, so stop that one.
	@[ "$$(id -u)" = 0 ] && command -v systemctl >/dev/null 2>&1 && systemctl disable --now redis-server >/dev/null 2>&1 || true

# One worker per core, whole files to a worker (each worker has its own embedded Postgres).
pytest: install browser redis
	$(BIN)/pytest -q -n auto --dist loadfile

test: lint typecheck validate pytest

bench: install
	$(BIN)/python benchmarks/bench_inventory.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
