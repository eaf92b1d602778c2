"""An assessor's review in Chromium on a 360-px phone: a case with five claimed outcomes, the declaration of
interest, every outcome accepted in one step, more evidence asked for one of them, the candidate's answer
seen as new, a final "not yet met" and a recommendation that the coordinator turns into a partial award.
axe-core checks every page the assessor and the coordinator see on the way."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests import factories
from tests.browser.test_pages import _fits_phone, _serious_violations, _sign_in
from validation.extensions import db
from validation.models import Award, Case, OutcomeDecision
from validation.services import assessment, cases, catalog, evidence

REQUEST = "Please add a photo of a sponge-method dough you prepared, with the date."
NOT_MET = "The new photo shows a straight dough, not a sponge."


def _checked(page, where: str) -> None:  # type: ignore[no-untyped-def]
    assert _serious_violations(page) == [], where
    assert _fits_phone(page), where


def _five_outcome_case(app) -> tuple[int, list[int]]:  # type: ignore[no-untyped-def]
    """A bakery case under review: six outcomes, the last left out as "not yet", so five are claimed."""
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        credential = catalog.by_code("UA-BAKERY")
        case = cases.open_case(who["candidate"], credential.id)
        left_out = case.claims[-1].outcome_id
        cases.set_self_assessment(case.id, left_out, who["candidate"], "not_yet", None)
        claimed = [c.outcome_id for c in cases.claimed(case)]
        assert len(claimed) == 5
        evidence.add_statement(case.id, who["candidate"], "Six years in a Lviv bakery",
                               "I ran the night shift: doughs, proving, baking and the cleaning rota.", claimed)
        cases.fire(case.id, "submit", who["candidate"])
        cases.fire(case.id, "start_screening", who["coordinator"])
        cases.assign_assessor(case.id, who["assessor"].id, who["coordinator"])
        cases.fire(case.id, "accept_for_review", who["coordinator"])
        db.session.commit()
        return case.id, claimed


def _state(app, case_id: int) -> str:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.get(Case, case_id).state


@pytest.mark.browser
def test_an_assessor_reviews_five_outcomes_asks_for_more_and_the_case_ends_in_a_partial_award(
    app, live_server, page
):
    case_id, claimed = _five_outcome_case(app)
    second = claimed[1]

    # The desk lists the case; the first visit asks whether the assessor knows the candidate.
    _sign_in(page, live_server, "assessor@test.example")
    page.goto(f"{live_server}/assessor/")
    _checked(page, "desk")
    page.locator(f"a[href='/cases/{case_id}']").first.click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}/declaration$"))
    _checked(page, "declaration")
    page.get_by_label("I do not know this candidate").check()
    page.get_by_role("button", name="Send my declaration").click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}$"))
    _checked(page, "review")

    # Every outcome met in one confirmation, each recorded on its own.
    page.get_by_role("button", name="Accept all 5 outcomes as met").click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}#outcomes$"))
    with app.app_context():
        current = assessment.current_decisions(case_id)
        assert sorted(current) == sorted(claimed) and {d.verdict for d in current.values()} == {"met"}

    # One outcome needs more: the decision changed, then the request with what would help.
    form = page.locator(f"#outcome-{second} form.decision-form")
    form.locator("input[name=verdict][value=more_evidence]").check()
    form.locator("textarea[name=rationale]").fill("The statement does not say how the sponge was made.")
    form.get_by_role("button", name="Record decision").click()
    page.wait_for_load_state()
    request = page.locator("#evidence-requests form")
    assert request.locator(f"input[name=outcomes][value='{second}']").is_checked()  # suggested from the decision
    request.locator("textarea[name=message]").fill(REQUEST)
    _checked(page, "request form")
    request.get_by_role("button", name="Send the request").click()
    page.wait_for_load_state()
    assert _state(app, case_id) == "more_evidence"

    # The candidate answers with one new item for that outcome and hands it in.
    with app.app_context():
        candidate = db.session.get(Case, case_id).candidate
        evidence.add_statement(case_id, candidate, "The sponge dough", "I set the sponge at 22:00 ...", [second])
        cases.fire(case_id, "resubmit", candidate)
        db.session.commit()

    # Back on the case, the new item is shown as new since the request.
    page.goto(f"{live_server}/cases/{case_id}")
    _checked(page, "review after resubmission")
    new_since = page.locator("#new-since + ul")
    assert "The sponge dough" in new_since.inner_text()
    form = page.locator(f"#outcome-{second} form.decision-form")
    form.locator("input[name=verdict][value=not_met]").check()
    form.locator("textarea[name=rationale]").fill(NOT_MET)
    form.get_by_role("button", name="Record decision").click()
    page.wait_for_load_state()
    page.locator("form[action$='/transitions/recommend'] button[type=submit]").click()
    page.wait_for_load_state()
    assert _state(app, case_id) == "recommended"

    # The coordinator awards in part: the outcomes met and their credits.
    page.context.clear_cookies()
    _sign_in(page, live_server, "coordinator@test.example")
    page.goto(f"{live_server}/cases/{case_id}")
    _checked(page, "coordinator's case page")
    page.locator("form[action$='/transitions/award_partially'] button[type=submit]").click()
    page.wait_for_load_state()
    assert _state(app, case_id) == "partially_awarded"
    with app.app_context():
        award = db.session.execute(select(Award).where(Award.case_id == case_id)).scalar_one()
        assert award.kind == "partial"
        assert sorted(o.outcome_id for o in award.outcomes) == sorted(o for o in claimed if o != second)
        rationale = db.session.execute(
            select(OutcomeDecision.rationale).where(OutcomeDecision.case_id == case_id,
                                                    OutcomeDecision.outcome_id == second)
            .order_by(OutcomeDecision.id.desc()).limit(1)
        ).scalar_one()
        assert rationale == NOT_MET

    # The candidate reads why, outcome by outcome.
    page.context.clear_cookies()
    _sign_in(page, live_server, "candidate@test.example")
    page.goto(f"{live_server}/cases/{case_id}")
    _checked(page, "candidate's decided case")
    why = page.locator("section[aria-labelledby=why]").inner_text()
    assert NOT_MET in why and "awarded in part" in why
