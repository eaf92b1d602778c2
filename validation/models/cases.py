"""A case: one candidate seeking one credential, moved through a pinned workflow version."""

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
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from validation.models.base import Base, UTCDateTime, one_of, utcnow
from validation.models.catalog import Credential, LearningOutcome
from validation.models.people import User

OUTCOMES = ("awarded", "partially_awarded", "not_awarded", "withdrawn")
SELF_ASSESSMENT = ("confident", "partly", "not_yet")


class WorkflowVersion(Base):
    """The text of each workflow version as first seen, so a silently edited file can be refused."""

    __tablename__ = "workflow_versions"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    source_text: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workflow_key", "workflow_version"], ["workflow_versions.key", "workflow_versions.version"]
        ),
        CheckConstraint(
            one_of("outcome", OUTCOMES, nullable=True), name="outcome_known"
        ),
        # An awarded case always says when and by whom; a closed case always says when.
        CheckConstraint(
            "outcome NOT IN ('awarded', 'partially_awarded') "
            "OR (awarded_at IS NOT NULL AND awarded_by_id IS NOT NULL)",
            name="awarded_has_date_and_user",
        ),
        CheckConstraint("(outcome IS NULL) = (closed_at IS NULL)", name="closed_iff_outcome"),
        CheckConstraint("lock_version >= 1", name="lock_version_positive"),
        CheckConstraint("moderator_id IS NULL OR moderator_id <> assessor_id", name="moderator_not_assessor"),
        # One open case per candidate and credential; closed ones stay for the record.
        Index(
            "uq_cases_open_candidate_credential",
            "candidate_id",
            "credential_id",
            unique=True,
            sqlite_where=text("outcome IS NULL"),
            postgresql_where=text("outcome IS NULL"),
        ),
        Index("ix_cases_state", "state"),
        # An assessor's cases, and their open work (counted for every assignment choice).
        Index("ix_cases_assessor_outcome", "assessor_id", "outcome"),
        # The coordinator's queue: pages of cases oldest in their state first, or soonest due first, each
        # with or without one state (keyset pagination on (key, id)). Each also holds the columns the other
        # filters test (credential and sector, candidate, assessor): SQLite then passes over a case that a
        # filter leaves out without reading its row, which made the list with two filters three times faster.
        Index("ix_cases_age", "state_entered_at", "id", "credential_id", "candidate_id", "assessor_id"),
        # The figures: decisions of a period, per outcome and credential, read from the index alone.
        Index("ix_cases_closed", "closed_at", "outcome", "credential_id"),
        Index("ix_cases_state_age", "state", "state_entered_at", "id", "credential_id", "candidate_id", "assessor_id"),
        Index("ix_cases_due", "due_at", "id", "credential_id", "candidate_id", "assessor_id"),
        Index("ix_cases_state_due", "state", "due_at", "id", "credential_id", "candidate_id", "assessor_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    credential_id: Mapped[int] = mapped_column(ForeignKey("credentials.id"))
    workflow_key: Mapped[str] = mapped_column(String(40))
    workflow_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(40))
    # Both with their old value at hand when changed: the assessors' kept workloads follow them.
    outcome: Mapped[str | None] = mapped_column(String(20), active_history=True)
    assessor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), active_history=True)
    #: The second assessor moderating the current recommendation, while it is moderated.
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Decisions may be recorded now (the state allows a recommendation); kept in step by every transition
    #: so that the database itself refuses a decision outside review (see the trigger on outcome_decisions).
    decisions_open: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state_entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evidence_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submission_round: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    awarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    awarded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Touched by every change to the case or what hangs off it, so the lock version moves with it.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)

    candidate: Mapped[User] = relationship(foreign_keys=[candidate_id])
    assessor: Mapped[User | None] = relationship(foreign_keys=[assessor_id])
    credential: Mapped[Credential] = relationship()
    claims: Mapped[list[CaseClaim]] = relationship(
        back_populates="case", order_by="CaseClaim.position", cascade="all, delete-orphan"
    )

    # Optimistic locking: every flush that changes the row bumps the version and checks the old one.
    __mapper_args__ = {"version_id_col": lock_version}

    @property
    def is_open(self) -> bool:
        return self.outcome is None


class CaseClaim(Base):
    """A learning outcome the candidate claims in this case, with their own view of it."""

    __tablename__ = "case_claims"
    __table_args__ = (
        CheckConstraint(
            one_of("self_assessment", SELF_ASSESSMENT, nullable=True),
            name="self_assessment_known",
        ),
    )

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    outcome_id: Mapped[int] = mapped_column(ForeignKey("learning_outcomes.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    self_assessment: Mapped[str | None] = mapped_column(String(12))
    story: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="claims")
    outcome: Mapped[LearningOutcome] = relationship()


class CaseTransition(Base):
    """Each state change with its reason text, kept apart from the audit trail that holds no free text."""

    __tablename__ = "case_transitions"
    __table_args__ = (UniqueConstraint("case_id", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str] = mapped_column(String(40))
    to_state: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User] = relationship()
