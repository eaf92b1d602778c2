"""The intake questionnaire page: in the candidate's language, without JavaScript, prefilled, and on the home page."""

# The expected texts are Ukrainian: Cyrillic letters that look like Latin ones are meant.
# ruff: noqa: RUF001

from __future__ import annotations

import html
import re

import pytest
from flask import render_template
from sqlalchemy import func, select

from tests import factories
from tests.conftest import login, post
from validation.extensions import db
from validation.models import AuditEvent, IntakeResponse
from validation.services import accounts, intake

VALID = {"work_done": "Baker in Kharkiv, 2015-2022.\nNight shifts.", "years_in_field": "from_3_to_10",
         "education": "vocational", "has_papers": "no", "available_from": "2025-09-01",
         "assessment_preference": "demonstration"}


@pytest.fixture
def candidate(app):
    with app.app_context():
        factories.people()
        db.session.commit()
    client = app.test_client()
    login(client, "candidate@test.example")
    return client


def _in_ukrainian(app) -> None:
    with app.app_context():
        accounts.set_language(accounts.find_by_email("candidate@test.example"), "uk")
        db.session.commit()


def _page(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.get_data(as_text=True))


def _counts(app) -> tuple[int, int]:
    with app.app_context():
        return (int(db.session.execute(select(func.count(IntakeResponse.id))).scalar_one()),
                int(db.session.execute(select(func.count(AuditEvent.seq))).scalar_one()))


def test_the_questions_in_ukrainian(app, candidate):
    _in_ukrainian(app)
    response = candidate.get("/my/intake")
    assert response.status_code == 200
    page = _page(response)
    assert '<html lang="uk">' in page
    for text in ("Розкажіть про свій досвід", "Яку роботу ви виконували і як довго?", "Менше 1 року",
                 "Нічого страшного, якщо їх немає", "З якої дати ви можете взяти участь в оцінюванні? (необов’язково)",
                 ">Так</label>", ">Ні</label>", "Зберегти мої відповіді"):
        assert text in re.sub(r"<input[^>]*> ", ">", page), text
    for text in ("What work have you done", "Less than 1 year", "(optional)", "Save my answers"):
        assert text not in page


def test_the_page_works_without_javascript_and_names_every_control(app, candidate):
    page = _page(candidate.get("/my/intake"))
    assert "<script" not in page and "style=" not in page
    form = page[page.index('<form method="post" action="/my/intake"'):]
    # One fieldset with a legend per radio group: three choices and one yes/no question.
    assert form.count("<fieldset") == form.count("<legend>") == 4
    assert 'type="date"' in form and '<textarea' in form
    # Each help text is tied to its control.
    for hint in re.findall(r'<p class="hint" id="([^"]+)"', form):
        assert re.search(rf'aria-describedby="[^"]*\b{re.escape(hint)}\b', form), hint
    # Every text control has a label; radios sit inside theirs.
    for control in re.findall(r'<(?:textarea|input)[^>]*\bid="([^"]+)"[^>]*>', form):
        if control != "csrf_token" and not re.match(r".+-\d+$", control):
            assert f'<label for="{control}">' in form, control


def test_missing_answers_are_refused_in_the_page_language_and_nothing_is_kept(app, candidate):
    _in_ukrainian(app)
    before = _counts(app)
    response = post(candidate, "/my/intake", {"work_done": "  ", "has_papers": "no", "available_from": "весна"})
    assert response.status_code == 422
    page = _page(response)
    assert 'class="error-summary" role="alert"' in page
    assert "Будь ласка, дайте відповідь на це запитання." in page
    assert "Будь ласка, оберіть відповідь." in page
    assert "Напишіть дату у форматі рік-місяць-день" in page
    assert "Please answer" not in page and "Please choose" not in page
    # The summary links to the question; the error also stands next to it.
    assert '<a href="#years_in_field-0">Скільки років досвіду у вас у цій галузі? — Будь ласка, оберіть' in page
    assert '<p class="error" id="years_in_field-error">' in page
    # What was given stays on the page.
    assert 'value="no" checked' in page or re.search(r'checked[^>]*value="no"', page)
    assert _counts(app) == before


def test_valid_answers_are_kept_and_the_home_page_moves_on(app, candidate):
    home = _page(candidate.get("/my"))
    assert "Tell us about your experience (intake questionnaire)" in home
    assert "Your intake answers — change" not in home

    response = post(candidate, "/my/intake", VALID)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/my")
    with app.app_context():
        row = db.session.execute(select(IntakeResponse)).scalar_one()
        assert row.answers == {"work_done": "Baker in Kharkiv, 2015-2022.\nNight shifts.",
                               "years_in_field": "from_3_to_10", "education": "vocational", "has_papers": False,
                               "available_from": "2025-09-01", "assessment_preference": "demonstration"}
        assert (row.form_key, row.form_version, row.language) == ("vpl_intake", 1, "en")
        event = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc())).scalars().first()
        assert event.action == "intake.answered" and "Kharkiv" not in event.facts

    home = _page(candidate.get("/my"))
    assert "Thank you: your answers are saved." in home
    assert "Tell us about your experience (intake questionnaire)" not in home
    assert '<a href="/my/intake">Your intake answers — change</a>' in home


def test_the_page_shows_the_last_answers_and_answering_again_keeps_both(app, candidate):
    post(candidate, "/my/intake", VALID)
    page = _page(candidate.get("/my/intake"))
    assert re.search(r'rows="5">\r?\nBaker in Kharkiv, 2015-2022.\nNight shifts.</textarea>', page)
    assert re.search(r'<input[^>]*checked[^>]*value="from_3_to_10"', page)
    assert re.search(r'<input[^>]*checked[^>]*value="no"', page)
    assert not re.search(r'<input[^>]*checked[^>]*value="yes"', page)
    assert 'value="2025-09-01"' in page

    response = post(candidate, "/my/intake", {**VALID, "has_papers": "yes", "available_from": ""})
    assert response.status_code == 302
    with app.app_context():
        rows = db.session.execute(select(IntakeResponse).order_by(IntakeResponse.id)).scalars().all()
        assert [r.answers["has_papers"] for r in rows] == [False, True]
        assert "available_from" not in rows[1].answers
    page = _page(candidate.get("/my/intake"))
    assert re.search(r'<input[^>]*checked[^>]*value="yes"', page)
    assert 'id="available_from" name="available_from" type="date" value=""' in page


def test_a_candidate_who_withdrew_consent_is_told_why_nothing_is_kept(app, candidate):
    with app.app_context():
        from validation.services import profiles

        user = accounts.find_by_email("candidate@test.example")
        profiles.give_consent(user, "en")
        profiles.withdraw_consent(user)
        db.session.commit()
    before = _counts(app)
    response = post(candidate, "/my/intake", VALID)
    assert response.status_code == 409
    assert "You withdrew your consent" in _page(response)
    assert _counts(app) == before


def test_staff_see_the_answers_in_their_language(app, candidate):
    post(candidate, "/my/intake", VALID)
    with app.app_context():
        candidate_id = accounts.find_by_email("candidate@test.example").id
        with app.test_request_context(headers={"Accept-Language": "uk"}):
            shown = render_template("cases/_intake.html", intake=intake.view_for(candidate_id))
            nothing = render_template("cases/_intake.html", intake=None)
    shown = html.unescape(shown)
    assert "<dt>Чи маєте ви якісь документи з попередньої роботи чи навчання?</dt>" in shown
    assert "<dd>Ні</dd>" in shown and "<dd>Практична демонстрація</dd>" in shown
    assert "<dd>Baker in Kharkiv, 2015-2022.<br>Night shifts.</dd>" in shown
    assert "<dd>2025-09-01</dd>" in shown
    assert "Кандидат ще не відповів на вступну анкету." in html.unescape(nothing)
