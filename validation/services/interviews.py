"""Interviews and practical observations: the assessor schedules them, then records a result per outcome.

Where the evidence on paper leaves doubt, the assessor talks with the candidate or watches them work. An
appointment is a row of its own (several are possible: a second visit, a rescheduled one); the first one
moves the case into the interview state through `cases.fire`. Results are appended, never overwritten: a
correction is a new row, and the page shows every one with its date. A recording or an observation sheet
goes through the same checks and storage as any evidence file (`evidence.store_file`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import BinaryIO

from sqlalchemy import bindparam, select
from sqlalchemy.orm import selectinload

from validation.extensions import db
from validation.models import AuditEvent, Case, CaseClaim, Interview, InterviewResult, User, utcnow
from validation.models.assessment import INTERVIEW_KINDS, INTERVIEW_RESULTS
from validation.services import access, audit, cases, evidence, presence
from validation.services.assessment import decisions_open
from validation.services.errors import Conflict, Forbidden, Invalid, NotFound
from validation.services.evidence_requests import site_zone

TRIGGER = "schedule_interview"
PLACE_MAX = 200
LINK_MAX = 500
NOTES_MAX = 5000
#: Appointments further ahead than this are almost certainly a typing mistake.
HORIZON_DAYS = 366


@dataclass(frozen=True)
class ResultEntry:
    """The result for one claimed outcome, as the assessor records it."""

    outcome_id: int
    result: str
    notes: str | None = None


@dataclass(frozen=True)
class Recording:
    """A file the assessor adds with the results: a sound or video recording, a filled-in observation sheet."""

    stream: BinaryIO
    original_name: str
    title: str


def interview_state(case: Case) -> str | None:
    """The state scheduling leads to in the case's workflow (``interview`` in the standard one)."""
    transition = cases.definition_for(case).transitions.get(TRIGGER)
    return transition.dest if transition is not None else None


def _assigned(case: Case, user: User) -> bool:
    return user.role == "assessor" and case.assessor_id == user.id and access.may_act_on_case(user, case)


def may_schedule(case: Case, user: User) -> bool:
    """From review the first appointment moves the case to the interview; in the interview, more may follow."""
    if not (_assigned(case, user) and case.is_open):
        return False
    if case.state == interview_state(case):
        return True
    return any(t.trigger == TRIGGER for t in cases.available_actions(case, user))


def may_record(case: Case, user: User) -> bool:
    """Results are judgements: recorded by the assigned assessor while decisions can still be made."""
    return _assigned(case, user) and decisions_open(case)


def _case_for_assessor(actor: User, case_id: int, expected_version: int | None) -> Case:
    """The case, if this is its assigned assessor and the page is current: 403 before 409."""
    if actor.role != "assessor":
        raise Forbidden("Only the assigned assessor arranges interviews and records their results.")
    case = access.case_to_act_on(actor, case_id)
    if case.assessor_id != actor.id:
        raise Forbidden("This case is not assigned to you.")
    cases.check_version(case, expected_version)
    return case


def local_moment(day: date, at: time) -> datetime:
    """A date and time as entered on the page (in the site's zone), in UTC."""
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=site_zone()).astimezone(UTC)


def _checked_moment(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=site_zone())
    moment = moment.astimezone(UTC)
    now = utcnow()
    if moment < now:
        raise Invalid("Choose a date and time that is still to come.")
    if moment > now + timedelta(days=HORIZON_DAYS):
        raise Invalid("Choose a date within a year from today.")
    return moment


def _checked_place(place: str | None, online_link: str | None) -> tuple[str | None, str | None]:
    where = (place or "").strip() or None
    link = (online_link or "").strip() or None
    if where is None and link is None:
        raise Invalid("Give the place where you meet, or an online link (or both).")
    if where is not None and len(where) > PLACE_MAX:
        raise Invalid("The place is too long; keep it under 200 characters.")
    if link is not None:
        link = evidence.checked_url(link)
        if len(link) > LINK_MAX:
            raise Invalid("The online link is too long; keep it under 500 characters.")
    return where, link


def _checked_notes(notes: str | None) -> str | None:
    text = (notes or "").strip() or None
    if text is not None and len(text) > NOTES_MAX:
        raise Invalid("The notes are too long; keep them under 5000 characters.")
    return text


def schedule(
    case_id: int,
    actor: User,
    kind: str,
    scheduled_for: datetime,
    place: str | None,
    online_link: str | None,
    notes: str | None = None,
    expected_version: int | None = None,
) -> Interview:
    """Arrange an interview or a practical observation; the first one from review moves the case on.

    A naive `scheduled_for` is read in the site's time zone (what a person typed on the page)."""
    case = _case_for_assessor(actor, case_id, expected_version)
    if not may_schedule(case, actor):
        raise Conflict("An interview can only be arranged while the case is under review or in interview.")
    if kind not in INTERVIEW_KINDS:
        raise Invalid("Choose an interview or a practical observation.")
    moment = _checked_moment(scheduled_for)
    where, link = _checked_place(place, online_link)
    text = _checked_notes(notes)
    moved = case.state != interview_state(case)
    if moved:
        cases.fire(case.id, TRIGGER, actor, expected_version=expected_version)
    else:
        case.updated_at = utcnow()  # another appointment changes what the case page shows: a new version
    interview = Interview(
        case_id=case.id,
        assessor_id=actor.id,
        kind=kind,
        scheduled_for=moment,
        place=where,
        online_link=link,
        notes=text,
    )
    db.session.add(interview)
    db.session.flush()
    audit.record(
        "interview.scheduled",
        actor=actor,
        case=case,
        interview_id=interview.id,
        kind=kind,
        in_person=where is not None,
        online=link is not None,
        moved_case=moved,
    )
    return interview


def _checked_results(case: Case, entries: Sequence[ResultEntry]) -> list[ResultEntry]:
    claimed = {c.outcome_id for c in cases.claimed(case)}
    if not entries:
        raise Invalid("Record a result for at least one learning outcome.")
    seen: set[int] = set()
    checked = []
    for entry in entries:
        if entry.outcome_id not in claimed:
            raise Invalid("One of the learning outcomes is not part of this case.")
        if entry.outcome_id in seen:
            raise Invalid("Give one result per learning outcome.")
        seen.add(entry.outcome_id)
        if entry.result not in INTERVIEW_RESULTS:
            raise Invalid("Choose met, not met or inconclusive.")
        checked.append(ResultEntry(entry.outcome_id, entry.result, _checked_notes(entry.notes)))
    return checked


def interview_on(case: Case, interview_id: int) -> Interview:
    """One appointment of this case; another case's id is not found, so ids reveal nothing."""
    interview = db.session.get(Interview, interview_id)
    if interview is None or interview.case_id != case.id:
        raise NotFound("There is no such interview on this case.")
    return interview


def record_results(
    case_id: int,
    interview_id: int,
    actor: User,
    entries: Sequence[ResultEntry],
    recording: Recording | None = None,
    expected_version: int | None = None,
) -> list[InterviewResult]:
    """Append the interview's result per outcome, mark it held, and keep a recording as evidence if given.

    The recording is linked to every outcome this interview has a result for. It is frozen at once (no one
    edits an assessor's file) and its creator is the assessor (`EvidenceItem.created_by_id`)."""
    case = _case_for_assessor(actor, case_id, expected_version)
    interview = interview_on(case, interview_id)
    if not may_record(case, actor):
        raise Conflict("Results can only be recorded while the case is under review or in interview.")
    checked = _checked_results(case, entries)
    now = utcnow()
    item_id = None
    if recording is not None:
        earlier = {r.outcome_id for r in interview.results}
        linked = sorted(earlier | {e.outcome_id for e in checked})
        evidence.check_room(case)
        item = evidence.store_file(case, actor, recording.title, recording.stream, recording.original_name, linked)
        item.submitted_at = now
        item_id = item.id
    rows = [
        InterviewResult(
            interview_id=interview.id,
            case_id=case.id,
            outcome_id=e.outcome_id,
            result=e.result,
            notes=e.notes,
            recorded_at=now,
        )
        for e in checked
    ]
    interview.results.extend(rows)
    first = interview.held_at is None
    interview.held_at = interview.held_at or now
    case.updated_at = now
    db.session.flush()
    counts = {r: sum(1 for e in checked if e.result == r) for r in INTERVIEW_RESULTS}
    audit.record(
        "interview.recorded",
        actor=actor,
        case=case,
        interview_id=interview.id,
        outcome_count=len(checked),
        first_record=first,
        item_id=item_id,
        **counts,
    )
    return rows


# --- reading ------------------------------------------------------------------------------------------


_INTERVIEWS_OF = (
    select(Interview)
    .where(Interview.case_id == bindparam("case_id"))
    .options(selectinload(Interview.results))
    .order_by(Interview.scheduled_for, Interview.id)
)


def interviews_of(case_id: int) -> list[Interview]:
    """Every appointment of a case with its results, oldest first (two queries)."""
    if presence.empty(case_id, "interviews"):
        return []
    return list(db.session.execute(_INTERVIEWS_OF, {"case_id": case_id}).scalars())


def recordings_of(events: Iterable[AuditEvent]) -> dict[int, list[int]]:
    """Evidence items added with each interview's results, from the case's audit trail (already loaded)."""
    found: dict[int, list[int]] = defaultdict(list)
    for event in events:
        if event.action == "interview.recorded":
            facts = audit.facts_of(event)
            if facts.get("item_id"):
                found[int(facts["interview_id"])].append(int(facts["item_id"]))
    return dict(found)


@dataclass
class OutcomeResults:
    """Every interview result for one claimed outcome, newest first."""

    claim: CaseClaim
    entries: list[tuple[Interview, InterviewResult]] = field(default_factory=list)


@dataclass
class Panel:
    """What the case page shows about interviews, for one reader."""

    interviews: list[Interview]
    results: list[OutcomeResults]
    recordings: dict[int, list[int]]
    may_schedule: bool
    #: Arranging an appointment now also moves the case into the interview state.
    moves_case: bool
    may_record: bool
    show_results: bool
    #: The outcomes a result can be recorded for.
    outcomes: list[CaseClaim]
    earliest_day: date


def panel(user: User, case: Case, events: Iterable[AuditEvent], show_results: bool) -> Panel:
    """Everything the case page's interview section needs: two queries, whatever the number of interviews."""
    interviews = interviews_of(case.id)
    claimed = cases.claimed(case)
    # Results and recordings belong to appointments: a case without any (most cases) has none to gather.
    by_outcome = {c.outcome_id: OutcomeResults(c) for c in claimed} if interviews else {}
    for interview in interviews:
        for result in interview.results:
            if result.outcome_id in by_outcome:
                by_outcome[result.outcome_id].entries.append((interview, result))
    for group in by_outcome.values():
        group.entries.sort(key=lambda pair: (pair[1].recorded_at, pair[1].id), reverse=True)
    return Panel(
        interviews=interviews,
        results=[g for g in by_outcome.values() if g.entries] if show_results else [],
        recordings=recordings_of(events) if interviews else {},
        may_schedule=may_schedule(case, user),
        moves_case=case.state != interview_state(case),
        may_record=may_record(case, user),
        show_results=show_results,
        outcomes=claimed,
        earliest_day=datetime.now(site_zone()).date(),
    )


def upcoming_of(candidate_cases: list[Case]) -> dict[int, list[Interview]]:
    """For the candidate's home: per open case, its appointments not yet held from today on (one query)."""
    open_ids = [c.id for c in candidate_cases if c.is_open]
    if not open_ids:
        return {}
    start = datetime.combine(datetime.now(site_zone()).date(), time(0, 0), tzinfo=site_zone()).astimezone(UTC)
    found: dict[int, list[Interview]] = defaultdict(list)
    for interview in db.session.execute(
        select(Interview)
        .where(Interview.case_id.in_(open_ids), Interview.held_at.is_(None), Interview.scheduled_for >= start)
        .order_by(Interview.scheduled_for)
    ).scalars():
        found[interview.case_id].append(interview)
    return dict(found)
