"""Moderation (internal verification): a second assessor reviews a sample of recommendations.

The credential's rule (set by an admin, `CredentialPolicy`) selects recommendations when they are made:
every one in an assessor's first N cases of the credential, then a share at random, and always every
"no award". What the rule said, and why, is kept with the case (`Moderation`), selected or not, so that a
quality body can see later that the sample was drawn as the rule said. A selected recommendation goes to
a second assessor (never the first), who agrees or disagrees per outcome with reasons; in blind mode they
do not see the first assessor's decisions until they have given their own view. A disagreement goes to
the coordinator, who settles it or returns the case for review. Workflows without a moderation step
(version 1) never select anything.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, func, select

from validation.extensions import db
from validation.models import Case, Credential, CredentialPolicy, Moderation, ModerationView, User, utcnow
from validation.services import access, audit, presence
from validation.services.errors import Conflict, Forbidden, Invalid, NotFound

if TYPE_CHECKING:
    from validation.services.staffing import Person

#: The transitions a moderator fires; every other assessor action is the assigned assessor's.
MODERATOR_TRIGGERS = frozenset({"agree", "disagree"})
#: The transitions that make a new recommendation (and so a new draw).
RECOMMENDING_TRIGGERS = frozenset({"recommend", "uphold_appeal"})
#: What a credential without a rule of its own follows: only the "no award" recommendations are moderated.
DEFAULT_POLICY = {"moderate_first": 0, "moderate_percent": 0, "blind": False, "appeal_days": 30}


@dataclass(frozen=True)
class Rule:
    moderate_first: int
    moderate_percent: int
    blind: bool
    appeal_days: int


def policy_for(credential_id: int) -> Rule:
    row = db.session.get(CredentialPolicy, credential_id)
    if row is None:
        return Rule(**DEFAULT_POLICY)
    return Rule(row.moderate_first, row.moderate_percent, row.blind, row.appeal_days)


def set_policy(
    credential_id: int, actor: User, *, moderate_first: int, moderate_percent: int, blind: bool, appeal_days: int
) -> CredentialPolicy:
    """An admin sets a credential's rule; it applies to recommendations made from now on."""
    if actor.role != "admin":
        raise Forbidden("Only administrators set the rules for moderation and appeals.")
    if moderate_first < 0 or not 0 <= moderate_percent <= 100:
        raise Invalid("The first cases are a number from 0, the share a percentage from 0 to 100.")
    if not 1 <= appeal_days <= 365:
        raise Invalid("The appeal period is between 1 and 365 days.")
    if db.session.get(Credential, credential_id) is None:
        raise NotFound("There is no such credential.")
    row = db.session.get(CredentialPolicy, credential_id)
    if row is None:
        row = CredentialPolicy(credential_id=credential_id)
        db.session.add(row)
    row.moderate_first = moderate_first
    row.moderate_percent = moderate_percent
    row.blind = blind
    row.appeal_days = appeal_days
    row.updated_at = utcnow()
    row.updated_by_id = actor.id
    db.session.flush()
    audit.record(
        "policy.set", actor=actor, credential_id=credential_id, moderate_first=moderate_first,
        moderate_percent=moderate_percent, blind=blind, appeal_days=appeal_days,
    )
    return row


@dataclass(frozen=True)
class PolicyRow:
    """A credential with the rule it follows; `row` is None while it follows the defaults."""

    credential: Credential
    rule: Rule
    row: CredentialPolicy | None


def policies() -> list[PolicyRow]:
    """Every credential (each version: cases pin one) with its rule, for the admin's table, in two queries."""
    credentials = db.session.execute(select(Credential).order_by(Credential.code, Credential.version)).scalars()
    rows = {r.credential_id: r for r in db.session.execute(select(CredentialPolicy)).scalars()}
    result = []
    for credential in credentials:
        row = rows.get(credential.id)
        rule = (
            Rule(row.moderate_first, row.moderate_percent, row.blind, row.appeal_days)
            if row is not None
            else Rule(**DEFAULT_POLICY)
        )
        result.append(PolicyRow(credential, rule, row))
    return result


def has_moderation(case: Case) -> bool:
    from validation.services.cases import definition_for

    return "send_to_moderation" in definition_for(case).transitions


def current(case: Case) -> Moderation | None:
    """The moderation record of the case's latest recommendation, if any."""
    return db.session.execute(
        select(Moderation).where(Moderation.case_id == case.id).order_by(Moderation.recommendation.desc()).limit(1)
    ).scalar_one_or_none()


_HISTORY = select(Moderation).where(Moderation.case_id == bindparam("case_id")).order_by(Moderation.recommendation)


def history(case_id: int) -> list[Moderation]:
    if presence.empty(case_id, "moderations"):
        return []
    return list(db.session.execute(_HISTORY, {"case_id": case_id}).scalars())


def views_by_record(case_id: int) -> dict[int, list[ModerationView]]:
    """Every view given on the case, per moderation record, oldest first (one query for the whole history)."""
    result: dict[int, list[ModerationView]] = {}
    rows = db.session.execute(
        select(ModerationView).where(ModerationView.case_id == case_id).order_by(ModerationView.id)
    ).scalars()
    for view in rows:
        result.setdefault(view.moderation_id, []).append(view)
    return result


def _earlier_cases(case: Case, assessor_id: int) -> int:
    """How many other cases of this credential the assessor has made a recommendation in before."""
    return int(
        db.session.execute(
            select(func.count(func.distinct(Moderation.case_id)))
            .join(Case, Case.id == Moderation.case_id)
            .where(
                Moderation.assessor_id == assessor_id,
                Case.credential_id == case.credential_id,
                Moderation.case_id != case.id,
            )
        ).scalar_one()
    )


def _no_award(case: Case) -> bool:
    from validation.services.assessment import current_decisions
    from validation.services.cases import claimed

    decisions = current_decisions(case.id)
    return not any(getattr(decisions.get(c.outcome_id), "verdict", None) == "met" for c in claimed(case))


def draw(case: Case, actor: User) -> Moderation:
    """Apply the credential's rule to the recommendation just made, and keep what it said."""
    rule = policy_for(case.credential_id)
    earlier = _earlier_cases(case, actor.id)
    in_first_cases = earlier < rule.moderate_first or (
        # Another recommendation in a case that was already among the first ones counts as that case.
        db.session.execute(
            select(func.count()).select_from(Moderation).where(
                Moderation.case_id == case.id, Moderation.reason == "first_cases"
            )
        ).scalar_one() > 0
    )
    ticket = secrets.randbelow(100)
    if _no_award(case):
        reason = "no_award"
    elif in_first_cases:
        reason = "first_cases"
    elif ticket < rule.moderate_percent:
        reason = "sampled"
    else:
        reason = "not_selected"
    number = 1 + int(
        db.session.execute(
            select(func.coalesce(func.max(Moderation.recommendation), 0)).where(Moderation.case_id == case.id)
        ).scalar_one()
    )
    record = Moderation(
        case_id=case.id,
        recommendation=number,
        selected=reason != "not_selected",
        reason=reason,
        rule=(f"first {rule.moderate_first} cases (this assessor's earlier cases: {earlier}), "
              f"{rule.moderate_percent} % at random (draw {ticket}), every no award"),
        assessor_id=actor.id,
        blind=rule.blind,
        status="selected" if reason != "not_selected" else "not_selected",
    )
    db.session.add(record)
    db.session.flush()
    audit.record(
        "moderation.drawn", actor=actor, case=case, moderation_id=record.id, selected=record.selected,
        reason=reason, draw=ticket,
    )
    return record


def after_transition(case: Case, trigger: str, source: str, destination: str, actor: User) -> None:
    """Keep the moderation record in step with the case (called by `cases.fire`)."""
    if not has_moderation(case):
        return
    if trigger in RECOMMENDING_TRIGGERS:
        draw(case, actor)
        return
    record = current(case)
    if record is None:
        return
    status = {"agree": "agreed", "disagree": "disagreed", "settle": "settled"}.get(trigger)
    if trigger == "return_for_review" and source == "moderation_disputed":
        status = "returned"
    if status is None:
        return
    record.status = status
    if status in ("settled", "returned"):
        record.settled_by_id = actor.id
        record.settled_at = utcnow()
    if status in ("agreed", "disagreed"):
        case.moderator_id = None  # the moderator's part is done; the coordinator has it now
    db.session.flush()


def facts_for(case: Case) -> dict[str, object]:
    """What the workflow's moderation guards need to know."""
    record = current(case)
    if record is None or not record.selected:
        return {"moderation_selected": False}
    views = latest_views(record)
    claims = {c.outcome_id: c.outcome.code for c in case.claims}
    return {
        "moderation_selected": True,
        "moderator_assigned": case.moderator_id is not None,
        "moderation_views": {claims[o]: v.agrees for o, v in views.items() if o in claims},
        "moderation_done": record.status in ("agreed", "settled"),
    }


def latest_views(record: Moderation) -> dict[int, ModerationView]:
    """The moderator's newest view per outcome."""
    rows = db.session.execute(
        select(ModerationView).where(ModerationView.moderation_id == record.id).order_by(ModerationView.id)
    ).scalars()
    return {v.outcome_id: v for v in rows}


def waiting_for_moderator(case: Case, record: Moderation | None) -> bool:
    """The recommendation was selected and its moderation has not ended: a moderator may be (re)assigned."""
    return (
        record is not None
        and record.selected
        and record.status == "selected"
        and case.state in ("recommended", "moderation")
    )


def moderator_choices(case: Case) -> list[Person]:
    """Who may moderate the case's recommendation: active assessors other than the one who recommended, the
    qualified ones first and among them those with the least open work (see `staffing.choices`)."""
    from validation.services import staffing

    record = current(case)
    excluded = {i for i in (case.assessor_id, record.assessor_id if record is not None else None) if i}
    return [c.assessor for c in staffing.choices(case, exclude=excluded)]


def assign_moderator(case_id: int, moderator_id: int, actor: User, expected_version: int | None = None) -> Case:
    """The coordinator names the second assessor for a selected recommendation."""
    from validation.services.cases import check_version

    if actor.role != "coordinator":
        raise Forbidden("Only coordinators assign moderators.")
    case = access.case_to_act_on(actor, case_id)
    check_version(case, expected_version)
    record = current(case)
    if record is None or not record.selected or case.state not in ("recommended", "moderation"):
        raise Conflict("This case has no recommendation waiting for moderation.")
    moderator = db.session.get(User, moderator_id)
    if moderator is None or moderator.role != "assessor" or not moderator.active:
        raise Invalid("Choose an active assessor.")
    if moderator.id in (case.assessor_id, record.assessor_id):
        raise Invalid("The moderator must be another assessor than the one who recommended.")
    if moderator.id == case.candidate_id:
        raise Invalid("A person cannot assess their own case.")
    from validation.services import staffing

    staffing.require_qualified(moderator, case)
    previous = case.moderator_id
    case.moderator_id = moderator.id
    record.moderator_id = moderator.id
    case.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "moderation.assigned", actor=actor, case=case, moderation_id=record.id, moderator_id=moderator.id,
        previous_moderator_id=previous,
    )
    return case


def record_view(
    case_id: int, outcome_id: int, actor: User, agrees: bool, reason: str | None,
    expected_version: int | None = None,
) -> ModerationView:
    """The moderator's view of the recommendation on one outcome (a new row each time)."""
    from validation.services.cases import check_version, claimed

    case = access.case_to_act_on(actor, case_id)
    check_version(case, expected_version)
    if actor.role != "assessor" or case.moderator_id != actor.id:
        raise Forbidden("Only the moderator of this case gives a view on its recommendation.")
    record = current(case)
    if case.state != "moderation" or record is None:
        raise Conflict("This case is not in moderation.")
    if outcome_id not in {c.outcome_id for c in claimed(case)}:
        raise Invalid("This learning outcome is not part of the case.")
    reason = (reason or "").strip() or None
    if not agrees and reason is None:
        raise Invalid("Give a reason when you disagree.")
    view = ModerationView(
        moderation_id=record.id, case_id=case.id, outcome_id=outcome_id, moderator_id=actor.id,
        agrees=agrees, reason=reason,
    )
    db.session.add(view)
    case.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "moderation.view", actor=actor, case=case, moderation_id=record.id, outcome_id=outcome_id, agrees=agrees,
    )
    return view


def record_views(
    case_id: int, actor: User, views: Mapping[int, tuple[bool, str | None]], expected_version: int | None = None
) -> list[ModerationView]:
    """The moderator's views on several outcomes at once (outcome id -> agrees, reason).

    Everything is checked before anything is written, so one disagreement without a reason refuses the
    whole form. A view the same as the newest one on record is not recorded again: sending the form
    twice, or changing one outcome, adds only what changed.
    """
    from validation.services.cases import check_version, claimed

    case = access.case_to_act_on(actor, case_id)
    check_version(case, expected_version)
    if actor.role != "assessor" or case.moderator_id != actor.id:
        raise Forbidden("Only the moderator of this case gives a view on its recommendation.")
    record = current(case)
    if case.state != "moderation" or record is None:
        raise Conflict("This case is not in moderation.")
    outcomes = {c.outcome_id for c in claimed(case)}
    if not views:
        raise Invalid("Give your view on at least one outcome.")
    cleaned: dict[int, tuple[bool, str | None]] = {}
    for outcome_id, (agrees, reason) in views.items():
        if outcome_id not in outcomes:
            raise Invalid("This learning outcome is not part of the case.")
        text = (reason or "").strip() or None
        if not agrees and text is None:
            raise Invalid("Give a reason when you disagree.")
        cleaned[outcome_id] = (agrees, text)
    before = latest_views(record)
    recorded = []
    for outcome_id, (agrees, text) in cleaned.items():
        old = before.get(outcome_id)
        if old is not None and old.agrees == agrees and old.reason == text:
            continue
        recorded.append(record_view(case_id, outcome_id, actor, agrees, text))
    return recorded


def may_see_decisions(user: User, case: Case) -> bool:
    """In blind mode the moderator sees the first assessor's decisions only after giving every view."""
    if user.role != "assessor" or case.moderator_id != user.id:
        return True
    record = current(case)
    if record is None or not record.blind:
        return True
    from validation.services.cases import claimed

    views = latest_views(record)
    return all(c.outcome_id in views for c in claimed(case))

