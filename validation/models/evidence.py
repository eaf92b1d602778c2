"""Evidence: items a candidate offers, the stored files behind them and the outcomes each supports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from validation.models.base import Base, UTCDateTime, one_of, utcnow

ITEM_KINDS = ("file", "statement", "link", "attestation")


class Blob(Base):
    """Stored bytes, named by their SHA-256: the same file uploaded twice is kept once."""

    __tablename__ = "blobs"
    __table_args__ = (
        CheckConstraint("size > 0", name="size_positive"),
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
    )

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EvidenceItem(Base):
    """One piece of evidence. Frozen once submitted: a change is a new item, nothing is overwritten."""

    __tablename__ = "evidence_items"
    __table_args__ = (
        UniqueConstraint("id", "case_id"),
        CheckConstraint(one_of("kind", ITEM_KINDS), name="kind_known"),
        CheckConstraint(
            "kind <> 'file' OR (blob_sha256 IS NOT NULL AND media_type IS NOT NULL)", name="file_has_blob"
        ),
        CheckConstraint("kind <> 'statement' OR statement IS NOT NULL", name="statement_has_text"),
        CheckConstraint("kind <> 'link' OR url IS NOT NULL", name="link_has_url"),
        CheckConstraint("kind <> 'attestation' OR statement IS NOT NULL", name="attestation_has_text"),
        # A form's one-time token: the same form sent twice (a double click, a resend) makes one item.
        UniqueConstraint("case_id", "client_token"),
        CheckConstraint("submission_round >= 1", name="round_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    title: Mapped[str] = mapped_column(String(200))
    statement: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    blob_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    original_name: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str | None] = mapped_column(String(100))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The submission round the item belongs to; items of earlier rounds are frozen.
    submission_round: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    client_token: Mapped[str | None] = mapped_column(String(64))

    blob: Mapped[Blob | None] = relationship()
    links: Mapped[list[EvidenceLink]] = relationship(back_populates="item", cascade="all, delete-orphan")


class EvidenceLink(Base):
    """An item supports an outcome the case claims; the composite keys make a foreign outcome impossible."""

    __tablename__ = "evidence_links"
    __table_args__ = (
        ForeignKeyConstraint(["item_id", "case_id"], ["evidence_items.id", "evidence_items.case_id"]),
        ForeignKeyConstraint(["case_id", "outcome_id"], ["case_claims.case_id", "case_claims.outcome_id"]),
    )

    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outcome_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(Integer, index=True)

    item: Mapped[EvidenceItem] = relationship(back_populates="links")


UPLOAD_STATES = ("receiving", "complete", "refused", "cancelled")


class UploadSession(Base):
    """A resumable upload (tus): the bytes received so far live in a file of the store, this row says how many.

    Nothing is kept in process memory between requests, so any app process can take the next chunk; when
    the last byte arrives the file goes through the same checks as a form upload and becomes an item.
    """

    __tablename__ = "upload_sessions"
    __table_args__ = (
        CheckConstraint("length > 0", name="length_positive"),
        CheckConstraint("received >= 0 AND received <= length", name="received_within_length"),
        CheckConstraint(one_of("state", UPLOAD_STATES), name="state_known"),
        CheckConstraint("state <> 'complete' OR item_id IS NOT NULL", name="complete_has_item"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    length: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(12), default="receiving")
    original_name: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(200))
    outcome_ids: Mapped[list[int]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_items.id"))
    #: Why the finished file was refused, in English (translated when shown).
    refusal: Mapped[str | None] = mapped_column(Text)


REFEREE_ANSWERS = ("confirmed", "corrected", "declined")


class RefereeRequest(Base):
    """A candidate asks a referee (former employer, colleague) to confirm statements about their work.

    The referee answers through a link whose token (only its hash is kept) serves this one request and
    expires. Who the referee says they are is recorded as their own claim, not as a checked identity.
    A confirmed or corrected answer becomes an attestation item linked to the outcomes chosen here.
    """

    __tablename__ = "referee_requests"
    __table_args__ = (
        CheckConstraint(one_of("answer", REFEREE_ANSWERS, nullable=True), name="answer_known"),
        CheckConstraint("(answer IS NULL) = (answered_at IS NULL)", name="answered_iff_answer"),
        CheckConstraint("answer <> 'corrected' OR correction IS NOT NULL", name="correction_has_text"),
        CheckConstraint("answered_at IS NULL OR cancelled_at IS NULL", name="answered_or_cancelled"),
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    referee_name: Mapped[str] = mapped_column(String(120))
    referee_email: Mapped[str] = mapped_column(String(254))
    referee_language: Mapped[str] = mapped_column(String(5))
    relationship_to_candidate: Mapped[str] = mapped_column(String(200))
    #: What the candidate asks the referee to confirm, in the candidate's words.
    statement: Mapped[str] = mapped_column(Text)
    outcome_ids: Mapped[list[int]] = mapped_column(JSON)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(String(12))
    correction: Mapped[str | None] = mapped_column(Text)
    # The referee's identity as they state it when answering (claims, not verified facts).
    claimed_name: Mapped[str | None] = mapped_column(String(120))
    claimed_role: Mapped[str | None] = mapped_column(String(200))
    claimed_organisation: Mapped[str | None] = mapped_column(String(200))
    claimed_contact: Mapped[str | None] = mapped_column(String(254))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_items.id"), unique=True)
    #: Extra data about the answer (e.g. facts kept about the referee's browser); never personal data.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
