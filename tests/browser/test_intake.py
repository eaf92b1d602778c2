"""The intake questionnaire on a 360-px phone: accessible, and answered by keyboard without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.test_pages import _fits_phone, _serious_violations, _sign_in
from validation.extensions import db


def _seed(app):  # type: ignore[no-untyped-def]
    with app.app_context():
        factories.people()
        db.session.commit()


@pytest.mark.browser
def test_the_questionnaire_is_accessible_and_fits_a_phone(app, live_server, page):
    _seed(app)
    _sign_in(page, live_server, "candidate@test.example")
    page.goto(f"{live_server}/my/intake")
    expect(page.get_by_role("heading", name="Tell us about your experience")).to_be_visible()
    assert _serious_violations(page) == []
    assert _fits_phone(page)
    page.get_by_role("button", name="Save my answers").click()
    expect(page.get_by_role("alert")).to_be_visible()  # the summary of what is missing
    assert _serious_violations(page) == []
    assert _fits_phone(page)


@pytest.mark.browser
def test_answering_by_keyboard_without_javascript(app, live_server, browser):
    _seed(app)
    context = browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False)
    try:
        page = context.new_page()
        _sign_in(page, live_server, "candidate@test.example")
        page.get_by_role("link", name="Tell us about your experience (intake questionnaire)").click()
        page.get_by_label("What work have you done, and for how long?").fill("Baker in Kharkiv, 2015-2022.")
        page.get_by_role("group", name="How many years of experience do you have in this field?") \
            .get_by_label("3 to 10 years").press("Space")
        page.get_by_role("group", name="What is the highest education you have completed?") \
            .get_by_label("Vocational school or college").press("Space")
        page.get_by_role("group", name="Do you have any papers from earlier work or training?") \
            .get_by_label("No", exact=True).press("Space")
        page.get_by_label("From when can you take part in the assessment? (optional)").fill("2025-09-01")
        page.get_by_role("group", name="How would you prefer to show what you can do?") \
            .get_by_label("A practical demonstration").press("Space")
        page.get_by_role("button", name="Save my answers").press("Enter")
        page.wait_for_url(f"{live_server}/my")
        expect(page.get_by_text("Thank you: your answers are saved.")).to_be_visible()
        expect(page.get_by_role("link", name="Your intake answers — change")).to_be_visible()
        assert _fits_phone(page)
    finally:
        context.close()
