"""Serving evidence: to those who may see it, with headers that keep a file from acting as a page;
pictures, PDFs, sound and video open in the browser, sound and video can be sought (HTTP Range)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import pytest
from flask import Flask

from tests import factories
from tests.conftest import login
from tests.services.test_evidence import PDF, PNG, TEXT
from tests.web.tus import mp3_bytes, mp4_bytes
from validation.extensions import db
from validation.services import cases, catalog, evidence


def docx_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", '<?xml version="1.0"?><document>I baked.</document>')
    return out.getvalue()


MP4 = mp4_bytes(bytes(range(256)) * 20)
MP3 = mp3_bytes()
FILES = {
    "png": (PNG, "bread.png", "image/png", "inline"),
    "pdf": (PDF, "certificate.pdf", "application/pdf", "inline"),
    "mp4": (MP4, "kneading.mp4", "video/mp4", "inline"),
    "mp3": (MP3, "interview.mp3", "audio/mpeg", "inline"),
    "text": (TEXT, "recipe.txt", "text/plain", "attachment"),
    "docx": (docx_bytes(), "letter.docx",
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "attachment"),
}
PAGE_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"


@dataclass
class Served:
    app: Flask
    case_id: int
    items: dict[str, int]
    other_case_item: int
    outcome_id: int

    def url(self, key: str, case_id: int | None = None) -> str:
        return f"/cases/{case_id or self.case_id}/evidence/{self.items[key]}/file"

    def client(self, email: str | None):  # type: ignore[no-untyped-def]
        client = self.app.test_client()
        if email:
            login(client, email)
        return client


@pytest.fixture
def served(app: Flask) -> Served:
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        case = factories.case_in_state("more_evidence", who)  # an assessor is assigned, evidence is open
        outcomes = [c.outcome_id for c in case.claims]
        items = {
            key: evidence.add_file(case.id, who["candidate"], key, io.BytesIO(data), name, outcomes[:1]).id
            for key, (data, name, _type, _disposition) in FILES.items()
        }
        other = factories.user("candidate", "third@test.example", "Third")
        credential = catalog.by_code("GE-WELD-MMA")
        other_case = cases.open_case(other, credential.id)
        other_item = evidence.add_file(other_case.id, other, "Weld", io.BytesIO(PNG), "weld.png",
                                       [other_case.claims[0].outcome_id]).id
        factories.declare_no_conflict(case)
        db.session.commit()
        return Served(app, case.id, items, other_item, outcomes[0])


@pytest.mark.parametrize("key", list(FILES))
def test_each_type_is_served_with_safe_headers(served, key):
    data, name, media_type, disposition = FILES[key]
    response = served.client("candidate@test.example").get(served.url(key))
    assert response.status_code == 200
    assert response.mimetype == media_type
    assert response.headers["Content-Disposition"] == f"{disposition}; filename={name}"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    media = media_type.startswith(("audio/", "video/"))
    expected_csp = PAGE_CSP + (" allow-same-origin" if media else "")
    assert response.headers["Content-Security-Policy"] == expected_csp
    # Personal documents: never kept by a shared cache (the site marks every signed-in answer no-store too).
    assert "no-store" in response.headers["Cache-Control"] and "public" not in response.headers["Cache-Control"]
    assert response.headers["Accept-Ranges"] == "bytes"
    if key in ("mp4", "mp3", "docx"):  # stored as sent (no location found in them)
        assert response.data == data


def test_sound_and_video_can_be_sought(served):
    client = served.client("assessor@test.example")
    part = client.get(served.url("mp4"), headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(MP4)}"
    assert part.data == MP4[100:200]
    assert part.headers["Content-Security-Policy"].startswith("default-src 'none'")
    tail = client.get(served.url("mp3"), headers={"Range": "bytes=-417"})
    assert tail.status_code == 206 and tail.data == MP3[-417:]
    beyond = client.get(served.url("mp4"), headers={"Range": f"bytes={len(MP4) + 10}-"})
    assert beyond.status_code == 416


def test_a_file_name_that_is_not_ascii_is_kept_for_the_download(app, served):
    with app.app_context():
        from validation.models import EvidenceItem

        db.session.get(EvidenceItem, served.items["text"]).original_name = "рецепт хліба.txt"
        db.session.commit()
    response = served.client("candidate@test.example").get(served.url("text"))
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%D1%80%D0%B5%D1%86%D0%B5%D0%BF%D1%82%20%D1%85%D0%BB%D1%96%D0%B1%D0%B0.txt" in disposition


@pytest.mark.parametrize(
    ("email", "status"),
    [
        ("candidate@test.example", 200),
        ("assessor@test.example", 200),
        ("coordinator@test.example", 200),
        ("admin@test.example", 200),
        ("other-candidate@test.example", 404),
        ("other-assessor@test.example", 403),
    ],
)
def test_who_may_see_the_files(served, email, status):
    client = served.client(email)
    for key in FILES:
        response = client.get(served.url(key))
        assert response.status_code == status, key
        if status != 200:
            assert FILES[key][0][:64] not in response.data


def test_an_assessor_declares_before_seeing_any_file(app, served):
    """Before saying whether they know the candidate, an assessor newly on the case gets no file either."""
    from validation.models import Case, User
    from validation.services import cases as case_service

    with app.app_context():
        case = db.session.get(Case, served.case_id)
        newcomer = db.session.execute(
            db.select(User).where(User.email == "other-assessor@test.example")).scalar_one()
        coordinator = db.session.execute(
            db.select(User).where(User.email == "coordinator@test.example")).scalar_one()
        case_service.assign_assessor(case.id, newcomer.id, coordinator)
        db.session.commit()
    client = served.client("other-assessor@test.example")
    for url in (served.url("pdf"), _preview(served, "pdf")):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"] == f"/cases/{served.case_id}/declaration"


def test_a_visitor_is_asked_to_sign_in(served):
    response = served.client(None).get(served.url("pdf"))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_item_is_found_only_under_its_own_case(served):
    owner = served.client("candidate@test.example")
    assert owner.get(f"/cases/{served.case_id}/evidence/{served.other_case_item}/file").status_code == 404
    assert served.client("third@test.example").get(served.url("png")).status_code == 404


# --- the first page of a PDF, shown in place ------------------------------------------------------------


def _preview(served: Served, key: str, case_id: int | None = None) -> str:
    return served.url(key, case_id).removesuffix("/file") + "/preview"


def a4_pdf_with_a_black_square() -> bytes:
    """An A4 page (595 x 842 points) with a black square whose lower left corner is at (100, 100), 200 wide."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    content = DecodedStreamObject()
    content.set_data(b"0 0 0 rg 100 100 200 200 re f")
    page[NameObject("/Contents")] = writer._add_object(content)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_pdf_is_shown_in_place_as_a_picture_of_its_first_page(app, served):
    from PIL import Image

    from validation.models import User

    with app.app_context():
        owner = db.session.execute(db.select(User).where(User.email == "candidate@test.example")).scalar_one()
        item = evidence.add_file(served.case_id, owner, "Work record", io.BytesIO(a4_pdf_with_a_black_square()),
                                 "record.pdf", [served.outcome_id])
        db.session.commit()
        served.items["a4"] = item.id
    client = served.client("assessor@test.example")
    page = client.get(f"/cases/{served.case_id}").get_data(as_text=True)
    assert f'src="{_preview(served, "a4")}"' in page  # in the case page, behind "Show the first page"
    response = client.get(_preview(served, "a4"))
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == PAGE_CSP
    assert "no-store" in response.headers["Cache-Control"]
    with Image.open(io.BytesIO(response.data)) as picture:
        assert picture.format == "PNG" and picture.size == (900, 1274)  # A4, drawn at the preview width
        scale = 900 / 595
        inside = (int(200 * scale), picture.height - int(200 * scale))  # the square's middle, y from the top
        outside = (int(450 * scale), int(100 * scale))
        assert picture.convert("L").getpixel(inside) < 20 and picture.convert("L").getpixel(outside) > 235
    # Drawn once: the second request serves the same picture from the store.
    again = client.get(_preview(served, "a4"))
    assert again.status_code == 200 and again.data == response.data
    # A small page is drawn at most four times its size.
    with Image.open(io.BytesIO(client.get(_preview(served, "pdf")).data)) as small:
        assert small.size == (800, 800)


@pytest.mark.parametrize(
    ("email", "status"),
    [
        ("candidate@test.example", 200),
        ("coordinator@test.example", 200),
        ("other-candidate@test.example", 404),
        ("other-assessor@test.example", 403),
    ],
)
def test_the_preview_is_for_those_who_may_see_the_file(served, email, status):
    assert served.client(email).get(_preview(served, "pdf")).status_code == status


def test_only_a_pdf_has_a_preview(served):
    client = served.client("candidate@test.example")
    for key in ("png", "mp4", "text", "docx"):
        assert client.get(_preview(served, key)).status_code == 404, key
    assert served.client(None).get(_preview(served, "pdf")).status_code == 302


def test_a_pdf_that_cannot_be_drawn_has_no_preview_and_stays_downloadable(app, served):
    from validation.models import EvidenceItem

    with app.app_context():
        item = db.session.get(EvidenceItem, served.items["pdf"])
        stored = evidence.store().path_for(item.blob.sha256)
    original = stored.read_bytes()
    stored.write_bytes(b"%PDF-1.4\n" + b"\x00" * 64)  # as if the file could no longer be read as a PDF
    try:
        client = served.client("assessor@test.example")
        refused = client.get(_preview(served, "pdf"))
        assert refused.status_code == 404
        assert "cannot be shown as a picture" in refused.get_data(as_text=True)
        assert client.get(served.url("pdf")).status_code == 200
    finally:
        stored.write_bytes(original)
