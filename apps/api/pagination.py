"""Cursor pagination for every API list: ``?limit=&cursor=`` → ``{"items", "next_cursor"}``.

The cursor is an opaque, URL-safe encoding of the sort key of the last item returned; the next
page starts strictly after it (keyset pagination), so rows added or removed meanwhile never
shift a page and nothing is returned twice.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet

from apps.core.errors import DomainError

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

T = TypeVar("T")
M = TypeVar("M", bound=Model)


class CursorInvalid(DomainError, ValueError):
    """The cursor was not made by this API (or for another list): 400 ``invalid_cursor``."""

    code = "invalid_cursor"
    status = 400


def encode_cursor(values: Sequence[object]) -> str:
    """The opaque cursor of a sort key."""
    text = json.dumps([str(value) if not isinstance(value, int) else value for value in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """The sort key of a cursor with ``size`` parts; CursorInvalid otherwise."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorInvalid(
            "The cursor is not valid (pass back a next_cursor unchanged)."
        ) from None
    if not isinstance(values, list) or len(values) != size:
        raise CursorInvalid("The cursor is not valid (pass back a next_cursor unchanged).")
    if not all(isinstance(value, str | int) and not isinstance(value, bool) for value in values):
        raise CursorInvalid("The cursor is not valid (pass back a next_cursor unchanged).")
    return values


def decode_cursor_any(cursor: str) -> list[Any]:
    """The parts of a cursor, however many."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorInvalid(
            "The cursor is not valid (pass back a next_cursor unchanged)."
        ) from None
    if not isinstance(values, list):
        raise CursorInvalid("The cursor is not valid (pass back a next_cursor unchanged).")
    return values


def clamp_limit(limit: int | None) -> int:
    """The page size asked for, within 1..MAX_LIMIT."""
    return max(1, min(MAX_LIMIT, limit or DEFAULT_LIMIT))


def page_queryset(
    queryset: QuerySet[M],
    *,
    keys: tuple[str, ...],
    descending: bool,
    limit: int | None,
    cursor: str | None,
) -> tuple[list[M], str | None]:
    """One page of ``queryset`` ordered by ``keys`` (the last key unique), and the next cursor."""
    size = clamp_limit(limit)
    if cursor:
        values = decode_cursor(cursor, len(keys))
        op = "lt" if descending else "gt"
        condition = Q()
        # (k1, k2) after (v1, v2)  ⇔  k1 > v1  or  (k1 = v1 and k2 > v2)
        for index, key in enumerate(keys):
            step = Q(**{f"{key}__{op}": values[index]})
            for previous in range(index):
                step &= Q(**{keys[previous]: values[previous]})
            condition |= step
        try:
            queryset = queryset.filter(condition)
        except (ValidationError, ValueError, TypeError):  # a value of the wrong type for a key
            raise CursorInvalid(
                "The cursor is not valid (pass back a next_cursor unchanged)."
            ) from None
    ordering = [f"-{key}" if descending else key for key in keys]
    try:
        rows = list(queryset.order_by(*ordering)[: size + 1])
    except (ValidationError, ValueError, TypeError):  # the database refused a cursor value
        raise CursorInvalid(
            "The cursor is not valid (pass back a next_cursor unchanged)."
        ) from None
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = encode_cursor([_key(rows[-1], key) for key in keys]) if more and rows else None
    return rows, next_cursor


def page_list(
    items: Sequence[T],
    *,
    key: Callable[[T], tuple[Any, ...]],
    limit: int | None,
    cursor: str | None,
) -> tuple[list[T], str | None]:
    """The same over a list already sorted ascending by ``key`` (whose values are strings)."""
    size = clamp_limit(limit)
    remaining = list(items)
    if cursor and not items:
        decode_cursor(cursor, len(decode_cursor_any(cursor)))
    elif cursor:
        after = tuple(decode_cursor(cursor, len(key(items[0]))))
        if not all(isinstance(value, str) for value in after):  # this list's keys are strings
            raise CursorInvalid("The cursor is not valid (pass back a next_cursor unchanged).")
        remaining = [item for item in remaining if tuple(map(str, key(item))) > after]
    rows = remaining[:size]
    more = len(remaining) > size
    next_cursor = encode_cursor(list(map(str, key(rows[-1])))) if more and rows else None
    return rows, next_cursor


def _key(row: Model, key: str) -> str | int:
    value: object = row
    for part in key.split("__"):
        value = getattr(value, part)
    isoformat = getattr(value, "isoformat", None)
    if isoformat is not None:
        return str(isoformat())
    return value if isinstance(value, int) else str(value)
