"""Running a migration test's steps (tests/*/test_migrations.py): the project's state at a
migration, and the database back at the latest migrations afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

if TYPE_CHECKING:
    from django.apps.registry import Apps


def migrate_to(target: tuple[str, str], *more: tuple[str, str]) -> Apps:
    """Migrate the database to `target` (and `more`: other apps' migrations, for a step whose
    data lives in two apps); the apps (historical models) as they were there."""
    targets = [target, *more]
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.fixture(name="back_to_latest")
def back_to_latest_fixture() -> Iterator[None]:
    """After the test, the database at the latest migrations again."""
    yield
    call_command("migrate", verbosity=0)
