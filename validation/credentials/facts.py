"""What an award certifies, as plain data: the builders of every format (Open Badges, Europass, PDF) read
these facts and nothing else, so that all formats say the same thing and can be tested without a database.

Texts that exist in several languages are kept as {language: text} mappings (the catalog's own shape);
`text()` picks the reader's language, else English, else any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

Texts = dict[str, str]


def text(texts: Texts | None, language: str) -> str:
    """The text in `language`, else English, else whichever language there is."""
    if not texts:
        return ""
    return texts.get(language) or texts.get("en") or next(iter(texts.values()), "")


@dataclass(frozen=True)
class OutcomeFacts:
    """One validated learning outcome of the award."""

    code: str
    text: Texts
    kind: str  # knowledge | skill | responsibility_autonomy
    credits: Decimal
    criteria: list[Texts] = field(default_factory=list)
    esco: list[str] = field(default_factory=list)  # ESCO skill URIs, where the catalog has them


@dataclass(frozen=True)
class EvidenceFacts:
    """What an evidence item was (never its content or files): its title, kind and the outcomes it showed."""

    title: str
    kind: str  # file | statement | link | attestation | interview
    outcome_codes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AwardFacts:
    """An award with every mandatory and optional element of the EU micro-credential standard."""

    number: str  # the award's public number, e.g. VAL-2026-000042
    kind: str  # full | partial
    holder_name: str
    issued_at: datetime  # aware, UTC
    valid_until: datetime | None  # None: does not expire
    credential_code: str
    credential_version: int
    title: Texts
    description: Texts
    country: str  # ISO 3166-1 alpha-2 of the credential
    languages: list[str]  # languages the assessment can be taken in
    awarding_body_name: str
    awarding_body_url: str | None
    awarding_body_country: str
    eqf_level: int
    nqf_level: str | None
    credits_total: Decimal  # credits validated by this award
    credits_value: Decimal  # credits of the whole credential
    credits_system: str  # ECTS | ECVET | national
    workload_hours: int
    assessment_type: Texts
    participation: str  # onsite | online | blended
    quality_assurance: Texts
    identity_verification: str  # unsupervised_no_check | supervised_no_check | supervised_online | ...
    prerequisites: Texts | None
    stackability: Texts | None
    further_information: Texts | None
    outcomes: list[OutcomeFacts]  # the outcomes this award validates, in catalog order
    outcomes_total: int  # how many outcomes the whole credential has
    verify_url: str  # the public page that verifies this award's credential
    credential_id: str  # the credential document's id (urn:uuid:…)
    evidence: list[EvidenceFacts] = field(default_factory=list)  # descriptions of what the assessor judged
    sector: str = ""  # the catalog's sector key, e.g. food
