"""Referees through HTTP: the candidate asks on their case, the referee answers on the public page by the
link in the e-mail, in the e-mail's language, once; the answer shows on the case page for owner and staff."""

# The expected texts are Ukrainian: Cyrillic letters that look like Latin ones are meant.
# ruff: noqa: RUF001

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests import factories
from tests.conftest import csrf_token, login, post
from validation.extensions import db
from validation.models import AuditEvent, Case, CaseClaim, EvidenceItem, OutboundMessage, RefereeRequest, User, utcnow
from validation.services import cases
from validation.web.i18n import LANGUAGE_COOKIE

STATEMENT = "From 2019 to 2023 I baked bread every morning & trained two apprentices."
LINK = re.compile(r"http://127\.0\.0\.1:5000(/referee/[A-Za-z0-9_\-]+)\n")


def text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a reader sees it: no tags, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


@dataclass
class World:
    app: Flask
    case_id: int
    outcome_ids: list[int]
    left_out_id: int

    def client(self, who: str | None = None) -> FlaskClient:
        client = self.app.test_client()
        if who:
            login(client, f"{who}@test.example")
        return client

    def version(self) -> int:
        with self.app.app_context():
            return db.session.get(Case, self.case_id).lock_version

    def ask(self, client: FlaskClient, language: str = "uk", **changes: object):  # type: ignore[no-untyped-def]
        data: dict[str, object] = {
            "version": str(self.version()),
            "referee_name": "Petro Ivanenko",
            "referee_email": "petro@bakery.example",
            "referee_language": language,
            "relationship": "my manager at the bakery",
            "statement": STATEMENT,
            "outcomes": [str(o) for o in self.outcome_ids[:2]],
        }
        data.update(changes)
        return post(client, f"/cases/{self.case_id}/referees/new", data)

    def invitation(self) -> OutboundMessage:
        with self.app.app_context():
            message = db.session.execute(
                sa.select(OutboundMessage).where(OutboundMessage.purpose == "referee_invitation")
                .order_by(OutboundMessage.id.desc()).limit(1)
            ).scalar_one()
            db.session.expunge(message)
            return message

    def link(self) -> str:
        match = LINK.search(self.invitation().body)
        assert match, self.invitation().body
        return match.group(1)

    def requests(self) -> list[RefereeRequest]:
        with self.app.app_context():
            rows = db.session.execute(sa.select(RefereeRequest).order_by(RefereeRequest.id)).scalars().all()
            for row in rows:
                db.session.expunge(row)
            return list(rows)

    def attestations(self) -> list[EvidenceItem]:
        with self.app.app_context():
            rows = db.session.execute(
                sa.select(EvidenceItem).where(EvidenceItem.kind == "attestation")
            ).scalars().all()
            for row in rows:
                db.session.expunge(row)
            return list(rows)

    def fire(self, trigger: str, role: str) -> None:
        with self.app.app_context():
            actor = db.session.execute(sa.select(User).where(User.email == f"{role}@test.example")).scalar_one()
            if trigger == "resubmit":
                factories.portfolio(db.session.get(Case, self.case_id), actor)
            cases.fire(self.case_id, trigger, actor, "Given in the test.")
            db.session.commit()


@pytest.fixture
def world(app: Flask) -> World:
    """A case where the assessor asked for more evidence: the portfolio is open and an assessor assigned."""
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        who["candidate"].display_name = "Olena Kovalenko"
        case = factories.case_in_state("more_evidence", who)
        factories.declare_no_conflict(case)
        left_out = case.claims[-1].outcome_id
        db.session.commit()
        return World(app, case.id, [c.outcome_id for c in case.claims], left_out)


def answer(client: FlaskClient, link: str, **fields: str):  # type: ignore[no-untyped-def]
    return post(client, link, fields)


# --- asking --------------------------------------------------------------------------------------------


def test_the_candidate_asks_and_the_invitation_waits_in_the_outbox(world: World) -> None:
    owner = world.client("candidate")
    page = owner.get(f"/cases/{world.case_id}")
    assert f'href="/cases/{world.case_id}/referees/new"' in page.get_data(as_text=True)
    form = owner.get(f"/cases/{world.case_id}/referees/new")
    assert form.status_code == 200
    body = form.get_data(as_text=True)
    for outcome_id in world.outcome_ids:
        assert f'name="outcomes" value="{outcome_id}"' in body
    assert 'name="referee_language"' in body and 'type="email"' in body

    response = world.ask(owner, "uk")

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{world.case_id}#referees")
    message = world.invitation()
    assert message.to_address == "petro@bakery.example" and message.language == "uk"
    assert message.subject == "Olena Kovalenko просить вас підтвердити свою роботу"
    assert STATEMENT in message.body  # plain text: the & stays as written
    case_page = text(owner.get(f"/cases/{world.case_id}"))
    assert "Your request is on its way to Petro Ivanenko." in case_page
    assert "Petro Ivanenko — my manager at the bakery" in case_page
    assert "waiting for an answer until" in case_page
    [request] = world.requests()
    assert request.statement == STATEMENT and request.outcome_ids == sorted(world.outcome_ids[:2])


def test_outcomes_left_out_of_the_claim_are_not_offered(world: World) -> None:
    with world.app.app_context():
        # As the candidate marked it while still choosing what to claim (the case is past that stage now).
        db.session.execute(sa.update(CaseClaim).where(CaseClaim.case_id == world.case_id,
                                                      CaseClaim.outcome_id == world.left_out_id)
                           .values(self_assessment="not_yet"))
        db.session.commit()
    body = world.client("candidate").get(f"/cases/{world.case_id}/referees/new").get_data(as_text=True)
    assert f'name="outcomes" value="{world.left_out_id}"' not in body


def test_an_incomplete_request_is_shown_again_with_what_is_missing(world: World) -> None:
    owner = world.client("candidate")
    response = world.ask(owner, referee_email="not-an-address", outcomes=[], statement="")
    assert response.status_code == 422
    page = text(response)
    assert "Give a valid e-mail address for the person you ask." in page
    assert "Choose at least one learning outcome." in page
    assert "Write what the person should confirm." in page
    assert 'value="Petro Ivanenko"' in response.get_data(as_text=True)
    assert world.requests() == []


def test_a_stale_page_is_refused(world: World) -> None:
    owner = world.client("candidate")
    response = world.ask(owner, version=str(world.version() - 1))
    assert response.status_code == 409
    assert world.requests() == []


def test_only_the_owner_may_ask_or_cancel(world: World) -> None:
    world.ask(world.client("candidate"))
    [request] = world.requests()
    other = world.client("other-candidate")
    assert other.get(f"/cases/{world.case_id}/referees/new").status_code == 404
    assert world.ask(other).status_code == 404
    cancel = f"/cases/{world.case_id}/referees/{request.id}/cancel"
    assert post(other, cancel, {"version": str(world.version())}).status_code == 404
    for staff in ("assessor", "coordinator", "admin"):
        client = world.client(staff)
        assert client.get(f"/cases/{world.case_id}/referees/new").status_code == 403
        assert world.ask(client).status_code == 403
        assert post(client, cancel, {"version": str(world.version())}).status_code == 403
        page = client.get(f"/cases/{world.case_id}").get_data(as_text=True)
        assert "Petro Ivanenko" in page, f"{staff} sees the request"
        assert "/referees/new" not in page and "/cancel" not in page, f"{staff} sees no button"
    assert len(world.requests()) == 1 and world.requests()[0].cancelled_at is None
    assert world.client().get(f"/cases/{world.case_id}/referees/new").status_code == 302


def test_nobody_asks_once_the_portfolio_is_handed_in(world: World) -> None:
    world.fire("resubmit", "candidate")
    owner = world.client("candidate")
    assert owner.get(f"/cases/{world.case_id}/referees/new").status_code == 409
    assert world.ask(owner).status_code == 409
    assert "/referees/new" not in owner.get(f"/cases/{world.case_id}").get_data(as_text=True)


# --- the referee's page --------------------------------------------------------------------------------


def test_the_referees_page_is_in_the_language_of_the_e_mail(world: World) -> None:
    world.ask(world.client("candidate"), "uk")
    link = world.link()
    referee = world.client()

    response = referee.get(link)

    assert response.status_code == 200
    assert '<html lang="uk">' in response.get_data(as_text=True)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    page = text(response)
    assert "Прохання підтвердити досвід роботи: Olena Kovalenko" in page
    assert "«Приготування хлібобулочних і кондитерських виробів»" in page
    assert STATEMENT in page
    assert "Описувати властивості борошна" in page
    assert "Я підтверджую це твердження" in page and "Про вас" in page
    assert "зі слів рекомендодавця" in page
    # The page names nobody but the candidate: no assessor, no case number, no state.
    assert "Assessor" not in page and f"#{world.case_id}" not in page

    # A visitor who chose English on the site's switch, or on this page, reads it in English.
    referee.set_cookie(LANGUAGE_COOKIE, "en")
    english = text(referee.get(link))
    assert "Please confirm the work of Olena Kovalenko" in english
    assert "“Bakery and Pastry Preparation”" in english
    assert "Describe the properties of flour" in english
    referee.delete_cookie(LANGUAGE_COOKIE)
    assert "I confirm the statement" in text(referee.get(link + "?lang=en"))


def test_a_confirmation_shows_on_the_case_page_for_owner_and_assessor(world: World) -> None:
    world.ask(world.client("candidate"), "en")
    link = world.link()
    referee = world.client()
    audit_before = _audit_text(world.app)

    response = answer(referee, link, answer="confirmed", claimed_name="Petro Ivanenko", claimed_role="Head baker",
                      claimed_organisation="Khlib Ltd", claimed_contact="+380 44 000 0000")

    assert response.status_code == 200, text(response)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Thank you" in text(response)
    [item] = world.attestations()
    assert item.statement == STATEMENT and item.case_id == world.case_id and item.submitted_at is None
    for who in ("candidate", "assessor"):
        page = text(world.client(who).get(f"/cases/{world.case_id}"))
        assert "About the referee, as stated by the referee" in page, who
        assert "Head baker" in page and "Khlib Ltd" in page and "+380 44 000 0000" in page, who
        assert "confirmed" in page and STATEMENT in page, who
        assert "Petro Ivanenko — my manager at the bakery" in page, who
    owner_page = world.client("candidate").get(f"/cases/{world.case_id}").get_data(as_text=True)
    assert f'href="#item-{item.id}"' in owner_page
    assert "/cancel" not in owner_page, "an answered request has no cancel button"
    # The token travels nowhere: not into the audit trail.
    token = link.rsplit("/", 1)[1]
    assert token not in _audit_text(world.app) and audit_before != _audit_text(world.app)

    # Single use: the same link again is gone, and nothing changes.
    version = world.version()
    again = answer(referee, link, answer="declined")
    assert again.status_code == 410
    assert "This request has already been answered. Thank you." in text(again)
    assert again.headers["Referrer-Policy"] == "no-referrer"
    assert referee.get(link).status_code == 410
    assert len(world.attestations()) == 1 and world.requests()[0].answer == "confirmed"
    assert world.version() == version


def test_a_correction_needs_its_text(world: World) -> None:
    world.ask(world.client("candidate"), "uk")
    link = world.link()
    referee = world.client()

    response = answer(referee, link, answer="corrected", correction=" ", claimed_name="Petro")
    assert response.status_code == 422
    assert "Напишіть твердження в тому вигляді" in text(response)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    missing_name = answer(referee, link, answer="confirmed")
    assert missing_name.status_code == 422
    assert world.attestations() == [] and world.requests()[0].answered_at is None

    done = answer(referee, link, answer="corrected", correction="From 2020 I baked bread.", claimed_name="Petro")
    assert done.status_code == 200
    [item] = world.attestations()
    assert item.statement == "From 2020 I baked bread."
    over = referee.get(link)
    assert over.status_code == 410, "a used link is over, and says so in the e-mail's language"
    assert "Цей запит закрито" in text(over) and "На цей запит уже відповіли. Дякуємо." in text(over)
    page = text(world.client("candidate").get(f"/cases/{world.case_id}"))
    assert "confirmed with corrections" in page and "From 2020 I baked bread." in page


def test_a_declined_request_makes_no_evidence(world: World) -> None:
    world.ask(world.client("candidate"), "en")
    response = answer(world.client(), world.link(), answer="declined")
    assert response.status_code == 200
    assert world.attestations() == []
    assert "declined to answer" in text(world.client("candidate").get(f"/cases/{world.case_id}"))


def test_unknown_expired_and_cancelled_links(world: World) -> None:
    referee = world.client()
    unknown = referee.get("/referee/no-such-token")
    assert unknown.status_code == 404
    assert "This link is not valid." in text(unknown)
    assert unknown.headers["Referrer-Policy"] == "no-referrer"
    assert post(referee, "/referee/no-such-token", {"answer": "confirmed"}).status_code == 404

    owner = world.client("candidate")
    world.ask(owner, "en")
    expired_link = world.link()
    world.ask(owner, "en", referee_email="maria@example.org")
    cancelled_link = world.link()
    first, second = world.requests()
    with world.app.app_context():
        # Made forty days ago, expired ten days ago (a request always expires after it was made).
        db.session.execute(sa.update(RefereeRequest).where(RefereeRequest.id == first.id).values(
            created_at=utcnow() - timedelta(days=40), expires_at=utcnow() - timedelta(days=10)))
        db.session.commit()
    expired = referee.get(expired_link)
    assert expired.status_code == 410 and "This link has expired." in text(expired)
    assert post(referee, expired_link, {"answer": "confirmed", "claimed_name": "P"}).status_code == 410

    cancel = post(owner, f"/cases/{world.case_id}/referees/{second.id}/cancel", {"version": str(world.version())})
    assert cancel.status_code == 302
    assert cancel.headers["Location"].endswith(f"/cases/{world.case_id}#referees")
    gone = referee.get(cancelled_link)
    assert gone.status_code == 410 and "withdrawn by the person who made it" in text(gone)
    page = text(owner.get(f"/cases/{world.case_id}"))
    assert "request cancelled" in page and "expired without an answer" in page
    assert world.attestations() == []


def test_an_answer_after_submission_is_frozen_and_seen_by_the_assessor(world: World) -> None:
    world.ask(world.client("candidate"), "en")
    link = world.link()
    world.fire("resubmit", "candidate")

    response = answer(world.client(), link, answer="confirmed", claimed_name="Petro")

    assert response.status_code == 200
    [item] = world.attestations()
    assert item.submitted_at is not None
    page = text(world.client("assessor").get(f"/cases/{world.case_id}"))
    assert "it arrived after the portfolio was submitted" in page
    assert "Petro Ivanenko — my manager at the bakery" in page


def test_a_closed_case_takes_no_answer(world: World) -> None:
    world.ask(world.client("candidate"), "en")
    link = world.link()
    world.fire("withdraw", "candidate")
    referee = world.client()
    assert referee.get(link).status_code == 410
    response = answer(referee, link, answer="confirmed", claimed_name="Petro")
    assert response.status_code == 410 and "no longer open" in text(response)
    assert world.attestations() == []


def test_the_candidate_hears_in_their_language(world: World) -> None:
    owner = world.client("candidate")
    assert post(owner, "/language", {"language": "uk"}).status_code == 302  # saved on the account
    world.ask(owner, "en")
    answer(world.client(), world.link(), answer="confirmed", claimed_name="Petro")
    with world.app.app_context():
        message = db.session.execute(
            sa.select(OutboundMessage).where(OutboundMessage.purpose == "referee_answered")
        ).scalar_one()
    assert message.to_address == "candidate@test.example" and message.language == "uk"
    assert message.subject == "Надійшла відповідь від рекомендодавця"


def test_the_answer_form_posts_back_to_its_own_page(world: World) -> None:
    world.ask(world.client("candidate"), "en")
    link = world.link()
    referee = world.client()
    body = referee.get(link + "?lang=uk").get_data(as_text=True)
    assert f'action="{link}?lang=uk"' in body
    assert f'action="{link}"' in referee.get(link).get_data(as_text=True)
    assert csrf_token(referee, link)


def _audit_text(app: Flask) -> str:
    with app.app_context():
        return " ".join(e.facts for e in db.session.execute(sa.select(AuditEvent)).scalars())


def test_an_answer_from_the_candidates_own_browser_is_pointed_out(world: World) -> None:
    owner = world.client("candidate")
    world.ask(owner, "en")
    response = answer(owner, world.link(), answer="confirmed", claimed_name="Totally someone else")
    assert response.status_code == 200
    for who in ("candidate", "assessor"):
        page = text(world.client(who).get(f"/cases/{world.case_id}"))
        assert "This answer was sent from a browser signed in to the candidate's own account." in page, who
