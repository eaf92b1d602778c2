"""How long signing and checking a credential takes: the Data Integrity proof (RDFC-1.0 canonicalization
through PyLD, then Ed25519), the VC-JWT, a full verification (signature, schema, status list, validity),
and rebuilding a status list of 131,072 entries. Prints the median of each over --rounds.

    .venv/bin/python bench/credentials.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from validation.credentials import openbadges, proofs, statuslist
from validation.credentials.facts import AwardFacts, EvidenceFacts, OutcomeFacts
from validation.credentials.verify import Resolvers, verify

BASE = "https://validation.example.org"


def _facts(outcomes: int) -> AwardFacts:
    return AwardFacts(
        number="VAL-2026-000001", kind="partial", holder_name="Olena Kovalenko",
        issued_at=datetime(2026, 12, 1, 10, tzinfo=UTC), valid_until=None, credential_code="UA-BAKERY",
        credential_version=1, title={"en": "Bakery and Pastry Preparation", "uk": "Випікання"},
        description={"en": "Prepares doughs, bakes and finishes bread and pastry."}, country="UA",
        languages=["uk", "en"], awarding_body_name="Vocational school", awarding_body_url=None,
        awarding_body_country="UA", eqf_level=3, nqf_level="3", credits_total=Decimal("4.5"),
        credits_value=Decimal("6"), credits_system="ECVET", workload_hours=150,
        assessment_type={"en": "Practical test and portfolio"}, participation="onsite",
        quality_assurance={"en": "Internal verification"}, identity_verification="supervised_onsite",
        prerequisites=None, stackability={"en": "Counts towards Baker"}, further_information=None,
        outcomes=[OutcomeFacts(code=f"LO{i}", text={"en": f"Outcome {i} of the credential, in a sentence."},
                               kind="skill", credits=Decimal("0.75"),
                               esco=[f"http://data.europa.eu/esco/skill/example-{i}"]) for i in range(outcomes)],
        outcomes_total=outcomes + 2, verify_url=f"{BASE}/verify/x",
        credential_id="urn:uuid:0d6f7c5e-0000-4000-8000-000000000001",
        evidence=[EvidenceFacts("Ten years in a bakery", "statement", ["LO0", "LO1"])], sector="food",
    )


def _median_ms(action: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    key = Ed25519PrivateKey.generate()
    issuer = openbadges.Issuer(id=f"{BASE}/issuers/abc", name="Vocational school", url=None, country="UA")
    method = f"{issuer.id}#key-1"
    list_url = f"{BASE}/credentials/status/1"
    document = openbadges.credential(_facts(6), BASE, issuer, openbadges.Recipient("emailAddress", "a@b.c", "s"),
                                     statuslist.entry(list_url, 7))
    created = datetime.now(UTC)
    signed = proofs.sign(document, key, method, created)
    token = proofs.sign_jwt(document, key, method)
    statuses = {i: statuslist.REVOKED for i in range(0, statuslist.ENTRIES, 97)}
    status_issuer = {"id": f"{BASE}/issuers/instance", "type": ["Profile"], "name": "Validation"}
    listed = proofs.sign(statuslist.list_credential(list_url, status_issuer, statuses, "2026-12-01T00:00:00Z"),
                         key, method, created)
    resolvers = Resolvers(key=lambda m: key.public_key(), status_list=lambda url: listed)
    figures = {
        "sign, Data Integrity (6 outcomes)": _median_ms(lambda: proofs.sign(document, key, method, created), rounds),
        "sign, VC-JWT": _median_ms(lambda: proofs.sign_jwt(document, key, method), rounds),
        "verify JSON-LD (every check)": _median_ms(lambda: verify(_json(signed), resolvers), rounds),
        "verify JWT (every check)": _median_ms(lambda: verify(token, resolvers), rounds),
        "status list: encode 131,072 entries": _median_ms(lambda: statuslist.encode(statuses), rounds),
    }
    big = openbadges.credential(_facts(30), BASE, issuer, openbadges.Recipient("emailAddress", "a@b.c", "s"),
                                statuslist.entry(list_url, 7))
    figures["sign, Data Integrity (30 outcomes)"] = _median_ms(lambda: proofs.sign(big, key, method, created), rounds)
    width = max(len(name) for name in figures)
    for name, value in figures.items():
        print(f"{name:<{width}}  {value:7.1f} ms (median of {rounds})")
    print(f"credential: {len(_json(signed))} bytes JSON-LD, {len(token)} bytes JWT; "
          f"status list: {len(listed['credentialSubject']['encodedList'])} characters encoded")


def _json(document: dict) -> str:  # type: ignore[type-arg]
    import json

    return json.dumps(document)


if __name__ == "__main__":
    main()
