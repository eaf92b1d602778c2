"""Issued credentials: signed when an award is made, in the same transaction, and their status kept.

An award becomes an Open Badges 3.0 credential signed twice with the instance's current Ed25519 key (an
embedded Data Integrity proof, and a VC-JWT); the signed text is stored as served, never rebuilt. The
issuer is the credential's awarding body, at a URL of this app whose profile and JWKS list every key the
instance has had. Revocation and suspension need a reason; each change rebuilds and signs the status list
the credential is in, under a row lock, so two changes at once cannot lose each other.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, exists, select
from sqlalchemy.orm import selectinload

from validation.credentials import jsonld, openbadges, proofs, statuslist
from validation.credentials import keys as keyfiles
from validation.credentials.facts import AwardFacts, EvidenceFacts, OutcomeFacts
from validation.credentials.verify import Resolvers
from validation.extensions import db
from validation.models import Award, Case, Credential, EvidenceItem, IssuedCredential, StatusList, User, utcnow
from validation.services import audit
from validation.services.errors import Conflict, Invalid, NotFound

STATUS_VALUES = {"active": statuslist.VALID, "revoked": statuslist.REVOKED, "suspended": statuslist.SUSPENDED}


def base_url() -> str:
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")


def keyring() -> keyfiles.KeyRing:
    return keyfiles.KeyRing(current_app.config["KEYS_DIR"])


def issuer_key(credential: Credential) -> str:
    """A stable, opaque name for an awarding body: the same body in every credential is one issuer."""
    name = f"{credential.awarding_body_name.strip().casefold()}|{credential.awarding_body_country.upper()}"
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]


def issuer_id(key: str) -> str:
    return f"{base_url()}/issuers/{key}"


def _issuer(credential: Credential) -> openbadges.Issuer:
    return openbadges.Issuer(id=issuer_id(issuer_key(credential)), name=credential.awarding_body_name,
                             url=credential.awarding_body_url, country=credential.awarding_body_country)


def verification_method(key: str, kid: str) -> str:
    return f"{issuer_id(key)}#{kid}"


def status_list_url(number: int) -> str:
    return f"{base_url()}/credentials/status/{number}"


def verify_url(credential_uuid: str) -> str:
    return f"{base_url()}/verify/{credential_uuid}"


def facts_of(award: Award, credential_uuid: str) -> AwardFacts:
    """Everything the award certifies, gathered once for every format."""
    credential = award.credential
    outcomes = sorted(award.outcomes, key=lambda ao: ao.outcome.position)
    items = db.session.execute(
        select(EvidenceItem).where(EvidenceItem.case_id == award.case_id, EvidenceItem.submitted_at.is_not(None))
        .options(selectinload(EvidenceItem.links)).order_by(EvidenceItem.id)
    ).scalars().all()
    codes = {ao.outcome_id: ao.outcome.code for ao in outcomes}
    valid_until = None
    if credential.validity_years:
        valid_until = award.issued_at + timedelta(days=round(365.25 * credential.validity_years))
    return AwardFacts(
        number=award.number, kind=award.kind, holder_name=award.holder.display_name, issued_at=award.issued_at,
        valid_until=valid_until, credential_code=credential.code, credential_version=credential.version,
        title=credential.title, description=credential.description, country=credential.country,
        languages=list(credential.languages), awarding_body_name=credential.awarding_body_name,
        awarding_body_url=credential.awarding_body_url, awarding_body_country=credential.awarding_body_country,
        eqf_level=credential.eqf_level, nqf_level=credential.nqf_level, credits_total=award.credits_total,
        credits_value=credential.credits_value, credits_system=credential.credits_system,
        workload_hours=credential.workload_hours, assessment_type=credential.assessment_type,
        participation=credential.participation, quality_assurance=credential.quality_assurance,
        identity_verification=credential.identity_verification, prerequisites=credential.prerequisites,
        stackability=credential.stackability, further_information=credential.further_information,
        outcomes=[OutcomeFacts(code=ao.outcome.code, text=ao.outcome.text, kind=ao.outcome.kind, credits=ao.credits,
                               criteria=list(ao.outcome.criteria), esco=list(ao.outcome.esco or []))
                  for ao in outcomes],
        outcomes_total=len(credential.outcomes), verify_url=verify_url(credential_uuid),
        credential_id=f"urn:uuid:{credential_uuid}",
        evidence=[EvidenceFacts(title=item.title, kind=item.kind,
                                outcome_codes=[codes[link.outcome_id] for link in item.links
                                               if link.outcome_id in codes])
                  for item in items if any(link.outcome_id in codes for link in item.links)],
        sector=credential.sector,
    )


def _recipient(holder: User) -> openbadges.Recipient:
    salt = secrets.token_hex(8)
    if holder.email:
        return openbadges.Recipient("emailAddress", holder.email.strip().lower(), salt)
    if holder.phone:
        return openbadges.Recipient("ext:phone", holder.phone, salt)
    return openbadges.Recipient("systemId", f"{base_url()}/users/{holder.id}", salt)


def issue(award: Award, actor: User) -> IssuedCredential:
    """Sign the award's credential and keep it; called by awards.issue in the same transaction."""
    credential_uuid = str(uuid.uuid4())
    key = keyring().ensure()
    issuer = _issuer(award.credential)
    row = IssuedCredential(award_id=award.id, uuid=credential_uuid, issuer_key=issuer_key(award.credential),
                           key_id=key.kid, document="", jwt="", issued_at=award.issued_at)
    db.session.add(row)
    db.session.flush()  # the id is the credential's place in the status lists
    number, index = statuslist.place(row.id)
    _ensure_status_list(number)
    document = openbadges.credential(facts_of(award, credential_uuid), base_url(), issuer,
                                     _recipient(award.holder), statuslist.entry(status_list_url(number), index))
    method = verification_method(row.issuer_key, key.kid)
    signed = proofs.sign(document, key.private, method, award.issued_at)
    row.document = json.dumps(signed, ensure_ascii=False, indent=2)
    row.jwt = proofs.sign_jwt(document, key.private, method)
    db.session.flush()
    audit.record("credential.issued", actor=actor, case=db.session.get(Case, award.case_id), award_id=award.id,
                 credential_id=row.id, key_id=key.kid)
    return row


def award_stands() -> Any:
    """The condition on Award for an award that still counts: in force (not superseded after an appeal) and
    its credential neither revoked nor suspended. What the skills record lists and what carries over."""
    return and_(Award.superseded_at.is_(None),
                ~exists().where(IssuedCredential.award_id == Award.id, IssuedCredential.status != "active"))


def for_award(award_id: int) -> IssuedCredential | None:
    return db.session.execute(
        select(IssuedCredential).where(IssuedCredential.award_id == award_id)).scalar_one_or_none()


def find(credential_uuid: str) -> IssuedCredential | None:
    return db.session.execute(
        select(IssuedCredential).where(IssuedCredential.uuid == credential_uuid)).scalar_one_or_none()


def by_uuid(credential_uuid: str) -> IssuedCredential:
    row = find(credential_uuid)
    if row is None:
        raise NotFound("There is no credential with this link.")
    return row


# --- status ------------------------------------------------------------------------------------------------

_ALLOWED = {
    "revoked": ("active", "suspended"),
    "suspended": ("active",),
    "active": ("suspended",),
}
_ACTIONS = {"revoked": "credential.revoked", "suspended": "credential.suspended", "active": "credential.reinstated"}


def set_status(row_id: int, status: str, actor: User, reason: str | None) -> IssuedCredential:
    """Revoke (for good), suspend, or lift a suspension; a reason is required for each."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("Give the reason: the holder and anyone who checks the credential will see it.")
    row = db.session.get(IssuedCredential, row_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise NotFound("There is no such credential.")
    if row.status not in _ALLOWED[status]:
        if status == "revoked":
            raise Conflict("This credential is revoked already.")
        if status == "suspended":
            raise Conflict("Only a credential in force can be suspended.")
        raise Conflict("Only a suspended credential can be reinstated.")
    row.status = status
    row.status_reason = reason[:2000]
    row.status_changed_at = utcnow()
    db.session.flush()
    _rebuild_status_list(statuslist.place(row.id)[0])
    award = db.session.get(Award, row.award_id)
    audit.record(_ACTIONS[status], actor=actor, case=db.session.get(Case, award.case_id) if award else None,
                 credential_id=row.id)
    return row


def revoke_superseded(award: Award, actor: User) -> None:
    """An award taken out of force after an appeal: its credential is revoked, saying why."""
    row = for_award(award.id)
    if row is not None and row.status != "revoked":
        set_status(row.id, "revoked", actor, "Replaced by a new decision after an appeal.")


def _status_issuer() -> dict[str, Any]:
    return {"id": issuer_id("instance"), "type": ["Profile"], "name": current_app.config["ISSUER_NAME"]}


def _signed_list(number: int) -> str:
    first, last = (number - 1) * statuslist.ENTRIES, number * statuslist.ENTRIES
    statuses = {
        statuslist.place(row_id)[1]: STATUS_VALUES[status]
        for row_id, status in db.session.execute(
            select(IssuedCredential.id, IssuedCredential.status).where(
                IssuedCredential.id >= first, IssuedCredential.id < last, IssuedCredential.status != "active"))
    }
    now = utcnow()
    document = statuslist.list_credential(status_list_url(number), _status_issuer(), statuses,
                                          now.replace(microsecond=0).isoformat().replace("+00:00", "Z"))
    key = keyring().ensure()
    return json.dumps(proofs.sign(document, key.private, verification_method("instance", key.kid), now))


def _ensure_status_list(number: int) -> None:
    if db.session.get(StatusList, number) is None:
        db.session.add(StatusList(number=number, document=_signed_list(number)))
        db.session.flush()


def _rebuild_status_list(number: int) -> None:
    """Under the list's row lock: a second change waits, then reads the first one's status too."""
    row = db.session.get(StatusList, number, with_for_update=True, populate_existing=True)
    if row is None:
        row = StatusList(number=number, document="")
        db.session.add(row)
    row.document = _signed_list(number)
    row.updated_at = utcnow()
    db.session.flush()


def status_list(number: int) -> StatusList:
    row = db.session.get(StatusList, number)
    if row is None:
        raise NotFound("There is no such status list.")
    return row


# --- publishing and verifying -------------------------------------------------------------------------------

def _issuer_profile_of(key: str) -> dict[str, Any]:
    """Who the issuer is: the instance (which signs the status lists), or an awarding body that has
    issued here, read from one of its credentials (one indexed row)."""
    if key == "instance":
        return _status_issuer()
    row = db.session.execute(
        select(IssuedCredential).where(IssuedCredential.issuer_key == key).limit(1)).scalar_one_or_none()
    if row is None:
        raise NotFound("There is no such issuer.")
    return _issuer(row.award.credential).profile()


def issuer_profile(key: str) -> dict[str, Any]:
    """The issuer's public profile: who it is and the keys that sign for it (assertionMethod)."""
    profile = _issuer_profile_of(key)
    ring = keyring()
    ring.ensure()
    methods = [{"id": f"{issuer_id(key)}#{k.kid}", "type": "Multikey", "controller": issuer_id(key),
                "publicKeyMultibase": keyfiles.multibase_public(k.public)} for k in ring.all()]
    return {"@context": [jsonld.VC_V2, jsonld.OB_V3, "https://w3id.org/security/multikey/v1", _KEY_TERMS],
            **profile, "verificationMethod": methods, "assertionMethod": [m["id"] for m in methods]}


#: The Open Badges Profile's own (protected, type-scoped) context does not define the controller-document
#: terms, so JSON-LD would drop the keys from the profile: they are defined here, as the security
#: vocabulary has them.
_KEY_TERMS = {
    "verificationMethod": {"@id": "https://w3id.org/security#verificationMethod", "@type": "@id"},
    "assertionMethod": {"@id": "https://w3id.org/security#assertionMethod", "@type": "@id", "@container": "@set"},
}


def jwks(key: str) -> dict[str, Any]:
    _issuer_profile_of(key)  # a key nobody issued under: not found
    ring = keyring()
    ring.ensure()
    return {"keys": [keyfiles.jwk(k.public, f"{issuer_id(key)}#{k.kid}") for k in ring.all()]}


def resolvers() -> Resolvers:
    """How this instance resolves what a verifier needs: its own keys and its own status lists."""
    prefix = f"{base_url()}/issuers/"
    ring = keyring()
    published = {k.kid: k.public for k in ring.all()}
    lists_prefix = f"{base_url()}/credentials/status/"

    def key_for(method: str) -> Any:
        issuer, _, kid = method.partition("#")
        if not issuer.startswith(prefix) or "/" in issuer[len(prefix):]:
            return None
        return published.get(kid)

    def list_for(url: str) -> dict[str, Any] | None:
        number = url[len(lists_prefix):] if url.startswith(lists_prefix) else ""
        row = db.session.get(StatusList, int(number)) if number.isdigit() else None
        return json.loads(row.document) if row is not None else None

    return Resolvers(key=key_for, status_list=list_for)


def all_issued() -> list[IssuedCredential]:
    return list(db.session.execute(select(IssuedCredential).order_by(IssuedCredential.id)).scalars())
