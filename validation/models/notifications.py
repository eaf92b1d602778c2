"""In-app notifications, and the notices that make the tick's reminders happen once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ColumnElement, ForeignKey, Index, String, UniqueConstraint, and_
from sqlalchemy.orm import Mapped, mapped_column

from validation.models.base import Base, UTCDateTime, one_of, utcnow

#: What a notification tells about; its sentence is chosen by kind (and its parameters) when it is shown.
NOTIFICATION_KINDS = (
    "assigned",
    "more_evidence",
    "decision",
    "appeal_lodged",
    "appeal_result",
    "deadline_near",
    "overdue",
    "draft_warning",
    "draft_expired",
    "reminder",
)
#: What the tick has done once for a case: a reminder, an overdue mark, a draft warning or its expiry.
NOTICE_KINDS = ("deadline_near", "overdue", "draft_warning", "draft_expired")


class Notification(Base):
    """One thing a person should know, shown on their notifications page until they mark it read.

    Only codes and ids are stored (`params`), never a rendered sentence: the page renders it in the language
    of whoever reads it, when they read it.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(one_of("kind", NOTIFICATION_KINDS), name="kind_known"),
        Index("ix_notifications_user_unread", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    #: Small facts for the sentence: an outcome code, a date (ISO), a result code.
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def unread_of(user_id: Any) -> ColumnElement[bool]:
    """The notifications of a person (an id, a bound value or a column) not yet read: what the navigation counts
    and "mark all read" marks, served by the index on (user_id, read_at)."""
    return and_(Notification.user_id == user_id, Notification.read_at.is_(None))


class CaseNotice(Base):
    """A notice the tick gave for a case: one row per (case, kind, anchor), so it is given once.

    `anchor_at` is the moment the notice is about: the case's entry into its state for a deadline reminder or
    an overdue mark, the case's last change for a draft warning (and for the expiry that follows it). Any
    number of ticks on any number of machines may try to give the same notice; the unique constraint lets
    exactly one of them commit it. A case is overdue in its current state when it has an "overdue" notice
    anchored at its `state_entered_at`: marking it so does not touch the case row, whose version would
    otherwise change under the people who have its page open.
    """

    __tablename__ = "case_notices"
    __table_args__ = (
        UniqueConstraint("case_id", "kind", "anchor_at"),
        CheckConstraint(one_of("kind", NOTICE_KINDS), name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(20))
    anchor_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
