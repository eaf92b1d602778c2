"""The interface in Ukrainian: pages, the language switch, the account's language, and the catalog itself."""

# The expected texts are Ukrainian: Cyrillic letters that look like Latin ones are meant.
# ruff: noqa: RUF001

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import yaml
from babel.messages.catalog import Catalog
from babel.messages.extract import extract
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

import workflows
from tests import factories
from tests.conftest import PASSWORD, login, post
from validation.extensions import db
from validation.models import User
from validation.models.catalog import PARTICIPATION
from validation.web import errors, timeline

TRANSLATIONS = Path(__file__).resolve().parents[2] / "validation" / "translations"
PO_FILE = TRANSLATIONS / "uk" / "LC_MESSAGES" / "messages.po"
POT_FILE = TRANSLATIONS / "messages.pot"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
DEMO = yaml.safe_load(factories.CATALOG.read_text(encoding="utf-8"))["credentials"]
BAKERY = next(c for c in DEMO if c["code"] == "UA-BAKERY")


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def _text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a reader sees it: no tags, entities decoded, whitespace collapsed."""
    without_tags = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(without_tags))


def _in_ukrainian(response) -> str:  # type: ignore[no-untyped-def]
    body = response.get_data(as_text=True)
    assert '<html lang="uk">' in body
    text = _text(response)
    for word in ("Мікрокваліфікації", "Мова",
                 "Валідація результатів неформального та інформального навчання"):
        assert word in text
    return text


@pytest.fixture
def seeded(app: Flask) -> Flask:
    """The demo catalog and a candidate, committed so that requests see them."""
    with app.app_context():
        factories.load_catalog()
        factories.user("candidate", "olena@test.example", "Олена")
        db.session.commit()
    return app


def _preferred_language(app: Flask, email: str) -> str:
    with app.app_context():
        user = db.session.execute(db.select(User).where(User.email == email)).scalar_one()
        return str(user.preferred_language)


# --- pages ---------------------------------------------------------------------------------------------


def test_catalog_page_in_ukrainian(seeded: Flask, client: FlaskClient) -> None:
    text = _in_ukrainian(client.get("/catalog", headers={"Accept-Language": "uk"}))
    for credential in DEMO:
        assert credential["title"]["uk"] in text
        assert credential["title"]["en"] not in text
    assert "Усі галузі" in text and "Рівень ЄРК" in text
    assert "ІКТ" in text and "Харчове виробництво" in text
    assert f"{len(DEMO)} мікрокваліфікацій" in text  # 8: the "many" plural form


def test_catalog_page_in_english(seeded: Flask, client: FlaskClient) -> None:
    response = client.get("/catalog", headers={"Accept-Language": "en"})
    text = _text(response)
    assert '<html lang="en">' in response.get_data(as_text=True)
    assert BAKERY["title"]["en"] in text and "All sectors" in text and f"{len(DEMO)} credentials" in text
    assert BAKERY["title"]["uk"] not in text


def test_credential_page_in_ukrainian(seeded: Flask, client: FlaskClient) -> None:
    response = client.get(f"/catalog/{BAKERY['code']}", headers={"Accept-Language": "uk"})
    assert response.status_code == 200
    text = _in_ukrainian(response)
    assert BAKERY["title"]["uk"] in text and BAKERY["description"]["uk"] in text
    assert BAKERY["outcomes"][0]["text"]["uk"] in text
    assert BAKERY["outcomes"][0]["criteria"][0]["uk"] in text
    for word in ("Орган, що присвоює", "Результати навчання", "Критерії оцінювання", "Форма участі", "очна",
                 "Зареєструйтеся, щоб почати"):
        assert word in text
    assert BAKERY["title"]["en"] not in text and "Learning outcomes" not in text


def test_front_login_and_register_pages_in_ukrainian(seeded: Flask, client: FlaskClient) -> None:
    expected = {
        "/": "Отримайте визнання того, що ви вмієте",
        "/login": "Ще не маєте облікового запису?",
        "/register": "Які дані ми зберігаємо і навіщо",
    }
    for url, sentence in expected.items():
        text = _in_ukrainian(client.get(url, headers={"Accept-Language": "uk"}))
        assert sentence in text, url
        assert "Sign in" not in text and "Register" not in text, url


def test_error_page_in_ukrainian(seeded: Flask, client: FlaskClient) -> None:
    response = client.get("/catalog/NOPE", headers={"Accept-Language": "uk"})
    assert response.status_code == 404
    text = _in_ukrainian(response)
    assert "Не знайдено" in text and "Нічого не змінено." in text and "Повернутися назад" in text
    assert "Not found" not in text


def test_case_page_and_service_refusal_in_ukrainian(seeded: Flask, client: FlaskClient) -> None:
    login(client, "olena@test.example")
    post(client, "/language", {"language": "uk"})
    opened = post(client, f"/catalog/{BAKERY['code']}/open", follow_redirects=True)
    text = _text(opened)
    assert "Вашу справу відкрито." in text
    assert "Ідентифікація" in text and "Чернетка" in text and "Олена: справу відкрито." in text
    refused = post(client, f"/catalog/{BAKERY['code']}/open")
    assert refused.status_code == 409
    assert "У вас уже є відкрита справа за цією мікрокваліфікацією." in _text(refused)


def test_the_case_page_states_the_outcomes_in_each_reader_s_language(seeded: Flask, client: FlaskClient) -> None:
    """Each outcome's catalog text is written out once per language: the next reader in another language
    still gets theirs."""
    login(client, "olena@test.example")
    post(client, "/language", {"language": "en"})
    page = post(client, f"/catalog/{BAKERY['code']}/open", follow_redirects=True)
    outcome = BAKERY["outcomes"][0]
    english = _text(page)
    assert outcome["text"]["en"] in english and outcome["criteria"][0]["en"] in english
    assert "Assessment criteria" in english and outcome["text"]["uk"] not in english
    post(client, "/language", {"language": "uk"})
    ukrainian = _in_ukrainian(client.get(page.request.path))
    assert outcome["text"]["uk"] in ukrainian and outcome["criteria"][0]["uk"] in ukrainian
    assert "Критерії оцінювання" in ukrainian and outcome["text"]["en"] not in ukrainian


# --- choosing the language -----------------------------------------------------------------------------


def test_language_switch_sets_a_cookie(seeded: Flask, client: FlaskClient) -> None:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = post(client, "/language", {"language": "uk"})
    assert response.status_code == 302
    cookie = client.get_cookie("lang")
    assert cookie is not None and cookie.value == "uk" and cookie.http_only
    # The cookie outranks the browser's Accept-Language.
    _in_ukrainian(client.get("/catalog"))
    post(client, "/language", {"language": "en"})
    assert "All sectors" in _text(client.get("/catalog"))


def test_language_switch_refuses_unknown_languages(seeded: Flask, client: FlaskClient) -> None:
    assert post(client, "/language", {"language": "xx"}).status_code == 400
    assert client.get_cookie("lang") is None


def test_signed_in_choice_is_saved_and_survives_a_new_login(seeded: Flask, client: FlaskClient) -> None:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, "olena@test.example")
    assert _preferred_language(seeded, "olena@test.example") == "en"
    post(client, "/language", {"language": "uk"})
    assert _preferred_language(seeded, "olena@test.example") == "uk"

    # Another browser: no cookie, an English Accept-Language; the account's choice still wins.
    other = seeded.test_client()
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert "All sectors" in _text(other.get("/catalog"))
    desk = login(other, "olena@test.example", PASSWORD).headers["Location"]
    text = _in_ukrainian(other.get(desk))
    assert "Мої справи" in text and "У вас ще немає справи." in text


# --- the catalog of messages ---------------------------------------------------------------------------


def _messages(catalog: Catalog):  # type: ignore[no-untyped-def]
    return [m for m in catalog if m.id]


def test_every_message_is_translated() -> None:
    catalog = _read(PO_FILE)
    assert catalog.num_plurals == 3
    messages = _messages(catalog)
    assert len(messages) > 250
    for message in messages:
        assert not message.fuzzy, message.id
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert len(forms) == (3 if message.pluralizable else 1), message.id
        assert all(form and form.strip() for form in forms), message.id


def test_translations_keep_their_placeholders() -> None:
    for message in _messages(_read(PO_FILE)):
        source = message.id[-1] if isinstance(message.id, tuple) else message.id
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        for form in forms:
            assert sorted(PLACEHOLDER.findall(form)) == sorted(PLACEHOLDER.findall(source)), (source, form)
            assert "“" not in form and "”" not in form, form  # Ukrainian quotes are «…»


def test_translation_covers_the_template() -> None:
    """The .po file was updated after the last extraction: every message of the template is in it."""
    translated = {(m.context, m.id) for m in _messages(_read(PO_FILE))}
    missing = [m.id for m in _messages(_read(POT_FILE)) if (m.context, m.id) not in translated]
    assert not missing


def _guard_templates() -> set[str]:
    """The template of every refusal the guards give for a few typical cases, codes or not."""
    claims = ("LO1", "LO2")
    facts = [
        workflows.CaseFacts(state="draft"),
        workflows.CaseFacts(state="draft", claimed_outcomes=claims, evidence_by_outcome={"LO1": 1}),
        workflows.CaseFacts(state="x", claimed_outcomes=claims, decisions=dict.fromkeys(claims, "met")),
        workflows.CaseFacts(state="x", claimed_outcomes=claims, decisions=dict.fromkeys(claims, "not_met")),
        workflows.CaseFacts(state="x", claimed_outcomes=claims, decisions={"LO1": "met"}),
    ]
    said = {text for guard in workflows.GUARDS.values() for f in facts if (text := guard(f))}
    assert all(isinstance(text, workflows.Message) for text in said)
    return {text.template for text in said}


def test_values_translated_at_run_time_are_in_the_catalog() -> None:
    """Texts the pages translate by value (`_(value)`) must be in the catalog under exactly that value."""
    known = {m.id for m in _messages(_read(PO_FILE))}
    definition = workflows.default_registry().latest("standard")
    values = {
        *timeline.TRIGGER_SENTENCES.values(),
        *timeline.VERDICTS.values(),
        *errors.TITLES.values(),
        *(c["sector"] for c in DEMO),
        *(c["credits"]["system"] for c in DEMO),
        *PARTICIPATION,
        *workflows.ROLES,
        *workflows.STAGES,
        *(stage.capitalize() for stage in workflows.STAGES),
        definition.title,
        *(s.label for s in definition.states.values()),
        *(t.label for t in definition.transitions.values()),
        *_guard_templates(),
    }
    assert not sorted(values - known)


def test_guard_and_engine_refusals_are_translated(seeded: Flask, client: FlaskClient) -> None:
    """A refusal naming outcome codes and an action label comes out whole in Ukrainian."""
    registry = workflows.default_registry()
    facts = workflows.CaseFacts(state="draft", claimed_outcomes=("LO1", "LO2"), evidence_by_outcome={"LO1": 1})
    with seeded.test_request_context(headers={"Accept-Language": "uk"}):
        from validation.web.i18n import translate_refusal

        with pytest.raises(workflows.GuardRefused) as guard:
            registry.fire("standard", 1, facts, "submit", "candidate")
        assert translate_refusal(guard.value) == "Результати навчання без доказів: LO2."
        with pytest.raises(workflows.RoleNotAllowed) as role:
            registry.fire("standard", 1, facts, "award", "candidate")
        text = translate_refusal(role.value)
        assert "«Присвоїти»" in text and "координатор" in text, text


def test_workflow_extractor_finds_title_and_labels() -> None:
    """Found through the `babel.extractors` entry point, as `pybabel extract` finds it."""
    source = workflows.DEFINITIONS_DIR / "standard-v2.yaml"
    with source.open("rb") as handle:
        found = list(extract("workflow_yaml", handle))
    lines = source.read_text(encoding="utf-8").splitlines()
    definition = workflows.default_registry().latest("standard")
    expected = [definition.title, *(s.label for s in definition.states.values()),
                *(t.label for t in definition.transitions.values())]
    assert [message for _, message, _, _ in found] == expected
    for lineno, message, comments, context in found:
        assert message in lines[lineno - 1] and comments == [] and context is None


@pytest.mark.parametrize(
    ("next_path", "expected"),
    [("/catalog?sector=food", "/catalog?sector=food"), ("//evil.example/x", "/"), ("/\\evil.example", "/"),
     ("https://evil.example/", "/"), ("", "/")],
)
def test_the_language_switch_returns_to_its_own_page_and_never_elsewhere(client, next_path, expected):
    response = post(client, "/language", {"language": "uk", "next": next_path})
    assert response.status_code == 302
    assert response.headers["Location"] == expected
