"""Accounts on the web: password storage, registration with consent, sign-in and its rate limit,
server-side sessions that logout, password change and disabling really end, CSRF, staff accounts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests import factories
from tests.conftest import PASSWORD, csrf_token, login, post
from validation.extensions import db
from validation.models import Case, ConsentRecord, User, UserSession, utcnow
from validation.services import accounts

WRONG_CREDENTIALS = "The e-mail address, phone number or password is not correct."
TOO_MANY = "Too many failed sign-in attempts for this account."
CSRF_REFUSED = "did not come from this site"
NEW_PASSWORD = "a brand new passphrase"


# --- helpers -------------------------------------------------------------------------------------------


@pytest.fixture
def who(app: Flask) -> dict[str, int]:
    """The six standard people, by id (objects would be detached once their context ends)."""
    with app.app_context():
        factories.load_catalog()
        people = factories.people()
        db.session.commit()
        return {key: user.id for key, user in people.items()}


def _count(app: Flask, model: type, *where: object) -> int:
    with app.app_context():
        return int(db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def _user(app: Flask, email: str) -> User | None:
    with app.app_context():
        user = accounts.find_by_email(email)
        if user is not None:
            db.session.expunge(user)
        return user


def _email(app: Flask, user_id: int) -> str:
    with app.app_context():
        return db.session.get(User, user_id).email


def _session_cookie(app: Flask, client: FlaskClient) -> str:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None, "the client holds no session cookie"
    return cookie.value


def _replay(app: Flask, cookie: str) -> FlaskClient:
    """A second browser that sends exactly the cookie another one had."""
    other = app.test_client()
    other.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    return other


def _is_signed_in_candidate(client: FlaskClient) -> bool:
    response = client.get("/my")
    if response.status_code == 200:
        return True
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"].startswith("/login"), response.headers["Location"]
    return False


def _register_data(**overrides: str) -> dict[str, str]:
    data = {
        "display_name": "Olena Kovalenko",
        "email": "olena@test.example",
        "password": "bread and salt 1984",
        "confirm": "bread and salt 1984",
        "language": "uk",
        "consent": "y",
    }
    data.update(overrides)
    return data


def _every_text_value(app: Flask) -> list[str]:
    """Every string stored in any column of any table."""
    values: list[str] = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)):
                values.extend(v for v in row if isinstance(v, str))
    return values


# --- password storage ----------------------------------------------------------------------------------


def test_the_production_hasher_is_argon2id():
    # Computed at import time by the module's own hasher, before the tests made hashing cheap.
    assert accounts._DUMMY_HASH.startswith("$argon2id$")
    params = dict(p.split("=") for p in accounts._DUMMY_HASH.split("$")[3].split(","))
    assert int(params["m"]) >= 19 * 1024, "memory cost below the OWASP minimum for argon2id"


def test_passwords_are_stored_as_argon2id_never_plain(app, client, who):
    response = post(client, "/register", _register_data())
    assert response.status_code == 302
    registered = _user(app, "olena@test.example")
    assert registered is not None
    assert registered.password_hash.startswith("$argon2id$")

    admin = app.test_client()
    login(admin, _email(app, who["admin"]))
    response = post(admin, "/admin/users/new", {"display_name": "Ivan", "email": "ivan@test.example",
                                                "role": "assessor", "language": "en",
                                                "password": "staff passphrase 77"})
    assert response.status_code == 302
    staff = _user(app, "ivan@test.example")
    assert staff is not None
    assert staff.password_hash.startswith("$argon2id$")

    candidate = app.test_client()
    login(candidate, _email(app, who["candidate"]))
    response = post(candidate, "/account/password", {"current": PASSWORD, "new": NEW_PASSWORD,
                                                     "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    changed = _user(app, _email(app, who["candidate"]))
    assert changed is not None
    assert changed.password_hash.startswith("$argon2id$")

    stored = _every_text_value(app)
    for secret in ("bread and salt 1984", "staff passphrase 77", NEW_PASSWORD, PASSWORD):
        assert not any(secret in value for value in stored), f"{secret!r} is stored in the clear"


# --- registration --------------------------------------------------------------------------------------


def test_register_signs_in_a_candidate_and_records_consent(app, client):
    before = utcnow()
    response = post(client, "/register", _register_data(email="Olena@Test.Example"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/catalog"
    assert _is_signed_in_candidate(client)

    user = _user(app, "olena@test.example")
    assert user is not None
    assert user.role == "candidate"
    assert user.email == "olena@test.example"
    assert user.preferred_language == "uk"
    with app.app_context():
        consents = db.session.execute(
            select(ConsentRecord).where(ConsentRecord.user_id == user.id)
        ).scalars().all()
        assert len(consents) == 1
        consent = consents[0]
        assert consent.text_version == accounts.CONSENT_TEXT_VERSION
        assert consent.language == "uk"
        assert consent.withdrawn_at is None
        assert before - timedelta(seconds=5) <= consent.given_at <= utcnow() + timedelta(seconds=5)


def test_register_page_shows_the_privacy_text_version(client):
    response = client.get("/register")
    assert response.status_code == 200
    assert accounts.CONSENT_TEXT_VERSION in response.get_data(as_text=True)


def test_register_without_consent_is_refused_and_keeps_nothing(app, client):
    data = _register_data()
    del data["consent"]
    response = post(client, "/register", data)
    assert response.status_code == 422
    assert "Without your consent we cannot keep your data." in response.get_data(as_text=True)
    assert _count(app, User) == 0
    assert _count(app, ConsentRecord) == 0
    assert _count(app, UserSession) == 0
    assert not _is_signed_in_candidate(client)


def test_register_with_a_taken_email_says_so_and_creates_nothing(app, client, who):
    users, consents = _count(app, User), _count(app, ConsentRecord)
    taken = _email(app, who["other_candidate"])
    response = post(client, "/register", _register_data(email=taken.upper()))
    assert response.status_code == 422
    assert "An account with this e-mail address already exists." in response.get_data(as_text=True)
    assert _count(app, User) == users
    assert _count(app, ConsentRecord) == consents
    assert _count(app, UserSession) == 0
    assert not _is_signed_in_candidate(client)
    # The existing account is untouched: its own password still works.
    login(app.test_client(), taken)


def test_register_with_a_short_password_is_refused(app, client):
    response = post(client, "/register", _register_data(password="short1", confirm="short1"))
    assert response.status_code == 422
    assert "at least 10 characters" in response.get_data(as_text=True)
    assert _count(app, User) == 0
    assert _count(app, ConsentRecord) == 0


def test_register_with_differing_passwords_is_refused(app, client):
    response = post(client, "/register", _register_data(confirm="something else entirely"))
    assert response.status_code == 422
    assert "The passwords differ." in response.get_data(as_text=True)
    assert _count(app, User) == 0


# --- sign-in -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "desk"),
    [("candidate", "/my"), ("assessor", "/assessor/"), ("coordinator", "/coordinator/"),
     ("admin", "/admin/")],
)
def test_login_goes_to_the_desk_of_the_role(app, client, who, role, desk):
    response = login(client, _email(app, who[role]))
    assert response.headers["Location"] == desk
    assert client.get(desk).status_code == 200
    assert _count(app, UserSession, UserSession.user_id == who[role]) == 1


def test_login_with_a_wrong_password_is_401_with_a_message(app, client, who):
    email = _email(app, who["candidate"])
    response = post(client, "/login", {"login": email, "password": "not the password"})
    assert response.status_code == 401
    assert WRONG_CREDENTIALS in response.get_data(as_text=True)
    assert _count(app, UserSession) == 0
    assert not _is_signed_in_candidate(client)


def test_login_with_an_unknown_email_gives_the_same_answer(app, client, who):
    known = post(client, "/login", {"login": _email(app, who["candidate"]), "password": "not the password"})
    unknown = post(client, "/login", {"login": "nobody@test.example", "password": PASSWORD})
    assert unknown.status_code == known.status_code == 401
    assert WRONG_CREDENTIALS in unknown.get_data(as_text=True)
    assert unknown.get_data(as_text=True).count(WRONG_CREDENTIALS) == known.get_data(as_text=True).count(
        WRONG_CREDENTIALS
    )
    assert _count(app, UserSession) == 0


def test_a_disabled_account_cannot_log_in(app, client, who):
    with app.app_context():
        accounts.set_active(who["assessor"], False, db.session.get(User, who["admin"]))
        db.session.commit()
    response = post(client, "/login", {"login": _email(app, who["assessor"]), "password": PASSWORD})
    assert response.status_code == 401
    assert WRONG_CREDENTIALS in response.get_data(as_text=True)
    assert _count(app, UserSession, UserSession.user_id == who["assessor"]) == 0
    assert client.get("/assessor/").status_code == 302


# --- rate limit ----------------------------------------------------------------------------------------


def test_sixth_failure_in_a_minute_is_refused_for_that_account_only(app, who):
    a, b = _email(app, who["candidate"]), _email(app, who["other_candidate"])
    limit = app.config["LOGIN_FAILURES_PER_MINUTE"]
    assert limit == 5
    attacker = app.test_client()
    for _ in range(limit):
        response = post(attacker, "/login", {"login": a, "password": "guess " * 3})
        assert response.status_code == 401

    # The right password does not help now: the account is held for the rest of the minute.
    owner = app.test_client()
    response = post(owner, "/login", {"login": a, "password": PASSWORD})
    assert response.status_code == 429
    assert TOO_MANY in response.get_data(as_text=True)
    assert _count(app, UserSession, UserSession.user_id == who["candidate"]) == 0
    assert not _is_signed_in_candidate(owner)
    # The same account written differently is still the same account.
    response = post(app.test_client(), "/login", {"login": "  " + a.upper(), "password": PASSWORD})
    assert response.status_code == 429

    # Another account at the same moment, even from the attacker's browser, is not affected.
    response = post(attacker, "/login", {"login": b, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/my"
    assert _count(app, UserSession, UserSession.user_id == who["other_candidate"]) == 1


def test_successful_logins_do_not_count_as_failures(app, who):
    email = _email(app, who["candidate"])
    for _ in range(app.config["LOGIN_FAILURES_PER_MINUTE"] + 2):
        browser = app.test_client()
        login(browser, email)
    response = post(app.test_client(), "/login", {"login": email, "password": "wrong again"})
    assert response.status_code == 401


# --- server-side sessions ------------------------------------------------------------------------------


def test_logout_revokes_the_server_side_session(app, client, who):
    login(client, _email(app, who["candidate"]))
    cookie = _session_cookie(app, client)
    # The copied cookie works while the session is open, so the check below is not vacuous.
    assert _is_signed_in_candidate(_replay(app, cookie))

    response = post(client, "/logout")
    assert response.status_code == 302
    assert not _is_signed_in_candidate(client)
    assert not _is_signed_in_candidate(_replay(app, cookie))
    assert _count(app, UserSession, UserSession.user_id == who["candidate"],
                  UserSession.revoked_at.is_(None)) == 0


def test_password_change_ends_other_sessions_but_keeps_this_browser(app, who):
    email = _email(app, who["candidate"])
    here, elsewhere = app.test_client(), app.test_client()
    login(here, email)
    login(elsewhere, email)
    old_cookie = _session_cookie(app, here)

    response = post(here, "/account/password",
                    {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/my"

    assert _is_signed_in_candidate(here)
    assert not _is_signed_in_candidate(elsewhere)
    assert not _is_signed_in_candidate(_replay(app, old_cookie))
    assert _count(app, UserSession, UserSession.user_id == who["candidate"],
                  UserSession.revoked_at.is_(None)) == 1

    response = post(app.test_client(), "/login", {"login": email, "password": PASSWORD})
    assert response.status_code == 401
    login(app.test_client(), email, NEW_PASSWORD)


def test_password_change_with_a_wrong_current_password_changes_nothing(app, who):
    email = _email(app, who["candidate"])
    here, elsewhere = app.test_client(), app.test_client()
    login(here, email)
    login(elsewhere, email)
    response = post(here, "/account/password", {"current": "not my password", "new": NEW_PASSWORD,
                                                "confirm": NEW_PASSWORD})
    assert response.status_code == 422
    assert "The current password is not correct." in response.get_data(as_text=True)
    assert _is_signed_in_candidate(here)
    assert _is_signed_in_candidate(elsewhere)
    login(app.test_client(), email)


def test_disabling_ends_the_open_session_at_once(app, who):
    user = app.test_client()
    login(user, _email(app, who["candidate"]))
    cookie = _session_cookie(app, user)
    assert _is_signed_in_candidate(user)

    admin = app.test_client()
    login(admin, _email(app, who["admin"]))
    response = post(admin, f"/admin/users/{who['candidate']}/active", {"active": "0"})
    assert response.status_code == 302

    assert not _is_signed_in_candidate(user)
    assert not _is_signed_in_candidate(_replay(app, cookie))
    assert _count(app, UserSession, UserSession.user_id == who["candidate"],
                  UserSession.revoked_at.is_(None)) == 0
    email = _email(app, who["candidate"])
    response = post(app.test_client(), "/login", {"login": email, "password": PASSWORD})
    assert response.status_code == 401

    # Enabling again lets the person sign in anew; the old session stays dead.
    response = post(admin, f"/admin/users/{who['candidate']}/active", {"active": "1"})
    assert response.status_code == 302
    assert not _is_signed_in_candidate(_replay(app, cookie))
    login(app.test_client(), _email(app, who["candidate"]))


def test_an_admin_cannot_disable_themselves(app, who):
    admin = app.test_client()
    login(admin, _email(app, who["admin"]))
    response = post(admin, f"/admin/users/{who['admin']}/active", {"active": "0"})
    assert response.status_code == 422
    assert admin.get("/admin/").status_code == 200


# --- CSRF ----------------------------------------------------------------------------------------------


def _without_token(client: FlaskClient, url: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    client.get("/catalog")  # the browser has a session and a token; the forged form does not send it
    return client.post(url, data=data)


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_login_without_the_csrf_token_is_refused(app, client, who, token):
    data = {"login": _email(app, who["candidate"]), "password": PASSWORD}
    if token:
        data["csrf_token"] = token
    response = _without_token(client, "/login", data)
    assert response.status_code == 400
    assert CSRF_REFUSED in response.get_data(as_text=True)
    assert _count(app, UserSession) == 0
    assert not _is_signed_in_candidate(client)


def test_register_without_the_csrf_token_is_refused(app, client):
    response = _without_token(client, "/register", _register_data())
    assert response.status_code == 400
    assert CSRF_REFUSED in response.get_data(as_text=True)
    assert _count(app, User) == 0
    assert _count(app, ConsentRecord) == 0


def test_logout_without_the_csrf_token_is_refused(app, client, who):
    login(client, _email(app, who["candidate"]))
    response = client.post("/logout")
    assert response.status_code == 400
    assert _is_signed_in_candidate(client)
    assert _count(app, UserSession, UserSession.user_id == who["candidate"],
                  UserSession.revoked_at.is_(None)) == 1


def test_a_case_transition_without_the_csrf_token_is_refused(app, who):
    with app.app_context():
        people = {key: db.session.get(User, user_id) for key, user_id in who.items()}
        case = factories.case_in_state("under_review", people)
        db.session.commit()
        case_id, version = case.id, case.lock_version
    owner = app.test_client()
    login(owner, _email(app, who["candidate"]))
    response = owner.post(f"/cases/{case_id}/transitions/withdraw",
                          data={"version": str(version), "reason": "I found a job."})
    assert response.status_code == 400
    assert CSRF_REFUSED in response.get_data(as_text=True)
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case.state == "under_review"
        assert case.lock_version == version
    # The same form with its token goes through, so it was the token that was missing.
    response = post(owner, f"/cases/{case_id}/transitions/withdraw", {"version": str(version),
                                                                      "reason": "I found a job."})
    assert response.status_code == 302


def test_admin_actions_without_the_csrf_token_are_refused(app, who):
    admin = app.test_client()
    login(admin, _email(app, who["admin"]))
    response = admin.post(f"/admin/users/{who['assessor']}/active", data={"active": "0"})
    assert response.status_code == 400
    assert _user(app, _email(app, who["assessor"])).active
    response = admin.post("/admin/users/new", data={"display_name": "Ivan", "email": "ivan@test.example",
                                                    "role": "admin", "language": "en",
                                                    "password": "staff passphrase 77"})
    assert response.status_code == 400
    assert _user(app, "ivan@test.example") is None


def test_the_token_of_one_browser_does_not_work_in_another(app, who):
    first, second = app.test_client(), app.test_client()
    token = csrf_token(first)
    second.get("/catalog")
    response = second.post("/login", data={"login": _email(app, who["candidate"]), "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 400
    assert _count(app, UserSession) == 0


# --- staff accounts ------------------------------------------------------------------------------------


def test_admin_creates_a_staff_account_that_can_sign_in(app, who):
    admin = app.test_client()
    login(admin, _email(app, who["admin"]))
    page = admin.get("/admin/users/new")
    assert page.status_code == 200
    response = post(admin, "/admin/users/new", {"display_name": "Ivan Petrenko", "email": "Ivan@Test.Example",
                                                "role": "coordinator", "language": "uk",
                                                "password": "staff passphrase 77"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    assert "ivan@test.example" in admin.get("/admin/").get_data(as_text=True)

    created = _user(app, "ivan@test.example")
    assert created is not None
    assert (created.role, created.display_name, created.preferred_language, created.active) == (
        "coordinator", "Ivan Petrenko", "uk", True)

    staff = app.test_client()
    response = login(staff, "ivan@test.example", "staff passphrase 77")
    assert response.headers["Location"] == "/coordinator/"
    assert staff.get("/coordinator/").status_code == 200


def test_admin_form_refuses_a_taken_email_and_a_short_password(app, who):
    admin = app.test_client()
    login(admin, _email(app, who["admin"]))
    users = _count(app, User)
    response = post(admin, "/admin/users/new", {"display_name": "Copy", "email": _email(app, who["assessor"]),
                                                "role": "assessor", "language": "en",
                                                "password": "staff passphrase 77"})
    assert response.status_code == 422
    assert "An account with this e-mail address already exists." in response.get_data(as_text=True)
    response = post(admin, "/admin/users/new", {"display_name": "Short", "email": "short@test.example",
                                                "role": "assessor", "language": "en", "password": "short"})
    assert response.status_code == 422
    assert _count(app, User) == users


def test_the_staff_form_cannot_make_a_candidate_or_an_unknown_role(app, who):
    admin = app.test_client()
    login(admin, _email(app, who["admin"]))
    for role in ("candidate", "superuser"):
        response = post(admin, "/admin/users/new", {"display_name": "X", "email": f"{role}-x@test.example",
                                                    "role": role, "language": "en",
                                                    "password": "staff passphrase 77"})
        assert response.status_code == 422
        assert _user(app, f"{role}-x@test.example") is None


@pytest.mark.parametrize("role", ["candidate", "assessor", "coordinator"])
def test_only_an_admin_may_open_the_staff_account_page(app, who, role):
    browser = app.test_client()
    login(browser, _email(app, who[role]))
    assert browser.get("/admin/users/new").status_code == 403
    users = _count(app, User)
    response = post(browser, "/admin/users/new", {"display_name": "Mallory", "email": "mallory@test.example",
                                                  "role": "admin", "language": "en",
                                                  "password": "staff passphrase 77"})
    assert response.status_code == 403
    assert _count(app, User) == users
    response = post(browser, f"/admin/users/{who['admin']}/active", {"active": "0"})
    assert response.status_code == 403
    assert _user(app, _email(app, who["admin"])).active


def test_anonymous_visitors_are_sent_to_sign_in_for_the_staff_account_page(client):
    response = client.get("/admin/users/new")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
