"""Requests for more evidence on the case page: the assessor's form, and what the candidate and staff see.

The section lives in `templates/cases/_evidence_request.html`, included by the case page. The case page's
view (`case_view.CaseView`) knows nothing of requests, so the section asks for its own data through the
template global `evidence_request_panel(view)`: one query, made once per page.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from forms.follow_up import EvidenceRequestForm
from validation.extensions import db
from validation.services import case_view, evidence_requests, review
from validation.services.errors import Conflict, Invalid
from validation.web import cases as case_pages
from validation.web import review as review_pages
from validation.web.roles import roles_required

bp = Blueprint("evidence_requests", __name__)


@bp.app_template_global()
def evidence_request_panel(view: case_view.CaseView) -> evidence_requests.Panel:
    """What the request section of the case page shows to the person reading it."""
    return evidence_requests.panel(current_user, view.case)


def _form(view: case_view.CaseView) -> EvidenceRequestForm:
    form = EvidenceRequestForm(version=view.case.lock_version)
    form.outcomes.choices = [(c.outcome_id, c.outcome.code) for c in evidence_requests.requestable(view.case)]
    return form


def _page(case_id: int, status: int, form: EvidenceRequestForm):  # type: ignore[no-untyped-def]
    """The case page as it is now, with the form as it was sent: nothing the assessor typed is lost."""
    view = case_view.build(current_user, case_id)
    return case_pages._render(view, status, review_panel=review.panel(current_user, view), follow_up_request_form=form)


@bp.post("/cases/<int:case_id>/evidence-request")
@roles_required("assessor")
def create(case_id: int):  # type: ignore[no-untyped-def]
    case = review_pages.assigned_case(case_id)
    if isinstance(case, Response):
        return case
    form = _form(case_view.build(current_user, case_id))
    if not form.validate_on_submit():
        flash(_("Nothing was sent: please check the request for more evidence."), "error")
        return _page(case_id, 422, form)
    try:
        evidence_requests.request_more_evidence(
            case_id,
            current_user,
            form.outcomes.data or [],
            form.message.data or "",
            form.due_on.data,
            form.version.data,
        )
    except (Conflict, Invalid) as refusal:
        db.session.rollback()
        if refusal.status == 409:
            flash(_(refusal.reason), "error")
        else:
            flash(_("Nothing was sent: please check the request for more evidence."), "error")
            form.form_errors.append(_(refusal.reason))
        return _page(case_id, refusal.status, form)
    db.session.commit()
    flash(_("More evidence is requested. The candidate sees which outcomes and by when."), "success")
    return redirect(url_for("cases.show", case_id=case_id) + "#evidence-requests")
