"""Appeals: within the credential's appeal period after a decision, the candidate may appeal with a reason.

The coordinator assigns an assessor who has not decided the case before and starts the review; that
assessor records new decisions and upholds the appeal (the case goes back to a recommendation, and a new
decision brings a new award, the old one superseded) or dismisses it with reasons (the decision stands).
The decision appealed against, its award and its reasons stay on record either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select

from validation.extensions import db
from validation.models import Appeal, Award, Case, OutcomeDecision, User, utcnow
from validation.models.quality import OPEN_APPEAL
from validation.services import assessment, audit, presence
from validation.services.errors import Conflict

DECISION_STATES = ("awarded", "partially_awarded", "not_awarded")


def open_appeal(case_id: int) -> Appeal | None:
    return db.session.execute(
        select(Appeal).where(Appeal.case_id == case_id, Appeal.status.in_(OPEN_APPEAL))
    ).scalar_one_or_none()


_APPEALS_OF = select(Appeal).where(Appeal.case_id == bindparam("case_id")).order_by(Appeal.id)
_AWARDS_OF = select(Award).where(Award.case_id == bindparam("case_id")).order_by(Award.id)


def appeals_of(case_id: int) -> list[Appeal]:
    if presence.empty(case_id, "appeals"):
        return []
    return list(db.session.execute(_APPEALS_OF, {"case_id": case_id}).scalars())


def deadline(case: Case) -> datetime | None:
    """Until when the candidate may appeal the decision the case rests on (None: nothing to appeal)."""
    from validation.services.moderation import policy_for

    if case.state not in DECISION_STATES or case.closed_at is None:
        return None
    return case.closed_at + timedelta(days=policy_for(case.credential_id).appeal_days)


def may_still_appeal(case: Case, now: datetime | None = None) -> bool:
    """The decision can be appealed now: within the period, and no appeal against it is under way."""
    until = deadline(case)
    return until is not None and (now or utcnow()) <= until and open_appeal(case.id) is None


def awards_of_case(case_id: int) -> list[Award]:
    """Every award the case has had, oldest first: one superseded after an upheld appeal stays on record."""
    if presence.empty(case_id, "awards"):
        return []
    return list(db.session.execute(_AWARDS_OF, {"case_id": case_id}).scalars())


def decisions_appealed(appeals: Sequence[Appeal]) -> dict[int, dict[int, OutcomeDecision]]:
    """Per appeal (of one case), the decision on each outcome that stood when it was lodged, in one query: a
    review's new decisions replace them as the case's current ones, but what was appealed against stays
    readable."""
    lodged = {a.id: a.lodged_at for a in appeals}
    if not lodged:
        return {}
    decisions = db.session.execute(
        select(OutcomeDecision)
        .where(OutcomeDecision.case_id == appeals[0].case_id, assessment.standing())
        .order_by(OutcomeDecision.id)
    ).scalars().all()
    result: dict[int, dict[int, OutcomeDecision]] = {}
    for appeal_id, moment in lodged.items():
        standing: dict[int, OutcomeDecision] = {}
        for decision in decisions:
            if decision.decided_at <= moment:
                standing[decision.outcome_id] = decision
        result[appeal_id] = standing
    return result


def review_decisions(appeals: Sequence[Appeal]) -> dict[int, dict[int, OutcomeDecision]]:
    """Per appeal (of one case), the newest decision its reviewer recorded on each outcome, in one query. After
    a dismissal they are on record only: the decisions appealed against stay in force."""
    if not appeals:
        return {}
    result: dict[int, dict[int, OutcomeDecision]] = {}
    for decision in db.session.execute(
        select(OutcomeDecision)
        .where(OutcomeDecision.appeal_id.in_([a.id for a in appeals]))
        .order_by(OutcomeDecision.id)
    ).scalars():
        assert decision.appeal_id is not None
        result.setdefault(decision.appeal_id, {})[decision.outcome_id] = decision
    return result


def deciders(case: Case) -> list[User]:
    """The assessors who decided on the case before its open appeal: none of them may review it."""
    ids = _deciders(case, open_appeal(case.id))
    if not ids:
        return []
    return list(db.session.execute(select(User).where(User.id.in_(ids)).order_by(User.display_name)).scalars())


def _deciders(case: Case, appeal: Appeal | None) -> set[int]:
    """Everyone who decided on the case before the appeal: none of them reviews it."""
    until = appeal.lodged_at if appeal is not None else utcnow()
    ids = set(
        db.session.execute(
            select(OutcomeDecision.assessor_id).where(
                OutcomeDecision.case_id == case.id, OutcomeDecision.decided_at <= until
            )
        ).scalars()
    )
    if appeal is not None:
        ids.add(appeal.decided_by_id)
    return ids


def facts_for(case: Case) -> dict[str, object]:
    from validation.services.moderation import policy_for

    days = policy_for(case.credential_id).appeal_days
    until = deadline(case)
    appeal = open_appeal(case.id)
    fresh = case.assessor_id is not None and case.assessor_id not in _deciders(case, appeal)
    return {
        "appeal_days": days,
        "appeal_open": until is not None and utcnow() <= until and appeal is None,
        "fresh_assessor_assigned": fresh,
    }


def after_transition(case: Case, trigger: str, source: str, reason: str | None, actor: User) -> None:
    """Keep the appeal record in step with the case (called by `cases.fire`)."""
    from validation.services.awards import award_for_case

    if trigger == "appeal":
        if open_appeal(case.id) is not None:
            raise Conflict("An appeal against this decision is already under way.")
        award = award_for_case(case.id)
        decided_by = case.assessor_id
        assert decided_by is not None, "a decided case had an assessor"
        appeal = Appeal(
            case_id=case.id, against_state=source, award_id=award.id if award else None,
            decided_by_id=decided_by, reason=reason or "", status="lodged",
        )
        db.session.add(appeal)
        db.session.flush()
        audit.record("appeal.lodged", actor=actor, case=case, appeal_id=appeal.id, against=source)
        return
    appeal = open_appeal(case.id)
    if appeal is None:
        return
    if trigger == "start_appeal_review":
        appeal.status = "in_review"
        appeal.reviewer_id = case.assessor_id
    elif trigger in ("uphold_appeal", "dismiss_appeal"):
        appeal.status = "upheld" if trigger == "uphold_appeal" else "dismissed"
        appeal.result_reason = reason
        appeal.closed_at = utcnow()
        appeal.closed_by_id = actor.id
    else:
        return
    db.session.flush()
    audit.record(f"appeal.{appeal.status}", actor=actor, case=case, appeal_id=appeal.id)
