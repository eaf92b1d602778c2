"""Checking a credential as a stranger would: from the credential, the issuer's public keys and the status
list, nothing else. The same function serves the public page, the JSON endpoint and the command line;
what differs is only where keys and lists come from (`Resolvers`).

Each check is reported on its own, so a person sees which one failed: the form (a JSON-LD credential with
a proof, or a VC-JWT), the Open Badges schema, the signature, whether the signing key is the issuer's,
the status (revoked, suspended), and the validity period.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from validation.credentials import jsonld, proofs, statuslist

SCHEMA_FILE = Path(__file__).resolve().parent / "contexts" / "achievementcredential.json"


@dataclass(frozen=True)
class Resolvers:
    """Where a verifier finds the public key of a verification method and a status list by its URL."""

    key: Callable[[str], Ed25519PublicKey | None]
    status_list: Callable[[str], dict[str, Any] | None]


def N_(message: str) -> str:
    """Marks a message for translation; the page shows it in the reader's language."""
    return message


@dataclass
class Check:
    name: str  # form | schema | signature | issuer | status | validity
    ok: bool
    message: str  # a fixed sentence (translated by the page)
    detail: str = ""  # what exactly, in the credential's own terms (not translated)


@dataclass
class Verdict:
    checks: list[Check] = field(default_factory=list)
    credential: dict[str, Any] | None = None
    status: str = "unknown"  # valid | revoked | suspended | unknown

    @property
    def valid(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def as_json(self) -> dict[str, Any]:
        return {"valid": self.valid, "status": self.status,
                "checks": [{"check": c.name, "ok": c.ok, "message": c.message, "detail": c.detail}
                           for c in self.checks],
                "credential": self.credential}


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def schema_errors(document: dict[str, Any]) -> list[str]:
    """What the official Open Badges 3.0 JSON Schema says is wrong (empty when it validates)."""
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
            for e in _validator().iter_errors(document)]


def _parse(raw: str) -> tuple[str, Any]:
    text = raw.strip()
    if text.startswith("{"):
        try:
            return "jsonld", json.loads(text)
        except ValueError:
            return "bad", None
    if text.count(".") == 2 and " " not in text:
        return "jwt", text
    return "bad", None


def _issuer_id(document: dict[str, Any]) -> str:
    issuer = document.get("issuer")
    return str(issuer.get("id") if isinstance(issuer, dict) else issuer or "")


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def verify(raw: str, resolvers: Resolvers, now: datetime | None = None) -> Verdict:
    now = now or datetime.now(UTC)
    verdict = Verdict()
    kind, parsed = _parse(raw)
    if kind == "bad" or (kind == "jsonld" and not isinstance(parsed, dict)):
        verdict.checks.append(Check("form", False, N_("This is not a credential: neither signed JSON nor a token.")))
        return verdict
    try:
        if kind == "jwt":
            document, method = proofs.verify_jwt(parsed, resolvers.key)
        else:
            document, method = parsed, proofs.verify(parsed, resolvers.key)
    except (proofs.ProofError, jsonld.UnknownContext) as exc:
        verdict.checks.append(Check("signature", False, _reason(exc)))
        if kind == "jsonld":
            verdict.credential = parsed
        return verdict
    except Exception:  # a malformed document that the JSON-LD processor cannot read at all
        verdict.checks.append(Check("signature", False, N_("The credential cannot be read as JSON-LD.")))
        return verdict
    verdict.credential = document
    verdict.checks.append(Check("signature", True, N_("The signature holds: nothing was changed since signing.")))
    verdict.checks.append(_issuer_check(document, method))
    errors = schema_errors(document if kind == "jsonld" else {**document, "proof": [{"type": "JWT"}]})
    verdict.checks.append(Check("schema", not errors, N_("The credential has the form Open Badges 3.0 sets.")
                                if not errors else N_("The credential does not have the form Open Badges 3.0 sets."),
                                "; ".join(errors[:3])))
    verdict.checks.append(_status_check(document, resolvers, verdict))
    verdict.checks.append(_validity_check(document, now))
    return verdict


def _reason(exc: Exception) -> str:
    if isinstance(exc, jsonld.UnknownContext):
        return N_("The credential uses a vocabulary this verifier does not know.")
    return str(exc)


def _issuer_check(document: dict[str, Any], method: str) -> Check:
    issuer = _issuer_id(document)
    if issuer and method.startswith(f"{issuer}#"):
        return Check("issuer", True, N_("The key that signed it is one the issuer publishes."))
    return Check("issuer", False, N_("The key that signed it does not belong to the issuer named in it."))


def _status_check(document: dict[str, Any], resolvers: Resolvers, verdict: Verdict) -> Check:
    entry = document.get("credentialStatus")
    if not isinstance(entry, dict):
        verdict.status = "valid"
        return Check("status", True, N_("The credential has no status list: it cannot be revoked."))
    url = str(entry.get("statusListCredential", ""))
    listed = resolvers.status_list(url)
    if listed is None:
        return Check("status", False, N_("The issuer's status list cannot be found, so revocation cannot be checked."))
    try:
        proofs.verify(listed, resolvers.key)
        if listed.get("id") != url or "BitstringStatusListCredential" not in listed.get("type", []):
            raise ValueError("not the list the credential names")
        subject = listed["credentialSubject"]
        value = statuslist.status_at(subject["encodedList"], int(entry["statusListIndex"]),
                                     int(entry.get("statusSize", 1)))
    except (proofs.ProofError, KeyError, ValueError, TypeError, IndexError):
        return Check("status", False, N_("The issuer's status list is not valid, so revocation cannot be checked."))
    if value == statuslist.VALID:
        verdict.status = "valid"
        return Check("status", True, N_("Not revoked and not suspended."))
    verdict.status = "suspended" if value == statuslist.SUSPENDED else "revoked"
    return Check("status", False, N_("The issuer has suspended this credential.") if value == statuslist.SUSPENDED
                 else N_("The issuer has revoked this credential."))


def _validity_check(document: dict[str, Any], now: datetime) -> Check:
    start = _moment(document.get("validFrom"))
    end = _moment(document.get("validUntil")) if document.get("validUntil") else None
    if start is None:
        return Check("validity", False, N_("The credential does not say from when it is valid."))
    if start > now:
        return Check("validity", False, N_("The credential is not valid yet."))
    if end is not None and end <= now:
        return Check("validity", False, N_("The credential has expired."))
    return Check("validity", True, N_("Within its period of validity.") if end else N_("Valid with no end date."))
