"""How a request's transaction ends: on PostgreSQL a request that only read commits, so the statements psycopg
prepared on its connection stay prepared (a rollback makes psycopg forget them all); a request that wrote
anything without committing it is still rolled back, on either database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from tests import factories
from tests.conftest import PASSWORD, login, postgres_only
from validation.extensions import db
from validation.models import Notification, User


@pytest.fixture
def database_config(database_config: dict[str, object]) -> dict[str, object]:
    """No connection beyond those the pool keeps: requests one at a time use one, the same each time, so what
    they prepared on it is what the test looks at afterwards (a view that opens a second one gets a second)."""
    options = database_config.get("SQLALCHEMY_ENGINE_OPTIONS")
    if isinstance(options, dict):
        return {**database_config, "SQLALCHEMY_ENGINE_OPTIONS": {**options, "pool_size": 2, "max_overflow": 0}}
    return database_config


def _coordinator(app: Flask) -> str:
    with app.app_context():
        who = factories.people()
        db.session.commit()
        return who["coordinator"].email


def _writing_views(app: Flask) -> None:
    """Two GET views that change data and never commit: one through the ORM, one with a bare UPDATE."""

    def rename() -> str:
        user = db.session.execute(sa.select(User).where(User.role == "coordinator")).scalar_one()
        user.display_name = "Renamed by a GET"
        db.session.flush()
        return "renamed"

    def mark_read() -> str:
        db.session.execute(sa.update(Notification).values(read_at=sa.func.now()))
        # Then a read on a connection of its own: its transaction begins after the write, and only read.
        with db.engine.connect() as other:
            other.execute(sa.select(sa.func.count()).select_from(User)).scalar_one()
        return "marked"

    app.add_url_rule("/test/rename", view_func=rename)
    app.add_url_rule("/test/mark-read", view_func=mark_read)


@postgres_only
def test_a_page_that_only_reads_keeps_its_statements_prepared(app: Flask) -> None:
    client = app.test_client()
    login(client, _coordinator(app), PASSWORD)

    for _ in range(8):  # psycopg prepares a statement the sixth time it runs it on a connection
        assert client.get("/notifications/").status_code == 200

    with app.app_context():
        prepared = db.session.execute(sa.text("SELECT statement FROM pg_prepared_statements")).scalars().all()
    assert any("FROM notifications" in text for text in prepared), prepared
    assert any("FROM user_sessions" in text for text in prepared), "the signed-in person, read on every page"


def test_a_request_that_wrote_without_committing_changes_nothing(app: Flask) -> None:
    _writing_views(app)
    client = app.test_client()
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        factories.case_in_state("more_evidence", who)  # notifications for the candidate and the assessor
        db.session.commit()
        unread = db.session.execute(
            sa.select(sa.func.count()).select_from(Notification).where(Notification.read_at.is_(None))
        ).scalar_one()
    assert unread > 0

    for _ in range(7):  # on PostgreSQL, as many times as it takes to prepare them
        assert client.get("/test/rename").get_data(as_text=True) == "renamed"
        assert client.get("/test/mark-read").get_data(as_text=True) == "marked"

    with app.app_context():
        names = db.session.execute(sa.select(User.display_name).where(User.role == "coordinator")).scalars().all()
        still_unread = db.session.execute(
            sa.select(sa.func.count()).select_from(Notification).where(Notification.read_at.is_(None))
        ).scalar_one()
    assert "Renamed by a GET" not in names
    assert still_unread == unread
