"""Who may assess what: an assessor's qualifications (credentials or whole sectors) and the languages they read.

A coordinator assigning a case is offered the qualified assessors, the one with the least open work first; an
assignment to someone not qualified is refused with the reason. Qualifications are kept as rows, not a list
in a column, so that "who may assess this case" is one indexed query.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from validation.models.base import Base, UTCDateTime, utcnow


class AssessorQualification(Base):
    """One credential, or one whole sector, that an assessor may assess."""

    __tablename__ = "assessor_qualifications"
    __table_args__ = (
        CheckConstraint("(credential_id IS NULL) <> (sector IS NULL)", name="credential_or_sector"),
        Index("uq_assessor_qualifications_credential", "assessor_id", "credential_id", unique=True,
              sqlite_where=text("credential_id IS NOT NULL"), postgresql_where=text("credential_id IS NOT NULL")),
        Index("uq_assessor_qualifications_sector", "assessor_id", "sector", unique=True,
              sqlite_where=text("sector IS NOT NULL"), postgresql_where=text("sector IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("credentials.id"))
    sector: Mapped[str | None] = mapped_column(String(40))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class AssessorLanguage(Base):
    """A language an assessor reads well enough to judge evidence written in it."""

    __tablename__ = "assessor_languages"

    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    language: Mapped[str] = mapped_column(String(5), primary_key=True)


class CaseStateCount(Base):
    """How many cases of a credential are in each state, kept with every change of state.

    The queue page shows a count per state beside the list; counting 100,000 rows on every request would
    cost more than the list itself, so the counts are aggregates maintained in the transaction that moves a
    case (`services.queues.moved`), and `validation queues recount` rebuilds them from the cases."""

    __tablename__ = "case_state_counts"
    __table_args__ = (
        CheckConstraint("n >= 0", name="n_not_negative"),
        # The counts of all credentials, summed per state from this index alone and in its order: through the
        # key, SQLite sorted the 800 rows of 50 credentials into a temporary tree first (0.39 ms, now 0.16).
        Index("ix_case_state_counts_state", "state", "n"),
    )

    credential_id: Mapped[int] = mapped_column(ForeignKey("credentials.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(40), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class AssessorWorkload(Base):
    """How many open cases each assessor holds, kept with every change of a case's assessor or outcome.

    The case page labels each of two hundred assessors with their open work and suggests the least busy
    qualified one; counting their open cases among 100,000 on each view cost more than the rest of the page.
    A hook on every flush (`services.staffing`) adds the change to these rows in the same transaction, each
    by one statement, so two assignments at once add up; `validation queues recount` rebuilds them."""

    __tablename__ = "assessor_workloads"
    __table_args__ = (CheckConstraint("open_cases >= 0", name="open_cases_not_negative"),)

    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    open_cases: Mapped[int] = mapped_column(Integer, default=0)
