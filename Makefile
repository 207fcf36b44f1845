# Wheeldesk: `make run` starts everything on the embedded demo; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(HOME)/.local/bin:$(PATH)
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PY := .venv/bin/python
# make test: pytest-xdist workers, each with its own stacks; a file's tests stay on one worker,
# and the tests on the shared session stack all on one worker, in order (wheeldesk_testing.fixtures).
# Three on two cores: the full-stack tests spend much of their time waiting on other processes.
# The moved-date check runs first, alone (beside the workers, its tws-sim runs saw refused
# connections under the load). Tests marked `serial`
# (CPU-paced: the sped-up soak, the 16 MB import's 2 s) run afterwards, alone.
TEST_WORKERS ?= 3
WEB := services/web
CHROMIUM ?= /usr/bin/chromium

.PHONY: help install uv deps frontend debs browser faketime postgres test-dates run test lint format bench clean

help:
	@echo "make run    - install what is missing and start Wheeldesk (demo) at http://127.0.0.1:8000"
	@echo "make test   - install what is missing and run every test"
	@echo "make bench  - run the benchmarks and write docs/benchmarks.md"
	@echo "make lint   - ruff check + format check"

uv:
	@command -v uv >/dev/null 2>&1 || test -x $(HOME)/.local/bin/uv || python3 -m pip install --user --quiet uv || python3 -m pip install --quiet --break-system-packages uv

deps: uv
	@$(UV) sync --frozen --all-packages --quiet

frontend:
	@if [ -f $(WEB)/package.json ]; then \
		if [ ! -d $(WEB)/node_modules ] || [ $(WEB)/package-lock.json -nt $(WEB)/node_modules/.package-lock.json ]; then \
			(cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error); fi; \
		(cd $(WEB) && npm run --silent build); fi

install: deps frontend

run: install
	@$(PY) scripts/run.py

# Debian packages the tests use, installed in one apt-get run when any is missing: chromium
# (browser tests), faketime (scripts/check_dates.py) and postgresql (tests/deploy/test_postgres.py;
# wheeldesk_testing.postgres runs initdb + pg_ctl itself, as `nobody` when root).
DEBS_MISSING = $(strip \
	$(if $(wildcard $(CHROMIUM)),,chromium) \
	$(if $(shell command -v faketime 2>/dev/null),,faketime) \
	$(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql))

debs:
	@if [ -n "$(DEBS_MISSING)" ]; then \
		echo "installing Debian packages for the tests: $(DEBS_MISSING)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBS_MISSING) >/dev/null) \
		|| (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBS_MISSING) >/dev/null); fi

browser faketime postgres: debs

# The tws-sim, screener and ledger suites with the machine's date moved (scripts/check_dates.py).
test-dates: install debs
	@$(PY) scripts/check_dates.py

# The moved-date check runs first; the main suite runs even when it fails, so one run shows both.
test: install debs
	@$(PY) -m ruff check .
	@$(PY) scripts/check_dates.py; dates=$$?; \
	$(PY) -m pytest -q -n $(TEST_WORKERS) -m "not serial"; rc=$$?; \
	$(PY) -m pytest -q -m serial; serial=$$?; \
	if [ $$rc -eq 5 ] || [ $$serial -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; \
	if [ $$dates -ne 0 ]; then echo "make test: the moved-date check failed (see its output above)"; exit 1; fi; \
	if [ $$rc -ne 0 ]; then exit $$rc; fi; \
	exit $$serial

lint: deps
	@$(PY) -m ruff check . && $(PY) -m ruff format --check .

format: deps
	@$(PY) -m ruff format . && $(PY) -m ruff check --fix .

bench: install
	@$(PY) -m bench

clean:
	rm -rf var .pytest_cache
