"""The candidate's home says, per case, where it stands, what to do next and what the assessor asked."""

from __future__ import annotations

import html

import pytest

from tests import factories
from tests.conftest import login
from validation.extensions import db
from validation.services import accounts, cases, catalog


@pytest.fixture
def home(app):
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        factories.case_in_state("more_evidence", who, code="UA-BAKERY")
        factories.case_in_state("draft", who, code="GE-WELD-MMA")
        awarded = factories.case_in_state("under_review", who, code="AM-LINUX-TECH")
        factories.decide_all(awarded, who["assessor"], ["met"] * len(awarded.claims))
        cases.fire(awarded.id, "recommend", who["assessor"])
        cases.fire(awarded.id, "award", who["coordinator"])
        db.session.commit()
    client = app.test_client()
    login(client, "candidate@test.example")
    return client


def test_each_case_shows_its_stage_next_step_and_message(home):
    page = html.unescape(home.get("/my").get_data(as_text=True))
    assert "The assessor asks for more evidence: read the message, add what helps" in page
    assert "A reason given in the test." in page  # the assessor's request, word for word
    assert "Say how well you can do each outcome, add evidence" in page
    assert "Congratulations: the credential is awarded." in page
    assert page.count('aria-current="step"') == 3


def test_the_home_page_in_ukrainian(app, home):
    with app.app_context():
        accounts.set_language(accounts.find_by_email("candidate@test.example"), "uk")
        db.session.commit()
    page = html.unescape(home.get("/my").get_data(as_text=True))
    assert "Далі:" in page and "Документування" in page
    assert "Асистент запитує" not in page and "The assessor asks" not in page
    assert "Оцінювач просить додати докази" in page


def test_the_home_page_costs_the_same_queries_for_one_case_or_many(app, home):
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    counted: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        counted.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        home.get("/my")
        three = len(counted)
        with app.app_context():
            candidate = accounts.find_by_email("candidate@test.example")
            for code in ("RS-MCU-PROG", "ME-AGRO-TOUR"):
                cases.open_case(candidate, catalog.by_code(code).id)
            db.session.commit()
        counted.clear()
        home.get("/my")
        assert len(counted) == three
    finally:
        event.remove(engine, "before_cursor_execute", count)
