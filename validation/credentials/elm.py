"""An award as a European Digital Credential for Learning (EDC): an ELM 3 JSON-LD `EuropeanDigitalCredential`,
unsigned, in the shape the EDC issuing and sealing services take (their "unsigned uploadable" credential).

Why a second format besides Open Badges: Europass wallets, the EDC viewer and EU recognition services read
ELM, whose controlled vocabularies (EQF levels, countries, languages, credit systems, ESCO skills) are
what makes an award of this engine comparable to any other EU micro-credential.

The shape follows, where they agree, and in this order of authority:
- the Commission's own ELM 3 sample of a micro-credential with all Annex I elements,
  github.com/european-commission-empl/European-Learning-Model,
  "Credentials/JSON-LD Examples (ELM v3)/Sample-MC-Annex1-unsigned.jsonld" (and its signed twin, which shows
  that sealing adds only the JAdES envelope): the two contexts, `type`, `credentialProfiles` (Generic),
  `credentialSchema` (edc-generic-full, ShaclValidator2017), `displayParameter`, `credentialSubject` as a
  `Person` whose `hasClaim` is a `LearningAchievement` with `awardedBy` (an `AwardingProcess` and its
  `awardingBody`), `provenBy` (a `LearningAssessment` specified by a `LearningAssessmentSpecification`) and
  `specifiedBy` (a `Qualification`: the ELM class that carries `eqfLevel` and `isPartialQualification`, which
  `LearningAchievementSpecification` has not), language maps as {"en": ...}, credit points as strings,
  volumes of learning as ISO 8601 durations, blank-free `urn:epass:<kind>:<id>` node ids;
- the ELM 3.2 JSON Schema of the EDC profile (as republished by EBSI and copied in
  github.com/impierce/credential-converter, json/ebsi-elm/validation-schema-ELM3.2/schema.json) for what is
  required (`REQUIRED` below) and for `issued`, `issuanceDate`, `expirationDate` and `validUntil`, which the
  Commission sample leaves out;
- the EU vocabularies' URIs as they appear in those samples; a value whose URI no sample confirms (ECVET and
  national credit systems, three of the four identity-check methods) is written as a concept of a local
  scheme (`urn:epass:concept:…`), as the Commission sample does for its assessment type, never as a guessed
  EU URI.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from validation.credentials.facts import AwardFacts, OutcomeFacts, Texts

Node = dict[str, Any]

CONTEXT = ["https://www.w3.org/2018/credentials/v1", "http://data.europa.eu/snb/model/context/edc-ap"]
TYPE = ["VerifiableCredential", "EuropeanDigitalCredential"]
SCHEMA = {"id": "http://data.europa.eu/snb/model/ap/edc-generic-full", "type": "ShaclValidator2017"}

SNB = "http://data.europa.eu/snb/"
AUTHORITY = "http://publications.europa.eu/resource/authority/"
EQF = f"{SNB}eqf/"
ESCO_SKILLS = "http://data.europa.eu/esco/concept-scheme/skills"
GENERIC_PROFILE = ("credential", "e34929035b", "Generic")

#: ISO 3166-1 alpha-2 → the EU country authority's code (ISO alpha-3) and English name: the EU and EEA, and
#: the candidate and neighbourhood countries this engine serves.
COUNTRIES: dict[str, tuple[str, str]] = {
    "AT": ("AUT", "Austria"), "BE": ("BEL", "Belgium"), "BG": ("BGR", "Bulgaria"), "HR": ("HRV", "Croatia"),
    "CY": ("CYP", "Cyprus"), "CZ": ("CZE", "Czechia"), "DK": ("DNK", "Denmark"), "EE": ("EST", "Estonia"),
    "FI": ("FIN", "Finland"), "FR": ("FRA", "France"), "DE": ("DEU", "Germany"), "GR": ("GRC", "Greece"),
    "HU": ("HUN", "Hungary"), "IE": ("IRL", "Ireland"), "IT": ("ITA", "Italy"), "LV": ("LVA", "Latvia"),
    "LT": ("LTU", "Lithuania"), "LU": ("LUX", "Luxembourg"), "MT": ("MLT", "Malta"), "NL": ("NLD", "Netherlands"),
    "PL": ("POL", "Poland"), "PT": ("PRT", "Portugal"), "RO": ("ROU", "Romania"), "SK": ("SVK", "Slovakia"),
    "SI": ("SVN", "Slovenia"), "ES": ("ESP", "Spain"), "SE": ("SWE", "Sweden"),
    "IS": ("ISL", "Iceland"), "LI": ("LIE", "Liechtenstein"), "NO": ("NOR", "Norway"), "CH": ("CHE", "Switzerland"),
    "UA": ("UKR", "Ukraine"), "MD": ("MDA", "Moldova"), "GE": ("GEO", "Georgia"), "AM": ("ARM", "Armenia"),
    "AZ": ("AZE", "Azerbaijan"), "RS": ("SRB", "Serbia"), "MK": ("MKD", "North Macedonia"),
    "ME": ("MNE", "Montenegro"), "AL": ("ALB", "Albania"), "BA": ("BIH", "Bosnia and Herzegovina"),
    "TR": ("TUR", "Türkiye"), "GB": ("GBR", "United Kingdom"),
}

#: ISO 639-1 → the EU language authority's code and English name.
LANGUAGES: dict[str, tuple[str, str]] = {
    "en": ("ENG", "English"), "uk": ("UKR", "Ukrainian"), "hy": ("HYE", "Armenian"), "ka": ("KAT", "Georgian"),
    "sr": ("SRP", "Serbian"), "mk": ("MKD", "Macedonian"), "sq": ("SQI", "Albanian"), "ro": ("RON", "Romanian"),
    "ru": ("RUS", "Russian"), "bg": ("BUL", "Bulgarian"), "hr": ("HRV", "Croatian"), "cs": ("CES", "Czech"),
    "da": ("DAN", "Danish"), "nl": ("NLD", "Dutch"), "et": ("EST", "Estonian"), "fi": ("FIN", "Finnish"),
    "fr": ("FRA", "French"), "de": ("DEU", "German"), "el": ("ELL", "Greek"), "hu": ("HUN", "Hungarian"),
    "ga": ("GLE", "Irish"), "it": ("ITA", "Italian"), "lv": ("LAV", "Latvian"), "lt": ("LIT", "Lithuanian"),
    "mt": ("MLT", "Maltese"), "pl": ("POL", "Polish"), "pt": ("POR", "Portuguese"), "sk": ("SLK", "Slovak"),
    "sl": ("SLV", "Slovenian"), "es": ("SPA", "Spanish"), "sv": ("SWE", "Swedish"), "tr": ("TUR", "Turkish"),
}

#: Form of participation → the Europass list of modes of learning and assessment.
MODES: dict[str, tuple[str | None, str]] = {
    "onsite": ("9191af2ed9", "Presential"), "online": ("920fbb3cbe", "Online"), "blended": ("e92d221e4d", "Blended"),
}

#: Identity checks → the Europass list of methods of supervision and verification (None: no confirmed URI).
ID_VERIFICATION: dict[str, tuple[str | None, str]] = {
    "unsupervised_no_check": ("c598449d64", "Unsupervised without ID Verification"),
    "supervised_no_check": (None, "Supervised without ID verification"),
    "supervised_online": (None, "Supervised online with ID verification"),
    "supervised_onsite": (None, "Supervised onsite with ID verification"),
}

#: Credit systems → the Europass list of education credit systems (None: no confirmed URI).
CREDIT_SYSTEMS: dict[str, tuple[str | None, str]] = {
    "ECTS": ("6fcec5c5af", "European Credit Transfer System"),
    "ECVET": (None, "European Credit system for Vocational Education and Training"),
    "national": (None, "National credit system"),
}

#: The phrases this module adds to the catalog's texts (in English where a language is not here).
PARTIAL = {"en": "partial validation", "uk": "часткова валідація"}
PARTIAL_COUNT = {"en": "Validated {n} of {total} learning outcomes.",
                 "uk": "Підтверджено {n} з {total} результатів навчання."}
GRADE = {"full": {"en": "Validated", "uk": "Підтверджено"},
         "partial": {"en": "Partially validated", "uk": "Частково підтверджено"}}

#: What a sealable EDC must carry (dotted paths; a list is satisfied when every item has the rest of the path).
REQUIRED: tuple[str, ...] = (
    "@context", "id", "type", "credentialProfiles", "credentialSchema",
    "displayParameter.title", "displayParameter.language", "displayParameter.primaryLanguage",
    "issuer.id", "issuer.legalName", "issuer.location.address.countryCode",
    "issued", "validFrom",
    "credentialSubject.id", "credentialSubject.givenName", "credentialSubject.fullName",
    "credentialSubject.hasClaim.id", "credentialSubject.hasClaim.type", "credentialSubject.hasClaim.title",
    "credentialSubject.hasClaim.awardedBy.awardingBody.id",
    "credentialSubject.hasClaim.awardedBy.awardingBody.legalName",
    "credentialSubject.hasClaim.awardedBy.awardingBody.location.address.countryCode",
    "credentialSubject.hasClaim.specifiedBy.title",
)

#: What the optional parts must carry when they are there.
REQUIRED_WITH: dict[str, tuple[str, ...]] = {
    "credentialSubject.hasClaim.provenBy": ("title", "grade.noteLiteral", "awardedBy.awardingBody"),
    "credentialSubject.hasClaim.provenBy.specifiedBy": ("title",),
    "credentialSubject.hasClaim.specifiedBy.creditPoint": ("framework", "point"),
    "credentialSubject.hasClaim.specifiedBy.learningOutcome": ("title",),
    "credentialSubject.hasClaim.specifiedBy.entryRequirement": ("noteLiteral",),
    "credentialSubject.hasClaim.specifiedBy.additionalNote": ("noteLiteral",),
}


def missing_fields(doc: Node) -> list[str]:
    """The required fields `doc` lacks (or, for `@context` and `type`, has without the EDC value)."""
    missing = [path for path in REQUIRED if not _has(doc, path.split("."))]
    for parent, children in REQUIRED_WITH.items():
        if _has(doc, parent.split(".")):
            missing += [f"{parent}.{child}" for child in children if not _has(doc, f"{parent}.{child}".split("."))]
    if "@context" not in missing and CONTEXT[1] not in doc["@context"]:
        missing.append("@context")
    if "type" not in missing and TYPE[1] not in doc["type"]:
        missing.append("type")
    return missing


def europass(facts: AwardFacts, *, issuer_id: str, holder_id: str) -> Node:
    """The award as an unsigned EDC, issued by the organisation `issuer_id` (the awarding body) to `holder_id`."""
    ids = _Ids(facts.credential_id)
    organisation = _organisation(facts, issuer_id, ids)
    issued = _moment(facts.issued_at)
    doc: Node = {
        "@context": list(CONTEXT),
        "id": _credential_id(facts.credential_id),
        "type": list(TYPE),
        "credentialProfiles": _concept(*GENERIC_PROFILE),
        "credentialSchema": dict(SCHEMA),
        "identifier": {"id": ids("identifier", "award"), "type": "Identifier", "notation": facts.number,
                       "schemeName": "Award number"},
        "displayParameter": _display(facts, ids),
        "credentialSubject": _person(facts, holder_id, _achievement(facts, ids, organisation)),
        "issuer": organisation,
        "issuanceDate": issued,
        "issued": issued,
        "validFrom": issued,
    }
    if facts.valid_until is not None:
        doc["expirationDate"] = doc["validUntil"] = _moment(facts.valid_until)
    return doc


class _Ids:
    """Node ids that are the same each time the same award is exported, and differ between awards."""

    def __init__(self, credential_id: str) -> None:
        self.credential_id = credential_id

    def __call__(self, kind: str, key: str = "") -> str:
        return f"urn:epass:{kind}:{uuid.uuid5(uuid.NAMESPACE_URL, f'{self.credential_id}#{kind}/{key}')}"


def _credential_id(credential_id: str) -> str:
    return credential_id if ":" in credential_id else f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, credential_id)}"


def _moment(moment: datetime) -> str:
    """ELM's dateTime: UTC, whole seconds, `Z`."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _point(amount: Decimal) -> str:
    """A credit amount as ELM writes it: a string, without trailing zeros or exponent ("6", "2.5")."""
    return format(amount.normalize(), "f")


def _has(node: Any, parts: list[str]) -> bool:
    """Whether `node` has a non-empty value at `parts` (in every item, where a step is a list)."""
    if isinstance(node, list):
        return bool(node) and all(_has(item, parts) for item in node)
    if not parts:
        return node is not None and node != "" and node != {}
    return isinstance(node, dict) and _has(node.get(parts[0]), parts[1:])


# -- vocabularies -----------------------------------------------------------------------------------------


def _concept(scheme: str, code: str, label: str) -> Node:
    """A concept of a Europass (`data.europa.eu/snb`) list."""
    return {"id": f"{SNB}{scheme}/{code}", "type": "Concept",
            "inScheme": {"id": f"{SNB}{scheme}/25831c2", "type": "ConceptScheme"}, "prefLabel": {"en": label}}


def _authority(table: str, code: str, label: str) -> Node:
    """A concept of an EU authority table (countries, languages)."""
    return {"id": f"{AUTHORITY}{table}/{code}", "type": "Concept",
            "inScheme": {"id": f"{AUTHORITY}{table}", "type": "ConceptScheme"}, "notation": table,
            "prefLabel": {"en": label}}


def _local(scheme: str, key: str, label: str) -> Node:
    """A concept of this engine's own scheme, for a value no EU list gives a confirmed URI for."""
    def urn(kind: str, name: str) -> str:
        return f"urn:epass:{kind}:{uuid.uuid5(uuid.NAMESPACE_URL, f'validation:{name}')}"

    return {"id": urn("concept", f"{scheme}/{key}"), "type": "Concept",
            "inScheme": {"id": urn("conceptScheme", scheme), "type": "ConceptScheme"}, "prefLabel": {"en": label}}


def _vocabulary(scheme: str, table: dict[str, tuple[str | None, str]], key: str) -> Node:
    if key not in table:
        raise ValueError(f"no ELM concept for {scheme} {key!r}")
    code, label = table[key]
    return _concept(scheme, code, label) if code else _local(scheme, key, label)


def _country(alpha2: str) -> Node:
    if alpha2.upper() not in COUNTRIES:
        raise ValueError(f"no EU country authority code known for {alpha2!r}")
    return _authority("country", *COUNTRIES[alpha2.upper()])


def _language(code: str) -> Node:
    if code.lower() not in LANGUAGES:
        raise ValueError(f"no EU language authority code known for {code!r}")
    return _authority("language", *LANGUAGES[code.lower()])


def _eqf(level: int) -> Node:
    return {"id": f"{EQF}{level}", "type": "Concept", "inScheme": {"id": f"{EQF}25831c2", "type": "ConceptScheme"},
            "prefLabel": {"en": f"Level {level}"}}


def _esco(uri: str) -> Node:
    return {"id": uri, "type": "Concept", "inScheme": {"id": ESCO_SKILLS, "type": "ConceptScheme"}}


# -- texts ------------------------------------------------------------------------------------------------


def _languages(facts: AwardFacts) -> list[str]:
    """The languages the credential is written in, the primary one (English where there is English) first."""
    languages = [code for code, value in facts.title.items() if value]
    return sorted(languages, key=lambda code: code != "en") or ["en"]


def _say(phrases: Texts, languages: list[str], **values: object) -> Texts:
    """A phrase of this module in each of `languages`, in English where it has no translation."""
    return {code: (phrases.get(code) or phrases["en"]).format(**values) for code in languages}


def _texts(texts: Texts | None) -> Texts:
    return {code: value for code, value in (texts or {}).items() if value}


def _in_primary(facts: AwardFacts, value: str) -> Texts:
    """A name (of a person or an organisation) as a language map, tagged with the credential's primary language."""
    return {_languages(facts)[0]: value}


def _title(facts: AwardFacts) -> Texts:
    title = _texts(facts.title)
    if facts.kind != "partial":
        return title
    label = _say(PARTIAL, list(title))
    return {code: f"{value} ({label[code]})" for code, value in title.items()}


def _description(facts: AwardFacts) -> Texts:
    description = _texts(facts.description)
    if facts.kind != "partial":
        return description
    count = _say(PARTIAL_COUNT, list(description) or _languages(facts), n=len(facts.outcomes),
                 total=facts.outcomes_total)
    return {code: f"{description.get(code, '')} {sentence}".strip() for code, sentence in count.items()}


def _note(ids: _Ids, key: str, texts: Texts | None) -> Node | None:
    texts = _texts(texts)
    return {"id": ids("note", key), "type": "Note", "noteLiteral": texts} if texts else None


# -- nodes ------------------------------------------------------------------------------------------------


def _organisation(facts: AwardFacts, org_id: str, ids: _Ids) -> Node:
    """The awarding body, which is also the issuer (as in the Commission's sample)."""
    organisation: Node = {"id": org_id, "type": "Organisation",
                          "legalName": _in_primary(facts, facts.awarding_body_name),
                          "location": _location(ids, "awardingBody", facts.awarding_body_country)}
    if facts.awarding_body_url:
        organisation["homepage"] = {"id": ids("webResource", "awardingBody"), "type": "WebResource",
                                    "contentURL": facts.awarding_body_url}
    return organisation


def _location(ids: _Ids, key: str, country: str) -> Node:
    return {"id": ids("location", key), "type": "Location",
            "address": {"id": ids("address", key), "type": "Address", "countryCode": _country(country)}}


def _person(facts: AwardFacts, holder_id: str, claim: Node) -> Node:
    parts = facts.holder_name.split()
    person: Node = {"id": holder_id, "type": "Person", "fullName": _in_primary(facts, " ".join(parts)),
                    "givenName": _in_primary(facts, " ".join(parts[:-1]) if len(parts) > 1 else " ".join(parts))}
    if len(parts) > 1:
        person["familyName"] = _in_primary(facts, parts[-1])
    person["hasClaim"] = claim
    return person


def _display(facts: AwardFacts, ids: _Ids) -> Node:
    languages = _languages(facts)
    display: Node = {"id": ids("displayParameter"), "type": "DisplayParameter", "title": _title(facts),
                     "language": [_language(code) for code in languages], "primaryLanguage": _language(languages[0])}
    if description := _description(facts):
        display["description"] = description
    return display


def _achievement(facts: AwardFacts, ids: _Ids, organisation: Node) -> Node:
    awarding = {"id": ids("awardingProcess"), "type": "AwardingProcess", "awardingBody": organisation,
                "awardingDate": _moment(facts.issued_at), "location": _location(ids, "awarding", facts.country)}
    achievement: Node = {"id": ids("learningAchievement"), "type": "LearningAchievement", "title": _title(facts)}
    if description := _description(facts):
        achievement["description"] = description
    achievement |= {
        "awardedBy": awarding,
        "creditReceived": _credit_point(ids, "received", facts.credits_total, facts.credits_system),
        "provenBy": _assessment(facts, ids, awarding, organisation),
        "specifiedBy": _specification(facts, ids),
        "supplementaryDocument": {"id": ids("webResource", "verify"), "type": "WebResource",
                                  "title": {"en": "Verification page"}, "contentURL": facts.verify_url},
    }
    return achievement


def _assessment(facts: AwardFacts, ids: _Ids, awarding: Node, organisation: Node) -> Node:
    title = _texts(facts.assessment_type) or {"en": "Validation of prior learning"}
    specification = {"id": ids("learningAssessmentSpecification"), "type": "LearningAssessmentSpecification",
                     "title": title, "mode": _vocabulary("learning-assessment", MODES, facts.participation),
                     "language": [_language(code) for code in facts.languages]}
    if not specification["language"]:
        del specification["language"]
    grade = GRADE["partial" if facts.kind == "partial" else "full"]
    return {"id": ids("learningAssessment"), "type": "LearningAssessment", "title": title,
            "grade": {"id": ids("note", "grade"), "type": "Note", "noteLiteral": _say(grade, _languages(facts))},
            "dateIssued": _moment(facts.issued_at),
            "idVerification": _vocabulary("supervision-verification", ID_VERIFICATION, facts.identity_verification),
            "assessedBy": organisation, "awardedBy": awarding, "specifiedBy": specification}


def _specification(facts: AwardFacts, ids: _Ids) -> Node:
    """What was validated: the whole credential, or (partial) the part of it made of the validated outcomes."""
    partial = facts.kind == "partial"
    specification: Node = {"id": ids("qualification", "awarded"), "type": "Qualification", "title": _title(facts)}
    if description := _description(facts):
        specification["description"] = description
    specification |= {
        "identifier": {"id": ids("identifier", "credential"), "type": "Identifier", "notation": facts.credential_code,
                       "schemeName": "Credential code", "schemeVersion": str(facts.credential_version)},
        "eqfLevel": _eqf(facts.eqf_level),
        "creditPoint": _credit_point(ids, "awarded", facts.credits_total, facts.credits_system),
        "volumeOfLearning": f"PT{facts.workload_hours}H",
        "mode": _vocabulary("learning-assessment", MODES, facts.participation),
        "isPartialQualification": partial,
        "learningOutcome": [_outcome(ids, outcome) for outcome in facts.outcomes],
    }
    if entry := _note(ids, "entryRequirement", facts.prerequisites):
        specification["entryRequirement"] = entry
    if notes := _additional_notes(facts, ids):
        specification["additionalNote"] = notes
    if partial:
        specification["isPartOf"] = _whole(facts, ids)
    return specification


def _whole(facts: AwardFacts, ids: _Ids) -> Node:
    """The whole credential a partial award is a part of."""
    return {"id": ids("qualification", "whole"), "type": "Qualification", "title": _texts(facts.title),
            "eqfLevel": _eqf(facts.eqf_level),
            "creditPoint": _credit_point(ids, "whole", facts.credits_value, facts.credits_system)}


def _additional_notes(facts: AwardFacts, ids: _Ids) -> list[Node]:
    """The EU standard's elements ELM has no property of its own for here: quality assurance, stackability,
    further information and the national (NQF) level, whose URI in the QDR list the catalog does not hold."""
    nqf = {"en": f"National qualifications framework level: {facts.nqf_level}"} if facts.nqf_level else None
    notes = [_note(ids, key, texts) for key, texts in (("qualityAssurance", facts.quality_assurance),
                                                       ("stackability", facts.stackability),
                                                       ("furtherInformation", facts.further_information),
                                                       ("nqfLevel", nqf))]
    return [note for note in notes if note]


def _outcome(ids: _Ids, outcome: OutcomeFacts) -> Node:
    node: Node = {"id": ids("learningOutcome", outcome.code), "type": "LearningOutcome", "title": _texts(outcome.text)}
    if outcome.esco:
        node["relatedESCOSkill"] = [_esco(uri) for uri in outcome.esco]
    return node


def _credit_point(ids: _Ids, key: str, amount: Decimal, system: str) -> Node:
    return {"id": ids("creditPoint", key), "type": "CreditPoint",
            "framework": _vocabulary("education-credit", CREDIT_SYSTEMS, system), "point": _point(amount)}

