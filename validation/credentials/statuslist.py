"""Bitstring Status List v1.0: the status of every issued credential, as a compressed string of bits that
anyone can fetch without saying which credential they are checking.

A credential carries one status entry (the Open Badges schema allows one `credentialStatus`), so both
revocation and suspension live in it: the entry's purpose is `message`, two bits per credential, and the
entry lists what each value means. 0 valid, 1 revoked, 2 suspended (3 is never written; a verifier reads
it as revoked). A revocation is for good; a suspension can be lifted.
"""

from __future__ import annotations

import base64
import gzip
from typing import Any

from validation.credentials import jsonld

#: Status values, as written in two bits.
VALID, REVOKED, SUSPENDED = 0, 1, 2
STATUS_SIZE = 2
#: The specification's minimum: 131,072 entries' worth of bits, so that a list says little about how many
#: credentials an issuer has and which one is being checked.
ENTRIES = 131_072
MESSAGES = [
    {"status": "0x0", "message": "valid"},
    {"status": "0x1", "message": "revoked"},
    {"status": "0x2", "message": "suspended"},
    {"status": "0x3", "message": "revoked"},
]
#: How long a verifier may keep a fetched list before fetching it again (milliseconds, as the spec says).
TTL_MS = 300_000


def place(index: int) -> tuple[int, int]:
    """Which list (numbered from 1) and which entry in it a credential's running number falls on."""
    return index // ENTRIES + 1, index % ENTRIES


def encode(statuses: dict[int, int]) -> str:
    """`statuses` maps entry → value (entries not named are valid): GZIP, then multibase base64url ('u')."""
    bits = bytearray(ENTRIES * STATUS_SIZE // 8)
    for entry, value in statuses.items():
        for bit in range(STATUS_SIZE):
            if value >> (STATUS_SIZE - 1 - bit) & 1:
                position = entry * STATUS_SIZE + bit
                bits[position // 8] |= 0x80 >> (position % 8)  # the first bit is the left-most of byte 0
    packed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def status_at(encoded: str, entry: int, size: int = STATUS_SIZE) -> int:
    if not encoded.startswith("u"):
        raise ValueError("the list is not base64url multibase")
    packed = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
    bits = gzip.decompress(packed)
    if (entry + 1) * size > len(bits) * 8:
        raise ValueError("the entry is outside the list")
    value = 0
    for bit in range(size):
        position = entry * size + bit
        value = value << 1 | (bits[position // 8] >> (7 - position % 8) & 1)
    return value


def entry(list_url: str, index: int) -> dict[str, Any]:
    """The `credentialStatus` of the credential at entry `index` of the list at `list_url`."""
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "message",
        "statusListIndex": str(index),
        "statusListCredential": list_url,
        "statusSize": STATUS_SIZE,
        "statusMessage": MESSAGES,
    }


def list_credential(list_url: str, issuer: dict[str, Any], statuses: dict[int, int],
                    valid_from: str) -> dict[str, Any]:
    """The unsigned status list credential."""
    return {
        "@context": [jsonld.VC_V2],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": valid_from,
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "message",
            "encodedList": encode(statuses),
            "ttl": TTL_MS,
        },
    }
