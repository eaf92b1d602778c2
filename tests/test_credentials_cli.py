"""`validation credentials`: export every issued credential, check one offline (exit 0 valid, 1 not, with
the reason), and rotate the signing key without breaking what was signed before."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from tests import factories
from validation.extensions import db
from validation.services import accounts, credentials
from validation.web.security import write_intent


@pytest.fixture(autouse=True)
def _no_write_intent_left_behind() -> Iterator[None]:
    """A CLI command marks its thread as writing (its process ends there); the tests go on, so restore it."""
    token = write_intent.set(False)
    yield
    write_intent.reset(token)


def run(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=list(args))


def _issue(app: Flask) -> None:
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        factories.case_in_state("awarded", who)
        factories.case_in_state("partially_awarded", {**who, "candidate": who["other_candidate"]})
        db.session.commit()
        assert len(credentials.all_issued()) == 2


def test_export_writes_every_credential_and_each_one_verifies(app: Flask, tmp_path: Path) -> None:
    _issue(app)
    result = run(app, "credentials", "export", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "out").iterdir())
    assert [f.suffix for f in files] == [".json", ".jwt", ".json", ".jwt"]
    for file in files:
        checked = run(app, "credentials", "verify", str(file))
        assert checked.exit_code == 0, checked.output
        assert checked.output.strip().endswith("valid")


def test_verify_offline_from_the_published_keys_and_status_list(app: Flask, tmp_path: Path) -> None:
    """Only the credential, the issuer's JWKS and the status list: as a verifier with no access to the
    issuer would have them (saved from the public URLs)."""
    _issue(app)
    client = app.test_client()
    with app.app_context():
        row = credentials.all_issued()[0]
        (tmp_path / "credential.json").write_text(row.document, encoding="utf-8")
        key = row.issuer_key
    (tmp_path / "jwks.json").write_bytes(client.get(f"/issuers/{key}/jwks.json").get_data())
    instance_keys = client.get("/issuers/instance/jwks.json").get_json(force=True)["keys"]
    both = json.loads((tmp_path / "jwks.json").read_text())
    both["keys"] += instance_keys  # the status list is signed by the instance
    (tmp_path / "jwks.json").write_text(json.dumps(both))
    (tmp_path / "status.json").write_bytes(client.get("/credentials/status/1").get_data())
    args = ["credentials", "verify", str(tmp_path / "credential.json"), "--jwks", str(tmp_path / "jwks.json"),
            "--status-list", str(tmp_path / "status.json")]
    assert run(app, *args).exit_code == 0
    (tmp_path / "other.json").write_text(json.dumps({"keys": []}))
    refused = run(app, "credentials", "verify", str(tmp_path / "credential.json"), "--jwks",
                  str(tmp_path / "other.json"), "--status-list", str(tmp_path / "status.json"))
    assert refused.exit_code == 1 and "not one of the issuer's keys" in refused.output


def test_verify_reports_tampering_and_revocation_with_exit_1(app: Flask, tmp_path: Path) -> None:
    _issue(app)
    with app.app_context():
        row = credentials.all_issued()[0]
        document = row.document
        coordinator = accounts.find_by_email("coordinator@test.example")
        credentials.set_status(row.id, "revoked", coordinator, "Issued in error.")
        db.session.commit()
    (tmp_path / "revoked.json").write_text(document, encoding="utf-8")
    result = run(app, "credentials", "verify", str(tmp_path / "revoked.json"))
    assert result.exit_code == 1 and "revoked" in result.output
    (tmp_path / "changed.json").write_text(document.replace("Bakery", "Bakerz", 1), encoding="utf-8")
    result = run(app, "credentials", "verify", str(tmp_path / "changed.json"))
    assert result.exit_code == 1 and "changed after signing" in result.output


def test_rotate_key_keeps_old_credentials_valid(app: Flask, tmp_path: Path) -> None:
    _issue(app)
    with app.app_context():
        old = credentials.all_issued()[0]
        (tmp_path / "old.json").write_text(old.document, encoding="utf-8")
        old_kid = old.key_id
    result = run(app, "credentials", "rotate-key")
    assert result.exit_code == 0 and "New signing key" in result.output
    assert run(app, "credentials", "verify", str(tmp_path / "old.json")).exit_code == 0
    with app.app_context():
        assert credentials.keyring().current().kid != old_kid


def test_the_demo_has_issued_credentials_full_and_partial_and_one_revoked(app: Flask, tmp_path: Path) -> None:
    from validation.models import Award, IssuedCredential

    assert run(app, "demo").exit_code == 0
    with app.app_context():
        rows = db.session.execute(
            sa.select(Award.kind, IssuedCredential.status).join(IssuedCredential, IssuedCredential.award_id == Award.id)
        ).all()
    assert {kind for kind, _ in rows} == {"full", "partial"}
    assert [status for _, status in rows].count("revoked") == 1
    result = run(app, "credentials", "export", str(tmp_path))
    assert result.exit_code == 0
    verdicts = [run(app, "credentials", "verify", str(f)).exit_code for f in sorted(tmp_path.glob("*.json"))]
    assert verdicts.count(1) == 1 and verdicts.count(0) == len(rows) - 1  # only the revoked one fails
