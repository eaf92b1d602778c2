"""The assessor's workspace on a case: the declaration of interest, doubts about evidence, accepting all.

Each action: who may act (403), the declaration first (a redirect to it), the form (422), one service, one
commit, back to the case. A page opened before the case last changed gets 409 with the case as it is now.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from forms.review import RULE_CHOICES, AcceptAllForm, DeclarationForm, DoubtForm
from forms.stacking import CarriedForm
from validation.extensions import db
from validation.models import Case
from validation.services import access, case_view, review, stacking
from validation.services.cases import definition_for
from validation.services.errors import Conflict, Invalid
from validation.web import cases as case_pages
from validation.web.roles import roles_required
from validation.web.vocabulary import N_

bp = Blueprint("review", __name__)

#: The stored default reason of "accept every outcome as met", marked here for translation; the pages
#: translate it when they show it (it is stored in English, as data).
DEFAULT_RATIONALE = N_("The evidence shows every criterion of this outcome.")
#: The stored reason of confirming an outcome carried over from an earlier award (see services/stacking.py).
CARRIED_RATIONALE = N_("Validated earlier in award %(number)s.")
_CARRIED = re.compile(r"(?P<number>\S+)".join(map(re.escape, stacking.CARRIED_RATIONALE.split("%(number)s"))))


@bp.app_template_filter("rationale")
def rationale_text(text: str | None) -> str:
    """A decision's reason as the reader should see it: the stored standard ones in their language, others
    as written."""
    if text == review.DEFAULT_RATIONALE:
        return _(DEFAULT_RATIONALE)
    carried = _CARRIED.fullmatch(text or "")
    if carried is not None:
        return _(CARRIED_RATIONALE, number=carried.group("number"))
    return text or ""


@bp.app_context_processor
def _review_helpers() -> dict[str, object]:
    """Pure functions of the case view (no queries), for the review part of the case page."""
    return {
        "review_new_items": review.new_since_request,
        "review_self_assessment": review.self_assessment_summary,
        "review_open_codes": review.open_codes,
        "review_decision_reason": review.decision_reason,
        "review_rules": RULE_CHOICES,
        "review_default_rationale": _(DEFAULT_RATIONALE),
    }


def case_page(case_id: int, status: int, **forms: object):  # type: ignore[no-untyped-def]
    """The case page with the review panel, for a refusal that keeps the person where they were."""
    view = case_view.build(current_user, case_id)
    return case_pages._render(view, status, review_panel=review.panel(current_user, view), **forms)


def assigned_case(case_id: int) -> Case | Response:
    """The case if the signed-in assessor is its assigned assessor (anyone else gets 403 before any form is
    read, so they learn nothing from its validation), or the way to their declaration, which comes first.
    Shared by every assessor action on a case (review, requests for more evidence, interviews)."""
    case = access.case_for(current_user, case_id)  # 403 for a case of someone else
    if case.assessor_id != current_user.id:
        abort(403)
    if review.needs_declaration(current_user, case):
        return redirect(url_for("review.declaration", case_id=case_id))
    return case


# --- conflict of interest -----------------------------------------------------------------------------


def _declaration_page(case: Case, form: DeclarationForm, status: int = 200):  # type: ignore[no-untyped-def]
    definition = definition_for(case)
    part = "moderator" if case.moderator_id == current_user.id else "assessor"
    return render_template(
        "assessor/declaration.html", case=case, form=form, state=definition.state(case.state), part=part
    ), status


@bp.route("/cases/<int:case_id>/declaration", methods=["GET", "POST"])
@roles_required("assessor")
def declaration(case_id: int):  # type: ignore[no-untyped-def]
    case = access.case_for(current_user, case_id)
    if not review.needs_declaration(current_user, case):
        # Declared already (or nothing left to judge): the declaration is asked once per assignment.
        return redirect(url_for("cases.show", case_id=case_id))
    if request.method == "GET":
        return _declaration_page(case, DeclarationForm(formdata=None, version=case.lock_version))
    form = DeclarationForm()
    if not form.validate_on_submit():
        return _declaration_page(case, form, 422)
    has_conflict = form.knows.data == "yes"
    try:
        review.declare(case_id, current_user, has_conflict, form.reason.data, form.version.data)
    except Conflict as exc:
        db.session.rollback()
        flash(_(exc.reason), "error")
        case = access.case_for(current_user, case_id)
        fresh = DeclarationForm(
            formdata=None, version=case.lock_version, knows=form.knows.data, reason=form.reason.data
        )
        return _declaration_page(case, fresh, 409)
    db.session.commit()
    if has_conflict:
        flash(
            _("You said you know the candidate, so the case is no longer yours. The coordinator will ask someone "
              "else to take it over."),
            "success",
        )
        return redirect(url_for("assessor.home"))
    flash(_("Thank you. You can now review the case."), "success")
    return redirect(url_for("cases.show", case_id=case_id))


# --- doubts and accepting all -------------------------------------------------------------------------


@bp.post("/cases/<int:case_id>/items/<int:item_id>/doubts")
@roles_required("assessor")
def add_doubt(case_id: int, item_id: int):  # type: ignore[no-untyped-def]
    case = assigned_case(case_id)
    if isinstance(case, Response):
        return case
    form = DoubtForm()
    if not form.validate_on_submit():
        return case_page(case_id, 422, doubt_error=(item_id, form))
    try:
        review.add_doubt(case_id, item_id, current_user, form.rule.data, form.note.data, form.version.data)
    except Conflict as exc:
        db.session.rollback()
        flash(_(exc.reason), "error")
        return case_page(case_id, 409)
    db.session.commit()
    flash(_("Your doubt about this evidence is recorded."), "success")
    return redirect(url_for("cases.show", case_id=case_id) + f"#review-item-{item_id}")


@bp.post("/cases/<int:case_id>/accept-all")
@roles_required("assessor")
def accept_all(case_id: int):  # type: ignore[no-untyped-def]
    case = assigned_case(case_id)
    if isinstance(case, Response):
        return case
    form = AcceptAllForm()
    if not form.validate_on_submit():
        flash(_("The page was incomplete. Reload it and try again."), "error")
        return case_page(case_id, 422)
    try:
        decisions = review.accept_all(case_id, current_user, form.version.data)
    except Conflict as exc:
        db.session.rollback()
        flash(_(exc.reason), "error")
        return case_page(case_id, 409)
    db.session.commit()
    if decisions:
        flash(_("Every claimed outcome is now recorded as met."), "success")
    else:
        flash(_("Every claimed outcome was already met: nothing was changed."), "success")
    return redirect(url_for("cases.show", case_id=case_id) + "#outcomes")


# --- outcomes validated earlier (carried over) ----------------------------------------------------------


@bp.post("/cases/<int:case_id>/carried/<int:carried_id>")
@roles_required("assessor")
def decide_carried(case_id: int, carried_id: int):  # type: ignore[no-untyped-def]
    """Confirm an outcome carried over from an earlier award (recorded as met) or reject it with a reason."""
    case = assigned_case(case_id)
    if isinstance(case, Response):
        return case
    form = CarriedForm()
    if not form.validate_on_submit():
        return case_page(case_id, 422, carried_error=(carried_id, form))
    try:
        carried = stacking.decide(
            case_id, carried_id, current_user, form.action.data, form.reason.data, form.version.data
        )
    except Conflict as exc:
        db.session.rollback()
        flash(_(exc.reason), "error")
        return case_page(case_id, 409)
    except Invalid as exc:
        db.session.rollback()
        flash(_(exc.reason), "error")
        return case_page(case_id, 422, carried_error=(carried_id, form))
    db.session.commit()
    if carried.status == "confirmed":
        flash(_("The outcome validated earlier is confirmed and recorded as met."), "success")
    else:
        flash(_("The outcome validated earlier is rejected: it now needs a decision of its own."), "success")
    return redirect(url_for("cases.show", case_id=case_id) + "#carried")
