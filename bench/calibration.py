"""The app the desk benchmark serves: the engine as it is, plus the routes to compare its pages with.

`/bench/bare` reads one indexed page of 50 cases with a plain SQL query and returns them as JSON: no
template, no model objects, no filters. It is the yardstick the desk's goal names ("a bare indexed query
returning 50 rows as JSON"), measured in the same run as the pages, so a reader can tell how much of a page's
cost is the engine's own work. It shares the ceiling's user load (the signed-in cookie is sent to every URL),
but, like `/healthz`, it does not read the session.

Two more steps from it towards a page, each the least a page of the engine has to do on top of the last:

- `/bench/bare/signed-in`: the same, for a signed-in person only: the server-side session is read (one query
  with the person), as every page of the desk does before anything else.
- `/bench/bare/page`: the same rows as a page: the site's layout (`base.html`, with its navigation, language
  switch and CSRF tokens) around a plain table of the 50 rows, each linking to its case. No filters, no
  counts, no forms, no translated cells.

Whatever a desk page costs beyond the last of these is the price of what it shows. And one step back from
the case page:

- `/bench/case/<id>/reads`: everything the case page reads (`case_view.build`, the same queries and objects),
  shown as nothing but the site's layout around a heading: the case page's price before it shows anything.
"""

from __future__ import annotations

from flask import Flask
from flask_login import current_user, login_required
from jinja2 import Template
from sqlalchemy import text

from validation import create_app as create_engine_app
from validation.extensions import db
from validation.services import case_view

BARE = text(
    "SELECT id, state, state_entered_at, assessor_id FROM cases ORDER BY state_entered_at, id LIMIT 50"
)

PAGE = """{% extends "base.html" %}
{% block content %}
<h1>Cases</h1>
<table>
  <thead><tr><th scope="col">Case</th><th scope="col">State</th><th scope="col">Since</th>
    <th scope="col">Assessor</th></tr></thead>
  <tbody>
  {% for r in rows %}
    <tr><td><a href="/cases/{{ r.id }}">#{{ r.id }}</a></td><td>{{ r.state }}</td>
      <td>{{ r.state_entered_at }}</td><td>{{ r.assessor_id or "" }}</td></tr>
  {% endfor %}
  </tbody>
</table>
{% endblock %}
"""

EMPTY = """{% extends "base.html" %}{% block content %}<h1>Case #{{ case_id }}</h1>{% endblock %}"""


def _as_json() -> dict[str, object]:
    rows = db.session.execute(BARE).all()
    return {"cases": [{"id": r.id, "state": r.state, "since": str(r.state_entered_at),
                       "assessor": r.assessor_id} for r in rows]}


def create_app() -> Flask:
    app = create_engine_app()
    # Compiled once, as a template file would be, and given the context every page gets.
    page, empty = app.jinja_env.from_string(PAGE), app.jinja_env.from_string(EMPTY)

    def _render(template: Template, **context: object) -> str:
        app.update_template_context(context)
        return template.render(context)

    @app.get("/bench/bare")
    def bare() -> dict[str, object]:
        return _as_json()

    @app.get("/bench/bare/signed-in")
    @login_required
    def bare_signed_in() -> dict[str, object]:
        return _as_json()

    @app.get("/bench/bare/page")
    @login_required
    def bare_page() -> str:
        return _render(page, rows=db.session.execute(BARE).all())

    @app.get("/bench/case/<int:case_id>/reads")
    @login_required
    def case_reads(case_id: int) -> str:
        return _render(empty, case_id=case_view.build(current_user, case_id).case.id)

    return app
