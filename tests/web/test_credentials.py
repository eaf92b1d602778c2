"""Credentials through HTTP: the holder's downloads, the public verification page and JSON endpoint in the
viewer's language, the issuer's published keys and status list, and staff changing the status."""

from __future__ import annotations

import io
import json

import pypdfium2 as pdfium
import pytest
import zxingcpp
from flask import Flask
from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_token, login, post
from validation.extensions import db
from validation.models import Award, IssuedCredential


def _awarded(app: Flask, state: str = "awarded") -> tuple[int, str]:
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        case = factories.case_in_state(state, who)
        award = db.session.execute(select(Award).where(Award.case_id == case.id)).scalar_one()
        row = db.session.execute(select(IssuedCredential).where(IssuedCredential.award_id == award.id)).scalar_one()
        db.session.commit()
        return award.id, row.uuid


@pytest.mark.parametrize("state", ["awarded", "partially_awarded"])
def test_the_holder_downloads_the_credential_and_a_stranger_verifies_it(app, client, state):
    award_id, credential_uuid = _awarded(app, state)
    login(client, "candidate@test.example")
    page = client.get(f"/awards/{award_id}").get_data(as_text=True)
    assert f"/verify/{credential_uuid}" in page
    signed = client.get(f"/awards/{award_id}/credential.json")
    assert signed.status_code == 200 and "attachment" in signed.headers["Content-Disposition"]
    token = client.get(f"/awards/{award_id}/credential.jwt").get_data(as_text=True)
    stranger = app.test_client()
    for body in (signed.get_data(as_text=True), token):
        verdict = stranger.post("/api/verify", data=body, content_type="text/plain").get_json()
        assert verdict["valid"] is True and verdict["status"] == "valid", verdict["checks"]
    shown = stranger.get(f"/verify/{credential_uuid}").get_data(as_text=True)
    assert "This credential is genuine and in force." in shown
    assert ("Partial award" if state == "partially_awarded" else "Full award") in shown


def test_the_pdf_certificate_carries_a_qr_code_to_the_verification_page(app, client):
    award_id, credential_uuid = _awarded(app)
    login(client, "candidate@test.example")
    response = client.get(f"/awards/{award_id}/certificate.pdf?lang=uk")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    document = pdfium.PdfDocument(response.get_data())
    image = document[0].render(scale=3).to_pil()
    codes = [code.text for code in zxingcpp.read_barcodes(image)]
    assert codes == [f"{app.config['PUBLIC_BASE_URL']}/verify/{credential_uuid}"]
    text = document[0].get_textpage().get_text_range()
    assert "Приготування хлібобулочних" in text


def test_the_europass_export_has_its_required_fields(app, client):
    from validation.credentials import elm

    award_id, _ = _awarded(app)
    login(client, "candidate@test.example")
    response = client.get(f"/awards/{award_id}/europass.json")
    assert response.status_code == 200
    assert elm.missing_fields(response.get_json()) == []


def test_a_pasted_tampered_credential_is_reported_in_ukrainian(app, client):
    award_id, _ = _awarded(app)
    login(client, "candidate@test.example")
    signed = client.get(f"/awards/{award_id}/credential.json").get_data(as_text=True)
    tampered = signed.replace('"creditsEarned": ', '"creditsEarned": 9', 1)
    stranger = app.test_client()
    stranger.set_cookie("lang", "uk")
    response = post(stranger, "/verify", {"credential": tampered})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "не витримує перевірки" in page or "змінено після підписання" in page


def test_an_uploaded_credential_file_is_checked(app, client):
    award_id, _ = _awarded(app)
    login(client, "candidate@test.example")
    signed = client.get(f"/awards/{award_id}/credential.json").get_data()
    stranger = app.test_client()
    response = stranger.post("/verify", data={"csrf_token": csrf_token(stranger, "/verify"), "email":
                                              "candidate@test.example",
                                              "upload": (io.BytesIO(signed), "credential.json")},
                             content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert "This credential is genuine and in force." in page
    assert "It was issued to the e-mail address you gave." in page


@pytest.mark.parametrize("body", ["", "not a credential", "{}", "[1, 2]", "a.b.c"])
def test_garbage_is_not_a_credential(app, body):
    _awarded(app)
    verdict = app.test_client().post("/api/verify", data=body, content_type="text/plain").get_json()
    assert verdict["valid"] is False


def test_a_page_without_input_asks_for_it_and_a_forged_post_is_refused(app):
    client = app.test_client()
    assert post(client, "/verify", {}).status_code == 422
    assert client.post("/verify", data={"credential": "{}"}).status_code == 400  # no CSRF token


def test_staff_revoke_with_a_reason_and_everyone_sees_it(app, client):
    award_id, credential_uuid = _awarded(app)
    login(client, "coordinator@test.example")
    assert post(client, f"/awards/{award_id}/status", {"action": "revoked", "reason": ""}).status_code == 422
    response = post(client, f"/awards/{award_id}/status", {"action": "revoked", "reason": "Forged evidence."})
    assert response.status_code == 302
    again = post(client, f"/awards/{award_id}/status", {"action": "suspended", "reason": "Again."})
    assert again.status_code == 409
    shown = app.test_client().get(f"/verify/{credential_uuid}").get_data(as_text=True)
    assert "This credential was revoked by its issuer." in shown
    holder = app.test_client()
    login(holder, "candidate@test.example")
    page = holder.get(f"/awards/{award_id}").get_data(as_text=True)
    assert "This credential is revoked." in page and "Forged evidence." in page
    assert post(holder, f"/awards/{award_id}/status", {"action": "active", "reason": "x"}).status_code == 403


def test_the_issuer_publishes_its_keys_and_status_list_without_personal_data(app):
    _awarded(app)
    client = app.test_client()
    with app.app_context():
        row = db.session.execute(select(IssuedCredential)).scalar_one()
        document = json.loads(row.document)
    issuer = client.get(f"/issuers/{row.issuer_key}")
    profile = issuer.get_json(force=True)
    method = document["proof"][0]["verificationMethod"]
    assert method in profile["assertionMethod"]
    keys = client.get(f"/issuers/{row.issuer_key}/jwks.json").get_json(force=True)["keys"]
    assert [k["kid"] for k in keys] == [method]
    listed = client.get("/credentials/status/1")
    assert listed.status_code == 200 and "max-age=300" in listed.headers["Cache-Control"]
    for response in (issuer, listed):
        assert "candidate@test.example" not in response.get_data(as_text=True)
    assert client.get("/issuers/unknown").status_code == 404
    assert client.get("/verify/00000000-0000-0000-0000-000000000000").status_code == 404


def test_what_it_certifies_is_told_in_the_viewers_language(app):
    _, credential_uuid = _awarded(app)
    viewer = app.test_client()
    viewer.set_cookie("lang", "uk")
    page = viewer.get(f"/verify/{credential_uuid}").get_data(as_text=True)
    assert "Цей документ справжній і чинний." in page  # noqa: RUF001
    assert "Приготування хлібобулочних і кондитерських виробів" in page  # noqa: RUF001 (the catalog's Ukrainian title)
    assert "Bakery and Pastry Preparation" in page  # and what the signed credential itself says
