"""Assisted registration: a coordinator registers someone without e-mail and prints a one-time access code.
The code is stored hashed, works once, expires, and a new code revokes the old one; the sheet is printed in
the candidate's language; consent is recorded in person and again by the candidate."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from tests import factories
from tests.conftest import login, post
from validation.extensions import db
from validation.models import AccessCode, AuditEvent, ConsentRecord, User, utcnow

CODE = re.compile(r'<dd class="code">([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</dd>')
NUMBER = re.compile(r'<dd class="code">(\d+)</dd>')
NEW_PASSWORD = "my own new passphrase"
INVALID = "This access code is not valid"


@pytest.fixture
def coordinator(app: Flask):  # type: ignore[no-untyped-def]
    with app.app_context():
        factories.load_catalog()
        factories.people()
        db.session.commit()
    client = app.test_client()
    login(client, "coordinator@test.example")
    return client


def _register(coordinator, **fields: str):  # type: ignore[no-untyped-def]
    data = {"display_name": "Mykola Shevchuk", "language": "uk", "phone": "", "email": "",
            "consent_in_person": "y"}
    data.update(fields)
    return post(coordinator, "/coordinator/candidates/new", data)


def _sheet(response) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    text = response.get_data(as_text=True)
    code, number = CODE.search(text), NUMBER.search(text)
    assert code and number, text[:3000]
    return code.group(1), number.group(1)


def _redeem(app: Flask, code: str, password: str = NEW_PASSWORD, client=None):  # type: ignore[no-untyped-def]
    client = client or app.test_client()
    return client, post(client, "/access-code",
                        {"code": code, "password": password, "confirm": password, "consent": "y"})


def test_the_coordinator_registers_a_candidate_with_only_a_name_and_gets_a_printable_sheet(app, coordinator):
    response = _register(coordinator)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    code, number = _sheet(response)
    text = response.get_data(as_text=True)
    # The sheet is in the candidate's language (Ukrainian) although the coordinator reads English.
    assert 'lang="uk"' in text and "Одноразовий код доступу" in text
    assert "Print this sheet now" in text
    with app.app_context():
        user = db.session.get(User, int(number))
        assert user.display_name == "Mykola Shevchuk" and user.email is None and user.phone is None
        assert user.registered_by_id is not None
        row = db.session.execute(select(AccessCode).where(AccessCode.user_id == user.id)).scalar_one()
        cleaned = code.replace("-", "")
        assert row.code_hash == hashlib.sha256(cleaned.encode()).hexdigest()
        assert cleaned not in row.code_hash and row.used_at is None
        assert timedelta(days=13) < row.expires_at - row.created_at <= timedelta(days=14)
        consent = db.session.execute(select(ConsentRecord).where(ConsentRecord.user_id == user.id)).scalar_one()
        assert consent.note == "given in person"
        actions = [e.action for e in db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()]
        assert actions[-2:] == ["user.registered", "access_code.issued"]


def test_without_consent_nothing_is_kept(app, coordinator):
    with app.app_context():
        before = db.session.execute(select(func.count(User.id))).scalar_one()
    response = _register(coordinator, consent_in_person="")
    assert response.status_code == 422
    assert "Without the candidate's consent we cannot keep their data." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(func.count(User.id))).scalar_one() == before


def test_the_code_opens_the_account_once_then_the_candidate_signs_in_with_the_number(app, coordinator):
    code, number = _sheet(_register(coordinator))
    client, response = _redeem(app, code.lower().replace("-", " "))  # typed sloppily: still the code
    assert response.status_code == 302 and response.headers["Location"] == "/my"
    assert client.get("/my").status_code == 200
    # The code is spent.
    _, again = _redeem(app, code, "another passphrase!")
    assert again.status_code == 422 and INVALID in again.get_data(as_text=True)
    # The candidate number and the chosen password sign in from now on.
    signed = post(app.test_client(), "/login", {"login": number, "password": NEW_PASSWORD})
    assert signed.status_code == 302 and signed.headers["Location"] == "/my"
    with app.app_context():
        notes = db.session.execute(
            select(ConsentRecord.note).where(ConsentRecord.user_id == int(number)).order_by(ConsentRecord.id)
        ).scalars().all()
        assert notes == ["given in person", "confirmed with access code"]


def test_a_code_typed_with_cyrillic_look_alike_letters_still_works(app, coordinator):
    code, _ = _sheet(_register(coordinator))
    cyrillic = code.translate(str.maketrans("ABEKMHOPCTX", "АВЕКМНОРСТХ"))  # noqa: RUF001
    _, response = _redeem(app, cyrillic)
    assert response.status_code == 302


def test_an_expired_code_is_refused_and_changes_nothing(app, coordinator):
    code, number = _sheet(_register(coordinator))
    with app.app_context():
        db.session.execute(update(AccessCode).values(created_at=utcnow() - timedelta(days=20),
                                                     expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        password_hash = db.session.get(User, int(number)).password_hash
    _, response = _redeem(app, code)
    assert response.status_code == 422 and INVALID in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, int(number)).password_hash == password_hash
        assert db.session.execute(select(AccessCode.used_at)).scalar_one() is None


def test_a_new_code_revokes_the_unused_old_one(app, coordinator):
    old, number = _sheet(_register(coordinator))
    response = post(coordinator, f"/coordinator/candidates/{number}/access-code", {})
    assert response.status_code == 200
    new, same_number = _sheet(response)
    assert same_number == number and new != old
    _, refused = _redeem(app, old)
    assert refused.status_code == 422
    _, accepted = _redeem(app, new)
    assert accepted.status_code == 302


def test_a_new_code_resets_a_forgotten_password_and_ends_every_session(app, coordinator):
    code, number = _sheet(_register(coordinator))
    first, _ = _redeem(app, code)
    assert first.get("/my").status_code == 200
    new, _ = _sheet(post(coordinator, f"/coordinator/candidates/{number}/access-code", {}))
    _, response = _redeem(app, new, "forgot the old one")
    assert response.status_code == 302
    assert first.get("/my").status_code == 302, "the old browser's session was not ended"
    assert post(app.test_client(), "/login", {"login": number, "password": "forgot the old one"}).status_code == 302


def test_wrong_codes_are_rate_limited(app, coordinator):
    code, _ = _sheet(_register(coordinator))
    guesser = app.test_client()
    for _ in range(app.config["LOGIN_FAILURES_PER_MINUTE"]):
        _, response = _redeem(app, "AAAA-BBBB-CCCC", client=guesser)
        assert response.status_code == 422
    _, blocked = _redeem(app, code, client=guesser)
    assert blocked.status_code == 429
    with app.app_context():
        assert db.session.execute(select(AccessCode.used_at)).scalar_one() is None


def test_only_coordinators_issue_codes_and_staff_accounts_get_none(app, coordinator):
    with app.app_context():
        admin_id = db.session.execute(select(User.id).where(User.role == "admin")).scalar_one()
        candidate_id = db.session.execute(select(User.id).where(User.email == "candidate@test.example")).scalar_one()
    assert post(coordinator, f"/coordinator/candidates/{admin_id}/access-code", {}).status_code == 404
    assessor = app.test_client()
    login(assessor, "assessor@test.example")
    assert post(assessor, f"/coordinator/candidates/{candidate_id}/access-code", {}).status_code == 403
    with app.app_context():
        assert db.session.execute(select(func.count(AccessCode.id))).scalar_one() == 0


def test_the_candidate_list_finds_by_name_number_and_phone(app, coordinator):
    _, number = _sheet(_register(coordinator, phone="+380 50 765 4321"))
    for query in ("mykola", number, "7654321"):
        text = coordinator.get("/coordinator/candidates", query_string={"q": query}).get_data(as_text=True)
        assert "Mykola Shevchuk" in text, query
    assert "Mykola Shevchuk" not in coordinator.get("/coordinator/candidates?q=nobody").get_data(as_text=True)
    # The phone given at registration signs in too, once the code has set a password.
    assert _redeem(app, _sheet(post(coordinator, f"/coordinator/candidates/{number}/access-code", {}))[0])[1]\
        .status_code == 302
    assert post(app.test_client(), "/login", {"login": "050 765 43 21", "password": NEW_PASSWORD}).status_code == 302


def test_the_access_code_page_is_in_ukrainian_with_the_privacy_text(app, client):
    post(client, "/language", {"language": "uk"})
    text = client.get("/access-code").get_data(as_text=True)
    assert "Use your access code" not in text
    assert "Версія тексту про захист даних" in text and "Використати код доступу" in text
