"""Interviews and practical observations through HTTP: the assessor arranges one on the case page, the candidate
sees when and where (case page and home, in their language), the assessor records results per outcome with an
optional recording, staff see the results per outcome, the candidate once decided; bad input and forged posts
are refused with a clear message and nothing stored."""

# The expected texts are Ukrainian: Cyrillic letters that look like Latin ones are meant.
# ruff: noqa: RUF001

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from babel.dates import format_date
from flask import Flask
from flask.testing import FlaskClient

from tests import factories
from tests.conftest import csrf_token, login, post, statements
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
from validation.services import accounts, cases, evidence_requests, review

PLACE = "Bakery school, room 12"
LINK = "https://meet.example.org/abc-defg"


def text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a reader sees it: no tags, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def shown(day: date, locale: str) -> str:
    """A date as the page writes it (full form, in the reader's locale), with white space as `text` leaves it."""
    return " ".join(format_date(day, "full", locale=locale).split())


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

    def day(self, days: int = 7) -> date:
        with self.app.app_context():
            return evidence_requests.today() + timedelta(days=days)

    def schedule(self, client: FlaskClient, **changes: object):  # type: ignore[no-untyped-def]
        data: dict[str, object] = {
            "version": str(self.version()),
            "kind": "observation",
            "day": self.day().isoformat(),
            "at": "09:30",
            "place": PLACE,
            "online_link": "",
            "notes": "Bring your apron & your knife.",
        }
        data.update(changes)
        return post(client, f"/cases/{self.case_id}/interviews", {k: v for k, v in data.items() if v is not None})

    def interview_id(self) -> int:
        with self.app.app_context():
            return db.session.execute(sa.select(Interview.id).order_by(Interview.id.desc()).limit(1)).scalar_one()

    def record(self, client: FlaskClient, interview_id: int | None = None, file: tuple[bytes, str] | None = None,
               **fields: object):  # type: ignore[no-untyped-def]
        data: dict[str, object] = {"version": str(self.version()), "csrf_token": csrf_token(client)}
        data.update(fields)
        if file is not None:
            data["recording"] = (io.BytesIO(file[0]), file[1])
        return client.post(f"/cases/{self.case_id}/interviews/{interview_id or self.interview_id()}/results",
                           data={k: v for k, v in data.items() if v is not None},
                           content_type="multipart/form-data")

    def tally(self) -> tuple[object, ...]:
        with self.app.app_context():
            count = lambda model: db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()  # noqa: E731
            case = db.session.get(Case, self.case_id)
            return (count(Interview), count(InterviewResult), count(EvidenceItem), count(EvidenceRequest),
                    count(CaseTransition), count(AuditEvent), case.state, case.lock_version)

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


@pytest.fixture
def scheduled(world: World) -> World:
    assert world.schedule(world.client("assessor"), online_link=LINK).status_code == 302
    return world


# --- arranging ----------------------------------------------------------------------------------------


def test_the_assigned_assessor_gets_the_form_and_nobody_else(world):
    page = world.client("assessor").get(f"/cases/{world.case_id}").get_data(as_text=True)
    assert f'action="/cases/{world.case_id}/interviews"' in page
    for label in ('for="iv-day"', 'for="iv-at"', 'for="iv-place"', 'for="iv-link"', 'for="iv-notes"'):
        assert label in page
    for who in ("candidate", "coordinator", "admin"):
        assert "/interviews\"" not in world.client(who).get(f"/cases/{world.case_id}").get_data(as_text=True)


def test_arranging_moves_the_case_and_the_candidate_sees_when_and_where(world):
    response = world.schedule(world.client("assessor"), online_link=LINK)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{world.case_id}#interviews")
    assert world.state() == "interview"
    candidate = world.client("candidate")
    for url in (f"/cases/{world.case_id}", "/my"):
        response = candidate.get(url)
        page = text(response)
        assert "Practical observation" in page
        assert shown(world.day(), "en") in page and "9:30" in page
        assert PLACE in page
        assert f'href="{LINK}"' in response.get_data(as_text=True)
        assert "Bring your apron & your knife." in page
    assert "Bring your apron &amp; your knife." in candidate.get("/my").get_data(as_text=True)


def test_a_second_appointment_in_interview_keeps_the_state(scheduled):
    client = scheduled.client("assessor")
    transitions = scheduled.tally()[4]
    response = scheduled.schedule(client, kind="interview", place="", online_link=LINK,
                                  day=scheduled.day(9).isoformat())
    assert response.status_code == 302
    assert scheduled.state() == "interview" and scheduled.tally()[4] == transitions
    page = text(scheduled.client("candidate").get(f"/cases/{scheduled.case_id}"))
    assert "Interview:" in page and "Practical observation:" in page


def test_the_candidate_reads_the_appointment_in_ukrainian(scheduled):
    with scheduled.app.app_context():
        accounts.set_language(accounts.find_by_email("candidate@test.example"), "uk")
        db.session.commit()
    candidate = scheduled.client("candidate")
    for url in (f"/cases/{scheduled.case_id}", "/my"):
        page = text(candidate.get(url))
        assert shown(scheduled.day(), "uk") in page and "09:30" in page


SCHEDULE_INPUT = {
    "unknown-kind": ({"kind": "phone-call"}, "Choose an interview or a practical observation."),
    "no-kind": ({"kind": None}, "Choose an interview or a practical observation."),
    "no-place-no-link": ({"place": " ", "online_link": ""}, "Give the place where you meet, or an online link"),
    "ftp-link": ({"online_link": "ftp://files.example.org/call"}, "https:// or http://"),
    "javascript-link": ({"online_link": "javascript:alert(1)"}, "https:// or http://"),
    "unreadable-date": ({"day": "next friday"}, "The date could not be read"),
    "impossible-date": ({"day": "31.02.2027"}, "The date could not be read"),
    "no-date": ({"day": ""}, "Give the date."),
    "unreadable-time": ({"at": "half past nine"}, "The time could not be read"),
    "date-in-the-past": ({"day": "past"}, "Choose a date and time that is still to come."),
}


@pytest.mark.parametrize("name", SCHEDULE_INPUT)
def test_bad_appointments_are_shown_again_with_their_message_and_nothing_is_stored(world, name):
    change, message = SCHEDULE_INPUT[name]
    change = dict(change)
    if change.get("day") == "past":
        change["day"] = world.day(-2).isoformat()
    client = world.client("assessor")
    before = world.tally()
    response = world.schedule(client, notes="Typed notes stay.", **change)
    assert response.status_code == 422
    page = text(response)
    assert message in page
    assert "Nothing was arranged: please check the appointment." in page
    assert "Typed notes stay." in page
    assert world.tally() == before


def test_a_date_typed_the_ukrainian_way_is_read(world):
    day = world.day(5)
    assert world.schedule(world.client("assessor"), day=day.strftime("%d.%m.%Y"), at="14.30").status_code == 302
    with world.app.app_context():
        interview = db.session.execute(sa.select(Interview)).scalar_one()
        assert interview.scheduled_for.date() == day and interview.scheduled_for.strftime("%H:%M") == "14:30"


def test_a_refusal_in_ukrainian(world):
    with world.app.app_context():
        accounts.set_language(accounts.find_by_email("assessor@test.example"), "uk")
        db.session.commit()
    page = text(world.schedule(world.client("assessor"), online_link="ftp://files.example.org/call"))
    assert "Введіть вебадресу, що починається з https:// або http://." in page
    assert "Enter a web address" not in page


@pytest.mark.parametrize("who", ["other_assessor", "candidate", "other_candidate", "coordinator", "admin"])
def test_a_forged_appointment_is_refused(world, who):
    client = world.client(who)
    before = world.tally()
    assert world.schedule(client).status_code == 403
    assert world.tally() == before


def test_a_stale_page_gets_409_and_keeps_what_was_typed(world):
    client = world.client("assessor")
    stale = world.version()
    with world.app.app_context():
        cases.fire(world.case_id, "request_more_evidence", accounts.find_by_email("assessor@test.example"), "More.")
        db.session.commit()
    before = world.tally()
    response = world.schedule(client, version=str(stale), notes="Notes typed on an old page.")
    assert response.status_code == 409
    page = text(response)
    assert "This case changed since you opened it" in page
    assert "More evidence requested" in page  # the current state
    assert "Notes typed on an old page." in page
    assert world.tally() == before


# --- results ------------------------------------------------------------------------------------------


def test_results_per_outcome_with_a_recording(scheduled):
    client = scheduled.client("assessor")
    first, second = scheduled.outcome_ids[:2]
    interview_id = scheduled.interview_id()
    response = scheduled.record(client, file=(b"Observation sheet: shaping shown twice.\n", "sheet.txt"),
                                **{f"result_{first}": "met", f"notes_{first}": "Shaped twenty loaves.",
                                   f"result_{second}": "inconclusive"})
    assert response.status_code == 302, text(response)[:800]
    assert response.headers["Location"].endswith(f"#interview-{interview_id}")
    with scheduled.app.app_context():
        rows = db.session.execute(sa.select(InterviewResult).order_by(InterviewResult.id)).scalars().all()
        assert [(r.outcome_id, r.result) for r in rows] == [(first, "met"), (second, "inconclusive")]
        interview = db.session.get(Interview, interview_id)
        assert interview.held_at is not None
        item = db.session.execute(sa.select(EvidenceItem).order_by(EvidenceItem.id.desc()).limit(1)).scalar_one()
        assert item.created_by_id == accounts.find_by_email("assessor@test.example").id
        assert "added by the assessor" in item.title
        assert sorted(link.outcome_id for link in item.links) == sorted([first, second])
        item_id = item.id
    page = text(client.get(f"/cases/{scheduled.case_id}"))
    results = page[page.index("Interview results by learning outcome"):]
    assert "Met" in results and "Shaped twenty loaves." in results and "Inconclusive" in results
    assert f'href="#item-{item_id}"' in client.get(f"/cases/{scheduled.case_id}").get_data(as_text=True)
    coordinator = text(scheduled.client("coordinator").get(f"/cases/{scheduled.case_id}"))
    assert "Shaped twenty loaves." in coordinator
    # Not to the candidate while the case is still being judged.
    assert "Shaped twenty loaves." not in text(scheduled.client("candidate").get(f"/cases/{scheduled.case_id}"))


def test_a_correction_is_appended_and_both_are_shown(scheduled):
    client = scheduled.client("assessor")
    first = scheduled.outcome_ids[0]
    scheduled.record(client, **{f"result_{first}": "inconclusive", f"notes_{first}": "Ran out of time."})
    scheduled.record(client, **{f"result_{first}": "met", f"notes_{first}": "Seen on a second visit."})
    page = text(client.get(f"/cases/{scheduled.case_id}"))
    assert page.index("Seen on a second visit.") < page.index("Ran out of time.")
    assert "earlier result" in page


def test_the_candidate_sees_the_results_once_decided(scheduled):
    client = scheduled.client("assessor")
    first = scheduled.outcome_ids[0]
    scheduled.record(client, **{f"result_{first}": "met", f"notes_{first}": "Shaped twenty loaves."})
    with scheduled.app.app_context():
        case = db.session.get(Case, scheduled.case_id)
        who = {k: accounts.find_by_email(f"{k}@test.example") for k in ("assessor", "coordinator")}
        cases.fire(case.id, "finish_interview", who["assessor"])
        factories.decide_all(case, who["assessor"], ["met"] * len(case.claims))
        cases.fire(case.id, "recommend", who["assessor"])
        cases.fire(case.id, "award", who["coordinator"])
        db.session.commit()
    page = text(scheduled.client("candidate").get(f"/cases/{scheduled.case_id}"))
    assert "Interview results by learning outcome" in page and "Shaped twenty loaves." in page


RESULT_INPUT = {
    "no-result": ({}, "Record a result for at least one learning outcome."),
    "unknown-result": ({"result_FIRST": "excellent"}, "Choose met, not met or inconclusive."),
    "outcome-not-in-case": ({"result_FIRST": "met", "result_OTHER": "met"},
                            "One of the learning outcomes is not part of this case."),
    "notes-without-result": ({"notes_FIRST": "Something."}, "Choose a result for this outcome"),
}


@pytest.mark.parametrize("name", RESULT_INPUT)
def test_bad_results_are_shown_again_and_nothing_is_stored(scheduled, name):
    change, message = RESULT_INPUT[name]
    with scheduled.app.app_context():
        other = db.session.execute(sa.select(LearningOutcome.id).where(
            LearningOutcome.id.not_in(scheduled.outcome_ids)).limit(1)).scalar_one()
    fields = {k.replace("FIRST", str(scheduled.outcome_ids[0])).replace("OTHER", str(other)): v
              for k, v in change.items()}
    client = scheduled.client("assessor")
    before = scheduled.tally()
    response = scheduled.record(client, **fields)
    assert response.status_code == 422
    page = text(response)
    assert message in page and "Nothing was recorded: please check the results." in page
    assert scheduled.tally() == before


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"<html><body><script>alert(1)</script></body></html>", "sheet.pdf", "This kind of file is not accepted"),
    (b"", "sheet.txt", "The file is empty"),
], ids=["html-named-pdf", "empty"])
def test_a_refused_recording_stores_neither_file_nor_results(scheduled, data, name, message):
    client = scheduled.client("assessor")
    first = scheduled.outcome_ids[0]
    before = scheduled.tally()
    response = scheduled.record(client, file=(data, name), **{f"result_{first}": "met", f"notes_{first}": "Kept."})
    assert response.status_code == 422
    page = text(response)
    assert message in page and "Kept." in page
    assert scheduled.tally() == before


@pytest.mark.parametrize("who", ["other_assessor", "candidate", "other_candidate", "coordinator", "admin"])
def test_forged_results_are_refused(scheduled, who):
    client = scheduled.client(who)
    before = scheduled.tally()
    response = scheduled.record(client, **{f"result_{scheduled.outcome_ids[0]}": "met"})
    assert response.status_code == 403
    assert scheduled.tally() == before


def test_results_for_an_unknown_interview_are_not_found(scheduled):
    client = scheduled.client("assessor")
    before = scheduled.tally()
    response = scheduled.record(client, interview_id=scheduled.interview_id() + 100,
                                **{f"result_{scheduled.outcome_ids[0]}": "met"})
    assert response.status_code == 404
    assert scheduled.tally() == before


def test_stale_results_get_409_and_keep_what_was_typed(scheduled):
    client = scheduled.client("assessor")
    stale = scheduled.version()
    scheduled.schedule(client, day=scheduled.day(10).isoformat())  # the page changed meanwhile
    before = scheduled.tally()
    first = scheduled.outcome_ids[0]
    response = scheduled.record(client, version=str(stale),
                                **{f"result_{first}": "met", f"notes_{first}": "Typed on an old page."})
    assert response.status_code == 409
    page = text(response)
    assert "This case changed since you opened it" in page and "Typed on an old page." in page
    assert scheduled.tally() == before


def test_the_home_page_costs_the_same_queries_for_one_case_or_many(scheduled):
    """Requests and appointments come in one query each, whatever the number of cases."""
    from validation.services import catalog

    candidate = scheduled.client("candidate")
    with statements(scheduled.app) as counted:
        candidate.get("/my")
        one = len(counted)
        with scheduled.app.app_context():
            person = accounts.find_by_email("candidate@test.example")
            for code in ("RS-MCU-PROG", "ME-AGRO-TOUR"):
                cases.open_case(person, catalog.by_code(code).id)
            db.session.commit()
        counted.clear()
        page = text(candidate.get("/my"))
        assert len(counted) == one
        assert "Practical observation" in page
