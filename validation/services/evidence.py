"""Evidence: items added to a case and linked to the outcomes they support."""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

from flask import current_app
from sqlalchemy import func, select

from validation.extensions import db
from validation.models import Blob, Case, EvidenceItem, EvidenceLink, User, utcnow
from validation.services import access, audit, profiles
from validation.services.errors import Conflict, Forbidden, Invalid, NotFound
from validation.storage import BlobStore, ContentRefused, EmptyFile, TooLarge, inspect


def store() -> BlobStore:
    return BlobStore(current_app.config["EVIDENCE_DIR"])


def _case_open_for_evidence(actor: User, case_id: int, expected_version: int | None) -> Case:
    from validation.services.cases import check_version, evidence_open

    if actor.role != "candidate":
        raise Forbidden("Only the candidate adds evidence to their portfolio.")
    case = access.case_to_act_on(actor, case_id)
    check_version(case, expected_version)
    profiles.require_consent(actor)
    if not evidence_open(case):
        raise Conflict(
            "Evidence can only be added while the portfolio is being prepared or more is requested."
        )
    return case


def _outcomes(case: Case, outcome_ids: Iterable[int]) -> list[int]:
    claimed = {c.outcome_id for c in case.claims}
    chosen = sorted(set(outcome_ids))
    if not chosen:
        raise Invalid("Link the evidence to at least one learning outcome.")
    if any(o not in claimed for o in chosen):
        raise Invalid("One of the chosen learning outcomes is not part of this case.")
    return chosen


def _add(case: Case, actor: User, item: EvidenceItem, outcome_ids: list[int]) -> EvidenceItem:
    item.case_id = case.id
    item.created_by_id = actor.id
    item.submission_round = case.submission_round
    db.session.add(item)
    db.session.flush()
    for outcome_id in outcome_ids:
        db.session.add(EvidenceLink(item_id=item.id, case_id=case.id, outcome_id=outcome_id))
    case.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "evidence.added",
        actor=actor,
        case=case,
        item_id=item.id,
        kind=item.kind,
        outcomes=outcome_ids,
        size=item.blob.size if item.blob else None,
    )
    return item


def add_statement(
    case_id: int,
    actor: User,
    title: str,
    statement: str,
    outcome_ids: Iterable[int],
    expected_version: int | None = None,
) -> EvidenceItem:
    case = _case_open_for_evidence(actor, case_id, expected_version)
    chosen = _outcomes(case, outcome_ids)
    if not statement.strip():
        raise Invalid("Write the statement before saving it.")
    item = EvidenceItem(kind="statement", title=title.strip(), statement=statement.strip())
    return _add(case, actor, item, chosen)


def add_file(
    case_id: int,
    actor: User,
    title: str,
    stream: BinaryIO,
    original_name: str,
    outcome_ids: Iterable[int],
    expected_version: int | None = None,
) -> EvidenceItem:
    """Store the bytes (streamed, hashed, atomic), check their type, then write the row and its audit."""
    case = _case_open_for_evidence(actor, case_id, expected_version)
    chosen = _outcomes(case, outcome_ids)
    blobs = store()
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    try:
        stored = blobs.put(stream, limit, check=inspect)
    except TooLarge:
        raise Invalid(f"The file is larger than {limit // (1024 * 1024)} MB.") from None
    except EmptyFile:
        raise Invalid("The file is empty.") from None
    except ContentRefused as refusal:
        raise Invalid(refusal.message) from None
    media_type = stored.media_type or "application/octet-stream"
    used = db.session.execute(
        select(func.coalesce(func.sum(Blob.size), 0))
        .select_from(EvidenceItem)
        .join(Blob, Blob.sha256 == EvidenceItem.blob_sha256)
        .where(EvidenceItem.case_id == case.id)
    ).scalar_one()
    if used + stored.size > current_app.config["CASE_QUOTA_BYTES"]:
        blobs.discard(stored)
        raise Invalid("This case has used all the space it has for files; please ask your coordinator.")
    blob = db.session.get(Blob, stored.sha256)
    if blob is None:
        blob = Blob(sha256=stored.sha256, size=stored.size, media_type=media_type)
        db.session.add(blob)
    item = EvidenceItem(
        kind="file",
        title=title.strip() or original_name[:200] or "file",
        blob=blob,
        original_name=original_name[:255] or None,
        media_type=media_type,
    )
    return _add(case, actor, item, chosen)


def items_of(case_id: int) -> list[EvidenceItem]:
    return list(
        db.session.execute(
            select(EvidenceItem).where(EvidenceItem.case_id == case_id).order_by(EvidenceItem.id)
        ).scalars()
    )


def item_for(user: User, case_id: int, item_id: int) -> EvidenceItem:
    case = access.case_for(user, case_id)
    item = db.session.get(EvidenceItem, item_id)
    if item is None or item.case_id != case.id:
        raise NotFound("There is no such evidence item.")
    return item
