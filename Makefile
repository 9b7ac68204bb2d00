# One target per job, used the same way locally and by CI (.ci/run calls `make test`).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9
WEB_STAMP := web/node_modules/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install lock web run test test-py test-web lint typecheck bench soak clean api-client check-api-client redis-topologies

# uv installs exactly what uv.lock pins (`--locked`: it fails, rather than rewrite the lock,
# when pyproject.toml changed since `make lock`). `--inexact` keeps pip and uv in the venv.
$(BIN)/python:
	$(PY) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/pip install -q uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(BIN)/uv
	$(BIN)/uv sync -q --locked --inexact --all-extras
	@touch $@

install: $(STAMP)

# After changing dependencies in pyproject.toml: resolve again and commit uv.lock.
lock: | $(BIN)/uv
	$(BIN)/uv lock

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

# The web app is built when its sources exist; the built assets are never committed.
web:
	@if [ -f web/package.json ]; then $(MAKE) $(WEB_STAMP) && (cd web && npm run build); fi

run: install web
	$(BIN)/rill serve --host $(HOST) --port $(PORT)

test: install web
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/pytest
	@if [ -f web/package.json ]; then $(MAKE) test-web; fi

# A local Redis Cluster (7000-7005) and Sentinel set-up (6390-6391, 26390-26392)
# for the broker's topology tests; `scripts/redis-topologies.sh stop` ends them.
redis-topologies:
	scripts/redis-topologies.sh start

test-py: install
	$(BIN)/pytest

test-web: $(WEB_STAMP) check-api-client
	cd web && npm run typecheck && npm run test && npm run e2e

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/mypy

api-client: install $(WEB_STAMP)
	$(BIN)/rill openapi > web/openapi.json
	cd web && npm run generate-api

# The checked-in OpenAPI document and the TS types generated from it must match the server.
check-api-client: install $(WEB_STAMP)
	@tmp=$$(mktemp -d) && $(BIN)/rill openapi > $$tmp/openapi.json \
	  && (cd web && OPENAPI_IN=$$tmp/openapi.json OPENAPI_OUT=$$tmp/schema.d.ts npm run -s generate-api >/dev/null) \
	  && diff -q web/openapi.json $$tmp/openapi.json && diff -q web/src/api/schema.d.ts $$tmp/schema.d.ts \
	  || { echo "web/openapi.json or web/src/api/schema.d.ts is stale: run 'make api-client'"; exit 1; }

# Long versions of the reliability and security suites (docs/reliability.md):
# 1,000 chat turns, 10,000 hub updates, thousands of fuzzed requests.
soak: install
	RILL_SOAK=1 $(BIN)/pytest -p no:cacheprovider -s --timeout=1800 tests/reliability tests/security \
	  tests/integration/nodes/test_resume_property.py

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) web/node_modules web/dist .rill
