"""Settings for the Celery worker and beat processes the system tests start.

The test suite's settings, pointed at what the test process set up: the pytest-django test
database (``SYSTEM_TEST_DB_NAME``), the Graph sandbox on its free port (``GRAPH_API_URL``) and
the run's Redis namespace (``REDIS_URL`` and ``PAGEPULSE_TEST_RUN``, read by config.settings_test). ``config.settings_test``
points Graph at a closed port on purpose, so nothing there can reach Facebook; here the
sandbox's URL is required, so a worker started without it fails at once rather than later.
"""

import os

from config.settings_test import *  # noqa: F403

GRAPH_API_URL = os.environ["GRAPH_API_URL"].rstrip("/")
FACEBOOK_WWW_URL = os.environ.get("FACEBOOK_WWW_URL", GRAPH_API_URL).rstrip("/")
if os.environ.get("SYSTEM_TEST_DB_NAME"):
    DATABASES["default"]["NAME"] = os.environ["SYSTEM_TEST_DB_NAME"]  # noqa: F405
