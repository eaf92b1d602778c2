"""Interviews and practical observations through the service: scheduling moves the case once, results are
appended per outcome, a recording becomes evidence the assessor added, and refusals leave nothing behind."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests import factories
from validation.extensions import db
from validation.models import (
    AuditEvent,
    Case,
    CaseTransition,
    EvidenceItem,
    EvidenceLink,
    Interview,
    InterviewResult,
    LearningOutcome,
    User,
    utcnow,
)
from validation.services import audit, cases, interviews
from validation.services.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from validation.services.interviews import Recording, ResultEntry

PLACE = "Bakery school, room 12"
LINK = "https://meet.example.org/abc-defg"


@pytest.fixture
def who(ctx: Flask) -> dict[str, User]:
    factories.load_catalog()
    return factories.people()


@pytest.fixture
def case(who: dict[str, User]) -> Case:
    built = factories.case_in_state("under_review", who)
    db.session.commit()  # a refusal is rolled back in the tests, as a request would be
    return built


def soon(days: int = 3) -> datetime:
    return (utcnow() + timedelta(days=days)).replace(microsecond=0)


def ids(case: Case) -> list[int]:
    return [c.outcome_id for c in case.claims]


def schedule(case: Case, who: dict[str, User], **changes: Any) -> Interview:
    actor = changes.pop("actor", who["assessor"])
    values: dict[str, Any] = {"kind": "observation", "scheduled_for": soon(), "place": PLACE, "online_link": None,
                              "notes": "Bring your apron."}
    values.update(changes)
    return interviews.schedule(case.id, actor, **values)


@dataclass(frozen=True)
class Tally:
    interviews: int
    results: int
    items: int
    links: int
    transitions: int
    events: int
    state: str
    version: int


def tally(case: Case) -> Tally:
    def count(model: type) -> int:
        return int(db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one())

    db.session.refresh(case)
    return Tally(count(Interview), count(InterviewResult), count(EvidenceItem), count(EvidenceLink),
                 count(CaseTransition), count(AuditEvent), case.state, case.lock_version)


# --- scheduling ---------------------------------------------------------------------------------------


def test_the_first_appointment_moves_the_case_to_interview(who, case):
    moment = soon()
    interview = schedule(case, who, scheduled_for=moment, online_link=LINK)
    assert case.state == "interview"
    assert (interview.kind, interview.scheduled_for, interview.place, interview.online_link) == (
        "observation", moment, PLACE, LINK)
    assert interview.held_at is None and interview.assessor_id == who["assessor"].id
    assert cases.transitions_of(case.id)[-1].trigger == "schedule_interview"
    event = audit.events_for_case(case.id)[-1]
    assert event.action == "interview.scheduled"
    assert audit.facts_of(event) == {"interview_id": interview.id, "kind": "observation", "in_person": True,
                                     "online": True, "moved_case": True}
    assert "Bakery" not in event.facts and "meet.example" not in event.facts


def test_in_interview_another_appointment_is_added_without_a_transition(who, case):
    schedule(case, who)
    db.session.flush()
    before = tally(case)
    second = schedule(case, who, kind="interview", place=None, online_link=LINK, scheduled_for=soon(5))
    db.session.flush()
    after = tally(case)
    assert case.state == "interview" and second.place is None
    assert after.transitions == before.transitions
    assert after.interviews == before.interviews + 1
    assert after.version > before.version  # the page that showed one appointment is now stale
    assert audit.facts_of(audit.events_for_case(case.id)[-1])["moved_case"] is False


def test_a_time_without_a_zone_is_read_in_the_sites_zone(ctx, who, case):
    ctx.config["BABEL_DEFAULT_TIMEZONE"] = "Europe/Kyiv"
    day = date.today() + timedelta(days=20)
    interview = schedule(case, who, scheduled_for=datetime.combine(day, time(10, 0)))
    expected = datetime.combine(day, time(10, 0), tzinfo=interviews.site_zone()).astimezone(UTC)
    assert interview.scheduled_for == expected
    assert interviews.local_moment(day, time(10, 0)) == expected


SCHEDULE_REFUSALS: dict[str, tuple[type[ServiceError], str, dict[str, Any]]] = {
    "candidate": (Forbidden, "Only the assigned assessor", {"actor": "candidate"}),
    "coordinator": (Forbidden, "Only the assigned assessor", {"actor": "coordinator"}),
    "other-assessor": (Forbidden, "not assigned to you", {"actor": "other_assessor"}),
    "stale-version": (Conflict, "changed since you opened it", {"expected_version": 0}),
    "unknown-kind": (Invalid, "interview or a practical observation", {"kind": "phone-call"}),
    "no-place-no-link": (Invalid, "place where you meet, or an online link", {"place": "  ", "online_link": ""}),
    "javascript-link": (Invalid, "https:// or http://", {"online_link": "javascript:alert(1)"}),
    "ftp-link": (Invalid, "https:// or http://", {"online_link": "ftp://files.example.org/x"}),
    "link-with-user": (Invalid, "https:// or http://", {"online_link": "https://me@evil.example/"}),
    "in-the-past": (Invalid, "still to come", {"scheduled_for": "past"}),
    "too-far-ahead": (Invalid, "within a year", {"scheduled_for": "far"}),
    "place-too-long": (Invalid, "too long", {"place": "x" * 201}),
}


@pytest.mark.parametrize("name", SCHEDULE_REFUSALS)
def test_scheduling_refusals_store_nothing(who, case, name):
    error, words, change = SCHEDULE_REFUSALS[name]
    before = tally(case)
    values = dict(change)
    if "actor" in values:
        values["actor"] = who[values["actor"]]
    if values.get("expected_version") == 0:
        values["expected_version"] = case.lock_version + 1
    if values.get("scheduled_for") == "past":
        values["scheduled_for"] = utcnow() - timedelta(hours=1)
    if values.get("scheduled_for") == "far":
        values["scheduled_for"] = utcnow() + timedelta(days=400)
    with pytest.raises(error) as refusal:
        schedule(case, who, **values)
    assert words in refusal.value.reason
    db.session.rollback()
    assert tally(case) == before


@pytest.mark.parametrize("state", ["screening", "more_evidence", "recommended"])
def test_scheduling_only_under_review_or_in_interview(who, state):
    case = factories.case_in_state(state, who)
    if case.assessor_id is None:
        cases.assign_assessor(case.id, who["assessor"].id, who["coordinator"])
    db.session.commit()
    before = tally(case)
    with pytest.raises(Conflict, match="under review or in interview"):
        schedule(case, who)
    assert tally(case) == before


# --- results ------------------------------------------------------------------------------------------


def test_results_are_appended_per_outcome_and_the_interview_is_held(who, case):
    interview = schedule(case, who)
    first = interviews.record_results(case.id, interview.id, who["assessor"], [
        ResultEntry(ids(case)[0], "met", "Shaped twenty loaves evenly."),
        ResultEntry(ids(case)[1], "inconclusive"),
    ])
    held = interview.held_at
    assert held is not None
    assert [(r.outcome_id, r.result, r.notes) for r in first] == [
        (ids(case)[0], "met", "Shaped twenty loaves evenly."), (ids(case)[1], "inconclusive", None)]
    event = audit.events_for_case(case.id)[-1]
    assert event.action == "interview.recorded"
    assert audit.facts_of(event) == {"interview_id": interview.id, "outcome_count": 2, "first_record": True,
                                     "item_id": None, "met": 1, "not_met": 0, "inconclusive": 1}
    assert "loaves" not in event.facts
    # A correction is a new row: the first stays.
    interviews.record_results(case.id, interview.id, who["assessor"], [ResultEntry(ids(case)[1], "not_met", "No.")])
    rows = db.session.execute(sa.select(InterviewResult).order_by(InterviewResult.id)).scalars().all()
    assert [(r.outcome_id, r.result) for r in rows] == [
        (ids(case)[0], "met"), (ids(case)[1], "inconclusive"), (ids(case)[1], "not_met")]
    assert interview.held_at == held  # held once, when first recorded
    assert audit.facts_of(audit.events_for_case(case.id)[-1])["first_record"] is False


def test_a_recording_becomes_evidence_the_assessor_added_linked_to_the_interviews_outcomes(who, case):
    interview = schedule(case, who)
    interviews.record_results(case.id, interview.id, who["assessor"], [ResultEntry(ids(case)[0], "met")])
    recording = Recording(io.BytesIO(b"Observation sheet: dough, shaping, baking all shown.\n"), "sheet.txt",
                          "Observation sheet (added by the assessor)")
    interviews.record_results(case.id, interview.id, who["assessor"], [ResultEntry(ids(case)[1], "met")],
                              recording)
    item = db.session.execute(sa.select(EvidenceItem).order_by(EvidenceItem.id.desc()).limit(1)).scalar_one()
    assert item.kind == "file" and item.media_type == "text/plain"
    assert item.created_by_id == who["assessor"].id
    assert item.title == "Observation sheet (added by the assessor)"
    assert item.submitted_at is not None  # frozen at once
    assert item.submission_round == case.submission_round
    assert sorted(link.outcome_id for link in item.links) == sorted(ids(case)[:2])
    actions = [e.action for e in audit.events_for_case(case.id)[-2:]]
    assert actions == ["evidence.added", "interview.recorded"]
    assert interviews.recordings_of(audit.events_for_case(case.id)) == {interview.id: [item.id]}


def test_results_may_be_recorded_after_the_interview_is_finished(who, case):
    interview = schedule(case, who)
    cases.fire(case.id, "finish_interview", who["assessor"])
    assert case.state == "under_review"
    assert interviews.record_results(case.id, interview.id, who["assessor"], [ResultEntry(ids(case)[0], "met")])


def _other_outcome(case: Case) -> int:
    return db.session.execute(
        sa.select(LearningOutcome.id).where(LearningOutcome.credential_id != case.credential_id).limit(1)
    ).scalar_one()


RESULT_REFUSALS: dict[str, tuple[type[ServiceError], str]] = {
    "candidate": (Forbidden, "Only the assigned assessor"),
    "other-assessor": (Forbidden, "not assigned to you"),
    "stale-version": (Conflict, "changed since you opened it"),
    "no-results": (Invalid, "at least one learning outcome"),
    "outcome-not-in-case": (Invalid, "not part of this case"),
    "unknown-result": (Invalid, "met, not met or inconclusive"),
    "twice-the-same-outcome": (Invalid, "one result per learning outcome"),
    "refused-file": (Invalid, "not accepted"),
    "empty-file": (Invalid, "The file is empty"),
    "another-cases-interview": (NotFound, "no such interview"),
}


@pytest.mark.parametrize("name", RESULT_REFUSALS)
def test_result_refusals_store_nothing(who, case, name):
    error, words = RESULT_REFUSALS[name]
    interview = schedule(case, who)
    db.session.commit()
    actor = who["assessor"]
    interview_id = interview.id
    version = None
    entries = [ResultEntry(ids(case)[0], "met")]
    recording = None
    if name in ("candidate", "other-assessor"):
        actor = who[name.replace("-", "_")]
    elif name == "stale-version":
        version = case.lock_version + 1
    elif name == "no-results":
        entries = []
    elif name == "outcome-not-in-case":
        entries = [ResultEntry(ids(case)[0], "met"), ResultEntry(_other_outcome(case), "met")]
    elif name == "unknown-result":
        entries = [ResultEntry(ids(case)[0], "excellent")]
    elif name == "twice-the-same-outcome":
        entries = [ResultEntry(ids(case)[0], "met"), ResultEntry(ids(case)[0], "not_met")]
    elif name == "refused-file":
        recording = Recording(io.BytesIO(b"<html><body><script>alert(1)</script></body></html>"), "sheet.pdf", "x")
    elif name == "empty-file":
        recording = Recording(io.BytesIO(b""), "sheet.txt", "x")
    elif name == "another-cases-interview":
        other = factories.case_in_state("under_review", {**who, "candidate": who["other_candidate"]})
        interview_id = schedule(other, who).id
        db.session.commit()
    before = tally(case)
    with pytest.raises(error) as refusal:
        interviews.record_results(case.id, interview_id, actor, entries, recording, version)
    assert words in refusal.value.reason
    db.session.rollback()
    assert tally(case) == before
    assert db.session.get(Interview, interview.id).held_at is None


def test_no_results_once_the_case_left_review(who, case):
    interview = schedule(case, who)
    cases.fire(case.id, "request_more_evidence", who["assessor"], "Please add a photo.")
    db.session.commit()
    before = tally(case)
    with pytest.raises(Conflict, match="under review or in interview"):
        interviews.record_results(case.id, interview.id, who["assessor"], [ResultEntry(ids(case)[0], "met")])
    assert tally(case) == before


# --- reading ------------------------------------------------------------------------------------------


def test_the_panel_groups_results_per_outcome_newest_first(who, case):
    interview = schedule(case, who)
    interviews.record_results(case.id, interview.id, who["assessor"], [ResultEntry(ids(case)[0], "inconclusive")])
    interviews.record_results(case.id, interview.id, who["assessor"], [ResultEntry(ids(case)[0], "met")])
    staff = interviews.panel(who["assessor"], case, audit.events_for_case(case.id), show_results=True)
    assert staff.may_schedule and staff.may_record
    assert [g.claim.outcome_id for g in staff.results] == [ids(case)[0]]
    assert [r.result for _, r in staff.results[0].entries] == ["met", "inconclusive"]
    candidate = interviews.panel(who["candidate"], case, [], show_results=False)
    assert candidate.results == [] and not candidate.may_schedule and not candidate.may_record
    assert [i.id for i in candidate.interviews] == [interview.id]


def test_the_candidates_home_lists_appointments_still_to_come(who, case):
    later = schedule(case, who, scheduled_for=soon(6))
    sooner = schedule(case, who, scheduled_for=soon(2))
    held = schedule(case, who, scheduled_for=soon(4))
    interviews.record_results(case.id, held.id, who["assessor"], [ResultEntry(ids(case)[0], "met")])
    upcoming = interviews.upcoming_of([case])
    assert [i.id for i in upcoming[case.id]] == [sooner.id, later.id]
