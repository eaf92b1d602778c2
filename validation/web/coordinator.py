"""The coordinator's desk: cases by state, and the candidates they register and hand access codes to."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from urllib.parse import quote_plus, urlencode

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, get_translations, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

import workflows
from forms.auth import LANGUAGE_CHOICES
from forms.common import ConfirmForm
from forms.coordinator import (
    TARGET_GROUP_CHOICES,
    AssistedRegistrationForm,
    BulkAssignForm,
    QueueDaysForm,
    QueueFilterForm,
)
from validation.extensions import db
from validation.services import accounts, cases, catalog, choices, queues, staffing
from validation.services.errors import Invalid
from validation.web.i18n import current_language
from validation.web.options import select_options
from validation.web.roles import roles_required

bp = Blueprint("coordinator", __name__, url_prefix="/coordinator")


@dataclass(frozen=True)
class QueueChoices:
    """The queue's lists of choices in one language, with their <option>s already written (nothing selected).

    Two hundred assessors twice, fifty credentials, the centres and sectors: building them took four queries
    and longer than the list itself. So each process keeps them per language under the stamp they were built
    under (`choices.kept_under_stamp`), and builds them again only when a user, centre or credential changed."""

    #: Each filter's values, to check what a URL asks for.
    values: dict[str, frozenset[str]]
    #: Each filter's <option>s, and the bulk assignment's ("bulk_assessor").
    options: dict[str, Markup]
    #: Each filter's label, translated once: a form's labels are looked up afresh at every rendering.
    labels: dict[str, str]
    #: (code, title) of every credential by id, to name each listed case's credential.
    credentials: dict[int, tuple[str, str]]


def _queue_choices() -> QueueChoices:
    language = current_language()
    return choices.kept_under_stamp("queue", language, lambda: _build_queue_choices(language))


def _build_queue_choices(language: str) -> QueueChoices:
    assessors = accounts.names_with_role("assessor")
    definition = cases.registry().latest("standard")
    anyone = [("", _("Any"))]
    lists: dict[str, list[tuple[str, str]]] = {
        "credential": anyone + [
            (str(i), f"{code} — {title}") for i, code, title in catalog.published_titles(language)
        ],
        "sector": anyone + [(s, _(s)) for s in staffing.catalog_sectors()],
        "centre": anyone + [(str(c.id), c.name) for c in accounts.centres()],
        "language": anyone + [(v, str(label)) for v, label in LANGUAGE_CHOICES],
        "target_group": anyone + [(value, str(label)) for value, label in TARGET_GROUP_CHOICES],
        "assessor": anyone + [(queues.UNASSIGNED, _("Not assigned"))] + [(str(i), name) for i, name in assessors],
        "state": anyone + [(name, _(s.label)) for name, s in definition.states.items()],
        "sort": [(v, str(label)) for v, label in QueueFilterForm.sort.kwargs["choices"]],
    }
    options = {name: select_options(values) for name, values in lists.items()}
    options["bulk_assessor"] = select_options(assessors)
    return QueueChoices(
        values={name: frozenset(v for v, _label in values) for name, values in lists.items()},
        options=options,
        labels={name: str(field.label.text) for name, field in QueueFilterForm(formdata=None)._fields.items()},
        credentials=catalog.titles(language),
    )


#: The filters chosen from a list, in the order the page shows them.
SELECTS = ("credential", "sector", "centre", "language", "target_group", "assessor", "state", "sort")


def _filters(args: MultiDict[str, str], days: QueueDaysForm, known: QueueChoices) -> queues.Filters:
    """What the URL asks for, once each value is one of its choices (a hand-edited URL just widens the view).
    Read as WTForms reads them: the first value of each; "overdue" set by any value but "" and "false"."""
    def chosen(name: str) -> str:
        value = args.get(name) or ""
        return value if value in known.values[name] else ""

    credential, centre = chosen("credential"), chosen("centre")
    min_days = days.min_days.data if days.min_days.data is not None and not days.min_days.errors else None
    sort = args.get("sort", "age")
    return queues.Filters(
        credential_id=int(credential) if credential else None,
        sector=chosen("sector"),
        centre_id=int(centre) if centre else None,
        language=chosen("language"),
        target_group=chosen("target_group"),
        assessor=chosen("assessor"),
        state=chosen("state"),
        min_days=min_days,
        overdue=args.get("overdue", "") not in ("", "false"),
        sort=sort if sort in queues.SORTS else "age",
    )


def queue_filters() -> tuple[QueueDaysForm, queues.Filters, QueueChoices]:
    """The queue's filters as this request's URL gives them (the queue page and its downloads share them)."""
    known = _queue_choices()
    days = QueueDaysForm(request.args)
    days.min_days.validate(days)
    return days, _filters(request.args, days, known), known


def _state_labels(versions: set[tuple[str, int]]) -> dict[str, str]:
    """Each state's label in the reader's language, once per page rather than once per row; kept per language
    and set of workflow versions, as a published version and the catalogs do not change while the app runs."""
    kept: dict[tuple[str, frozenset[tuple[str, int]]], dict[str, str]] = current_app.extensions.setdefault(
        "queue_state_labels", {}
    )
    key = (current_language(), frozenset(versions))
    labels = kept.get(key)
    if labels is None:
        catalog = get_translations()
        labels = {}
        for workflow, version in sorted(versions):
            for name, state in cases.registry().get(workflow, version).states.items():
                labels.setdefault(name, catalog.ugettext(state.label))
        kept[key] = labels
    return labels


class _OverdueLabels(dict[int, str]):
    """"overdue by 3 days", each wording made (and escaped) once per page from the catalog: through the
    translation helpers, per overdue row, the wording cost more than the row."""

    def __init__(self) -> None:
        super().__init__()
        self.catalog = get_translations()

    def __missing__(self, days_to_due: int) -> str:
        if days_to_due < 0:
            text = self.catalog.ungettext("overdue by %(num)d day", "overdue by %(num)d days", -days_to_due)
            label = text % {"num": -days_to_due}
        else:
            label = self.catalog.ugettext("overdue today")
        self[days_to_due] = escaped = str(escape(label))
        return escaped


class _Escaped(dict[str, str]):
    """Each text escaped once per page, however many rows show it (a credential's title, an assessor's name)."""

    def __missing__(self, text: str) -> str:
        self[text] = escaped = str(escape(text))
        return escaped


def _rows(listed: queues.Page, credentials: dict[int, tuple[str, str]]) -> Markup:
    """The queue's rows as HTML, written in one pass as `select_options` writes its options: through the
    template, a call and an escape per cell made fifty rows cost more than the query that found them. Every
    text is escaped here, and what repeats (a credential's title, an assessor's name) once per page; ids,
    versions and day counts are integers."""
    labels = _state_labels({(r.case.workflow_key, r.case.workflow_version) for r in listed.rows})
    # What repeats from row to row is written once per page: each state's badge.
    badges = {
        state: f'<span class="badge state-{escape(state)}">{escape(label)}</span>' for state, label in labels.items()
    }
    not_assigned = escape(_("not assigned"))
    choose = str(escape(_("Choose case #%(id)s")))  # formatted per row below, with an integer
    case_url = url_for("cases.show", case_id=0)[:-1]
    overdue_by = _OverdueLabels()
    escaped = _Escaped()
    parts = []
    for row in listed.rows:
        case = row.case
        marked = ' class="overdue"' if row.overdue else ""
        if case.due_at is None:
            due = "—"
        else:
            late = ""
            if row.overdue and row.days_to_due is not None:
                late = f'\n          <strong class="gap">{overdue_by[row.days_to_due]}</strong>'
            due = f'<time datetime="{case.due_at.isoformat()}">{case.due_at:%Y-%m-%d}</time>{late}'
        badge = badges.get(case.state)
        if badge is None:
            badge = badges[case.state] = f'<span class="badge state-{escape(case.state)}">{escape(case.state)}</span>'
        title = escaped[credentials.get(case.credential_id, ("", ""))[1]]
        assessor = escaped[case.assessor_name] if case.assessor_name else not_assigned
        parts.append(
            f"<tr{marked}>"
            f'<td><input type="checkbox" name="cases" value="{case.id}:{case.lock_version}" id="pick-{case.id}"'
            f' aria-label="{choose % {"id": case.id}}"></td>'
            f'<td><a href="{case_url}{case.id}">#{case.id}</a></td>'
            f"<td>{escape(case.candidate_name)}</td>"
            f"<td>{title}</td>"
            f"<td>{badge}</td>"
            f"<td>{assessor}</td>"
            f"<td>{row.days_in_state}</td>"
            f"<td>{due}</td></tr>"
        )
    return Markup("\n".join(parts))  # noqa: S704 (every text is escaped above)


@dataclass(frozen=True)
class Tab:
    """One state in the counts above the list: the link to it, its label and count, and whether it is shown."""

    url: str
    label: str
    count: int
    current: bool


def _tabs(definition: workflows.Definition, counts: Counter[str], shown: str) -> list[Tab]:
    """"All" and each state with its count, linking to this view narrowed to it (the other filters kept)."""
    others = urlencode([(k, v) for k, v in request.args.items(multi=False) if k not in ("state", "after")])
    base = f"{request.path}?{others}" if others else request.path
    joined = f"{base}&state=" if others else f"{base}?state="

    def url(state: str) -> str:
        return f"{joined}{quote_plus(state)}" if state else base

    labels = _state_labels({(definition.key, definition.version)})
    tabs = [Tab(url(""), _("All"), sum(counts.values()), not shown)]
    tabs += [Tab(url(name), labels[name], counts.get(name, 0), shown == name) for name in definition.states]
    return tabs


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


@bp.get("/")
@roles_required("coordinator")
def home():  # type: ignore[no-untyped-def]
    days, filters, known = queue_filters()
    size = int(current_app.config.get("QUEUE_PAGE_SIZE", queues.PAGE_SIZE))
    listed = queues.page(filters, request.args.get("after"), limit=size)
    definition = cases.registry().latest("standard")
    return render_template(
        "coordinator/home.html",
        definition=definition,
        tabs=_tabs(definition, queues.counts(filters.credential_id), filters.state),
        filters=filters,
        days=days,
        # Each list marks what the URL gave, as it gave it (a value not among the choices marks none).
        selected={name: request.args.get(name, "age" if name == "sort" else "") for name in SELECTS},
        options=known.options,
        labels=known.labels,
        page=listed,
        rows=_rows(listed, known.credentials),
        url_with=_url_with,
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
