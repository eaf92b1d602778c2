"""The coordinator's queue: cases filtered and paged, their ageing against each state's SLA, and the counts.

A centre may hold a hundred thousand cases. So the list is paged by keyset (the sort key and the id of the
last row shown, never an OFFSET that reads every row before it), each filter is a column or an indexed join,
and the count per state comes from `CaseStateCount`, an aggregate kept in the transaction of each change of
state rather than a COUNT over all cases per request.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import Integer, Select, bindparam, func, select, tuple_
from sqlalchemy.orm import aliased

from validation.extensions import db
from validation.models import CandidateProfile, Case, CaseStateCount, Credential, User, utcnow
from validation.services import audit, kept, reads
from validation.services.errors import Forbidden
from validation.storage.inspect import N_

PAGE_SIZE = 50
CLOSED_NO_REMINDER = N_("This case is closed; nobody is waiting to be reminded.")
SORTS = ("age", "due")
# The candidate and the assessor of a row, made once: an alias built per call costs more than the query itself
# (SQLAlchemy derives every column of the aliased table again).
_CANDIDATE, _ASSESSOR, _PERSON = aliased(User), aliased(User), aliased(User)
#: The assessor filter's value for cases nobody is assigned to.
UNASSIGNED = "none"


# --- counts kept with each change of state -----------------------------------------------------------------


def moved(credential_id: int, source: str | None, destination: str | None) -> None:
    """A case of this credential left `source` (None: it is new) for `destination`, in the caller's
    transaction. Each count is changed by one statement (an upsert), so two changes at once add up."""
    if source == destination:
        return
    changes = {state: delta for state, delta in ((source, -1), (destination, 1)) if state is not None}
    # In one order in every transaction (as the assessors' workloads are), so that a case moving from A to B
    # and another moving from B to A at once lock the two rows in the same order, rather than each holding
    # one and waiting for the other (a deadlock on PostgreSQL).
    for state in sorted(changes):
        _add(credential_id, state, changes[state])


def _add(credential_id: int, state: str, delta: int) -> None:
    kept.add(CaseStateCount, {"credential_id": credential_id, "state": state}, "n", delta)


#: The queue page reads one of these on every request: built once, as building costs more than reading.
_COUNTS = select(CaseStateCount.state, func.sum(CaseStateCount.n)).group_by(CaseStateCount.state)
_COUNTS_OF = _COUNTS.where(CaseStateCount.credential_id == bindparam("credential_id"))


def counts(credential_id: int | None = None) -> Counter[str]:
    """Cases per state, of one credential or of all: a read of the aggregate, as cheap as a page of rows."""
    found = reads.plain(_COUNTS) if credential_id is None else reads.plain(_COUNTS_OF, {"credential_id": credential_id})
    return Counter({state: int(n) for state, n in found if n})


def recount() -> int:
    """Rebuild the counts from the cases themselves (a repair; the counts are kept right by `moved`).
    Returns how many (credential, state) counts were wrong."""
    actual = {
        (credential_id, state): n
        for credential_id, state, n in db.session.execute(
            select(Case.credential_id, Case.state, func.count()).group_by(Case.credential_id, Case.state)
        )
    }
    return kept.repair(CaseStateCount, ("credential_id", "state"), "n", actual)


# --- the filtered, paged list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the coordinator asked to see; every field is optional and comes from the page's URL."""

    credential_id: int | None = None
    sector: str = ""
    centre_id: int | None = None
    language: str = ""
    target_group: str = ""
    #: An assessor's id, or UNASSIGNED.
    assessor: str = ""
    state: str = ""
    #: Only cases in their state for at least this many days.
    min_days: int | None = None
    overdue: bool = False
    sort: str = "age"


class CaseLine(NamedTuple):
    """What one row of the queue shows of a case, read as plain columns (no model objects to build)."""

    id: int
    lock_version: int
    state: str
    outcome: str | None
    workflow_key: str
    workflow_version: int
    opened_at: datetime
    state_entered_at: datetime
    due_at: datetime | None
    candidate_name: str
    assessor_name: str | None
    #: Named through `catalog.titles` (kept with the queue's choices): fifty credentials, not a title per row.
    credential_id: int


@dataclass
class Row:
    case: CaseLine
    days_in_state: int
    overdue: bool
    #: Whole days left until the due date, negative once past it (0 within the first day late); None without one.
    days_to_due: int | None


@dataclass
class Page:
    rows: list[Row] = field(default_factory=list)
    #: The cursor of the next page, or None on the last one.
    next_after: str | None = None


def _cursor(case: CaseLine, sort: str) -> str:
    moment = case.due_at if sort == "due" else case.state_entered_at
    assert moment is not None
    return f"{moment.isoformat()}_{case.id}"


def parse_cursor(text: str | None) -> tuple[datetime, int] | None:
    """The (moment, id) a page starts after; a cursor that is not ours starts from the first page."""
    if not text or "_" not in text:
        return None
    moment, _, case_id = text.rpartition("_")
    try:
        parsed = datetime.fromisoformat(moment)
        return (parsed, int(case_id)) if parsed.tzinfo is not None else None
    except ValueError:
        return None


class _Shape(NamedTuple):
    """Which filters a page applies, without their values: the list's statement depends only on this."""

    sort: str
    credential: bool
    state: bool
    #: "" (any), UNASSIGNED, or "id" for one assessor.
    assessor: str
    min_days: bool
    overdue: bool
    sector: bool
    centre: bool
    language: bool
    target_group: bool
    after: bool
    limit: int


@lru_cache(maxsize=256)
def _statement(shape: _Shape) -> Select:  # type: ignore[type-arg]
    """The list's statement for one shape of filters, with each value a bound parameter. Built once per shape
    and process: building it (and its cache key) each time cost a third of the list's time in the app."""
    key = Case.due_at if shape.sort == "due" else Case.state_entered_at
    candidate, assessor = _CANDIDATE, _ASSESSOR
    statement = (
        select(
            Case.id, Case.lock_version, Case.state, Case.outcome, Case.workflow_key, Case.workflow_version,
            Case.opened_at, Case.state_entered_at, Case.due_at, candidate.display_name, assessor.display_name,
            Case.credential_id,
        )
        .select_from(Case)
        .join(candidate, candidate.id == Case.candidate_id)
        .outerjoin(assessor, assessor.id == Case.assessor_id)
    )
    if shape.sort == "due":
        statement = statement.where(Case.due_at.is_not(None))  # closed cases have no due date
    if shape.credential:
        statement = statement.where(Case.credential_id == bindparam("credential_id"))
    if shape.state:
        statement = statement.where(Case.state == bindparam("state"))
    if shape.assessor == UNASSIGNED:
        statement = statement.where(Case.assessor_id.is_(None))
    elif shape.assessor:
        statement = statement.where(Case.assessor_id == bindparam("assessor_id"))
    if shape.min_days:
        statement = statement.where(Case.state_entered_at <= bindparam("entered_by"))
    if shape.overdue:
        statement = statement.where(Case.due_at < bindparam("now"))
    # The filters on the credential and the candidate are written as a test of each row met in the order of the
    # list (an indexed look-up per row, stopping after one page), never as a join the planner may start from
    # the other table: SQLite then builds a filter over all 25,000 candidates for every page (6 ms, not 0.5).
    if shape.sector:
        statement = statement.where(
            Case.credential_id.in_(
                select(Credential.id).where(Credential.sector == bindparam("sector")).scalar_subquery()
            )
        )
    person: list = []
    if shape.centre:
        person.append(_PERSON.centre_id == bindparam("centre_id"))
    if shape.language:
        person.append(_PERSON.preferred_language == bindparam("language"))
    if person:
        statement = statement.where(select(_PERSON.id).where(_PERSON.id == Case.candidate_id, *person).exists())
    if shape.target_group:
        statement = statement.where(
            select(CandidateProfile.user_id)
            .where(
                CandidateProfile.user_id == Case.candidate_id,
                CandidateProfile.target_group == bindparam("target_group"),
            )
            .exists()
        )
    if shape.after:
        statement = statement.where(
            tuple_(key, Case.id)
            > tuple_(bindparam("after_moment", type_=key.type), bindparam("after_id", type_=Integer))
        )
    return statement.order_by(key, Case.id).limit(shape.limit + 1)


def page(filters: Filters, after: str | None = None, limit: int = PAGE_SIZE, now: datetime | None = None) -> Page:
    """One page of the queue, oldest in state (or soonest due) first, in one query."""
    now = now or utcnow()
    start = parse_cursor(after)
    assessor = filters.assessor if filters.assessor == UNASSIGNED else "id" if filters.assessor.isdigit() else ""
    shape = _Shape(
        sort="due" if filters.sort == "due" else "age",
        credential=filters.credential_id is not None,
        state=bool(filters.state),
        assessor=assessor,
        min_days=filters.min_days is not None,
        overdue=filters.overdue,
        sector=bool(filters.sector),
        centre=filters.centre_id is not None,
        language=bool(filters.language),
        target_group=bool(filters.target_group),
        after=start is not None,
        limit=limit,
    )
    values: dict[str, object] = {
        "credential_id": filters.credential_id,
        "state": filters.state,
        "assessor_id": int(filters.assessor) if assessor == "id" else None,
        "entered_by": now - timedelta(days=filters.min_days) if filters.min_days is not None else None,
        "now": now,
        "sector": filters.sector,
        "centre_id": filters.centre_id,
        "language": filters.language,
        "target_group": filters.target_group,
        "after_moment": start[0] if start is not None else None,
        "after_id": start[1] if start is not None else None,
    }
    # Values of filters the shape leaves out are not in the statement, and are ignored.
    statement = _statement(shape)
    # Plain rows: the ORM's handling of a result was a sixth of the list's time.
    found = [CaseLine(*row) for row in reads.plain(statement, values)]
    result = Page()
    for case in found[:limit]:
        days_to_due = None
        if case.due_at is not None:
            # Whole days either way: three days and an hour late is "overdue by 3 days", not 4.
            days_to_due = (case.due_at - now).days if case.due_at >= now else -(now - case.due_at).days
        result.rows.append(
            Row(
                case=case,
                days_in_state=max((now - case.state_entered_at).days, 0),
                overdue=case.due_at is not None and case.due_at < now,
                days_to_due=days_to_due,
            )
        )
    if len(found) > limit:
        result.next_after = _cursor(found[limit - 1], filters.sort)
    return result



# --- bulk actions ------------------------------------------------------------------------------------------


@dataclass
class BulkReport:
    done: list[int] = field(default_factory=list)
    #: (case id, reason in English, to be translated where shown)
    refused: list[tuple[int, str]] = field(default_factory=list)


def parse_selection(values: list[str]) -> list[tuple[int, int | None]]:
    """The chosen cases as (id, version the page showed); anything else in the form is ignored."""
    chosen: dict[int, int | None] = {}
    for value in values:
        case_id, _, version = value.partition(":")
        if case_id.isdigit():
            chosen[int(case_id)] = int(version) if version.isdigit() else None
    return sorted(chosen.items())


def bulk_assign(selection: list[tuple[int, int | None]], assessor_id: int, actor: User) -> BulkReport:
    """Assign each chosen case on its own: each is checked, changed and audited as if assigned alone, and a
    case that is refused (closed, changed since the page was shown, an assessor not qualified for it) leaves
    the others assigned. Each case runs in a savepoint, so a refusal undoes only its own part."""
    from validation.services import cases
    from validation.services.errors import ServiceError

    report = BulkReport()
    for case_id, version in selection:
        savepoint = db.session.begin_nested()
        try:
            cases.assign_assessor(case_id, assessor_id, actor, version)
            db.session.flush()
        except ServiceError as exc:
            savepoint.rollback()
            report.refused.append((case_id, exc.reason))
            continue
        savepoint.commit()
        report.done.append(case_id)
    return report


def bulk_remind(selection: list[tuple[int, int | None]], actor: User) -> BulkReport:
    """Remind whoever each chosen case waits for (the candidate, the assessor or the moderator, else the
    coordinators), in their language, in the app and by e-mail; each reminder audited with its case. A closed
    case is named and skipped. A reminder changes no case, so a page shown before a change still sends it."""
    from validation.services import access, notifications
    from validation.services.errors import ServiceError

    if actor.role != "coordinator":
        raise Forbidden("Only coordinators send reminders.")
    report = BulkReport()
    for case_id, _version in selection:
        try:
            case = access.case_to_act_on(actor, case_id)
        except ServiceError as exc:
            report.refused.append((case_id, exc.reason))
            continue
        if case.outcome is not None and case.state not in ("appealed", "appeal_review"):
            report.refused.append((case_id, CLOSED_NO_REMINDER))
            continue
        due = {"due_on": notifications.day_of(case.due_at)} if case.due_at else {}
        told = notifications.notify_all(notifications.who_acts(case), "reminder", case, **due)
        audit.record("case.reminded", actor=actor, case=case, recipients=len(told))
        report.done.append(case_id)
    return report
