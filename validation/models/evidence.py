"""Evidence: items a candidate offers, the stored files behind them and the outcomes each supports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
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
