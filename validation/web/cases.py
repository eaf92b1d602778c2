"""The case page every role shares, and the actions on it. Each action: check, validate, one service, commit."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import NamedTuple

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import get_translations
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

from forms.cases import AssignForm, DecisionForm, EvidenceForm, SelfAssessmentForm, TransitionForm
from validation.extensions import db
from validation.models import Case, Credential, LearningOutcome
from validation.services import access, assessment, case_view, cases, evidence, review, staffing
from validation.services.errors import Invalid, ServiceError
from validation.web.errors import TITLES
from validation.web.i18n import current_language
from validation.web.options import select_options
from validation.web.roles import roles_required

bp = Blueprint("cases", __name__, url_prefix="/cases")


def _evidence_form(view: case_view.CaseView) -> EvidenceForm:
    form = EvidenceForm(version=view.case.lock_version)
    form.outcomes.choices = [(c.claim.outcome_id, c.claim.outcome.code) for c in view.claims]
    if not form.client_token.data:
        # One token per rendering of the form: sending the same form twice then makes one item.
        form.client_token.data = uuid.uuid4().hex
    return form


class AssessorOptions(NamedTuple):
    """The assessor list of a case's assign form, in the reader's language."""

    #: (id, label) pairs, for the form to check what is sent against.
    choices: list[tuple[int, str]]
    #: The same as <option>s, none selected (`mark_selected` marks the chosen one).
    html: Markup
    #: The first qualified assessor, if any.
    suggested: staffing.Person | None


def assessor_choices(case: Case) -> AssessorOptions:
    """The assessors to choose from, qualified ones first and fewest open cases first, each labelled with
    their open work (and why not, when not qualified); and the suggestion: the first qualified one.

    Labelled and written out once per language and list of choices: `staffing.choices` gives the same tuple
    while the roster and everyone's open work stay as they are, and two hundred labels and options cost more
    than the rest of the section."""
    return _labelled(current_language(), staffing.choices(case))


@lru_cache(maxsize=256)
def _labelled(_language: str, choices: tuple[staffing.Choice, ...]) -> AssessorOptions:
    """Two hundred labels: each plural form is looked up in the catalog once per count, not once per assessor.
    The page's language is part of the key, as the labels are written in it."""
    catalog = get_translations()
    not_qualified = " — " + _("not qualified")
    forms: dict[int, str] = {}
    labelled = []
    for c in choices:
        form = forms.get(c.open_cases)
        if form is None:
            form = forms[c.open_cases] = catalog.ungettext(
                "%(name)s — %(num)d open case", "%(name)s — %(num)d open cases", c.open_cases
            )
        label = form % {"name": c.assessor.display_name, "num": c.open_cases}
        labelled.append((c.assessor.id, label + not_qualified if c.refusal is not None else label))
    suggested = next((c.assessor for c in choices if c.refusal is None), None)
    return AssessorOptions(labelled, select_options(labelled), suggested)


@bp.app_template_global()
def outcome_head(outcome: LearningOutcome, credential: Credential, language: str) -> Markup:
    """An outcome as the catalog states it, for its article on the case page: code, credits, text and assessment
    criteria in the reader's language. A credential's version never changes once imported (a change comes as
    a new version, see `catalog.import_catalog`), so each is written out once per process and language, keyed
    by the version's content digest; the case page lists every outcome of the credential on every view."""
    kept: dict[tuple[str, str, str], Markup] = current_app.extensions.setdefault("outcome_heads", {})
    key = (credential.source_digest, outcome.code, language)
    head = kept.get(key)
    if head is None:
        criteria = "".join(f"<li>{escape(c)}</li>" for c in outcome.criteria_in(language))
        head = kept[key] = Markup(  # noqa: S704 (every text from the catalog is escaped)
            f'<h3>{escape(outcome.code)} <span class="meta">({round(outcome.credits, 1)} '
            f"{escape(_(credential.credits_system))})</span></h3>\n"
            f"      <p>{escape(outcome.text_in(language))}</p>\n"
            f"      <details><summary>{escape(_('Assessment criteria'))}</summary>\n"
            f"        <ol>{criteria}</ol></details>"
        )
    return head


def _assign_form(view: case_view.CaseView) -> AssignForm:
    """The assignment as sent, checked against the assessors the page offers."""
    form = AssignForm()
    # A copy: the form's choices are its own, the kept list is every page's.
    form.assessor_id.choices = list(assessor_choices(view.case).choices)
    return form


class AssignSection(NamedTuple):
    """What the case page's assessor section shows: the options, the suggestion, the one chosen."""

    options: Markup
    suggested: staffing.Person | None
    #: The assessor of the case, or else the suggestion.
    chosen: int | None


def _assign_section(view: case_view.CaseView) -> AssignSection:
    """Written out in the template, not as a form object: no form is built for a page only opened (a refused
    assignment comes back as `assign_form`, with its errors and its choice)."""
    options = assessor_choices(view.case)
    suggested = options.suggested
    chosen = view.case.assessor_id or (suggested.id if suggested is not None else None)
    return AssignSection(options.html, suggested, chosen)


def _render(view: case_view.CaseView, status: int = 200, **forms):  # type: ignore[no-untyped-def]
    # Each form is built only for a page that shows it: a form is built field by field, on every view.
    if "evidence_form" not in forms:
        forms["evidence_form"] = _evidence_form(view) if view.may_add_evidence else None
    # The actions' forms are written out in the template (a token and the version): a form object is built
    # only by a refused action, to give back what was typed.
    forms.setdefault("transition_form", None)
    forms.setdefault("self_assessment_error", None)
    forms.setdefault("assign_form", None)
    forms["assign"] = _assign_section(view) if view.may_assign else None
    forms.setdefault(
        "decision_forms",
        {
            c.claim.outcome_id: DecisionForm(
                version=view.case.lock_version, outcome_id=c.claim.outcome_id, formdata=None
            )
            for c in view.claims
        }
        if view.may_decide
        else {},
    )
    return render_template("cases/case.html", view=view, **forms), status


def _declaration_first(case_id: int) -> Response | None:
    """An assessor or moderator says whether they know the candidate before seeing the portfolio: the case
    page and every file in it send them to the declaration until then."""
    if current_user.role == "assessor" and review.needs_declaration(
        current_user, access.case_for(current_user, case_id)
    ):
        return redirect(url_for("review.declaration", case_id=case_id))
    return None


@bp.get("/<int:case_id>")
@login_required
def show(case_id: int):  # type: ignore[no-untyped-def]
    if (first := _declaration_first(case_id)) is not None:
        return first
    view = case_view.build(current_user, case_id)
    return _render(view, review_panel=review.panel(current_user, view))


@bp.post("/<int:case_id>/evidence")
@roles_required("candidate")
def add_evidence(case_id: int):  # type: ignore[no-untyped-def]
    view = case_view.build(current_user, case_id)
    form = _evidence_form(view)
    if not form.validate_on_submit():
        return _render(view, 422, evidence_form=form)
    outcome_ids = form.outcomes.data or []
    title = form.title.data or ""
    token = form.client_token.data or None
    version = form.version.data
    try:
        if form.kind.data == "file":
            upload = form.file.data
            evidence.add_file(
                case_id, current_user, title, upload.stream, upload.filename or "", outcome_ids, version, token
            )
        elif form.kind.data == "link":
            evidence.add_link(case_id, current_user, title, form.url.data or "", outcome_ids, version, token)
        else:
            evidence.add_statement(
                case_id, current_user, title, form.statement.data or "", outcome_ids, version, token
            )
    except evidence.AlreadySaved:
        # The same form again (a double click, a resend): its item exists, and that is what the person wanted.
        db.session.rollback()
        flash(_("This evidence was already saved."), "success")
        return redirect(url_for("cases.show", case_id=case_id) + "#evidence")
    except evidence.LimitReached as refusal:
        # A refusal naming a number is translated with the number put in, not by value.
        db.session.rollback()
        return render_template(
            "errors/refused.html", status=refusal.status, title=_(TITLES[refusal.status]),
            reason=_(refusal.template, **refusal.params),
        ), refusal.status
    db.session.commit()
    flash(_("The evidence is saved."), "success")
    return redirect(url_for("cases.show", case_id=case_id) + "#evidence")


#: Shown in the browser (sound and video seekable by HTTP Range); anything else is downloaded. Text and
#: office documents never open in the site's origin, whatever they contain (SVG and HTML are never stored).
INLINE_TYPES = frozenset({
    "image/jpeg", "image/png", "image/webp", "application/pdf",
    "audio/mpeg", "audio/mp4", "audio/ogg",
    "video/mp4", "video/webm", "video/quicktime",
})
#: The document runs no script, submits no form, opens no window and loads nothing but itself.
EVIDENCE_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
#: Chromium's player for a sound or video opened on its own stays empty in a fully sandboxed document
#: (checked with Chromium 156; pictures and its PDF viewer are fine): it keeps its origin, still without
#: scripts, forms or windows.
MEDIA_CSP = EVIDENCE_CSP + " allow-same-origin"


@bp.get("/<int:case_id>/evidence/<int:item_id>/file")
@login_required
def evidence_file(case_id: int, item_id: int):  # type: ignore[no-untyped-def]
    if (first := _declaration_first(case_id)) is not None:
        return first
    item = evidence.item_for(current_user, case_id, item_id)
    if item.blob is None:
        abort(404)
    path = evidence.store().path_for(item.blob.sha256)
    inline = item.media_type in INLINE_TYPES
    response = send_file(
        path,
        mimetype=item.media_type,
        as_attachment=not inline,
        download_name=item.original_name or f"evidence-{item.id}",
        conditional=True,  # HTTP Range: sound and video can be sought without loading them whole
        etag=item.blob.sha256,
        max_age=0,
    )
    media = (item.media_type or "").startswith(("audio/", "video/"))
    response.headers["Content-Security-Policy"] = MEDIA_CSP if media else EVIDENCE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<int:case_id>/evidence/<int:item_id>/preview")
@login_required
def evidence_preview(case_id: int, item_id: int):  # type: ignore[no-untyped-def]
    """The first page of a PDF as a picture, shown in place on the case page (see storage/previews.py)."""
    if (first := _declaration_first(case_id)) is not None:
        return first
    item = evidence.item_for(current_user, case_id, item_id)
    path = evidence.preview_for(current_user, case_id, item_id)
    response = send_file(path, mimetype="image/png", conditional=True, etag=f"preview-{item.blob.sha256}", max_age=0)
    response.headers["Content-Security-Policy"] = EVIDENCE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/<int:case_id>/transitions/<trigger>")
@login_required
def fire(case_id: int, trigger: str):  # type: ignore[no-untyped-def]
    # Who may act comes first: a forbidden user learns nothing from form validation.
    if not access.may_act_on_case(current_user, access.case_for(current_user, case_id)):
        abort(403)
    form = TransitionForm()
    if not form.validate_on_submit():
        return _render(case_view.build(current_user, case_id), 400, transition_form=form)
    try:
        case = cases.fire(case_id, trigger, current_user, form.reason.data, form.version.data)
    except ServiceError as exc:
        if exc.status != 409:
            raise
        db.session.rollback()
        flash(_(exc.reason), "error")
        return _render(case_view.build(current_user, case_id), 409, transition_form=form)
    db.session.commit()
    flash(
        _("Done: the case is now “%(state)s”.", state=_(cases.definition_for(case).state(case.state).label)),
        "success",
    )
    return redirect(url_for("cases.show", case_id=case_id))


@bp.post("/<int:case_id>/decisions")
@roles_required("assessor")
def decide(case_id: int):  # type: ignore[no-untyped-def]
    view = case_view.build(current_user, case_id)
    form = DecisionForm()
    claim = next((c for c in view.claims if c.claim.outcome_id == form.outcome_id.data), None)
    form.criteria.choices = [(i, str(i)) for i in range(len(claim.claim.outcome.criteria))] if claim else []
    if not form.validate_on_submit():
        forms = _render_decision_forms(view, form)
        return _render(view, 422, decision_forms=forms)
    assessment.record_decision(
        case_id,
        form.outcome_id.data,
        current_user,
        form.verdict.data,
        form.rationale.data,
        form.criteria.data or [],
        form.version.data,
    )
    db.session.commit()
    flash(_("Decision recorded."), "success")
    return redirect(url_for("cases.show", case_id=case_id) + f"#outcome-{form.outcome_id.data}")


def _render_decision_forms(view: case_view.CaseView, failed: DecisionForm) -> dict[int, DecisionForm]:
    forms = {
        c.claim.outcome_id: DecisionForm(
            version=view.case.lock_version, outcome_id=c.claim.outcome_id, formdata=None
        )
        for c in view.claims
    }
    if failed.outcome_id.data in forms:
        forms[failed.outcome_id.data] = failed
    return forms


@bp.post("/<int:case_id>/claims/<int:outcome_id>")
@roles_required("candidate")
def self_assess(case_id: int, outcome_id: int):  # type: ignore[no-untyped-def]
    view = case_view.build(current_user, case_id)
    form = SelfAssessmentForm()
    if not form.validate_on_submit():
        return _render(view, 422, self_assessment_error=(outcome_id, form))
    cases.set_self_assessment(case_id, outcome_id, current_user, form.level.data, form.story.data,
                              form.version.data)
    db.session.commit()
    flash(_("Your self-assessment is saved."), "success")
    return redirect(url_for("cases.show", case_id=case_id) + f"#outcome-{outcome_id}")


@bp.post("/<int:case_id>/assign")
@roles_required("coordinator")
def assign(case_id: int):  # type: ignore[no-untyped-def]
    view = case_view.build(current_user, case_id)
    form = _assign_form(view)
    if not form.validate_on_submit():
        return _render(view, 422, assign_form=form)
    try:
        cases.assign_assessor(case_id, form.assessor_id.data, current_user, form.version.data)
    except Invalid as exc:
        # Not qualified, or not an assessor at all: said beside the choice, nothing changed.
        db.session.rollback()
        form.assessor_id.errors = [*form.assessor_id.errors, _(exc.reason)]
        return _render(case_view.build(current_user, case_id), 422, assign_form=form)
    db.session.commit()
    flash(_("The assessor is assigned."), "success")
    return redirect(
        request.referrer
        if (request.referrer or "").startswith(request.host_url)
        else url_for("cases.show", case_id=case_id)
    )
