"""All models, imported here so that metadata is complete wherever the package is imported."""

from validation.models.assessment import (
    ConflictDeclaration,
    EvidenceDoubt,
    EvidenceRequest,
    Interview,
    InterviewResult,
    OutcomeDecision,
)
from validation.models.audit import AuditEvent
from validation.models.awards import Award, AwardOutcome, CarriedOutcome, IssuedCredential, StatusList
from validation.models.base import Base, utcnow
from validation.models.cases import Case, CaseClaim, CaseTransition, WorkflowVersion
from validation.models.catalog import Credential, LearningOutcome
from validation.models.evidence import Blob, EvidenceItem, EvidenceLink, RefereeRequest, UploadSession
from validation.models.intake import IntakeResponse
from validation.models.mail import OutboundMessage
from validation.models.notifications import CaseNotice, Notification
from validation.models.people import AccessCode, CandidateProfile, Centre, ConsentRecord, User, UserSession
from validation.models.quality import Appeal, CredentialPolicy, Moderation, ModerationView
from validation.models.reporting import CaseStateSpan, DecisionCount, StageTimeCount
from validation.models.staffing import AssessorLanguage, AssessorQualification, AssessorWorkload, CaseStateCount
from validation.models.versions import ReferenceStamp

__all__ = [
    "AccessCode",
    "Appeal",
    "AssessorLanguage",
    "AssessorQualification",
    "AssessorWorkload",
    "AuditEvent",
    "Award",
    "AwardOutcome",
    "Base",
    "Blob",
    "CandidateProfile",
    "CarriedOutcome",
    "Case",
    "CaseClaim",
    "CaseNotice",
    "CaseStateCount",
    "CaseStateSpan",
    "CaseTransition",
    "Centre",
    "ConflictDeclaration",
    "ConsentRecord",
    "Credential",
    "CredentialPolicy",
    "DecisionCount",
    "EvidenceDoubt",
    "EvidenceItem",
    "EvidenceLink",
    "EvidenceRequest",
    "IntakeResponse",
    "Interview",
    "InterviewResult",
    "IssuedCredential",
    "LearningOutcome",
    "Moderation",
    "ModerationView",
    "Notification",
    "OutboundMessage",
    "OutcomeDecision",
    "RefereeRequest",
    "ReferenceStamp",
    "StageTimeCount",
    "StatusList",
    "UploadSession",
    "User",
    "UserSession",
    "WorkflowVersion",
    "utcnow",
]
