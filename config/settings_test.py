"""Settings for the test suite: production-like (DEBUG off) with fixed, obviously fake keys."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-only-for-the-test-suite-0123456789abcdef")
os.environ.setdefault(
    "TOKEN_ENCRYPTION_KEYS",
    "dGVzdC1vbmx5LXRva2VuLWtleS1kby1ub3QtdXNlLTE=,dGVzdC1vbmx5LXRva2VuLWtleS1kby1ub3QtdXNlLTI=",
)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SECURE_COOKIES", "0")
os.environ.setdefault("MESSENGER_VERIFY_TOKEN", "test-verify-token")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Serve static files from the apps' folders, as in development: tests do not run collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# No test may reach Facebook: anything not pointed at the sandbox gets "connection refused".
GRAPH_API_URL = "http://127.0.0.1:9"
FACEBOOK_WWW_URL = "http://127.0.0.1:9"
