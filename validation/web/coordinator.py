"""The coordinator's desk: cases by state, and the candidates they register and hand access codes to."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from forms.common import ConfirmForm
from forms.coordinator import AssistedRegistrationForm
from validation.extensions import db
from validation.services import accounts, cases
from validation.services.errors import Invalid
from validation.web.roles import roles_required

bp = Blueprint("coordinator", __name__, url_prefix="/coordinator")


@bp.get("/")
@roles_required("coordinator")
def home():  # type: ignore[no-untyped-def]
    definition = cases.registry().latest("standard")
    state = request.args.get("state", "")
    if state and state not in definition.states:
        state = ""
    listed = cases.cases_in_state(state or None)
    return render_template(
        "coordinator/home.html",
        definition=definition,
        counts=cases.counts_by_state(),
        state=state,
        cases=listed,
        definitions={c.id: cases.definition_for(c) for c in listed},
    )


@bp.get("/candidates")
@roles_required("coordinator")
def candidates():  # type: ignore[no-untyped-def]
    query = request.args.get("q", "")[:100]
    return render_template(
        "coordinator/candidates.html",
        query=query,
        candidates=accounts.candidates_for(current_user, query),
        form=ConfirmForm(),
        number=accounts.candidate_number,
        phone=accounts.format_phone,
    )


def _sheet(issued: accounts.IssuedCode):  # type: ignore[no-untyped-def]
    """The printable sheet, in the candidate's language whatever the coordinator reads; shown only now."""
    user = issued.user
    with force_locale(user.preferred_language):
        sheet = render_template(
            "coordinator/_access_sheet.html",
            issued=issued,
            number=accounts.candidate_number(user),
            phone=accounts.format_phone(user.phone) if user.phone else None,
            address=current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/access-code",
        )
    response = current_app.make_response(
        render_template("coordinator/access_sheet.html", sheet=Markup(sheet), issued=issued)  # noqa: S704 (our autoescaped template)
    )
    # The code exists nowhere else: the page must not be kept by the browser or any cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/candidates/new", methods=["GET", "POST"])
@roles_required("coordinator")
def register_candidate():  # type: ignore[no-untyped-def]
    form = AssistedRegistrationForm()
    if form.validate_on_submit():
        try:
            issued = accounts.register_assisted(
                actor=current_user,
                display_name=form.display_name.data,
                language=form.language.data,
                consent_in_person=form.consent_in_person.data,
                code_days=current_app.config["ACCESS_CODE_DAYS"],
                email=form.email.data,
                phone=form.phone.data,
                region=current_app.config["PHONE_REGION"],
            )
        except Invalid as exc:
            db.session.rollback()
            (form.phone if "phone" in exc.reason else form.email).errors.append(_(exc.reason))
            return render_template("coordinator/register.html", form=form,
                                   consent_version=accounts.CONSENT_TEXT_VERSION), 422
        db.session.commit()
        return _sheet(issued)
    status = 422 if request.method == "POST" else 200
    return render_template("coordinator/register.html", form=form,
                           consent_version=accounts.CONSENT_TEXT_VERSION), status


@bp.post("/candidates/<int:user_id>/access-code")
@roles_required("coordinator")
def new_access_code(user_id: int):  # type: ignore[no-untyped-def]
    """A new code for a lost sheet or a forgotten password; the old unused code stops working."""
    if not ConfirmForm().validate_on_submit():
        return render_template("coordinator/candidates.html", query="", candidates=[], form=ConfirmForm(),
                               number=accounts.candidate_number, phone=accounts.format_phone), 400
    issued = accounts.issue_access_code(user_id, current_user, current_app.config["ACCESS_CODE_DAYS"])
    db.session.commit()
    return _sheet(issued)
