# The two commands a newcomer needs: `make run` (app with demo data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/livevideo
REDIS_TEST_URL ?= redis://127.0.0.1:6379/1

.PHONY: setup run test test-real test-default lint format services bench

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# The app on the embedded default (SQLite, in-process stores) with demo data.
run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

services:
	.ci/services

# The whole suite: against PostgreSQL and Redis, then on the embedded default.
test: setup services lint test-real test-default

test-real:
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) $(BIN)/pytest -q

test-default:
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
