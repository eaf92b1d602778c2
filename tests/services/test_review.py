"""The assessor's workspace through the services: declarations of interest, doubts about evidence, accepting
every outcome, and the desk (what waits on whom, in a fixed number of queries)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from tests import factories
from validation.extensions import db
from validation.models import (
    AuditEvent,
    Case,
    ConflictDeclaration,
    EvidenceDoubt,
    Interview,
    OutcomeDecision,
    utcnow,
)
from validation.services import assessment, audit, cases, evidence, review
from validation.services.errors import Conflict, Forbidden, Invalid, NotFound


@pytest.fixture
def who(ctx):  # type: ignore[no-untyped-def]
    factories.load_catalog()
    people = factories.people()
    db.session.commit()
    return people


def counts() -> tuple[int, int, int, int]:
    """Audit events, declarations, doubts and decisions: what a refusal must leave as it was."""
    count = db.session.execute
    return (
        count(select(func.count()).select_from(AuditEvent)).scalar_one(),
        count(select(func.count()).select_from(ConflictDeclaration)).scalar_one(),
        count(select(func.count()).select_from(EvidenceDoubt)).scalar_one(),
        count(select(func.count()).select_from(OutcomeDecision)).scalar_one(),
    )


def refused(error: type[Exception], call, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """The call is refused with `error` and, rolled back as a request would be, leaves nothing behind."""
    before = counts()
    with pytest.raises(error):
        call(*args, **kwargs)
    db.session.rollback()
    assert counts() == before


def events(case_id: int, action: str) -> list[dict]:  # type: ignore[type-arg]
    return [audit.facts_of(e) for e in audit.events_for_case(case_id) if e.action == action]


# --- declarations of interest --------------------------------------------------------------------------


def test_an_assigned_assessor_declares_once_and_no_conflict_changes_nothing_else(who):
    case = factories.case_in_state("under_review", who)
    db.session.commit()
    assessor = who["assessor"]
    assert review.needs_declaration(assessor, case)
    assert not review.needs_declaration(who["other_assessor"], case)  # not theirs
    assert not review.needs_declaration(who["coordinator"], case)
    version = case.lock_version

    declaration = review.declare(case.id, assessor, False, "ignored without a conflict", version)
    db.session.commit()

    assert declaration.has_conflict is False and declaration.reason is None
    assert not review.needs_declaration(assessor, case)
    assert case.assessor_id == assessor.id
    assert case.lock_version == version  # a "no" makes nobody's page stale
    assert events(case.id, "case.conflict_declared") == [
        {"declaration_id": declaration.id, "has_conflict": False, "part": "assessor"}
    ]


def test_a_conflict_takes_the_assessor_off_and_a_new_assignment_asks_again(who):
    case = factories.case_in_state("under_review", who)
    db.session.commit()
    assessor = who["assessor"]
    version = case.lock_version
    refused(Invalid, review.declare, case.id, assessor, True, "  ", version)

    review.declare(case.id, assessor, True, "She is my neighbour.", version)
    db.session.commit()

    assert case.assessor_id is None
    assert case.lock_version > version
    facts = events(case.id, "case.conflict_declared")[-1]
    assert facts["has_conflict"] is True and facts["part"] == "assessor"
    assert "neighbour" not in str(facts)  # the reason is never in the audit trail
    with pytest.raises(Forbidden):
        review.declare(case.id, assessor, False, None)  # no longer on the case
    db.session.rollback()

    cases.assign_assessor(case.id, assessor.id, who["coordinator"])
    db.session.commit()
    assert review.needs_declaration(assessor, case)


def test_a_moderator_declares_too_and_a_conflict_ends_only_the_moderation(who):
    case = factories.case_in_state("moderation", who)
    db.session.commit()
    moderator = who["other_assessor"]
    assert case.moderator_id == moderator.id
    assert review.needs_declaration(moderator, case)

    review.declare(case.id, moderator, True, "We worked together.", case.lock_version)
    db.session.commit()

    assert case.moderator_id is None and case.assessor_id == who["assessor"].id
    assert events(case.id, "case.conflict_declared")[-1]["part"] == "moderator"


def test_stale_declaration_and_strangers_are_refused(who):
    case = factories.case_in_state("under_review", who)
    db.session.commit()
    refused(Conflict, review.declare, case.id, who["assessor"], False, None, case.lock_version - 1)
    refused(Forbidden, review.declare, case.id, who["other_assessor"], False, None, case.lock_version)
    refused(Forbidden, review.declare, case.id, who["coordinator"], False, None, case.lock_version)


def test_a_closed_case_needs_no_declaration(who):
    case = factories.case_in_state("awarded", who)
    db.session.commit()
    assert case.assessor_id == who["assessor"].id
    assert not review.needs_declaration(who["assessor"], case)


# --- doubts about evidence -----------------------------------------------------------------------------


def declared(case: Case, person) -> None:  # type: ignore[no-untyped-def]
    review.declare(case.id, person, False, None)
    db.session.commit()


def test_a_doubt_is_recorded_against_one_rule_without_its_note_in_the_audit(who):
    case = factories.case_in_state("under_review", who)
    declared(case, who["assessor"])
    item = evidence.items_of(case.id)[0]

    doubt = review.add_doubt(case.id, item.id, who["assessor"], "authentic", "  Same photo as another case. ",
                             case.lock_version)
    db.session.commit()

    assert (doubt.rule, doubt.note, doubt.submission_round) == ("authentic", "Same photo as another case.", 1)
    assert events(case.id, "evidence.doubted") == [{"doubt_id": doubt.id, "item_id": item.id, "rule": "authentic"}]


def test_doubts_are_refused_with_nothing_stored(who):
    case = factories.case_in_state("under_review", who)
    other = factories.case_in_state("under_review", who, code="UA-CABLE-LAY")
    db.session.commit()
    item = evidence.items_of(case.id)[0]
    foreign = evidence.items_of(other.id)[0]
    assessor = who["assessor"]
    refused(Forbidden, review.add_doubt, case.id, item.id, assessor, "valid", "Why?", case.lock_version)  # undeclared
    declared(case, assessor)
    version = case.lock_version
    refused(Invalid, review.add_doubt, case.id, item.id, assessor, "plausible", "Why?", version)
    refused(Invalid, review.add_doubt, case.id, item.id, assessor, "valid", "   ", version)
    refused(NotFound, review.add_doubt, case.id, foreign.id, assessor, "valid", "Why?", version)
    refused(Conflict, review.add_doubt, case.id, item.id, assessor, "valid", "Why?", version - 1)
    refused(Forbidden, review.add_doubt, case.id, item.id, who["other_assessor"], "valid", "Why?", version)
    refused(Forbidden, review.add_doubt, case.id, item.id, who["coordinator"], "valid", "Why?", version)


# --- accept every outcome as met -----------------------------------------------------------------------


def test_accept_all_records_met_for_each_outcome_not_yet_met(who):
    case = factories.case_in_state("under_review", who)
    declared(case, who["assessor"])
    assessor = who["assessor"]
    first, second, *rest = case.claims
    assessment.record_decision(case.id, first.outcome_id, assessor, "met", None, [0])
    assessment.record_decision(case.id, second.outcome_id, assessor, "not_met", "Not shown.")
    db.session.commit()
    events_before = len(events(case.id, "decision.recorded"))

    made = review.accept_all(case.id, assessor, case.lock_version)
    db.session.commit()

    assert [d.outcome_id for d in made] == [c.outcome_id for c in [second, *rest]]
    for decision in made:
        claim = next(c for c in case.claims if c.outcome_id == decision.outcome_id)
        assert decision.verdict == "met"
        assert decision.rationale == review.DEFAULT_RATIONALE
        assert decision.criteria_met == list(range(len(claim.outcome.criteria)))
    assert len(events(case.id, "decision.recorded")) == events_before + len(made)
    current = assessment.current_decisions(case.id)
    assert {d.verdict for d in current.values()} == {"met"}
    assert current[first.outcome_id].criteria_met == [0]  # a met decision is left as it was
    assert review.accept_all(case.id, assessor, case.lock_version) == []


def test_accept_all_is_refused_unless_assigned_current_and_open(who):
    case = factories.case_in_state("under_review", who)
    closed = factories.case_in_state("recommended", who, code="UA-CABLE-LAY")
    assessor = who["assessor"]
    declared(case, assessor)
    declared(closed, assessor)
    refused(Conflict, review.accept_all, case.id, assessor, case.lock_version - 1)
    refused(Forbidden, review.accept_all, case.id, who["other_assessor"], case.lock_version)
    refused(Forbidden, review.accept_all, case.id, who["coordinator"], case.lock_version)
    refused(Conflict, review.accept_all, closed.id, assessor, closed.lock_version)


# --- the desk -------------------------------------------------------------------------------------------


def test_the_desk_says_what_waits_on_whom(who):
    assessor, moderator = who["assessor"], who["other_assessor"]
    undeclared = factories.case_in_state("under_review", who, code="UA-BAKERY")
    deciding = factories.case_in_state("under_review", who, code="UA-CABLE-LAY")
    resubmitted = factories.case_in_state("more_evidence", who, code="GE-NET-SUPPORT")
    interview = factories.case_in_state("interview", who, code="GE-WELD-MMA")
    waiting = factories.case_in_state("more_evidence", who, code="MK-ROOF-INST")
    moderated = factories.case_in_state("moderation", who, code="AM-LINUX-TECH")
    closed = factories.case_in_state("awarded", who, code="RS-MCU-PROG")
    for case in (deciding, resubmitted, interview, waiting, moderated):
        review.declare(case.id, assessor, False, None)
    review.declare(moderated.id, moderator, False, None)
    for title in ("Photo of my bread", "Letter from the bakery"):
        evidence.add_statement(resubmitted.id, who["candidate"], title, "New.", [resubmitted.claims[0].outcome_id])
    cases.fire(resubmitted.id, "resubmit", who["candidate"])
    assessment.record_decision(deciding.id, deciding.claims[0].outcome_id, assessor, "met", None)
    when = utcnow() + timedelta(days=3)
    db.session.add(Interview(case_id=interview.id, assessor_id=assessor.id, scheduled_for=when, place="Centre"))
    now = utcnow()
    for days, case in enumerate((interview, resubmitted, deciding, undeclared), start=1):
        case.due_at = now + timedelta(days=days)
    db.session.commit()

    desk = review.desk(assessor)

    assert [r.case.id for r in desk.mine] == [interview.id, resubmitted.id, deciding.id, undeclared.id]
    tasks = {r.case.id: r.tasks for r in desk.mine}
    assert tasks[undeclared.id] == [review.Task("declare")]
    assert tasks[deciding.id] == [review.Task("decide", count=len(deciding.claims) - 1)]
    assert tasks[resubmitted.id] == [review.Task("new_evidence", count=2), review.Task("decide", count=len(
        resubmitted.claims))]
    assert tasks[interview.id][0].code == "interview"
    assert tasks[interview.id][0].when is not None and abs(tasks[interview.id][0].when - when) < timedelta(seconds=1)
    assert {r.case.id: r.waiting_for for r in desk.others} == {waiting.id: "candidate", moderated.id: "moderator"}
    assert [r.case.id for r in desk.closed] == [closed.id]
    assert all(r.part == "assessor" for r in desk.mine + desk.others)

    seen_by_moderator = review.desk(moderator)
    assert [(r.case.id, r.part, r.tasks) for r in seen_by_moderator.mine] == [
        (moderated.id, "moderator", [review.Task("moderate")])
    ]


def test_the_desk_takes_the_same_queries_for_two_cases_or_eight(who, ctx):
    assessor = who["assessor"]
    codes = ["UA-BAKERY", "UA-CABLE-LAY", "GE-NET-SUPPORT", "GE-WELD-MMA", "MK-ROOF-INST", "AM-LINUX-TECH",
             "RS-MCU-PROG", "ME-AGRO-TOUR"]
    states = ["under_review", "more_evidence"]

    def queries() -> int:
        db.session.expire_all()
        statements: list[str] = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            desk = review.desk(assessor)
            for row in desk.mine + desk.others + desk.closed:
                _ = (row.case.candidate.display_name, row.case.credential.title, len(row.case.claims))
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    factories.case_in_state("awarded", who, code=codes[-1])  # the recently closed list is never empty
    for code in codes[:2]:
        factories.case_in_state(states[len(code) % 2], who, code=code)
    db.session.commit()
    few = queries()
    for code in codes[2:-1]:
        factories.case_in_state(states[len(code) % 2], who, code=code)
    db.session.commit()
    assert queries() == few
