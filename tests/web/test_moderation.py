"""Moderation through HTTP: the admin's rule per credential, the coordinator's choice of a moderator, the
moderator's views on the case page (all or nothing, blind mode), and the ways a moderation ends."""

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
from validation.models import AuditEvent, Case, CredentialPolicy, Moderation, ModerationView
from validation.services import awards, cases, catalog, moderation, review

EMAILS = {
    "candidate": "candidate@test.example",
    "assessor": "assessor@test.example",
    "other_assessor": "other-assessor@test.example",
    "third_assessor": "third-assessor@test.example",
    "coordinator": "coordinator@test.example",
    "admin": "admin@test.example",
}
DISAGREE = "The second reference letter <b>shows</b> this & more."


def text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a reader sees it: no tags, entities decoded, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


@dataclass
class World:
    app: Flask
    ids: dict[str, int]
    credential_id: int

    def client(self, who: str | None = None) -> FlaskClient:
        client = self.app.test_client()
        if who:
            login(client, EMAILS[who])
        return client

    def case(self, case_id: int) -> Case:
        with self.app.app_context():
            case = db.session.get(Case, case_id)
            assert case is not None
            db.session.expunge(case)
            return case

    def outcomes(self, case_id: int) -> list[tuple[int, str]]:
        with self.app.app_context():
            case = db.session.get(Case, case_id)
            return [(c.outcome_id, c.outcome.code) for c in cases.claimed(case)]

    def counts(self) -> tuple[int, int, int, int, int]:
        with self.app.app_context():
            def count(model: type) -> int:
                return int(db.session.execute(select(func.count()).select_from(model)).scalar_one())

            return count(AuditEvent), count(CredentialPolicy), count(Moderation), count(ModerationView), count(Case)

    def build(self, state: str, *, percent: int = 100, blind: bool = False) -> int:
        """A case of the bakery credential in `state`, the rule set first (a share of 100 % selects every
        recommendation; every outcome is met on the way to "recommended")."""
        with self.app.app_context():
            people = {k: db.session.get(factories.User, v) for k, v in self.ids.items()}
            moderation.set_policy(self.credential_id, people["admin"], moderate_first=0, moderate_percent=percent,
                                  blind=blind, appeal_days=30)
            if state == "moderation":
                case = factories.case_in_state("recommended", people)
                moderation.assign_moderator(case.id, people["other_assessor"].id, people["coordinator"])
                cases.fire(case.id, "send_to_moderation", people["coordinator"])
                review.declare(case.id, people["other_assessor"], False, None)
            else:
                case = factories.case_in_state(state, people)
            review.declare(case.id, people["assessor"], False, None)
            db.session.commit()
            return case.id

    def declare(self, case_id: int, who: str) -> None:
        """`who` says they do not know the candidate, as every assessor does before seeing a case."""
        with self.app.app_context():
            review.declare(case_id, db.session.get(factories.User, self.ids[who]), False, None)
            db.session.commit()

    def fire(self, client: FlaskClient, case_id: int, trigger: str, reason: str = ""):  # type: ignore[no-untyped-def]
        return post(client, f"/cases/{case_id}/transitions/{trigger}",
                    {"version": str(self.case(case_id).lock_version), "reason": reason})

    def views(self, client: FlaskClient, case_id: int, answers: dict[int, tuple[str, str]],
              version: int | None = None):  # type: ignore[no-untyped-def]
        data = {"version": str(self.case(case_id).lock_version if version is None else version)}
        for outcome_id, (choice, reason) in answers.items():
            if choice:
                data[f"view_{outcome_id}"] = choice
            data[f"reason_{outcome_id}"] = reason
        return post(client, f"/cases/{case_id}/moderation", data)


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        factories.load_catalog()
        people = factories.people()
        people["third_assessor"] = factories.user("assessor", EMAILS["third_assessor"], "Third assessor")
        factories.qualify(people["third_assessor"], people["admin"])
        people["assessor"].display_name = "Iryna First"
        people["other_assessor"].display_name = "Petar Second"
        credential = catalog.by_code("UA-BAKERY")
        assert credential is not None
        db.session.commit()
        return World(app, {k: u.id for k, u in people.items()}, credential.id)


# --- the admin's rule ----------------------------------------------------------------------------------


def test_the_admin_sets_a_rule_and_the_next_recommendation_follows_it(world):
    admin = world.client("admin")
    page = admin.get("/admin/policies")
    assert page.status_code == 200
    assert "UA-BAKERY" in text(page) and "defaults" in text(page)
    assert f'id="policy-{world.credential_id}"' in page.get_data(as_text=True)

    response = post(admin, "/admin/policies", {
        "credential_id": str(world.credential_id), "moderate_first": "0", "moderate_percent": "100",
        "blind": "y", "appeal_days": "21",
    })
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/policies#policy-{world.credential_id}")
    page = admin.get("/admin/policies")
    assert "The rule is saved" in text(page)
    assert "21 days" in text(page)

    # The rule applies to the next recommendation, and the case keeps what it said.
    with world.app.app_context():
        people = {k: db.session.get(factories.User, v) for k, v in world.ids.items()}
        case = factories.case_in_state("recommended", people)
        db.session.commit()
        record = moderation.current(case)
        assert record is not None and (record.selected, record.reason, record.blind) == (True, "sampled", True)
        assert "100 % at random" in record.rule
        case_id = case.id
    page = world.client("coordinator").get(f"/cases/{case_id}")
    assert "Selected for moderation: drawn at random." in text(page)
    assert "The rule when it was drawn: 100% of the others at random (this draw: " in text(page)
    assert "; every recommendation of no award." in text(page)


def test_a_rule_out_of_bounds_is_refused_with_the_typed_values_and_nothing_stored(world):
    admin = world.client("admin")
    before = world.counts()
    response = post(admin, "/admin/policies", {
        "credential_id": str(world.credential_id), "moderate_first": "2", "moderate_percent": "150",
        "appeal_days": "30",
    })
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Enter a percentage from 0 to 100." in text(response)
    assert 'value="150"' in page and 'aria-invalid="true"' in page
    assert f'<details id="policy-{world.credential_id}" class="policy" open>' in page
    assert world.counts() == before


def test_the_rules_page_is_the_admins_alone(world):
    assert world.client().get("/admin/policies").headers["Location"].startswith("/login")
    for who in ("coordinator", "assessor", "candidate"):
        client = world.client(who)
        assert client.get("/admin/policies").status_code == 403
        before = world.counts()
        response = post(client, "/admin/policies", {"credential_id": str(world.credential_id),
                                                    "moderate_first": "0", "moderate_percent": "100",
                                                    "appeal_days": "30"})
        assert response.status_code == 403
        assert world.counts() == before


# --- the coordinator names the moderator ---------------------------------------------------------------


def test_the_coordinator_chooses_a_moderator_never_the_first_assessor(world):
    case_id = world.build("recommended")
    coordinator = world.client("coordinator")
    page = coordinator.get(f"/cases/{case_id}")
    assert "Choose the moderator" in text(page)
    body = page.get_data(as_text=True)
    offered = re.search(r'<select[^>]*id="moderator_id"[^>]*>(.*?)</select>', body, re.S).group(1)
    assert f'<option value="{world.ids["assessor"]}"' not in offered  # the first assessor is not offered
    assert f'<option value="{world.ids["other_assessor"]}"' in offered

    version = str(world.case(case_id).lock_version)
    before = world.counts()
    refused = post(coordinator, f"/cases/{case_id}/moderator",
                   {"version": version, "moderator_id": str(world.ids["assessor"])})
    assert refused.status_code == 422
    assert "The moderator must be another assessor than the one who recommended." in text(refused)
    empty = post(coordinator, f"/cases/{case_id}/moderator", {"version": version, "moderator_id": ""})
    assert empty.status_code == 422 and "Choose the moderator." in text(empty)
    stale = post(coordinator, f"/cases/{case_id}/moderator",
                 {"version": str(int(version) - 1), "moderator_id": str(world.ids["other_assessor"])})
    assert stale.status_code == 409 and "This case changed since you opened it" in text(stale)
    assert world.counts() == before and world.case(case_id).moderator_id is None

    # Neither the moderator-to-be nor any other assessor sees the case yet.
    assert world.client("other_assessor").get(f"/cases/{case_id}").status_code == 403
    response = post(coordinator, f"/cases/{case_id}/moderator",
                    {"version": version, "moderator_id": str(world.ids["other_assessor"])})
    assert response.status_code == 302
    assert world.case(case_id).moderator_id == world.ids["other_assessor"]
    page = coordinator.get(f"/cases/{case_id}")
    assert "Petar Second will moderate this recommendation." in text(page)
    assert "Moderator: Petar Second" in text(page)
    first_visit = world.client("other_assessor").get(f"/cases/{case_id}")
    assert first_visit.headers["Location"] == f"/cases/{case_id}/declaration"  # whether they know the candidate
    world.declare(case_id, "other_assessor")
    assert world.client("other_assessor").get(f"/cases/{case_id}").status_code == 200
    assert world.client("third_assessor").get(f"/cases/{case_id}").status_code == 403


def test_only_coordinators_choose_moderators(world):
    case_id = world.build("recommended")
    data = {"version": str(world.case(case_id).lock_version), "moderator_id": str(world.ids["other_assessor"])}
    clients = {who: world.client(who) for who in ("assessor", "other_assessor", "candidate", "admin")}
    before = world.counts()
    for who, client in clients.items():
        assert post(client, f"/cases/{case_id}/moderator", data).status_code == 403, who
    assert world.client().post(f"/cases/{case_id}/moderator", data=data).status_code in (302, 400)
    assert world.counts() == before


# --- the moderator's views -----------------------------------------------------------------------------


def test_a_disagreement_without_a_reason_refuses_the_whole_form_and_keeps_what_was_typed(world):
    case_id = world.build("moderation")
    outcomes = world.outcomes(case_id)
    moderator = world.client("other_assessor")
    page = moderator.get(f"/cases/{case_id}")
    assert "Your view on the recommendation" in text(page)
    assert all(f"Your view on {code}" in text(page) for _, code in outcomes)

    before = world.counts()
    answers = {o: ("agree", "") for o, _ in outcomes}
    answers[outcomes[0][0]] = ("disagree", DISAGREE)
    answers[outcomes[1][0]] = ("disagree", "   ")
    response = world.views(moderator, case_id, answers)
    assert response.status_code == 422
    assert f"Give a reason for disagreeing on {outcomes[1][1]}." in text(response)
    assert html.escape(DISAGREE, quote=False) in response.get_data(as_text=True)  # kept, and escaped
    assert world.counts() == before

    missing = world.views(moderator, case_id, {o: ("", "") for o, _ in outcomes})
    assert missing.status_code == 422
    assert f"Say whether you agree or disagree on {outcomes[0][1]}." in text(missing)
    typed = {o: ("agree", "") for o, _ in outcomes} | {outcomes[0][0]: ("disagree", DISAGREE)}
    stale = world.views(moderator, case_id, typed, version=world.case(case_id).lock_version - 1)
    assert stale.status_code == 409 and "This case changed since you opened it" in text(stale)
    assert "In moderation" in text(stale)
    assert html.escape(DISAGREE, quote=False) in stale.get_data(as_text=True)  # to send again as it was
    assert world.counts() == before


def test_only_the_moderator_gives_views_and_agrees_or_disagrees(world):
    case_id = world.build("moderation")
    outcomes = world.outcomes(case_id)
    answers = {o: ("agree", "") for o, _ in outcomes}
    first, third, coordinator = world.client("assessor"), world.client("third_assessor"), world.client("coordinator")
    moderator = world.client("other_assessor")
    before = world.counts()
    assert world.views(first, case_id, answers).status_code == 403
    assert world.views(third, case_id, answers).status_code == 403
    assert world.views(coordinator, case_id, answers).status_code == 403
    assert world.counts() == before

    # With the views given, the workflow would let an assessor agree (or disagree): the first one may not.
    assert world.views(moderator, case_id, answers).status_code == 302
    before = world.counts()
    assert world.fire(first, case_id, "agree").status_code == 403
    assert world.counts() == before
    assert world.views(moderator, case_id, answers | {outcomes[0][0]: ("disagree", DISAGREE)}).status_code == 302
    before = world.counts()
    assert world.fire(first, case_id, "disagree").status_code == 403
    assert world.counts() == before and world.case(case_id).state == "moderation"


def test_the_moderator_agrees_and_the_coordinator_awards(world):
    case_id = world.build("moderation")
    moderator = world.client("other_assessor")
    early = world.fire(moderator, case_id, "agree")
    assert early.status_code == 409 and "Give your view on every outcome first." in text(early)

    response = world.views(moderator, case_id, {o: ("agree", "") for o, _ in world.outcomes(case_id)})
    assert response.status_code == 302
    page = moderator.get(f"/cases/{case_id}")
    assert "You have given your view on every outcome." in text(page)
    assert world.fire(moderator, case_id, "agree").status_code == 302
    assert world.case(case_id).state == "recommended"
    assert world.client("other_assessor").get(f"/cases/{case_id}").status_code == 403  # their part is done

    coordinator = world.client("coordinator")
    history = text(coordinator.get(f"/cases/{case_id}"))
    assert "Moderation history" in history and "the moderator agreed" in history
    assert "Moderation history" not in text(world.client("candidate").get(f"/cases/{case_id}"))  # staff only
    assert world.fire(coordinator, case_id, "award").status_code == 302
    case = world.case(case_id)
    assert case.state == "awarded"
    with world.app.app_context():
        assert awards.award_for_case(case_id) is not None


def test_a_disagreement_goes_to_the_coordinator_who_settles_it(world):
    case_id = world.build("moderation")
    outcomes = world.outcomes(case_id)
    moderator = world.client("other_assessor")
    answers = {o: ("agree", "") for o, _ in outcomes} | {outcomes[0][0]: ("disagree", DISAGREE)}
    assert world.views(moderator, case_id, answers).status_code == 302
    refused = world.fire(moderator, case_id, "agree")
    assert refused.status_code == 409 and f"You disagree on {outcomes[0][1]}" in text(refused)
    assert world.fire(moderator, case_id, "disagree").status_code == 302
    assert world.case(case_id).state == "moderation_disputed"

    coordinator = world.client("coordinator")
    page = text(coordinator.get(f"/cases/{case_id}"))
    assert "The moderator disagrees with the recommendation." in page
    assert "The moderator's views beside the assessor's decisions" in page
    assert DISAGREE in page and "disagrees" in page
    assert "the moderator disagreed; the coordinator decides" in page
    assert world.client("assessor").get(f"/cases/{case_id}").status_code == 200  # staff on the case see it too

    no_reason = world.fire(coordinator, case_id, "settle")
    assert no_reason.status_code == 422 and world.case(case_id).state == "moderation_disputed"
    settled = world.fire(coordinator, case_id, "settle", "The evidence is enough, as the assessor found.")
    assert settled.status_code == 302
    assert world.case(case_id).state == "recommended"
    assert "settled by the coordinator" in text(coordinator.get(f"/cases/{case_id}"))
    assert world.fire(coordinator, case_id, "award").status_code == 302
    assert world.case(case_id).state == "awarded"


def test_a_disagreement_can_be_returned_to_the_assessor_and_the_next_recommendation_is_drawn_again(world):
    case_id = world.build("moderation")
    outcomes = world.outcomes(case_id)
    moderator = world.client("other_assessor")
    answers = {o: ("disagree", "Not shown.") for o, _ in outcomes}
    assert world.views(moderator, case_id, answers).status_code == 302
    assert world.fire(moderator, case_id, "disagree").status_code == 302
    coordinator = world.client("coordinator")
    assert world.fire(coordinator, case_id, "return_for_review", "Please look again.").status_code == 302
    assert world.case(case_id).state == "under_review"
    assert world.fire(world.client("assessor"), case_id, "recommend").status_code == 302
    with world.app.app_context():
        records = moderation.history(case_id)
        assert [(r.recommendation, r.status) for r in records] == [(1, "returned"), (2, "selected")]
    page = text(coordinator.get(f"/cases/{case_id}"))
    assert "Recommendation 1" in page and "Recommendation 2" in page
    assert "returned to the assessor for review" in page


def test_blind_moderation_hides_the_decisions_until_every_view_is_given(world):
    case_id = world.build("moderation", blind=True)
    outcomes = world.outcomes(case_id)
    moderator = world.client("other_assessor")
    page = moderator.get(f"/cases/{case_id}")
    body = page.get_data(as_text=True)
    assert "This moderation is blind" in text(page)
    assert "verdict-" not in body and "The assessor's decision" not in text(page)
    assert "drawn at random" not in text(page)  # why it was selected could tell the decision (no award)

    assert world.views(moderator, case_id, {outcomes[0][0]: ("agree", "")}).status_code == 422
    first = {o: ("agree", "") for o, _ in outcomes}
    assert world.views(moderator, case_id, first).status_code == 302
    page = moderator.get(f"/cases/{case_id}")
    assert "verdict-met" in page.get_data(as_text=True)
    assert "The assessor's decision" in text(page)
    # The coordinator always saw them.
    assert "verdict-met" in world.client("coordinator").get(f"/cases/{case_id}").get_data(as_text=True)
