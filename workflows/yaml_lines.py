"""YAML that remembers where each thing was written, so a data file's errors can name its line.

PyYAML discards positions once objects are built, so a safe loader builds containers that keep them; the
validators of workflow definitions and intake questionnaires then report the line of the exact node at
fault. Duplicate keys are an error here, since plain YAML would silently keep the last one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any, NoReturn

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode


class YamlProblem(Exception):
    """A fault at a line; the caller adds the file's name to make its own error."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def fail(line: int, reason: str) -> NoReturn:
    raise YamlProblem(line, reason)


class YamlMap(dict[str, Any]):
    """A YAML mapping that remembers where it, its keys and its values were written."""

    line: int
    key_lines: dict[str, int]
    value_lines: dict[str, int]


class YamlSeq(list[Any]):
    """A YAML sequence that remembers where it and each of its items were written."""

    line: int
    item_lines: list[int]


def line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def check_keys(m: YamlMap, allowed: tuple[str, ...], required: tuple[str, ...], where: str, word: str) -> None:
    """Unknown keys (with the closest known one as a hint) and missing required ones, at their lines.

    `word` is what the file's readers call a key ("key" in workflows, "field" in questionnaires)."""
    for key in m:
        if key not in allowed:
            hint = difflib.get_close_matches(key, allowed, n=1)
            suggestion = f"did you mean {hint[0]!r}?" if hint else f"expected one of: {', '.join(allowed)}"
            fail(m.key_lines[key], f"unknown {word} {key!r} in {where}; {suggestion}")
    for key in required:
        if key not in m:
            fail(m.line, f"{where} is missing the required {word} {key!r}")


class _LineLoader(yaml.SafeLoader):
    """A safe loader whose mappings and sequences record line numbers and refuse duplicate keys."""


def _construct_map(loader: _LineLoader, node: MappingNode) -> Iterator[YamlMap]:
    loader.flatten_mapping(node)
    data = YamlMap()
    data.line = line_of(node)
    data.key_lines = {}
    data.value_lines = {}
    yield data
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            fail(line_of(key_node), "field names must be plain words")
        key = loader.construct_object(key_node)
        if not isinstance(key, str):
            fail(line_of(key_node), f"field name {key!r} must be a word; write it in quotes")
        if key in data:
            fail(line_of(key_node), f"{key!r} appears twice (first on line {data.key_lines[key]})")
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = line_of(key_node)
        data.value_lines[key] = line_of(value_node)


def _construct_seq(loader: _LineLoader, node: SequenceNode) -> Iterator[YamlSeq]:
    data = YamlSeq()
    data.line = line_of(node)
    data.item_lines = []
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.item_lines.append(line_of(item))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def read_yaml(text: str) -> Any:
    """The document's data in YamlMap/YamlSeq containers; any fault raises YamlProblem with its line."""
    loader = _LineLoader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        fail(mark.line + 1 if mark is not None else 1, f"not valid YAML: {exc.problem or exc.context}")
    except yaml.YAMLError as exc:
        fail(1, f"not valid YAML: {exc}")
    finally:
        loader.dispose()
