"""Awards: issued when a case reaches an awarding end state, listing exactly the outcomes found met, each
with its signed credential (services.credentials) made in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload, selectinload

from validation.extensions import db
from validation.models import Award, AwardOutcome, CarriedOutcome, Case, Credential, LearningOutcome, User, utcnow
from validation.services import audit, credentials, presence
from validation.services.assessment import current_decisions
from validation.services.cases import claimed
from validation.services.errors import Forbidden, NotFound


def issue(case: Case, actor: User) -> Award:
    decisions = current_decisions(case.id)
    met = [
        claim.outcome
        for claim in claimed(case)
        if getattr(decisions.get(claim.outcome_id), "verdict", None) == "met"
    ]
    kind = "full" if case.outcome == "awarded" else "partial"
    award = Award(
        case_id=case.id,
        number=f"pending-{case.id}",
        kind=kind,
        holder_id=case.candidate_id,
        credential_id=case.credential_id,
        credits_total=sum((o.credits for o in met), Decimal("0")),
        issued_by_id=actor.id,
    )
    for outcome in met:
        award.outcomes.append(AwardOutcome(outcome_id=outcome.id, credits=outcome.credits))
    db.session.add(award)
    db.session.flush()
    award.number = f"VAL-{award.issued_at:%Y}-{award.id:06d}"
    audit.record(
        "award.issued",
        actor=actor,
        case=case,
        award_id=award.id,
        kind=kind,
        outcomes=len(met),
    )
    credentials.issue(award, actor)
    return award


_IN_FORCE = select(Award).where(Award.case_id == bindparam("case_id"), Award.superseded_at.is_(None))


def award_for_case(case_id: int) -> Award | None:
    """The case's award in force (an award superseded after an appeal is kept, but not this one)."""
    if presence.empty(case_id, "awards"):
        return None
    return db.session.execute(_IN_FORCE, {"case_id": case_id}).scalar_one_or_none()


def supersede(case: Case, actor: User) -> Award | None:
    """A new decision on the case (after an upheld appeal) takes the earlier award out of force."""
    award = award_for_case(case.id)
    if award is None:
        return None
    award.superseded_at = utcnow()
    db.session.flush()
    audit.record("award.superseded", actor=actor, case=case, award_id=award.id)
    credentials.revoke_superseded(award, actor)
    return award


def award_for(user: User, award_id: int) -> Award:
    """An award its holder and staff may see; others get 404."""
    award = db.session.get(Award, award_id)
    if award is None or (user.role == "candidate" and award.holder_id != user.id):
        raise NotFound("There is no such award.")
    if user.role == "assessor":
        case = db.session.get(Case, award.case_id)
        if (case is None or user.id not in (case.assessor_id, case.moderator_id)) and not _carried_to(user, award):
            raise Forbidden("This award is not from a case assigned to you.")
    return award


def _carried_to(assessor: User, award: Award) -> bool:
    """The award stands for outcomes carried over into a case this assessor assesses or moderates: they
    judge whether it validates them, so they may read it."""
    return db.session.execute(
        select(CarriedOutcome.id)
        .join(Case, Case.id == CarriedOutcome.case_id)
        .where(
            CarriedOutcome.award_id == award.id,
            (Case.assessor_id == assessor.id) | (Case.moderator_id == assessor.id),
        )
        .limit(1)
    ).first() is not None


def awards_of(holder: User) -> list[Award]:
    return list(
        db.session.execute(
            select(Award).where(Award.holder_id == holder.id).options(selectinload(Award.credential))
        ).scalars()
    )


# --- the skills record ---------------------------------------------------------------------------------


@dataclass
class ValidatedOutcome:
    """One learning outcome the holder has validated, with every award in force that validates it."""

    outcome: LearningOutcome
    credits: Decimal
    #: Newest first.
    awards: list[Award] = field(default_factory=list)


@dataclass
class SkillGroup:
    """The validated outcomes of one credential, in the credential's order."""

    credential: Credential
    outcomes: list[ValidatedOutcome] = field(default_factory=list)

    @property
    def credits(self) -> Decimal:
        return sum((o.credits for o in self.outcomes), Decimal("0"))


def skills_of(holder: User) -> list[SkillGroup]:
    """Every outcome the holder has validated in their awards in force (a superseded award no longer
    counts), grouped by credential, the most recently awarded credential first; two queries in all."""
    in_force = db.session.execute(
        select(Award)
        .where(Award.holder_id == holder.id, credentials.award_stands())
        .options(joinedload(Award.credential), selectinload(Award.outcomes).joinedload(AwardOutcome.outcome))
        .order_by(Award.issued_at.desc(), Award.id.desc())
    ).unique().scalars()
    groups: dict[int, SkillGroup] = {}
    by_outcome: dict[int, ValidatedOutcome] = {}
    for award in in_force:
        group = groups.setdefault(award.credential_id, SkillGroup(award.credential))
        for ao in award.outcomes:
            row = by_outcome.get(ao.outcome_id)
            if row is None:
                # The newest award comes first: its credits are the ones shown.
                row = by_outcome[ao.outcome_id] = ValidatedOutcome(ao.outcome, ao.credits)
                group.outcomes.append(row)
            row.awards.append(award)
    result = [g for g in groups.values() if g.outcomes]
    for group in result:
        group.outcomes.sort(key=lambda o: (o.outcome.position, o.outcome.id))
    return result
