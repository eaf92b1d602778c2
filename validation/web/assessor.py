"""The assessor's desk: the cases assigned to them, what waits on them first."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from validation.services import cases
from validation.web.roles import roles_required

bp = Blueprint("assessor", __name__, url_prefix="/assessor")


@bp.get("/")
@roles_required("assessor")
def home():  # type: ignore[no-untyped-def]
    mine = cases.cases_of_assessor(current_user)
    return render_template(
        "assessor/home.html", cases=mine, definitions={c.id: cases.definition_for(c) for c in mine}
    )
