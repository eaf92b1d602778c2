"""The skills record (/my/skills): every outcome validated in the candidate's awards in force, by credential,
in the reader's language, with its award and ESCO links; nobody else's, nothing superseded; candidates only."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests import factories
from tests.conftest import login, post
from validation.extensions import db
from validation.services import awards, catalog

SKILL = "http://data.europa.eu/esco/skill/0a1b2c3d-bake-bread"


def text(response) -> str:  # type: ignore[no-untyped-def]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


@dataclass
class Outcome:
    id: int
    code: str
    en: str
    uk: str


@dataclass
class Award:
    id: int
    number: str
    title: str
    date: str
    credits: str
    outcomes: list[Outcome]
    #: The outcomes of the credential that this award does not validate.
    others: list[Outcome]


@dataclass
class World:
    app: Flask
    full: Award
    partial: Award
    superseded: Award
    someone_elses: Award

    def client(self, email: str) -> FlaskClient:
        client = self.app.test_client()
        login(client, email)
        return client


def _award(case_id: int) -> Award:
    award = awards.award_for_case(case_id)
    assert award is not None
    validated = {ao.outcome_id for ao in award.outcomes}
    outcomes = [Outcome(o.id, o.code, o.text_in("en"), o.text_in("uk")) for o in award.credential.outcomes]
    return Award(award.id, award.number, award.credential.text("title", "en"), award.issued_at.strftime("%Y-%m-%d"),
                 str(round(award.credits_total, 1)),
                 [o for o in outcomes if o.id in validated], [o for o in outcomes if o.id not in validated])


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        bakery = catalog.by_code("UA-BAKERY")
        bakery.outcomes[1].esco = [SKILL]
        db.session.flush()
        full = _award(factories.case_in_state("awarded", who, "UA-BAKERY").id)
        partial = _award(factories.case_in_state("partially_awarded", who, "GE-WELD-MMA").id)
        gone = factories.case_in_state("awarded", who, "AM-LINUX-TECH")
        superseded = _award(gone.id)
        awards.supersede(gone, who["coordinator"])
        elses = _award(factories.case_in_state("awarded", {**who, "candidate": who["other_candidate"]},
                                               "MK-ROOF-INST").id)
        db.session.commit()
        return World(app, full, partial, superseded, elses)


def test_the_record_lists_the_outcomes_of_full_and_partial_awards(world):
    page = world.client("candidate@test.example").get("/my/skills")
    assert page.status_code == 200
    body, shown = page.get_data(as_text=True), text(page)
    assert "My skills record" in shown
    for award in (world.full, world.partial):
        assert award.title in shown
        assert f'href="/awards/{award.id}"' in body and award.number in shown and award.date in shown
        for o in award.outcomes:
            assert f"{o.code} {o.en}" in shown
        for o in award.others:
            assert o.en not in shown, o.code
        assert f"Credits validated: {award.credits} of" in shown
    assert world.partial.others, "the partial award leaves some outcomes out"
    # Credits per outcome and per credential, in tables with column headings.
    assert body.count('<th scope="col">Credits</th>') == 2


def test_the_record_leaves_out_superseded_awards_and_other_peoples(world):
    page = world.client("candidate@test.example").get("/my/skills")
    body, shown = page.get_data(as_text=True), text(page)
    for award in (world.superseded, world.someone_elses):
        assert award.title not in shown
        assert f'href="/awards/{award.id}"' not in body and award.number not in shown
        assert not any(o.en in shown for o in award.outcomes)
    # The other candidate sees their own record, and nothing of the first candidate's.
    theirs = text(world.client("other-candidate@test.example").get("/my/skills"))
    assert world.someone_elses.title in theirs and world.full.title not in theirs


def test_esco_links_where_the_outcome_has_them(world):
    body = world.client("candidate@test.example").get("/my/skills").get_data(as_text=True)
    with_skill = world.full.outcomes[1]
    row = re.search(rf'<tr id="skill-{with_skill.id}">(.*?)</tr>', body, re.S)
    assert row and f'href="{SKILL}"' in row.group(1) and "ESCO skill" in row.group(1)
    assert body.count("data.europa.eu/esco/skill") == 2  # the href and its title, once


def test_the_record_is_in_the_readers_language(world):
    client = world.client("candidate@test.example")
    post(client, "/language", {"language": "uk"})
    shown = text(client.get("/my/skills"))
    o = world.full.outcomes[0]
    assert o.uk != o.en and f"{o.code} {o.uk}" in shown


def test_an_empty_record_says_so(app):
    with app.app_context():
        factories.load_catalog()
        factories.people()
        db.session.commit()
    client = app.test_client()
    login(client, "candidate@test.example")
    page = client.get("/my/skills")
    assert page.status_code == 200
    assert "No learning outcome of yours is validated yet." in text(page)
    assert "<table" not in page.get_data(as_text=True)


def test_the_home_page_links_to_the_record(world):
    body = world.client("candidate@test.example").get("/my").get_data(as_text=True)
    assert 'href="/my/skills"' in body


@pytest.mark.parametrize("email", ["assessor@test.example", "coordinator@test.example", "admin@test.example"])
def test_staff_may_not_open_it(world, email):
    assert world.client(email).get("/my/skills").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(world):
    response = world.app.test_client().get("/my/skills")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
