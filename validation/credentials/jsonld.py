"""JSON-LD for signing: the contexts a credential names come from files kept in this package, never from
the network (a verifier works offline, and a context fetched at run time could change what is signed).

`canonical()` is RDF Dataset Canonicalization (RDFC-1.0, the URDNA2015 algorithm) through PyLD.
`undefined_members()` lists the members of a document that its contexts do not define: JSON-LD drops
them silently, so they would not be covered by a signature. An issuer must never produce one and a
verifier refuses a credential that has one.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from pyld import jsonld

CONTEXTS = Path(__file__).resolve().parent / "contexts"
VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_EXTENSIONS = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
STATUS_V1 = "https://www.w3.org/ns/credentials/status/v1"


class UnknownContext(ValueError):
    """A document names a context that is not kept here: it cannot be processed offline."""


@cache
def _documents() -> dict[str, Any]:
    index = json.loads((CONTEXTS / "index.json").read_text(encoding="utf-8"))
    return {url: json.loads((CONTEXTS / name).read_text(encoding="utf-8")) for url, name in index.items()}


def _load(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    document = _documents().get(url)
    if document is None:
        raise jsonld.JsonLdError(f"context not kept locally: {url}", "jsonld.LoadDocumentError",
                                 code="loading remote context failed")
    return {"contextUrl": None, "documentUrl": url, "document": document}


_OPTIONS = {"documentLoader": _load, "base": None}


def contexts_known(document: dict[str, Any]) -> None:
    """Refuse, before processing, a document whose contexts are not all kept here."""
    names = document.get("@context")
    for name in names if isinstance(names, list) else [names]:
        if isinstance(name, str) and name not in _documents():
            raise UnknownContext(name)


def _normalize_expanded(expanded: Any) -> str:
    # An expanded document has no contexts left to process: normalizing it costs a fraction of the
    # compact form, and yields the same dataset.
    return str(jsonld.normalize(expanded, {**_OPTIONS, "algorithm": "URDNA2015", "format": "application/n-quads"}))


def canonical(document: dict[str, Any]) -> str:
    """The document as canonical N-Quads (RDFC-1.0)."""
    contexts_known(document)
    return _normalize_expanded(jsonld.expand(document, _OPTIONS))


class UndefinedMembers(ValueError):
    """The document has members its contexts do not define (their names are the argument)."""


def canonical_checked(document: dict[str, Any]) -> str:
    """Canonical N-Quads of a document every member of which is defined; else UndefinedMembers.
    One expansion serves both the check and the canonical form."""
    contexts_known(document)
    expanded = jsonld.expand(document, _OPTIONS)
    if _leaves(document) != _expanded_leaves(expanded):
        raise UndefinedMembers(sorted(_dropped(document)))
    return _normalize_expanded(expanded)


def _leaves(value: Any) -> int:
    """Scalar values in compact JSON (the @context left out)."""
    if isinstance(value, dict):
        return sum(_leaves(v) for k, v in value.items() if k != "@context")
    if isinstance(value, list):
        return sum(_leaves(v) for v in value)
    return 0 if value is None else 1


def _expanded_leaves(value: Any) -> int:
    """Scalar values in expanded JSON-LD: a value object counts once, a node its @id and each @type."""
    if isinstance(value, list):
        return sum(_expanded_leaves(v) for v in value)
    if not isinstance(value, dict):
        return 0
    if "@value" in value:
        return 1
    count = (1 if "@id" in value else 0) + len(value.get("@type", []))
    return count + sum(_expanded_leaves(v) for k, v in value.items() if not k.startswith("@"))


def undefined_members(document: dict[str, Any]) -> list[str]:
    """The names of members that expansion drops (empty when every member is defined)."""
    contexts_known(document)
    expanded = jsonld.expand(document, _OPTIONS)
    if _leaves(document) == _expanded_leaves(expanded):
        return []
    return sorted(_dropped(document))


def _dropped(document: dict[str, Any]) -> set[str]:
    """Which members are lost: each member is tried alone against the document's context."""
    lost: set[str] = set()
    context = document.get("@context")

    def walk(node: Any, path: str) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, path)
            return
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key.startswith("@") or key in ("id", "type"):
                continue
            probe: dict[str, Any] = {"@context": context, key: value}
            if "type" in node:
                probe["type"] = node["type"]
            if _leaves({key: value}) and not jsonld.expand(probe, _OPTIONS):
                lost.add(f"{path}{key}")
            walk(value, f"{path}{key}.")

    walk(document, "")
    return lost or {"(a member)"}
