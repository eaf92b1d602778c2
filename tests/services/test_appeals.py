"""Appeals through the services: the period, the appeal on record, fresh eyes for the review, and what
stays on record after it (the decision appealed against, superseded awards)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

import workflows
from tests import factories
from validation.extensions import db
from validation.models import Appeal, AuditEvent, Award, Case, User, utcnow
from validation.services import appeals, awards, cases, catalog, moderation
from validation.services.errors import Conflict

REASON = "The assessor did not see the video of my work."


@pytest.fixture
def who(ctx):  # type: ignore[no-untyped-def]
    factories.load_catalog()
    people = factories.people()
    db.session.commit()
    return people


def counts() -> tuple[int, int, int]:
    def count(model: type) -> int:
        return int(db.session.execute(select(func.count()).select_from(model)).scalar_one())

    return count(AuditEvent), count(Appeal), count(Award)


def decided(who: dict[str, User]) -> Case:
    return factories.case_in_state("partially_awarded", who)


def test_the_deadline_is_the_decision_plus_the_credentials_appeal_period(who):
    case = decided(who)
    assert case.closed_at is not None
    assert appeals.deadline(case) == case.closed_at + timedelta(days=30)
    credential = catalog.by_code("UA-BAKERY")
    assert credential is not None
    moderation.set_policy(credential.id, who["admin"], moderate_first=0, moderate_percent=0, blind=False,
                          appeal_days=7)
    assert appeals.deadline(case) == case.closed_at + timedelta(days=7)
    assert appeals.may_still_appeal(case)
    assert not appeals.may_still_appeal(case, now=case.closed_at + timedelta(days=8))


def test_an_open_case_has_nothing_to_appeal(who):
    case = factories.case_in_state("recommended", who)
    assert appeals.deadline(case) is None
    assert not appeals.may_still_appeal(case)


def test_an_appeal_keeps_its_reason_the_decision_and_the_award_appealed_against(who):
    case = decided(who)
    award = awards.award_for_case(case.id)
    cases.fire(case.id, "appeal", who["candidate"], REASON)
    (appeal,) = appeals.appeals_of(case.id)
    assert (appeal.reason, appeal.against_state, appeal.status) == (REASON, "partially_awarded", "lodged")
    assert award is not None and appeal.award_id == award.id
    assert appeal.decided_by_id == who["assessor"].id
    assert not appeals.may_still_appeal(case)
    assert [u.id for u in appeals.deciders(case)] == [who["assessor"].id]
    standing = appeals.decisions_appealed([appeal])[appeal.id]
    assert {d.outcome_id for d in standing.values()} == {c.outcome_id for c in cases.claimed(case)}


def test_an_appeal_after_the_period_is_refused_and_changes_nothing(who):
    case = decided(who)
    case.closed_at = utcnow() - timedelta(days=31)
    db.session.commit()
    before = counts()
    with pytest.raises(workflows.Refused) as refusal:
        cases.fire(case.id, "appeal", who["candidate"], REASON)
    assert "has ended" in str(refusal.value.messages[0].template)
    db.session.rollback()
    assert counts() == before
    assert db.session.get(Case, case.id).state == "partially_awarded"  # type: ignore[union-attr]


def test_the_review_needs_an_assessor_who_has_not_decided_the_case(who):
    case = factories.case_in_state("appealed", who)
    db.session.commit()
    before = counts()
    with pytest.raises(workflows.Refused):
        cases.fire(case.id, "start_appeal_review", who["coordinator"])
    db.session.rollback()
    assert counts() == before
    case = db.session.get(Case, case.id)
    cases.assign_assessor(case.id, who["other_assessor"].id, who["coordinator"])
    cases.fire(case.id, "start_appeal_review", who["coordinator"])
    (appeal,) = appeals.appeals_of(case.id)
    assert (appeal.status, appeal.reviewer_id) == ("in_review", who["other_assessor"].id)


def test_an_upheld_appeal_leads_to_a_new_award_and_the_old_one_stays_superseded(who):
    case = factories.case_in_state("appeal_review", who)
    old = awards.award_for_case(case.id)
    assert old is not None
    factories.decide_all(case, who["other_assessor"], ["met"] * len(case.claims))
    cases.fire(case.id, "uphold_appeal", who["other_assessor"], "The video shows every outcome.")
    assert (case.state, case.outcome, case.closed_at) == ("recommended", None, None)
    cases.fire(case.id, "award", who["coordinator"])
    new = awards.award_for_case(case.id)
    assert new is not None and new.id != old.id and new.kind == "full"
    on_record = appeals.awards_of_case(case.id)
    assert [a.id for a in on_record] == [old.id, new.id]
    assert on_record[0].superseded_at is not None and on_record[1].superseded_at is None
    (appeal,) = appeals.appeals_of(case.id)
    assert (appeal.status, appeal.result_reason) == ("upheld", "The video shows every outcome.")
    # What was appealed against is still there: the partial decision, one outcome not met.
    standing = appeals.decisions_appealed([appeal])[appeal.id]
    assert {d.verdict for d in standing.values()} == {"met", "not_met"}


def test_a_dismissed_appeal_leaves_the_award_in_force(who):
    case = factories.case_in_state("appeal_review", who)
    award = awards.award_for_case(case.id)
    cases.fire(case.id, "dismiss_appeal", who["other_assessor"], "The video shows the work only in part.")
    assert case.state == "appeal_dismissed"
    assert awards.award_for_case(case.id) is award and award is not None and award.superseded_at is None
    (appeal,) = appeals.appeals_of(case.id)
    assert appeal.status == "dismissed" and appeal.closed_by_id == who["other_assessor"].id
    assert [a.id for a in appeals.awards_of_case(case.id)] == [award.id]


def test_a_second_appeal_while_one_is_under_way_is_refused(who):
    case = factories.case_in_state("appealed", who)
    case.state = "partially_awarded"  # as if the case had moved on without closing its appeal
    db.session.flush()
    with pytest.raises(Conflict):
        appeals.after_transition(case, "appeal", "partially_awarded", REASON, who["candidate"])
