"""Requests for more evidence through the service: the request and the transition in one transaction, the due
date, the audit event without text, and every refusal leaving nothing behind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests import factories
from validation.extensions import db
from validation.models import AuditEvent, Case, CaseTransition, EvidenceRequest, LearningOutcome, User, utcnow
from validation.services import audit, cases, evidence, evidence_requests
from validation.services.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError

MESSAGE = "A photo of a loaf you baked, or a letter from the bakery where you worked."


@pytest.fixture
def who(ctx: Flask) -> dict[str, User]:
    factories.load_catalog()
    return factories.people()


@pytest.fixture
def case(who: dict[str, User]) -> Case:
    built = factories.case_in_state("under_review", who)
    db.session.commit()  # a refusal is rolled back in the tests, as a request would be
    return built


def ids(case: Case) -> list[int]:
    return [c.outcome_id for c in case.claims]


@dataclass(frozen=True)
class Tally:
    requests: int
    transitions: int
    events: int
    state: str
    version: int
    due_at: datetime | None


def tally(case: Case) -> Tally:
    count = lambda model: db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()  # noqa: E731
    db.session.refresh(case)
    return Tally(count(EvidenceRequest), count(CaseTransition), count(AuditEvent), case.state, case.lock_version,
                 case.due_at)


def test_a_request_records_what_was_asked_and_moves_the_case_in_one_go(who, case):
    chosen = ids(case)[:2]
    due = evidence_requests.today() + timedelta(days=10)
    request = evidence_requests.request_more_evidence(case.id, who["assessor"], chosen, f"  {MESSAGE}  ", due,
                                                      case.lock_version)
    db.session.commit()
    assert case.state == "more_evidence"
    assert request.submission_round == case.submission_round == 2  # the round the new evidence goes to
    assert request.outcome_ids == sorted(chosen)
    assert request.message == MESSAGE
    assert request.due_on == due
    assert request.assessor_id == who["assessor"].id
    assert case.due_at == evidence_requests.end_of(due)
    transition = cases.transitions_of(case.id)[-1]
    assert (transition.trigger, transition.reason) == ("request_more_evidence", MESSAGE)
    event = audit.events_for_case(case.id)[-1]
    assert event.action == "evidence.requested" and event.actor_id == who["assessor"].id
    assert audit.facts_of(event) == {"request_id": request.id, "outcome_count": 2, "submission_round": 2,
                                     "due_on": due.isoformat()}
    assert "photo" not in event.facts  # the audit trail holds no free text
    assert audit.verify_chain().intact


def test_without_a_due_date_the_state_sla_applies_and_is_what_the_candidate_is_told(who, case):
    before = utcnow()
    request = evidence_requests.request_more_evidence(case.id, who["assessor"], ids(case)[:1], MESSAGE)
    sla = cases.definition_for(case).state("more_evidence").sla_days
    assert sla and before + timedelta(days=sla) <= case.due_at <= utcnow() + timedelta(days=sla)
    assert request.due_on == case.due_at.date()
    assert audit.facts_of(audit.events_for_case(case.id)[-1])["due_on"] == request.due_on.isoformat()


def test_the_default_due_date_offered_is_the_sla(who, case):
    assert evidence_requests.default_due_on(case) == evidence_requests.today() + timedelta(days=30)


def test_a_due_date_ends_at_midnight_where_the_people_are(ctx):
    ctx.config["BABEL_DEFAULT_TIMEZONE"] = "Europe/Kyiv"
    assert evidence_requests.end_of(date(2027, 1, 15)) == datetime(2027, 1, 15, 21, 59, 59, tzinfo=UTC)
    assert evidence_requests.end_of(date(2027, 7, 15)) == datetime(2027, 7, 15, 20, 59, 59, tzinfo=UTC)


def test_more_evidence_can_be_asked_for_from_the_interview_too(who):
    case = factories.case_in_state("interview", who)
    request = evidence_requests.request_more_evidence(case.id, who["assessor"], ids(case), MESSAGE)
    assert case.state == "more_evidence" and request.submission_round == case.submission_round


def test_today_is_a_valid_due_date(who, case):
    request = evidence_requests.request_more_evidence(case.id, who["assessor"], ids(case)[:1], MESSAGE,
                                                      evidence_requests.today())
    assert request.due_on == evidence_requests.today()


def _other_outcome(case: Case) -> int:
    return db.session.execute(
        sa.select(LearningOutcome.id).where(LearningOutcome.credential_id != case.credential_id).limit(1)
    ).scalar_one()


REFUSALS: dict[str, tuple[type[ServiceError], str, dict[str, Any]]] = {
    "candidate": (Forbidden, "Only the assigned assessor", {"actor": "candidate"}),
    "coordinator": (Forbidden, "Only the assigned assessor", {"actor": "coordinator"}),
    "other-assessor": (Forbidden, "not assigned to you", {"actor": "other_assessor"}),
    "stale-version": (Conflict, "changed since you opened it", {"version": -1}),
    "no-outcome": (Invalid, "at least one learning outcome", {"outcomes": []}),
    "outcome-of-another-credential": (Invalid, "not part of this case", {"outcomes": "other"}),
    "empty-message": (Invalid, "Say what would help", {"message": "   "}),
    "too-long-message": (Invalid, "too long", {"message": "x" * 5001}),
    "due-in-the-past": (Invalid, "cannot be in the past", {"due": -1}),
    "due-far-away": (Invalid, "within a year", {"due": 400}),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_refusals_store_nothing(who, case, name):
    error, words, change = REFUSALS[name]
    before = tally(case)
    actor = who[change.get("actor", "assessor")]
    outcomes = change.get("outcomes", ids(case)[:1])
    if outcomes == "other":
        outcomes = [ids(case)[0], _other_outcome(case)]
    version = case.lock_version + (1 if change.get("version") else 0)
    due = evidence_requests.today() + timedelta(days=change["due"]) if "due" in change else None
    with pytest.raises(error) as refusal:
        evidence_requests.request_more_evidence(case.id, actor, outcomes, change.get("message", MESSAGE), due,
                                                version)
    assert words in refusal.value.reason
    db.session.rollback()
    assert tally(case) == before


def test_an_outcome_the_candidate_left_out_cannot_be_asked_for(who):
    case = factories.case_in_state("draft", who)
    cases.set_self_assessment(case.id, case.claims[0].outcome_id, who["candidate"], "not_yet", None)
    for claim in case.claims[1:]:
        cases.set_self_assessment(case.id, claim.outcome_id, who["candidate"], "confident", None)
    evidence.add_statement(case.id, who["candidate"], "Work", "I did it.", ids(case)[1:])
    for trigger, role in (("submit", "candidate"), ("start_screening", "coordinator")):
        cases.fire(case.id, trigger, who[role])
    cases.assign_assessor(case.id, who["assessor"].id, who["coordinator"])
    cases.fire(case.id, "accept_for_review", who["coordinator"])
    with pytest.raises(Invalid, match="not part of this case"):
        evidence_requests.request_more_evidence(case.id, who["assessor"], [case.claims[0].outcome_id], MESSAGE)
    assert [c.outcome_id for c in evidence_requests.requestable(case)] == ids(case)[1:]


@pytest.mark.parametrize("state", ["draft", "screening", "more_evidence", "recommended"])
def test_only_under_review_or_in_interview(who, state):
    case = factories.case_in_state(state, who)
    if case.assessor_id is None:
        cases.assign_assessor(case.id, who["assessor"].id, who["coordinator"])
    before = tally(case)
    with pytest.raises(Conflict, match="under review or in interview"):
        evidence_requests.request_more_evidence(case.id, who["assessor"], ids(case), MESSAGE)
    assert tally(case) == before


def test_another_candidate_does_not_find_the_case(who, case):
    with pytest.raises(Forbidden):  # refused by role before the case is looked up
        evidence_requests.request_more_evidence(case.id, who["other_candidate"], ids(case), MESSAGE)
    with pytest.raises(NotFound):
        evidence_requests.request_more_evidence(case.id + 1000, who["assessor"], ids(case), MESSAGE)


def test_the_candidate_sees_the_open_request_and_staff_every_round(who, case):
    first = evidence_requests.request_more_evidence(case.id, who["assessor"], ids(case)[:1], "First request.")
    mine = evidence_requests.panel(who["candidate"], case)
    assert mine.current is not None and mine.current.request.id == first.id
    assert [o.id for o in mine.current.outcomes] == ids(case)[:1]
    assert mine.history == [] and not mine.may_request
    assert evidence_requests.open_requests_of([case])[case.id].request.id == first.id
    # The candidate answers; the request stays on record for staff but is no longer the candidate's to do.
    evidence.add_statement(case.id, who["candidate"], "More", "A letter from the bakery.", ids(case)[:1])
    cases.fire(case.id, "resubmit", who["candidate"])
    assert evidence_requests.panel(who["candidate"], case).current is None
    assert evidence_requests.open_requests_of([case]) == {}
    second = evidence_requests.request_more_evidence(case.id, who["assessor"], ids(case), "Second request.")
    staff = evidence_requests.panel(who["coordinator"], case)
    assert [r.request.id for r in staff.history] == [second.id, first.id]
    assert [r.request.submission_round for r in staff.history] == [3, 2]
    assert staff.current is not None and staff.current.request.id == second.id


def test_the_assessor_is_offered_the_claimed_outcomes_and_those_judged_more_evidence(who, case):
    from validation.services import assessment

    assessment.record_decision(case.id, ids(case)[1], who["assessor"], "more_evidence", "Not enough yet.")
    panel = evidence_requests.panel(who["assessor"], case)
    assert panel.may_request
    assert [c.outcome_id for c in panel.choices] == ids(case)
    assert panel.suggested == {ids(case)[1]}
    assert panel.default_due_on == evidence_requests.today() + timedelta(days=30)
    for person in ("coordinator", "admin", "candidate"):
        assert not evidence_requests.panel(who[person], case).may_request
