"""The candidate's whole journey in Ukrainian, in Chromium on a 360-px phone: register by phone, fill in the
intake, open a case, upload a photo and a PDF with the progress bar, resume an upload whose connection broke,
map the evidence to the outcomes and submit. axe-core checks every page the candidate sees on the way."""

from __future__ import annotations

import io
import os
import re

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from tests import factories
from tests.browser.test_pages import _fits_phone, _serious_violations
from validation.extensions import db
from validation.models import Case, EvidenceItem, User

PASSWORD = "мій надійний пароль"
CHUNK = 64 * 1024


def _photo(path, size: int, gps: bool = True) -> None:  # type: ignore[no-untyped-def]
    """A JPEG of noise (it does not compress) that carries a GPS position, as a phone's photo would."""
    image = Image.frombytes("RGB", (size, size), os.urandom(size * size * 3))
    exif = Image.Exif()
    if gps:
        exif[0x8825] = {1: "N", 2: (50.0, 27.0, 0.0), 3: "E", 4: (30.0, 31.0, 0.0)}
    image.save(path, "JPEG", quality=95, exif=exif)


def _pdf(path) -> None:  # type: ignore[no-untyped-def]
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    path.write_bytes(buffer.getvalue())


def _checked(page, where: str) -> None:  # type: ignore[no-untyped-def]
    assert page.evaluate("document.documentElement.lang") == "uk", where
    assert _serious_violations(page) == [], where
    assert _fits_phone(page), where


def _upload(page, path, title: str) -> None:  # type: ignore[no-untyped-def]
    form = page.locator("#evidence-form")
    form.locator("input[name=kind][value=file]").check()
    form.locator("input[name=title]").fill(title)
    form.locator("input[name=file]").set_input_files(str(path))
    for box in form.locator("input[name=outcomes]").all():
        box.check()
    with page.expect_navigation():
        form.locator("button[type=submit]").click()


@pytest.mark.browser
def test_a_candidate_goes_from_registration_to_submission_in_ukrainian(app, live_server, page, tmp_path):
    app.config["UPLOAD_CHUNK_BYTES"] = CHUNK  # several pieces per file, so progress and resuming show
    with app.app_context():
        factories.load_catalog()
        db.session.commit()

    # What the progress bar says while files go up, gathered across page loads.
    progress: list[int] = []
    page.expose_function("recordProgress", lambda value: progress.append(int(value)))
    page.add_init_script("""
        document.addEventListener('DOMContentLoaded', function () {
          var bar = document.querySelector('#upload-progress progress');
          if (!bar) { return; }
          new MutationObserver(function () { window.recordProgress(bar.value); })
            .observe(document.getElementById('upload-status'), {childList: true, characterData: true, subtree: true});
        });
    """)

    # Registration, switched to Ukrainian with the site's own switch.
    page.goto(f"{live_server}/register")
    page.locator("#language-switch").select_option("uk")
    page.locator("form.lang button").click()
    expect(page.get_by_role("heading", name="Реєстрація")).to_be_visible()
    _checked(page, "register")
    page.locator("input[name=display_name]").fill("Оксана Бондар")
    page.get_by_label("Номер телефону").fill("067 555 12 34")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=confirm]").fill(PASSWORD)
    page.locator("input[name=consent]").check()
    page.locator("form[action='/register'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/catalog"))
    _checked(page, "catalog")

    # Home: the next step is the intake questionnaire.
    page.goto(f"{live_server}/my")
    _checked(page, "home")
    page.get_by_role("link", name=re.compile("анкет", re.I)).first.click()
    page.wait_for_url(re.compile(r"/my/intake"))
    _checked(page, "intake")
    page.locator("textarea[name=work_done]").fill("Пекар у Харкові, 2015-2022: хліб, здоба, нічні зміни.")  # noqa: RUF001
    page.locator("input[name=years_in_field][value=from_3_to_10]").check()
    page.locator("input[name=education][value=vocational]").check()
    page.locator("input[name=has_papers][value=no]").check()
    page.locator("input[name=assessment_preference][value=demonstration]").check()
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/my$"))
    _checked(page, "home after intake")

    # The credential, and a new case for it.
    page.goto(f"{live_server}/catalog/UA-BAKERY")
    _checked(page, "credential")
    page.locator("form[action$='/open'] button").click()
    page.wait_for_url(re.compile(r"/cases/\d+"))
    case_id = int(re.search(r"/cases/(\d+)", page.url).group(1))
    _checked(page, "case")

    # A photo (with a GPS position in it) and a PDF, each through the resumable upload and its progress bar.
    photo, pdf, big = tmp_path / "хліб.jpg", tmp_path / "довідка.pdf", tmp_path / "цех.jpg"
    _photo(photo, 300)
    _pdf(pdf)
    _photo(big, 500, gps=False)
    _upload(page, photo, "Мій хліб")
    assert progress and max(progress) == 100 and min(progress) < 100, progress
    _upload(page, pdf, "Довідка з роботи")
    _checked(page, "case with evidence")

    # The connection breaks during the third file: one piece never arrives. The upload asks the server how
    # far it got and goes on from there, never from the start.
    offsets: list[int] = []
    heads: list[str] = []
    broken = {"done": False}

    def on_request(request) -> None:  # type: ignore[no-untyped-def]
        if "/uploads/" in request.url and request.method == "PATCH":
            offsets.append(int(request.headers["upload-offset"]))
        if "/uploads/" in request.url and request.method == "HEAD":
            heads.append(request.url)

    def cut_the_third_piece(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.method == "PATCH" and len(offsets) >= 3 and not broken["done"]:
            broken["done"] = True
            route.abort("connectionreset")
        else:
            route.continue_()

    page.on("request", on_request)
    page.route("**/uploads/**", cut_the_third_piece)
    _upload(page, big, "Цех")
    page.unroute("**/uploads/**")
    assert broken["done"] and heads, "the connection was never cut, or the upload did not ask where it stood"
    assert offsets == sorted(offsets) and offsets.count(0) == 1, offsets
    assert len(set(offsets)) == len(offsets) - 1, "exactly the lost piece was sent again, nothing else"
    _checked(page, "case after the interrupted upload")

    # The other pages a candidate has while preparing the portfolio.
    for where in (f"/cases/{case_id}/referees/new", "/profile"):
        page.goto(live_server + where)
        _checked(page, where)
    page.goto(f"{live_server}/cases/{case_id}")

    # Every outcome has evidence: the coverage table says so, and the portfolio is submitted.
    assert page.locator("tr.coverage-missing").count() == 0
    page.locator("form[action$='/transitions/submit'] button").click()
    page.wait_for_load_state()
    expect(page.locator(".flash.success")).to_be_visible()
    _checked(page, "case submitted")

    with app.app_context():
        user = db.session.execute(select(User).where(User.phone == "+380675551234")).scalar_one()
        assert user.preferred_language == "uk" and user.email is None
        case = db.session.get(Case, case_id)
        assert case.candidate_id == user.id and case.state == "submitted"
        items = db.session.execute(select(EvidenceItem).where(EvidenceItem.case_id == case_id)).scalars().all()
        assert sorted(i.media_type for i in items) == ["application/pdf", "image/jpeg", "image/jpeg"]
        from validation.services.evidence import store

        stored = store().path_for(next(i for i in items if i.title == "Мій хліб").blob_sha256)
        assert 0x8825 not in Image.open(stored).getexif(), "the GPS position reached the store"
