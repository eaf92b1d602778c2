"""Accounts: passwords (argon2id), server-side sessions, registration, staff accounts, disabling."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from validation.extensions import db
from validation.models import (
    AccessCode,
    CandidateProfile,
    Centre,
    ConsentRecord,
    Notification,
    User,
    UserSession,
    utcnow,
)
from validation.models.notifications import unread_of
from validation.models.people import ROLES
from validation.services import audit
from validation.services.errors import Forbidden, Invalid, NotFound

# argon2-cffi's defaults are argon2id with the RFC 9106 low-memory profile.
_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a missing account takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")
MIN_PASSWORD_LENGTH = 10
CONSENT_TEXT_VERSION = "2026-11"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def normalise_phone(raw: str, region: str = "UA") -> str:
    """The number in E.164 (+380671234567), so that "067 123 45 67" and "+380 67 123-45-67" are one account.

    `region` is the country assumed for a number written without its country code (the centre's country).
    """
    try:
        number = phonenumbers.parse(raw.strip(), region.upper())
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise Invalid("This is not a phone number we can use. Write it with the country code, e.g. +380 67 123 4567.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """A stored number written the way people read it: +380 67 123 4567."""
    return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def candidate_number(user: User) -> str:
    """What a candidate without e-mail or phone signs in with; printed on their access-code sheet."""
    return str(user.id)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")


def find_by_email(email: str) -> User | None:
    return db.session.execute(select(User).where(User.email == normalise_email(email))).scalar_one_or_none()


def _email_taken(email: str) -> bool:
    return find_by_email(email) is not None


def _phone_taken(phone: str) -> bool:
    return db.session.execute(select(User.id).where(User.phone == phone)).first() is not None


def find_for_sign_in(identifier: str, region: str = "UA") -> User | None:
    """The account an e-mail address, a phone number or a candidate number names, if any."""
    text = identifier.strip()
    if not text:
        return None
    if "@" in text:
        return find_by_email(text)
    digits = "".join(c for c in text if c.isdigit())
    if digits and len(digits) <= 6 and text.lstrip("#№ ").isdigit():
        found = db.session.get(User, int(digits))
        return found if found is not None and found.role == "candidate" else None
    try:
        phone = normalise_phone(text, region)
    except Invalid:
        return None
    return db.session.execute(select(User).where(User.phone == phone)).scalar_one_or_none()


def sign_in_key(identifier: str, region: str = "UA") -> str:
    """One counter per account however it is written, for the failed sign-in limit."""
    user = find_for_sign_in(identifier, region)
    return f"user:{user.id}" if user is not None else "unknown:" + identifier.strip().lower()


def create_user(
    *,
    email: str,
    display_name: str,
    password: str,
    role: str,
    actor: User | None,
    language: str = "en",
    centre_id: int | None = None,
) -> User:
    """A staff account made by an admin (page or CLI); `actor` None only for the operator's CLI."""
    if role not in ROLES:
        raise Invalid(f"Unknown role: {role}.")
    if actor is not None and actor.role != "admin":
        raise Forbidden("Only an administrator can create accounts.")
    _check_password(password)
    if _email_taken(email):
        raise Invalid("An account with this e-mail address already exists.")
    user = User(
        email=normalise_email(email),
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role=role,
        preferred_language=language,
        centre_id=centre_id,
    )
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", actor=actor, user_id=user.id, role=role)
    return user


def _contact(email: str | None, phone: str | None, region: str) -> tuple[str | None, str | None]:
    """Normalised e-mail and phone, each unused by any other account."""
    email = normalise_email(email) if email and email.strip() else None
    phone = normalise_phone(phone, region) if phone and phone.strip() else None
    if email is not None and _email_taken(email):
        raise Invalid("An account with this e-mail address already exists.")
    if phone is not None and _phone_taken(phone):
        raise Invalid("An account with this phone number already exists.")
    return email, phone


def _record_consent(user: User, language: str, note: str | None = None) -> None:
    db.session.add(ConsentRecord(user_id=user.id, text_version=CONSENT_TEXT_VERSION, language=language, note=note))


def _start_profile(user: User) -> None:
    """Contact by the channels the person signed up with; the profile page lets them change it."""
    db.session.add(
        CandidateProfile(
            user_id=user.id,
            phone=user.phone,
            contact_by_email=user.email is not None,
            contact_by_phone=user.phone is not None,
        )
    )


def register_candidate(
    *,
    display_name: str,
    password: str,
    language: str,
    email: str | None = None,
    phone: str | None = None,
    region: str = "UA",
) -> User:
    """Self-registration by e-mail or phone; consent to the privacy text is recorded before anything else."""
    _check_password(password)
    email, phone = _contact(email, phone, region)
    if email is None and phone is None:
        raise Invalid("Give an e-mail address or a phone number to sign in with.")
    user = User(
        email=email,
        phone=phone,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role="candidate",
        preferred_language=language,
    )
    db.session.add(user)
    db.session.flush()
    _record_consent(user, language)
    _start_profile(user)
    audit.record(
        "user.registered",
        actor=user,
        user_id=user.id,
        consent_version=CONSENT_TEXT_VERSION,
        by="email" if email is not None else "phone",
    )
    return user


# --- assisted registration and one-time access codes -----------------------------------------------------

#: Crockford's base32 without the letters people confuse (I, L, O, U): 12 characters carry 60 bits.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_LENGTH = 12
_CONFUSED = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


@dataclass(frozen=True)
class IssuedCode:
    """A code as printed for the candidate: the only moment it exists outside the person's hands."""

    user: User
    code: str
    expires_at: datetime


def _format_code(raw: str) -> str:
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _code_hash(code: str) -> str:
    """Typed codes are forgiving: case, spaces, dashes, and Cyrillic look-alikes do not matter."""
    # A code typed on a Ukrainian keyboard: Cyrillic letters that look like Latin ones count as those.
    cyrillic = str.maketrans("АВЕКМНОРСТХ", "ABEKMHOPCTX")  # noqa: RUF001
    cleaned = "".join(c for c in code.upper().translate(cyrillic).translate(_CONFUSED) if c.isalnum())
    return hashlib.sha256(cleaned.encode("ascii", "replace")).hexdigest()


def issue_access_code(user_id: int, actor: User, days: int) -> IssuedCode:
    """A new single-use code for a candidate (first sign-in, or a lost password); older unused codes stop working."""
    if actor.role != "coordinator":
        raise Forbidden("Only coordinators hand out access codes.")
    user = db.session.get(User, user_id)
    if user is None or user.role != "candidate":
        raise NotFound("No such candidate.")
    if not user.active:
        raise Invalid("This account is disabled.")
    now = utcnow()
    revoked = db.session.execute(
        update(AccessCode)
        .where(AccessCode.user_id == user.id, AccessCode.used_at.is_(None), AccessCode.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    row = AccessCode(
        user_id=user.id,
        code_hash=_code_hash(raw),
        created_by_id=actor.id,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    db.session.add(row)
    db.session.flush()
    audit.record("access_code.issued", actor=actor, user_id=user.id, code_id=row.id, revoked=int(revoked or 0))
    return IssuedCode(user=user, code=_format_code(raw), expires_at=row.expires_at)


def register_assisted(
    *,
    actor: User,
    display_name: str,
    language: str,
    consent_in_person: bool,
    code_days: int,
    email: str | None = None,
    phone: str | None = None,
    region: str = "UA",
) -> IssuedCode:
    """A coordinator registers someone in person (no e-mail needed) and prints them a one-time access code.

    The person has read the privacy text with the coordinator and agreed: that consent is recorded as given
    in person; they see the text again and confirm it themselves when they first use the code.
    """
    if actor.role != "coordinator":
        raise Forbidden("Only coordinators register candidates in person.")
    if not consent_in_person:
        raise Invalid("The candidate must agree to the privacy text before we keep any data.")
    if not display_name.strip():
        raise Invalid("Write the candidate's name.")
    email, phone = _contact(email, phone, region)
    user = User(
        email=email,
        phone=phone,
        display_name=display_name.strip(),
        # Nobody knows this password: the account opens only with the access code.
        password_hash=hash_password(secrets.token_urlsafe(32)),
        role="candidate",
        preferred_language=language,
        centre_id=actor.centre_id,
        registered_by_id=actor.id,
    )
    db.session.add(user)
    db.session.flush()
    _record_consent(user, language, note="given in person")
    _start_profile(user)
    audit.record(
        "user.registered", actor=actor, user_id=user.id, consent_version=CONSENT_TEXT_VERSION, by="coordinator"
    )
    return issue_access_code(user.id, actor, code_days)


def redeem_access_code(code: str, new_password: str, language: str) -> User:
    """The candidate's first step with a printed code: choose a password, confirm consent, be signed in."""
    _check_password(new_password)
    row = db.session.execute(
        select(AccessCode).where(AccessCode.code_hash == _code_hash(code)).with_for_update()
    ).scalar_one_or_none()
    now = utcnow()
    if row is None or row.used_at is not None or row.revoked_at is not None or row.expires_at <= now:
        # One answer for every failure: a guesser learns nothing about which codes exist.
        raise Invalid("This access code is not valid: it may be mistyped, used already or expired. "
                      "Ask your coordinator for a new one.")
    user = row.user
    if not user.active:
        raise Invalid("This access code is not valid: it may be mistyped, used already or expired. "
                      "Ask your coordinator for a new one.")
    row.used_at = now
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now
    revoked = _revoke_all(user)
    _record_consent(user, language, note="confirmed with access code")
    audit.record("access_code.used", actor=user, user_id=user.id, code_id=row.id, sessions_revoked=revoked)
    return user


def candidates_for(actor: User, query: str = "", limit: int = 100) -> list[User]:
    """Candidates a coordinator may hand codes to: their centre's (all, for a coordinator without a centre)."""
    if actor.role != "coordinator":
        raise Forbidden("Only coordinators list candidates.")
    stmt = select(User).where(User.role == "candidate")
    if actor.centre_id is not None:
        stmt = stmt.where(User.centre_id == actor.centre_id)
    text = query.strip()
    if text:
        like = f"%{text.lower()}%"
        conditions = [func.lower(User.display_name).like(like), func.lower(User.email).like(like)]
        if text.lstrip("#№ ").isdigit() and len(text.lstrip("#№ ")) <= 9:
            conditions.append(User.id == int(text.lstrip("#№ ")))
        digits = "".join(c for c in text if c.isdigit())
        if len(digits) >= 5:
            conditions.append(User.phone.like(f"%{digits}%"))
        stmt = stmt.where(or_(*conditions))
    return list(db.session.execute(stmt.order_by(User.created_at.desc(), User.id.desc()).limit(limit)).scalars())


def authenticate(identifier: str, password: str, region: str = "UA") -> User | None:
    """The active user with this e-mail, phone or candidate number and password, or None; the same work is
    done either way."""
    user = find_for_sign_in(identifier, region)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        # Stronger parameters were configured since this hash was made: upgrade it while we have the password.
        user.password_hash = hash_password(password)
        audit.record("user.password_rehashed", actor=user, user_id=user.id)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(user: User, lifetime_hours: int) -> str:
    """Start a server-side session and return the token for the cookie (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    session = UserSession(
        user_id=user.id, token_hash=_token_hash(token), expires_at=utcnow() + timedelta(hours=lifetime_hours)
    )
    db.session.add(session)
    db.session.flush()
    audit.record("session.opened", actor=user, user_id=user.id, session_id=session.id)
    user.session_token = token
    return token


#: Every signed-in request starts with this query, so it is built once (both rows in one query): building a
#: statement costs more than running it. The count of the person's unread notifications, which the top
#: navigation of every page shows, comes with it: a query of its own on every page cost as much again.
_SESSION_USER = (
    select(
        UserSession.revoked_at,
        UserSession.expires_at,
        User,
        select(func.count(Notification.id))
        .where(unread_of(User.id))
        .correlate(User)
        .scalar_subquery()
        .label("unread"),
    )
    .join(User, User.id == UserSession.user_id)
    .where(UserSession.token_hash == bindparam("token_hash"))
)


def user_for_token(token: str) -> User | None:
    """The user of a live session: not revoked, not expired, account still active."""
    found = db.session.execute(_SESSION_USER, {"token_hash": _token_hash(token)}).one_or_none()
    if found is None or found.revoked_at is not None or found.expires_at <= utcnow():
        return None
    user = found.User
    if not user.active:
        return None
    user.session_token = token
    user.unread_on_arrival = found.unread
    return user


def close_session(user: User, token: str) -> None:
    db.session.execute(
        update(UserSession)
        .where(UserSession.token_hash == _token_hash(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    audit.record("session.closed", actor=user, user_id=user.id)


def _revoke_all(user: User) -> int:
    result = db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)


def change_password(user: User, current: str, new: str, lifetime_hours: int) -> str:
    """Change the password, end every session of the account, and open a fresh one for this browser."""
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise Invalid("The current password is not correct.") from None
    _check_password(new)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    revoked = _revoke_all(user)
    audit.record("user.password_changed", actor=user, user_id=user.id, sessions_revoked=revoked)
    return open_session(user, lifetime_hours)


def set_active(user_id: int, active: bool, actor: User | None) -> User:
    """Disable (ending every session at once) or re-enable an account."""
    if actor is not None and actor.role != "admin":
        raise Forbidden("Only an administrator can disable accounts.")
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such account.")
    if actor is not None and user.id == actor.id and not active:
        raise Invalid("You cannot disable your own account.")
    user.active = active
    revoked = _revoke_all(user) if not active else 0
    audit.record(
        "user.enabled" if active else "user.disabled", actor=actor, user_id=user.id, sessions_revoked=revoked
    )
    return user


def set_language(user: User, language: str) -> None:
    if user.preferred_language != language:
        user.preferred_language = language
        audit.record("user.language_changed", actor=user, user_id=user.id, language=language)


def centres() -> list[Centre]:
    return list(db.session.execute(select(Centre).order_by(Centre.name)).scalars())


def get_user(user_id: int) -> User | None:
    return db.session.get(User, user_id)


#: The account that automatic actions (`validation tick`) are recorded under. ".invalid" can never receive mail.
SYSTEM_EMAIL = "system@validation.invalid"
SYSTEM_NAME = "Validation system (automatic actions)"


def system_user() -> User:
    """The account under which the tick withdraws an abandoned draft, made the first time it is needed.

    The workflow lets only candidates and coordinators withdraw a case. Recording the expiry under the
    candidate would say they withdrew it, which they did not; so it is recorded under this clearly named
    account with the coordinator role. It is disabled and has no password anyone knows, so nobody can sign
    in as it, and being disabled it is never counted among the coordinators who are told about cases.
    Two ticks creating it at once: the unique e-mail lets one insert win; the other reads that one.
    """
    found = find_by_email(SYSTEM_EMAIL)
    if found is not None:
        return found
    user = User(
        email=SYSTEM_EMAIL,
        display_name=SYSTEM_NAME,
        password_hash=hash_password(secrets.token_urlsafe(32)),
        role="coordinator",
        active=False,
    )
    try:
        with db.session.begin_nested():
            db.session.add(user)
            db.session.flush()
    except IntegrityError:
        found = find_by_email(SYSTEM_EMAIL)
        assert found is not None, "the system account was created by another process"
        return found
    audit.record("user.created", actor=None, user_id=user.id, role=user.role, system=True)
    return user


def list_users() -> list[User]:
    return list(db.session.execute(select(User).order_by(User.role, User.email)).scalars())


def users_with_role(role: str) -> list[User]:
    return list(
        db.session.execute(
            select(User).where(User.role == role, User.active.is_(True)).order_by(User.display_name)
        ).scalars()
    )


def names_with_role(role: str) -> list[tuple[int, str]]:
    """(id, name) of the active users with this role, by name: what a choice of person shows."""
    return [
        (user_id, name)
        for user_id, name in db.session.execute(
            select(User.id, User.display_name)
            .where(User.role == role, User.active.is_(True))
            .order_by(User.display_name)
        )
    ]


def count_users() -> int:
    return int(db.session.execute(select(func.count(User.id))).scalar_one())
