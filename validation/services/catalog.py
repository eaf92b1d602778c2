"""The catalog: import credentials from YAML or JSON, and read them for the pages."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from sqlalchemy import select

from validation.extensions import db
from validation.models import Credential, LearningOutcome, User
from validation.models.catalog import (
    CREDENTIAL_STATUSES,
    CREDIT_SYSTEMS,
    IDENTITY_VERIFICATION,
    OUTCOME_KINDS,
    PARTICIPATION,
    localized,
)
from validation.services import audit
from validation.services.errors import Invalid

_TEXT = {
    "type": "object",
    "required": ["en"],
    "propertyNames": {"pattern": "^[a-z]{2}$"},
    "additionalProperties": {"type": "string", "minLength": 1},
}
_OUTCOME = {
    "type": "object",
    "additionalProperties": False,
    "required": ["code", "kind", "credits", "text", "criteria"],
    "properties": {
        "code": {"type": "string", "pattern": r"^[A-Z0-9][A-Z0-9.\-]{0,15}$"},
        "kind": {"enum": list(OUTCOME_KINDS)},
        "credits": {"type": "number", "minimum": 0},
        "text": _TEXT,
        "esco": {"type": "array", "items": {"type": "string", "pattern": "^https?://"}},
        "criteria": {"type": "array", "minItems": 1, "items": _TEXT},
    },
}
_OPTIONAL_TEXT = {"oneOf": [_TEXT, {"type": "null"}]}
CREDENTIAL_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "code",
        "title",
        "description",
        "sector",
        "country",
        "languages",
        "awarding_body",
        "eqf_level",
        "credits",
        "workload_hours",
        "assessment_type",
        "participation",
        "quality_assurance",
        "identity_verification",
        "outcomes",
    ],
    "properties": {
        "code": {"type": "string", "pattern": r"^[A-Z0-9][A-Z0-9\-]{2,39}$"},
        "version": {"type": "integer", "minimum": 1},
        "status": {"enum": list(CREDENTIAL_STATUSES)},
        "workflow": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "title": _TEXT,
        "description": _TEXT,
        "sector": {"type": "string", "pattern": "^[a-z][a-z_]{1,39}$"},
        "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "languages": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^[a-z]{2}$"}},
        "awarding_body": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "country"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "url": {"type": "string", "pattern": "^https?://"},
                "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
            },
        },
        "eqf_level": {"type": "integer", "minimum": 1, "maximum": 8},
        "nqf_level": {"type": ["string", "null"]},
        "credits": {
            "type": "object",
            "additionalProperties": False,
            "required": ["value", "system"],
            "properties": {
                "value": {"type": "number", "exclusiveMinimum": 0},
                "system": {"enum": list(CREDIT_SYSTEMS)},
            },
        },
        "workload_hours": {"type": "integer", "minimum": 1},
        "assessment_type": _TEXT,
        "participation": {"enum": list(PARTICIPATION)},
        "quality_assurance": _TEXT,
        "identity_verification": {"enum": list(IDENTITY_VERIFICATION)},
        "prerequisites": _OPTIONAL_TEXT,
        "stackability": _OPTIONAL_TEXT,
        "further_information": _OPTIONAL_TEXT,
        "evidence_guidance": _OPTIONAL_TEXT,
        "validity_years": {"type": ["integer", "null"], "minimum": 1},
        "outcomes": {"type": "array", "minItems": 1, "items": _OUTCOME},
    },
}
FILE_SCHEMA = {
    "type": "object",
    "required": ["credentials"],
    "properties": {"format": {"const": 1}, "credentials": {"type": "array", "minItems": 1}},
}


# libyaml's safe loader when PyYAML was built with it: the same result, many times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class ImportReport:
    created: list[str]
    unchanged: list[str]


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _credential_errors(index: int, entry: Any) -> list[str]:
    label = entry.get("code") if isinstance(entry, dict) and isinstance(entry.get("code"), str) else None
    label = label or f"credential #{index + 1}"
    errors = [
        f"{label}: {_path(e.absolute_path)}: {e.message}"
        for e in sorted(Draft202012Validator(CREDENTIAL_SCHEMA).iter_errors(entry), key=lambda e: e.path)
    ]
    if errors:
        return errors
    codes = [o["code"] for o in entry["outcomes"]]
    for code in sorted({c for c in codes if codes.count(c) > 1}):
        errors.append(f"{label}: outcomes: the code {code} is used twice")
    total = sum(Decimal(str(o["credits"])) for o in entry["outcomes"])
    if total != Decimal(str(entry["credits"]["value"])):
        errors.append(
            f"{label}: outcomes.credits: the outcomes add up to {total}, the credential has "
            f"{entry['credits']['value']}"
        )
    return errors


def parse_catalog(text: str, origin: str) -> list[dict[str, Any]]:
    """Read and validate a catalog file; every error names the credential and the field."""
    try:
        data = json.loads(text) if origin.endswith(".json") else yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise Invalid(
            f"{origin}: not valid {'JSON' if origin.endswith('.json') else 'YAML'}: {exc}"
        ) from None
    errors = [
        f"{origin}: {_path(e.absolute_path)}: {e.message}"
        for e in Draft202012Validator(FILE_SCHEMA).iter_errors(data)
    ]
    if errors:
        raise Invalid("\n".join(errors))
    entries = data["credentials"]
    for index, entry in enumerate(entries):
        errors.extend(_credential_errors(index, entry))
    keys = [(e["code"], e.get("version", 1)) for e in entries if isinstance(e, dict) and "code" in e]
    for code, version in sorted({k for k in keys if keys.count(k) > 1}):
        errors.append(f"{code}: version {version} appears twice in the file")
    if errors:
        raise Invalid("\n".join(f"{origin}: {e}" if not e.startswith(origin) else e for e in errors))
    return entries


def _digest(entry: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(entry, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def import_catalog(path: str | Path, actor: User | None = None) -> ImportReport:
    """Create credentials that are new; an identical one already there is left alone.

    A credential with the same code and version but other content is refused: cases refer to it, so a
    change must come as a new version.
    """
    path = Path(path)
    entries = parse_catalog(path.read_text(encoding="utf-8"), path.name)
    created: list[str] = []
    unchanged: list[str] = []
    for entry in entries:
        version = entry.get("version", 1)
        digest = _digest(entry)
        existing = db.session.execute(
            select(Credential).where(Credential.code == entry["code"], Credential.version == version)
        ).scalar_one_or_none()
        if existing is not None:
            if existing.source_digest != digest:
                raise Invalid(
                    f"{path.name}: {entry['code']}: version {version} is already in the catalog with other "
                    "content; give the changed credential a new version"
                )
            unchanged.append(entry["code"])
            continue
        credential = _build(entry, version, digest)
        db.session.add(credential)
        db.session.flush()
        audit.record(
            "catalog.credential_imported",
            actor=actor,
            credential_id=credential.id,
            code=credential.code,
            version=version,
            outcomes=len(credential.outcomes),
        )
        created.append(entry["code"])
    return ImportReport(created, unchanged)


def _build(entry: dict[str, Any], version: int, digest: str) -> Credential:
    body = entry["awarding_body"]
    credential = Credential(
        code=entry["code"],
        version=version,
        status=entry.get("status", "published"),
        workflow_key=entry.get("workflow", "standard"),
        title=entry["title"],
        description=entry["description"],
        sector=entry["sector"],
        country=entry["country"],
        languages=entry["languages"],
        awarding_body_name=body["name"],
        awarding_body_url=body.get("url"),
        awarding_body_country=body["country"],
        eqf_level=entry["eqf_level"],
        nqf_level=entry.get("nqf_level"),
        credits_value=Decimal(str(entry["credits"]["value"])),
        credits_system=entry["credits"]["system"],
        workload_hours=entry["workload_hours"],
        assessment_type=entry["assessment_type"],
        participation=entry["participation"],
        quality_assurance=entry["quality_assurance"],
        identity_verification=entry["identity_verification"],
        prerequisites=entry.get("prerequisites"),
        stackability=entry.get("stackability"),
        further_information=entry.get("further_information"),
        evidence_guidance=entry.get("evidence_guidance"),
        validity_years=entry.get("validity_years"),
        source_digest=digest,
    )
    for position, outcome in enumerate(entry["outcomes"], start=1):
        credential.outcomes.append(
            LearningOutcome(
                code=outcome["code"],
                position=position,
                kind=outcome["kind"],
                credits=Decimal(str(outcome["credits"])),
                text=outcome["text"],
                criteria=outcome["criteria"],
                esco=outcome.get("esco", []),
            )
        )
    return credential


@dataclass(frozen=True)
class CatalogFilter:
    """What a person looks for in the catalog; empty fields do not filter."""

    query: str = ""
    sector: str = ""
    country: str = ""
    level: int | None = None
    language: str = ""

    def matches(self, credential: Credential) -> bool:
        if self.sector and credential.sector != self.sector:
            return False
        if self.country and credential.country != self.country:
            return False
        if self.level is not None and credential.eqf_level != self.level:
            return False
        if self.language and self.language not in credential.languages:
            return False
        words = self.query.casefold().split()
        haystack = " ".join([credential.code, *credential.title.values(), *credential.description.values()])
        return all(word in haystack.casefold() for word in words)


@dataclass(frozen=True)
class Facets:
    """The values the filters can take, read from what is published, so no choice leads to nothing."""

    sectors: list[str]
    countries: list[str]
    levels: list[int]
    languages: list[str]


def _newest_published() -> list[Credential]:
    rows = db.session.execute(
        select(Credential)
        .where(Credential.status == "published")
        .order_by(Credential.code, Credential.version)
    ).scalars()
    newest: dict[str, Credential] = {}
    for credential in rows:
        newest[credential.code] = credential
    return list(newest.values())


def published_titles(language: str) -> list[tuple[int, str, str]]:
    """(id, code, title in `language`) of the newest published version of each credential, by code: what a
    choice of credential shows, without loading whole credentials."""
    newest: dict[str, tuple[int, str, str]] = {}
    for credential_id, code, title in db.session.execute(
        select(Credential.id, Credential.code, Credential.title)
        .where(Credential.status == "published")
        .order_by(Credential.code, Credential.version)
    ):
        newest[code] = (credential_id, code, localized(title, language))
    return list(newest.values())


def titles(language: str) -> dict[int, tuple[str, str]]:
    """(code, title in `language`) of every credential, whatever its version or status, by id: how a list of
    cases names their credentials, without reading a title for each case."""
    return {
        credential_id: (code, localized(title, language))
        for credential_id, code, title in db.session.execute(
            select(Credential.id, Credential.code, Credential.title)
        )
    }


def published_credentials() -> list[Credential]:
    """The newest published version of each credential, by code."""
    return _newest_published()


def search(wanted: CatalogFilter, reader_language: str = "en") -> tuple[list[Credential], Facets]:
    """Published credentials (newest version of each) that match, sorted by title in the reader's language.

    The catalog of a centre holds tens or hundreds of credentials, so matching in Python over one query is
    simpler than per-language text search in two database dialects, and as fast.
    """
    every = _newest_published()
    facets = Facets(
        sectors=sorted({c.sector for c in every}),
        countries=sorted({c.country for c in every}),
        levels=sorted({c.eqf_level for c in every}),
        languages=sorted({lang for c in every for lang in c.languages}),
    )
    found = [c for c in every if wanted.matches(c)]
    return sorted(found, key=lambda c: localized(c.title, reader_language).casefold()), facets


def by_code(code: str) -> Credential | None:
    return db.session.execute(
        select(Credential)
        .where(Credential.code == code, Credential.status == "published")
        .order_by(Credential.version.desc())
        .limit(1)
    ).scalar_one_or_none()
