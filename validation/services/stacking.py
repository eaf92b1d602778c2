"""Stackability: outcomes a candidate already has validated count again in a new case.

When a case is opened, each outcome of its credential that an award of the same person still in force
already validated (the very same outcome, or an outcome of another credential sharing an ESCO skill) is
offered as carried over: the earlier award is its evidence, so the candidate need not add any. The case's
assessor then confirms it (a "met" decision, through the ordinary decision record) or rejects it with a
reason (the outcome then needs evidence and an ordinary decision like any other).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import selectinload

from validation.extensions import db
from validation.models import Award, AwardOutcome, CarriedOutcome, Case, LearningOutcome, User, utcnow
from validation.services import assessment, audit, credentials, presence
from validation.services.errors import Conflict, Invalid, NotFound

#: Stored as the rationale of the "met" decision a confirmation records. It is data, kept in English like
#: every stored text; the pages translate it when they show it (see web/review.py, the `rationale` filter).
CARRIED_RATIONALE = "Validated earlier in award %(number)s."
#: The carry-overs that stand for evidence: offered (not judged yet) or confirmed. A rejected one does not.
COVERING = ("offered", "confirmed")
ACTIONS = ("confirm", "reject")


def carried_rationale(number: str) -> str:
    return CARRIED_RATIONALE % {"number": number}


@dataclass(frozen=True)
class _Validated:
    """One outcome validated in one award of the holder that is still in force."""

    outcome_id: int
    award_id: int
    esco: frozenset[str]


def _validated_for(holder_id: int) -> list[_Validated]:
    """Every outcome validated in the holder's awards in force, newest award first, in one query."""
    rows = db.session.execute(
        select(AwardOutcome.outcome_id, Award.id, LearningOutcome.esco)
        .join(Award, Award.id == AwardOutcome.award_id)
        .join(LearningOutcome, LearningOutcome.id == AwardOutcome.outcome_id)
        .where(Award.holder_id == holder_id, credentials.award_stands())
        .order_by(Award.issued_at.desc(), Award.id.desc(), AwardOutcome.outcome_id)
    ).all()
    return [_Validated(outcome_id, award_id, _uris(esco)) for outcome_id, award_id, esco in rows]


def _uris(esco: list[str] | None) -> frozenset[str]:
    return frozenset(u.strip() for u in (esco or []) if isinstance(u, str) and u.strip())


def _match(outcome: LearningOutcome, validated: list[_Validated]) -> tuple[_Validated, str] | None:
    """The earlier validation of this outcome: the same outcome first, else one sharing an ESCO skill;
    among several, the newest award."""
    same = next((v for v in validated if v.outcome_id == outcome.id), None)
    if same is not None:
        return same, "same"
    skills = _uris(outcome.esco)
    if skills:
        shared = next((v for v in validated if v.esco & skills), None)
        if shared is not None:
            return shared, "esco"
    return None


def offer(case: Case, candidate: User) -> list[CarriedOutcome]:
    """On opening a case: offer each outcome the candidate already has validated as carried over, each with
    its audit event. Called by cases.open_case once the case and its claims are flushed."""
    validated = _validated_for(candidate.id)
    if not validated:
        return []
    offered: list[CarriedOutcome] = []
    for claim in case.claims:
        found = _match(claim.outcome, validated)
        if found is None:
            continue
        earlier, how = found
        carried = CarriedOutcome(
            case_id=case.id,
            outcome_id=claim.outcome_id,
            award_id=earlier.award_id,
            from_outcome_id=earlier.outcome_id,
            status="offered",
        )
        db.session.add(carried)
        db.session.flush()
        audit.record(
            "carry_over.offered",
            actor=candidate,
            case=case,
            carried_id=carried.id,
            outcome_id=carried.outcome_id,
            award_id=carried.award_id,
            from_outcome_id=carried.from_outcome_id,
            match=how,
        )
        offered.append(carried)
    return offered


def covering_outcomes(case_id: int) -> set[int]:
    """The outcomes of a case whose earlier award stands for evidence (offered or confirmed carry-overs)."""
    return set(
        db.session.execute(
            select(CarriedOutcome.outcome_id).where(
                CarriedOutcome.case_id == case_id, CarriedOutcome.status.in_(COVERING)
            )
        ).scalars()
    )


def carried_of(case_id: int) -> dict[int, CarriedOutcome]:
    """The carry-overs of a case by outcome id, with their award, its credential and the earlier outcome: one
    query, and two more only when there are carry-overs (most cases have none, and a query joined to three
    tables cost a fifteenth of the case page to set up even when it found nothing)."""
    if presence.empty(case_id, "carried_outcomes"):
        return {}
    rows = db.session.execute(_CARRIED_OF, {"case_id": case_id}).scalars()
    return {c.outcome_id: c for c in rows}


#: Read by every case page, so built once.
_CARRIED_OF = (
    select(CarriedOutcome)
    .where(CarriedOutcome.case_id == bindparam("case_id"))
    .options(selectinload(CarriedOutcome.award).joinedload(Award.credential), selectinload(CarriedOutcome.from_outcome))
)


def decide(
    case_id: int,
    carried_id: int,
    actor: User,
    action: str,
    reason: str | None,
    expected_version: int | None = None,
) -> CarriedOutcome:
    """The assigned assessor confirms a carried-over outcome (recorded as met, with the earlier award as
    its reason) or rejects it with a reason (it then needs an ordinary decision). Each is audited; a
    carry-over already confirmed or rejected is left as it is."""
    from validation.services import review

    case = review.assigned_assessor_case(
        actor, case_id, expected_version,
        "Only the assigned assessor confirms or rejects outcomes validated earlier.",
    )
    carried = db.session.get(CarriedOutcome, carried_id)
    if carried is None or carried.case_id != case.id:
        raise NotFound("There is no such outcome validated earlier in this case.")
    if carried.status == "confirmed":
        raise Conflict("This outcome was already confirmed as validated earlier: nothing was changed.")
    if carried.status == "rejected":
        raise Conflict("This outcome validated earlier was already rejected: nothing was changed.")
    if action not in ACTIONS:
        raise Invalid("Choose to confirm or to reject the outcome validated earlier.")
    reason = (reason or "").strip() or None
    now = utcnow()
    if action == "confirm":
        decision = assessment.record_decision(
            case.id, carried.outcome_id, actor, "met", carried_rationale(carried.award.number)
        )
        carried.status = "confirmed"
        facts: dict[str, int] = {"decision_id": decision.id}
    else:
        if reason is None:
            raise Invalid("Give a reason for rejecting the outcome validated earlier.")
        carried.status = "rejected"
        facts = {}
    carried.decided_by_id = actor.id
    carried.decided_at = now
    carried.note = reason
    case.updated_at = now
    db.session.flush()
    audit.record(
        f"carry_over.{carried.status}",
        actor=actor,
        case=case,
        carried_id=carried.id,
        outcome_id=carried.outcome_id,
        award_id=carried.award_id,
        **facts,
    )
    return carried
