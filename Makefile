# Pagepulse: `make dev` runs it, `make test` checks everything. Both work from a fresh clone
# on a machine with python3, make, node (20+) and npm.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv from PATH, or installed into .tools/ on first use.
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
export UV_PYTHON_DOWNLOADS := never
PYTEST_ARGS ?=
# pytest-xdist processes for `make pytest` (2: the suite in about 8 minutes on two cores rather
# than 13, within CI's 15; auto: one per core); empty: one process.
PYTEST_WORKERS ?= 2
NPM := npm --prefix frontend
# The editor's build is redone when any of its sources is newer than the manifest.
EDITOR_SOURCES := $(shell find frontend/src -type f 2>/dev/null) frontend/vite.config.ts frontend/tsconfig.json frontend/package-lock.json

.PHONY: help install dev test lint typecheck migrations-check vitest pytest bench sandbox clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

install: $(if $(findstring .tools,$(UV)),.tools/bin/uv) frontend/dist/manifest.json ## install the locked dependencies into .venv and build the editor
	$(UV) sync --frozen

# npm ci when the lock changed (npm writes node_modules/.package-lock.json on every install).
frontend/node_modules/.package-lock.json: frontend/package.json frontend/package-lock.json
	$(NPM) ci --no-audit --no-fund

frontend/dist/manifest.json: frontend/node_modules/.package-lock.json $(EDITOR_SOURCES)
	$(NPM) run build

dev: install ## run web, worker, beat, Redis (embedded) and the Graph sandbox, with a demo login
	$(UV) run python scripts/dev.py

test: install lint typecheck migrations-check vitest pytest ## the whole suite, as CI runs it

lint: install ## ruff (check and format), import-linter contracts; ESLint and Prettier for the editor
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run lint-imports
	$(NPM) run lint

typecheck: install ## mypy with django-stubs; tsc for the editor
	$(UV) run mypy .
	$(NPM) run typecheck

vitest: install ## the editor's unit tests (Vitest)
	$(NPM) test

migrations-check: install ## fail if a model change has no migration
	DJANGO_SETTINGS_MODULE=config.settings_test $(UV) run python manage.py makemigrations --check --dry-run

pytest: install ## the tests (Postgres when DATABASE_URL is set, SQLite otherwise; a private Redis unless REDIS_URL is set)
	$(UV) run python scripts/with_redis.py pytest $(if $(PYTEST_WORKERS),-n $(PYTEST_WORKERS)) $(PYTEST_ARGS)

bench: install ## the benchmarks in benchmarks/, printing their figures
	$(UV) run python benchmarks/sandbox.py
	$(UV) run python benchmarks/delivery.py
	for n in 1 2 4; do $(UV) run python benchmarks/delivery.py --events 10000 --naive-events 2000 --steady-rate 0 --concurrency $$n || exit 1; done
	$(UV) run python benchmarks/ingest.py
	$(UV) run python benchmarks/webhook.py
	$(UV) run python benchmarks/replies.py --rates 10,40,60,80,120,160 --beside auto
	$(UV) run python benchmarks/replies.py --rates 40,60,80,120,160 --mixed --beside auto
	$(UV) run python benchmarks/fairness.py
	$(UV) run python benchmarks/conversations.py
	$(UV) run python benchmarks/editor.py
	$(UV) run python benchmarks/overview.py --scale 0.1  # PostgreSQL only (DATABASE_URL); --scale 1 = 10M events
	$(UV) run python benchmarks/outbox_writes.py  # PostgreSQL only: the outbox's index writes

sandbox: install ## only the Graph sandbox, on port 8765
	DEBUG=1 $(UV) run python manage.py graph_sandbox --port 8765

clean: ## remove local state (.venv, .tools, the dev database and Redis, the editor's build)
	rm -rf .venv .tools .dev db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles frontend/node_modules frontend/dist
