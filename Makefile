# The two commands a newcomer needs: `make run` (demo) and `make test` (the suite).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Production-like settings for `check --deploy` (never used to serve anything).
DEPLOY_ENV := DEBUG=0 SECRET_KEY=ci-$$(date +%s)-a-long-random-looking-secret-key-for-checks-only \
	ALLOWED_HOSTS=perfcycle.example.com

.PHONY: run test lint install messages migrate seed worker beat bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

messages: install
	$(BIN)/python manage.py compilemessages --ignore=.venv --verbosity 0

migrate: install
	$(BIN)/python manage.py migrate --noinput

# Serve the demo: migrate, seed once (only into an empty database), run on 127.0.0.1:$(PORT).
run: messages migrate
	$(BIN)/python manage.py seed_demo --if-empty
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

worker: install
	$(BIN)/celery -A perfcycle worker -Q celery,pdf --loglevel=INFO

beat: install
	$(BIN)/celery -A perfcycle beat --loglevel=INFO

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(DEPLOY_ENV) $(BIN)/python manage.py check --deploy --fail-level WARNING

test: messages lint
	@# Persistent connections only keep live-server threads holding the test database open.
	CONN_MAX_AGE=0 $(BIN)/python -m pytest

# The benchmark (not part of `make test`; most of an hour): seeds its own PostgreSQL
# database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/perfcycle_bench,
# created if absent; the name must say "bench") at 10,000 and 50,000 employees, renders
# packet batches with Celery workers on Redis (REDIS_URL, default database 14), prints a
# table and writes bench/results.json. Narrow it with e.g.
# BENCH_ARGS="--sizes 10000 --only pages".
bench: messages
	@command -v wrk >/dev/null 2>&1 || { echo "The load run needs wrk: apt-get install wrk"; exit 1; }
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
