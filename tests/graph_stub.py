"""Our Graph client's settings in unit tests that stub Facebook at the edge with `responses`:
a stand-in host, never Facebook's, so nothing unanswered can reach the internet. The
`graph_client` fixture (tests/conftest.py) is a client for it."""

BASE = "https://graph.test"
APP_ID = "100000000000001"
APP_SECRET = "test-app-secret-do-not-use"
VERSION = "v25.0"
PAGE_ACTIVITIES_VERSION = "v20.0"
