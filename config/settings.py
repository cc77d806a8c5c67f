"""Pagepulse settings: every value comes from the environment (see the README's table).

Defaults suit `make dev`. With DEBUG off (production) the app refuses to start without
SECRET_KEY and TOKEN_ENCRYPTION_KEYS, and turns on the HTTPS-only settings that
`manage.py check --deploy` asks for.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import django_stubs_ext
import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

# Lets type-annotated generics such as ModelAdmin[Tenant] work at runtime.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG: bool = env.bool("DEBUG", default=False)

SECRET_KEY: str = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production (DEBUG=0) refuses to start without it: "
            "set SECRET_KEY to a long random string, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
    SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production-0123456789"  # noqa: S105

# Fernet keys for page tokens at rest, newest first. See docs/adr/0002-token-encryption.md.
TOKEN_ENCRYPTION_KEYS: list[str] = env.list("TOKEN_ENCRYPTION_KEYS", default=[])
if not TOKEN_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "TOKEN_ENCRYPTION_KEYS is not set. Production (DEBUG=0) refuses to start without it: "
            "set it to one or more comma-separated Fernet keys, newest first, e.g. the output of "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
        )
    # A fixed development key: tokens stored by `make dev` stay readable across restarts.
    TOKEN_ENCRYPTION_KEYS = ["ZGV2LW9ubHktdG9rZW4ta2V5LWRvLW5vdC11c2UtMDA="]

ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Facebook -----------------------------------------------------------------------------
FACEBOOK_APP_ID: str = env.str("FACEBOOK_APP_ID", default="100000000000001")
FACEBOOK_APP_SECRET: str = env.str("FACEBOOK_APP_SECRET", default="sandbox-app-secret")
GRAPH_API_VERSION: str = env.str("GRAPH_API_VERSION", default="v25.0")
PAGE_ACTIVITIES_API_VERSION: str = env.str("PAGE_ACTIVITIES_API_VERSION", default="v20.0")
GRAPH_API_URL: str = env.str("GRAPH_API_URL", default="https://graph.facebook.com").rstrip("/")
FACEBOOK_WWW_URL: str = env.str("FACEBOOK_WWW_URL", default="https://www.facebook.com").rstrip("/")
DEFAULT_EVENT_TRANSPORT: str = env.str("DEFAULT_EVENT_TRANSPORT", default="conversions_api")
if DEFAULT_EVENT_TRANSPORT not in {"conversions_api", "page_activities"}:
    raise ImproperlyConfigured(
        f"DEFAULT_EVENT_TRANSPORT={DEFAULT_EVENT_TRANSPORT!r} is not a transport: "
        "use 'conversions_api' or 'page_activities'."
    )
MESSENGER_VERIFY_TOKEN: str = env.str("MESSENGER_VERIFY_TOKEN", default="")
# The inbox answers after Messenger's 24-hour window with the HUMAN_AGENT tag, up to 7 days;
# only for an app Facebook granted the Human Agent permission (App Review).
MESSENGER_HUMAN_AGENT_TAG: bool = env.bool("MESSENGER_HUMAN_AGENT_TAG", default=False)
# Where people reach this Pagepulse: links in emails (a handoff's "answer it here").
SITE_URL: str = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Emails (new handoffs): django-environ's EMAIL_URL, e.g. smtp+tls://user:password@host:587;
# the console by default, so `make dev` prints them.
_email: dict[str, Any] = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND: str = _email["EMAIL_BACKEND"]
EMAIL_HOST: str = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT: int = int(_email.get("EMAIL_PORT") or 25)
EMAIL_HOST_USER: str = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD: str = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS: bool = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL: bool = bool(_email.get("EMAIL_USE_SSL"))
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL: str = env.str("DEFAULT_FROM_EMAIL", default="Pagepulse <pagepulse@localhost>")
SERVER_EMAIL: str = DEFAULT_FROM_EMAIL

# Facebook Login (social-auth), against FACEBOOK_WWW_URL / GRAPH_API_URL.
SOCIAL_AUTH_FACEBOOK_KEY = FACEBOOK_APP_ID
SOCIAL_AUTH_FACEBOOK_SECRET = FACEBOOK_APP_SECRET
SOCIAL_AUTH_FACEBOOK_API_VERSION = GRAPH_API_VERSION.removeprefix("v")
SOCIAL_AUTH_FACEBOOK_SCOPE = [
    # Facebook returns the person's email from /me only with this permission; without it a
    # person who only signs in with Facebook has no email, and cannot be invited as a member.
    "email",
    "page_events",
    "pages_show_list",
    "pages_messaging",
    "pages_manage_metadata",
    "business_management",
]
SOCIAL_AUTH_FACEBOOK_PROFILE_EXTRA_PARAMS = {"fields": "id,name,email"}
# `?auth_type=rerequest` re-asks declined permissions; social-core only lets request data
# override a configured key that is on its allow-list (reference §5.1).
SOCIAL_AUTH_FACEBOOK_AUTH_EXTRA_ARGUMENTS = {"auth_type": ""}
SOCIAL_AUTH_FACEBOOK_AUTH_EXTRA_ARGUMENTS_OVERRIDE_ALLOWLIST = ("auth_type",)
# How long the page tokens a login found are kept for connecting Pages without another login
# (never past sign-out); then only the Pages' names and tasks remain (ADR 0010).
PAGE_GRANT_TOKEN_MINUTES: int = env.int("PAGE_GRANT_TOKEN_MINUTES", default=60)
# How long a disconnected Page keeps its token so "Undo" reconnects it without another login;
# then the token is forgotten (checked every minute).
PAGE_DISCONNECT_UNDO_SECONDS: int = env.int("PAGE_DISCONNECT_UNDO_SECONDS", default=30)
# How long a removed member can be brought back, with their role, by "Undo".
MEMBER_REMOVE_UNDO_SECONDS: int = env.int("MEMBER_REMOVE_UNDO_SECONDS", default=30)
# How long a deleted workspace can be restored by an owner before a task removes everything.
WORKSPACE_DELETION_GRACE_DAYS: int = env.int("WORKSPACE_DELETION_GRACE_DAYS", default=7)
SOCIAL_AUTH_URL_NAMESPACE = "social"
SOCIAL_AUTH_LOGIN_REDIRECT_URL = "/connect/facebook/done/"
SOCIAL_AUTH_LOGIN_ERROR_URL = "/accounts/login/"
SOCIAL_AUTH_REDIRECT_IS_HTTPS = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SOCIAL_AUTH_PIPELINE = (
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    "social_core.pipeline.social_auth.social_user",
    "social_core.pipeline.user.get_username",
    "social_core.pipeline.user.create_user",
    "social_core.pipeline.social_auth.associate_user",
    "social_core.pipeline.social_auth.load_extra_data",
    "social_core.pipeline.user.user_details",
    "tenants.pipeline.forget_user_token",
    "tenants.pipeline.ensure_workspace",
    "tenants.pipeline.discover_pages",
)

# --- Django -------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_countries",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "social_django",
    "django_vite",
    "axes",
    "csp",
    "graph_api",
    "tenants",
    "events",
    "flows",
    "messenger",
    "insights",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tenants.csp.PagepulseCSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "social_django.middleware.SocialAuthExceptionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.workspace",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
# SQLite (`make dev`): the web server and the worker write at once. A deferred transaction that
# read first cannot take the write lock while another holds it, and SQLite answers "database
# is locked" at once, without waiting. IMMEDIATE takes the write lock at BEGIN, so a second
# writer waits (up to the busy timeout) instead; WAL lets reads go on during a write.
SQLITE_OPTIONS: dict[str, Any] = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out account or client address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "tenants.facebook.FacebookOAuth2",
    "django.contrib.auth.backends.ModelBackend",
]

# --- Password sign-in throttle (django-axes) -------------------------------------------------
# After LOGIN_FAILURE_LIMIT failed password sign-ins for one account (from anywhere), or from
# one client address (on any accounts), further tries are refused for LOGIN_LOCKOUT_MINUTES
# with a page that says so (429). A successful sign-in clears the account's count; a superuser
# unlocks at once in the Django admin (Axes > Access attempts: delete the account's row).
AXES_FAILURE_LIMIT: int = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "tenants.views.sign_in_locked_out"
# The client's address: REMOTE_ADDR, or behind LOGIN_TRUSTED_PROXY_COUNT reverse proxies the
# address they put in X-Forwarded-For (never a client-sent header that no proxy of ours wrote:
# that would let anyone pick a fresh address per try).
LOGIN_TRUSTED_PROXY_COUNT: int = env.int("LOGIN_TRUSTED_PROXY_COUNT", default=0)
AXES_IPWARE_META_PRECEDENCE_ORDER: tuple[str, ...]
if LOGIN_TRUSTED_PROXY_COUNT:
    AXES_IPWARE_PROXY_COUNT = LOGIN_TRUSTED_PROXY_COUNT
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
LOGIN_URL = "login"
# "home" sends a person to the workspace they used last (tenants.views.home).
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static", ("editor", BASE_DIR / "frontend" / "dist")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# The flow editor (frontend/): Vite builds it with a manifest that django-vite reads
# (docs/adr/0008-flow-editor.md). EDITOR_DEV_SERVER=1 (only `make dev EDITOR_DEV_SERVER=1`
# sets it, and starts Vite's server) loads it from Vite with hot reload instead.
EDITOR_MANIFEST = BASE_DIR / "frontend" / "dist" / "manifest.json"
DJANGO_VITE = {
    "default": {
        "dev_mode": env.bool("EDITOR_DEV_SERVER", default=False),
        "dev_server_host": "127.0.0.1",
        "dev_server_port": 5173,
        "manifest_path": EDITOR_MANIFEST,
        "static_url_prefix": "editor",
    }
}

# --- Security (production) -----------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the editor reads it to send X-CSRFToken
# An expired or missing CSRF token gets the product's page saying nothing was changed.
CSRF_FAILURE_VIEW = "tenants.api.errors.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Content-Security-Policy (django-csp; tenants/csp.py adds FACEBOOK_WWW_URL to form-action).
# Scripts and styles come only from our own files (/static/, the editor's Vite build too): no
# 'unsafe-inline' anywhere. An inline script a page truly needs carries the request's nonce
# (`{{ request.csp_nonce }}`); data for scripts goes in `json_script` blocks, which are not run.
# Styles that scripts set through the CSSOM (React's style prop, @xyflow/react's transforms and
# node sizes) are not governed by style-src, so no inline-style allowance is needed.
# Messenger users' profile pictures (User Profile API) come from Facebook's CDN (and, read per
# response by tenants/csp.py, from GRAPH_API_URL's host: the Graph sandbox serves them there).
PROFILE_PICTURE_SOURCES = ["https://platform-lookaside.fbsbx.com", "https://*.fbcdn.net"]
CONTENT_SECURITY_POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:", *PROFILE_PICTURE_SOURCES],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
if DJANGO_VITE["default"]["dev_mode"]:
    # `make dev EDITOR_DEV_SERVER=1` only: the editor's modules and hot-reload socket come from
    # Vite's dev server, which also injects the CSS as <style> elements.
    _VITE = "http://127.0.0.1:5173"
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["script-src"].append(_VITE)
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["connect-src"] += [_VITE, "ws://127.0.0.1:5173"]
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["style-src"] += [_VITE, "'unsafe-inline'"]

# --- REST API ------------------------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["tenants.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "tenants.api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "tenants.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SPECTACULAR_SETTINGS = {
    "TITLE": "Pagepulse API",
    "DESCRIPTION": (
        "Workspaces, members, API keys, connected Pages, flows and events. Authenticate with a "
        "session or `Authorization: Bearer <api key>`. Every error has the shape "
        '`{"error": {"code", "message", "details"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name for each choice set that several apps' fields share (else: StatusDaeEnum, ...).
    "ENUM_NAME_OVERRIDES": {
        "CatalogTransportEnum": "events.catalog.TRANSPORTS",
        "TransportEnum": "tenants.models.Transport",
        "RoleEnum": "tenants.permissions.Role",
        "ApiKeyRoleEnum": "tenants.permissions.API_KEY_ROLE_CHOICES",
        "PageStatusEnum": "tenants.models.PageStatus",
        "FlowStatusEnum": "flows.models.FlowStatus",
        "EventStatusEnum": "events.models.EventStatus",
        "ConversationStatusEnum": "flows.models.ConversationStatus",
        "MoveOutcomeEnum": "events.transport_status.MOVE_OUTCOMES",
        "TransportStateEnum": "tenants.transports.STATES",
        "CustomEventsEnum": "tenants.transports.CUSTOM_EVENT_FATES",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tenants.api.schema.add_error_responses",
    ],
}

# --- Celery --------------------------------------------------------------------------------
REDIS_URL: str = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# A namespace in front of every Redis key the app and Celery's broker write (empty: the plain
# names), so several deployments, or test runs, can share one Redis database.
REDIS_KEY_PREFIX: str = env.str("REDIS_KEY_PREFIX", default="")
CELERY_BROKER_URL = REDIS_URL
# Django's cache lives in the same Redis, in the same namespace (people's profiles, tenants/profiles.py).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        "OPTIONS": {"socket_timeout": 5, "socket_connect_timeout": 5},
    }
}
PEOPLE_PROFILE_CACHE_SECONDS: int = env.int("PEOPLE_PROFILE_CACHE_SECONDS", default=24 * 3600)
# The longest countdown any task may be scheduled with; longer back-off lives in the database
# (next_attempt_at). The broker's visibility timeout must exceed it, or Redis redelivers
# scheduled tasks early (a test asserts the relation).
CELERY_MAX_COUNTDOWN_SECONDS = 5 * 60
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {"visibility_timeout": 60 * 60}
if REDIS_KEY_PREFIX:
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = f"{REDIS_KEY_PREFIX}:"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = tuple(
    Queue(name) for name in ("default", "delivery", "runtime", "maintenance")
)
CELERY_TASK_ROUTES = {
    "events.tasks.*": {"queue": "delivery"},
    # The runtime's tasks live in messenger/tasks.py but keep their registered names
    # "flows.tasks.*" (tasks queued before the move still run): both route to runtime.
    "flows.tasks.*": {"queue": "runtime"},
    "messenger.tasks.*": {"queue": "runtime"},
    # Housekeeping of the messenger app runs beside the other apps' (an exact name wins).
    "messenger.tasks.transcripts_prune": {"queue": "maintenance"},
    "messenger.tasks.deliveries_prune": {"queue": "maintenance"},
    # An email must not wait behind a burst of webhooks, nor hold up a reply.
    "messenger.tasks.handoff_notify": {"queue": "default"},
    "tenants.tasks.*": {"queue": "maintenance"},
    "insights.tasks.*": {"queue": "maintenance"},
}
# Tasks are idempotent (CONVENTIONS.md): ack after the work, and requeue when a worker dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per process, so a slow delivery never holds others hostage.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes the worker's database connection before and after every task
# unless this is set (it stopped honouring CONN_MAX_AGE: celery/celery#9824): a new PostgreSQL
# connection, a backend forked and authenticated, for every task, which cost the database a
# third of its CPU at 40 replies a second (benchmarks/README.md). With it, the fixup closes
# them only every 1,000 tasks, and config/celery.py closes broken ones, and those older than
# CONN_MAX_AGE, around each task, as Django does around each request.
CELERY_DB_REUSE_MAX = 1000
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "check-page-tokens": {"task": "tenants.tasks.check_page_tokens", "schedule": 24 * 60 * 60},
    # Forgets page tokens of logins older than PAGE_GRANT_TOKEN_MINUTES (connecting refuses
    # them anyway; this keeps them out of the database).
    "forget-page-grant-tokens": {
        "task": "tenants.tasks.forget_page_grant_tokens",
        "schedule": 10 * 60,
    },
    # Forgets the tokens of Pages disconnected longer ago than PAGE_DISCONNECT_UNDO_SECONDS.
    "forget-disconnected-page-tokens": {
        "task": "tenants.tasks.forget_disconnected_page_tokens",
        "schedule": 60,
    },
    # Removes workspaces whose deletion grace period (WORKSPACE_DELETION_GRACE_DAYS) is over.
    "purge-deleted-workspaces": {
        "task": "tenants.tasks.purge_deleted_workspaces",
        "schedule": 60 * 60,
    },
}

# --- Event delivery (events/README.md "Delivery lifecycle") ----------------------------------
# Back-off after a temporary failure: full jitter up to base x 2^(n-1), capped, for a window
# from the first failure; the event is `dead` after the window (DESIGN.md §7: about 24 hours).
EVENTS_RETRY_BASE_SECONDS: float = env.float("EVENTS_RETRY_BASE_SECONDS", default=30.0)
EVENTS_RETRY_CAP_SECONDS: float = env.float("EVENTS_RETRY_CAP_SECONDS", default=60.0 * 60)
EVENTS_RETRY_WINDOW_SECONDS: float = env.float("EVENTS_RETRY_WINDOW_SECONDS", default=24.0 * 3600)
# A worker's claim on the events it is sending; the sweep takes back claims older than this.
EVENTS_LEASE_SECONDS: int = env.int("EVENTS_LEASE_SECONDS", default=60)
# How often beat re-enqueues due events and takes back expired claims.
EVENTS_SWEEP_SECONDS: float = env.float("EVENTS_SWEEP_SECONDS", default=30.0)
# Per-Page rate limiter (events/ratelimit.py): the floor under Facebook's formula, the bucket's
# burst, and the usage percentage above which a Page slows down.
EVENTS_RATE_MIN_CALLS_PER_SECOND: float = env.float(
    "EVENTS_RATE_MIN_CALLS_PER_SECOND", default=10.0
)
EVENTS_RATE_BURST_SECONDS: float = env.float("EVENTS_RATE_BURST_SECONDS", default=10.0)
EVENTS_RATE_SLOWDOWN_PERCENT: int = env.int("EVENTS_RATE_SLOWDOWN_PERCENT", default=90)
# Test events (the editor's test chat, `test=True`) are stored; sent only when this is on.
EVENTS_DELIVER_TEST_EVENTS: bool = env.bool("EVENTS_DELIVER_TEST_EVENTS", default=False)
# The Conversions API's `partner_agent` (reference §3.4: the name Meta assigned the partner).
EVENTS_CAPI_PARTNER_AGENT: str = env.str("EVENTS_CAPI_PARTNER_AGENT", default="pagepulse")
CELERY_BEAT_SCHEDULE["events-sweep-due"] = {
    "task": "events.tasks.sweep_due",
    "schedule": EVENTS_SWEEP_SECONDS,
}
# A drain's lease on the webhook deliveries it claimed (messenger/intake.py); a killed worker's
# deliveries are claimed again after it.
WEBHOOK_DRAIN_LEASE_SECONDS: int = env.int("WEBHOOK_DRAIN_LEASE_SECONDS", default=60)
# A processed webhook delivery (the signed body as received, with what people wrote) is kept
# this long for troubleshooting, then deleted (messenger/intake.py). At most 24: a workspace
# may keep transcripts as little as one day, and the bodies must not outlive them.
WEBHOOK_DELIVERY_RETENTION_HOURS: int = env.int("WEBHOOK_DELIVERY_RETENTION_HOURS", default=24)
if not 0 <= WEBHOOK_DELIVERY_RETENTION_HOURS <= 24:
    raise ImproperlyConfigured(
        f"WEBHOOK_DELIVERY_RETENTION_HOURS={WEBHOOK_DELIVERY_RETENTION_HOURS} is out of range: "
        "use 0 to 24 hours (the bodies hold what people wrote, and a workspace may keep "
        "transcripts only one day)."
    )
# The bot runtime's sweep (messenger/runtime.py): queues a drain while webhook deliveries wait
# unclaimed, and re-enqueues Send API messages whose task was lost (older than two minutes).
RUNTIME_SWEEP_SECONDS: float = env.float("RUNTIME_SWEEP_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE["flows-runtime-sweep"] = {
    "task": "flows.tasks.runtime_sweep",
    "schedule": RUNTIME_SWEEP_SECONDS,
}

# Deletes processed webhook deliveries past WEBHOOK_DELIVERY_RETENTION_HOURS: the hour's delay
# adds to it, so a body lives at most 25 hours.
CELERY_BEAT_SCHEDULE["messenger-deliveries-prune"] = {
    "task": "messenger.tasks.deliveries_prune",
    "schedule": 3600.0,
}
# Deletes transcripts older than each workspace's transcript_retention_days (default 90).
CELERY_BEAT_SCHEDULE["messenger-transcripts-prune"] = {
    "task": "messenger.tasks.transcripts_prune",
    "schedule": 24 * 3600.0,
}

# --- Logging -------------------------------------------------------------------------------
LOG_LEVEL: str = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "graph_api.redaction.RedactingFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
        # runserver's access log (`make dev`): Django's own handler for it has no filter, so an
        # OAuth code in a request line went out as it came.
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

# --- Insights: Ads Manager read-back and the overview's aggregates -------------------------------
# Facebook revises an ad's last 28 days of insights; each read re-reads that many days.
ADS_INSIGHTS_WINDOW_DAYS: int = env.int("ADS_INSIGHTS_WINDOW_DAYS", default=28)
# How often the beat looks for followed ad accounts due a read (each is read once a day, or
# when an admin asks, or after a throttle's estimate has passed).
CELERY_BEAT_SCHEDULE["insights-read-due-ad-accounts"] = {
    "task": "insights.tasks.read_due_ad_accounts",
    "schedule": 15 * 60.0,
}
# Folds closed days of logged events and conversations into the daily aggregate tables.
CELERY_BEAT_SCHEDULE["insights-aggregate-closed-days"] = {
    "task": "insights.tasks.aggregate_closed_days",
    "schedule": 10 * 60.0,
}
