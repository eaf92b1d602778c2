"""Issued credentials through the services: every award is signed in the same transaction, validates
against the official Open Badges 3.0 schema, verifies, and its status (revoked, suspended) is seen by any
verifier through the signed status list. Keys rotate without breaking what was signed before."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from flask import Flask
from sqlalchemy import select

from tests import factories
from tests.services.test_races import postgres_only
from validation.credentials import jsonld, proofs, statuslist
from validation.credentials import verify as verifier
from validation.credentials.keys import KeyRing
from validation.extensions import db
from validation.models import AuditEvent, Award, IssuedCredential, StatusList, User
from validation.services import credentials
from validation.services.errors import Conflict, Invalid

OFFICIAL_SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "standards" / "openbadges-3.0" / \
    "achievementcredential.json"


def _award(state: str, who: dict) -> IssuedCredential:  # type: ignore[type-arg]
    case = factories.case_in_state(state, who)
    award = db.session.execute(select(Award).where(Award.case_id == case.id)).scalar_one()
    row = credentials.for_award(award.id)
    assert row is not None
    return row


@pytest.fixture
def world(ctx: Flask) -> dict:  # type: ignore[type-arg]
    factories.load_catalog()
    who = factories.people()
    db.session.flush()
    return who


def _verify(raw: str, now: datetime | None = None) -> verifier.Verdict:
    return verifier.verify(raw, credentials.resolvers(), now)


def _schema() -> dict:  # type: ignore[type-arg]
    """The official schema; the copy the app validates with must be the same file."""
    packaged = verifier.SCHEMA_FILE.read_bytes()
    if OFFICIAL_SCHEMA.exists():
        assert OFFICIAL_SCHEMA.read_bytes() == packaged
    return json.loads(packaged)


@pytest.mark.parametrize("state", ["awarded", "partially_awarded"])
def test_an_award_is_issued_as_a_signed_credential_that_verifies(world, state):
    row = _award(state, world)
    document = json.loads(row.document)
    jsonschema.validate(document, _schema(), cls=jsonschema.Draft201909Validator)
    assert document["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert isinstance(document["proof"], list) and document["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
    subject = document["credentialSubject"]
    assert "id" not in subject  # the holder is a salted hash, not an address
    identity = subject["identifier"][0]
    assert identity["hashed"] is True and identity["identityHash"].startswith("sha256$")
    assert "candidate@test.example" not in row.document and "candidate@test.example" not in row.jwt
    award = db.session.get(Award, row.award_id)
    assert subject["creditsEarned"] == float(award.credits_total)
    assert len(subject["result"]) == len(award.outcomes)
    assert subject["achievement"]["achievementType"] == "MicroCredential"
    if state == "partially_awarded":
        assert award.kind == "partial"
        assert "partial" in subject["achievement"]["name"]
    for raw in (row.document, row.jwt):
        verdict = _verify(raw)
        assert verdict.valid, verdict.failed()
        assert verdict.status == "valid"
    events = db.session.execute(select(AuditEvent.action).where(AuditEvent.action == "credential.issued")).all()
    assert len(events) == 1


def test_outcomes_with_esco_skills_are_aligned_to_them(world):
    from validation.services import catalog

    credential = catalog.by_code("UA-BAKERY")
    credential.outcomes[0].esco = ["http://data.europa.eu/esco/skill/test-dough-preparation"]
    db.session.flush()
    row = _award("awarded", world)
    document = json.loads(row.document)
    award = db.session.get(Award, row.award_id)
    esco = {uri for ao in award.outcomes for uri in ao.outcome.esco}
    targets = {a["targetUrl"] for a in document["credentialSubject"]["achievement"]["alignment"]}
    assert esco and esco <= targets
    assert "http://data.europa.eu/snb/eqf/" + str(award.credential.eqf_level) in targets


def test_one_changed_character_is_reported_as_tampering(world):
    row = _award("awarded", world)
    changed = row.document.replace('"creditsEarned": ', '"creditsEarned": 1', 1)
    assert changed != row.document
    verdict = _verify(changed)
    assert not verdict.valid
    assert [c.name for c in verdict.failed()] == ["signature"]
    header, payload, signature = row.jwt.split(".")
    flipped = payload[:40] + ("A" if payload[40] != "A" else "B") + payload[41:]
    assert not _verify(f"{header}.{flipped}.{signature}").valid


def test_a_member_no_context_defines_is_refused(world):
    row = _award("awarded", world)
    document = json.loads(row.document)
    document["credentialSubject"]["nickname"] = "unsigned"
    verdict = _verify(json.dumps(document))
    assert not verdict.valid and "no context defines" in verdict.failed()[0].message


def test_revoke_suspend_and_reinstate_are_seen_through_the_status_list(world):
    row = _award("awarded", world)
    with pytest.raises(Invalid):
        credentials.set_status(row.id, "suspended", world["coordinator"], "  ")
    credentials.set_status(row.id, "suspended", world["coordinator"], "Checking a complaint.")
    verdict = _verify(row.document)
    assert verdict.status == "suspended" and [c.name for c in verdict.failed()] == ["status"]
    credentials.set_status(row.id, "active", world["coordinator"], "The complaint was unfounded.")
    assert _verify(row.document).valid
    credentials.set_status(row.id, "revoked", world["coordinator"], "The evidence was forged.")
    assert _verify(row.jwt).status == "revoked"
    with pytest.raises(Conflict):
        credentials.set_status(row.id, "active", world["coordinator"], "Undo")
    with pytest.raises(Conflict):
        credentials.set_status(row.id, "suspended", world["coordinator"], "Again")
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.action.like("credential.%"))
                                 .order_by(AuditEvent.seq)).scalars().all()
    assert actions == ["credential.issued", "credential.suspended", "credential.reinstated", "credential.revoked"]
    listed = json.loads(db.session.get(StatusList, 1).document)
    assert proofs.verify(listed, credentials.resolvers().key)
    index = int(json.loads(row.document)["credentialStatus"]["statusListIndex"])
    assert statuslist.status_at(listed["credentialSubject"]["encodedList"], index) == statuslist.REVOKED


def test_an_expired_credential_is_reported_as_expired(world):
    from validation.services import catalog

    catalog.by_code("UA-BAKERY").validity_years = 3
    db.session.flush()
    row = _award("awarded", world)
    document = json.loads(row.document)
    jsonschema.validate(document, _schema(), cls=jsonschema.Draft201909Validator)
    until = datetime.fromisoformat(document["validUntil"].replace("Z", "+00:00"))
    assert until - datetime.fromisoformat(document["validFrom"].replace("Z", "+00:00")) > timedelta(days=3 * 365)
    assert _verify(row.document, until - timedelta(days=1)).valid
    for raw in (row.document, row.jwt):
        verdict = _verify(raw, until + timedelta(days=1))
        assert [c.name for c in verdict.failed()] == ["validity"]
        assert verdict.failed()[0].message == "The credential has expired."


def test_a_holder_without_e_mail_is_named_by_a_hash_of_their_phone(world):
    from validation.models import User as Person

    candidate = db.session.get(Person, world["candidate"].id)
    candidate.email, candidate.phone = None, "+380501234567"
    db.session.flush()
    row = _award("partially_awarded", world)
    document = json.loads(row.document)
    jsonschema.validate(document, _schema(), cls=jsonschema.Draft201909Validator)
    identity = document["credentialSubject"]["identifier"][0]
    assert identity["identityType"] == "ext:phone" and "+380501234567" not in row.document
    assert _verify(row.jwt).valid


def test_rotated_keys_still_verify_old_credentials(world, app):
    first = _award("awarded", world)
    ring = KeyRing(app.config["KEYS_DIR"])
    old = ring.current().kid
    ring.rotate()
    factories_world = world
    second_case = factories.case_in_state("partially_awarded", factories_world)
    second = credentials.for_award(
        db.session.execute(select(Award.id).where(Award.case_id == second_case.id)).scalar_one())
    assert second is not None and second.key_id != old and first.key_id == old
    for raw in (first.document, first.jwt, second.document, second.jwt):
        assert _verify(raw).valid
    kids = {k["kid"].split("#")[1] for k in credentials.jwks(first.issuer_key)["keys"]}
    assert kids == {old, second.key_id}
    profile = credentials.issuer_profile(first.issuer_key)
    assert f"{profile['id']}#{old}" in profile["assertionMethod"]
    assert jsonld.undefined_members(profile) == []  # the keys survive JSON-LD processing too


def test_key_files_are_private_to_their_owner(world, app):
    _award("awarded", world)
    folder = Path(app.config["KEYS_DIR"])
    pems = list(folder.glob("*.pem"))
    assert pems
    for pem in pems:
        assert stat.S_IMODE(os.stat(pem).st_mode) == 0o600


def test_a_superseded_award_has_its_credential_revoked(world):
    """An upheld appeal leads to a new decision; the award it replaces stays in force until then, and then its
    credential is revoked, saying why, while the new award has a credential of its own that verifies."""
    from validation.services import awards, cases

    case = factories.case_in_state("appeal_review", world)
    old = credentials.for_award(awards.award_for_case(case.id).id)
    assert old is not None and _verify(old.document).valid
    factories.decide_all(case, world["other_assessor"], ["met"] * len(case.claims))
    cases.fire(case.id, "uphold_appeal", world["other_assessor"], "The video shows every outcome.")
    db.session.refresh(old)
    assert old.status == "active"  # the new decision is still to come
    cases.fire(case.id, "award", world["coordinator"])
    db.session.refresh(old)
    assert (old.status, old.status_reason) == ("revoked", "Replaced by a new decision after an appeal.")
    assert _verify(old.document).status == "revoked"
    new = credentials.for_award(awards.award_for_case(case.id).id)
    assert new is not None and new.id != old.id and _verify(new.jwt).valid


@postgres_only
def test_two_status_changes_at_once_both_reach_the_status_list(app, backend):
    """Two coordinators revoke two credentials of the same list at the same moment: the list is rebuilt under
    its row lock, so the second rebuild waits and includes the first change (on PostgreSQL: real row locks)."""
    import threading

    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        first = _award("awarded", who).id
        second = _award("partially_awarded", {**who, "candidate": who["other_candidate"]}).id
        coordinator_id = who["coordinator"].id
        db.session.commit()
    for round_ in range(5):
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def change(row_id: int, status: str, round_: int = round_) -> None:
            try:
                with app.app_context():
                    actor = db.session.get(User, coordinator_id)
                    start.wait()
                    credentials.set_status(row_id, status, actor, f"Round {round_}.")
                    db.session.commit()
            except BaseException as exc:
                errors.append(exc)

        wanted = "suspended" if round_ % 2 == 0 else "active"
        threads = [threading.Thread(target=change, args=(row_id, wanted)) for row_id in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors, errors
        with app.app_context():
            listed = json.loads(db.session.get(StatusList, 1).document)
            encoded = listed["credentialSubject"]["encodedList"]
            for row_id in (first, second):
                row = db.session.get(IssuedCredential, row_id)
                index = int(json.loads(row.document)["credentialStatus"]["statusListIndex"])
                expected = statuslist.SUSPENDED if wanted == "suspended" else statuslist.VALID
                assert statuslist.status_at(encoded, index) == expected, (round_, row_id)


def test_a_revoked_credential_no_longer_counts_in_the_skills_record_or_carries_over(world):
    from validation.services import awards, cases, catalog

    row = _award("awarded", world)
    assert awards.skills_of(world["candidate"])
    credentials.set_status(row.id, "revoked", world["coordinator"], "The evidence was forged.")
    assert awards.skills_of(world["candidate"]) == []
    again = cases.open_case(world["candidate"], catalog.by_code("UA-BAKERY").id)
    from validation.models import CarriedOutcome

    assert db.session.execute(select(CarriedOutcome).where(CarriedOutcome.case_id == again.id)).all() == []


def test_the_credential_carries_every_element_of_the_eu_standard_and_describes_the_evidence(world):
    row = _award("partially_awarded", world)
    document = json.loads(row.document)
    achievement = document["credentialSubject"]["achievement"]
    narrative = achievement["criteria"]["narrative"]
    for element in ("Assessment:", "Form of participation: on site", "Quality assurance:",
                    "Supervision and identity verification: supervised on site, identity checked",
                    "Notional workload: 150 hours", "Level: EQF 3, national level 3", "Prerequisites:",
                    "Stackability:", "Learning outcomes validated:"):
        assert element in narrative, element
    award = db.session.get(Award, row.award_id)
    assert achievement["creditsAvailable"] == float(award.credits_total)  # the part validated
    assert document["issuer"]["name"] == award.credential.awarding_body_name
    assert document["awardedDate"] == document["validFrom"]
    # The evidence is described (the portfolio's statement, the outcomes it showed), never attached.
    (evidence,) = document["evidence"]
    assert evidence["name"] == "My work" and evidence["genre"] == "statement"
    assert "I did this work for years." not in row.document
