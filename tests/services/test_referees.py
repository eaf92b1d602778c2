"""Third-party attestations: asking a referee, the single-use link, the answer as frozen evidence."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from babel.dates import format_date
from flask import Flask

from tests import factories
from tests.conftest import postgres_only
from validation.extensions import db
from validation.models import (
    AuditEvent,
    Case,
    EvidenceItem,
    EvidenceLink,
    OutboundMessage,
    RefereeRequest,
    User,
    utcnow,
)
from validation.services import audit, cases, referees
from validation.services.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError

BAKERY_UK = "Приготування хлібобулочних і кондитерських виробів"  # noqa: RUF001  (Ukrainian letters are meant)
STATEMENT = "From 2019 to 2023 Olena baked bread every morning at our bakery and trained two apprentices."


@pytest.fixture
def who(ctx: Flask) -> dict[str, User]:
    factories.load_catalog()
    people = factories.people()
    people["candidate"].display_name = "Olena Kovalenko"
    return people


def _case(who: dict[str, User], state: str = "draft") -> Case:
    return factories.case_in_state(state, who)


def _ask(case: Case, who: dict[str, User], language: str = "en", **changes: Any) -> tuple[RefereeRequest, str]:
    values: dict[str, Any] = {
        "referee_name": "Petro Ivanenko",
        "referee_email": "petro@bakery.example",
        "referee_language": language,
        "relationship": "my manager at the bakery",
        "statement": STATEMENT,
        "outcome_ids": [c.outcome_id for c in case.claims[:2]],
    }
    actor = changes.pop("actor", who["candidate"])
    values.update(changes)
    return referees.ask(case.id, actor, **values)


def _outbox(to: str) -> list[OutboundMessage]:
    return list(db.session.execute(
        sa.select(OutboundMessage).where(OutboundMessage.to_address == to).order_by(OutboundMessage.id)
    ).scalars())


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == action)).scalars())


def _items(case: Case) -> list[EvidenceItem]:
    return list(db.session.execute(
        sa.select(EvidenceItem).where(EvidenceItem.case_id == case.id, EvidenceItem.kind == "attestation")
    ).scalars())


# --- asking --------------------------------------------------------------------------------------------


def test_asking_queues_the_invitation_in_the_referees_language(who: dict[str, User]) -> None:
    case = _case(who)
    request, token = _ask(case, who, "uk")

    assert request.token_hash != token and len(request.token_hash) == 64
    assert request.expires_at - request.created_at == timedelta(days=30)
    [message] = _outbox("petro@bakery.example")
    assert message.language == "uk" and message.purpose == "referee_invitation"
    assert message.subject == "Olena Kovalenko просить вас підтвердити свою роботу"
    body = message.body
    assert body.startswith("Добрий день, Petro Ivanenko!")
    assert f"http://127.0.0.1:5000/referee/{token}\n" in body
    assert f"«{BAKERY_UK}»" in body and "(my manager at the bakery)" in body
    assert STATEMENT in body
    assert "LO1: Описувати властивості борошна" in body
    assert format_date(request.expires_at, "long", locale="uk") in body
    assert "Обліковий запис не потрібен" in body
    # The audit trail holds ids and codes: not the token, nor the referee's name or address.
    [event] = _events("referee.requested")
    assert event.case_id == case.id and event.actor_id == who["candidate"].id
    assert audit.facts_of(event) == {"request_id": request.id, "outcomes": request.outcome_ids, "language": "uk"}
    assert token not in event.facts and "petro" not in event.facts.lower()


def test_the_invitation_in_english(who: dict[str, User]) -> None:
    case = _case(who)
    _request, token = _ask(case, who, "en")
    [message] = _outbox("petro@bakery.example")
    assert message.subject == "Olena Kovalenko asks you to confirm their work"
    assert "“Bakery and Pastry Preparation”" in message.body
    assert f"/referee/{token}" in message.body and "Добрий" not in message.body


def test_the_link_lives_as_long_as_configured(who: dict[str, User], ctx: Flask) -> None:
    ctx.config["REFEREE_LINK_DAYS"] = 3
    request, _token = _ask(_case(who), who)
    assert request.expires_at - request.created_at == timedelta(days=3)


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({"referee_email": "not an address"}, "Give a valid e-mail address for the person you ask."),
        ({"referee_name": "  "}, "Give the name of the person you ask."),
        ({"relationship": ""}, "Say how this person knows your work."),
        ({"statement": " "}, "Write what the person should confirm."),
        ({"referee_language": "de"}, "Choose the language of the e-mail."),
        ({"outcome_ids": []}, "Link the evidence to at least one learning outcome."),
        ({"outcome_ids": [999999]}, "One of the chosen learning outcomes is not part of this case."),
        ({"statement": "x" * 5001}, "One of the texts is too long."),
        ({"referee_email": "Candidate@Test.Example"}, "Ask someone else: nobody can confirm their own work."),
    ],
)
def test_a_request_must_be_complete(who: dict[str, User], changes: dict[str, Any], refusal: str) -> None:
    case = _case(who)
    with pytest.raises(Invalid) as refused:
        _ask(case, who, **changes)
    assert refused.value.reason == refusal


def test_an_outcome_left_out_of_the_claim_is_not_put_to_a_referee(who: dict[str, User]) -> None:
    case = _case(who)
    left_out = case.claims[0].outcome_id
    cases.set_self_assessment(case.id, left_out, who["candidate"], "not_yet", None)
    with pytest.raises(Invalid):
        _ask(case, who, outcome_ids=[left_out])


def test_only_the_owner_asks_while_the_portfolio_is_open(who: dict[str, User]) -> None:
    case = _case(who, "more_evidence")
    with pytest.raises(NotFound):
        _ask(case, who, actor=who["other_candidate"])
    for staff in ("assessor", "coordinator", "admin"):
        with pytest.raises(Forbidden):
            _ask(case, who, actor=who[staff])
    with pytest.raises(Conflict):
        _ask(case, who, expected_version=case.lock_version - 1)
    request, _token = _ask(case, who, expected_version=case.lock_version)
    assert request.case_id == case.id
    factories.portfolio(case, who["candidate"])
    cases.fire(case.id, "resubmit", who["candidate"])
    with pytest.raises(Conflict):
        _ask(case, who)


def test_too_many_unanswered_requests_are_refused(who: dict[str, User]) -> None:
    case = _case(who)
    for n in range(referees.MAX_WAITING):
        _ask(case, who, referee_email=f"r{n}@example.org")
    with pytest.raises(Conflict):
        _ask(case, who)


# --- the link ------------------------------------------------------------------------------------------


def test_the_link_finds_its_request_and_nothing_else(who: dict[str, User]) -> None:
    request, token = _ask(_case(who), who)
    assert referees.for_token(token).id == request.id
    page = referees.invitation(token)
    assert page.candidate_name == "Olena Kovalenko"
    assert [o.id for o in page.outcomes] == request.outcome_ids
    for wrong in ("no-such-token", "", token[:-1]):
        with pytest.raises(NotFound):
            referees.for_token(wrong)


def test_an_expired_link_is_gone(who: dict[str, User]) -> None:
    request, token = _ask(_case(who), who)
    # Created a month ago (a request always expires after it was made), expired a minute ago.
    db.session.execute(sa.update(RefereeRequest).where(RefereeRequest.id == request.id)
                       .values(created_at=utcnow() - timedelta(days=31), expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    with pytest.raises(ServiceError) as gone:
        referees.for_token(token)
    assert gone.value.status == 410 and "expired" in gone.value.reason
    with pytest.raises(ServiceError) as gone:
        referees.answer(token, "confirmed", claimed_name="Petro")
    assert gone.value.status == 410
    assert referees.status_of(db.session.get(RefereeRequest, request.id)) == "expired"


# --- answering -----------------------------------------------------------------------------------------


def test_a_confirmation_becomes_an_attestation_linked_to_the_outcomes(who: dict[str, User]) -> None:
    case = _case(who)
    request, token = _ask(case, who)
    version = case.lock_version

    answered = referees.answer(token, "confirmed", None, " Petro Ivanenko ", "Head\n baker", "Khlib Ltd",
                               "+380 44 000 0000")

    [item] = _items(case)
    assert item.statement == STATEMENT and item.title == "Petro Ivanenko — my manager at the bakery"
    assert item.submission_round == case.submission_round and item.submitted_at is None
    assert item.created_by_id == who["candidate"].id
    links = db.session.execute(sa.select(EvidenceLink.outcome_id).where(EvidenceLink.item_id == item.id)).scalars()
    assert sorted(links) == request.outcome_ids
    assert answered.answer == "confirmed" and answered.item_id == item.id and answered.answered_at is not None
    assert (answered.claimed_name, answered.claimed_role, answered.claimed_organisation,
            answered.claimed_contact) == ("Petro Ivanenko", "Head baker", "Khlib Ltd", "+380 44 000 0000")
    assert answered.details == {"arrived_after_submission": False, "signed_in_role": None,
                                "signed_in_as_candidate": False}
    assert case.lock_version > version, "the case changed: a page opened before is stale"
    [event] = _events("referee.answered")
    assert event.actor_id is None and event.case_id == case.id
    assert audit.facts_of(event) == {"request_id": request.id, "answer": "confirmed", "item_id": item.id,
                                     "late": False}
    # The token dies with the answer.
    with pytest.raises(ServiceError) as gone:
        referees.for_token(token)
    assert gone.value.status == 410


def test_a_correction_needs_its_text_and_is_its_own_statement(who: dict[str, User]) -> None:
    case = _case(who)
    request, token = _ask(case, who)
    with pytest.raises(Invalid):
        referees.answer(token, "corrected", "   ", "Petro")
    with pytest.raises(Invalid):
        referees.answer(token, "confirmed", None, "  ")  # a confirmation needs a name
    with pytest.raises(Invalid):
        referees.answer(token, "maybe", None, "Petro")
    assert _items(case) == []

    referees.answer(token, "corrected", "From 2020 to 2023 she baked bread; she trained one apprentice.", "Petro")

    [item] = _items(case)
    assert item.statement == "From 2020 to 2023 she baked bread; she trained one apprentice."
    stored = db.session.get(RefereeRequest, request.id)
    assert stored.statement == STATEMENT, "the candidate's words are never overwritten"
    assert stored.correction == item.statement and stored.answer == "corrected"


def test_a_declined_request_makes_no_item(who: dict[str, User]) -> None:
    case = _case(who)
    request, token = _ask(case, who)
    referees.answer(token, "declined", "ignored", None)
    stored = db.session.get(RefereeRequest, request.id)
    assert stored.answer == "declined" and stored.item_id is None and stored.correction is None
    assert _items(case) == []
    assert audit.facts_of(_events("referee.answered")[0])["item_id"] is None


def test_a_link_answers_once(who: dict[str, User]) -> None:
    case = _case(who)
    request, token = _ask(case, who)
    referees.answer(token, "confirmed", None, "Petro")
    db.session.commit()
    version = case.lock_version
    with pytest.raises(ServiceError) as gone:
        referees.answer(token, "corrected", "Another text", "Someone else")
    assert gone.value.status == 410 and gone.value.reason == "This request has already been answered. Thank you."
    db.session.rollback()
    stored = db.session.get(RefereeRequest, request.id)
    assert stored.answer == "confirmed" and stored.claimed_name == "Petro"
    assert len(_items(case)) == 1 and db.session.get(Case, case.id).lock_version == version


def test_an_answer_after_submission_is_frozen_at_once(who: dict[str, User]) -> None:
    case = _case(who)
    factories.portfolio(case, who["candidate"])
    request, token = _ask(case, who)
    cases.fire(case.id, "submit", who["candidate"])
    assert case.submitted_at is not None

    referees.answer(token, "confirmed", None, "Petro")

    [item] = _items(case)
    assert item.submitted_at is not None and item.submission_round == 1
    assert db.session.get(RefereeRequest, request.id).details["arrived_after_submission"] is True
    assert audit.facts_of(_events("referee.answered")[0])["late"] is True


def test_a_closed_case_takes_no_answer(who: dict[str, User]) -> None:
    case = _case(who)
    request, token = _ask(case, who)
    cases.fire(case.id, "withdraw", who["candidate"], "Moving away.")
    db.session.commit()
    with pytest.raises(ServiceError) as gone:
        referees.answer(token, "confirmed", None, "Petro")
    assert gone.value.status == 410
    db.session.rollback()
    assert _items(case) == [] and db.session.get(RefereeRequest, request.id).answered_at is None


def test_an_answer_given_while_signed_in_as_the_candidate_is_noted(who: dict[str, User]) -> None:
    case = _case(who)
    _request, token = _ask(case, who)
    answered = referees.answer(token, "confirmed", None, "Petro", signed_in=who["candidate"])
    assert answered.details["signed_in_as_candidate"] is True
    assert answered.details["signed_in_role"] == "candidate"


# --- telling the candidate -----------------------------------------------------------------------------


def test_the_candidate_is_told_in_their_language(who: dict[str, User]) -> None:
    case = _case(who)
    who["candidate"].preferred_language = "uk"
    _request, token = _ask(case, who, "en")
    referees.answer(token, "corrected", "Different words.", "Petro")
    [message] = _outbox(who["candidate"].email)
    assert message.language == "uk" and message.purpose == "referee_answered"
    assert message.subject == "Надійшла відповідь від рекомендодавця"
    assert "Добрий день, Olena Kovalenko!" in message.body
    assert "підтверджено з виправленнями" in message.body
    assert f"«{BAKERY_UK}»" in message.body
    assert f"/cases/{case.id}#referees" in message.body


def test_a_candidate_without_e_mail_gets_none(who: dict[str, User]) -> None:
    case = _case(who)
    candidate = who["candidate"]
    _request, token = _ask(case, who)
    address = candidate.email
    # A phone-only account: no address to write to (candidates may have none).
    db.session.execute(sa.update(User).where(User.id == candidate.id).values(email=None, phone="+380441234567"))
    db.session.expire_all()
    referees.answer(token, "confirmed", None, "Petro")
    assert _outbox(address) == []
    assert db.session.execute(
        sa.select(sa.func.count()).select_from(OutboundMessage).where(OutboundMessage.purpose == "referee_answered")
    ).scalar_one() == 0


# --- cancelling ----------------------------------------------------------------------------------------


def test_the_owner_cancels_a_waiting_request(who: dict[str, User]) -> None:
    case = _case(who)
    request, token = _ask(case, who)
    with pytest.raises(NotFound):
        referees.cancel(case.id, request.id, who["other_candidate"])
    for staff in ("assessor", "coordinator", "admin"):
        with pytest.raises(Forbidden):
            referees.cancel(case.id, request.id, who[staff])
    with pytest.raises(Conflict):
        referees.cancel(case.id, request.id, who["candidate"], case.lock_version - 1)
    with pytest.raises(NotFound):
        referees.cancel(case.id, request.id + 1000, who["candidate"])

    referees.cancel(case.id, request.id, who["candidate"], case.lock_version)

    assert db.session.get(RefereeRequest, request.id).cancelled_at is not None
    assert audit.facts_of(_events("referee.cancelled")[0]) == {"request_id": request.id}
    with pytest.raises(ServiceError) as gone:
        referees.for_token(token)
    assert gone.value.status == 410 and "withdrawn" in gone.value.reason
    with pytest.raises(Conflict):
        referees.cancel(case.id, request.id, who["candidate"])


def test_an_answered_request_cannot_be_cancelled(who: dict[str, User]) -> None:
    case = _case(who)
    request, token = _ask(case, who)
    referees.answer(token, "confirmed", None, "Petro")
    with pytest.raises(Conflict):
        referees.cancel(case.id, request.id, who["candidate"])


def test_a_request_cannot_be_cancelled_through_another_case(who: dict[str, User]) -> None:
    case = _case(who)
    request, _token = _ask(case, who)
    with pytest.raises(NotFound):
        referees.cancel(case.id + 1000, request.id, who["candidate"])


# --- two answers at once -------------------------------------------------------------------------------


@postgres_only
def test_two_answers_at_once_make_one_item(app: Flask) -> None:
    with app.app_context():
        factories.load_catalog()
        people = factories.people()
        case = factories.case_in_state("draft", people)
        _request, token = _ask(case, people)
        case_id = case.id
        db.session.commit()

    threads = 2
    barrier = threading.Barrier(threads)
    results: list[str] = []
    errors: list[BaseException] = []

    def work(number: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                try:
                    referees.answer(token, "corrected", f"Text from writer {number}.", f"Writer {number}")
                    db.session.commit()
                    results.append("answered")
                except ServiceError as refusal:
                    db.session.rollback()
                    results.append(str(refusal.status))
                finally:
                    db.session.remove()
        except BaseException as exc:  # collected and reported by the main thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not any(w.is_alive() for w in workers), "an answer hung"
    assert errors == [], errors
    assert sorted(results) == ["410", "answered"]
    with app.app_context():
        items = db.session.execute(
            sa.select(EvidenceItem).where(EvidenceItem.case_id == case_id, EvidenceItem.kind == "attestation")
        ).scalars().all()
        assert len(items) == 1
        stored = db.session.execute(sa.select(RefereeRequest)).scalar_one()
        assert stored.item_id == items[0].id and stored.correction == items[0].statement
        assert len(_events("referee.answered")) == 1
        assert audit.verify_chain().intact
        db.session.remove()
