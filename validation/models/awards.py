"""Awards: what a case earned, full or partial, with the outcomes and credits validated."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, text
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
