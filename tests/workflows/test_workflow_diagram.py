"""The Mermaid rendering shows every state and every transition by its human label."""

from __future__ import annotations

from workflows import DEFINITIONS_DIR, Registry, mermaid, parse_definition


def test_standard_diagram_contains_every_state_and_transition() -> None:
    definition = Registry.from_directory(DEFINITIONS_DIR).get("standard", 1)
    text = mermaid(definition)
    assert text.startswith("stateDiagram-v2\n")
    lines = [line.strip() for line in text.splitlines()]
    for state in definition.states.values():
        assert f'state "{state.label}" as {state.name}' in lines
    for transition in definition.transitions.values():
        for source in transition.sources:
            edges = [line for line in lines if line.startswith(f"{source} --> {transition.dest}: ")]
            assert any(transition.label in edge for edge in edges), (source, transition.trigger)
    assert "[*] --> draft" in lines
    for terminal in ("awarded", "partially_awarded", "not_awarded", "withdrawn"):
        assert f"{terminal} --> [*]" in lines
    submit = (
        "draft --> submitted: Submit portfolio (candidate, if claims_outcomes and evidence_for_every_claim)"
    )
    assert submit in lines
    assert (
        "recommended --> not_awarded: Refuse award (coordinator, if every_claim_decided and no_claim_met, "
        "reason required)" in lines
    )


def test_labels_cannot_break_the_diagram_syntax() -> None:
    definition = parse_definition(
        """\
key: tricky
version: 1
title: Tricky
initial: start
states:
  - {name: start, label: 'Say "hi": now', stage: identification}
  - {name: done, label: Done; really, stage: certification, terminal: true, outcome: withdrawn}
transitions:
  - {trigger: go, label: 'Go: #1', from: [start], to: done, roles: [admin]}
""",
        "tricky.yaml",
    )
    text = mermaid(definition)
    assert 'state "Say #quot;hi#quot;#58; now" as start' in text
    assert 'state "Done#59; really" as done' in text
    assert "start --> done: Go#58; #35;1 (admin)" in text
    # the only raw colon on an edge line separates the edge from its label
    for line in text.splitlines():
        if "-->" in line and "[*]" not in line:
            assert line.count(":") == 1
