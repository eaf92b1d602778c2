"""Babel extractors for texts that live outside Python and templates.

Workflow definitions are YAML data, and the pages show their texts translated by value
(``_(state.label)``, ``_(transition.label)``, ``_(definition.title)``). No Python source contains
those strings, so ``pybabel extract`` needs this extractor to put them into the catalog. It is
registered under the ``babel.extractors`` entry point as ``workflow_yaml`` and mapped to
``workflows/definitions/**.yaml`` in ``babel.cfg``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

#: What Babel expects an extractor to yield: (line number, function name, message, comments).
Extracted = tuple[int, str | None, str, list[str]]


def _scalar(mapping: MappingNode, key: str) -> ScalarNode | None:
    """The scalar value stored under ``key`` in a YAML mapping node, if there is one."""
    for key_node, value_node in mapping.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key and isinstance(value_node, ScalarNode):
            return value_node
    return None


def _entries(mapping: MappingNode, key: str) -> Iterator[MappingNode]:
    """The mapping items of the list stored under ``key`` (``states`` or ``transitions``)."""
    for key_node, value_node in mapping.value:
        if not (isinstance(key_node, ScalarNode) and key_node.value == key):
            continue
        if isinstance(value_node, SequenceNode):
            yield from (item for item in value_node.value if isinstance(item, MappingNode))


def _message(node: ScalarNode | None) -> Iterator[Extracted]:
    if node is not None and node.value.strip():
        # YAML marks count lines from 0, Babel from 1.
        yield node.start_mark.line + 1, None, node.value, []


def extract_workflow_yaml(
    fileobj: IO[bytes],
    keywords: Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[Extracted]:
    """Yield the title of a workflow definition and the label of each of its states and transitions.

    ``keywords`` and ``comment_tags`` are part of Babel's extractor interface but have no meaning for
    data files. A file that is not valid YAML, or not shaped like a definition, yields nothing: the
    workflow loader is the place that reports such mistakes, with their line numbers.
    """
    encoding = options.get("encoding", "utf-8")
    try:
        root: Node | None = yaml.compose(fileobj.read().decode(encoding), Loader=yaml.SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError):
        return
    if not isinstance(root, MappingNode):
        return
    yield from _message(_scalar(root, "title"))
    for section in ("states", "transitions"):
        for entry in _entries(root, section):
            yield from _message(_scalar(entry, "label"))
