# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WEB_CONCURRENCY ?= 4
WORKER_CONCURRENCY ?= 2

.PHONY: run test lint install install-dev migrate web worker beat clean browser chaos bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# `pip install -e .` installs the project with its runtime dependencies; `.[dev]` adds the
# test and lint tools. The stamp files re-run the install when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## The embedded default: SQLite in var/, tasks in-process, demo data, admin login printed.
run: export DEBUG ?= 1
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_setup --url http://$(HOST):$(PORT)
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

## Lint, types and the whole suite against PostgreSQL and Redis (see tests/settings.py).
test: $(VENV)/.installed-dev browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/mypy .
	$(BIN)/pytest

# The browser tests drive Debian's Chromium with Playwright (no browser download). Installed
# here when missing and we may (root); otherwise those tests say why they are skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium and chromium-driver from Debian"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium is not installed and cannot be installed here: browser tests will be skipped"; fi; }

## Crash, broker outage and database outage against real processes (restarts PostgreSQL).
chaos: $(VENV)/.installed-dev
	$(BIN)/python -m tests.chaos

## Throughput, latency and memory against floors measured in the same run (needs wrk).
bench: $(VENV)/.installed-dev
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m tests.bench

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## The production shape; configure with DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY, ALLOWED_HOSTS.
migrate: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput

web: $(VENV)/.installed
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/gunicorn pointagram_site.wsgi --workers $(WEB_CONCURRENCY) --bind $(HOST):$(PORT)

worker: $(VENV)/.installed
	$(BIN)/celery -A pointagram_site worker --loglevel INFO --concurrency $(WORKER_CONCURRENCY)

beat: $(VENV)/.installed
	mkdir -p var
	$(BIN)/celery -A pointagram_site beat --loglevel INFO --schedule var/celerybeat-schedule

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
