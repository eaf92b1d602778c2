"""The issuer's Ed25519 keys, kept as files in the instance folder.

Each key is a PEM file readable by its owner only (mode 0600) named by its key id; `keys.json` says which
key signs now. Rotation adds a key and makes it the one that signs; the earlier keys stay, so that every
credential signed before still verifies against the published keys. A key is never deleted here.

Public keys are published two ways, both named by the same verification method id
(`<issuer id>#<key id>`): as Multikey (`publicKeyMultibase`) for Data Integrity proofs and as JWK (OKP,
Ed25519) in a JWKS for VC-JWTs.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import base58
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

#: The multicodec prefix of an Ed25519 public key (0xed, as an unsigned varint).
_ED25519_PUB = b"\xed\x01"


def multibase_public(key: Ed25519PublicKey) -> str:
    """The key as Multikey's publicKeyMultibase: 'z' (base58btc) over the multicodec-prefixed bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + base58.b58encode(_ED25519_PUB + raw).decode("ascii")


def public_from_multibase(value: str) -> Ed25519PublicKey:
    if not value.startswith("z"):
        raise ValueError("not a base58btc multibase value")
    raw = base58.b58decode(value[1:])
    if raw[:2] != _ED25519_PUB or len(raw) != 34:
        raise ValueError("not an Ed25519 public key")
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk(key: Ed25519PublicKey, kid: str) -> dict[str, str]:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": kid, "alg": "EdDSA", "use": "sig"}


def public_from_jwk(value: dict[str, str]) -> Ed25519PublicKey:
    if value.get("kty") != "OKP" or value.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 key")
    padded = value["x"] + "=" * (-len(value["x"]) % 4)
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(padded))


@dataclass(frozen=True)
class Key:
    kid: str  # e.g. key-20261201-3f9a
    created: str  # ISO 8601
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()


class KeyRing:
    """The keys in one folder; `ensure()` makes the first key when there is none."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    @property
    def _index(self) -> Path:
        return self.folder / "keys.json"

    def _read_index(self) -> dict[str, object]:
        if not self._index.exists():
            return {"current": None, "keys": []}
        return dict(json.loads(self._index.read_text(encoding="utf-8")))

    def _write_index(self, index: dict[str, object]) -> None:
        temporary = self._index.with_suffix(".tmp")
        temporary.write_text(json.dumps(index, indent=2), encoding="utf-8")
        os.replace(temporary, self._index)

    def _locked(self) -> int:
        """An exclusive lock on the folder, so that two processes starting at once make one first key."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(self.folder / ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        return descriptor

    def ensure(self) -> Key:
        """The signing key, made (with its folder, mode 0700) on first use."""
        if self._read_index().get("current") is not None:
            return self.current()
        descriptor = self._locked()
        try:
            if self._read_index().get("current") is None:
                return self._new_key()
            return self.current()
        finally:
            os.close(descriptor)

    def rotate(self) -> Key:
        """A new key signs from now on; the earlier ones stay published for verification."""
        descriptor = self._locked()
        try:
            return self._new_key()
        finally:
            os.close(descriptor)

    def _new_key(self) -> Key:
        now = datetime.now(UTC).replace(microsecond=0)
        kid = f"key-{now:%Y%m%d}-{secrets.token_hex(3)}"
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        path = self.folder / f"{kid}.pem"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        index = self._read_index()
        keys = list(index.get("keys") or [])  # type: ignore[call-overload]
        keys.append({"kid": kid, "created": now.isoformat().replace("+00:00", "Z")})
        self._write_index({"current": kid, "keys": keys})
        return self._load(kid, keys[-1]["created"])

    def _load(self, kid: str, created: str) -> Key:
        private = serialization.load_pem_private_key((self.folder / f"{kid}.pem").read_bytes(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"{kid} is not an Ed25519 key")
        return Key(kid=kid, created=created, private=private)

    def current(self) -> Key:
        index = self._read_index()
        kid = index.get("current")
        if not isinstance(kid, str):
            raise LookupError("no signing key yet")
        created = next(k["created"] for k in index["keys"] if k["kid"] == kid)  # type: ignore[union-attr,index]
        return self._load(kid, created)

    def all(self) -> list[Key]:
        """Every key, oldest first: what is published."""
        index = self._read_index()
        return [self._load(k["kid"], k["created"]) for k in index.get("keys") or []]  # type: ignore[union-attr,index]
