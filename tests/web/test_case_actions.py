"""Actions on the case page through HTTP: every transition from every state, roles, guards, reasons,
stale pages, decisions and assignment."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

import workflows
from tests import factories
from tests.conftest import login, post
from validation.extensions import db
from validation.models import AuditEvent, Case, CaseTransition, OutcomeDecision, User
from validation.services import accounts, assessment, audit, cases, catalog, evidence, moderation

STANDARD = workflows.default_registry().latest("standard")
STATES = list(factories.PATHS)
TRIGGERS = list(STANDARD.transitions)
EMAILS = {
    "candidate": "candidate@test.example",
    "other_candidate": "other-candidate@test.example",
    "assessor": "assessor@test.example",
    "other_assessor": "other-assessor@test.example",
    "coordinator": "coordinator@test.example",
    "admin": "admin@test.example",
}
REASON = "Explained in the test, with <angle> & ampersand."

assert set(STATES) == set(STANDARD.states), "every state of the standard workflow has a path in factories"


def acting_role(transition: workflows.Transition) -> str:
    """The role that fires a trigger in these tests: the candidate where they may, else staff."""
    return next(r for r in ("candidate", "assessor", "coordinator") if r in transition.roles)


def person_for(app: Flask, case_id: int, role: str, trigger: str) -> str:
    """Who acts in `role` on this case: for an assessor, the moderator for the moderation's actions and
    otherwise the assessor assigned now (after an appeal, the other assessor)."""
    if role != "assessor":
        return role
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case is not None
        chosen = case.moderator_id if trigger in ("agree", "disagree") and case.moderator_id else case.assessor_id
        user = db.session.get(User, chosen) if chosen else None
        email = user.email if user is not None else EMAILS["assessor"]
    return next(key for key, value in EMAILS.items() if value == email)


#: Changes that come with a transition, each with an audit event of its own.
SIDE_EVENTS = {"recommend": 1, "uphold_appeal": 2, "appeal": 1, "start_appeal_review": 1, "dismiss_appeal": 1}
#: Notifications a transition sends (one audit event each): the candidate hears of a request for more
#: evidence, a decision and an appeal's result; the case's coordinator of an appeal.
NOTIFIED = {"request_more_evidence": 1, "award": 1, "award_partially": 1, "refuse_award": 1, "appeal": 1,
            "uphold_appeal": 1, "dismiss_appeal": 1}


def valid(state: str, trigger: str) -> bool:
    return state in STANDARD.transitions[trigger].sources


def label(trigger: str) -> str:
    return STANDARD.transitions[trigger].label


def state_label(state: str) -> str:
    return STANDARD.state(state).label


@dataclass(frozen=True)
class Snapshot:
    state: str
    lock_version: int
    audit_events: int
    transitions: int
    decisions: int
    assessor_id: int | None


def snapshot(app: Flask, case_id: int) -> Snapshot:
    with app.app_context():
        case = db.session.get(Case, case_id)
        count = db.session.execute
        return Snapshot(
            state=case.state,
            lock_version=case.lock_version,
            audit_events=count(select(func.count()).select_from(AuditEvent)).scalar_one(),
            transitions=count(
                select(func.count()).select_from(CaseTransition).where(CaseTransition.case_id == case_id)
            ).scalar_one(),
            decisions=count(
                select(func.count()).select_from(OutcomeDecision).where(OutcomeDecision.case_id == case_id)
            ).scalar_one(),
            assessor_id=case.assessor_id,
        )


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a reader sees the text: entities decoded, runs of white space as one space."""
    return " ".join(html.unescape(response.get_data(as_text=True)).split())


def people_and_catalog(app: Flask) -> None:
    with app.app_context():
        factories.load_catalog()
        factories.people()
        db.session.commit()


def who() -> dict[str, User]:
    """The people, loaded in the current app context."""
    return {key: accounts.find_by_email(email) for key, email in EMAILS.items()}  # type: ignore[misc]


def build_case(state: str, people: dict[str, User], trigger: str | None = None) -> Case:
    """A case in `state` with an assessor assigned while it is open, and, where the state allows it,
    the facts that `trigger`'s guards ask for."""
    if state == "withdrawn":
        case = factories.case_in_state("draft", people)
        cases.assign_assessor(case.id, people["assessor"].id, people["coordinator"])
        cases.fire(case.id, "withdraw", people["candidate"], "Withdrawn in the test.")
    elif state == "recommended" and trigger == "award_partially":
        case = factories.case_in_state("under_review", people)
        n = len(case.claims)
        factories.decide_all(case, people["assessor"], ["met"] + ["not_met"] * (n - 1))
        cases.fire(case.id, "recommend", people["assessor"])
    elif state == "recommended" and trigger == "refuse_award":
        # A "no award" is always moderated: back in recommended once the moderator agreed.
        case = factories.case_in_state("moderation", people)
        moderate(case, people, agree=True)
        cases.fire(case.id, "agree", people["other_assessor"])
    elif state == "recommended" and trigger == "send_to_moderation":
        case = factories.case_in_state("under_review", people)
        factories.decide_all(case, people["assessor"], ["not_met"] * len(case.claims))
        cases.fire(case.id, "recommend", people["assessor"])
        moderation.assign_moderator(case.id, people["other_assessor"].id, people["coordinator"])
    elif state == "moderation" and trigger in ("agree", "disagree"):
        case = factories.case_in_state("moderation", people)
        moderate(case, people, agree=trigger == "agree")
    elif state == "appealed" and trigger == "start_appeal_review":
        case = factories.case_in_state("appealed", people)
        cases.assign_assessor(case.id, people["other_assessor"].id, people["coordinator"])
    else:
        case = factories.case_in_state(state, people)
    if case.is_open and case.assessor_id is None:
        cases.assign_assessor(case.id, people["assessor"].id, people["coordinator"])
    if trigger in ("submit", "resubmit") and cases.evidence_open(case):
        evidence.add_statement(case.id, people["candidate"], "More", "New evidence.",
                               [c.outcome_id for c in case.claims])
    if trigger == "recommend" and assessment.decisions_open(case):
        factories.decide_all(case, people["assessor"], ["met"] * len(case.claims))
    db.session.flush()
    return case


def moderate(case: Case, people: dict[str, User], *, agree: bool) -> None:
    """The moderator's view on every claimed outcome: all agreeing, or disagreeing on the first."""
    for index, claim in enumerate(cases.claimed(case)):
        agrees = agree or index > 0
        moderation.record_view(case.id, claim.outcome_id, people["other_assessor"], agrees,
                               None if agrees else "Disagreed in the test.")


def make_case(app: Flask, state: str, trigger: str | None = None) -> int:
    people_and_catalog(app)
    with app.app_context():
        case = build_case(state, who(), trigger)
        factories.declare_no_conflict(case)
        db.session.commit()
        return case.id


def client_for(app: Flask, person: str) -> FlaskClient:
    client = app.test_client()
    login(client, EMAILS[person])
    return client


_VERSION = re.compile(r'name="version"[^>]*value="(\d+)"')


def page_version(client: FlaskClient, case_id: int) -> int:
    """The version the case page hands out in its forms (a page without forms: the case's own)."""
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    found = {int(v) for v in _VERSION.findall(page.get_data(as_text=True))}
    current = snapshot(client.application, case_id).lock_version
    assert found <= {current}
    return current


def fire(client: FlaskClient, case_id: int, trigger: str, version: int, reason: str | None = REASON):  # type: ignore[no-untyped-def]
    data = {"version": str(version)}
    if reason is not None:
        data["reason"] = reason
    return post(client, f"/cases/{case_id}/transitions/{trigger}", data)


# --- every state, every trigger ---------------------------------------------------------------------


VALID = [(state, trigger) for state in STATES for trigger in TRIGGERS if valid(state, trigger)]


@pytest.mark.parametrize(("state", "trigger"), VALID, ids=[f"{s}-{t}" for s, t in VALID])
def test_every_allowed_trigger_moves_the_case(app, state, trigger):
    case_id = make_case(app, state, trigger)
    role = acting_role(STANDARD.transitions[trigger])
    client = client_for(app, person_for(app, case_id, role, trigger))
    version = page_version(client, case_id)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'action="/cases/{case_id}/transitions/{trigger}"' in page, f"the page offers {trigger} to the {role}"
    before = snapshot(app, case_id)
    assert version == before.lock_version

    response = fire(client, case_id, trigger, version)

    assert response.status_code == 302, text_of(response)[:1500]
    assert response.headers["Location"].endswith(f"/cases/{case_id}")
    after = snapshot(app, case_id)
    destination = STANDARD.transitions[trigger].dest
    assert after.state == destination
    # One change, one new version; the moderator's verdict also hands the case back from them (a second
    # change to the case, after the transition's own).
    assert after.lock_version == before.lock_version + (2 if trigger in ("agree", "disagree") else 1)
    assert after.transitions == before.transitions + 1
    # An award comes with two events of its own: the award, and its credential signed.
    awarding = 2 * (STANDARD.state(destination).outcome in ("awarded", "partially_awarded"))
    assert after.audit_events == (before.audit_events + 1 + awarding + SIDE_EVENTS.get(trigger, 0)
                                  + NOTIFIED.get(trigger, 0))
    with app.app_context():
        last = cases.transitions_of(case_id)[-1]
        assert (last.trigger, last.from_state, last.to_state) == (trigger, state, destination)
        assert last.reason == REASON.strip()
        assert db.session.get(User, last.actor_id).role == role
    shown = text_of(client.get(f"/cases/{case_id}"))
    assert f"Done: the case is now “{state_label(destination)}”." in shown


@pytest.mark.parametrize("state", STATES)
def test_every_other_trigger_is_refused_and_changes_nothing(app, state):
    """Every trigger not allowed from `state`, each fired by the role that could fire it elsewhere. A refusal
    changes nothing, so one case serves them all (checked after each one)."""
    case_id = make_case(app, state)
    refused = [t for t in TRIGGERS if not valid(state, t)]
    assert refused, f"every trigger is allowed from {state}?"
    clients: dict[str, FlaskClient] = {}
    pages: dict[str, str] = {}
    failures = []
    for trigger in refused:
        role = person_for(app, case_id, acting_role(STANDARD.transitions[trigger]), trigger)
        if role not in clients:
            clients[role] = client_for(app, role)
            pages[role] = clients[role].get(f"/cases/{case_id}").get_data(as_text=True)
        client = clients[role]
        if f'action="/cases/{case_id}/transitions/{trigger}"' in pages[role]:
            failures.append(f"the page offers {trigger} in {state}")
        before = snapshot(app, case_id)
        response = fire(client, case_id, trigger, before.lock_version)
        refusal = f"“{label(trigger)}” is not possible while the case is “{state_label(state)}”."
        if response.status_code != 409 or refusal not in text_of(response):
            failures.append(f"{trigger} from {state}: {response.status_code} {text_of(response)[:300]}")
        if snapshot(app, case_id) != before:
            failures.append(f"{trigger} from {state} was refused but changed the case")
    assert not failures, "\n".join(failures)


def test_coordinator_may_withdraw_too(app):
    case_id = make_case(app, "screening")
    coordinator = client_for(app, "coordinator")
    response = fire(coordinator, case_id, "withdraw", page_version(coordinator, case_id))
    assert response.status_code == 302
    assert snapshot(app, case_id).state == "withdrawn"


# --- roles ---------------------------------------------------------------------------------------------

FORBIDDEN = [
    (trigger, role)
    for trigger, transition in STANDARD.transitions.items()
    for role in ("candidate", "assessor", "coordinator")
    if role not in transition.roles
]


FORBIDDEN_TRIGGERS = sorted({trigger for trigger, _ in FORBIDDEN})


@pytest.mark.parametrize("trigger", FORBIDDEN_TRIGGERS)
def test_a_role_that_may_not_fire_a_trigger_gets_403(app, trigger):
    """Each role that may not fire `trigger`, one after another on the same case: a refusal changes nothing
    (checked after each one), so one case serves them all."""
    state = STANDARD.transitions[trigger].sources[0]
    case_id = make_case(app, state, trigger)
    for role in [r for t, r in FORBIDDEN if t == trigger]:
        client = client_for(app, person_for(app, case_id, role, trigger))
        version = page_version(client, case_id)
        page = client.get(f"/cases/{case_id}").get_data(as_text=True)
        assert f'action="/cases/{case_id}/transitions/{trigger}"' not in page, role
        before = snapshot(app, case_id)
        response = fire(client, case_id, trigger, version)
        assert response.status_code == 403, role
        assert f"“{label(trigger)}” can only be done by:" in text_of(response)
        assert snapshot(app, case_id) == before, role


@pytest.mark.parametrize(("trigger", "role"), [("award", "candidate"), ("accept_for_review", "assessor"),
                                               ("submit", "coordinator")])
def test_examples_of_forbidden_roles(app, trigger, role):
    assert (trigger, role) in FORBIDDEN


@pytest.mark.parametrize(("person", "status"),
                         [("admin", 403), ("other_assessor", 403), ("other_candidate", 404)])
def test_people_outside_the_case_cannot_fire(app, person, status):
    case_id = make_case(app, "draft", "submit")
    client = client_for(app, person)
    before = snapshot(app, case_id)
    for trigger in ("submit", "withdraw"):
        assert fire(client, case_id, trigger, before.lock_version).status_code == status
    assert snapshot(app, case_id) == before


def test_anonymous_cannot_fire(app):
    case_id = make_case(app, "draft", "submit")
    before = snapshot(app, case_id)
    response = fire(app.test_client(), case_id, "submit", before.lock_version)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert snapshot(app, case_id) == before


def test_an_unknown_trigger_is_refused(app):
    case_id = make_case(app, "draft")
    client = client_for(app, "candidate")
    before = snapshot(app, case_id)
    response = fire(client, case_id, "teleport", before.lock_version)
    assert response.status_code == 409
    assert "There is no action “teleport” here" in text_of(response)
    assert snapshot(app, case_id) == before


# --- guards --------------------------------------------------------------------------------------------


def refused_by_guard(app: Flask, case_id: int, person: str, trigger: str) -> str:
    client = client_for(app, person)
    version = page_version(client, case_id)
    before = snapshot(app, case_id)
    response = fire(client, case_id, trigger, version)
    assert response.status_code == 409, text_of(response)[:1500]
    assert snapshot(app, case_id) == before
    return text_of(response)


def test_submit_without_evidence_names_the_outcomes_lacking_it(app):
    case_id = make_case(app, "draft")
    page = refused_by_guard(app, case_id, "candidate", "submit")
    assert "Outcomes without evidence: LO1, LO2, LO3, LO4, LO5, LO6." in page


def test_submit_with_some_evidence_names_only_the_gaps(app):
    case_id = make_case(app, "draft")
    with app.app_context():
        case = db.session.get(Case, case_id)
        claims = {c.outcome.code: c.outcome_id for c in case.claims}
        evidence.add_statement(case_id, who()["candidate"], "Bread", "I bake.",
                               [claims["LO1"], claims["LO4"]])
        db.session.commit()
    page = refused_by_guard(app, case_id, "candidate", "submit")
    assert "Outcomes without evidence: LO2, LO3, LO5, LO6." in page


def test_accept_for_review_without_an_assessor(app):
    people_and_catalog(app)
    with app.app_context():
        case = factories.case_in_state("screening", who())
        assert case.assessor_id is None
        db.session.commit()
        case_id = case.id
    page = refused_by_guard(app, case_id, "coordinator", "accept_for_review")
    assert "Assign an assessor before accepting the case for review." in page


def test_resubmit_without_new_evidence(app):
    case_id = make_case(app, "more_evidence")
    page = refused_by_guard(app, case_id, "candidate", "resubmit")
    assert "Add at least one new piece of evidence since more evidence was requested." in page


def test_recommend_without_all_decisions(app):
    case_id = make_case(app, "under_review")
    with app.app_context():
        case = db.session.get(Case, case_id)
        people = who()
        claims = list(case.claims)
        assessment.record_decision(case_id, claims[0].outcome_id, people["assessor"], "met", None)
        assessment.record_decision(case_id, claims[1].outcome_id, people["assessor"], "more_evidence",
                                   "A photo is missing.")
        db.session.commit()
    page = refused_by_guard(app, case_id, "assessor", "recommend")
    assert "Outcomes without a final decision (met or not met): LO2, LO3, LO4, LO5, LO6." in page


def recommended_with(app: Flask, verdicts: list[str]) -> int:
    people_and_catalog(app)
    with app.app_context():
        people = who()
        case = factories.case_in_state("under_review", people)
        factories.decide_all(case, people["assessor"], verdicts)
        cases.fire(case.id, "recommend", people["assessor"])
        db.session.commit()
        return case.id


def test_award_when_not_all_met(app):
    case_id = recommended_with(app, ["met", "not_met", "met", "met", "not_met", "met"])
    page = refused_by_guard(app, case_id, "coordinator", "award")
    assert "Outcomes not met: LO2, LO5. A full award needs every claimed outcome met." in page


def test_award_partially_when_all_met(app):
    case_id = recommended_with(app, ["met"] * 6)
    page = refused_by_guard(app, case_id, "coordinator", "award_partially")
    assert "Every claimed outcome is met: give the full award instead of a partial one." in page


def test_award_partially_when_none_met(app):
    case_id = recommended_with(app, ["not_met"] * 6)
    page = refused_by_guard(app, case_id, "coordinator", "award_partially")
    assert "No outcome is met, so a partial award is not possible." in page


def test_refuse_award_when_some_met(app):
    case_id = recommended_with(app, ["not_met", "not_met", "met", "not_met", "not_met", "not_met"])
    page = refused_by_guard(app, case_id, "coordinator", "refuse_award")
    assert "Outcomes met: LO3. The award can only be refused when no outcome is met." in page


# --- reasons and stale pages ---------------------------------------------------------------------------

REASON_REQUIRED = [(t.trigger, t.sources[0]) for t in STANDARD.transitions.values() if t.reason_required]


@pytest.mark.parametrize(("trigger", "state"), REASON_REQUIRED)
def test_missing_reason_gives_422_and_changes_nothing(app, trigger, state):
    """No reason, an empty one and a blank one, one after another on the same case (nothing changes)."""
    case_id = make_case(app, state, trigger)
    client = client_for(app, person_for(app, case_id, acting_role(STANDARD.transitions[trigger]), trigger))
    for reason in (None, "", "   \n  "):
        version = page_version(client, case_id)
        before = snapshot(app, case_id)
        response = fire(client, case_id, trigger, version, reason=reason)
        assert response.status_code == 422, repr(reason)
        assert f"“{label(trigger)}” needs a reason: please explain why." in text_of(response)
        assert snapshot(app, case_id) == before, repr(reason)


def test_reason_required_triggers_are_known():
    assert {t for t, _ in REASON_REQUIRED} == {
        "return_to_draft", "request_more_evidence", "return_for_review", "refuse_award", "withdraw",
        "settle", "appeal", "uphold_appeal", "dismiss_appeal",
    }


def test_a_stale_page_is_refused_and_the_typed_reason_is_kept(app):
    case_id = make_case(app, "draft")
    client = client_for(app, "candidate")
    seen = page_version(client, case_id)
    # Meanwhile the case changes (here: the candidate's own other tab adds evidence).
    with app.app_context():
        case = db.session.get(Case, case_id)
        evidence.add_statement(case_id, who()["candidate"], "Other tab", "Added elsewhere.",
                               [case.claims[0].outcome_id])
        db.session.commit()
    before = snapshot(app, case_id)
    assert before.lock_version > seen
    typed = "I found a job abroad & can't continue <for now>."
    response = fire(client, case_id, "withdraw", seen, reason=typed)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "changed since you opened it" in html.unescape(page)
    assert snapshot(app, case_id) == before
    textarea = re.search(r'<textarea id="reason-withdraw"[^>]*>(.*?)</textarea>', page, re.S)
    assert textarea is not None
    assert html.unescape(textarea.group(1)) == typed
    assert "<for now>" not in page  # shown as text, not markup
    # The form now carries the current version, so sending it again works.
    versions = {int(v) for v in _VERSION.findall(page)}
    assert versions == {before.lock_version}
    again = fire(client, case_id, "withdraw", before.lock_version, reason=typed)
    assert again.status_code == 302
    after = snapshot(app, case_id)
    assert after.state == "withdrawn"
    with app.app_context():
        assert cases.transitions_of(case_id)[-1].reason == typed


def test_a_stale_page_is_refused_for_every_kind_of_action(app):
    case_id = make_case(app, "under_review")
    assessor = client_for(app, "assessor")
    coordinator = client_for(app, "coordinator")
    stale = page_version(assessor, case_id)
    with app.app_context():
        assessment.record_decision(case_id, db.session.get(Case, case_id).claims[0].outcome_id,
                                   who()["assessor"], "met", None)
        db.session.commit()
    before = snapshot(app, case_id)
    outcome = before_outcome(app, case_id)
    responses = [
        fire(assessor, case_id, "schedule_interview", stale),
        post(assessor, f"/cases/{case_id}/decisions",
             {"outcome_id": str(outcome), "verdict": "met", "rationale": "", "version": str(stale)}),
        post(coordinator, f"/cases/{case_id}/assign",
             {"assessor_id": str(user_id(app, "other_assessor")), "version": str(stale)}),
    ]
    for response in responses:
        assert response.status_code == 409
        assert "changed since you opened it" in text_of(response)
    assert snapshot(app, case_id) == before


def before_outcome(app: Flask, case_id: int) -> int:
    with app.app_context():
        return db.session.get(Case, case_id).claims[0].outcome_id


def user_id(app: Flask, person: str) -> int:
    with app.app_context():
        return who()[person].id


# --- decisions -----------------------------------------------------------------------------------------


def decide(client: FlaskClient, case_id: int, outcome_id: int, verdict: str, rationale: str = "",
           criteria: list[int] | None = None, version: int | None = None):  # type: ignore[no-untyped-def]
    if version is None:
        version = page_version(client, case_id)
    return post(client, f"/cases/{case_id}/decisions", {
        "outcome_id": str(outcome_id), "verdict": verdict, "rationale": rationale,
        "criteria": [str(c) for c in criteria or []], "version": str(version),
    })


def claims_of(app: Flask, case_id: int) -> list[int]:
    with app.app_context():
        return [c.outcome_id for c in db.session.get(Case, case_id).claims]


def test_the_assigned_assessor_records_a_decision(app):
    case_id = make_case(app, "under_review")
    assessor = client_for(app, "assessor")
    outcome = claims_of(app, case_id)[0]
    response = decide(assessor, case_id, outcome, "met", criteria=[0, 2])
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{case_id}#outcome-{outcome}")
    with app.app_context():
        decision = assessment.current_decisions(case_id)[outcome]
        assert decision.verdict == "met" and decision.criteria_met == [0, 2]
        assert decision.assessor_id == who()["assessor"].id
        assert decision.rationale is None and decision.submission_round == 1


@pytest.mark.parametrize(("person", "status"), [
    ("other_assessor", 403), ("candidate", 403), ("coordinator", 403), ("admin", 403),
    ("other_candidate", 403),
])
def test_only_the_assigned_assessor_decides(app, person, status):
    case_id = make_case(app, "under_review")
    outcome = claims_of(app, case_id)[0]
    client = client_for(app, person)
    before = snapshot(app, case_id)
    response = decide(client, case_id, outcome, "met", version=before.lock_version)
    assert response.status_code == status
    assert snapshot(app, case_id) == before


def test_no_decision_on_an_outcome_outside_the_case(app):
    case_id = make_case(app, "under_review")
    with app.app_context():
        welding = catalog.by_code("GE-WELD-MMA")
        foreign = welding.outcomes[0].id
    assessor = client_for(app, "assessor")
    before = snapshot(app, case_id)
    for criteria in ([], [0]):
        response = decide(assessor, case_id, foreign, "not_met", "No.", criteria=criteria)
        assert response.status_code == 422
        assert snapshot(app, case_id) == before
    assert "This learning outcome is not part of the case." in text_of(
        decide(assessor, case_id, foreign, "met")
    )


def test_no_criterion_the_outcome_does_not_have(app):
    case_id = make_case(app, "under_review")
    assessor = client_for(app, "assessor")
    before = snapshot(app, case_id)
    response = decide(assessor, case_id, claims_of(app, case_id)[0], "met", criteria=[7])
    assert response.status_code == 422
    assert snapshot(app, case_id) == before


@pytest.mark.parametrize("state", ["more_evidence", "recommended", "awarded", "not_awarded", "withdrawn"])
def test_no_decisions_after_the_case_left_review(app, state):
    case_id = make_case(app, state)
    assessor = client_for(app, "assessor")
    page = text_of(assessor.get(f"/cases/{case_id}"))
    assert "Record decision" not in page
    before = snapshot(app, case_id)
    response = decide(assessor, case_id, claims_of(app, case_id)[0], "not_met", "Too late.",
                      version=before.lock_version)
    assert response.status_code == 409
    assert "Decisions can only be recorded while the case is under review." in text_of(response)
    assert snapshot(app, case_id) == before


@pytest.mark.parametrize("state", ["draft", "submitted", "screening"])
def test_no_decisions_before_review(app, state):
    case_id = make_case(app, state)
    assessor = client_for(app, "assessor")
    before = snapshot(app, case_id)
    response = decide(assessor, case_id, claims_of(app, case_id)[0], "met", version=before.lock_version)
    assert response.status_code == 409
    assert snapshot(app, case_id) == before


def test_decisions_are_open_during_the_interview(app):
    case_id = make_case(app, "interview")
    assessor = client_for(app, "assessor")
    assert decide(assessor, case_id, claims_of(app, case_id)[0], "met").status_code == 302


@pytest.mark.parametrize("verdict", ["not_met", "more_evidence"])
@pytest.mark.parametrize("rationale", ["", "   "], ids=["empty", "blank"])
def test_a_rationale_is_required_unless_met(app, verdict, rationale):
    case_id = make_case(app, "under_review")
    assessor = client_for(app, "assessor")
    before = snapshot(app, case_id)
    response = decide(assessor, case_id, claims_of(app, case_id)[0], verdict, rationale)
    assert response.status_code == 422
    assert "Give a reason when an outcome is not met or needs more evidence." in text_of(response)
    assert snapshot(app, case_id) == before


def test_a_decision_without_a_verdict_is_refused(app):
    case_id = make_case(app, "under_review")
    assessor = client_for(app, "assessor")
    before = snapshot(app, case_id)
    response = decide(assessor, case_id, claims_of(app, case_id)[0], "", "Undecided.")
    assert response.status_code == 422
    assert "Choose a decision." in text_of(response)
    assert "Undecided." in text_of(response)  # what was typed is kept
    assert snapshot(app, case_id) == before


def test_decisions_are_appended_and_the_newest_counts(app):
    case_id = make_case(app, "under_review")
    assessor = client_for(app, "assessor")
    outcome = claims_of(app, case_id)[0]
    assert decide(assessor, case_id, outcome, "met", criteria=[0, 1, 2]).status_code == 302
    assert decide(assessor, case_id, outcome, "not_met", "The photos show another baker.").status_code == 302
    last = decide(assessor, case_id, outcome, "more_evidence", "Send a letter from the bakery.")
    assert last.status_code == 302
    with app.app_context():
        history = db.session.execute(
            select(OutcomeDecision)
            .where(OutcomeDecision.case_id == case_id, OutcomeDecision.outcome_id == outcome)
            .order_by(OutcomeDecision.id)
        ).scalars().all()
        assert [d.verdict for d in history] == ["met", "not_met", "more_evidence"]
        assert history[0].criteria_met == [0, 1, 2]
        assert assessment.current_decisions(case_id)[outcome].verdict == "more_evidence"
        recorded = [e for e in audit.events_for_case(case_id) if e.action == "decision.recorded"]
        assert len(recorded) == 3
    page = text_of(assessor.get(f"/cases/{case_id}"))
    assert "More evidence needed</strong> — Send a letter from the bakery." in page
    assert "The photos show another baker." not in page


# --- assignment ----------------------------------------------------------------------------------------


def assign(client: FlaskClient, case_id: int, assessor_id: int, version: int | None = None):  # type: ignore[no-untyped-def]
    if version is None:
        version = page_version(client, case_id)
    data = {"assessor_id": str(assessor_id), "version": str(version)}
    return post(client, f"/cases/{case_id}/assign", data)


@pytest.mark.parametrize("person", ["candidate", "assessor", "admin"])
def test_only_coordinators_assign(app, person):
    case_id = make_case(app, "screening")
    client = client_for(app, person)
    before = snapshot(app, case_id)
    response = assign(client, case_id, user_id(app, "other_assessor"), version=before.lock_version)
    assert response.status_code == 403
    assert snapshot(app, case_id) == before


def test_reassignment_takes_the_case_away_from_the_previous_assessor(app):
    people_and_catalog(app)
    with app.app_context():
        case = factories.case_in_state("screening", who())
        db.session.commit()
        case_id = case.id
    coordinator = client_for(app, "coordinator")
    first, second = client_for(app, "assessor"), client_for(app, "other_assessor")
    assert first.get(f"/cases/{case_id}").status_code == 403

    assert assign(coordinator, case_id, user_id(app, "assessor")).status_code == 302
    assert snapshot(app, case_id).assessor_id == user_id(app, "assessor")
    # Let in, first to say whether they know the candidate.
    assert first.get(f"/cases/{case_id}").headers["Location"] == f"/cases/{case_id}/declaration"
    assert f"/cases/{case_id}" in first.get("/assessor/").get_data(as_text=True)

    assert assign(coordinator, case_id, user_id(app, "other_assessor")).status_code == 302
    assert snapshot(app, case_id).assessor_id == user_id(app, "other_assessor")
    assert first.get(f"/cases/{case_id}").status_code == 403
    assert f"/cases/{case_id}" not in first.get("/assessor/").get_data(as_text=True)
    assert second.get(f"/cases/{case_id}").headers["Location"] == f"/cases/{case_id}/declaration"
    assert first.get(f"/cases/{case_id}/declaration").status_code == 403
    with app.app_context():
        assigned = [audit.facts_of(e) for e in audit.events_for_case(case_id) if e.action == "case.assigned"]
        assert [f["previous_assessor_id"] for f in assigned] == [None, user_id(app, "assessor")]
    assert "Assessor: Other assessor" in text_of(coordinator.get(f"/cases/{case_id}"))
    # The previous assessor can no longer act either.
    before = snapshot(app, case_id)
    outcome = claims_of(app, case_id)[0]
    assert decide(first, case_id, outcome, "met", version=before.lock_version).status_code == 403
    assert fire(first, case_id, "withdraw", before.lock_version).status_code == 403
    assert snapshot(app, case_id) == before


def test_assignment_must_name_an_active_assessor(app):
    case_id = make_case(app, "screening")
    coordinator = client_for(app, "coordinator")
    before = snapshot(app, case_id)
    for person in ("candidate", "coordinator", "admin"):
        response = assign(coordinator, case_id, user_id(app, person))
        assert response.status_code == 422
        # Said beside the choice, and the page still offers every assessor, none of them chosen for the person.
        page = response.get_data(as_text=True)
        assert 'aria-invalid="true"' in page and 'id="assessor_id-error"' in page
        assert f'<option value="{user_id(app, "assessor")}"' in page
        assert f'<option value="{user_id(app, person)}"' not in page
    assert snapshot(app, case_id) == before


@pytest.mark.parametrize("state", ["awarded", "withdrawn"])
def test_a_closed_case_cannot_be_assigned(app, state):
    case_id = make_case(app, state)
    coordinator = client_for(app, "coordinator")
    before = snapshot(app, case_id)
    response = assign(coordinator, case_id, user_id(app, "other_assessor"), version=before.lock_version)
    assert response.status_code == 409
    assert "This case is closed" in text_of(response)
    assert snapshot(app, case_id) == before


def test_names_written_out_in_python_are_escaped_on_the_case_page(app):
    """The timeline and the assessor list are written out in one pass, not by the template: a name with markup
    in it is shown as text there as everywhere."""
    case_id = make_case(app, "screening")
    with app.app_context():
        people = who()
        people["coordinator"].display_name = '<script>alert("c")</script>'
        people["other_assessor"].display_name = '<b onmouseover="x">Eve</b>'
        db.session.commit()
        cases.assign_assessor(case_id, people["other_assessor"].id, people["coordinator"])
        db.session.commit()
    page = client_for(app, "coordinator").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "<script>alert" not in page and "<b onmouseover" not in page
    timeline = page[page.index('<ol class="timeline">'):]
    assert "&lt;script&gt;alert(&#34;c&#34;)&lt;/script&gt; assigned another assessor." in timeline
    assert '&lt;b onmouseover=&#34;x&#34;&gt;Eve&lt;/b&gt; — ' in page  # the option's label
