"""An award as an Open Badges 3.0 `OpenBadgeCredential` (a W3C Verifiable Credential 2.0), unsigned.

What maps where:
- the credential (or, for a partial award, the part of it that was validated) is the `Achievement`: its
  learning outcomes are alignments (to their ESCO skills where the catalog names them, else to the
  outcome on the catalog page), its EQF level an alignment to the EQF, its credits `creditsAvailable`;
- the elements of the EU micro-credential standard that Open Badges has no member for (workload, type of
  assessment, form of participation, quality assurance, identity checks, prerequisites, stackability)
  are written in the achievement's criteria narrative, so that they are signed and read by people;
- each validated outcome is a `Result` against a `ResultDescription` of the achievement;
- the holder is an `IdentityObject`: a salted SHA-256 of their e-mail (or phone), never the address;
- evidence is described (title, kind, outcomes shown), never attached.
Only members that the Open Badges and VC contexts define are written: anything else would be left out of
the signature (see jsonld.undefined_members).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from validation.credentials import jsonld
from validation.credentials.facts import AwardFacts, text

SCHEMA = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
EQF = "http://data.europa.eu/snb/eqf/"
PARTICIPATION = {"onsite": "on site", "online": "online", "blended": "blended (on site and online)"}
IDENTITY = {
    "unsupervised_no_check": "unsupervised, identity not checked",
    "supervised_no_check": "supervised, identity not checked",
    "supervised_online": "supervised online, identity checked",
    "supervised_onsite": "supervised on site, identity checked",
}


@dataclass(frozen=True)
class Issuer:
    """The awarding body as the issuer: its profile id (a URL of this app) and what it publishes."""

    id: str
    name: str
    url: str | None
    country: str

    def profile(self) -> dict[str, Any]:
        profile: dict[str, Any] = {"id": self.id, "type": ["Profile"], "name": self.name,
                                   "address": {"type": ["Address"], "addressCountryCode": self.country}}
        if self.url:
            profile["url"] = self.url
        return profile


@dataclass(frozen=True)
class Recipient:
    """How the holder is named: a kind (emailAddress, or `ext:phone`) and the plain value, hashed here."""

    identity_type: str
    value: str
    salt: str

    def identity(self) -> dict[str, Any]:
        digest = hashlib.sha256((self.value + self.salt).encode("utf-8")).hexdigest()
        return {"type": "IdentityObject", "identityHash": f"sha256${digest}", "identityType": self.identity_type,
                "hashed": True, "salt": self.salt}


def identity_matches(identity: dict[str, Any], value: str) -> bool:
    """Whether `value` (an e-mail a holder gives a verifier) is the one a hashed identity was issued to."""
    salt = str(identity.get("salt", ""))
    digest = hashlib.sha256((value + salt).encode("utf-8")).hexdigest()
    return identity.get("identityHash") == f"sha256${digest}"


def _iso(moment: Any) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _number(value: Decimal) -> float:
    return float(value)


def achievement_id(base: str, facts: AwardFacts) -> str:
    root = f"{base}/achievements/{facts.credential_code}/v{facts.credential_version}"
    if facts.kind == "full":
        return root
    return f"{root}/part/{'+'.join(o.code for o in facts.outcomes) or 'none'}"


def _narrative(facts: AwardFacts) -> str:
    lines = [
        f"Validation of prior learning against the learning outcomes of {text(facts.title, 'en')}.",
        f"Assessment: {text(facts.assessment_type, 'en')}",
        f"Form of participation: {PARTICIPATION.get(facts.participation, facts.participation)}",
        f"Quality assurance: {text(facts.quality_assurance, 'en')}",
        f"Supervision and identity verification: {IDENTITY.get(facts.identity_verification, '')}",
        f"Notional workload: {facts.workload_hours} hours",
        f"Level: EQF {facts.eqf_level}" + (f", national level {facts.nqf_level}" if facts.nqf_level else ""),
    ]
    for label, texts in (("Prerequisites", facts.prerequisites), ("Stackability", facts.stackability),
                         ("Further information", facts.further_information)):
        if texts:
            lines.append(f"{label}: {text(texts, 'en')}")
    lines.append("Learning outcomes validated:")
    lines.extend(f"- {o.code}: {text(o.text, 'en')}" for o in facts.outcomes)
    return "\n".join(_clean(line) for line in lines)


def _clean(value: str) -> str:
    """Control characters stay out of signed text (canonicalization libraries disagree on escaping them)."""
    return "".join(ch for ch in value if ch >= " " or ch in "\n\t")


def _alignments(base: str, facts: AwardFacts) -> list[dict[str, Any]]:
    alignments = [{"type": ["Alignment"], "targetName": f"EQF level {facts.eqf_level}",
                   "targetUrl": f"{EQF}{facts.eqf_level}", "targetFramework": "European Qualifications Framework",
                   "targetCode": str(facts.eqf_level)}]
    for outcome in facts.outcomes:
        name = _clean(text(outcome.text, "en"))
        targets = outcome.esco or [f"{base}/catalog/{facts.credential_code}#outcome-{outcome.code}"]
        for target in targets:
            alignment = {"type": ["Alignment"], "targetName": name, "targetUrl": target,
                         "targetType": "ceasn:Competency", "targetCode": outcome.code}
            if target.startswith("http://data.europa.eu/esco/"):
                alignment["targetFramework"] = "ESCO"
            alignments.append(alignment)
    return alignments


def credential(facts: AwardFacts, base: str, issuer: Issuer, recipient: Recipient,
               status: dict[str, Any] | None) -> dict[str, Any]:
    """The unsigned OpenBadgeCredential of an award; `base` is the app's public URL."""
    achievement_ref = achievement_id(base, facts)
    title = _clean(text(facts.title, "en"))
    name = title
    if facts.kind == "partial":
        name = f"{title} (partial: {len(facts.outcomes)} of {facts.outcomes_total} outcomes)"
    achievement: dict[str, Any] = {
        "id": achievement_ref,
        "type": ["Achievement"],
        "achievementType": "MicroCredential",
        "name": name,
        "description": _clean(text(facts.description, "en")),
        "criteria": {"narrative": _narrative(facts)},
        "alignment": _alignments(base, facts),
        "creditsAvailable": _number(facts.credits_total if facts.kind == "partial" else facts.credits_value),
        "creator": issuer.profile(),
        "fieldOfStudy": facts.sector or None,
        "humanCode": facts.credential_code,
        "inLanguage": facts.languages[0] if facts.languages else "en",
        "version": str(facts.credential_version),
        "resultDescription": [
            {"id": f"{achievement_ref}#outcome-{o.code}", "type": ["ResultDescription"],
             "name": f"{o.code}: {_clean(text(o.text, 'en'))}", "resultType": "Status"}
            for o in facts.outcomes
        ],
        "tag": ["validation of prior learning", "partial award" if facts.kind == "partial" else "full award"],
    }
    achievement = {k: v for k, v in achievement.items() if v is not None}
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": [recipient.identity()],
        "achievement": achievement,
        "creditsEarned": _number(facts.credits_total),
        "result": [{"type": ["Result"], "resultDescription": f"{achievement_ref}#outcome-{o.code}",
                    "status": "Completed"} for o in facts.outcomes],
        "activityEndDate": _iso(facts.issued_at),
    }
    document: dict[str, Any] = {
        "@context": [jsonld.VC_V2, jsonld.OB_V3, jsonld.OB_EXTENSIONS],
        "id": facts.credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": name,
        "description": f"{'Full' if facts.kind == 'full' else 'Partial'} award {facts.number}, "
                       f"{facts.credits_total.normalize():f} {facts.credits_system} credits validated.",
        "issuer": issuer.profile(),
        "validFrom": _iso(facts.issued_at),
        "awardedDate": _iso(facts.issued_at),
        "credentialSubject": subject,
        "credentialSchema": [{"id": SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
    }
    if facts.valid_until is not None:
        document["validUntil"] = _iso(facts.valid_until)
    if facts.evidence:
        document["evidence"] = [
            {"type": ["Evidence"], "name": _clean(item.title), "genre": item.kind,
             "description": "Shows " + ", ".join(item.outcome_codes) if item.outcome_codes else "Evidence"}
            for item in facts.evidence
        ]
    if status is not None:
        document["credentialStatus"] = status
    return document
