"""The figures, checked against values worked out by hand on six cases whose every step is timed.

Six bakery cases open on 25 March 2026 at 09:00 UTC. Case i (0 to 5) stays i+1 days in draft, one day
submitted, two in screening, three (even i) or four (odd i) under review, one recommended, then ends awarded
(i < 3) or partially awarded. Candidates 0-4 belong to the North centre, 5 to the South one; 0-2 are displaced
people, 3-5 career changers.

By hand, per case (days): identification 1, 2, 3, 4, 5, 6; documentation 3 each; assessment 4, 5, 4, 5, 4, 5.
Nearest rank: the median of six values is the 3rd, the 90th percentile the 6th. So identification 3 / 6,
documentation 3 / 3, assessment 4 / 5 days; decisions 3 awarded, 3 partial: 50 % and 50 %. The drafts end in
March (26-31), documentation ends on 29, 30, 31 March and 1, 2, 3 April, assessment and decisions in April.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests import factories
from tests.conftest import login
from validation.extensions import db
from validation.models import CaseStateSpan, Centre
from validation.services import accounts, cases, catalog, profiles, reports
from validation.services.reports import Days

START = datetime(2026, 3, 25, 9, 0, tzinfo=UTC)
WHOLE = reports.Period("2026-03", "2026-04")


def build(app) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with app.app_context(), time_machine.travel(START, tick=False) as clock:
        factories.load_catalog()
        who = factories.people()
        north = Centre(code="NORTH", name="North centre", country="UA")
        south = Centre(code="SOUTH", name="South centre", country="UA")
        db.session.add_all([north, south])
        db.session.flush()
        bakery = catalog.by_code("UA-BAKERY")
        made = []
        for i in range(6):
            clock.move_to(START)
            candidate = accounts.create_user(
                email=f"c{i}@test.example", display_name=f"Candidate {i}", password=factories.PASSWORD,
                role="candidate", actor=None, centre_id=(north if i < 5 else south).id)
            profiles.save_profile(candidate, language="en", phone=None, contact_by_email=True,
                                  contact_by_phone=False, target_group="displaced" if i < 3 else "career_changer",
                                  accessibility_needs=None)
            case = cases.open_case(candidate, bakery.id)
            factories.portfolio(case, candidate)
            clock.shift(timedelta(days=i + 1))
            cases.fire(case.id, "submit", candidate)
            clock.shift(timedelta(days=1))
            cases.fire(case.id, "start_screening", who["coordinator"])
            clock.shift(timedelta(days=2))
            cases.assign_assessor(case.id, who["assessor"].id, who["coordinator"])
            cases.fire(case.id, "accept_for_review", who["coordinator"])
            clock.shift(timedelta(days=3 + i % 2))
            verdicts = ["met"] * len(case.claims) if i < 3 else ["met"] + ["not_met"] * (len(case.claims) - 1)
            factories.decide_all(case, who["assessor"], verdicts)
            cases.fire(case.id, "recommend", who["assessor"])
            clock.shift(timedelta(days=1))
            cases.fire(case.id, "award" if i < 3 else "award_partially", who["coordinator"])
            made.append(case.id)
        db.session.commit()
        return {"north": north.id, "south": south.id, "bakery": bakery.id}


def test_the_figures_are_the_ones_worked_out_by_hand(app):
    build(app)
    with app.app_context():
        figures = reports.figures(WHOLE)
        d = figures.overall.decisions
        assert (d.n, d.awarded, d.partially_awarded, d.not_awarded) == (6, 3, 3, 0)
        assert (d.rate("awarded"), d.rate("partially_awarded"), d.rate("not_awarded")) == (50.0, 50.0, 0.0)
        times = {stage: (t.n, t.median_days, t.p90_days) for stage, t in figures.overall.times.items()}
        assert times == {
            "identification": (6, Days(3), Days(6)),
            "documentation": (6, Days(3), Days(3)),
            "assessment": (6, Days(4), Days(5)),
            "certification": (0, None, None),
        }
        assert figures.per_stage == {"identification": 0, "documentation": 0, "assessment": 0, "certification": 6}
        # Every stay is on record: draft, submitted, screening, under review, recommended, for each case.
        assert len(db.session.execute(select(CaseStateSpan)).scalars().all()) == 30


def test_groups_of_fewer_than_five_are_suppressed(app):
    ids = build(app)
    with app.app_context():
        by_centre = {g.key: g for g in reports.figures(WHOLE, "centre").groups}
        north, south = by_centre[str(ids["north"])], by_centre[str(ids["south"])]
        assert north.label == "North centre" and not north.decisions.suppressed
        assert (north.decisions.awarded, north.decisions.partially_awarded) == (3, 2)
        assert north.decisions.rate("awarded") == 60.0
        assert north.times["identification"].median_days == Days(3)  # ranks of 1..5 days: the 3rd
        assert north.times["identification"].p90_days == Days(5)
        assert south.decisions.suppressed and south.times["identification"].suppressed
        by_group = {g.key: g for g in reports.figures(WHOLE, "target_group").groups}
        assert set(by_group) == {"displaced", "career_changer"}
        assert all(g.decisions.suppressed for g in by_group.values())  # three cases each
        (bakery,) = reports.figures(WHOLE, "credential").groups
        assert bakery.label == "UA-BAKERY" and bakery.decisions.n == 6


def test_the_period_counts_only_what_happened_in_it(app):
    build(app)
    with app.app_context():
        march = reports.figures(reports.Period("2026-03", "2026-03")).overall
        assert march.decisions.n == 0
        assert (march.times["identification"].n, march.times["identification"].median_days) == (6, Days(3))
        assert march.times["documentation"].n == 3 and march.times["documentation"].suppressed  # too few to show
        april = reports.figures(reports.Period("2026-04", "2026-04")).overall
        assert april.decisions.n == 6 and april.times["identification"].n == 0
        assert (april.times["assessment"].n, april.times["assessment"].p90_days) == (6, Days(5))
        assert reports.figures(reports.Period("2026-01", "2026-02")).overall.decisions.n == 0
        assert reports.Period("2026-11", "2026-12").end == datetime(2027, 1, 1, tzinfo=UTC)


def test_long_stays_are_counted_in_bands():
    assert [reports.band(d) for d in (0, 13, 14, 20, 21, 59, 90, 400)] == [0, 13, 14, 14, 21, 56, 90, 365]
    assert [str(Days(reports.band(d))) for d in (5, 25, 400)] == ["5", "21\u201327", "365+"]


@pytest.mark.parametrize(("values", "median", "p90"), [
    ({1: 1}, 1, 1), ({1: 1, 2: 1, 3: 1, 4: 1}, 2, 4), ({10: 9, 100: 1}, 10, 10), ({5: 1, 7: 2, 9: 7}, 9, 9),
])
def test_nearest_rank(values, median, p90):
    assert reports.nearest_rank(values, 0.5) == median and reports.nearest_rank(values, 0.9) == p90


# --- the page and its files ------------------------------------------------------------------------------------


def coordinator(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    login(client, "coordinator@test.example")
    return client


def test_the_dashboard_draws_each_chart_beside_its_table(app):
    build(app)
    client = coordinator(app)
    page = client.get("/coordinator/reports?from=2026-03&to=2026-04&group=centre")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert body.count('<svg class="chart" role="img"') == 3
    assert "<title id=\"chart-decisions-title\">" in body
    assert "<td>50.0</td>" in body and "North centre" in body and "fewer than 5" in body
    assert "<script" not in body
    # A reversed or broken period is read sensibly, not refused.
    assert client.get("/coordinator/reports?from=2026-04&to=2026-03").status_code == 200
    assert client.get("/coordinator/reports?from=yesterday&group=nonsense").status_code == 200
    assert app.test_client().get("/coordinator/reports").status_code == 302  # sign in first


def test_the_figures_download_as_csv_and_xlsx_with_the_same_numbers(app):
    build(app)
    client = coordinator(app)
    query = "?from=2026-03-01&to=2026-04&group=centre"  # a full date is read as its month
    response = client.get("/coordinator/reports/figures.csv" + query)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == "attachment; filename=figures-2026-03-2026-04.csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:6] == ["Group", "Decided", "Awarded", "Partially awarded", "Not awarded", "Award rate (%)"]
    assert rows[1][:6] == ["All", "6", "3", "3", "0", "50.0"]
    by_group = {r[0]: r for r in rows[1:]}
    assert by_group["North centre"][1:6] == ["5", "3", "2", "0", "60.0"]
    assert by_group["South centre"][1] == "fewer than 5"

    from openpyxl import load_workbook

    book = client.get("/coordinator/reports/figures.xlsx" + query)
    assert book.status_code == 200
    sheet = load_workbook(io.BytesIO(book.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Group" and values[1][:6] == ["All", 6, 3, 3, 0, 50.0]


def test_the_case_list_downloads_with_the_queues_filters_and_no_formula_slips_in(app):
    build(app)
    with app.app_context():
        tricky = accounts.create_user(email="x@test.example", display_name="=HYPERLINK(\"http://x\")",
                                      password=factories.PASSWORD, role="candidate", actor=None)
        cases.open_case(tricky, catalog.by_code("GE-WELD-MMA").id)
        db.session.commit()
    client = coordinator(app)
    rows = list(csv.reader(io.StringIO(client.get("/coordinator/cases.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Case", "Candidate", "Code"]
    assert len(rows) == 1 + 7
    assert [r[1] for r in rows[1:] if "HYPERLINK" in r[1]] == ["'=HYPERLINK(\"http://x\")"]
    drafts = list(csv.reader(io.StringIO(client.get("/coordinator/cases.csv?state=draft").get_data(as_text=True))))
    assert len(drafts) == 2

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(client.get("/coordinator/cases.xlsx?state=draft").data)).active
    (_header, row) = list(sheet.iter_rows())
    assert row[1].value == "=HYPERLINK(\"http://x\")" and row[1].data_type == "s"  # text, not a formula
