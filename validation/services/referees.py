"""Third-party attestations: a candidate asks a referee, the referee answers through a single-use link.

The referee has no account. The link carries a random token of which only the SHA-256 is stored; it
serves one request, one answer, until it expires. A confirmed or corrected answer becomes an attestation
item of the portfolio; who the referee says they are is kept as their claim, never as a checked identity.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select

from validation.extensions import db
from validation.models import Case, EvidenceItem, EvidenceLink, LearningOutcome, RefereeRequest, User, utcnow
from validation.models.evidence import REFEREE_ANSWERS
from validation.services import access, audit, cases, mail, profiles
from validation.services.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from validation.services.evidence import case_open_for_evidence, checked_outcomes

#: The page a referee opens; the web layer serves it at this path (see validation/web/referees.py).
REFEREE_PATH = "/referee/"
#: Requests waiting for an answer on one case: enough for any portfolio, too few to send mail in bulk.
MAX_WAITING = 10
GONE = 410


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _base_url() -> str:
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")


def status_of(request: RefereeRequest, now: datetime | None = None) -> str:
    """waiting, expired, cancelled, or the answer (confirmed / corrected / declined)."""
    if request.answer is not None:
        return request.answer
    if request.cancelled_at is not None:
        return "cancelled"
    if request.expires_at <= (now or utcnow()):
        return "expired"
    return "waiting"


def _text(value: str | None, limit: int, missing: str | None = None, *, one_line: bool = False) -> str | None:
    """Stripped text within its column's length (a name or role on one line); a refusal when it is required."""
    cleaned = " ".join((value or "").split()) if one_line else (value or "").strip()
    if not cleaned:
        if missing is not None:
            raise Invalid(missing)
        return None
    if len(cleaned) > limit:
        raise Invalid("One of the texts is too long.")
    return cleaned


def _outcome_ids(case: Case, outcome_ids: Iterable[int]) -> list[int]:
    """Outcomes the candidate still claims: one marked "not yet" is not put to a referee."""
    chosen = checked_outcomes(case, outcome_ids)
    left_out = {c.outcome_id for c in case.claims if c.self_assessment == "not_yet"}
    if left_out & set(chosen):
        raise Invalid("One of the chosen learning outcomes is not part of this case.")
    return chosen


def ask(
    case_id: int,
    actor: User,
    referee_name: str,
    referee_email: str,
    referee_language: str,
    relationship: str,
    statement: str,
    outcome_ids: Iterable[int],
    expected_version: int | None = None,
) -> tuple[RefereeRequest, str]:
    """Record the request and queue the invitation; returns the request and the token (only in the e-mail)."""
    case = case_open_for_evidence(actor, case_id, expected_version)
    chosen = _outcome_ids(case, outcome_ids)
    name = _text(referee_name, 120, "Give the name of the person you ask.", one_line=True)
    relation = _text(relationship, 200, "Say how this person knows your work.", one_line=True)
    said = _text(statement, 5000, "Write what the person should confirm.")
    try:
        address = validate_email((referee_email or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise Invalid("Give a valid e-mail address for the person you ask.") from None
    if len(address) > 254:
        raise Invalid("Give a valid e-mail address for the person you ask.")
    if actor.email and address.lower() == actor.email.lower():
        raise Invalid("Ask someone else: nobody can confirm their own work.")
    if referee_language not in current_app.config["LANGUAGES"]:
        raise Invalid("Choose the language of the e-mail.")
    now = utcnow()
    waiting = db.session.execute(
        select(func.count(RefereeRequest.id)).where(
            RefereeRequest.case_id == case.id,
            RefereeRequest.answered_at.is_(None),
            RefereeRequest.cancelled_at.is_(None),
            RefereeRequest.expires_at > now,
        )
    ).scalar_one()
    if waiting >= MAX_WAITING:
        raise Conflict("Too many referees have not answered yet. Wait for their answers or cancel a request.")
    token = secrets.token_urlsafe(32)
    request = RefereeRequest(
        case_id=case.id,
        requested_by_id=actor.id,
        referee_name=name,
        referee_email=address,
        referee_language=referee_language,
        relationship_to_candidate=relation,
        statement=said,
        outcome_ids=chosen,
        token_hash=_hash(token),
        created_at=now,
        expires_at=now + timedelta(days=int(current_app.config.get("REFEREE_LINK_DAYS", 30))),
    )
    db.session.add(request)
    case.updated_at = now
    db.session.flush()
    audit.record(
        "referee.requested", actor=actor, case=case, request_id=request.id, outcomes=chosen,
        language=referee_language,
    )
    outcomes = db.session.execute(
        select(LearningOutcome).where(LearningOutcome.id.in_(chosen)).order_by(LearningOutcome.position)
    ).scalars().all()
    mail.queue(
        address,
        referee_language,
        "referee_invitation",
        "referee_invitation",
        referee_name=name,
        candidate_name=actor.display_name,
        credential_title=case.credential.text("title", referee_language),
        relationship=relation,
        statement=said,
        outcomes=outcomes,
        expires_at=request.expires_at,
        link=_base_url() + REFEREE_PATH + token,
    )
    return request, token


def _by_token(token: str) -> RefereeRequest:
    # Any string may arrive in the URL; only a hash of it touches the database.
    found = db.session.execute(
        select(RefereeRequest).where(RefereeRequest.token_hash == _hash(token or ""))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("This link is not valid. Please check that you copied the whole link from the e-mail.")
    return found


def _check_live(request: RefereeRequest, case: Case) -> None:
    """A plain refusal for each way a link dies; none of them tells more about the case than the e-mail did."""
    state = status_of(request)
    if state in REFEREE_ANSWERS:
        raise ServiceError("This request has already been answered. Thank you.", GONE)
    if state == "cancelled":
        raise ServiceError("This request was withdrawn by the person who made it. Nothing more is needed.", GONE)
    if state == "expired":
        raise ServiceError(
            "This link has expired. If you still want to answer, ask the person who contacted you to send a new "
            "request.",
            GONE,
        )
    if not case.is_open:
        raise ServiceError("This request is no longer open. Nothing more is needed.", GONE)


def language_for(token: str) -> str | None:
    """The language the invitation was written in, for the page that says a link is over."""
    return db.session.execute(
        select(RefereeRequest.referee_language).where(RefereeRequest.token_hash == _hash(token or ""))
    ).scalar_one_or_none()


def for_token(token: str) -> RefereeRequest:
    """The live request behind a link, or a refusal: 404 for an unknown link, 410 for one that is over."""
    request = _by_token(token)
    _check_live(request, db.session.get(Case, request.case_id))
    return request


@dataclass(frozen=True)
class Invitation:
    """What the referee's page shows: no more than the invitation e-mail already told."""

    request: RefereeRequest
    candidate_name: str
    case: Case
    outcomes: list[LearningOutcome]


def invitation(token: str) -> Invitation:
    request = for_token(token)
    case = db.session.get(Case, request.case_id)
    assert case is not None
    by_id = {c.outcome_id: c.outcome for c in case.claims}
    return Invitation(request, case.candidate.display_name, case, [by_id[o] for o in request.outcome_ids if o in by_id])


def answer(
    token: str,
    answer: str,
    correction: str | None = None,
    claimed_name: str | None = None,
    claimed_role: str | None = None,
    claimed_organisation: str | None = None,
    claimed_contact: str | None = None,
    signed_in: User | None = None,
) -> RefereeRequest:
    """Record the referee's answer; a confirmation or correction becomes an attestation item.

    The case row, then the request row, are locked (the order every writer of a case takes), and the
    request is read again under the lock: of two answers sent at once, the second finds it answered.
    `signed_in` is whoever the answering browser was signed in as, if anyone: an answer given from the
    candidate's own account is kept as a fact for the assessor to weigh.
    """
    found = _by_token(token)
    case_query = select(Case).where(Case.id == found.case_id)
    request_query = select(RefereeRequest).where(RefereeRequest.id == found.id)
    if db.session.get_bind().dialect.name == "postgresql":
        case_query = case_query.with_for_update()
        request_query = request_query.with_for_update()
    case = db.session.execute(case_query.execution_options(populate_existing=True)).scalar_one()
    request = db.session.execute(request_query.execution_options(populate_existing=True)).scalar_one()
    _check_live(request, case)
    if answer not in REFEREE_ANSWERS:
        raise Invalid("Choose your answer: confirm, correct or decline.")
    corrected = _text(correction, 5000) if answer == "corrected" else None
    if answer == "corrected" and corrected is None:
        raise Invalid("Write the statement as you can confirm it.")
    name = _text(claimed_name, 120, one_line=True)
    if answer != "declined" and name is None:
        raise Invalid("Give your name, so that the assessor knows who confirms this.")
    now = utcnow()
    request.answer = answer
    request.answered_at = now
    request.correction = corrected
    request.claimed_name = name
    request.claimed_role = _text(claimed_role, 200, one_line=True)
    request.claimed_organisation = _text(claimed_organisation, 200, one_line=True)
    request.claimed_contact = _text(claimed_contact, 254, one_line=True)
    item = None
    if answer != "declined":
        item = _attestation(case, request, corrected or request.statement, now)
    request.details = {
        **(request.details or {}),
        "signed_in_role": signed_in.role if signed_in is not None else None,
        "signed_in_as_candidate": signed_in is not None and signed_in.id == case.candidate_id,
    }
    case.updated_at = now
    db.session.flush()
    audit.record(
        "referee.answered", case=case, request_id=request.id, answer=answer,
        item_id=item.id if item is not None else None, late=bool(item is not None and item.submitted_at),
    )
    _tell_candidate(case, request)
    return request


def _attestation(case: Case, request: RefereeRequest, text: str, now: datetime) -> EvidenceItem:
    """The answer as evidence, in the case's current round; frozen at once if the portfolio already is."""
    late = not cases.evidence_open(case)
    item = EvidenceItem(
        case_id=case.id,
        kind="attestation",
        # The names the candidate gave: words of theirs, the same in every language of the page.
        title=f"{request.referee_name} — {request.relationship_to_candidate}"[:200],
        statement=text,
        # The referee has no account: the item is filed under the candidate who asked for it.
        created_by_id=request.requested_by_id,
        created_at=now,
        submission_round=case.submission_round,
        submitted_at=now if late else None,
    )
    db.session.add(item)
    db.session.flush()
    for outcome_id in request.outcome_ids:
        db.session.add(EvidenceLink(item_id=item.id, case_id=case.id, outcome_id=outcome_id))
    request.item_id = item.id
    request.details = {**(request.details or {}), "arrived_after_submission": late}
    return item


def _tell_candidate(case: Case, request: RefereeRequest) -> None:
    """An e-mail in the candidate's language, if they have an address and did not opt out of e-mail."""
    candidate = case.candidate
    if not candidate.email or not profiles.profile_of(candidate).contact_by_email:
        return
    language = candidate.preferred_language
    mail.queue(
        candidate.email,
        language,
        "referee_answered",
        "referee_answered",
        candidate_name=candidate.display_name,
        referee_name=request.referee_name,
        answer=request.answer,
        credential_title=case.credential.text("title", language),
        link=f"{_base_url()}/cases/{case.id}#referees",
    )


def cancel(case_id: int, request_id: int, actor: User, expected_version: int | None = None) -> RefereeRequest:
    """The candidate withdraws a request nobody answered yet; its link stops working at once."""
    if actor.role != "candidate":
        raise Forbidden("Only the candidate who asked may cancel the request.")
    case = access.case_to_act_on(actor, case_id)
    cases.check_version(case, expected_version)
    statement = select(RefereeRequest).where(RefereeRequest.id == request_id, RefereeRequest.case_id == case.id)
    if db.session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    request = db.session.execute(statement.execution_options(populate_existing=True)).scalar_one_or_none()
    if request is None:
        raise NotFound("There is no such request.")
    if not case.is_open:
        raise Conflict("This case is closed; nothing can be changed on it.")
    state = status_of(request)
    if state in REFEREE_ANSWERS:
        raise Conflict("The referee has already answered; the answer stays with your case.")
    if state != "waiting":
        raise Conflict("This request is no longer waiting for an answer.")
    now = utcnow()
    request.cancelled_at = now
    case.updated_at = now
    db.session.flush()
    audit.record("referee.cancelled", actor=actor, case=case, request_id=request.id)
    return request
