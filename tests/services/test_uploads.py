"""The upload service on its own: part files and rows that always agree, offsets, limits, expiry."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.services.test_evidence import PNG, TEXT
from validation.extensions import db
from validation.models import EvidenceItem, UploadSession, User, utcnow
from validation.services import accounts, evidence, uploads
from validation.services.errors import Conflict, Invalid, NotFound


@pytest.fixture
def setting(ctx):  # type: ignore[no-untyped-def]
    """A draft case of the factory candidate, committed; returns (candidate, case id, outcome ids)."""
    factories.load_catalog()
    who = factories.people()
    case = factories.case_in_state("draft", who)
    db.session.commit()
    return who["candidate"], case.id, [c.outcome_id for c in case.claims]


def start(candidate: User, case_id: int, outcomes: list[int], length: int = len(TEXT), **kwargs) -> UploadSession:  # type: ignore[no-untyped-def]
    session = uploads.create(case_id, candidate, length, "notes.txt", "Notes", outcomes[:1], **kwargs)
    db.session.commit()
    return session


def test_a_chunk_goes_to_the_offset_the_row_names_even_after_a_crash(setting):
    candidate, case_id, outcomes = setting
    session = start(candidate, case_id, outcomes)
    part = uploads.part_path(session.id)
    uploads.append(session.id, candidate, 0, io.BytesIO(TEXT[:20]))
    db.session.commit()
    # A request wrote more but crashed before its row was committed: those bytes are written again.
    with part.open("ab") as handle:
        handle.write(b"garbage that never counted")
    result = uploads.append(session.id, candidate, 20, io.BytesIO(TEXT[20:]))
    db.session.commit()
    assert result.finished and result.refused is None
    item = db.session.get(EvidenceItem, result.session.item_id)
    assert evidence.store().path_for(item.blob_sha256).read_bytes() == TEXT


def test_an_offset_other_than_the_one_received_is_refused(setting):
    candidate, case_id, outcomes = setting
    session = start(candidate, case_id, outcomes)
    uploads.append(session.id, candidate, 0, io.BytesIO(TEXT[:10]))
    db.session.commit()
    with pytest.raises(uploads.OffsetMismatch) as refused:
        uploads.append(session.id, candidate, 5, io.BytesIO(TEXT[5:10]))
    assert refused.value.received == 10 and refused.value.status == 409
    db.session.rollback()


def test_more_bytes_than_announced_are_refused_and_not_kept(setting):
    candidate, case_id, outcomes = setting
    session = start(candidate, case_id, outcomes, length=10)
    with pytest.raises(Invalid):
        uploads.append(session.id, candidate, 0, io.BytesIO(TEXT[:11]))
    db.session.rollback()
    assert uploads.part_path(session.id).stat().st_size == 0
    assert db.session.get(UploadSession, session.id).received == 0


def test_each_chunk_keeps_the_upload_alive(setting):
    candidate, case_id, outcomes = setting
    session = start(candidate, case_id, outcomes)
    session.expires_at = utcnow() + timedelta(minutes=5)
    db.session.commit()
    uploads.append(session.id, candidate, 0, io.BytesIO(TEXT[:10]))
    db.session.commit()
    assert db.session.get(UploadSession, session.id).expires_at > utcnow() + timedelta(hours=71)


def test_the_part_file_goes_only_when_the_new_state_is_committed(setting):
    candidate, case_id, outcomes = setting
    session = start(candidate, case_id, outcomes)
    part = uploads.part_path(session.id)
    uploads.append(session.id, candidate, 0, io.BytesIO(TEXT[:10]))
    db.session.commit()
    uploads.cancel(session.id, candidate)
    assert part.exists()
    db.session.rollback()
    assert part.exists() and db.session.get(UploadSession, session.id).state == "receiving"
    uploads.cancel(session.id, candidate)
    db.session.commit()
    assert not part.exists()


def test_a_finished_file_is_moved_into_the_store_not_copied(setting):
    candidate, case_id, outcomes = setting
    session = start(candidate, case_id, outcomes)
    part = uploads.part_path(session.id)
    uploads.append(session.id, candidate, 0, io.BytesIO(TEXT[:10]))
    db.session.commit()
    inode = part.stat().st_ino
    result = uploads.append(session.id, candidate, 10, io.BytesIO(TEXT[10:]))
    db.session.commit()
    item = db.session.get(EvidenceItem, result.session.item_id)
    stored = evidence.store().path_for(item.blob_sha256)
    assert stored.stat().st_ino == inode and not part.exists()


def test_if_the_item_is_not_committed_the_upload_must_start_again(setting):
    """The file went into the store (a file without a row is harmless); the upload cannot go on without it."""
    candidate, case_id, outcomes = setting
    session = start(candidate, case_id, outcomes)
    uploads.append(session.id, candidate, 0, io.BytesIO(TEXT[:10]))
    db.session.commit()
    uploads.append(session.id, candidate, 10, io.BytesIO(TEXT[10:]))
    db.session.rollback()
    result = uploads.append(session.id, candidate, 10, io.BytesIO(TEXT[10:]))
    db.session.commit()
    assert isinstance(result.refused, uploads.Gone) and result.session.state == "refused"
    assert db.session.execute(select(func.count(EvidenceItem.id))).scalar_one() == 0


def test_a_token_of_someone_elses_upload_gives_a_new_id(setting):
    candidate, case_id, outcomes = setting
    token = "12" * 16
    first = start(candidate, case_id, outcomes, client_token=token)
    assert first.id == token
    other = accounts.find_by_email("other-candidate@test.example")
    other_case = factories.case_in_state("draft", {**{"candidate": other}})
    db.session.commit()
    theirs = start(other, other_case.id, [c.outcome_id for c in other_case.claims], client_token=token)
    assert theirs.id != token
    with pytest.raises(NotFound):
        uploads.session_for(other, token)


def test_cancelling_is_idempotent_but_not_for_a_finished_upload(setting):
    candidate, case_id, outcomes = setting
    session = start(candidate, case_id, outcomes)
    assert uploads.cancel(session.id, candidate).state == "cancelled"
    db.session.commit()
    assert uploads.cancel(session.id, candidate).state == "cancelled"
    done = start(candidate, case_id, outcomes)
    uploads.append(done.id, candidate, 0, io.BytesIO(TEXT))
    db.session.commit()
    with pytest.raises(Conflict):
        uploads.cancel(done.id, candidate)
    db.session.rollback()


def test_the_quota_is_checked_again_when_the_file_is_complete(setting, app):
    candidate, case_id, outcomes = setting
    session = start(candidate, case_id, outcomes, length=len(PNG))
    app.config["CASE_QUOTA_BYTES"] = 10  # the centre lowered it meanwhile
    result = uploads.append(session.id, candidate, 0, io.BytesIO(PNG))
    db.session.commit()
    assert result.refused is not None and "used all the space" in result.refused.reason
    assert result.session.state == "refused" and result.session.refusal == evidence.QUOTA_REACHED
    assert db.session.execute(select(func.count(EvidenceItem.id))).scalar_one() == 0
    assert not uploads.part_path(session.id).exists()
    assert not any(p for p in evidence.store().root.rglob("*") if p.is_file())


def test_a_form_upload_cannot_take_the_space_an_upload_in_progress_was_promised(setting, app):
    candidate, case_id, outcomes = setting
    app.config["CASE_QUOTA_BYTES"] = 1000
    start(candidate, case_id, outcomes, length=1000 - len(TEXT) + 1)
    with pytest.raises(Invalid) as refused:
        evidence.add_file(case_id, candidate, "Recipe", io.BytesIO(TEXT), "recipe.txt", outcomes[:1])
    assert refused.value.reason == evidence.QUOTA_REACHED
    db.session.rollback()


def test_the_sweep_cancels_expired_uploads_and_removes_stray_parts(setting):
    candidate, case_id, outcomes = setting
    expired = start(candidate, case_id, outcomes)
    alive = start(candidate, case_id, outcomes)
    folder = uploads.part_dir()
    old_stray, new_stray = folder / ("a" * 32), folder / ("b" * 32)
    old_stray.write_bytes(b"left by a crash")
    new_stray.write_bytes(b"a session not committed yet")
    an_hour_ago = time.time() - uploads.ORPHAN_GRACE_SECONDS - 60
    os.utime(old_stray, (an_hour_ago, an_hour_ago))
    expired.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert uploads.sweep_expired() == 1
    assert uploads.part_path(expired.id).exists()  # until the cancellation is committed
    db.session.commit()
    assert db.session.get(UploadSession, expired.id).state == "cancelled"
    assert db.session.get(UploadSession, alive.id).state == "receiving"
    assert sorted(p.name for p in folder.iterdir()) == sorted([alive.id, new_stray.name])
    with pytest.raises(uploads.Gone):
        uploads.session_for(candidate, expired.id)
