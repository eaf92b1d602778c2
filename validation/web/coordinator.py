"""The coordinator's desk: cases by state, and who assesses them."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from validation.services import cases
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
