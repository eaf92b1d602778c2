"""Assessment: the assessor's judgement per claimed outcome. Decisions are appended, never changed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from validation.models.base import Base, UTCDateTime, one_of, utcnow
from validation.models.people import User

VERDICTS = ("met", "not_met", "more_evidence")


class OutcomeDecision(Base):
    """One judgement; the newest per (case, outcome) is the current one, the older ones stay on record."""

    __tablename__ = "outcome_decisions"
    __table_args__ = (
        ForeignKeyConstraint(["case_id", "outcome_id"], ["case_claims.case_id", "case_claims.outcome_id"]),
        CheckConstraint(one_of("verdict", VERDICTS), name="verdict_known"),
        CheckConstraint(
            "verdict = 'met' OR (rationale IS NOT NULL AND length(rationale) > 0)",
            name="rationale_unless_met",
        ),
        Index("ix_outcome_decisions_case_outcome", "case_id", "outcome_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(Integer)
    outcome_id: Mapped[int] = mapped_column(Integer)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    verdict: Mapped[str] = mapped_column(String(16))
    rationale: Mapped[str | None] = mapped_column(Text)
    # Indexes (0-based) of the outcome's criteria the evidence satisfies.
    criteria_met: Mapped[list[int]] = mapped_column(JSON, default=list)
    submission_round: Mapped[int] = mapped_column(Integer)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    assessor: Mapped[User] = relationship()
