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
