# Pagepulse: `make dev` runs it, `make test` checks everything. Both work from a fresh clone
# on a machine with python3 and make (and node/npm once the editor lands).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv from PATH, or installed into .tools/ on first use.
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
export UV_PYTHON_DOWNLOADS := never
PYTEST_ARGS ?=

.PHONY: help install dev test lint typecheck migrations-check pytest bench sandbox clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

install: $(if $(findstring .tools,$(UV)),.tools/bin/uv) ## install the locked dependencies into .venv
	$(UV) sync --frozen

dev: install ## run web, worker, beat, Redis (embedded) and the Graph sandbox, with a demo login
	$(UV) run python scripts/dev.py

test: install lint typecheck migrations-check pytest ## the whole suite, as CI runs it

lint: install ## ruff (check and format), import-linter contracts
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run lint-imports

typecheck: install ## mypy with django-stubs
	$(UV) run mypy .

migrations-check: install ## fail if a model change has no migration
	DJANGO_SETTINGS_MODULE=config.settings_test $(UV) run python manage.py makemigrations --check --dry-run

pytest: install ## the tests (Postgres when DATABASE_URL is set, SQLite otherwise; a private Redis unless REDIS_URL is set)
	$(UV) run python scripts/with_redis.py pytest $(PYTEST_ARGS)

bench: install ## the benchmarks in benchmarks/, printing their figures
	$(UV) run python benchmarks/sandbox.py
	$(UV) run python benchmarks/delivery.py
	$(UV) run python benchmarks/webhook.py

sandbox: install ## only the Graph sandbox, on port 8765
	DEBUG=1 $(UV) run python manage.py graph_sandbox --port 8765

clean: ## remove local state (.venv, .tools, the dev database and Redis)
	rm -rf .venv .tools .dev db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles
