"""The assessor's desk through HTTP: what waits on them, the soonest due first and in plain words, then what
waits on others, then what closed recently; moderators and appeal reviewers see their part."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from tests import factories
from tests.conftest import login
from validation.extensions import db
from validation.models import Case, Interview, User, utcnow
from validation.services import assessment, cases, evidence, review

EMAILS = {"assessor": "assessor@test.example", "other_assessor": "other-assessor@test.example"}


def text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a reader sees it: no tags, entities decoded, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def client_for(app: Flask, who: str) -> FlaskClient:
    client = app.test_client()
    login(client, EMAILS[who])
    return client


def section(page: str, start: str, end: str | None) -> str:
    begin = page.index(start)
    return page[begin:page.index(end, begin) if end else None]


def case_links(markup: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/cases/(\d+)"', markup)]


def test_the_desk_puts_what_waits_on_me_first_soonest_due_first(app):
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        assessor = who["assessor"]
        undeclared = factories.case_in_state("under_review", who, code="UA-BAKERY")
        deciding = factories.case_in_state("under_review", who, code="UA-CABLE-LAY")
        resubmitted = factories.case_in_state("more_evidence", who, code="GE-NET-SUPPORT")
        interview = factories.case_in_state("interview", who, code="GE-WELD-MMA")
        waiting = factories.case_in_state("more_evidence", who, code="MK-ROOF-INST")
        closed = factories.case_in_state("awarded", who, code="RS-MCU-PROG")
        for case in (deciding, resubmitted, interview, waiting):
            review.declare(case.id, assessor, False, None)
        for title in ("Photo of my bread", "Letter from the bakery"):
            evidence.add_statement(resubmitted.id, who["candidate"], title, "New.",
                                   [resubmitted.claims[0].outcome_id])
        cases.fire(resubmitted.id, "resubmit", who["candidate"])
        for claim in deciding.claims[3:]:
            assessment.record_decision(deciding.id, claim.outcome_id, assessor, "met", None)
        left = len(deciding.claims[:3])
        when = (utcnow() + timedelta(days=2)).replace(hour=10, minute=30, second=0, microsecond=0)
        db.session.add(Interview(case_id=interview.id, assessor_id=assessor.id, scheduled_for=when, place="Centre"))
        now = utcnow()
        for days, case in enumerate((deciding, interview, undeclared, resubmitted), start=1):
            case.due_at = now + timedelta(days=days)
        # One overdue: it comes first.
        waiting.due_at = now - timedelta(days=1)
        order = [deciding.id, interview.id, undeclared.id, resubmitted.id]
        ids = {"waiting": waiting.id, "closed": closed.id}
        db.session.commit()

    response = client_for(app, "assessor").get("/assessor/")
    assert response.status_code == 200
    markup = response.get_data(as_text=True)
    mine = section(markup, 'id="waiting-on-me"', 'id="waiting-on-others"')
    assert case_links(mine) == order
    words = text(response)
    assert f"Waiting on you ({len(order)})" in words
    assert "Declare whether you know the candidate" in words
    assert f"Decide {left} outcomes" in words
    assert "New evidence since your request: 2 items" in words
    assert f"Interview on {when.strftime('%Y-%m-%d %H:%M')} UTC" in words
    others = section(markup, 'id="waiting-on-others"', 'id="recently-closed"')
    assert case_links(others) == [ids["waiting"]]
    assert "Waiting for the candidate" in text_of(others) and "overdue" in text_of(others)
    assert case_links(section(markup, 'id="recently-closed"', None)) == [ids["closed"]]
    assert "Candidate" in words and "Under review (Assessment)" in words


def text_of(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def test_a_moderator_sees_the_cases_they_moderate(app):
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        moderated = factories.case_in_state("moderation", who)
        review.declare(moderated.id, who["assessor"], False, None)
        db.session.commit()
        case_id = moderated.id

    moderator = client_for(app, "other_assessor")
    words = text(moderator.get("/assessor/"))
    assert "Declare whether you know the candidate" in words and "You moderate this case" in words
    with app.app_context():
        review.declare(case_id, db.session.get(User, db.session.get(Case, case_id).moderator_id), False, None)
        db.session.commit()
    page = moderator.get("/assessor/").get_data(as_text=True)
    assert case_links(section(page, 'id="waiting-on-me"', 'id="waiting-on-others"')) == [case_id]
    assert "Moderate the recommendation" in text_of(page)
    # The assessor who recommended waits for the moderator.
    theirs = client_for(app, "assessor").get("/assessor/").get_data(as_text=True)
    assert case_links(section(theirs, 'id="waiting-on-others"', "</section>")) == [case_id]
    assert "Waiting for the moderator" in text_of(theirs)


def test_the_reviewer_of_an_appeal_is_asked_to_review_it(app):
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        appealed = factories.case_in_state("appeal_review", who)
        review.declare(appealed.id, who["other_assessor"], False, None)
        db.session.commit()
        case_id = appealed.id

    page = client_for(app, "other_assessor").get("/assessor/").get_data(as_text=True)
    assert case_links(section(page, 'id="waiting-on-me"', 'id="waiting-on-others"')) == [case_id]
    assert "Review the appeal" in text_of(page)
    # The first assessor is no longer on the case (the appeal has another one); it closed for them.
    first = text(client_for(app, "assessor").get("/assessor/"))
    assert "Nothing is waiting on you." in first
