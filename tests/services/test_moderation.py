"""Moderation through the services: the admin's rule, the draw at each recommendation (and what it kept),
the choice of a moderator, the moderator's views (all or nothing) and blind mode."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests import factories
from validation.extensions import db
from validation.models import AuditEvent, Case, CredentialPolicy, Moderation, ModerationView, User
from validation.services import cases, catalog, moderation
from validation.services.errors import Conflict, Forbidden, Invalid, NotFound


@pytest.fixture
def who(ctx):  # type: ignore[no-untyped-def]
    factories.load_catalog()
    people = factories.people()
    people["third_assessor"] = factories.user("assessor", "third-assessor@test.example", "Third assessor")
    factories.qualify(people["third_assessor"], people["admin"])
    db.session.commit()
    return people


def bakery_id() -> int:
    credential = catalog.by_code("UA-BAKERY")
    assert credential is not None
    return credential.id


def rule(who: dict[str, User], **values: object) -> None:
    settings: dict[str, object] = {"moderate_first": 0, "moderate_percent": 0, "blind": False, "appeal_days": 30}
    settings.update(values)
    moderation.set_policy(bakery_id(), who["admin"], **settings)  # type: ignore[arg-type]


def counts() -> tuple[int, int, int, int]:
    def count(model: type) -> int:
        return int(db.session.execute(select(func.count()).select_from(model)).scalar_one())

    return count(AuditEvent), count(CredentialPolicy), count(Moderation), count(ModerationView)


def recommended(who: dict[str, User], candidate: str = "candidate") -> Case:
    return factories.case_in_state("recommended", {**who, "candidate": who[candidate]})


def in_moderation(who: dict[str, User], blind: bool = False) -> Case:
    """A recommendation with every outcome met, selected because the rule samples all of them, with the
    other assessor moderating it."""
    rule(who, moderate_percent=100, blind=blind)
    case = recommended(who)
    moderation.assign_moderator(case.id, who["other_assessor"].id, who["coordinator"])
    cases.fire(case.id, "send_to_moderation", who["coordinator"])
    return case


# --- the rule ------------------------------------------------------------------------------------------


def test_a_credential_without_a_rule_follows_the_defaults_and_the_admin_sets_one(who):
    rows = {r.credential.id: r for r in moderation.policies()}
    assert rows[bakery_id()].row is None
    assert rows[bakery_id()].rule == moderation.Rule(**moderation.DEFAULT_POLICY)

    rule(who, moderate_first=3, moderate_percent=20, blind=True, appeal_days=14)

    row = {r.credential.id: r for r in moderation.policies()}[bakery_id()]
    assert row.rule == moderation.Rule(3, 20, True, 14)
    assert row.row is not None and row.row.updated_by_id == who["admin"].id
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "policy.set")).scalar_one()


@pytest.mark.parametrize(
    ("actor", "values", "error"),
    [
        ("coordinator", {}, Forbidden),
        ("admin", {"moderate_percent": 101}, Invalid),
        ("admin", {"moderate_first": -1}, Invalid),
        ("admin", {"appeal_days": 0}, Invalid),
        ("admin", {"appeal_days": 366}, Invalid),
    ],
)
def test_a_rule_out_of_bounds_or_not_from_an_admin_is_refused_and_changes_nothing(who, actor, values, error):
    before = counts()
    with pytest.raises(error):
        moderation.set_policy(bakery_id(), who[actor], **{"moderate_first": 0, "moderate_percent": 0,
                                                          "blind": False, "appeal_days": 30, **values})
    assert counts() == before


def test_a_rule_for_a_credential_that_does_not_exist_is_not_found(who):
    before = counts()
    with pytest.raises(NotFound):
        moderation.set_policy(999_999, who["admin"], moderate_first=0, moderate_percent=0, blind=False,
                              appeal_days=30)
    assert counts() == before


# --- the draw ------------------------------------------------------------------------------------------


def test_every_recommendation_is_selected_at_one_hundred_percent_and_the_rule_is_kept(who):
    rule(who, moderate_percent=100)
    case = recommended(who)
    record = moderation.current(case)
    assert record is not None
    assert (record.selected, record.reason, record.status) == (True, "sampled", "selected")
    assert "100 % at random" in record.rule
    assert record.assessor_id == who["assessor"].id


def test_no_recommendation_is_selected_at_zero_percent(who):
    rule(who, moderate_percent=0)
    record = moderation.current(recommended(who))
    assert record is not None
    assert (record.selected, record.reason, record.status) == (False, "not_selected", "not_selected")
    assert "0 % at random" in record.rule


def test_the_assessors_first_cases_are_selected_then_no_more(who):
    rule(who, moderate_first=1)
    first = moderation.current(recommended(who))
    second = moderation.current(recommended(who, candidate="other_candidate"))
    assert first is not None and second is not None
    assert (first.selected, first.reason) == (True, "first_cases")
    assert "first 1 cases (this assessor's earlier cases: 0)" in first.rule
    assert (second.selected, second.reason) == (False, "not_selected")
    assert "earlier cases: 1" in second.rule


def test_a_no_award_is_always_selected_whatever_the_rule(who):
    rule(who, moderate_percent=0)
    case = factories.case_in_state("moderation", who)  # every outcome judged not met on the way
    record = moderation.history(case.id)[0]
    assert (record.selected, record.reason) == (True, "no_award")


# --- the moderator -------------------------------------------------------------------------------------


def test_the_moderator_is_never_the_first_assessor(who):
    rule(who, moderate_percent=100)
    case = recommended(who)
    assert {u.id for u in moderation.moderator_choices(case)} == {who["other_assessor"].id, who["third_assessor"].id}
    before = counts()
    with pytest.raises(Invalid, match="another assessor than the one who recommended"):
        moderation.assign_moderator(case.id, who["assessor"].id, who["coordinator"])
    with pytest.raises(Invalid, match="Choose an active assessor"):
        moderation.assign_moderator(case.id, who["coordinator"].id, who["coordinator"])
    with pytest.raises(Forbidden):
        moderation.assign_moderator(case.id, who["other_assessor"].id, who["assessor"])
    assert counts() == before
    assert case.moderator_id is None

    moderation.assign_moderator(case.id, who["other_assessor"].id, who["coordinator"])
    assert case.moderator_id == who["other_assessor"].id
    assert moderation.current(case).moderator_id == who["other_assessor"].id  # type: ignore[union-attr]


def test_a_recommendation_that_was_not_selected_gets_no_moderator(who):
    rule(who, moderate_percent=0)
    case = recommended(who)
    assert not moderation.waiting_for_moderator(case, moderation.current(case))
    before = counts()
    with pytest.raises(Conflict):
        moderation.assign_moderator(case.id, who["other_assessor"].id, who["coordinator"])
    assert counts() == before


def test_views_are_all_or_nothing_and_an_unchanged_view_is_not_kept_twice(who):
    case = in_moderation(who)
    outcomes = [c.outcome_id for c in cases.claimed(case)]
    moderator = who["other_assessor"]
    before = counts()
    views = {o: (True, None) for o in outcomes} | {outcomes[-1]: (False, "  ")}
    with pytest.raises(Invalid, match="Give a reason when you disagree"):
        moderation.record_views(case.id, moderator, views)
    assert counts() == before

    recorded = moderation.record_views(case.id, moderator, {o: (True, None) for o in outcomes})
    assert len(recorded) == len(outcomes)
    again = moderation.record_views(case.id, moderator, {o: (True, None) for o in outcomes}
                                    | {outcomes[0]: (False, "Not shown at work.")})
    assert [v.outcome_id for v in again] == [outcomes[0]]
    latest = moderation.latest_views(moderation.current(case))  # type: ignore[arg-type]
    assert latest[outcomes[0]].agrees is False and latest[outcomes[0]].reason == "Not shown at work."


def test_only_the_moderator_gives_views_and_only_in_moderation(who):
    case = in_moderation(who)
    outcome = cases.claimed(case)[0].outcome_id
    before = counts()
    with pytest.raises(Forbidden):
        moderation.record_views(case.id, who["assessor"], {outcome: (True, None)})
    with pytest.raises(Forbidden):
        moderation.record_views(case.id, who["third_assessor"], {outcome: (True, None)})
    with pytest.raises(Conflict):
        moderation.record_views(case.id, who["other_assessor"], {outcome: (True, None)}, case.lock_version - 1)
    assert counts() == before


def test_blind_mode_hides_the_decisions_from_the_moderator_until_every_view_is_given(who):
    case = in_moderation(who, blind=True)
    moderator = who["other_assessor"]
    outcomes = [c.outcome_id for c in cases.claimed(case)]
    assert not moderation.may_see_decisions(moderator, case)
    assert moderation.may_see_decisions(who["assessor"], case)
    assert moderation.may_see_decisions(who["coordinator"], case)
    moderation.record_views(case.id, moderator, {o: (True, None) for o in outcomes[:-1]})
    assert not moderation.may_see_decisions(moderator, case)
    moderation.record_views(case.id, moderator, {outcomes[-1]: (True, None)})
    assert moderation.may_see_decisions(moderator, case)


def test_without_blind_mode_the_moderator_sees_the_decisions_at_once(who):
    case = in_moderation(who, blind=False)
    assert moderation.may_see_decisions(who["other_assessor"], case)
