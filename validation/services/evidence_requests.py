"""Requests for more evidence: which outcomes, what would help, by when; the case moves in the same transaction.

The request is a record of its own (not only the reason of the transition) so that the candidate can be
told precisely what to add, and staff can see, round by round, what was asked. The case still changes state
only through `cases.fire`; this module adds the request next to that transition and sets the due date the
assessor chose instead of the state's default.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import bindparam, select

from validation.extensions import db
from validation.models import Case, CaseClaim, EvidenceRequest, LearningOutcome, User
from validation.services import access, audit, cases, presence
from validation.services.assessment import current_decisions
from validation.services.errors import Conflict, Forbidden, Invalid

TRIGGER = "request_more_evidence"
MESSAGE_MAX = 5000
#: How far ahead a due date may be set: further is almost certainly a typing mistake (2207 for 2027).
DUE_HORIZON_DAYS = 366


def site_zone() -> ZoneInfo:
    """The time zone dates are entered and shown in (the one Flask-Babel formats with), UTC by default.

    A due date is a calendar day where the people live, not in UTC: "by 5 March" ends at midnight there."""
    return ZoneInfo(str(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "UTC"))


def today() -> date:
    return datetime.now(site_zone()).date()


def end_of(day: date) -> datetime:
    """The last second of a calendar day in the site's zone, in UTC (how every time is stored)."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=site_zone()).astimezone(UTC)


def may_request(case: Case, user: User) -> bool:
    """Only the assigned assessor, and only where the workflow lets an assessor ask for more from here."""
    return (
        user.role == "assessor"
        and case.assessor_id == user.id
        and case.is_open
        and any(t.trigger == TRIGGER for t in cases.available_actions(case, user))
    )


def default_due_on(case: Case) -> date | None:
    """The day the state the request leads to would make the case due (its SLA), counted from today."""
    definition = cases.definition_for(case)
    transition = definition.transitions.get(TRIGGER)
    if transition is None:
        return None
    days = definition.state(transition.dest).sla_days
    return today() + timedelta(days=days) if days else None


def requestable(case: Case) -> list[CaseClaim]:
    """The outcomes more evidence can be asked for: those the candidate claims (not those marked "not yet")."""
    return cases.claimed(case)


def _checked_outcomes(case: Case, outcome_ids: Iterable[int]) -> list[int]:
    allowed = {c.outcome_id for c in requestable(case)}
    chosen = sorted(set(outcome_ids))
    if not chosen:
        raise Invalid("Choose at least one learning outcome that needs more evidence.")
    if any(o not in allowed for o in chosen):
        raise Invalid("One of the chosen learning outcomes is not part of this case.")
    return chosen


def check_due_on(due_on: date | None) -> None:
    """A due date may be today but not before, and not absurdly far ahead."""
    if due_on is None:
        return
    if due_on < today():
        raise Invalid("The due date cannot be in the past.")
    if due_on > today() + timedelta(days=DUE_HORIZON_DAYS):
        raise Invalid("Choose a due date within a year from today.")


def request_more_evidence(
    case_id: int,
    actor: User,
    outcome_ids: Iterable[int],
    message: str,
    due_on: date | None = None,
    expected_version: int | None = None,
) -> EvidenceRequest:
    """Ask the candidate for more evidence on some outcomes; the case goes to "more evidence" at once.

    Everything is checked before anything changes, so a refusal leaves no trace; the request and the
    transition then share the caller's transaction (and its one commit)."""
    if actor.role != "assessor":
        raise Forbidden("Only the assigned assessor asks for more evidence.")
    case = access.case_to_act_on(actor, case_id)
    if case.assessor_id != actor.id:
        raise Forbidden("This case is not assigned to you.")
    cases.check_version(case, expected_version)
    if not may_request(case, actor):
        raise Conflict("More evidence can only be asked for while the case is under review or in interview.")
    chosen = _checked_outcomes(case, outcome_ids)
    text = (message or "").strip()
    if not text:
        raise Invalid("Say what would help: what the candidate could add.")
    if len(text) > MESSAGE_MAX:
        raise Invalid("The text about what would help is too long; keep it under 5000 characters.")
    check_due_on(due_on)
    # The transition moves the case into the new round; the request belongs to that round.
    cases.fire(case.id, TRIGGER, actor, reason=text, expected_version=expected_version)
    if due_on is not None:
        case.due_at = end_of(due_on)
    elif case.due_at is not None:
        due_on = case.due_at.astimezone(site_zone()).date()
    request = EvidenceRequest(
        case_id=case.id,
        assessor_id=actor.id,
        submission_round=case.submission_round,
        outcome_ids=chosen,
        message=text,
        due_on=due_on,
    )
    db.session.add(request)
    db.session.flush()
    audit.record(
        "evidence.requested",
        actor=actor,
        case=case,
        request_id=request.id,
        outcome_count=len(chosen),
        submission_round=case.submission_round,
        due_on=due_on.isoformat() if due_on else None,
    )
    return request


# --- reading ------------------------------------------------------------------------------------------


@dataclass
class RequestView:
    """A request with its outcomes resolved, in the credential's order."""

    request: EvidenceRequest
    outcomes: list[LearningOutcome] = field(default_factory=list)


_REQUESTS_OF = (
    select(EvidenceRequest).where(EvidenceRequest.case_id == bindparam("case_id")).order_by(EvidenceRequest.id.desc())
)


def requests_of(case_id: int) -> list[EvidenceRequest]:
    """Every request of a case, newest first."""
    if presence.empty(case_id, "evidence_requests"):
        return []
    return list(db.session.execute(_REQUESTS_OF, {"case_id": case_id}).scalars())


def _resolve(request: EvidenceRequest, outcomes: dict[int, LearningOutcome]) -> RequestView:
    chosen = [outcomes[o] for o in request.outcome_ids if o in outcomes]
    return RequestView(request, sorted(chosen, key=lambda o: o.position))


def is_current(case: Case, request: EvidenceRequest) -> bool:
    """The request the candidate is answering now: made for the round that is still open for evidence."""
    return request.submission_round == case.submission_round and cases.evidence_open(case)


@dataclass
class Panel:
    """What the case page shows about requests for more evidence, for one reader."""

    #: The request the candidate is answering now, if any.
    current: RequestView | None
    #: Every request, newest first (staff see them all, round by round).
    history: list[RequestView]
    may_request: bool
    #: The outcomes to choose from, and those the assessor already judged "more evidence needed".
    choices: list[CaseClaim]
    suggested: set[int]
    default_due_on: date | None
    earliest_due_on: date


def panel(user: User, case: Case) -> Panel:
    """Everything the case page's request section needs, in one query (the claims are loaded with the case)."""
    outcomes = {c.outcome_id: c.outcome for c in case.claims}
    rows = [_resolve(r, outcomes) for r in requests_of(case.id)]
    current = next((r for r in rows if is_current(case, r.request)), None)
    allowed = may_request(case, user)
    return Panel(
        current=current,
        history=rows if user.is_staff else [],
        may_request=allowed,
        choices=requestable(case) if allowed else [],
        suggested={o for o, d in current_decisions(case.id).items() if d.verdict == "more_evidence"}
        if allowed
        else set(),
        default_due_on=default_due_on(case) if allowed else None,
        earliest_due_on=today(),
    )


def open_requests_of(candidate_cases: list[Case]) -> dict[int, RequestView]:
    """For the candidate's home: per case still open for evidence, the request it is answering.

    Two queries whatever the number of cases (the requests, then their outcomes)."""
    open_cases = {c.id: c for c in candidate_cases if c.is_open and c.submission_round > 1}
    if not open_cases:
        return {}
    rows = db.session.execute(
        select(EvidenceRequest).where(EvidenceRequest.case_id.in_(open_cases)).order_by(EvidenceRequest.id.desc())
    ).scalars()
    current: dict[int, EvidenceRequest] = {}
    for row in rows:
        case = open_cases[row.case_id]
        if row.case_id not in current and is_current(case, row):
            current[row.case_id] = row
    ids = {o for r in current.values() for o in r.outcome_ids}
    outcomes = (
        {o.id: o for o in db.session.execute(select(LearningOutcome).where(LearningOutcome.id.in_(ids))).scalars()}
        if ids
        else {}
    )
    return {case_id: _resolve(r, outcomes) for case_id, r in current.items()}
