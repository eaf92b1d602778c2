"""The evidence form with JavaScript, in Chromium under the site's real CSP: a file goes up in resumable
chunks with a progress bar, a dropped request is retried, a reload continues where the upload stopped,
and a refusal is shown in the form."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests import factories
from tests.browser.test_pages import _sign_in
from tests.services.test_evidence import HTML, PDF
from tests.web.tus import mp4_bytes
from validation.extensions import db
from validation.models import EvidenceItem, UploadSession
from validation.storage.inspect import NOT_ACCEPTED

CHUNK = 4096
VIDEO = mp4_bytes(bytes(range(256)) * 160)  # about 40 kB: ten chunks


@pytest.fixture
def draft(app):  # type: ignore[no-untyped-def]
    app.config["UPLOAD_CHUNK_BYTES"] = CHUNK
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        case = factories.case_in_state("draft", who)
        db.session.commit()
        return case.id


@pytest.fixture
def strict_page(browser):  # type: ignore[no-untyped-def]
    """A phone-sized page that keeps the site's CSP (no bypass): an inline script would not run."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=True)
    context.set_default_timeout(20000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.csp_errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


def _choose(page, name: str, data: bytes | Path, mime: str) -> None:  # type: ignore[no-untyped-def]
    """Pick a file: from memory, or from disk (then it keeps its modification time, as a phone's file does)."""
    page.get_by_label("A file (document, photo, video or sound recording)").check()
    page.get_by_label("Short title").fill("Kneading the dough")
    chosen = data if isinstance(data, Path) else {"name": name, "mimeType": mime, "buffer": data}
    page.locator("#file").set_input_files(chosen)
    page.locator("input[name=outcomes]").first.check()


def _methods(page) -> list[str]:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.method) if "/uploads" in r.url else None)
    return seen


def _items(app) -> list[tuple[str | None, str | None, str, int]]:  # type: ignore[no-untyped-def]
    """(media type, file name, title, size) of each item."""
    with app.app_context():
        return [(i.media_type, i.original_name, i.title, i.blob.size if i.blob else 0)
                for i in db.session.execute(select(EvidenceItem).order_by(EvidenceItem.id)).scalars()]


@pytest.mark.browser
def test_a_file_goes_up_in_chunks_with_progress_and_a_dropped_request_is_retried(app, live_server, strict_page,
                                                                              draft):
    page = strict_page
    _sign_in(page, live_server, "candidate@test.example")
    page.goto(f"{live_server}/cases/{draft}")
    # Only the field of the chosen kind is shown once the script runs.
    page.get_by_label("A written statement").check()
    expect(page.locator("#file")).to_be_hidden()
    expect(page.locator("#statement")).to_be_visible()
    _choose(page, "kneading.mp4", VIDEO, "video/mp4")
    expect(page.locator("#file")).to_be_visible()
    expect(page.locator("#statement")).to_be_hidden()
    methods = _methods(page)
    dropped: list[str] = []

    def drop_third_patch(route):  # type: ignore[no-untyped-def]
        if route.request.method == "PATCH" and methods.count("PATCH") == 3 and not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/uploads/**", drop_third_patch)
    page.get_by_role("button", name="Save evidence").click()
    page.get_by_text("The evidence is saved.").wait_for()  # the case page, loaded again
    assert page.url.endswith(f"/cases/{draft}#evidence")
    assert dropped, "no request was dropped"
    assert methods[0] == "POST" and "HEAD" in methods  # after the drop it asked where the upload stood
    assert methods.count("PATCH") >= len(VIDEO) // CHUNK + 1
    assert _items(app) == [("video/mp4", "kneading.mp4", "Kneading the dough", len(VIDEO))]
    assert not [e for e in page.csp_errors if "Content Security Policy" in e]


@pytest.mark.browser
def test_after_a_reload_the_same_file_continues_where_it_stopped(app, live_server, strict_page, draft, tmp_path):
    page = strict_page
    video = tmp_path / "kneading.mp4"
    video.write_bytes(VIDEO)
    _sign_in(page, live_server, "candidate@test.example")
    page.goto(f"{live_server}/cases/{draft}")
    _choose(page, "kneading.mp4", video, "video/mp4")
    methods = _methods(page)
    page.route("**/uploads/**", lambda route: route.abort("connectionreset")
               if route.request.method == "PATCH" and methods.count("PATCH") > 3 else route.continue_())
    page.get_by_role("button", name="Save evidence").click()
    for _ in range(100):  # until a chunk has been cut off (wait_for_function would need eval, which CSP forbids)
        if methods.count("PATCH") > 3:
            break
        page.wait_for_timeout(50)
    assert int(page.locator("#upload-progress progress").evaluate("bar => bar.value")) > 0
    page.unroute("**/uploads/**")
    page.goto(f"{live_server}/cases/{draft}")  # the phone reloads: the upload in flight is gone
    expect(page.get_by_text("Unfinished uploads")).to_be_visible()
    with app.app_context():
        (session,) = db.session.execute(select(UploadSession)).scalars()
        arrived = session.received
    assert 0 < arrived < len(VIDEO)

    resumed = _methods(page)
    _choose(page, "kneading.mp4", video, "video/mp4")
    page.get_by_role("button", name="Save evidence").click()
    page.get_by_text("The evidence is saved.").wait_for()
    assert resumed[0] == "HEAD" and "POST" not in resumed  # continued, not started again
    assert resumed.count("PATCH") <= (len(VIDEO) - arrived) // CHUNK + 1
    assert _items(app) == [("video/mp4", "kneading.mp4", "Kneading the dough", len(VIDEO))]
    assert "Unfinished uploads" not in page.content()


@pytest.mark.browser
def test_a_refused_file_is_explained_in_the_form(app, live_server, strict_page, draft):
    page = strict_page
    _sign_in(page, live_server, "candidate@test.example")
    page.goto(f"{live_server}/cases/{draft}")
    _choose(page, "cv.pdf", HTML, "application/pdf")
    page.get_by_role("button", name="Save evidence").click()
    alert = page.locator("#upload-error")
    alert.wait_for(state="visible")
    assert NOT_ACCEPTED in alert.inner_text()
    assert page.get_by_role("button", name="Save evidence").is_enabled()
    assert _items(app) == []
    # The person picks the right file and sends the same form again.
    _choose(page, "certificate.pdf", PDF, "application/pdf")
    page.get_by_role("button", name="Save evidence").click()
    page.get_by_text("The evidence is saved.").wait_for()
    assert [media_type for media_type, *_rest in _items(app)] == ["application/pdf"]


@pytest.mark.browser
def test_the_form_and_unfinished_uploads_are_accessible_on_a_phone(app, live_server, page, draft):
    from tests.browser.test_pages import _fits_phone, _serious_violations
    from validation.services import accounts, uploads

    with app.app_context():
        candidate = accounts.find_by_email("candidate@test.example")
        outcome = db.session.get(factories.Case, draft).claims[0].outcome_id
        uploads.create(draft, candidate, 1_500_000, "a-very-long-video-name-from-a-phone-camera-2024.mp4", "Video",
                       [outcome])
        db.session.commit()
    _sign_in(page, live_server, "candidate@test.example")
    page.goto(f"{live_server}/cases/{draft}")
    expect(page.get_by_text("Unfinished uploads")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel this upload")).to_be_visible()
    assert _serious_violations(page) == []
    assert _fits_phone(page)
    page.get_by_role("button", name="Cancel this upload").click()
    expect(page.get_by_text("The upload is stopped")).to_be_visible()
