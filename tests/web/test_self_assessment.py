"""Self-assessment per outcome: "not yet" leaves an outcome out of the claim, which can only end in a partial award."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import login, post
from validation.extensions import db
from validation.models import AuditEvent, Case, CaseClaim
from validation.services import accounts, assessment, awards, cases, catalog, evidence
from validation.services.errors import Invalid


@pytest.fixture
def draft(app):
    """A draft case of UA-BAKERY with people to move it; returns (case id, outcome ids, signed-in candidate)."""
    with app.app_context():
        factories.load_catalog()
        factories.people()
        candidate = factories.user("candidate", "olena@test.example", "Olena")
        credential = catalog.by_code("UA-BAKERY")
        case = cases.open_case(candidate, credential.id)
        db.session.commit()
        ids = (case.id, [c.outcome_id for c in case.claims])
    client = app.test_client()
    login(client, "olena@test.example")
    return ids[0], ids[1], client


def _version(app, case_id: int) -> int:
    with app.app_context():
        return db.session.get(Case, case_id).lock_version


def _assess(app, client, case_id: int, outcome_id: int, level: str, story: str = ""):  # type: ignore[no-untyped-def]
    return post(client, f"/cases/{case_id}/claims/{outcome_id}",
                {"level": level, "story": story, "version": _version(app, case_id)})


def test_the_candidate_records_a_view_and_a_story_per_outcome(app, draft):
    case_id, outcomes, client = draft
    response = _assess(app, client, case_id, outcomes[0], "confident", "I ran the night shift for six years.")
    assert response.status_code == 302
    with app.app_context():
        claim = db.session.get(CaseClaim, (case_id, outcomes[0]))
        assert claim.self_assessment == "confident" and claim.story.startswith("I ran the night shift")
        event = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc())).scalars().first()
        assert event.action == "claim.self_assessed" and event.case_id == case_id
        assert "night shift" not in event.facts
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "I ran the night shift for six years." in page


@pytest.mark.parametrize("level", ["", "certain", "NOT_YET"])
def test_a_level_that_does_not_exist_is_refused_and_nothing_changes(app, draft, level):
    case_id, outcomes, client = draft
    before = _version(app, case_id)
    response = _assess(app, client, case_id, outcomes[0], level)
    assert response.status_code == 422
    assert _version(app, case_id) == before


def test_not_yet_outcomes_need_no_evidence_to_submit(app, draft):
    case_id, outcomes, client = draft
    assert _assess(app, client, case_id, outcomes[-1], "not_yet").status_code == 302
    with app.app_context():
        candidate = db.session.get(Case, case_id).candidate
        evidence.add_statement(case_id, candidate, "My work", "Years of baking.", outcomes[:-1])
        db.session.commit()
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Left out of the claim" in page
    response = post(client, f"/cases/{case_id}/transitions/submit", {"version": _version(app, case_id)})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Case, case_id).state == "submitted"


def test_with_every_outcome_not_yet_there_is_nothing_to_submit(app, draft):
    case_id, outcomes, client = draft
    for outcome in outcomes:
        assert _assess(app, client, case_id, outcome, "not_yet").status_code == 302
    response = post(client, f"/cases/{case_id}/transitions/submit", {"version": _version(app, case_id)})
    assert response.status_code == 409
    assert "Claim at least one learning outcome" in response.get_data(as_text=True)


def test_the_view_is_fixed_once_the_portfolio_is_submitted(app, draft):
    case_id, outcomes, client = draft
    with app.app_context():
        case = db.session.get(Case, case_id)
        factories.portfolio(case, case.candidate)
        cases.fire(case_id, "submit", case.candidate)
        db.session.commit()
    assert f'action="/cases/{case_id}/claims/' not in client.get(f"/cases/{case_id}").get_data(as_text=True)
    response = _assess(app, client, case_id, outcomes[0], "partly")
    assert response.status_code == 409
    with app.app_context():
        assert db.session.get(CaseClaim, (case_id, outcomes[0])).self_assessment is None


def _to_recommendation(app, case_id: int, left_out: int) -> None:
    """Submit with one outcome left out, review with every claimed outcome met, recommend."""
    with app.app_context():
        case = db.session.get(Case, case_id)
        who = {
            "assessor": accounts.find_by_email("assessor@test.example"),
            "coordinator": accounts.find_by_email("coordinator@test.example"),
        }
        claimed = [c.outcome_id for c in case.claims if c.outcome_id != left_out]
        evidence.add_statement(case_id, case.candidate, "My work", "Years of baking.", claimed)
        cases.fire(case_id, "submit", case.candidate)
        cases.fire(case_id, "start_screening", who["coordinator"])
        cases.assign_assessor(case_id, who["assessor"].id, who["coordinator"])
        cases.fire(case_id, "accept_for_review", who["coordinator"])
        with pytest.raises(Invalid):
            assessment.record_decision(case_id, left_out, who["assessor"], "met", None)
        for outcome in claimed:
            assessment.record_decision(case_id, outcome, who["assessor"], "met", None)
        cases.fire(case_id, "recommend", who["assessor"])
        db.session.commit()


def test_a_left_out_outcome_rules_out_a_full_award_but_not_a_partial_one(app, draft):
    case_id, outcomes, client = draft
    assert _assess(app, client, case_id, outcomes[0], "not_yet").status_code == 302
    _to_recommendation(app, case_id, outcomes[0])
    coordinator = app.test_client()
    login(coordinator, "coordinator@test.example")
    version = _version(app, case_id)
    full = post(coordinator, f"/cases/{case_id}/transitions/award", {"version": version})
    assert full.status_code == 409
    assert re.search(r"Outcomes not claimed: LO\w+", full.get_data(as_text=True))
    partial = post(coordinator, f"/cases/{case_id}/transitions/award_partially", {"version": version})
    assert partial.status_code == 302
    with app.app_context():
        award = awards.award_for_case(case_id)
        assert award.kind == "partial"
        assert sorted(o.outcome_id for o in award.outcomes) == sorted(outcomes[1:])
