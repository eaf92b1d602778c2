"""The candidate's home: their cases and awards, and opening a new case."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from forms.common import ConfirmForm
from validation.extensions import db
from validation.services import awards, cases, catalog
from validation.web.roles import roles_required

bp = Blueprint("candidate", __name__)


@bp.get("/my")
@roles_required("candidate")
def home():  # type: ignore[no-untyped-def]
    mine = cases.cases_of_candidate(current_user)
    return render_template(
        "candidate/home.html",
        cases=mine,
        definitions={c.id: cases.definition_for(c) for c in mine},
        awards=awards.awards_of(current_user),
    )


@bp.post("/catalog/<code>/open")
@roles_required("candidate")
def open_case(code: str):  # type: ignore[no-untyped-def]
    if not ConfirmForm().validate_on_submit():
        abort(400)
    credential = catalog.by_code(code)
    if credential is None:
        abort(404)
    case = cases.open_case(current_user, credential.id)
    db.session.commit()
    flash(_("Your case is open. Add evidence for each learning outcome, then submit."), "success")
    return redirect(url_for("cases.show", case_id=case.id))


@bp.get("/awards/<int:award_id>")
@roles_required("candidate", "assessor", "coordinator", "admin")
def award(award_id: int):  # type: ignore[no-untyped-def]
    return render_template("candidate/award.html", award=awards.award_for(current_user, award_id))
