"""The credential's pages in a real browser on a 360-px phone: the award page with its downloads and share
link, the public verification page (from the shared link, and pasting a credential without JavaScript),
the skills record; accessible (axe-core) and fitting the screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests import factories
from tests.browser.test_pages import _fits_phone, _serious_violations, _sign_in
from validation.extensions import db
from validation.models import Award, IssuedCredential


def _seed(app):  # type: ignore[no-untyped-def]
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        case = factories.case_in_state("partially_awarded", who)
        award = db.session.execute(select(Award).where(Award.case_id == case.id)).scalar_one()
        row = db.session.execute(select(IssuedCredential).where(IssuedCredential.award_id == award.id)).scalar_one()
        db.session.commit()
        return award.id, row.uuid, row.document


@pytest.mark.browser
def test_award_and_verification_pages_are_accessible_and_fit_a_phone(app, live_server, page):
    app.config["PUBLIC_BASE_URL"] = live_server  # the links the award page hands out point to this server
    award_id, credential_uuid, _ = _seed(app)
    _sign_in(page, live_server, "candidate@test.example")
    for path in (f"/awards/{award_id}", "/my/skills"):
        page.goto(live_server + path)
        assert _serious_violations(page) == [], path
        assert _fits_phone(page), path
    page.goto(f"{live_server}/awards/{award_id}")
    page.get_by_role("link", name="Check it now").click()
    expect(page.get_by_role("heading", name="This credential is genuine and in force.")).to_be_visible()
    assert page.url.endswith(f"/verify/{credential_uuid}")
    assert _serious_violations(page) == []
    assert _fits_phone(page)


@pytest.mark.browser
def test_a_stranger_pastes_a_credential_without_javascript(app, live_server, browser):
    _, _, document = _seed(app)
    context = browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server}/verify")
        page.get_by_label("Paste the credential (JSON or token)").fill(document.replace("Bakery", "Bakerx", 1))
        page.get_by_role("button", name="Check", exact=True).click()
        expect(page.get_by_role("heading", name="This credential does not stand up.")).to_be_visible()
        expect(page.get_by_text("it was changed after signing")).to_be_visible()
        page.get_by_label("Paste the credential (JSON or token)").fill(document)
        page.get_by_role("button", name="Check", exact=True).click()
        expect(page.get_by_role("heading", name="This credential is genuine and in force.")).to_be_visible()
        assert _fits_phone(page)
    finally:
        context.close()
