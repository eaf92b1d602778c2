"""The workflow engine: a registry of definitions and the one way to move a case.

Building a ``transitions.Machine`` is comparatively expensive and a case is just a row with a state
name, so there is one shared machine per (key, version), created with ``model=None``. Each call to
:meth:`Registry.fire` wraps the case's current state in a throwaway subject object and triggers the
event for that subject alone. Everything a call needs (the facts and the list collecting refusals)
travels in the event's keyword arguments, never on the machine, so concurrent requests cannot see
each other's data.

Checks happen in a fixed order so that the answer is the most useful one: an action that does not
exist, then one the person may not take, then one that does not fit the case's state, then a
missing reason, and only then the guards, whose refusal texts tell the person what to do next.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

from transitions import EventData, Machine, MachineError

from .definition import Definition, Transition, WorkflowError, load_definition, top_level_line
from .guards import GUARDS, CaseFacts
from .messages import Message

__all__ = [
    "DEFINITIONS_DIR",
    "GuardRefused",
    "NotAllowed",
    "ReasonRequired",
    "Refused",
    "Registry",
    "RoleNotAllowed",
    "UnknownWorkflow",
    "default_registry",
]

#: Where the workflow definitions that ship with the application live.
DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"

_FACTS = "facts"
_REFUSALS = "refusals"


class Refused(Exception):
    """A transition that may not happen.

    ``status`` is the HTTP status the web layer should answer with, ``reason`` a sentence that can
    be shown to the person as is, and ``trigger`` the action they attempted.
    """

    status: ClassVar[int] = 409

    def __init__(self, reason: str, trigger: str, messages: list[Message] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.trigger = trigger
        #: The sentences the reason is made of, each translatable on its own.
        self.messages: list[Message] = messages if messages is not None else (
            [reason] if isinstance(reason, Message) else [Message(reason.replace("%", "%%"))]
        )


class NotAllowed(Refused):
    """The action does not exist, or does not apply to the case in its current state."""

    status: ClassVar[int] = 409


class RoleNotAllowed(Refused):
    """The person's role may not take this action, whatever the state of the case."""

    status: ClassVar[int] = 403


class GuardRefused(Refused):
    """The action fits the state, but the case does not (yet) meet its conditions."""

    status: ClassVar[int] = 409


class ReasonRequired(Refused):
    """The action needs a written reason, because it sends a case back or ends it."""

    status: ClassVar[int] = 422


class UnknownWorkflow(KeyError):
    """No definition is registered under the requested key (and version).

    A ``KeyError`` so ``except LookupError``/``KeyError`` both work, with a readable ``str()``
    instead of ``KeyError``'s quoted repr.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _guard_condition(name: str) -> Any:
    """Wrap the named guard as a ``transitions`` condition.

    The wrapper records the refusal and still answers ``True``, so every guard of a transition is
    evaluated and the person learns about all missing pieces at once; the final
    :func:`_no_refusals` condition then decides.
    """
    guard = GUARDS[name]

    def condition(event: EventData) -> bool:
        refusal = guard(event.kwargs[_FACTS])
        if refusal is not None:
            event.kwargs[_REFUSALS].append(refusal)
        return True

    condition.__name__ = condition.__qualname__ = f"guard_{name}"
    return condition


def _no_refusals(event: EventData) -> bool:
    """The gate after all guards: the transition happens only if none of them objected."""
    return not event.kwargs[_REFUSALS]


def _build_machine(definition: Definition) -> Machine:
    transitions: list[dict[str, Any]] = []
    for transition in definition.transitions.values():
        conditions = [_guard_condition(name) for name in transition.guards]
        if conditions:
            conditions.append(_no_refusals)
        transitions.append(
            {
                "trigger": transition.trigger,
                "source": list(transition.sources),
                "dest": transition.dest,
                "conditions": conditions,
            }
        )
    return Machine(
        model=None,
        states=list(definition.states),
        transitions=transitions,
        initial=definition.initial,
        auto_transitions=False,
        send_event=True,
        name=f"{definition.key}@{definition.version}",
    )


def _roles_text(transition: Transition) -> str:
    # A plain comma list: a user interface can translate each role and join them its own way.
    return ", ".join(sorted(transition.roles))


class Registry:
    """All known workflow definitions, by key and version, with their shared machines.

    Old versions stay registered so that cases started under them finish under the rules they
    started with; :meth:`latest` is what new cases should use.
    """

    def __init__(self) -> None:
        self._definitions: dict[tuple[str, int], Definition] = {}
        self._machines: dict[tuple[str, int], Machine] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_directory(cls, path: str | Path) -> Registry:
        """Load every ``*.yaml`` file in ``path``.

        Two files claiming the same key and version are an error even if identical: one of them
        is certainly a copy that was meant to become a new version.
        """
        registry = cls()
        seen: dict[tuple[str, int], Definition] = {}
        for file in sorted(Path(path).glob("*.yaml")):
            definition = load_definition(file)
            ident = (definition.key, definition.version)
            if ident in seen:
                raise WorkflowError(
                    definition.origin,
                    top_level_line(definition, "version"),
                    f"workflow {definition.key!r} version {definition.version} is already defined in "
                    f"{seen[ident].origin}; give this file a new version",
                )
            seen[ident] = definition
            registry.add(definition)
        return registry

    def add(self, definition: Definition) -> None:
        """Register ``definition``; re-adding the same text is a no-op.

        Changing a definition without changing its version would silently alter the rules for
        every case already running under it, so that is refused.
        """
        ident = (definition.key, definition.version)
        with self._lock:
            known = self._definitions.get(ident)
            if known is not None:
                if known.digest == definition.digest:
                    return
                raise WorkflowError(
                    definition.origin,
                    top_level_line(definition, "version"),
                    f"workflow {definition.key!r} version {definition.version} (registered from "
                    f"{known.origin}) changed without a new version: bump the version",
                )
            machine = _build_machine(definition)
            self._definitions[ident] = definition
            self._machines[ident] = machine

    def get(self, key: str, version: int) -> Definition:
        """The definition of ``key`` at ``version``; :class:`UnknownWorkflow` if absent."""
        try:
            return self._definitions[(key, version)]
        except KeyError:
            known = sorted(v for k, v in self._definitions if k == key)
            detail = f"known versions: {', '.join(map(str, known))}" if known else "no such workflow"
            message = f"workflow {key!r} version {version} is not registered ({detail})"
            raise UnknownWorkflow(message) from None

    def latest(self, key: str) -> Definition:
        """The highest version of ``key``: what a newly started case should follow."""
        versions = [v for k, v in self._definitions if k == key]
        if not versions:
            known = ", ".join(self.keys()) or "none"
            raise UnknownWorkflow(f"workflow {key!r} is not registered (known: {known})")
        return self._definitions[(key, max(versions))]

    def definitions(self) -> list[Definition]:
        """Every version of every workflow, oldest first within each key."""
        return [self._definitions[ident] for ident in sorted(self._definitions)]

    def keys(self) -> list[str]:
        """The registered workflow keys, sorted."""
        return sorted({k for k, _ in self._definitions})

    def machine(self, key: str, version: int) -> Machine:
        """The shared machine for ``key`` at ``version``; always the same object."""
        self.get(key, version)
        return self._machines[(key, version)]

    def fire(
        self,
        key: str,
        version: int,
        facts: CaseFacts,
        trigger: str,
        role: str,
        reason: str | None = None,
    ) -> str:
        """Attempt ``trigger`` on a case described by ``facts`` and return the state it lands in.

        Nothing is persisted here: the caller stores the returned state together with the reason.
        Raises a :class:`Refused` subclass explaining, in words fit for the person, why not.
        """
        definition = self.get(key, version)
        current = definition.states.get(facts.state)
        state_label = current.label if current is not None else facts.state
        transition = definition.transitions.get(trigger)
        if transition is None:
            no_such = Message(
                "There is no action \u201c%(action)s\u201d here; the case is \u201c%(state)s\u201d.",
                action=trigger, state=state_label,
            )
            raise NotAllowed(no_such, trigger)
        if role not in transition.roles:
            raise RoleNotAllowed(
                Message("\u201c%(action)s\u201d can only be done by: %(roles)s.", action=transition.label,
                        roles=_roles_text(transition)),
                trigger,
            )
        not_now = Message(
            "\u201c%(action)s\u201d is not possible while the case is \u201c%(state)s\u201d.",
            action=transition.label, state=state_label,
        )
        if current is None or facts.state not in transition.sources:
            raise NotAllowed(not_now, trigger)
        if transition.reason_required and not (reason and reason.strip()):
            raise ReasonRequired(
                Message("\u201c%(action)s\u201d needs a reason: please explain why.", action=transition.label),
                trigger,
            )

        subject = SimpleNamespace(state=facts.state)
        refusals: list[Message] = []
        machine = self._machines[(key, version)]
        try:
            moved = machine.events[trigger].trigger(subject, **{_FACTS: facts, _REFUSALS: refusals})
        except MachineError:
            raise NotAllowed(not_now, trigger) from None
        if not moved:
            if not refusals:
                refusals = [Message("The conditions for \u201c%(action)s\u201d are not met.",
                                    action=transition.label)]
            raise GuardRefused(" ".join(refusals), trigger, refusals)
        return str(subject.state)


@functools.cache
def default_registry() -> Registry:
    """The registry of the definitions shipped in :data:`DEFINITIONS_DIR`, loaded once per process."""
    return Registry.from_directory(DEFINITIONS_DIR)
