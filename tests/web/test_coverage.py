"""The coverage view: per claimed outcome its evidence and what is still missing; submission refused with
the gaps; every round of the portfolio stays visible, to the candidate and to the assessor."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tests import factories
from tests.conftest import login, post
from validation.extensions import db
from validation.models import Case
from validation.services import assessment, cases, catalog, evidence


def _row(html: str, code: str) -> str:
    pattern = r'<tr class="coverage-(\w+)">\s*<th scope="row"><a [^>]*>' + re.escape(code) + r"</a></th>(.*?)</tr>"
    match = re.search(pattern, html, re.S)
    assert match, f"no coverage row for {code}"
    return match.group(1) + " " + re.sub(r"\s+", " ", match.group(2))


@pytest.fixture
def draft(app: Flask) -> dict[str, object]:
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        credential = catalog.by_code("UA-BAKERY")
        case = cases.open_case(who["candidate"], credential.id)
        codes = [c.outcome.code for c in case.claims]
        ids = [c.outcome_id for c in case.claims]
        evidence.add_statement(case.id, who["candidate"], "Bread", "I baked bread every night.", [ids[0]])
        db.session.commit()
        return {"case": case.id, "codes": codes, "ids": ids}


def test_each_outcome_shows_its_evidence_or_that_it_is_missing(app, client, draft):
    login(client, "candidate@test.example")
    html = client.get(f"/cases/{draft['case']}").get_data(as_text=True)
    first, *rest = draft["codes"]
    assert _row(html, first).startswith("covered") and "1 statement" in _row(html, first)
    for code in rest:
        row = _row(html, code)
        assert row.startswith("missing") and "Evidence missing" in row


def test_submitting_with_gaps_is_refused_naming_them_and_changes_nothing(app, client, draft):
    login(client, "candidate@test.example")
    with app.app_context():
        version = db.session.get(Case, draft["case"]).lock_version
    response = post(client, f"/cases/{draft['case']}/transitions/submit", {"version": str(version)})
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "Outcomes without evidence" in text
    for code in draft["codes"][1:]:
        assert code in text
    with app.app_context():
        assert db.session.get(Case, draft["case"]).state == "draft"


def test_an_outcome_marked_not_yet_is_left_out_and_needs_nothing(app, client, draft):
    login(client, "candidate@test.example")
    with app.app_context():
        version = db.session.get(Case, draft["case"]).lock_version
    last = draft["ids"][-1]
    response = post(client, f"/cases/{draft['case']}/claims/{last}", {"level": "not_yet", "version": str(version)})
    assert response.status_code == 302
    html = client.get(f"/cases/{draft['case']}").get_data(as_text=True)
    assert _row(html, draft["codes"][-1]).startswith("left_out")


def test_more_evidence_requested_shows_the_reason_until_new_evidence_is_added(app, client):
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        case = factories.case_in_state("under_review", who)
        first = case.claims[0]
        assessment.record_decision(case.id, first.outcome_id, who["assessor"], "more_evidence",
                                   "Show a photo of the bread you made.")
        cases.fire(case.id, "request_more_evidence", who["assessor"], "Please add a photo.")
        db.session.commit()
        case_id, code, outcome_id = case.id, first.outcome.code, first.outcome_id
    login(client, "candidate@test.example")
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    row = _row(html, code)
    assert row.startswith("more_requested") and "Show a photo of the bread you made." in row
    with app.app_context():
        version = db.session.get(Case, case_id).lock_version
    response = post(client, f"/cases/{case_id}/evidence",
                    {"kind": "statement", "title": "Night shifts", "statement": "Photos follow.",
                     "outcomes": str(outcome_id), "version": str(version)})
    assert response.status_code == 302
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert _row(html, code).startswith("covered")
    # Both rounds are listed: the new one open, the first one submitted and unchanged.
    assert "Round 2" in html and "not submitted yet" in html
    assert re.search(r"Round 1\s*<span class=\"meta\">— submitted on \d{4}-\d\d-\d\d", html)


def test_the_assessor_sees_every_round_after_resubmission(app, client):
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        case = factories.case_in_state("more_evidence", who)
        evidence.add_statement(case.id, who["candidate"], "Second thoughts", "More detail on the work.",
                               [case.claims[0].outcome_id])
        cases.fire(case.id, "resubmit", who["candidate"])
        factories.declare_no_conflict(case)
        db.session.commit()
        case_id = case.id
    login(client, "assessor@test.example")
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "My work" in html and "Second thoughts" in html
    html = html[html.index('id="evidence-heading"'):]
    assert html.index("Round 2") < html.index("Second thoughts") < html.index("Round 1") < html.index("My work")
