"""Evidence: items added to a case and linked to the outcomes they support.

Every file, whether it came in one form post or in many resumable-upload requests, goes through
`store_file`: limits, streamed storage under its SHA-256, the decoder's verdict, the case quota, then the
row and its audit event. A form's one-time token (`client_token`) makes a repeated post find the item the
first post made instead of adding a second one.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import bindparam, func, select

from validation.extensions import db
from validation.models import Blob, Case, EvidenceItem, EvidenceLink, UploadSession, User, utcnow
from validation.services import access, audit, presence, profiles
from validation.services.errors import Conflict, Forbidden, Invalid, NotFound
from validation.storage import BlobStore, ContentRefused, EmptyFile, ReceivingFile, TooLarge, inspect, previews
from validation.storage.inspect import N_

MB = 1024 * 1024
URL_MAX = 2000
QUOTA_REACHED = N_("This case has used all the space it has for files; please ask your coordinator.")
COUNT_REACHED = N_("This case holds as many pieces of evidence as it may; please ask your coordinator.")


class AlreadySaved(Conflict):
    """The same form was sent again (a double click, a resend after a lost answer): its item exists already."""

    def __init__(self, item: EvidenceItem) -> None:
        super().__init__(N_("This evidence was already saved."))
        self.item = item


class LimitReached(Invalid):
    """A refusal that names a number. The English reason is complete; `template` and `params` let a page
    say it in the reader's language, since a sentence with a number in it cannot be translated by value."""

    def __init__(self, template: str, **params: int) -> None:
        super().__init__(template % params)
        self.template = template
        self.params = params


def file_too_large(limit: int) -> LimitReached:
    return LimitReached(N_("The file is larger than %(mb)s MB."), mb=limit // MB)


def store() -> BlobStore:
    return BlobStore(current_app.config["EVIDENCE_DIR"])


def receiving_file() -> ReceivingFile:
    """Where a form's file part is written as it arrives: in the store, hashed on the way, so that keeping
    it is a rename. It keeps nothing past the per-file limit, and is removed when closed unless stored."""
    return store().receiving_file(int(current_app.config["MAX_FILE_BYTES"]))


def _case_open_for_evidence(
    actor: User, case_id: int, expected_version: int | None, client_token: str | None = None
) -> Case:
    """The actor's own case, locked, open for evidence, unchanged since their page was built.

    A repeated form (same token) is recognised before the version is compared: the first post changed
    the case, so its twin would otherwise be refused as stale instead of being told it was saved."""
    from validation.services.cases import check_version, evidence_open

    if actor.role != "candidate":
        raise Forbidden("Only the candidate adds evidence to their portfolio.")
    case = access.case_to_act_on(actor, case_id)
    saved = saved_with_token(case.id, client_token)
    if saved is not None:
        raise AlreadySaved(saved)
    check_version(case, expected_version)
    profiles.require_consent(actor)
    if not evidence_open(case):
        raise Conflict(
            "Evidence can only be added while the portfolio is being prepared or more is requested."
        )
    return case


def case_open_for_evidence(actor: User, case_id: int, expected_version: int | None = None) -> Case:
    """For the resumable uploads: the same checks a form goes through."""
    return _case_open_for_evidence(actor, case_id, expected_version)


def saved_with_token(case_id: int, client_token: str | None) -> EvidenceItem | None:
    if not client_token:
        return None
    return db.session.execute(
        select(EvidenceItem).where(EvidenceItem.case_id == case_id, EvidenceItem.client_token == client_token)
    ).scalar_one_or_none()


def _outcomes(case: Case, outcome_ids: Iterable[int]) -> list[int]:
    claimed = {c.outcome_id for c in case.claims}
    chosen = sorted(set(outcome_ids))
    if not chosen:
        raise Invalid("Link the evidence to at least one learning outcome.")
    if any(o not in claimed for o in chosen):
        raise Invalid("One of the chosen learning outcomes is not part of this case.")
    return chosen


def checked_outcomes(case: Case, outcome_ids: Iterable[int]) -> list[int]:
    return _outcomes(case, outcome_ids)


# --- limits -------------------------------------------------------------------------------------------


def pending_uploads(case_id: int, exclude: str | None = None) -> tuple[int, int]:
    """(count, bytes announced) of the case's resumable uploads still receiving: space they will need."""
    statement = select(func.count(UploadSession.id), func.coalesce(func.sum(UploadSession.length), 0)).where(
        UploadSession.case_id == case_id, UploadSession.state == "receiving"
    )
    if exclude is not None:
        statement = statement.where(UploadSession.id != exclude)
    count, size = db.session.execute(statement).one()
    return int(count), int(size)


def bytes_used(case_id: int) -> int:
    """The size of the case's files; the same file added twice counts twice (it is the case's space)."""
    return int(
        db.session.execute(
            select(func.coalesce(func.sum(Blob.size), 0))
            .select_from(EvidenceItem)
            .join(Blob, Blob.sha256 == EvidenceItem.blob_sha256)
            .where(EvidenceItem.case_id == case_id)
        ).scalar_one()
    )


def check_room(case: Case, adding_bytes: int = 0, *, exclude_upload: str | None = None) -> None:
    """Refuse another item when the case holds the most it may, or its files would pass the quota.

    Uploads still receiving count with their announced length, so that a form upload cannot take the
    space an upload in progress was promised when it started."""
    config = current_app.config
    pending_count, pending_bytes = pending_uploads(case.id, exclude_upload)
    items = db.session.execute(
        select(func.count(EvidenceItem.id)).where(EvidenceItem.case_id == case.id)
    ).scalar_one()
    if items + pending_count >= config["MAX_ITEMS_PER_CASE"]:
        raise Invalid(COUNT_REACHED)
    used = bytes_used(case.id) + pending_bytes
    if used >= config["CASE_QUOTA_BYTES"] or used + adding_bytes > config["CASE_QUOTA_BYTES"]:
        raise Invalid(QUOTA_REACHED)


# --- adding items -------------------------------------------------------------------------------------


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
    client_token: str | None = None,
) -> EvidenceItem:
    case = _case_open_for_evidence(actor, case_id, expected_version, client_token)
    chosen = _outcomes(case, outcome_ids)
    if not statement.strip():
        raise Invalid("Write the statement before saving it.")
    check_room(case)
    item = EvidenceItem(
        kind="statement", title=title.strip(), statement=statement.strip(), client_token=client_token or None
    )
    return _add(case, actor, item, chosen)


def checked_url(url: str) -> str:
    """A web address an assessor can open safely: http or https, a host, no spaces, no user name."""
    cleaned = (url or "").strip()
    try:
        parts = urlsplit(cleaned)
    except ValueError:
        raise Invalid("Enter a web address that starts with https:// or http://.") from None
    if (
        not cleaned
        or len(cleaned) > URL_MAX
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in cleaned)
    ):
        raise Invalid("Enter a web address that starts with https:// or http://.")
    return cleaned


def add_link(
    case_id: int,
    actor: User,
    title: str,
    url: str,
    outcome_ids: Iterable[int],
    expected_version: int | None = None,
    client_token: str | None = None,
) -> EvidenceItem:
    """A link to evidence kept elsewhere (a video, a published article, a portfolio site)."""
    case = _case_open_for_evidence(actor, case_id, expected_version, client_token)
    chosen = _outcomes(case, outcome_ids)
    address = checked_url(url)
    check_room(case)
    host = urlsplit(address).hostname or address
    item = EvidenceItem(
        kind="link", title=(title.strip() or host)[:200], url=address, client_token=client_token or None
    )
    return _add(case, actor, item, chosen)


def add_file(
    case_id: int,
    actor: User,
    title: str,
    stream: BinaryIO,
    original_name: str,
    outcome_ids: Iterable[int],
    expected_version: int | None = None,
    client_token: str | None = None,
) -> EvidenceItem:
    """A file sent with the form: the checks of the case, then the one path every file takes."""
    case = _case_open_for_evidence(actor, case_id, expected_version, client_token)
    chosen = _outcomes(case, outcome_ids)
    check_room(case)
    return store_file(case, actor, title, stream, original_name, chosen, client_token)


def store_file(
    case: Case,
    actor: User,
    title: str,
    source: BinaryIO | Path,
    original_name: str,
    outcome_ids: list[int],
    client_token: str | None = None,
    *,
    upload_id: str | None = None,
) -> EvidenceItem:
    """Store the bytes (streamed, hashed, atomic), check their type, then write the row and its audit.

    `source` is the form's file as it was received into the store (`receiving_file`), any other stream, or
    the finished file of a resumable upload (`upload_id`), which is
    moved into the store instead of copied; that upload's announced length no longer counts as pending.
    The case must already be checked (`_case_open_for_evidence`), and the outcomes too."""
    blobs = store()
    limit = current_app.config["MAX_FILE_BYTES"]
    try:
        if isinstance(source, Path):
            stored = blobs.put_file(source, limit, check=inspect)
        elif isinstance(source, ReceivingFile):
            stored = blobs.put_received(source, check=inspect)
        else:
            stored = blobs.put(source, limit, check=inspect)
    except TooLarge:
        raise file_too_large(limit) from None
    except EmptyFile:
        raise Invalid("The file is empty.") from None
    except ContentRefused as refusal:
        raise Invalid(refusal.message) from None
    try:
        check_room(case, stored.size, exclude_upload=upload_id)
    except Invalid:
        blobs.discard(stored)
        raise
    media_type = stored.media_type or "application/octet-stream"
    blob = db.session.get(Blob, stored.sha256)
    if blob is None:
        blob = Blob(sha256=stored.sha256, size=stored.size, media_type=media_type)
        db.session.add(blob)
    item = EvidenceItem(
        kind="file",
        title=title.strip()[:200] or original_name[:200] or "file",
        blob=blob,
        original_name=original_name[:255] or None,
        media_type=media_type,
        client_token=client_token or None,
    )
    return _add(case, actor, item, outcome_ids)


_ITEMS_OF = select(EvidenceItem).where(EvidenceItem.case_id == bindparam("case_id")).order_by(EvidenceItem.id)


def items_of(case_id: int) -> list[EvidenceItem]:
    if presence.empty(case_id, "evidence_items"):
        return []
    return list(db.session.execute(_ITEMS_OF, {"case_id": case_id}).scalars())


def item_for(user: User, case_id: int, item_id: int) -> EvidenceItem:
    case = access.case_for(user, case_id)
    item = db.session.get(EvidenceItem, item_id)
    if item is None or item.case_id != case.id:
        raise NotFound("There is no such evidence item.")
    return item


#: What a preview of the first page is made of; other files are shown as they are, or not at all.
PREVIEWED_TYPES = frozenset({"application/pdf"})


def preview_for(user: User, case_id: int, item_id: int) -> Path:
    """A picture of the first page of a PDF item, for those who may see the item (drawn on first request)."""
    item = item_for(user, case_id, item_id)
    if item.blob is None or item.media_type not in PREVIEWED_TYPES:
        raise NotFound("This evidence has no preview.")
    blobs = store()
    try:
        return previews.first_page_png(blobs.path_for(item.blob.sha256), blobs.root, item.blob.sha256)
    except previews.NoPreview as exc:
        raise NotFound("This document cannot be shown as a picture: open the file instead.") from exc
