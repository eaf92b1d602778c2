"""Assessment: the assessor's judgement per claimed outcome. Decisions are appended, never changed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
)
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
    #: Set when recorded in the review of an appeal: if that appeal is dismissed, this decision stays on
    #: record as the reviewer's judgement, but the decision appealed against remains the current one.
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"))

    assessor: Mapped[User] = relationship()


EVIDENCE_RULES = ("valid", "authentic", "current", "sufficient")
INTERVIEW_KINDS = ("interview", "observation")
INTERVIEW_RESULTS = ("met", "not_met", "inconclusive")


class ConflictDeclaration(Base):
    """An assessor's statement, before first opening a case, that they do or do not know the candidate."""

    __tablename__ = "conflict_declarations"
    __table_args__ = (
        CheckConstraint("has_conflict = false OR (reason IS NOT NULL AND length(reason) > 0)",
                        name="reason_if_conflict"),
        Index("ix_conflict_declarations_case_assessor", "case_id", "assessor_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    has_conflict: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EvidenceDoubt(Base):
    """An assessor's doubt about one item against one of the rules of evidence, recorded where it arises."""

    __tablename__ = "evidence_doubts"
    __table_args__ = (
        CheckConstraint(one_of("rule", EVIDENCE_RULES), name="rule_known"),
        CheckConstraint("length(note) > 0", name="note_given"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("evidence_items.id"))
    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    rule: Mapped[str] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(Text)
    submission_round: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EvidenceRequest(Base):
    """What the assessor asked for when requesting more evidence: which outcomes, what would help, by when."""

    __tablename__ = "evidence_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The round the new evidence will belong to (the case's round once the request is made).
    submission_round: Mapped[int] = mapped_column(Integer)
    outcome_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    message: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date | None] = mapped_column(Date)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Interview(Base):
    """An interview or a practical observation, scheduled by the assessor, with its result per outcome."""

    __tablename__ = "interviews"
    __table_args__ = (
        CheckConstraint(one_of("kind", INTERVIEW_KINDS), name="kind_known"),
        CheckConstraint("place IS NOT NULL OR online_link IS NOT NULL", name="place_or_link"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(12), default="interview")
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str | None] = mapped_column(String(200))
    online_link: Mapped[str | None] = mapped_column(String(500))
    notes: Mapped[str | None] = mapped_column(Text)
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    results: Mapped[list[InterviewResult]] = relationship(order_by="InterviewResult.id")


class InterviewResult(Base):
    """The result of an interview for one claimed outcome (appended: a correction is a new row)."""

    __tablename__ = "interview_results"
    __table_args__ = (
        ForeignKeyConstraint(["case_id", "outcome_id"], ["case_claims.case_id", "case_claims.outcome_id"]),
        CheckConstraint(one_of("result", INTERVIEW_RESULTS), name="result_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), index=True)
    case_id: Mapped[int] = mapped_column(Integer)
    outcome_id: Mapped[int] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(String(12))
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
