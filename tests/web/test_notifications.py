# The expected texts are Ukrainian: Cyrillic letters that look like Latin ones are meant.
# ruff: noqa: RUF001
"""The notifications page: a person's own notifications, newest first, unread ones marked and counted in the
top navigation, "mark all read" as a form with its CSRF token; in the reader's language."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Flask

from tests import factories
from tests.conftest import PASSWORD, login, post, statements
from validation.extensions import db
from validation.models import AuditEvent, Notification
from validation.services import accounts

BAKERY_UK = "Приготування хлібобулочних і кондитерських виробів"
COUNT = re.compile(r'<span class="count">(\d+)</span>')


def _world(app: Flask, language: str = "en") -> dict[str, str]:
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        accounts.set_language(who["candidate"], language)
        factories.case_in_state("more_evidence", who)  # the assessor was assigned, the candidate asked
        factories.case_in_state("awarded", who, code="GE-WELD-MMA")  # assigned, then decided
        db.session.commit()
        return {role: user.email for role, user in who.items()}


def _unread(app: Flask, email: str) -> int:
    with app.app_context():
        user = accounts.find_by_email(email)
        return int(db.session.execute(
            sa.select(sa.func.count(Notification.id)).where(Notification.user_id == user.id,
                                                            Notification.read_at.is_(None))
        ).scalar_one())


def test_the_page_lists_ones_own_notifications_newest_first_and_marks_them_read(app: Flask) -> None:
    emails = _world(app)
    client = app.test_client()
    login(client, emails["candidate"], PASSWORD)

    html = client.get("/notifications/").get_data(as_text=True)

    assert COUNT.findall(html) == ["2"], "the top navigation counts the unread ones"
    decided = html.index("A decision on your case")
    asked = html.index("More evidence is requested for your case")
    assert decided < asked, "newest first"
    assert html.count('class="notification unread"') == 2
    assert "is decided: the credential is awarded in full." in html
    assert "A case has been assigned to you" not in html, "only one's own notifications"
    assert 'action="/notifications/read"' in html and 'name="csrf_token"' in html

    # Without the form's token nothing changes.
    assert client.post("/notifications/read").status_code == 400
    assert _unread(app, emails["candidate"]) == 2

    response = post(client, "/notifications/read", {}, follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "All notifications are marked read." in html
    assert COUNT.findall(html) == [] and 'class="notification unread"' not in html
    assert html.count('class="notification"') == 2, "read ones stay listed"
    assert _unread(app, emails["candidate"]) == 0
    with app.app_context():
        (event,) = db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.action == "notifications.read")
        ).scalars().all()
        assert '"count":2' in event.facts
    # The assessor's are still unread: marking is per person.
    assert _unread(app, emails["assessor"]) == 2


def test_the_page_is_in_the_readers_language(app: Flask) -> None:
    emails = _world(app, "uk")
    client = app.test_client()
    login(client, emails["candidate"], PASSWORD)
    html = client.get("/notifications/").get_data(as_text=True)
    assert '<html lang="uk">' in html
    assert BAKERY_UK in html, "the credential's title in the reader's language"
    assert COUNT.findall(html) == ["2"]


def test_an_empty_page_says_so(app: Flask) -> None:
    with app.app_context():
        admin = factories.user("admin")
        db.session.commit()
        email = admin.email
    client = app.test_client()
    login(client, email, PASSWORD)
    html = client.get("/notifications/").get_data(as_text=True)
    assert "You have no notifications." in html and "Mark all read" not in html


def test_the_count_in_the_navigation_comes_with_the_session_and_is_current(app: Flask) -> None:
    """The unread count is read with the signed-in person on every page, not by a query of its own; and it is
    counted afresh on each request."""
    emails = _world(app)
    client = app.test_client()
    login(client, emails["assessor"], PASSWORD)

    with statements(app) as ran:
        html = client.get("/catalog").get_data(as_text=True)
    assert COUNT.findall(html) == ["2"]
    assert not [s for s in ran if "FROM notifications" in s and "user_sessions" not in s], ran

    with app.app_context():
        user = accounts.find_by_email(emails["assessor"])
        first = db.session.execute(
            sa.select(Notification.id).where(Notification.user_id == user.id).order_by(Notification.id).limit(1)
        ).scalar_one()
        db.session.execute(sa.update(Notification).where(Notification.id == first).values(read_at=sa.func.now()))
        db.session.commit()
    assert COUNT.findall(client.get("/catalog").get_data(as_text=True)) == ["1"]
