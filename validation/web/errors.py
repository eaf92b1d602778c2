"""Refusals become pages in the reader's language, with the reason and nothing changed."""

from __future__ import annotations

from flask import Flask, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

import workflows
from validation.extensions import db
from validation.services.errors import ServiceError
from validation.web.i18n import translate_refusal
from validation.web.vocabulary import N_

GENERIC_TITLE = N_("Error")
GENERIC_REASON = N_("Something went wrong.")
TITLES = {
    400: N_("This request could not be understood"),
    403: N_("You may not do this"),
    404: N_("Not found"),
    405: N_("Not allowed here"),
    409: N_("This cannot be done now"),
    413: N_("The upload is too large"),
    422: N_("Please check what you entered"),
    429: N_("Too many attempts"),
}


def _page(status: int, reason: str):  # type: ignore[no-untyped-def]
    db.session.rollback()
    return render_template(
        "errors/refused.html", status=status, title=_(TITLES.get(status, GENERIC_TITLE)), reason=reason
    ), status


def install(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service(exc: ServiceError):  # type: ignore[no-untyped-def]
        return _page(exc.status, _(exc.reason))

    @app.errorhandler(workflows.Refused)
    def _refused(exc: workflows.Refused):  # type: ignore[no-untyped-def]
        return _page(exc.status, translate_refusal(exc))

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):  # type: ignore[no-untyped-def]
        return _page(
            400,
            _("The form had expired or did not come from this site. Please reload the page and try again."),
        )

    @app.errorhandler(413)
    def _too_large(exc: HTTPException):  # type: ignore[no-untyped-def]
        # The limit a person can act on is the file's; the request limit adds room for the form around it.
        limit = app.config.get("MAX_FILE_BYTES", app.config["MAX_CONTENT_LENGTH"]) // (1024 * 1024)
        return _page(413, _("The upload is larger than %(limit)s MB. Nothing was saved.", limit=limit))

    @app.errorhandler(429)
    def _too_many(exc: HTTPException):  # type: ignore[no-untyped-def]
        return _page(
            429, _("Too many failed sign-in attempts for this account. Wait a minute and try again.")
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 500
        return _page(status, _(TITLES.get(status, GENERIC_REASON)))
