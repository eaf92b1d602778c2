"""Quality assurance: each credential's rule for moderation and appeals, the moderation of recommendations
by a second assessor, and appeals. Judgements are appended, never changed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from validation.models.base import Base, UTCDateTime, one_of, utcnow
from validation.models.people import User

SELECTION_REASONS = ("first_cases", "sampled", "no_award", "not_selected")
MODERATION_STATUSES = ("not_selected", "selected", "agreed", "disagreed", "settled", "returned")
APPEAL_STATUSES = ("lodged", "in_review", "upheld", "dismissed")
OPEN_APPEAL = ("lodged", "in_review")


class CredentialPolicy(Base):
    """Set by an admin per credential: which recommendations a second assessor moderates, and how long
    after a decision the candidate may appeal. A credential without a row follows the defaults."""

    __tablename__ = "credential_policies"
    __table_args__ = (
        CheckConstraint("moderate_first >= 0", name="moderate_first_not_negative"),
        CheckConstraint("moderate_percent BETWEEN 0 AND 100", name="moderate_percent_range"),
        CheckConstraint("appeal_days BETWEEN 1 AND 365", name="appeal_days_range"),
    )

    credential_id: Mapped[int] = mapped_column(ForeignKey("credentials.id"), primary_key=True)
    #: Every recommendation in each assessor's first this many cases of the credential.
    moderate_first: Mapped[int] = mapped_column(Integer, default=0)
    #: After those, this share of recommendations, drawn at random. Every "no award" is always moderated.
    moderate_percent: Mapped[int] = mapped_column(Integer, default=0)
    #: The moderator does not see the first assessor's decisions until they have given their own view.
    blind: Mapped[bool] = mapped_column(Boolean, default=False)
    appeal_days: Mapped[int] = mapped_column(Integer, default=30)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Moderation(Base):
    """What the sampling rule said about one recommendation of a case, and how its moderation went."""

    __tablename__ = "moderations"
    __table_args__ = (
        UniqueConstraint("case_id", "recommendation"),
        CheckConstraint(one_of("reason", SELECTION_REASONS), name="reason_known"),
        CheckConstraint(one_of("status", MODERATION_STATUSES), name="status_known"),
        CheckConstraint("selected = (reason <> 'not_selected')", name="selected_matches_reason"),
        # The second pair of eyes is never the first.
        CheckConstraint("moderator_id IS NULL OR moderator_id <> assessor_id", name="moderator_not_assessor"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    #: 1 for the case's first recommendation, 2 after it came back for review, and so on.
    recommendation: Mapped[int] = mapped_column(Integer)
    selected: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(16))
    #: The rule as it stood when it selected (first N, percent, the draw), kept with the case.
    rule: Mapped[str] = mapped_column(String(120))
    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    blind: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12))
    settled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    moderator: Mapped[User | None] = relationship(foreign_keys=[moderator_id])
    views: Mapped[list[ModerationView]] = relationship(order_by="ModerationView.id")


class ModerationView(Base):
    """The moderator's view of the recommendation on one outcome: agree, or disagree with a reason."""

    __tablename__ = "moderation_views"
    __table_args__ = (
        ForeignKeyConstraint(["case_id", "outcome_id"], ["case_claims.case_id", "case_claims.outcome_id"]),
        CheckConstraint("agrees OR (reason IS NOT NULL AND length(reason) > 0)", name="reason_unless_agrees"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    moderation_id: Mapped[int] = mapped_column(ForeignKey("moderations.id"), index=True)
    case_id: Mapped[int] = mapped_column(Integer)
    outcome_id: Mapped[int] = mapped_column(Integer)
    moderator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    agrees: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Appeal(Base):
    """A candidate's appeal against a decision; the decision appealed against stays on record."""

    __tablename__ = "appeals"
    __table_args__ = (
        CheckConstraint(one_of("status", APPEAL_STATUSES), name="status_known"),
        CheckConstraint("length(reason) > 0", name="reason_given"),
        CheckConstraint(
            "(status IN ('lodged', 'in_review')) = (closed_at IS NULL)", name="closed_iff_decided"
        ),
        CheckConstraint("reviewer_id IS NULL OR reviewer_id <> decided_by_id", name="reviewer_is_new"),
        # One appeal under way per case.
        Index(
            "uq_appeals_open_case",
            "case_id",
            unique=True,
            sqlite_where=text("status IN ('lodged', 'in_review')"),
            postgresql_where=text("status IN ('lodged', 'in_review')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    #: The decision state appealed against (awarded, partially_awarded, not_awarded).
    against_state: Mapped[str] = mapped_column(String(40))
    award_id: Mapped[int | None] = mapped_column(ForeignKey("awards.id"))
    #: The assessor whose recommendation led to the decision: never the reviewer of the appeal.
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="lodged")
    result_reason: Mapped[str | None] = mapped_column(Text)
    lodged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
