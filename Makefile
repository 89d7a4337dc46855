# The two commands a newcomer needs: `make run` (app with demo data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/livevideo
REDIS_TEST_URL ?= redis://127.0.0.1:6379/1

.PHONY: setup run test test-real test-default test-media test-e2e screenshots lint format services bench bench-quick bench-compare bench-db bench-broadcasts test-proxy

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# The app on the embedded default (SQLite, in-process stores) with demo data.
run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py rundemo 127.0.0.1:8000

services:
	.ci/services

# The whole suite: against PostgreSQL and Redis, then on the embedded default.
test: setup services lint test-real test-default test-media test-e2e test-proxy

test-real:
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) $(BIN)/pytest -q

test-default:
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest -q

# The media server (nginx-rtmp) fed by ffmpeg over RTMP, in its own pytest run: each test starts
# `manage.py mediaserver` on spare ports against the test database.
test-media: setup
	.ci/media
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) $(BIN)/pytest -q -p no:randomly --override-ini "addopts=-ra --strict-markers" tests/media

# Real browsers (Debian's Chromium) against a forked Daphne, in their own pytest run: Playwright
# keeps an event loop in the test thread, which the async tests above cannot share.
E2E_PYTEST := env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest -q -p no:randomly --override-ini "addopts=-ra --strict-markers"

test-e2e: setup
	.ci/chromium
	.ci/media
	$(E2E_PYTEST) tests/e2e

# The README's pictures, taken again by the browser tests that take them and written to
# docs/screenshots/ (every other run writes them to a temporary folder).
screenshots: setup
	.ci/chromium
	.ci/media
	UPDATE_SCREENSHOTS=1 $(E2E_PYTEST) tests/e2e/test_screenshots.py tests/e2e/test_video.py::test_the_watch_page_plays_the_live_stream

# Debian's nginx, configured with deploy/nginx.conf (docs/operations.md), in front of two uvicorn
# processes (client addresses, limits, fan-out across processes, restarts, a rolling restart
# under 150 viewers), in their own pytest run: they start what they need.
test-proxy: setup
	.ci/nginx
	env -u DATABASE_URL -u REDIS_URL TEST_REDIS_URL=$(REDIS_TEST_URL) $(BIN)/pytest -q -p no:randomly --override-ini "addopts=-ra --strict-markers" tests/proxy

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Load tests (docs/performance.md): real server processes on PostgreSQL and Redis.
BENCH_PG_URL ?= postgres://postgres@127.0.0.1:5432/livevideo_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/7
BENCH_ARGS ?=
LOADTEST := DATABASE_URL=$(BENCH_PG_URL) REDIS_URL=$(BENCH_REDIS_URL) $(BIN)/python manage.py loadtest

bench-db: setup
	$(BIN)/python -c "import psycopg, sys; u = sys.argv[1]; c = psycopg.connect(u.rsplit('/', 1)[0] + '/postgres', autocommit=True); \
	c.execute('SELECT 1 FROM pg_database WHERE datname = %s', [u.rsplit('/', 1)[1]]).fetchone() or c.execute('CREATE DATABASE ' + u.rsplit('/', 1)[1])" $(BENCH_PG_URL)

# The standard scenario: 10,000 viewers, 100 reactions/s and 5 comments/s for 60 s, sent as
# the watch page sends them (reactions over its WebSocket, comments over REST).
bench: bench-db
	$(LOADTEST) --viewers 10000 --reactions 100 --comments 5 --duration 60 --drive page $(BENCH_ARGS)

# About 20 s: 500 viewers for 10 s.
bench-quick: bench-db
	$(LOADTEST) --viewers 500 --workers 2 --reactions 50 --comments 5 --duration 10 --drive page $(BENCH_ARGS)

# The tutorial-style baseline and ours, same load, same run: the ratio of their capacity.
# Over REST: the baseline takes no reactions over its WebSocket.
bench-compare: bench-db
	$(LOADTEST) --compare baseline,uvicorn --viewers 1000 --reactions 100 --comments 10 --duration 30 $(BENCH_ARGS)

# Many broadcasts: 1,000 live at once, viewers spread Zipf-like (of 20,000: ~4,900 on the
# hottest, most with a handful), 1 comment/s on each and 100 reactions/s on the hottest, all
# over WebSocket (REST would measure the write path instead); 10 s quiet first (what idle
# topics cost). Two processes hold the 20,000; one process 15,000 (its open-files limit is
# 20,000 and the driver adds ~3,100 sockets). See docs/performance.md.
BROADCASTS_ARGS := --broadcasts 1000 --zipf 1.25 --comments 1 --reactions 100 --duration 60 \
	--quiet 10 --drive ws --users 100
bench-broadcasts: bench-db
	$(LOADTEST) $(BROADCASTS_ARGS) --viewers 15000 --servers 1 $(BENCH_ARGS)
	$(LOADTEST) $(BROADCASTS_ARGS) --viewers 20000 --servers 2 --no-migrate $(BENCH_ARGS)
