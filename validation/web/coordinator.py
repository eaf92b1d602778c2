"""The coordinator's desk: cases by state, and the candidates they register and hand access codes to."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape

from forms.auth import LANGUAGE_CHOICES
from forms.common import ConfirmForm
from forms.coordinator import TARGET_GROUP_CHOICES, AssistedRegistrationForm, BulkAssignForm, QueueFilterForm
from validation.extensions import db
from validation.services import accounts, cases, catalog, queues, staffing
from validation.services.errors import Invalid
from validation.web.i18n import current_language
from validation.web.roles import roles_required

bp = Blueprint("coordinator", __name__, url_prefix="/coordinator")


def _filter_form(assessors: list[tuple[int, str]] | None = None) -> QueueFilterForm:
    """The filters as the URL gives them, with choices from the catalog, the centres and the staff."""
    form = QueueFilterForm(request.args)
    definition = cases.registry().latest("standard")
    anyone = [("", _("Any"))]
    form.credential.choices = anyone + [
        (str(i), f"{code} — {title}") for i, code, title in catalog.published_titles(current_language())
    ]
    form.sector.choices = anyone + [(s, _(s)) for s in staffing.catalog_sectors()]
    form.centre.choices = anyone + [(str(c.id), c.name) for c in accounts.centres()]
    form.language.choices = anyone + LANGUAGE_CHOICES
    form.target_group.choices = anyone + [(value, str(label)) for value, label in TARGET_GROUP_CHOICES]
    assessors = assessors if assessors is not None else accounts.names_with_role("assessor")
    form.assessor.choices = anyone + [(queues.UNASSIGNED, _("Not assigned"))] + [
        (str(i), name) for i, name in assessors
    ]
    form.state.choices = anyone + [(name, _(s.label)) for name, s in definition.states.items()]
    return form


def _filters(form: QueueFilterForm) -> queues.Filters:
    """What the form holds, once each value is one of its choices (a hand-edited URL just widens the view)."""
    def chosen(field) -> str:  # type: ignore[no-untyped-def]
        value = field.data or ""
        return value if value in {str(v) for v, _label in field.choices} else ""

    credential, centre = chosen(form.credential), chosen(form.centre)
    min_days = form.min_days.data if form.min_days.data is not None and not form.min_days.errors else None
    return queues.Filters(
        credential_id=int(credential) if credential else None,
        sector=chosen(form.sector),
        centre_id=int(centre) if centre else None,
        language=chosen(form.language),
        target_group=chosen(form.target_group),
        assessor=chosen(form.assessor),
        state=chosen(form.state),
        min_days=min_days,
        overdue=bool(form.overdue.data),
        sort=form.sort.data if form.sort.data in queues.SORTS else "age",
    )


def _state_labels(versions: set[tuple[str, int]]) -> dict[str, str]:
    """Each state's label in the reader's language, once per page rather than once per row."""
    labels: dict[str, str] = {}
    for key, version in sorted(versions):
        for name, state in cases.registry().get(key, version).states.items():
            labels.setdefault(name, _(state.label))
    return labels


def _overdue_label(days_to_due: int) -> str:
    """"overdue by 3 days": a plain function, since a translation call from inside the template's row loop
    costs far more than from here."""
    if days_to_due < 0:
        return ngettext("overdue by %(num)d day", "overdue by %(num)d days", -days_to_due)
    return _("overdue today")


def _url_with(**changes: object) -> str:
    """This page's URL with some parameters changed (None removes one): the filters stay in the URL."""
    args = {k: v for k, v in request.args.items(multi=False)}
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = str(value)
    base = request.path
    return f"{base}?{urlencode(args)}" if args else base


@bp.app_template_global()
def select_options(choices: list[tuple[object, object]], selected: object = None) -> Markup:
    """The <option>s of a long choice (two hundred assessors, say), built in one pass rather than a template
    loop per option: the queue page lists them twice."""
    chosen = "" if selected is None else str(selected)
    parts = []
    for value, label in choices:
        text = str(value)
        mark = " selected" if text == chosen else ""
        parts.append(f'<option value="{escape(text)}"{mark}>{escape(str(label))}</option>')
    return Markup("".join(parts))  # noqa: S704 (every value and label is escaped above)


@bp.get("/")
@roles_required("coordinator")
def home():  # type: ignore[no-untyped-def]
    assessors = accounts.names_with_role("assessor")
    form = _filter_form(assessors)
    form.min_days.validate(form)  # the only field with a rule; the choices are checked in _filters
    filters = _filters(form)
    size = int(current_app.config.get("QUEUE_PAGE_SIZE", queues.PAGE_SIZE))
    listed = queues.page(filters, request.args.get("after"), limit=size)
    bulk = BulkAssignForm()
    bulk.assessor_id.choices = assessors
    definition = cases.registry().latest("standard")
    return render_template(
        "coordinator/home.html",
        definition=definition,
        counts=queues.counts(filters.credential_id),
        filters=filters,
        form=form,
        page=listed,
        bulk=bulk,
        url_with=_url_with,
        overdue_label=_overdue_label,
        state_labels=_state_labels({(r.case.workflow_key, r.case.workflow_version) for r in listed.rows}),
        first_page=not request.args.get("after"),
    )


def _back() -> str:
    """Where a bulk action returns to: the queue as the coordinator had filtered it."""
    back = request.form.get("back", "")
    return back if back.startswith("/coordinator/") else url_for("coordinator.home")


@bp.post("/bulk/assign")
@roles_required("coordinator")
def bulk_assign():  # type: ignore[no-untyped-def]
    form = BulkAssignForm()
    valid = form.validate_on_submit() and form.assessor_id.data
    selection = queues.parse_selection(form.cases.data or []) if valid else []
    if not selection:
        flash(_("Choose an assessor and at least one case."), "error")
        return redirect(_back())
    report = queues.bulk_assign(selection, form.assessor_id.data, current_user)
    db.session.commit()
    if report.done:
        flash(ngettext("%(num)d case assigned.", "%(num)d cases assigned.", len(report.done)), "success")
    for case_id, reason in report.refused:
        flash(_("Case #%(id)s was not assigned: %(reason)s", id=case_id, reason=_(reason)), "error")
    return redirect(_back())


@bp.post("/bulk/remind")
@roles_required("coordinator")
def bulk_remind():  # type: ignore[no-untyped-def]
    form = BulkAssignForm()
    selection = queues.parse_selection(form.cases.data or []) if form.validate_on_submit() else []
    if not selection:
        flash(_("Choose at least one case."), "error")
        return redirect(_back())
    report = queues.bulk_remind(selection, current_user)
    db.session.commit()
    if report.done:
        flash(ngettext("A reminder was sent for %(num)d case.", "Reminders were sent for %(num)d cases.",
                       len(report.done)), "success")
    for case_id, reason in report.refused:
        flash(_("No reminder for case #%(id)s: %(reason)s", id=case_id, reason=_(reason)), "error")
    return redirect(_back())


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
