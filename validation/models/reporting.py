"""What the figures a centre reports are computed from, kept as cases move so no report re-reads history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from validation.models.base import Base, UTCDateTime


class CaseStateSpan(Base):
    """One stay of a case in one state: when it came and left, and how many whole hours it stayed.

    Written when the case leaves the state, in that transaction. "Days per stage" (median, 90th percentile)
    are read from these rows grouped by stage and hours, a few hundred numbers whatever the number of
    cases, instead of walking every case's transitions on each report."""

    __tablename__ = "case_state_spans"
    __table_args__ = (
        CheckConstraint("hours >= 0", name="hours_not_negative"),
        Index("ix_case_state_spans_left", "left_at"),
        Index("ix_case_state_spans_case", "case_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    credential_id: Mapped[int] = mapped_column(ForeignKey("credentials.id"))
    state: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(20))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime] = mapped_column(UTCDateTime)
    hours: Mapped[int] = mapped_column(Integer)


class StageTimeCount(Base):
    """How many stays in a stage ended in a month with a length in a given band of days, overall and per
    credential, per centre and per target group (one row set for each way of grouping, not their product).

    A stay in a stage runs from entering its first state to leaving for a state of another stage (a case sent
    back for more evidence and handed in again has two stays in assessment); it is counted when it ends, in
    that transaction. Lengths are exact up to 13 days and in bands beyond (see `services.reports.BANDS`), so a
    year of figures sums at most a few thousand rows however many cases there are."""

    __tablename__ = "stage_time_counts"
    __table_args__ = (
        CheckConstraint("n >= 0 AND days >= 0", name="counts_not_negative"),
        # The figures of a period per group, read from this index alone in the order they are summed (a
        # year per credential is some 16,000 rows: through the key, by month, they had to be sorted first).
        Index("ix_stage_time_counts_grouped", "grouping", "value", "stage", "days", "month", "n"),
    )

    #: The month the stays ended in, as YYYY-MM.
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    #: all, credential, centre or target_group
    grouping: Mapped[str] = mapped_column(String(20), primary_key=True)
    #: The group: a credential's or centre's id, a target group; "" for all and for "none said".
    value: Mapped[str] = mapped_column(String(20), primary_key=True)
    stage: Mapped[str] = mapped_column(String(20), primary_key=True)
    #: The first day of the band the stay's length falls in.
    days: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class DecisionCount(Base):
    """How many decisions of each outcome were made in a month, overall and per credential, centre and target
    group: the rates of the figures. A decision is counted when it is made (a case decided again after an
    upheld appeal counts in the month of each decision)."""

    __tablename__ = "decision_counts"
    __table_args__ = (CheckConstraint("n >= 0", name="n_not_negative"),)

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    grouping: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(20), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
