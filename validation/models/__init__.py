"""All models, imported here so that metadata is complete wherever the package is imported."""

from validation.models.assessment import OutcomeDecision
from validation.models.audit import AuditEvent
from validation.models.awards import Award, AwardOutcome
from validation.models.base import Base, utcnow
from validation.models.cases import Case, CaseClaim, CaseTransition, WorkflowVersion
from validation.models.catalog import Credential, LearningOutcome
from validation.models.evidence import Blob, EvidenceItem, EvidenceLink
from validation.models.people import CandidateProfile, Centre, ConsentRecord, User, UserSession

__all__ = [
    "AuditEvent",
    "Award",
    "AwardOutcome",
    "Base",
    "Blob",
    "CandidateProfile",
    "Case",
    "CaseClaim",
    "CaseTransition",
    "Centre",
    "ConsentRecord",
    "Credential",
    "EvidenceItem",
    "EvidenceLink",
    "LearningOutcome",
    "OutcomeDecision",
    "User",
    "UserSession",
    "WorkflowVersion",
    "utcnow",
]
