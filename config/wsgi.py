"""The WSGI application the web server runs (Dockerfile: granian; `make dev`: runserver).

Django's application, behind messenger.intake.WebhookIntake, which answers Messenger's webhook POST
without Django's request cycle (docs/adr/0014-webhook-intake.md).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from messenger.intake import WebhookIntake  # noqa: E402 - Django must be set up first

application = WebhookIntake(django_application)
