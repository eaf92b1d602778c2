"""The coordinator's figures and exports: a dashboard with charts drawn on the server, CSV and XLSX files.

Charts are SVG in the page (readable without JavaScript, printed as drawn), each with the table it is drawn
from beside it, which is also what a screen reader reads. Every figure made from fewer than five cases is
suppressed, on the page as in the files (see services/reports.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from validation.services import cases, queues, reports
from validation.web import coordinator as desk
from validation.web.exports import csv_response, xlsx_response
from validation.web.roles import roles_required

bp = Blueprint("reports", __name__, url_prefix="/coordinator")

DEFAULT_MONTHS = 12
OUTCOMES = ("awarded", "partially_awarded", "not_awarded")
OUTCOME_LABELS = {"awarded": "Awarded", "partially_awarded": "Partially awarded", "not_awarded": "Not awarded",
                  "withdrawn": "Withdrawn"}


_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])")


def _month(text: str | None) -> str | None:
    """YYYY-MM from what the month field sent (a full date is read as its month)."""
    found = _MONTH.match(text or "")
    return f"{found.group(1)}-{found.group(2)}" if found else None


def _period() -> tuple[reports.Period, str, str]:
    """The months asked for (both included), by default the last twelve; a reversed pair is turned round."""
    today = datetime.now(UTC).date()
    year, month = today.year, today.month - (DEFAULT_MONTHS - 1)
    while month < 1:
        year, month = year - 1, month + 12
    first = _month(request.args.get("from")) or f"{year:04d}-{month:02d}"
    last = _month(request.args.get("to")) or f"{today.year:04d}-{today.month:02d}"
    if last < first:
        first, last = last, first
    return reports.Period(first, last), first, last


def _grouping() -> str | None:
    value = request.args.get("group", "")
    return value if value in reports.GROUPINGS else None


def _group_label(group: reports.Group, grouping: str | None) -> str:
    if grouping == "target_group":
        names = {"displaced": _("Displaced person"), "career_changer": _("Career changer"), "other": _("Other")}
        return names.get(group.key, _("Not said"))
    if grouping == "centre" and not group.label:
        return _("No centre")
    return group.label


@bp.get("/reports")
@roles_required("coordinator")
def dashboard():  # type: ignore[no-untyped-def]
    period, first, last = _period()
    grouping = _grouping()
    figures = reports.figures(period, grouping)
    stage_names = {stage: _(stage.capitalize()) for stage in reports.STAGES}
    stage_bars = [(stage_names[s], n) for s, n in figures.per_stage.items()]
    median_bars = [(stage_names[s], t.median_days.low if t.median_days and not t.suppressed else None)
                   for s, t in figures.overall.times.items()]
    return render_template(
        "coordinator/reports.html", figures=figures, first=first, last=last, grouping=grouping,
        stage_names=stage_names, stage_bars=stage_bars, median_bars=median_bars,
        group_label=lambda g: _group_label(g, grouping), min_group=reports.MIN_GROUP, outcomes=OUTCOMES,
    )


def _days(days: reports.Days | None) -> object:
    """Exact days as a number (a spreadsheet can add them up), a band as its text ("21-27")."""
    if days is None:
        return ""
    return days.low if days.high == days.low else str(days)


def _figure_rows(figures: reports.Figures) -> tuple[list[str], list[list[object]]]:
    suppressed = _("fewer than %(n)s", n=reports.MIN_GROUP)
    header = [_("Group"), _("Decided"), _("Awarded"), _("Partially awarded"), _("Not awarded"),
              _("Award rate (%)"), _("Partial award rate (%)"), _("No award rate (%)")]
    for stage in reports.STAGES:
        header += [_("%(stage)s: median days", stage=_(stage.capitalize())),
                   _("%(stage)s: 90th percentile days", stage=_(stage.capitalize()))]
    rows = []
    for group in [figures.overall, *figures.groups]:
        label = _("All") if group is figures.overall else _group_label(group, figures.grouping)
        d = group.decisions
        row: list[object] = [label]
        if d.suppressed:
            row += [suppressed] * 7
        else:
            row += [d.n, d.awarded, d.partially_awarded, d.not_awarded, *(d.rate(o) for o in OUTCOMES)]
        for stage in reports.STAGES:
            t = group.times[stage]
            row += [suppressed, suppressed] if t.suppressed else [_days(t.median_days), _days(t.p90_days)]
        rows.append(row)
    return header, rows


@bp.get("/reports/figures.<any(csv, xlsx):kind>")
@roles_required("coordinator")
def figures_file(kind: str):  # type: ignore[no-untyped-def]
    period, first, last = _period()
    header, rows = _figure_rows(reports.figures(period, _grouping()))
    name = f"figures-{first}-{last}.{kind}"
    if kind == "csv":
        return csv_response(name, header, rows)
    return xlsx_response(name, _("Figures"), header, rows)


def _case_rows(filters: queues.Filters, credentials: dict[int, tuple[str, str]]):  # type: ignore[no-untyped-def]
    """Every case the queue's filters keep, page by page (keyset), as rows."""
    after = None
    while True:
        page = queues.page(filters, after, limit=500)
        for r in page.rows:
            c = r.case
            definition = cases.registry().get(c.workflow_key, c.workflow_version)
            code, title = credentials.get(c.credential_id, ("", ""))
            yield [c.id, c.candidate_name, code, title,
                   _(definition.state(c.state).label), _(definition.state(c.state).stage.capitalize()),
                   c.assessor_name or "", c.opened_at.date().isoformat(),
                   r.days_in_state, c.due_at.date().isoformat() if c.due_at else "",
                   _("yes") if r.overdue else _("no"), _(OUTCOME_LABELS[c.outcome]) if c.outcome else ""]
        if page.next_after is None:
            return
        after = page.next_after


@bp.get("/cases.<any(csv, xlsx):kind>")
@roles_required("coordinator")
def cases_file(kind: str):  # type: ignore[no-untyped-def]
    _days, filters, known = desk.queue_filters()
    header = [_("Case"), _("Candidate"), _("Code"), _("Credential"), _("State"), _("Stage"), _("Assessor"),
              _("Opened"), _("Days in state"), _("Due"), _("Overdue"), _("Outcome")]
    name = f"cases-{datetime.now(UTC).date().isoformat()}.{kind}"
    if kind == "csv":
        return csv_response(name, header, _case_rows(filters, known.credentials))
    return xlsx_response(name, _("Cases"), header, _case_rows(filters, known.credentials))
