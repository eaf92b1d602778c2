"""Evidence: content-addressed storage, type decided by the bytes, who may add it and when, links,
download."""

from __future__ import annotations

import hashlib
import html
import io
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import func, select

from tests import factories
from tests.conftest import login, post
from validation.extensions import db
from validation.models import AuditEvent, Blob, Case, EvidenceItem, EvidenceLink
from validation.services import accounts, cases, catalog, evidence
from validation.services.errors import Invalid


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A real, tiny PNG built from raw bytes: signature, IHDR, IDAT, IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x80\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = png_bytes()
def pdf_bytes() -> bytes:
    """A real one-page PDF whose document information names its author."""
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Author": "Olena Kovalenko"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


PDF = pdf_bytes()
TEXT = "Recipe card: rye bread, 2 kg flour, 1.4 l water, 40 g salt.\nCrème brûlée: 250 g sugar.\n".encode()
HTML = b"<!DOCTYPE html>\n<html><body><script>alert(document.cookie)</script></body></html>\n"


@dataclass
class World:
    app: Flask
    case_id: int
    outcomes: list[int]
    candidate: FlaskClient


def make_world(app: Flask, state: str = "draft") -> World:
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        case = factories.case_in_state(state, who)
        db.session.commit()
        case_id, outcomes = case.id, [c.outcome_id for c in case.claims]
    candidate = app.test_client()
    login(candidate, "candidate@test.example")
    return World(app, case_id, outcomes, candidate)


@pytest.fixture
def world(app: Flask) -> World:
    return make_world(app)


def signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    login(client, email)
    return client


def lock_version(app: Flask, case_id: int) -> int:
    with app.app_context():
        return db.session.get(Case, case_id).lock_version


def upload(w: World, data: bytes, name: str, outcomes: list[int] | None = None,
           client: FlaskClient | None = None, version: int | None = None,
           title: str = "Photo of my bread"):  # type: ignore[no-untyped-def]
    return post(
        client or w.candidate,
        f"/cases/{w.case_id}/evidence",
        {
            "kind": "file",
            "title": title,
            "file": (io.BytesIO(data), name),
            "outcomes": [str(o) for o in (outcomes or w.outcomes[:2])],
            "version": str(lock_version(w.app, w.case_id) if version is None else version),
        },
        content_type="multipart/form-data",
    )


def add_statement(w: World, text: str = "I baked bread for ten years.", outcomes: list[int] | None = None,
                  client: FlaskClient | None = None, title: str = "My bakery years"):  # type: ignore[no-untyped-def]
    return post(
        client or w.candidate,
        f"/cases/{w.case_id}/evidence",
        {
            "kind": "statement",
            "title": title,
            "statement": text,
            "outcomes": [str(o) for o in (outcomes or w.outcomes)],
            "version": str(lock_version(w.app, w.case_id)),
        },
    )


def files_in_store(app: Flask) -> list[Path]:
    root = Path(app.config["EVIDENCE_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def tally(app: Flask) -> dict[str, int]:
    with app.app_context():
        def count(model) -> int:  # type: ignore[no-untyped-def]
            return int(db.session.execute(select(func.count()).select_from(model)).scalar_one())

        return {
            "items": count(EvidenceItem),
            "blobs": count(Blob),
            "links": count(EvidenceLink),
            "audit": count(AuditEvent),
            "files": len(files_in_store(app)),
        }


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.get_data(as_text=True))


def assert_nothing_stored(w: World, before: dict[str, int]) -> None:
    after = tally(w.app)
    assert after == before
    tmp = Path(w.app.config["EVIDENCE_DIR"]) / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir())


# --- storage ---------------------------------------------------------------------------------------------


def test_a_file_is_stored_under_its_sha256(world):
    response = upload(world, TEXT, "recipe.txt")
    assert response.status_code == 302, text_of(response)[:800]
    assert response.headers["Location"].endswith(f"/cases/{world.case_id}#evidence")
    digest = hashlib.sha256(TEXT).hexdigest()
    path = Path(world.app.config["EVIDENCE_DIR"]) / digest[:2] / digest[2:]
    assert path.read_bytes() == TEXT
    assert files_in_store(world.app) == [path]
    with world.app.app_context():
        blob = db.session.get(Blob, digest)
        assert blob is not None and blob.size == len(TEXT) and blob.media_type == "text/plain"
        (item,) = evidence.items_of(world.case_id)
        assert item.kind == "file" and item.blob_sha256 == digest
        assert item.original_name == "recipe.txt" and item.title == "Photo of my bread"
        assert item.media_type == "text/plain"
        assert item.submission_round == 1 and item.submitted_at is None
        assert sorted(link.outcome_id for link in item.links) == sorted(world.outcomes[:2])
        assert evidence.store().path_for(digest) == path


def test_the_same_bytes_uploaded_twice_are_stored_once(world):
    assert upload(world, PDF, "certificate.pdf").status_code == 302
    again = upload(world, PDF, "the same certificate again.pdf", outcomes=world.outcomes[2:4])
    assert again.status_code == 302
    with world.app.app_context():
        assert db.session.execute(select(func.count()).select_from(Blob)).scalar_one() == 1
        items = evidence.items_of(world.case_id)
        assert len(items) == 2
        (digest,) = {i.blob_sha256 for i in items}
        stored = (Path(world.app.config["EVIDENCE_DIR"]) / digest[:2] / digest[2:]).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == digest and stored.startswith(b"%PDF-")
        assert b"Olena Kovalenko" in PDF and b"Olena Kovalenko" not in stored
        assert [i.original_name for i in items] == ["certificate.pdf", "the same certificate again.pdf"]
    assert len(files_in_store(world.app)) == 1


@pytest.mark.parametrize(
    ("data", "name", "media_type"),
    [(PNG, "notes.txt", "image/png"), (PDF, "photo.png", "application/pdf"),
     (TEXT, "scan.pdf", "text/plain")],
    ids=["png-named-txt", "pdf-named-png", "text-named-pdf"],
)
def test_the_type_comes_from_the_bytes_not_the_name(world, data, name, media_type):
    assert upload(world, data, name).status_code == 302
    with world.app.app_context():
        (item,) = evidence.items_of(world.case_id)
        assert item.media_type == media_type
        assert item.blob.media_type == media_type


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (HTML, "cv.pdf", "This kind of file is not accepted"),
        (b"  \n<html><head><title>CV</title></head><body>Baker</body></html>", "cv.txt",
         "This kind of file is not accepted"),
        (b"", "empty.pdf", "The file is empty"),
        (bytes(range(256)) * 4, "data.bin", "This kind of file is not accepted"),
        (b"PK\x03\x04" + b"\x00" * 200, "letter.docx", "The document is damaged"),
        (b"%PDF-1.4\n<html><body>not a PDF</body></html>\n", "cv.pdf", "The PDF is damaged"),
    ],
    ids=["html-named-pdf", "html-with-leading-space", "empty", "unknown-binary", "zip", "pdf-header-then-html"],
)
def test_refused_files_leave_nothing_behind(world, data, name, message):
    before = tally(world.app)
    response = upload(world, data, name)
    assert response.status_code == 422
    page = text_of(response)
    assert message in page
    assert "Nothing was changed" in page
    assert_nothing_stored(world, before)


def test_refused_file_message_names_what_is_accepted(world):
    page = text_of(upload(world, HTML, "cv.pdf"))
    for kind in ("PDF", "JPEG", "PNG"):
        assert kind in page


def test_a_file_over_the_request_limit_is_refused_before_anything_is_stored(world):
    limit = world.app.config["MAX_CONTENT_LENGTH"]
    assert limit == 2 * 1024 * 1024
    before = tally(world.app)
    big = b"%PDF-1.4\n" + b"0" * limit
    response = upload(world, big, "huge.pdf")
    assert response.status_code == 413
    assert "larger than 2 MB" in text_of(response)
    assert_nothing_stored(world, before)


def test_a_stream_over_the_limit_is_refused_by_the_service_and_nothing_is_kept(world):
    """Without a Content-Length (chunked upload) only the service's own count can stop it."""
    before = tally(world.app)
    limit = world.app.config["MAX_CONTENT_LENGTH"]
    with world.app.app_context():
        candidate = accounts.find_by_email("candidate@test.example")
        with pytest.raises(Invalid) as refused:
            evidence.add_file(world.case_id, candidate, "Huge", io.BytesIO(b"%PDF-" + b"0" * limit),
                              "huge.pdf", world.outcomes[:1])
        assert "larger than 2 MB" in refused.value.reason
        db.session.rollback()
    assert_nothing_stored(world, before)


def test_a_stale_version_stores_nothing(world):
    assert add_statement(world).status_code == 302
    before = tally(world.app)
    stale = lock_version(world.app, world.case_id) - 1
    response = upload(world, PNG, "bread.png", version=stale)
    assert response.status_code == 409
    assert "changed since you opened it" in text_of(response)
    assert_nothing_stored(world, before)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "statement", "title": "Bread", "statement": "I bake.", "outcomes": []},
         "Choose at least one learning outcome."),
        ({"kind": "statement", "title": "Bread", "statement": "   "},
         "Write the statement before saving it."),
        ({"kind": "statement", "title": "", "statement": "I bake."}, "Give the statement a short title."),
        ({"kind": "file", "title": "Photo"}, "Choose a file to upload."),
    ],
    ids=["no-outcome", "blank-statement", "no-title", "no-file"],
)
def test_an_incomplete_evidence_form_is_shown_again_with_its_errors(world, fields, message):
    before = tally(world.app)
    version = str(lock_version(world.app, world.case_id))
    data = {"outcomes": [str(o) for o in world.outcomes[:1]], "version": version}
    response = post(world.candidate, f"/cases/{world.case_id}/evidence", {**data, **fields})
    assert response.status_code == 422
    page = text_of(response)
    assert message in page
    assert "Save evidence" in page  # the form is there to correct
    assert_nothing_stored(world, before)


# --- who may add evidence, and when ------------------------------------------------------------------


def test_another_candidates_case_is_not_found(world):
    other = signed_in(world.app, "other-candidate@test.example")
    before = tally(world.app)
    assert other.get(f"/cases/{world.case_id}").status_code == 404
    assert upload(world, PNG, "bread.png", client=other).status_code == 404
    assert add_statement(world, client=other).status_code == 404
    assert_nothing_stored(world, before)


@pytest.mark.parametrize("email", ["assessor@test.example", "coordinator@test.example", "admin@test.example"])
def test_staff_cannot_add_evidence(world, email):
    staff = signed_in(world.app, email)
    before = tally(world.app)
    assert upload(world, PNG, "bread.png", client=staff).status_code == 403
    assert add_statement(world, client=staff).status_code == 403
    assert_nothing_stored(world, before)


def test_anonymous_cannot_add_evidence(world):
    before = tally(world.app)
    anonymous = world.app.test_client()
    response = upload(world, PNG, "bread.png", client=anonymous)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert_nothing_stored(world, before)


@pytest.mark.parametrize("state", list(factories.PATHS))
def test_evidence_only_while_the_portfolio_is_open(app, state):
    w = make_world(app, state)
    before = tally(app)
    page = w.candidate.get(f"/cases/{w.case_id}")
    assert page.status_code == 200
    if state in ("draft", "more_evidence"):
        assert "Save evidence" in text_of(page)
        assert add_statement(w).status_code == 302
        assert upload(w, PNG, "bread.png").status_code == 302
        assert tally(app)["items"] == before["items"] + 2
        return
    assert "Save evidence" not in text_of(page)
    response = add_statement(w)
    assert response.status_code == 409
    assert "Evidence can only be added while the portfolio is being prepared" in text_of(response)
    assert upload(w, PNG, "bread.png").status_code == 409
    assert_nothing_stored(w, before)


def test_submitted_items_are_frozen_and_new_items_go_into_the_next_round(app):
    w = make_world(app)
    assert upload(w, PNG, "bread.png").status_code == 302
    assert add_statement(w).status_code == 302
    with app.app_context():
        who = {k: accounts.find_by_email(e) for k, e in {
            "candidate": "candidate@test.example", "assessor": "assessor@test.example",
            "coordinator": "coordinator@test.example"}.items()}
        cases.fire(w.case_id, "submit", who["candidate"])
        db.session.commit()
        first = [(i.id, i.title, i.statement, i.blob_sha256, i.submission_round, i.submitted_at,
                  sorted(link.outcome_id for link in i.links)) for i in evidence.items_of(w.case_id)]
        assert all(row[5] is not None for row in first)
        assert {row[4] for row in first} == {1}
        assert db.session.get(Case, w.case_id).submitted_at is not None

        cases.fire(w.case_id, "start_screening", who["coordinator"])
        cases.assign_assessor(w.case_id, who["assessor"].id, who["coordinator"])
        cases.fire(w.case_id, "accept_for_review", who["coordinator"])
        cases.fire(w.case_id, "request_more_evidence", who["assessor"], "Please show a photo of your pastry.")
        db.session.commit()
        assert db.session.get(Case, w.case_id).submission_round == 2

    assert upload(w, PDF, "pastry.pdf", outcomes=w.outcomes[3:4], title="Pastry sheet").status_code == 302
    with app.app_context():
        items = evidence.items_of(w.case_id)
        assert len(items) == 3
        again = [(i.id, i.title, i.statement, i.blob_sha256, i.submission_round, i.submitted_at,
                  sorted(link.outcome_id for link in i.links)) for i in items[:2]]
        assert again == first
        new = items[2]
        assert new.submission_round == 2 and new.submitted_at is None
    page = text_of(w.candidate.get(f"/cases/{w.case_id}"))
    assert "Photo of my bread" in page and "My bakery years" in page and "Pastry sheet" in page
    assert "I baked bread for ten years." in page
    # The page lists the portfolio by round, newest first: the new item under round 2, not yet submitted,
    # the first two under round 1 with the date it was submitted.
    listing = page[page.index("Round 2"):]
    assert listing.index("Round 2") < listing.index("Pastry sheet") < listing.index("Round 1")
    assert re.search(r"Round 2\s*<span class=\"meta\">— not submitted yet", listing)
    assert re.search(r"Round 1\s*<span class=\"meta\">— submitted on \d{4}-\d\d-\d\d", listing)
    round_one = listing[listing.index("Round 1"):]
    assert "Photo of my bread" in round_one and "My bakery years" in round_one

    with app.app_context():
        candidate = accounts.find_by_email("candidate@test.example")
        cases.fire(w.case_id, "resubmit", candidate)
        db.session.commit()
        assert all(i.submitted_at is not None for i in evidence.items_of(w.case_id))
        assert [i.submission_round for i in evidence.items_of(w.case_id)] == [1, 1, 2]


# --- links --------------------------------------------------------------------------------------------


def test_an_item_cannot_be_linked_to_an_outcome_of_another_credential(world):
    with world.app.app_context():
        welding = catalog.by_code("GE-WELD-MMA")
        assert welding is not None
        foreign = welding.outcomes[0].id
        candidate = accounts.find_by_email("candidate@test.example")
        with pytest.raises(Invalid) as refused:
            evidence.add_statement(world.case_id, candidate, "Welding", "I weld.",
                                   [world.outcomes[0], foreign])
        assert "not part of this case" in refused.value.reason
        db.session.rollback()
    before = tally(world.app)
    response = add_statement(world, outcomes=[foreign])
    assert response.status_code == 422
    assert_nothing_stored(world, before)


def test_the_database_refuses_a_link_to_an_outcome_the_case_does_not_claim(world):
    assert add_statement(world, outcomes=world.outcomes[:1]).status_code == 302
    with world.app.app_context():
        (item,) = evidence.items_of(world.case_id)
        welding = catalog.by_code("GE-WELD-MMA")
        assert welding is not None
        insert = sa.text(
            "INSERT INTO evidence_links (item_id, outcome_id, case_id) VALUES (:item, :outcome, :case)"
        )
        foreign = welding.outcomes[0].id
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(insert, {"item": item.id, "outcome": foreign, "case": world.case_id})
        db.session.rollback()
        # A claimed outcome of the same case is accepted by the same statement.
        db.session.execute(insert, {"item": item.id, "outcome": world.outcomes[1], "case": world.case_id})
        db.session.rollback()


# --- download -----------------------------------------------------------------------------------------


def item_id_for(w: World, name: str) -> int:
    with w.app.app_context():
        return next(i.id for i in evidence.items_of(w.case_id) if i.original_name == name)


def test_download_returns_the_bytes_with_safe_headers(world):
    assert upload(world, TEXT, "recipe.txt").status_code == 302
    item = item_id_for(world, "recipe.txt")
    response = world.candidate.get(f"/cases/{world.case_id}/evidence/{item}/file")
    assert response.status_code == 200
    assert response.data == TEXT
    assert response.mimetype == "text/plain"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    csp = response.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "recipe.txt" in response.headers["Content-Disposition"]


def test_download_of_an_image_is_sandboxed_too(world):
    assert upload(world, PNG, "bread.png").status_code == 302
    item = item_id_for(world, "bread.png")
    response = world.candidate.get(f"/cases/{world.case_id}/evidence/{item}/file")
    assert response.status_code == 200
    # The picture was re-encoded: other bytes, the same pixels.
    with Image.open(io.BytesIO(response.data)) as served, Image.open(io.BytesIO(PNG)) as sent:
        assert served.convert("RGB").tobytes() == sent.convert("RGB").tobytes()
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_download_supports_range_requests(world):
    assert upload(world, TEXT, "recipe.txt").status_code == 302
    item = item_id_for(world, "recipe.txt")
    url = f"/cases/{world.case_id}/evidence/{item}/file"
    response = world.candidate.get(url, headers={"Range": "bytes=0-9"})
    assert response.status_code == 206
    assert response.data == TEXT[:10]
    assert response.headers["Content-Range"] == f"bytes 0-9/{len(TEXT)}"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_download_is_refused_to_people_who_may_not_see_the_case(world):
    assert upload(world, PNG, "bread.png").status_code == 302
    item = item_id_for(world, "bread.png")
    url = f"/cases/{world.case_id}/evidence/{item}/file"
    assert signed_in(world.app, "other-candidate@test.example").get(url).status_code == 404
    assert signed_in(world.app, "assessor@test.example").get(url).status_code == 403
    coordinator = signed_in(world.app, "coordinator@test.example").get(url)
    assert coordinator.status_code == 200 and coordinator.data.startswith(b"\x89PNG")
    anonymous = world.app.test_client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    # An item id that exists but under another case's id is not found.
    assert world.candidate.get(f"/cases/{world.case_id + 999}/evidence/{item}/file").status_code == 404
