"""Outcomes carried over from an earlier award, through HTTP: the candidate sees them as already validated and
may submit without evidence for them; the assigned assessor confirms or rejects each on the review panel."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests import factories
from tests.conftest import login, post
from validation.extensions import db
from validation.models import AuditEvent, CarriedOutcome, Case, OutcomeDecision
from validation.services import awards, cases, catalog, review

EMAILS = {
    "candidate": "candidate@test.example",
    "other_candidate": "other-candidate@test.example",
    "assessor": "assessor@test.example",
    "other_assessor": "other-assessor@test.example",
    "coordinator": "coordinator@test.example",
    "admin": "admin@test.example",
}


def text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a reader sees it: no tags, entities decoded, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


@dataclass
class World:
    app: Flask
    case_id: int
    award_id: int
    award_number: str
    #: The carry-overs of the case, in the order of its outcomes: (carried id, outcome id, outcome code).
    carried: list[tuple[int, int, str]]

    def client(self, who: str) -> FlaskClient:
        client = self.app.test_client()
        login(client, EMAILS[who])
        return client

    def version(self) -> int:
        with self.app.app_context():
            return db.session.get(Case, self.case_id).lock_version

    def send(self, client: FlaskClient, carried_id: int, action: str | None, reason: str = "",
             version: int | None = None):  # type: ignore[no-untyped-def]
        data = {"version": str(self.version() if version is None else version), "reason": reason}
        if action:
            data["action"] = action
        return post(client, f"/cases/{self.case_id}/carried/{carried_id}", data)

    def state(self) -> tuple[int, int, list[str], int]:
        with self.app.app_context():
            count = db.session.execute
            return (
                count(select(func.count()).select_from(AuditEvent)).scalar_one(),
                count(select(func.count()).select_from(OutcomeDecision)).scalar_one(),
                [c.status for c in count(
                    select(CarriedOutcome).where(CarriedOutcome.case_id == self.case_id).order_by(CarriedOutcome.id)
                ).scalars()],
                db.session.get(Case, self.case_id).lock_version,
            )


def world(app: Flask, state: str = "draft", earlier: str = "awarded") -> World:
    """An earlier bakery award of the candidate (`earlier`), and a new bakery case taken to `state`."""
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        award = awards.award_for_case(factories.case_in_state(earlier, who).id)
        assert award is not None
        credential = catalog.by_code("UA-BAKERY")
        case = cases.open_case(who["candidate"], credential.id)
        if state == "under_review":
            cases.fire(case.id, "submit", who["candidate"])
            cases.fire(case.id, "start_screening", who["coordinator"])
            cases.assign_assessor(case.id, who["assessor"].id, who["coordinator"])
            cases.fire(case.id, "accept_for_review", who["coordinator"])
            review.declare(case.id, who["assessor"], False, None)
        db.session.commit()
        rows = {c.outcome_id: c.id for c in db.session.execute(
            select(CarriedOutcome).where(CarriedOutcome.case_id == case.id)
        ).scalars()}
        carried = [(rows[c.outcome_id], c.outcome_id, c.outcome.code) for c in case.claims if c.outcome_id in rows]
        return World(app, case.id, award.id, award.number, carried)


# --- the candidate --------------------------------------------------------------------------------------


def test_the_candidate_sees_each_carried_outcome_as_already_validated_with_its_award(app):
    w = world(app)
    page = w.client("candidate").get(f"/cases/{w.case_id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert len(w.carried) == 6
    for _carried_id, outcome_id, code in w.carried:
        block = re.search(rf'id="carried-outcome-{outcome_id}">(.*?)</div>', body, re.S)
        assert block, code
        assert "Already validated" in block.group(1)
        assert f'href="/awards/{w.award_id}"' in block.group(1) and w.award_number in block.group(1)
        assert re.search(rf'<tr class="coverage-carried">\s*<th scope="row"><a [^>]*>{code}</a>', body)
    shown = text(page)
    assert "you need not add any, but you may" in shown
    assert "Still without evidence" not in shown
    # They may still add evidence.
    assert 'id="add-evidence"' in body and f'action="/cases/{w.case_id}/evidence"' in body


def test_the_candidate_submits_without_evidence_for_carried_outcomes(app):
    w = world(app)
    client = w.client("candidate")
    submitted = post(client, f"/cases/{w.case_id}/transitions/submit", {"version": str(w.version())})
    assert submitted.status_code == 302
    with app.app_context():
        assert db.session.get(Case, w.case_id).state == "submitted"


def test_outcomes_not_carried_still_count_as_gaps(app):
    w = world(app, earlier="partially_awarded")
    client = w.client("candidate")
    with app.app_context():
        case = db.session.get(Case, w.case_id)
        carried = {o for _c, o, _code in w.carried}
        gaps = [c.outcome.code for c in case.claims if c.outcome_id not in carried]
    assert gaps and len(w.carried) > 0
    page = text(client.get(f"/cases/{w.case_id}"))
    assert f"Still without evidence: {', '.join(gaps)} ." in page  # the codes are in bold, then the stop
    refused = post(client, f"/cases/{w.case_id}/transitions/submit", {"version": str(w.version())})
    assert refused.status_code == 409
    reason = text(refused)
    assert "Outcomes without evidence" in reason and all(code in reason for code in gaps)
    assert not any(code in reason.split("Outcomes without evidence")[1] for _c, _o, code in w.carried)


# --- the assessor ---------------------------------------------------------------------------------------


def test_the_assessor_sees_the_carried_outcomes_and_confirms_one(app):
    w = world(app, "under_review")
    assessor = w.client("assessor")
    page = assessor.get(f"/cases/{w.case_id}")
    body = page.get_data(as_text=True)
    assert "Outcomes validated earlier" in text(page)
    carried_id, outcome_id, _code = w.carried[0]
    assert f'action="/cases/{w.case_id}/carried/{carried_id}"' in body
    assert 'name="action" value="confirm"' in body and 'name="action" value="reject"' in body
    # The assessor may open the earlier award the outcome is carried from.
    assert assessor.get(f"/awards/{w.award_id}").status_code == 200
    assert w.client("other_assessor").get(f"/awards/{w.award_id}").status_code == 403

    events, decisions, statuses, _version = w.state()
    confirmed = w.send(assessor, carried_id, "confirm")
    assert confirmed.status_code == 302
    assert confirmed.headers["Location"] == f"/cases/{w.case_id}#carried"
    with app.app_context():
        decision = db.session.execute(
            select(OutcomeDecision).where(OutcomeDecision.case_id == w.case_id)
        ).scalar_one()
        assert (decision.outcome_id, decision.verdict) == (outcome_id, "met")
        assert decision.rationale == f"Validated earlier in award {w.award_number}."
        actions = [e.action for e in db.session.execute(
            select(AuditEvent).where(AuditEvent.case_id == w.case_id).order_by(AuditEvent.seq)
        ).scalars()][-2:]
        assert actions == ["decision.recorded", "carry_over.confirmed"]
    after = w.state()
    assert after[0] == events + 2 and after[1] == decisions + 1
    assert after[2] == ["confirmed", *statuses[1:]]
    shown = text(assessor.get(f"/cases/{w.case_id}"))
    assert "The outcome validated earlier is confirmed and recorded as met." in shown
    assert "Confirmed: recorded as met" in shown
    assert f"Validated earlier in award {w.award_number}." in shown


def test_a_repeated_or_stale_confirmation_changes_nothing_and_says_why(app):
    w = world(app, "under_review")
    assessor = w.client("assessor")
    carried_id = w.carried[0][0]
    stale = w.version()
    assert w.send(assessor, carried_id, "confirm", version=stale).status_code == 302
    before = w.state()
    again = w.send(assessor, carried_id, "confirm")
    assert again.status_code == 409
    assert "This outcome was already confirmed as validated earlier: nothing was changed." in text(again)
    old_page = w.send(assessor, w.carried[1][0], "confirm", version=stale)
    assert old_page.status_code == 409
    assert "This case changed since you opened it." in text(old_page)
    assert w.state() == before


def test_rejecting_needs_a_reason(app):
    w = world(app, "under_review")
    assessor = w.client("assessor")
    carried_id = w.carried[0][0]
    before = w.state()
    for reason in ("", "   "):
        refused = w.send(assessor, carried_id, "reject", reason)
        assert refused.status_code == 422
        assert "Give a reason for rejecting the outcome validated earlier." in text(refused)
    assert w.send(assessor, carried_id, None).status_code == 422  # neither button
    assert w.send(assessor, carried_id, "approve").status_code == 422
    assert w.state() == before

    rejected = w.send(assessor, carried_id, "reject", "The earlier award was for another oven type.")
    assert rejected.status_code == 302
    after = w.state()
    assert after[2][0] == "rejected" and after[1] == before[1]  # no decision recorded for it
    with app.app_context():
        row = db.session.get(CarriedOutcome, carried_id)
        assert row.note == "The earlier award was for another oven type."
        last = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()
        assert last.action == "carry_over.rejected"
    shown = text(assessor.get(f"/cases/{w.case_id}"))
    assert "it now needs a decision of its own" in shown
    coordinator = text(w.client("coordinator").get(f"/cases/{w.case_id}"))
    assert "Validated earlier, but not accepted by the assessor" in coordinator
    assert "The earlier award was for another oven type." in coordinator
    # While the case is under review the candidate does not see the judgement.
    assert "not accepted by the assessor" not in text(w.client("candidate").get(f"/cases/{w.case_id}"))


@pytest.mark.parametrize("who", ["candidate", "other_candidate", "other_assessor", "coordinator", "admin"])
def test_only_the_assigned_assessor_confirms_or_rejects(app, who):
    w = world(app, "under_review")
    client = w.client(who)
    before = w.state()
    assert w.send(client, w.carried[0][0], "confirm").status_code == 403
    assert w.send(client, w.carried[0][0], "reject", "No.").status_code == 403
    assert w.state() == before


def test_anonymous_visitors_are_sent_to_sign_in(app):
    w = world(app, "under_review")
    before = w.state()
    response = w.send(app.test_client(), w.carried[0][0], "confirm")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert w.state() == before


def test_an_undeclared_assessor_is_sent_to_the_declaration_first(app):
    w = world(app, "under_review")
    with app.app_context():
        from validation.services import accounts

        case = db.session.get(Case, w.case_id)
        cases.assign_assessor(case.id, accounts.find_by_email(EMAILS["other_assessor"]).id,
                              accounts.find_by_email(EMAILS["coordinator"]))
        db.session.commit()
    client = w.client("other_assessor")
    before = w.state()
    response = w.send(client, w.carried[0][0], "confirm")
    assert response.status_code == 302 and response.headers["Location"].endswith("/declaration")
    assert w.state() == before


def test_no_confirmation_once_decisions_are_closed(app):
    w = world(app)  # a draft: nothing can be decided yet
    with app.app_context():
        from validation.services import accounts

        case = db.session.get(Case, w.case_id)
        assessor = accounts.find_by_email(EMAILS["assessor"])
        cases.assign_assessor(case.id, assessor.id, accounts.find_by_email(EMAILS["coordinator"]))
        review.declare(case.id, assessor, False, None)
        db.session.commit()
    client = w.client("assessor")
    assert "Outcomes validated earlier" not in text(client.get(f"/cases/{w.case_id}"))
    before = w.state()
    refused = w.send(client, w.carried[0][0], "confirm")
    assert refused.status_code == 409
    assert "This can only be done while the case is under review." in text(refused)
    assert w.state() == before


def test_a_carry_over_of_another_case_is_not_found(app):
    w = world(app, "under_review")
    assert w.send(w.client("assessor"), w.carried[-1][0] + 1000, "confirm").status_code == 404
