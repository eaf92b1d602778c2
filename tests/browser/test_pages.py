"""The journey's pages in a real browser on a 360-px phone: usable, accessible, and working without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from validation.extensions import db


def _seed(app):  # type: ignore[no-untyped-def]
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        case = factories.case_in_state("under_review", who)
        db.session.commit()
        return case.id


def _sign_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.get_by_label("E-mail, phone number or candidate number").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _serious_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} node(s))"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def _fits_phone(page) -> bool:  # type: ignore[no-untyped-def]
    # Measured once the page (and its stylesheet) has loaded: a visible heading can come before the CSS that
    # fits the form to the screen, and a busy machine then saw a textarea 60 columns wide.
    page.wait_for_load_state("load")
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


@pytest.mark.browser
def test_pages_are_accessible_and_fit_a_phone(app, live_server, page):
    case_id = _seed(app)
    for path in ("/", "/catalog", "/catalog/UA-BAKERY", "/login", "/register"):
        page.goto(live_server + path)
        assert _serious_violations(page) == [], path
        assert _fits_phone(page), path
    _sign_in(page, live_server, "assessor@test.example")
    page.goto(f"{live_server}/cases/{case_id}")
    # The first visit asks whether the assessor knows the candidate.
    assert page.url.endswith(f"/cases/{case_id}/declaration")
    assert _serious_violations(page) == []
    assert _fits_phone(page)
    page.get_by_label("I do not know this candidate").check()
    page.get_by_role("button", name="Send my declaration").click()
    assert page.url.endswith(f"/cases/{case_id}")
    expect(page.get_by_role("heading", name="Learning outcomes")).to_be_visible()
    assert _serious_violations(page) == []
    assert _fits_phone(page)
    page.context.clear_cookies()
    _sign_in(page, live_server, "candidate@test.example")
    for path in ("/my", f"/cases/{case_id}"):
        page.goto(live_server + path)
        assert _serious_violations(page) == [], path
        assert _fits_phone(page), path


@pytest.mark.browser
def test_candidate_adds_evidence_without_javascript(app, live_server, browser):
    with app.app_context():
        factories.load_catalog()
        factories.people()
        db.session.commit()
    context = browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False)
    page = context.new_page()
    try:
        _sign_in(page, live_server, "candidate@test.example")
        page.goto(f"{live_server}/catalog/UA-BAKERY")
        page.get_by_role("button", name="Start validation for this credential").click()
        assert "/cases/" in page.url
        page.get_by_label("A written statement").check()
        page.get_by_label("Short title").fill("Ten years in a bakery")
        page.get_by_label("Statement in your own words").fill("I baked bread every night for ten years.")
        for box in page.locator("input[name=outcomes]").all():
            box.check()
        page.get_by_role("button", name="Save evidence").click()
        expect(page.get_by_text("The evidence is saved.")).to_be_visible()
        page.get_by_role("button", name="Submit portfolio").click()
        expect(page.get_by_text("Submitted", exact=True).first).to_be_visible()
    finally:
        context.close()
