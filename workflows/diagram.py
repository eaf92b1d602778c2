"""Mermaid state diagrams of workflow definitions, for documentation and the admin pages.

``transitions`` ships a Mermaid backend, but it must be attached to a model (our shared machines
have none), it prefixes the diagram with a front-matter title block, it labels edges with trigger
identifiers and guard names, and its plain ``State`` rejects a ``label``. Readers need the
human-facing labels, so the diagram is rendered straight from the definition instead; it needs no
extra package and the output is deterministic, which makes it easy to diff between versions.
"""

from __future__ import annotations

from .definition import Definition

__all__ = ["mermaid"]

_INDENT = "    "


_ENTITIES = str.maketrans({"#": "#35;", '"': "#quot;", ":": "#58;", ";": "#59;"})


def _escape(text: str) -> str:
    """Keep labels from breaking Mermaid syntax; Mermaid understands ``#...;`` entity codes."""
    return text.translate(_ENTITIES)


def mermaid(definition: Definition) -> str:
    """Return a ``stateDiagram-v2`` of ``definition``: every state by label, every transition by label.

    Transitions from several sources appear once per source, which is how Mermaid draws them;
    roles, guards and "reason required" are shown in the edge label because they are exactly what
    someone reviewing a workflow change needs to see.
    """
    lines = ["stateDiagram-v2", f"{_INDENT}%% {definition.title} ({definition.key} v{definition.version})"]
    for state in definition.states.values():
        lines.append(f'{_INDENT}state "{_escape(state.label)}" as {state.name}')
    lines.append(f"{_INDENT}[*] --> {definition.initial}")
    for transition in definition.transitions.values():
        details = [" or ".join(sorted(transition.roles))]
        if transition.guards:
            details.append("if " + " and ".join(transition.guards))
        if transition.reason_required:
            details.append("reason required")
        label = f"{_escape(transition.label)} ({_escape(', '.join(details))})"
        for source in transition.sources:
            lines.append(f"{_INDENT}{source} --> {transition.dest}: {label}")
    for state in definition.states.values():
        if state.terminal:
            lines.append(f"{_INDENT}{state.name} --> [*]")
    return "\n".join(lines) + "\n"
