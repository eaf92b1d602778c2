"""The notifications page and the administrators' outbox on a 360-px phone: accessible, no sideways scrolling,
and "mark all read" and "retry now" work as plain forms without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.test_pages import _fits_phone, _serious_violations, _sign_in
from validation.extensions import db
from validation.services import mail


def _seed(app) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        factories.case_in_state("more_evidence", who)
        factories.case_in_state("awarded", who, code="GE-WELD-MMA")
        message = mail.queue("a-very-long-address-that-might-not-fit@some-long-domain.example.org", "en",
                             "referee_answered", "referee_answered", candidate_name="Olena",
                             referee_name="Petro", answer="confirmed", credential_title="Baker",
                             link="http://x/cases/1")
        message.failed_at, message.attempts = message.created_at, 8
        message.last_error = "ConnectionRefusedError: [Errno 111] Connection refused " * 3
        db.session.commit()
        return message.id


@pytest.mark.browser
def test_notifications_and_outbox_are_accessible_and_fit_a_phone(app, live_server, page):
    _seed(app)
    _sign_in(page, live_server, "candidate@test.example")
    page.get_by_role("link", name="Notifications 2 unread").click()
    expect(page.get_by_role("heading", name="A decision on your case")).to_be_visible()
    assert _serious_violations(page) == []
    assert _fits_phone(page)
    page.context.clear_cookies()
    _sign_in(page, live_server, "admin@test.example")
    page.get_by_role("link", name="E-mail", exact=True).click()
    expect(page.get_by_text("failed", exact=True)).to_be_visible()
    assert _serious_violations(page) == []
    assert _fits_phone(page)


@pytest.mark.browser
def test_mark_read_and_retry_work_without_javascript(app, live_server, browser):
    message_id = _seed(app)
    context = browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False)
    page = context.new_page()
    try:
        _sign_in(page, live_server, "candidate@test.example")
        page.get_by_role("link", name="Notifications 2 unread").click()
        page.get_by_role("button", name="Mark all read").click()
        expect(page.get_by_text("All notifications are marked read.")).to_be_visible()
        expect(page.get_by_role("link", name="Notifications", exact=True)).to_be_visible()
        assert _fits_phone(page)
        context.clear_cookies()
        _sign_in(page, live_server, "admin@test.example")
        page.goto(f"{live_server}/admin/mail/")
        page.get_by_role("button", name=f"Retry now #{message_id}").click()
        expect(page.get_by_text("The e-mail will be sent at the next run of the tick.")).to_be_visible()
        expect(page.get_by_text("failed", exact=True)).to_be_hidden()
    finally:
        context.close()
