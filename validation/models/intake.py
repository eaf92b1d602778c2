"""Intake: a candidate's answers to a centre's questionnaire, kept with the questionnaire's key and version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from validation.models.base import Base, UTCDateTime, utcnow


class IntakeResponse(Base):
    """One filled-in questionnaire. Answering again adds a row, so what was said before is never lost."""

    __tablename__ = "intake_responses"
    __table_args__ = (Index("ix_intake_responses_user_form", "user_id", "form_key", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    form_key: Mapped[str] = mapped_column(String(60))
    form_version: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(5))
    #: Question key -> answer (text, choice key, ISO date or true/false), as the form's validation left it.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
