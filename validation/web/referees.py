"""Referees: the candidate asks one to confirm their work; the referee answers on a public page by a link.

The referee's page is reached by a token in its path. It is served with `Referrer-Policy: no-referrer`
and `Cache-Control: no-store`, so the link never travels to another site or stays in a shared cache, and
nothing here writes the token anywhere: the audit trail holds the request's id only.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user

from forms.cases import VersionedForm
from forms.referee import RefereeAnswerForm, RefereeRequestForm
from validation.extensions import db
from validation.models import Case, RefereeRequest
from validation.services import access, cases, referees
from validation.services.errors import Conflict, ServiceError
from validation.web.i18n import LANGUAGE_COOKIE, current_language
from validation.web.roles import roles_required

bp = Blueprint("referees", __name__)

@bp.app_template_global()
def referee_status(request_row: RefereeRequest) -> str:
    """waiting, expired, cancelled, confirmed, corrected or declined, for the case page."""
    return referees.status_of(request_row)


@bp.after_app_request
def _keep_the_link_private(response: Response) -> Response:
    """Registered before the site's own headers, so it runs after them and has the last word here."""
    if request.endpoint == "referees.respond":
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
    return response


# --- the candidate asks --------------------------------------------------------------------------------


def _case_for_request(case_id: int) -> Case:
    """The owner's case while its portfolio is open; another candidate's case is not found (404)."""
    case = access.case_for(current_user, case_id)
    if not cases.evidence_open(case):
        raise Conflict("Evidence can only be added while the portfolio is being prepared or more is requested.")
    return case


def _request_form(case: Case) -> RefereeRequestForm:
    form = RefereeRequestForm(version=case.lock_version, referee_language=current_language())
    form.outcomes.choices = [(c.outcome_id, c.outcome.code) for c in cases.claimed(case)]
    return form


@bp.route("/cases/<int:case_id>/referees/new", methods=["GET", "POST"])
@roles_required("candidate")
def new(case_id: int):  # type: ignore[no-untyped-def]
    case = _case_for_request(case_id)
    form = _request_form(case)
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("referees/new.html", case=case, form=form, claims=cases.claimed(case)), status
    referees.ask(
        case_id,
        current_user,
        form.referee_name.data or "",
        form.referee_email.data or "",
        form.referee_language.data or "",
        form.relationship.data or "",
        form.statement.data or "",
        form.outcomes.data or [],
        form.version.data,
    )
    db.session.commit()
    flash(_("Your request is on its way to %(name)s.", name=form.referee_name.data.strip()), "success")
    return redirect(url_for("cases.show", case_id=case_id) + "#referees")


@bp.post("/cases/<int:case_id>/referees/<int:request_id>/cancel")
@roles_required("candidate")
def cancel(case_id: int, request_id: int):  # type: ignore[no-untyped-def]
    access.case_for(current_user, case_id)  # another candidate's case is not found, whatever the form
    form = VersionedForm()
    if not form.validate_on_submit():
        abort(400)
    referees.cancel(case_id, request_id, current_user, form.version.data)
    db.session.commit()
    flash(_("The request is cancelled; its link no longer works."), "success")
    return redirect(url_for("cases.show", case_id=case_id) + "#referees")


# --- the referee answers -------------------------------------------------------------------------------


def _chosen_language() -> str | None:
    """A language the visitor picked: this page's own links (?lang=) or the site's switch (its cookie)."""
    languages = current_app.config["LANGUAGES"]
    for choice in (request.args.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if choice in languages:
            return str(choice)
    return None


def _closed(refusal: ServiceError, token: str):  # type: ignore[no-untyped-def]
    """The same short page for every dead link; it says only why, nothing about the case."""
    db.session.rollback()
    language = _chosen_language() or referees.language_for(token) or current_language()
    with force_locale(language):
        return render_template("referees/closed.html", status=refusal.status, reason=_(refusal.reason)), refusal.status


@bp.route("/referee/<token>", methods=["GET", "POST"])
def respond(token: str):  # type: ignore[no-untyped-def]
    try:
        page = referees.invitation(token)
    except ServiceError as refusal:
        return _closed(refusal, token)
    language = _chosen_language() or page.request.referee_language
    with force_locale(language):
        form = RefereeAnswerForm()
        status = 200
        if request.method == "POST":
            status = 422
            if form.validate_on_submit():
                try:
                    answered = referees.answer(
                        token,
                        form.answer.data,
                        form.correction.data,
                        form.claimed_name.data,
                        form.claimed_role.data,
                        form.claimed_organisation.data,
                        form.claimed_contact.data,
                        signed_in=current_user if current_user.is_authenticated else None,
                    )
                except ServiceError as refusal:
                    if refusal.status in (404, 410):
                        return _closed(refusal, token)
                    db.session.rollback()
                    form.form_errors.append(_(refusal.reason))
                else:
                    db.session.commit()
                    return render_template("referees/thanks.html", ref=answered, language=language)
        lang_param = request.args.get("lang")
        return render_template(
            "referees/answer.html",
            page=page,
            token=token,
            form=form,
            language=language,
            lang_param=lang_param if lang_param in current_app.config["LANGUAGES"] else None,
        ), status
