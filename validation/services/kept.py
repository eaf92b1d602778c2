"""Rows kept in step with the data they describe (counts per state, open work, stays, stamps).

Each is written by one upsert in the caller's transaction, so two changes at once both count and the row is
made the first time it is needed, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from validation.extensions import db


def _upsert(target: Session | Connection | None, model: Any, keys: dict[str, object], values: dict[str, object],
            changes: dict[str, object]) -> None:
    connection = (target or db.session).connection() if not isinstance(target, Connection) else target
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(model).values(**keys, **values).on_conflict_do_update(
        index_elements=[getattr(model, k) for k in keys], set_=changes
    )
    connection.execute(statement)


def add(model: Any, keys: dict[str, object], column: str, delta: int, session: Session | None = None) -> None:
    """Add `delta` to `column` of the row with these keys (made at max(delta, 0) when there is none yet)."""
    _upsert(session, model, keys, {column: max(delta, 0)}, {column: getattr(model, column) + delta})


def put(model: Any, keys: dict[str, object], values: dict[str, object], session: Session | None = None) -> None:
    """Set `values` on the row with these keys, making it when there is none yet."""
    _upsert(session, model, keys, values, values)
