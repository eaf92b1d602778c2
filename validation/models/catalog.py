"""The catalog: micro-credentials and their learning outcomes, with texts per language.

A credential carries the 11 mandatory elements of the EU micro-credential standard (learner and date of
issue live on the award) and its optional ones: prerequisites, supervision and identity verification,
stackability and further information.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from validation.models.base import Base, one_of

LocalizedText = dict[str, str]

CREDENTIAL_STATUSES = ("draft", "published", "retired")
CREDIT_SYSTEMS = ("ECTS", "ECVET", "national")
PARTICIPATION = ("onsite", "online", "blended")
IDENTITY_VERIFICATION = (
    "unsupervised_no_check",
    "supervised_no_check",
    "supervised_online",
    "supervised_onsite",
)
OUTCOME_KINDS = ("knowledge", "skill", "responsibility_autonomy")


def localized(texts: LocalizedText | None, language: str, fallback: str = "en") -> str:
    """The text in the reader's language, else English, else any language there is."""
    if not texts:
        return ""
    return texts.get(language) or texts.get(fallback) or next(iter(texts.values()), "")


class Credential(Base):
    __tablename__ = "credentials"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint(one_of("status", CREDENTIAL_STATUSES), name="status_known"),
        CheckConstraint(one_of("credits_system", CREDIT_SYSTEMS), name="credit_system_known"),
        CheckConstraint(one_of("participation", PARTICIPATION), name="participation_known"),
        CheckConstraint(one_of("identity_verification", IDENTITY_VERIFICATION), name="identity_check_known"),
        CheckConstraint("eqf_level BETWEEN 1 AND 8", name="eqf_level_range"),
        CheckConstraint("credits_value > 0", name="credits_positive"),
        CheckConstraint("workload_hours > 0", name="workload_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(12), default="published")
    workflow_key: Mapped[str] = mapped_column(String(40), default="standard")
    title: Mapped[LocalizedText] = mapped_column(JSON)
    description: Mapped[LocalizedText] = mapped_column(JSON)
    sector: Mapped[str] = mapped_column(String(40), index=True)
    country: Mapped[str] = mapped_column(String(2))
    languages: Mapped[list[str]] = mapped_column(JSON)
    awarding_body_name: Mapped[str] = mapped_column(String(200))
    awarding_body_url: Mapped[str | None] = mapped_column(String(300))
    awarding_body_country: Mapped[str] = mapped_column(String(2))
    eqf_level: Mapped[int] = mapped_column(Integer)
    nqf_level: Mapped[str | None] = mapped_column(String(20))
    credits_value: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    credits_system: Mapped[str] = mapped_column(String(10))
    workload_hours: Mapped[int] = mapped_column(Integer)
    assessment_type: Mapped[LocalizedText] = mapped_column(JSON)
    participation: Mapped[str] = mapped_column(String(10))
    quality_assurance: Mapped[LocalizedText] = mapped_column(JSON)
    identity_verification: Mapped[str] = mapped_column(String(30))
    prerequisites: Mapped[LocalizedText | None] = mapped_column(JSON)
    stackability: Mapped[LocalizedText | None] = mapped_column(JSON)
    further_information: Mapped[LocalizedText | None] = mapped_column(JSON)
    evidence_guidance: Mapped[LocalizedText | None] = mapped_column(JSON)
    validity_years: Mapped[int | None] = mapped_column(Integer)
    source_digest: Mapped[str] = mapped_column(String(64))

    outcomes: Mapped[list[LearningOutcome]] = relationship(
        back_populates="credential", order_by="LearningOutcome.position", cascade="all, delete-orphan"
    )

    def text(self, field: str, language: str) -> str:
        return localized(getattr(self, field), language)


class LearningOutcome(Base):
    __tablename__ = "learning_outcomes"
    __table_args__ = (
        UniqueConstraint("credential_id", "code"),
        CheckConstraint(one_of("kind", OUTCOME_KINDS), name="kind_known"),
        CheckConstraint("credits >= 0", name="credits_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    credential_id: Mapped[int] = mapped_column(ForeignKey("credentials.id"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    credits: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    text: Mapped[LocalizedText] = mapped_column(JSON)
    # A list of {language: text} mappings, one per criterion, in order.
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    esco: Mapped[list[str]] = mapped_column(JSON, default=list)

    credential: Mapped[Credential] = relationship(back_populates="outcomes")

    def text_in(self, language: str) -> str:
        return localized(self.text, language)

    def criteria_in(self, language: str) -> list[str]:
        return [localized(c, language) for c in self.criteria]
