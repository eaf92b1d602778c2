"""Assessment: the assigned assessor's decision per claimed outcome, appended and never overwritten."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, bindparam, func, or_, select

from validation.extensions import db
from validation.models import Appeal, Case, CaseClaim, OutcomeDecision, User, utcnow
from validation.models.assessment import VERDICTS
from validation.services import access, audit, presence
from validation.services.errors import Conflict, Forbidden, Invalid

# Decisions are open while the case can still be recommended (in review, or in the review of an appeal):
# once it has left review, they are closed.
DECISION_TRIGGERS = frozenset({"recommend", "uphold_appeal"})


def standing() -> ColumnElement[bool]:
    """The decisions that can be a case's current ones: all but those recorded in the review of an appeal
    that was dismissed. Those stay on record as the reviewer's judgement, but a dismissed appeal leaves the
    decision appealed against (and the award it rests on) in force."""
    dismissed = select(Appeal.id).where(Appeal.status == "dismissed")
    return or_(OutcomeDecision.appeal_id.is_(None), OutcomeDecision.appeal_id.not_in(dismissed))


#: Read by every case page, so built once.
_CURRENT_DECISIONS = select(OutcomeDecision).where(
    OutcomeDecision.id.in_(
        select(func.max(OutcomeDecision.id))
        .where(OutcomeDecision.case_id == bindparam("case_id"), standing())
        .group_by(OutcomeDecision.outcome_id)
    )
)


def current_decisions(case_id: int) -> dict[int, OutcomeDecision]:
    """The newest standing decision per outcome of a case."""
    if presence.empty(case_id, "outcome_decisions"):
        return {}
    rows = db.session.execute(_CURRENT_DECISIONS, {"case_id": case_id}).scalars()
    return {d.outcome_id: d for d in rows}


def decisions_open(case: Case) -> bool:
    from validation.services.cases import definition_for

    definition = definition_for(case)
    if definition.state(case.state).outcome is not None:
        return False
    return any(t.trigger in DECISION_TRIGGERS for t in definition.triggers_from(case.state))


def record_decision(
    case_id: int,
    outcome_id: int,
    actor: User,
    verdict: str,
    rationale: str | None,
    criteria_met: Sequence[int] = (),
    expected_version: int | None = None,
) -> OutcomeDecision:
    """Record the assessor's judgement of one claimed outcome (in an appeal's review, as part of it)."""
    from validation.services.appeals import open_appeal
    from validation.services.cases import check_version

    if actor.role != "assessor":
        raise Forbidden("Only the assigned assessor records decisions.")
    case = access.case_to_act_on(actor, case_id)
    check_version(case, expected_version)
    if not decisions_open(case):
        raise Conflict("Decisions can only be recorded while the case is under review.")
    if case.assessor_id != actor.id:
        raise Forbidden("Only the assigned assessor records decisions.")
    claim = db.session.get(CaseClaim, (case.id, outcome_id))
    if claim is None or claim.self_assessment == "not_yet":
        raise Invalid("This learning outcome is not part of the case.")
    if verdict not in VERDICTS:
        raise Invalid("Choose met, not yet met, or more evidence needed.")
    rationale = (rationale or "").strip() or None
    if verdict != "met" and rationale is None:
        raise Invalid("Give a reason when an outcome is not met or needs more evidence.")
    count = len(claim.outcome.criteria)
    criteria = sorted({int(i) for i in criteria_met})
    if any(i < 0 or i >= count for i in criteria):
        raise Invalid("A criterion that this outcome does not have was ticked.")
    decision = OutcomeDecision(
        case_id=case.id,
        outcome_id=outcome_id,
        assessor_id=actor.id,
        verdict=verdict,
        rationale=rationale,
        criteria_met=criteria,
        submission_round=case.submission_round,
    )
    appeal = open_appeal(case.id)
    if appeal is not None and appeal.status == "in_review":
        decision.appeal_id = appeal.id
    db.session.add(decision)
    case.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "decision.recorded",
        actor=actor,
        case=case,
        decision_id=decision.id,
        outcome_id=outcome_id,
        verdict=verdict,
        criteria_met=len(criteria),
    )
    return decision
