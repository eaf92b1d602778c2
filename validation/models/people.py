"""People: one user table with a role, the centre they belong to, their sessions and consents."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from validation.models.base import Base, UTCDateTime, one_of, utcnow

ROLES = ("candidate", "assessor", "coordinator", "admin")
STAFF_ROLES = ("assessor", "coordinator", "admin")


class Centre(Base):
    """A validation centre (school or agency) that candidates and staff belong to."""

    __tablename__ = "centres"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))


class User(UserMixin, Base):
    """Anyone who signs in. The role decides the desk; ownership and assignment decide the cases."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(one_of("role", ROLES), name="role_known"),
        CheckConstraint("preferred_language IN ('en', 'uk')", name="language_known"),
        # Candidates sign in by e-mail, phone or, when registered by a coordinator, their candidate number;
        # staff always have an e-mail address.
        CheckConstraint("role = 'candidate' OR email IS NOT NULL", name="staff_have_email"),
        # Choices of staff by role (two hundred assessors among tens of thousands of candidates).
        Index("ix_users_role_name", "role", "display_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    #: The phone number to sign in with, in E.164 form (+380...), when registered by phone.
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    preferred_language: Mapped[str] = mapped_column(String(5), default="en")
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("centres.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The coordinator who registered this candidate in person (assisted registration), if any.
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    centre: Mapped[Centre | None] = relationship()

    # Flask-Login keeps the *session* token in the cookie, never the user id, so that a session can be
    # revoked on the server (logout, password change, disabling).
    session_token = None
    #: How many of their notifications were unread when the session was read at the start of the request
    #: (`accounts.user_for_token`), for the top navigation; None when not counted then.
    unread_on_arrival = None

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


class UserSession(Base):
    """A server-side login session; the cookie holds only a random token whose hash is stored here."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_open", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class AccessCode(Base):
    """A printed one-time code that lets a candidate without e-mail set their password and sign in.

    Only the code's SHA-256 is stored (the code is random, 60 bits, so a slow hash adds nothing); it works
    once, until it expires, and a new code for the same person revokes the unused ones.
    """

    __tablename__ = "access_codes"
    __table_args__ = (
        CheckConstraint("used_at IS NULL OR revoked_at IS NULL", name="used_or_revoked"),
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


TARGET_GROUPS = ("displaced", "career_changer", "other")


class CandidateProfile(Base):
    """What a candidate tells about themselves beyond the account; every field is optional."""

    __tablename__ = "candidate_profiles"
    __table_args__ = (
        CheckConstraint(
            one_of("target_group", TARGET_GROUPS, nullable=True),
            name="target_group_known",
        ),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    contact_by_email: Mapped[bool] = mapped_column(Boolean, default=True)
    contact_by_phone: Mapped[bool] = mapped_column(Boolean, default=False)
    target_group: Mapped[str | None] = mapped_column(String(20))
    accessibility_needs: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentRecord(Base):
    """Which version of the privacy text a person accepted, and when; withdrawal is a new timestamp."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    text_version: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(5))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
