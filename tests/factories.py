"""Builders that make test data through the services, so the audit trail is always real."""

from __future__ import annotations

from pathlib import Path

from validation.demo import PATHS, before_step
from validation.extensions import db
from validation.models import Case, User
from validation.services import accounts, assessment, cases, catalog, evidence, staffing

CATALOG = Path(__file__).resolve().parent.parent / "validation" / "demo" / "catalog.yaml"
PASSWORD = "correct horse battery"

# The path into each state of the standard workflow is the one the demo data takes.


def load_catalog() -> None:
    catalog.import_catalog(CATALOG)


def user(role: str, email: str | None = None, name: str | None = None) -> User:
    return accounts.create_user(
        email=email or f"{role}@test.example", display_name=name or role.title(), password=PASSWORD,
        role=role, actor=None,
    )


#: The sectors of the demo catalog and the languages of its candidates: what the test assessors may assess.
SECTORS = ("construction", "energy", "food", "ict", "manufacturing", "tourism")
LANGUAGES = ("en", "uk")


def qualify(assessor: User, admin: User, sectors: tuple[str, ...] = SECTORS,
            languages: tuple[str, ...] = LANGUAGES) -> None:
    staffing.set_qualifications(assessor.id, admin, [], sectors, languages)


def people() -> dict[str, User]:
    """One of each: the owner candidate, another candidate, the assigned assessor, another assessor,
    a coordinator and an admin. Both assessors may assess every sector, in English and Ukrainian."""
    who = {
        "candidate": user("candidate"),
        "other_candidate": user("candidate", "other-candidate@test.example", "Other candidate"),
        "assessor": user("assessor"),
        "other_assessor": user("assessor", "other-assessor@test.example", "Other assessor"),
        "coordinator": user("coordinator"),
        "admin": user("admin"),
    }
    qualify(who["assessor"], who["admin"])
    qualify(who["other_assessor"], who["admin"])
    return who


def portfolio(case: Case, candidate: User) -> None:
    """One statement linked to every claimed outcome: enough to submit."""
    evidence.add_statement(case.id, candidate, "My work", "I did this work for years.",
                           [c.outcome_id for c in case.claims])


def decide_all(case: Case, assessor: User, verdicts: list[str]) -> None:
    for claim, verdict in zip(case.claims, verdicts, strict=False):
        assessment.record_decision(case.id, claim.outcome_id, assessor, verdict,
                                   None if verdict == "met" else "Not shown by the evidence.")


def case_in_state(state: str, who: dict[str, User], code: str = "UA-BAKERY") -> Case:
    """A case taken to `state` by the people who may move it there, as a real case would be (the demo's
    paths: the other assessor moderates and reviews appeals)."""
    credential = catalog.by_code(code)
    assert credential is not None
    case = cases.open_case(who["candidate"], credential.id)
    path = PATHS[state]
    if any(t == "submit" for t, _ in path):
        portfolio(case, who["candidate"])
    people = {**who, "second_assessor": who.get("other_assessor")}
    for trigger, role in path:
        before_step(case, trigger, state, people)
        cases.fire(case.id, trigger, people[role], "A reason given in the test.")
    db.session.flush()
    return case


def declare_no_conflict(case: Case) -> None:
    """The case's assessor and moderator say they do not know the candidate, as each would on first opening
    it, so a test about something else can open the case page straight away."""
    from validation.services import review

    db.session.refresh(case)
    for user_id in (case.assessor_id, case.moderator_id):
        person = db.session.get(User, user_id) if user_id else None
        if person is not None and review.needs_declaration(person, case):
            review.declare(case.id, person, False, None)
    db.session.flush()
