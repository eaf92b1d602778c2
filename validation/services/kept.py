"""Rows kept in step with the data they describe (counts per state, open work, stays, stamps).

Each is written by one upsert in the caller's transaction, so two changes at once both count and the row is
made the first time it is needed, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select
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


def repair(model: Any, keys: tuple[str, ...], column: str, actual: dict[tuple[Any, ...], int]) -> int:
    """Set the kept rows to what was counted afresh (`actual`, by the values of `keys`): a row for every key
    found on either side, 0 where the count found none. Returns how many rows were wrong."""
    rows = {tuple(getattr(row, k) for k in keys): row for row in db.session.execute(select(model)).scalars()}
    wrong = 0
    for key in actual.keys() | rows.keys():
        n = actual.get(key, 0)
        row = rows.get(key)
        if row is None:
            db.session.add(model(**dict(zip(keys, key, strict=True)), **{column: n}))
            wrong += 1
        elif getattr(row, column) != n:
            setattr(row, column, n)
            wrong += 1
    db.session.flush()
    return wrong
