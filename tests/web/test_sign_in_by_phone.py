"""Registration and sign-in by phone number: one account per number however it is written, the same limit
on failed sign-ins, and a profile that contacts the person the way they signed up."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests import factories
from tests.conftest import PASSWORD, post
from validation.extensions import db
from validation.models import AuditEvent, CandidateProfile, ConsentRecord, User
from validation.services import accounts
from validation.services.errors import Invalid

PHONE = "+380 67 123 4567"
E164 = "+380671234567"


def _register(client, **fields: str):  # type: ignore[no-untyped-def]
    data = {"display_name": "Petro Bondar", "email": "", "phone": PHONE, "password": PASSWORD,
            "confirm": PASSWORD, "language": "uk", "consent": "y"}
    data.update(fields)
    return post(client, "/register", data)


def _users(app: Flask) -> int:
    with app.app_context():
        return int(db.session.execute(select(func.count(User.id))).scalar_one())


def test_register_by_phone_only_stores_the_number_in_e164_with_consent_and_a_phone_profile(app, client):
    response = _register(client)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with app.app_context():
        user = db.session.execute(select(User).where(User.phone == E164)).scalar_one()
        assert user.email is None and user.role == "candidate" and user.preferred_language == "uk"
        consent = db.session.execute(select(ConsentRecord).where(ConsentRecord.user_id == user.id)).scalar_one()
        assert consent.text_version == accounts.CONSENT_TEXT_VERSION and consent.withdrawn_at is None
        profile = db.session.get(CandidateProfile, user.id)
        assert profile.phone == E164 and profile.contact_by_phone and not profile.contact_by_email
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "user.registered")).scalar_one()
        assert json.loads(event.facts)["by"] == "phone"
        assert "380" not in str(event.facts), "the audit trail holds no phone number"
    assert client.get("/my").status_code == 200


@pytest.mark.parametrize("written", ["067 123 45 67", "+380671234567", "(067) 123-45-67", "+380 (67) 123 45 67"])
def test_the_same_number_written_differently_signs_in_to_the_same_account(app, client, written):
    assert _register(client).status_code == 302
    fresh = app.test_client()
    response = post(fresh, "/login", {"login": written, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/my"


def test_a_number_cannot_be_registered_twice_in_another_spelling(app, client):
    assert _register(client).status_code == 302
    before = _users(app)
    response = _register(app.test_client(), phone="0671234567", display_name="Someone else")
    assert response.status_code == 422
    assert "An account with this phone number already exists." in response.get_data(as_text=True)
    assert _users(app) == before


@pytest.mark.parametrize("bad", ["12", "not a number", "+380 12", "0000000000"])
def test_a_number_that_is_not_a_phone_number_is_refused_with_the_reason(app, client, bad):
    response = _register(client, phone=bad)
    assert response.status_code == 422
    assert "This is not a phone number we can use." in response.get_data(as_text=True)
    assert _users(app) == 0


def test_neither_email_nor_phone_is_refused(app, client):
    response = _register(client, phone="", email="")
    assert response.status_code == 422
    assert "Give an e-mail address or a phone number to sign in with." in response.get_data(as_text=True)
    assert _users(app) == 0


def test_both_email_and_phone_sign_in(app, client):
    assert _register(client, email="petro@test.example").status_code == 302
    for login in ("petro@test.example", "0671234567"):
        response = post(app.test_client(), "/login", {"login": login, "password": PASSWORD})
        assert response.status_code == 302, login


def test_the_refusal_in_ukrainian_for_a_ukrainian_page(app, client):
    post(client, "/language", {"language": "uk"})
    response = _register(client, phone="12")
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "This is not a phone number" not in text
    assert "номер" in text


def test_failed_sign_ins_count_per_account_however_the_number_is_written(app, client):
    assert _register(client).status_code == 302
    attacker = app.test_client()
    limit = app.config["LOGIN_FAILURES_PER_MINUTE"]
    spellings = ["0671234567", "+380671234567", "067 123 45 67", "+380 67 123 4567"]
    for i in range(limit):
        assert post(attacker, "/login", {"login": spellings[i % 4], "password": "wrong guess!"}).status_code == 401
    blocked = post(app.test_client(), "/login", {"login": "(067) 123-45-67", "password": PASSWORD})
    assert blocked.status_code == 429


def test_a_candidate_number_alone_never_names_a_staff_account(ctx):
    factories.load_catalog()
    who = factories.people()
    db.session.commit()
    assert accounts.find_for_sign_in(str(who["admin"].id)) is None
    assert accounts.find_for_sign_in(str(who["candidate"].id)).id == who["candidate"].id


def test_phone_numbers_are_normalised_with_the_configured_region(ctx):
    assert accounts.normalise_phone("067 123 45 67", "UA") == E164
    assert accounts.normalise_phone("+381 60 1234567", "UA") == "+381601234567"
    assert accounts.normalise_phone("060 1234567", "RS") == "+381601234567"
    with pytest.raises(Invalid):
        accounts.normalise_phone("12345", "UA")
