"""The audit trail: one event per change, no personal data, append-only in the database itself, and any
tampering found by `verify_chain()` and by `validation audit verify`."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests import factories
from tests.conftest import postgres_only
from validation.extensions import db
from validation.models import AuditEvent, utcnow
from validation.models.audit import GENESIS_HASH
from validation.services import accounts, assessment, audit, cases, catalog, evidence, moderation
from validation.web.security import write_intent

PRIVATE_NAME = "Zoryana Kvitka-Osnovianenko"
PRIVATE_EMAIL = "zoryana.kvitka@private-mail.example"
PRIVATE_STATEMENT = "I baked rye bread at the Lviv bakery on Horodotska street for seven winters."
PRIVATE_TITLE = "Letter from Halyna about my night shifts"
PRIVATE_FILE_NAME = "zoryana-passport-scan.txt"


@pytest.fixture(autouse=True)
def _no_write_intent_left_behind() -> Iterator[None]:
    """A CLI command marks its thread as writing (its process ends there); the tests go on, so restore it."""
    token = write_intent.set(False)
    yield
    write_intent.reset(token)


def _last_seq() -> int:
    return int(db.session.execute(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.seq), 0))).scalar_one())


def _count() -> int:
    return int(db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one())


def _events_after(seq: int) -> list[AuditEvent]:
    return list(
        db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq).execution_options(
                populate_existing=True
            )
        ).scalars()
    )


@contextmanager
def appended(*actions: str) -> Iterator[list[AuditEvent]]:
    """Assert that the block appends exactly these events, numbered on, timed in UTC, chained."""
    db.session.flush()
    before = _last_seq()
    started = utcnow() - timedelta(seconds=1)
    found: list[AuditEvent] = []
    yield found
    db.session.flush()
    finished = utcnow() + timedelta(seconds=1)
    new = _events_after(before)
    assert [e.action for e in new] == list(actions)
    assert [e.seq for e in new] == list(range(before + 1, before + 1 + len(new)))
    previous = db.session.get(AuditEvent, before) if before else None
    prev_hash = previous.hash if previous else GENESIS_HASH
    for event in new:
        assert event.occurred_at.utcoffset() == timedelta(0)
        assert started <= event.occurred_at <= finished, (event.occurred_at, started, finished)
        assert event.prev_hash == prev_hash
        assert event.hash == audit.compute_hash(event)
        prev_hash = event.hash
    found.extend(new)


def _audit_table_text() -> str:
    """Every value of every column of the audit table, as the database keeps it."""
    rows = db.session.execute(sa.text("SELECT * FROM audit_events")).all()
    return "\n".join(" ".join("" if v is None else str(v) for v in row) for row in rows)


# --- one event per change ------------------------------------------------------------------------------


def test_every_change_appends_exactly_one_event(ctx: Flask) -> None:
    with appended("user.created") as found:
        candidate = accounts.create_user(email=PRIVATE_EMAIL, display_name=PRIVATE_NAME,
                                         password=factories.PASSWORD, role="candidate", actor=None)
    (event,) = found
    assert event.actor_id is None and event.case_id is None
    assert audit.facts_of(event) == {"user_id": candidate.id, "role": "candidate"}

    with appended("user.created", "user.created", "user.created"):
        admin = factories.user("admin")
        assessor = factories.user("assessor")
        coordinator = factories.user("coordinator")

    with appended("assessor.qualified") as found:
        factories.qualify(assessor, admin)
    assert audit.facts_of(found[0]) == {"subject_id": assessor.id, "credential_ids": [],
                                        "sectors": list(factories.SECTORS), "languages": list(factories.LANGUAGES)}

    with appended(*["catalog.credential_imported"] * 8) as events:
        factories.load_catalog()
    bakery = catalog.by_code("UA-BAKERY")
    assert bakery is not None
    imported = {audit.facts_of(e)["code"]: audit.facts_of(e) for e in events}
    assert imported["UA-BAKERY"] == {"credential_id": bakery.id, "code": "UA-BAKERY", "version": 1,
                                     "outcomes": len(bakery.outcomes)}

    # The first case also records the workflow version it pins (a change of its own); later ones do not.
    with appended("workflow.version_recorded", "case.opened") as found:
        case = cases.open_case(candidate, bakery.id)
    recorded, opened = found
    assert audit.facts_of(recorded) == {"key": "standard", "version": 2}
    assert (opened.actor_id, opened.case_id, opened.from_state, opened.to_state) == (
        candidate.id, case.id, None, "draft")
    assert audit.facts_of(opened) == {"credential_id": bakery.id, "workflow": "standard:2",
                                      "outcomes_claimed": len(case.claims)}
    outcome_ids = [c.outcome_id for c in case.claims]

    with appended("evidence.added") as found:
        statement = evidence.add_statement(case.id, candidate, PRIVATE_TITLE, PRIVATE_STATEMENT, outcome_ids)
    (added,) = found
    assert (added.actor_id, added.case_id) == (candidate.id, case.id)
    assert audit.facts_of(added) == {"item_id": statement.id, "kind": "statement",
                                     "outcomes": sorted(outcome_ids), "size": None}

    content = b"To whom it may concern: she worked here.\n"
    with appended("evidence.added") as found:
        item = evidence.add_file(case.id, candidate, PRIVATE_TITLE, io.BytesIO(content), PRIVATE_FILE_NAME,
                                 outcome_ids[:1])
    (added_file,) = found
    assert audit.facts_of(added_file) == {"item_id": item.id, "kind": "file", "outcomes": outcome_ids[:1],
                                          "size": len(content)}

    with appended("case.transition") as found:
        cases.fire(case.id, "submit", candidate)
    (submitted,) = found
    assert (submitted.actor_id, submitted.case_id, submitted.from_state, submitted.to_state) == (
        candidate.id, case.id, "draft", "submitted")
    assert audit.facts_of(submitted) == {"trigger": "submit", "with_reason": False}

    with appended("case.transition"):
        cases.fire(case.id, "start_screening", coordinator)
    # The assessor is told, and who was told of what is a change of its own.
    with appended("case.assigned", "notification.created") as found:
        cases.assign_assessor(case.id, assessor.id, coordinator)
    assigned, told = found
    assert audit.facts_of(assigned) == {"assessor_id": assessor.id, "previous_assessor_id": None}
    assert told.case_id is None and audit.facts_of(told)["user_id"] == assessor.id
    with appended():  # the same assessor again changes nothing
        cases.assign_assessor(case.id, assessor.id, coordinator)
    with appended("case.transition") as found:
        cases.fire(case.id, "accept_for_review", coordinator, "Complete portfolio.")
    (accepted,) = found
    assert (accepted.from_state, accepted.to_state) == ("screening", "under_review")
    assert audit.facts_of(accepted) == {"trigger": "accept_for_review", "with_reason": True}

    with appended(*["decision.recorded"] * len(outcome_ids)) as decisions:
        for outcome_id in outcome_ids:
            assessment.record_decision(case.id, outcome_id, assessor, "met", None, [0])
    assert [audit.facts_of(e)["outcome_id"] for e in decisions] == outcome_ids
    assert all(audit.facts_of(e)["verdict"] == "met" and audit.facts_of(e)["criteria_met"] == 1
               for e in decisions)

    # A recommendation is a change, and so is what the credential's sampling rule said about it.
    with appended("case.transition", "moderation.drawn") as found:
        cases.fire(case.id, "recommend", assessor)
    assert audit.facts_of(found[1])["selected"] is False  # every outcome met, no rule of its own
    # Awarding is four changes: the case moves, an award is issued, its credential is signed, and the
    # candidate is told.
    with appended("case.transition", "award.issued", "credential.issued", "notification.created") as found:
        cases.fire(case.id, "award", coordinator)
    moved, issued, signed, _told = found
    assert audit.facts_of(signed)["award_id"] == audit.facts_of(issued)["award_id"]
    assert (moved.from_state, moved.to_state) == ("recommended", "awarded")
    assert audit.facts_of(issued)["kind"] == "full"
    assert audit.facts_of(issued)["outcomes"] == len(outcome_ids)

    other = catalog.by_code("GE-WELD-MMA")
    assert other is not None
    with appended("case.opened"):
        second = cases.open_case(candidate, other.id)
    with appended("case.transition") as found:
        cases.fire(second.id, "withdraw", candidate, "I moved away from Kharkiv to live with my sister.")
    (withdrawn,) = found
    assert audit.facts_of(withdrawn) == {"trigger": "withdraw", "with_reason": True}

    with appended("user.registered") as found:
        newcomer = accounts.register_candidate(email="newcomer@test.example", display_name=PRIVATE_NAME,
                                               password=factories.PASSWORD, language="uk")
    (registered,) = found
    assert registered.actor_id == newcomer.id
    with appended("session.opened") as found:
        token = accounts.open_session(newcomer, 12)
    (opened_session,) = found
    assert set(audit.facts_of(opened_session)) == {"user_id", "session_id"}
    with appended("user.language_changed"):
        accounts.set_language(newcomer, "en")
    with appended():
        accounts.set_language(newcomer, "en")
    with appended("user.password_changed", "session.opened") as found:
        token = accounts.change_password(newcomer, factories.PASSWORD, "another long password", 12)
    changed, _ = found
    assert audit.facts_of(changed) == {"user_id": newcomer.id, "sessions_revoked": 1}
    with appended("session.closed"):
        accounts.close_session(newcomer, token)
    accounts.open_session(newcomer, 12)
    with appended("user.disabled") as found:
        accounts.set_active(newcomer.id, False, admin)
    (disabled,) = found
    assert disabled.actor_id == admin.id
    assert audit.facts_of(disabled) == {"user_id": newcomer.id, "sessions_revoked": 1}

    # Nothing changes, nothing is recorded.
    with appended():
        factories.load_catalog()
    with appended():
        cases.record_version(cases.registry().latest("standard"))

    db.session.commit()
    report = audit.verify_chain()
    assert report.intact and report.checked == _count() == _last_seq()


def test_audit_table_holds_no_names_addresses_or_document_text(ctx: Flask) -> None:
    factories.load_catalog()
    candidate = accounts.create_user(email=PRIVATE_EMAIL, display_name=PRIVATE_NAME,
                                     password=factories.PASSWORD, role="candidate", actor=None)
    who = {**factories.people(), "candidate": candidate}
    case = cases.open_case(candidate, catalog.by_code("UA-BAKERY").id)  # type: ignore[union-attr]
    outcome_ids = [c.outcome_id for c in case.claims]
    evidence.add_statement(case.id, candidate, PRIVATE_TITLE, PRIVATE_STATEMENT, outcome_ids)
    evidence.add_file(case.id, candidate, PRIVATE_TITLE, io.BytesIO(b"My employer's letter.\n"),
                      PRIVATE_FILE_NAME, outcome_ids)
    for trigger, role in factories.PATHS["recommended"]:
        if trigger == "accept_for_review":
            cases.assign_assessor(case.id, who["assessor"].id, who["coordinator"])
        if trigger == "recommend":
            for outcome_id in outcome_ids:
                assessment.record_decision(case.id, outcome_id, who["assessor"], "not_met",
                                           "Halyna's letter does not show the ovens were hers.")
        cases.fire(case.id, trigger, who[role], "Zoryana asked by phone to move on.")
    # Every "no award" is moderated by a second assessor first.
    moderation.assign_moderator(case.id, who["other_assessor"].id, who["coordinator"])
    cases.fire(case.id, "send_to_moderation", who["coordinator"])
    for outcome_id in outcome_ids:
        moderation.record_view(case.id, outcome_id, who["other_assessor"], True, None)
    cases.fire(case.id, "agree", who["other_assessor"])
    cases.fire(case.id, "refuse_award", who["coordinator"], "Zoryana must show the night shift work.")
    db.session.commit()

    stored = _audit_table_text().casefold()
    assert _count() > 20
    for secret in (PRIVATE_NAME, PRIVATE_EMAIL, PRIVATE_STATEMENT, PRIVATE_TITLE, PRIVATE_FILE_NAME,
                   "Zoryana", "Halyna", "zoryana.kvitka", "private-mail", "Horodotska", "night shift",
                   "Kharkiv", "ovens"):
        assert secret.casefold() not in stored, f"{secret!r} found in the audit trail"


@pytest.mark.parametrize(
    "value",
    [
        "Olena Kovalenko",
        "olena@example.org",
        "I worked as a baker for ten years.",
        "x" * 65,
        "line\nbreak",
        ["LO1", "a sentence with spaces"],
        {"name": "Olena"},
        1.5,
    ],
)
def test_record_refuses_free_text(ctx: Flask, value: Any) -> None:
    factories.load_catalog()
    db.session.commit()
    before = _count()
    with pytest.raises(ValueError, match="note"):
        audit.record("test.note", note=value)
    db.session.flush()
    assert _count() == before


def test_record_accepts_ids_counts_flags_and_codes(ctx: Flask) -> None:
    event = audit.record("test.facts", item_id=7, count=0, ok=True, missing=None, code="UA-BAKERY",
                         state="under_review", outcomes=[3, 1, 2], workflow="standard:1")
    db.session.commit()
    stored = db.session.execute(sa.text("SELECT facts FROM audit_events WHERE seq = :s"), {"s": event.seq})
    assert stored.scalar_one() == (
        '{"code":"UA-BAKERY","count":0,"item_id":7,"missing":null,"ok":true,"outcomes":[3,1,2],'
        '"state":"under_review","workflow":"standard:1"}'
    )
    assert event.seq == 1 and event.prev_hash == GENESIS_HASH
    assert event.occurred_at.tzinfo is not None and event.occurred_at.utcoffset() == timedelta(0)


# --- append-only in the database ------------------------------------------------------------------------


def _some_events() -> None:
    factories.load_catalog()
    who = factories.people()
    factories.case_in_state("awarded", who)
    db.session.commit()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET facts = '{}' WHERE seq = 3",
        "UPDATE audit_events SET action = 'case.opened' WHERE seq = 3",
        "UPDATE audit_events SET seq = seq + 1000",
        "DELETE FROM audit_events WHERE seq = 3",
        "DELETE FROM audit_events",
    ],
)
def test_database_refuses_update_and_delete(ctx: Flask, statement: str) -> None:
    _some_events()
    before = db.session.execute(sa.text("SELECT * FROM audit_events ORDER BY seq")).all()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text(statement))
        db.session.flush()
    db.session.rollback()
    assert db.session.execute(sa.text("SELECT * FROM audit_events ORDER BY seq")).all() == before
    assert audit.verify_chain().intact


def test_orm_cannot_delete_or_change_an_event_either(ctx: Flask) -> None:
    _some_events()
    event = db.session.get(AuditEvent, 2)
    assert event is not None
    event.action = "changed"
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    event = db.session.get(AuditEvent, 2)
    db.session.delete(event)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    assert audit.verify_chain().intact


@postgres_only
def test_postgresql_refuses_truncate(ctx: Flask) -> None:
    _some_events()
    before = _count()
    for statement in ("TRUNCATE audit_events", "TRUNCATE audit_events RESTART IDENTITY CASCADE"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            db.session.execute(sa.text(statement))
        db.session.rollback()
    assert _count() == before
    assert audit.verify_chain().intact


# --- tampering found -----------------------------------------------------------------------------------


def _as_dba(backend: str, statements: list[tuple[str, dict[str, Any]]]) -> None:
    """What a database administrator could do: switch the triggers off and change rows."""
    if backend == "sqlite":
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_update"))
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_delete"))
    else:
        db.session.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
    for sql, params in statements:
        result = db.session.execute(sa.text(sql), params)
        assert result.rowcount == 1, sql
    if backend == "postgresql":
        db.session.execute(sa.text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
    db.session.commit()
    db.session.expunge_all()


def _row(seq: int) -> dict[str, Any]:
    row = db.session.execute(sa.text("SELECT * FROM audit_events WHERE seq = :s"), {"s": seq}).one()
    return dict(row._mapping)


def _cli_verify(app: Flask) -> Any:
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def _intact_before(app: Flask) -> int:
    _some_events()
    total = _count()
    assert total > 20
    report = audit.verify_chain()
    assert report == audit.ChainReport(True, total)
    result = _cli_verify(app)
    assert result.exit_code == 0, result.output
    assert f"{total} event(s) verified" in result.output
    return total


def _assert_broken_at(app: Flask, seq: int, checked: int, reason: str) -> None:
    report = audit.verify_chain()
    assert not report.intact
    assert report.broken_seq == seq, report
    assert report.checked == checked, report
    assert reason in (report.reason or ""), report
    result = _cli_verify(app)
    assert result.exit_code == 1, result.output
    assert f"broken at event {seq}:" in result.output
    assert "intact" not in result.output


def test_empty_trail_verifies(ctx: Flask) -> None:
    assert audit.verify_chain() == audit.ChainReport(True, 0)
    result = _cli_verify(ctx)
    assert result.exit_code == 0, result.output
    assert "0 event(s) verified" in result.output


def test_one_changed_byte_in_the_facts_is_found(ctx: Flask, backend: str) -> None:
    total = _intact_before(ctx)
    seq = total // 2
    facts = _row(seq)["facts"]
    position = max(i for i, ch in enumerate(facts) if ch.isdigit())
    changed = facts[:position] + str((int(facts[position]) + 1) % 10) + facts[position + 1:]
    assert len(changed) == len(facts) and sum(a != b for a, b in zip(facts, changed, strict=True)) == 1
    _as_dba(backend, [("UPDATE audit_events SET facts = :f WHERE seq = :s", {"f": changed, "s": seq})])
    assert _row(seq)["facts"] == changed
    _assert_broken_at(ctx, seq, seq - 1, "does not match its hash")


@pytest.mark.parametrize(
    ("column", "value"),
    [("action", "case.reopened"), ("to_state", "awarded"), ("actor_id", None), ("case_id", None)],
)
def test_a_changed_column_is_found(ctx: Flask, backend: str, column: str, value: Any) -> None:
    total = _intact_before(ctx)
    seq = next(s for s in range(total // 2, total) if _row(s)[column] not in (None, value))
    _as_dba(backend, [(f"UPDATE audit_events SET {column} = :v WHERE seq = :s", {"v": value, "s": seq})])
    _assert_broken_at(ctx, seq, seq - 1, "does not match its hash")


def test_a_rewritten_event_with_a_fresh_hash_breaks_the_next_link(ctx: Flask, backend: str) -> None:
    """Recomputing the changed event's own hash does not help: the next event points at the old one."""
    total = _intact_before(ctx)
    seq = total // 2
    event = db.session.get(AuditEvent, seq)
    assert event is not None
    db.session.expunge(event)
    event.action = "case.reopened"
    new_hash = audit.compute_hash(event)
    _as_dba(backend, [("UPDATE audit_events SET action = 'case.reopened', hash = :h WHERE seq = :s",
                       {"h": new_hash, "s": seq})])
    _assert_broken_at(ctx, seq + 1, seq, "previous hash does not match")


def test_a_deleted_middle_event_is_found(ctx: Flask, backend: str) -> None:
    total = _intact_before(ctx)
    seq = total // 2
    _as_dba(backend, [("DELETE FROM audit_events WHERE seq = :s", {"s": seq})])
    assert _count() == total - 1
    _assert_broken_at(ctx, seq, seq - 1, f"event {seq} is missing")


def test_two_swapped_events_are_found(ctx: Flask, backend: str) -> None:
    total = _intact_before(ctx)
    first, second = total // 3, 2 * total // 3
    a, b = _row(first), _row(second)
    columns = [c for c in a if c != "seq"]
    assert set(columns) >= {"occurred_at", "actor_id", "action", "case_id", "from_state", "to_state", "facts",
                            "prev_hash", "hash"}
    assignments = ", ".join(f"{c} = :{c}" for c in columns)
    update = f"UPDATE audit_events SET {assignments} WHERE seq = :seq"
    # The hashes are unique, so the first row is parked on placeholder hashes while the second is moved.
    parked = {**a, "seq": first, "prev_hash": "f" * 64, "hash": "e" * 64}
    _as_dba(backend, [
        (update, parked),
        (update, {**a, "seq": second}),
        (update, {**b, "seq": first}),
    ])
    assert _row(first)["hash"] == b["hash"] and _row(second)["hash"] == a["hash"]
    assert _count() == total
    _assert_broken_at(ctx, first, first - 1, "previous hash does not match")


# --- concurrent writers ---------------------------------------------------------------------------------


@postgres_only
def test_concurrent_appends_keep_one_unbroken_chain(app: Flask) -> None:
    threads, per_thread = 8, 25
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(number: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(per_thread):
                with app.app_context():
                    if number % 2:
                        accounts.create_user(email=f"writer-{number}-{i}@test.example", display_name="Writer",
                                             password=factories.PASSWORD, role="candidate", actor=None)
                    else:
                        audit.record("test.concurrent", writer=number, n=i)
                    db.session.commit()
        except BaseException as exc:  # collected and reported by the main thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(w.is_alive() for w in workers), "a writer hung"
    assert errors == [], errors

    total = threads * per_thread
    with app.app_context():
        seqs = list(db.session.execute(sa.select(AuditEvent.seq).order_by(AuditEvent.seq)).scalars())
        assert seqs == list(range(1, total + 1))
        prev_hashes = list(db.session.execute(sa.select(AuditEvent.prev_hash)).scalars())
        assert len(set(prev_hashes)) == total
        report = audit.verify_chain()
        assert report == audit.ChainReport(True, total)
        # Each writer's own events are in the order it wrote them.
        for number in range(0, threads, 2):
            mine = [audit.facts_of(e)["n"] for e in db.session.execute(
                sa.select(AuditEvent).where(AuditEvent.action == "test.concurrent").order_by(AuditEvent.seq)
            ).scalars() if audit.facts_of(e)["writer"] == number]
            assert mine == list(range(per_thread))
        users = db.session.execute(sa.text("SELECT count(*) FROM users")).scalar_one()
        assert users == (threads // 2) * per_thread
        db.session.remove()
