"""The loader rejects broken definitions with ``<file>:<line>: <reason>`` pointing at the culprit.

Each case starts from a small valid workflow, breaks exactly one thing, and locates the expected
line by searching the broken text, so the tests do not depend on how the validator walks the YAML.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workflows import WorkflowError, load_definition, parse_definition

VALID = """\
key: mini
version: 1
title: Mini
initial: start
states:
  - name: start
    label: Start
    stage: identification
    sla_days: 10
  - name: review
    label: Review
    stage: assessment
  - name: done
    label: Done
    stage: certification
    terminal: true
    outcome: awarded
transitions:
  - trigger: send
    label: Send
    from: [start]
    to: review
    roles: [candidate]
    guards: [claims_outcomes]
  - trigger: finish
    label: Finish
    from: [review]
    to: done
    roles: [coordinator]
    reason_required: true
"""

EXTRA_STATE = """\
  - name: {name}
    label: {label}
    stage: assessment
"""

EXTRA_TRANSITION = """\
  - trigger: {trigger}
    label: {label}
    from: [{source}]
    to: {dest}
    roles: [coordinator]
"""


def add_state(text: str, name: str) -> str:
    return text.replace(
        "transitions:\n", EXTRA_STATE.format(name=name, label=name.title()) + "transitions:\n"
    )


def add_transition(text: str, trigger: str, source: str, dest: str) -> str:
    return text + EXTRA_TRANSITION.format(trigger=trigger, label=trigger.title(), source=source, dest=dest)


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based number of the ``nth`` line containing ``needle``."""
    hits = [number for number, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) >= nth, f"{needle!r} occurs {len(hits)} times"
    return hits[nth - 1]


def broken(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def assert_error(tmp_path: Path, text: str, needle: str, *words: str, nth: int = 1) -> WorkflowError:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WorkflowError) as info:
        load_definition(path)
    error = info.value
    line = line_of(text, needle, nth)
    assert str(error).startswith(f"{path}:{line}: "), str(error)
    assert (error.origin, error.line) == (str(path), line)
    for word in words:
        assert word in error.reason, (word, error.reason)
    return error


def test_valid_base_loads(tmp_path: Path) -> None:
    path = tmp_path / "mini.yaml"
    path.write_text(VALID, encoding="utf-8")
    definition = load_definition(path)
    assert (definition.key, definition.version, definition.initial) == ("mini", 1, "start")
    assert list(definition.states) == ["start", "review", "done"]
    assert definition.states["start"].sla_days == 10
    assert definition.states["review"].sla_days is None
    assert definition.transitions["send"].guards == ("claims_outcomes",)
    assert definition.transitions["send"].reason_required is False
    assert definition.transitions["finish"].guards == ()
    assert definition.transitions["finish"].reason_required is True


# --- required keys and types ----------------------------------------------------------------


def test_missing_top_level_key(tmp_path: Path) -> None:
    assert_error(tmp_path, broken(VALID, "title: Mini\n", ""), "key: mini", "'title'", "missing")


def test_missing_state_key(tmp_path: Path) -> None:
    text = broken(VALID, "    label: Review\n", "")
    assert_error(tmp_path, text, "- name: review", "'label'", "missing", "review")


def test_missing_transition_key(tmp_path: Path) -> None:
    text = broken(VALID, "    roles: [coordinator]\n", "")
    assert_error(tmp_path, text, "- trigger: finish", "'roles'", "missing")


@pytest.mark.parametrize("value", ["one", "0", "-2", "true", "1.5"])
def test_version_must_be_positive_int(tmp_path: Path, value: str) -> None:
    text = broken(VALID, "version: 1", f"version: {value}")
    assert_error(tmp_path, text, f"version: {value}", "positive whole number")


@pytest.mark.parametrize("value", ["Mini", "mini-flow", "1mini", "'mini flow'"])
def test_key_must_be_lowercase_identifier(tmp_path: Path, value: str) -> None:
    assert_error(tmp_path, broken(VALID, "key: mini", f"key: {value}"), f"key: {value}", "'key'")


def test_title_must_be_text(tmp_path: Path) -> None:
    assert_error(tmp_path, broken(VALID, "title: Mini", "title: [a, b]"), "title: [a, b]", "'title'", "text")


def test_flag_must_be_boolean(tmp_path: Path) -> None:
    text = broken(VALID, "reason_required: true", "reason_required: always")
    assert_error(tmp_path, text, "reason_required: always", "true or false")


def test_sla_days_must_be_positive(tmp_path: Path) -> None:
    assert_error(tmp_path, broken(VALID, "sla_days: 10", "sla_days: -3"), "sla_days: -3", "positive")


def test_from_must_be_a_list(tmp_path: Path) -> None:
    assert_error(tmp_path, broken(VALID, "from: [start]", "from: start"), "from: start", "must be a list")


def test_roles_must_not_be_empty(tmp_path: Path) -> None:
    text = broken(VALID, "roles: [candidate]", "roles: []")
    assert_error(tmp_path, text, "roles: []", "must not be empty")


def test_states_must_be_a_non_empty_list(tmp_path: Path) -> None:
    text = VALID.split("states:\n")[0] + "states: []\ntransitions: []\n"
    assert_error(tmp_path, text, "states: []", "non-empty list")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing here\n", encoding="utf-8")
    with pytest.raises(WorkflowError, match=r"empty\.yaml:1: .*empty"):
        load_definition(path)


def test_document_must_be_a_mapping(tmp_path: Path) -> None:
    assert_error(tmp_path, "- just\n- a list\n", "- just", "mapping")


# --- unknown keys ---------------------------------------------------------------------------


def test_unknown_top_level_key(tmp_path: Path) -> None:
    text = broken(VALID, "title: Mini\n", "title: Mini\ndescripton: typo\n")
    assert_error(tmp_path, text, "descripton:", "unknown key 'descripton'")


def test_unknown_state_key(tmp_path: Path) -> None:
    text = broken(VALID, "    sla_days: 10", "    sla_day: 10")
    assert_error(tmp_path, text, "sla_day: 10", "unknown key 'sla_day'", "did you mean 'sla_days'")


def test_unknown_transition_key_typo_is_not_silently_ignored(tmp_path: Path) -> None:
    text = broken(VALID, "    guards: [claims_outcomes]", "    gaurds: [claims_outcomes]")
    assert_error(tmp_path, text, "gaurds:", "unknown key 'gaurds'", "did you mean 'guards'")


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = broken(VALID, "title: Mini\n", "title: Mini\ntitle: Other\n")
    assert_error(tmp_path, text, "title: Other", "appears twice")


# --- initial state --------------------------------------------------------------------------


def test_initial_state_must_exist(tmp_path: Path) -> None:
    assert_error(tmp_path, broken(VALID, "initial: start", "initial: begin"), "initial: begin", "'begin'")


def test_initial_must_be_exactly_one_state(tmp_path: Path) -> None:
    text = broken(VALID, "initial: start", "initial: [start, review]")
    assert_error(tmp_path, text, "initial: [start, review]", "exactly one state")


def test_initial_state_must_not_be_terminal(tmp_path: Path) -> None:
    assert_error(tmp_path, broken(VALID, "initial: start", "initial: done"), "initial: done", "terminal")


# --- references -----------------------------------------------------------------------------


def test_unknown_source_state(tmp_path: Path) -> None:
    text = broken(VALID, "from: [review]", "from: [review,\n      limbo]")
    assert_error(tmp_path, text, "limbo]", "unknown state 'limbo'", "'finish'")


def test_unknown_destination_state(tmp_path: Path) -> None:
    text = broken(VALID, "to: done", "to: nowhere")
    assert_error(tmp_path, text, "to: nowhere", "unknown state 'nowhere'")


def test_unknown_guard(tmp_path: Path) -> None:
    text = broken(
        VALID, "    guards: [claims_outcomes]", "    guards:\n      - claims_outcomes\n      - has_cookies"
    )
    assert_error(tmp_path, text, "- has_cookies", "unknown guard 'has_cookies'")


def test_misspelled_guard_gets_a_suggestion(tmp_path: Path) -> None:
    text = broken(VALID, "guards: [claims_outcomes]", "guards: [claims_outcome]")
    assert_error(tmp_path, text, "claims_outcome]", "did you mean 'claims_outcomes'")


def test_unknown_role(tmp_path: Path) -> None:
    text = broken(VALID, "roles: [coordinator]", "roles:\n      - coordinator\n      - janitor")
    assert_error(tmp_path, text, "- janitor", "unknown role 'janitor'")


def test_unknown_stage(tmp_path: Path) -> None:
    text = broken(VALID, "stage: assessment", "stage: judging")
    assert_error(tmp_path, text, "stage: judging", "unknown stage 'judging'")


def test_unknown_outcome(tmp_path: Path) -> None:
    text = broken(VALID, "outcome: awarded", "outcome: celebrated")
    assert_error(tmp_path, text, "outcome: celebrated", "unknown outcome")


def test_duplicate_trigger(tmp_path: Path) -> None:
    text = broken(VALID, "trigger: finish", "trigger: send")
    assert_error(tmp_path, text, "trigger: send", "duplicate trigger 'send'", nth=2)


def test_duplicate_state(tmp_path: Path) -> None:
    text = add_state(VALID, "review")
    assert_error(tmp_path, text, "- name: review", "defined twice", nth=2)


def test_same_source_listed_twice(tmp_path: Path) -> None:
    text = broken(VALID, "from: [start]", "from: [start, start]")
    assert_error(tmp_path, text, "from: [start, start]", "listed twice")


# --- graph ----------------------------------------------------------------------------------


def test_terminal_state_with_outgoing_transition(tmp_path: Path) -> None:
    text = add_transition(VALID, "reopen", "done", "review")
    assert_error(tmp_path, text, "from: [done]", "terminal state 'done'", "outgoing")


def test_terminal_state_needs_outcome(tmp_path: Path) -> None:
    text = broken(VALID, "    outcome: awarded\n", "")
    assert_error(tmp_path, text, "- name: done", "must have an 'outcome'")


def test_a_decision_that_is_not_terminal_can_be_appealed(tmp_path: Path) -> None:
    """A state with an outcome but no `terminal` is a decision a transition may leave (an appeal)."""
    text = broken(VALID, "    terminal: true\n    outcome: awarded\n", "    outcome: awarded\n")
    text = add_transition(add_state(text, "appealed"), "appeal", "done", "appealed")
    text = broken(text, "    label: Appealed\n    stage: assessment\n",
                  "    label: Appealed\n    stage: assessment\n    keeps_outcome: true\n")
    text = add_transition(text, "decide_again", "appealed", "done")
    path = tmp_path / "ok.yaml"
    path.write_text(text, encoding="utf-8")
    definition = load_definition(path)
    assert definition.state("done").outcome == "awarded" and not definition.state("done").terminal
    assert definition.state("appealed").keeps_outcome and definition.state("appealed").closes


def test_keeping_an_outcome_before_any_decision_is_refused(tmp_path: Path) -> None:
    text = broken(VALID, "    label: Review\n    stage: assessment\n",
                  "    label: Review\n    stage: assessment\n    keeps_outcome: true\n")
    assert_error(tmp_path, text, "- name: review", "keeps the outcome", "before any decision")


def test_a_terminal_state_needs_an_outcome_or_keeps_one(tmp_path: Path) -> None:
    text = broken(VALID, "    terminal: true\n    outcome: awarded\n", "    terminal: true\n")
    assert_error(tmp_path, text, "- name: done", "must have an 'outcome'", "keeps_outcome")


def test_an_outcome_of_its_own_and_a_kept_one_exclude_each_other(tmp_path: Path) -> None:
    text = broken(VALID, "    outcome: awarded\n", "    outcome: awarded\n    keeps_outcome: true\n")
    assert_error(tmp_path, text, "keeps_outcome: true", "cannot keep the earlier one")


def test_terminal_state_cannot_have_sla(tmp_path: Path) -> None:
    text = broken(VALID, "    outcome: awarded\n", "    outcome: awarded\n    sla_days: 3\n")
    assert_error(tmp_path, text, "sla_days: 3", "terminal")


def test_dead_end_state(tmp_path: Path) -> None:
    text = add_transition(add_state(VALID, "parked"), "park", "review", "parked")
    assert_error(tmp_path, text, "- name: parked", "dead end", "'parked'")


def test_cycle_without_way_out_is_a_dead_end(tmp_path: Path) -> None:
    text = add_state(add_state(VALID, "loop_a"), "loop_b")
    text = add_transition(text, "enter_loop", "review", "loop_a")
    text = add_transition(text, "go_b", "loop_a", "loop_b")
    text = add_transition(text, "go_a", "loop_b", "loop_a")
    assert_error(tmp_path, text, "- name: loop_a", "dead end", "no terminal state")


def test_unreachable_state(tmp_path: Path) -> None:
    text = add_transition(add_state(VALID, "orphan"), "adopt", "orphan", "review")
    assert_error(tmp_path, text, "- name: orphan", "unreachable", "'orphan'")


def test_unreachable_terminal_state(tmp_path: Path) -> None:
    text = VALID.replace(
        "transitions:\n",
        "  - {name: lost, label: Lost, stage: certification,\n"
        "     terminal: true, outcome: withdrawn}\ntransitions:\n",
    )
    assert_error(tmp_path, text, "- {name: lost", "unreachable")


# --- YAML itself and flow style --------------------------------------------------------------


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    text = broken(VALID, "title: Mini\n", "title: Mini\n\tinitial: start\n")
    assert_error(tmp_path, text, "\tinitial", "not valid YAML")


def test_flow_style_state_reports_its_own_line(tmp_path: Path) -> None:
    text = VALID.replace(
        "  - name: review\n    label: Review\n    stage: assessment\n",
        "  - {name: review, label: Review, stage: assessment}\n",
    ).replace("outcome: awarded\n", "outcome: awarded\n  - {name: extra, label: Extra, stage: vetting}\n")
    assert_error(tmp_path, text, "stage: vetting", "unknown stage 'vetting'")


def test_parse_definition_uses_given_origin() -> None:
    with pytest.raises(WorkflowError) as info:
        parse_definition(broken(VALID, "to: done", "to: nowhere"), "db:mini@1")
    assert str(info.value).startswith(f"db:mini@1:{line_of(VALID, 'to: done')}: ")
