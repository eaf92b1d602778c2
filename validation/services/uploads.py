"""Resumable uploads: the server side of tus 1.0.0 (core, creation, termination, expiration).

Written here because no maintained tus server exists for Flask (the Python ones are unmaintained or tied
to other frameworks), and the protocol's core is small: a session row says how many bytes arrived, the
bytes themselves live in `<EVIDENCE_DIR>/uploads/<id>`, shared by every app process, and nothing is kept
in process memory between requests. Each chunk is appended at the offset the row names, flushed and
fsynced before the row moves on, so a broken connection loses at most the chunk in flight. When the last
byte arrives the file takes the same path as a form upload (`evidence.store_file`): decoded, stored under
its SHA-256, turned into an item; a refused file leaves nothing behind but the refusal on the session.

The id of a session is the form's one-time token when the page gave one (the same form sent twice finds
the same upload, and its item carries the same token as a form-posted one would), otherwise random.
Appending a chunk is not audited (the session's start, end, refusal and cancellation are).
"""

from __future__ import annotations

import fcntl
import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from validation.extensions import db
from validation.models import Case, UploadSession, User, utcnow
from validation.services import audit, evidence
from validation.services.errors import Conflict, Invalid, NotFound, ServiceError
from validation.storage import Writeback
from validation.storage.blobs import fsync_dir as _fsync_dir
from validation.storage.inspect import N_

ID = re.compile(r"[0-9a-f]{32}")
COPY_CHUNK = 1024 * 1024
GONE = 410
#: A part file without a receiving session is left alone this long: its session may not be committed yet.
ORPHAN_GRACE_SECONDS = 3600
_REMOVE_KEY = "upload_parts_to_remove"


class Gone(ServiceError):
    """The upload was refused, cancelled or expired: the client has to start again."""

    status = GONE


class Busy(ServiceError):
    """Another request is writing this upload right now (two windows, or a retry that overtook itself)."""

    status = 423


class OffsetMismatch(Conflict):
    """The client sent bytes for another position than the one the server has reached."""

    def __init__(self, received: int) -> None:
        super().__init__(N_("The upload continues from another point; the rest is sent from there."))
        self.received = received


@dataclass(frozen=True)
class Appended:
    session: UploadSession
    #: Why the upload ended without an item (its refusal), if it did.
    refused: ServiceError | None = None
    #: This chunk was the last one and the file is now an item.
    finished: bool = False


def part_dir() -> Path:
    return Path(current_app.config["EVIDENCE_DIR"]) / "uploads"


def part_path(upload_id: str) -> Path:
    if not ID.fullmatch(upload_id):
        raise ValueError("not an upload id")
    return part_dir() / upload_id


def _expiry(now: datetime) -> datetime:
    return now + timedelta(hours=int(current_app.config["UPLOAD_EXPIRY_HOURS"]))


def is_expired(session: UploadSession, now: datetime | None = None) -> bool:
    return session.state == "receiving" and session.expires_at <= (now or utcnow())


# --- part files are removed only once the row saying so is committed ---------------------------------


def _remove_after_commit(path: Path) -> None:
    """A session's state and its part file must agree: the file goes only when the new state is durable."""
    db.session.info.setdefault(_REMOVE_KEY, []).append(path)


@event.listens_for(Session, "after_commit")
def _remove_parts(session: Session) -> None:
    for path in session.info.pop(_REMOVE_KEY, []):
        path.unlink(missing_ok=True)


@event.listens_for(Session, "after_rollback")
def _keep_parts(session: Session) -> None:
    session.info.pop(_REMOVE_KEY, None)


# --- reading ------------------------------------------------------------------------------------------


def _find(actor: User, upload_id: str, *, lock: bool = False) -> UploadSession:
    """The actor's own upload; anyone else's, or none, is 404 alike, so ids reveal nothing."""
    if not ID.fullmatch(upload_id or ""):
        raise NotFound("There is no such upload.")
    statement = select(UploadSession).where(UploadSession.id == upload_id)
    if lock:
        statement = statement.with_for_update()
    session = db.session.execute(statement).scalar_one_or_none()
    if session is None or session.user_id != actor.id:
        raise NotFound("There is no such upload.")
    return session


def owned(actor: User, upload_id: str) -> UploadSession:
    """The actor's upload in whatever state (before stopping it)."""
    return _find(actor, upload_id)


def _still_receiving(session: UploadSession) -> None:
    if session.state in ("refused", "cancelled") or is_expired(session):
        raise Gone(N_("This upload was stopped or has expired. Choose the file again to send it anew."))


def session_for(actor: User, upload_id: str) -> UploadSession:
    """Where an upload stands (for HEAD): receiving or complete; refused, cancelled or expired is gone."""
    session = _find(actor, upload_id)
    _still_receiving(session)
    return session


def receiving_for(actor: User, case_id: int) -> list[UploadSession]:
    return list(
        db.session.execute(
            select(UploadSession)
            .where(
                UploadSession.case_id == case_id,
                UploadSession.user_id == actor.id,
                UploadSession.state == "receiving",
            )
            .order_by(UploadSession.created_at)
        ).scalars()
    )


# --- changing -----------------------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    """Names are data, never paths; control characters are dropped so the name shows as it reads."""
    return "".join(c for c in (name or "") if ord(c) >= 32 and ord(c) != 127).strip()[:255]


def create(
    case_id: int,
    actor: User,
    length: int,
    original_name: str,
    title: str,
    outcome_ids: list[int],
    expected_version: int | None = None,
    client_token: str | None = None,
) -> UploadSession:
    """Start an upload of `length` bytes: the same checks as a form upload, before any byte arrives."""
    limit = int(current_app.config["MAX_FILE_BYTES"])
    token = client_token if client_token and ID.fullmatch(client_token) else None
    case = evidence._case_open_for_evidence(actor, case_id, expected_version, token)
    chosen = evidence._outcomes(case, outcome_ids)
    if length <= 0:
        raise Invalid("The file is empty.")
    if length > limit:
        too_large = evidence.file_too_large(limit)
        too_large.status = 413
        raise too_large
    existing = db.session.get(UploadSession, token) if token else None
    if (
        existing is not None
        and existing.user_id == actor.id
        and existing.case_id == case.id
        and existing.state == "receiving"
        and existing.length == length
        and not is_expired(existing)
    ):
        return existing  # the same form sent twice (a double click): one upload
    evidence.check_room(case, length)
    now = utcnow()
    session = UploadSession(
        id=token if token and existing is None else uuid.uuid4().hex,
        case_id=case.id,
        user_id=actor.id,
        length=length,
        received=0,
        state="receiving",
        original_name=_clean_name(original_name) or None,
        title=(title or "").strip()[:200],
        outcome_ids=chosen,
        created_at=now,
        updated_at=now,
        expires_at=_expiry(now),
    )
    db.session.add(session)
    db.session.flush()
    folder = part_dir()
    folder.mkdir(parents=True, exist_ok=True)
    # The row is ours (its id is unique); a file of that name can only be left by a creation never committed.
    fd = os.open(part_path(session.id), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    _fsync_dir(folder)
    audit.record("upload.started", actor=actor, case=case, upload_id=session.id, size=length)
    return session


@contextmanager
def part_lock(upload_id: str) -> Iterator[BinaryIO | None]:
    """The part file, open and locked for this request alone (None when it is gone).

    The bytes of a chunk go straight from the network into the part file, with no database transaction
    open meanwhile (on SQLite that would stop every other writer for as long as a phone takes to send the
    chunk). This lock, which every app process on the machine honours, keeps two requests from writing
    the same upload at once; the second is told to wait (423) and the client tries again."""
    if not ID.fullmatch(upload_id):
        yield None
        return
    try:
        handle = part_path(upload_id).open("r+b")
    except FileNotFoundError:
        yield None
        return
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(N_("This file is being sent from another window; the upload goes on by itself.")) from None
        yield handle  # closing the file releases the lock, after the caller has committed


def received_now(upload_id: str) -> int | None:
    """What the database says has arrived, read on a connection of its own (the request holds none)."""
    with db.engine.connect() as connection:
        return connection.execute(select(UploadSession.received).where(UploadSession.id == upload_id)).scalar()


def write_part(handle: BinaryIO, offset: int, stream: BinaryIO, room: int) -> int:
    """Write the stream at `offset` of the locked part file, at most `room` bytes, and make it durable.

    Bytes past `offset` are from a request whose offset was never committed: they are written over. The
    disk is asked to write as the bytes come (`Writeback`), so the closing fsync has little left to do.
    A stream that ends early (a broken connection) leaves what arrived, to be committed and kept."""
    handle.truncate(offset)
    handle.seek(offset)
    written = 0
    writeback = Writeback(handle.fileno(), offset)
    while block := stream.read(COPY_CHUNK):
        written += len(block)
        if written > room:
            handle.truncate(offset)
            raise Invalid("The upload sent more bytes than the file it announced.")
        handle.write(block)
        writeback.wrote(offset + written, handle.flush)
    handle.flush()
    os.fsync(handle.fileno())
    return written


def append(upload_id: str, actor: User, offset: int, chunk: BinaryIO | None, *, written: int = 0) -> Appended:
    """Append the chunk at `offset`; with the last byte, turn the file into an item (or refuse it).

    With `chunk` None the bytes are already in the part file (`write_part`, `written` of them): only the
    offset is committed here. A refusal is not raised but returned with the session marked refused, so that
    the caller commits it (and the part file goes): the upload cannot succeed any more, the client must not
    send it again."""
    session = _find(actor, upload_id, lock=True)
    if session.state == "complete":
        if offset != session.length or written or (chunk is not None and chunk.read(1)):
            raise OffsetMismatch(session.received)
        return Appended(session)
    _still_receiving(session)
    if offset != session.received:
        raise OffsetMismatch(session.received)
    try:
        case = evidence.case_open_for_evidence(actor, session.case_id)
    except ServiceError as refusal:
        return Appended(session, _refuse(session, actor, None, refusal))
    part = part_path(session.id)
    if not part.exists():
        return Appended(session, _refuse(session, actor, case, Gone(
            N_("The part of the file received so far was lost. Choose the file again to send it anew."))))
    room = session.length - offset
    if chunk is not None:
        with part.open("r+b") as out:
            written = write_part(out, offset, chunk, room)
    elif written > room:
        raise Invalid("The upload sent more bytes than the file it announced.")
    now = utcnow()
    session.received = offset + written
    session.updated_at = now
    session.expires_at = _expiry(now)
    db.session.flush()
    if session.received < session.length:
        return Appended(session)
    refused = _finish(session, actor, case, part)
    return Appended(session, refused, finished=refused is None)


def _finish(session: UploadSession, actor: User, case: Case, part: Path) -> ServiceError | None:
    try:
        chosen = evidence._outcomes(case, session.outcome_ids)
        # The part file is moved into the store (the same checks as a form's file, without a second copy).
        item = evidence.store_file(
            case, actor, session.title, part, session.original_name or "", chosen, session.id,
            upload_id=session.id,
        )
    except ServiceError as refusal:
        return _refuse(session, actor, case, refusal)
    session.state = "complete"
    session.item_id = item.id
    session.updated_at = utcnow()
    db.session.flush()
    _remove_after_commit(part)
    audit.record("upload.completed", actor=actor, case=case, upload_id=session.id, item_id=item.id)
    return None


def _refuse(session: UploadSession, actor: User, case: Case | None, refusal: ServiceError) -> ServiceError:
    session.state = "refused"
    session.refusal = refusal.reason
    session.updated_at = utcnow()
    db.session.flush()
    _remove_after_commit(part_path(session.id))
    audit.record(
        "upload.refused", actor=actor, case=case or db.session.get(Case, session.case_id),
        upload_id=session.id, size=session.received, status=refusal.status,
    )
    return refusal


def cancel(upload_id: str, actor: User) -> UploadSession:
    """Stop an upload and free its space (tus termination); stopping one already stopped changes nothing."""
    session = _find(actor, upload_id, lock=True)
    if session.state == "complete":
        raise Conflict("This upload is finished: the file is among your evidence.")
    if session.state != "receiving":
        return session
    session.state = "cancelled"
    session.updated_at = utcnow()
    db.session.flush()
    _remove_after_commit(part_path(session.id))
    audit.record(
        "upload.cancelled", actor=actor, case=db.session.get(Case, session.case_id), upload_id=session.id,
        size=session.received,
    )
    return session


def sweep_expired(now: datetime | None = None) -> int:
    """Cancel uploads past their expiry and remove their part files (once committed); returns how many.

    Part files that no receiving session names (left by a crash) are removed too, after a grace period."""
    now = now or utcnow()
    expired = list(
        db.session.execute(
            select(UploadSession)
            .where(UploadSession.state == "receiving", UploadSession.expires_at <= now)
            .order_by(UploadSession.created_at)
            .with_for_update()
        ).scalars()
    )
    for session in expired:
        session.state = "cancelled"
        session.updated_at = now
        _remove_after_commit(part_path(session.id))
    db.session.flush()
    for session in expired:
        audit.record(
            "upload.expired", case=db.session.get(Case, session.case_id), upload_id=session.id,
            size=session.received,
        )
    _remove_orphans({s.id for s in expired})
    return len(expired)


def _remove_orphans(expiring: set[str]) -> None:
    folder = part_dir()
    if not folder.is_dir():
        return
    receiving = set(
        db.session.execute(select(UploadSession.id).where(UploadSession.state == "receiving")).scalars()
    ) - expiring
    cutoff = time.time() - ORPHAN_GRACE_SECONDS
    for path in folder.iterdir():
        if path.name in receiving or path.name in expiring:
            continue
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            continue
