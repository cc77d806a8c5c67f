"""Numbers from a request (query strings, forms, cursors): ASCII digits only, bounded.

`str.isdigit()` is true for "²" and "٣", which `int()` refuses or reads as 3, and says nothing
about length, so a test of it before `int()` let 500s through (an overflow in the database, a
ValueError). Every view and paginator reads request numbers through these two functions.
"""

from __future__ import annotations

MAX_ID = 2**63 - 1
"""The largest id a row can have (a bigint): a larger number in a request names nothing."""


def ascii_digits(value: str | None, *, max_length: int = len(str(MAX_ID))) -> bool:
    """Whether `value` is 1 to `max_length` ASCII digits ("0"-"9"), nothing else."""
    if not value or len(value) > max_length:
        return False
    return value.isascii() and value.isdigit()


def id_param(value: str | None) -> int | None:
    """An id from a query string or form field, or None if it cannot name a row."""
    if value is None or not ascii_digits(value):
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None
