"""The coordinator's queue page through HTTP: filters kept in the URL, pages that follow each other, bulk
assignment with each case on its own, a bounded number of queries whatever the page shows, and the
qualifications that decide who may take a case."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, select

from tests import factories
from tests.conftest import login, post, statements
from validation import create_app
from validation.extensions import db
from validation.models import AuditEvent, Case, User
from validation.services import accounts, cases, catalog, staffing

CODES = ["UA-BAKERY", "GE-NET-SUPPORT", "AM-LINUX-TECH", "GE-WELD-MMA", "MK-ROOF-INST", "UA-CABLE-LAY"]


def text(response) -> str:  # type: ignore[no-untyped-def]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def listed(response) -> list[int]:  # type: ignore[no-untyped-def]
    """The case ids in the queue's table, in order."""
    return [int(i) for i in re.findall(r'name="cases" value="(\d+):\d+"', response.get_data(as_text=True))]


def make_cases(app: Flask, states: list[str]) -> tuple[list[int], dict[str, int]]:
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        made = []
        for index, state in enumerate(states):
            candidate = factories.user("candidate", f"c{index}@test.example", f"Candidate {index}")
            people = {**who, "candidate": candidate}
            made.append(factories.case_in_state(state, people, code=CODES[index % len(CODES)]).id)
        db.session.commit()
        return made, {k: u.id for k, u in who.items()}


def coordinator(app: Flask):  # type: ignore[no-untyped-def]
    client = app.test_client()
    login(client, "coordinator@test.example")
    return client


def test_filters_live_in_the_url_and_the_counts_beside_them(app):
    made, _ = make_cases(app, ["draft", "under_review", "screening", "under_review"])
    client = coordinator(app)
    everything = client.get("/coordinator/")
    assert everything.status_code == 200
    assert sorted(listed(everything)) == sorted(made)
    assert "Under review (2)" in text(everything) and "All (4)" in text(everything)
    shared = client.get("/coordinator/?state=under_review&sort=due")  # a link a colleague sent
    assert listed(shared) == [made[1], made[3]]
    page = shared.get_data(as_text=True)
    assert '<option value="under_review" selected>' in page and '<option value="due" selected>' in page
    # One chosen option in each filter, however the page's options were kept.
    chosen = re.findall(r'<select id="(\w+)"[^>]*>(.*?)</select>', page, re.S)
    assert all(options.count(" selected>") == 1 for name, options in chosen if name != "bulk-assessor"), chosen
    # A value the form does not know widens the view instead of failing.
    assert sorted(listed(client.get("/coordinator/?state=nonsense&min_days=-4&credential=abc"))) == sorted(made)
    with app.app_context():
        bakery = catalog.by_code("UA-BAKERY").id
    assert listed(client.get(f"/coordinator/?credential={bakery}")) == [made[0]]
    assert "Counts for the chosen credential." in text(client.get(f"/coordinator/?credential={bakery}"))


def test_pages_keep_the_filters_and_follow_each_other(app):
    made, _ = make_cases(app, ["draft"] * 5 + ["screening"])
    app.config["QUEUE_PAGE_SIZE"] = 2
    client = coordinator(app)
    seen = []
    url = "/coordinator/?state=draft"
    while url:
        response = client.get(url)
        seen += listed(response)
        found = re.search(r'href="([^"]+)" rel="next"', response.get_data(as_text=True))
        url = html.unescape(found.group(1)) if found else ""
        if url:
            assert "state=draft" in url and "after=" in url
    assert seen == made[:5]


def test_the_page_costs_the_same_number_of_queries_however_many_rows_it_shows(app):
    make_cases(app, ["draft", "under_review", "screening", "more_evidence", "awarded", "interview", "recommended",
                     "submitted"])
    client = coordinator(app)
    client.get("/coordinator/")  # warm: the workflow definitions are read once per process
    with statements(app) as counted:
        app.config["QUEUE_PAGE_SIZE"] = 2
        assert len(listed(client.get("/coordinator/"))) == 2
        few = len(counted)
        counted.clear()
        app.config["QUEUE_PAGE_SIZE"] = 50
        assert len(listed(client.get("/coordinator/"))) == 8
        many = len(counted)
    assert many == few, (few, many)
    assert many <= 15, many


def test_the_case_page_costs_the_same_number_of_queries_however_many_outcomes_the_case_has(app):
    made, _ = make_cases(app, ["under_review"] * len(CODES))  # one case of each credential
    with app.app_context():
        sizes = {case_id: len(db.session.get(Case, case_id).claims) for case_id in made}
    small, large = min(sizes, key=sizes.__getitem__), max(sizes, key=sizes.__getitem__)
    assert sizes[large] > sizes[small]
    client = coordinator(app)

    def queries(case_id: int, counted: list[str]) -> int:
        assert client.get(f"/cases/{case_id}").status_code == 200  # warm: what a process reads once
        counted.clear()
        assert client.get(f"/cases/{case_id}").status_code == 200
        return len(counted)

    with statements(app) as counted:
        few, many = queries(small, counted), queries(large, counted)
    assert many == few, (sizes[small], few, sizes[large], many)
    # The optional records (appeals, awards, interviews, moderation, referees...) cost one probe, not a query
    # each, on a case that has none of them.
    assert many <= 16, many


def test_the_assessor_list_on_the_case_page_follows_open_work_and_language(app):
    """The list is kept written out between pages: an assignment elsewhere, and the reader's language, still
    show at once."""
    made, ids = make_cases(app, ["screening", "screening"])
    client = coordinator(app)

    def option(page: str, assessor_id: int) -> str:
        found = re.search(rf'<option value="{assessor_id}"( selected)?>([^<]*)</option>', page)
        assert found, page
        return html.unescape(found.group(2))

    first = client.get(f"/cases/{made[0]}").get_data(as_text=True)
    before = option(first, ids["other_assessor"])
    assert before.startswith("Other assessor — ") and before.endswith(" open cases")
    opened = int(before.split(" — ")[1].split()[0])
    # The suggestion is chosen on an unassigned case, and only it.
    assert len(re.findall(r"<option [^>]*selected>", first)) == 1
    with app.app_context():
        cases.assign_assessor(made[1], ids["other_assessor"], db.session.get(User, ids["coordinator"]))
        db.session.commit()
    after = option(client.get(f"/cases/{made[0]}").get_data(as_text=True), ids["other_assessor"])
    assert after == f"Other assessor — {opened + 1} open case" + ("s" if opened + 1 != 1 else "")
    post(client, "/language", {"language": "uk"})
    ukrainian = option(client.get(f"/cases/{made[0]}").get_data(as_text=True), ids["other_assessor"])
    assert "відкрит" in ukrainian, ukrainian
    # The case assigned shows its assessor chosen, whoever the suggestion is.
    assigned = client.get(f"/cases/{made[1]}").get_data(as_text=True)
    assert re.search(rf'<option value="{ids["other_assessor"]}" selected>', assigned)

def test_bulk_assignment_assigns_each_case_and_names_the_refused_ones(app):
    made, ids = make_cases(app, ["draft", "screening", "awarded"])
    client = coordinator(app)
    page = client.get("/coordinator/").get_data(as_text=True)
    values = re.findall(r'name="cases" value="(\d+:\d+)"', page)
    with app.app_context():
        before = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    response = post(client, "/coordinator/bulk/assign",
                    {"cases": values, "assessor_id": str(ids["other_assessor"]), "back": "/coordinator/?x=1"})
    assert response.status_code == 302 and response.headers["Location"] == "/coordinator/?x=1"
    shown = text(client.get("/coordinator/"))
    assert "2 cases assigned." in shown
    assert f"Case #{made[2]} was not assigned: This case is closed; it can no longer be assigned." in shown
    with app.app_context():
        assigned = {c.id: c.assessor_id for c in db.session.execute(select(Case)).scalars()}
        assert assigned[made[0]] == assigned[made[1]] == ids["other_assessor"]
        after = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
        assert after == before + 4  # per case: the assignment and the notification to the assessor


@pytest.mark.parametrize("data", [{}, {"assessor_id": "2"}, {"cases": ["1:1"]}, {"cases": ["x"], "assessor_id": "2"}])
def test_an_incomplete_bulk_form_changes_nothing(app, data):
    make_cases(app, ["draft"])
    client = coordinator(app)
    with app.app_context():
        before = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    response = post(client, "/coordinator/bulk/assign", data)
    assert response.status_code == 302
    assert "Choose an assessor and at least one case." in text(client.get("/coordinator/"))
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == before


def test_a_bulk_form_without_its_token_is_refused(app):
    made, ids = make_cases(app, ["draft"])
    client = coordinator(app)
    response = client.post("/coordinator/bulk/assign", data={"cases": [f"{made[0]}:1"],
                                                              "assessor_id": str(ids["assessor"])})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Case, made[0]).assessor_id is None


# --- qualifications -----------------------------------------------------------------------------------------


def test_the_case_page_suggests_the_qualified_assessor_with_least_work_and_refuses_the_unqualified(app):
    made, ids = make_cases(app, ["screening", "under_review"])
    with app.app_context():
        outsider = factories.user("assessor", "outsider@test.example", "Outsider")
        outsider_id = outsider.id
        db.session.commit()
    client = coordinator(app)
    page = client.get(f"/cases/{made[0]}").get_data(as_text=True)
    # The other assessor has no open case, the assessor one: the other is suggested and chosen already.
    assert "Suggested: Other assessor" in html.unescape(page)
    chosen = re.search(r'<option value="(\d+)" selected>([^<]*)</option>', html.unescape(page))
    assert chosen and int(chosen.group(1)) == ids["other_assessor"]
    assert chosen.group(2) == "Other assessor — 0 open cases"
    assert "Outsider — 0 open cases — not qualified" in html.unescape(page)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    refused = post(client, f"/cases/{made[0]}/assign", {"assessor_id": str(outsider_id), "version": version})
    assert refused.status_code == 422
    assert "This assessor is not qualified for this credential or its sector." in text(refused)
    with app.app_context():
        assert db.session.get(Case, made[0]).assessor_id is None


def test_an_admin_sets_what_an_assessor_may_assess(app):
    made, ids = make_cases(app, ["screening"])
    with app.app_context():
        newcomer = factories.user("assessor", "newcomer@test.example", "Newcomer")
        newcomer_id = newcomer.id
        sector = db.session.get(Case, made[0]).credential.sector
        db.session.commit()
    admin = app.test_client()
    login(admin, "admin@test.example")
    assert f'href="/admin/users/{newcomer_id}/qualifications"' in admin.get("/admin/").get_data(as_text=True)
    form = admin.get(f"/admin/users/{newcomer_id}/qualifications")
    assert form.status_code == 200 and f'name="sectors" value="{sector}"' in form.get_data(as_text=True)
    saved = post(admin, f"/admin/users/{newcomer_id}/qualifications",
                 {"sectors": [sector], "languages": ["en", "uk"]})
    assert saved.status_code == 302
    with app.app_context():
        held = staffing.qualifications_of(newcomer_id)
        assert held.sectors == {sector} and held.languages == {"en", "uk"}
        coordinator_user = db.session.get(User, ids["coordinator"])
        cases.assign_assessor(made[0], newcomer_id, coordinator_user)
        db.session.commit()
    assert admin.get(f"/admin/users/{ids['coordinator']}/qualifications").status_code == 404  # not an assessor
    assert coordinator(app).get(f"/admin/users/{newcomer_id}/qualifications").status_code == 403


def test_reminders_are_sent_from_the_same_choice_of_cases(app):
    made, _ids = make_cases(app, ["draft", "screening", "awarded"])
    client = coordinator(app)
    page = client.get("/coordinator/").get_data(as_text=True)
    assert 'formaction="/coordinator/bulk/remind"' in page
    values = re.findall(r'name="cases" value="(\d+:\d+)"', page)
    response = post(client, "/coordinator/bulk/remind", {"cases": values, "back": "/coordinator/"})
    assert response.status_code == 302
    shown = text(client.get("/coordinator/"))
    assert "Reminders were sent for 2 cases." in shown
    assert f"No reminder for case #{made[2]}: This case is closed; nobody is waiting to be reminded." in shown
    nothing = post(client, "/coordinator/bulk/remind", {"back": "/coordinator/"})
    assert nothing.status_code == 302 and "Choose at least one case." in text(client.get("/coordinator/"))


# --- the kept choices and the rows written in one pass ---------------------------------------------------------


def options(page: str, select_id: str) -> list[str]:
    """The labels of one <select>'s options, in order."""
    found = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert found, select_id
    return [html.unescape(label) for label in re.findall(r"<option[^>]*>([^<]*)</option>", found.group(1))]


def test_the_kept_choices_follow_every_change_to_the_people_and_the_catalog(app):
    _made, ids = make_cases(app, ["under_review"])
    client = coordinator(app)
    # A second app on the same database stands for another process, with lists of its own.
    other_process = create_app(app.config)
    other = other_process.test_client()
    login(other, "coordinator@test.example")
    for browser in (client, other):
        page = browser.get("/coordinator/").get_data(as_text=True)
        assert options(page, "bulk-assessor") == ["Assessor", "Other assessor"]
    with app.app_context():
        factories.user("assessor", "newcomer@test.example", "Newcomer")
        accounts.set_active(ids["other_assessor"], False, None)
        db.session.commit()
    for browser in (client, other):
        page = browser.get("/coordinator/").get_data(as_text=True)
        assert options(page, "bulk-assessor") == ["Assessor", "Newcomer"]
        assert options(page, "assessor") == ["Any", "Not assigned", "Assessor", "Newcomer"]
    with app.app_context():
        bakery = catalog.by_code("UA-BAKERY")
        bakery.title = {**bakery.title, "en": "Bread and pastry"}
        db.session.commit()
    assert "UA-BAKERY — Bread and pastry" in options(other.get("/coordinator/").get_data(as_text=True), "credential")


def test_each_language_has_its_own_kept_choices(app):
    make_cases(app, ["under_review"])
    client = coordinator(app)
    english = client.get("/coordinator/").get_data(as_text=True)
    post(client, "/language", {"language": "uk", "next": "/coordinator/"})
    ukrainian = client.get("/coordinator/").get_data(as_text=True)
    assert options(english, "state")[0] == "Any" and options(ukrainian, "state")[0] == "Будь-який"
    assert options(english, "state")[1:] != options(ukrainian, "state")[1:]


def test_a_name_in_a_row_is_shown_as_text_never_as_markup(app):
    made, _ = make_cases(app, ["under_review"])
    with app.app_context():
        case = db.session.get(Case, made[0])
        case.candidate.display_name = '<img src=x onerror="alert(1)"> & Co'
        db.session.commit()
    page = coordinator(app).get("/coordinator/").get_data(as_text=True)
    assert "<img src=x" not in page
    assert "<td>&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; Co</td>" in page
    assert f'value="{made[0]}:' in page and f'aria-label="Choose case #{made[0]}"' in page


def test_an_overdue_case_says_by_how_many_days_in_the_readers_language(app):
    made, _ = make_cases(app, ["screening", "under_review"])
    with app.app_context():
        due = db.session.get(Case, made[0]).due_at
        later = db.session.get(Case, made[1]).due_at
    assert due is not None and later is not None
    # Three days past the first case's due date; the second is past its own by a day more or less than that.
    with time_machine.travel(due + timedelta(days=3, hours=1), tick=False):
        client = coordinator(app)
        english = client.get("/coordinator/?overdue=y")
        assert listed(english) == [made[0]] + ([made[1]] if later < due + timedelta(days=3) else [])
        assert "overdue by 3 days" in text(english)
        assert '<tr class="overdue">' in english.get_data(as_text=True)
        post(client, "/language", {"language": "uk", "next": "/coordinator/"})
        assert "прострочено на 3 дні" in text(client.get("/coordinator/?overdue=y"))
