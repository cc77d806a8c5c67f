# Pagepulse's production image: one image for web (gunicorn), worker, beat, migrate and the
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
    WEB_CONCURRENCY=3 \
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
# gunicorn reads WEB_CONCURRENCY for its number of workers. One sync worker spends ~4 ms on each
# webhook acknowledgement and queues requests at 200/s (p99 53-82 ms on PostgreSQL); three keep
# p99 well under 50 ms on two cores (benchmarks/webhook.py, benchmarks/README.md).
# config/gunicorn_conf.py: bind 0.0.0.0:8000, the access log on stdout with secrets redacted.
CMD ["gunicorn", "config.wsgi", "--config", "python:config.gunicorn_conf"]
