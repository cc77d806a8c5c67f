# Pagepulse's production image: one image for web (granian), worker, beat, migrate and the
# Graph sandbox; docker-compose.yml picks the command.

# The flow editor (frontend/) is built here, in a Node stage, and never committed; only its
# built files reach the image.
FROM node:20-slim AS editor
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim

COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /uvx /usr/local/bin/

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GRANIAN_WORKERS=2 \
    GRANIAN_BLOCKING_THREADS=4 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH

WORKDIR /app

# Dependencies first, in their own layer, so a code change does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

COPY . .
COPY --from=editor /src/frontend/dist/ frontend/dist/

# Settings refuse to load without secrets when DEBUG is off. These throwaway values exist only
# for this one command and are not kept in the image; the real ones come at run time.
RUN DEBUG=0 \
    SECRET_KEY=collectstatic-at-build-time-only-not-a-real-secret-0123456789 \
    TOKEN_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    python manage.py collectstatic --noinput

RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin pagepulse
USER pagepulse

EXPOSE 8000
# granian (HTTP in Rust, the WSGI app in a pool of threads) reads GRANIAN_WORKERS (processes: one
# a core) and GRANIAN_BLOCKING_THREADS (requests in flight a process). With the webhook's fast
# path it acknowledges 1,000 deliveries a second on two cores where gunicorn's sync workers
# queued at 600 (benchmarks/webhook.py, benchmarks/README.md, docs/adr/0014-webhook-intake.md).
# config/granian_log.json: the access log on stdout with secrets redacted.
CMD ["granian", "--interface", "wsgi", "--host", "0.0.0.0", "--port", "8000", "--log-config", "config/granian_log.json", "--access-log", "config.wsgi:application"]
