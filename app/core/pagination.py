"""Keyset pagination: pages stay fast at any depth, and nothing counts the table.

A list is ordered by a unique key (e.g. ``(name, id)``); the cursor is the key of the
last row shown, and the next page is ``WHERE (name, id) > (:name, :id) LIMIT n+1``.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session

PER_PAGE = 50


@dataclass
class Page:
    items: list
    next_cursor: str | None
    is_first: bool


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values), ensure_ascii=False).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, width: int) -> list | None:
    """The key values in ``cursor``; None for no cursor or a malformed one (a tampered
    URL shows the first page rather than an error)."""
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(values, list) or len(values) != width:
        return None
    return values


def _fits(column, value) -> bool:
    """Whether a cursor value has the type of its key column."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return True
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool) and -2**63 <= value < 2**63
    return isinstance(value, kind)


def keyset_page(session: Session, stmt: Select, key_columns: Sequence, key_of, cursor: str | None,
                per_page: int = PER_PAGE, entities: bool = True, descending: bool = False) -> Page:
    """One page of ``stmt`` ordered by ``key_columns``; ``key_of(row)`` gives a row's key.
    ``entities=False`` returns plain rows (a list page that only displays is ~3x
    cheaper without ORM objects); ``descending=True`` walks newest first."""
    after = decode_cursor(cursor, len(key_columns))
    if after is not None and not all(_fits(column, value) for column, value in zip(key_columns, after)):
        after = None  # a tampered cursor (text for an id): the first page, not an error
    if after is not None:
        key, values = tuple_(*key_columns), tuple_(*after)
        stmt = stmt.where(key < values if descending else key > values)
    order = [c.desc() for c in key_columns] if descending else list(key_columns)
    stmt = stmt.order_by(*order).limit(per_page + 1)
    rows = list(session.scalars(stmt).unique()) if entities else list(session.execute(stmt))
    more = len(rows) > per_page
    rows = rows[:per_page]
    return Page(rows, encode_cursor(key_of(rows[-1])) if more and rows else None, after is None)
