"""The Europass (ELM 3 / EDC) export: full and partial awards give sealable documents that carry the EU
vocabularies' URIs, credits, ESCO skills and the outcomes in every language, and nothing the award does not
validate; optional elements left out still give a sealable document."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from validation.credentials import elm
from validation.credentials.facts import AwardFacts, OutcomeFacts

ISSUER = "did:web:validation.example.org:bodies:ua-knu"
HOLDER = "urn:uuid:0b9c3c57-2f8f-4e0c-9d0e-6f7f2a1e4b11"
ESCO_DATA = "http://data.europa.eu/esco/skill/ccdf3597-5c80-410f-896d-e1bdfa223de9"
ESCO_REPORT = "http://data.europa.eu/esco/skill/5fd5c985-eaaa-47aa-8314-62359c54505a"

OUTCOMES = [
    OutcomeFacts(code="LO1", text={"en": "Cleans a data set", "uk": "Очищує набір даних"}, kind="skill",
                 credits=Decimal("2"), esco=[ESCO_DATA]),
    OutcomeFacts(code="LO2", text={"en": "Explains sampling bias", "uk": "Пояснює зміщення вибірки"},
                 kind="knowledge", credits=Decimal("2")),
    OutcomeFacts(code="LO3", text={"en": "Reports findings to a client", "uk": "Звітує клієнту про результати"},
                 kind="responsibility_autonomy", credits=Decimal("2"), esco=[ESCO_REPORT, ESCO_DATA]),
]


def award(**changes: Any) -> AwardFacts:
    facts = AwardFacts(
        number="VAL-2026-000042", kind="full", holder_name="Olena Petrenko",
        issued_at=datetime(2026, 3, 2, 10, 15, 30, 123456, tzinfo=UTC),
        valid_until=datetime(2031, 3, 2, 10, 15, 30, tzinfo=UTC),
        credential_code="UA-DATA", credential_version=3,
        title={"en": "Data literacy", "uk": "Грамотність щодо даних"},
        description={"en": "Working with data sets.", "uk": "Робота з наборами даних."},
        country="UA", languages=["uk", "en"],
        awarding_body_name="Taras Shevchenko National University of Kyiv", awarding_body_url="https://knu.ua",
        awarding_body_country="UA", eqf_level=5, nqf_level="5",
        credits_total=Decimal("6.0"), credits_value=Decimal("6.0"), credits_system="ECTS", workload_hours=150,
        assessment_type={"en": "Portfolio and interview", "uk": "Портфоліо та співбесіда"},
        participation="blended", quality_assurance={"en": "Internal QA of the university"},
        identity_verification="supervised_online",
        prerequisites={"en": "None beyond basic computer skills", "uk": "Базові навички роботи з комп'ютером"},
        stackability={"en": "Counts towards the Data analysis programme"}, further_information=None,
        outcomes=OUTCOMES, outcomes_total=3, verify_url="https://validation.example.org/verify/VAL-2026-000042",
        credential_id="urn:uuid:4f0d8f6e-4c1b-4d53-9c55-0d3b2a9f7e21",
    )
    return dataclasses.replace(facts, **changes)


def partial_award(**changes: Any) -> AwardFacts:
    return award(kind="partial", outcomes=[OUTCOMES[0], OUTCOMES[2]], credits_total=Decimal("4.0"), **changes)


def claim(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["credentialSubject"]["hasClaim"]


def outcomes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return claim(doc)["specifiedBy"]["learningOutcome"]


def uris(node: Any) -> set[str]:
    """Every `id` anywhere in the document."""
    if isinstance(node, dict):
        return ({node["id"]} if isinstance(node.get("id"), str) else set()).union(*map(uris, node.values()))
    if isinstance(node, list):
        return set().union(*map(uris, node))
    return set()


@pytest.mark.parametrize("facts", [award(), partial_award()], ids=["full", "partial"])
def test_a_full_and_a_partial_award_are_sealable_edc_documents(facts: AwardFacts) -> None:
    doc = elm.europass(facts, issuer_id=ISSUER, holder_id=HOLDER)

    assert elm.missing_fields(doc) == []
    assert json.loads(json.dumps(doc)) == doc
    assert doc["@context"] == ["https://www.w3.org/2018/credentials/v1", "http://data.europa.eu/snb/model/context/edc-ap"]
    assert doc["type"] == ["VerifiableCredential", "EuropeanDigitalCredential"]
    assert doc["id"] == facts.credential_id
    assert doc["issuer"]["id"] == ISSUER
    assert doc["credentialSubject"]["id"] == HOLDER
    assert doc["credentialSubject"]["fullName"] == {"en": "Olena Petrenko"}
    assert doc["credentialSubject"]["givenName"] == {"en": "Olena"}
    assert doc["credentialSubject"]["familyName"] == {"en": "Petrenko"}
    assert doc["validFrom"] == doc["issued"] == "2026-03-02T10:15:30Z"
    assert doc["expirationDate"] == doc["validUntil"] == "2031-03-02T10:15:30Z"


@pytest.mark.parametrize("facts", [award(), partial_award()], ids=["full", "partial"])
def test_the_eu_vocabularies_credits_and_esco_skills_are_there(facts: AwardFacts) -> None:
    doc = elm.europass(facts, issuer_id=ISSUER, holder_id=HOLDER)
    specification = claim(doc)["specifiedBy"]
    body = claim(doc)["awardedBy"]["awardingBody"]

    assert specification["eqfLevel"]["id"] == "http://data.europa.eu/snb/eqf/5"
    assert body["location"]["address"]["countryCode"]["id"] == "http://publications.europa.eu/resource/authority/country/UKR"
    assert body["legalName"] == {"en": "Taras Shevchenko National University of Kyiv"}
    assert specification["creditPoint"]["point"] == str(int(facts.credits_total))
    assert specification["creditPoint"]["framework"]["id"] == "http://data.europa.eu/snb/education-credit/6fcec5c5af"
    assert claim(doc)["creditReceived"]["point"] == str(int(facts.credits_total))
    assert specification["volumeOfLearning"] == "PT150H"
    assert specification["mode"]["id"] == "http://data.europa.eu/snb/learning-assessment/e92d221e4d"
    assert specification["entryRequirement"]["noteLiteral"]["uk"] == "Базові навички роботи з комп'ютером"
    languages = {language["id"] for language in doc["displayParameter"]["language"]}
    assert languages == {"http://publications.europa.eu/resource/authority/language/ENG",
                         "http://publications.europa.eu/resource/authority/language/UKR"}
    skills = {skill["id"] for outcome in outcomes(doc) for skill in outcome.get("relatedESCOSkill", [])}
    assert skills == {uri for outcome in facts.outcomes for uri in outcome.esco}
    for outcome in facts.outcomes:
        assert outcome.text in [node["title"] for node in outcomes(doc)]


def test_a_partial_award_lists_only_its_validated_outcomes_and_says_it_is_partial() -> None:
    doc = elm.europass(partial_award(), issuer_id=ISSUER, holder_id=HOLDER)
    specification = claim(doc)["specifiedBy"]

    assert [node["title"]["en"] for node in outcomes(doc)] == ["Cleans a data set", "Reports findings to a client"]
    assert "Explains sampling bias" not in json.dumps(doc)
    assert claim(doc)["title"] == {"en": "Data literacy (partial validation)",
                                   "uk": "Грамотність щодо даних (часткова валідація)"}
    assert "Validated 2 of 3 learning outcomes." in claim(doc)["description"]["en"]
    assert specification["isPartialQualification"] is True
    assert specification["isPartOf"]["creditPoint"]["point"] == "6"
    assert claim(doc)["provenBy"]["grade"]["noteLiteral"]["en"] == "Partially validated"


def test_a_full_award_is_not_marked_partial() -> None:
    doc = elm.europass(award(), issuer_id=ISSUER, holder_id=HOLDER)

    assert claim(doc)["title"] == {"en": "Data literacy", "uk": "Грамотність щодо даних"}
    assert claim(doc)["specifiedBy"]["isPartialQualification"] is False
    assert "isPartOf" not in claim(doc)["specifiedBy"]
    assert len(outcomes(doc)) == 3


def test_without_esco_prerequisites_or_expiry_the_document_is_still_sealable() -> None:
    bare = [dataclasses.replace(outcome, esco=[]) for outcome in OUTCOMES]
    facts = award(outcomes=bare, prerequisites=None, valid_until=None, awarding_body_url=None, nqf_level=None,
                  quality_assurance={}, stackability=None)
    doc = elm.europass(facts, issuer_id=ISSUER, holder_id=HOLDER)

    assert elm.missing_fields(doc) == []
    assert json.loads(json.dumps(doc)) == doc
    assert "expirationDate" not in doc and "validUntil" not in doc
    assert "entryRequirement" not in claim(doc)["specifiedBy"]
    assert "additionalNote" not in claim(doc)["specifiedBy"]
    assert all("relatedESCOSkill" not in node for node in outcomes(doc))
    assert "homepage" not in doc["issuer"]


@pytest.mark.parametrize(("alpha2", "alpha3"), [("UA", "UKR"), ("AM", "ARM"), ("GE", "GEO"), ("RS", "SRB"),
                                                ("MK", "MKD"), ("ME", "MNE"), ("DE", "DEU"), ("GR", "GRC")])
def test_countries_are_the_eu_country_authority_uris(alpha2: str, alpha3: str) -> None:
    doc = elm.europass(award(awarding_body_country=alpha2, country=alpha2), issuer_id=ISSUER, holder_id=HOLDER)

    assert f"http://publications.europa.eu/resource/authority/country/{alpha3}" in uris(doc)
    assert elm.missing_fields(doc) == []


def test_an_unknown_country_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="XX"):
        elm.europass(award(awarding_body_country="XX"), issuer_id=ISSUER, holder_id=HOLDER)


def test_values_without_a_confirmed_eu_uri_are_concepts_of_a_local_scheme() -> None:
    doc = elm.europass(award(credits_system="ECVET"), issuer_id=ISSUER, holder_id=HOLDER)
    framework = claim(doc)["specifiedBy"]["creditPoint"]["framework"]
    verification = claim(doc)["provenBy"]["idVerification"]

    assert framework["id"].startswith("urn:epass:concept:") and framework["prefLabel"]["en"].startswith("European")
    assert verification["id"].startswith("urn:epass:concept:")
    unsupervised = elm.europass(award(identity_verification="unsupervised_no_check"), issuer_id=ISSUER,
                                holder_id=HOLDER)
    assert claim(unsupervised)["provenBy"]["idVerification"]["id"] == (
        "http://data.europa.eu/snb/supervision-verification/c598449d64")


def test_the_same_award_gives_the_same_document_and_node_ids_are_unique() -> None:
    first = elm.europass(award(), issuer_id=ISSUER, holder_id=HOLDER)
    again = elm.europass(award(), issuer_id=ISSUER, holder_id=HOLDER)
    other = elm.europass(award(credential_id="urn:uuid:9a1f3c2e-0000-4000-8000-000000000001"), issuer_id=ISSUER,
                         holder_id=HOLDER)

    assert first == again
    node_ids = {node["id"] for node in outcomes(first)}
    assert len(node_ids) == 3
    assert node_ids.isdisjoint(node["id"] for node in outcomes(other))


def test_missing_fields_names_what_a_document_lacks() -> None:
    doc = elm.europass(award(), issuer_id=ISSUER, holder_id=HOLDER)
    del doc["issuer"]
    del claim(doc)["specifiedBy"]["title"]
    outcomes(doc)[1]["title"] = {}
    doc["type"] = ["VerifiableCredential"]

    assert elm.missing_fields(doc) == [
        "issuer.id", "issuer.legalName", "issuer.location.address.countryCode",
        "credentialSubject.hasClaim.specifiedBy.title",
        "credentialSubject.hasClaim.specifiedBy.learningOutcome.title",
        "type",
    ]
