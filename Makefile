# Two commands: `make run` and `make test`. Everything else is set up on demand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
CHROMIUM := /usr/bin/chromium
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml uv.lock | cksum | cut -d' ' -f1)

.PHONY: run test lint typecheck bench install clean chromium wrk axe loadtest

$(STAMP): pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --inexact --extra dev --extra bench --quiet
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/wowsino serve --demo

# The console's browser tests drive Debian's Chromium (never a downloaded build).
chromium:
	@test -x $(CHROMIUM) || { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "note: $(CHROMIUM) is missing (install Debian's chromium); browser tests will not run"; fi; }

# axe-core (from the npm registry, pinned by its lock file) checks the console's pages
# for accessibility inside the browser.
AXE := tests/browser/axe/node_modules/axe-core/axe.min.js
$(AXE): tests/browser/axe/package.json tests/browser/axe/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tests/browser/axe --no-audit --no-fund --silent && touch $@; \
	  else echo "note: npm is missing (install Debian's npm); the accessibility tests will not run"; fi

axe: $(AXE)

test: $(STAMP) chromium axe
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/python tests/run_suite.py -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The HTTP benchmarks drive the API with Debian's wrk (C, a few percent of a core).
wrk:
	@command -v wrk >/dev/null || { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; \
	  else echo "note: wrk is missing (install Debian's wrk); the adjustments benchmark needs it"; fi; }

bench: $(STAMP) wrk
	$(BIN)/python -m bench

# A point-in-time restore, end to end with the bundled PostgreSQL: base backup, archived
# WAL, recovery to a target time, then `wowsino ledger verify` (docs/operations.md).
.PHONY: restore-test
restore-test: $(STAMP)
	$(BIN)/python -m tests.ops.restore

clean:
	rm -rf $(VENV) .wowsino .pytest_cache .mypy_cache .ruff_cache .artifacts tests/browser/axe/node_modules

# A plug-in operator's traffic against 1, then 2, API processes (+ workers), on loopback.
loadtest: $(STAMP) wrk
	$(BIN)/python -m bench.loadtest
