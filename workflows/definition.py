"""Workflow definitions: the YAML format, its loader and its validator.

A workflow is data so that it can be read, reviewed and versioned by people who do not read Python,
and so that a case can keep following the exact version it was started under even after the file
has moved on (the text is stored with the case; see :func:`parse_definition`).

Because a broken definition would only show up when some candidate hits the broken path, the loader
is strict: every structural mistake is reported as ``<file>:<line>: <reason>`` pointing at the node
that is wrong, unknown keys are rejected rather than ignored (a typo such as ``gaurds`` must not
silently drop a guard), and the graph is checked for states that can never be reached or never left.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from .guards import GUARDS
from .yaml_lines import YamlMap as _Map
from .yaml_lines import YamlProblem as _Problem
from .yaml_lines import YamlSeq as _Seq
from .yaml_lines import check_keys as _shared_check_keys
from .yaml_lines import fail as _fail
from .yaml_lines import read_yaml as _read_yaml

__all__ = [
    "OUTCOMES",
    "ROLES",
    "STAGES",
    "Definition",
    "State",
    "Transition",
    "WorkflowError",
    "load_definition",
    "parse_definition",
]

ROLES = frozenset({"candidate", "assessor", "coordinator", "admin"})
STAGES = ("identification", "documentation", "assessment", "certification")
OUTCOMES = ("awarded", "partially_awarded", "not_awarded", "withdrawn")

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


class WorkflowError(Exception):
    """A workflow definition is invalid.

    The message always has the shape ``<file>:<line>: <reason>`` so editors and CI logs can jump
    straight to the offending line; the parts are also kept as attributes for programmatic use.
    """

    def __init__(self, origin: str, line: int, reason: str) -> None:
        super().__init__(f"{origin}:{line}: {reason}")
        self.origin = origin
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class State:
    """One state a case can be in.

    ``stage`` groups states into the four phases of validating prior learning, which is what
    candidates see; ``sla_days`` is how long a case may sit in the state before it counts as late.
    A state with an ``outcome`` is a decision: entering it closes the case with that outcome. A terminal
    state is one no transition leaves; a decision that is not terminal can still be appealed. A state
    that ``keeps_outcome`` leaves a decided case's outcome as it is (an appeal under way, an appeal
    dismissed); it can only be reached through a decision. ``evidence_open`` marks the states in which
    the candidate may add evidence; leaving such a state for one that is not freezes the portfolio.
    """

    name: str
    label: str
    stage: str
    sla_days: int | None
    terminal: bool
    outcome: str | None
    evidence_open: bool = False
    keeps_outcome: bool = False

    @property
    def closes(self) -> bool:
        """Entering this state leaves the case decided: a decision, or a state that keeps one."""
        return self.outcome is not None or self.keeps_outcome


@dataclass(frozen=True)
class Transition:
    """An action that moves a case from one of ``sources`` to ``dest``.

    ``roles`` says who may take it, ``guards`` names the facts that must hold (see
    :mod:`workflows.guards`), and ``reason_required`` marks actions that send a case back or end it,
    where the people affected deserve a written explanation.
    """

    trigger: str
    label: str
    sources: tuple[str, ...]
    dest: str
    roles: frozenset[str]
    guards: tuple[str, ...]
    reason_required: bool


@dataclass(frozen=True, eq=False)
class Definition:
    """A validated workflow, one version of one key.

    Equality and hashing use ``(key, version, digest)`` rather than the fields, because the
    mappings are read-only proxies (unhashable) and because two loads of the same text from
    different places are the same workflow.
    """

    key: str
    version: int
    title: str
    initial: str
    states: Mapping[str, State]
    transitions: Mapping[str, Transition]
    source_text: str
    origin: str
    digest: str

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Definition):
            return NotImplemented
        return (self.key, self.version, self.digest) == (other.key, other.version, other.digest)

    def __hash__(self) -> int:
        return hash((self.key, self.version, self.digest))

    def state(self, name: str) -> State:
        """Return the state called ``name``; a ``KeyError`` names the workflow to ease debugging."""
        try:
            return self.states[name]
        except KeyError:
            raise KeyError(f"workflow {self.key!r} version {self.version} has no state {name!r}") from None

    def triggers_from(self, state: str) -> list[Transition]:
        """Transitions that may start in ``state``, whoever takes them, in file order."""
        return [t for t in self.transitions.values() if state in t.sources]

    def available(self, state: str, role: str) -> list[Transition]:
        """Transitions that ``role`` may take from ``state``; guards are not evaluated here."""
        return [t for t in self.triggers_from(state) if role in t.roles]


# --------------------------------------------------------------------------------------------
# YAML with line numbers
# --------------------------------------------------------------------------------------------


# The YAML reader that keeps line numbers is shared with the other data files: workflows/yaml_lines.py.


# --------------------------------------------------------------------------------------------
# Typed access with precise errors
# --------------------------------------------------------------------------------------------

_TOP_KEYS = ("key", "version", "title", "initial", "states", "transitions")
_STATE_KEYS = ("name", "label", "stage", "sla_days", "terminal", "outcome", "evidence_open", "keeps_outcome")
_TRANSITION_KEYS = ("trigger", "label", "from", "to", "roles", "guards", "reason_required")


def _check_keys(m: _Map, allowed: tuple[str, ...], required: tuple[str, ...], where: str) -> None:
    _shared_check_keys(m, allowed, required, where, "key")


def _text(m: _Map, key: str, where: str) -> str:
    value = m[key]
    if not isinstance(value, str) or not value.strip():
        _fail(m.value_lines[key], f"{key!r} of {where} must be a non-empty text")
    if "\n" in value.strip():
        _fail(m.value_lines[key], f"{key!r} of {where} must fit on one line")
    return value.strip()


def _identifier(m: _Map, key: str, where: str) -> str:
    value = m[key]
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        _fail(
            m.value_lines[key],
            f"{key!r} of {where} must be lowercase letters, digits and underscores "
            f"starting with a letter, got {value!r}",
        )
    return value


def _positive_int(m: _Map, key: str, where: str) -> int:
    value = m[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        _fail(m.value_lines[key], f"{key!r} of {where} must be a positive whole number, got {value!r}")
    return value


def _flag(m: _Map, key: str, where: str) -> bool:
    value = m.get(key, False)
    if not isinstance(value, bool):
        _fail(m.value_lines[key], f"{key!r} of {where} must be true or false, got {value!r}")
    return value


def _word_list(m: _Map, key: str, where: str, *, allow_empty: bool = False) -> list[tuple[str, int]]:
    """A list of identifiers with the line of each, so a bad entry can be pointed at exactly."""
    if key not in m:
        return []
    value = m[key]
    if not isinstance(value, _Seq):
        _fail(m.value_lines[key], f"{key!r} of {where} must be a list, e.g. [a, b]")
    if not value and not allow_empty:
        _fail(m.value_lines[key], f"{key!r} of {where} must not be empty")
    items: list[tuple[str, int]] = []
    seen: set[str] = set()
    for item, line in zip(value, value.item_lines, strict=True):
        if not isinstance(item, str) or not _IDENTIFIER.match(item):
            _fail(line, f"{key!r} of {where} must list plain names, got {item!r}")
        if item in seen:
            _fail(line, f"{item!r} is listed twice in {key!r} of {where}")
        seen.add(item)
        items.append((item, line))
    return items


def _items(top: _Map, key: str) -> list[tuple[_Map, int]]:
    value = top[key]
    if not isinstance(value, _Seq) or not value:
        _fail(top.value_lines[key], f"{key!r} must be a non-empty list")
    items: list[tuple[_Map, int]] = []
    for item, line in zip(value, value.item_lines, strict=True):
        if not isinstance(item, _Map):
            _fail(line, f"each entry of {key!r} must be a mapping of keys to values")
        items.append((item, line))
    return items


# --------------------------------------------------------------------------------------------
# The validator
# --------------------------------------------------------------------------------------------


def _describe(m: _Map, kind: str, name_key: str, position: int) -> str:
    """Name an entry by its own name when it has a usable one, else by its position."""
    name = m.get(name_key)
    return f"{kind} {name!r}" if isinstance(name, str) and name else f"{kind} #{position}"


def _parse_state(m: _Map, line: int, position: int) -> State:
    where = _describe(m, "state", "name", position)
    _check_keys(m, _STATE_KEYS, ("name", "label", "stage"), where)
    name = _identifier(m, "name", where)
    where = f"state {name!r}"
    label = _text(m, "label", where)
    stage = m["stage"]
    if stage not in STAGES:
        expected = ", ".join(STAGES)
        _fail(m.value_lines["stage"], f"unknown stage {stage!r} for {where}; expected one of: {expected}")
    terminal = _flag(m, "terminal", where)
    sla_days: int | None = None
    if m.get("sla_days") is not None:
        if terminal:
            _fail(m.value_lines["sla_days"], f"terminal {where} cannot have sla_days: nothing is waiting")
        sla_days = _positive_int(m, "sla_days", where)
    outcome = m.get("outcome")
    keeps_outcome = _flag(m, "keeps_outcome", where)
    if outcome is not None and outcome not in OUTCOMES:
        expected = ", ".join(OUTCOMES)
        _fail(m.value_lines["outcome"], f"unknown outcome {outcome!r}; expected one of: {expected}")
    if outcome is not None and keeps_outcome:
        _fail(m.value_lines["keeps_outcome"], f"{where} has an outcome of its own; it cannot keep the earlier one")
    if terminal and outcome is None and not keeps_outcome:
        _fail(line, f"terminal {where} must have an 'outcome' ({', '.join(OUTCOMES)}) or 'keeps_outcome: true'")
    if outcome is not None and sla_days is not None:
        _fail(m.value_lines["sla_days"], f"decision {where} cannot have sla_days: nothing is waiting")
    evidence_open = _flag(m, "evidence_open", where)
    if evidence_open and (terminal or outcome is not None or keeps_outcome):
        _fail(m.value_lines["evidence_open"], f"{where} ends or follows a decision; it cannot be open for evidence")
    return State(name=name, label=label, stage=stage, sla_days=sla_days, terminal=terminal, outcome=outcome,
                 evidence_open=evidence_open, keeps_outcome=keeps_outcome)


def _parse_transition(m: _Map, position: int, states: Mapping[str, State]) -> Transition:
    where = _describe(m, "transition", "trigger", position)
    _check_keys(m, _TRANSITION_KEYS, ("trigger", "label", "from", "to", "roles"), where)
    trigger = _identifier(m, "trigger", where)
    where = f"transition {trigger!r}"
    label = _text(m, "label", where)
    sources = _word_list(m, "from", where)
    for source, line in sources:
        if source not in states:
            _fail(line, f"unknown state {source!r} in 'from' of {where}")
        if states[source].terminal:
            _fail(line, f"terminal state {source!r} cannot have outgoing transitions ({where})")
    dest = m["to"]
    if not isinstance(dest, str) or dest not in states:
        _fail(m.value_lines["to"], f"unknown state {dest!r} in 'to' of {where}")
    roles = _word_list(m, "roles", where)
    for role, line in roles:
        if role not in ROLES:
            _fail(line, f"unknown role {role!r} in {where}; expected one of: {', '.join(sorted(ROLES))}")
    guards = _word_list(m, "guards", where, allow_empty=True)
    for guard, line in guards:
        if guard not in GUARDS:
            hint = difflib.get_close_matches(guard, GUARDS, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else f"; known guards: {', '.join(GUARDS)}"
            _fail(line, f"unknown guard {guard!r} in {where}{extra}")
    return Transition(
        trigger=trigger,
        label=label,
        sources=tuple(name for name, _ in sources),
        dest=dest,
        roles=frozenset(name for name, _ in roles),
        guards=tuple(name for name, _ in guards),
        reason_required=_flag(m, "reason_required", where),
    )


def _reachable(start: str, edges: Mapping[str, set[str]]) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for nxt in edges.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _check_graph(
    initial: str,
    states: Mapping[str, State],
    state_lines: Mapping[str, int],
    transitions: Mapping[str, Transition],
) -> None:
    """Every state must be reachable, and every non-terminal state must lead to an end.

    A state nobody can reach is dead text that misleads readers; a state with no way to an
    ending would trap a candidate's case forever, which is worse than refusing to start.
    """
    forward: dict[str, set[str]] = {name: set() for name in states}
    backward: dict[str, set[str]] = {name: set() for name in states}
    for t in transitions.values():
        for source in t.sources:
            forward[source].add(t.dest)
            backward[t.dest].add(source)
    reachable = _reachable(initial, forward)
    for name in states:
        if name not in reachable:
            _fail(state_lines[name], f"state {name!r} is unreachable from the initial state {initial!r}")
    # A decision is an ending too: a decided case may rest there (an appeal is a choice, not a duty).
    can_finish: set[str] = set()
    for name, state in states.items():
        if state.terminal or state.outcome is not None:
            can_finish |= _reachable(name, backward)
    for name, state in states.items():
        if state.terminal:
            continue
        if not forward[name]:
            _fail(state_lines[name], f"dead end: non-terminal state {name!r} has no outgoing transitions")
        if name not in can_finish:
            _fail(state_lines[name], f"dead end: no terminal state can be reached from state {name!r}")
    # A state that keeps the outcome needs one to keep: no path may reach it without passing a decision.
    undecided = {name: {d for d in dests if states[d].outcome is None} for name, dests in forward.items()
                 if states[name].outcome is None}
    for name in _reachable(initial, undecided):
        if states[name].keeps_outcome:
            _fail(state_lines[name], f"state {name!r} keeps the outcome, but can be reached before any decision")


def _parse(text: str, origin: str) -> Definition:
    top = _read_yaml(text)
    if top is None:
        _fail(1, "the workflow definition is empty")
    if not isinstance(top, _Map):
        _fail(1, f"a workflow definition must be a mapping with the keys {', '.join(_TOP_KEYS)}")
    _check_keys(top, _TOP_KEYS, _TOP_KEYS, "the workflow")
    key = _identifier(top, "key", "the workflow")
    version = _positive_int(top, "version", "the workflow")
    title = _text(top, "title", "the workflow")

    states: dict[str, State] = {}
    state_lines: dict[str, int] = {}
    for position, (item, line) in enumerate(_items(top, "states"), start=1):
        state = _parse_state(item, line, position)
        if state.name in states:
            _fail(
                item.value_lines["name"],
                f"state {state.name!r} is defined twice (first on line {state_lines[state.name]})",
            )
        states[state.name] = state
        state_lines[state.name] = line

    initial = top["initial"]
    if not isinstance(initial, str):
        _fail(top.value_lines["initial"], "'initial' must name exactly one state")
    if initial not in states:
        _fail(top.value_lines["initial"], f"initial state {initial!r} is not one of the states")
    if states[initial].terminal:
        _fail(top.value_lines["initial"], f"initial state {initial!r} is terminal: cases would end at once")

    transitions: dict[str, Transition] = {}
    trigger_lines: dict[str, int] = {}
    for position, (item, _) in enumerate(_items(top, "transitions"), start=1):
        transition = _parse_transition(item, position, states)
        if transition.trigger in transitions:
            trigger, first = transition.trigger, trigger_lines[transition.trigger]
            _fail(item.value_lines["trigger"], f"duplicate trigger {trigger!r} (first on line {first})")
        transitions[transition.trigger] = transition
        trigger_lines[transition.trigger] = item.value_lines["trigger"]

    _check_graph(initial, states, state_lines, transitions)
    return Definition(
        key=key,
        version=version,
        title=title,
        initial=initial,
        states=MappingProxyType(states),
        transitions=MappingProxyType(transitions),
        source_text=text,
        origin=origin,
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def parse_definition(text: str, origin: str) -> Definition:
    """Parse and validate definition ``text``; ``origin`` names it in error messages.

    Exists separately from :func:`load_definition` because a case pins the exact text of the
    version it started under, and that text must stay usable after the file is edited or removed.
    """
    try:
        return _parse(text, origin)
    except _Problem as problem:
        raise WorkflowError(origin, problem.line, problem.reason) from None


def load_definition(path: str | Path) -> Definition:
    """Load and validate one definition file; errors name ``path`` and the offending line."""
    path = Path(path)
    return parse_definition(path.read_text(encoding="utf-8"), str(path))


def top_level_line(definition: Definition, key: str) -> int:
    """The line on which a top-level key of ``definition`` is written (1 if it cannot be found).

    Definitions do not carry positions, yet the registry wants to point at ``version:`` when two
    files claim the same version; re-reading the stored text is cheap and keeps the model clean.
    """
    try:
        top = _read_yaml(definition.source_text)
    except _Problem:
        return 1
    if isinstance(top, _Map) and key in top.key_lines:
        return top.key_lines[key]
    return 1
