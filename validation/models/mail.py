"""Outgoing e-mail, written in the same transaction as the change it tells about and sent afterwards."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from validation.models.base import Base, UTCDateTime, utcnow


class OutboundMessage(Base):
    """An e-mail in the outbox: rendered in the recipient's language when queued, sent by `validation tick`.

    Queuing inside the request's transaction means a message exists exactly when its change committed; a
    failed delivery is retried and never blocks the person who caused it.
    """

    __tablename__ = "outbound_messages"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint("sent_at IS NULL OR failed_at IS NULL", name="sent_or_failed"),
        Index("ix_outbound_messages_unsent", "sent_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(5))
    purpose: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Not tried again before this moment (None: at once); each failure doubles the wait, up to a cap.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Given up after MAIL_MAX_ATTEMPTS failures: kept, shown to administrators, sent again only when one
    #: of them asks for it.
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
