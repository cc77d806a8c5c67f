"""Settings for the test suite: production-like (DEBUG off) with fixed, obviously fake keys."""

import os
import secrets

os.environ.setdefault("SECRET_KEY", "test-secret-key-only-for-the-test-suite-0123456789abcdef")
os.environ.setdefault(
    "TOKEN_ENCRYPTION_KEYS",
    "dGVzdC1vbmx5LXRva2VuLWtleS1kby1ub3QtdXNlLTE=,dGVzdC1vbmx5LXRva2VuLWtleS1kby1ub3QtdXNlLTI=",
)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SECURE_COOKIES", "0")
os.environ.setdefault("MESSENGER_VERIFY_TOKEN", "test-verify-token")
# Every request closes its database connection: a live server's request thread kept alive by a
# client's keep-alive would otherwise hold one open past the test, and the test database could
# not be dropped at the end of the run.
os.environ.setdefault("CONN_MAX_AGE", "0")
# Each test run, and each pytest-xdist worker of a run, has its own namespace in Redis (app keys
# and Celery's queues; tests/redis_db.py): runs sharing a Redis server never touch each other's
# keys. The run's id is inherited by the processes it starts (xdist workers, Celery workers).
os.environ.setdefault("PAGEPULSE_TEST_RUN", secrets.token_hex(4))
os.environ["REDIS_KEY_PREFIX"] = "test-{}-{}".format(
    os.environ["PAGEPULSE_TEST_RUN"], os.environ.get("PYTEST_XDIST_WORKER", "main")
)

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Serve static files from the apps' folders, as in development: tests do not run collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# No test may reach Facebook: anything not pointed at the sandbox gets "connection refused".
GRAPH_API_URL = "http://127.0.0.1:9"
FACEBOOK_WWW_URL = "http://127.0.0.1:9"

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file per run (and per xdist worker: pytest-django adds its suffix), not the shared
    # in-memory database: tests that run turns or requests in threads need SQLite's own locking
    # (a writer waits, SQLITE_OPTIONS' timeout), where shared-cache table locks fail at once
    # ("database table is locked").
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(
            tempfile.gettempdir(), f"pagepulse-test-{os.environ['PAGEPULSE_TEST_RUN']}.sqlite3"
        )
    }
