"""`validation tick`: overdue cases, deadline reminders, draft warnings and expiries, each given once however
many ticks run and however often; e-mail delivered to the folder or over SMTP, retried with backoff, kept and
shown when it fails for good. On SQLite and PostgreSQL alike."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from tests import factories
from tests.conftest import login, post
from tests.services.test_mail import ANSWERED, SMTPServer
from tests.services.test_races import postgres_only
from validation.extensions import db
from validation.models import (
    AuditEvent,
    Case,
    CaseNotice,
    CaseTransition,
    Credential,
    Notification,
    OutboundMessage,
    User,
    utcnow,
)
from validation.services import accounts, audit, cases, evidence, mail, tick
from validation.web.security import write_intent

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _writer() -> Iterator[None]:
    """As the CLI does: the tick's transactions take SQLite's write lock when they begin."""
    token = write_intent.set(True)
    yield
    write_intent.reset(token)


@pytest.fixture
def mail_dir(app: Flask, tmp_path: Path) -> Path:
    folder = tmp_path / "mail"
    app.config.update(MAIL_DIR=str(folder), MAIL_SMTP_URL=None)
    return folder


def _people(app: Flask) -> dict[str, int]:
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        db.session.commit()
        return {role: user.id for role, user in who.items()}


def _who(ids: dict[str, int]) -> dict[str, User]:
    return {role: db.session.get(User, i) for role, i in ids.items()}  # type: ignore[misc]


def _case(app: Flask, ids: dict[str, int], state: str, code: str = "UA-BAKERY", candidate: int | None = None) -> int:
    with app.app_context():
        who = _who(ids)
        if candidate is not None:
            who["candidate"] = db.session.get(User, candidate)  # type: ignore[assignment]
        case = factories.case_in_state(state, who, code)
        db.session.commit()
        return case.id


def _run(app: Flask, now: datetime) -> tick.TickReport:
    with app.app_context():
        report = tick.run(now=now)
        db.session.remove()
        return report


def _count(app: Flask, model: type, *where: object) -> int:
    with app.app_context():
        return int(db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one())


def _notes(app: Flask, user_id: int, kind: str) -> list[tuple[int | None, dict]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(Notification.case_id, Notification.params)
            .where(Notification.user_id == user_id, Notification.kind == kind)
            .order_by(Notification.id)
        ).all()
        return [(r[0], r[1]) for r in rows]


def _actions(app: Flask, action: str) -> list[dict]:
    with app.app_context():
        events = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == action)).scalars()
        return [{"case_id": e.case_id, **audit.facts_of(e)} for e in events]


# --- the command ----------------------------------------------------------------------------------------------


def test_the_tick_sends_due_mail_to_the_folder_without_a_mail_server(app: Flask, mail_dir: Path) -> None:
    ids = _people(app)
    case_id = _case(app, ids, "under_review")  # the assessor was told of the assignment

    result = app.test_cli_runner().invoke(args=["tick"])

    assert result.exit_code == 0, result.output
    assert "0 marked overdue, 0 reminded, 0 draft(s) warned, 0 draft(s) expired; 1 e-mail(s) sent, 0 failed." \
        in result.output
    files = list(mail_dir.glob("*-notify_assigned.eml"))
    assert len(files) == 1
    assert f"/cases/{case_id}" in files[0].read_text(encoding="utf-8")
    again = app.test_cli_runner().invoke(args=["tick"])
    assert again.exit_code == 0 and "0 e-mail(s) sent" in again.output
    assert len(list(mail_dir.glob("*.eml"))) == 1
    # The older command still delivers on its own.
    assert "0 e-mail(s) sent, 0 failed." in app.test_cli_runner().invoke(args=["mail", "send"]).output


# --- overdue and near deadlines ---------------------------------------------------------------------------------


def test_overdue_is_marked_once_and_told_to_whoever_acts_and_the_coordinator(app: Flask, mail_dir: Path) -> None:
    ids = _people(app)
    case_id = _case(app, ids, "under_review")  # 21 days to review; the assessor acts
    now = utcnow()

    assert _run(app, now + 10 * DAY).overdue == 0
    first = _run(app, now + 22 * DAY)
    assert first.overdue == 1 and first.errors == 0
    for later in (now + 22 * DAY, now + 23 * DAY, now + 40 * DAY):
        assert _run(app, later).overdue == 0

    assert [c for c, _ in _notes(app, ids["assessor"], "overdue")] == [case_id]
    assert [c for c, _ in _notes(app, ids["coordinator"], "overdue")] == [case_id]
    assert _notes(app, ids["candidate"], "overdue") == []
    assert _count(app, CaseNotice, CaseNotice.kind == "overdue") == 1
    marked = _actions(app, "case.marked_overdue")
    assert len(marked) == 1 and marked[0]["case_id"] == case_id and marked[0]["state"] == "under_review"
    # Each notification had its e-mail, and each was sent once.
    assert len(list(mail_dir.glob("*-notify_overdue.eml"))) == 2


def test_a_near_deadline_is_reminded_once_per_state_entry(app: Flask, mail_dir: Path) -> None:
    ids = _people(app)
    case_id = _case(app, ids, "submitted")  # 5 days; the coordinator screens it
    now = utcnow()

    assert _run(app, now + 2 * DAY).reminded == 0  # due in 3 days: not near yet (2 days by default)
    assert _run(app, now + 3 * DAY + timedelta(hours=1)).reminded == 1
    assert _run(app, now + 4 * DAY).reminded == 0
    assert len(_notes(app, ids["coordinator"], "deadline_near")) == 1
    (_, params), = _notes(app, ids["coordinator"], "deadline_near")
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert params == {"due_on": case.due_at.date().isoformat()}
        # A new state is a new deadline: screening starts, and its own due date is reminded once.
        cases.fire(case_id, "start_screening", db.session.get(User, ids["coordinator"]))
        db.session.commit()
    assert _run(app, now + 9 * DAY).reminded == 1
    assert _run(app, now + 9 * DAY).reminded == 0
    assert len(_notes(app, ids["coordinator"], "deadline_near")) == 2
    assert len(_actions(app, "case.deadline_reminded")) == 2


# --- abandoned drafts ---------------------------------------------------------------------------------------------


def test_a_draft_is_warned_then_withdrawn_as_a_recorded_system_action(app: Flask, mail_dir: Path) -> None:
    ids = _people(app)
    case_id = _case(app, ids, "draft")
    now = utcnow()

    assert _run(app, now + 44 * DAY).warned == 0
    warned_at = now + 45 * DAY + timedelta(hours=1)
    assert _run(app, warned_at).warned == 1
    assert _run(app, warned_at + DAY).warned == 0
    (_, params), = _notes(app, ids["candidate"], "draft_warning")
    assert params["expires_on"] == (warned_at + 14 * DAY).date().isoformat()
    assert _run(app, warned_at + 13 * DAY).expired == 0

    report = _run(app, warned_at + 14 * DAY + timedelta(minutes=1))

    assert report.expired == 1 and report.errors == 0
    assert report.overdue == 0 and report.reminded == 0, "a withdrawn draft is neither overdue nor due"
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case.state == "withdrawn" and case.outcome == "withdrawn"
        last = cases.transitions_of(case_id)[-1]
        assert (last.trigger, last.reason) == ("withdraw", tick.EXPIRED)
        system = db.session.get(User, last.actor_id)
        assert system.email == accounts.SYSTEM_EMAIL and system.display_name == accounts.SYSTEM_NAME
        assert system.role == "coordinator" and not system.active
        assert accounts.authenticate(accounts.SYSTEM_EMAIL, "") is None
        moved = [e for e in audit.events_for_case(case_id) if e.action == "case.transition"][-1]
        assert moved.actor_id == system.id and audit.facts_of(moved)["trigger"] == "withdraw"
        report_chain = audit.verify_chain()
        assert report_chain.intact, report_chain
        db.session.remove()
    assert len(_notes(app, ids["candidate"], "draft_expired")) == 1
    assert [e["case_id"] for e in _actions(app, "case.draft_expired")] == [case_id]
    assert [e["case_id"] for e in _actions(app, "case.draft_warned")] == [case_id]
    # Nothing more, however often the tick runs; the system account is made once.
    assert _run(app, warned_at + 30 * DAY).expired == 0
    assert _count(app, User, User.email == accounts.SYSTEM_EMAIL) == 1
    assert _count(app, CaseTransition, CaseTransition.case_id == case_id) == 1
    assert len(list(mail_dir.glob("*-notify_draft_*.eml"))) == 2


def test_a_draft_changed_after_its_warning_is_not_withdrawn(app: Flask, mail_dir: Path) -> None:
    ids = _people(app)
    case_id = _case(app, ids, "draft")
    now = utcnow()
    assert _run(app, now + 46 * DAY).warned == 1
    with app.app_context():
        case = db.session.get(Case, case_id)
        evidence.add_statement(case_id, db.session.get(User, ids["candidate"]), "More", "Another year of work.",
                               [case.claims[0].outcome_id])
        db.session.commit()
    report = _run(app, now + 59 * DAY)
    assert report.expired == 0
    with app.app_context():
        assert db.session.get(Case, case_id).state == "draft"


# --- a mail server that keeps failing --------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _message(app: Flask) -> OutboundMessage:
    with app.app_context():
        row = db.session.execute(sa.select(OutboundMessage)).scalar_one()
        db.session.expunge(row)
        return row


def test_a_failing_mail_server_is_retried_with_backoff_then_the_message_is_kept_failed(
    app: Flask, mail_dir: Path
) -> None:
    ids = _people(app)
    app.config.update(MAIL_SMTP_URL=f"smtp://127.0.0.1:{_closed_port()}", MAIL_MAX_ATTEMPTS=4,
                      MAIL_RETRY_SECONDS=60, MAIL_RETRY_MAX_SECONDS=150)
    with app.app_context():
        mail.queue("olena@example.org", "uk", "referee_answered", "referee_answered", **ANSWERED)
        db.session.commit()
    start = utcnow()

    waits = []
    moment = start
    for attempt in range(1, 4):
        report = _run(app, moment)
        assert (report.sent, report.failed) == (0, 1)
        row = _message(app)
        assert row.attempts == attempt and row.failed_at is None and row.last_error
        waits.append(row.next_attempt_at - moment)
        # Not tried again before its time, however many ticks run.
        assert _run(app, row.next_attempt_at - timedelta(seconds=1)).failed == 0
        assert _message(app).attempts == attempt
        moment = row.next_attempt_at
    assert waits == [timedelta(seconds=60), timedelta(seconds=120), timedelta(seconds=150)]  # doubled, capped

    assert _run(app, moment).failed == 1  # the fourth and last attempt
    row = _message(app)
    assert row.attempts == 4 and row.failed_at is not None and row.next_attempt_at is None and row.sent_at is None
    assert _run(app, moment + 30 * DAY).failed == 0, "a failed message is not tried again on its own"
    assert _message(app).attempts == 4
    (failed,) = _actions(app, "mail.failed")
    assert failed["message_id"] == row.id and failed["attempts"] == 4

    # The administrator sees it, with its error, and asks for it to be sent again.
    client = app.test_client()
    with app.app_context():
        admin_email = db.session.get(User, ids["admin"]).email
    login(client, admin_email)
    page = client.get("/admin/mail/").get_data(as_text=True)
    assert "olena@example.org" in page and "failed" in page and "ConnectionRefusedError" in page
    response = post(client, f"/admin/mail/{row.id}/retry")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/mail/")
    row = _message(app)
    assert row.attempts == 0 and row.failed_at is None and row.sent_at is None
    (retried,) = _actions(app, "mail.retry_requested")
    assert retried["attempts_before"] == 4 and retried["was_failed"] is True

    # With the server back, the next tick delivers it once.
    server = SMTPServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        app.config["MAIL_SMTP_URL"] = server.url
        assert _run(app, utcnow()).sent == 1
        assert _run(app, utcnow() + DAY).sent == 0
        assert [r for _, r, _ in server.received] == [["olena@example.org"]]
    finally:
        server.shutdown()
        server.server_close()
    row = _message(app)
    assert row.sent_at is not None and row.attempts == 1 and row.last_error is None
    assert "Every e-mail has been delivered." in client.get("/admin/mail/").get_data(as_text=True)
    with app.app_context():
        assert audit.verify_chain().intact


def test_retrying_a_sent_message_is_refused(app: Flask, mail_dir: Path) -> None:
    ids = _people(app)
    with app.app_context():
        message = mail.queue("olena@example.org", "en", "referee_answered", "referee_answered", **ANSWERED)
        db.session.commit()
        message_id = message.id
    _run(app, utcnow())
    with app.app_context():
        from validation.services.errors import Conflict

        with pytest.raises(Conflict):
            mail.retry_now(message_id, db.session.get(User, ids["admin"]))
        db.session.rollback()
        db.session.remove()


# --- two ticks at the same moment -------------------------------------------------------------------------------


def _busy_world(app: Flask) -> tuple[dict[str, int], int]:
    """Cases that are overdue, due soon and abandoned in draft, on every credential, and mail waiting."""
    ids = _people(app)
    app.config.update(DEADLINE_NEAR_DAYS=5, DRAFT_WARNING_DAYS=5)
    with app.app_context():
        codes = sorted(db.session.execute(
            sa.select(Credential.code).where(Credential.status == "published")).scalars())
        candidates = [factories.user("candidate", f"ticker-{n}@test.example", f"Ticker {n}").id for n in range(3)]
        for n in range(12):
            mail.queue(f"reader-{n}@example.org", "en", "referee_answered", "referee_answered", **ANSWERED)
        db.session.commit()
    made = 0
    for number, state in enumerate(["submitted", "screening", "draft"]):
        for code in codes[:3]:
            _case(app, ids, state, code, candidate=candidates[number])
            made += 1
    return ids, made


def _tick_together(app: Flask, now: datetime, ticks: int = 2) -> list[tick.TickReport]:
    barrier = threading.Barrier(ticks)
    reports: list[tick.TickReport] = []
    errors: list[BaseException] = []

    def one() -> None:
        token = write_intent.set(True)
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                reports.append(tick.run(now=now))
                db.session.remove()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            write_intent.reset(token)

    threads = [threading.Thread(target=one) for _ in range(ticks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a tick hung"
    if errors:
        raise errors[0]
    return reports


def _check_once(app: Flask, mail_dir: Path, reports: list[tick.TickReport], cases_made: int) -> None:
    assert all(r.errors == 0 for r in reports), reports
    # Each case had one notice: 3 overdue, 3 due soon, 3 drafts warned, by one tick or the other.
    assert sum(r.overdue for r in reports) == 3
    assert sum(r.reminded for r in reports) == 3
    assert sum(r.warned for r in reports) == 3
    assert _count(app, CaseNotice) == cases_made
    assert _count(app, Notification) == cases_made
    with app.app_context():
        messages = db.session.execute(sa.select(OutboundMessage)).scalars().all()
        assert len(messages) == 12 + cases_made
        assert all(m.sent_at is not None and m.attempts == 1 for m in messages), "each e-mail sent once"
        assert audit.verify_chain().intact
        db.session.remove()
    assert sum(r.sent for r in reports) == 12 + cases_made
    assert len(list(mail_dir.glob("*.eml"))) == 12 + cases_made, "no e-mail written twice"
    assert len(_actions(app, "notification.created")) == cases_made


@postgres_only
def test_two_ticks_at_once_give_each_notice_and_send_each_email_once_on_postgresql(
    app: Flask, mail_dir: Path
) -> None:
    _, made = _busy_world(app)
    reports = _tick_together(app, utcnow() + 6 * DAY)
    _check_once(app, mail_dir, reports, made)
    # And again, later: nothing new is due, nothing is given again.
    again = _tick_together(app, utcnow() + 6 * DAY + timedelta(minutes=1))
    assert sum(r.overdue + r.reminded + r.warned + r.sent for r in again) == 0


@pytest.mark.parametrize("backend", ["sqlite"])
def test_two_ticks_at_once_give_each_notice_and_send_each_email_once_on_sqlite(
    app: Flask, mail_dir: Path
) -> None:
    """SQLite has one writer at a time: the ticks take turns, and the second finds everything done."""
    _, made = _busy_world(app)
    reports = _tick_together(app, utcnow() + 6 * DAY)
    _check_once(app, mail_dir, reports, made)
