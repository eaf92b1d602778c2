"""Demo data: the catalog, one account per role and cases in every state, all made through the services
so that the audit trail is as real as in production. Loading twice changes nothing."""

from __future__ import annotations

import io
from pathlib import Path

from validation.extensions import db
from validation.models import Case, Centre, User
from validation.services import (
    accounts,
    assessment,
    awards,
    cases,
    catalog,
    credentials,
    evidence,
    moderation,
    review,
    staffing,
)

CATALOG = Path(__file__).with_name("catalog.yaml")
PASSWORD = "demo-password-2026"  # noqa: S105  (demo accounts only; printed by `make run`)
LOGINS = [
    ("candidate", "candidate@demo.example"),
    ("assessor", "assessor@demo.example"),
    ("assessor (moderation, appeals)", "assessor2@demo.example"),
    ("coordinator", "coordinator@demo.example"),
    ("admin", "admin@demo.example"),
]
# (candidate e-mail, name, language, credential code, state the case is taken to)
DEMO_CASES = [
    ("candidate@demo.example", "Olena Kovalenko", "uk", "UA-BAKERY", "draft"),
    ("candidate@demo.example", "Olena Kovalenko", "uk", "UA-CABLE-LAY", "more_evidence"),
    ("candidate@demo.example", "Olena Kovalenko", "uk", "GE-NET-SUPPORT", "partially_awarded"),
    ("taras@demo.example", "Taras Melnyk", "uk", "GE-WELD-MMA", "submitted"),
    ("taras@demo.example", "Taras Melnyk", "uk", "MK-ROOF-INST", "screening"),
    ("ani@demo.example", "Ani Petrosyan", "en", "AM-LINUX-TECH", "under_review"),
    ("ani@demo.example", "Ani Petrosyan", "en", "RS-MCU-PROG", "interview"),
    ("marko@demo.example", "Marko Vuković", "en", "ME-AGRO-TOUR", "recommended"),
    ("marko@demo.example", "Marko Vuković", "en", "UA-BAKERY", "awarded"),
    ("nino@demo.example", "Nino Beridze", "en", "GE-WELD-MMA", "not_awarded"),
    ("nino@demo.example", "Nino Beridze", "en", "AM-LINUX-TECH", "withdrawn"),
    ("taras@demo.example", "Taras Melnyk", "uk", "UA-CABLE-LAY", "moderation"),
    ("ani@demo.example", "Ani Petrosyan", "en", "GE-NET-SUPPORT", "moderation_disputed"),
    ("marko@demo.example", "Marko Vuković", "en", "MK-ROOF-INST", "appealed"),
    ("nino@demo.example", "Nino Beridze", "en", "UA-CABLE-LAY", "appeal_review"),
    ("taras@demo.example", "Taras Melnyk", "uk", "RS-MCU-PROG", "appeal_dismissed"),
    ("nino@demo.example", "Nino Beridze", "en", "ME-AGRO-TOUR", "awarded"),
]
#: The demo case whose credential the coordinator revoked, to show what a verifier then sees.
REVOKED = ("nino@demo.example", "ME-AGRO-TOUR")
REVOKED_REASON = "Issued in error: the practical test was not held under supervision."
# The path through the standard workflow to each state: (trigger, role that fires it).
PATHS = {
    "draft": [],
    "submitted": [("submit", "candidate")],
    "screening": [("submit", "candidate"), ("start_screening", "coordinator")],
    "under_review": [
        ("submit", "candidate"),
        ("start_screening", "coordinator"),
        ("accept_for_review", "coordinator"),
    ],
}
PATHS["more_evidence"] = [*PATHS["under_review"], ("request_more_evidence", "assessor")]
PATHS["interview"] = [*PATHS["under_review"], ("schedule_interview", "assessor")]
PATHS["recommended"] = [*PATHS["under_review"], ("recommend", "assessor")]
PATHS["awarded"] = [*PATHS["recommended"], ("award", "coordinator")]
PATHS["partially_awarded"] = [*PATHS["recommended"], ("award_partially", "coordinator")]
# Every "no award" recommendation is moderated by a second assessor before the decision.
PATHS["moderation"] = [*PATHS["recommended"], ("send_to_moderation", "coordinator")]
PATHS["moderation_disputed"] = [*PATHS["moderation"], ("disagree", "second_assessor")]
PATHS["not_awarded"] = [*PATHS["moderation"], ("agree", "second_assessor"), ("refuse_award", "coordinator")]
PATHS["appealed"] = [*PATHS["partially_awarded"], ("appeal", "candidate")]
PATHS["appeal_review"] = [*PATHS["appealed"], ("start_appeal_review", "coordinator")]
PATHS["appeal_dismissed"] = [*PATHS["appeal_review"], ("dismiss_appeal", "second_assessor")]
PATHS["withdrawn"] = [("withdraw", "candidate")]
#: How the assessor judges the outcomes on the way to a state: every one met unless said here.
VERDICTS = {
    "not_awarded": "none", "moderation": "none", "moderation_disputed": "none",
    "partially_awarded": "some", "appealed": "some", "appeal_review": "some", "appeal_dismissed": "some",
}
REASONS = {
    "request_more_evidence": "Please add a photo or a letter that shows this work in practice.",
    "refuse_award": "The evidence does not yet show the outcomes; a practical test is recommended.",
    "withdraw": "I have moved to another city and will apply there.",
    "disagree": "Two outcomes look met to me; the second reference letter shows them.",
    "appeal": "The assessor did not see the video of my work on the building site.",
    "dismiss_appeal": "The video was considered; it shows the work only in part.",
}


def _user(email: str, name: str, role: str, language: str, centre: Centre) -> User:
    user = accounts.find_by_email(email)
    if user is None:
        user = accounts.create_user(
            email=email,
            display_name=name,
            password=PASSWORD,
            role=role,
            language=language,
            actor=None,
            centre_id=centre.id,
        )
    return user


def load() -> bool:
    """Load everything; returns False when the demo data was already there."""
    catalog.import_catalog(CATALOG)
    if accounts.find_by_email(LOGINS[0][1]) is not None:
        return False
    centre = Centre(code="DEMO-KYIV", name="Demo validation centre, Kyiv", country="UA")
    db.session.add(centre)
    db.session.flush()
    staff = {
        "assessor": _user("assessor@demo.example", "Iryna Shevchenko", "assessor", "uk", centre),
        "second_assessor": _user("assessor2@demo.example", "Petar Nikolovski", "assessor", "en", centre),
        "coordinator": _user("coordinator@demo.example", "Davit Kapanadze", "coordinator", "en", centre),
        "admin": _user("admin@demo.example", "Admin", "admin", "en", centre),
    }
    # Both demo assessors may assess every sector of the catalog, in English and Ukrainian.
    sectors = staffing.catalog_sectors()
    staffing.set_qualifications(staff["assessor"].id, staff["admin"], [], sectors, ["en", "uk"])
    staffing.set_qualifications(staff["second_assessor"].id, staff["admin"], [], sectors, ["en", "uk"])
    for email, name, language, code, state in DEMO_CASES:
        candidate = _user(email, name, "candidate", language, centre)
        case = _case_in_state(candidate, code, state, staff)
        if (email, code) == REVOKED:
            award = awards.award_for_case(case.id)
            issued = credentials.for_award(award.id) if award else None
            if issued is not None:
                credentials.set_status(issued.id, "revoked", staff["coordinator"], REVOKED_REASON)
    return True


def _case_in_state(candidate: User, code: str, state: str, staff: dict[str, User]) -> Case:
    credential = catalog.by_code(code)
    assert credential is not None, code
    case = cases.open_case(candidate, credential.id)
    path = PATHS[state]
    if any(trigger == "submit" for trigger, _ in path):
        _portfolio(case, candidate)
    actors = {"candidate": candidate, **staff}
    for trigger, role in path:
        if role in ("assessor", "second_assessor"):
            # Whoever judged the case said first that they do not know the candidate; cases nobody has
            # judged yet ask their assessor on the first visit, as they would.
            db.session.refresh(case)
            if review.needs_declaration(actors[role], case):
                review.declare(case.id, actors[role], False, None)
        before_step(case, trigger, state, actors)
        cases.fire(case.id, trigger, actors[role], REASONS.get(trigger, "A reason given with the demo data."))
    return case


def before_step(case: Case, trigger: str, target: str, people: dict[str, User]) -> None:
    """What the people do before `trigger` is fired on the way to `target` (tests take the same paths).

    `people` names the candidate, the assessor, a second assessor (moderator, reviewer of an appeal) and the
    coordinator."""
    if trigger == "accept_for_review":
        cases.assign_assessor(case.id, people["assessor"].id, people["coordinator"])
    elif trigger in ("recommend", "uphold_appeal"):
        decide(case, people["assessor"] if trigger == "recommend" else people["second_assessor"], target)
    elif trigger == "send_to_moderation":
        moderation.assign_moderator(case.id, people["second_assessor"].id, people["coordinator"])
    elif trigger in ("agree", "disagree"):
        for index, claim in enumerate(cases.claimed(case)):
            agrees = trigger == "agree" or index > 0
            moderation.record_view(case.id, claim.outcome_id, people["second_assessor"], agrees,
                                   None if agrees else REASONS["disagree"])
    elif trigger == "start_appeal_review":
        cases.assign_assessor(case.id, people["second_assessor"].id, people["coordinator"])


def _portfolio(case: Case, candidate: User) -> None:
    claims = [c.outcome_id for c in case.claims]
    evidence.add_file(
        case.id,
        candidate,
        "Reference letter from my former employer",
        io.BytesIO(b"To whom it may concern: the holder worked with us for six years.\n"),
        "reference-letter.txt",
        claims[: len(claims) // 2 + 1],
    )
    evidence.add_statement(
        case.id,
        candidate,
        "How I did this work",
        "For six years I did this work every day, trained two apprentices and kept the logbook.",
        claims,
    )


def decide(case: Case, assessor: User, target: str) -> None:
    """A decision on every claimed outcome, as the way to `target` needs (see VERDICTS)."""
    kind = VERDICTS.get(target, "all")
    for index, claim in enumerate(cases.claimed(case)):
        verdict = "not_met" if kind == "none" or (kind == "some" and index % 2 == 1) else "met"
        rationale = None if verdict == "met" else "The evidence does not show this outcome at work."
        assessment.record_decision(
            case.id,
            claim.outcome_id,
            assessor,
            verdict,
            rationale,
            range(len(claim.outcome.criteria)) if verdict == "met" else (),
        )
