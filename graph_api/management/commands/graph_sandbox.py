"""`manage.py graph_sandbox`: run the Graph sandbox with this project's Facebook app credentials."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from graph_api.sandbox.cli import add_arguments, run


class Command(BaseCommand):
    help = "Run the local Graph API sandbox (a stand-in for Facebook) on one port."

    def add_arguments(self, parser: CommandParser) -> None:
        # The app id and secret come from settings, so the sandbox and the app always agree.
        add_arguments(parser, app_credentials=False)

    def handle(self, *args: Any, **options: Any) -> None:
        run(options, app_id=settings.FACEBOOK_APP_ID, app_secret=settings.FACEBOOK_APP_SECRET)
