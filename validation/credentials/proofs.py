"""Signatures over credentials: Data Integrity proofs with the `eddsa-rdfc-2022` cryptosuite, and VC-JWTs.

Data Integrity (W3C vc-di-eddsa): the proof options (the proof without its value, under the document's
@context) and the document without its proof are each canonicalized (RDFC-1.0) and hashed with SHA-256;
the Ed25519 signature over the two hashes, proof options first, is the proofValue, base58btc multibase.
The Open Badges schema wants `proof` as a list, so the proof is written as a one-element list.

VC-JWT (VC-JOSE-COSE, as Open Badges 3.0 describes it): the credential is the JWT claims set, signed
EdDSA, with `kid` the verification method id and `iss`, `jti`, `nbf`, `exp` repeated from the credential.
There is no `sub`: the recipient is a salted hash, not an identifier.

Both sides are here so that a verifier runs the very code that signs. Signing refuses a document with a
member its contexts do not define (it would not be signed), and verification refuses one as well.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import base58
import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from validation.credentials import jsonld

CRYPTOSUITE = "eddsa-rdfc-2022"
KeyResolver = Callable[[str], Ed25519PublicKey | None]


class ProofError(ValueError):
    """Why a signature does not hold, in words for the verification page."""


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _hash_data(document: dict[str, Any], options: dict[str, Any]) -> bytes:
    """Raises jsonld.UndefinedMembers when the document has a member that the signature would not cover."""
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    config = {"@context": document["@context"], **options}
    proof_hash = hashlib.sha256(jsonld.canonical(config).encode("utf-8")).digest()
    document_hash = hashlib.sha256(jsonld.canonical_checked(unsigned).encode("utf-8")).digest()
    return proof_hash + document_hash


def sign(document: dict[str, Any], key: Ed25519PrivateKey, verification_method: str,
         created: datetime) -> dict[str, Any]:
    """The document with a Data Integrity proof (as a one-element list)."""
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": _iso(created),
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
    }
    try:
        signature = key.sign(_hash_data(document, options))
    except jsonld.UndefinedMembers as exc:
        raise ProofError(f"members not defined by the contexts, which a signature would not cover: {exc}") from exc
    signed = copy.deepcopy(document)
    signed["proof"] = [{**options, "proofValue": "z" + base58.b58encode(signature).decode("ascii")}]
    return signed


def verify(document: dict[str, Any], resolve: KeyResolver) -> str:
    """Check the document's Data Integrity proof; returns the verification method that signed it."""
    proofs = document.get("proof")
    proof = proofs[0] if isinstance(proofs, list) and len(proofs) == 1 else proofs
    if not isinstance(proof, dict):
        raise ProofError("The credential has no proof, or more than one.")
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError("The proof is not of a kind this verifier checks (eddsa-rdfc-2022).")
    if proof.get("proofPurpose") != "assertionMethod":
        raise ProofError("The proof is not made for asserting a credential.")
    method = str(proof.get("verificationMethod", ""))
    key = resolve(method)
    if key is None:
        raise ProofError("The key that signed the credential is not one of the issuer's keys.")
    value = str(proof.get("proofValue", ""))
    try:
        signature = base58.b58decode(value[1:]) if value.startswith("z") else b""
    except ValueError:
        signature = b""
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    try:
        key.verify(signature, _hash_data(document, options))
    except jsonld.UndefinedMembers as exc:
        raise ProofError("The credential has members that no context defines, which a signature does not cover.") \
            from exc
    except InvalidSignature as exc:
        raise ProofError("The signature does not match the credential: it was changed after signing.") from exc
    return method


def sign_jwt(document: dict[str, Any], key: Ed25519PrivateKey, verification_method: str) -> str:
    """The credential as a VC-JWT (its claims are the credential itself, with the registered claims)."""
    claims = {k: v for k, v in document.items() if k != "proof"}
    claims["iss"] = _issuer_id(document)
    claims["jti"] = document["id"]
    claims["nbf"] = int(datetime.fromisoformat(document["validFrom"].replace("Z", "+00:00")).timestamp())
    if document.get("validUntil"):
        claims["exp"] = int(datetime.fromisoformat(document["validUntil"].replace("Z", "+00:00")).timestamp())
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": verification_method, "typ": "JWT"})


def verify_jwt(token: str, resolve: KeyResolver) -> tuple[dict[str, Any], str]:
    """The credential inside a VC-JWT whose signature holds, and the verification method that signed it.
    Expiry is not checked here (the verifier reports it as such, not as a bad signature)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise ProofError("This is not a well-formed credential token.") from exc
    method = str(header.get("kid", ""))
    if header.get("alg") != "EdDSA":
        raise ProofError("The token is not signed with EdDSA.")
    key = resolve(method)
    if key is None:
        raise ProofError("The key that signed the credential is not one of the issuer's keys.")
    try:
        claims = jwt.decode(token, key, algorithms=["EdDSA"],
                            options={"verify_exp": False, "verify_nbf": False, "verify_aud": False})
    except jwt.InvalidSignatureError as exc:
        raise ProofError("The signature does not match the credential: it was changed after signing.") from exc
    except jwt.PyJWTError as exc:
        raise ProofError("This is not a well-formed credential token.") from exc
    if claims.get("iss") != _issuer_id(claims) or not method.startswith(f"{claims.get('iss')}#"):
        raise ProofError("The token's issuer and the key that signed it do not belong together.")
    document = {k: v for k, v in claims.items() if k not in ("iss", "jti", "nbf", "exp", "iat")}
    return document, method


def _issuer_id(document: dict[str, Any]) -> str:
    issuer = document.get("issuer")
    return str(issuer.get("id") if isinstance(issuer, dict) else issuer)
