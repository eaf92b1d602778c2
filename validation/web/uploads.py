"""Resumable uploads over HTTP (tus 1.0.0: core, creation, termination, expiration), and their no-JS cancel.

The server side is our own: no maintained tus server exists for Flask (see validation/services/uploads.py
for the rules it keeps). Protocol answers are plain text, because tus clients show the body of a 4xx to the
person, and carry `Tus-Resumable`. A chunk is received before any database lock is taken (on SQLite a
write lock is the whole database's, and a phone on a bad line may take a minute per chunk); then one short
transaction appends it at the offset the session names.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import BinaryIO, NoReturn

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import ClientDisconnected, HTTPException
from werkzeug.http import http_date

from validation.extensions import db
from validation.models import UploadSession
from validation.services import access, evidence, uploads
from validation.services.errors import ServiceError
from validation.web.errors import GENERIC_REASON, GENERIC_TITLE, TITLES
from validation.web.roles import roles_required

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
TUS_ENDPOINTS = frozenset({"uploads.create", "uploads.status", "uploads.append", "uploads.terminate"})
DIGITS = re.compile(r"[0-9]+")
#: Large reads: the server hands the body over in as few pieces (and copies) as it can.
READ_BLOCK = 1024 * 1024

bp = Blueprint("uploads", __name__)


def _is_tus() -> bool:
    return request.endpoint in TUS_ENDPOINTS


def _plain(status: int, message: str = "", headers: dict[str, str] | None = None) -> Response:
    response = Response(message, status=status, mimetype="text/plain")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _page(status: int, reason: str):  # type: ignore[no-untyped-def]
    """The site's refusal page, for the one route here that a plain form uses."""
    db.session.rollback()
    return render_template(
        "errors/refused.html", status=status, title=_(TITLES.get(status, GENERIC_TITLE)), reason=reason
    ), status


def _message(refusal: ServiceError) -> str:
    if isinstance(refusal, evidence.LimitReached):
        return _(refusal.template, **refusal.params)
    return _(refusal.reason)


def _malformed() -> NoReturn:
    abort(_plain(400, _("The upload request is malformed. Reload the page and try again.")))


def _require_tus() -> None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        abort(_plain(412, _("This address takes resumable uploads (tus 1.0.0) only."), {"Tus-Version": TUS_VERSION}))


def _count(raw: str | None, longest: int = 18) -> int:
    """A byte count, offset or id: ASCII digits only, as the protocol says."""
    if raw is None or not DIGITS.fullmatch(raw) or len(raw) > longest:
        _malformed()
    return int(raw)


def _metadata(raw: str) -> dict[str, str]:
    """`Upload-Metadata`: comma-separated `key base64(value)` pairs."""
    values: dict[str, str] = {}
    for pair in (p.strip() for p in raw.split(",")):
        if not pair:
            continue
        key, _sep, encoded = pair.partition(" ")
        if not key or key in values:
            _malformed()
        try:
            values[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8") if encoded else ""
        except (binascii.Error, UnicodeDecodeError):
            _malformed()
    return values


def _ids(raw: str) -> list[int]:
    return [_count(p.strip(), 9) for p in raw.split(",") if p.strip()]


def _where(session: UploadSession) -> dict[str, str]:
    headers = {"Upload-Offset": str(session.received), "Upload-Length": str(session.length)}
    if session.state == "receiving":
        headers["Upload-Expires"] = http_date(session.expires_at)
    return headers


@bp.after_request
def _tus_headers(response: Response) -> Response:
    if _is_tus():
        response.headers["Tus-Resumable"] = TUS_VERSION
        response.headers["Cache-Control"] = "no-store"
        if request.method == "OPTIONS":
            response.headers["Tus-Version"] = TUS_VERSION
            response.headers["Tus-Extension"] = TUS_EXTENSIONS
            response.headers["Tus-Max-Size"] = str(current_app.config["MAX_FILE_BYTES"])
    return response


# --- refusals: plain text for the protocol, the usual page for the form ------------------------------


@bp.errorhandler(ServiceError)
def _refused(exc: ServiceError):  # type: ignore[no-untyped-def]
    if not _is_tus():
        return _page(exc.status, _message(exc))
    db.session.rollback()
    headers = {"Upload-Offset": str(exc.received)} if isinstance(exc, uploads.OffsetMismatch) else None
    return _plain(exc.status, _message(exc), headers)


@bp.errorhandler(CSRFError)
def _forged(exc: CSRFError):  # type: ignore[no-untyped-def]
    reason = _("The form had expired or did not come from this site. Please reload the page and try again.")
    return _plain(400, reason) if _is_tus() else _page(400, reason)


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException):  # type: ignore[no-untyped-def]
    status = exc.code or 500
    if status == 413:
        reason = _("The file is larger than %(mb)s MB.", mb=current_app.config["MAX_FILE_BYTES"] // evidence.MB)
    else:
        reason = _(TITLES.get(status, GENERIC_REASON))
    return _plain(status, reason) if _is_tus() else _page(status, reason)


@bp.app_errorhandler(ClientDisconnected)
def _interrupted(exc: ClientDisconnected):  # type: ignore[no-untyped-def]
    """A form upload whose connection broke before the whole body arrived: nothing of it was kept."""
    reason = _("The upload was interrupted before the whole file arrived. Nothing was saved; please try again.")
    return _plain(400, reason) if _is_tus() else _page(400, reason)


# --- the protocol ----------------------------------------------------------------------------------------


@bp.post("/cases/<int:case_id>/uploads")
@roles_required("candidate")
def create(case_id: int):  # type: ignore[no-untyped-def]
    access.case_for(current_user, case_id)  # another candidate's case is not found, before anything is read
    _require_tus()
    length = _count(request.headers.get("Upload-Length"))
    meta = _metadata(request.headers.get("Upload-Metadata", ""))
    version = meta.get("version", "")
    session = uploads.create(
        case_id,
        current_user,
        length,
        meta.get("filename", ""),
        meta.get("title", ""),
        _ids(meta.get("outcomes", "")),
        _count(version, 9) if version else None,
        meta.get("client_token"),
    )
    db.session.commit()
    return _plain(
        201,
        headers={
            "Location": url_for("uploads.status", upload_id=session.id),
            "Upload-Expires": http_date(session.expires_at),
        },
    )


@bp.route("/uploads/<upload_id>", methods=["HEAD"])
@roles_required("candidate")
def status(upload_id: str):  # type: ignore[no-untyped-def]
    session = uploads.session_for(current_user, upload_id)
    _require_tus()
    return _plain(200, headers=_where(session))


@bp.route("/uploads/<upload_id>", methods=["PATCH"])
@roles_required("candidate")
def append(upload_id: str):  # type: ignore[no-untyped-def]
    session = uploads.session_for(current_user, upload_id)
    _require_tus()
    if request.mimetype != "application/offset+octet-stream":
        abort(_plain(415, _("The upload request is malformed. Reload the page and try again.")))
    offset = _count(request.headers.get("Upload-Offset"))
    if offset != session.received:
        raise uploads.OffsetMismatch(session.received)
    room = session.length - offset
    if request.content_length is not None and request.content_length > room:
        abort(_plain(413, _("The upload sent more bytes than the file it announced.")))
    _release_database()
    body = _Arriving(request.environ, request.stream, request.content_length)
    with uploads.part_lock(upload_id) as part:
        written = 0
        if part is not None:
            # Checked again now that this request alone may write: another one may have gone first.
            now_received = uploads.received_now(upload_id)
            if now_received != offset:
                raise uploads.OffsetMismatch(session.received if now_received is None else now_received)
            written = uploads.write_part(part, offset, body, room)
        result = uploads.append(upload_id, current_user, offset, None, written=written)
        where = _where(result.session)  # read before the commit expires the row
        db.session.commit()
    interrupted = body.interrupted
    if result.refused is not None:
        return _plain(result.refused.status, _message(result.refused))
    if result.finished:
        flash(_("The evidence is saved."), "success")  # shown on the case page the script goes to next
    if interrupted:
        return _plain(
            400,
            _("The connection broke during the upload. What arrived is kept, and the upload continues from there."),
            where,
        )
    return _plain(204, headers=where)


def _release_database() -> None:
    """End the transaction (nothing has changed yet), so no lock is held while the bytes cross the network.

    The signed-in user stays attached as it was loaded, instead of being read again after a rollback."""
    user = current_user._get_current_object()
    db.session.close()
    db.session.add(user)


class _Arriving:
    """The request body as it arrives; a broken connection ends it early instead of raising, so that
    what did arrive is kept (and the client resumes after it).

    With a Content-Length (what every tus client sends) the WSGI input is read directly, never past that
    length: werkzeug's guard around it copies each block twice more, a quarter of the time a chunk takes
    on a fast disk. A chunked body goes through werkzeug's guard (`request.stream`), which knows where
    such a body ends."""

    def __init__(self, environ: dict[str, object], stream: BinaryIO, length: int | None) -> None:
        self.stream: BinaryIO = environ["wsgi.input"] if length is not None else stream  # type: ignore[assignment]
        self.left = length
        self.interrupted = False

    def read(self, size: int) -> bytes:
        if self.interrupted or self.left == 0:
            return b""
        try:
            data = self.stream.read(size if self.left is None else min(size, self.left))
        except (ClientDisconnected, OSError, ValueError):
            data = b""
        if not data:
            # A body of known length that ends early is a broken connection; a chunked one just ended.
            self.interrupted = self.left is not None
            return b""
        if self.left is not None:
            self.left -= len(data)
        return data


@bp.route("/uploads/<upload_id>", methods=["DELETE"])
@roles_required("candidate")
def terminate(upload_id: str):  # type: ignore[no-untyped-def]
    uploads.owned(current_user, upload_id)
    _require_tus()
    uploads.cancel(upload_id, current_user)
    db.session.commit()
    return _plain(204)


# --- without JavaScript ------------------------------------------------------------------------------------


@bp.post("/uploads/<upload_id>/cancel")
@roles_required("candidate")
def cancel(upload_id: str):  # type: ignore[no-untyped-def]
    session = uploads.cancel(upload_id, current_user)
    db.session.commit()
    flash(_("The upload is stopped, and the part of the file that had arrived is deleted."), "success")
    return redirect(url_for("cases.show", case_id=session.case_id) + "#evidence")
