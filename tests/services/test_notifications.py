"""Notifications: each event makes, in the transaction of its change, one notification and one e-mail for each
person it concerns, in that person's language, with an audit event; nothing when the change is refused."""

# The expected texts are Ukrainian: Cyrillic letters that look like Latin ones are meant.
# ruff: noqa: RUF001

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from tests import factories
from validation.demo import before_step
from validation.extensions import db
from validation.models import AuditEvent, Case, Notification, OutboundMessage, User
from validation.services import accounts, audit, cases, notifications, profiles

BAKERY_UK = "Приготування хлібобулочних і кондитерських виробів"
FOOTER_UK = "Валідація результатів неформального та інформального навчання"
REASON = "A reason given in the test."


def _notes(user: User, kind: str | None = None) -> list[Notification]:
    statement = sa.select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    if kind is not None:
        statement = statement.where(Notification.kind == kind)
    return list(db.session.execute(statement).scalars())


def _mails(user: User, kind: str | None = None) -> list[OutboundMessage]:
    statement = sa.select(OutboundMessage).where(OutboundMessage.to_address == user.email)
    statement = statement.where(OutboundMessage.purpose.like("notify_%"))
    if kind is not None:
        statement = statement.where(OutboundMessage.purpose == f"notify_{kind}")
    return list(db.session.execute(statement.order_by(OutboundMessage.id)).scalars())


def _audited(notification: Notification) -> list[AuditEvent]:
    events = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "notification.created").order_by(AuditEvent.seq)
    ).scalars()
    return [e for e in events if audit.facts_of(e)["notification_id"] == notification.id]


def _uk(user: User) -> None:
    accounts.set_language(user, "uk")
    db.session.flush()


def _one(user: User, kind: str, case: Case) -> tuple[Notification, OutboundMessage]:
    """Exactly one notification of `kind` and one e-mail for it, in the user's language, audited."""
    notes, mails = _notes(user, kind), _mails(user, kind)
    assert len(notes) == 1, [n.kind for n in _notes(user)]
    assert len(mails) == 1, [m.purpose for m in _mails(user)]
    note, message = notes[0], mails[0]
    assert note.case_id == case.id and note.read_at is None
    assert message.language == user.preferred_language
    assert f"/cases/{case.id}" in message.body
    events = _audited(note)
    assert len(events) == 1
    facts = audit.facts_of(events[0])
    assert facts == {"notification_id": note.id, "kind": kind, "case_id": case.id, "user_id": user.id,
                     "mailed": True}
    return note, message


@pytest.fixture
def who(ctx: Flask) -> dict[str, User]:
    factories.load_catalog()
    return factories.people()


def test_an_assigned_assessor_is_told_in_their_language(who: dict[str, User]) -> None:
    _uk(who["assessor"])
    case = factories.case_in_state("screening", who)
    assert _notes(who["assessor"]) == []

    cases.assign_assessor(case.id, who["assessor"].id, who["coordinator"])

    _, message = _one(who["assessor"], "assigned", case)
    assert message.to_address == who["assessor"].email
    assert message.body.startswith("Добрий день, Assessor!\n")
    assert BAKERY_UK in message.body and FOOTER_UK in message.body
    assert f"Вам призначено для оцінювання справу №{case.id} «" in message.body  # Ukrainian writes № for #
    # Assigning the same assessor again changes nothing, and tells nobody again.
    cases.assign_assessor(case.id, who["assessor"].id, who["coordinator"])
    assert len(_notes(who["assessor"], "assigned")) == 1
    assert _notes(who["candidate"]) == [] and _notes(who["coordinator"]) == []


def test_an_english_recipient_gets_english_text(who: dict[str, User]) -> None:
    case = factories.case_in_state("screening", who)
    cases.assign_assessor(case.id, who["assessor"].id, who["coordinator"])
    note, message = _one(who["assessor"], "assigned", case)
    text = notifications.text_for(note)
    assert message.subject == text.title == "A case has been assigned to you"
    assert (text.sentence % {"case": case.id, "credential": case.credential.text("title", "en")}) in " ".join(
        message.body.split()
    )
    assert message.body.startswith("Hello Assessor,\n") and "Добрий" not in message.body


def test_more_evidence_requested_tells_the_candidate(who: dict[str, User]) -> None:
    _uk(who["candidate"])
    case = factories.case_in_state("more_evidence", who)
    _, message = _one(who["candidate"], "more_evidence", case)
    assert message.body.startswith("Добрий день, Candidate!\n") and BAKERY_UK in message.body


@pytest.mark.parametrize("state", ["awarded", "partially_awarded", "not_awarded"])
def test_a_decision_tells_the_candidate(who: dict[str, User], state: str) -> None:
    _uk(who["candidate"])
    case = factories.case_in_state(state, who)
    note, message = _one(who["candidate"], "decision", case)
    assert note.params == {"outcome": state}
    assert BAKERY_UK in message.body
    # Only the decision and the earlier steps that concern the candidate: nothing else reached them.
    assert {n.kind for n in _notes(who["candidate"])} == {"decision"}


def test_an_appeal_tells_the_cases_coordinator(who: dict[str, User]) -> None:
    other = factories.user("coordinator", "other-coordinator@test.example", "Other coordinator")
    case = factories.case_in_state("appealed", who)
    assert case.coordinator_id == who["coordinator"].id
    _one(who["coordinator"], "appeal_lodged", case)
    assert _notes(other) == []


def test_an_appeal_without_a_coordinator_tells_every_active_coordinator(who: dict[str, User]) -> None:
    other = factories.user("coordinator", "other-coordinator@test.example", "Other coordinator")
    disabled = factories.user("coordinator", "gone-coordinator@test.example", "Gone")
    accounts.set_active(disabled.id, False, None)
    case = factories.case_in_state("partially_awarded", who)
    case.coordinator_id = None  # as for a case nobody assigned (cases made before coordinators were kept)
    db.session.flush()
    cases.fire(case.id, "appeal", who["candidate"], REASON)
    _one(who["coordinator"], "appeal_lodged", case)
    _one(other, "appeal_lodged", case)
    assert _notes(disabled) == []


@pytest.mark.parametrize("result", ["upheld", "dismissed"])
def test_an_appeal_decided_tells_the_candidate(who: dict[str, User], result: str) -> None:
    _uk(who["candidate"])
    case = factories.case_in_state("appeal_review", who)
    people = {**who, "second_assessor": who["other_assessor"]}
    if result == "upheld":
        before_step(case, "uphold_appeal", "recommended", people)
    cases.fire(case.id, "uphold_appeal" if result == "upheld" else "dismiss_appeal", who["other_assessor"], REASON)
    note, message = _one(who["candidate"], "appeal_result", case)
    assert note.params == {"result": result}
    assert BAKERY_UK in message.body


def test_a_candidate_who_turned_email_off_is_told_only_in_the_app(who: dict[str, User]) -> None:
    profiles.save_profile(who["candidate"], language="en", phone="+380671234567", contact_by_email=False,
                          contact_by_phone=True, target_group=None, accessibility_needs=None)
    case = factories.case_in_state("more_evidence", who)
    assert len(_notes(who["candidate"], "more_evidence")) == 1
    assert _mails(who["candidate"]) == []
    event = _audited(_notes(who["candidate"], "more_evidence")[0])[0]
    assert audit.facts_of(event)["mailed"] is False and event.case_id is None
    assert case.state == "more_evidence"


def test_a_refused_change_tells_nobody(app: Flask) -> None:
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        case = factories.case_in_state("screening", who)
        db.session.commit()
        case_id, candidate_id = case.id, who["candidate"].id
    with app.app_context():
        candidate = db.session.get(User, candidate_id)
        with pytest.raises(Exception, match="assess"):
            cases.assign_assessor(case_id, candidate_id, candidate)
        db.session.rollback()
        assert db.session.execute(sa.select(sa.func.count(Notification.id))).scalar_one() == 0
        db.session.remove()


PARAMS = {
    "decision:awarded": {"outcome": "awarded"},
    "decision:partially_awarded": {"outcome": "partially_awarded"},
    "decision:not_awarded": {"outcome": "not_awarded"},
    "appeal_result:upheld": {"result": "upheld"},
    "appeal_result:dismissed": {"result": "dismissed"},
    "deadline_near": {"due_on": "2027-03-05"},
    "overdue": {"due_on": "2027-03-05"},
    "draft_warning": {"since_on": "2027-01-20", "expires_on": "2027-03-05"},
}


@pytest.mark.parametrize("key", sorted(notifications.TEXTS))
def test_the_email_says_what_the_page_says(who: dict[str, User], key: str) -> None:
    """The e-mail's subject is the notification's title and its first paragraph the notification's sentence,
    so a text changed in one place cannot silently differ from the other."""
    case = factories.case_in_state("draft", who)
    kind = key.split(":")[0]
    note = notifications.notify(who["candidate"], kind, case, **PARAMS.get(key, {}))
    message = _mails(who["candidate"], kind)[-1]
    text = notifications.text_for(note)
    assert text is notifications.TEXTS[key]
    values = {"case": case.id, "credential": case.credential.text("title", "en"),
              "date": "March 5, 2027", "since": "January 20, 2027"}
    assert message.subject == text.title
    assert text.sentence % values in " ".join(message.body.split())


def test_the_audit_trail_stays_intact(who: dict[str, User]) -> None:
    factories.case_in_state("appeal_dismissed", who)
    report = audit.verify_chain()
    assert report.intact, report
