"""Awards: what a case earned, full or partial, with the outcomes and credits validated."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from validation.models.base import Base, UTCDateTime, utcnow
from validation.models.catalog import Credential, LearningOutcome
from validation.models.people import User


class Award(Base):
    __tablename__ = "awards"
    __table_args__ = (
        CheckConstraint("kind IN ('full', 'partial')", name="kind_known"),
        CheckConstraint("credits_total >= 0", name="credits_not_negative"),
        # A case has one award in force; one replaced after an appeal stays, marked superseded.
        Index(
            "uq_awards_current_case",
            "case_id",
            unique=True,
            sqlite_where=text("superseded_at IS NULL"),
            postgresql_where=text("superseded_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    holder_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    credential_id: Mapped[int] = mapped_column(ForeignKey("credentials.id"))
    credits_total: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: Set when an upheld appeal led to a new decision: this award is no longer in force.
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    holder: Mapped[User] = relationship(foreign_keys=[holder_id])
    credential: Mapped[Credential] = relationship()
    outcomes: Mapped[list[AwardOutcome]] = relationship(cascade="all, delete-orphan")


class AwardOutcome(Base):
    __tablename__ = "award_outcomes"

    award_id: Mapped[int] = mapped_column(ForeignKey("awards.id"), primary_key=True)
    outcome_id: Mapped[int] = mapped_column(ForeignKey("learning_outcomes.id"), primary_key=True)
    credits: Mapped[Decimal] = mapped_column(Numeric(6, 2))

    outcome: Mapped[LearningOutcome] = relationship()


CREDENTIAL_STATUSES = ("active", "revoked", "suspended")


class IssuedCredential(Base):
    """The signed credential of an award, exactly as it was handed to the holder, and its status.

    Its id is its running number in the status lists (see credentials.statuslist.place). A revoked or
    suspended credential keeps its document: the status list says what became of it, with the reason here.
    """

    __tablename__ = "issued_credentials"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'revoked', 'suspended')", name="status_known"),
        CheckConstraint("status = 'active' OR status_reason IS NOT NULL", name="reason_when_not_active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    award_id: Mapped[int] = mapped_column(ForeignKey("awards.id"), unique=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    #: Which awarding body issued it (services.credentials.issuer_key); the issuer's profile is looked up by it.
    issuer_key: Mapped[str] = mapped_column(String(24), index=True)
    key_id: Mapped[str] = mapped_column(String(40))
    #: The JSON-LD document with its Data Integrity proof, byte for byte as signed and served.
    document: Mapped[str] = mapped_column(Text)
    jwt: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default="active")
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    award: Mapped[Award] = relationship()


class StatusList(Base):
    """A signed Bitstring Status List credential, rebuilt whenever a status in it changes."""

    __tablename__ = "status_lists"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    document: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


CARRY_OVER_STATUSES = ("offered", "confirmed", "rejected")


class CarriedOutcome(Base):
    """An outcome of a new case that an earlier award already validated (the same outcome, or one with a
    shared ESCO skill): offered to the candidate, then confirmed or rejected by the case's assessor."""

    __tablename__ = "carried_outcomes"
    __table_args__ = (
        UniqueConstraint("case_id", "outcome_id"),
        CheckConstraint("status IN ('offered', 'confirmed', 'rejected')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    outcome_id: Mapped[int] = mapped_column(ForeignKey("learning_outcomes.id"))
    award_id: Mapped[int] = mapped_column(ForeignKey("awards.id"))
    from_outcome_id: Mapped[int] = mapped_column(ForeignKey("learning_outcomes.id"))
    status: Mapped[str] = mapped_column(String(10), default="offered")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)

    award: Mapped[Award] = relationship()
    outcome: Mapped[LearningOutcome] = relationship(foreign_keys=[outcome_id])
    from_outcome: Mapped[LearningOutcome] = relationship(foreign_keys=[from_outcome_id])
