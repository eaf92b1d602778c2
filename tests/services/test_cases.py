"""Cases through the services: opening, pinning the workflow, one open case per credential, awards."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from tests import factories
from validation.extensions import db
from validation.models import Award, AwardOutcome, Case, WorkflowVersion
from validation.services import assessment, audit, awards, cases, catalog
from validation.services.errors import Conflict, Forbidden

# An appeal keeps the award in force until a new decision (the appeal states here follow a partial award).
AWARDING = {"awarded", "partially_awarded", "appealed", "appeal_review", "appeal_dismissed"}


@pytest.fixture
def who(ctx):  # type: ignore[no-untyped-def]
    factories.load_catalog()
    people = factories.people()
    db.session.commit()
    return people


def bakery():  # type: ignore[no-untyped-def]
    credential = catalog.by_code("UA-BAKERY")
    assert credential is not None
    return credential


def test_open_case_pins_workflow_and_claims_every_outcome(who):
    credential = bakery()
    case = cases.open_case(who["candidate"], credential.id)
    db.session.commit()

    latest = cases.registry().latest(credential.workflow_key)
    assert (case.workflow_key, case.workflow_version) == ("standard", latest.version)
    assert case.state == latest.initial == "draft"
    assert case.submission_round == 1
    assert case.outcome is None and case.closed_at is None
    assert [c.outcome_id for c in case.claims] == [o.id for o in credential.outcomes]
    assert [c.position for c in case.claims] == list(range(1, len(credential.outcomes) + 1))
    # The pinned version's text is kept, so the case stays runnable if the file changes.
    row = db.session.get(WorkflowVersion, ("standard", latest.version))
    assert row is not None and row.digest == latest.digest and row.source_text == latest.source_text
    opened = [e for e in audit.events_for_case(case.id) if e.action == "case.opened"]
    assert len(opened) == 1
    assert audit.facts_of(opened[0])["workflow"] == f"standard:{latest.version}"
    assert audit.facts_of(opened[0])["outcomes_claimed"] == len(credential.outcomes)


def test_only_candidates_open_cases(who):
    with pytest.raises(Forbidden):
        cases.open_case(who["coordinator"], bakery().id)
    assert db.session.execute(select(func.count(Case.id))).scalar_one() == 0


def test_second_open_case_for_same_credential_is_refused_until_the_first_is_closed(who):
    credential = bakery()
    first = cases.open_case(who["candidate"], credential.id)
    db.session.commit()

    with pytest.raises(Conflict) as refused:
        cases.open_case(who["candidate"], credential.id)
    assert "already have an open case" in refused.value.reason
    db.session.rollback()
    assert db.session.execute(select(func.count(Case.id))).scalar_one() == 1

    # Another candidate, or another credential, is not affected.
    cases.open_case(who["other_candidate"], credential.id)
    welding = catalog.by_code("GE-WELD-MMA")
    assert welding is not None
    cases.open_case(who["candidate"], welding.id)
    db.session.commit()

    cases.fire(first.id, "withdraw", who["candidate"], "I moved to another city.")
    db.session.commit()
    assert first.outcome == "withdrawn"
    again = cases.open_case(who["candidate"], credential.id)
    db.session.commit()
    assert again.id != first.id and again.state == "draft"
    assert db.session.execute(
        select(func.count(Case.id)).where(Case.candidate_id == who["candidate"].id,
                                          Case.credential_id == credential.id)
    ).scalar_one() == 2


def test_database_refuses_a_second_open_case(who):
    """The partial unique index holds even if the service check were bypassed."""
    credential = bakery()
    first = cases.open_case(who["candidate"], credential.id)
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError) as refused:
        db.session.execute(
            sa.text(
                "INSERT INTO cases (candidate_id, credential_id, workflow_key, workflow_version, state, "
                "opened_at, state_entered_at, submission_round, updated_at, lock_version) "
                "SELECT candidate_id, credential_id, workflow_key, workflow_version, state, opened_at, "
                "state_entered_at, submission_round, updated_at, 1 FROM cases WHERE id = :id"
            ),
            {"id": first.id},
        )
    assert "unique" in str(refused.value).lower()
    db.session.rollback()
    # Once the first is closed, the same row is accepted.
    db.session.execute(sa.text("UPDATE cases SET outcome = 'withdrawn', state = 'withdrawn', "
                               "closed_at = CURRENT_TIMESTAMP WHERE id = :id"), {"id": first.id})
    db.session.execute(
        sa.text(
            "INSERT INTO cases (candidate_id, credential_id, workflow_key, workflow_version, state, "
            "opened_at, state_entered_at, submission_round, updated_at, lock_version) "
            "SELECT candidate_id, credential_id, workflow_key, workflow_version, 'draft', opened_at, "
            "state_entered_at, submission_round, updated_at, 1 FROM cases WHERE id = :id"
        ),
        {"id": first.id},
    )
    db.session.rollback()


@pytest.mark.parametrize("state", list(factories.PATHS))
def test_award_exists_only_in_awarding_end_states(who, state):
    case = factories.case_in_state(state, who)
    db.session.commit()
    award = awards.award_for_case(case.id)
    if state not in AWARDING:
        assert award is None
        assert db.session.execute(select(func.count(Award.id))).scalar_one() == 0
        return
    assert award is not None
    decisions = assessment.current_decisions(case.id)
    met = [c.outcome for c in case.claims if decisions[c.outcome_id].verdict == "met"]
    assert sorted(a.outcome_id for a in award.outcomes) == sorted(o.id for o in met)
    assert award.credits_total == sum((o.credits for o in met), Decimal("0"))
    assert award.kind == ("full" if state == "awarded" else "partial")
    assert award.holder_id == who["candidate"].id
    assert award.credential_id == case.credential_id
    assert award.issued_by_id == who["coordinator"].id
    assert award.number == f"VAL-{award.issued_at:%Y}-{award.id:06d}"
    assert case.awarded_at is not None and case.awarded_by_id == who["coordinator"].id
    issued = [e for e in audit.events_for_case(case.id) if e.action == "award.issued"]
    assert len(issued) == 1


def test_partial_award_lists_exactly_the_met_outcomes_and_their_credits(who):
    case = factories.case_in_state("under_review", who)
    claims = list(case.claims)
    met_codes = {"LO2", "LO4", "LO6"}
    for claim in claims:
        verdict = "met" if claim.outcome.code in met_codes else "not_met"
        assessment.record_decision(case.id, claim.outcome_id, who["assessor"], verdict,
                                   None if verdict == "met" else "Not shown.")
    # A later decision overrides an earlier one: LO6 ends up not met.
    lo6 = next(c for c in claims if c.outcome.code == "LO6")
    assessment.record_decision(case.id, lo6.outcome_id, who["assessor"], "not_met", "On second look, no.")
    cases.fire(case.id, "recommend", who["assessor"])
    cases.fire(case.id, "award_partially", who["coordinator"])
    db.session.commit()

    award = awards.award_for_case(case.id)
    assert award is not None and award.kind == "partial"
    assert sorted(a.outcome.code for a in award.outcomes) == ["LO2", "LO4"]
    # UA-BAKERY: LO2 1.5 + LO4 1.5 credits.
    assert award.credits_total == Decimal("3.00")
    credits = {a.outcome.code: a.credits for a in award.outcomes}
    assert credits == {"LO2": Decimal("1.5"), "LO4": Decimal("1.5")}
    assert db.session.execute(select(func.count()).select_from(AwardOutcome)).scalar_one() == 2


def test_full_award_credits_are_the_sum_of_all_outcomes(who):
    case = factories.case_in_state("awarded", who)
    db.session.commit()
    award = awards.award_for_case(case.id)
    assert award is not None
    credential = bakery()
    assert len(award.outcomes) == len(credential.outcomes)
    assert award.credits_total == sum((o.credits for o in credential.outcomes), Decimal("0"))
    assert award.credits_total == credential.credits_value


def test_database_refuses_an_awarded_case_without_date_or_awarder(who):
    case = factories.case_in_state("draft", who)
    db.session.commit()
    for missing in ("awarded_at", "awarded_by_id"):
        values = {"awarded_at": "awarded_at = CURRENT_TIMESTAMP", "awarded_by_id": "awarded_by_id = :user"}
        values.pop(missing)
        with pytest.raises(sa.exc.IntegrityError) as refused:
            db.session.execute(
                sa.text(
                    "UPDATE cases SET outcome = 'awarded', state = 'awarded', closed_at = CURRENT_TIMESTAMP, "
                    + ", ".join(values.values()) + " WHERE id = :id"
                ),
                {"id": case.id, "user": who["coordinator"].id},
            )
        assert "awarded_has_date_and_user" in str(refused.value)
        db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Case, case.id).outcome is None
    # With both, the same update is accepted: the refusal was the check, not the statement.
    db.session.execute(
        sa.text(
            "UPDATE cases SET outcome = 'awarded', state = 'awarded', closed_at = CURRENT_TIMESTAMP, "
            "awarded_at = CURRENT_TIMESTAMP, awarded_by_id = :user WHERE id = :id"
        ),
        {"id": case.id, "user": who["coordinator"].id},
    )
    db.session.rollback()
