"""The assessor's desk: their cases, what waits on them first, then what waits on others."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from validation.models import utcnow
from validation.services import review
from validation.web.roles import roles_required

bp = Blueprint("assessor", __name__, url_prefix="/assessor")


@bp.get("/")
@roles_required("assessor")
def home():  # type: ignore[no-untyped-def]
    return render_template("assessor/home.html", desk=review.desk(current_user), now=utcnow())
