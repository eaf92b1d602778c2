"""The candidate's profile, the plain reason for asking about their situation, and consent withdrawal."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import PASSWORD, login, post
from validation.extensions import db
from validation.models import AuditEvent, CandidateProfile, Case, ConsentRecord, User


@pytest.fixture
def olena(app, client):
    with app.app_context():
        factories.load_catalog()
        factories.people()
        db.session.commit()
    response = post(client, "/register", {"display_name": "Olena", "email": "olena@test.example",
                                          "password": PASSWORD, "confirm": PASSWORD, "language": "en",
                                          "consent": "y"})
    assert response.status_code == 302
    return client


def _user(app) -> User:
    return db.session.execute(select(User).where(User.email == "olena@test.example")).scalar_one()


def test_the_profile_says_why_the_situation_is_asked_and_who_sees_it(olena):
    page = html.unescape(olena.get("/profile").get_data(as_text=True))
    assert "Only coordinators of your centre see your answer; assessors do not." in page
    assert "I prefer not to say" in page


def test_saving_the_profile_keeps_it_and_audits_no_sensitive_value(app, olena):
    response = post(olena, "/profile", {"language": "uk", "phone": "+380 44 123 4567", "contact_by_email": "y",
                                        "contact_by_phone": "y", "target_group": "displaced",
                                        "accessibility_needs": "Large print, please."})
    assert response.status_code == 302
    with app.app_context():
        user = _user(app)
        profile = db.session.get(CandidateProfile, user.id)
        assert profile.target_group == "displaced" and profile.phone == "+380 44 123 4567"
        assert profile.accessibility_needs == "Large print, please." and user.preferred_language == "uk"
        event = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc())).scalars().first()
        assert event.action == "profile.updated"
        assert "displaced" not in event.facts and "380" not in event.facts and "print" not in event.facts
    assert "Ваш профіль збережено" in html.unescape(olena.get("/profile").get_data(as_text=True))


def _profile_row(app) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    with app.app_context():
        p = db.session.get(CandidateProfile, _user(app).id)
        return (p.phone, p.contact_by_email, p.contact_by_phone, p.target_group, p.accessibility_needs, p.updated_at)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"language": "en", "contact_by_phone": "y"}, "Give a phone number to be contacted by phone."),
        ({"language": "en"}, "Choose at least one way to contact you."),
        ({"language": "en", "contact_by_email": "y", "phone": "call me maybe"}, "Write the number with digits"),
        ({"language": "en", "contact_by_email": "y", "target_group": "spy"}, "Not a valid choice"),
    ],
)
def test_a_wrong_profile_is_refused_with_a_reason_and_nothing_kept(app, olena, data, message):
    before = _profile_row(app)  # registration starts the profile: contact by the e-mail signed up with
    assert before[:3] == (None, True, False)
    response = post(olena, "/profile", data)
    assert response.status_code == 422
    assert message in html.unescape(response.get_data(as_text=True))
    assert _profile_row(app) == before


def test_withdrawn_consent_stops_new_data_but_not_withdrawing(app, olena):
    assert post(olena, "/catalog/UA-BAKERY/open").status_code == 302
    assert post(olena, "/profile/consent", {"action": "withdraw"}).status_code == 302
    with app.app_context():
        user = _user(app)
        record = db.session.execute(select(ConsentRecord).where(ConsentRecord.user_id == user.id)).scalar_one()
        assert record.withdrawn_at is not None
        case = db.session.execute(select(Case).where(Case.candidate_id == user.id)).scalar_one()
        case_id, version, outcome = case.id, case.lock_version, case.claims[0].outcome_id
    refused = post(olena, "/catalog/GE-WELD-MMA/open")
    assert refused.status_code == 409 and "withdrew your consent" in refused.get_data(as_text=True)
    refused = post(olena, f"/cases/{case_id}/evidence", {"kind": "statement", "title": "Work",
                                                         "statement": "I baked.", "outcomes": outcome,
                                                         "version": version})
    assert refused.status_code == 409 and "withdrew your consent" in refused.get_data(as_text=True)
    withdrawn = post(olena, f"/cases/{case_id}/transitions/withdraw",
                     {"reason": "I withdrew my consent.", "version": version})
    assert withdrawn.status_code == 302
    # Consent given again: a new record, and new cases are possible.
    assert post(olena, "/profile/consent", {"action": "give"}).status_code == 302
    assert post(olena, "/catalog/GE-WELD-MMA/open").status_code == 302
    with app.app_context():
        records = db.session.execute(select(ConsentRecord).where(ConsentRecord.user_id == _user(app).id)).all()
        assert len(records) == 2


def test_withdrawing_twice_is_refused_and_changes_nothing(app, olena):
    assert post(olena, "/profile/consent", {"action": "withdraw"}).status_code == 302
    assert post(olena, "/profile/consent", {"action": "withdraw"}).status_code == 409


def test_staff_have_no_profile_page(app, olena):
    staff = app.test_client()
    login(staff, "coordinator@test.example")
    assert staff.get("/profile").status_code == 403


def test_coordinators_see_the_situation_assessors_only_the_arrangements(app, olena):
    assert post(olena, "/profile", {"language": "en", "contact_by_email": "y", "target_group": "displaced",
                                    "accessibility_needs": "Large print, please."}).status_code == 302
    assert post(olena, "/catalog/UA-BAKERY/open").status_code == 302
    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        from validation.services import accounts, cases

        cases.assign_assessor(case.id, accounts.find_by_email("assessor@test.example").id,
                              accounts.find_by_email("coordinator@test.example"))
        factories.declare_no_conflict(case)
        db.session.commit()
        case_id = case.id
    pages = {}
    for email in ("coordinator@test.example", "assessor@test.example"):
        staff = app.test_client()
        login(staff, email)
        pages[email] = html.unescape(staff.get(f"/cases/{case_id}").get_data(as_text=True))
    assert "I had to leave my home" in pages["coordinator@test.example"]
    assert "I had to leave my home" not in pages["assessor@test.example"]
    for page in pages.values():
        assert "Large print, please." in page
    assert "Large print" not in html.unescape(olena.get(f"/cases/{case_id}").get_data(as_text=True))


def test_the_form_library_s_own_messages_follow_the_reader_s_language(app, olena):
    """WTForms' messages are read once per language and process: each page still has those of its reader."""
    wrong = {"language": "en", "contact_by_email": "y", "target_group": "spy"}
    assert "Not a valid choice" in html.unescape(post(olena, "/profile", wrong).get_data(as_text=True))
    post(olena, "/language", {"language": "uk"})
    refused = html.unescape(post(olena, "/profile", {**wrong, "language": "uk"}).get_data(as_text=True))
    assert "Недійсний варіант" in refused and "Not a valid choice" not in refused
    post(olena, "/language", {"language": "en"})
    assert "Not a valid choice" in html.unescape(post(olena, "/profile", wrong).get_data(as_text=True))
