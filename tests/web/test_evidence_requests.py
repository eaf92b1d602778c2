"""Requests for more evidence through HTTP: the assessor's form on the case page, what the candidate then sees
on the case and on their home page (in their language), what staff see round by round, and every refusal
answered with a clear message and nothing stored."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from babel.dates import format_date
from flask import Flask
from flask.testing import FlaskClient

from tests import factories
from tests.conftest import login, post
from validation.extensions import db
from validation.models import (
    AuditEvent,
    Case,
    CaseTransition,
    EvidenceItem,
    EvidenceRequest,
    Interview,
    InterviewResult,
    LearningOutcome,
)
from validation.services import accounts, cases, evidence, evidence_requests, review

MESSAGE = "A photo of bread you baked & a letter from the bakery <where you worked>."


def shown(day: date, locale: str) -> str:
    """A date as the page writes it (long form, in the reader's locale), with white space as `text` leaves it."""
    return " ".join(format_date(day, "long", locale=locale).split())


def text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a reader sees it: no tags, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


@dataclass
class World:
    app: Flask
    case_id: int
    outcome_ids: list[int]
    codes: list[str]
    titles_uk: list[str]

    def client(self, who: str | None = None) -> FlaskClient:
        client = self.app.test_client()
        if who:
            login(client, f"{who.replace('_', '-')}@test.example")
        return client

    def version(self) -> int:
        with self.app.app_context():
            return db.session.get(Case, self.case_id).lock_version

    def today(self) -> date:
        with self.app.app_context():
            return evidence_requests.today()

    def ask(self, client: FlaskClient, **changes: object):  # type: ignore[no-untyped-def]
        data: dict[str, object] = {
            "version": str(self.version()),
            "outcomes": [str(o) for o in self.outcome_ids[:2]],
            "message": MESSAGE,
            "due_on": (self.today() + timedelta(days=14)).isoformat(),
        }
        data.update(changes)
        return post(client, f"/cases/{self.case_id}/evidence-request", {k: v for k, v in data.items() if v is not None})

    def tally(self) -> tuple[object, ...]:
        with self.app.app_context():
            count = lambda model: db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()  # noqa: E731
            case = db.session.get(Case, self.case_id)
            return (count(EvidenceRequest), count(Interview), count(InterviewResult), count(EvidenceItem),
                    count(CaseTransition), count(AuditEvent), case.state, case.lock_version, case.due_at)

    def state(self) -> str:
        with self.app.app_context():
            return db.session.get(Case, self.case_id).state


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        case = factories.case_in_state("under_review", who)
        review.declare(case.id, who["assessor"], False, None)  # no conflict of interest: the case is open to them
        db.session.commit()
        outcomes = [c.outcome for c in case.claims]
        return World(app, case.id, [o.id for o in outcomes], [o.code for o in outcomes],
                     [o.text_in("uk") for o in outcomes])


# --- the assessor asks --------------------------------------------------------------------------------


def test_the_assigned_assessor_gets_the_form_with_the_claimed_outcomes_and_the_usual_due_date(world):
    page = world.client("assessor").get(f"/cases/{world.case_id}").get_data(as_text=True)
    form = page[page.index(f'action="/cases/{world.case_id}/evidence-request"'):]
    form = form[: form.index("</form>")]
    for outcome_id in world.outcome_ids:
        assert f'name="outcomes" value="{outcome_id}"' in form
    assert f'value="{(world.today() + timedelta(days=30)).isoformat()}"' in form
    assert 'name="csrf_token"' in form and f'name="version" value="{world.version()}"' in form
    assert '<label for="er-message">' in form and '<label for="er-due">' in form


@pytest.mark.parametrize("who", ["candidate", "coordinator", "admin"])
def test_nobody_else_gets_the_form(world, who):
    page = world.client(who).get(f"/cases/{world.case_id}").get_data(as_text=True)
    assert "/evidence-request" not in page


def test_a_request_moves_the_case_and_the_candidate_sees_what_to_add_and_by_when(world):
    due = world.today() + timedelta(days=14)
    response = world.ask(world.client("assessor"), due_on=due.isoformat())
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{world.case_id}#evidence-requests")
    assert world.state() == "more_evidence"
    with world.app.app_context():
        request = db.session.execute(sa.select(EvidenceRequest)).scalar_one()
        assert (request.outcome_ids, request.message, request.due_on) == (sorted(world.outcome_ids[:2]), MESSAGE, due)

    candidate = world.client("candidate")
    page = text(candidate.get(f"/cases/{world.case_id}"))
    section = page[page.index("More evidence requested The assessor asks"):]
    for code in world.codes[:2]:
        assert code in section
    assert world.codes[2] not in section[: section.index("What would help")]
    assert MESSAGE in section
    assert shown(due, "en") in section
    assert 'href="#add-evidence"' in candidate.get(f"/cases/{world.case_id}").get_data(as_text=True)

    home = candidate.get("/my")
    body = home.get_data(as_text=True)
    home_text = text(home)
    assert "More evidence requested" in home_text and MESSAGE in home_text
    assert shown(due, "en") in home_text
    for code in world.codes[:2]:
        assert code in home_text
    assert f'href="/cases/{world.case_id}#add-evidence"' in body
    assert MESSAGE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in body  # escaped, never markup


def test_the_candidate_reads_it_in_ukrainian_with_a_ukrainian_date(world):
    due = world.today() + timedelta(days=14)
    world.ask(world.client("assessor"), due_on=due.isoformat())
    with world.app.app_context():
        accounts.set_language(accounts.find_by_email("candidate@test.example"), "uk")
        db.session.commit()
    candidate = world.client("candidate")
    for url in (f"/cases/{world.case_id}", "/my"):
        page = text(candidate.get(url))
        assert world.titles_uk[0] in page and world.titles_uk[1] in page
        assert shown(due, "uk") in page


def test_staff_see_every_request_round_by_round(world):
    world.ask(world.client("assessor"), message="First: a photo.")
    with world.app.app_context():
        case = db.session.get(Case, world.case_id)
        candidate = accounts.find_by_email("candidate@test.example")
        evidence.add_statement(case.id, candidate, "Photo", "Here it is.", world.outcome_ids[:2])
        cases.fire(case.id, "resubmit", candidate)
        db.session.commit()
    world.ask(world.client("assessor"), message="Second: a letter.", outcomes=[str(world.outcome_ids[2])])
    for who in ("assessor", "coordinator", "admin"):
        page = text(world.client(who).get(f"/cases/{world.case_id}"))
        assert "Requests for more evidence" in page
        assert "Round 3" in page and "Round 2" in page
        assert page.index("Second: a letter.") < page.index("First: a photo.")
    mine = text(world.client("candidate").get(f"/cases/{world.case_id}"))
    assert "Second: a letter." in mine and "First: a photo." not in mine  # only the request they answer now
    assert "Requests for more evidence" not in mine


# --- refusals -----------------------------------------------------------------------------------------

BAD_INPUT = {
    "no-outcome": ({"outcomes": None}, "Choose at least one learning outcome that needs more evidence."),
    "outcome-not-in-case": ({"outcomes": "other"}, "One of the chosen learning outcomes is not part of this case."),
    "outcome-not-a-number": ({"outcomes": ["first"]}, "One of the chosen learning outcomes is not part of this case."),
    "no-message": ({"message": "   "}, "Say what would help: what the candidate could add."),
    "unreadable-date": ({"due_on": "next friday"}, "The date could not be read"),
    "impossible-date": ({"due_on": "2027-02-30"}, "The date could not be read"),
    "date-in-the-past": ({"due_on": "past"}, "The due date cannot be in the past."),
    "no-version": ({"version": None}, "Please check the form"),
}


@pytest.mark.parametrize("name", BAD_INPUT)
def test_bad_input_is_shown_again_with_its_message_and_nothing_is_stored(world, name):
    change, message = BAD_INPUT[name]
    change = dict(change)
    if change.get("outcomes") == "other":
        with world.app.app_context():
            other = db.session.execute(sa.select(LearningOutcome.id).where(
                LearningOutcome.id.not_in(world.outcome_ids)).limit(1)).scalar_one()
        change["outcomes"] = [str(world.outcome_ids[0]), str(other)]
    if change.get("due_on") == "past":
        change["due_on"] = (world.today() - timedelta(days=1)).isoformat()
    client = world.client("assessor")
    before = world.tally()
    typed = "What I typed stays here."
    response = world.ask(client, **{"message": typed, **change})
    assert response.status_code == 422
    page = text(response)
    assert message in page
    assert "Nothing was sent: please check the request for more evidence." in page
    if name != "no-message":
        assert typed in page
    assert world.tally() == before


@pytest.mark.parametrize(("who", "status"), [("other_assessor", 403), ("candidate", 403), ("other_candidate", 403),
                                             ("coordinator", 403), ("admin", 403)])
def test_a_forged_post_by_anyone_but_the_assigned_assessor_is_refused(world, who, status):
    client = world.client(who)
    before = world.tally()
    assert world.ask(client).status_code == status
    assert world.tally() == before


def test_a_stale_page_gets_409_with_the_current_state_and_the_typed_text(world):
    client = world.client("assessor")
    stale = world.version()
    with world.app.app_context():
        from validation.services import assessment

        assessor = accounts.find_by_email("assessor@test.example")
        assessment.record_decision(world.case_id, world.outcome_ids[0], assessor, "met", None)
        db.session.commit()
    before = world.tally()
    typed = "Please add the certificate of your course."
    response = world.ask(client, version=str(stale), message=typed)
    assert response.status_code == 409
    page = text(response)
    assert "This case changed since you opened it" in page
    assert typed in page
    assert f'name="version" value="{world.version()}"' in response.get_data(as_text=True)  # ready to send again
    assert world.tally() == before


def test_a_case_that_moved_on_keeps_the_text_to_copy(world):
    client = world.client("assessor")
    world.ask(client)
    typed = "Another request typed on an old page."
    response = world.ask(client, message=typed)
    assert response.status_code == 409
    page = text(response)
    assert "More evidence cannot be asked for in the case's present state." in page
    assert typed in page


def test_refusals_in_ukrainian(world):
    with world.app.app_context():
        accounts.set_language(accounts.find_by_email("assessor@test.example"), "uk")
        db.session.commit()
    client = world.client("assessor")
    stale = world.version() - 1
    page = text(world.ask(client, version=str(stale)))
    assert "Справа змінилася, відколи ви її відкрили." in page
    assert "This case changed" not in page


def test_an_assessor_who_has_not_declared_is_sent_to_the_declaration_first(app):
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        case = factories.case_in_state("under_review", who)
        db.session.commit()
        w = World(app, case.id, [c.outcome_id for c in case.claims], [], [])
    client = w.client("assessor")
    before = w.tally()
    response = w.ask(client)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/cases/{case.id}/declaration")
    assert w.tally() == before


def test_anonymous_visitors_are_sent_to_sign_in(world):
    client = world.client()
    response = post(client, f"/cases/{world.case_id}/evidence-request", {"version": "1"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
