"""The tick: what happens because time passed. `validation tick` runs it; cron runs that every minute.

In one run it withdraws a draft still unchanged DRAFT_EXPIRY_DAYS after its candidate was warned, warns a
candidate whose draft has not changed for DRAFT_WARNING_DAYS, marks cases that passed their due date as
overdue and tells whoever must act (and the coordinator), reminds whoever must act of a due date that is
near (DEADLINE_NEAR_DAYS), and then delivers the e-mail that is due (so what this run queued goes out in it).

Any number of ticks may run at once on any number of machines, and each notice is still given once:

- each notice is a `CaseNotice` row, unique per (case, kind, anchor): of two ticks inserting it, one
  commits and the other gets an integrity error and gives nothing;
- on PostgreSQL each case is locked while its notice is given (FOR UPDATE SKIP LOCKED): a case another tick
  is working on is skipped, and the next run finds its notice given; on SQLite the CLI's transactions take
  the write lock when they begin, so ticks take turns, and each reads what the one before committed;
- the condition is checked again under the lock, so a case that moved on meanwhile is left alone.

Like `mail.send_pending`, the tick commits once per case: each notice is its own change, and a long
transaction would hold the audit trail's lock (and so every other writer) for the whole run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Exists, Select, and_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

import workflows
from validation.extensions import db
from validation.models import Case, CaseNotice, utcnow
from validation.services import accounts, audit, cases, mail, notifications
from validation.services.errors import ServiceError

log = logging.getLogger(__name__)
#: The reason recorded on the transition that withdraws an abandoned draft.
EXPIRED = "expired"


@dataclass
class TickReport:
    overdue: int = 0
    reminded: int = 0
    warned: int = 0
    expired: int = 0
    #: Notices another tick gave first (or was giving): nothing was done for them here.
    skipped: int = 0
    #: Cases that could not be handled (logged); they are tried again at the next run.
    errors: int = 0
    sent: int = 0
    failed: int = 0


def _days(name: str) -> timedelta:
    return timedelta(days=int(current_app.config[name]))


def _notice_given(kind: str, anchor: ColumnElement[datetime]) -> Exists:
    """SQL: the case of the outer query has a notice of `kind` anchored at `anchor` (a column)."""
    return exists().where(CaseNotice.case_id == Case.id, CaseNotice.kind == kind, CaseNotice.anchor_at == anchor)


def _ids(statement: Select[Any]) -> list[tuple[int, datetime]]:
    rows = [(int(r[0]), r[1]) for r in db.session.execute(statement)]
    db.session.rollback()  # end the read: each case then gets a transaction of its own
    return rows


def _lock(case_id: int) -> Case | None:
    """The case, locked for this transaction; None when another tick holds it (PostgreSQL) or it is gone."""
    statement = select(Case).where(Case.id == case_id)
    if db.session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return db.session.execute(statement.execution_options(populate_existing=True)).scalar_one_or_none()


def _give(
    now: datetime,
    case_id: int,
    kind: str,
    anchor: datetime,
    still_due: Callable[[Case], bool],
    act: Callable[[Case, CaseNotice], None],
    report: TickReport,
) -> bool:
    """In a transaction of its own: lock the case, check again, record the notice once, act, commit."""
    try:
        case = _lock(case_id)
        given = db.session.execute(
            select(CaseNotice.id).where(
                CaseNotice.case_id == case_id, CaseNotice.kind == kind, CaseNotice.anchor_at == anchor
            )
        ).first()
        if case is None or given is not None or not still_due(case):
            db.session.rollback()
            report.skipped += 1
            return False
        # The tick's own moment: a later run counts the time since this notice by the same clock.
        notice = CaseNotice(case_id=case.id, kind=kind, anchor_at=anchor, created_at=now)
        try:
            with db.session.begin_nested():
                db.session.add(notice)
                db.session.flush()
        except IntegrityError:
            db.session.rollback()
            report.skipped += 1
            return False
        act(case, notice)
        db.session.commit()
        return True
    except (ServiceError, workflows.Refused, IntegrityError) as exc:
        db.session.rollback()
        log.warning("tick: case %s, %s not given: %s", case_id, kind, exc)
        report.errors += 1
        return False
    except Exception:
        # One case that cannot be handled must not keep every case after it waiting, run after run: it is
        # logged, counted (the command exits 1) and tried again at the next run.
        db.session.rollback()
        log.exception("tick: case %s, %s failed", case_id, kind)
        report.errors += 1
        return False


# --- overdue and near deadlines ------------------------------------------------------------------------------


def _is_open(case: Case) -> bool:
    definition = cases.definition_for(case)
    return case.due_at is not None and not definition.state(case.state).terminal


def mark_overdue(now: datetime, report: TickReport) -> None:
    """Each open case past its due date: marked overdue once per state entry; whoever must act and the
    coordinator are told."""
    candidates = _ids(
        select(Case.id, Case.state_entered_at)
        .where(Case.due_at.is_not(None), Case.due_at <= now, ~_notice_given("overdue", Case.state_entered_at))
        .order_by(Case.due_at)
    )
    for case_id, anchor in candidates:

        def still_due(case: Case, anchor: datetime = anchor) -> bool:
            return _is_open(case) and case.state_entered_at == anchor and case.due_at is not None \
                and case.due_at <= now

        def act(case: Case, notice: CaseNotice) -> None:
            assert case.due_at is not None
            due_on = notifications.day_of(case.due_at)
            audit.record("case.marked_overdue", case=case, notice_id=notice.id, state=case.state, due_on=due_on)
            people = notifications.who_acts(case) + notifications.coordinators_for(case)
            notifications.notify_all(people, "overdue", case, due_on=due_on)

        if _give(now, case_id, "overdue", anchor, still_due, act, report):
            report.overdue += 1


def remind_deadlines(now: datetime, report: TickReport) -> None:
    """Each open case due within DEADLINE_NEAR_DAYS: whoever must act is reminded once per state entry."""
    horizon = now + _days("DEADLINE_NEAR_DAYS")
    candidates = _ids(
        select(Case.id, Case.state_entered_at)
        .where(Case.due_at > now, Case.due_at <= horizon, ~_notice_given("deadline_near", Case.state_entered_at))
        .order_by(Case.due_at)
    )
    for case_id, anchor in candidates:

        def still_due(case: Case, anchor: datetime = anchor) -> bool:
            return _is_open(case) and case.state_entered_at == anchor and case.due_at is not None \
                and now < case.due_at <= horizon

        def act(case: Case, notice: CaseNotice) -> None:
            assert case.due_at is not None
            due_on = notifications.day_of(case.due_at)
            audit.record("case.deadline_reminded", case=case, notice_id=notice.id, state=case.state, due_on=due_on)
            notifications.notify_all(notifications.who_acts(case), "deadline_near", case, due_on=due_on)

        if _give(now, case_id, "deadline_near", anchor, still_due, act, report):
            report.reminded += 1


# --- abandoned drafts --------------------------------------------------------------------------------------


def _draft_states() -> list[str]:
    registry = cases.registry()
    return sorted({registry.latest(key).initial for key in registry.keys()})  # noqa: SIM118  (a Registry)


def _is_draft(case: Case) -> bool:
    return case.outcome is None and case.state == cases.definition_for(case).initial


def warn_drafts(now: datetime, report: TickReport) -> None:
    """A draft unchanged for DRAFT_WARNING_DAYS: its candidate is told, once per last change, that it will be
    withdrawn DRAFT_EXPIRY_DAYS from now unless it changes."""
    cutoff = now - _days("DRAFT_WARNING_DAYS")
    candidates = _ids(
        select(Case.id, Case.updated_at)
        .where(
            Case.outcome.is_(None),
            Case.state.in_(_draft_states()),
            Case.updated_at <= cutoff,
            ~_notice_given("draft_warning", Case.updated_at),
        )
        .order_by(Case.updated_at)
    )
    for case_id, anchor in candidates:

        def still_due(case: Case, anchor: datetime = anchor) -> bool:
            return _is_draft(case) and case.updated_at == anchor

        def act(case: Case, notice: CaseNotice) -> None:
            expires_on = notifications.day_of(now + _days("DRAFT_EXPIRY_DAYS"))
            audit.record("case.draft_warned", case=case, notice_id=notice.id, expires_on=expires_on)
            notifications.notify(case.candidate, "draft_warning", case, since_on=notifications.day_of(case.updated_at),
                                 expires_on=expires_on)

        if _give(now, case_id, "draft_warning", anchor, still_due, act, report):
            report.warned += 1


def expire_drafts(now: datetime, report: TickReport) -> None:
    """A draft warned DRAFT_EXPIRY_DAYS ago and unchanged since: withdrawn through the workflow, recorded under
    the system account with the reason "expired", and its candidate told."""
    warning = aliased(CaseNotice)
    cutoff = now - _days("DRAFT_EXPIRY_DAYS")
    candidates = _ids(
        select(Case.id, warning.anchor_at)
        .join(warning, and_(warning.case_id == Case.id, warning.kind == "draft_warning"))
        .where(
            Case.outcome.is_(None),
            Case.state.in_(_draft_states()),
            warning.created_at <= cutoff,
            Case.updated_at <= warning.anchor_at,
            ~_notice_given("draft_expired", warning.anchor_at),
        )
        .order_by(warning.created_at)
    )
    for case_id, anchor in candidates:

        def still_due(case: Case, anchor: datetime = anchor) -> bool:
            return _is_draft(case) and case.updated_at <= anchor

        def act(case: Case, notice: CaseNotice) -> None:
            system = accounts.system_user()
            cases.fire(case.id, "withdraw", system, reason=EXPIRED)
            audit.record("case.draft_expired", actor=system, case=case, notice_id=notice.id, reason=EXPIRED)
            notifications.notify(case.candidate, "draft_expired", case)

        if _give(now, case_id, "draft_expired", anchor, still_due, act, report):
            report.expired += 1


# --- one run ------------------------------------------------------------------------------------------------


def run(now: datetime | None = None, mail_limit: int = 100) -> TickReport:
    """Everything that is due at `now` (the present unless a test says otherwise)."""
    moment = now or utcnow()
    report = TickReport()
    # Expiry first: a draft withdrawn now is neither overdue nor due soon, and its candidate is told only that.
    expire_drafts(moment, report)
    warn_drafts(moment, report)
    mark_overdue(moment, report)
    remind_deadlines(moment, report)
    delivery = mail.send_pending(mail_limit, now=moment)
    report.sent, report.failed = delivery.sent, delivery.failed
    return report
