"""The evidence form without JavaScript: links, the one-time token against double submits, an upload cut
off mid-way, quotas and the item count; and what the page gives the upload script."""

from __future__ import annotations

import io
import re

import pytest
from werkzeug.test import EnvironBuilder

from tests.conftest import csrf_token, post
from tests.services.test_evidence import (
    PNG,
    TEXT,
    World,
    add_statement,
    assert_nothing_stored,
    lock_version,
    make_world,
    tally,
    text_of,
    upload,
)
from tests.web.tus import Tus
from validation.extensions import db
from validation.services import evidence

TOKEN = re.compile(r'name="client_token"[^>]*value="([0-9a-f]{32})"|value="([0-9a-f]{32})"[^>]*name="client_token"')


@pytest.fixture
def world(app) -> World:  # type: ignore[no-untyped-def]
    return make_world(app)


def page_token(w: World) -> str:
    match = TOKEN.search(w.candidate.get(f"/cases/{w.case_id}").get_data(as_text=True))
    assert match, "the evidence form carries no client_token"
    return match.group(1) or match.group(2)


def add_link(w: World, url: str, title: str = "My bakery's video", token: str | None = None):  # type: ignore[no-untyped-def]
    data = {"kind": "link", "title": title, "url": url, "outcomes": [str(o) for o in w.outcomes[:2]],
            "version": str(lock_version(w.app, w.case_id))}
    if token:
        data["client_token"] = token
    return post(w.candidate, f"/cases/{w.case_id}/evidence", data)


# --- links ----------------------------------------------------------------------------------------------


def test_a_link_is_saved_with_its_outcomes(world):
    response = add_link(world, "https://video.example.org/watch?v=bakery&t=30")
    assert response.status_code == 302, text_of(response)[:500]
    with world.app.app_context():
        (item,) = evidence.items_of(world.case_id)
        assert item.kind == "link" and item.url == "https://video.example.org/watch?v=bakery&t=30"
        assert item.title == "My bakery's video" and item.blob is None
        assert sorted(link.outcome_id for link in item.links) == sorted(world.outcomes[:2])


def test_a_link_without_title_is_named_by_its_host(world):
    assert add_link(world, "http://portfolio.example.net/olena", title="").status_code == 302
    with world.app.app_context():
        (item,) = evidence.items_of(world.case_id)
        assert item.title == "portfolio.example.net"


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://files.example.org/cv.pdf",
        "https://",
        "www.example.org/no-scheme",
        "https://trusted.example.org@evil.example.com/",
        "https://example.org/a b",
        "https://example.org/" + "a" * 2000,
        "",
    ],
    ids=["javascript", "data", "ftp", "no-host", "no-scheme", "user-part", "space", "too-long", "empty"],
)
def test_only_http_and_https_addresses_are_kept(world, url):
    before = tally(world.app)
    response = add_link(world, url)
    assert response.status_code == 422
    page = text_of(response)
    assert "Enter a web address that starts with https:// or http://." in page or "2000" in page
    assert_nothing_stored(world, before)


def test_the_service_refuses_a_bad_address_too(world):
    with world.app.app_context():
        from validation.services import accounts

        candidate = accounts.find_by_email("candidate@test.example")
        with pytest.raises(evidence.Invalid):
            evidence.add_link(world.case_id, candidate, "x", "javascript:alert(1)", world.outcomes[:1])
        db.session.rollback()


# --- the same form twice ----------------------------------------------------------------------------------


def test_each_showing_of_the_form_has_its_own_token(world):
    assert page_token(world) != page_token(world)


@pytest.mark.parametrize("kind", ["file", "statement", "link"])
def test_the_same_form_sent_twice_makes_one_item(world, kind):
    token = page_token(world)
    version = str(lock_version(world.app, world.case_id))
    fields = {
        "file": {"file": (io.BytesIO(PNG), "bread.png")},
        "statement": {"statement": "I baked bread for ten years."},
        "link": {"url": "https://example.org/bakery"},
    }[kind]

    def send():  # type: ignore[no-untyped-def]
        data = {"kind": kind, "title": "Bread", "outcomes": [str(o) for o in world.outcomes[:1]],
                "version": version, "client_token": token, **{k: v for k, v in fields.items() if k != "file"}}
        if kind == "file":
            data["file"] = (io.BytesIO(PNG), "bread.png")
        return post(world.candidate, f"/cases/{world.case_id}/evidence", data, content_type="multipart/form-data")

    first = send()
    assert first.status_code == 302
    before = tally(world.app)
    second = send()  # the very same page sent again: its version is stale now, its token is known
    assert second.status_code == 302
    assert second.headers["Location"].endswith(f"/cases/{world.case_id}#evidence")
    assert "This evidence was already saved." in text_of(world.candidate.get(second.headers["Location"]))
    assert_nothing_stored(world, before)
    with world.app.app_context():
        (item,) = evidence.items_of(world.case_id)
        assert item.client_token == token and item.kind == kind


def test_a_new_form_with_a_stale_version_is_still_refused(world):
    version = lock_version(world.app, world.case_id)
    assert add_statement(world).status_code == 302
    before = tally(world.app)
    response = upload(world, PNG, "bread.png", version=version)
    assert response.status_code == 409
    assert_nothing_stored(world, before)


# --- an upload cut off --------------------------------------------------------------------------------


def test_an_upload_cut_off_mid_way_stores_nothing_and_says_so(world):
    token = csrf_token(world.candidate, f"/cases/{world.case_id}")
    builder = EnvironBuilder(
        path=f"/cases/{world.case_id}/evidence",
        method="POST",
        data={"csrf_token": token, "kind": "file", "title": "Bread", "outcomes": [str(world.outcomes[0])],
              "version": str(lock_version(world.app, world.case_id)),
              "file": (io.BytesIO(PNG * 40), "bread.png")},
    )
    environ = builder.get_environ()
    body = environ["wsgi.input"].read()
    before = tally(world.app)
    response = world.candidate.post(
        f"/cases/{world.case_id}/evidence",
        environ_overrides={"wsgi.input": io.BytesIO(body[: len(body) // 2]), "CONTENT_LENGTH": str(len(body)),
                           "CONTENT_TYPE": environ["CONTENT_TYPE"]},
    )
    assert response.status_code == 400
    page = text_of(response)
    assert "The upload was interrupted before the whole file arrived. Nothing was saved" in page
    assert_nothing_stored(world, before)


# --- limits -------------------------------------------------------------------------------------------


def test_a_file_over_the_case_quota_is_refused(world):
    world.app.config["CASE_QUOTA_BYTES"] = len(TEXT) + 10
    assert upload(world, TEXT, "recipe.txt").status_code == 302
    before = tally(world.app)
    response = upload(world, PNG, "bread.png")
    assert response.status_code == 422
    assert "This case has used all the space it has for files; please ask your coordinator." in text_of(response)
    assert_nothing_stored(world, before)


def test_an_upload_in_progress_keeps_its_space(world):
    world.app.config["CASE_QUOTA_BYTES"] = 2000
    created = Tus(world.candidate, world.case_id).create(1990, world.outcomes[:1])
    assert created.status_code == 201
    before = tally(world.app)
    response = upload(world, PNG, "bread.png")
    assert response.status_code == 422
    assert "used all the space" in text_of(response)
    assert_nothing_stored(world, before)


def test_a_file_over_the_per_file_limit_is_refused_in_words_of_the_limit(world):
    world.app.config["MAX_FILE_BYTES"] = 1024 * 1024
    before = tally(world.app)
    response = upload(world, TEXT * (1024 * 1024 // len(TEXT) + 1), "recipe.txt")
    assert response.status_code == 422
    assert "The file is larger than 1 MB." in text_of(response)
    assert_nothing_stored(world, before)


def test_the_item_count_is_limited_per_case(world):
    world.app.config["MAX_ITEMS_PER_CASE"] = 2
    assert add_statement(world).status_code == 302
    assert add_link(world, "https://example.org/one").status_code == 302
    before = tally(world.app)
    for response in (add_statement(world), add_link(world, "https://example.org/two"),
                     upload(world, PNG, "bread.png")):
        assert response.status_code == 422
        assert "This case holds as many pieces of evidence as it may" in text_of(response)
    assert_nothing_stored(world, before)


# --- what the page gives the script -------------------------------------------------------------------


def test_the_form_carries_what_the_upload_script_needs(world):
    html = world.candidate.get(f"/cases/{world.case_id}").get_data(as_text=True)
    assert f'data-upload-endpoint="/cases/{world.case_id}/uploads"' in html
    assert f'data-upload-chunk="{world.app.config["UPLOAD_CHUNK_BYTES"]}"' in html
    assert 'data-msg-progress="{percent} uploaded"' in html
    # The tus client comes only when a file is chosen; the page names it for the script.
    assert 'data-tus-src="/static/vendor/tus/tus.min.js"' in html
    assert '<script src="/static/vendor/tus/tus.min.js"' not in html
    assert '<script src="/static/js/upload.js" defer></script>' in html
    assert 'aria-live="polite"' in html and "<progress" in html
    assert "<script>" not in html  # nothing inline: the CSP allows scripts from the site only
    for path in ("/static/vendor/tus/tus.min.js", "/static/js/upload.js"):
        assert world.candidate.get(path).status_code == 200

