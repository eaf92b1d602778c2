"""A candidate's profile and consent: what they tell about themselves, and whether we may keep using it."""

from __future__ import annotations

from sqlalchemy import select

from validation.extensions import db
from validation.models import CandidateProfile, ConsentRecord, User, utcnow
from validation.models.people import TARGET_GROUPS
from validation.services import audit
from validation.services.accounts import CONSENT_TEXT_VERSION
from validation.services.errors import Conflict, Forbidden, Invalid


def profile_of(user: User) -> CandidateProfile:
    """The saved profile, or an unsaved one with the defaults when the candidate has never filled it in."""
    found = db.session.get(CandidateProfile, user.id)
    if found is not None:
        return found
    return CandidateProfile(user_id=user.id, phone=user.phone, contact_by_email=user.email is not None,
                            contact_by_phone=user.phone is not None)


def save_profile(
    actor: User,
    *,
    language: str,
    phone: str | None,
    contact_by_email: bool,
    contact_by_phone: bool,
    target_group: str | None,
    accessibility_needs: str | None,
) -> CandidateProfile:
    if actor.role != "candidate":
        raise Forbidden("Only candidates have a profile.")
    if target_group is not None and target_group not in TARGET_GROUPS:
        raise Invalid("Choose one of the groups, or leave it empty.")
    phone = (phone or "").strip() or None
    if contact_by_phone and phone is None:
        raise Invalid("Give a phone number to be contacted by phone.")
    if not (contact_by_email or contact_by_phone):
        raise Invalid("Choose at least one way to contact you.")
    profile = db.session.get(CandidateProfile, actor.id)
    if profile is None:
        profile = CandidateProfile(user_id=actor.id)
        db.session.add(profile)
    profile.phone = phone
    profile.contact_by_email = contact_by_email
    profile.contact_by_phone = contact_by_phone
    profile.target_group = target_group
    profile.accessibility_needs = (accessibility_needs or "").strip() or None
    profile.updated_at = utcnow()
    actor.preferred_language = language
    db.session.flush()
    # Only whether something was told: the target group itself is sensitive and stays out of the trail.
    audit.record(
        "profile.updated",
        actor=actor,
        user_id=actor.id,
        target_group_given=target_group is not None,
        accessibility_given=profile.accessibility_needs is not None,
        phone_given=phone is not None,
    )
    return profile


def current_consent(user: User) -> ConsentRecord | None:
    return db.session.execute(
        select(ConsentRecord).where(ConsentRecord.user_id == user.id).order_by(ConsentRecord.id.desc()).limit(1)
    ).scalar_one_or_none()


def has_consent(user: User) -> bool:
    record = current_consent(user)
    return record is not None and record.withdrawn_at is None


def consent_withdrawn(user: User) -> bool:
    record = current_consent(user)
    return record is not None and record.withdrawn_at is not None


def require_consent(user: User) -> None:
    """Nothing new is kept about a candidate who withdrew consent, until they give it again.

    Accounts made by staff carry no consent record yet (it is taken in person); only a withdrawal stops them.
    """
    if user.role == "candidate" and consent_withdrawn(user):
        raise Conflict("You withdrew your consent, so nothing new can be kept. Give it again on your profile page "
                       "to continue.")


def withdraw_consent(actor: User) -> ConsentRecord:
    record = current_consent(actor)
    if record is None or record.withdrawn_at is not None:
        raise Conflict("Your consent is already withdrawn.")
    record.withdrawn_at = utcnow()
    db.session.flush()
    audit.record("consent.withdrawn", actor=actor, user_id=actor.id, consent_id=record.id)
    return record


def give_consent(actor: User, language: str) -> ConsentRecord:
    if has_consent(actor):
        raise Conflict("You have already given your consent.")
    record = ConsentRecord(user_id=actor.id, text_version=CONSENT_TEXT_VERSION, language=language)
    db.session.add(record)
    db.session.flush()
    audit.record("consent.given", actor=actor, user_id=actor.id, consent_id=record.id,
                 consent_version=CONSENT_TEXT_VERSION)
    return record
