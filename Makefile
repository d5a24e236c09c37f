# The two commands a newcomer runs: `make demo` and `make test`. Everything they need is set up here.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgres://postgres@127.0.0.1:5432/rolegate
REDIS ?= redis://127.0.0.1:6379/0
TEST_WORKERS ?= 2

.PHONY: demo test lint bench install browser clean

# Re-install only when the dependency list changed.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[sandbox,dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python manage.py demo

# Debian's chromium for the browser tests (Playwright drives it; no browser download needed).
browser:
	@command -v chromium >/dev/null || { \
	  echo "Installing Debian's chromium for the browser tests..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; browser tests will be skipped"; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DATABASE_URL=$(PG_URL) ROLEGATE_ENV=test $(BIN)/mypy portal apps awsra rbac rolegate sandbox
	$(BIN)/bandit -q -r portal apps awsra rbac rolegate sandbox -ll -x '*/tests/*,*/migrations/*'

test: $(STAMP) browser
	@$(BIN)/python -c "import psycopg,sys,urllib.parse as u; p=u.urlsplit('$(PG_URL)'); psycopg.connect(p._replace(path='/postgres').geturl(), connect_timeout=3).close()" 2>/dev/null \
	  || { echo "error: PostgreSQL is not reachable at $(PG_URL) (set PG_URL or start PostgreSQL)"; exit 1; }
	@$(BIN)/python -c "import redis; redis.Redis.from_url('$(REDIS)', socket_connect_timeout=3).ping()" 2>/dev/null \
	  || { echo "error: Redis is not reachable at $(REDIS) (set REDIS or start Redis)"; exit 1; }
	$(MAKE) --no-print-directory lint
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS) ROLEGATE_ENV=test \
	  $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -q $(PYTEST_ARGS)

bench: $(STAMP)
	DATABASE_URL=$(PG_URL) ROLEGATE_ENV=test $(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var
