"""Quality assurance pages: the admin's rule per credential, the choice of a moderator, the moderator's
views, and what the case page shows of moderation and appeals.

The case page is rendered by `cases`; its moderation and appeal parts (templates/cases/_quality.html) get
what they need from `quality_panel(view)`, a template global gathered here in a fixed number of queries,
so the case page's own view needs no change when these parts do. The transitions themselves (send to
moderation, agree, disagree, settle, appeal, start the review, uphold, dismiss) are fired through the
case page's generic action buttons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from forms.quality import MAX_FIRST_CASES, ModerationViewsForm, ModeratorForm, PolicyForm, moderation_views_form
from validation.extensions import db
from validation.models import Award, ModerationView, OutcomeDecision, User
from validation.services import appeals, case_view, moderation, review
from validation.services.errors import Conflict, Invalid, NotFound
from validation.web.roles import roles_required

bp = Blueprint("quality", __name__)


# --- what the case page shows ---------------------------------------------------------------------------


@dataclass
class QualityPanel:
    """The moderation and appeal parts of one case page, for the reader."""

    #: The coordinator may (re)assign the moderator now, and whom.
    may_assign_moderator: bool = False
    moderator_form: ModeratorForm | None = None
    #: The moderator gives views now, with this form (filled with the views already given).
    may_give_views: bool = False
    views_form: ModerationViewsForm | None = None
    #: The moderator has given a view on every claimed outcome: the agree/disagree buttons come next.
    all_views_given: bool = False
    #: The claimed outcomes (the ones a moderator judges), as (outcome id, code).
    outcomes: list[tuple[int, str]] = field(default_factory=list)
    #: Every award the case has had, oldest first (superseded ones stay on record).
    awards: list[Award] = field(default_factory=list)
    #: Per appeal, the decision on each outcome it was lodged against.
    appealed_decisions: dict[int, dict[int, OutcomeDecision]] = field(default_factory=dict)
    #: Per appeal, the decisions its reviewer recorded (only on record once the appeal is dismissed).
    review_decisions: dict[int, dict[int, OutcomeDecision]] = field(default_factory=dict)
    #: The candidate may lodge an appeal now.
    appeal_open: bool = False
    #: For the coordinator of an appealed case: who decided it before (none of them may review it).
    deciders: list[User] = field(default_factory=list)
    #: Every view given on the case, per moderation record (the history's details).
    views_by_record: dict[int, list[ModerationView]] = field(default_factory=dict)
    #: Names of everyone the moderation and appeal records mention.
    people: dict[int, User] = field(default_factory=dict)


#: How `moderation.draw` words the rule it applied (stored in English, as data, with the case).
RULE_TEXT = re.compile(
    r"first (?P<first>\d+) cases \(this assessor's earlier cases: (?P<earlier>\d+)\), "
    r"(?P<percent>\d+) % at random \(draw (?P<draw>\d+)\), every no award\Z"
)


@bp.app_template_filter("moderation_rule")
def rule_text(stored: str) -> str:
    """The rule a recommendation was drawn under, in the reader's language; an unknown wording as stored."""
    match = RULE_TEXT.match(stored)
    if match is None:
        return stored
    values = {k: int(v) for k, v in match.groupdict().items()}
    parts = []
    if values["first"]:
        parts.append(_("every recommendation in the assessor's first %(first)s cases of the credential (this "
                       "assessor's earlier cases: %(earlier)s)", first=values["first"], earlier=values["earlier"]))
    if values["percent"]:
        parts.append(_("%(percent)s%% of the others at random (this draw: %(draw)s of 0 to 99)",
                       percent=values["percent"], draw=values["draw"]))
    parts.append(_("every recommendation of no award"))
    return "; ".join(parts) + "."


def _moderator_form(view: case_view.CaseView, **kwargs: object) -> ModeratorForm:
    form = ModeratorForm(**kwargs)  # type: ignore[arg-type]
    form.moderator_id.choices = [("", _("Choose an assessor"))] + [
        (u.id, u.display_name) for u in moderation.moderator_choices(view.case)
    ]
    return form


def _outcomes(view: case_view.CaseView) -> list[tuple[int, str]]:
    return [(c.claim.outcome_id, c.claim.outcome.code) for c in view.claims if c.claim.self_assessment != "not_yet"]


def _views_form(view: case_view.CaseView, **kwargs: object) -> ModerationViewsForm:
    return moderation_views_form(_outcomes(view), **kwargs)


@bp.app_template_global()
def quality_panel(view: case_view.CaseView) -> QualityPanel:
    case = view.case
    role = current_user.role
    panel = QualityPanel(outcomes=_outcomes(view))
    record = view.moderation
    if role == "coordinator" and moderation.waiting_for_moderator(case, record):
        panel.may_assign_moderator = True
        panel.moderator_form = _moderator_form(
            view, formdata=None, version=case.lock_version, moderator_id=case.moderator_id
        )
    if view.is_moderator and case.state == "moderation" and record is not None:
        panel.may_give_views = True
        given = view.moderation_views
        data: dict[str, object] = {"version": case.lock_version}
        for outcome_id, _code in panel.outcomes:
            if outcome_id in given:
                data[f"view_{outcome_id}"] = "agree" if given[outcome_id].agrees else "disagree"
                data[f"reason_{outcome_id}"] = given[outcome_id].reason or ""
        panel.views_form = _views_form(view, formdata=None, data=data)
        panel.all_views_given = all(outcome_id in given for outcome_id, _code in panel.outcomes)
    panel.awards = appeals.awards_of_case(case.id)
    panel.appealed_decisions = appeals.decisions_appealed(view.appeals)
    panel.review_decisions = appeals.review_decisions(view.appeals)
    panel.appeal_open = appeals.may_still_appeal(case)
    if role == "coordinator" and case.state == "appealed":
        panel.deciders = appeals.deciders(case)
    history = view.moderation_history if current_user.is_staff else []  # candidates see appeals only
    if history:
        panel.views_by_record = moderation.views_by_record(case.id)
    ids: set[int] = set()
    for r in history:
        ids |= {r.assessor_id, r.moderator_id or 0, r.settled_by_id or 0}
        ids |= {v.moderator_id for v in panel.views_by_record.get(r.id, [])}
    for a in view.appeals:
        ids |= {a.decided_by_id, a.reviewer_id or 0, a.closed_by_id or 0}
    ids.discard(0)
    if ids:
        panel.people = {u.id: u for u in db.session.execute(select(User).where(User.id.in_(ids))).scalars()}
    return panel


def _case_page(view: case_view.CaseView, status: int, **forms: object):  # type: ignore[no-untyped-def]
    """The case page (which `cases` renders, with the review panel as it shows it) with a form of ours in
    it, its errors and typed text kept."""
    from validation.web.cases import _render

    return _render(view, status, review_panel=review.panel(current_user, view), **forms)


def _refused(case_id: int, reason: str, **forms: object):  # type: ignore[no-untyped-def]
    """The case changed (or moved on) since the page was opened: its current state, why nothing was done,
    and the form as it was filled in, to send again if it still applies."""
    db.session.rollback()
    flash(_(reason), "error")
    return _case_page(case_view.build(current_user, case_id), 409, **forms)


# --- the coordinator names the moderator ---------------------------------------------------------------


@bp.post("/cases/<int:case_id>/moderator")
@roles_required("coordinator")
def assign_moderator(case_id: int):  # type: ignore[no-untyped-def]
    view = case_view.build(current_user, case_id)
    form = _moderator_form(view)
    if not form.validate_on_submit():
        return _case_page(view, 422, moderator_form=form)
    try:
        moderation.assign_moderator(case_id, form.moderator_id.data, current_user, form.version.data)
    except Invalid as refusal:
        db.session.rollback()
        form.moderator_id.errors.append(_(refusal.reason))
        return _case_page(case_view.build(current_user, case_id), 422, moderator_form=form)
    except Conflict as refusal:
        return _refused(case_id, refusal.reason, moderator_form=form)
    db.session.commit()
    name = dict(form.moderator_id.choices).get(form.moderator_id.data, "")  # type: ignore[arg-type]
    flash(_("%(name)s will moderate this recommendation.", name=name), "success")
    return redirect(url_for("cases.show", case_id=case_id) + "#moderation")


# --- the moderator's views -----------------------------------------------------------------------------


@bp.post("/cases/<int:case_id>/moderation")
@roles_required("assessor")
def record_views(case_id: int):  # type: ignore[no-untyped-def]
    view = case_view.build(current_user, case_id)  # another assessor's case: 403, before the form is read
    if not view.is_moderator:
        abort(403)
    if review.needs_declaration(current_user, view.case):
        # As on the case page: the moderator says whether they know the candidate before judging.
        return redirect(url_for("review.declaration", case_id=case_id))
    form = _views_form(view)
    if not form.validate_on_submit():
        return _case_page(view, 422, moderation_form=form)
    try:
        moderation.record_views(case_id, current_user, form.views(), form.version.data)
    except Invalid as refusal:
        db.session.rollback()
        form.form_errors.append(_(refusal.reason))
        return _case_page(case_view.build(current_user, case_id), 422, moderation_form=form)
    except Conflict as refusal:
        return _refused(case_id, refusal.reason, moderation_form=form)
    db.session.commit()
    flash(
        _("Your views are saved. When you are done, agree or disagree with the recommendation below."),
        "success",
    )
    return redirect(url_for("cases.show", case_id=case_id) + "#next")


# --- the admin's rule per credential -------------------------------------------------------------------


def _policy_form(row: moderation.PolicyRow) -> PolicyForm:
    rule = row.rule
    return PolicyForm(
        formdata=None,
        credential_id=row.credential.id,
        moderate_first=rule.moderate_first,
        moderate_percent=rule.moderate_percent,
        blind=rule.blind,
        appeal_days=rule.appeal_days,
    )


@bp.route("/admin/policies", methods=["GET", "POST"])
@roles_required("admin")
def policies():  # type: ignore[no-untyped-def]
    failed: PolicyForm | None = None
    if request.method == "POST":
        form = PolicyForm()
        if form.validate_on_submit():
            try:
                moderation.set_policy(
                    form.credential_id.data,
                    current_user,
                    moderate_first=form.moderate_first.data,
                    moderate_percent=form.moderate_percent.data,
                    blind=bool(form.blind.data),
                    appeal_days=form.appeal_days.data,
                )
            except (Invalid, NotFound) as refusal:
                db.session.rollback()
                form.form_errors.append(_(refusal.reason))
            else:
                db.session.commit()
                flash(_("The rule is saved. It applies to recommendations made from now on."), "success")
                return redirect(url_for("quality.policies") + f"#policy-{form.credential_id.data}")
        failed = form
    rows = moderation.policies()
    forms = {row.credential.id: _policy_form(row) for row in rows}
    if failed is not None and failed.credential_id.data in forms:
        forms[failed.credential_id.data] = failed
    return render_template(
        "admin/policies.html", rows=rows, forms=forms, failed=failed, max_first=MAX_FIRST_CASES
    ), (422 if failed is not None else 200)
