"""Appeals through HTTP: the candidate sees until when they may appeal (in their language) and appeals with
a reason; too late is refused; the review needs an assessor who has not decided the case; an upheld appeal
leads to a new decision and award, a dismissed one leaves the decision and its award in force, and what was
appealed against stays on record either way."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from babel.dates import format_date
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests import factories
from tests.conftest import login, post
from validation.extensions import db
from validation.models import Appeal, AuditEvent, Award, Case, User, utcnow
from validation.services import appeals, assessment, awards, cases, review

EMAILS = {
    "candidate": "candidate@test.example",
    "other_candidate": "other-candidate@test.example",
    "assessor": "assessor@test.example",
    "other_assessor": "other-assessor@test.example",
    "coordinator": "coordinator@test.example",
    "admin": "admin@test.example",
}
REASON = "The assessor did not see the video of my work on the building site & <more>."


def text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a reader sees it: no tags, entities decoded, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


@dataclass
class World:
    app: Flask
    ids: dict[str, int]

    def client(self, who: str | None = None) -> FlaskClient:
        client = self.app.test_client()
        if who:
            login(client, EMAILS[who])
        return client

    def people(self) -> dict[str, User]:
        return {k: db.session.get(User, v) for k, v in self.ids.items()}  # type: ignore[misc]

    def build(self, state: str) -> int:
        with self.app.app_context():
            people = self.people()
            case = factories.case_in_state(state, people)
            for who in ("assessor", "other_assessor"):
                if review.needs_declaration(people[who], case):
                    review.declare(case.id, people[who], False, None)
            db.session.commit()
            return case.id

    def case(self, case_id: int) -> Case:
        with self.app.app_context():
            case = db.session.get(Case, case_id)
            assert case is not None
            db.session.expunge(case)
            return case

    def counts(self) -> tuple[int, int, int]:
        with self.app.app_context():
            def count(model: type) -> int:
                return int(db.session.execute(select(func.count()).select_from(model)).scalar_one())

            return count(AuditEvent), count(Appeal), count(Award)

    def appeals(self, case_id: int) -> list[Appeal]:
        with self.app.app_context():
            rows = appeals.appeals_of(case_id)
            for row in rows:
                db.session.expunge(row)
            return rows

    def fire(self, client: FlaskClient, case_id: int, trigger: str, reason: str = ""):  # type: ignore[no-untyped-def]
        return post(client, f"/cases/{case_id}/transitions/{trigger}",
                    {"version": str(self.case(case_id).lock_version), "reason": reason})


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        factories.load_catalog()
        people = factories.people()
        people["assessor"].display_name = "Iryna First"
        people["other_assessor"].display_name = "Petar Second"
        db.session.commit()
        return World(app, {k: u.id for k, u in people.items()})


def test_the_candidate_sees_until_when_and_appeals_with_a_reason(world):
    case_id = world.build("partially_awarded")
    until = world.case(case_id).closed_at + timedelta(days=30)  # type: ignore[operator]
    candidate = world.client("candidate")
    page = candidate.get(f"/cases/{case_id}")
    assert f"You may appeal this decision until {format_date(until, 'long', locale='en')}." in text(page)
    assert "Appeal the decision" in text(page)
    assert 'name="reason"' in page.get_data(as_text=True)

    before = world.counts()
    no_reason = world.fire(candidate, case_id, "appeal")
    assert no_reason.status_code == 422 and world.counts() == before

    response = world.fire(candidate, case_id, "appeal", REASON)
    assert response.status_code == 302
    (appeal,) = world.appeals(case_id)
    assert (appeal.reason, appeal.status, appeal.against_state) == (REASON, "lodged", "partially_awarded")
    assert world.case(case_id).state == "appealed"
    page = text(candidate.get(f"/cases/{case_id}"))
    assert REASON in page and "Your appeal is lodged." in page
    assert "Reviewer" not in page  # staff names stay with staff
    assert world.client("other_candidate").get(f"/cases/{case_id}").status_code == 404


def test_the_deadline_is_shown_in_the_candidates_language(world):
    case_id = world.build("partially_awarded")
    with world.app.app_context():
        db.session.get(User, world.ids["candidate"]).preferred_language = "uk"  # type: ignore[union-attr]
        db.session.commit()
    until = world.case(case_id).closed_at + timedelta(days=30)  # type: ignore[operator]
    page = text(world.client("candidate").get(f"/cases/{case_id}"))
    assert " ".join(format_date(until, "long", locale="uk").split()) in page  # e.g. "23 <month in Ukrainian> 2026"
    assert " ".join(format_date(until, "long", locale="en").split()) not in page


def test_an_appeal_after_the_period_is_refused_and_changes_nothing(world):
    case_id = world.build("partially_awarded")
    with world.app.app_context():
        case = db.session.get(Case, case_id)
        case.closed_at = utcnow() - timedelta(days=31)  # type: ignore[union-attr]
        db.session.commit()
    candidate = world.client("candidate")
    page = text(candidate.get(f"/cases/{case_id}"))
    assert "The time for an appeal ended on" in page
    before = world.counts()
    response = world.fire(candidate, case_id, "appeal", REASON)
    assert response.status_code == 409
    assert "The time for an appeal (30 days after the decision) has ended." in text(response)
    assert world.counts() == before and world.case(case_id).state == "partially_awarded"


def test_the_review_needs_an_assessor_who_has_not_decided_the_case(world):
    case_id = world.build("appealed")
    coordinator = world.client("coordinator")
    page = text(coordinator.get(f"/cases/{case_id}"))
    assert "Assign an assessor who has not decided this case before" in page
    assert "Decided this case before, so cannot review the appeal: Iryna First." in page

    before = world.counts()
    refused = world.fire(coordinator, case_id, "start_appeal_review")
    assert refused.status_code == 409
    assert "Assign an assessor who has not decided this case before." in text(refused)
    assert world.counts() == before and world.case(case_id).state == "appealed"

    assign = post(coordinator, f"/cases/{case_id}/assign",
                  {"version": str(world.case(case_id).lock_version), "assessor_id": str(world.ids["other_assessor"])})
    assert assign.status_code == 302
    assert world.fire(coordinator, case_id, "start_appeal_review").status_code == 302
    (appeal,) = world.appeals(case_id)
    assert (appeal.status, appeal.reviewer_id) == ("in_review", world.ids["other_assessor"])
    page = text(coordinator.get(f"/cases/{case_id}"))
    assert "Reviewer Petar Second" in page and "under review" in page


def test_an_upheld_appeal_leads_to_a_new_award_and_the_old_one_stays_on_record(world):
    case_id = world.build("appeal_review")
    with world.app.app_context():
        old = awards.award_for_case(case_id)
        assert old is not None
        old_id, old_number = old.id, old.number
        case = db.session.get(Case, case_id)
        reviewer = db.session.get(User, world.ids["other_assessor"])
        for claim in cases.claimed(case):  # type: ignore[arg-type]
            assessment.record_decision(case_id, claim.outcome_id, reviewer, "met", None)  # type: ignore[arg-type]
        db.session.commit()
    reviewer_client = world.client("other_assessor")
    no_reason = world.fire(reviewer_client, case_id, "uphold_appeal")
    assert no_reason.status_code == 422
    assert world.fire(reviewer_client, case_id, "uphold_appeal", "The video shows every outcome.").status_code == 302
    case = world.case(case_id)
    assert (case.state, case.outcome, case.closed_at) == ("recommended", None, None)

    coordinator = world.client("coordinator")
    assert world.fire(coordinator, case_id, "award").status_code == 302
    with world.app.app_context():
        new = awards.award_for_case(case_id)
        assert new is not None and new.id != old_id and new.kind == "full"
        superseded = db.session.get(Award, old_id)
        assert superseded is not None and superseded.superseded_at is not None
        new_number = new.number
    (appeal,) = world.appeals(case_id)
    assert (appeal.status, appeal.result_reason) == ("upheld", "The video shows every outcome.")

    page = text(world.client("candidate").get(f"/cases/{case_id}"))
    assert "Awards on record" in page
    assert old_number in page and new_number in page and "superseded on" in page and "in force" in page
    assert "upheld: the case was decided again" in page
    assert "The decisions appealed against" in page and "Not yet met" in page


def test_a_dismissed_appeal_leaves_the_decision_and_its_award_in_force(world):
    case_id = world.build("appeal_review")
    with world.app.app_context():
        award = awards.award_for_case(case_id)
        assert award is not None
        award_id, number = award.id, award.number
    first = world.client("assessor")
    before = world.counts()
    assert world.fire(first, case_id, "dismiss_appeal", "No.").status_code == 403  # not the reviewer
    assert world.counts() == before

    reviewer = world.client("other_assessor")
    # The reviewer first doubts an outcome the award certifies, then dismisses the appeal after all.
    with world.app.app_context():
        certified = sorted(o.outcome_id for o in awards.award_for_case(case_id).outcomes)
        standing = assessment.current_decisions(case_id)[certified[0]]
        standing_id = standing.id
    doubt = "Only part of it is shown."
    assert post(reviewer, f"/cases/{case_id}/decisions", {
        "outcome_id": str(certified[0]), "verdict": "more_evidence", "rationale": doubt,
        "version": str(world.case(case_id).lock_version)}).status_code == 302
    reason = "The video was considered; it shows the work only in part."
    assert world.fire(reviewer, case_id, "dismiss_appeal", reason).status_code == 302
    assert world.case(case_id).state == "appeal_dismissed"
    with world.app.app_context():
        in_force = awards.award_for_case(case_id)
        assert in_force is not None and in_force.id == award_id and in_force.superseded_at is None
    (appeal,) = world.appeals(case_id)
    assert (appeal.status, appeal.result_reason) == ("dismissed", reason)

    # The decisions the award rests on are the current ones again; the reviewer's stays on record.
    with world.app.app_context():
        current = assessment.current_decisions(case_id)
        assert current[certified[0]].id == standing_id and current[certified[0]].verdict == "met"
    page = text(world.client("candidate").get(f"/cases/{case_id}"))
    assert "The reviewer's decisions" in page and doubt in page
    assert "these are on record only: the decisions appealed against stay in force" in page
    assert "Against the decision Partially awarded" in page and number in page
    assert "dismissed: the decision stands" in page and reason in page
    assert "View the certificate" in page
