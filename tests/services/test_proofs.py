"""The Data Integrity proof code against the W3C's own test vector (vc-di-eddsa, eddsa-rdfc-2022): with the
published key pair, signing the published credential must give the published proofValue byte for byte,
and verifying the published signed credential must succeed. Plus the building blocks: Multikey, JWK,
status list bits, and a member no context defines."""

from __future__ import annotations

import copy
from datetime import datetime

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from validation.credentials import jsonld, keys, proofs, statuslist

# W3C vc-di-eddsa, TestVectors/keyPair.json and TestVectors/eddsa-rdfc-2022/signedDataInt.json.
PUBLIC = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
PRIVATE = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
SIGNED = {
    "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "name": "Alumni Credential",
    "description": "A minimum viable example of an Alumni Credential.",
    "issuer": "https://vc.example/issuers/5678",
    "validFrom": "2023-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
    "proof": {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": "2023-02-24T23:36:38Z",
        "verificationMethod": "https://vc.example/issuers/5678#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
        "proofPurpose": "assertionMethod",
        "proofValue": "z21EVs3eXERqTn4acNHT9viboqgzUaQ3kTmhPT3eA8qrVPE7CrQq78WkzctnMX5W4CrzcKnHw8V6dvy5pgWYCU5e9",
    },
}


def _private() -> Ed25519PrivateKey:
    raw = base58.b58decode(PRIVATE[1:])
    assert raw[:2] == b"\x80\x26"  # the multicodec of an Ed25519 private key
    return Ed25519PrivateKey.from_private_bytes(raw[2:])


def test_signing_the_w3c_credential_gives_the_w3c_proof_value():
    unsigned = {k: v for k, v in SIGNED.items() if k != "proof"}
    proof = SIGNED["proof"]
    signed = proofs.sign(unsigned, _private(), proof["verificationMethod"],
                         datetime.fromisoformat("2023-02-24T23:36:38+00:00"))
    assert signed["proof"][0]["proofValue"] == proof["proofValue"]
    assert keys.multibase_public(_private().public_key()) == PUBLIC


def test_the_w3c_signed_credential_verifies_and_a_changed_one_does_not():
    public = keys.public_from_multibase(PUBLIC)
    assert proofs.verify(SIGNED, lambda method: public) == SIGNED["proof"]["verificationMethod"]
    changed = copy.deepcopy(SIGNED)
    changed["credentialSubject"]["alumniOf"] = "The School of Examplez"
    with pytest.raises(proofs.ProofError, match="changed after signing"):
        proofs.verify(changed, lambda method: public)
    with pytest.raises(proofs.ProofError, match="not one of the issuer's keys"):
        proofs.verify(SIGNED, lambda method: None)


def test_a_context_not_kept_here_is_refused_rather_than_fetched():
    document = {**SIGNED, "@context": ["https://www.w3.org/ns/credentials/v2", "https://example.org/ctx.json"]}
    with pytest.raises(jsonld.UnknownContext):
        jsonld.canonical(document)


def test_keys_round_trip_as_multikey_and_jwk():
    key = Ed25519PrivateKey.generate().public_key()
    same = keys.public_from_multibase(keys.multibase_public(key))
    assert keys.multibase_public(same) == keys.multibase_public(key)
    jwk = keys.jwk(key, "https://x.example/issuers/a#key-1")
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and "d" not in jwk
    assert keys.multibase_public(keys.public_from_jwk(jwk)) == keys.multibase_public(key)


def test_status_list_bits_are_read_back_where_they_were_written():
    statuses = {0: statuslist.REVOKED, 1: statuslist.SUSPENDED, 4097: statuslist.REVOKED,
                statuslist.ENTRIES - 1: statuslist.SUSPENDED}
    encoded = statuslist.encode(statuses)
    assert encoded.startswith("u")
    for entry in (0, 1, 2, 4096, 4097, 4098, statuslist.ENTRIES - 1):
        assert statuslist.status_at(encoded, entry) == statuses.get(entry, statuslist.VALID), entry
    # the first entry's two bits are the two left-most bits of the first byte (the spec's bit order)
    import base64
    import gzip

    first = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))[0]
    assert first >> 6 == statuslist.REVOKED and (first >> 4) & 0b11 == statuslist.SUSPENDED
    assert statuslist.place(statuslist.ENTRIES + 3) == (2, 3)
