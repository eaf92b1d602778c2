"""Finding a credential: words, sector, country, level and assessment language, all in the URL."""

from __future__ import annotations

import re

import pytest

from tests import factories
from validation.extensions import db


@pytest.fixture
def seeded(app):
    with app.app_context():
        factories.load_catalog()
        db.session.commit()
    return app


def _codes(client, query: str, language: str = "en") -> set[str]:  # type: ignore[no-untyped-def]
    page = client.get(f"/catalog?{query}", headers={"Accept-Language": language}).get_data(as_text=True)
    return set(re.findall(r'href="/catalog/([A-Z0-9-]+)"', page))


def test_no_filter_lists_every_published_credential(seeded, client):
    assert len(_codes(client, "")) == 8


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sector=ict", {"AM-LINUX-TECH", "GE-NET-SUPPORT", "RS-MCU-PROG"}),
        ("country=GE", {"GE-WELD-MMA", "GE-NET-SUPPORT"}),
        ("country=GE&sector=manufacturing", {"GE-WELD-MMA"}),
        ("q=bread", {"UA-BAKERY"}),
        ("q=XYZZY-nothing", set()),
        ("language=hy", {"AM-LINUX-TECH"}),
    ],
)
def test_filters_combine(seeded, client, query, expected):
    assert _codes(client, query) == expected


def test_level_filter_returns_only_that_level(seeded, client):
    with seeded.app_context():
        from validation.services import catalog

        _, facets = catalog.search(catalog.CatalogFilter())
        level = facets.levels[0]
        expected = {c.code for c in catalog.search(catalog.CatalogFilter())[0] if c.eqf_level == level}
    assert _codes(client, f"level={level}") == expected


def test_ukrainian_words_find_credentials_too(seeded, client):
    assert "UA-BAKERY" in _codes(client, "q=хліб", "uk")


def test_filter_options_are_named_in_the_readers_language(seeded, client):
    page = client.get("/catalog?country=UA", headers={"Accept-Language": "uk"}).get_data(as_text=True)
    assert 'value="UA" selected>Україна</option>' in page
    english = client.get("/catalog", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert ">Georgia</option>" in english and ">Armenian</option>" in english


def test_nonsense_in_the_url_is_ignored_not_an_error(seeded, client):
    assert client.get("/catalog?level=abc&country=%3Cscript%3E&language=").status_code == 200
