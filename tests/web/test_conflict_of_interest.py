"""Conflict of interest through HTTP: an assessor or moderator is asked, before first opening a case, whether
they know the candidate; a conflict takes them off the case and the coordinator sees why."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests import factories
from tests.conftest import login, post
from validation.extensions import db
from validation.models import AuditEvent, Case, ConflictDeclaration, User
from validation.services import audit, cases

EMAILS = {
    "candidate": "candidate@test.example",
    "assessor": "assessor@test.example",
    "other_assessor": "other-assessor@test.example",
    "coordinator": "coordinator@test.example",
    "admin": "admin@test.example",
}
REASON = "She is my cousin <and> we share a flat."


def text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a reader sees it: no tags, entities decoded, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


@dataclass
class World:
    app: Flask
    case_id: int
    ids: dict[str, int]

    def client(self, who: str) -> FlaskClient:
        client = self.app.test_client()
        login(client, EMAILS[who])
        return client

    def case(self) -> Case:
        with self.app.app_context():
            case = db.session.get(Case, self.case_id)
            db.session.expunge(case)
            return case

    def counts(self) -> tuple[int, int]:
        with self.app.app_context():
            return (
                db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one(),
                db.session.execute(select(func.count()).select_from(ConflictDeclaration)).scalar_one(),
            )

    def declare(self, client: FlaskClient, knows: str | None, reason: str = "", version: int | None = None):  # type: ignore[no-untyped-def]
        data = {"version": str(self.case().lock_version if version is None else version), "reason": reason}
        if knows:
            data["knows"] = knows
        return post(client, f"/cases/{self.case_id}/declaration", data)

    def events(self) -> list[dict]:  # type: ignore[type-arg]
        with self.app.app_context():
            return [audit.facts_of(e) for e in audit.events_for_case(self.case_id)
                    if e.action == "case.conflict_declared"]


def world(app: Flask, state: str = "under_review") -> World:
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        case = factories.case_in_state(state, who)
        db.session.commit()
        return World(app, case.id, {k: v.id for k, v in who.items()})


def test_the_assessor_declares_before_first_opening_the_case(app):
    w = world(app)
    assessor = w.client("assessor")
    page = f"/cases/{w.case_id}"

    first = assessor.get(page)
    assert first.status_code == 302
    assert first.headers["Location"] == f"/cases/{w.case_id}/declaration"
    asked = assessor.get(first.headers["Location"])
    assert asked.status_code == 200
    seen = text(asked)
    assert "Do you know this candidate?" in seen and "Candidate" in seen
    assert "I do not know this candidate" in seen and "I know this candidate" in seen
    assert "My work" not in seen  # nothing of the portfolio before the declaration
    assert w.client("coordinator").get(page).status_code == 200  # only assessors are asked

    answered = w.declare(assessor, "no")
    assert answered.status_code == 302 and answered.headers["Location"] == page
    opened = assessor.get(page)
    assert opened.status_code == 200
    assert "Thank you. You can now review the case." in text(opened)
    assert assessor.get(f"{page}/declaration").headers["Location"] == page  # asked once
    assert w.events() == [{"declaration_id": 1, "has_conflict": False, "part": "assessor"}]
    assert w.case().assessor_id == w.ids["assessor"]


def test_a_declared_conflict_takes_the_case_away_and_the_coordinator_sees_why(app):
    w = world(app)
    assessor, coordinator = w.client("assessor"), w.client("coordinator")
    version = w.case().lock_version

    answered = w.declare(assessor, "yes", REASON)
    assert answered.status_code == 302 and answered.headers["Location"] == "/assessor/"
    desk = text(assessor.get("/assessor/"))
    assert "the case is no longer yours" in desk
    assert f"/cases/{w.case_id}" not in assessor.get("/assessor/").get_data(as_text=True)
    assert assessor.get(f"/cases/{w.case_id}").status_code == 403
    assert assessor.get(f"/cases/{w.case_id}/declaration").status_code == 403
    case = w.case()
    assert case.assessor_id is None and case.lock_version > version
    facts = w.events()
    assert [f["has_conflict"] for f in facts] == [True] and "cousin" not in str(facts)

    seen = text(coordinator.get(f"/cases/{w.case_id}"))
    assert "Assessor knows the candidate and no longer works on this case." in seen
    assert f"Their reason: {REASON}" in seen
    assert "Assign another assessor below." in seen
    assert REASON not in text(w.client("candidate").get(f"/cases/{w.case_id}"))

    # The coordinator assigns the same person again: they are asked again.
    with app.app_context():
        cases.assign_assessor(w.case_id, w.ids["assessor"], db.session.get(User, w.ids["coordinator"]))
        db.session.commit()
    again = assessor.get(f"/cases/{w.case_id}")
    assert again.status_code == 302 and again.headers["Location"].endswith("/declaration")


def test_an_incomplete_declaration_is_refused_with_nothing_stored(app):
    w = world(app)
    assessor = w.client("assessor")
    before = w.counts()
    for knows, reason in [(None, ""), ("yes", "   "), ("perhaps", "")]:
        refused = w.declare(assessor, knows, reason)
        assert refused.status_code == 422, (knows, reason)
        assert "Please check the form" in text(refused)
    assert w.counts() == before
    assert w.case().assessor_id == w.ids["assessor"]


def test_only_the_assessor_of_the_case_declares(app):
    w = world(app)
    for who in ("other_assessor", "coordinator", "admin", "candidate"):
        client = w.client(who)  # signed in before counting: signing in is audited too
        before = w.counts()
        forged = w.declare(client, "yes", REASON)
        assert forged.status_code == 403, who
        assert client.get(f"/cases/{w.case_id}/declaration").status_code == 403, who
        assert w.counts() == before, who
    assert w.case().assessor_id == w.ids["assessor"]


def test_a_stale_declaration_gets_409_with_the_case_as_it_is_now(app):
    w = world(app)
    assessor = w.client("assessor")
    before = w.counts()
    stale = w.declare(assessor, "yes", REASON, version=w.case().lock_version - 1)
    assert stale.status_code == 409
    seen = text(stale)
    assert "This case changed since you opened it." in seen
    assert "Under review" in seen
    assert f'name="version" value="{w.case().lock_version}"' in stale.get_data(as_text=True)
    assert REASON in seen  # what they wrote is kept for the next try
    assert w.counts() == before
    assert w.case().assessor_id == w.ids["assessor"]


def test_the_moderator_declares_too(app):
    w = world(app, "moderation")
    moderator = w.client("other_assessor")
    assert moderator.get(f"/cases/{w.case_id}").headers["Location"].endswith("/declaration")
    assert "Moderator" in text(moderator.get(f"/cases/{w.case_id}/declaration"))
    answered = w.declare(moderator, "yes", "We worked together for years.")
    assert answered.status_code == 302
    case = w.case()
    assert case.moderator_id is None and case.assessor_id == w.ids["assessor"]
    assert w.events()[-1]["part"] == "moderator"
    assert moderator.get(f"/cases/{w.case_id}").status_code == 403
