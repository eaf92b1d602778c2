"""The review screen through HTTP: what changed since the request, the self-assessment, doubts about evidence,
accepting every outcome as met, and the reasons a candidate sees for a decision."""

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
from validation.models import AuditEvent, Case, EvidenceDoubt, EvidenceItem, OutcomeDecision, User
from validation.services import assessment, audit, cases, evidence, review

EMAILS = {
    "candidate": "candidate@test.example",
    "assessor": "assessor@test.example",
    "other_assessor": "other-assessor@test.example",
    "coordinator": "coordinator@test.example",
    "admin": "admin@test.example",
}
NOTE = "The photo's date is two years before the bakery <opened>."


def text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a reader sees it: no tags, entities decoded, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


@dataclass
class World:
    app: Flask
    case_id: int
    item_id: int

    def client(self, who: str) -> FlaskClient:
        client = self.app.test_client()
        login(client, EMAILS[who])
        return client

    def version(self) -> int:
        with self.app.app_context():
            return db.session.get(Case, self.case_id).lock_version

    def counts(self) -> tuple[int, int, int, int]:
        with self.app.app_context():
            count = db.session.execute
            case = db.session.get(Case, self.case_id)
            return (
                count(select(func.count()).select_from(AuditEvent)).scalar_one(),
                count(select(func.count()).select_from(EvidenceDoubt)).scalar_one(),
                count(select(func.count()).select_from(OutcomeDecision)).scalar_one(),
                case.lock_version,
            )

    def doubt(self, client: FlaskClient, rule: str | None = "authentic", note: str = NOTE,
              version: int | None = None):  # type: ignore[no-untyped-def]
        data = {"version": str(self.version() if version is None else version), "note": note}
        if rule:
            data["rule"] = rule
        return post(client, f"/cases/{self.case_id}/items/{self.item_id}/doubts", data)

    def accept_all(self, client: FlaskClient, version: int | None = None):  # type: ignore[no-untyped-def]
        return post(client, f"/cases/{self.case_id}/accept-all",
                    {"version": str(self.version() if version is None else version)})

    def decisions(self) -> list[OutcomeDecision]:
        with self.app.app_context():
            rows = list(db.session.execute(
                select(OutcomeDecision).where(OutcomeDecision.case_id == self.case_id).order_by(OutcomeDecision.id)
            ).scalars())
            db.session.expunge_all()
            return rows


def world(app: Flask, state: str = "under_review", declare: tuple[str, ...] = ("assessor",)) -> World:
    """A case in `state` whose assessor (and, named, moderator) has declared no conflict of interest."""
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        case = factories.case_in_state(state, who)
        for person in declare:
            review.declare(case.id, who[person], False, None)
        db.session.commit()
        return World(app, case.id, evidence.items_of(case.id)[0].id)


# --- doubts ---------------------------------------------------------------------------------------------


def test_a_doubt_is_recorded_and_shown_to_staff_only(app):
    w = world(app)
    assessor = w.client("assessor")
    page = text(assessor.get(f"/cases/{w.case_id}"))
    assert "Doubts about the evidence" in page and "Record a doubt about “My work”" in page
    assert "Authentic: it is the candidate's own work" in page

    recorded = w.doubt(assessor)
    assert recorded.status_code == 302
    assert recorded.headers["Location"] == f"/cases/{w.case_id}#review-item-{w.item_id}"
    shown = text(assessor.get(f"/cases/{w.case_id}"))
    assert "Your doubt about this evidence is recorded." in shown
    assert f"Authenticity: {NOTE}" in shown
    assert f"Authenticity: {NOTE}" in text(w.client("coordinator").get(f"/cases/{w.case_id}"))
    assert NOTE not in text(w.client("candidate").get(f"/cases/{w.case_id}"))
    with app.app_context():
        facts = [audit.facts_of(e) for e in audit.events_for_case(w.case_id) if e.action == "evidence.doubted"]
        doubt = db.session.execute(select(EvidenceDoubt)).scalar_one()
        assert facts == [{"doubt_id": doubt.id, "item_id": w.item_id, "rule": "authentic"}]
        assert (doubt.note, doubt.assessor_id) == (NOTE, db.session.get(Case, w.case_id).assessor_id)


def test_an_incomplete_doubt_is_refused_with_nothing_stored(app):
    w = world(app)
    assessor = w.client("assessor")
    before = w.counts()
    for rule, note in [("plausible", NOTE), (None, NOTE), ("valid", "  ")]:
        refused = w.doubt(assessor, rule, note)
        assert refused.status_code == 422, (rule, note)
        assert "Please check the form" in text(refused)
    assert w.counts() == before


def test_only_the_assigned_assessor_records_doubts(app):
    w = world(app, "moderation", declare=("assessor", "other_assessor"))
    for who in ("other_assessor", "coordinator", "candidate"):
        client = w.client(who)
        before = w.counts()
        assert w.doubt(client).status_code == 403, who
        assert w.counts() == before, who


def test_a_doubt_on_a_stale_page_gets_409(app):
    w = world(app)
    assessor = w.client("assessor")
    before = w.counts()
    stale = w.doubt(assessor, version=w.version() - 1)
    assert stale.status_code == 409
    assert "This case changed since you opened it." in text(stale)
    assert w.counts() == before


# --- accept every outcome as met ----------------------------------------------------------------------


def test_accept_all_records_one_met_decision_per_outcome(app):
    w = world(app)
    assessor = w.client("assessor")
    page = text(assessor.get(f"/cases/{w.case_id}"))
    assert "Accept every outcome as met" in page
    assert f"the reason “{review.DEFAULT_RATIONALE}”" in page
    with app.app_context():
        claimed = [c.outcome_id for c in db.session.get(Case, w.case_id).claims]
    events_before = w.counts()[0]

    accepted = w.accept_all(assessor)
    assert accepted.status_code == 302 and accepted.headers["Location"] == f"/cases/{w.case_id}#outcomes"

    made = w.decisions()
    assert [d.outcome_id for d in made] == claimed
    assert {(d.verdict, d.rationale) for d in made} == {("met", review.DEFAULT_RATIONALE)}
    assert all(d.criteria_met for d in made)
    assert w.counts()[0] == events_before + len(claimed)  # one audit event per decision, nothing more
    after = text(assessor.get(f"/cases/{w.case_id}"))
    assert "Every claimed outcome is now recorded as met." in after
    assert "Accept every outcome as met" not in after  # nothing is left to accept


def test_accept_all_is_refused_when_not_assigned_closed_stale_or_undeclared(app):
    w = world(app, declare=())
    assessor, other, coordinator = w.client("assessor"), w.client("other_assessor"), w.client("coordinator")
    before = w.counts()
    undeclared = w.accept_all(assessor)
    assert undeclared.status_code == 302 and undeclared.headers["Location"].endswith("/declaration")
    assert w.counts() == before
    with app.app_context():
        review.declare(w.case_id, db.session.get(User, db.session.get(Case, w.case_id).assessor_id), False, None)
        db.session.commit()
    before = w.counts()
    assert w.accept_all(other).status_code == 403
    assert w.accept_all(coordinator).status_code == 403
    assert post(assessor, f"/cases/{w.case_id}/accept-all", {}).status_code == 422
    stale = w.accept_all(assessor, version=w.version() - 1)
    assert stale.status_code == 409
    assert "This case changed since you opened it." in text(stale)
    assert w.counts() == before


def test_accept_all_is_refused_once_the_case_left_review(app):
    w = world(app, "recommended")
    assessor = w.client("assessor")
    assert "Accept every outcome as met" not in text(assessor.get(f"/cases/{w.case_id}"))
    before = w.counts()
    refused = w.accept_all(assessor)
    assert refused.status_code == 409
    assert "This can only be done while the case is under review." in text(refused)
    assert w.counts() == before


# --- what changed since the request, and the self-assessment -----------------------------------------------


def test_the_review_shows_what_is_new_since_the_request_and_the_self_assessment(app):
    w = world(app, "more_evidence")
    with app.app_context():
        case = db.session.get(Case, w.case_id)
        candidate = db.session.get(User, case.candidate_id)
        first, second = case.claims[0], case.claims[1]
        evidence.add_statement(case.id, candidate, "Photo of my rye bread", "New.", [first.outcome_id])
        evidence.add_statement(case.id, candidate, "Letter from the bakery", "New.",
                               [first.outcome_id, second.outcome_id])
        cases.fire(case.id, "resubmit", candidate)
        codes = f"{first.outcome.code}, {second.outcome.code}"
        db.session.commit()
    page = text(w.client("assessor").get(f"/cases/{w.case_id}"))
    new = page[page.index("New since your request"):page.index("The candidate's self-assessment")]
    assert "Photo of my rye bread" in new and "Letter from the bakery" in new
    assert f"(statement; for {codes})" in new
    assert "My work" not in new  # the first round's evidence is not new
    assert "Not given" in page  # the test candidate rated no outcome


# --- the reasons a candidate sees -----------------------------------------------------------------------


def test_the_candidate_sees_why_the_credential_was_not_awarded(app):
    w = world(app, "not_awarded")
    page = text(w.client("candidate").get(f"/cases/{w.case_id}"))
    why = page[page.index("Why this decision"):]
    assert "The credential was not awarded." in why
    assert "The coordinator's reason A reason given in the test." in why
    with app.app_context():
        codes = [c.outcome.code for c in db.session.get(Case, w.case_id).claims]
    for code in codes:
        assert re.search(rf"{code}: .+? Not yet met\. The assessor's reason: The evidence does not show", why)
    assert "you can appeal until" in why and "Appeal the decision" in why
    assert "Why this decision" not in text(w.client("coordinator").get(f"/cases/{w.case_id}"))


def test_the_default_reason_is_shown_in_the_readers_language(app):
    w = world(app, "partially_awarded")
    with app.app_context():
        item = db.session.get(EvidenceItem, w.item_id)
        assert item is not None
        met = db.session.execute(
            select(OutcomeDecision).where(OutcomeDecision.case_id == w.case_id, OutcomeDecision.verdict == "met")
        ).scalars().first()
        assert met is not None and met.rationale is None
    page = text(w.client("candidate").get(f"/cases/{w.case_id}"))
    why = page[page.index("Why this decision"):]
    assert "The credential was awarded in part" in why and "Met" in why
    with app.test_request_context():
        from validation.web.review import DEFAULT_RATIONALE, rationale_text

        assert DEFAULT_RATIONALE == review.DEFAULT_RATIONALE
        assert rationale_text(review.DEFAULT_RATIONALE) == review.DEFAULT_RATIONALE  # English reader
        assert rationale_text("Written by the assessor.") == "Written by the assessor."


def test_the_decided_reasons_need_no_review_while_the_case_is_open(app):
    w = world(app)
    assert "Why this decision" not in text(w.client("candidate").get(f"/cases/{w.case_id}"))
    with app.app_context():
        assert assessment.decisions_open(db.session.get(Case, w.case_id))
