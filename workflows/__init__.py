"""Workflows as data: versioned YAML definitions, named guards and a shared-machine engine.

This package deliberately depends only on the standard library, ``transitions`` and ``yaml``:
the rules of validating prior learning must be testable and reviewable without a web app or a
database, and the services layer is the only place that translates cases into :class:`CaseFacts`.
"""

from .definition import (
    OUTCOMES,
    ROLES,
    STAGES,
    Definition,
    State,
    Transition,
    WorkflowError,
    load_definition,
    parse_definition,
)
from .diagram import mermaid
from .engine import (
    DEFINITIONS_DIR,
    GuardRefused,
    NotAllowed,
    ReasonRequired,
    Refused,
    Registry,
    RoleNotAllowed,
    UnknownWorkflow,
    default_registry,
)
from .guards import GUARDS, CaseFacts
from .messages import Message

__all__ = [
    "DEFINITIONS_DIR",
    "GUARDS",
    "OUTCOMES",
    "ROLES",
    "STAGES",
    "CaseFacts",
    "Definition",
    "GuardRefused",
    "Message",
    "NotAllowed",
    "ReasonRequired",
    "Refused",
    "Registry",
    "RoleNotAllowed",
    "State",
    "Transition",
    "UnknownWorkflow",
    "WorkflowError",
    "default_registry",
    "load_definition",
    "mermaid",
    "parse_definition",
]
