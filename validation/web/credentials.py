"""Credentials on the web: what a stranger needs to check one (the issuer's profile and keys, the status
lists, the verification page and its JSON twin), and what the holder takes away (the signed credential,
the PDF certificate, the Europass export, a link to share). Staff revoke, suspend and reinstate here.

The public JSON documents carry no personal data: the credential names its holder only by a salted hash.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from forms.credentials import MAX_CREDENTIAL_CHARS, StatusForm, VerifyForm
from validation.credentials import certificate, elm
from validation.credentials.openbadges import identity_matches
from validation.credentials.verify import Verdict, verify
from validation.extensions import csrf, db
from validation.services import awards, credentials
from validation.web.candidate import render_award
from validation.web.i18n import current_language
from validation.web.roles import roles_required

bp = Blueprint("credentials", __name__)

#: Verifiers may keep the status list this long (seconds); the list itself says the same (ttl).
STATUS_MAX_AGE = 300


def _json(document: dict[str, Any] | str, media_type: str = "application/json", max_age: int = 60,
          attachment: str | None = None) -> Response:
    body = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False, indent=2)
    response = Response(body, mimetype=media_type)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"  # any wallet or verifier may read it
    if attachment:
        response.headers["Content-Disposition"] = f'attachment; filename="{attachment}"'
        response.headers["Cache-Control"] = "private, no-store"
        del response.headers["Access-Control-Allow-Origin"]
    return response


# --- what a verifier fetches ------------------------------------------------------------------------------

@bp.get("/issuers/<key>")
def issuer(key: str):  # type: ignore[no-untyped-def]
    return _json(credentials.issuer_profile(key), "application/ld+json", max_age=300)


@bp.get("/issuers/<key>/jwks.json")
def jwks(key: str):  # type: ignore[no-untyped-def]
    return _json(credentials.jwks(key), "application/jwk-set+json", max_age=300)


@bp.get("/credentials/status/<int:number>")
def status_list(number: int):  # type: ignore[no-untyped-def]
    return _json(credentials.status_list(number).document, "application/vc+ld+json", max_age=STATUS_MAX_AGE)


# --- verification -------------------------------------------------------------------------------------------

def _holder_matches(verdict: Verdict, email: str) -> bool | None:
    if not email or not verdict.credential:
        return None
    identities = verdict.credential.get("credentialSubject", {}).get("identifier", [])
    wanted = email.strip().lower()
    return any(identity_matches(identity, wanted) for identity in identities if isinstance(identity, dict))


def _summary(verdict: Verdict) -> dict[str, Any] | None:
    """What the credential certifies, for the page: read from the credential itself, not from our data."""
    document = verdict.credential
    if not document or not verdict.checks or verdict.checks[0].name != "signature" or not verdict.checks[0].ok:
        return None
    subject = document.get("credentialSubject", {})
    achievement = subject.get("achievement", {})
    issuer_profile = document.get("issuer", {})
    return {
        "name": achievement.get("name", ""),
        "issuer": issuer_profile.get("name", "") if isinstance(issuer_profile, dict) else str(issuer_profile),
        "issuer_country": (issuer_profile.get("address") or {}).get("addressCountryCode", "")
        if isinstance(issuer_profile, dict) else "",
        "valid_from": str(document.get("validFrom", ""))[:10],
        "valid_until": str(document.get("validUntil", ""))[:10],
        "credits": subject.get("creditsEarned"),
        "outcomes": [d.get("name", "") for d in achievement.get("resultDescription", [])],
        "partial": "partial award" in achievement.get("tag", []),
        "kind": achievement.get("achievementType", ""),
        "local": _in_viewers_language(str(document.get("id", ""))),
    }


def _in_viewers_language(credential_id: str) -> dict[str, Any] | None:
    """For a credential issued here, the same title and outcomes from the catalog in the viewer's language
    (a credential's own texts are in the language it was issued in). Only shown once the signature held."""
    row = credentials.find(credential_id.removeprefix("urn:uuid:")) if credential_id.startswith("urn:uuid:") else None
    if row is None:
        return None
    language = current_language()
    award = row.award
    return {"title": award.credential.text("title", language),
            "outcomes": [f"{ao.outcome.code}: {ao.outcome.text_in(language)}"
                         for ao in sorted(award.outcomes, key=lambda ao: ao.outcome.position)]}


def _result(verdict: Verdict, holder: bool | None, status: int = 200) -> tuple[str, int]:
    return render_template("public/verify.html", form=VerifyForm(formdata=None), verdict=verdict,
                           summary=_summary(verdict), holder=holder), status


@bp.get("/verify")
def verify_form():  # type: ignore[no-untyped-def]
    return render_template("public/verify.html", form=VerifyForm(), verdict=None, summary=None, holder=None)


@bp.post("/verify")
def verify_submit():  # type: ignore[no-untyped-def]
    form = VerifyForm()
    if not form.validate_on_submit():
        return render_template("public/verify.html", form=form, verdict=None, summary=None, holder=None), 422
    raw = (form.credential.data or "").strip()
    upload = form.upload.data
    if not raw and upload:
        data = upload.read(MAX_CREDENTIAL_CHARS + 1)
        try:
            raw = data.decode("utf-8").strip() if len(data) <= MAX_CREDENTIAL_CHARS else ""
        except UnicodeDecodeError:
            raw = ""
        if not raw:
            form.upload.errors = [_("This file is not a credential: it should be a small JSON or text file.")]
            return render_template("public/verify.html", form=form, verdict=None, summary=None, holder=None), 422
    if not raw:
        form.credential.errors = [_("Paste a credential or choose its file.")]
        return render_template("public/verify.html", form=form, verdict=None, summary=None, holder=None), 422
    verdict = verify(raw, credentials.resolvers())
    return _result(verdict, _holder_matches(verdict, form.email.data or ""))


@bp.get("/verify/<credential_uuid>")
def verify_link(credential_uuid: str):  # type: ignore[no-untyped-def]
    """The link a holder shares (and the QR code on the certificate opens)."""
    row = credentials.by_uuid(credential_uuid)
    verdict = verify(row.document, credentials.resolvers())
    return _result(verdict, None)


@bp.post("/api/verify")
@csrf.exempt  # a public, read-only check with no session: there is nothing to forge
def verify_api():  # type: ignore[no-untyped-def]
    """POST the credential (JSON-LD, or a JWT as text, or {"credential": "..."}) → the checks as JSON."""
    body = request.get_data(cache=False, as_text=False)[: MAX_CREDENTIAL_CHARS + 1]
    if len(body) > MAX_CREDENTIAL_CHARS:
        return jsonify({"valid": False, "error": "too large"}), 413
    try:
        raw = body.decode("utf-8")
    except UnicodeDecodeError:
        return jsonify({"valid": False, "error": "not UTF-8 text"}), 400
    try:
        wrapped = json.loads(raw)
    except ValueError:
        wrapped = None
    if isinstance(wrapped, dict) and isinstance(wrapped.get("credential"), str | dict):
        inner = wrapped["credential"]
        raw = inner if isinstance(inner, str) else json.dumps(inner)
    verdict = verify(raw, credentials.resolvers())
    result = verdict.as_json()
    for check in result["checks"]:
        check["message"] = _(check["message"])
    return jsonify(result)


# --- what the holder takes away -------------------------------------------------------------------------------

def _issued(award_id: int):  # type: ignore[no-untyped-def]
    award = awards.award_for(current_user, award_id)
    row = credentials.for_award(award.id)
    if row is None:
        abort(404)
    return award, row


@bp.get("/awards/<int:award_id>/credential.json")
@roles_required("candidate", "assessor", "coordinator", "admin")
def download_json(award_id: int):  # type: ignore[no-untyped-def]
    award, row = _issued(award_id)
    return _json(row.document, "application/vc+ld+json", attachment=f"{award.number}.json")


@bp.get("/awards/<int:award_id>/credential.jwt")
@roles_required("candidate", "assessor", "coordinator", "admin")
def download_jwt(award_id: int):  # type: ignore[no-untyped-def]
    award, row = _issued(award_id)
    return _json(row.jwt, "application/vc+jwt", attachment=f"{award.number}.jwt")


@bp.get("/awards/<int:award_id>/certificate.pdf")
@roles_required("candidate", "assessor", "coordinator", "admin")
def download_pdf(award_id: int):  # type: ignore[no-untyped-def]
    award, row = _issued(award_id)
    language = request.args.get("lang") or current_language()
    if language not in ("en", "uk"):
        language = current_language()
    pdf = certificate.render(credentials.facts_of(award, row.uuid), language)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{award.number}-{language}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/awards/<int:award_id>/europass.json")
@roles_required("candidate", "assessor", "coordinator", "admin")
def download_europass(award_id: int):  # type: ignore[no-untyped-def]
    award, row = _issued(award_id)
    document = elm.europass(credentials.facts_of(award, row.uuid),
                            issuer_id=credentials.issuer_id(row.issuer_key),
                            holder_id=f"urn:uuid:{row.uuid}#holder")
    return _json(document, "application/ld+json", attachment=f"{award.number}-europass.json")


@bp.post("/awards/<int:award_id>/status")
@roles_required("coordinator", "admin")
def change_status(award_id: int):  # type: ignore[no-untyped-def]
    award, row = _issued(award_id)
    form = StatusForm()
    if not form.validate_on_submit():
        return render_award(award, status_form=form), 422
    credentials.set_status(row.id, form.action.data, current_user, form.reason.data)  # a refusal: the error page
    db.session.commit()
    flash({"revoked": _("The credential is revoked."), "suspended": _("The credential is suspended."),
           "active": _("The suspension is lifted: the credential is in force again.")}[form.action.data], "success")
    return redirect(url_for("candidate.award", award_id=award.id))
