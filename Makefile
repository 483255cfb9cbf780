# ClearFrame. `make run` brings the product up embedded; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench install install-dev install-bench migrate demo clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: requirements-bench.txt requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $@ $(VENV)/.installed-dev $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
install-bench: $(VENV)/.installed-bench

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py demo_data

## Bring the whole product up on its embedded default: SQLite, a Celery worker and beat
## on the filesystem broker, demo data. Ctrl-C stops everything.
run: demo
	$(BIN)/python manage.py start --host $(HOST) --port $(PORT)

## Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi; \
	fi

## The whole test suite. With DATABASE_URL/CELERY_BROKER_URL set (CI sets both) it runs on
## PostgreSQL and Redis; the ledger suite then runs once more on SQLite, the embedded engine.
test: install-dev chromium
	$(BIN)/python -m pytest
	@if [[ "$${DATABASE_URL:-}" == postgres* ]]; then \
		echo "== ledger suite on SQLite (the embedded default) =="; \
		DATABASE_URL=sqlite:///$(CURDIR)/var/test-ledger.sqlite3 CELERY_BROKER_URL=memory:// \
			$(BIN)/python -m pytest tests/ledger -q -p no:cacheprovider; \
	fi

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=config.settings.test
	$(BIN)/lint-imports
	$(BIN)/mypy ledger

## Speed, each against a reference measured in the same run (needs PostgreSQL): the ledger against
## django-hordak and COPY, manifest imports and API usage ingestion against COPY, rating against bare SQL.
BENCH_DB ?= postgres://postgres@127.0.0.1:5432/clearframe_bench
bench: install-bench
	DATABASE_URL=$${DATABASE_URL:-$(BENCH_DB)} $(BIN)/python -m bench.ledger
	DATABASE_URL=$${DATABASE_URL:-$(BENCH_DB)} $(BIN)/python -m bench.import
	DATABASE_URL=$${DATABASE_URL:-$(BENCH_DB)} $(BIN)/python -m bench.ingest
	DATABASE_URL=$${DATABASE_URL:-$(BENCH_DB)} CELERY_BROKER_URL=$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/3} $(BIN)/python -m bench.rating

clean:
	rm -rf var/ .pytest_cache .hypothesis .mypy_cache .ruff_cache
