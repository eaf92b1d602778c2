"""Accounts: passwords (argon2id), server-side sessions, registration, staff accounts, disabling."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update

from validation.extensions import db
from validation.models import ConsentRecord, User, UserSession, utcnow
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


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")


def find_by_email(email: str) -> User | None:
    return db.session.execute(select(User).where(User.email == normalise_email(email))).scalar_one_or_none()


def _email_taken(email: str) -> bool:
    return find_by_email(email) is not None


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


def register_candidate(*, email: str, display_name: str, password: str, language: str) -> User:
    """Self-registration; consent to the privacy text is recorded before anything else is kept."""
    _check_password(password)
    if _email_taken(email):
        raise Invalid("An account with this e-mail address already exists.")
    user = User(
        email=normalise_email(email),
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role="candidate",
        preferred_language=language,
    )
    db.session.add(user)
    db.session.flush()
    db.session.add(ConsentRecord(user_id=user.id, text_version=CONSENT_TEXT_VERSION, language=language))
    audit.record("user.registered", actor=user, user_id=user.id, consent_version=CONSENT_TEXT_VERSION)
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None; the same work is done either way."""
    user = find_by_email(email)
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


def user_for_token(token: str) -> User | None:
    """The user of a live session: not revoked, not expired, account still active."""
    row = db.session.execute(
        select(UserSession).where(UserSession.token_hash == _token_hash(token))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    user = row.user
    if not user.active:
        return None
    user.session_token = token
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


def list_users() -> list[User]:
    return list(db.session.execute(select(User).order_by(User.role, User.email)).scalars())


def users_with_role(role: str) -> list[User]:
    return list(
        db.session.execute(
            select(User).where(User.role == role, User.active.is_(True)).order_by(User.display_name)
        ).scalars()
    )


def count_users() -> int:
    return int(db.session.execute(select(func.count(User.id))).scalar_one())
