"""Registry behaviour: versions, immutability of published versions, shared machines, threads."""

from __future__ import annotations

import ast
import hashlib
import sys
import threading
from pathlib import Path

import pytest

import workflows
from workflows import (
    DEFINITIONS_DIR,
    CaseFacts,
    GuardRefused,
    Registry,
    UnknownWorkflow,
    WorkflowError,
    load_definition,
    parse_definition,
)

MINI = """\
key: mini
version: 1
title: Mini
initial: start
states:
  - {name: start, label: Start, stage: identification}
  - {name: done, label: Done, stage: certification, terminal: true, outcome: awarded}
transitions:
  - {trigger: finish, label: Finish, from: [start], to: done, roles: [coordinator]}
"""


def mini(version: int = 1, title: str = "Mini", origin: str = "mini.yaml") -> workflows.Definition:
    text = MINI.replace("version: 1", f"version: {version}").replace("title: Mini", f"title: {title}")
    return parse_definition(text, origin)


# --- definitions as values ------------------------------------------------------------------


def test_digest_is_sha256_of_source_text_and_origin_is_kept() -> None:
    definition = mini(origin="db:mini@1")
    assert definition.source_text == MINI
    assert definition.digest == hashlib.sha256(MINI.encode("utf-8")).hexdigest()
    assert definition.origin == "db:mini@1"


def test_definitions_compare_by_content_not_origin() -> None:
    assert mini(origin="a.yaml") == mini(origin="b.yaml")
    assert hash(mini(origin="a.yaml")) == hash(mini(origin="b.yaml"))
    assert mini() != mini(title="Other")
    assert mini() != mini(version=2)


def test_definition_mappings_are_read_only() -> None:
    definition = mini()
    with pytest.raises(TypeError):
        definition.states["x"] = definition.states["start"]  # type: ignore[index]
    with pytest.raises(TypeError):
        del definition.transitions["finish"]  # type: ignore[attr-defined]


# --- add / get / latest ---------------------------------------------------------------------


def test_re_adding_identical_text_is_accepted_silently() -> None:
    registry = Registry()
    first = mini(origin="one.yaml")
    registry.add(first)
    registry.add(mini(origin="two.yaml"))
    assert registry.get("mini", 1) is first


def test_changed_text_without_new_version_is_refused() -> None:
    registry = Registry()
    registry.add(mini())
    with pytest.raises(WorkflowError) as info:
        registry.add(mini(title="Mini, reworded", origin="edited.yaml"))
    message = str(info.value)
    assert "bump the version" in message
    assert message.startswith("edited.yaml:2: ")
    assert registry.get("mini", 1).title == "Mini"


def test_new_version_coexists_and_becomes_latest() -> None:
    registry = Registry()
    registry.add(mini(version=2, title="Mini two"))
    registry.add(mini(version=1))
    assert registry.latest("mini").version == 2
    assert registry.get("mini", 1).title == "Mini"
    assert registry.get("mini", 2).title == "Mini two"
    assert registry.keys() == ["mini"]


def test_keys_are_sorted_and_unique() -> None:
    registry = Registry()
    registry.add(parse_definition(MINI.replace("key: mini", "key: zeta"), "z.yaml"))
    registry.add(mini(version=1))
    registry.add(mini(version=2))
    assert registry.keys() == ["mini", "zeta"]


def test_get_unknown_is_a_clear_lookup_error() -> None:
    registry = Registry()
    registry.add(mini())
    with pytest.raises(LookupError) as info:
        registry.get("mini", 7)
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, UnknownWorkflow)
    assert str(info.value) == "workflow 'mini' version 7 is not registered (known versions: 1)"
    with pytest.raises(UnknownWorkflow, match="'nope'"):
        registry.get("nope", 1)
    with pytest.raises(UnknownWorkflow, match="'nope'"):
        registry.latest("nope")
    with pytest.raises(UnknownWorkflow):
        registry.fire("nope", 1, CaseFacts(state="start"), "finish", "coordinator")


# --- from_directory -------------------------------------------------------------------------


def test_from_directory_loads_every_yaml_file(tmp_path: Path) -> None:
    (tmp_path / "mini_v1.yaml").write_text(MINI, encoding="utf-8")
    (tmp_path / "mini_v2.yaml").write_text(MINI.replace("version: 1", "version: 2"), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a workflow", encoding="utf-8")
    registry = Registry.from_directory(tmp_path)
    assert registry.latest("mini").version == 2
    assert registry.get("mini", 1).origin == str(tmp_path / "mini_v1.yaml")


@pytest.mark.parametrize("second_title", ["Mini", "Mini copy"])
def test_from_directory_rejects_two_files_with_same_key_and_version(
    tmp_path: Path, second_title: str
) -> None:
    (tmp_path / "a.yaml").write_text(MINI, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(MINI.replace("title: Mini", f"title: {second_title}"), encoding="utf-8")
    with pytest.raises(WorkflowError) as info:
        Registry.from_directory(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'b.yaml'}:2: ")
    assert str(tmp_path / "a.yaml") in message


def test_from_directory_reports_the_broken_file(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(MINI, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(
        MINI.replace("roles: [coordinator]", "roles: [boss]"), encoding="utf-8"
    )
    with pytest.raises(WorkflowError, match=r"bad\.yaml:9: unknown role 'boss'"):
        Registry.from_directory(tmp_path)


def test_shipped_definitions_all_load() -> None:
    registry = Registry.from_directory(DEFINITIONS_DIR)
    assert registry.keys().count("standard") == 1
    for path in DEFINITIONS_DIR.glob("*.yaml"):
        definition = load_definition(path)
        assert registry.get(definition.key, definition.version).digest == definition.digest


# --- machines -------------------------------------------------------------------------------


def test_machine_is_shared_and_has_no_models() -> None:
    registry = Registry()
    registry.add(mini(version=1))
    registry.add(mini(version=2))
    machine = registry.machine("mini", 1)
    assert registry.machine("mini", 1) is machine
    assert registry.machine("mini", 2) is not machine
    assert registry.fire("mini", 1, CaseFacts(state="start"), "finish", "coordinator") == "done"
    assert registry.machine("mini", 1) is machine
    assert machine.models == []
    assert set(machine.events) == {"finish"}  # no auto "to_<state>" triggers
    assert machine.send_event is True


def test_machine_of_unknown_workflow_is_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        Registry().machine("mini", 1)


def test_concurrent_fire_on_the_shared_machine() -> None:
    registry = Registry.from_directory(DEFINITIONS_DIR)
    threads_count, rounds = 8, 300
    barrier = threading.Barrier(threads_count)
    failures: list[str] = []

    def work(index: int) -> None:
        own = f"T{index}"
        good = CaseFacts(state="draft", claimed_outcomes=(own,), evidence_by_outcome={own: 1})
        gap = CaseFacts(state="draft", claimed_outcomes=("LO1", own), evidence_by_outcome={"LO1": 1})
        partial = CaseFacts(
            state="recommended",
            claimed_outcomes=("LO1", own),
            decisions={"LO1": "met", own: "not_met"},
        )
        barrier.wait()
        for round_no in range(rounds):
            try:
                if (index + round_no) % 3 == 0:
                    result = registry.fire("standard", 1, good, "submit", "candidate")
                    if result != "submitted":
                        failures.append(f"{own}: submit landed in {result}")
                elif (index + round_no) % 3 == 1:
                    try:
                        registry.fire("standard", 1, gap, "submit", "candidate")
                    except GuardRefused as refused:
                        if refused.reason != f"Outcomes without evidence: {own}.":
                            failures.append(f"{own}: foreign refusal {refused.reason!r}")
                    else:
                        failures.append(f"{own}: submit with a gap was accepted")
                else:
                    result = registry.fire("standard", 1, partial, "award_partially", "coordinator")
                    if result != "partially_awarded":
                        failures.append(f"{own}: partial award landed in {result}")
            except Exception as exc:  # any surprise must be reported, not lost in a thread
                failures.append(f"{own}: {type(exc).__name__}: {exc}")

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # interleave threads as often as possible
    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        sys.setswitchinterval(previous)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert registry.machine("standard", 1).models == []


# --- layering -------------------------------------------------------------------------------

ALLOWED_IMPORTS = {"transitions", "yaml", "workflows", "__future__"}


def test_package_imports_only_stdlib_transitions_and_yaml() -> None:
    package = Path(workflows.__file__).parent
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    continue
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            for root in roots:
                assert root in ALLOWED_IMPORTS or root in sys.stdlib_module_names, (
                    f"{path.name} imports {root}"
                )
