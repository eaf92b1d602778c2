"""Interviews and practical observations on the case page: arranging one, and recording its results.

The section lives in `templates/cases/_interview.html`, included by the case page; it gets its data through
the template global `interview_panel(view)` (two queries per page), since the case page's view does not
carry interviews. Times are entered and shown in the site's time zone (`BABEL_DEFAULT_TIMEZONE`).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from forms.follow_up import InterviewForm, InterviewResultsForm, results_form
from validation.extensions import db
from validation.models import Interview
from validation.services import case_view, cases, evidence, interviews, review
from validation.services.errors import Conflict, Invalid, ServiceError
from validation.services.evidence_requests import site_zone
from validation.web import cases as case_pages
from validation.web import review as review_pages
from validation.web.roles import roles_required
from validation.web.vocabulary import N_

bp = Blueprint("interviews", __name__)

KIND_LABELS = {"interview": N_("Interview"), "observation": N_("Practical observation")}


@bp.app_template_global()
def interview_panel(view: case_view.CaseView) -> interviews.Panel:
    """What the interview section shows: staff always see results; the candidate once the case is decided
    (and only if decisions are shown to them at all), as results are part of the judgement, not a verdict."""
    show = current_user.is_staff or (view.show_decisions and view.case.outcome is not None)
    return interviews.panel(current_user, view.case, view.timeline, show)


def _refused(refusal: ServiceError) -> str:
    """A service's refusal in the reader's language (a refusal with a number is translated with it put in)."""
    if isinstance(refusal, evidence.LimitReached):
        return _(refusal.template, **refusal.params)
    return _(refusal.reason)


@bp.post("/cases/<int:case_id>/interviews")
@roles_required("assessor")
def schedule(case_id: int):  # type: ignore[no-untyped-def]
    case = review_pages.assigned_case(case_id)
    if isinstance(case, Response):
        return case
    form = InterviewForm()
    if not form.validate_on_submit():
        flash(_("Nothing was arranged: please check the appointment."), "error")
        return _page(case_id, 422, follow_up_interview_form=form)
    try:
        interviews.schedule(
            case_id,
            current_user,
            form.kind.data,
            interviews.local_moment(form.day.data, form.at.data),
            form.place.data,
            form.online_link.data,
            form.notes.data,
            form.version.data,
        )
    except (Conflict, Invalid) as refusal:
        db.session.rollback()
        if refusal.status == 409:
            flash(_refused(refusal), "error")
        else:
            flash(_("Nothing was arranged: please check the appointment."), "error")
            form.form_errors.append(_refused(refusal))
        return _page(case_id, refusal.status, follow_up_interview_form=form)
    db.session.commit()
    flash(_("The appointment is arranged. The candidate sees it on their case and their home page."), "success")
    return redirect(url_for("cases.show", case_id=case_id) + "#interviews")


def _default_title(interview: Interview) -> str:
    """The file's title says what it is and that the assessor added it: the evidence list shows titles only."""
    day = interview.scheduled_for.astimezone(site_zone()).date().isoformat()
    return _("%(kind)s of %(date)s: file added by the assessor", kind=_(KIND_LABELS[interview.kind]), date=day)


def _title(form: InterviewResultsForm, interview: Interview) -> str:
    given = (form.title.data or "").strip()
    if not given:
        return _default_title(interview)
    return _("%(title)s (added by the assessor)", title=given)


@bp.post("/cases/<int:case_id>/interviews/<int:interview_id>/results")
@roles_required("assessor")
def record_results(case_id: int, interview_id: int):  # type: ignore[no-untyped-def]
    case = review_pages.assigned_case(case_id)
    if isinstance(case, Response):
        return case
    interview = interviews.interview_on(case, interview_id)
    form = results_form([c.outcome_id for c in cases.claimed(case)])
    if not form.validate_on_submit():
        flash(_("Nothing was recorded: please check the results."), "error")
        return _page(case_id, 422, follow_up_results_form=(interview_id, form))
    recording = None
    if form.has_file():
        upload = form.recording.data
        recording = interviews.Recording(upload.stream, upload.filename or "", _title(form, interview))
    try:
        interviews.record_results(
            case_id,
            interview_id,
            current_user,
            [interviews.ResultEntry(o, r, n) for o, r, n in form.entries()],
            recording,
            form.version.data,
        )
    except (Conflict, Invalid) as refusal:
        db.session.rollback()
        if refusal.status == 409:
            flash(_refused(refusal), "error")
        else:
            flash(_("Nothing was recorded: please check the results."), "error")
            form.form_errors.append(_refused(refusal))
        return _page(case_id, refusal.status, follow_up_results_form=(interview_id, form))
    db.session.commit()
    flash(_("The results are recorded."), "success")
    return redirect(url_for("cases.show", case_id=case_id) + f"#interview-{interview_id}")


def _page(case_id: int, status: int, **forms: object):  # type: ignore[no-untyped-def]
    """The case page as it is now, with the form as it was sent: nothing the assessor typed is lost."""
    view = case_view.build(current_user, case_id)
    return case_pages._render(view, status, review_panel=review.panel(current_user, view), **forms)
