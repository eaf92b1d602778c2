"""Reads that need none of the ORM's work on their result: counts, kept rows, a page of plain columns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import CursorResult, Executable

from validation.extensions import db


def plain(statement: Executable, values: Mapping[str, object] | None = None) -> CursorResult[Any]:
    """`statement` run on the session's connection, after a flush. A change waiting in the session is written
    first, as the ORM's autoflush would write it; the rows come back as plain tuples, without the ORM's handling
    of a result, which cost as much as a small query itself (the unread count: 185 µs through the session, 95 µs
    on the connection). A flush with nothing waiting costs nothing."""
    db.session.flush()
    return db.session.connection().execute(statement, values or {})
