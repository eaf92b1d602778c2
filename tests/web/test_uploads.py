"""Resumable uploads (tus 1.0.0) through HTTP: creation, offsets, resuming after a broken connection,
termination, expiry, and every refusal leaving nothing behind."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.conftest import login
from tests.services.test_evidence import HTML, PDF, TEXT, World, files_in_store, lock_version, make_world, text_of
from tests.web.tus import TUS, Tus, metadata, mp4_bytes, part_files
from validation.extensions import db
from validation.models import AuditEvent, Blob, Case, EvidenceItem, UploadSession, utcnow
from validation.services import accounts, cases
from validation.storage.inspect import NOT_ACCEPTED


@pytest.fixture
def world(app) -> World:  # type: ignore[no-untyped-def]
    return make_world(app)


@pytest.fixture
def tus(world) -> Tus:  # type: ignore[no-untyped-def]
    return Tus(world.candidate, world.case_id)


def session_of(app, location: str) -> UploadSession:  # type: ignore[no-untyped-def]
    with app.app_context():
        found = db.session.get(UploadSession, location.rsplit("/", 1)[1])
        assert found is not None
        db.session.expunge(found)
        return found


def count(app, model) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return int(db.session.execute(select(func.count()).select_from(model)).scalar_one())


def actions(app) -> list[str]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return list(db.session.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars())


def store_files(app) -> list[Path]:  # type: ignore[no-untyped-def]
    """Stored blobs only (not part files of uploads in progress)."""
    return [p for p in files_in_store(app) if "uploads" not in p.parts]


# --- the protocol -----------------------------------------------------------------------------------------


def test_options_announce_version_extensions_and_largest_size(world):
    response = world.candidate.options(f"/cases/{world.case_id}/uploads")
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {"creation", "termination", "expiration"}
    assert response.headers["Tus-Max-Size"] == str(2 * 1024 * 1024)


def test_a_file_sent_in_several_chunks_becomes_an_item(world, tus):
    created = tus.create(len(TEXT), world.outcomes[:2], name="recipe.txt", title="Recipe card",
                         version=lock_version(world.app, world.case_id))
    assert created.status_code == 201, text_of(created)
    assert created.headers["Tus-Resumable"] == "1.0.0"
    assert "Upload-Expires" in created.headers
    location = created.headers["Location"]
    assert location.startswith("/uploads/") and len(location.rsplit("/", 1)[1]) == 32
    status = tus.head(location)
    assert status.status_code == 200
    assert status.headers["Upload-Offset"] == "0" and status.headers["Upload-Length"] == str(len(TEXT))
    assert status.headers["Cache-Control"] == "no-store"
    assert len(part_files(world.app)) == 1

    first = tus.patch(location, 0, TEXT[:30])
    assert first.status_code == 204 and first.headers["Upload-Offset"] == "30"
    assert tus.head(location).headers["Upload-Offset"] == "30"
    assert count(world.app, EvidenceItem) == 0
    second = tus.patch(location, 30, TEXT[30:60])
    assert second.headers["Upload-Offset"] == "60"
    last = tus.patch(location, 60, TEXT[60:])
    assert last.status_code == 204, text_of(last)
    assert last.headers["Upload-Offset"] == str(len(TEXT))

    digest = hashlib.sha256(TEXT).hexdigest()
    with world.app.app_context():
        (item,) = db.session.execute(select(EvidenceItem)).scalars()
        assert item.kind == "file" and item.blob_sha256 == digest and item.media_type == "text/plain"
        assert item.title == "Recipe card" and item.original_name == "recipe.txt"
        assert sorted(link.outcome_id for link in item.links) == sorted(world.outcomes[:2])
        session = db.session.get(UploadSession, location.rsplit("/", 1)[1])
        assert session.state == "complete" and session.item_id == item.id and session.received == len(TEXT)
        assert item.client_token == session.id
    assert part_files(world.app) == []
    assert [p.read_bytes() for p in store_files(world.app)] == [TEXT]
    assert actions(world.app)[-3:] == ["upload.started", "evidence.added", "upload.completed"]
    # A finished upload still answers where it stands, and the case page says the evidence is saved.
    assert tus.head(location).headers["Upload-Offset"] == str(len(TEXT))
    page = text_of(world.candidate.get(f"/cases/{world.case_id}"))
    assert "The evidence is saved." in page and "recipe.txt" in page


def test_a_chunk_that_stops_short_is_kept_and_the_upload_goes_on_from_there(world, tus):
    data = mp4_bytes(b"\x01\x02" * 3000)
    location = tus.create(len(data), world.outcomes[:1], name="clip.mp4").headers["Location"]
    # The connection breaks after 2500 of the 4000 bytes the request announced.
    broken = tus.patch_cut_off(location, 0, data[:2500], announced=4000)
    assert broken.status_code == 400
    assert broken.headers["Upload-Offset"] == "2500"
    assert "What arrived is kept" in text_of(broken)
    assert tus.head(location).headers["Upload-Offset"] == "2500"
    # A request that simply sends less than the rest moves the offset as far as it goes.
    assert tus.patch(location, 2500, data[2500:4000]).headers["Upload-Offset"] == "4000"
    done = tus.patch(location, 4000, data[4000:])
    assert done.status_code == 204
    with world.app.app_context():
        (item,) = db.session.execute(select(EvidenceItem)).scalars()
        assert item.media_type == "video/mp4" and item.blob.size == len(data)
        assert item.blob_sha256 == hashlib.sha256(data).hexdigest()


def test_a_second_request_while_one_writes_is_told_to_wait_and_changes_nothing(world, tus):
    """Two windows sending the same file: while one request holds the part file, the other gets 423 (the
    client retries) and neither the file nor the offset moves."""
    from validation.services import uploads

    location = tus.create(len(TEXT), world.outcomes[:1]).headers["Location"]
    assert tus.patch(location, 0, TEXT[:20]).status_code == 204
    upload_id = location.rsplit("/", 1)[1]
    with world.app.app_context():
        part = uploads.part_path(upload_id)
        before = part.read_bytes()
        with uploads.part_lock(upload_id) as held:  # the other request, still writing
            assert held is not None
            response = tus.patch(location, 20, TEXT[20:40])
        assert response.status_code == 423
        assert part.read_bytes() == before
    assert tus.head(location).headers["Upload-Offset"] == "20"
    assert tus.patch(location, 20, TEXT[20:40]).status_code == 204  # once it is free, the upload goes on


def test_a_wrong_offset_is_a_conflict_that_says_where_the_upload_stands(world, tus):
    location = tus.create(len(TEXT), world.outcomes[:1]).headers["Location"]
    assert tus.patch(location, 0, TEXT[:20]).status_code == 204
    for wrong in (0, 10, 21):
        response = tus.patch(location, wrong, TEXT[wrong:wrong + 5])
        assert response.status_code == 409
        assert response.headers["Upload-Offset"] == "20"
    assert tus.head(location).headers["Upload-Offset"] == "20"
    assert session_of(world.app, location).received == 20


def test_more_bytes_than_announced_are_refused(world, tus):
    location = tus.create(10, world.outcomes[:1]).headers["Location"]
    response = tus.patch(location, 0, TEXT[:11])
    assert response.status_code == 413
    assert tus.head(location).headers["Upload-Offset"] == "0"


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"Tus-Resumable": "0.2.2"}, 412),
        ({"Upload-Length": ""}, 400),
        ({"Upload-Length": "-5"}, 400),
        ({"Upload-Length": "\u00b2"}, 400),
        ({"Upload-Metadata": "filename not-base64!"}, 400),
        ({"Upload-Metadata": metadata(outcomes="one,two")}, 400),
    ],
    ids=["tus-version", "no-length", "negative-length", "superscript-digit", "bad-metadata", "bad-outcomes"],
)
def test_malformed_creation_requests(world, tus, change, status):
    headers = tus.headers(**{"Upload-Length": "100", "Upload-Metadata": metadata(outcomes=world.outcomes[0])})
    headers.update(change)
    headers = {k: v for k, v in headers.items() if v != ""}
    response = world.candidate.post(f"/cases/{world.case_id}/uploads", headers=headers)
    assert response.status_code == status
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert count(world.app, UploadSession) == 0


def test_a_patch_needs_the_offset_content_type(world, tus):
    location = tus.create(len(TEXT), world.outcomes[:1]).headers["Location"]
    response = tus.patch(location, 0, TEXT, **{"Content-Type": "application/octet-stream"})
    assert response.status_code == 415
    assert tus.head(location).headers["Upload-Offset"] == "0"


def test_an_empty_file_is_refused_at_creation(world, tus):
    response = tus.create(0, world.outcomes[:1])
    assert response.status_code == 422
    assert "The file is empty." in text_of(response)
    assert count(world.app, UploadSession) == 0


def test_a_file_over_the_limit_is_refused_at_creation(world, tus):
    response = tus.create(2 * 1024 * 1024 + 1, world.outcomes[:1])
    assert response.status_code == 413
    assert response.get_data(as_text=True) == "The file is larger than 2 MB."
    assert count(world.app, UploadSession) == 0 and part_files(world.app) == []


def test_without_outcomes_nothing_starts(world, tus):
    response = tus.create(100, [])
    assert response.status_code == 422
    assert "Link the evidence to at least one learning outcome." in text_of(response)


# --- who may upload, and when --------------------------------------------------------------------------


def test_another_users_upload_is_not_found(world, tus):
    location = tus.create(len(TEXT), world.outcomes[:1]).headers["Location"]
    other = world.app.test_client()
    login(other, "other-candidate@test.example")
    other_tus = Tus(other, world.case_id)
    assert other_tus.head(location).status_code == 404
    assert other_tus.patch(location, 0, TEXT).status_code == 404
    assert other_tus.delete(location).status_code == 404
    assert other_tus.create(10, world.outcomes[:1]).status_code == 404  # nor may they start one on the case
    assert other.post(location + "/cancel", data={"csrf_token": other_tus.csrf}).status_code == 404
    for email in ("assessor@test.example", "coordinator@test.example", "admin@test.example"):
        staff = world.app.test_client()
        login(staff, email)
        staff_tus = Tus(staff, world.case_id)
        assert staff_tus.patch(location, 0, TEXT).status_code == 403
        assert staff_tus.create(10, world.outcomes[:1]).status_code == 403
    assert session_of(world.app, location).received == 0 and session_of(world.app, location).state == "receiving"
    anonymous = world.app.test_client()
    response = anonymous.head(location, headers=TUS)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_unknown_upload_id_is_not_found(world, tus):
    assert tus.head("/uploads/" + "f" * 32).status_code == 404
    assert tus.head("/uploads/not-an-id").status_code == 404


def test_a_stale_page_cannot_start_an_upload(world, tus):
    version = lock_version(world.app, world.case_id)
    assert tus.send(TEXT, world.outcomes[:1])[1].status_code == 204  # the case changed since
    response = tus.create(len(TEXT), world.outcomes[:1], version=version)
    assert response.status_code == 409
    assert "changed since you opened it" in text_of(response)
    assert count(world.app, UploadSession) == 1


def test_a_case_not_open_for_evidence_takes_no_upload(app):
    w = make_world(app, "under_review")
    response = Tus(w.candidate, w.case_id).create(len(TEXT), w.outcomes[:1])
    assert response.status_code == 409
    assert "Evidence can only be added while the portfolio is being prepared" in text_of(response)
    assert count(app, UploadSession) == 0 and part_files(app) == []


def test_an_upload_stops_when_the_case_moves_on(world, tus):
    location = tus.create(len(TEXT), world.outcomes).headers["Location"]
    assert tus.patch(location, 0, TEXT[:40]).status_code == 204
    with world.app.app_context():
        who = accounts.find_by_email("candidate@test.example")
        factories.portfolio(db.session.get(Case, world.case_id), who)
        cases.fire(world.case_id, "submit", who)
        db.session.commit()
    response = tus.patch(location, 40, TEXT[40:])
    assert response.status_code == 409
    assert "Evidence can only be added while the portfolio is being prepared" in text_of(response)
    session = session_of(world.app, location)
    assert session.state == "refused" and session.refusal and session.item_id is None
    assert part_files(world.app) == []
    assert tus.head(location).status_code == 410
    assert "upload.refused" in actions(world.app)


def test_without_the_csrf_token_nothing_is_accepted(world, tus):
    location = tus.create(len(TEXT), world.outcomes[:1]).headers["Location"]
    forged_create = world.candidate.post(
        f"/cases/{world.case_id}/uploads",
        headers={**TUS, "Upload-Length": "10", "Upload-Metadata": metadata(outcomes=world.outcomes[0])},
    )
    assert forged_create.status_code == 400
    assert "did not come from this site" in forged_create.get_data(as_text=True)
    forged_patch = world.candidate.patch(
        location, data=TEXT, headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    )
    assert forged_patch.status_code == 400
    forged_delete = world.candidate.delete(location, headers=TUS)
    assert forged_delete.status_code == 400
    assert count(world.app, UploadSession) == 1
    assert session_of(world.app, location).received == 0 and session_of(world.app, location).state == "receiving"


# --- the file at the end -------------------------------------------------------------------------------


def test_a_wrong_type_under_a_right_name_is_refused_when_complete_and_nothing_stays(world, tus):
    before_blobs = count(world.app, Blob)
    location, last = tus.send(HTML, world.outcomes[:1], chunk=40, name="cv.pdf")
    assert last.status_code == 422
    assert last.get_data(as_text=True) == NOT_ACCEPTED
    assert count(world.app, EvidenceItem) == 0 and count(world.app, Blob) == before_blobs
    assert files_in_store(world.app) == []  # no blob, no part file
    tmp = Path(world.app.config["EVIDENCE_DIR"]) / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir())
    session = session_of(world.app, location)
    assert session.state == "refused" and session.refusal == NOT_ACCEPTED
    assert tus.head(location).status_code == 410
    assert tus.patch(location, len(HTML), b"").status_code == 410


def test_the_same_bytes_sent_twice_are_stored_once(world, tus):
    assert tus.send(PDF, world.outcomes[:1], chunk=300, name="a.pdf")[1].status_code == 204
    assert tus.send(PDF, world.outcomes[1:2], chunk=500, name="b.pdf")[1].status_code == 204
    assert count(world.app, EvidenceItem) == 2 and count(world.app, Blob) == 1
    assert len(store_files(world.app)) == 1 and part_files(world.app) == []


def test_the_case_quota_counts_uploads_in_progress(world, tus):
    world.app.config["CASE_QUOTA_BYTES"] = 1000
    assert tus.create(1001, world.outcomes[:1]).status_code == 422
    first = tus.create(600, world.outcomes[:1])
    assert first.status_code == 201
    refused = tus.create(600, world.outcomes[:1])
    assert refused.status_code == 422
    assert "used all the space it has for files" in text_of(refused)
    assert count(world.app, UploadSession) == 1


def test_the_item_count_limit_counts_uploads_in_progress(world, tus):
    world.app.config["MAX_ITEMS_PER_CASE"] = 2
    assert tus.send(TEXT, world.outcomes[:1])[1].status_code == 204
    assert tus.create(len(TEXT), world.outcomes[:1]).status_code == 201
    refused = tus.create(len(TEXT), world.outcomes[:1])
    assert refused.status_code == 422
    assert "holds as many pieces of evidence as it may" in text_of(refused)


# --- the form's token: one upload, one item ------------------------------------------------------------


def test_the_same_form_sent_twice_makes_one_upload_and_one_item(world, tus):
    token = "ab" * 16
    first = tus.create(len(TEXT), world.outcomes[:1], token=token)
    again = tus.create(len(TEXT), world.outcomes[:1], token=token)
    assert first.status_code == again.status_code == 201
    assert first.headers["Location"] == again.headers["Location"] == f"/uploads/{token}"
    assert tus.patch(first.headers["Location"], 0, TEXT).status_code == 204
    after = tus.create(len(TEXT), world.outcomes[:1], token=token)
    assert after.status_code == 409
    assert after.get_data(as_text=True) == "This evidence was already saved."
    with world.app.app_context():
        (item,) = db.session.execute(select(EvidenceItem)).scalars()
        assert item.client_token == token
    assert count(world.app, UploadSession) == 1


def test_after_a_refusal_the_same_form_can_send_another_file(world, tus):
    token = "cd" * 16
    location, last = tus.send(HTML, world.outcomes[:1], token=token, name="cv.pdf")
    assert last.status_code == 422
    retry, done = tus.send(TEXT, world.outcomes[:1], token=token, name="cv.txt")
    assert done.status_code == 204 and retry != location
    assert count(world.app, EvidenceItem) == 1


# --- stopping: termination, the no-JS cancel, expiry ---------------------------------------------------


def test_termination_stops_the_upload_and_deletes_what_arrived(world, tus):
    location = tus.create(len(TEXT), world.outcomes[:1]).headers["Location"]
    tus.patch(location, 0, TEXT[:50])
    response = tus.delete(location)
    assert response.status_code == 204 and response.headers["Tus-Resumable"] == "1.0.0"
    assert session_of(world.app, location).state == "cancelled"
    assert part_files(world.app) == []
    assert tus.head(location).status_code == 410
    assert tus.patch(location, 50, TEXT[50:]).status_code == 410
    assert tus.delete(location).status_code == 204  # stopping it again changes nothing
    assert actions(world.app).count("upload.cancelled") == 1


def test_the_case_page_lists_unfinished_uploads_with_a_cancel_button(world, tus):
    location = tus.create(len(TEXT), world.outcomes[:1], name="bakery-video.mp4").headers["Location"]
    tus.patch(location, 0, TEXT[:len(TEXT) // 2])
    page = text_of(world.candidate.get(f"/cases/{world.case_id}"))
    assert "Unfinished uploads" in page and "bakery-video.mp4" in page
    assert f"{100 * (len(TEXT) // 2) // len(TEXT)}% received" in page
    assert "choose the same file again" in page
    assert f'action="{location}/cancel"' in page
    response = world.candidate.post(location + "/cancel", data={"csrf_token": tus.csrf})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/cases/{world.case_id}#evidence")
    page = text_of(world.candidate.get(f"/cases/{world.case_id}"))
    assert "The upload is stopped" in page and "Unfinished uploads" not in page
    assert part_files(world.app) == []


def test_a_finished_upload_cannot_be_cancelled(world, tus):
    location, _done = tus.send(TEXT, world.outcomes[:1])
    response = tus.delete(location)
    assert response.status_code == 409
    assert count(world.app, EvidenceItem) == 1


def test_expired_uploads_are_swept_by_the_command(world, tus):
    location = tus.create(len(TEXT), world.outcomes[:1]).headers["Location"]
    tus.patch(location, 0, TEXT[:10])
    kept = tus.create(len(TEXT), world.outcomes[:1]).headers["Location"]
    with world.app.app_context():
        stale = db.session.get(UploadSession, location.rsplit("/", 1)[1])
        stale.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    # Past its expiry an upload is gone at once, before any sweep.
    assert tus.head(location).status_code == 410
    result = world.app.test_cli_runner().invoke(args=["uploads", "sweep"])
    assert result.exit_code == 0, result.output
    assert "1 expired upload(s) cancelled." in result.output
    assert session_of(world.app, location).state == "cancelled"
    assert session_of(world.app, kept).state == "receiving"
    assert [p.name for p in part_files(world.app)] == [kept.rsplit("/", 1)[1]]
    assert actions(world.app).count("upload.expired") == 1
    again = world.app.test_cli_runner().invoke(args=["uploads", "sweep"])
    assert "0 expired upload(s) cancelled." in again.output
