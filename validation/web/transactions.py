"""How a request's transaction ends on PostgreSQL: a request that only read commits it instead of rolling back.

psycopg prepares a statement on the server once it has run it five times on a connection (its
`prepare_threshold`), and from then on the server neither parses nor plans it again. But psycopg forgets every
prepared statement of a connection whenever that connection rolls back. Flask-SQLAlchemy ends every request by
closing the session, which rolls back, so no statement was ever prepared: the server parsed and planned each
query of each page anew, half of its work on a case page. A transaction that only read ends the same way
whether it commits or rolls back, so such a request commits, and its connection keeps its prepared statements.

Anything else still rolls back as before: a request that ended in an exception, one with changes waiting in the
session, and one that ran any statement other than a SELECT, on any connection (an insert, an update, a
savepoint: whatever the view meant by not committing it, it is undone).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from flask import Flask
from sqlalchemy import event

from validation.extensions import db

#: What the request has done with the database so far: "" (nothing), "read", or "wrote" (for the rest of the
#: request: a write on any connection, even one committed since, leaves every later transaction of the request
#: to end as it always did).
_done: ContextVar[str] = ContextVar("done_with_the_database", default="")


def _began(connection: Any) -> None:
    if _done.get() != "wrote":
        _done.set("read")


def _executing(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
    if not statement.startswith("SELECT"):
        _done.set("wrote")


def _end(exc: BaseException | None) -> None:
    """Runs before Flask-SQLAlchemy's own teardown (registered later, so called earlier), which closes the
    session: what is left to it then is rolled back."""
    done = _done.get()
    _done.set("")
    if exc is not None or done != "read" or not db.session.registry.has():
        return
    session = db.session()
    if session.in_transaction() and not (session.new or session.dirty or session.deleted):
        # Nothing it read is expired, as closing the session after a rollback expires nothing: an object the
        # request handed on (a test keeps them past the request) is still readable once detached.
        expire, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()
        finally:
            session.expire_on_commit = expire


def install(app: Flask) -> None:
    """Only for PostgreSQL: on SQLite a rollback forgets nothing, and the requests pay nothing for this."""
    with app.app_context():
        engines = [engine for engine in db.engines.values() if engine.dialect.name == "postgresql"]
    if not engines:
        return
    for engine in engines:
        event.listen(engine, "begin", _began)
        event.listen(engine, "before_cursor_execute", _executing)
    app.teardown_appcontext(_end)
