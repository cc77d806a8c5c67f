"""On SQLite (`make dev`), concurrent writers wait for each other instead of "database is locked".

The test runs this module as a script in a subprocess, with the project's own settings on a
SQLite file (whatever database the suite itself uses), and threads in it writing while another
transaction is open:

- forced: transaction A reads, then waits until B has read too (or, when B cannot even begin
  while A is open, which is the fix, until a short deadline), then both write. With SQLite's
  default deferred transactions B's write is refused at once with "database is locked" (SQLite
  will not wait: waiting would deadlock); with `transaction_mode: IMMEDIATE` B waits at BEGIN.
- many: eight threads each increment a counter 25 times, read-modify-write in a transaction.

Both must end with no error and no lost update.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from tests.timing import deadline

ROOT = Path(__file__).resolve().parent.parent
WRITERS, INCREMENTS = 8, 25
# How long transaction A waits for B to read inside a transaction: B never can once the fix is
# in (it waits at BEGIN), so this only bounds A's wait; the outcome never depends on it.
INTERLEAVE_WAIT_SECONDS = 0.5


def _increment_many(errors: list[str]) -> None:
    for _ in range(INCREMENTS):
        _increment(errors)


def _increment(errors: list[str]) -> None:
    from django.db import connection, transaction

    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT n FROM counter WHERE id = 1")
            (value,) = cursor.fetchone()
            cursor.execute("UPDATE counter SET n = %s WHERE id = 1", [value + 1])
    except Exception as error:
        errors.append(f"{type(error).__name__}: {error}")
    finally:
        connection.close()


def _forced(errors: list[str]) -> None:
    """A reads and holds its transaction open until B has read as well; then both write."""
    from django.db import connection, transaction

    a_read, b_read = threading.Event(), threading.Event()

    def a() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT n FROM counter WHERE id = 1")
                (value,) = cursor.fetchone()
                a_read.set()
                b_read.wait(INTERLEAVE_WAIT_SECONDS)
                cursor.execute("UPDATE counter SET n = %s WHERE id = 1", [value + 1])
        except Exception as error:
            errors.append(f"A: {type(error).__name__}: {error}")
        finally:
            a_read.set()
            connection.close()

    def b() -> None:
        a_read.wait()
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT n FROM counter WHERE id = 1")
                (value,) = cursor.fetchone()
                b_read.set()
                cursor.execute("UPDATE counter SET n = %s WHERE id = 1", [value + 1])
        except Exception as error:
            errors.append(f"B: {type(error).__name__}: {error}")
        finally:
            b_read.set()
            connection.close()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _counter() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT n FROM counter WHERE id = 1")
        return int(cursor.fetchone()[0])


def _reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY, n INTEGER)")
        cursor.execute("DELETE FROM counter")
        cursor.execute("INSERT INTO counter (id, n) VALUES (1, 0)")
    connection.close()


def main() -> dict[str, Any]:
    import django

    django.setup()
    from django.db import connection

    connection.ensure_connection()  # the mode is read from OPTIONS when connecting
    result: dict[str, Any] = {
        "vendor": connection.vendor,
        "transaction_mode": getattr(connection, "transaction_mode", None),
    }
    _reset()
    errors: list[str] = []
    _forced(errors)
    result["forced"] = {"errors": errors, "counter": _counter()}

    _reset()
    errors = []
    threads = [threading.Thread(target=_increment_many, args=(errors,)) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result["many"] = {"errors": errors[:5], "error_count": len(errors), "counter": _counter()}
    return result


def test_concurrent_writers_on_sqlite_wait_instead_of_failing(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.sqlite3'}",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, __file__],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=deadline(240),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert result["forced"] == {"errors": [], "counter": 2}
    assert result["many"] == {"errors": [], "error_count": 0, "counter": WRITERS * INCREMENTS}
    assert (result["vendor"], result["transaction_mode"]) == ("sqlite", "IMMEDIATE")


if __name__ == "__main__":
    print(json.dumps(main()))  # noqa: T201 - the test reads this line
