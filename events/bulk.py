"""Writing many new rows of one model in one statement, without bulk_create's per-value cost.

``bulk_create`` prepares every value of every row through its field (``pre_save``,
``get_db_prep_save``: about 0.5 ms of CPU per row of LoggedEvent's 27 columns), which was
most of the CPU of a 500-event `POST events/`. On PostgreSQL ``insert_rows`` sends one
statement instead, with one bound parameter per column: an array of the column's values
(unnested server-side), or a single value when every row has the same one (the tenant, the
Page, the source, the time)::

    INSERT INTO t (a, b, c) SELECT %s::bigint, u.b, u.c
    FROM ROWS FROM (unnest(%s::varchar[]), jsonb_array_elements(%s::jsonb))
    WITH ORDINALITY AS u(b, c, n) ORDER BY u.n
    RETURNING id

Values go to psycopg as they are for the plain column types (text, numbers, booleans, times),
and anything else through the field as bulk_create would. A JSON column is not an array of
documents but one document, the JSON array of its rows' values, taken apart by
``jsonb_array_elements`` beside the arrays (``ROWS FROM`` zips them): psycopg writes a text
array element by element in Python, escaping each quote and backslash with a regular
expression, which cost a delivery worker about a tenth of its CPU on the attempts' stored
requests; one string is escaped by libpq in C. The ids come back in the rows' order (as
bulk_create's own UNNEST form relies on) and are set on the objects. Elsewhere (SQLite for
``make dev``) it is ``bulk_create``.

It is one statement: it writes every row or none, and a unique constraint's violation (a
repeated idempotency key) raises ``IntegrityError`` like bulk_create.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connections, models, router
from django.utils import timezone

M = TypeVar("M", bound=models.Model)
_MODIFIERS = re.compile(r"\([^)]*\)")

# Field classes whose Python values psycopg takes as they are (after pre_save).
_PLAIN = (
    models.CharField,
    models.TextField,
    models.BooleanField,
    models.IntegerField,  # with its subclasses: BigIntegerField, PositiveIntegerField, ...
    models.AutoField,
    models.BigAutoField,
    models.DecimalField,
    models.DateTimeField,
    models.ForeignKey,
)


def insert_rows(objs: Sequence[M]) -> list[M]:
    """Insert new, unsaved ``objs`` (all of one model) and set their primary keys."""
    if not objs:
        return list(objs)
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return model._default_manager.db_manager(alias).bulk_create(objs)
    meta = model._meta
    pk = meta.pk
    assert pk is not None  # noqa: S101 - every concrete model has one
    fields = [f for f in meta.concrete_fields if f is not pk]
    now = timezone.now()
    constants: list[tuple[str, str, Any]] = []  # (column, type, value)
    arrays: list[tuple[models.Field[Any, Any], str, list[Any]]] = []  # (field, type, values)
    for field in fields:
        values = _column(field, objs, now=now, connection=connection)
        db_type = field.db_type(connection)
        if db_type is None:  # pragma: no cover - a column without a type of its own
            return model._default_manager.db_manager(alias).bulk_create(objs)
        # The type without its modifiers: an explicit cast to varchar(64) would cut a longer
        # text silently where the column's own assignment refuses it, as bulk_create's does.
        db_type = _MODIFIERS.sub("", db_type)
        first = values[0]
        same = all(value is first or value == first for value in values)
        if same and not isinstance(field, models.JSONField):
            constants.append((field.column, db_type, first))
        else:
            arrays.append((field, db_type, values))
    quote = connection.ops.quote_name
    columns = [quote(column) for column, _, _ in constants]
    columns += [quote(field.column) for field, _, _ in arrays]
    selected = [f"%s::{db_type}" for _, db_type, _ in constants]
    selected += [_selected(field, f"u.{quote(field.column)}") for field, _, _ in arrays]
    params = [value for _, _, value in constants]
    if arrays:
        functions = ", ".join(_unnest(field, db_type) for field, db_type, _ in arrays)
        aliases = ", ".join([*(quote(field.column) for field, _, _ in arrays), "n"])
        source = f"FROM ROWS FROM ({functions}) WITH ORDINALITY AS u({aliases}) ORDER BY u.n"
        params += [_bound(field, values) for field, _, values in arrays]
    else:  # every row the same: still one row each
        source = "FROM generate_series(1, %s) AS u(n) ORDER BY u.n"
        params.append(len(objs))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(selected)} {source} RETURNING {quote(pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    if len(ids) != len(objs):  # pragma: no cover - the statement inserts every row or fails
        raise RuntimeError(f"inserted {len(ids)} rows of {len(objs)}")
    for obj, pk_value in zip(objs, ids, strict=True):
        setattr(obj, pk.attname, pk_value)
        obj._state.adding = False
        obj._state.db = alias
    return list(objs)


def _unnest(field: models.Field[Any, Any], db_type: str) -> str:
    """The set-returning function that takes an array column's parameter apart."""
    if isinstance(field, models.JSONField):
        return "jsonb_array_elements(%s::jsonb)"
    return f"unnest(%s::{db_type}[])"


def _bound(field: models.Field[Any, Any], values: list[Any]) -> Any:
    """An array column's parameter: a JSON column's values (JSON texts already, None for SQL's
    NULL) joined into one document; any other column's values as a list."""
    if isinstance(field, models.JSONField):
        return "[" + ",".join("null" if value is None else value for value in values) + "]"
    return values


def _selected(field: models.Field[Any, Any], value: str) -> str:
    """A nullable JSON column's null is SQL's NULL, as bulk_create writes Python's None there
    (JSON's null only where the column is not nullable)."""
    if isinstance(field, models.JSONField) and field.null:
        return f"NULLIF({value}, 'null'::jsonb)"
    return value


def _column(
    field: models.Field[Any, Any], objs: Sequence[M], *, now: Any, connection: Any
) -> list[Any]:
    """The column's values of ``objs``, as psycopg should get them."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        for obj in objs:  # one time for the whole statement
            setattr(obj, field.attname, now)
        return [now] * len(objs)
    attname = field.attname
    values: list[Any]
    if isinstance(field, models.DateField) or type(field).pre_save is models.Field.pre_save:
        values = [getattr(obj, attname) for obj in objs]
    else:
        values = [field.pre_save(obj, True) for obj in objs]
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return [
            None if value is None and field.null else json.dumps(value, cls=encoder)
            for value in values
        ]
    if isinstance(field, _PLAIN) and not (
        isinstance(field, models.DateTimeField)
        and any(value is not None and timezone.is_naive(value) for value in values)
    ):
        return values
    return [field.get_db_prep_save(value, connection) for value in values]
