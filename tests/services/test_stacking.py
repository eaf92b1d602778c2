"""Stackability through the services: outcomes validated in an earlier award in force are carried over into a
new case (the same outcome, or one sharing an ESCO skill), count as covered for the submission, and are
confirmed (as a "met" decision) or rejected (with a reason) by the case's assessor alone."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests import factories
from validation.extensions import db
from validation.models import AuditEvent, CarriedOutcome, Case, OutcomeDecision, User
from validation.services import audit, awards, cases, catalog, evidence, review, stacking
from validation.services.errors import Conflict, Forbidden, Invalid, NotFound
from workflows import Refused

SKILL = "http://data.europa.eu/esco/skill/0a1b2c3d-bake-bread"
OTHER_SKILL = "http://data.europa.eu/esco/skill/9f8e7d6c-weld"


@pytest.fixture
def who(ctx):  # type: ignore[no-untyped-def]
    factories.load_catalog()
    people = factories.people()
    db.session.commit()
    return people


def credential(code: str = "UA-BAKERY"):  # type: ignore[no-untyped-def]
    found = catalog.by_code(code)
    assert found is not None
    return found


def carried(case_id: int) -> list[CarriedOutcome]:
    return list(
        db.session.execute(
            select(CarriedOutcome).where(CarriedOutcome.case_id == case_id).order_by(CarriedOutcome.outcome_id)
        ).scalars()
    )


def offered_events(case_id: int) -> list[dict]:  # type: ignore[type-arg]
    return [audit.facts_of(e) for e in audit.events_for_case(case_id) if e.action == "carry_over.offered"]


def to_review(case: Case, who: dict[str, User]) -> Case:
    """Submit the case as it is, screen it, give it to the assessor, who declares no conflict."""
    cases.fire(case.id, "submit", who["candidate"])
    cases.fire(case.id, "start_screening", who["coordinator"])
    cases.assign_assessor(case.id, who["assessor"].id, who["coordinator"])
    cases.fire(case.id, "accept_for_review", who["coordinator"])
    review.declare(case.id, who["assessor"], False, None)
    db.session.flush()
    return case


def counts() -> tuple[int, int, list[str]]:
    return (
        db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one(),
        db.session.execute(select(func.count()).select_from(OutcomeDecision)).scalar_one(),
        [c.status for c in db.session.execute(select(CarriedOutcome).order_by(CarriedOutcome.id)).scalars()],
    )


# --- what is carried over ------------------------------------------------------------------------------


def test_every_outcome_of_a_full_award_is_carried_over_into_a_new_case_for_the_same_credential(who):
    earlier = factories.case_in_state("awarded", who)
    award = awards.award_for_case(earlier.id)
    assert award is not None
    case = cases.open_case(who["candidate"], credential().id)
    db.session.commit()

    rows = carried(case.id)
    assert [r.outcome_id for r in rows] == sorted(o.id for o in credential().outcomes)
    assert all(r.from_outcome_id == r.outcome_id and r.award_id == award.id for r in rows)
    assert {r.status for r in rows} == {"offered"}
    assert all(r.decided_by_id is None and r.decided_at is None for r in rows)
    events = offered_events(case.id)
    assert sorted(e["outcome_id"] for e in events) == [r.outcome_id for r in rows]
    assert {(e["award_id"], e["match"]) for e in events} == {(award.id, "same")}
    assert {e["carried_id"] for e in events} == {r.id for r in rows}
    # Opened, then offered: the case's trail says so in that order, by the candidate who opened it.
    actions = [e.action for e in audit.events_for_case(case.id)]
    assert actions[0] == "case.opened" and actions[1:] == ["carry_over.offered"] * len(rows)
    assert audit.verify_chain().intact


def test_only_the_outcomes_met_in_a_partial_award_are_carried_over(who):
    earlier = factories.case_in_state("partially_awarded", who)
    award = awards.award_for_case(earlier.id)
    assert award is not None and award.kind == "partial"
    met = sorted(ao.outcome_id for ao in award.outcomes)
    assert 0 < len(met) < len(credential().outcomes)
    case = cases.open_case(who["candidate"], credential().id)
    assert [r.outcome_id for r in carried(case.id)] == met


def test_an_outcome_sharing_an_esco_skill_is_carried_over_from_another_credential(who):
    bakery, welding = credential("UA-BAKERY"), credential("GE-WELD-MMA")
    bakery.outcomes[0].esco = [SKILL]
    welding.outcomes[2].esco = [OTHER_SKILL, SKILL]
    welding.outcomes[3].esco = [OTHER_SKILL]  # a skill no validated outcome has: nothing to carry
    db.session.flush()
    earlier = factories.case_in_state("awarded", who, "UA-BAKERY")
    award = awards.award_for_case(earlier.id)
    assert award is not None

    case = cases.open_case(who["candidate"], welding.id)
    rows = carried(case.id)
    assert [(r.outcome_id, r.from_outcome_id, r.award_id) for r in rows] == [
        (welding.outcomes[2].id, bakery.outcomes[0].id, award.id)
    ]
    assert [(e["match"], e["from_outcome_id"]) for e in offered_events(case.id)] == [("esco", bakery.outcomes[0].id)]


def test_nothing_is_carried_over_from_a_superseded_award(who):
    earlier = factories.case_in_state("awarded", who)
    awards.supersede(earlier, who["coordinator"])
    db.session.flush()
    case = cases.open_case(who["candidate"], credential().id)
    assert carried(case.id) == [] and offered_events(case.id) == []


def test_nothing_is_carried_over_from_another_persons_award(who):
    factories.case_in_state("awarded", who)
    case = cases.open_case(who["other_candidate"], credential().id)
    assert carried(case.id) == [] and offered_events(case.id) == []


def test_without_an_earlier_award_a_case_opens_as_before(who):
    case = cases.open_case(who["candidate"], credential().id)
    assert carried(case.id) == []
    assert [e.action for e in audit.events_for_case(case.id)] == ["case.opened"]


# --- the submission -------------------------------------------------------------------------------------


def test_carried_outcomes_need_no_evidence_to_submit(who):
    factories.case_in_state("awarded", who)
    case = cases.open_case(who["candidate"], credential().id)
    cases.fire(case.id, "submit", who["candidate"])
    assert case.state == "submitted"
    assert evidence.items_of(case.id) == []


def test_outcomes_not_carried_over_still_need_evidence(who):
    earlier = factories.case_in_state("partially_awarded", who)
    met = {ao.outcome_id for ao in awards.award_for_case(earlier.id).outcomes}
    case = cases.open_case(who["candidate"], credential().id)
    db.session.commit()
    missing = [c.outcome.code for c in case.claims if c.outcome_id not in met]
    with pytest.raises(Refused) as refused:
        cases.fire(case.id, "submit", who["candidate"])
    reason = str(refused.value.reason)
    assert "Outcomes without evidence" in reason
    assert all(code in reason for code in missing)
    assert not any(c.outcome.code in reason for c in case.claims if c.outcome_id in met)
    db.session.rollback()
    case = db.session.get(Case, case.id)
    evidence.add_statement(case.id, who["candidate"], "The rest", "I did the rest too.",
                           [c.outcome_id for c in case.claims if c.outcome_id not in met])
    cases.fire(case.id, "submit", who["candidate"])
    assert case.state == "submitted"


# --- the assessor's confirmation or rejection ----------------------------------------------------------


@pytest.fixture
def in_review(who):  # type: ignore[no-untyped-def]
    earlier = factories.case_in_state("awarded", who)
    award = awards.award_for_case(earlier.id)
    case = to_review(cases.open_case(who["candidate"], credential().id), who)
    db.session.commit()
    return case, award, carried(case.id)


def test_confirm_records_a_met_decision_with_the_earlier_award_as_its_reason(who, in_review):
    case, award, rows = in_review
    first = rows[0]
    confirmed = stacking.decide(case.id, first.id, who["assessor"], "confirm", None, case.lock_version)
    db.session.commit()

    assert confirmed.status == "confirmed"
    assert confirmed.decided_by_id == who["assessor"].id and confirmed.decided_at is not None
    decision = db.session.execute(
        select(OutcomeDecision).where(OutcomeDecision.case_id == case.id)
    ).scalar_one()
    assert (decision.outcome_id, decision.verdict, decision.assessor_id) == (
        first.outcome_id, "met", who["assessor"].id
    )
    assert decision.rationale == f"Validated earlier in award {award.number}."
    assert decision.rationale == stacking.carried_rationale(award.number)
    events = [(e.action, audit.facts_of(e)) for e in audit.events_for_case(case.id)][-2:]
    assert events[0][0] == "decision.recorded"
    assert events[1] == ("carry_over.confirmed", {
        "carried_id": first.id, "outcome_id": first.outcome_id, "award_id": award.id, "decision_id": decision.id,
    })
    # The others are still offered, and confirming every one lets the case be recommended and awarded.
    for row in rows[1:]:
        stacking.decide(case.id, row.id, who["assessor"], "confirm", "Same bakery, same work.")
    cases.fire(case.id, "recommend", who["assessor"])
    cases.fire(case.id, "award", who["coordinator"])
    db.session.commit()
    new_award = awards.award_for_case(case.id)
    assert new_award is not None and new_award.kind == "full"
    assert carried(case.id)[-1].note == "Same bakery, same work."


def test_reject_needs_a_reason_and_leaves_the_outcome_to_an_ordinary_decision(who, in_review):
    case, award, rows = in_review
    first = rows[0]
    before = counts()
    for reason in (None, "   "):
        with pytest.raises(Invalid) as refused:
            stacking.decide(case.id, first.id, who["assessor"], "reject", reason)
        assert "reason" in refused.value.reason
        db.session.rollback()
    assert counts() == before

    rejected = stacking.decide(case.id, first.id, who["assessor"], "reject", "The recipe standards changed.")
    db.session.commit()
    assert (rejected.status, rejected.note, rejected.decided_by_id) == (
        "rejected", "The recipe standards changed.", who["assessor"].id
    )
    assert db.session.execute(  # no decision is recorded for it
        select(func.count()).select_from(OutcomeDecision).where(OutcomeDecision.case_id == case.id)
    ).scalar_one() == 0
    last = audit.events_for_case(case.id)[-1]
    assert (last.action, audit.facts_of(last)) == (
        "carry_over.rejected", {"carried_id": first.id, "outcome_id": first.outcome_id, "award_id": award.id}
    )
    # Confirming all the others is not enough: the rejected one needs a decision of its own.
    for row in rows[1:]:
        stacking.decide(case.id, row.id, who["assessor"], "confirm", None)
    with pytest.raises(Refused) as refused:
        cases.fire(case.id, "recommend", who["assessor"])
    assert first.outcome.code in str(refused.value.reason)
    db.session.rollback()


def test_a_rejected_outcome_counts_as_uncovered_for_the_resubmission(who, in_review):
    case, _award, rows = in_review
    first = rows[0]
    stacking.decide(case.id, first.id, who["assessor"], "reject", "Show it again, please.")
    cases.fire(case.id, "request_more_evidence", who["assessor"], "Evidence for the first outcome, please.")
    other = next(c.outcome_id for c in case.claims if c.outcome_id != first.outcome_id)
    evidence.add_statement(case.id, who["candidate"], "More", "More about another outcome.", [other])
    db.session.commit()
    with pytest.raises(Refused) as refused:
        cases.fire(case.id, "resubmit", who["candidate"])
    reason = str(refused.value.reason)
    assert "Outcomes without evidence" in reason and first.outcome.code in reason
    db.session.rollback()
    case = db.session.get(Case, case.id)
    evidence.add_statement(case.id, who["candidate"], "Bread", "Bread every night.", [first.outcome_id])
    cases.fire(case.id, "resubmit", who["candidate"])
    assert case.state == "under_review"


def test_a_repeated_or_stale_confirmation_changes_nothing(who, in_review):
    case, _award, rows = in_review
    first = rows[0]
    stale = case.lock_version
    stacking.decide(case.id, first.id, who["assessor"], "confirm", None, stale)
    db.session.commit()
    before = counts()
    with pytest.raises(Conflict) as again:
        stacking.decide(case.id, first.id, who["assessor"], "confirm", None, db.session.get(Case, case.id).lock_version)
    assert "already confirmed" in again.value.reason
    db.session.rollback()
    with pytest.raises(Conflict) as old_page:
        stacking.decide(case.id, rows[1].id, who["assessor"], "confirm", None, stale)
    assert "changed since you opened it" in old_page.value.reason
    db.session.rollback()
    stacking.decide(case.id, rows[1].id, who["assessor"], "reject", "Not the same.")
    db.session.commit()
    with pytest.raises(Conflict) as after_reject:
        stacking.decide(case.id, rows[1].id, who["assessor"], "confirm", None)
    assert "already rejected" in after_reject.value.reason
    db.session.rollback()
    assert counts()[1] == before[1]


def test_only_the_assigned_assessor_confirms_or_rejects(who, in_review):
    case, _award, rows = in_review
    before = counts()
    for person in ("other_assessor", "coordinator", "candidate", "admin"):
        for action, reason in (("confirm", None), ("reject", "No.")):
            with pytest.raises(Forbidden):
                stacking.decide(case.id, rows[0].id, who[person], action, reason)
            db.session.rollback()
    assert counts() == before


def test_a_carry_over_of_another_case_or_an_unknown_action_is_refused(who, in_review):
    case, _award, rows = in_review
    with pytest.raises(NotFound):
        stacking.decide(case.id, rows[-1].id + 1000, who["assessor"], "confirm", None)
    db.session.rollback()
    with pytest.raises(Invalid):
        stacking.decide(case.id, rows[0].id, who["assessor"], "approve", None)
    db.session.rollback()


def test_confirming_is_only_possible_while_decisions_are_open(who):
    factories.case_in_state("awarded", who)
    case = cases.open_case(who["candidate"], credential().id)
    cases.assign_assessor(case.id, who["assessor"].id, who["coordinator"])
    review.declare(case.id, who["assessor"], False, None)
    db.session.commit()
    row = carried(case.id)[0]
    with pytest.raises(Conflict) as refused:
        stacking.decide(case.id, row.id, who["assessor"], "confirm", None)
    assert "under review" in refused.value.reason
    db.session.rollback()
    assert carried(case.id)[0].status == "offered"


# --- the skills record ----------------------------------------------------------------------------------


def test_the_skills_record_lists_outcomes_of_awards_in_force_only(who):
    full = awards.award_for_case(factories.case_in_state("awarded", who, "UA-BAKERY").id)
    partial = awards.award_for_case(factories.case_in_state("partially_awarded", who, "GE-WELD-MMA").id)
    gone_case = factories.case_in_state("awarded", who, "AM-LINUX-TECH")
    awards.supersede(gone_case, who["coordinator"])
    factories.case_in_state("awarded", {**who, "candidate": who["other_candidate"]}, "MK-ROOF-INST")
    db.session.commit()

    groups = awards.skills_of(who["candidate"])
    by_code = {g.credential.code: g for g in groups}
    assert set(by_code) == {"UA-BAKERY", "GE-WELD-MMA"}
    assert [o.outcome.id for o in by_code["UA-BAKERY"].outcomes] == [o.id for o in credential("UA-BAKERY").outcomes]
    assert sorted(o.outcome.id for o in by_code["GE-WELD-MMA"].outcomes) == sorted(
        ao.outcome_id for ao in partial.outcomes
    )
    assert by_code["UA-BAKERY"].credits == full.credits_total
    assert by_code["GE-WELD-MMA"].credits == partial.credits_total
    assert all(o.awards == [full] for o in by_code["UA-BAKERY"].outcomes)
    assert awards.skills_of(who["coordinator"]) == []


def test_an_outcome_validated_twice_is_listed_once_with_both_awards(who):
    first = awards.award_for_case(factories.case_in_state("awarded", who).id)
    again = factories.case_in_state("awarded", who)  # carried over, then awarded again
    second = awards.award_for_case(again.id)
    db.session.commit()
    (group,) = awards.skills_of(who["candidate"])
    assert len(group.outcomes) == len(credential().outcomes)
    assert all(o.awards == [second, first] for o in group.outcomes)
    assert group.credits == first.credits_total


def test_the_skills_record_costs_two_queries_however_many_awards(who, app):
    from sqlalchemy import event

    factories.case_in_state("awarded", who, "UA-BAKERY")
    db.session.commit()
    counted: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        counted.append(statement)

    def queries() -> int:
        db.session.expire_all()
        holder = db.session.get(User, who["candidate"].id)
        counted.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            groups = awards.skills_of(holder)
            for g in groups:  # everything the page reads
                for o in g.outcomes:
                    _ = (g.credential.title, o.outcome.text, o.outcome.esco, [a.number for a in o.awards])
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(counted)

    one = queries()
    for code in ("GE-WELD-MMA", "AM-LINUX-TECH"):
        factories.case_in_state("awarded", who, code)
    db.session.commit()
    assert queries() == one <= 2
