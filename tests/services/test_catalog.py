"""The catalog import: the demo catalog goes in complete, a second import changes nothing, and every
error names the credential and the field, with nothing stored."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from flask import Flask

from tests import factories
from validation.extensions import db
from validation.models import AuditEvent, Credential, LearningOutcome
from validation.services import audit, catalog
from validation.services.errors import Invalid
from validation.web.security import write_intent

DEMO = yaml.safe_load(factories.CATALOG.read_text(encoding="utf-8"))["credentials"]
EU_ELEMENTS = {
    # column on Credential: where it comes from in the file
    "awarding_body_name": ("awarding_body", "name"),
    "awarding_body_country": ("awarding_body", "country"),
    "awarding_body_url": ("awarding_body", "url"),
    "country": ("country",),
    "languages": ("languages",),
    "eqf_level": ("eqf_level",),
    "nqf_level": ("nqf_level",),
    "credits_system": ("credits", "system"),
    "workload_hours": ("workload_hours",),
    "assessment_type": ("assessment_type",),
    "participation": ("participation",),
    "quality_assurance": ("quality_assurance",),
    "identity_verification": ("identity_verification",),
    "prerequisites": ("prerequisites",),
    "stackability": ("stackability",),
    "further_information": ("further_information",),
    "evidence_guidance": ("evidence_guidance",),
    "validity_years": ("validity_years",),
    "title": ("title",),
    "description": ("description",),
    "sector": ("sector",),
    "status": ("status",),
    "workflow_key": ("workflow",),
}


@pytest.fixture(autouse=True)
def _no_write_intent_left_behind() -> Iterator[None]:
    """A CLI command marks its thread as writing (its process ends there); the tests go on, so restore it."""
    token = write_intent.set(False)
    yield
    write_intent.reset(token)


def _counts() -> tuple[int, int, int]:
    def count(model: Any) -> int:
        return int(db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one())

    return count(Credential), count(LearningOutcome), count(AuditEvent)


def _credentials() -> list[Credential]:
    statement = sa.select(Credential).order_by(Credential.code, Credential.version)
    return list(db.session.execute(statement).scalars())


def _source(entry: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = entry
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


# --- the demo catalog ----------------------------------------------------------------------------------


def test_demo_catalog_imports_complete(ctx: Flask) -> None:
    report = catalog.import_catalog(factories.CATALOG)
    db.session.commit()
    db.session.expire_all()
    assert sorted(report.created) == sorted(e["code"] for e in DEMO) and report.unchanged == []
    stored = _credentials()
    assert len(stored) == 8
    by_code = {c.code: c for c in stored}
    for entry in DEMO:
        credential = by_code[entry["code"]]
        assert credential.version == entry.get("version", 1)
        assert 4 <= len(credential.outcomes) <= 8, credential.code
        assert {"en", "uk"} <= set(credential.title), credential.code
        assert all(credential.title[lang].strip() for lang in ("en", "uk"))
        assert credential.credits_value == Decimal(str(entry["credits"]["value"]))
        assert sum(o.credits for o in credential.outcomes) == credential.credits_value, credential.code
        for column, path in EU_ELEMENTS.items():
            assert getattr(credential, column) == _source(entry, path), (credential.code, column)
        # The mandatory EU elements are never empty.
        for column in ("awarding_body_name", "awarding_body_country", "country", "eqf_level",
                       "credits_system", "workload_hours", "assessment_type", "participation",
                       "quality_assurance", "identity_verification", "languages"):
            assert getattr(credential, column), (credential.code, column)
        assert {"en", "uk"} <= set(credential.assessment_type)
        assert {"en", "uk"} <= set(credential.quality_assurance)
        pairs = zip(credential.outcomes, entry["outcomes"], strict=True)
        for position, (outcome, source) in enumerate(pairs, start=1):
            assert outcome.position == position
            assert outcome.code == source["code"]
            assert outcome.kind == source["kind"]
            assert outcome.credits == Decimal(str(source["credits"]))
            assert outcome.text == source["text"]
            assert {"en", "uk"} <= set(outcome.text), (credential.code, outcome.code)
            assert outcome.criteria == source["criteria"] and len(outcome.criteria) >= 1
            assert all({"en", "uk"} <= set(c) for c in outcome.criteria), (credential.code, outcome.code)
            assert outcome.esco == source.get("esco", [])
    # One audit event per credential created, holding ids and codes only.
    events = list(db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.seq)).scalars())
    assert [e.action for e in events] == ["catalog.credential_imported"] * 8
    assert {audit.facts_of(e)["credential_id"] for e in events} == {c.id for c in stored}
    assert audit.verify_chain().intact


def test_demo_catalog_covers_kinds_levels_and_credit_systems(ctx: Flask) -> None:
    catalog.import_catalog(factories.CATALOG)
    db.session.commit()
    stored = _credentials()
    assert {c.credits_system for c in stored} == {"ECTS", "ECVET", "national"}
    assert {o.kind for c in stored for o in c.outcomes} == {"knowledge", "skill", "responsibility_autonomy"}
    assert all(1 <= c.eqf_level <= 8 for c in stored)
    assert len({c.sector for c in stored}) >= 4
    assert len(catalog.search(catalog.CatalogFilter())[0]) == len(stored)


def test_importing_the_same_file_twice_changes_nothing(ctx: Flask) -> None:
    catalog.import_catalog(factories.CATALOG)
    db.session.commit()
    before = _counts()
    rows_before = [(c.id, c.code, c.version, c.source_digest) for c in _credentials()]
    second = catalog.import_catalog(factories.CATALOG)
    db.session.commit()
    assert second.created == []
    assert sorted(second.unchanged) == sorted(e["code"] for e in DEMO)
    assert _counts() == before == (8, sum(len(e["outcomes"]) for e in DEMO), 8)
    assert [(c.id, c.code, c.version, c.source_digest) for c in _credentials()] == rows_before


def test_the_same_content_as_json_is_unchanged(ctx: Flask, tmp_path: Path) -> None:
    """Same content, other spelling (JSON, keys in another order): still the same credentials."""
    catalog.import_catalog(factories.CATALOG)
    db.session.commit()
    before = _counts()
    reordered = [dict(reversed(list(e.items()))) for e in DEMO]
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"format": 1, "credentials": reordered}, ensure_ascii=False), encoding="utf-8")
    report = catalog.import_catalog(path)
    assert report.created == [] and len(report.unchanged) == 8
    assert _counts() == before


# --- errors name the credential and the field ---------------------------------------------------------


def _valid(code: str = "TEST-CRED") -> dict[str, Any]:
    text = {"en": "Some text", "uk": "Якийсь текст"}
    return {
        "code": code,
        "version": 1,
        "title": {"en": "Test credential", "uk": "Тестова мікрокваліфікація"},
        "description": text,
        "sector": "ict",
        "country": "UA",
        "languages": ["uk", "en"],
        "awarding_body": {"name": "Test college", "country": "UA", "url": "https://example.org/college"},
        "eqf_level": 4,
        "credits": {"value": 2.5, "system": "ECVET"},
        "workload_hours": 60,
        "assessment_type": text,
        "participation": "online",
        "quality_assurance": text,
        "identity_verification": "supervised_online",
        "outcomes": [
            {"code": "LO1", "kind": "knowledge", "credits": 1, "text": text, "criteria": [text]},
            {"code": "LO2", "kind": "skill", "credits": 1.5, "text": text, "criteria": [text, text]},
        ],
    }


def _write(tmp_path: Path, entries: list[dict[str, Any]], suffix: str, name: str = "broken") -> Path:
    path = tmp_path / f"{name}.{suffix}"
    data = {"format": 1, "credentials": entries}
    text = json.dumps(data, ensure_ascii=False) if suffix == "json" else yaml.safe_dump(data, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


def _del(*keys: str | int) -> Callable[[dict[str, Any]], None]:
    def change(entry: dict[str, Any]) -> None:
        target: Any = entry
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return change


def _set(value: Any, *keys: str | int) -> Callable[[dict[str, Any]], None]:
    def change(entry: dict[str, Any]) -> None:
        target: Any = entry
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


BROKEN = {
    # what is wrong: (change, text the message must contain)
    "missing title": (_del("title"), ["TEST-CRED:", "'title' is a required property"]),
    "missing outcome text": (_del("outcomes", 1, "text"), ["TEST-CRED: outcomes[1]:", "'text'"]),
    "title without English": (_set({"uk": "Назва"}, "title"), ["TEST-CRED: title:", "'en'"]),
    "eqf level 9": (_set(9, "eqf_level"), ["TEST-CRED: eqf_level:", "9"]),
    "unknown participation": (_set("hybrid", "participation"), ["TEST-CRED: participation:", "'hybrid'"]),
    "unknown credit system": (_set("points", "credits", "system"),
                              ["TEST-CRED: credits.system:", "'points'"]),
    "awarding body country": (_set("Ukraine", "awarding_body", "country"),
                              ["TEST-CRED: awarding_body.country:", "'Ukraine'"]),
    "outcome without criteria": (_set([], "outcomes", 0, "criteria"), ["TEST-CRED: outcomes[0].criteria:"]),
    "unknown outcome kind": (_set("attitude", "outcomes", 1, "kind"),
                             ["TEST-CRED: outcomes[1].kind:", "'attitude'"]),
    "unknown field": (_set("blue", "colour"), ["TEST-CRED:", "'colour' was unexpected"]),
    "credits do not add up": (_set(3, "outcomes", 1, "credits"),
                              ["TEST-CRED: outcomes.credits:", "add up to 4", "the credential has 2.5"]),
    "duplicate outcome code": (_set("LO1", "outcomes", 1, "code"),
                               ["TEST-CRED: outcomes:", "the code LO1 is used twice"]),
}


@pytest.mark.parametrize("suffix", ["yaml", "json"])
@pytest.mark.parametrize("problem", list(BROKEN))
def test_errors_name_the_credential_and_the_field(
    ctx: Flask, tmp_path: Path, problem: str, suffix: str
) -> None:
    catalog.import_catalog(_write(tmp_path, [_valid("BASE-CRED")], "yaml", "base"))
    db.session.commit()
    before = _counts()
    change, expected = BROKEN[problem]
    broken = _valid()
    change(broken)
    # A valid credential comes first in the file: it must not be stored either.
    path = _write(tmp_path, [_valid("GOOD-CRED"), broken], suffix)
    with pytest.raises(Invalid) as raised:
        catalog.import_catalog(path)
    message = raised.value.reason
    assert message.startswith(f"broken.{suffix}: ")
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    assert "GOOD-CRED" not in message
    # Nothing was written, not even before the caller rolls back.
    assert _counts() == before
    db.session.rollback()
    assert _counts() == before
    assert catalog.by_code("GOOD-CRED") is None


def test_every_error_of_a_file_is_reported_at_once(ctx: Flask, tmp_path: Path) -> None:
    first = _valid("FIRST-CRED")
    first["eqf_level"] = 0
    second = _valid("SECOND-CRED")
    second["participation"] = "by post"
    nameless = _valid()
    del nameless["code"]
    path = _write(tmp_path, [first, second, nameless], "yaml")
    with pytest.raises(Invalid) as raised:
        catalog.import_catalog(path)
    lines = raised.value.reason.splitlines()
    assert any("FIRST-CRED: eqf_level:" in line for line in lines), lines
    assert any("SECOND-CRED: participation:" in line for line in lines), lines
    assert any("credential #3:" in line and "'code' is a required property" in line for line in lines), lines
    assert all(line.startswith("broken.yaml: ") for line in lines), lines
    assert _counts() == (0, 0, 0)


def test_the_same_code_and_version_twice_in_one_file(ctx: Flask, tmp_path: Path) -> None:
    path = _write(tmp_path, [_valid(), _valid()], "yaml")
    with pytest.raises(Invalid, match="TEST-CRED: version 1 appears twice"):
        catalog.import_catalog(path)
    assert _counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("broken.yaml", "format: 1\ncredentials:\n  - code: TEST-CRED\n    title: {en: [unclosed\n",
         "broken.yaml: not valid YAML"),
        ("broken.json", '{"format": 1, "credentials": [{"code": "TEST-CRED",}]}',
         "broken.json: not valid JSON"),
        ("broken.yaml", "credentials: []\n", "broken.yaml: credentials:"),
        ("broken.yaml", "format: 2\ncredentials: [{code: TEST-CRED}]\n", "broken.yaml: format:"),
        ("broken.json", '["not", "a", "catalog"]', "broken.json: (top level):"),
    ],
)
def test_unreadable_files_are_refused(
    ctx: Flask, tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(Invalid) as raised:
        catalog.import_catalog(path)
    assert raised.value.reason.startswith(expected), raised.value.reason
    assert _counts() == (0, 0, 0)


def test_changed_content_needs_a_new_version(ctx: Flask, tmp_path: Path) -> None:
    original = _valid()
    catalog.import_catalog(_write(tmp_path, [original], "yaml", "v1"))
    db.session.commit()
    before = _counts()
    changed = copy.deepcopy(original)
    changed["title"]["en"] = "Test credential, revised"
    with pytest.raises(Invalid) as raised:
        catalog.import_catalog(_write(tmp_path, [changed], "yaml", "v1-changed"))
    message = raised.value.reason
    assert "TEST-CRED" in message and "version 1" in message and "new version" in message, message
    db.session.rollback()
    assert _counts() == before
    stored = catalog.by_code("TEST-CRED")
    assert stored is not None and stored.title["en"] == "Test credential"

    changed["version"] = 2
    report = catalog.import_catalog(_write(tmp_path, [changed], "yaml", "v2"))
    db.session.commit()
    assert report.created == ["TEST-CRED"]
    versions = [(c.version, c.title["en"]) for c in _credentials()]
    assert versions == [(1, "Test credential"), (2, "Test credential, revised")]
    newest = catalog.by_code("TEST-CRED")
    assert newest is not None and newest.version == 2


def test_import_records_the_actor(ctx: Flask, tmp_path: Path) -> None:
    admin = factories.user("admin")
    catalog.import_catalog(_write(tmp_path, [_valid()], "json", "one"), actor=admin)
    db.session.commit()
    event = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "catalog.credential_imported")
    ).scalar_one()
    assert event.actor_id == admin.id
    assert audit.facts_of(event) == {"credential_id": catalog.by_code("TEST-CRED").id,  # type: ignore[union-attr]
                                     "code": "TEST-CRED", "version": 1, "outcomes": 2}


# --- the command ---------------------------------------------------------------------------------------


def _app_counts(app: Flask) -> tuple[int, int, int]:
    with app.app_context():
        counts = _counts()
        db.session.remove()
        return counts


def test_cli_import_catalog(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import-catalog", str(factories.CATALOG)])
    assert result.exit_code == 0, result.output
    assert "8 credential(s) created, 0 unchanged." in result.output
    counts = _app_counts(app)
    assert counts == (8, sum(len(e["outcomes"]) for e in DEMO), 8)

    again = runner.invoke(args=["import-catalog", str(factories.CATALOG)])
    assert again.exit_code == 0, again.output
    assert "0 credential(s) created, 8 unchanged." in again.output
    assert _app_counts(app) == counts


def test_cli_import_catalog_refuses_a_broken_file(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    broken = _valid()
    broken["eqf_level"] = 9
    path = _write(tmp_path, [_valid("GOOD-CRED"), broken], "yaml")
    result = runner.invoke(args=["import-catalog", str(path)])
    assert result.exit_code == 1, result.output
    assert "broken.yaml: TEST-CRED: eqf_level:" in result.stderr
    assert "created" not in result.output
    assert _app_counts(app) == (0, 0, 0)


def test_cli_import_catalog_rolls_back_a_partly_done_import(app: Flask, tmp_path: Path) -> None:
    """A new credential before a refused change in the same file is not kept either."""
    runner = app.test_cli_runner()
    first = runner.invoke(args=["import-catalog", str(_write(tmp_path, [_valid()], "yaml", "v1"))])
    assert first.exit_code == 0, first.output
    before = _app_counts(app)
    changed = _valid()
    changed["workload_hours"] = 61
    path = _write(tmp_path, [_valid("NEW-CRED"), changed], "yaml", "mixed")
    result = runner.invoke(args=["import-catalog", str(path)])
    assert result.exit_code == 1, result.output
    assert "TEST-CRED" in result.stderr and "new version" in result.stderr
    assert _app_counts(app) == before
    with app.app_context():
        assert catalog.by_code("NEW-CRED") is None
        assert audit.verify_chain().intact
        db.session.remove()


def test_cli_import_catalog_needs_an_existing_file(app: Flask, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(args=["import-catalog", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
